/*
 * httpd_test: the libwebsockets server on ephemeral 127.0.0.1 ports, driven
 * with libcurl: health and readiness, metrics, routing errors, the webhook
 * over HTTPS verified against the tlsgen CA, body caps, listener sharing,
 * bind errors and cross-thread stop.
 */
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "tlsgen.h"
#include "webhook.h"

struct buf {
    char *data;
    size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct buf *b = ud;
    b->data = realloc(b->data, b->len + size * n + 1);
    memcpy(b->data + b->len, p, size * n);
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct buf *b = ud;
    return on_data(p, size, n, b);
}

struct reply {
    long status; /* -1: transport failure */
    struct buf body;
    struct buf headers;
};

static void reply_free(struct reply *r)
{
    free(r->body.data);
    free(r->headers.data);
}

/* One request with a fresh handle (or `reuse` to test keep-alive). */
static struct reply fetch_with(CURL *c, const char *method, const char *url, const char *body,
                               size_t len, const char *ca_pem)
{
    struct reply r = {0};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (ca_pem) {
        struct curl_blob blob = {(void *)ca_pem, strlen(ca_pem), CURL_BLOB_COPY};
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    else
        r.status = -1;
    curl_slist_free_all(hdrs);
    return r;
}

static struct reply fetch(const char *method, const char *url, const char *body, size_t len,
                          const char *ca_pem)
{
    CURL *c = curl_easy_init();
    struct reply r = fetch_with(c, method, url, body, len, ca_pem);
    curl_easy_cleanup(c);
    return r;
}

struct reader {
    const char *p;
    size_t left;
};

static size_t on_read(char *dst, size_t size, size_t n, void *ud)
{
    struct reader *r = ud;
    size_t k = size * n < r->left ? size * n : r->left;
    if (k > 100)
        k = 100; /* several chunks */
    memcpy(dst, r->p, k);
    r->p += k;
    r->left -= k;
    return k;
}

/* POST with Transfer-Encoding: chunked (no Content-Length). */
static struct reply fetch_chunked(const char *u, const char *body, const char *ca_pem)
{
    struct reply r = {0};
    struct reader rd = {body, strlen(body)};
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    hdrs = curl_slist_append(hdrs, "Expect:");
    struct curl_blob blob = {(void *)ca_pem, strlen(ca_pem), CURL_BLOB_COPY};
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &rd);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    else
        r.status = -1;
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return r;
}

static char *url(struct httpd *h, enum httpd_listener which, const char *scheme, const char *host,
                 const char *path)
{
    static char u[8][256];
    static int slot;
    char *s = u[slot++ % 8];
    snprintf(s, 256, "%s://%s:%d%s", scheme, host, httpd_port(h, which), path);
    return s;
}

/* ---- callbacks ---- */

struct fixture {
    atomic_bool ready;
    struct metrics *m;
    struct metrics_family *hits;
    size_t big_metrics; /* > 0: serve a body of this many bytes */
};

static bool ready_cb(void *ctx, char *reason, size_t size)
{
    struct fixture *f = ctx;
    if (atomic_load(&f->ready))
        return true;
    snprintf(reason, size, "caches not synced: graceservices");
    return false;
}

static char *metrics_cb(void *ctx, size_t *len)
{
    struct fixture *f = ctx;
    if (f->big_metrics) {
        char *b = malloc(f->big_metrics + 1);
        for (size_t i = 0; i < f->big_metrics; i++)
            b[i] = (char)('a' + i % 26);
        b[f->big_metrics] = '\0';
        *len = f->big_metrics;
        return b;
    }
    metrics_counter_add(f->hits, NULL, 1);
    return metrics_render(f->m, len);
}

static void deny_taken(void *ctx, const struct webhook_request *req, struct webhook_verdict *v)
{
    (void)ctx;
    const char *host =
        json_string_value(json_object_get(json_object_get(req->object, "spec"), "hostname"));
    if (host && strcmp(host, "taken.example.com") == 0)
        webhook_deny(v, "hostname %s is already used by GraceService other/web", host);
}

static struct webhook_routes routes = {.validate_path = "/validate-graceservice",
                                       .validate = deny_taken,
                                       .mutate_path = "/mutate-graceservice"};

static struct fixture fx;
static struct tlsgen_pem pem;

static void setup(void)
{
    log_init(LOG_JSON, LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    memset(&fx, 0, sizeof fx);
    fx.m = metrics_new();
    struct metrics_desc d = {.name = "scrapes_total", .help = "Scrapes.", .type = METRICS_COUNTER};
    ck_assert_int_eq(metrics_register(fx.m, &d, &fx.hits, NULL), KERR_OK);
    const char *names[] = {"localhost", "127.0.0.1"};
    ck_assert_int_eq(tlsgen_serving_cert(names, 2, &pem, NULL), KERR_OK);
}

static void teardown(void)
{
    tlsgen_free(&pem);
    metrics_free(fx.m);
    curl_global_cleanup();
}

static struct httpd_options base_opts(void)
{
    struct httpd_options o = {
        .health_addr = "127.0.0.1:0",
        .metrics_addr = "127.0.0.1:0",
        .webhook_addr = "127.0.0.1:0",
        .cert_pem = pem.cert_pem,
        .key_pem = pem.key_pem,
        .ready = ready_cb,
        .ready_ctx = &fx,
        .metrics = metrics_cb,
        .metrics_ctx = &fx,
        .webhook = webhook_serve,
        .webhook_ctx = &routes,
    };
    return o;
}

static struct httpd *start(const struct httpd_options *o)
{
    struct httpd *h = NULL;
    struct kerr_info e = {0};
    ck_assert_msg(httpd_new(o, &h, &e) == KERR_OK, "httpd_new: %s", e.message);
    ck_assert_int_eq(httpd_start(h, NULL), KERR_OK);
    return h;
}

/* ---- tests ---- */

START_TEST(httpd_healthz_answers_ok)
{
    struct httpd_options o = base_opts();
    struct httpd *h = start(&o);
    ck_assert_int_gt(httpd_port(h, HTTPD_HEALTH), 0);
    struct reply r =
        fetch(NULL, url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/healthz"), NULL, 0, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.data, "ok\n");
    reply_free(&r);
    httpd_free(h);
}
END_TEST

START_TEST(httpd_readyz_is_503_with_reason_until_ready)
{
    struct httpd_options o = base_opts();
    struct httpd *h = start(&o);
    const char *u = url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/readyz");
    struct reply r = fetch(NULL, u, NULL, 0, NULL);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.body.data, "caches not synced: graceservices\n");
    reply_free(&r);
    atomic_store(&fx.ready, true);
    r = fetch(NULL, u, NULL, 0, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.data, "ok\n");
    reply_free(&r);
    httpd_free(h);
}
END_TEST

START_TEST(httpd_metrics_served_in_text_format)
{
    struct httpd_options o = base_opts();
    struct httpd *h = start(&o);
    ck_assert_int_ne(httpd_port(h, HTTPD_METRICS), httpd_port(h, HTTPD_HEALTH));
    struct reply r =
        fetch(NULL, url(h, HTTPD_METRICS, "http", "127.0.0.1", "/metrics"), NULL, 0, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body.data, "# TYPE scrapes_total counter\nscrapes_total 1\n"));
    ck_assert_ptr_nonnull(strstr(r.headers.data, "text/plain; version=0.0.4"));
    reply_free(&r);
    /* health paths are not served on the metrics listener */
    r = fetch(NULL, url(h, HTTPD_METRICS, "http", "127.0.0.1", "/healthz"), NULL, 0, NULL);
    ck_assert_int_eq(r.status, 404);
    reply_free(&r);
    httpd_free(h);
}
END_TEST

/* A streamed /metrics: pieces of uneven sizes (one empty stream too). */
struct pieces {
    int left;  /* pieces still to give */
    int total; /* pieces given */
    atomic_int closed;
};

static struct pieces stream_fx;

static void *stream_open(void *ctx)
{
    struct pieces *p = &stream_fx;
    (void)ctx;
    p->total = 0;
    return p;
}

/* Piece k is k*7919 % 40000 + 1 bytes of the letter 'a' + k % 26. */
static char *stream_next(void *st, size_t *len)
{
    struct pieces *p = st;
    if (p->left == 0)
        return NULL;
    p->left--;
    int k = p->total++;
    size_t n = (size_t)k * 7919 % 40000 + 1;
    char *b = malloc(n + 1);
    memset(b, 'a' + k % 26, n);
    b[n] = '\0';
    *len = n;
    return b;
}

static void stream_close(void *st)
{
    struct pieces *p = st;
    atomic_fetch_add(&p->closed, 1);
}

START_TEST(httpd_streamed_metrics_arrive_whole_then_close)
{
    struct httpd_options o = base_opts();
    o.metrics = NULL;
    o.metrics_open = stream_open;
    o.metrics_next = stream_next;
    o.metrics_close = stream_close;
    memset(&stream_fx, 0, sizeof stream_fx);
    stream_fx.left = 60;
    struct httpd *h = start(&o);
    const char *u = url(h, HTTPD_METRICS, "http", "127.0.0.1", "/metrics");
    struct reply r = fetch(NULL, u, NULL, 0, NULL);
    ck_assert_int_eq(r.status, 200);
    size_t off = 0;
    for (int k = 0; k < 60; k++) {
        size_t n = (size_t)k * 7919 % 40000 + 1;
        ck_assert_uint_ge(r.body.len, off + n);
        ck_assert_int_eq(r.body.data[off], 'a' + k % 26);
        ck_assert_int_eq(r.body.data[off + n - 1], 'a' + k % 26);
        off += n;
    }
    ck_assert_uint_eq(r.body.len, off);
    ck_assert_ptr_nonnull(strstr(r.headers.data, "text/plain; version=0.0.4"));
    ck_assert_ptr_null(strstr(r.headers.data, "content-length"));
    ck_assert_ptr_nonnull(strstr(r.headers.data, "connection: close"));
    reply_free(&r);
    ck_assert_int_eq(atomic_load(&stream_fx.closed), 1);
    stream_fx.left = 0; /* an empty exposition */
    r = fetch(NULL, u, NULL, 0, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body.len, 0);
    reply_free(&r);
    ck_assert_int_eq(atomic_load(&stream_fx.closed), 2);
    httpd_free(h);
}
END_TEST

START_TEST(httpd_large_response_arrives_intact)
{
    fx.big_metrics = 700 * 1000 + 7;
    struct httpd_options o = base_opts();
    struct httpd *h = start(&o);
    struct reply r =
        fetch(NULL, url(h, HTTPD_METRICS, "http", "127.0.0.1", "/metrics"), NULL, 0, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body.len, fx.big_metrics);
    for (size_t i = 0; i < r.body.len; i += 4099)
        ck_assert_int_eq(r.body.data[i], 'a' + (int)(i % 26));
    reply_free(&r);
    httpd_free(h);
}
END_TEST

START_TEST(httpd_unknown_path_404_and_wrong_method_405)
{
    struct httpd_options o = base_opts();
    struct httpd *h = start(&o);
    struct reply r = fetch(NULL, url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/nope"), NULL, 0, NULL);
    ck_assert_int_eq(r.status, 404);
    reply_free(&r);
    r = fetch(NULL, url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/healthz"), "x", 1, NULL);
    ck_assert_int_eq(r.status, 405);
    ck_assert_ptr_nonnull(strstr(r.headers.data, "allow: GET"));
    reply_free(&r);
    r = fetch(NULL, url(h, HTTPD_WEBHOOK, "https", "localhost", "/validate-graceservice"), NULL, 0,
              pem.ca_pem);
    ck_assert_int_eq(r.status, 405);
    ck_assert_ptr_nonnull(strstr(r.headers.data, "allow: POST"));
    reply_free(&r);
    r = fetch("DELETE", url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/readyz"), NULL, 0, NULL);
    ck_assert(r.status == 405 || r.status == 400);
    reply_free(&r);
    httpd_free(h);
}
END_TEST

static const char *review =
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
    "\"uid\":\"u-1\",\"operation\":\"CREATE\",\"namespace\":\"ns\",\"name\":\"api\","
    "\"kind\":{\"group\":\"grace.dev\",\"version\":\"v1alpha1\",\"kind\":\"GraceService\"},"
    "\"object\":{\"spec\":{\"hostname\":\"%s\"}}}}";

START_TEST(httpd_webhook_over_https_verified_with_generated_ca)
{
    struct httpd_options o = base_opts();
    struct httpd *h = start(&o);
    char body[1024];
    snprintf(body, sizeof body, review, "free.example.com");
    CURL *c = curl_easy_init();
    struct reply r = fetch_with(
        c, NULL, url(h, HTTPD_WEBHOOK, "https", "localhost", "/validate-graceservice?timeout=10s"),
        body, strlen(body), pem.ca_pem);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.headers.data, "application/json"));
    ck_assert_ptr_nonnull(strstr(r.body.data, "\"uid\":\"u-1\""));
    ck_assert_ptr_nonnull(strstr(r.body.data, "\"allowed\":true"));
    reply_free(&r);
    snprintf(body, sizeof body, review, "taken.example.com");
    r = fetch_with(c, NULL, url(h, HTTPD_WEBHOOK, "https", "127.0.0.1", "/validate-graceservice"),
                   body, strlen(body), pem.ca_pem);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body.data, "\"allowed\":false"));
    ck_assert_ptr_nonnull(strstr(r.body.data, "hostname taken.example.com is already used"));
    reply_free(&r);
    r = fetch_with(c, NULL, url(h, HTTPD_WEBHOOK, "https", "localhost", "/validate-graceservice"),
                   "{not json", 9, pem.ca_pem);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_nonnull(strstr(r.body.data, "malformed AdmissionReview JSON"));
    reply_free(&r);
    /* an empty POST is answered (400), not left hanging */
    r = fetch_with(c, "POST", url(h, HTTPD_WEBHOOK, "https", "localhost", "/validate-graceservice"),
                   "", 0, pem.ca_pem);
    ck_assert_int_eq(r.status, 400);
    reply_free(&r);
    /* a chunked body (no Content-Length) is refused with 411, not misread */
    snprintf(body, sizeof body, review, "free.example.com");
    r = fetch_chunked(url(h, HTTPD_WEBHOOK, "https", "localhost", "/validate-graceservice"), body,
                      pem.ca_pem);
    ck_assert_msg(r.status == 411, "chunked: %ld %s", r.status, r.body.data ? r.body.data : "");
    reply_free(&r);
    curl_easy_cleanup(c);
    /* a client that does not trust the CA is refused */
    const char *other[] = {"localhost"};
    struct tlsgen_pem p2;
    ck_assert_int_eq(tlsgen_serving_cert(other, 1, &p2, NULL), KERR_OK);
    r = fetch(NULL, url(h, HTTPD_WEBHOOK, "https", "localhost", "/validate-graceservice"), body,
              strlen(body), p2.ca_pem);
    ck_assert_int_eq(r.status, -1);
    reply_free(&r);
    tlsgen_free(&p2);
    /* plain HTTP on the TLS port does not reach the handler */
    r = fetch(NULL, url(h, HTTPD_WEBHOOK, "http", "127.0.0.1", "/validate-graceservice"), body,
              strlen(body), NULL);
    ck_assert(r.status != 200);
    reply_free(&r);
    httpd_free(h);
}
END_TEST

START_TEST(httpd_webhook_with_certificate_files)
{
    char dir[] = "/tmp/httpd_test_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(tlsgen_write_dir(&pem, dir, NULL), KERR_OK);
    char crt[128], key[128], ca[128];
    snprintf(crt, sizeof crt, "%s/tls.crt", dir);
    snprintf(key, sizeof key, "%s/tls.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    struct httpd_options o = base_opts();
    o.cert_pem = o.key_pem = NULL;
    o.cert_file = crt;
    o.key_file = key;
    struct httpd *h = start(&o);
    char body[1024];
    snprintf(body, sizeof body, review, "free.example.com");
    struct reply r =
        fetch(NULL, url(h, HTTPD_WEBHOOK, "https", "localhost", "/mutate-graceservice"), body,
              strlen(body), pem.ca_pem);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body.data, "\"allowed\":true"));
    reply_free(&r);
    httpd_free(h);
    /* a mismatched key is a clear start-up error */
    o.key_file = crt;
    struct kerr_info e;
    ck_assert_int_eq(httpd_new(&o, &h, &e), KERR_CONFIG);
    ck_assert_ptr_null(h);
    ck_assert_ptr_nonnull(strstr(e.message, "tls.crt"));
    unlink(crt);
    unlink(key);
    unlink(ca);
    rmdir(dir);
}
END_TEST

START_TEST(httpd_oversize_body_is_413_and_connection_stays_usable)
{
    struct httpd_options o = base_opts();
    struct httpd *h = start(&o);
    size_t n = 1024 * 1024 + 512 * 1024; /* over the 1 MiB default cap */
    char *big = malloc(n);
    memset(big, ' ', n);
    CURL *c = curl_easy_init();
    const char *u = url(h, HTTPD_WEBHOOK, "https", "localhost", "/validate-graceservice");
    struct reply r = fetch_with(c, NULL, u, big, n, pem.ca_pem);
    ck_assert_int_eq(r.status, 413);
    reply_free(&r);
    char body[1024];
    snprintf(body, sizeof body, review, "free.example.com");
    r = fetch_with(c, NULL, u, body, strlen(body), pem.ca_pem);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    curl_easy_cleanup(c);
    free(big);
    httpd_free(h);
}
END_TEST

START_TEST(httpd_small_body_cap_is_honoured)
{
    struct httpd_options o = base_opts();
    o.max_body = 64;
    struct httpd *h = start(&o);
    char body[1024];
    snprintf(body, sizeof body, review, "free.example.com");
    struct reply r =
        fetch(NULL, url(h, HTTPD_WEBHOOK, "https", "localhost", "/validate-graceservice"), body,
              strlen(body), pem.ca_pem);
    ck_assert_int_eq(r.status, 413);
    reply_free(&r);
    httpd_free(h);
}
END_TEST

START_TEST(httpd_same_address_serves_health_and_metrics_on_one_port)
{
    /* find a free port, then give the same fixed address to both flags */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(a.sin_port));
    struct httpd_options o = base_opts();
    o.health_addr = o.metrics_addr = addr;
    o.webhook = NULL;
    struct httpd *h = start(&o);
    ck_assert_int_eq(httpd_port(h, HTTPD_HEALTH), httpd_port(h, HTTPD_METRICS));
    ck_assert_int_eq(httpd_port(h, HTTPD_WEBHOOK), -1);
    struct reply r =
        fetch(NULL, url(h, HTTPD_METRICS, "http", "127.0.0.1", "/metrics"), NULL, 0, NULL);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    r = fetch(NULL, url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/healthz"), NULL, 0, NULL);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    httpd_free(h);
}
END_TEST

START_TEST(httpd_busy_port_gives_clear_error)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 1), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    char addr[64], want[128];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(a.sin_port));
    snprintf(want, sizeof want, "health-addr %s: address already in use", addr);
    struct httpd_options o = base_opts();
    o.health_addr = addr;
    struct httpd *h = NULL;
    struct kerr_info e;
    ck_assert_int_eq(httpd_new(&o, &h, &e), KERR_IO);
    ck_assert_ptr_null(h);
    ck_assert_str_eq(e.message, want);
    close(fd);
}
END_TEST

START_TEST(httpd_two_listeners_on_one_address_are_refused_naming_both_flags)
{
    /* a port in use by someone else: the conflict is still what is reported */
    int busy = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in ba = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(busy, (struct sockaddr *)&ba, sizeof ba), 0);
    ck_assert_int_eq(listen(busy, 1), 0);
    socklen_t blen = sizeof ba;
    getsockname(busy, (struct sockaddr *)&ba, &blen);
    int port = ntohs(ba.sin_port);
    char lo[64], any[64], want[256];
    snprintf(lo, sizeof lo, "127.0.0.1:%d", port);
    snprintf(any, sizeof any, ":%d", port);
    struct {
        const char *health, *metrics, *webhook, *first, *first_addr, *second, *second_addr;
    } cases[] = {
        {"127.0.0.1:0", lo, lo, "metrics-addr", lo, "webhook-addr", lo},
        {lo, "127.0.0.1:0", lo, "health-addr", lo, "webhook-addr", lo},
        {any, lo, "off", "health-addr", any, "metrics-addr", lo}, /* all interfaces */
        {lo, "0.0.0.0:0", any, "health-addr", lo, "webhook-addr", any},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct httpd_options o = base_opts();
        o.health_addr = cases[i].health;
        o.metrics_addr = cases[i].metrics;
        o.webhook_addr = cases[i].webhook;
        if (strcmp(cases[i].webhook, "off") == 0)
            o.webhook = NULL;
        struct httpd *h = NULL;
        struct kerr_info e;
        ck_assert_msg(httpd_new(&o, &h, &e) == KERR_INVAL, "case %zu accepted", i);
        ck_assert_ptr_null(h);
        snprintf(want, sizeof want,
                 "--%s %s and --%s %s are the same address: give each "
                 "listener its own port",
                 cases[i].first, cases[i].first_addr, cases[i].second, cases[i].second_addr);
        ck_assert_str_eq(e.message, want);
        ck_assert_str_eq(e.reason, "AddressConflict");
    }
    close(busy);
    /* port 0 is a new free port for each listener: never a conflict */
    struct httpd_options o = base_opts();
    struct httpd *h = start(&o);
    ck_assert_int_ne(httpd_port(h, HTTPD_METRICS), httpd_port(h, HTTPD_WEBHOOK));
    ck_assert_int_ne(httpd_port(h, HTTPD_HEALTH), httpd_port(h, HTTPD_WEBHOOK));
    httpd_free(h);
}
END_TEST

START_TEST(httpd_bad_addresses_are_rejected)
{
    const char *bad[] = {"nonsense", "127.0.0.1:99999", "127.0.0.1:",
                         "::1:80",   "[::1]80",         "no-such-host.invalid:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct httpd_options o = base_opts();
        o.metrics_addr = bad[i];
        struct httpd *h = NULL;
        struct kerr_info e;
        ck_assert_msg(httpd_new(&o, &h, &e) == KERR_INVAL, "accepted %s", bad[i]);
        ck_assert_ptr_nonnull(strstr(e.message, "metrics-addr"));
        ck_assert_ptr_nonnull(strstr(e.message, bad[i]));
    }
}
END_TEST

START_TEST(httpd_webhook_without_certificate_is_config_error)
{
    struct httpd_options o = base_opts();
    o.cert_pem = NULL;
    struct httpd *h = NULL;
    struct kerr_info e;
    ck_assert_int_eq(httpd_new(&o, &h, &e), KERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "webhook-addr"));
}
END_TEST

START_TEST(httpd_disabled_listener_has_no_port)
{
    struct httpd_options o = base_opts();
    o.metrics_addr = "0";
    o.webhook_addr = "";
    struct httpd *h = start(&o);
    ck_assert_int_eq(httpd_port(h, HTTPD_METRICS), -1);
    ck_assert_int_eq(httpd_port(h, HTTPD_WEBHOOK), -1);
    ck_assert_int_gt(httpd_port(h, HTTPD_HEALTH), 0);
    httpd_free(h);
}
END_TEST

START_TEST(httpd_ipv6_loopback_listener)
{
    struct httpd_options o = base_opts();
    o.health_addr = "[::1]:0";
    struct httpd *h = start(&o);
    struct reply r = fetch(NULL, url(h, HTTPD_HEALTH, "http", "[::1]", "/healthz"), NULL, 0, NULL);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    httpd_free(h);
}
END_TEST

static void *stopper(void *arg)
{
    httpd_stop(arg);
    return NULL;
}

START_TEST(httpd_stop_from_another_thread_ends_serving)
{
    struct httpd_options o = base_opts();
    struct httpd *h = start(&o);
    ck_assert_int_eq(httpd_start(h, NULL), KERR_INVAL);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, stopper, h), 0);
    pthread_join(t, NULL);
    char u[128];
    snprintf(u, sizeof u, "%s", url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/healthz"));
    httpd_free(h); /* joins the stopped thread and closes the listeners */
    struct reply r = fetch(NULL, u, NULL, 0, NULL);
    ck_assert_int_eq(r.status, -1);
    reply_free(&r);
    httpd_free(NULL);
}
END_TEST

/* ---- hostile clients ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A body of `left` bytes, one byte per read, `gap_ms` apart. */
struct trickle {
    size_t left;
    int gap_ms;
};

static size_t on_trickle(char *dst, size_t size, size_t n, void *ud)
{
    struct trickle *t = ud;
    if (t->left == 0)
        return 0;
    usleep((useconds_t)t->gap_ms * 1000);
    dst[0] = '{';
    t->left--;
    return 1;
}

/* POST a body trickled byte by byte; returns the seconds until it ended and
 * the curl outcome in *rc. */
static double post_trickled(const char *u, size_t len, int gap_ms, CURLcode *rc, long *status)
{
    struct trickle t = {len, gap_ms};
    struct buf b = {0};
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
    struct curl_blob blob = {(void *)pem.ca_pem, strlen(pem.ca_pem), CURL_BLOB_COPY};
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_trickle);
    curl_easy_setopt(c, CURLOPT_READDATA, &t);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
    double t0 = now_s();
    *rc = curl_easy_perform(c);
    double took = now_s() - t0;
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    free(b.data);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return took;
}

START_TEST(httpd_trickled_body_is_cut_at_the_request_deadline)
{
    struct httpd_options o = base_opts();
    o.timeout_ms = 1000;
    struct httpd *h = start(&o);
    CURLcode rc;
    long status;
    /* 200 bytes at one per 50 ms would take 10 s */
    double took =
        post_trickled(url(h, HTTPD_WEBHOOK, "https", "localhost", "/validate-graceservice"), 200,
                      50, &rc, &status);
    ck_assert_msg(status == 408, "the trickled request got %ld (curl: %s), not 408", status,
                  curl_easy_strerror(rc));
    ck_assert_msg(took > 0.9 && took < 3.0, "answered after %.1f s, deadline 1 s", took);
    /* a prompt request on a fresh connection is still served */
    char body[1024];
    snprintf(body, sizeof body, review, "free.example.com");
    struct reply r =
        fetch(NULL, url(h, HTTPD_WEBHOOK, "https", "localhost", "/validate-graceservice"), body,
              strlen(body), pem.ca_pem);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    httpd_free(h);
}
END_TEST

/* A connected, silent TCP client of `port`. */
static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Everything the server sends on `fd` until it closes (or 15 s pass),
 * NUL-terminated; the seconds until then in *took. */
static char *read_until_close(int fd, double *took)
{
    double t0 = now_s();
    size_t n = 0, cap = 65536;
    char *b = malloc(cap + 1);
    struct pollfd p = {fd, POLLIN, 0};
    while (n < cap && now_s() - t0 < 15 && poll(&p, 1, 100) >= 0) {
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t k = recv(fd, b + n, cap - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    b[n] = '\0';
    *took = now_s() - t0;
    return b;
}

START_TEST(httpd_silent_body_gets_408_at_our_deadline_not_lws_content_timeout)
{
    /* lws 4.1 closes a body silent for its context timeout_secs (5 s by
     * default) without an answer; our deadline, here 5.5 s, must decide */
    struct httpd_options o = base_opts();
    o.timeout_ms = 5500;
    struct httpd *h = start(&o);
    int fd = tcp_connect(httpd_port(h, HTTPD_HEALTH));
    static const char req[] = "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
    ck_assert_int_eq(send(fd, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
    double took;
    char *got = read_until_close(fd, &took);
    ck_assert_msg(strncmp(got, "HTTP/1.1 408 ", 13) == 0, "after %.2f s: '%.40s'", took, got);
    ck_assert_msg(strstr(got, "request timeout\n"), "%s", got);
    ck_assert_msg(took > 5.3 && took < 6.5, "408 after %.2f s, deadline 5.5 s", took);
    free(got);
    close(fd);
    httpd_free(h);
}
END_TEST

START_TEST(httpd_keepalive_connection_is_reused)
{
    struct httpd_options o = base_opts();
    struct httpd *h = start(&o);
    CURL *c = curl_easy_init();
    const char *u = url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/healthz");
    for (int i = 0; i < 3; i++) {
        struct reply r = fetch_with(c, NULL, u, NULL, 0, NULL);
        ck_assert_int_eq(r.status, 200);
        long fresh = -1;
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &fresh);
        ck_assert_msg(i == 0 || fresh == 0, "request %d needed a new connection", i + 1);
        reply_free(&r);
        usleep(100 * 1000); /* the server has had time to close, if it would */
    }
    curl_easy_cleanup(c);
    httpd_free(h);
}
END_TEST

/* Raw request to the health listener with `count` headers `name` of `n`
 * bytes each; returns what came back before the close. */
static char *send_big_headers(struct httpd *h, const char *name, size_t n, int count)
{
    size_t line = strlen(name) + 2 + n + 2, cap = line * (size_t)count + 256;
    char *req = malloc(cap);
    size_t len = (size_t)snprintf(req, cap, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < count; i++) {
        len += (size_t)snprintf(req + len, cap - len, "%s: ", name);
        memset(req + len, 'c', n);
        len += n;
        memcpy(req + len, "\r\n", 2);
        len += 2;
    }
    memcpy(req + len, "\r\n", 2);
    len += 2;
    int fd = tcp_connect(httpd_port(h, HTTPD_HEALTH));
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* closed by the server */
        off += (size_t)w;
    }
    double took;
    char *got = read_until_close(fd, &took);
    close(fd);
    free(req);
    return got;
}

/* One header lws knows by name, of any size: lws keeps its first 8 KiB
 * (token_limits) and skips the rest, and we answer 431, like Go. */
START_TEST(httpd_one_known_header_of_any_size_gets_431)
{
    struct httpd_options o = base_opts();
    struct httpd *h = start(&o);
    size_t sizes[] = {9000, 20000, 40000, 1024 * 1024};
    for (size_t i = 0; i < 4; i++) {
        char *got = send_big_headers(h, "Cookie", sizes[i], 1);
        ck_assert_msg(strncmp(got, "HTTP/1.1 431 ", 13) == 0, "%zu bytes: '%.40s'", sizes[i], got);
        free(got);
    }
    /* several headers, over 8 KiB in all but within lws's 32 KiB buffer */
    char *got = send_big_headers(h, "Cookie", 5000, 4);
    ck_assert_msg(strncmp(got, "HTTP/1.1 431 ", 13) == 0, "4 x 5000 bytes: '%.40s'", got);
    free(got);
    httpd_free(h);
}
END_TEST

START_TEST(httpd_header_block_past_lws_buffer_is_closed_without_answer)
{
    /* the documented limit: past its 32 KiB buffer lws 4.1 cannot answer */
    struct httpd_options o = base_opts();
    struct httpd *h = start(&o);
    char *got = send_big_headers(h, "Cookie", 5000, 8);
    ck_assert_msg(got[0] == '\0', "8 x 5000 bytes: '%.40s'", got);
    free(got);
    got = send_big_headers(h, "X-Unknown-To-Lws", 40000, 1);
    ck_assert_msg(got[0] == '\0', "an unknown header of 40000 bytes: '%.40s'", got);
    free(got);
    struct reply r =
        fetch(NULL, url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/healthz"), NULL, 0, NULL);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    httpd_free(h);
}
END_TEST

/* Did the server close `fd` within `ms`? */
static bool closed_within(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    char c;
    return poll(&p, 1, ms) == 1 && recv(fd, &c, 1, 0) <= 0;
}

START_TEST(httpd_listener_connection_limit_closes_the_extra_ones)
{
    struct httpd_options o = base_opts();
    o.max_conns[HTTPD_WEBHOOK] = 3;
    o.max_conns[HTTPD_HEALTH] = 2;
    struct httpd *h = start(&o);
    int w[4], hp[3];
    for (int i = 0; i < 4; i++)
        w[i] = tcp_connect(httpd_port(h, HTTPD_WEBHOOK));
    ck_assert_msg(closed_within(w[3], 2000), "a 4th webhook connection was kept");
    for (int i = 0; i < 3; i++)
        ck_assert(!closed_within(w[i], 100));
    /* the full webhook listener does not touch the health listener */
    struct reply r =
        fetch(NULL, url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/healthz"), NULL, 0, NULL);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    usleep(200 * 1000); /* the server has seen that kept-alive connection close */
    for (int i = 0; i < 3; i++)
        hp[i] = tcp_connect(httpd_port(h, HTTPD_HEALTH));
    ck_assert_msg(closed_within(hp[2], 2000), "a 3rd health connection was kept");
    /* a slot freed is usable again */
    close(hp[0]);
    usleep(200 * 1000);
    r = fetch(NULL, url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/healthz"), NULL, 0, NULL);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    for (int i = 0; i < 4; i++)
        close(w[i]);
    close(hp[1]);
    close(hp[2]);
    httpd_free(h);
}
END_TEST

START_TEST(httpd_oversized_headers_are_431)
{
    struct httpd_options o = base_opts();
    struct httpd *h = start(&o);
    char *big = malloc(12000);
    memcpy(big, "Cookie: ", 8);
    memset(big + 8, 'c', 10000);
    big[10008] = '\0';
    CURL *c = curl_easy_init();
    struct reply r = {0};
    struct curl_slist *hdrs = curl_slist_append(NULL, big);
    curl_easy_setopt(c, CURLOPT_URL, url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/healthz"));
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    ck_assert_int_eq(r.status, 431);
    ck_assert_str_eq(r.body.data, "request header fields too large\n");
    reply_free(&r);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    free(big);
    /* the server goes on serving */
    r = fetch(NULL, url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/healthz"), NULL, 0, NULL);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    httpd_free(h);
}
END_TEST

/* An admission callback that takes its time. */
static char *slow_webhook(void *ctx, const char *path, const char *body, size_t len, int *status)
{
    atomic_int *entered = ctx;
    atomic_store(entered, 1);
    usleep(1500 * 1000);
    *status = 200;
    return strdup("{}");
}

static void *post_slow(void *arg)
{
    struct httpd *h = arg;
    struct reply r =
        fetch(NULL, url(h, HTTPD_WEBHOOK, "https", "localhost", "/validate-graceservice"), "{}", 2,
              pem.ca_pem);
    reply_free(&r);
    return NULL;
}

START_TEST(httpd_healthz_answers_while_the_webhook_is_busy)
{
    atomic_int entered = 0;
    struct httpd_options o = base_opts();
    o.webhook = slow_webhook;
    o.webhook_ctx = &entered;
    struct httpd *h = start(&o);
    pthread_t t;
    pthread_create(&t, NULL, post_slow, h);
    while (!atomic_load(&entered))
        usleep(1000);
    double t0 = now_s();
    struct reply r =
        fetch(NULL, url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/healthz"), NULL, 0, NULL);
    double took = now_s() - t0;
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    r = fetch(NULL, url(h, HTTPD_HEALTH, "http", "127.0.0.1", "/readyz"), NULL, 0, NULL);
    ck_assert_int_eq(r.status, 503);
    reply_free(&r);
    ck_assert_msg(took < 0.5, "/healthz waited %.2f s for the admission callback", took);
    pthread_join(t, NULL);
    httpd_free(h);
}
END_TEST

static Suite *httpd_suite(void)
{
    Suite *s = suite_create("httpd");
    TCase *tc = tcase_create("server");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, httpd_healthz_answers_ok);
    tcase_add_test(tc, httpd_readyz_is_503_with_reason_until_ready);
    tcase_add_test(tc, httpd_metrics_served_in_text_format);
    tcase_add_test(tc, httpd_large_response_arrives_intact);
    tcase_add_test(tc, httpd_streamed_metrics_arrive_whole_then_close);
    tcase_add_test(tc, httpd_unknown_path_404_and_wrong_method_405);
    tcase_add_test(tc, httpd_webhook_over_https_verified_with_generated_ca);
    tcase_add_test(tc, httpd_webhook_with_certificate_files);
    tcase_add_test(tc, httpd_oversize_body_is_413_and_connection_stays_usable);
    tcase_add_test(tc, httpd_small_body_cap_is_honoured);
    tcase_add_test(tc, httpd_same_address_serves_health_and_metrics_on_one_port);
    tcase_add_test(tc, httpd_busy_port_gives_clear_error);
    tcase_add_test(tc, httpd_two_listeners_on_one_address_are_refused_naming_both_flags);
    tcase_add_test(tc, httpd_bad_addresses_are_rejected);
    tcase_add_test(tc, httpd_webhook_without_certificate_is_config_error);
    tcase_add_test(tc, httpd_disabled_listener_has_no_port);
    tcase_add_test(tc, httpd_ipv6_loopback_listener);
    tcase_add_test(tc, httpd_stop_from_another_thread_ends_serving);
    tcase_add_test(tc, httpd_trickled_body_is_cut_at_the_request_deadline);
    tcase_add_test(tc, httpd_listener_connection_limit_closes_the_extra_ones);
    tcase_add_test(tc, httpd_oversized_headers_are_431);
    tcase_add_test(tc, httpd_silent_body_gets_408_at_our_deadline_not_lws_content_timeout);
    tcase_add_test(tc, httpd_keepalive_connection_is_reused);
    tcase_add_test(tc, httpd_one_known_header_of_any_size_gets_431);
    tcase_add_test(tc, httpd_header_block_past_lws_buffer_is_closed_without_answer);
    tcase_add_test(tc, httpd_healthz_answers_while_the_webhook_is_busy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(httpd_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
