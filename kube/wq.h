/*
 * wq: the work queue between informer event handlers and reconcile workers,
 * with the semantics of client-go's rate-limited delaying queue.
 *
 * - De-duplication: a key added while it is already waiting is queued once.
 * - A key is never handed to two workers at once: while a key is being
 *   processed (between wq_get and wq_done) an add only marks it dirty; it is
 *   queued again when wq_done is called.
 * - Delayed adds (wq_add_after) and per-key exponential backoff
 *   (wq_add_rate_limited: 5 ms doubling per failure up to 1000 s; wq_forget
 *   resets the count after a success).
 * - Shutdown drains: wq_shutdown stops intake (later adds are ignored, delayed
 *   adds that are not due yet are dropped), keys already queued are still
 *   handed out, a key that was re-added while being processed is queued once
 *   more when it is done, and only then does wq_get return false. Workers can
 *   therefore simply loop on wq_get and be joined after wq_shutdown.
 *
 * Thread safety: every function may be called from any thread (one mutex and
 * one condition variable guard all state). The observer is called without
 * the lock held. Keys are NUL-terminated strings, typically "namespace/name".
 */
#ifndef GRACE_WQ_H
#define GRACE_WQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wq;

/* First and last per-key backoff of wq_add_rate_limited, in milliseconds. */
#define WQ_BACKOFF_BASE_MS 5L
#define WQ_BACKOFF_MAX_MS 1000000L

/* What an observer is told about (seconds). */
enum wq_obs {
    WQ_OBS_QUEUE_LATENCY, /* from the add that queued the key to the wq_get that took it */
    WQ_OBS_WORK_DURATION, /* from wq_get to wq_done */
};
typedef void (*wq_observer_fn)(void *ctx, enum wq_obs what, double seconds);

/* Counters for the workqueue_* metrics. A plain value snapshot. */
struct wq_stats {
    uint64_t adds;                  /* keys newly queued (duplicates not counted) */
    uint64_t retries;               /* wq_add_rate_limited calls accepted */
    size_t depth;                   /* keys waiting to be handed out */
    size_t processing;              /* keys between wq_get and wq_done */
    size_t delayed;                 /* keys waiting for their delay to pass */
    double unfinished_work_seconds; /* sum of the running time of keys in progress */
    double longest_running_seconds; /* the longest of them */
};

/* A new, empty queue. Aborts on out-of-memory. Free with wq_free. */
struct wq *wq_new(void);

/* Free the queue and every key in it. No thread may use it any more (join
 * the workers first). NULL is allowed. */
void wq_free(struct wq *q);

/* Queue `key` (copied) unless it is already queued; if it is being
 * processed, mark it to be queued again when done. Ignored after shutdown. */
void wq_add(struct wq *q, const char *key);

/* Queue `key` once `delay_ms` have passed (<= 0: at once). If the key is
 * already waiting for a later time, the earlier time wins. Ignored after
 * shutdown. */
void wq_add_after(struct wq *q, const char *key, long delay_ms);

/* wq_add_after with the key's backoff (wq_backoff_ms of its requeue count),
 * then increment that count. Counts as a retry in the stats. */
void wq_add_rate_limited(struct wq *q, const char *key);

/* Reset the key's requeue count (call after a successful reconcile). */
void wq_forget(struct wq *q, const char *key);

/* How many times the key was wq_add_rate_limited since its last forget. */
int wq_num_requeues(struct wq *q, const char *key);

/* The backoff before the (requeues+1)-th retry: 5 ms * 2^requeues, capped at
 * 1000 s. Pure function; negative counts are treated as 0. */
long wq_backoff_ms(int requeues);

/*
 * Block until a key is available and take it: *key_out receives a malloc'd
 * copy owned by the caller (free() it after wq_done). Returns false, with
 * *key_out NULL, once the queue is shut down and drained.
 */
bool wq_get(struct wq *q, char **key_out);

/* Mark `key` (as returned by wq_get) finished. If it was added again while
 * being processed, it is queued now. Unknown keys are ignored. */
void wq_done(struct wq *q, const char *key);

/* Stop intake and wake every blocked wq_get (see the drain rules above).
 * Does not block. Idempotent. */
void wq_shutdown(struct wq *q);
bool wq_shutting_down(struct wq *q);

/* Number of keys queued and ready to be handed out (delayed keys that are
 * due are counted). */
size_t wq_len(struct wq *q);

/* Fill *st with a snapshot of the counters. */
void wq_stats(struct wq *q, struct wq_stats *st);

/* Install an observer for queue latency and work duration (NULL fn removes
 * it). It is called from the thread calling wq_get / wq_done, without the
 * queue lock held, so it may take its own locks (a metrics registry). */
void wq_set_observer(struct wq *q, wq_observer_fn fn, void *ctx);

#endif
