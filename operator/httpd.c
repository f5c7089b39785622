/*
 * httpd: health, readiness, metrics and admission webhook endpoints on
 * libwebsockets 4.1 (explicit vhosts, one per listener) in two "planes",
 * each one lws context served by its own thread: health and metrics in one,
 * the webhook in the other. See httpd.h for the endpoints and the thread rule.
 * This file is the plumbing: addresses, listeners, contexts, vhosts, the
 * threads; the requests are served by httpd_serve.c.
 *
 * Hostile clients are bounded with lws's own means where it has them: the
 * header buffer (max_http_header_data2) and a cap on each known header
 * (token_limits), the header-phase timeout (timeout_secs_ah_idle), a
 * per-connection timer (lws_set_timer_usecs) as the total deadline of a
 * request, lws's body timeout (timeout_secs) kept
 * past that deadline, and the accept filter (FILTER_NETWORK_CONNECTION)
 * with WSI_CREATE/WSI_DESTROY for the per-listener connection count.
 */
#include "httpd_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tlsgen.h"

#define HTTPD_DEFAULT_MAX_BODY ((size_t)1024 * 1024)
#define HTTPD_DEFAULT_TIMEOUT_MS 10000
#define HTTPD_DEFAULT_CONNS 64
#define HTTPD_DEFAULT_WEBHOOK_CONNS 256
/*
 * lws's header buffer (one per connection while its request is parsed and
 * served). When a header block does not fit in it, lws 4.1 gives up parsing
 * ("Ran out of header data space", LPR_FAIL) and closes the connection
 * without an answer: it has no hook for a status there. Two things keep
 * that rare:
 *  - every header lws knows by name is cut at HTTPD_MAX_HEADERS bytes
 *    (lws's token_limits: the rest of the line is skipped, not stored), so
 *    one such header of any size still gets our 431 (measured up to 10 MB);
 *  - the buffer is 4 times our limit, so a block of several headers up to
 *    ~32 KiB in all gets our 431 too.
 * Only a block past 32 KiB made of several headers, or of headers lws does
 * not know by name (they are stored whole and not visible to us), is
 * closed without an answer. Cost: 32 KiB per connection parsing or serving
 * a request, at most 12 MiB with every listener full.
 */
#define HTTPD_LWS_HEADER_BUF 32768

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
    l->protocols[0] = (struct lws_protocols){.name = "http",
                                             .callback = httpd_serve_cb,
                                             .per_session_data_size = httpd_serve_session_size()};
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
    /* the client's doing, not errors of ours: said so */
    if (strstr(buf, "Ran out of header data space")) { /* past HTTPD_LWS_HEADER_BUF */
        log_msg(LOG_WARN, "request headers larger than the header buffer: connection closed",
                "detail", buf, LOG_END);
        return;
    }
    if (strstr(buf, "exceeds limit")) { /* token_limits: truncated, then our 431 */
        log_msg(LOG_WARN, "request header over the limit: truncated, answered 431", "detail", buf,
                LOG_END);
        return;
    }
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
    i.token_limits = &h->token_limits;
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
    for (int t = 0; t < WSI_TOKEN_COUNT; t++)
        h->token_limits.token_limit[t] = HTTPD_MAX_HEADERS;
    h->timeout_us =
        (lws_usec_t)(opts->timeout_ms > 0 ? opts->timeout_ms : HTTPD_DEFAULT_TIMEOUT_MS) * 1000;
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
