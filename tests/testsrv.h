/*
 * testsrv: a small scripted HTTP/1.1 server for unit tests (shared helper,
 * linked into every suite). It listens on 127.0.0.1 on an ephemeral port,
 * serves each connection in its own thread, answers requests with scripted
 * responses (a FIFO queue, or a handler callback), and records every
 * request (method, path with query, headers, body) for assertions.
 *
 * Responses can be sent with Content-Length or chunked in pieces with
 * delays, delayed as a whole, cut after N body bytes (connection closed),
 * or refused (connection closed without an answer). Plain TCP only.
 *
 * Usage:
 *   struct testsrv *s = testsrv_start();
 *   testsrv_push(s, &(struct testsrv_resp){.status = 200, .body = "{}"});
 *   ... client talks to testsrv_url(s) ...
 *   const struct testsrv_req *r = testsrv_request(s, 0);
 *   testsrv_stop(s);   // closes everything, joins threads, frees
 */
#ifndef GRACE_TESTSRV_H
#define GRACE_TESTSRV_H

#include <stdbool.h>
#include <stddef.h>

struct testsrv;

struct testsrv_resp {
    int status;               /* HTTP status; 0 = close the connection without answering */
    const char *headers;      /* extra header lines, each ending "\r\n"; may be NULL */
    const char *body;         /* may be NULL (empty) */
    size_t body_len;          /* 0 = strlen(body) */
    const char *content_type; /* NULL = "application/json" */
    bool chunked;             /* Transfer-Encoding: chunked */
    size_t piece;             /* send the body in pieces of this size (0 = at once) */
    int delay_ms;             /* wait before sending anything */
    int piece_delay_ms;       /* wait between pieces */
    int hold_ms;              /* chunked: wait this long before the final 0-chunk */
    long cut_after;           /* >0: close after this many body bytes (mid-body cut) */
    bool close;               /* close the connection after this response */
};

struct testsrv_req {
    char method[16];
    char *path; /* path with query, as sent */
    size_t nheaders;
    char **names, **values;
    char *body; /* NUL-terminated; may contain NULs before body_len */
    size_t body_len;
    int conn; /* 1-based number of the TCP connection it came on */
};

/* Fills `out` from `req`; `out` strings must stay valid until the response
 * is sent (use static strings or the ctx). Called from connection threads. */
typedef void (*testsrv_handler_fn)(void *ctx, const struct testsrv_req *req,
                                   struct testsrv_resp *out);

/* Start a server (aborts the test on failure). */
struct testsrv *testsrv_start(void);

/* Stop accepting, close every connection, join all threads, free. NULL ok. */
void testsrv_stop(struct testsrv *s);

int testsrv_port(const struct testsrv *s);

/* "http://127.0.0.1:<port>" (borrowed). */
const char *testsrv_url(const struct testsrv *s);

/* Queue a response (strings are copied). Requests take queued responses
 * in order; with the queue empty the handler answers, else 404. */
void testsrv_push(struct testsrv *s, const struct testsrv_resp *r);

/* Convenience: queue `n` copies of a simple response. */
void testsrv_push_simple(struct testsrv *s, int status, const char *body, int n);

void testsrv_set_handler(struct testsrv *s, testsrv_handler_fn fn, void *ctx);

/* Recorded requests (borrowed; valid until testsrv_stop). */
size_t testsrv_nrequests(struct testsrv *s);
const struct testsrv_req *testsrv_request(struct testsrv *s, size_t i);

/* Wait until at least `n` requests were received; false on timeout. */
bool testsrv_wait_requests(struct testsrv *s, size_t n, int timeout_ms);

/* Header value of a recorded request (case-insensitive name), or NULL. */
const char *testsrv_header(const struct testsrv_req *r, const char *name);

/* Number of TCP connections accepted so far. */
int testsrv_connections(struct testsrv *s);

#endif
