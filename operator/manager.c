/*
 * manager: wires the operator together (see manager.h). Threads: the
 * watcher (informers), N workers, the leader elector, the HTTP server, and
 * this main thread, which waits for a signal and runs the periodic resync.
 * Globals: only the stop flag (set from the signal handler). Memory: glibc
 * malloc is tuned at start-up and trimmed after bursts of work (see
 * mem_tune); /metrics is streamed. This file is the start-up, the run loop
 * and the shutdown; what the HTTP server serves is in manager_http.c.
 */
#include "manager.h"

#include "manager_int.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "childkinds.h"
#include "config.h"
#include "dirpub.h"
#include "graceservice.h"
#include "httpd.h"
#include "kclient.h"
#include "kconfig.h"
#include "kdiscovery.h"
#include "kinformer.h"
#include "kleader.h"
#include "kobj.h"
#include "krecorder.h"
#include "ktime.h"
#include "kwatch.h"
#include "log.h"
#include "mgrflags.h"
#include "opmetrics.h"
#include "optrace.h"
#include "render.h"
#include "watchmetrics.h"
#include "wq.h"

/* The stop flag and the forced-resync request (SIGHUP): the only
 * process-wide state besides the log configuration (docs/architecture.md,
 * "Globals"). */
static volatile sig_atomic_t mgr_stop;
static volatile sig_atomic_t mgr_resync_now;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        mgr_resync_now = 1;
    else
        mgr_stop = 1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- memory ---- */

/*
 * glibc malloc settings, before any thread starts (each can be overridden by
 * its MALLOC_*_ environment variable). By default every thread that
 * allocates gets its own arena (up to 8 per core) and freed memory stays in
 * the arena that held it; the mmap threshold rises to the largest block
 * freed so far, so a large LIST response or /metrics text is then carved
 * from an arena and stays resident. Two arenas, a fixed 128 KiB mmap
 * threshold (larger blocks go back to the kernel on free) and a fixed trim
 * threshold keep the heap close to what is live.
 */
static void mem_tune(void)
{
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 2);
    if (!getenv("MALLOC_MMAP_THRESHOLD_"))
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    if (!getenv("MALLOC_TRIM_THRESHOLD_"))
        mallopt(M_TRIM_THRESHOLD, 256 * 1024);
}

/* Once a burst of work is over (the queue idle for a second after some
 * activity), repack the caches where a new dictionary pays and return
 * freed heap pages to the kernel; after the initial sync, only the latter
 * (malloc_trim also releases free pages inside the heap, which the trim
 * threshold alone never does). */
struct mem_trim {
    uint64_t adds;
    double busy_at;
    bool dirty;
};

static bool mem_trim_due(struct mem_trim *t, struct wq *q, double now)
{
    struct wq_stats st;
    wq_stats(q, &st);
    if (st.adds != t->adds || st.depth || st.processing) {
        t->adds = st.adds;
        t->busy_at = now;
        t->dirty = true;
        return false;
    }
    if (t->dirty && now - t->busy_at >= 1.0) {
        t->dirty = false;
        return true;
    }
    return false;
}

/* The caches' codecs chosen again where that pays (kinformer_repack),
 * then the freed pages returned. */
static void mem_compact(struct mgr *m)
{
    if (m->gs_inf)
        kinformer_repack(m->gs_inf);
    for (size_t i = 0; i < childkinds_count(&m->kinds); i++)
        if (m->child_inf[i])
            kinformer_repack(m->child_inf[i]);
    malloc_trim(0);
}

/* ---- workers ---- */

static enum opm_result result_kind(enum gs_result r)
{
    return r == GS_DONE ? OPM_SUCCESS : r == GS_RETRY ? OPM_ERROR : OPM_REQUEUE_AFTER;
}

static void process(struct mgr *m, struct gs_worker *w, const char *key)
{
    char rid[37];
    char ns[256] = "", *slash = strchr(key, '/');
    if (slash)
        snprintf(ns, sizeof ns, "%.*s", (int)(slash - key), key);
    log_ctx_set(MGR_CONTROLLER, ns, slash ? slash + 1 : key, log_new_reconcile_id(rid));
    double t0 = ktime_mono_s();
    long after = 0;
    enum gs_result r = gs_reconcile(m->ctl, w, key, &after);
    opm_reconcile_done(m->opm, MGR_CONTROLLER, result_kind(r), ktime_mono_s() - t0);
    switch (r) {
    case GS_DONE:
        wq_forget(m->q, key);
        break;
    case GS_RETRY:
        wq_add_rate_limited(m->q, key);
        break;
    case GS_REQUEUE_AFTER:
        wq_forget(m->q, key);
        wq_add_after(m->q, key, after);
        break;
    }
    log_ctx_clear();
}

static void *worker_main(void *arg)
{
    struct mgr *m = arg;
    struct gs_worker *w = NULL;
    struct kerr_info err = {0};
    if (gs_worker_new(m->ctl, &w, &err) != KERR_OK) {
        log_msg(LOG_ERROR, "worker could not start", "error", err.message, LOG_END);
        mgr_stop = 1;
        return NULL;
    }
    char *key = NULL;
    while (wq_get(m->q, &key)) {
        opm_active_workers(m->opm, MGR_CONTROLLER, 1);
        process(m, w, key);
        opm_active_workers(m->opm, MGR_CONTROLLER, -1);
        wq_done(m->q, key);
        free(key);
        if (wq_len(m->q) == 0)
            gs_worker_idle(w);
    }
    gs_worker_free(w);
    return NULL;
}

static void start_workers(struct mgr *m)
{
    if (m->nworkers)
        return;
    for (int i = 0; i < m->f.workers; i++) {
        if (pthread_create(&m->workers[i], NULL, worker_main, m) != 0) {
            log_msg(LOG_ERROR, "cannot start a worker thread", LOG_END);
            break;
        }
        m->nworkers++;
    }
    char n[16];
    snprintf(n, sizeof n, "%d", m->nworkers);
    log_msg(LOG_INFO, "workers started", "workers", n, LOG_END);
}

/* ---- leader election callbacks (leader thread) ---- */

static void on_started_leading(void *ctx)
{
    struct mgr *m = ctx;
    atomic_store(&m->leading, 1);
    opm_leader(m->opm, m->f.leader_id, true);
    dirpub_set_leading(m->dir, true);
    log_msg(LOG_INFO, "became the leader", "lease", m->f.leader_id, "identity", m->identity,
            LOG_END);
}

static void on_stopped_leading(void *ctx)
{
    struct mgr *m = ctx;
    opm_leader(m->opm, m->f.leader_id, false);
    dirpub_set_leading(m->dir, false);
    if (atomic_exchange(&m->leading, 0) && !mgr_stop) {
        log_msg(LOG_ERROR, "lost the leader lease; exiting so that a restart begins clean", "lease",
                m->f.leader_id, LOG_END);
        atomic_store(&m->lost_lease, 1);
        mgr_stop = 1;
    }
}

/* ---- set-up ---- */

static enum kerr load_kube(struct mgr *m, struct kerr_info *err)
{
    const char *path = m->f.kubeconfig;
    bool in_cluster = !path && !getenv("KUBECONFIG") && getenv("KUBERNETES_SERVICE_HOST");
    enum kerr e = in_cluster ? kconfig_in_cluster(NULL, &m->kcfg, err)
                             : kconfig_load_file(path, m->f.context, &m->kcfg, err);
    if (e != KERR_OK)
        return e;
    if (m->f.leader_elect < 0)
        m->f.leader_elect = in_cluster;
    const char *ns = m->f.leader_ns        ? m->f.leader_ns
                     : m->kcfg->namespace_ ? m->kcfg->namespace_
                                           : "default";
    snprintf(m->leader_ns, sizeof m->leader_ns, "%s", ns);
    struct kclient_options o = {.user_agent = "grace-operator/" GRACE_VERSION,
                                .compression = m->f.api_compression == 1};
    e = kclient_new(m->kcfg, &o, &m->client, err);
    if (e == KERR_OK) {
        const char *host = strstr(m->kcfg->server, "://");
        opm_set_rest_host(m->opm, host ? host + 3 : m->kcfg->server);
        kclient_set_observer(m->client, opm_rest_observer, m->opm);
    }
    return e;
}

/* One line per wait of discover(): why, and how long until the next try. */
static void discover_progress(void *ctx, enum kerr e, const struct kerr_info *err, long retry_ms)
{
    bool *warned = ctx;
    char retry[32];
    snprintf(retry, sizeof retry, "%.1fs", (double)retry_ms / 1000.0);
    if (e != KERR_OK)
        log_msg(LOG_WARN, "discovery failed; retrying", "error", err->message, "kind",
                kerr_strerror(e), "retryIn", retry, LOG_END);
    else if (!*warned)
        log_msg(LOG_WARN,
                "the API server does not serve grace.dev/v1alpha1 graceservices yet: apply "
                "crds/graceservice.yaml; waiting",
                LOG_END);
    *warned = *warned || e == KERR_OK;
}

/* Wait until the API server serves GraceServices (the CRD may be applied
 * after the operator, by GitOps), then resolve every child kind. An error
 * that retrying cannot fix (401, 403, TLS verification, ...) ends start-up:
 * the pod then shows CrashLoopBackOff with the reason in its log. */
static enum kerr discover(struct mgr *m, struct kerr_info *err)
{
    enum kerr e = kdiscovery_new(m->client, &m->disc);
    if (e != KERR_OK)
        return e;
    bool warned = false;
    struct kdiscovery_wait w = {.group = "grace.dev",
                                .version = "v1alpha1",
                                .plural = "graceservices",
                                .stop = &mgr_stop,
                                .progress = discover_progress,
                                .ctx = &warned};
    if ((e = kdiscovery_wait_for(m->disc, &w, err)) != KERR_OK)
        return e;
    childkinds_init(&m->kinds);
    for (size_t i = 0; i < childkinds_count(&m->kinds); i++) {
        struct childkind *k = childkinds_at(&m->kinds, i);
        struct kerr_info e2 = {0};
        k->served = kdiscovery_pick_version(m->disc, k->group, k->plural, k->versions, k->version,
                                            sizeof k->version, &e2) == KERR_OK;
        if (!k->served)
            log_msg(LOG_WARN, "child kind not served: concerns using it will report it", "kind",
                    k->kind, "group", k->group, LOG_END);
    }
    return KERR_OK;
}

static void make_informers(struct mgr *m)
{
    struct kres gs = {"grace.dev", "v1alpha1", "graceservices"};
    m->gs_inf = kinformer_new(m->client, m->watcher, &gs, m->f.namespace_, NULL);
    kinformer_set_kind(m->gs_inf, "GraceService");
    for (size_t i = 0; i < childkinds_count(&m->kinds); i++) {
        struct childkind *k = childkinds_at(&m->kinds, i);
        if (!k->served)
            continue;
        struct kres r;
        childkinds_kres(k, &r);
        m->child_inf[i] = kinformer_new(m->client, m->watcher, &r, NULL,
                                        "app.kubernetes.io/managed-by=grace-operator");
        kinformer_set_kind(m->child_inf[i], k->kind);
    }
}

/* The directory publisher, from the configuration (see dirpub.h). */
static enum kerr make_directory(struct mgr *m, struct kerr_info *err)
{
    const json_t *cj = grace_config_json(m->cfg);
    const json_t *cm = json_object_get(json_object_get(cj, "directory"), "configMap");
    enum grace_tailscale_mode ts = grace_config_tailscale_mode(m->cfg);
    struct dirpub_options o = {
        .client = m->client,
        .gs_inf = m->gs_inf,
        .dir = {.base_domain = grace_config_base_domain(m->cfg),
                .tailscale = ts != GRACE_TAILSCALE_OFF,
                .tailscale_per_service = ts == GRACE_TAILSCALE_PER_SERVICE,
                .external_topics = json_object_get(json_object_get(cj, "kafka"), "externalTopics")},
        /* "": the operator's own namespace, where its Lease is */
        .cm_namespace = json_string_length(json_object_get(cm, "namespace"))
                            ? json_string_value(json_object_get(cm, "namespace"))
                            : m->leader_ns,
        .cm_name = json_string_value(json_object_get(cm, "name")),
        .metrics = m->metrics,
    };
    m->dir = dirpub_new(&o);
    return dirpub_start(m->dir, err);
}

bool mgr_synced(struct mgr *m)
{
    if (!m->gs_inf || !kinformer_has_synced(m->gs_inf))
        return false;
    for (size_t i = 0; i < childkinds_count(&m->kinds); i++)
        if (m->child_inf[i] && !kinformer_has_synced(m->child_inf[i]))
            return false;
    return true;
}

static enum kerr start_leader(struct mgr *m, struct kerr_info *err)
{
    if (!m->f.leader_elect) {
        atomic_store(&m->leading, 1);
        opm_leader(m->opm, m->f.leader_id, true);
        dirpub_set_leading(m->dir, true);
        return KERR_OK;
    }
    struct kleader_options lo = {
        .lease_namespace = m->leader_ns,
        .lease_name = m->f.leader_id,
        .identity = m->identity,
        .on_started_leading = on_started_leading,
        .on_stopped_leading = on_stopped_leading,
        .ctx = m,
    };
    opm_leader(m->opm, m->f.leader_id, false); /* a candidate reports 0, not nothing */
    enum kerr e = kleader_new(m->client, &lo, &m->leader, err);
    if (e == KERR_OK)
        e = kleader_start(m->leader);
    log_msg(LOG_INFO, "leader election on", "lease", m->f.leader_id, "namespace", m->leader_ns,
            "identity", m->identity, LOG_END);
    return e;
}

/* The reconciler's metrics sink (gsdeps.h), onto the operator's metrics. */
static void metrics_conditions_cb(void *ctx, const char *ns, const char *name,
                                  const json_t *conditions)
{
    opm_service_conditions(ctx, ns, name, conditions);
}

static void metrics_deleting_cb(void *ctx, const char *ns, const char *name, double since)
{
    opm_service_deleting(ctx, ns, name, since);
}

static void metrics_delete_cb(void *ctx, const char *ns, const char *name)
{
    opm_service_delete(ctx, ns, name);
}

/* The reconciler's configuration (gsdeps.h), from the configuration file;
 * it borrows from m->cfg, which outlives the controller. */
static struct gs_config controller_config(const struct grace_config *cfg)
{
    const struct grace_config_postgres *pc = grace_config_postgres(cfg);
    return (struct gs_config){
        .templates = grace_config_json(cfg),
        .base_domain = grace_config_base_domain(cfg),
        .tailscale = grace_config_tailscale_mode(cfg) != GRACE_TAILSCALE_OFF,
        .backup = grace_config_backup(cfg)->enabled,
        .postgres = {pc->host, pc->port, pc->sslmode, pc->admin_secret_namespace,
                     pc->admin_secret_name},
    };
}

static void enqueue_all_fn(void *ctx, const struct kobj *o)
{
    struct mgr *m = ctx;
    char key[512];
    snprintf(key, sizeof key, "%s/%s", kobj_namespace(o), kobj_name(o));
    wq_add(m->q, key);
}

/* A full resync: every informer relists (events missed by a watch are
 * caught) and every GraceService is reconciled. Periodic, or at once on
 * SIGHUP. */
static void resync_step(struct mgr *m, double *last)
{
    if (mgr_resync_now) {
        mgr_resync_now = 0; /* cleared before acting: a SIGHUP now is kept */
        log_msg(LOG_INFO, "forced resync (SIGHUP): relisting every kind", LOG_END);
        kwatcher_resync(m->watcher); /* a standby's caches are refreshed too */
    } else if (ktime_mono_s() - *last < (double)m->f.resync_s) {
        return;
    }
    if (atomic_load(&m->leading))
        kinformer_foreach(m->gs_inf, enqueue_all_fn, m);
    *last = ktime_mono_s();
}

/* One line each time the watcher refused a list or watch body for
 * unreadable text (kwatcher_stats.unreadable grew): the cache keeps its
 * last good state and the request is retried, so this is all one sees. */
static void unreadable_step(struct mgr *m, uint64_t *seen)
{
    struct kwatcher_stats st;
    kwatcher_stats(m->watcher, &st);
    if (st.unreadable <= *seen)
        return;
    char n[24];
    snprintf(n, sizeof n, "%llu", (unsigned long long)st.unreadable);
    log_msg(LOG_WARN, "refused a list or watch response holding unreadable JSON text", "total", n,
            "error", st.last_error, LOG_END);
    *seen = st.unreadable;
}

/* The main thread: start workers once synced and leading, resync
 * periodically, publish queue metrics, until a signal. */
static void run_loop(struct mgr *m)
{
    double last_resync = ktime_mono_s();
    bool announced = false;
    struct mem_trim trim = {0};
    uint64_t unreadable = 0;
    while (!mgr_stop) {
        /* 10 ms until the caches have synced, so the workers start within
         * 10 ms of it (the first reconciles of a restart are waiting) */
        sleep_ms(announced ? 100 : 10);
        unreadable_step(m, &unreadable);
        if (!mgr_synced(m))
            continue;
        if (!announced) {
            log_msg(LOG_INFO, "caches synced", LOG_END);
            announced = true;
            malloc_trim(0); /* the initial lists' buffers */
        }
        if (mem_trim_due(&trim, m->q, ktime_mono_s()))
            mem_compact(m);
        if (atomic_load(&m->leading) && !m->nworkers)
            start_workers(m);
        resync_step(m, &last_resync);
    }
}

/* Stop and free everything; `started`: say so in the log (a failed
 * start-up has already said everything in its one line). */
static void shutdown_all(struct mgr *m, bool started)
{
    if (started)
        log_msg(LOG_INFO, "shutting down: finishing running reconciles", LOG_END);
    if (m->q)
        wq_shutdown(m->q);
    for (int i = 0; i < m->nworkers; i++)
        pthread_join(m->workers[i], NULL);
    if (m->leader) {
        kleader_stop(m->leader); /* releases the Lease */
        kleader_free(m->leader);
    }
    if (m->http)
        httpd_stop(m->http);
    if (m->watcher)
        kwatcher_stop(m->watcher);
    httpd_free(m->http);
    dirpub_free(m->dir);    /* before the informer it reads */
    ktrace_free(m->tracer); /* after the workers and the metrics server */
    gs_controller_free(m->ctl);
    kinformer_free(m->gs_inf);
    for (size_t i = 0; i < childkinds_count(&m->kinds); i++)
        kinformer_free(m->child_inf[i]);
    kwatcher_free(m->watcher);
    wq_free(m->q);
    krecorder_free(m->rec);
    kdiscovery_free(m->disc);
    kclient_free(m->client);
    kconfig_free(m->kcfg);
    grace_config_free(m->cfg);
    opm_free(m->opm);
    metrics_free(m->metrics);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* SIGHUP (a resync) must not fail a thread's I/O with EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static enum kerr init_logging(struct mgr *m, struct kerr_info *err)
{
    enum log_level lvl;
    enum log_format fmt;
    enum kerr e = log_parse_level(m->f.log_level, &lvl, err);
    if (e == KERR_OK)
        e = log_parse_format(m->f.log_format, &fmt, err);
    if (e == KERR_OK)
        log_init(fmt, lvl);
    return e;
}

static void make_identity(struct mgr *m)
{
    if (m->f.identity) {
        snprintf(m->identity, sizeof m->identity, "%s", m->f.identity);
        return;
    }
    char host[200] = "grace-operator";
    gethostname(host, sizeof host - 1);
    snprintf(m->identity, sizeof m->identity, "%s_%ld", host, (long)getpid());
}

static enum kerr setup(struct mgr *m, struct kerr_info *err)
{
    enum kerr e = grace_config_load(m->f.config, &m->cfg, err);
    if (e != KERR_OK)
        return e;
    m->metrics = metrics_new();
    m->opm = opm_new(m->metrics, GRACE_VERSION);
    opm_controller_init(m->opm, MGR_CONTROLLER, m->f.workers);
    if ((e = load_kube(m, err)) != KERR_OK)
        return e;
    if ((e = mgr_start_http(m, err)) != KERR_OK)
        return e;
    if ((e = discover(m, err)) != KERR_OK)
        return e;
    if ((e = kwatcher_new(m->client, &m->watcher)) != KERR_OK)
        return kerr_set(err, e, 0, "", "cannot create the watcher");
    if ((e = watchmetrics_register(m->metrics, m->watcher, err)) != KERR_OK)
        return e;
    make_informers(m);
    if ((e = make_directory(m, err)) != KERR_OK)
        return e;
    m->rec = krecorder_new(m->client, "grace.dev/grace-operator", m->identity);
    m->q = wq_new();
    opm_attach_wq(m->opm, MGR_CONTROLLER, m->q);
    const char *tdir = m->f.templates ? m->f.templates : grace_config_templates_dir(m->cfg);
    struct render *probe = NULL; /* fail at start-up, not in every worker */
    if ((e = render_new(tdir, &probe, err)) != KERR_OK)
        return e;
    render_free(probe);
    if ((e = optrace_start(m->cfg, m->metrics, GRACE_VERSION, &m->tracer, err)) != KERR_OK)
        return e;
    struct gs_deps d = {
        .client = m->client,
        .gs_inf = m->gs_inf,
        .kinds = &m->kinds,
        .cfg = controller_config(m->cfg),
        .rec = m->rec,
        .metrics = {metrics_conditions_cb, metrics_deleting_cb, metrics_delete_cb, m->opm},
        .templates_dir = tdir,
        .tracer = m->tracer};
    memcpy(d.child_inf, m->child_inf, sizeof d.child_inf);
    m->ctl = gs_controller_new(&d);
    gs_controller_watch(m->ctl, m->q);
    atomic_store(&m->ready_ctl, 1);
    if ((e = kwatcher_start(m->watcher)) != KERR_OK)
        return kerr_set(err, e, 0, "", "cannot start the watcher");
    return start_leader(m, err);
}

int manager_main(int argc, char **argv)
{
    struct mgr *m = kerr_xcalloc(1, sizeof *m);
    struct kerr_info err = {0};
    int rc = 0;
    mgr_stop = 0; /* a second run in one process (tests) starts afresh */
    mgr_resync_now = 0;
    if (mgrflags_parse(argc, argv, &m->f, &err) != KERR_OK) {
        fprintf(stderr, "grace-operator: %s\n", err.message);
        free(m);
        return 2;
    }
    if (m->f.help || m->f.version) {
        if (m->f.help)
            mgrflags_usage(stdout);
        else
            printf("grace-operator %s\n", GRACE_VERSION);
        free(m);
        return 0;
    }
    if (init_logging(m, &err) != KERR_OK) {
        fprintf(stderr, "grace-operator: %s\n", err.message);
        free(m);
        return 2;
    }
    mem_tune();
    install_signals();
    make_identity(m);
    /* No "starting" line: a start-up failure is then the one line below
     * (the reason a CrashLoopBackOff shows), success is "started". */
    enum kerr e = setup(m, &err);
    if (e == KERR_OK) {
        log_msg(LOG_INFO, "grace-operator started", "version", GRACE_VERSION, "identity",
                m->identity, LOG_END);
        run_loop(m);
    } else if (e != KERR_STOPPED) {
        log_msg(LOG_ERROR, "start-up failed", "error", err.message, "kind", kerr_strerror(e),
                "version", GRACE_VERSION, LOG_END);
        rc = 1;
    }
    shutdown_all(m, e == KERR_OK);
    if (atomic_load(&m->lost_lease))
        rc = 1;
    if (e == KERR_OK || e == KERR_STOPPED) /* a failed start-up is its one line */
        log_msg(LOG_INFO, "stopped", LOG_END);
    free(m);
    return rc;
}
