/*
 * gsmigrate: the migrations gate of a GraceService (spec.migrations).
 *
 * When the image or the migrations command changes, a Job
 * <name>-migrate-<hash of image and command> runs the command with the new
 * image, the workload's env, envFrom, volumes and security context (copied
 * from the rendered Deployment, so the Job can never be less restricted than
 * the workload); the Deployment keeps the image it runs until that Job has
 * succeeded, and is not created before it on a first rollout. Each image and
 * command is migrated once: the Job's name is a pure function of them, and
 * status.migrations.succeeded remembers the last success after the Job is
 * gone (ttlSecondsAfterFinished). A failed Job holds the rollout
 * (MigrationsReady=False, MigrationFailed, terminal) and is kept for its
 * logs until a newer Job exists; a newer image or deleting the failed Job
 * runs the migration again. One migration runs at a time: a new Job waits
 * for an older one that is still active.
 *
 * The pure part (naming, Job state, the decision, building the Job) takes
 * and returns plain JSON; gs_migrate_gate is the reconciler's step.
 */
#ifndef GRACE_GSMIGRATE_H
#define GRACE_GSMIGRATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "readiness.h"

#define GSM_NAME_MAX 64        /* a Job name (a label value: <= 63) and its NUL */
#define GSM_TTL_SECONDS 3600   /* a succeeded Job goes this long after it finished */
#define GSM_DEFAULT_TIMEOUT 600
#define GSM_LABEL "grace.dev/migration"

/* The state of one migration Job. */
enum gsm_job { GSM_ABSENT, GSM_ACTIVE, GSM_SUCCEEDED, GSM_FAILED };

/* What the gate knows about a service. */
struct gsm_input {
    enum gsm_job want;     /* the Job of the current image and command */
    bool recorded;         /* status.migrations.succeeded names that Job */
    bool other_active;     /* an older migration Job of this service still runs */
    bool db_pending;       /* the service's database is not provisioned yet */
};

enum gsm_gate {
    GSM_OPEN, /* the Deployment gets the new image */
    GSM_HOLD  /* the Deployment keeps its image (or is not created yet) */
};

struct gsm_decision {
    enum gsm_gate gate;
    bool create;             /* create the Job now */
    enum ready_state state;  /* MigrationsReady */
    bool terminal;           /* will not progress without a change */
    const char *reason;      /* static string */
};

/* The Job name for service `svc` running `command` (array of strings,
 * borrowed) with `image`: "<svc>-migrate-<10 hex>", the service part cut so
 * the whole is at most 63 characters. `hash` (may be NULL) receives the
 * 10 hex digits (11 bytes). */
void gsmigrate_job_name(const char *svc, const char *image, const json_t *command,
                        char out[GSM_NAME_MAX], char *hash);

/* The state of a Job (borrowed; NULL = absent): Complete=True is success,
 * Failed=True failure (why, if not NULL, receives "reason: message"). */
enum gsm_job gsmigrate_job_state(const json_t *job, char *why, size_t why_len);

/* The gate's decision for `in`. Pure. */
void gsmigrate_decide(const struct gsm_input *in, struct gsm_decision *out);

/* The Job that migrates GraceService `gs` (borrowed) under `job_name`, built
 * from the rendered Deployment `deployment` (borrowed: its labels, owner
 * references and pod template). NULL when the Deployment has no container.
 * New reference. */
json_t *gsmigrate_job_build(const json_t *gs, const json_t *deployment, const char *job_name,
                            const char *hash);

/* Hold the rendered Deployment (borrowed, edited in place) at the images
 * the live one runs (borrowed): each container takes the image of the live
 * container of the same name. */
void gsmigrate_pin_images(json_t *deployment, const json_t *live);

struct gs_run;
/* The reconciler's step, after the database and before the children are
 * applied: decide, add the Job(s) to the desired children, hold the
 * Deployment, set MigrationsReady and status.migrations. No-op without
 * spec.migrations. */
void gs_migrate_gate(struct gs_run *r);

#endif
