/*
 * httpd_serve: the request side of the HTTP server (httpd.c sets up the
 * listeners, contexts and threads): the lws callback, routing, the
 * request deadline, bodies and answers.
 *
 * Request flow in the lws callback: LWS_CALLBACK_HTTP routes the request;
 * a request without body is answered at once, a request with a body is
 * answered at LWS_CALLBACK_HTTP_BODY_COMPLETION (the body is kept only for
 * a webhook route, up to max_body; beyond that it is drained and answered
 * 413, so the connection stays usable; a declared length beyond
 * HTTPD_HARD_LIMIT is answered 413 at once and the connection closed; a
 * chunked body, which lws 4.1 cannot read, is answered 411 and closed).
 * Answers are written from LWS_CALLBACK_HTTP_WRITEABLE: headers first, then
 * the body in HTTPD_CHUNK pieces, one lws_write per callback.
 *
 * One deadline per request (timeout_ms): a per-connection lws timer armed
 * when the headers are in (on_request); when it passes, a request still
 * being received gets 408 and is closed, an answer still being written is
 * cut (on_deadline).
 */
#include "httpd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define HTTPD_HARD_LIMIT (64L * 1024 * 1024)
#define HTTPD_CHUNK 16384
#define HTTPD_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define HTTPD_TEXT_TYPE "text/plain; charset=utf-8"
#define HTTPD_JSON_TYPE "application/json"
/* After the deadline's 408, the time left to write it before closing. */
#define HTTPD_LAST_WORDS_US ((lws_usec_t)1000 * 1000)

enum route { R_NONE, R_HEALTHZ, R_READYZ, R_METRICS, R_GET, R_WEBHOOK };

/* Per-connection state (lws per-session data, zeroed by lws). */
struct conn {
    enum route route;
    int method;
    bool active; /* a request is in progress: its deadline applies */
    bool want_body, too_big, responding, headers_sent, close_after;
    int status; /* decided before the body arrives (404/405), 0 otherwise */
    char path[128];
    char *body;
    size_t body_len, body_cap;
    const char *ctype;
    const char *allow;
    char *resp;
    size_t resp_len, resp_off;
    void *stream; /* a streamed answer: resp is its current piece */
    httpd_stream_next_fn stream_next;
    httpd_stream_close_fn stream_close;
};

static void conn_reset(struct conn *c)
{
    if (!c)
        return;
    if (c->stream)
        c->stream_close(c->stream);
    free(c->body);
    free(c->resp);
    memset(c, 0, sizeof *c);
}

static void respond(struct lws *wsi, struct conn *c, int status, const char *ctype, char *body,
                    size_t len)
{
    free(c->resp);
    c->status = status;
    c->ctype = ctype;
    c->resp = body;
    c->resp_len = len;
    c->resp_off = 0;
    c->responding = true;
    c->headers_sent = false;
    lws_callback_on_writable(wsi);
}

static void respond_text(struct lws *wsi, struct conn *c, int status, const char *text)
{
    size_t n = strlen(text);
    char *b = kerr_xmalloc(n + 2);
    memcpy(b, text, n);
    b[n] = '\n';
    b[n + 1] = '\0';
    respond(wsi, c, status, HTTPD_TEXT_TYPE, b, n + 1);
}

static enum route find_route(const struct listener *l, const char *path, const char **allow)
{
    const struct httpd *h = l->h;
    *allow = "GET";
    if ((l->serves & SERVE_HEALTH) && strcmp(path, "/healthz") == 0)
        return R_HEALTHZ;
    if ((l->serves & SERVE_HEALTH) && strcmp(path, "/readyz") == 0)
        return R_READYZ;
    if ((l->serves & SERVE_METRICS) && (h->metrics || h->metrics_open) &&
        strcmp(path, "/metrics") == 0)
        return R_METRICS;
    if ((l->serves & SERVE_METRICS) && h->get && strcmp(path, h->get_path) == 0)
        return R_GET;
    *allow = "POST";
    for (char **p = h->paths; (l->serves & SERVE_WEBHOOK) && p && *p; p++)
        if (strcmp(path, *p) == 0)
            return R_WEBHOOK;
    return R_NONE;
}

/* A streamed /metrics: the first piece now, the others as the socket
 * drains (on_writeable). */
static void answer_stream(struct lws *wsi, struct httpd *h, struct conn *c)
{
    size_t len = 0;
    void *st = h->metrics_open(h->metrics_ctx);
    if (!st) {
        respond_text(wsi, c, 500, "metrics unavailable");
        return;
    }
    char *piece = h->metrics_next(st, &len);
    respond(wsi, c, 200, HTTPD_METRICS_TYPE, piece, piece ? len : 0);
    c->stream = st;
    c->stream_next = h->metrics_next;
    c->stream_close = h->metrics_close;
}

/* The extra GET route: its query string goes to the callback. */
static void answer_extra(struct lws *wsi, struct httpd *h, struct conn *c)
{
    char query[512] = "";
    size_t n = 0;
    for (int i = 0; n + 1 < sizeof query; i++) {
        int got = lws_hdr_copy_fragment(wsi, query + n, (int)(sizeof query - n),
                                        WSI_TOKEN_HTTP_URI_ARGS, i);
        if (got <= 0)
            break;
        n += (size_t)got;
        if (n + 1 < sizeof query)
            query[n++] = '&';
    }
    if (n && query[n - 1] == '&')
        n--;
    query[n] = '\0';
    size_t len = 0;
    int status = 200;
    char *body = h->get(h->get_ctx, query, &len, &status);
    if (!body)
        respond_text(wsi, c, 500, "unavailable");
    else
        respond(wsi, c, status, status == 200 ? HTTPD_JSON_TYPE : HTTPD_TEXT_TYPE, body, len);
}

static void answer_get(struct lws *wsi, struct listener *l, struct conn *c)
{
    struct httpd *h = l->h;
    if (c->route == R_GET) {
        answer_extra(wsi, h, c);
    } else if (c->route == R_HEALTHZ) {
        respond_text(wsi, c, 200, "ok");
    } else if (c->route == R_READYZ) {
        char reason[256] = "not ready";
        if (!h->ready || h->ready(h->ready_ctx, reason, sizeof reason))
            respond_text(wsi, c, 200, "ok");
        else
            respond_text(wsi, c, 503, reason);
    } else if (h->metrics_open) {
        answer_stream(wsi, h, c);
    } else {
        size_t len = 0;
        char *text = h->metrics(h->metrics_ctx, &len);
        if (text)
            respond(wsi, c, 200, HTTPD_METRICS_TYPE, text, len);
        else
            respond_text(wsi, c, 500, "metrics unavailable");
    }
}

static void answer_webhook(struct lws *wsi, struct listener *l, struct conn *c)
{
    struct httpd *h = l->h;
    int status = 500;
    char *out = h->webhook(h->webhook_ctx, c->path, c->body ? c->body : "", c->body_len, &status);
    if (!out) {
        respond_text(wsi, c, 500, "webhook failed");
        return;
    }
    respond(wsi, c, status, status == 200 ? HTTPD_JSON_TYPE : HTTPD_TEXT_TYPE, out, strlen(out));
}

/* Answer once the request (and its body, if any) is complete. */
static void answer(struct lws *wsi, struct listener *l, struct conn *c)
{
    if (c->status == 404)
        respond_text(wsi, c, 404, "not found");
    else if (c->status == 405)
        respond_text(wsi, c, 405, "method not allowed");
    else if (c->too_big)
        respond_text(wsi, c, 413, "request body too large");
    else if (c->route == R_WEBHOOK)
        answer_webhook(wsi, l, c);
    else
        answer_get(wsi, l, c);
}

static long content_length(struct lws *wsi)
{
    char buf[32];
    if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
        return 0;
    char *end;
    long n = strtol(buf, &end, 10);
    return (end == buf || n < 0) ? 0 : n;
}

/* Size of the request line and the headers lws knows by name. Unknown
 * headers are not visible through the lws 4.1 API: they are bounded by its
 * header buffer (HTTPD_LWS_HEADER_BUF, 32 KiB, in httpd.c), past which it
 * closes the connection. */
static size_t header_bytes(struct lws *wsi)
{
    size_t n = 0;
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        int len = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
        if (len > 0)
            n += (size_t)len + 4; /* ": " and CRLF */
    }
    return n;
}

static int on_request(struct lws *wsi, struct listener *l, struct conn *c, const char *path)
{
    char *uri;
    int ulen;
    conn_reset(c);
    /* the whole exchange, body and answer included, has one deadline: a
     * client trickling its body cannot hold the connection (on_deadline) */
    c->active = true;
    lws_set_timer_usecs(wsi, l->h->timeout_us);
    if (header_bytes(wsi) > HTTPD_MAX_HEADERS) {
        c->close_after = true;
        respond_text(wsi, c, 431, "request header fields too large");
        return 0;
    }
    c->method = lws_http_get_uri_and_method(wsi, &uri, &ulen);
    snprintf(c->path, sizeof c->path, "%s", path ? path : "");
    c->route = find_route(l, c->path, &c->allow);
    int want = c->route == R_WEBHOOK ? LWSHUMETH_POST : LWSHUMETH_GET;
    if (c->route == R_NONE) {
        c->status = 404;
        c->allow = NULL;
    } else if (c->method != want) {
        c->status = 405;
    } else {
        c->allow = NULL;
    }
    long cl = content_length(wsi);
    if (cl > HTTPD_HARD_LIMIT) {
        c->close_after = true;
        respond_text(wsi, c, 413, "request body too large");
        return 0;
    }
    if (cl == 0 && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        /* lws 4.1 reads request bodies by Content-Length only: refuse a
         * chunked body and close, so its bytes are not parsed as a request */
        c->close_after = true;
        respond_text(wsi, c, 411, "Content-Length required");
        return 0;
    }
    c->too_big = (size_t)cl > l->h->max_body;
    c->want_body = cl > 0;
    if (!c->want_body)
        answer(wsi, l, c);
    return 0;
}

static int on_body(struct listener *l, struct conn *c, const char *in, size_t len)
{
    if (c->responding || c->status || c->route != R_WEBHOOK || c->too_big)
        return 0; /* drained */
    if (c->body_len + len > l->h->max_body) {
        c->too_big = true;
        free(c->body);
        c->body = NULL;
        c->body_len = c->body_cap = 0;
        return 0;
    }
    if (c->body_len + len + 1 > c->body_cap) {
        c->body_cap = c->body_len + len + 1 > 4096 ? (c->body_len + len + 1) * 2 : 4096;
        if (c->body_cap > l->h->max_body + 1)
            c->body_cap = l->h->max_body + 1;
        c->body = kerr_xrealloc(c->body, c->body_cap);
    }
    memcpy(c->body + c->body_len, in, len);
    c->body_len += len;
    c->body[c->body_len] = '\0';
    return 0;
}

static int write_headers(struct lws *wsi, struct conn *c)
{
    unsigned char buf[LWS_PRE + 1024];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    /* no length for a stream: lws adds "connection: close" and closes after */
    lws_filepos_t len = c->stream ? LWS_ILLEGAL_HTTP_CONTENT_LEN : c->resp_len;
    if (lws_add_http_common_headers(wsi, (unsigned)c->status, c->ctype, len, &p, end))
        return -1;
    if (c->allow && c->status == 405 &&
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"allow:", (const unsigned char *)c->allow,
            (int)strlen(c->allow), &p, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    c->headers_sent = true;
    return 0;
}

/* The response is out: keep the connection for the next request, or close. */
static int finish(struct lws *wsi, struct conn *c)
{
    bool close = c->close_after;
    /* The deadline timer is left running: lws 4.1.6 does not cancel with
     * LWS_SET_TIMER_USEC_CANCEL but fires the timer at once, which closed
     * every keep-alive connection. on_deadline ignores an idle connection
     * (lws's keepalive_timeout closes it) and the next request re-arms it. */
    log_msg(LOG_DEBUG, "http request served", "path", c->path, LOG_END);
    conn_reset(c);
    if (close || lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

/* The current piece of a stream is out: take the next one. True at the
 * end of the stream. */
static bool next_piece(struct conn *c)
{
    size_t len = 0;
    free(c->resp);
    c->resp = c->stream_next(c->stream, &len);
    c->resp_len = c->resp ? len : 0;
    c->resp_off = 0;
    return c->resp == NULL;
}

static int on_writeable(struct lws *wsi, struct conn *c)
{
    if (!c->responding)
        return 0;
    if (!c->headers_sent) {
        if (write_headers(wsi, c))
            return -1;
        if (c->resp_len == 0)
            return finish(wsi, c);
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->stream && c->resp_off == c->resp_len && next_piece(c))
        return finish(wsi, c); /* the stream ended */
    unsigned char buf[LWS_PRE + HTTPD_CHUNK];
    size_t n = c->resp_len - c->resp_off;
    if (n > HTTPD_CHUNK)
        n = HTTPD_CHUNK;
    bool last = !c->stream && c->resp_off + n == c->resp_len;
    memcpy(buf + LWS_PRE, c->resp + c->resp_off, n);
    if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    c->resp_off += n;
    if (last)
        return finish(wsi, c);
    if (c->stream && c->resp_off == c->resp_len && next_piece(c))
        return finish(wsi, c);
    lws_callback_on_writable(wsi);
    return 0;
}

/*
 * The request's deadline passed (LWS_CALLBACK_TIMER). A request still being
 * received (a trickled body) is answered 408 and the connection closed,
 * like Go's net/http: the client learns why; the 408 itself has
 * HTTPD_LAST_WORDS_US to go out. An answer already being written (a client
 * that does not read) is cut: the connection is closed. An idle keep-alive
 * connection is left to lws's keepalive_timeout.
 */
static int on_deadline(struct lws *wsi, struct conn *c)
{
    if (!c || !c->active)
        return 0;
    if (c->responding) {
        log_msg(LOG_DEBUG, "http answer not taken by the deadline: closing", "path", c->path,
                LOG_END);
        return -1;
    }
    log_msg(LOG_DEBUG, "http request not received by the deadline: 408", "path", c->path, LOG_END);
    c->close_after = true;
    respond_text(wsi, c, 408, "request timeout");
    lws_set_timer_usecs(wsi, HTTPD_LAST_WORDS_US);
    return 0;
}

/*
 * Connection limit of a listener: lws asks before adopting an accepted
 * socket (FILTER_NETWORK_CONNECTION: nonzero closes it) and then reports the
 * connection's creation and destruction (WSI_CREATE / WSI_DESTROY, without
 * per-session data). Counted per listener on its plane's thread, so a flood
 * on one listener cannot take every descriptor.
 */
static int on_accept(struct listener *l)
{
    if (l && l->conns >= l->max_conns) {
        log_msg(LOG_DEBUG, "http connection refused: too many", "listener", l->flag, LOG_END);
        return 1;
    }
    return 0;
}

static void on_wsi(struct listener *l, bool created)
{
    if (!l)
        return;
    if (created)
        l->conns++;
    else if (l->conns > 0) /* the listening socket itself goes at teardown */
        l->conns--;
}

size_t httpd_serve_session_size(void)
{
    return sizeof(struct conn);
}

int httpd_serve_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct conn *c = user;
    struct listener *l = NULL;
    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return on_accept(lws_vhost_user(lws_get_vhost(wsi)));
    case LWS_CALLBACK_WSI_CREATE:
    case LWS_CALLBACK_WSI_DESTROY:
        on_wsi(lws_vhost_user(lws_get_vhost(wsi)), reason == LWS_CALLBACK_WSI_CREATE);
        return 0;
    case LWS_CALLBACK_TIMER:
        return on_deadline(wsi, c);
    case LWS_CALLBACK_HTTP:
        l = lws_vhost_user(lws_get_vhost(wsi));
        return on_request(wsi, l, c, in);
    case LWS_CALLBACK_HTTP_BODY:
        l = lws_vhost_user(lws_get_vhost(wsi));
        return on_body(l, c, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        l = lws_vhost_user(lws_get_vhost(wsi));
        if (c->want_body && !c->responding)
            answer(wsi, l, c);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writeable(wsi, c);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        conn_reset(c);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
