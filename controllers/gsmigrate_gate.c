/*
 * gsmigrate_gate: the migrations gate as a step of one reconcile (see
 * gsmigrate.h). Reads the service's migration Jobs from the cache, decides
 * with gsmigrate_decide, and changes only the run's desired children: the
 * Job to create, copies of the Jobs to keep (so the prune leaves them), the
 * Deployment held at its running image or left out. Writes one thing
 * itself: the time-to-live of a Job that succeeded.
 */
#include "gsmigrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gsrun.h"
#include "kobj.h"
#include "log.h"

/* What the cache holds of this service's migration Jobs. */
struct gate_jobs {
    json_t *want;   /* the Job of the current image and command, or NULL (owned) */
    json_t *others; /* every other migration Job (owned array) */
    bool other_active;
};

static struct kinformer *job_informer(struct gs_controller *c)
{
    return gs_child_informer(c, "batch/v1", "Job", NULL);
}

static void read_jobs(struct gs_run *r, const char *want_name, struct gate_jobs *out)
{
    out->want = NULL;
    out->others = json_array();
    out->other_active = false;
    struct kinformer *inf = job_informer(r->c);
    struct kobj **objs = NULL;
    size_t n = inf ? kinformer_by_index(inf, GS_OWNER_INDEX, r->key, &objs) : 0;
    for (size_t i = 0; i < n; i++) {
        json_t *job = kobj_json(objs[i]);
        kobj_unref(objs[i]);
        if (!job)
            continue;
        if (strcmp(gs_meta(job, "name"), want_name) == 0) {
            out->want = job;
            continue;
        }
        if (!*gs_meta(job, "deletionTimestamp") &&
            gsmigrate_job_state(job, NULL, 0) == GSM_ACTIVE)
            out->other_active = true;
        json_array_append_new(out->others, job);
    }
    free(objs);
}

/* The desired entry that keeps an existing Job: a subset of it (identity
 * and labels), which always matches the live object, so it is never
 * written (a Job's template cannot change) and never pruned. */
static json_t *keep_entry(const json_t *job)
{
    json_t *labels = json_object_get(json_object_get(job, "metadata"), "labels");
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:O}}", "apiVersion", "batch/v1", "kind", "Job",
                     "metadata", "name", gs_meta(job, "name"), "namespace",
                     gs_meta(job, "namespace"), "labels", labels ? labels : json_null());
}

/* A Job that succeeded goes after GSM_TTL_SECONDS: set when it is first
 * seen succeeded (not at creation, so a failed Job is kept). Returns the
 * Job as it is now (new reference). */
static json_t *expire_succeeded(struct gs_run *r, json_t *job)
{
    if (json_object_get(json_object_get(job, "spec"), "ttlSecondsAfterFinished"))
        return json_incref(job);
    struct childkind *k = NULL;
    struct kinformer *inf = gs_child_informer(r->c, "batch/v1", "Job", &k);
    struct kres res;
    childkinds_kres(k, &res);
    json_t *patch = json_pack("{s:{s:i}}", "spec", "ttlSecondsAfterFinished", GSM_TTL_SECONDS);
    json_t *out = NULL;
    struct kerr_info err = {0};
    enum kerr e = kclient_merge_patch(r->c->d.client, &res, r->ns, gs_meta(job, "name"), NULL,
                                      patch, &out, &err);
    json_decref(patch);
    if (e != KERR_OK) {
        r->write_failed = true;
        log_msg(LOG_WARN, "setting the migration Job's time-to-live failed", "job",
                gs_meta(job, "name"), "error", err.message, LOG_END);
        return json_incref(job);
    }
    kinformer_apply_write(inf, out);
    return out;
}

static size_t find_deployment(const json_t *desired)
{
    size_t i;
    json_t *o;
    json_array_foreach(desired, i, o) {
        const char *kind = json_string_value(json_object_get(o, "kind"));
        if (kind && strcmp(kind, "Deployment") == 0)
            return i;
    }
    return (size_t)-1;
}

/* Hold the Deployment: at the images it runs, or not yet created. */
static void hold_deployment(struct gs_run *r, size_t di)
{
    json_t *d = json_array_get(r->desired, di);
    struct kinformer *inf = gs_child_informer(r->c, "apps/v1", "Deployment", NULL);
    struct kobj *o = inf ? kinformer_get(inf, gs_meta(d, "namespace"), gs_meta(d, "name")) : NULL;
    json_t *live = o ? kobj_json(o) : NULL;
    kobj_unref(o);
    if (live) {
        gsmigrate_pin_images(d, live);
        json_decref(live);
        return;
    }
    gs_desired_remove(r, di);
    struct gs_concern_state *w = &r->cs[GC_WORKLOAD];
    if (w->state == READY_TRUE) {
        w->state = READY_PENDING;
        snprintf(w->reason, sizeof w->reason, "AwaitingMigrations");
        snprintf(w->message, sizeof w->message,
                 "the Deployment is created once the migrations have succeeded");
    }
}

/* The desired Jobs: the current one (to create, or to keep), and, until it
 * exists, the others too (the latest failed one stays for its logs; an
 * active one is never cut short). Once it exists the prune removes the
 * others. */
static void desire_jobs(struct gs_run *r, const struct gate_jobs *jobs, json_t *create)
{
    json_t *add = json_array();
    if (create)
        json_array_append(add, create);
    else if (jobs->want)
        json_array_append_new(add, keep_entry(jobs->want));
    size_t i;
    json_t *job;
    json_array_foreach(jobs->others, i, job) {
        if (!jobs->want && !*gs_meta(job, "deletionTimestamp"))
            json_array_append_new(add, keep_entry(job));
    }
    gs_desired_add(r, add, GC_MIGRATIONS);
    json_decref(add);
}

static void set_concern(struct gs_run *r, const struct gsm_decision *d, const char *job,
                        const char *why)
{
    struct gs_concern_state *s = &r->cs[GC_MIGRATIONS];
    s->state = d->state;
    s->terminal = d->terminal;
    snprintf(s->reason, sizeof s->reason, "%s", d->reason);
    if (d->state == READY_TRUE)
        snprintf(s->message, sizeof s->message, "migration Job %s succeeded", job);
    else if (d->state == READY_FALSE)
        snprintf(s->message, sizeof s->message,
                 "migration Job %s failed (%s); the running version keeps serving", job, why);
    else if (strcmp(d->reason, "WaitingForPreviousMigration") == 0)
        snprintf(s->message, sizeof s->message,
                 "migration Job %s waits for an older migration Job to finish", job);
    else if (strcmp(d->reason, "WaitingForDatabase") == 0)
        snprintf(s->message, sizeof s->message,
                 "migration Job %s waits for the database to be provisioned", job);
    else
        snprintf(s->message, sizeof s->message, "migration Job %s is running", job);
}

static void record_status(struct gs_run *r, const char *job, bool succeeded)
{
    const json_t *old = json_object_get(json_object_get(r->gs, "status"), "migrations");
    const json_t *prev = json_object_get(old, "succeeded");
    json_t *m = json_pack("{s:s}", "job", job);
    if (succeeded)
        json_object_set_new(m, "succeeded", json_string(job));
    else if (json_is_string(prev))
        json_object_set(m, "succeeded", (json_t *)prev);
    json_object_set_new(r->status_extra, "migrations", m);
}

void gs_migrate_gate(struct gs_run *r)
{
    const json_t *mig = gs_spec(r->gs, "migrations");
    if (!json_is_object(mig))
        return;
    size_t di = find_deployment(r->desired);
    if (di == (size_t)-1) {
        gs_concern_fail(&r->cs[GC_MIGRATIONS], true, "NoWorkload",
                        "the templates render no Deployment to migrate for");
        return;
    }
    char name[GSM_NAME_MAX], hash[11], why[300];
    const char *image = json_string_value(gs_spec(r->gs, "image"));
    gsmigrate_job_name(r->name, image, json_object_get(mig, "command"), name, hash);
    struct gate_jobs jobs;
    read_jobs(r, name, &jobs);
    const char *done = json_string_value(
        json_object_get(json_object_get(json_object_get(r->gs, "status"), "migrations"),
                        "succeeded"));
    struct gsm_input in = {
        .want = gsmigrate_job_state(jobs.want, why, sizeof why),
        .recorded = done && strcmp(done, name) == 0,
        .other_active = jobs.other_active,
        .db_pending = r->cs[GC_DATABASE].enabled && r->cs[GC_DATABASE].state != READY_TRUE,
    };
    struct gsm_decision d;
    gsmigrate_decide(&in, &d);
    if (in.want == GSM_SUCCEEDED) {
        json_t *now = expire_succeeded(r, jobs.want);
        json_decref(jobs.want);
        jobs.want = now;
    }
    json_t *create = d.create ? gsmigrate_job_build(r->gs, json_array_get(r->desired, di), name,
                                                    hash)
                              : NULL;
    desire_jobs(r, &jobs, create);
    if (d.create && !create)
        gs_concern_fail(&r->cs[GC_MIGRATIONS], true, "NoWorkload",
                        "the rendered Deployment has no container to migrate with");
    else
        set_concern(r, &d, name, why);
    if (d.create)
        log_msg(LOG_INFO, "starting the migration Job", "job", name, "image", image, LOG_END);
    record_status(r, name, d.gate == GSM_OPEN);
    if (d.gate == GSM_HOLD)
        hold_deployment(r, di);
    json_decref(create);
    json_decref(jobs.want);
    json_decref(jobs.others);
}
