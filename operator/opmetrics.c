/*
 * opmetrics: registers the operator's metric families and offers typed
 * helpers for the manager, workers, REST client observer and status code.
 * The process_* metrics are sampled from /proc at each scrape. The
 * GraceService records behind the grace_service_* families sit in the
 * runtime's hash map (kmap, by namespace/name) and in a list in order of
 * first report (the render order). See opmetrics.h for the list of names.
 */
#include "opmetrics.h"

#include <dirent.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "khash.h"
#include "kmap.h"

/* controller-runtime's reconcile_time_seconds buckets. */
static const double reconcile_buckets[] = {
    0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
    0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
    6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};
/* client-go workqueue: ExponentialBuckets(10e-9, 10, 10). */
static const double wq_buckets[] = {1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10};
/* client-go rest_client_request_duration_seconds. */
static const double rest_buckets[] = {0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60};

struct opm_wq {
    struct opm *o;
    char *name;
    struct wq *q;
    struct opm_wq *next;
};

/* One condition type of a service: the type name (interned) and its
 * status, an index into svc_statuses. */
struct svc_cond {
    const char *type;
    unsigned char status;
};

/* The status of one GraceService: all grace_service_condition and
 * grace_service_ready samples are rendered from these records (one small
 * allocation per service instead of one stored series per label tuple). */
struct svc {
    struct kmap_node node;   /* in svc_table */
    struct svc *prev, *next; /* order of first report, the render order */
    uint64_t id;             /* increasing in list order: the render mark */
    bool ready;
    double deleting; /* deletionTimestamp (Unix seconds), 0 if not being deleted */
    size_t ntypes;
    struct svc_cond *types;
    const char *name; /* points into ns[] after the namespace's NUL */
    char ns[];        /* "<namespace>\0<name>\0" */
};

/* An interned condition type name. */
struct svc_type {
    struct svc_type *next;
    char name[];
};

struct opm {
    struct metrics *m;
    char rest_host[256]; /* set before threads start, read-only afterwards */
    struct opm_wq *queues;
    pthread_mutex_t mu;    /* guards `queues` and the service records below */
    struct kmap svc_table; /* svc by namespace/name */
    uint64_t svc_next_id;
    struct svc *svc_head, *svc_tail;
    struct svc_type *svc_types;
    struct metrics_family *rec_total, *rec_errors, *rec_time, *active, *max_conc;
    struct metrics_family *wq_depth, *wq_adds, *wq_retries, *wq_queue_dur, *wq_work_dur;
    struct metrics_family *wq_unfinished, *wq_longest;
    struct metrics_family *rest_total, *rest_dur, *leader;
    struct metrics_family *svc_ready, *svc_cond, *svc_deleting, *build_info;
    struct metrics_family *p_rss, *p_vsz, *p_cpu, *p_start, *p_fds, *p_maxfds, *heap;
};

#define L(...) ((const char *const[]){__VA_ARGS__})
#define NL(...) (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static struct metrics_family *reg(struct metrics *m, const char *name, const char *help,
                                  enum metrics_type type, const char *const *labels, size_t nlabels,
                                  const double *buckets, size_t nbuckets)
{
    struct metrics_desc d = {name, help, type, labels, nlabels, buckets, nbuckets};
    struct metrics_family *f = NULL;
    struct kerr_info err;
    if (metrics_register(m, &d, &f, &err) != KERR_OK) {
        fprintf(stderr, "grace-operator: metrics: %s\n", err.message);
        abort(); /* a duplicate or malformed built-in name is a programming error */
    }
    return f;
}

#define COUNTER(name, help, ...)                                                                   \
    reg(o->m, name, help, METRICS_COUNTER, L(__VA_ARGS__), NL(__VA_ARGS__), NULL, 0)
#define GAUGE(name, help, ...)                                                                     \
    reg(o->m, name, help, METRICS_GAUGE, L(__VA_ARGS__), NL(__VA_ARGS__), NULL, 0)
#define HIST(name, help, b, ...)                                                                   \
    reg(o->m, name, help, METRICS_HISTOGRAM, L(__VA_ARGS__), NL(__VA_ARGS__), b,                   \
        sizeof b / sizeof b[0])
#define PLAIN(name, help, type) reg(o->m, name, help, type, NULL, 0, NULL, 0)

static void register_controller(struct opm *o)
{
    o->rec_total =
        COUNTER("controller_runtime_reconcile_total",
                "Total number of reconciliations per controller", "controller", "result");
    o->rec_errors = COUNTER("controller_runtime_reconcile_errors_total",
                            "Total number of reconciliation errors per controller", "controller");
    o->rec_time =
        HIST("controller_runtime_reconcile_time_seconds",
             "Length of time per reconciliation per controller", reconcile_buckets, "controller");
    o->active = GAUGE("controller_runtime_active_workers",
                      "Number of currently used workers per controller", "controller");
    o->max_conc = GAUGE("controller_runtime_max_concurrent_reconciles",
                        "Maximum number of concurrent reconciles per controller", "controller");
}

static void register_workqueue(struct opm *o)
{
    o->wq_depth = GAUGE("workqueue_depth", "Current depth of workqueue", "name");
    o->wq_adds =
        COUNTER("workqueue_adds_total", "Total number of adds handled by workqueue", "name");
    o->wq_retries =
        COUNTER("workqueue_retries_total", "Total number of retries handled by workqueue", "name");
    o->wq_queue_dur = HIST("workqueue_queue_duration_seconds",
                           "How long in seconds an item stays in workqueue before being requested",
                           wq_buckets, "name");
    o->wq_work_dur =
        HIST("workqueue_work_duration_seconds",
             "How long in seconds processing an item from workqueue takes", wq_buckets, "name");
    o->wq_unfinished = GAUGE("workqueue_unfinished_work_seconds",
                             "How many seconds of work has been done that is in progress and "
                             "hasn't been observed by work_duration",
                             "name");
    o->wq_longest = GAUGE("workqueue_longest_running_processor_seconds",
                          "How many seconds has the longest running processor for workqueue "
                          "been running",
                          "name");
}

static void svc_ready_emit(void *ctx, struct metrics_emitter *e);
static void svc_cond_emit(void *ctx, struct metrics_emitter *e);
static void svc_deleting_emit(void *ctx, struct metrics_emitter *e);

static struct metrics_family *reg_func(struct opm *o, const char *name, const char *help,
                                       const char *const *labels, size_t nlabels,
                                       metrics_emit_fn fn)
{
    struct metrics_desc d = {name, help, METRICS_GAUGE, labels, nlabels, NULL, 0};
    struct metrics_family *f = NULL;
    struct kerr_info err;
    if (metrics_register_func(o->m, &d, fn, o, &f, &err) != KERR_OK) {
        fprintf(stderr, "grace-operator: metrics: %s\n", err.message);
        abort();
    }
    return f;
}

static void register_rest_and_service(struct opm *o)
{
    o->rest_total = COUNTER("rest_client_requests_total",
                            "Number of HTTP requests, partitioned by status code, method, and host",
                            "code", "method", "host");
    o->rest_dur = HIST("rest_client_request_duration_seconds",
                       "Request latency in seconds, broken down by verb and host", rest_buckets,
                       "verb", "host");
    o->leader = GAUGE("leader_election_master_status",
                      "Gauge of if the reporting system is master of the relevant lease, 0 "
                      "indicates backup, 1 indicates master",
                      "name");
    o->svc_ready =
        reg_func(o, "grace_service_ready", "Whether the GraceService is Ready (1) or not (0)",
                 L("namespace", "name"), 2, svc_ready_emit);
    o->svc_cond = reg_func(o, "grace_service_condition",
                           "The condition of a GraceService: 1 for the current status of each type",
                           L("namespace", "name", "type", "status"), 4, svc_cond_emit);
    o->svc_deleting = reg_func(o, "grace_service_deletion_timestamp_seconds",
                               "Unix time the GraceService's deletion was requested; only "
                               "GraceServices being deleted (held by a finalizer) have a sample",
                               L("namespace", "name"), 2, svc_deleting_emit);
    o->build_info = GAUGE("grace_build_info", "Build information of grace-operator", "version");
}

static void process_collect(void *ctx);

static void register_process(struct opm *o)
{
    o->p_cpu = PLAIN("process_cpu_seconds_total", "Total user and system CPU time spent in seconds",
                     METRICS_COUNTER);
    o->p_rss =
        PLAIN("process_resident_memory_bytes", "Resident memory size in bytes", METRICS_GAUGE);
    o->p_vsz = PLAIN("process_virtual_memory_bytes", "Virtual memory size in bytes", METRICS_GAUGE);
    o->p_start = PLAIN("process_start_time_seconds",
                       "Start time of the process since unix epoch in seconds", METRICS_GAUGE);
    o->p_fds = PLAIN("process_open_fds", "Number of open file descriptors", METRICS_GAUGE);
    o->p_maxfds =
        PLAIN("process_max_fds", "Maximum number of open file descriptors", METRICS_GAUGE);
    o->heap = GAUGE("grace_heap_bytes",
                    "Bytes of the C heap (malloc): in_use by the program, or free inside the "
                    "heap and still resident unless trimmed (fragmentation)",
                    "state");
    metrics_add_collector(o->m, process_collect, o);
}

static void svc_unlink(struct opm *o, struct svc *v);

struct opm *opm_new(struct metrics *m, const char *version)
{
    struct opm *o = kerr_xcalloc(1, sizeof *o);
    o->m = m;
    pthread_mutex_init(&o->mu, NULL);
    kmap_init(&o->svc_table);
    register_controller(o);
    register_workqueue(o);
    register_rest_and_service(o);
    register_process(o);
    metrics_gauge_set(o->build_info, L(version ? version : "unknown"), 1);
    return o;
}

void opm_free(struct opm *o)
{
    if (!o)
        return;
    struct opm_wq *w = o->queues;
    while (w) {
        struct opm_wq *next = w->next;
        free(w->name);
        free(w);
        w = next;
    }
    while (o->svc_head)
        svc_unlink(o, o->svc_head);
    kmap_free(&o->svc_table);
    struct svc_type *t = o->svc_types;
    while (t) {
        struct svc_type *next = t->next;
        free(t);
        t = next;
    }
    pthread_mutex_destroy(&o->mu);
    free(o);
}

struct metrics *opm_registry(struct opm *o)
{
    return o ? o->m : NULL;
}

const char *opm_result_name(enum opm_result r)
{
    switch (r) {
    case OPM_SUCCESS:
        return "success";
    case OPM_ERROR:
        return "error";
    case OPM_REQUEUE:
        return "requeue";
    case OPM_REQUEUE_AFTER:
        return "requeue_after";
    }
    return "error";
}

void opm_controller_init(struct opm *o, const char *controller, int max_workers)
{
    if (!o)
        return;
    for (int r = OPM_SUCCESS; r <= OPM_REQUEUE_AFTER; r++)
        metrics_counter_add(o->rec_total, L(controller, opm_result_name((enum opm_result)r)), 0);
    metrics_counter_add(o->rec_errors, L(controller), 0);
    metrics_gauge_add(o->active, L(controller), 0);
    metrics_gauge_set(o->max_conc, L(controller), max_workers);
}

void opm_reconcile_done(struct opm *o, const char *controller, enum opm_result result,
                        double seconds)
{
    if (!o)
        return;
    metrics_counter_add(o->rec_total, L(controller, opm_result_name(result)), 1);
    if (result == OPM_ERROR)
        metrics_counter_add(o->rec_errors, L(controller), 1);
    metrics_histogram_observe(o->rec_time, L(controller), seconds);
}

void opm_active_workers(struct opm *o, const char *controller, int delta)
{
    if (o)
        metrics_gauge_add(o->active, L(controller), delta);
}

void opm_workqueue(struct opm *o, const char *name, const struct wq_stats *st)
{
    if (!o)
        return;
    metrics_gauge_set(o->wq_depth, L(name), (double)st->depth);
    metrics_counter_set(o->wq_adds, L(name), (double)st->adds);
    metrics_counter_set(o->wq_retries, L(name), (double)st->retries);
    metrics_gauge_set(o->wq_unfinished, L(name), st->unfinished_work_seconds);
    metrics_gauge_set(o->wq_longest, L(name), st->longest_running_seconds);
}

static void wq_collect(void *ctx)
{
    struct opm_wq *w = ctx;
    struct wq_stats st;
    wq_stats(w->q, &st);
    opm_workqueue(w->o, w->name, &st);
}

static void wq_observe(void *ctx, enum wq_obs what, double seconds)
{
    struct opm_wq *w = ctx;
    struct metrics_family *f =
        what == WQ_OBS_QUEUE_LATENCY ? w->o->wq_queue_dur : w->o->wq_work_dur;
    metrics_histogram_observe(f, L(w->name), seconds);
}

void opm_attach_wq(struct opm *o, const char *name, struct wq *q)
{
    if (!o)
        return;
    struct opm_wq *w = kerr_xcalloc(1, sizeof *w);
    w->o = o;
    w->name = kerr_xstrdup(name);
    w->q = q;
    pthread_mutex_lock(&o->mu);
    w->next = o->queues;
    o->queues = w;
    pthread_mutex_unlock(&o->mu);
    wq_set_observer(q, wq_observe, w);
    metrics_add_collector(o->m, wq_collect, w);
}

static const char *http_method(const char *verb)
{
    if (!verb)
        return "GET";
    if (strcmp(verb, "LIST") == 0 || strcmp(verb, "WATCH") == 0)
        return "GET";
    if (strcmp(verb, "APPLY") == 0)
        return "PATCH";
    return verb;
}

void opm_rest_request(struct opm *o, const char *verb, long code, const char *host, double seconds)
{
    if (!o)
        return;
    char codebuf[24];
    if (code > 0)
        snprintf(codebuf, sizeof codebuf, "%ld", code);
    else
        snprintf(codebuf, sizeof codebuf, "<error>");
    const char *method = http_method(verb);
    metrics_counter_add(o->rest_total, L(codebuf, method, host), 1);
    metrics_histogram_observe(o->rest_dur, L(method, host), seconds);
}

void opm_set_rest_host(struct opm *o, const char *host)
{
    if (o)
        snprintf(o->rest_host, sizeof o->rest_host, "%s", host ? host : "");
}

void opm_rest_observer(void *ctx, const char *verb, long code, double seconds)
{
    struct opm *o = ctx;
    if (o)
        opm_rest_request(o, verb, code, o->rest_host, seconds);
}

void opm_leader(struct opm *o, const char *name, bool leading)
{
    if (o)
        metrics_gauge_set(o->leader, L(name), leading ? 1 : 0);
}

/* ---- GraceService status (o->mu held unless said otherwise) ---- */

static const char *const svc_statuses[] = {"True", "False", "Unknown"};

static uint64_t svc_hash(const char *ns, const char *name)
{
    return khash_str(khash_step(khash_str(KHASH_INIT, ns), 0), name); /* NUL between */
}

struct svc_key {
    const char *ns, *name;
};

static bool svc_is(const struct kmap_node *n, const void *key)
{
    const struct svc *v = KMAP_ENTRY(n, const struct svc, node);
    const struct svc_key *k = key;
    return strcmp(v->ns, k->ns) == 0 && strcmp(v->name, k->name) == 0;
}

static struct svc *svc_find(struct opm *o, const char *ns, const char *name, uint64_t h)
{
    struct svc_key k = {ns, name};
    return KMAP_ENTRY(kmap_find(&o->svc_table, h, svc_is, &k), struct svc, node);
}

static struct svc *svc_get(struct opm *o, const char *ns, const char *name)
{
    uint64_t h = svc_hash(ns, name);
    struct svc *v = svc_find(o, ns, name, h);
    if (v)
        return v;
    size_t nl = strlen(ns) + 1, ml = strlen(name) + 1;
    v = kerr_xcalloc(1, sizeof *v + nl + ml);
    v->id = ++o->svc_next_id;
    memcpy(v->ns, ns, nl);
    v->name = v->ns + nl;
    memcpy(v->ns + nl, name, ml);
    kmap_insert(&o->svc_table, &v->node, h);
    v->prev = o->svc_tail;
    if (o->svc_tail)
        o->svc_tail->next = v;
    else
        o->svc_head = v;
    o->svc_tail = v;
    return v;
}

static void svc_unlink(struct opm *o, struct svc *v)
{
    kmap_remove(&o->svc_table, &v->node);
    if (o->svc_head == v)
        o->svc_head = v->next;
    else
        v->prev->next = v->next;
    if (o->svc_tail == v)
        o->svc_tail = v->prev;
    else
        v->next->prev = v->prev;
    free(v->types);
    free(v);
}

/* The interned copy of a condition type name. */
static const char *svc_intern(struct opm *o, const char *type)
{
    for (struct svc_type *t = o->svc_types; t; t = t->next)
        if (strcmp(t->name, type) == 0)
            return t->name;
    size_t n = strlen(type) + 1;
    struct svc_type *t = kerr_xmalloc(sizeof *t + n);
    memcpy(t->name, type, n);
    t->next = o->svc_types;
    o->svc_types = t;
    return t->name;
}

static unsigned char svc_status_index(const char *status)
{
    if (status && strcmp(status, "True") == 0)
        return 0;
    if (status && strcmp(status, "False") == 0)
        return 1;
    return 2; /* anything else counts as Unknown */
}

/* The types and statuses of `conditions` (a later duplicate type wins). */
static size_t svc_collect(struct opm *o, const json_t *conditions, struct svc_cond *out,
                          bool *ready)
{
    size_t n = 0, i;
    const json_t *c;
    *ready = false;
    json_array_foreach(conditions, i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        if (!type || !*type)
            continue;
        unsigned char st = svc_status_index(json_string_value(json_object_get(c, "status")));
        size_t k = 0;
        while (k < n && strcmp(out[k].type, type) != 0)
            k++;
        if (k == n)
            out[n++].type = svc_intern(o, type);
        out[k].status = st;
        if (strcmp(type, "Ready") == 0)
            *ready = st == 0;
    }
    return n;
}

void opm_service_conditions(struct opm *o, const char *ns, const char *name,
                            const json_t *conditions)
{
    if (!o || !ns || !name)
        return;
    size_t max = json_is_array(conditions) ? json_array_size(conditions) : 0;
    struct svc_cond *types = max ? kerr_xcalloc(max, sizeof *types) : NULL;
    bool ready = false;
    pthread_mutex_lock(&o->mu);
    size_t n = max ? svc_collect(o, conditions, types, &ready) : 0;
    struct svc *v = svc_get(o, ns, name);
    free(v->types);
    v->types = n ? types : NULL;
    v->ntypes = n;
    v->ready = ready;
    pthread_mutex_unlock(&o->mu);
    if (!n)
        free(types);
}

void opm_service_deleting(struct opm *o, const char *ns, const char *name, double since)
{
    if (!o || !ns || !name)
        return;
    pthread_mutex_lock(&o->mu);
    svc_get(o, ns, name)->deleting = since > 0 ? since : 1;
    pthread_mutex_unlock(&o->mu);
}

void opm_service_delete(struct opm *o, const char *ns, const char *name)
{
    if (!o || !ns || !name)
        return;
    pthread_mutex_lock(&o->mu);
    struct svc *v = svc_find(o, ns, name, svc_hash(ns, name));
    if (v)
        svc_unlink(o, v);
    pthread_mutex_unlock(&o->mu);
}

/* Render-time producers of the two families: each walks the services
 * (lock taken here) from where the previous piece of a streamed render
 * stopped; a piece ends after a whole service. */
static void svc_cond_one(struct metrics_emitter *e, const struct svc *v)
{
    for (size_t i = 0; i < v->ntypes; i++)
        for (unsigned char s = 0; s < 3; s++)
            metrics_emit(e, L(v->ns, v->name, v->types[i].type, svc_statuses[s]),
                         v->types[i].status == s ? 1 : 0);
}

static void svc_ready_one(struct metrics_emitter *e, const struct svc *v)
{
    metrics_emit(e, L(v->ns, v->name), v->ready ? 1 : 0);
}

static void svc_deleting_one(struct metrics_emitter *e, const struct svc *v)
{
    if (v->deleting > 0)
        metrics_emit(e, L(v->ns, v->name), v->deleting);
}

static void svc_walk(struct opm *o, struct metrics_emitter *e,
                     void (*one)(struct metrics_emitter *, const struct svc *))
{
    uint64_t resume = metrics_emit_resume(e);
    pthread_mutex_lock(&o->mu);
    for (const struct svc *v = o->svc_head; v; v = v->next) {
        if (v->id <= resume)
            continue;
        one(e, v);
        if (!metrics_emit_mark(e, v->id))
            break;
    }
    pthread_mutex_unlock(&o->mu);
}

static void svc_cond_emit(void *ctx, struct metrics_emitter *e)
{
    svc_walk(ctx, e, svc_cond_one);
}

static void svc_ready_emit(void *ctx, struct metrics_emitter *e)
{
    svc_walk(ctx, e, svc_ready_one);
}

static void svc_deleting_emit(void *ctx, struct metrics_emitter *e)
{
    svc_walk(ctx, e, svc_deleting_one);
}

/* ---- process metrics from /proc/self ---- */

static double boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[256];
    double btime = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "btime ", 6) == 0) {
            btime = strtod(line + 6, NULL);
            break;
        }
    }
    if (f)
        fclose(f);
    return btime;
}

static void process_stat(struct opm *o)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* comm may contain spaces */
    if (!p)
        return;
    /* fields after ")": 3=state ... 14=utime 15=stime 22=starttime 23=vsize 24=rss */
    unsigned long long v[25] = {0};
    char *end;
    p += 2;
    for (int field = 3; field <= 24 && *p; field++) {
        while (*p == ' ')
            p++;
        v[field] = strtoull(p, &end, 10);
        p = (end == p) ? p + 1 : end;
        while (*p && *p != ' ')
            p++;
    }
    double tick = (double)sysconf(_SC_CLK_TCK);
    double page = (double)sysconf(_SC_PAGESIZE);
    metrics_counter_set(o->p_cpu, NULL, (double)(v[14] + v[15]) / tick);
    metrics_gauge_set(o->p_start, NULL, boot_time() + (double)v[22] / tick);
    metrics_gauge_set(o->p_vsz, NULL, (double)v[23]);
    metrics_gauge_set(o->p_rss, NULL, (double)v[24] * page);
}

static void process_collect(void *ctx)
{
    struct opm *o = ctx;
    process_stat(o);
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        long n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                n++;
        closedir(d);
        metrics_gauge_set(o->p_fds, NULL, (double)(n - 1)); /* minus the dir's own fd */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        metrics_gauge_set(o->p_maxfds, NULL, (double)rl.rlim_cur);
    struct mallinfo2 mi = mallinfo2(); /* every arena, with their locks */
    metrics_gauge_set(o->heap, L("in_use"), (double)(mi.uordblks + mi.hblkhd));
    metrics_gauge_set(o->heap, L("free"), (double)mi.fordblks);
}
