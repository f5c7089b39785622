/*
 * gsrun: the state and helpers the GraceService reconciler's concerns
 * share, one level below them. The controller (what every worker shares),
 * the worker, one reconcile's working set (struct gs_run), the concerns
 * and their outcome, and small readers of a GraceService. The concern
 * modules (gsapply, gsdb, gskafka, gsstatus) depend on this and on lower
 * modules only; graceservice.c, above them, drives a reconcile through
 * them. Internal to controllers/: not a public API.
 */
#ifndef GRACE_GSRUN_H
#define GRACE_GSRUN_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gsdeps.h"
#include "pg.h"
#include "readiness.h"
#include "render.h"
#include "wq.h"

/* The label-derived index of every child informer: "namespace/name" of the
 * GraceService that owns the child (gsapply.c registers it). */
#define GS_OWNER_INDEX "grace.dev/owner"

enum gs_concern {
    GC_WORKLOAD,
    GC_ROUTE,
    GC_CERT,
    GC_TAILSCALE,
    GC_DATABASE,
    GC_KAFKA,
    GC_BACKUP,
    GC_EGRESS,
    GC_MIGRATIONS,
    GC__N
};

/* The outcome of one concern in one reconcile. */
struct gs_concern_state {
    bool enabled;
    bool has_children;
    enum ready_state state;
    bool terminal;      /* will not progress without a change (conflict, template) */
    char reason[64];
    char message[512];
};

struct gs_controller {
    struct gs_deps d;
    struct wq *q;          /* set by gs_controller_watch */
    json_t *tmpl_config;   /* config JSON given to templates (+ discovered versions) */
    char base_domain[256];
    /* admin credentials cache (guarded by admin_mu) */
    pthread_mutex_t admin_mu;
    json_t *admin_secret;  /* the admin Secret's data, decoded; NULL until read */
    long long admin_read_ms;
    /* since when each service has a progress-only status change waiting
     * (guarded by status_mu): "ns/name" -> monotonic ms (gsstatus.c) */
    pthread_mutex_t status_mu;
    json_t *status_times;
    /* "ns/name" -> {ms, gen}: when the database was last verified (guarded
     * by status_mu); a burst of reconciles checks PostgreSQL once */
    json_t *db_verified;
    /* "ns/name" -> the fingerprint of the inputs of its last reconcile that
     * converged (guarded by status_mu; graceservice.c, "unchanged") */
    json_t *settled;
};

struct gs_worker {
    struct gs_controller *c;
    struct render *render;
    struct pg_conn *pg;
};

/* One reconcile's working set. */
struct gs_run {
    struct gs_controller *c;
    struct gs_worker *w;
    json_t *gs;            /* the GraceService (owned) */
    const char *ns, *name;
    char key[512];
    json_int_t generation;
    json_t *desired;       /* array of desired children (owned; change it through
                              gs_desired_*, which keep `concerns` parallel) */
    json_t *concerns;      /* parallel to desired: the enum gs_concern of each (owned) */
    json_t *live;          /* parallel to desired: the child as last seen (cache or our
                              write's answer; null if absent), so readiness does not
                              parse it again (owned) */
    struct gs_concern_state cs[GC__N];
    bool stalled;
    char stalled_reason[64];
    char stalled_message[512];
    bool write_failed;
    bool hold_prune;       /* a child could not be read (a credentials Secret): nothing is
                              pruned this round, so what could not be read is not lost */
    long poll_ms;          /* >0: re-check after this long (waiting on something unwatched) */
    json_t *status_extra;  /* status fields besides conditions (owned object) */
    char gs_rv[64];        /* the GraceService's resourceVersion after our status write */
    bool gs_changed;       /* it changed under us: do not keep a fingerprint */
};

/* The condition type of a concern ("WorkloadReady", ...). */
const char *gs_concern_type(enum gs_concern c);

/* The desired children and the concern each serves. Rendered objects
 * serve the concern of the template that returned them (render_objects_from
 * gives the template of each); the operator's own additions (the database
 * and Kafka Secrets) say theirs. */
void gs_desired_rendered(struct gs_run *r, json_t *objects, const json_t *from); /* steals objects */
void gs_desired_add(struct gs_run *r, const json_t *objects, enum gs_concern c);
void gs_desired_remove(struct gs_run *r, size_t i);
enum gs_concern gs_desired_concern(const struct gs_run *r, size_t i);

/* Mark a concern failed (the reason and a printf message are copied);
 * terminal: it will not progress without a change. */
void gs_concern_fail(struct gs_concern_state *s, bool terminal, const char *reason,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The informer of a child kind, NULL when the kind is unknown or not served;
 * *kind_out (may be NULL) receives the childkinds entry (NULL if unknown). */
struct kinformer *gs_child_informer(struct gs_controller *c, const char *api_version,
                                    const char *kind, struct childkind **kind_out);

/* Readers of an object (borrowed results): metadata.<key> ("" when absent),
 * spec.<key>, and spec.<key>.enabled with a default. */
const char *gs_meta(const json_t *o, const char *key);
const json_t *gs_spec(const json_t *gs, const char *key);
bool gs_enabled(const json_t *gs, const char *key, bool dflt);

#endif
