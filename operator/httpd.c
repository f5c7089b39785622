/*
 * httpd: health, readiness, metrics and admission webhook endpoints on
 * libwebsockets 4.1 (explicit vhosts, one per listener) in two "planes",
 * each one lws context served by its own thread: health and metrics in one,
 * the webhook in the other. See httpd.h for the endpoints and the thread rule.
 *
 * Hostile clients are bounded with lws's own means where it has them: the
 * header buffer (max_http_header_data2), the header-phase timeout
 * (timeout_secs_ah_idle), a per-connection timer (lws_set_timer_usecs) as
 * the total deadline of a request, and the accept filter
 * (FILTER_NETWORK_CONNECTION) with WSI_CREATE/WSI_DESTROY for the
 * per-listener connection count.
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
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tlsgen.h"

#define HTTPD_DEFAULT_MAX_BODY ((size_t)1024 * 1024)
#define HTTPD_HARD_LIMIT (64L * 1024 * 1024)
#define HTTPD_CHUNK 16384
#define HTTPD_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define HTTPD_TEXT_TYPE "text/plain; charset=utf-8"
#define HTTPD_JSON_TYPE "application/json"
#define HTTPD_DEFAULT_TIMEOUT_MS 10000
#define HTTPD_DEFAULT_CONNS 64
#define HTTPD_DEFAULT_WEBHOOK_CONNS 256
#define HTTPD_MAX_HEADERS 8192 /* larger request headers: 431 */
/*
 * lws's header buffer (one per connection while its request is parsed and
 * served). When a header block does not fit in it, lws 4.1 gives up parsing
 * ("Ran out of header data space", LPR_FAIL) and closes the connection
 * without an answer: it has no hook for a status there. So the buffer is
 * made 4 times our limit: a block of known headers up to ~32 KiB gets our
 * 431, beyond that the connection is closed (measured: 32,700 bytes of
 * Cookie answer 431, 32,800 are closed). Cost: 32 KiB per connection
 * parsing or serving a request, at most 12 MiB with every listener full.
 */
#define HTTPD_LWS_HEADER_BUF 32768
/* After the deadline's 408, the time left to write it before closing. */
#define HTTPD_LAST_WORDS_US ((lws_usec_t)1000 * 1000)

enum { SERVE_HEALTH = 1, SERVE_METRICS = 2, SERVE_WEBHOOK = 4 };

enum route { R_NONE, R_HEALTHZ, R_READYZ, R_METRICS, R_GET, R_WEBHOOK };

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
    bool started;
    atomic_bool stop;
};

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
 * header buffer (HTTPD_LWS_HEADER_BUF), past which it closes the connection. */
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

static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
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

/* ---- addresses and listeners ---- */

static enum kerr addr_fail(struct kerr_info *err, const struct listener *l, const char *what)
{
    return kerr_set(err, KERR_INVAL, 0, "BadAddress", "%s %s: %s", l->flag, l->addr, what);
}

static bool ipv6_available(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static enum kerr resolve_host(struct listener *l, const char *host, struct kerr_info *err)
{
    if (!*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        l->host[0] = '\0';
        l->family = strcmp(host, "0.0.0.0") != 0 && ipv6_available() ? AF_INET6 : AF_INET;
        return KERR_OK;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res)
        return addr_fail(err, l, gai_strerror(rc));
    l->family = res->ai_family;
    rc = getnameinfo(res->ai_addr, res->ai_addrlen, l->host, sizeof l->host, NULL, 0,
                     NI_NUMERICHOST);
    freeaddrinfo(res);
    return rc == 0 ? KERR_OK : addr_fail(err, l, gai_strerror(rc));
}

/* "host:port", ":port", "[v6]:port". */
static enum kerr parse_addr(struct listener *l, struct kerr_info *err)
{
    char host[256];
    const char *colon;
    if (l->addr[0] == '[') {
        const char *close = strchr(l->addr, ']');
        if (!close || close[1] != ':' || (size_t)(close - l->addr - 1) >= sizeof host)
            return addr_fail(err, l, "expected [address]:port");
        snprintf(host, sizeof host, "%.*s", (int)(close - l->addr - 1), l->addr + 1);
        colon = close + 1;
    } else {
        colon = strrchr(l->addr, ':');
        if (!colon || memchr(l->addr, ':', (size_t)(colon - l->addr)) ||
            (size_t)(colon - l->addr) >= sizeof host)
            return addr_fail(err, l, "expected host:port or :port ([address]:port for IPv6)");
        snprintf(host, sizeof host, "%.*s", (int)(colon - l->addr), l->addr);
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || port < 0 || port > 65535)
        return addr_fail(err, l, "invalid port");
    l->port = (int)port;
    return resolve_host(l, host, err);
}

/* Bind once ourselves so a busy port gives a precise message. */
static enum kerr prebind(const struct listener *l, struct kerr_info *err)
{
    struct sockaddr_storage ss = {0};
    socklen_t slen;
    if (l->family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)l->port);
        a->sin6_addr = in6addr_any;
        if (l->host[0] && inet_pton(AF_INET6, l->host, &a->sin6_addr) != 1)
            return addr_fail(err, l, "cannot use this IPv6 address");
        slen = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)l->port);
        a->sin_addr.s_addr = htonl(INADDR_ANY);
        if (l->host[0] && inet_pton(AF_INET, l->host, &a->sin_addr) != 1)
            return addr_fail(err, l, "cannot use this IPv4 address");
        slen = sizeof *a;
    }
    int fd = socket(l->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, slen) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s", strerror(errno));
        msg[0] = (char)tolower((unsigned char)msg[0]);
        if (fd >= 0)
            close(fd);
        return kerr_set(err, KERR_IO, 0, "BindFailed", "%s %s: %s", l->flag, l->addr, msg);
    }
    close(fd);
    return KERR_OK;
}

/* True when listeners a and b would take the same socket: the same port
 * (not 0, which is a new free port for each) on the same host, or on all
 * interfaces for either (":9999" covers "127.0.0.1:9999"; so does
 * "0.0.0.0:9999" an IPv6 address, refused too for simplicity). */
static bool addr_overlaps(const struct listener *a, const struct listener *b)
{
    if (a->port == 0 || a->port != b->port)
        return false;
    return !a->host[0] || !b->host[0] || strcmp(a->host, b->host) == 0;
}

/* Two listeners on one address would both start (the kernel lets the
 * second bind with SO_REUSEADDR/SO_REUSEPORT) and requests would reach
 * either one: refuse it, naming both flags. */
static enum kerr check_overlap(const struct httpd *h, const struct listener *l,
                               struct kerr_info *err)
{
    for (size_t i = 0; i < h->nls; i++)
        if (addr_overlaps(&h->ls[i], l))
            return kerr_set(err, KERR_INVAL, 0, "AddressConflict",
                            "--%s %s and --%s %s are the same address: give each listener its "
                            "own port",
                            h->ls[i].flag, h->ls[i].addr, l->flag, l->addr);
    return KERR_OK;
}

static bool addr_disabled(const char *a)
{
    return !*a || strcmp(a, "0") == 0;
}

/* Fill h->ls from the options; health and metrics share one listener when
 * their addresses are equal (and not port 0, which means "any free port"
 * for each). */
static enum kerr plan_listeners(struct httpd *h, const struct httpd_options *o,
                                struct kerr_info *err)
{
    const char *addrs[3] = {o->health_addr ? o->health_addr : "127.0.0.1:8081",
                            o->metrics_addr ? o->metrics_addr : "127.0.0.1:8080",
                            o->webhook_addr ? o->webhook_addr : ":9443"};
    static const char *const flags[3] = {"health-addr", "metrics-addr", "webhook-addr"};
    static const unsigned serves[3] = {SERVE_HEALTH, SERVE_METRICS, SERVE_WEBHOOK};
    static const int default_conns[3] = {HTTPD_DEFAULT_CONNS, HTTPD_DEFAULT_CONNS,
                                         HTTPD_DEFAULT_WEBHOOK_CONNS};
    for (int i = 0; i < 3; i++) {
        h->which[i] = -1;
        if (addr_disabled(addrs[i]) || (i == HTTPD_WEBHOOK && !o->webhook))
            continue;
        if (i == HTTPD_METRICS && h->which[HTTPD_HEALTH] >= 0 && strcmp(addrs[0], addrs[1]) == 0 &&
            h->ls[h->which[HTTPD_HEALTH]].port != 0) {
            h->which[i] = h->which[HTTPD_HEALTH];
            h->ls[h->which[i]].serves |= SERVE_METRICS;
            continue;
        }
        struct listener *l = &h->ls[h->nls];
        l->h = h;
        l->flag = flags[i];
        l->serves = serves[i];
        l->plane = i == HTTPD_WEBHOOK ? PLANE_WEBHOOK : PLANE_MAIN;
        l->max_conns = o->max_conns[i] > 0 ? o->max_conns[i] : default_conns[i];
        snprintf(l->addr, sizeof l->addr, "%s", addrs[i]);
        enum kerr e = parse_addr(l, err);
        if (e == KERR_OK)
            e = check_overlap(h, l, err);
        if (e != KERR_OK)
            return e;
        h->which[i] = (int)h->nls++;
    }
    /* Bound only once the addresses are known to be distinct, so a conflict
     * is reported as such, whatever else holds the port. */
    for (size_t i = 0; i < h->nls; i++) {
        enum kerr e = prebind(&h->ls[i], err);
        if (e != KERR_OK)
            return e;
    }
    return KERR_OK;
}

static enum kerr check_tls(const struct httpd_options *o, struct kerr_info *err)
{
    if (!o->webhook || addr_disabled(o->webhook_addr ? o->webhook_addr : ":9443"))
        return KERR_OK;
    if (o->cert_file)
        return tlsgen_check_files(o->cert_file, o->key_file ? o->key_file : o->cert_file, err);
    if (!o->cert_pem || !o->key_pem)
        return kerr_set(err, KERR_CONFIG, 0, "NoCertificate",
                        "webhook-addr: no TLS certificate (give cert/key files or PEM)");
    return KERR_OK;
}

/* The request deadline in whole seconds, rounded up (lws counts seconds). */
static unsigned deadline_secs(const struct httpd *h)
{
    return (unsigned)((h->timeout_us + LWS_US_PER_SEC - 1) / LWS_US_PER_SEC);
}

static void set_tls(struct lws_context_creation_info *i, const struct httpd_options *o)
{
    i->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    i->alpn = "http/1.1";
    if (o->cert_file) {
        i->ssl_cert_filepath = o->cert_file;
        i->ssl_private_key_filepath = o->key_file ? o->key_file : o->cert_file;
    } else {
        i->server_ssl_cert_mem = o->cert_pem;
        i->server_ssl_cert_mem_len = (unsigned)strlen(o->cert_pem);
        i->server_ssl_private_key_mem = o->key_pem;
        i->server_ssl_private_key_mem_len = (unsigned)strlen(o->key_pem);
    }
}

static enum kerr create_vhost(struct httpd *h, struct listener *l, const struct httpd_options *o,
                              struct kerr_info *err)
{
    struct lws_context_creation_info i;
    memset(&i, 0, sizeof i);
    l->protocols[0] = (struct lws_protocols){
        .name = "http", .callback = http_cb, .per_session_data_size = sizeof(struct conn)};
    i.vhost_name = l->flag;
    i.port = l->port;
    i.iface = l->host[0] ? l->host : NULL;
    i.protocols = l->protocols;
    i.user = l;
    i.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
    if (l->family == AF_INET)
        i.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (l->serves & SERVE_WEBHOOK)
        set_tls(&i, o);
    i.timeout_secs_ah_idle = deadline_secs(h); /* the headers' deadline */
    l->vh = lws_create_vhost(h->ctx[l->plane], &i);
    if (!l->vh)
        return kerr_set(err, (l->serves & SERVE_WEBHOOK) ? KERR_CONFIG : KERR_IO, 0, "ListenFailed",
                        "%s %s: cannot serve%s", l->flag, l->addr,
                        (l->serves & SERVE_WEBHOOK) ? " (TLS certificate or key rejected?)" : "");
    l->port = lws_get_vhost_listen_port(l->vh);
    return KERR_OK;
}

static void lws_log_emit(int level, const char *line)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", line);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    log_msg(level == LLL_ERR ? LOG_ERROR : LOG_WARN, "libwebsockets", "detail", buf, LOG_END);
}

static void copy_paths(struct httpd *h, const char *const *paths)
{
    static const char *const defaults[] = {"/validate-graceservice", "/mutate-graceservice", NULL};
    if (!paths)
        paths = defaults;
    size_t n = 0;
    while (paths[n])
        n++;
    h->paths = kerr_xcalloc(n + 1, sizeof *h->paths);
    for (size_t i = 0; i < n; i++)
        h->paths[i] = kerr_xstrdup(paths[i]);
}

/* The context of a plane that has a listener: its own descriptor table,
 * sized for its listeners' connection limits plus lws's own descriptors. */
static enum kerr create_context(struct httpd *h, int plane, struct kerr_info *err)
{
    unsigned fds = 16;
    for (size_t k = 0; k < h->nls; k++)
        if (h->ls[k].plane == plane)
            fds += (unsigned)h->ls[k].max_conns + 1;
    if (fds == 16)
        return KERR_OK;
    struct lws_context_creation_info i;
    memset(&i, 0, sizeof i);
    i.port = CONTEXT_PORT_NO_LISTEN;
    i.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    i.gid = -1;
    i.uid = -1;
    i.server_string = "grace-operator";
    i.fd_limit_per_thread = fds; /* lws otherwise sizes its tables by the fd ulimit */
    i.max_http_header_data2 = HTTPD_LWS_HEADER_BUF;
    /* lws's own content timeout (PENDING_TIMEOUT_HTTP_CONTENT: this many
     * seconds of silence while a body is read, 5 by default, then a close
     * without an answer) is kept past our deadline, so ours applies. */
    i.timeout_secs = deadline_secs(h) + 1;
    i.user = h;
    h->ctx[plane] = lws_create_context(&i);
    if (!h->ctx[plane])
        return kerr_set(err, KERR_IO, 0, "LwsFailed", "cannot create the libwebsockets context");
    return KERR_OK;
}

enum kerr httpd_new(const struct httpd_options *opts, struct httpd **out, struct kerr_info *err)
{
    *out = NULL;
    struct httpd *h = kerr_xcalloc(1, sizeof *h);
    atomic_init(&h->stop, false);
    h->max_body = opts->max_body ? opts->max_body : HTTPD_DEFAULT_MAX_BODY;
    h->timeout_us = (lws_usec_t)(opts->timeout_ms > 0 ? opts->timeout_ms
                                                       : HTTPD_DEFAULT_TIMEOUT_MS) * 1000;
    h->ready = opts->ready;
    h->ready_ctx = opts->ready_ctx;
    h->metrics = opts->metrics;
    h->metrics_ctx = opts->metrics_ctx;
    h->get_path = opts->get_path;
    h->get = opts->get_path ? opts->get : NULL;
    h->get_ctx = opts->get_ctx;
    if (opts->metrics_open && opts->metrics_next && opts->metrics_close) {
        h->metrics_open = opts->metrics_open;
        h->metrics_next = opts->metrics_next;
        h->metrics_close = opts->metrics_close;
    }
    h->webhook = opts->webhook;
    h->webhook_ctx = opts->webhook_ctx;
    copy_paths(h, opts->webhook_paths);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
    enum kerr e = check_tls(opts, err);
    if (e == KERR_OK)
        e = plan_listeners(h, opts, err);
    for (int p = 0; e == KERR_OK && p < PLANES; p++)
        e = create_context(h, p, err);
    for (size_t i = 0; e == KERR_OK && i < h->nls; i++)
        e = create_vhost(h, &h->ls[i], opts, err);
    if (e != KERR_OK) {
        httpd_free(h);
        return e;
    }
    *out = h;
    return KERR_OK;
}

/* One plane's thread. */
static void *serve(void *arg)
{
    struct lws_context *ctx = arg;
    struct httpd *h = lws_context_user(ctx);
    while (!atomic_load(&h->stop))
        if (lws_service(ctx, 0) < 0)
            break;
    return NULL;
}

enum kerr httpd_start(struct httpd *h, struct kerr_info *err)
{
    if (h->started)
        return kerr_set(err, KERR_INVAL, 0, "AlreadyStarted", "the HTTP server is already running");
    for (int p = 0; p < PLANES; p++) {
        int rc = h->ctx[p] ? pthread_create(&h->thread[p], NULL, serve, h->ctx[p]) : 0;
        if (rc != 0) {
            httpd_stop(h);
            for (int q = 0; q < p; q++)
                if (h->ctx[q])
                    pthread_join(h->thread[q], NULL);
            return kerr_set(err, KERR_IO, 0, "ThreadFailed", "cannot start the HTTP thread: %s",
                            strerror(rc));
        }
    }
    h->started = true;
    return KERR_OK;
}

void httpd_stop(struct httpd *h)
{
    if (!h)
        return;
    atomic_store(&h->stop, true);
    for (int p = 0; p < PLANES; p++)
        if (h->ctx[p])
            lws_cancel_service(h->ctx[p]);
}

void httpd_free(struct httpd *h)
{
    if (!h)
        return;
    httpd_stop(h);
    for (int p = 0; p < PLANES; p++) {
        if (h->started && h->ctx[p])
            pthread_join(h->thread[p], NULL);
        if (h->ctx[p])
            lws_context_destroy(h->ctx[p]);
    }
    for (char **p = h->paths; p && *p; p++)
        free(*p);
    free(h->paths);
    free(h);
}

int httpd_port(const struct httpd *h, enum httpd_listener which)
{
    if (!h || (int)which < 0 || which > HTTPD_WEBHOOK || h->which[which] < 0)
        return -1;
    return h->ls[h->which[which]].port;
}
