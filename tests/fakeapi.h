/*
 * fakeapi: a small in-memory Kubernetes API server for unit tests (shared
 * helper, linked into every suite), on top of testsrv. It keeps objects in
 * a store keyed by group, plural, namespace and name, and answers what the
 * reconciler sends: GET, server-side apply (PATCH application/apply-patch,
 * with fieldManager and force: applying over another manager's object
 * without force is 409 Conflict), JSON merge patch on an object or its
 * /status (a metadata.resourceVersion in the patch is a precondition: 409
 * when stale), and DELETE (an object with finalizers gets a
 * deletionTimestamp instead; it goes once its finalizers are removed).
 * Every write gives a new resourceVersion; a change of spec a new
 * generation.
 *
 * It also plays the other controllers, at once: a Deployment is Available,
 * a Certificate, KafkaTopic or KafkaUser Ready, a Schedule Enabled, and a
 * KafkaUser gets Strimzi's credentials Secret in its namespace.
 * fakeapi_gc() is the garbage collector (objects whose owner is gone).
 *
 * Faults: fakeapi_fail_at(f, i, status) makes the i-th request counted from
 * that call answer `status` (500: InternalError, 409: Conflict) without
 * acting on it.
 *
 * Thread-safety: requests are served on testsrv's connection threads; one
 * mutex guards the store and the counters, so every function here may be
 * called from the test thread at any time.
 */
#ifndef GRACE_FAKEAPI_H
#define GRACE_FAKEAPI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct fakeapi;

/* Start with an empty store (aborts the test on failure). */
struct fakeapi *fakeapi_start(void);
void fakeapi_stop(struct fakeapi *f); /* NULL allowed */

/* "http://127.0.0.1:<port>" (borrowed). */
const char *fakeapi_url(const struct fakeapi *f);

/* Store a copy of `obj` under `plural` (group from its apiVersion) as
 * `manager` wrote it, as if created or replaced through the API: uid,
 * resourceVersion and generation are set. Returns the stored object (new
 * reference). */
json_t *fakeapi_put(struct fakeapi *f, const char *plural, const json_t *obj, const char *manager);

/* The stored object (new reference) or NULL. group "" is the core group. */
json_t *fakeapi_get(struct fakeapi *f, const char *group, const char *plural, const char *ns,
                    const char *name);

/* Delete as a client would (finalizers respected). False when absent. */
bool fakeapi_delete(struct fakeapi *f, const char *group, const char *plural, const char *ns,
                    const char *name);

/* Remove objects whose ownerReferences name an object no longer stored. */
void fakeapi_gc(struct fakeapi *f);

/* Every stored object of group/plural (new reference to an array). */
json_t *fakeapi_list(struct fakeapi *f, const char *group, const char *plural);

/* Requests and writes (PATCH, POST, PUT, DELETE) answered so far. */
size_t fakeapi_requests(struct fakeapi *f);
size_t fakeapi_writes(struct fakeapi *f);

/* The i-th request from now (0-based) answers `status` unanswered; -1
 * turns it off. */
void fakeapi_fail_at(struct fakeapi *f, long i, int status);

/* The controller of `kind` holds back: new objects of that kind are stored
 * without the status that makes them ready. NULL or "" releases it: the
 * objects held back become ready (a new resourceVersion each). */
void fakeapi_hold(struct fakeapi *f, const char *kind);
/* Clear the store and the counters. */
void fakeapi_reset(struct fakeapi *f);

#endif
