/*
 * readiness: per-kind readiness rules for the children of a GraceService.
 * See readiness.h. Unknown kinds are ready once they exist.
 */
#include "readiness.h"

#include <stdio.h>
#include <string.h>

#include "conditions.h"

static void set(struct ready_result *r, enum ready_state s, const char *reason, const char *fmt,
                const char *kind, const char *name, const char *extra)
{
    r->state = s;
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    snprintf(r->message, sizeof r->message, fmt, kind, name, extra ? extra : "");
}

json_t *readiness_condition(const json_t *obj, const char *type)
{
    return conditions_find(json_object_get(json_object_get(obj, "status"), "conditions"), type);
}

static json_int_t generation(const json_t *obj)
{
    return json_integer_value(json_object_get(json_object_get(obj, "metadata"), "generation"));
}

static bool is_true(const json_t *cond)
{
    const char *s = json_string_value(json_object_get(cond, "status"));
    return s && strcmp(s, "True") == 0;
}

static bool is_false(const json_t *cond)
{
    const char *s = json_string_value(json_object_get(cond, "status"));
    return s && strcmp(s, "False") == 0;
}

static const char *cond_msg(const json_t *cond)
{
    const char *m = json_string_value(json_object_get(cond, "message"));
    return m ? m : "";
}

/* Deployment: Available=True, updated replicas = replicas, observedGeneration current. */
static void eval_deployment(const json_t *o, const char *name, struct ready_result *r)
{
    const json_t *st = json_object_get(o, "status");
    json_int_t want = 1;
    const json_t *rep = json_object_get(json_object_get(o, "spec"), "replicas");
    if (json_is_integer(rep))
        want = json_integer_value(rep);
    if (json_integer_value(json_object_get(st, "observedGeneration")) < generation(o)) {
        set(r, READY_PENDING, "RolloutPending",
            "%s %s: the Deployment controller has not observed the latest spec yet%s",
            "Deployment", name, "");
        return;
    }
    json_t *avail = readiness_condition(o, "Available");
    if (!avail || !is_true(avail)) {
        set(r, READY_PENDING, "DeploymentUnavailable", "%s %s is not Available%s", "Deployment",
            name, "");
        return;
    }
    if (json_integer_value(json_object_get(st, "updatedReplicas")) < want) {
        set(r, READY_PENDING, "RolloutInProgress", "%s %s: rollout in progress%s", "Deployment",
            name, "");
        return;
    }
    set(r, READY_TRUE, "DeploymentAvailable", "%s %s is available%s", "Deployment", name, "");
}

/* cert-manager and Strimzi: Ready=True computed for the current generation.
 * cert-manager puts observedGeneration on the condition, Strimzi on status. */
static void eval_ready_condition(const json_t *o, const char *kind, const char *name,
                                 struct ready_result *r)
{
    json_t *c = readiness_condition(o, "Ready");
    json_int_t gen = generation(o);
    json_t *cog = json_object_get(c, "observedGeneration");
    json_t *sog = json_object_get(json_object_get(o, "status"), "observedGeneration");
    json_int_t og = json_is_integer(cog)   ? json_integer_value(cog)
                    : json_is_integer(sog) ? json_integer_value(sog)
                                           : gen;
    if (!c) {
        set(r, READY_PENDING, "Pending", "%s %s has no Ready condition yet%s", kind, name, "");
        return;
    }
    if (og < gen) {
        set(r, READY_PENDING, "Pending", "%s %s: status is for an older generation%s", kind, name,
            "");
        return;
    }
    if (is_false(c)) {
        const char *reason = json_string_value(json_object_get(c, "reason"));
        char extra[200];
        snprintf(extra, sizeof extra, ": %s", cond_msg(c));
        set(r, READY_FALSE, reason && *reason ? reason : "NotReady", "%s %s is not Ready%s", kind,
            name, extra);
        return;
    }
    if (!is_true(c)) {
        set(r, READY_PENDING, "Pending", "%s %s: Ready is Unknown%s", kind, name, "");
        return;
    }
    set(r, READY_TRUE, "Ready", "%s %s is Ready%s", kind, name, "");
}

/* Velero Schedule: status.phase == Enabled. */
static void eval_schedule(const json_t *o, const char *name, struct ready_result *r)
{
    const char *phase = json_string_value(json_object_get(json_object_get(o, "status"), "phase"));
    if (phase && strcmp(phase, "Enabled") == 0)
        set(r, READY_TRUE, "ScheduleEnabled", "%s %s is Enabled%s", "Schedule", name, "");
    else if (phase && strcmp(phase, "FailedValidation") == 0)
        set(r, READY_FALSE, "FailedValidation", "%s %s failed Velero's validation%s", "Schedule",
            name, "");
    else
        set(r, READY_PENDING, "Pending", "%s %s is not Enabled yet%s", "Schedule", name, "");
}

/* Traefik reports status only in newer versions (condition Valid). */
static void eval_route(const json_t *o, const char *kind, const char *name, struct ready_result *r)
{
    json_t *c = readiness_condition(o, "Valid");
    if (c && is_false(c)) {
        char extra[200];
        snprintf(extra, sizeof extra, ": %s", cond_msg(c));
        set(r, READY_FALSE, "RouteInvalid", "%s %s was rejected by Traefik%s", kind, name, extra);
        return;
    }
    set(r, READY_TRUE, "RouteAccepted", "%s %s exists%s", kind, name, "");
}

/* A Service exposed per service on the tailnet reports TailscaleProxyReady. */
static void eval_service(const json_t *o, const char *name, struct ready_result *r)
{
    const json_t *ann = json_object_get(json_object_get(o, "metadata"), "annotations");
    const char *expose = json_string_value(json_object_get(ann, "tailscale.com/expose"));
    const char *lbc =
        json_string_value(json_object_get(json_object_get(o, "spec"), "loadBalancerClass"));
    bool tailnet = (expose && strcmp(expose, "true") == 0) || (lbc && strcmp(lbc, "tailscale") == 0);
    if (!tailnet) {
        set(r, READY_TRUE, "ServiceExists", "%s %s exists%s", "Service", name, "");
        return;
    }
    json_t *c = readiness_condition(o, "TailscaleProxyReady");
    if (c && is_true(c))
        set(r, READY_TRUE, "ProxyCreated", "%s %s is on the tailnet%s", "Service", name, "");
    else if (c && is_false(c))
        set(r, READY_FALSE, "ProxyNotReady", "%s %s: tailnet proxy not ready%s", "Service", name,
            "");
    else
        set(r, READY_PENDING, "ProxyPending", "%s %s: waiting for the Tailscale operator%s",
            "Service", name, "");
}

void readiness_eval(const json_t *obj, const char *kind, const char *name,
                    struct ready_result *out)
{
    if (!obj) {
        set(out, READY_PENDING, "Creating", "%s %s does not exist yet%s", kind, name, "");
        return;
    }
    if (json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp")) {
        set(out, READY_PENDING, "Terminating", "%s %s is being deleted%s", kind, name, "");
        return;
    }
    if (strcmp(kind, "Deployment") == 0)
        eval_deployment(obj, name, out);
    else if (strcmp(kind, "Certificate") == 0 || strcmp(kind, "KafkaTopic") == 0 ||
             strcmp(kind, "KafkaUser") == 0)
        eval_ready_condition(obj, kind, name, out);
    else if (strcmp(kind, "Schedule") == 0)
        eval_schedule(obj, name, out);
    else if (strcmp(kind, "IngressRoute") == 0 || strcmp(kind, "Ingress") == 0)
        eval_route(obj, kind, name, out);
    else if (strcmp(kind, "Service") == 0)
        eval_service(obj, name, out);
    else
        set(out, READY_TRUE, "Exists", "%s %s exists%s", kind, name, "");
}
