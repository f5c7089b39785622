/*
 * kleader: Lease-based leader election (see kleader.h for the protocol).
 *
 * The election thread owns every field below the "thread only" comment;
 * other threads read `leader` and `transitions` (atomics) and set `stop`
 * under `mu`, which also carries the condition variable the thread sleeps
 * on between attempts.
 */
#include "kleader.h"
#include "ktime.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct kres kleader_res = {"coordination.k8s.io", "v1", "leases"};

struct kleader {
    struct kclient *client;
    char *ns, *name, *identity;
    long duration_ms, deadline_ms, retry_ms;
    void (*on_started)(void *ctx);
    void (*on_stopped)(void *ctx);
    void *ctx;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* guards stop */
    pthread_cond_t cv;  /* signalled by kleader_stop */
    bool stop;
    atomic_bool leader;
    atomic_long transitions;
    /* thread only: */
    json_t *held;      /* the Lease our last successful write returned */
    char *observed_rv; /* the Lease version last seen, and when (monotonic) */
    double observed_at;
    double last_renew;
};

static long kl_duration_s(const struct kleader *l)
{
    long s = (l->duration_ms + 999) / 1000;
    return s < 1 ? 1 : s;
}

static void kl_set_held(struct kleader *l, json_t *lease)
{
    json_decref(l->held);
    l->held = lease;
    if (lease)
        atomic_store(&l->transitions, (long)json_integer_value(json_object_get(
                                          json_object_get(lease, "spec"), "leaseTransitions")));
}

/* Remember when the Lease last changed, on our own clock. */
static void kl_observe(struct kleader *l, const json_t *lease)
{
    const char *rv =
        json_string_value(json_object_get(json_object_get(lease, "metadata"), "resourceVersion"));
    if (!rv)
        rv = "";
    if (!l->observed_rv || strcmp(l->observed_rv, rv) != 0) {
        free(l->observed_rv);
        l->observed_rv = kerr_xstrdup(rv);
        l->observed_at = ktime_mono_s();
    }
    atomic_store(&l->transitions, (long)json_integer_value(json_object_get(
                                      json_object_get(lease, "spec"), "leaseTransitions")));
}

/* A copy of `lease` fit to PUT back: managedFields dropped, spec copied. */
static json_t *kl_copy_for_update(const json_t *lease)
{
    json_t *out = json_deep_copy(lease);
    if (!out)
        kerr_oom();
    json_object_del(json_object_get(out, "metadata"), "managedFields");
    if (!json_is_object(json_object_get(out, "spec")))
        json_object_set_new(out, "spec", json_object());
    return out;
}

static bool kl_create(struct kleader *l)
{
    char now[48];
    json_t *out = NULL;
    ktime_microtime(now);
    json_t *lease = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:I, s:s, s:s, s:i}}", "apiVersion",
                              "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
                              l->name, "namespace", l->ns, "spec", "holderIdentity", l->identity,
                              "leaseDurationSeconds", (json_int_t)kl_duration_s(l), "acquireTime",
                              now, "renewTime", now, "leaseTransitions", 0);
    if (!lease)
        kerr_oom();
    enum kerr e = kclient_create(l->client, &kleader_res, l->ns, lease, &out, NULL);
    json_decref(lease);
    if (e != KERR_OK) /* KERR_EXISTS: another candidate created it first */
        return false;
    kl_observe(l, out);
    kl_set_held(l, out);
    return true;
}

/* May we take `lease`? Yes if we hold it, it is released, or its holder
 * has not renewed for leaseDurationSeconds (by our clock). */
static bool kl_may_take(struct kleader *l, const json_t *lease)
{
    const json_t *spec = json_object_get(lease, "spec");
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    if (!holder || !*holder || strcmp(holder, l->identity) == 0)
        return true;
    json_int_t dur = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
    if (dur <= 0)
        dur = kl_duration_s(l);
    return ktime_mono_s() >= l->observed_at + (double)dur;
}

/* PUT `lease` (ours to edit) with us as holder; true on success. */
static bool kl_put_holder(struct kleader *l, json_t *lease)
{
    char now[48];
    json_t *out = NULL;
    json_t *spec = json_object_get(lease, "spec");
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    ktime_microtime(now);
    if (!holder || strcmp(holder, l->identity) != 0) {
        json_int_t t = json_integer_value(json_object_get(spec, "leaseTransitions"));
        json_object_set_new(spec, "leaseTransitions", json_integer(t + 1));
        json_object_set_new(spec, "acquireTime", json_string(now));
        json_object_set_new(spec, "holderIdentity", json_string(l->identity));
    }
    json_object_set_new(spec, "leaseDurationSeconds", json_integer(kl_duration_s(l)));
    json_object_set_new(spec, "renewTime", json_string(now));
    enum kerr e = kclient_update(l->client, &kleader_res, l->ns, l->name, NULL, lease, &out, NULL);
    if (e != KERR_OK) { /* KERR_CONFLICT: someone wrote it since we read it */
        kl_set_held(l, NULL);
        return false;
    }
    kl_observe(l, out);
    kl_set_held(l, out);
    return true;
}

/* One attempt to acquire or renew. */
static bool kl_try(struct kleader *l)
{
    json_t *cur = NULL;
    if (atomic_load(&l->leader) && l->held) {
        cur = json_incref(l->held); /* renew from our own last write */
    } else {
        enum kerr e = kclient_get(l->client, &kleader_res, l->ns, l->name, &cur, NULL);
        if (e == KERR_NOTFOUND)
            return kl_create(l);
        if (e != KERR_OK)
            return false;
        kl_observe(l, cur);
        if (!kl_may_take(l, cur)) {
            json_decref(cur);
            kl_set_held(l, NULL);
            return false;
        }
    }
    json_t *next = kl_copy_for_update(cur);
    json_decref(cur);
    bool ok = kl_put_holder(l, next);
    json_decref(next);
    return ok;
}

/* Give the Lease up so another candidate takes it at once. */
static void kl_release(struct kleader *l)
{
    char now[48];
    json_t *cur = l->held ? json_incref(l->held) : NULL;
    if (!cur && kclient_get(l->client, &kleader_res, l->ns, l->name, &cur, NULL) != KERR_OK)
        return;
    const char *holder =
        json_string_value(json_object_get(json_object_get(cur, "spec"), "holderIdentity"));
    if (holder && strcmp(holder, l->identity) == 0) {
        json_t *next = kl_copy_for_update(cur);
        json_t *spec = json_object_get(next, "spec");
        ktime_microtime(now);
        json_object_set_new(spec, "holderIdentity", json_string(""));
        json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
        json_object_set_new(spec, "renewTime", json_string(now));
        kclient_update(l->client, &kleader_res, l->ns, l->name, NULL, next, NULL, NULL);
        json_decref(next);
    }
    json_decref(cur);
    kl_set_held(l, NULL);
}

static void kl_set_leader(struct kleader *l, bool leading)
{
    if (atomic_exchange(&l->leader, leading) == leading)
        return;
    if (leading && l->on_started)
        l->on_started(l->ctx);
    if (!leading && l->on_stopped)
        l->on_stopped(l->ctx);
}

/* Sleep for ms unless stopped; returns true when stopped. */
static bool kl_sleep(struct kleader *l, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->mu);
    while (!l->stop && pthread_cond_timedwait(&l->cv, &l->mu, &ts) == 0)
        ;
    bool stopped = l->stop;
    pthread_mutex_unlock(&l->mu);
    return stopped;
}

static void *kl_main(void *arg)
{
    struct kleader *l = arg;
    do {
        if (kl_try(l)) {
            l->last_renew = ktime_mono_s();
            kl_set_leader(l, true);
        } else if (atomic_load(&l->leader) &&
                   ktime_mono_s() - l->last_renew >= (double)l->deadline_ms / 1000.0) {
            kl_set_held(l, NULL);
            kl_set_leader(l, false); /* renew deadline passed */
        }
    } while (!kl_sleep(l, l->retry_ms));
    if (atomic_load(&l->leader)) {
        kl_release(l);
        kl_set_leader(l, false);
    }
    return NULL;
}

/* ---- public API ---- */

enum kerr kleader_new(struct kclient *c, const struct kleader_options *o, struct kleader **out,
                      struct kerr_info *err)
{
    *out = NULL;
    long dur = o->lease_duration_ms > 0 ? o->lease_duration_ms : 15000;
    long dl = o->renew_deadline_ms > 0 ? o->renew_deadline_ms : 10000;
    long retry = o->retry_period_ms > 0 ? o->retry_period_ms : 2000;
    if (!o->lease_namespace || !*o->lease_namespace || !o->lease_name || !*o->lease_name ||
        !o->identity || !*o->identity)
        return kerr_set(err, KERR_INVAL, 0, "LeaderElection",
                        "leader election needs a lease namespace, name and identity");
    if (dl >= dur || retry >= dl)
        return kerr_set(err, KERR_INVAL, 0, "LeaderElection",
                        "need retry period (%ld ms) < renew deadline (%ld ms) < lease duration "
                        "(%ld ms)",
                        retry, dl, dur);
    struct kleader *l = kerr_xcalloc(1, sizeof *l);
    l->client = c;
    l->ns = kerr_xstrdup(o->lease_namespace);
    l->name = kerr_xstrdup(o->lease_name);
    l->identity = kerr_xstrdup(o->identity);
    l->duration_ms = dur;
    l->deadline_ms = dl;
    l->retry_ms = retry;
    l->on_started = o->on_started_leading;
    l->on_stopped = o->on_stopped_leading;
    l->ctx = o->ctx;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&l->leader, false);
    atomic_init(&l->transitions, -1);
    *out = l;
    return KERR_OK;
}

enum kerr kleader_start(struct kleader *l)
{
    if (l->started || l->stop)
        return KERR_INVAL;
    if (pthread_create(&l->thread, NULL, kl_main, l) != 0)
        return KERR_IO;
    l->started = true;
    return KERR_OK;
}

bool kleader_is_leader(struct kleader *l)
{
    return atomic_load(&l->leader);
}

long kleader_transitions(struct kleader *l)
{
    return atomic_load(&l->transitions);
}

void kleader_stop(struct kleader *l)
{
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (l->started) {
        pthread_join(l->thread, NULL);
        l->started = false;
    }
}

void kleader_free(struct kleader *l)
{
    if (!l)
        return;
    kleader_stop(l);
    json_decref(l->held);
    free(l->observed_rv);
    free(l->ns);
    free(l->name);
    free(l->identity);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
