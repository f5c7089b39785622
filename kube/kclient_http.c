/*
 * kclient_http: the client object and its libcurl transport (see
 * kclient_http.h; the verbs are in kclient.c).
 *
 * Memory and threads: `struct kclient` is shared by all threads. Each
 * thread that makes a request gets a `struct kc_thread` (its easy handle,
 * error buffer and jitter seed) stored in the client's pthread key and
 * linked into the client's list; it is freed when the thread exits (key
 * destructor) or by kclient_free(), whichever comes first. kclient_free()
 * must not race with a request or with the exit of a thread that used the
 * client (callers stop and join their threads first).
 */
#include "kclient_http.h"
#include "ktrace.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef GRACE_VERSION
#define GRACE_VERSION "dev"
#endif

struct kc_thread {
    struct kclient *c;
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
    unsigned seed;
    struct kc_thread *prev, *next;
};

struct kclient {
    const struct kconfig *cfg; /* borrowed */
    long connect_timeout_ms, request_timeout_ms;
    int max_retries;
    char *user_agent;
    bool compression; /* send Accept-Encoding (kclient_options.compression) */
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST]; /* one per shared data kind */
    pthread_key_t key;                                /* -> struct kc_thread */
    pthread_mutex_t lock;                             /* guards threads, observer, obs_ctx */
    struct kc_thread *threads;
    kclient_observer_fn observer;
    void *obs_ctx;
};

static pthread_once_t kc_global_once = PTHREAD_ONCE_INIT;
static CURLcode kc_global_rc;

static void kc_global_init(void)
{
    kc_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void kc_share_lock(CURL *h, curl_lock_data data, curl_lock_access a, void *ud)
{
    struct kclient *c = ud;
    pthread_mutex_lock(&c->share_locks[data]);
}

static void kc_share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    struct kclient *c = ud;
    pthread_mutex_unlock(&c->share_locks[data]);
}

static void kc_thread_free(struct kc_thread *t)
{
    curl_easy_cleanup(t->easy);
    free(t);
}

/* pthread key destructor: the thread is exiting. */
static void kc_thread_exit(void *p)
{
    struct kc_thread *t = p;
    struct kclient *c = t->c;
    pthread_mutex_lock(&c->lock);
    if (t->prev)
        t->prev->next = t->next;
    else
        c->threads = t->next;
    if (t->next)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&c->lock);
    kc_thread_free(t);
}

static struct kc_thread *kc_thread_get(struct kclient *c)
{
    struct kc_thread *t = pthread_getspecific(c->key);
    if (t)
        return t;
    t = kerr_xcalloc(1, sizeof *t);
    t->c = c;
    t->easy = curl_easy_init();
    if (!t->easy)
        kerr_oom();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t->seed = (unsigned)ts.tv_nsec ^ (unsigned)(uintptr_t)t;
    pthread_mutex_lock(&c->lock);
    t->next = c->threads;
    if (t->next)
        t->next->prev = t;
    c->threads = t;
    pthread_mutex_unlock(&c->lock);
    pthread_setspecific(c->key, t);
    return t;
}

enum kerr kclient_new(const struct kconfig *cfg, const struct kclient_options *opts,
                      struct kclient **out, struct kerr_info *err)
{
    *out = NULL;
    if (!cfg || !cfg->server || !cfg->server[0])
        return kerr_set(err, KERR_INVAL, 0, "BadConfig", "kclient: no server in the config");
    pthread_once(&kc_global_once, kc_global_init);
    if (kc_global_rc != CURLE_OK)
        return kerr_set(err, KERR_IO, 0, "CurlInit", "curl_global_init: %s",
                        curl_easy_strerror(kc_global_rc));
    struct kclient *c = kerr_xcalloc(1, sizeof *c);
    c->cfg = cfg;
    c->connect_timeout_ms = opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 5000;
    c->request_timeout_ms = opts && opts->request_timeout_ms > 0 ? opts->request_timeout_ms : 30000;
    /* 0 means "default"; a negative value disables retries. */
    c->max_retries = !opts || opts->max_retries == 0 ? 5 : opts->max_retries;
    if (c->max_retries < 0)
        c->max_retries = 0;
    c->compression = opts && opts->compression && !cfg->disable_compression;
    c->user_agent =
        kerr_xstrdup(opts && opts->user_agent ? opts->user_agent : "grace-operator/" GRACE_VERSION);
    pthread_mutex_init(&c->lock, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_locks[i], NULL);
    if (pthread_key_create(&c->key, kc_thread_exit) != 0)
        kerr_oom();
    c->share = curl_share_init();
    if (!c->share)
        kerr_oom();
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, kc_share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, kc_share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    *out = c;
    return KERR_OK;
}

void kclient_free(struct kclient *c)
{
    if (!c)
        return;
    /* This thread's own handle: clear the key so no destructor runs later. */
    pthread_setspecific(c->key, NULL);
    pthread_key_delete(c->key);
    while (c->threads) {
        struct kc_thread *t = c->threads;
        c->threads = t->next;
        kc_thread_free(t);
    }
    curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_locks[i]);
    pthread_mutex_destroy(&c->lock);
    free(c->user_agent);
    free(c);
}

void kclient_set_observer(struct kclient *c, kclient_observer_fn fn, void *ctx)
{
    pthread_mutex_lock(&c->lock);
    c->observer = fn;
    c->obs_ctx = ctx;
    pthread_mutex_unlock(&c->lock);
}

const struct kconfig *kclient_config(const struct kclient *c)
{
    return c->cfg;
}

void kclient_http_observe(struct kclient *c, const char *verb, long code, double seconds)
{
    pthread_mutex_lock(&c->lock);
    kclient_observer_fn fn = c->observer;
    void *ctx = c->obs_ctx;
    pthread_mutex_unlock(&c->lock);
    if (fn)
        fn(ctx, verb, code, seconds);
}

long kclient_backoff_ms(int attempt, unsigned *seed)
{
    long d = KCLIENT_BACKOFF_BASE_MS;
    for (int i = 0; i < attempt && d < KCLIENT_BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > KCLIENT_BACKOFF_CAP_MS)
        d = KCLIENT_BACKOFF_CAP_MS;
    long half = d / 2;
    return half + (long)(rand_r(seed) % (unsigned)(half + 1));
}

static void kc_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Append "Name: value" to a header list (aborts on OOM). */
static struct curl_slist *kc_header(struct curl_slist *h, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = kerr_xmalloc(n);
    snprintf(line, n, "%s: %s", name, value);
    struct curl_slist *r = curl_slist_append(h, line);
    memset(line, 0, n); /* may hold the bearer token */
    free(line);
    if (!r)
        kerr_oom();
    return r;
}

void kclient_setopt_note(struct kclient_setopt *st, const char *name, CURLcode rc)
{
    if (rc != CURLE_OK && st->rc == CURLE_OK) {
        st->rc = rc;
        st->name = name;
    }
}

enum kerr kclient_setopt_result(const struct kclient_setopt *st, struct kerr_info *err)
{
    if (st->rc == CURLE_OK)
        return KERR_OK;
    return kerr_set(err, KERR_CONFIG, 0, "CurlOption", "libcurl refused %s: %s", st->name,
                    curl_easy_strerror(st->rc));
}

static void kc_set_blob(struct kclient_setopt *so, CURL *easy, CURLoption opt, const char *name,
                        char *data, size_t len)
{
    struct curl_blob b = {data, len, CURL_BLOB_COPY};
    kclient_setopt_note(so, name, curl_easy_setopt(easy, opt, &b));
}

/* Everything but the method, body and timeouts. */
static enum kerr kc_configure(struct kclient *c, CURL *easy, const char *path, const char *accept,
                              const char *content_type, struct curl_slist **headers,
                              struct kerr_info *err)
{
    const struct kconfig *cfg = c->cfg;
    struct kclient_setopt so = {CURLE_OK, NULL};
    size_t n = strlen(cfg->server) + strlen(path) + 1;
    char *url = kerr_xmalloc(n);
    snprintf(url, n, "%s%s", cfg->server, path);
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_URL, url);
    free(url);
    if (rc != CURLE_OK)
        return kerr_set(err, KERR_INVAL, 0, "BadURL", "bad URL path %s: %s", path,
                        curl_easy_strerror(rc));
    KCLIENT_SETOPT(&so, easy, CURLOPT_SHARE, c->share);
    KCLIENT_SETOPT(&so, easy, CURLOPT_NOSIGNAL, 1L);
    /* HTTP/1.1, not HTTP/2: each thread's handle has a connection of its
     * own, so HTTP/2 would multiplex nothing here, and its framing costs
     * both sides (bench/README.md: ~30 % of the client's CPU per exchange,
     * and the API server's). Watches multiplex, and speak HTTP/2 (kwatch). */
    KCLIENT_SETOPT(&so, easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    KCLIENT_SETOPT(&so, easy, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    KCLIENT_SETOPT(&so, easy, CURLOPT_TCP_KEEPALIVE, 1L);
    /* Request bodies are small; curl allocates its upload buffer (64 KiB
     * by default) in each handle that sends a body, and keeps it. */
    KCLIENT_SETOPT(&so, easy, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
    KCLIENT_SETOPT(&so, easy, CURLOPT_USERAGENT, c->user_agent);
    if (c->compression) /* "": every encoding this libcurl decodes */
        KCLIENT_SETOPT(&so, easy, CURLOPT_ACCEPT_ENCODING, "");
    if (cfg->ca_pem)
        kc_set_blob(&so, easy, CURLOPT_CAINFO_BLOB, "CURLOPT_CAINFO_BLOB", cfg->ca_pem, cfg->ca_len);
    if (cfg->cert_pem && cfg->key_pem) {
        kc_set_blob(&so, easy, CURLOPT_SSLCERT_BLOB, "CURLOPT_SSLCERT_BLOB", cfg->cert_pem, cfg->cert_len);
        kc_set_blob(&so, easy, CURLOPT_SSLKEY_BLOB, "CURLOPT_SSLKEY_BLOB", cfg->key_pem, cfg->key_len);
    }
    if (cfg->insecure_skip_tls_verify) {
        KCLIENT_SETOPT(&so, easy, CURLOPT_SSL_VERIFYPEER, 0L);
        KCLIENT_SETOPT(&so, easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    struct curl_slist *h = NULL;
    char *token = kconfig_bearer_token(cfg);
    if (token) {
        size_t tl = strlen(token) + sizeof "Bearer ";
        char *v = kerr_xmalloc(tl);
        snprintf(v, tl, "Bearer %s", token);
        h = kc_header(h, "Authorization", v);
        memset(v, 0, tl);
        memset(token, 0, strlen(token));
        free(v);
        free(token);
    }
    h = kc_header(h, "Accept", accept ? accept : "application/json");
    if (content_type)
        h = kc_header(h, "Content-Type", content_type);
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    if (!h)
        kerr_oom();
    *headers = h;
    KCLIENT_SETOPT(&so, easy, CURLOPT_HTTPHEADER, h);
    return kclient_setopt_result(&so, err);
}

void kclient_response_free(struct kclient_response *r)
{
    if (!r)
        return;
    free(r->body);
    free(r->content_type);
    memset(r, 0, sizeof *r);
}

/* State of one transfer, for the write callback. */
struct kc_xfer {
    CURL *easy;
    const struct kclient_request *req;
    struct kclient_response *resp;
    enum kerr stream_rc;
    struct kerr_info stream_err;
    bool too_large;
};

static size_t kc_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct kc_xfer *x = ud;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    if (x->req->stream && code >= 200 && code < 300) {
        x->stream_rc = kjs_feed(x->req->stream, p, n, &x->stream_err);
        return x->stream_rc == KERR_OK ? n : 0;
    }
    struct kclient_response *r = x->resp;
    if (r->len + n > KCLIENT_MAX_BODY) {
        x->too_large = true;
        return 0;
    }
    r->body = kerr_xrealloc(r->body, r->len + n + 1);
    memcpy(r->body + r->len, p, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

enum kerr kclient_status_error(long status, const char *body, size_t len, struct kerr_info *err)
{
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *kind = json_string_value(json_object_get(j, "kind"));
    enum kerr rc;
    if (kind && strcmp(kind, "Status") == 0) {
        const char *reason = json_string_value(json_object_get(j, "reason"));
        const char *msg = json_string_value(json_object_get(j, "message"));
        rc = kerr_from_http(status, reason);
        kerr_set(err, rc, status, reason, "%s", msg && *msg ? msg : kerr_strerror(rc));
    } else {
        rc = kerr_from_http(status, NULL);
        size_t line = 0;
        while (body && line < len && line < 200 && body[line] != '\n' && body[line] != '\r')
            line++;
        if (line > 0)
            kerr_set(err, rc, status, NULL, "HTTP %ld: %.*s", status, (int)line, body);
        else
            kerr_set(err, rc, status, NULL, "HTTP %ld", status);
    }
    json_decref(j);
    return rc;
}

static void kc_set_method(struct kclient_setopt *so, CURL *e, const struct kclient_request *req)
{
    if (strcmp(req->method, "GET") == 0)
        KCLIENT_SETOPT(so, e, CURLOPT_HTTPGET, 1L);
    else if (strcmp(req->method, "POST") == 0)
        KCLIENT_SETOPT(so, e, CURLOPT_POST, 1L);
    else
        KCLIENT_SETOPT(so, e, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body) {
        KCLIENT_SETOPT(so, e, CURLOPT_POSTFIELDS, req->body);
        KCLIENT_SETOPT(so, e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "POST") == 0) {
        KCLIENT_SETOPT(so, e, CURLOPT_POSTFIELDS, "");
        KCLIENT_SETOPT(so, e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
}

/* TLS failures that a retry cannot fix: the server's certificate does not
 * verify against the CA, or our CA / client certificate cannot be used. A
 * handshake cut short (CURLE_SSL_CONNECT_ERROR) may be transient and stays
 * KERR_IO. */
static bool kc_tls_refused(CURLcode cc)
{
    return cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
           cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_ISSUER_ERROR ||
           cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

/* Map the outcome of one transfer to the enum. */
static enum kerr kc_outcome(struct kc_thread *t, const struct kclient_request *req,
                            struct kc_xfer *x, CURLcode cc, struct kerr_info *err)
{
    struct kclient_response *r = x->resp;
    if (x->stream_rc != KERR_OK) {
        if (err)
            *err = x->stream_err;
        return x->stream_rc;
    }
    if (x->too_large)
        return kerr_set(err, KERR_PARSE, r->status, "TooLarge",
                        "%s %s: response larger than %zu bytes", req->method, req->path,
                        KCLIENT_MAX_BODY);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return kerr_set(err, KERR_TIMEOUT, r->status, "Timeout", "%s %s: %s", req->method,
                        req->path, t->errbuf[0] ? t->errbuf : curl_easy_strerror(cc));
    if (kc_tls_refused(cc))
        return kerr_set(err, KERR_TLS, r->status, "TLSVerify", "%s %s: %s", req->method,
                        req->path, t->errbuf[0] ? t->errbuf : curl_easy_strerror(cc));
    if (cc != CURLE_OK)
        return kerr_set(err, KERR_IO, r->status, "Transport", "%s %s: %s", req->method, req->path,
                        t->errbuf[0] ? t->errbuf : curl_easy_strerror(cc));
    if (r->status >= 200 && r->status < 300) {
        if (req->stream)
            return kjs_finish(req->stream, err);
        return KERR_OK;
    }
    return kclient_status_error(r->status, r->body, r->len, err);
}

/* One exchange. *retry_after_s: the server's Retry-After (0 if none). */
static enum kerr kc_perform(struct kclient *c, struct kc_thread *t,
                            const struct kclient_request *req, struct kclient_response *resp,
                            long *retry_after_s, struct kerr_info *err)
{
    CURL *e = t->easy;
    struct curl_slist *h = NULL;
    struct kc_xfer x = {e, req, resp, KERR_OK, {0}, false};
    curl_easy_reset(e);
    enum kerr rc =
        kc_configure(c, e, req->path, req->accept, req->body ? req->content_type : NULL, &h, err);
    if (rc != KERR_OK)
        goto out;
    t->errbuf[0] = '\0';
    struct kclient_setopt so = {CURLE_OK, NULL};
    KCLIENT_SETOPT(&so, e, CURLOPT_ERRORBUFFER, t->errbuf);
    KCLIENT_SETOPT(&so, e, CURLOPT_TIMEOUT_MS, c->request_timeout_ms);
    KCLIENT_SETOPT(&so, e, CURLOPT_WRITEFUNCTION, kc_write);
    KCLIENT_SETOPT(&so, e, CURLOPT_WRITEDATA, &x);
    kc_set_method(&so, e, req);
    if ((rc = kclient_setopt_result(&so, err)) != KERR_OK)
        goto out;
    CURLcode cc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
    double secs = 0;
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &secs);
    curl_off_t ra = 0;
    if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        *retry_after_s = ra > KCLIENT_RETRY_AFTER_CAP_S ? KCLIENT_RETRY_AFTER_CAP_S : (long)ra;
    char *ct = NULL;
    if (curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        resp->content_type = kerr_xstrdup(ct);
    kclient_http_observe(c, req->verb, cc == CURLE_OK ? resp->status : 0, secs);
    rc = kc_outcome(t, req, &x, cc, err);
out:
    curl_slist_free_all(h);
    return rc;
}

static enum kerr kc_do(struct kclient *c, const struct kclient_request *req,
                       struct kclient_response *resp, struct kerr_info *err);

/* Every write (not a GET) made under a current span (ktrace.h) becomes a
 * child span: "kube <verb>", with the method, path and answer. */
enum kerr kclient_http_do(struct kclient *c, const struct kclient_request *req,
                          struct kclient_response *resp, struct kerr_info *err)
{
    bool write = strcmp(req->method, "GET") != 0;
    struct ktrace_span *sp = NULL;
    if (write && ktrace_current()) {
        char name[64];
        snprintf(name, sizeof name, "kube %s", req->verb ? req->verb : req->method);
        sp = ktrace_child_current(name, KTRACE_CLIENT);
        ktrace_set_str(sp, "http.request.method", req->method);
        char path[512];
        snprintf(path, sizeof path, "%.*s", (int)strcspn(req->path, "?"), req->path);
        ktrace_set_str(sp, "url.path", path);
    }
    enum kerr rc = kc_do(c, req, resp, err);
    if (sp) {
        ktrace_set_int(sp, "http.response.status_code", resp->status);
        if (rc != KERR_OK)
            ktrace_set_error(sp, kerr_strerror(rc));
        ktrace_span_end(sp);
    }
    return rc;
}

static enum kerr kc_do(struct kclient *c, const struct kclient_request *req,
                       struct kclient_response *resp, struct kerr_info *err)
{
    struct kc_thread *t = kc_thread_get(c);
    memset(resp, 0, sizeof *resp);
    for (int attempt = 0;; attempt++) {
        long retry_after = 0;
        kclient_response_free(resp);
        if (req->stream)
            kjs_reset(req->stream);
        enum kerr rc = kc_perform(c, t, req, resp, &retry_after, err);
        bool retryable = (rc == KERR_TOOMANY || rc == KERR_SERVER) &&
                         (resp->status == 429 || resp->status >= 500);
        if (rc == KERR_OK || !retryable || attempt >= c->max_retries)
            return rc;
        kc_sleep_ms(retry_after > 0 ? retry_after * 1000 : kclient_backoff_ms(attempt, &t->seed));
    }
}
