/*
 * ktrace: spans and their OTLP/HTTP JSON export (see ktrace.h).
 *
 * Memory: a span is malloc'd by ktrace_span_start and owned by the thread
 * that started it until ktrace_span_end; then by the queue; then by the
 * export thread, which frees it after its batch was sent or dropped. Its
 * attributes are a jansson array in OTLP's shape, built by the owning
 * thread and read only by the export thread after the hand-over (the queue
 * mutex orders the two).
 */
#include "ktrace.h"

#include <curl/curl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define KTRACE_DEFAULT_QUEUE 2048
#define KTRACE_DEFAULT_BATCH 512
#define KTRACE_DEFAULT_FLUSH_MS 1000
#define KTRACE_DEFAULT_TIMEOUT_MS 2000
#define KTRACE_URL_MAX 2048

struct ktrace_span {
    struct ktrace *t;
    unsigned char trace_id[16], span_id[8], parent_id[8];
    bool has_parent;
    enum ktrace_kind kind;
    char *name;
    long long start_ns, end_ns;
    json_t *attrs;    /* [{"key":..., "value":{...}}] */
    bool error;
    char *message;    /* status message, may be NULL */
};

struct ktrace {
    char url[KTRACE_URL_MAX];
    char *service_name, *service_version;
    size_t queue_max, batch_max;
    long flush_ms, timeout_ms;
    pthread_t thread;
    bool started;     /* the thread runs (set before any other thread sees t) */
    /* mu guards queue, count, head, stopping and stats */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ktrace_span **queue; /* ring of queue_max */
    size_t head, count;
    bool stopping;
    struct ktrace_stats stats;
};

static _Thread_local struct ktrace_span *t_current;

/* ---- spans ---- */

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Random non-zero bytes (an all-zero ID is invalid in OTLP). */
static void random_id(unsigned char *b, size_t n)
{
    for (;;) {
        if (RAND_bytes(b, (int)n) != 1 && getrandom(b, n, 0) != (ssize_t)n)
            abort(); /* no randomness at all: nothing sensible to do */
        for (size_t i = 0; i < n; i++)
            if (b[i])
                return;
    }
}

struct ktrace_span *ktrace_span_start(struct ktrace *t, const char *name, enum ktrace_kind kind,
                                      const struct ktrace_span *parent)
{
    if (!t)
        return NULL;
    struct ktrace_span *s = kerr_xcalloc(1, sizeof *s);
    s->t = t;
    s->kind = kind;
    s->name = kerr_xstrdup(name ? name : "");
    s->attrs = json_array();
    if (parent) {
        memcpy(s->trace_id, parent->trace_id, sizeof s->trace_id);
        memcpy(s->parent_id, parent->span_id, sizeof s->parent_id);
        s->has_parent = true;
    } else {
        random_id(s->trace_id, sizeof s->trace_id);
    }
    random_id(s->span_id, sizeof s->span_id);
    s->start_ns = now_ns();
    return s;
}

struct ktrace_span *ktrace_child(const struct ktrace_span *parent, const char *name,
                                 enum ktrace_kind kind)
{
    return parent ? ktrace_span_start(parent->t, name, kind, parent) : NULL;
}

static void set_attr(struct ktrace_span *s, const char *key, json_t *value)
{
    json_array_append_new(s->attrs, json_pack("{s:s, s:o}", "key", key, "value", value));
}

void ktrace_set_str(struct ktrace_span *s, const char *key, const char *value)
{
    if (s && key)
        set_attr(s, key, json_pack("{s:s}", "stringValue", value ? value : ""));
}

void ktrace_set_int(struct ktrace_span *s, const char *key, long long value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", value); /* int64 is a string in OTLP JSON */
    if (s && key)
        set_attr(s, key, json_pack("{s:s}", "intValue", buf));
}

void ktrace_set_error(struct ktrace_span *s, const char *message)
{
    if (!s)
        return;
    s->error = true;
    free(s->message);
    s->message = message ? kerr_xstrdup(message) : NULL;
}

static void span_free(struct ktrace_span *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->message);
    json_decref(s->attrs);
    free(s);
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

void ktrace_trace_id(const struct ktrace_span *s, char out[33])
{
    if (!s) {
        out[0] = '\0';
        return;
    }
    hex(s->trace_id, sizeof s->trace_id, out);
}

void ktrace_current_set(struct ktrace_span *s)
{
    t_current = s;
}

struct ktrace_span *ktrace_current(void)
{
    return t_current;
}

struct ktrace_span *ktrace_child_current(const char *name, enum ktrace_kind kind)
{
    return ktrace_child(t_current, name, kind);
}

void ktrace_span_end(struct ktrace_span *s)
{
    if (!s)
        return;
    struct ktrace *t = s->t;
    s->end_ns = now_ns();
    if (t_current == s)
        t_current = NULL;
    pthread_mutex_lock(&t->mu);
    t->stats.ended++;
    bool full = t->count == t->queue_max || t->stopping;
    if (full) {
        t->stats.dropped_full++;
    } else {
        t->queue[(t->head + t->count) % t->queue_max] = s;
        t->count++;
        if (t->count >= t->batch_max)
            pthread_cond_signal(&t->cv);
    }
    pthread_mutex_unlock(&t->mu);
    if (full)
        span_free(s);
}

/* ---- OTLP JSON ---- */

static json_t *nanos(long long ns)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", ns);
    return json_string(buf);
}

static json_t *encode_span(const struct ktrace_span *s)
{
    char tid[33], sid[17], pid[17];
    hex(s->trace_id, sizeof s->trace_id, tid);
    hex(s->span_id, sizeof s->span_id, sid);
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:O}", "traceId", tid, "spanId", sid,
                          "name", s->name, "kind", (int)s->kind, "startTimeUnixNano",
                          nanos(s->start_ns), "endTimeUnixNano", nanos(s->end_ns), "attributes",
                          s->attrs);
    if (s->has_parent) {
        hex(s->parent_id, sizeof s->parent_id, pid);
        json_object_set_new(o, "parentSpanId", json_string(pid));
    }
    json_t *st = json_pack("{s:i}", "code", s->error ? 2 : 0);
    if (s->message)
        json_object_set_new(st, "message", json_string(s->message));
    json_object_set_new(o, "status", st);
    return o;
}

json_t *ktrace_encode(struct ktrace_span *const *spans, size_t n, const char *service_name,
                      const char *service_version)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, encode_span(spans[i]));
    json_t *rattrs = json_pack("[{s:s, s:{s:s}}]", "key", "service.name", "value", "stringValue",
                               service_name ? service_name : "grace-operator");
    json_t *scope = json_pack("{s:s}", "name", "grace-operator");
    if (service_version) {
        json_array_append_new(rattrs, json_pack("{s:s, s:{s:s}}", "key", "service.version",
                                                "value", "stringValue", service_version));
        json_object_set_new(scope, "version", json_string(service_version));
    }
    return json_pack("{s:[{s:{s:o}, s:[{s:o, s:o}]}]}", "resourceSpans", "resource",
                     "attributes", rattrs, "scopeSpans", "scope", scope, "spans", arr);
}

/* ---- export ---- */

static size_t discard(char *p, size_t size, size_t nmemb, void *ud)
{
    (void)p;
    (void)ud;
    return size * nmemb;
}

/* POST one batch; true when the collector accepted it (2xx). */
static bool post(struct ktrace *t, CURL *easy, const char *body)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(easy, CURLOPT_URL, t->url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, t->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, t->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
    CURLcode cc = curl_easy_perform(easy);
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
    return cc == CURLE_OK && code >= 200 && code < 300;
}

static void export_batch(struct ktrace *t, CURL *easy, struct ktrace_span **batch, size_t n)
{
    json_t *body = ktrace_encode(batch, n, t->service_name, t->service_version);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    bool ok = text && easy && post(t, easy, text);
    free(text);
    for (size_t i = 0; i < n; i++)
        span_free(batch[i]);
    pthread_mutex_lock(&t->mu);
    t->stats.batches++;
    if (ok)
        t->stats.exported += n;
    else
        t->stats.dropped_export += n;
    pthread_mutex_unlock(&t->mu);
}

/* Take up to batch_max spans off the queue (mu held). */
static size_t take(struct ktrace *t, struct ktrace_span **batch)
{
    size_t n = t->count < t->batch_max ? t->count : t->batch_max;
    for (size_t i = 0; i < n; i++) {
        batch[i] = t->queue[t->head];
        t->head = (t->head + 1) % t->queue_max;
    }
    t->count -= n;
    return n;
}

static void deadline_after(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *export_main(void *arg)
{
    struct ktrace *t = arg;
    CURL *easy = curl_easy_init();
    struct ktrace_span **batch = kerr_xcalloc(t->batch_max, sizeof(struct ktrace_span *));
    pthread_mutex_lock(&t->mu);
    for (;;) {
        if (t->count < t->batch_max && !t->stopping) {
            struct timespec ts;
            deadline_after(&ts, t->flush_ms);
            while (t->count < t->batch_max && !t->stopping)
                if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) != 0)
                    break; /* flush_ms passed: send what there is */
        }
        bool stopping = t->stopping;
        size_t n = take(t, batch);
        if (n == 0 && stopping)
            break;
        pthread_mutex_unlock(&t->mu); /* never held across I/O */
        if (n > 0)
            export_batch(t, easy, batch, n);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    free(batch);
    curl_easy_cleanup(easy);
    return NULL;
}

/* ---- life cycle ---- */

static size_t or_default(size_t v, size_t d)
{
    return v ? v : d;
}

enum kerr ktrace_new(const struct ktrace_options *o, struct ktrace **out, struct kerr_info *err)
{
    const char *ep = o->endpoint ? o->endpoint : "";
    if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0)
        return kerr_set(err, KERR_INVAL, 0, "BadEndpoint",
                        "trace endpoint \"%s\" is not an http:// or https:// URL", ep);
    size_t len = strlen(ep);
    while (len > 0 && ep[len - 1] == '/')
        len--;
    if (len + sizeof "/v1/traces" > KTRACE_URL_MAX)
        return kerr_set(err, KERR_INVAL, 0, "BadEndpoint", "trace endpoint is too long");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) /* refcounted; before our thread */
        return kerr_set(err, KERR_IO, 0, "CurlInit", "curl_global_init failed");
    struct ktrace *t = kerr_xcalloc(1, sizeof *t);
    snprintf(t->url, sizeof t->url, "%.*s/v1/traces", (int)len, ep);
    t->service_name = kerr_xstrdup(o->service_name ? o->service_name : "grace-operator");
    t->service_version = o->service_version ? kerr_xstrdup(o->service_version) : NULL;
    t->queue_max = or_default(o->queue_max, KTRACE_DEFAULT_QUEUE);
    t->batch_max = or_default(o->batch_max, KTRACE_DEFAULT_BATCH);
    if (t->batch_max > t->queue_max)
        t->batch_max = t->queue_max;
    t->flush_ms = o->flush_ms > 0 ? o->flush_ms : KTRACE_DEFAULT_FLUSH_MS;
    t->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : KTRACE_DEFAULT_TIMEOUT_MS;
    t->queue = kerr_xcalloc(t->queue_max, sizeof(struct ktrace_span *));
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&t->thread, NULL, export_main, t) != 0) {
        ktrace_free(t); /* thread not started: frees only */
        return kerr_set(err, KERR_IO, 0, "Thread", "cannot start the trace export thread");
    }
    t->started = true;
    *out = t;
    return KERR_OK;
}

void ktrace_free(struct ktrace *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    bool started = t->started;
    t->stopping = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (started)
        pthread_join(t->thread, NULL);
    while (t->count > 0) { /* only when the thread never ran */
        span_free(t->queue[t->head]);
        t->head = (t->head + 1) % t->queue_max;
        t->count--;
    }
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t->queue);
    free(t->service_name);
    free(t->service_version);
    free(t);
    curl_global_cleanup();
}

void ktrace_get_stats(struct ktrace *t, struct ktrace_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    *out = t->stats;
    pthread_mutex_unlock(&t->mu);
}
