/*
 * wq: rate-limited, delaying, de-duplicating work queue (see wq.h).
 *
 * Every key the queue knows about has one `struct wq_item`, found through
 * the runtime's hash map (kmap, keyed by the FNV-1a hash of the key). An
 * item lives while it is dirty (waiting to be handed out), processing
 * (handed out, not done), delayed (in the timer heap) or has a non-zero
 * requeue count; it is freed as soon as none of these holds.
 *
 * Invariant (as in client-go): an item is in the FIFO exactly when it is
 * dirty and not processing. A dirty item that is processing goes into the
 * FIFO at wq_done; `requeue_pending` counts those so that a draining shutdown
 * keeps getters waiting for them.
 *
 * Delayed adds live in a binary min-heap ordered by ready time. There is no
 * timer thread: wq_get moves due items into the FIFO and, when nothing is
 * ready, sleeps on the condition variable until the earliest ready time.
 */
#include "wq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kerr.h"
#include "khash.h"
#include "kmap.h"

struct wq_item {
    struct kmap_node node; /* in wq.items */
    char *key;
    struct wq_item *qnext;         /* FIFO link while queued */
    struct wq_item *rprev, *rnext; /* the running list, while processing */
    bool dirty;
    bool processing;
    bool queued;
    bool delayed; /* in the heap at heap_idx */
    size_t heap_idx;
    int requeues;
    double ready_at;   /* monotonic seconds, while delayed */
    double added_at;   /* when it last became dirty */
    double started_at; /* when it was handed out */
};

struct wq {
    pthread_mutex_t mu;          /* guards every field below */
    pthread_cond_t cv;           /* signalled on: key queued, delayed key added, shutdown, done */
    struct kmap items;           /* every wq_item, by key */
    struct wq_item *head, *tail; /* FIFO of ready keys */
    size_t depth;
    struct wq_item **heap; /* delayed keys, min-heap on ready_at */
    size_t nheap, capheap;
    size_t nprocessing;
    struct wq_item *running; /* the keys processing (at most the workers): wq_stats
                              * walks these, not every key */
    size_t requeue_pending;  /* processing and dirty */
    bool shutdown;
    uint64_t adds, retries;
    wq_observer_fn obs;
    void *obs_ctx;
};

static double wq_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t wq_hash(const char *s)
{
    return khash_str(KHASH_INIT, s);
}

/* ---- the items by key ---- */

static bool wq_item_is(const struct kmap_node *n, const void *key)
{
    return strcmp(KMAP_ENTRY(n, const struct wq_item, node)->key, key) == 0;
}

static struct wq_item *wq_find(struct wq *q, const char *key, uint64_t h)
{
    return KMAP_ENTRY(kmap_find(&q->items, h, wq_item_is, key), struct wq_item, node);
}

static struct wq_item *wq_lookup(struct wq *q, const char *key)
{
    return wq_find(q, key, wq_hash(key));
}

static struct wq_item *wq_lookup_or_create(struct wq *q, const char *key)
{
    uint64_t h = wq_hash(key);
    struct wq_item *it = wq_find(q, key, h);
    if (it)
        return it;
    it = kerr_xcalloc(1, sizeof *it);
    it->key = kerr_xstrdup(key);
    kmap_insert(&q->items, &it->node, h);
    return it;
}

/* Free the item if nothing refers to it any more. */
static void wq_maybe_release(struct wq *q, struct wq_item *it)
{
    if (it->dirty || it->processing || it->delayed || it->requeues > 0)
        return;
    kmap_remove(&q->items, &it->node);
    free(it->key);
    free(it);
}

/* ---- timer heap ---- */

static void wq_heap_swap(struct wq *q, size_t a, size_t b)
{
    struct wq_item *t = q->heap[a];
    q->heap[a] = q->heap[b];
    q->heap[b] = t;
    q->heap[a]->heap_idx = a;
    q->heap[b]->heap_idx = b;
}

static void wq_heap_up(struct wq *q, size_t i)
{
    while (i > 0 && q->heap[(i - 1) / 2]->ready_at > q->heap[i]->ready_at) {
        wq_heap_swap(q, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void wq_heap_down(struct wq *q, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->nheap && q->heap[l]->ready_at < q->heap[m]->ready_at)
            m = l;
        if (r < q->nheap && q->heap[r]->ready_at < q->heap[m]->ready_at)
            m = r;
        if (m == i)
            return;
        wq_heap_swap(q, i, m);
        i = m;
    }
}

static void wq_heap_push(struct wq *q, struct wq_item *it)
{
    if (q->nheap == q->capheap) {
        q->capheap = q->capheap ? q->capheap * 2 : 16;
        q->heap = kerr_xrealloc(q->heap, q->capheap * sizeof(struct wq_item *));
    }
    it->heap_idx = q->nheap;
    it->delayed = true;
    q->heap[q->nheap++] = it;
    wq_heap_up(q, it->heap_idx);
}

static struct wq_item *wq_heap_pop(struct wq *q)
{
    struct wq_item *top = q->heap[0];
    q->nheap--;
    if (q->nheap > 0) {
        q->heap[0] = q->heap[q->nheap];
        q->heap[0]->heap_idx = 0;
        wq_heap_down(q, 0);
    }
    top->delayed = false;
    return top;
}

/* ---- core operations (lock held) ---- */

static void wq_enqueue(struct wq *q, struct wq_item *it)
{
    it->queued = true;
    it->qnext = NULL;
    if (q->tail)
        q->tail->qnext = it;
    else
        q->head = it;
    q->tail = it;
    q->depth++;
    pthread_cond_signal(&q->cv);
}

static void wq_add_locked(struct wq *q, struct wq_item *it, double now)
{
    if (it->dirty)
        return;
    it->dirty = true;
    it->added_at = now;
    q->adds++;
    if (it->processing)
        q->requeue_pending++;
    else
        wq_enqueue(q, it);
}

static void wq_add_after_locked(struct wq *q, struct wq_item *it, long delay_ms, double now)
{
    if (delay_ms <= 0) {
        wq_add_locked(q, it, now);
        return;
    }
    double ready = now + (double)delay_ms / 1000.0;
    if (it->delayed) {
        if (ready < it->ready_at) {
            it->ready_at = ready;
            wq_heap_up(q, it->heap_idx);
        }
    } else {
        it->ready_at = ready;
        wq_heap_push(q, it);
    }
    /* A getter may be sleeping until a later deadline: let it recompute. */
    pthread_cond_broadcast(&q->cv);
}

static void wq_promote_due(struct wq *q, double now)
{
    while (q->nheap > 0 && q->heap[0]->ready_at <= now)
        wq_add_locked(q, wq_heap_pop(q), now);
}

static struct wq_item *wq_pop_ready(struct wq *q)
{
    struct wq_item *it = q->head;
    q->head = it->qnext;
    if (!q->head)
        q->tail = NULL;
    it->qnext = NULL;
    it->queued = false;
    q->depth--;
    return it;
}

/* ---- public API ---- */

struct wq *wq_new(void)
{
    struct wq *q = kerr_xcalloc(1, sizeof *q);
    pthread_condattr_t ca;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    kmap_init(&q->items);
    return q;
}

void wq_free(struct wq *q)
{
    if (!q)
        return;
    struct kmap_iter iter;
    kmap_iter_init(&iter, &q->items);
    for (struct kmap_node *n; (n = kmap_iter_next(&iter));) {
        struct wq_item *it = KMAP_ENTRY(n, struct wq_item, node);
        free(it->key);
        free(it);
    }
    kmap_free(&q->items);
    free(q->heap);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

void wq_add(struct wq *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    if (!q->shutdown)
        wq_add_locked(q, wq_lookup_or_create(q, key), wq_now());
    pthread_mutex_unlock(&q->mu);
}

void wq_add_after(struct wq *q, const char *key, long delay_ms)
{
    pthread_mutex_lock(&q->mu);
    if (!q->shutdown)
        wq_add_after_locked(q, wq_lookup_or_create(q, key), delay_ms, wq_now());
    pthread_mutex_unlock(&q->mu);
}

long wq_backoff_ms(int requeues)
{
    long d = WQ_BACKOFF_BASE_MS;
    for (int i = 0; i < requeues; i++) {
        d *= 2;
        if (d >= WQ_BACKOFF_MAX_MS)
            return WQ_BACKOFF_MAX_MS;
    }
    return d;
}

void wq_add_rate_limited(struct wq *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    if (!q->shutdown) {
        struct wq_item *it = wq_lookup_or_create(q, key);
        long delay = wq_backoff_ms(it->requeues);
        if (it->requeues < 1000000)
            it->requeues++;
        q->retries++;
        wq_add_after_locked(q, it, delay, wq_now());
    }
    pthread_mutex_unlock(&q->mu);
}

void wq_forget(struct wq *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    struct wq_item *it = wq_lookup(q, key);
    if (it) {
        it->requeues = 0;
        wq_maybe_release(q, it);
    }
    pthread_mutex_unlock(&q->mu);
}

int wq_num_requeues(struct wq *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    struct wq_item *it = wq_lookup(q, key);
    int n = it ? it->requeues : 0;
    pthread_mutex_unlock(&q->mu);
    return n;
}

/* Sleep until signalled or until the earliest delayed key is due. */
static void wq_wait(struct wq *q)
{
    if (q->nheap == 0) {
        pthread_cond_wait(&q->cv, &q->mu);
        return;
    }
    double t = q->heap[0]->ready_at;
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    pthread_cond_timedwait(&q->cv, &q->mu, &ts);
}

bool wq_get(struct wq *q, char **key_out)
{
    struct wq_item *it = NULL;
    double now = 0, latency = 0;
    *key_out = NULL;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        now = wq_now();
        wq_promote_due(q, now);
        if (q->head)
            break;
        if (q->shutdown && q->requeue_pending == 0) {
            pthread_mutex_unlock(&q->mu);
            return false;
        }
        wq_wait(q);
    }
    it = wq_pop_ready(q);
    it->dirty = false;
    it->processing = true;
    it->started_at = now;
    q->nprocessing++;
    it->rprev = NULL;
    it->rnext = q->running;
    if (q->running)
        q->running->rprev = it;
    q->running = it;
    latency = now - it->added_at;
    *key_out = kerr_xstrdup(it->key);
    wq_observer_fn fn = q->obs;
    void *ctx = q->obs_ctx;
    pthread_mutex_unlock(&q->mu);
    if (fn)
        fn(ctx, WQ_OBS_QUEUE_LATENCY, latency);
    return true;
}

void wq_done(struct wq *q, const char *key)
{
    double dur = -1;
    pthread_mutex_lock(&q->mu);
    struct wq_item *it = wq_lookup(q, key);
    if (it && it->processing) {
        it->processing = false;
        q->nprocessing--;
        if (it->rprev)
            it->rprev->rnext = it->rnext;
        else
            q->running = it->rnext;
        if (it->rnext)
            it->rnext->rprev = it->rprev;
        it->rprev = it->rnext = NULL;
        dur = wq_now() - it->started_at;
        if (it->dirty) {
            q->requeue_pending--;
            wq_enqueue(q, it);
        } else {
            wq_maybe_release(q, it);
        }
        if (q->shutdown) /* a draining getter may now be able to exit */
            pthread_cond_broadcast(&q->cv);
    }
    wq_observer_fn fn = q->obs;
    void *ctx = q->obs_ctx;
    pthread_mutex_unlock(&q->mu);
    if (fn && dur >= 0)
        fn(ctx, WQ_OBS_WORK_DURATION, dur);
}

void wq_shutdown(struct wq *q)
{
    pthread_mutex_lock(&q->mu);
    q->shutdown = true;
    /* Delayed keys that are not due yet are dropped: draining them could
     * take up to the 1000 s backoff cap. */
    while (q->nheap > 0) {
        struct wq_item *it = q->heap[--q->nheap];
        it->delayed = false;
        wq_maybe_release(q, it);
    }
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

bool wq_shutting_down(struct wq *q)
{
    pthread_mutex_lock(&q->mu);
    bool s = q->shutdown;
    pthread_mutex_unlock(&q->mu);
    return s;
}

size_t wq_len(struct wq *q)
{
    pthread_mutex_lock(&q->mu);
    wq_promote_due(q, wq_now());
    size_t n = q->depth;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void wq_stats(struct wq *q, struct wq_stats *st)
{
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&q->mu);
    double now = wq_now();
    wq_promote_due(q, now);
    st->adds = q->adds;
    st->retries = q->retries;
    st->depth = q->depth;
    st->processing = q->nprocessing;
    st->delayed = q->nheap;
    for (struct wq_item *it = q->running; it; it = it->rnext) {
        double run = now - it->started_at;
        st->unfinished_work_seconds += run;
        if (run > st->longest_running_seconds)
            st->longest_running_seconds = run;
    }
    pthread_mutex_unlock(&q->mu);
}

void wq_set_observer(struct wq *q, wq_observer_fn fn, void *ctx)
{
    pthread_mutex_lock(&q->mu);
    q->obs = fn;
    q->obs_ctx = ctx;
    pthread_mutex_unlock(&q->mu);
}
