/*
 * gsapply: the children of one GraceService: server-side apply of what
 * differs from the cache, pruning of what is no longer desired, readiness
 * per concern, and (on deletion) removal of the children the garbage
 * collector cannot see (other namespaces). See gsapply.h.
 */
#include "gsapply.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "childdiff.h"
#include "khash.h"
#include "kobj.h"
#include "log.h"

static size_t owner_index(const struct kobj *o, char keys[][256], size_t max)
{
    const char *ns = kobj_label(o, "grace.dev/namespace");
    const char *svc = kobj_label(o, "grace.dev/service");
    if (!ns || !svc || max < 1)
        return 0;
    snprintf(keys[0], 256, "%s/%s", ns, svc);
    return 1;
}

void gs_child_indexes(struct kinformer *inf)
{
    kinformer_add_meta_index(inf, GS_OWNER_INDEX, owner_index);
}

/* ---- apply ---- */

/* Apply one child; returns the live object as known afterwards (new
 * reference, or NULL when it does not exist / could not be read). */
static json_t *apply_one(struct gs_run *r, size_t i)
{
    json_t *obj = json_array_get(r->desired, i);
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *ns = gs_meta(obj, "namespace"), *name = gs_meta(obj, "name");
    struct gs_concern_state *cs = &r->cs[gs_desired_concern(r, i)];
    cs->has_children = true;
    struct childkind *k = NULL;
    struct kinformer *inf = gs_child_informer(r->c, av, kind, &k);
    if (!k || !inf) {
        gs_concern_fail(cs, true, "KindNotServed",
                        "%s %s: the API server does not serve %s (install its CRD, then restart "
                        "the operator)",
                        kind, name, av);
        return NULL;
    }
    struct kobj *cached = kinformer_get(inf, ns, name);
    json_t *live = cached ? kobj_json(cached) : NULL;
    kobj_unref(cached);
    if (childdiff_matches(obj, live))
        return live;
    struct kres res;
    childkinds_kres(k, &res);
    json_t *out = NULL;
    struct kerr_info err = {0};
    /* Force only over objects we already manage (they are in our
     * label-selected cache): never take over someone else's object. */
    enum kerr e = kclient_apply(r->c->d.client, &res, ns, name, NULL, obj, GS_FIELD_MANAGER,
                                cached != NULL, &out, &err);
    if (e == KERR_OK) {
        kinformer_apply_write(inf, out);
        json_decref(live);
        log_msg(LOG_DEBUG, "applied child", "kind", kind, "child", name, LOG_END);
        return out;
    }
    r->write_failed = true;
    if (e == KERR_CONFLICT)
        gs_concern_fail(cs, true, "ChildConflict",
                        "%s %s/%s exists and is managed by another owner: %s", kind, ns, name,
                        err.message);
    else
        gs_concern_fail(cs, e == KERR_INVALID || e == KERR_BADREQUEST, "ApplyFailed",
                        "applying %s %s/%s failed: %s: %s", kind, ns, name, kerr_strerror(e),
                        err.message);
    log_msg(LOG_WARN, "apply failed", "kind", kind, "child", name, "error", err.message, LOG_END);
    return live;
}

void gs_apply_children(struct gs_run *r)
{
    if (!r->live)
        r->live = json_array();
    /* only what was added to desired since the last call */
    for (size_t i = json_array_size(r->live); i < json_array_size(r->desired); i++) {
        json_t *live = apply_one(r, i);
        json_array_append_new(r->live, live ? live : json_null());
    }
}

/* ---- prune ---- */

static bool is_desired(const json_t *desired, const struct kobj *o, const char *kind)
{
    size_t i;
    json_t *d;
    json_array_foreach(desired, i, d)
    {
        const char *dk = json_string_value(json_object_get(d, "kind"));
        if (dk && strcmp(dk, kind) == 0 && strcmp(gs_meta(d, "name"), kobj_name(o)) == 0 &&
            strcmp(gs_meta(d, "namespace"), kobj_namespace(o)) == 0)
            return true;
    }
    return false;
}

static void delete_child(struct gs_run *r, size_t ki, const struct kobj *o)
{
    struct childkind *k = childkinds_at(r->c->d.kinds, ki);
    struct kres res;
    childkinds_kres(k, &res);
    struct kerr_info err = {0};
    enum kerr e = kclient_delete(r->c->d.client, &res, kobj_namespace(o), kobj_name(o),
                                 "Background", kobj_uid(o), NULL, NULL, &err);
    if (e == KERR_OK || e == KERR_NOTFOUND) {
        log_msg(LOG_INFO, "pruned child", "kind", k->kind, "child", kobj_name(o), LOG_END);
        return;
    }
    r->write_failed = true;
    log_msg(LOG_WARN, "prune failed", "kind", k->kind, "child", kobj_name(o), "error", err.message,
            LOG_END);
}

/* Call fn for every cached child of this GraceService, of every kind. */
static void foreach_child(struct gs_run *r,
                          void (*fn)(struct gs_run *, size_t, const struct kobj *, void *),
                          void *ctx)
{
    for (size_t ki = 0; ki < childkinds_count(r->c->d.kinds); ki++) {
        struct kinformer *inf = r->c->d.child_inf[ki];
        if (!inf)
            continue;
        struct kobj **objs = NULL;
        size_t n = kinformer_by_index(inf, GS_OWNER_INDEX, r->key, &objs);
        for (size_t i = 0; i < n; i++) {
            fn(r, ki, objs[i], ctx);
            kobj_unref(objs[i]);
        }
        free(objs);
    }
}

/* Replacement first: true while a desired child of `kind` in namespace `ns`
 * does not exist (its apply failed, or its kind is not served). An unwanted
 * child of that kind there is then kept: when a child is renamed (an upgrade
 * from the <ns>-<name> Schedule or KafkaUser to grace.unique_name), the old
 * one goes only once the new one exists. */
static bool replacement_missing(const struct gs_run *r, const char *kind, const char *ns)
{
    size_t i;
    json_t *d;
    json_array_foreach(r->desired, i, d)
    {
        const char *dk = json_string_value(json_object_get(d, "kind"));
        if (dk && strcmp(dk, kind) == 0 && strcmp(gs_meta(d, "namespace"), ns) == 0 &&
            !json_is_object(json_array_get(r->live, i)))
            return true;
    }
    return false;
}

/* Credentials the workload may still use: the KafkaUser and any Secret of
 * this service (the copy of the KafkaUser's, the database's). Pods that
 * started with the old user name and Secret keep running until the
 * Deployment has rolled out, so these wait for WorkloadReady (evaluated
 * before the prune). No name rule decides it: an undesired Secret is
 * removed once nothing old can still mount it. */
static bool credential_in_use(const struct gs_run *r, const char *kind)
{
    if (r->cs[GC_WORKLOAD].state == READY_TRUE)
        return false;
    return strcmp(kind, "KafkaUser") == 0 || strcmp(kind, "Secret") == 0;
}

static void prune_fn(struct gs_run *r, size_t ki, const struct kobj *o, void *ctx)
{
    (void)ctx;
    const char *kind = childkinds_at(r->c->d.kinds, ki)->kind;
    if (kobj_deleting(o) || is_desired(r->desired, o, kind))
        return;
    if (replacement_missing(r, kind, kobj_namespace(o)) || credential_in_use(r, kind)) {
        log_msg(LOG_DEBUG, "prune deferred", "kind", kind, "child", kobj_name(o), LOG_END);
        return;
    }
    delete_child(r, ki, o);
}

void gs_prune_children(struct gs_run *r)
{
    if (r->hold_prune)
        return;
    foreach_child(r, prune_fn, NULL);
}

/* ---- foreign children on deletion ---- */

struct foreign_ctx {
    bool remaining;
    bool failed;
};

static void foreign_fn(struct gs_run *r, size_t ki, const struct kobj *o, void *ctx)
{
    struct foreign_ctx *f = ctx;
    if (strcmp(kobj_namespace(o), r->ns) == 0)
        return;
    f->remaining = true;
    if (kobj_deleting(o))
        return;
    bool before = r->write_failed;
    delete_child(r, ki, o);
    if (r->write_failed && !before)
        f->failed = true;
}

enum kerr gs_delete_foreign_children(struct gs_run *r, bool *remaining)
{
    struct foreign_ctx f = {false, false};
    foreach_child(r, foreign_fn, &f);
    *remaining = f.remaining;
    return f.failed ? KERR_IO : KERR_OK;
}

/* ---- readiness ---- */

static void fold(struct gs_concern_state *cs, const struct ready_result *rr)
{
    if (cs->state == READY_FALSE)
        return; /* keep the first failure */
    if (rr->state == READY_TRUE)
        return;
    if (rr->state == READY_PENDING && cs->state == READY_PENDING)
        return;
    cs->state = rr->state;
    snprintf(cs->reason, sizeof cs->reason, "%s", rr->reason);
    snprintf(cs->message, sizeof cs->message, "%s", rr->message);
}

void gs_eval_children(struct gs_run *r)
{
    size_t i;
    json_t *obj;
    json_array_foreach(r->desired, i, obj)
    {
        const char *av = json_string_value(json_object_get(obj, "apiVersion"));
        const char *kind = json_string_value(json_object_get(obj, "kind"));
        if (!gs_child_informer(r->c, av, kind, NULL))
            continue;
        const json_t *live = json_array_get(r->live, i); /* from gs_apply_children */
        struct ready_result rr;
        readiness_eval(json_is_object(live) ? live : NULL, kind, gs_meta(obj, "name"), &rr);
        fold(&r->cs[gs_desired_concern(r, i)], &rr);
    }
}

/* ---- fingerprint of the children (see gs_fp_cached) ---- */

static uint64_t fp_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static uint64_t fp_child(size_t ki, const char *ns, const char *name, const char *rv)
{
    uint64_t h = khash_step(KHASH_INIT, (uint64_t)ki);
    return fp_mix(khash_field(khash_field(khash_field(h, ns), name), rv));
}

/* The children as a set (order-free sum) plus their count. */
static uint64_t fp_finish(uint64_t sum, size_t n)
{
    return fp_mix(sum ^ fp_mix((uint64_t)n + 0x9e3779b97f4a7c15ull));
}

uint64_t gs_fp_cached(struct gs_controller *c, const char *key)
{
    uint64_t sum = 0;
    size_t count = 0;
    for (size_t ki = 0; ki < childkinds_count(c->d.kinds); ki++) {
        struct kinformer *inf = c->d.child_inf[ki];
        if (!inf)
            continue;
        struct kobj **objs = NULL;
        size_t n = kinformer_by_index(inf, GS_OWNER_INDEX, key, &objs);
        for (size_t i = 0; i < n; i++) {
            sum += fp_child(ki, kobj_namespace(objs[i]), kobj_name(objs[i]),
                            kobj_resource_version(objs[i]));
            kobj_unref(objs[i]);
        }
        free(objs);
        count += n;
    }
    return fp_finish(sum, count);
}

bool gs_fp_run(struct gs_run *r, uint64_t *out)
{
    uint64_t sum = 0;
    size_t i;
    json_t *obj;
    json_array_foreach(r->desired, i, obj)
    {
        const json_t *live = json_array_get(r->live, i);
        struct childkind *k = NULL;
        gs_child_informer(r->c, json_string_value(json_object_get(obj, "apiVersion")),
                          json_string_value(json_object_get(obj, "kind")), &k);
        if (!k || !json_is_object(live))
            return false;
        sum += fp_child((size_t)(k - childkinds_at(r->c->d.kinds, 0)), gs_meta(live, "namespace"),
                        gs_meta(live, "name"), gs_meta(live, "resourceVersion"));
    }
    *out = fp_finish(sum, json_array_size(r->desired));
    return true;
}
