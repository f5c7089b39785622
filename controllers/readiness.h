/*
 * readiness: is one child object "ready", by the rules of the controller
 * that makes it real (Deployment controller, cert-manager, Strimzi, Velero,
 * Traefik, Tailscale)? Pure functions over the child's JSON as the API
 * server returns it. No I/O; the reconciler feeds them cached objects.
 *
 * The rules are those of GRACESERVICE.md and external-apis.md: a status
 * only counts when it was computed for the current generation.
 */
#ifndef GRACE_READINESS_H
#define GRACE_READINESS_H

#include <jansson.h>
#include <stdbool.h>

enum ready_state { READY_TRUE, READY_FALSE, READY_PENDING };

struct ready_result {
    enum ready_state state;
    char reason[64];   /* CamelCase, suitable as a condition reason */
    char message[256]; /* human-readable, names the child */
};

/* Evaluate `obj` (borrowed; NULL = the child does not exist yet). */
void readiness_eval(const json_t *obj, const char *kind, const char *name,
                    struct ready_result *out);

/* The condition entry of `type` in obj.status.conditions, or NULL (borrowed). */
json_t *readiness_condition(const json_t *obj, const char *type);

#endif
