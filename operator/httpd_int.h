/*
 * httpd_int: what the two halves of the HTTP server share, and nothing
 * more: the listener and server structs, and the lws callback of
 * httpd_serve.c that httpd.c installs on every vhost. Internal to
 * httpd.c and httpd_serve.c; every other module uses httpd.h.
 */
#ifndef GRACE_HTTPD_INT_H
#define GRACE_HTTPD_INT_H

#include <libwebsockets.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "httpd.h"

#define HTTPD_MAX_HEADERS 8192 /* larger request headers: 431; also lws's limit per header */

enum { SERVE_HEALTH = 1, SERVE_METRICS = 2, SERVE_WEBHOOK = 4 };

struct listener {
    struct httpd *h;
    const char *flag;            /* "health-addr", for messages */
    int plane;                   /* index of the context (and thread) serving it */
    int max_conns;               /* connections served at once; more are closed */
    int conns;                   /* open now (touched by its plane's thread only) */
    char addr[300];              /* as given */
    char host[INET6_ADDRSTRLEN]; /* numeric; "" = every interface */
    int family;
    int port;
    unsigned serves;
    struct lws_vhost *vh;
    struct lws_protocols protocols[2];
};

/* Planes: each is one lws context served by its own thread with its own
 * descriptor table, so the webhook (TLS, admission work in the callback,
 * reachable from the network) never delays /healthz or /readyz. */
enum { PLANE_MAIN, PLANE_WEBHOOK, PLANES };

struct httpd {
    struct lws_context *ctx[PLANES]; /* NULL when the plane has no listener */
    pthread_t thread[PLANES];
    struct listener ls[3];
    int which[3]; /* enum httpd_listener -> index in ls, -1 when disabled */
    size_t nls;
    char **paths;
    size_t max_body;
    lws_usec_t timeout_us; /* total deadline of one request */
    httpd_ready_fn ready;
    void *ready_ctx;
    httpd_metrics_fn metrics;
    void *metrics_ctx;
    httpd_stream_open_fn metrics_open;
    httpd_stream_next_fn metrics_next;
    httpd_stream_close_fn metrics_close;
    const char *get_path; /* borrowed from the options */
    httpd_get_fn get;
    void *get_ctx;
    httpd_webhook_fn webhook;
    void *webhook_ctx;
    struct lws_token_limits token_limits; /* every known header: HTTPD_MAX_HEADERS */
    bool started;
    atomic_bool stop;
};

/* The lws callback of every listener (httpd_serve.c), on the listener's
 * plane thread; its per-session data is httpd_serve_session_size() bytes. */
int httpd_serve_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);
size_t httpd_serve_session_size(void);

#endif
