/*
 * kwatch: one thread, one libcurl multi handle, every watch stream (see
 * kwatch.h for the list/watch cycle).
 *
 * Ownership: the thread owns `streams` and every curl easy handle; other
 * threads only append to `pending` (under mu) and set the atomic flags, then
 * wake the thread with curl_multi_wakeup. A stream's state machine:
 *
 *   NEED_LIST --list ok--> NEED_WATCH --request started--> WATCHING
 *       ^  \--list failed: backoff, stay                      |
 *       |                                                      v
 *       +------- 410 (HTTP or ERROR event) / resync ------ transfer done
 *                         normal end: NEED_WATCH now; failure: NEED_WATCH after backoff
 *
 * Lists that are due together (the first ones, a resync) run concurrently
 * on KW_LIST_THREADS threads (this one and short-lived ones), each taking
 * the next due list in the order the streams were registered; the watches
 * wait until all of them are done (kw_lists).
 *
 * Watch bodies go through a kjsonstream splitter in KJS_DOCS mode, so each
 * event is handled on its own once complete; a partial event left when the
 * stream breaks is discarded with the splitter's state. The splitter cuts
 * the object's metadata.managedFields and says where "type" and "object"
 * are, so an event is not parsed here: its object's text goes to the sink
 * (which parses it once, or only its metadata). Only BOOKMARK and ERROR
 * objects (small) are parsed here.
 */
#include "kwatch.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kclient_http.h"
#include "kjsonstream.h"

#ifndef GRACE_VERSION
#define GRACE_VERSION "dev"
#endif

#define KW_ERRBODY_MAX 65536
#define KW_POLL_MAX_MS 1000
#define KW_SHORT_WATCH_S 1.0
/* Lists run at once (one thread each): enough for every informer the
 * operator has (the GraceServices and 10 child kinds), so none waits for a
 * batch to end. */
#define KW_LIST_PARALLEL 16
/* Threads for lists due together, the watcher's own included. A few are enough to keep the server
 * and our parsing busy on every core; each more costs a TLS connection (and OpenSSL's SSL_CTX
 * set-up, serialised on its global locks) that one thread's next list would reuse. */
#define KW_LIST_THREADS KWATCHER_LIST_THREADS

enum kw_state { KW_NEED_LIST, KW_NEED_WATCH, KW_WATCHING };

struct kw_stream {
    struct kwatcher *w;
    char *path;       /* collection path, e.g. /api/v1/namespaces/x/configmaps */
    char *selector_q; /* "&labelSelector=<escaped>" or "" */
    struct kwatch_sink sink;
    void *ctx;
    enum kw_state state;
    double next_at;  /* monotonic seconds: when NEED_* acts */
    int fails;       /* consecutive failures (backoff exponent) */
    int gone_streak; /* 410s in a row with no event in between */
    char *rv;        /* last resourceVersion seen ("" before the first list) */
    bool listed_once, watched_once;
    bool list_failed; /* the last list failed: the next one reads consistently */
    /* the current list (kw_list_run, possibly on a list thread) */
    enum kerr list_rc;
    char *list_rv;
    struct kerr_info list_err;
    /* the current watch transfer */
    CURL *easy;
    struct curl_slist *hdrs;
    struct kjs *split;
    bool gone;      /* a 410 ERROR event arrived */
    bool bad_event; /* an event could not be decoded, or an ERROR event */
    size_t nevents;
    double started;
    char *errbody;
    size_t errlen;
    char errbuf[CURL_ERROR_SIZE];
    struct kw_stream *next;
};

struct kwatcher {
    struct kclient *client;
    const struct kconfig *cfg;
    CURLM *multi;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_bool resync;
    pthread_mutex_t mu;        /* guards pending and st */
    struct kw_stream *pending; /* registered, not yet adopted by the thread */
    struct kw_stream *streams; /* owned by the thread once started */
    struct kwatcher_stats st;
    long backoff_base_ms, backoff_max_ms, watch_timeout_s;
    unsigned int seed; /* rand_r state, thread only */
};

static double kw_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- stats ---- */

static void kw_count(struct kwatcher *w, uint64_t *field)
{
    pthread_mutex_lock(&w->mu);
    (*field)++;
    pthread_mutex_unlock(&w->mu);
}

/* A list or watch body refused by the splitter for unreadable text (the
 * cache keeps its last good state; the failure is retried as any other). */
static void kw_note_unreadable(struct kwatcher *w, const struct kerr_info *e)
{
    if (strcmp(e->reason, KJS_REASON_UNREADABLE) == 0)
        kw_count(w, &w->st.unreadable);
}

static void kw_fail(struct kwatcher *w, uint64_t *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void kw_fail(struct kwatcher *w, uint64_t *field, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&w->mu);
    if (field)
        (*field)++;
    va_start(ap, fmt);
    vsnprintf(w->st.last_error, sizeof w->st.last_error, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&w->mu);
}

/* Jittered exponential backoff: d = base * 2^(fails-1) capped, in [d/2, d]. */
static double kw_backoff_s(struct kwatcher *w, int fails)
{
    double d = (double)w->backoff_base_ms;
    for (int i = 1; i < fails && d < (double)w->backoff_max_ms; i++)
        d *= 2;
    if (d > (double)w->backoff_max_ms)
        d = (double)w->backoff_max_ms;
    double r = (double)rand_r(&w->seed) / (double)RAND_MAX;
    return (d / 2 + r * d / 2) / 1000.0;
}

static void kw_retry_later(struct kw_stream *s, enum kw_state state)
{
    s->fails++;
    s->state = state;
    s->next_at = kw_now() + kw_backoff_s(s->w, s->fails);
}

/* ---- watch events ---- */

static void kw_take_rv(struct kw_stream *s, char *rv)
{
    if (rv && *rv) {
        free(s->rv);
        s->rv = rv;
    } else {
        free(rv);
    }
}

/* An undecodable event: the watch ends and is retried from the last
 * complete event. */
static int kw_bad_event(struct kw_stream *s, const char *why)
{
    s->bad_event = true;
    kw_fail(s->w, &s->w->st.errors, "watch %s: undecodable event: %s", s->path, why);
    return 1;
}

/* An ERROR event: a Status. 410 means relist; anything else is a failure. */
static int kw_error_event(struct kw_stream *s, const json_t *status)
{
    long long code = json_integer_value(json_object_get(status, "code"));
    const char *msg = json_string_value(json_object_get(status, "message"));
    if (code == 410) {
        s->gone = true;
        kw_count(s->w, &s->w->st.gone);
    } else {
        s->bad_event = true;
        kw_fail(s->w, &s->w->st.errors, "watch %s: ERROR event %lld: %s", s->path, code,
                msg ? msg : "");
    }
    return 1; /* stop reading this stream */
}

/* A BOOKMARK or ERROR event: its (small) object parsed here. */
static int kw_control_event(struct kw_stream *s, bool bookmark, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *obj = json_loadb(text, len, 0, &jerr);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return kw_bad_event(s, obj ? "no type or object" : jerr.text);
    }
    int stop = 0;
    if (bookmark) {
        const char *rv =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
        kw_take_rv(s, rv ? kerr_xstrdup(rv) : NULL);
        s->nevents++;
        kw_count(s->w, &s->w->st.bookmarks);
    } else {
        stop = kw_error_event(s, obj);
    }
    json_decref(obj);
    return stop;
}

/* The event type from its JSON text (normally a plain quoted word; anything
 * else is decoded). Returns false when it is not a string. */
static bool kw_type(const char *t, size_t n, char *out, size_t size)
{
    if (n >= 2 && n < size + 2 && t[0] == '"' && t[n - 1] == '"' && !memchr(t, '\\', n)) {
        memcpy(out, t + 1, n - 2);
        out[n - 2] = '\0';
        return true;
    }
    json_t *v = n ? json_loadb(t, n, JSON_DECODE_ANY, NULL) : NULL;
    bool ok = json_is_string(v);
    if (ok)
        snprintf(out, size, "%s", json_string_value(v));
    json_decref(v);
    return ok;
}

/* An ADDED / MODIFIED / DELETED event: the object's text to the sink. The
 * text is a span of what the splitter handed out, so every byte of it was
 * checked (kinformer's sink relies on it: kobj_new_from_split_meta). */
static int kw_object_event(struct kw_stream *s, enum kwatch_event_type t, const char *text,
                           size_t len)
{
    char *rv = NULL;
    struct kerr_info err = {0};
    if (s->sink.event(s->ctx, t, text, len, &rv, &err) != KERR_OK) {
        free(rv);
        return kw_bad_event(s, err.message[0] ? err.message : "bad object");
    }
    kw_take_rv(s, rv);
    s->nevents++;
    kw_count(s->w, &s->w->st.events);
    return 0;
}

/* kjs item callback: one complete watch event, {"type":..,"object":{..}}
 * (the object's managedFields already cut by the splitter). */
static int kw_on_event(void *ctx, const char *text, size_t len)
{
    struct kw_stream *s = ctx;
    struct kjs_span ts, os;
    char type[32];
    kjs_doc_event(s->split, &ts, &os);
    if (!kw_type(text + ts.off, ts.len, type, sizeof type) || os.len == 0 || text[os.off] != '{')
        return kw_bad_event(s, "no type or object");
    const char *obj = text + os.off;
    if (strcmp(type, "ADDED") == 0)
        return kw_object_event(s, KWATCH_ADDED, obj, os.len);
    if (strcmp(type, "MODIFIED") == 0)
        return kw_object_event(s, KWATCH_MODIFIED, obj, os.len);
    if (strcmp(type, "DELETED") == 0)
        return kw_object_event(s, KWATCH_DELETED, obj, os.len);
    if (strcmp(type, "BOOKMARK") == 0 || strcmp(type, "ERROR") == 0)
        return kw_control_event(s, type[0] == 'B', obj, os.len);
    return 0; /* an unknown type is skipped, as before */
}

static size_t kw_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct kw_stream *s = ud;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200) { /* keep the (capped) body of an HTTP error */
        size_t room = KW_ERRBODY_MAX - s->errlen;
        size_t take = n < room ? n : room;
        s->errbody = kerr_xrealloc(s->errbody, s->errlen + take + 1);
        memcpy(s->errbody + s->errlen, data, take);
        s->errlen += take;
        s->errbody[s->errlen] = '\0';
        return n;
    }
    struct kerr_info err = {0};
    enum kerr e = kjs_feed(s->split, data, n, &err);
    if (e == KERR_PARSE) {
        s->bad_event = true;
        kw_note_unreadable(s->w, &err);
        kw_fail(s->w, &s->w->st.errors, "watch %s: %s", s->path, err.message);
    }
    return e == KERR_OK ? n : 0;
}

/* ---- starting and ending a watch ---- */

static long kw_timeout_s(struct kwatcher *w)
{
    if (w->watch_timeout_s > 0)
        return w->watch_timeout_s;
    return 300 + rand_r(&w->seed) % 300; /* client-go: [5 min, 10 min) */
}

static bool kw_url(struct kw_stream *s, long timeout_s, char *buf, size_t size)
{
    char *rv = curl_easy_escape(NULL, s->rv ? s->rv : "", 0);
    if (!rv)
        return false;
    int n = snprintf(buf, size,
                     "%s%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s"
                     "&timeoutSeconds=%ld%s",
                     s->w->cfg->server, s->path, rv, timeout_s, s->selector_q);
    curl_free(rv);
    return n > 0 && (size_t)n < size;
}

/* TLS and authentication exactly as kclient sets them up. */
static void kw_tls_auth(struct kw_stream *s, CURL *h, struct kclient_setopt *so)
{
    const struct kconfig *cfg = s->w->cfg;
    if (cfg->ca_pem) {
        struct curl_blob b = {cfg->ca_pem, cfg->ca_len, CURL_BLOB_COPY};
        KCLIENT_SETOPT(so, h, CURLOPT_CAINFO_BLOB, &b);
    }
    if (cfg->cert_pem && cfg->key_pem) {
        struct curl_blob c = {cfg->cert_pem, cfg->cert_len, CURL_BLOB_COPY};
        struct curl_blob k = {cfg->key_pem, cfg->key_len, CURL_BLOB_COPY};
        KCLIENT_SETOPT(so, h, CURLOPT_SSLCERT_BLOB, &c);
        KCLIENT_SETOPT(so, h, CURLOPT_SSLCERTTYPE, "PEM");
        KCLIENT_SETOPT(so, h, CURLOPT_SSLKEY_BLOB, &k);
        KCLIENT_SETOPT(so, h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (cfg->insecure_skip_tls_verify) {
        KCLIENT_SETOPT(so, h, CURLOPT_SSL_VERIFYPEER, 0L);
        KCLIENT_SETOPT(so, h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    s->hdrs = curl_slist_append(NULL, "Accept: application/json");
    char *tok = kconfig_bearer_token(cfg);
    if (tok) {
        size_t n = strlen(tok) + 32;
        char *hdr = kerr_xmalloc(n);
        snprintf(hdr, n, "Authorization: Bearer %s", tok);
        s->hdrs = curl_slist_append(s->hdrs, hdr);
        memset(hdr, 0, n);
        memset(tok, 0, strlen(tok));
        free(hdr);
        free(tok);
    }
    if (!s->hdrs)
        kerr_oom();
    KCLIENT_SETOPT(so, h, CURLOPT_HTTPHEADER, s->hdrs);
}

static void kw_release(struct kw_stream *s);

static void kw_start_watch(struct kw_stream *s)
{
    struct kwatcher *w = s->w;
    char url[8192];
    long timeout_s = kw_timeout_s(w);
    if (!kw_url(s, timeout_s, url, sizeof url)) {
        kw_fail(w, &w->st.errors, "watch %s: URL too long", s->path);
        kw_retry_later(s, KW_NEED_WATCH);
        return;
    }
    CURL *h = curl_easy_init();
    if (!h)
        kerr_oom();
    s->easy = h;
    struct kclient_setopt so = {CURLE_OK, NULL};
    KCLIENT_SETOPT(&so, h, CURLOPT_URL, url);
    KCLIENT_SETOPT(&so, h, CURLOPT_USERAGENT, "grace-operator/" GRACE_VERSION);
    KCLIENT_SETOPT(&so, h, CURLOPT_NOSIGNAL, 1L);
    /* not checked: refused by a libcurl without HTTP/2, which then speaks 1.1 */
    (void)curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    KCLIENT_SETOPT(&so, h, CURLOPT_PIPEWAIT, 1L);
    KCLIENT_SETOPT(&so, h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    /* The server ends the watch after timeoutSeconds; this only guards
     * against a peer that vanished without closing. */
    KCLIENT_SETOPT(&so, h, CURLOPT_TIMEOUT, timeout_s + 60);
    KCLIENT_SETOPT(&so, h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    KCLIENT_SETOPT(&so, h, CURLOPT_LOW_SPEED_TIME, 150L);
    KCLIENT_SETOPT(&so, h, CURLOPT_TCP_KEEPALIVE, 1L);
    KCLIENT_SETOPT(&so, h, CURLOPT_WRITEFUNCTION, kw_write);
    KCLIENT_SETOPT(&so, h, CURLOPT_WRITEDATA, s);
    KCLIENT_SETOPT(&so, h, CURLOPT_ERRORBUFFER, s->errbuf);
    KCLIENT_SETOPT(&so, h, CURLOPT_PRIVATE, s);
    kw_tls_auth(s, h, &so);
    struct kerr_info err = {0};
    if (kclient_setopt_result(&so, &err) != KERR_OK) {
        kw_fail(w, &w->st.errors, "watch %s: %s", s->path, err.message);
        kw_release(s);
        kw_retry_later(s, KW_NEED_WATCH);
        return;
    }
    s->errbuf[0] = '\0';
    s->gone = s->bad_event = false;
    s->nevents = 0;
    s->errlen = 0;
    s->started = kw_now();
    kjs_reset(s->split);
    curl_multi_add_handle(w->multi, h);
    s->state = KW_WATCHING;
    pthread_mutex_lock(&w->mu);
    w->st.watches++;
    if (s->watched_once)
        w->st.reconnects++;
    pthread_mutex_unlock(&w->mu);
    s->watched_once = true;
}

/* Drop the transfer (done or aborted). */
static void kw_release(struct kw_stream *s)
{
    if (!s->easy)
        return;
    curl_multi_remove_handle(s->w->multi, s->easy);
    curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->hdrs);
    s->easy = NULL;
    s->hdrs = NULL;
    free(s->errbody);
    s->errbody = NULL;
    s->errlen = 0;
}

static void kw_http_error(struct kw_stream *s, long code)
{
    json_t *st = s->errbody ? json_loads(s->errbody, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(st, "message"));
    kw_fail(s->w, &s->w->st.errors, "watch %s: HTTP %ld: %s", s->path, code, msg ? msg : "");
    json_decref(st);
}

/* A watch transfer ended with curl result `res`: decide what comes next. */
static void kw_watch_done(struct kw_stream *s, CURLcode res)
{
    struct kwatcher *w = s->w;
    long code = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    bool cut = res == CURLE_OK && code == 200 && kjs_finish(s->split, NULL) != KERR_OK;
    double lasted = kw_now() - s->started;
    if (s->gone || code == 410) {
        if (code == 410)
            kw_count(w, &w->st.gone);
        /* resourceVersion too old: relist at once, but back off if a fresh
         * list keeps being answered with 410 (a confused server). */
        s->gone_streak = s->nevents > 0 ? 1 : s->gone_streak + 1;
        s->state = KW_NEED_LIST;
        s->next_at = s->gone_streak <= 1 ? 0 : kw_now() + kw_backoff_s(w, s->gone_streak - 1);
    } else if (s->bad_event) {
        kw_retry_later(s, KW_NEED_WATCH);
    } else if (res != CURLE_OK || cut) {
        kw_fail(w, &w->st.errors, "watch %s: %s", s->path,
                cut ? "stream ended inside an event"
                    : (s->errbuf[0] ? s->errbuf : curl_easy_strerror(res)));
        kw_retry_later(s, KW_NEED_WATCH);
    } else if (code != 200) {
        kw_http_error(s, code);
        kw_retry_later(s, KW_NEED_WATCH);
    } else if (s->nevents == 0 && lasted < KW_SHORT_WATCH_S) {
        /* A watch that closes at once with nothing in it would otherwise
         * be reopened in a tight loop. */
        kw_fail(w, &w->st.errors, "watch %s: very short watch (%.3f s, no events)", s->path,
                lasted);
        kw_retry_later(s, KW_NEED_WATCH);
    } else {
        s->fails = 0;
        s->gone_streak = 0;
        s->state = KW_NEED_WATCH; /* normal end (server timeout): resume now */
        s->next_at = 0;
    }
    kw_release(s);
}

static void kw_reap(struct kwatcher *w)
{
    CURLMsg *m;
    int left = 0;
    while ((m = curl_multi_info_read(w->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct kw_stream *s = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        if (s)
            kw_watch_done(s, m->data.result);
    }
}

/* ---- lists ---- */

/*
 * The resourceVersion a list asks for, as client-go's reflector does: the
 * first list "0" (any state the server has; a real API server answers from
 * its watch cache instead of reading etcd page by page), a relist (410, a
 * resync) the last resourceVersion seen (a state not older than the cache
 * already holds, also from the watch cache), and after a failed list ""
 * (a consistent read, paginated), so that a server whose cache cannot
 * answer still can.
 */
static const char *kw_list_from(const struct kw_stream *s)
{
    if (s->list_failed)
        return "";
    if (!s->listed_once)
        return "0";
    return s->rv ? s->rv : "";
}

/* The sink's list, on whichever thread: only the stream's list fields are
 * written (the stats and the state are the watcher thread's). */
static void kw_list_run(struct kw_stream *s)
{
    s->list_rv = NULL;
    s->list_err = (struct kerr_info){0};
    s->list_rc = s->sink.list(s->ctx, kw_list_from(s), &s->list_rv, &s->list_err);
}

/* After kw_list_run, on the watcher thread: the next state. */
static void kw_list_done(struct kw_stream *s)
{
    struct kwatcher *w = s->w;
    char *rv = s->list_rv;
    s->list_rv = NULL;
    if (atomic_load(&w->stop)) {
        free(rv);
        return;
    }
    if (s->list_rc != KERR_OK) {
        free(rv);
        kw_note_unreadable(w, &s->list_err);
        kw_fail(w, &w->st.list_errors, "list %s: %s: %s", s->path, kerr_strerror(s->list_rc),
                s->list_err.message);
        s->list_failed = true;
        kw_retry_later(s, KW_NEED_LIST);
        return;
    }
    s->list_failed = false;
    pthread_mutex_lock(&w->mu);
    w->st.lists++;
    if (s->listed_once)
        w->st.relists++;
    pthread_mutex_unlock(&w->mu);
    s->listed_once = true;
    free(s->rv);
    s->rv = rv ? rv : kerr_xstrdup("");
    s->fails = 0;
    s->state = KW_NEED_WATCH;
    s->next_at = 0;
}

/* The streams whose list was due at `now`, into due[] (at most
 * KW_LIST_PARALLEL). */
static size_t kw_lists_due(struct kwatcher *w, double now, struct kw_stream **due)
{
    size_t n = 0;
    for (struct kw_stream *s = w->streams; s && n < KW_LIST_PARALLEL; s = s->next)
        if (s->state == KW_NEED_LIST && now >= s->next_at)
            due[n++] = s;
    return n;
}

/* The lists of one round, shared by its threads: each takes the next. */
struct kw_round {
    struct kw_stream **due;
    size_t n;
    atomic_size_t next;
};

static void *kw_list_worker(void *arg)
{
    struct kw_round *r = arg;
    for (size_t i; (i = atomic_fetch_add(&r->next, 1)) < r->n;)
        kw_list_run(r->due[i]);
    return NULL;
}

/*
 * Run every due list. Several at once (the initial lists, a resync) share
 * up to KW_LIST_THREADS threads, this one included, so the server's time
 * and our parsing of one kind overlap with the others' instead of adding
 * up; no watch is running for those streams meanwhile. One alone runs
 * here. Each stream's list runs on one thread only, so a sink never sees
 * two calls at once for the same collection.
 */
static void kw_lists(struct kwatcher *w)
{
    struct kw_stream *due[KW_LIST_PARALLEL];
    pthread_t th[KW_LIST_THREADS - 1];
    size_t n;
    /* Due as of the start: a list that failed meanwhile is retried later,
     * on a later step, so the watches are not starved by a failing list. */
    double now = kw_now();
    while (!atomic_load(&w->stop) && (n = kw_lists_due(w, now, due)) > 0) {
        struct kw_round r = {due, n, 0};
        size_t nth = 0;
        while (nth + 1 < KW_LIST_THREADS && nth + 1 < n &&
               pthread_create(&th[nth], NULL, kw_list_worker, &r) == 0)
            nth++;
        kw_list_worker(&r); /* this thread takes what is left (all, if none started) */
        for (size_t i = 0; i < nth; i++)
            pthread_join(th[i], NULL);
        for (size_t i = 0; i < n; i++)
            kw_list_done(due[i]);
    }
}

/* ---- the thread ---- */

static void kw_adopt(struct kwatcher *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->pending) {
        struct kw_stream *s = w->pending;
        w->pending = s->next;
        s->next = w->streams;
        w->streams = s;
    }
    pthread_mutex_unlock(&w->mu);
}

/* Milliseconds until the earliest stream that is not watching is due
 * (at most KW_POLL_MAX_MS). */
static long kw_wait_ms(struct kwatcher *w)
{
    double soonest = kw_now() + KW_POLL_MAX_MS / 1000.0;
    for (struct kw_stream *s = w->streams; s; s = s->next)
        if (s->state != KW_WATCHING && s->next_at < soonest)
            soonest = s->next_at;
    double ms = (soonest - kw_now()) * 1000.0;
    return ms <= 0 ? 0 : (long)ms + 1;
}

/* Run every stream whose time has come. */
static void kw_step(struct kwatcher *w)
{
    if (atomic_exchange(&w->resync, false)) {
        for (struct kw_stream *s = w->streams; s; s = s->next) {
            kw_release(s);
            s->state = KW_NEED_LIST;
            s->next_at = 0;
        }
    }
    kw_lists(w);
    for (struct kw_stream *s = w->streams; s && !atomic_load(&w->stop); s = s->next)
        if (s->state == KW_NEED_WATCH && kw_now() >= s->next_at)
            kw_start_watch(s);
}

static void *kw_main(void *arg)
{
    struct kwatcher *w = arg;
    while (!atomic_load(&w->stop)) {
        int running = 0;
        kw_adopt(w);
        kw_step(w);
        curl_multi_perform(w->multi, &running);
        kw_reap(w);
        if (atomic_load(&w->stop))
            break;
        curl_multi_poll(w->multi, NULL, 0, (int)kw_wait_ms(w), NULL);
    }
    for (struct kw_stream *s = w->streams; s; s = s->next)
        kw_release(s);
    return NULL;
}

/* ---- public API ---- */

enum kerr kwatcher_new(struct kclient *c, struct kwatcher **out)
{
    *out = NULL;
    struct kwatcher *w = kerr_xcalloc(1, sizeof *w);
    w->multi = curl_multi_init();
    if (!w->multi) {
        free(w);
        return KERR_IO;
    }
    curl_multi_setopt(w->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    w->client = c;
    w->cfg = kclient_config(c);
    pthread_mutex_init(&w->mu, NULL);
    atomic_init(&w->stop, false);
    atomic_init(&w->resync, false);
    w->backoff_base_ms = 200;
    w->backoff_max_ms = 30000;
    w->seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
    *out = w;
    return KERR_OK;
}

enum kerr kwatcher_start(struct kwatcher *w)
{
    if (w->started)
        return KERR_INVAL;
    if (pthread_create(&w->thread, NULL, kw_main, w) != 0)
        return KERR_IO;
    w->started = true;
    return KERR_OK;
}

void kwatcher_resync(struct kwatcher *w)
{
    atomic_store(&w->resync, true);
    curl_multi_wakeup(w->multi);
}

void kwatcher_stop(struct kwatcher *w)
{
    atomic_store(&w->stop, true);
    if (!w->started)
        return;
    curl_multi_wakeup(w->multi);
    pthread_join(w->thread, NULL);
    w->started = false;
}

static void kw_free_streams(struct kw_stream *s)
{
    while (s) {
        struct kw_stream *next = s->next;
        kw_release(s);
        kjs_free(s->split);
        free(s->path);
        free(s->selector_q);
        free(s->rv);
        free(s);
        s = next;
    }
}

void kwatcher_free(struct kwatcher *w)
{
    if (!w)
        return;
    kwatcher_stop(w);
    kw_free_streams(w->streams);
    kw_free_streams(w->pending);
    curl_multi_cleanup(w->multi);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void kwatcher_stats(struct kwatcher *w, struct kwatcher_stats *st)
{
    pthread_mutex_lock(&w->mu);
    *st = w->st;
    pthread_mutex_unlock(&w->mu);
}

void kwatcher_set_backoff(struct kwatcher *w, long base_ms, long max_ms)
{
    w->backoff_base_ms = base_ms > 0 ? base_ms : 1;
    w->backoff_max_ms = max_ms >= w->backoff_base_ms ? max_ms : w->backoff_base_ms;
}

void kwatcher_set_watch_timeout(struct kwatcher *w, long watch_timeout_s)
{
    w->watch_timeout_s = watch_timeout_s;
}

void kwatcher__add(struct kwatcher *w, const struct kres *r, const char *ns,
                   const char *label_selector, const struct kwatch_sink *sink, void *ctx)
{
    struct kw_stream *s = kerr_xcalloc(1, sizeof *s);
    char path[2048];
    if (kclient_path(path, sizeof path, r, ns, NULL, NULL) != KERR_OK)
        path[0] = '\0'; /* every watch will fail and say so */
    s->w = w;
    s->path = kerr_xstrdup(path);
    if (label_selector && *label_selector) {
        char *esc = curl_easy_escape(NULL, label_selector, 0);
        size_t n = strlen(esc) + 32;
        s->selector_q = kerr_xmalloc(n);
        snprintf(s->selector_q, n, "&labelSelector=%s", esc);
        curl_free(esc);
    } else {
        s->selector_q = kerr_xstrdup("");
    }
    s->sink = *sink;
    s->ctx = ctx;
    s->state = KW_NEED_LIST;
    struct kjs_callbacks cb = {kw_on_event, NULL};
    s->split = kjs_new(KJS_DOCS, NULL, 0, &cb, s);
    kjs_drop_meta_key(s->split, "managedFields");
    pthread_mutex_lock(&w->mu);
    s->next = w->pending;
    w->pending = s;
    pthread_mutex_unlock(&w->mu);
    curl_multi_wakeup(w->multi);
}

bool kwatcher__stopping(const struct kwatcher *w)
{
    return atomic_load(&((struct kwatcher *)w)->stop);
}

struct kclient *kwatcher__client(const struct kwatcher *w)
{
    return w->client;
}
