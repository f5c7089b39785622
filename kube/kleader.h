/*
 * kleader: leader election on a coordination.k8s.io/v1 Lease, the way
 * client-go's leaderelection does it, with release on stop by default.
 *
 * A thread loops every retry period:
 *  - GET the Lease; 404 -> create it holding it (a 409 means another
 *    candidate won the race);
 *  - held by us -> renew (PUT with the resourceVersion we read, new
 *    renewTime);
 *  - held by another identity -> take it over only when that holder has not
 *    renewed for leaseDurationSeconds, measured on OUR monotonic clock from
 *    the moment we last saw the Lease change (immune to clock skew), or
 *    when holderIdentity is empty (a released Lease);
 *  - a takeover increments spec.leaseTransitions and sets acquireTime.
 * Every update carries metadata.resourceVersion, so a racing writer gets a
 * 409 Conflict and loses. While leading, the Lease is renewed from the
 * object the last write returned (no GET). When no renewal succeeded for
 * renew_deadline_ms, leadership is lost: on_stopped_leading is called and
 * the loop goes on as a candidate (on_started_leading is called again if it
 * wins later).
 *
 * kleader_stop releases a held Lease (holderIdentity "", leaseDurationSeconds
 * 1, renewTime now) so another candidate takes over within one retry period,
 * then calls on_stopped_leading. MicroTime values carry exactly 6
 * fractional digits, as the API server requires.
 *
 * Callbacks run on the election thread; they must not call kleader_stop.
 */
#ifndef GRACE_KLEADER_H
#define GRACE_KLEADER_H

#include <stdbool.h>

#include "kclient.h"
#include "kerr.h"

struct kleader;

struct kleader_options {
    const char *lease_namespace; /* required */
    const char *lease_name;      /* required */
    const char *identity;        /* required, unique per candidate (pod name + pid) */
    long lease_duration_ms;      /* 0: 15000 */
    long renew_deadline_ms;      /* 0: 10000 */
    long retry_period_ms;        /* 0: 2000 */
    void (*on_started_leading)(void *ctx);
    void (*on_stopped_leading)(void *ctx);
    void *ctx;
};

/* New elector (not started). Options and strings are copied; `c` is
 * borrowed and must outlive it. KERR_INVAL when a required option is
 * missing or renew_deadline >= lease_duration or retry >= renew_deadline. */
enum kerr kleader_new(struct kclient *c, const struct kleader_options *opts, struct kleader **out,
                      struct kerr_info *err);

/* Start the election thread. KERR_INVAL if already started. */
enum kerr kleader_start(struct kleader *l);

/* True while we hold the Lease (renewed within the renew deadline). */
bool kleader_is_leader(struct kleader *l);

/* The Lease's spec.leaseTransitions as last read or written (-1 if unknown). */
long kleader_transitions(struct kleader *l);

/* Stop the thread; if leading, release the Lease and call
 * on_stopped_leading. Blocks for at most one API request. Idempotent. */
void kleader_stop(struct kleader *l);

/* Free (stops first). NULL allowed. */
void kleader_free(struct kleader *l);

#endif
