/*
 * graceservice: the GraceService reconciler. Level-based and idempotent:
 * gs_reconcile(key) reads the GraceService and its children from the
 * caches, renders the desired children (Lua templates), provisions the
 * database, applies what differs (server-side apply, one field manager),
 * prunes what is no longer desired, and writes status only when it changed.
 *
 * Threads: one gs_controller is shared by all workers (read-only after
 * gs_controller_new, plus internally locked caches); each worker owns one
 * gs_worker (its Lua state and PostgreSQL connection).
 */
#ifndef GRACE_GRACESERVICE_H
#define GRACE_GRACESERVICE_H

#include <jansson.h>
#include <stdbool.h>

#include "gsdeps.h"
#include "kerr.h"
#include "ktrace.h"
#include "wq.h"

struct gs_controller;
struct gs_worker;

enum gs_result {
    GS_DONE,        /* converged (or nothing to do): forget backoff */
    GS_RETRY,       /* failed: requeue with per-key backoff */
    GS_REQUEUE_AFTER /* requeue after *after_ms (waiting on something) */
};

/* Create the controller; registers the GraceService indexes (call before
 * the informers start). */
struct gs_controller *gs_controller_new(const struct gs_deps *deps);
void gs_controller_free(struct gs_controller *c);

/* Wire informer event handlers so that every relevant change enqueues the
 * owning GraceService key into q. Call before the informers start. */
void gs_controller_watch(struct gs_controller *c, struct wq *q);

/* Per-worker state (Lua engine, PostgreSQL connection). */
enum kerr gs_worker_new(struct gs_controller *c, struct gs_worker **out, struct kerr_info *err);
void gs_worker_free(struct gs_worker *w);

/* The worker has nothing to do for now: let its engine drop the garbage of
 * past renders (render_collect). */
void gs_worker_idle(struct gs_worker *w);

/* Reconcile "namespace/name". */
enum gs_result gs_reconcile(struct gs_controller *c, struct gs_worker *w, const char *key,
                            long *after_ms);

/* Admission: NULL when `gs` may be admitted, else a malloc'd message
 * (hostname already taken, topic owned by another service). */
char *gs_admission_check(struct gs_controller *c, const json_t *gs);

#endif
