/*
 * gsctl: internal state shared by the GraceService reconciler's files
 * (graceservice.c, gsapply.c, gsdb.c, gsstatus.c). Not a public API.
 */
#ifndef GRACE_GSCTL_H
#define GRACE_GSCTL_H

#include <pthread.h>
#include <stdint.h>

#include "graceservice.h"
#include "pg.h"
#include "pgname.h"
#include "readiness.h"
#include "render.h"

enum gs_concern {
    GC_WORKLOAD,
    GC_ROUTE,
    GC_CERT,
    GC_TAILSCALE,
    GC_DATABASE,
    GC_KAFKA,
    GC_BACKUP,
    GC_EGRESS,
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
    json_t *desired;       /* array of desired children (owned) */
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

const char *gs_concern_type(enum gs_concern c);
enum gs_concern gs_concern_of(const json_t *obj);
void gs_concern_fail(struct gs_concern_state *s, bool terminal, const char *reason,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* gsapply.c */
/* Apply the desired children not applied yet in this run (those past the
 * end of r->live), appending what each looks like afterwards to r->live. */
void gs_apply_children(struct gs_run *r);
void gs_prune_children(struct gs_run *r);
void gs_eval_children(struct gs_run *r);
struct kinformer *gs_child_informer(struct gs_controller *c, const char *api_version,
                                    const char *kind, struct childkind **kind_out);
enum kerr gs_delete_foreign_children(struct gs_run *r, bool *remaining);
/* Fingerprint of the cached children of GraceService `key` (kind, namespace,
 * name, resourceVersion of each; order-free), and the same of the children
 * of this run as it left them (false when one is missing). Equal values
 * mean the cache holds exactly what the run saw or wrote. */
uint64_t gs_fp_cached(struct gs_controller *c, const char *key);
bool gs_fp_run(struct gs_run *r, uint64_t *out);
void gs_child_indexes(struct kinformer *inf);

/* gskafka.c: after gs_apply_children; may add the Secret copy to desired */
void gs_kafka_secret(struct gs_run *r);

/* gsdb.c */
void gs_db_ensure(struct gs_run *r);
enum kerr gs_db_cleanup(struct gs_run *r, struct kerr_info *err);
void gs_db_names(const json_t *gs, char role[64], char db[64]);

/* gsstatus.c */
enum kerr gs_write_status(struct gs_run *r, bool *ready, long *after_ms);
void gs_status_forget(struct gs_controller *c, const char *key);

/* Helpers. */
const char *gs_meta(const json_t *o, const char *key);
const json_t *gs_spec(const json_t *gs, const char *key);
bool gs_enabled(const json_t *gs, const char *key, bool dflt);

#endif
