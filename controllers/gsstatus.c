/*
 * gsstatus: GraceService status from one reconcile's concern states:
 * one condition per enabled concern, the aggregate Ready, Reconciling and
 * Stalled for GitOps tools (kstatus), observedGeneration, hostname, url.
 * Written with a merge patch on /status only when it changed; Events and
 * metrics follow the transitions.
 */
#include "gsstatus.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conditions.h"
#include "gsclaims.h"
#include "ktime.h"
#include "log.h"

static const char *state_str(enum ready_state s)
{
    return s == READY_TRUE ? "True" : "False";
}

/* Fill defaults for concerns that are ready or childless. */
static void settle_concerns(struct gs_run *r)
{
    struct gs_concern_state *ts = &r->cs[GC_TAILSCALE];
    if (ts->enabled && !ts->has_children && ts->state == READY_TRUE) {
        /* shared mode: the shared Traefik is on the tailnet; the service is
         * reachable there once its route is. */
        *ts = r->cs[GC_ROUTE];
        ts->enabled = true;
        if (ts->state == READY_TRUE)
            snprintf(ts->reason, sizeof ts->reason, "SharedIngress");
        snprintf(ts->message, sizeof ts->message, "reachable on the tailnet through the shared "
                                                  "ingress once the route is ready");
    }
    for (int i = 0; i < GC__N; i++) {
        struct gs_concern_state *s = &r->cs[i];
        if (s->state == READY_TRUE && !s->reason[0]) {
            snprintf(s->reason, sizeof s->reason, "Ready");
            snprintf(s->message, sizeof s->message, "%s",
                     s->has_children ? "all children are ready" : "nothing to provision");
        } else if (s->state == READY_PENDING && !s->reason[0]) {
            snprintf(s->reason, sizeof s->reason, "Progressing");
        }
    }
}

/* The aggregate: Ready, Reconciling, Stalled. */
static void aggregate(struct gs_run *r, json_t *conds, const json_t *old, const char *now)
{
    const char *ready = "True", *reason = "AllComponentsReady";
    char msg[600] = "all components are ready";
    bool stalled = r->stalled, progressing = false;
    const char *stall_reason = r->stalled_reason, *stall_msg = r->stalled_message;
    for (int i = 0; i < GC__N && !r->stalled; i++) {
        struct gs_concern_state *s = &r->cs[i];
        if (!s->enabled || s->state == READY_TRUE)
            continue;
        if (s->state == READY_FALSE && s->terminal && !stalled) {
            stalled = true;
            stall_reason = s->reason;
            stall_msg = s->message;
        }
        if (!s->terminal)
            progressing = true;
        if (strcmp(ready, "True") == 0) {
            ready = "False";
            reason = s->reason;
            snprintf(msg, sizeof msg, "%s: %s", gs_concern_type(i), s->message);
        }
    }
    if (r->stalled) {
        ready = "False";
        reason = r->stalled_reason;
        snprintf(msg, sizeof msg, "%s", r->stalled_message);
    }
    conditions_set(conds, old, "Ready", ready, reason, msg, r->generation, now);
    conditions_set(conds, old, "Reconciling", progressing && !stalled ? "True" : "False",
                   progressing && !stalled ? "Progressing" : "Idle",
                   progressing && !stalled ? msg : "", r->generation, now);
    conditions_set(conds, old, "Stalled", stalled ? "True" : "False",
                   stalled ? stall_reason : "Idle", stalled ? stall_msg : "", r->generation, now);
}

static json_t *build_conditions(struct gs_run *r, const json_t *old)
{
    char now[32];
    conditions_now(now);
    json_t *conds = json_array();
    aggregate(r, conds, old, now);
    if (!r->stalled) {
        for (int i = 0; i < GC__N; i++) {
            struct gs_concern_state *s = &r->cs[i];
            if (s->enabled)
                conditions_set(conds, old, gs_concern_type(i), state_str(s->state), s->reason,
                               s->message, r->generation, now);
        }
    } else {
        /* keep the previous per-concern conditions: nothing was evaluated */
        size_t i;
        json_t *c;
        json_array_foreach(old, i, c) {
            const char *t = json_string_value(json_object_get(c, "type"));
            if (t && !conditions_find(conds, t))
                json_array_append(conds, c);
        }
    }
    return conds;
}

static void status_fields(struct gs_run *r, json_t *st)
{
    const char *host = gsclaims_hostname(r->gs);
    char fqdn[512], url[600];
    if (r->c->base_domain[0])
        snprintf(fqdn, sizeof fqdn, "%s.%s", host, r->c->base_domain);
    else
        snprintf(fqdn, sizeof fqdn, "%s", host);
    json_object_set_new(st, "observedGeneration", json_integer(r->generation));
    json_object_set_new(st, "hostname", json_string(fqdn));
    if (r->cs[GC_ROUTE].enabled) {
        snprintf(url, sizeof url, "%s://%s", gs_enabled(r->gs, "tls", true) ? "https" : "http",
                 fqdn);
        json_object_set_new(st, "url", json_string(url));
    }
    size_t i;
    json_t *o;
    json_array_foreach(r->desired, i, o) {
        const char *kind = json_string_value(json_object_get(o, "kind"));
        if (kind && strcmp(kind, "KafkaUser") == 0) {
            json_object_set_new(st, "kafka", json_pack("{s:s, s:s}", "user", gs_meta(o, "name"),
                                                       "secretName", gs_meta(o, "name")));
            break;
        }
    }
    json_object_update(st, r->status_extra);
}

/* True when the condition `type` belongs to a concern that failed (as
 * opposed to one that is still progressing). */
static bool failed_concern(const struct gs_run *r, const char *type)
{
    if (strcmp(type, "Ready") == 0)
        return false;
    for (int i = 0; i < GC__N; i++)
        if (strcmp(gs_concern_type(i), type) == 0)
            return r->cs[i].state == READY_FALSE;
    return false;
}

static void emit_events(struct gs_run *r, const json_t *old, const json_t *conds)
{
    if (!r->c->d.rec)
        return;
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *status = json_string_value(json_object_get(c, "status"));
        const char *reason = json_string_value(json_object_get(c, "reason"));
        const json_t *p = conditions_find(old, type);
        const char *ps = json_string_value(json_object_get(p, "status"));
        const char *pr = json_string_value(json_object_get(p, "reason"));
        bool changed = !ps || strcmp(ps, status) != 0 || !pr || strcmp(pr, reason) != 0;
        if (!changed || !strcmp(type, "Reconciling") || !strcmp(type, "Stalled"))
            continue;
        bool good = strcmp(status, "True") == 0;
        if (!good && !failed_concern(r, type))
            continue; /* still progressing: no Warning for transient states */
        /* Ready after a reported wait or failure (ps: a Ready condition was
         * written before). A new service that is Ready by its first status
         * write gets no Event: its Ready condition's lastTransitionTime
         * says when, and the Event would be a second write saying the same. */
        if (!strcmp(type, "Ready") && good && ps)
            krecorder_event(r->c->d.rec, r->gs, "Normal", "Ready", "Reconcile",
                            "all components are ready");
        else if (!good)
            krecorder_event(r->c->d.rec, r->gs, "Warning", reason, "Reconcile", "%s: %s", type,
                            json_string_value(json_object_get(c, "message")));
    }
}

static bool status_same(const json_t *old_st, const json_t *st)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)st, k, v) {
        if (strcmp(k, "conditions") == 0) {
            if (!conditions_equal(json_object_get(old_st, k), v))
                return false;
        } else if (!json_equal(json_object_get(old_st, k), v)) {
            return false;
        }
    }
    json_object_foreach((json_t *)old_st, k, v) {
        if (!json_object_get(st, k))
            return false;
    }
    return true;
}

/* How long a progress-only status change waits before it is written (see
 * coalesce_ms). */
#define GS_STATUS_DEBOUNCE_MS 5000

void gs_status_forget(struct gs_controller *c, const char *key)
{
    pthread_mutex_lock(&c->status_mu);
    json_object_del(c->status_times, key);
    json_object_del(c->db_verified, key);
    json_object_del(c->settled, key);
    pthread_mutex_unlock(&c->status_mu);
}

/* Nothing is waiting to be written (the status was written, or it no
 * longer differs). */
static void status_settled(struct gs_run *r)
{
    pthread_mutex_lock(&r->c->status_mu);
    json_object_del(r->c->status_times, r->key);
    pthread_mutex_unlock(&r->c->status_mu);
}

/* The status the API server shows before our first write: the CRD's
 * default, observedGeneration 0 and nothing else. kstatus already reads it
 * as in progress (observedGeneration differs from generation), and
 * `kubectl wait --for=condition=Ready` waits, so a new service's first
 * progress report needs no prompt write of its own. */
static bool gs_status_is_default(const json_t *st)
{
    const json_t *og = json_object_get(st, "observedGeneration");
    return json_is_object(st) && json_object_size(st) == 1 && json_is_integer(og) &&
           json_integer_value(og) == 0;
}

/* Progress only: not Ready before and not Ready now, for the same
 * generation (or the status is still the CRD's default, above), nothing
 * failed or stalled -- only children getting ready one by one. Such a
 * change is debounced: it is written once it has waited
 * GS_STATUS_DEBOUNCE_MS (counted from the first reconcile that saw the
 * status differ; later changes do not push it back), so a burst of
 * children becoming ready costs no write when it ends in Ready, and a
 * service stuck half-way shows where within that time. Returns the ms left
 * to wait, else 0. The first status of a new generation (observedGeneration,
 * Reconciling=True), the first status on a server whose CRD has no default
 * status, failures and Ready are written at once. */
static long coalesce_ms(struct gs_run *r, const json_t *old_st, const json_t *conds)
{
    if (r->stalled || !old_st)
        return 0;
    for (int i = 0; i < GC__N; i++)
        if (r->cs[i].enabled && r->cs[i].state == READY_FALSE)
            return 0;
    const char *now_ready =
        json_string_value(json_object_get(conditions_find(conds, "Ready"), "status"));
    if (!now_ready || strcmp(now_ready, "False") != 0)
        return 0;
    if (!gs_status_is_default(old_st)) {
        const json_t *old_conds = json_object_get(old_st, "conditions");
        const char *was_ready =
            json_string_value(json_object_get(conditions_find(old_conds, "Ready"), "status"));
        json_int_t og = json_integer_value(json_object_get(old_st, "observedGeneration"));
        if (!was_ready || strcmp(was_ready, "False") != 0 || og != r->generation)
            return 0;
    }
    long long now = ktime_mono_ms();
    pthread_mutex_lock(&r->c->status_mu);
    json_t *t = json_object_get(r->c->status_times, r->key);
    long long since = t ? now - json_integer_value(t) : 0;
    if (!t)
        json_object_set_new(r->c->status_times, r->key, json_integer(now));
    pthread_mutex_unlock(&r->c->status_mu);
    return since < GS_STATUS_DEBOUNCE_MS ? (long)(GS_STATUS_DEBOUNCE_MS - since) : 0;
}

/* True when `after` (our status write's answer) differs from `before` (what
 * this reconcile worked from) only in status and write bookkeeping: then
 * its resourceVersion stands for what we saw. A merge patch on /status has
 * no precondition, so a spec or metadata change made meanwhile shows here. */
static bool only_status_differs(const json_t *before, const json_t *after)
{
    if (!json_equal(json_object_get(before, "spec"), json_object_get(after, "spec")))
        return false;
    const json_t *ma = json_object_get(before, "metadata");
    const json_t *mb = json_object_get(after, "metadata");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)mb, k, v) {
        if (strcmp(k, "resourceVersion") != 0 && strcmp(k, "managedFields") != 0 &&
            !json_equal(v, json_object_get(ma, k)))
            return false;
    }
    json_object_foreach((json_t *)ma, k, v) {
        if (strcmp(k, "resourceVersion") != 0 && strcmp(k, "managedFields") != 0 &&
            !json_object_get(mb, k))
            return false;
    }
    return true;
}

enum kerr gs_write_status(struct gs_run *r, bool *ready, long *after_ms)
{
    const json_t *old_st = json_object_get(r->gs, "status");
    const json_t *old = json_object_get(old_st, "conditions");
    if (!r->stalled)
        settle_concerns(r);
    json_t *st = json_object();
    status_fields(r, st);
    json_t *conds = build_conditions(r, old);
    json_object_set_new(st, "conditions", conds);
    const json_t *rc = conditions_find(conds, "Ready");
    *ready = strcmp(json_string_value(json_object_get(rc, "status")), "True") == 0;
    if (r->c->d.metrics.service_conditions)
        r->c->d.metrics.service_conditions(r->c->d.metrics.ctx, r->ns, r->name, conds);
    enum kerr e = KERR_OK;
    *after_ms = 0;
    bool same = status_same(old_st, st);
    if (same)
        status_settled(r);
    else if ((*after_ms = coalesce_ms(r, old_st, conds)) > 0) {
        json_decref(st);
        return KERR_OK;
    }
    if (!same) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)old_st, k, v) {
            if (!json_object_get(st, k))
                json_object_set_new(st, k, json_null());
        }
        emit_events(r, old, conds);
        json_t *patch = json_pack("{s:O}", "status", st);
        struct kres res = {"grace.dev", "v1alpha1", "graceservices"};
        json_t *out = NULL;
        struct kerr_info err = {0};
        e = kclient_merge_patch(r->c->d.client, &res, r->ns, r->name, "status", patch, &out, &err);
        json_decref(patch);
        if (e == KERR_OK) {
            kinformer_apply_write(r->c->d.gs_inf, out);
            if (only_status_differs(r->gs, out))
                snprintf(r->gs_rv, sizeof r->gs_rv, "%s", gs_meta(out, "resourceVersion"));
            else
                r->gs_changed = true; /* someone else changed it meanwhile */
            status_settled(r);
        }
        else if (e != KERR_NOTFOUND)
            log_msg(LOG_WARN, "status write failed", "error", err.message, LOG_END);
        else
            e = KERR_OK;
        json_decref(out);
    }
    json_decref(st);
    return e;
}
