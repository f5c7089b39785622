/*
 * httpd: the operator's HTTP(S) server on libwebsockets, two contexts each
 * served by its own thread (health and metrics; the webhook):
 *
 *   health listener  (--health-addr,  default 127.0.0.1:8081, plain HTTP)
 *       GET /healthz   200 "ok"
 *       GET /readyz    200 "ok" when the ready callback says so, else 503
 *                      with the callback's reason
 *   metrics listener (--metrics-addr, default 127.0.0.1:8080, plain HTTP;
 *                     may be the same address as health: then one listener
 *                     serves both, unless the port is 0)
 *       GET /metrics   the metrics callback's text, version=0.0.4 (streamed
 *                      in pieces when the stream callbacks are given)
 *       GET <get_path> the get callback's answer (e.g. /directory)
 *   webhook listener (--webhook-addr, default :9443, HTTPS, HTTP/1.1)
 *       POST /validate-graceservice, POST /mutate-graceservice (or the paths
 *       given): the request body goes to the webhook callback, whose answer
 *       is the response body
 *
 * Anything else: unknown path 404, wrong method 405 (with Allow), request
 * body larger than max_body 413, request line and headers over 8 KiB 431
 * (one known header of any size; a block of several up to lws's 32 KiB
 * header buffer: past it lws 4.1 can only close the connection, without an
 * answer; headers lws does not know by name count only against that
 * buffer).
 *
 * Hostile clients: every request has one total deadline (timeout_ms, from
 * its headers to the end of the answer; a body not received by then,
 * trickled or silent, gets 408 and the connection is closed; an answer not
 * taken by then is cut; headers get the same time, after which lws closes),
 * each listener serves at most max_conns connections (more are closed at
 * accept), and the webhook has its own lws context and thread (and
 * descriptor table): TLS and admission work never delay /healthz, /readyz
 * or /metrics. Addresses are "host:port", ":port" (all interfaces) or
 * "[v6]:port"; port 0 picks a free port (see httpd_port);
 * "0" (or "") as the whole address disables that listener. Two listeners on
 * one address (same non-zero port, same host or either on all interfaces)
 * are refused by httpd_new, except health and metrics given the very same
 * text, which share one listener.
 *
 * Threads (the libuv rule): httpd_new, httpd_start, httpd_free are called
 * from the owning thread; httpd_stop is the only call safe from any other
 * thread. The ready and metrics callbacks run on the health/metrics thread,
 * the webhook callback on the webhook thread (so the two may run at the
 * same time); each must not block for long (the webhook's API-server
 * deadline is 10 s by default).
 */
#ifndef GRACE_HTTPD_H
#define GRACE_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include "kerr.h"

struct httpd;

enum httpd_listener {
    HTTPD_HEALTH,
    HTTPD_METRICS,
    HTTPD_WEBHOOK,
};

/* Readiness: true when ready; otherwise write a short reason into `reason`
 * (NUL-terminated, at most `size` bytes), sent with the 503. */
typedef bool (*httpd_ready_fn)(void *ctx, char *reason, size_t size);

/* Metrics text: return a malloc'd buffer (freed by the server with free())
 * and its length in *len; NULL means 500. metrics_render() fits. */
typedef char *(*httpd_metrics_fn)(void *ctx, size_t *len);

/* Streamed metrics (preferred over httpd_metrics_fn when set): open(ctx)
 * starts a scrape and returns its handle, next(handle, &len) returns the
 * next malloc'd piece (freed by the server) or NULL at the end, close(handle)
 * ends it (also when the client goes away). The response then has no
 * Content-Length and the connection closes after it, so a large exposition
 * is never held whole. metrics_stream_new/next/free fit (with a size hint). */
typedef void *(*httpd_stream_open_fn)(void *ctx);
typedef char *(*httpd_stream_next_fn)(void *stream, size_t *len);
typedef void (*httpd_stream_close_fn)(void *stream);

/* Webhook: `path` is the request path, `body` the request body (`len` bytes,
 * NUL-terminated for convenience). Return a malloc'd NUL-terminated response
 * body and set *status (200 -> application/json, otherwise text/plain).
 * NULL means 500. webhook_serve() (webhook.h) fits, with webhook_routes as ctx. */
typedef char *(*httpd_webhook_fn)(void *ctx, const char *path, const char *body, size_t len,
                                  int *status);

/* An extra GET route on the metrics listener: `query` is the request's
 * query string without the "?" (its "&"-separated parts, each as the
 * client sent it, at most 511 bytes), "" when none. Return a malloc'd body
 * (freed by the server), its length in *len, and set *status (200 ->
 * application/json, otherwise text/plain); NULL means 500. */
typedef char *(*httpd_get_fn)(void *ctx, const char *query, size_t *len, int *status);

struct httpd_options {
    const char *health_addr;  /* NULL: "127.0.0.1:8081" */
    const char *metrics_addr; /* NULL: "127.0.0.1:8080" */
    const char *webhook_addr; /* NULL: ":9443"; the listener exists only with a webhook callback */

    /* Webhook TLS: certificate and key files (tls.crt may hold a chain), or,
     * when cert_file is NULL, PEM in memory (e.g. from tlsgen). Borrowed:
     * read during httpd_new only. */
    const char *cert_file;
    const char *key_file;
    const char *cert_pem;
    const char *key_pem;

    const char *const *webhook_paths; /* NULL-terminated; NULL: the two defaults */
    size_t max_body;                  /* request body cap; 0: 1 MiB */
    int timeout_ms;                   /* total deadline of one request, from its headers to
                                         the end of the answer; 0: 10 s */
    int max_conns[3];                 /* per listener (enum httpd_listener), connections
                                         open at once; more are closed at accept. 0: 64
                                         for health and metrics, 256 for the webhook */

    httpd_ready_fn ready; /* NULL: always ready */
    void *ready_ctx;
    httpd_metrics_fn metrics; /* NULL (and no metrics_open): /metrics answers 404 */
    void *metrics_ctx;        /* also the ctx of metrics_open */
    httpd_stream_open_fn metrics_open; /* all three or none */
    httpd_stream_next_fn metrics_next;
    httpd_stream_close_fn metrics_close;
    const char *get_path; /* NULL: no extra route; borrowed, must outlive the server */
    httpd_get_fn get;
    void *get_ctx;
    httpd_webhook_fn webhook; /* NULL: no webhook listener (webhook_serve fits) */
    void *webhook_ctx;
};

/*
 * Create the server and bind every listener (so httpd_port works at once).
 * Nothing is served until httpd_start. Errors (KERR_INVAL, KERR_IO, KERR_CONFIG)
 * name the flag and address, e.g. "health-addr 127.0.0.1:8081: address
 * already in use", or the certificate problem. On error *out is NULL.
 */
enum kerr httpd_new(const struct httpd_options *opts, struct httpd **out, struct kerr_info *err);

/* Start the server thread. KERR_INVAL if already started. */
enum kerr httpd_start(struct httpd *h, struct kerr_info *err);

/* Ask the server thread to finish (it stops at the next loop turn, within
 * milliseconds). Safe from any thread, idempotent, does not block. */
void httpd_stop(struct httpd *h);

/* Stop, join the thread, close every listener and connection, free. NULL ok. */
void httpd_free(struct httpd *h);

/* The bound TCP port of a listener (useful with port 0), or -1 if that
 * listener is disabled. */
int httpd_port(const struct httpd *h, enum httpd_listener which);

#endif
