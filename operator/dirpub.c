/*
 * dirpub: see dirpub.h. One thread waits for "dirty", rebuilds the
 * directory from the cache, and writes the ConfigMap when its bytes
 * changed. The rebuild goes through a dir_cache (only the services that
 * changed are parsed); of its result only the counts are kept (a
 * dir_tally, shared by reference), for the metrics rendered at scrape
 * time: neither the document nor the parsed services stay in memory.
 */
#include "dirpub.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "kb64.h"
#include "log.h"

struct dirpub {
    struct dirpub_options o;
    char cm_ns[254], cm_name[254];
    pthread_mutex_t build_mu; /* guards cache: one build at a time (thread, GET /directory) */
    struct dir_cache *cache;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cond;
    bool dirty, stop, leading, started;
    struct dir_tally *tally; /* counts of the last build (immutable once stored) */
    uint64_t written;        /* digest of the bytes the ConfigMap is known to hold; 0: unknown */
    unsigned long writes;
    pthread_t thread;
    struct metrics_family *bytes, *writes_total, *errors_total;
};

/* ---- encoding ---- */

static char *gzip_bytes(const char *text, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip stream; its header's mtime is 0, so the
     * same text always gives the same bytes. Level 6, not 9: a directory of
     * 3,000 services (1.09 MB) takes 4.5 ms and 82.7 KB instead of 11.7 ms
     * and 81.2 KB (measured); at 9 the gzip was 3.4 % of the operator's CPU
     * while 3,000 services were created (a rebuild every 2 s). */
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        kerr_oom();
    size_t cap = deflateBound(&z, (uLong)len);
    char *out = kerr_xmalloc(cap);
    z.next_in = (Bytef *)(uintptr_t)text;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END)
        kerr_oom(); /* deflateBound is an upper bound: only memory can fail */
    return out;
}

enum kerr dirpub_encode(const char *text, size_t len, json_t **data, json_t **binary_data,
                        struct kerr_info *err)
{
    *data = json_object();
    *binary_data = json_object();
    if (len <= DIRPUB_PLAIN_MAX) {
        json_object_set_new(*data, DIRPUB_KEY, json_stringn(text, len));
        return KERR_OK;
    }
    size_t gz_len = 0;
    char *gz = gzip_bytes(text, len, &gz_len);
    size_t b64_cap = (gz_len + 2) / 3 * 4 + 8, n = 0;
    char *b64 = b64_cap <= DIRPUB_OBJECT_MAX ? kb64_encode(gz, gz_len, &n) : NULL;
    free(gz);
    if (!b64 || n > DIRPUB_OBJECT_MAX) {
        free(b64);
        return kerr_set(err, KERR_INVAL, 0, "TooLarge",
                        "the directory is %zu bytes, %zu compressed: over the %zu bytes a "
                        "ConfigMap can hold",
                        len, gz_len, DIRPUB_OBJECT_MAX);
    }
    json_object_set_new(*binary_data, DIRPUB_GZ_KEY, json_stringn(b64, n));
    free(b64);
    return KERR_OK;
}

/* ---- the ConfigMap ---- */

static const struct kres cm_res = {"", "v1", "configmaps"};

static bool same_content(const json_t *cm, const json_t *data, const json_t *bin)
{
    const json_t *d = json_object_get(cm, "data"), *b = json_object_get(cm, "binaryData");
    bool d_ok = json_object_size(data) ? json_equal(d, data) : !json_object_size(d);
    bool b_ok = json_object_size(bin) ? json_equal(b, bin) : !json_object_size(b);
    return d_ok && b_ok;
}

static json_t *new_cm(struct dirpub *p)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}}", "apiVersion", "v1", "kind",
                     "ConfigMap", "metadata", "name", p->cm_name, "namespace", p->cm_ns,
                     "labels", "app.kubernetes.io/name", "grace-operator",
                     "app.kubernetes.io/component", "directory");
}

/* Make the ConfigMap hold data/bin: GET, then nothing (same), PUT with its
 * resourceVersion, or POST when absent. *wrote says whether it wrote. */
static enum kerr put_cm(struct dirpub *p, json_t *data, json_t *bin, bool *wrote,
                        struct kerr_info *err)
{
    json_t *cm = NULL, *out = NULL;
    *wrote = false;
    enum kerr e = kclient_get(p->o.client, &cm_res, p->cm_ns, p->cm_name, &cm, err);
    if (e == KERR_OK && same_content(cm, data, bin))
        goto out;
    if (e == KERR_NOTFOUND)
        cm = new_cm(p);
    else if (e != KERR_OK)
        goto out;
    json_object_set(cm, "data", data);
    json_object_set(cm, "binaryData", bin);
    if (!json_object_size(bin))
        json_object_del(cm, "binaryData");
    if (!json_object_size(data))
        json_object_del(cm, "data");
    if (e == KERR_NOTFOUND)
        e = kclient_create(p->o.client, &cm_res, p->cm_ns, cm, &out, err);
    else
        e = kclient_update(p->o.client, &cm_res, p->cm_ns, p->cm_name, NULL, cm, &out, err);
    *wrote = e == KERR_OK;
out:
    json_decref(cm);
    json_decref(out);
    return e;
}

/* Two checksums of the bytes (never 0): equal digests of equal-length
 * texts are taken as equal texts. */
static uint64_t digest(const char *text, size_t len)
{
    uLong a = adler32(0L, (const Bytef *)text, (uInt)len);
    uLong c = crc32(0L, (const Bytef *)text, (uInt)len);
    return (((uint64_t)a << 32) ^ (uint64_t)c ^ ((uint64_t)len << 7)) | 1;
}

static void publish(struct dirpub *p, const char *text, size_t len)
{
    uint64_t h = digest(text, len);
    pthread_mutex_lock(&p->mu);
    bool known = p->written == h;
    pthread_mutex_unlock(&p->mu);
    if (known || !p->cm_name[0])
        return;
    json_t *data = NULL, *bin = NULL;
    struct kerr_info err = {0};
    bool wrote = false;
    enum kerr e = dirpub_encode(text, len, &data, &bin, &err);
    if (e == KERR_OK)
        e = put_cm(p, data, bin, &wrote, &err);
    json_decref(data);
    json_decref(bin);
    pthread_mutex_lock(&p->mu);
    if (e == KERR_OK)
        p->written = h;
    else
        p->dirty = true; /* try again next interval */
    p->writes += wrote;
    pthread_mutex_unlock(&p->mu);
    if (wrote)
        metrics_counter_add(p->writes_total, NULL, 1);
    if (e != KERR_OK) {
        metrics_counter_add(p->errors_total, NULL, 1);
        log_msg(LOG_ERROR, "the directory ConfigMap was not written", "namespace", p->cm_ns,
                "name", p->cm_name, "error", err.message, "kind", kerr_strerror(e), LOG_END);
    } else if (wrote) {
        char n[32];
        snprintf(n, sizeof n, "%zu", len);
        log_msg(LOG_INFO, "directory published", "namespace", p->cm_ns, "name", p->cm_name,
                "bytes", n, LOG_END);
    }
}

/* ---- the thread ---- */

/* The directory's bytes from the cache (see dir_cache_build). */
static char *build(struct dirpub *p, const char *ns, size_t *len, struct dir_tally **tally)
{
    pthread_mutex_lock(&p->build_mu);
    char *text = dir_cache_build_informer(p->cache, p->o.gs_inf, ns, len, tally);
    pthread_mutex_unlock(&p->build_mu);
    return text;
}

static void rebuild(struct dirpub *p, bool leading)
{
    struct dir_tally *tally = NULL, *old;
    size_t len = 0;
    char *text = build(p, NULL, &len, &tally);
    metrics_gauge_set(p->bytes, NULL, (double)len);
    pthread_mutex_lock(&p->mu);
    old = p->tally;
    p->tally = tally;
    pthread_mutex_unlock(&p->mu);
    dir_tally_unref(old);
    if (leading)
        publish(p, text, len);
    free(text);
}

static void wait_ms(struct dirpub *p, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&p->cond, &p->mu, &ts);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Rebuild when dirty, synced and at least `interval` after the last
 * rebuild: events that arrive meanwhile only set dirty (coalesced). */
static void *run(void *arg)
{
    struct dirpub *p = arg;
    long interval = p->o.interval_ms > 0 ? p->o.interval_ms : 2000;
    long long last = 0;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        long long left = last ? last + interval - now_ms() : 0;
        if (!p->dirty || left > 0 || !kinformer_has_synced(p->o.gs_inf)) {
            wait_ms(p, !p->dirty ? interval : left > 0 ? (long)left : 100);
            continue;
        }
        p->dirty = false;
        bool leading = p->leading;
        pthread_mutex_unlock(&p->mu);
        rebuild(p, leading);
        last = now_ms();
        pthread_mutex_lock(&p->mu);
        if (!p->leading)
            p->written = 0; /* a standby learns what the ConfigMap holds when it leads */
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void mark_dirty(struct dirpub *p)
{
    pthread_mutex_lock(&p->mu);
    p->dirty = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

static void on_add(void *ctx, const struct kobj *o)
{
    (void)o;
    mark_dirty(ctx);
}

static void on_update(void *ctx, const struct kobj *a, const struct kobj *b)
{
    (void)a;
    (void)b;
    mark_dirty(ctx);
}

/* ---- metrics, rendered from the last build's counts ---- */

struct emit_ctx {
    struct metrics_emitter *e;
    int which; /* 0 services, 1 producers, 2 consumers */
};

static void emit_services(void *ctx, const char *ns, bool ready, size_t n)
{
    struct emit_ctx *x = ctx;
    const char *v[2] = {ns, ready ? "true" : "false"};
    metrics_emit(x->e, v, (double)n);
}

static void emit_topic(void *ctx, const char *topic, size_t producers, size_t consumers)
{
    struct emit_ctx *x = ctx;
    const char *v[1] = {topic};
    metrics_emit(x->e, v, (double)(x->which == 1 ? producers : consumers));
}

static struct dir_tally *tally_ref(struct dirpub *p)
{
    pthread_mutex_lock(&p->mu);
    struct dir_tally *t = dir_tally_ref(p->tally);
    pthread_mutex_unlock(&p->mu);
    return t;
}

static void emit(struct dirpub *p, struct metrics_emitter *e, int which)
{
    struct dir_tally *t = tally_ref(p);
    struct emit_ctx x = {.e = e, .which = which};
    struct dir_counts_fn fn = {.services = which == 0 ? emit_services : NULL,
                               .topic = which == 0 ? NULL : emit_topic, .ctx = &x};
    dir_tally_counts(t, &fn);
    dir_tally_unref(t);
}

static void emit_svc_fn(void *ctx, struct metrics_emitter *e) { emit(ctx, e, 0); }
static void emit_prod_fn(void *ctx, struct metrics_emitter *e) { emit(ctx, e, 1); }
static void emit_cons_fn(void *ctx, struct metrics_emitter *e) { emit(ctx, e, 2); }

static struct metrics_family *reg(struct dirpub *p, const char *name, const char *help,
                                  enum metrics_type t, const char *const *labels, size_t n,
                                  metrics_emit_fn fn)
{
    struct metrics_desc d = {.name = name, .help = help, .type = t, .labels = labels,
                             .nlabels = n};
    struct metrics_family *f = NULL;
    struct kerr_info err = {0};
    enum kerr e = fn ? metrics_register_func(p->o.metrics, &d, fn, p, &f, &err)
                     : metrics_register(p->o.metrics, &d, &f, &err);
    if (e != KERR_OK) {
        fprintf(stderr, "grace-operator: metrics: %s\n", err.message);
        abort(); /* a name registered twice is a programming error */
    }
    return f;
}

static void register_metrics(struct dirpub *p)
{
    static const char *const svc[] = {"namespace", "ready"}, *const topic[] = {"topic"};
    reg(p, "grace_directory_services", "GraceServices in the directory, by namespace and readiness",
        METRICS_GAUGE, svc, 2, emit_svc_fn);
    reg(p, "grace_directory_topic_producers", "Producers (owners) of a Kafka topic: 0 or 1",
        METRICS_GAUGE, topic, 1, emit_prod_fn);
    reg(p, "grace_directory_topic_consumers", "GraceServices consuming a Kafka topic",
        METRICS_GAUGE, topic, 1, emit_cons_fn);
    p->bytes = reg(p, "grace_directory_bytes", "Size of the directory JSON in bytes",
                   METRICS_GAUGE, NULL, 0, NULL);
    p->writes_total = reg(p, "grace_directory_configmap_writes_total",
                          "Writes of the directory ConfigMap", METRICS_COUNTER, NULL, 0, NULL);
    p->errors_total = reg(p, "grace_directory_publish_errors_total",
                          "Directory ConfigMap writes that failed or did not fit",
                          METRICS_COUNTER, NULL, 0, NULL);
    metrics_counter_add(p->writes_total, NULL, 0);
    metrics_counter_add(p->errors_total, NULL, 0);
}

/* ---- life cycle ---- */

struct dirpub *dirpub_new(const struct dirpub_options *o)
{
    struct dirpub *p = kerr_xcalloc(1, sizeof *p);
    p->o = *o;
    snprintf(p->cm_ns, sizeof p->cm_ns, "%s", o->cm_namespace ? o->cm_namespace : "");
    snprintf(p->cm_name, sizeof p->cm_name, "%s", o->cm_name ? o->cm_name : "");
    p->cache = dir_cache_new(&p->o.dir);
    pthread_mutex_init(&p->build_mu, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->dirty = true; /* the first build after the cache syncs */
    if (o->metrics)
        register_metrics(p);
    struct kinformer_handlers h = {.on_add = on_add, .on_update = on_update,
                                   .on_delete = on_add, .ctx = p};
    kinformer_add_handlers(o->gs_inf, &h);
    return p;
}

enum kerr dirpub_start(struct dirpub *p, struct kerr_info *err)
{
    if (pthread_create(&p->thread, NULL, run, p) != 0)
        return kerr_set(err, KERR_IO, 0, "", "cannot start the directory thread");
    p->started = true;
    return KERR_OK;
}

void dirpub_set_leading(struct dirpub *p, bool leading)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->leading = leading;
    p->dirty = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

void dirpub_free(struct dirpub *p)
{
    if (!p)
        return;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    dir_tally_unref(p->tally);
    dir_cache_free(p->cache);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->build_mu);
    free(p);
}

unsigned long dirpub_writes(struct dirpub *p)
{
    pthread_mutex_lock(&p->mu);
    unsigned long n = p->writes;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* ---- GET /directory ---- */

/* The value of `namespace=` in the query (at most n-1 bytes), "" if none. */
static void query_namespace(const char *q, char *out, size_t n)
{
    out[0] = '\0';
    for (const char *s = q; s && *s; s = strchr(s, '&') ? strchr(s, '&') + 1 : NULL) {
        if (strncmp(s, "namespace=", 10) == 0) {
            size_t len = strcspn(s + 10, "&");
            snprintf(out, n, "%.*s", (int)len, s + 10);
            return;
        }
    }
}

char *dirpub_http(void *ctx, const char *query, size_t *len, int *status)
{
    struct dirpub *p = ctx;
    if (!kinformer_has_synced(p->o.gs_inf)) {
        *status = 503;
        *len = strlen("the GraceService cache has not synced yet\n");
        return kerr_xstrdup("the GraceService cache has not synced yet\n");
    }
    char ns[254];
    query_namespace(query, ns, sizeof ns);
    char *text = build(p, ns, len, NULL);
    *status = 200;
    return text;
}
