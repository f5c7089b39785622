/*
 * gsmigrate: the pure part of the migrations gate (see gsmigrate.h): the
 * Job's name, its state, the gate's decision and the Job itself. No I/O;
 * the reconciler's step is in gsmigrate_gate.c.
 */
#include "gsmigrate.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "khash.h"

void gsmigrate_job_name(const char *svc, const char *image, const json_t *command,
                        char out[GSM_NAME_MAX], char *hash)
{
    /* The hash is in the Job's name and label: khash_field's values must
     * stay as they are (gsmigrate_test pins one). */
    uint64_t h = khash_field(KHASH_INIT, image);
    size_t i;
    json_t *v;
    json_array_foreach(command, i, v) {
        h = khash_field(h, json_string_value(v)); /* NULL (not a string): "" */
    }
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    hex[10] = '\0';
    /* 63 = service part + "-migrate-" (9) + 10 hex */
    size_t keep = strlen(svc);
    if (keep > 44)
        keep = 44;
    while (keep > 0 && svc[keep - 1] == '-')
        keep--;
    snprintf(out, GSM_NAME_MAX, "%.*s-migrate-%s", (int)keep, svc, hex);
    if (hash)
        memcpy(hash, hex, 11);
}

static const json_t *condition(const json_t *job, const char *type)
{
    const json_t *conds = json_object_get(json_object_get(job, "status"), "conditions");
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));
        if (t && s && strcmp(t, type) == 0 && strcmp(s, "True") == 0)
            return c;
    }
    return NULL;
}

enum gsm_job gsmigrate_job_state(const json_t *job, char *why, size_t why_len)
{
    if (why && why_len)
        why[0] = '\0';
    if (!json_is_object(job))
        return GSM_ABSENT;
    if (condition(job, "Complete"))
        return GSM_SUCCEEDED;
    const json_t *f = condition(job, "Failed");
    if (!f)
        return GSM_ACTIVE;
    if (why && why_len) {
        const char *reason = json_string_value(json_object_get(f, "reason"));
        const char *msg = json_string_value(json_object_get(f, "message"));
        snprintf(why, why_len, "%s: %s", reason ? reason : "Failed", msg ? msg : "");
    }
    return GSM_FAILED;
}

void gsmigrate_decide(const struct gsm_input *in, struct gsm_decision *out)
{
    *out = (struct gsm_decision){.gate = GSM_HOLD, .state = READY_PENDING};
    if (in->recorded || in->want == GSM_SUCCEEDED) {
        out->gate = GSM_OPEN;
        out->state = READY_TRUE;
        out->reason = "Succeeded";
    } else if (in->want == GSM_FAILED) {
        out->state = READY_FALSE;
        out->terminal = true;
        out->reason = "MigrationFailed";
    } else if (in->want == GSM_ACTIVE) {
        out->reason = "MigrationRunning";
    } else if (in->other_active) {
        out->reason = "WaitingForPreviousMigration";
    } else if (in->db_pending) {
        out->reason = "WaitingForDatabase";
    } else {
        out->create = true;
        out->reason = "MigrationRunning";
    }
}

/* ---- the Job ---- */

static void del_keys(json_t *o, const char *const *keys)
{
    for (; *keys; keys++)
        json_object_del(o, *keys);
}

/* The migration container from the workload's first one: the new image and
 * the migrations command; no ports, probes or lifecycle hooks. */
static json_t *job_container(const json_t *app, const char *image, const json_t *command)
{
    static const char *const drop[] = {"args",         "ports",     "readinessProbe",
                                       "livenessProbe", "startupProbe", "lifecycle", NULL};
    json_t *c = json_deep_copy(app);
    del_keys(c, drop);
    json_object_set_new(c, "name", json_string("migrate"));
    json_object_set_new(c, "image", json_string(image));
    json_object_set_new(c, "command", json_deep_copy(command));
    return c;
}

/* Pod labels: the service's identity, not the Service's selector (the
 * selector's app.kubernetes.io/name is left out, so no traffic reaches a
 * migration pod; the egress policy selects grace.dev/service and covers it). */
static json_t *pod_labels(const json_t *labels, const char *hash)
{
    json_t *l = json_object();
    static const char *const keep[] = {"grace.dev/service", "grace.dev/namespace",
                                       "app.kubernetes.io/managed-by", NULL};
    for (const char *const *k = keep; *k; k++) {
        json_t *v = json_object_get(labels, *k);
        if (json_is_string(v))
            json_object_set(l, *k, v);
    }
    json_object_set_new(l, "app.kubernetes.io/component", json_string("migration"));
    json_object_set_new(l, GSM_LABEL, json_string(hash));
    return l;
}

static json_int_t int_or(const json_t *o, const char *key, json_int_t dflt)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

json_t *gsmigrate_job_build(const json_t *gs, const json_t *deployment, const char *job_name,
                            const char *hash)
{
    const json_t *spec = json_object_get(gs, "spec");
    const json_t *mig = json_object_get(spec, "migrations");
    const char *image = json_string_value(json_object_get(spec, "image"));
    const json_t *dmd = json_object_get(deployment, "metadata");
    const json_t *tmpl = json_object_get(json_object_get(deployment, "spec"), "template");
    const json_t *pod = json_object_get(tmpl, "spec");
    const json_t *app = json_array_get(json_object_get(pod, "containers"), 0);
    if (!json_is_object(app) || !image)
        return NULL;
    json_t *podspec = json_deep_copy(pod);
    json_object_set_new(podspec, "containers",
                        json_pack("[o]", job_container(app, image,
                                                       json_object_get(mig, "command"))));
    json_object_set_new(podspec, "restartPolicy", json_string("Never"));
    json_t *labels = json_deep_copy(json_object_get(dmd, "labels"));
    if (!json_is_object(labels)) {
        json_decref(labels);
        labels = json_object();
    }
    json_object_set_new(labels, GSM_LABEL, json_string(hash));
    const char *ns =
        json_string_value(json_object_get(json_object_get(gs, "metadata"), "namespace"));
    json_t *md = json_pack("{s:s, s:s, s:o, s:{s:s}}", "name", job_name, "namespace",
                           ns ? ns : "", "labels", labels, "annotations", "grace.dev/image",
                           image);
    json_t *owners = json_object_get(dmd, "ownerReferences");
    if (owners)
        json_object_set(md, "ownerReferences", owners);
    return json_pack("{s:s, s:s, s:o, s:{s:I, s:I, s:{s:{s:o}, s:o}}}", "apiVersion", "batch/v1",
                     "kind", "Job", "metadata", md, "spec", "backoffLimit",
                     int_or(mig, "backoffLimit", 0), "activeDeadlineSeconds",
                     int_or(mig, "timeoutSeconds", GSM_DEFAULT_TIMEOUT), "template", "metadata",
                     "labels", pod_labels(labels, hash), "spec", podspec);
}

void gsmigrate_pin_images(json_t *deployment, const json_t *live)
{
    json_t *want = json_object_get(
        json_object_get(json_object_get(json_object_get(deployment, "spec"), "template"), "spec"),
        "containers");
    const json_t *have = json_object_get(
        json_object_get(json_object_get(json_object_get(live, "spec"), "template"), "spec"),
        "containers");
    size_t i, j;
    json_t *c, *l;
    json_array_foreach(want, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        json_array_foreach(have, j, l) {
            const char *ln = json_string_value(json_object_get(l, "name"));
            json_t *img = json_object_get(l, "image");
            if (name && ln && strcmp(name, ln) == 0 && json_is_string(img)) {
                json_object_set(c, "image", img);
                break;
            }
        }
    }
}
