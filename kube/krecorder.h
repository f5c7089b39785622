/*
 * krecorder: records events.k8s.io/v1 Events about objects, the way
 * `kubectl describe` shows them, and de-duplicates repeats.
 *
 * Each Event carries the fields the API server requires: eventTime
 * (MicroTime, 6 fractional digits), reportingController, reportingInstance,
 * action, reason, type ("Normal" or "Warning"), regarding (apiVersion, kind,
 * namespace, name, uid, resourceVersion of the object) and note (at most
 * 1024 bytes: longer notes are cut at a UTF-8 boundary).
 *
 * De-duplication: the same object (uid, or namespace/name when there is no
 * uid) with the same type, reason, action and note within 10 minutes of the
 * first one is a repeat. A repeat does not create a new Event: it updates
 * the existing Event's series {count, lastObservedTime} with a merge patch,
 * at most once every 30 s per Event (repeats in between are only counted and
 * folded into the next patch). After 10 minutes a new Event is created. The
 * cache holds only the Events of the last window (one ~100-byte entry each)
 * and is bounded (4096 entries by default; the oldest are evicted).
 *
 * Writes are synchronous (one request, using the client's timeouts) and
 * failures are returned but never retried: losing an Event is acceptable.
 * Thread safety: krecorder_event may be called from any thread; the cache is
 * guarded by a mutex that is not held during the request.
 */
#ifndef GRACE_KRECORDER_H
#define GRACE_KRECORDER_H

#include <jansson.h>
#include <stddef.h>

#include "kclient.h"
#include "kerr.h"

struct krecorder;

#define KRECORDER_NOTE_MAX 1024
#define KRECORDER_DEDUP_WINDOW_S 600
#define KRECORDER_SERIES_INTERVAL_S 30

/* New recorder. `controller` is reportingController (e.g.
 * "grace.dev/grace-operator"), `instance` reportingInstance (the pod name);
 * both copied. `c` borrowed. Aborts on OOM. */
struct krecorder *krecorder_new(struct kclient *c, const char *controller, const char *instance);

/* Tuning (tests use small values): the de-duplication window and the
 * minimum interval between series updates of one Event, in seconds
 * (defaults KRECORDER_DEDUP_WINDOW_S and KRECORDER_SERIES_INTERVAL_S).
 * Call before the recorder is shared between threads. */
void krecorder_set_timing(struct krecorder *rec, double window_s, double series_interval_s);

/* Bound on cached Events (default 4096; tests use small values; 0 means
 * 1). Call before the recorder is shared between threads. */
void krecorder_set_capacity(struct krecorder *rec, size_t max_entries);

/* Events currently held for de-duplication (expired ones are dropped when
 * the next Event is recorded). */
size_t krecorder_cached(struct krecorder *rec);

/* Free; NULL allowed. */
void krecorder_free(struct krecorder *rec);

/*
 * Record an Event about `regarding` (borrowed; apiVersion, kind and
 * metadata namespace/name/uid/resourceVersion are read). `type` is
 * "Normal" or "Warning"; reason and action are short CamelCase words; the
 * note is printf-formatted and must not contain secrets. The Event goes to
 * the object's namespace ("default" for cluster-scoped objects).
 * Returns KERR_OK when the Event was created, patched or folded into a
 * pending series update, KERR_INVAL for bad arguments, else the API error.
 */
enum kerr krecorder_event(struct krecorder *rec, const json_t *regarding, const char *type,
                          const char *reason, const char *action, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
