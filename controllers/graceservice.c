/*
 * graceservice: the reconcile loop of one GraceService (see graceservice.h):
 * finalizer first, then render -> claims -> database -> apply -> prune ->
 * readiness -> status, through the concern modules below it (gsapply.c,
 * gsdb.c, gskafka.c, gsstatus.c), which share gsrun.h and never call back
 * up here. Also: the event handlers that map objects to keys, and the
 * fingerprint that lets an unchanged reconcile return at once.
 */
#include "graceservice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gsapply.h"
#include "gsclaims.h"
#include "gsdb.h"
#include "gskafka.h"
#include "gsrun.h"
#include "gsstatus.h"
#include "gstopics.h"
#include "khash.h"
#include "gsmigrate.h"
#include "gstrace.h"
#include "kobj.h"
#include "ktime.h"
#include "log.h"

#define GS_CHILD_EVENT_DELAY_MS 200

/* ---- controller and workers ---- */

struct gs_controller *gs_controller_new(const struct gs_deps *deps)
{
    struct gs_controller *c = kerr_xcalloc(1, sizeof *c);
    c->d = *deps;
    c->tmpl_config = deps->cfg.templates ? json_deep_copy(deps->cfg.templates) : json_object();
    struct childkind *kt = childkinds_by_kind(deps->kinds, "KafkaTopic");
    if (kt && kt->served) {
        char av[64];
        childkinds_api_version(kt, av, sizeof av);
        json_t *kafka = json_object_get(c->tmpl_config, "kafka");
        if (json_is_object(kafka))
            json_object_set_new(kafka, "apiVersion", json_string(av));
    }
    const char *bd = deps->cfg.base_domain;
    snprintf(c->base_domain, sizeof c->base_domain, "%s", bd ? bd : "");
    for (size_t i = 0; i < childkinds_count(deps->kinds); i++)
        if (deps->child_inf[i])
            gs_child_indexes(deps->child_inf[i]);
    pthread_mutex_init(&c->admin_mu, NULL);
    pthread_mutex_init(&c->status_mu, NULL);
    c->status_times = json_object();
    c->db_verified = json_object();
    c->settled = json_object();
    gsclaims_add_indexes(deps->gs_inf);
    gstopics_add_index(deps->gs_inf);
    return c;
}

void gs_controller_free(struct gs_controller *c)
{
    if (!c)
        return;
    json_decref(c->tmpl_config);
    json_decref(c->admin_secret);
    pthread_mutex_destroy(&c->admin_mu);
    json_decref(c->status_times);
    json_decref(c->db_verified);
    json_decref(c->settled);
    pthread_mutex_destroy(&c->status_mu);
    free(c);
}

enum kerr gs_worker_new(struct gs_controller *c, struct gs_worker **out, struct kerr_info *err)
{
    struct render *r = NULL;
    enum kerr e = render_new(c->d.templates_dir, &r, err);
    if (e != KERR_OK)
        return e;
    struct gs_worker *w = kerr_xcalloc(1, sizeof *w);
    w->c = c;
    w->render = r;
    w->pg = pg_conn_new();
    *out = w;
    return KERR_OK;
}

void gs_worker_free(struct gs_worker *w)
{
    if (!w)
        return;
    render_free(w->render);
    pg_conn_free(w->pg);
    free(w);
}

void gs_worker_idle(struct gs_worker *w)
{
    render_collect(w->render);
}

/* ---- event handlers: map objects to GraceService keys ---- */

static void enqueue_obj(struct gs_controller *c, const struct kobj *o)
{
    char key[512];
    snprintf(key, sizeof key, "%s/%s", kobj_namespace(o), kobj_name(o));
    wq_add(c->q, key);
}

/* ---- skip a reconcile whose inputs did not change ----
 *
 * When a reconcile converged (GS_DONE with nothing left waiting) or only
 * waits to write a progress-only status change (gsstatus.c), the
 * fingerprint of what it saw and wrote is kept: the GraceService's
 * resourceVersion and every child's kind, name and resourceVersion. A later
 * reconcile whose cache gives the same fingerprint would do the same work
 * to the same end (the echo of our own writes, a requeue that is no longer
 * needed), so it returns at once: GS_DONE, or, while the status write is
 * still waiting, a requeue for the time left (then it runs in full). What
 * the fingerprint cannot see forces a full reconcile: a claim freed by
 * another service drops the entry (enqueue_claimants), and with a database
 * the entry expires every GS_DB_RECHECK_MS, so a dropped role is still
 * noticed. */
#define GS_DB_RECHECK_MS 20000

static uint64_t settled_fp(const char *gs_rv, uint64_t children, bool db)
{
    uint64_t h = khash_str(children ^ 0x2545f4914f6cdd1dull, gs_rv);
    if (db)
        h = khash_step(h, (uint64_t)(ktime_mono_ms() / GS_DB_RECHECK_MS));
    return (h & ~(uint64_t)1) | (db ? 1u : 0u); /* bit 0: the entry expires */
}

/* The entry: the fingerprint (an integer), or [fingerprint, until] while a
 * status write waits until `until` (monotonic ms). */
static void settled_set(struct gs_controller *c, const char *key, const uint64_t *fp,
                        long long until)
{
    pthread_mutex_lock(&c->status_mu);
    if (!fp)
        json_object_del(c->settled, key);
    else if (until > 0)
        json_object_set_new(c->settled, key,
                            json_pack("[I, I]", (json_int_t)*fp, (json_int_t)until));
    else
        json_object_set_new(c->settled, key, json_integer((json_int_t)*fp));
    pthread_mutex_unlock(&c->status_mu);
}

/* True when nothing changed since the recorded run; *left_ms > 0 when that
 * run was waiting and the wait is not over. */
static bool settled_unchanged(struct gs_controller *c, const char *key, const struct kobj *o,
                              long *left_ms)
{
    pthread_mutex_lock(&c->status_mu);
    json_t *v = json_object_get(c->settled, key);
    json_t *f = json_is_array(v) ? json_array_get(v, 0) : v;
    uint64_t want = f ? (uint64_t)json_integer_value(f) : 0;
    long long until = json_integer_value(json_array_get(v, 1));
    pthread_mutex_unlock(&c->status_mu);
    *left_ms = 0;
    if (!v || kobj_deleting(o))
        return false;
    if (settled_fp(kobj_resource_version(o), gs_fp_cached(c, key), want & 1) != want)
        return false;
    if (until > 0) {
        long long left = until - ktime_mono_ms();
        if (left <= 0)
            return false; /* the wait is over: write it */
        *left_ms = (long)left;
    }
    return true;
}

/* Keep the fingerprint of this run (until: see settled_set). */
static void settled_record(struct gs_run *r, long long until)
{
    uint64_t children;
    if (!gs_fp_run(r, &children)) {
        settled_set(r->c, r->key, NULL, 0);
        return;
    }
    const char *rv = r->gs_rv[0] ? r->gs_rv : gs_meta(r->gs, "resourceVersion");
    uint64_t fp = settled_fp(rv, children, r->cs[GC_DATABASE].enabled);
    settled_set(r->c, r->key, &fp, until);
}

static void enqueue_key_full(struct gs_controller *c, const struct kobj *o)
{
    char key[512];
    snprintf(key, sizeof key, "%s/%s", kobj_namespace(o), kobj_name(o));
    settled_set(c, key, NULL, 0);
    wq_add(c->q, key);
}

/* Requeue every other claimant of this object's hostname and topics (a
 * claim may have been freed). */
static void enqueue_claimants(struct gs_controller *c, const struct kobj *o)
{
    json_t *gs = kobj_json(o);
    const char *host = gsclaims_hostname(gs);
    struct kobj **objs = NULL;
    size_t n = kinformer_by_index(c->d.gs_inf, GSCLAIMS_INDEX_HOST, host, &objs);
    for (size_t i = 0; i < n; i++) {
        if (objs[i] != o)
            enqueue_key_full(c, objs[i]);
        kobj_unref(objs[i]);
    }
    free(objs);
    const json_t *topics = json_object_get(gs_spec(gs, "kafka"), "topics");
    size_t i;
    json_t *t;
    json_array_foreach(topics, i, t)
    {
        const char *tn = json_string_value(json_object_get(t, "name"));
        objs = NULL;
        n = tn ? kinformer_by_index(c->d.gs_inf, GSCLAIMS_INDEX_TOPIC, tn, &objs) : 0;
        for (size_t j = 0; j < n; j++) {
            enqueue_key_full(c, objs[j]);
            kobj_unref(objs[j]);
        }
        free(objs);
    }
    json_decref(gs);
}

static void enqueue_full_fn(void *ctx, const struct kobj *o)
{
    enqueue_key_full(ctx, o);
}

/* A producer appeared, changed or is going: its consumers' warnings
 * (gstopics) may change, which their fingerprints cannot see. */
static void enqueue_consumers(struct gs_controller *c, const struct kobj *o)
{
    json_t *gs = kobj_json(o);
    if (gs)
        gstopics_foreach_consumer(c->d.gs_inf, gs, enqueue_full_fn, c);
    json_decref(gs);
}

static void gs_on_add(void *ctx, const struct kobj *o)
{
    enqueue_obj(ctx, o);
    enqueue_consumers(ctx, o);
}

/* Our own status writes change neither generation nor metadata we act on:
 * skipping them avoids a self-triggered reconcile storm. */
static void gs_on_update(void *ctx, const struct kobj *old, const struct kobj *o)
{
    if (old == o)
        return; /* the echo of our own write (kinformer.h): nothing new */
    if (kobj_generation(old) != kobj_generation(o) || kobj_deleting(old) != kobj_deleting(o)) {
        enqueue_obj(ctx, o);
        /* a hostname or topic it held may be free now */
        if (kobj_generation(old) != kobj_generation(o))
            enqueue_claimants(ctx, old);
        enqueue_consumers(ctx, old);
        enqueue_consumers(ctx, o);
    } else {
        /* finalizers, and annotations (a "reconcile now" poke such as
         * grace.dev/reconcile-requested-at) also count; read without a
         * tree unless their texts differ */
        static const char *const keys[] = {"finalizers", "annotations"};
        if (!kobj_meta_members_same(old, o, keys, 2))
            enqueue_obj(ctx, o);
    }
}

static void gs_on_delete(void *ctx, const struct kobj *o)
{
    enqueue_obj(ctx, o); /* clears its metrics */
    enqueue_claimants(ctx, o);
    enqueue_consumers(ctx, o);
}

static void child_enqueue(struct gs_controller *c, const struct kobj *o)
{
    const char *svc = kobj_label(o, "grace.dev/service");
    const char *ns = kobj_label(o, "grace.dev/namespace");
    if (!svc || !ns)
        return;
    char key[512];
    snprintf(key, sizeof key, "%s/%s", ns, svc);
    /* Children change in bursts (a controller updates several at once);
     * a short delay lets one reconcile see the whole burst. */
    wq_add_after(c->q, key, GS_CHILD_EVENT_DELAY_MS);
}

static void child_on_add(void *ctx, const struct kobj *o)
{
    child_enqueue(ctx, o);
}

static void child_on_update(void *ctx, const struct kobj *old, const struct kobj *o)
{
    if (old != o) /* else the echo of our own write (kinformer.h) */
        child_enqueue(ctx, o);
}

static void child_on_delete(void *ctx, const struct kobj *o)
{
    child_enqueue(ctx, o);
}

void gs_controller_watch(struct gs_controller *c, struct wq *q)
{
    c->q = q;
    struct kinformer_handlers gh = {
        .on_add = gs_on_add, .on_update = gs_on_update, .on_delete = gs_on_delete, .ctx = c};
    kinformer_add_handlers(c->d.gs_inf, &gh);
    struct kinformer_handlers ch = {.on_add = child_on_add,
                                    .on_update = child_on_update,
                                    .on_delete = child_on_delete,
                                    .ctx = c};
    for (size_t i = 0; i < childkinds_count(c->d.kinds); i++)
        if (c->d.child_inf[i])
            kinformer_add_handlers(c->d.child_inf[i], &ch);
}

/* ---- finalizer ---- */

static bool has_finalizer(const json_t *gs)
{
    const json_t *f = json_object_get(json_object_get(gs, "metadata"), "finalizers");
    size_t i;
    json_t *v;
    json_array_foreach(f, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), GS_FINALIZER) == 0)
            return true;
    }
    return false;
}

/* Add or remove our finalizer with a merge patch carrying the
 * resourceVersion: a concurrent change gives 409 and we retry. */
static enum kerr patch_finalizers(struct gs_run *r, bool add, struct kerr_info *err)
{
    const json_t *old = json_object_get(json_object_get(r->gs, "metadata"), "finalizers");
    json_t *list = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(old, i, v)
    {
        if (!(json_is_string(v) && strcmp(json_string_value(v), GS_FINALIZER) == 0))
            json_array_append(list, v);
    }
    if (add)
        json_array_append_new(list, json_string(GS_FINALIZER));
    json_t *patch = json_pack("{s:{s:o, s:s}}", "metadata", "finalizers", list, "resourceVersion",
                              gs_meta(r->gs, "resourceVersion"));
    struct kres res = {"grace.dev", "v1alpha1", "graceservices"};
    json_t *out = NULL;
    enum kerr e = kclient_merge_patch(r->c->d.client, &res, r->ns, r->name, NULL, patch, &out, err);
    json_decref(patch);
    if (e == KERR_OK) {
        kinformer_apply_write(r->c->d.gs_inf, out);
        json_decref(r->gs);
        r->gs = out;
        r->ns = gs_meta(r->gs, "namespace");
        r->name = gs_meta(r->gs, "name");
    }
    return e;
}

/* Deletion: children outside the namespace, then the database (per its
 * deletionPolicy), then the finalizer. Same-namespace children go with the
 * garbage collector. */
static enum gs_result finalize(struct gs_run *r, long *after_ms)
{
    struct kerr_info err = {0};
    if (!has_finalizer(r->gs))
        return GS_DONE;
    bool remaining = false;
    enum kerr e = gs_delete_foreign_children(r, &remaining);
    if (e != KERR_OK)
        return GS_RETRY;
    if (remaining) {
        *after_ms = 1000;
        return GS_REQUEUE_AFTER;
    }
    if (gs_spec(r->gs, "postgres") && gs_db_cleanup(r, &err) != KERR_OK) {
        log_msg(LOG_WARN, "database cleanup failed; keeping the finalizer", "reason", err.reason,
                "error", err.message, LOG_END);
        if (r->c->d.rec)
            krecorder_event(r->c->d.rec, r->gs, "Warning", "CleanupFailed", "Delete",
                            "database cleanup failed: %s", err.message);
        return GS_RETRY;
    }
    e = patch_finalizers(r, false, &err);
    if (e != KERR_OK && e != KERR_NOTFOUND) {
        log_msg(LOG_WARN, "removing the finalizer failed", "error", err.message, LOG_END);
        return GS_RETRY;
    }
    log_msg(LOG_INFO, "cleaned up", LOG_END);
    return GS_DONE;
}

/* ---- render and claims ---- */

static void drop_concern(struct gs_run *r, enum gs_concern which)
{
    for (size_t i = json_array_size(r->desired); i-- > 0;)
        if (gs_desired_concern(r, i) == which)
            gs_desired_remove(r, i);
}

static void drop_topic(struct gs_run *r, const char *topic)
{
    for (size_t i = json_array_size(r->desired); i-- > 0;) {
        json_t *o = json_array_get(r->desired, i);
        const char *kind = json_string_value(json_object_get(o, "kind"));
        const json_t *spec = json_object_get(o, "spec");
        const char *tn = json_string_value(json_object_get(spec, "topicName"));
        if (!tn)
            tn = gs_meta(o, "name");
        if (kind && strcmp(kind, "KafkaTopic") == 0 && strcmp(tn, topic) == 0)
            gs_desired_remove(r, i);
    }
}

static void apply_claims(struct gs_run *r)
{
    char winner[512];
    struct kinformer *inf = r->c->d.gs_inf;
    if (gsclaims_loses(inf, GSCLAIMS_INDEX_HOST, gsclaims_hostname(r->gs), r->gs, winner,
                       sizeof winner)) {
        drop_concern(r, GC_ROUTE);
        drop_concern(r, GC_CERT);
        drop_concern(r, GC_TAILSCALE);
        static const enum gs_concern hit[] = {GC_ROUTE, GC_CERT, GC_TAILSCALE};
        for (size_t i = 0; i < sizeof hit / sizeof hit[0]; i++)
            gs_concern_fail(&r->cs[hit[i]], true, "HostnameConflict",
                            "hostname %s is already claimed by the older GraceService %s",
                            gsclaims_hostname(r->gs), winner);
    }
    const json_t *topics = json_object_get(gs_spec(r->gs, "kafka"), "topics");
    size_t i;
    json_t *t;
    json_array_foreach(topics, i, t)
    {
        const char *tn = json_string_value(json_object_get(t, "name"));
        if (tn && gsclaims_loses(inf, GSCLAIMS_INDEX_TOPIC, tn, r->gs, winner, sizeof winner)) {
            drop_topic(r, tn);
            gs_concern_fail(&r->cs[GC_KAFKA], true, "TopicConflict",
                            "topic %s is already owned by the older GraceService %s", tn, winner);
        }
    }
}

static void mark_enabled(struct gs_run *r)
{
    r->cs[GC_WORKLOAD].enabled = true;
    r->cs[GC_ROUTE].enabled = gs_enabled(r->gs, "ingress", true);
    r->cs[GC_CERT].enabled = gs_enabled(r->gs, "tls", true) && r->cs[GC_ROUTE].enabled;
    r->cs[GC_TAILSCALE].enabled = gs_enabled(r->gs, "tailscale", true) && r->c->d.cfg.tailscale;
    r->cs[GC_DATABASE].enabled = gs_spec(r->gs, "postgres") != NULL;
    r->cs[GC_KAFKA].enabled = gs_spec(r->gs, "kafka") != NULL;
    r->cs[GC_BACKUP].enabled = r->c->d.cfg.backup && gs_enabled(r->gs, "backup", true);
    const json_t *eg = json_object_get(gs_spec(r->gs, "egress"), "restricted");
    r->cs[GC_EGRESS].enabled = json_is_true(eg);
    r->cs[GC_MIGRATIONS].enabled = json_is_object(gs_spec(r->gs, "migrations"));
    for (int i = 0; i < GC__N; i++)
        r->cs[i].state = READY_TRUE;
}

static bool render_children(struct gs_run *r)
{
    struct kerr_info err = {0};
    json_t *objs = NULL, *from = NULL;
    struct ktrace_span *sp = gs_trace_step("render");
    enum kerr e = render_objects_from(r->w->render, r->gs, r->c->tmpl_config, &objs, &from, &err);
    if (e == KERR_OK)
        e = render_finish(r->gs, objs, &err);
    ktrace_set_int(sp, "grace.children", (long long)json_array_size(objs));
    gs_trace_step_end(sp, e != KERR_OK, err.message);
    if (e != KERR_OK) {
        json_decref(objs);
        json_decref(from);
        r->stalled = true;
        snprintf(r->stalled_reason, sizeof r->stalled_reason, "TemplateError");
        snprintf(r->stalled_message, sizeof r->stalled_message, "%s", err.message);
        log_msg(LOG_ERROR, "template failed", "error", err.message, LOG_END);
        if (r->c->d.rec)
            krecorder_event(r->c->d.rec, r->gs, "Warning", "TemplateError", "Render", "%s",
                            err.message);
        return false;
    }
    gs_desired_rendered(r, objs, from);
    json_decref(from);
    return true;
}

/* ---- the reconcile ---- */

static enum gs_result reconcile_live(struct gs_run *r, long *after_ms)
{
    struct kerr_info err = {0};
    if (!has_finalizer(r->gs)) {
        enum kerr e = patch_finalizers(r, true, &err);
        if (e != KERR_OK) {
            log_msg(LOG_WARN, "adding the finalizer failed", "error", err.message, LOG_END);
            return GS_RETRY;
        }
    }
    r->generation =
        json_integer_value(json_object_get(json_object_get(r->gs, "metadata"), "generation"));
    mark_enabled(r);
    r->status_extra = json_object();
    if (render_children(r)) {
        apply_claims(r);
        if (r->cs[GC_DATABASE].enabled) {
            struct ktrace_span *sp = gs_trace_step("postgres");
            gs_db_ensure(r);
            gs_trace_step_end(sp, r->cs[GC_DATABASE].state == READY_FALSE,
                              r->cs[GC_DATABASE].message);
        }
        if (r->cs[GC_MIGRATIONS].enabled) {
            struct ktrace_span *sp = gs_trace_step("migrations");
            gs_migrate_gate(r);
            ktrace_set_str(sp, "grace.migrations.reason", r->cs[GC_MIGRATIONS].reason);
            gs_trace_step_end(sp, r->cs[GC_MIGRATIONS].state == READY_FALSE,
                              r->cs[GC_MIGRATIONS].message);
        }
        gs_apply_children(r);
        if (r->cs[GC_KAFKA].enabled) {
            gs_kafka_secret(r);
            gs_apply_children(r);
        }
        gs_eval_children(r);
        gstopics_check(r, json_object_get(json_object_get(r->c->tmpl_config, "kafka"),
                                          "externalTopics"));
        gs_prune_children(r); /* after eval: credentials wait for WorkloadReady */
    }
    bool ready = false;
    long status_after = 0;
    if (gs_write_status(r, &ready, &status_after) != KERR_OK)
        return GS_RETRY;
    if (r->write_failed || r->cs[GC_DATABASE].state == READY_FALSE) {
        if (!r->cs[GC_DATABASE].terminal)
            return GS_RETRY;
    }
    if (r->write_failed || r->poll_ms > 0 || r->gs_changed)
        settled_set(r->c, r->key, NULL, 0);
    else
        settled_record(r, status_after > 0 ? ktime_mono_ms() + status_after : 0);
    if (r->poll_ms > 0 && (status_after <= 0 || r->poll_ms < status_after))
        status_after = r->poll_ms;
    if (status_after > 0) {
        *after_ms = status_after;
        return GS_REQUEUE_AFTER;
    }
    return GS_DONE;
}

/* "2026-11-28T13:00:00Z" as Unix seconds; 0 if it does not parse. */
static double unix_seconds(const char *rfc3339)
{
    double t = 0;
    return ktime_parse_rfc3339(rfc3339, &t) ? t : 0;
}

static enum gs_result reconcile_key(struct gs_controller *c, struct gs_worker *w,
                                    const char *key, long *after_ms, const char **outcome);

enum gs_result gs_reconcile(struct gs_controller *c, struct gs_worker *w, const char *key,
                            long *after_ms)
{
    struct ktrace_span *span = gs_trace_begin(c->d.tracer, key);
    const char *outcome = NULL;
    enum gs_result res = reconcile_key(c, w, key, after_ms, &outcome);
    if (!outcome)
        outcome = res == GS_DONE ? "done" : res == GS_RETRY ? "retry" : "requeue";
    gs_trace_end(span, outcome);
    return res;
}

static enum gs_result reconcile_key(struct gs_controller *c, struct gs_worker *w,
                                    const char *key, long *after_ms, const char **outcome)
{
    char ns[256], name[256];
    const char *slash = strchr(key, '/');
    if (!slash || (size_t)(slash - key) >= sizeof ns || strlen(slash + 1) >= sizeof name)
        return GS_DONE;
    snprintf(ns, sizeof ns, "%.*s", (int)(slash - key), key);
    snprintf(name, sizeof name, "%s", slash + 1);
    struct kobj *o = kinformer_get(c->d.gs_inf, ns, name);
    if (!o) {
        gs_status_forget(c, key);
        if (c->d.metrics.service_delete)
            c->d.metrics.service_delete(c->d.metrics.ctx, ns, name);
        return GS_DONE;
    }
    long left = 0;
    if (settled_unchanged(c, key, o, &left)) {
        log_msg(LOG_DEBUG, "nothing changed since the last reconcile", LOG_END);
        *outcome = "unchanged";
        kobj_unref(o);
        *after_ms = left;
        return left > 0 ? GS_REQUEUE_AFTER : GS_DONE;
    }
    struct gs_run r = {.c = c, .w = w};
    r.gs = kobj_json(o);
    kobj_unref(o);
    if (!r.gs) { /* the cached text does not parse (kobj.h): nothing to act on */
        log_msg(LOG_ERROR, "cached GraceService is unreadable; skipped", "key", key, LOG_END);
        return GS_DONE;
    }
    r.ns = gs_meta(r.gs, "namespace");
    r.name = gs_meta(r.gs, "name");
    snprintf(r.key, sizeof r.key, "%s", key);
    gs_trace_service(r.gs);
    enum gs_result res;
    if (*gs_meta(r.gs, "deletionTimestamp")) {
        if (c->d.metrics.service_deleting)
            c->d.metrics.service_deleting(c->d.metrics.ctx, r.ns, r.name,
                                          unix_seconds(gs_meta(r.gs, "deletionTimestamp")));
        res = finalize(&r, after_ms);
    } else {
        res = reconcile_live(&r, after_ms);
    }
    if (res == GS_RETRY || *gs_meta(r.gs, "deletionTimestamp"))
        settled_set(c, key, NULL, 0); /* else recorded by reconcile_live */
    json_decref(r.desired);
    json_decref(r.concerns);
    json_decref(r.live);
    json_decref(r.status_extra);
    json_decref(r.gs);
    return res;
}

/* ---- admission ---- */

char *gs_admission_check(struct gs_controller *c, const json_t *gs)
{
    char winner[512], msg[1024];
    if (gsclaims_loses(c->d.gs_inf, GSCLAIMS_INDEX_HOST, gsclaims_hostname(gs), gs, winner,
                       sizeof winner)) {
        snprintf(msg, sizeof msg,
                 "spec.hostname: \"%s\" is already taken by GraceService %s; choose another "
                 "hostname",
                 gsclaims_hostname(gs), winner);
        return kerr_xstrdup(msg);
    }
    const json_t *topics = json_object_get(gs_spec(gs, "kafka"), "topics");
    size_t i;
    json_t *t;
    json_array_foreach(topics, i, t)
    {
        const char *tn = json_string_value(json_object_get(t, "name"));
        if (tn &&
            gsclaims_loses(c->d.gs_inf, GSCLAIMS_INDEX_TOPIC, tn, gs, winner, sizeof winner)) {
            snprintf(msg, sizeof msg,
                     "spec.kafka.topics[%zu].name: topic \"%s\" is owned by GraceService %s", i, tn,
                     winner);
            return kerr_xstrdup(msg);
        }
    }
    return NULL;
}
