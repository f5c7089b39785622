/*
 * kdiscovery: which group/versions and resources the API server serves,
 * and whether each resource is namespaced, e.g. to pick Strimzi's
 * kafka.strimzi.io "v1" or "v1beta2" at start-up, or to notice that a
 * CRD is not installed.
 *
 * Aggregated discovery (apidiscovery.k8s.io/v2, two requests: /api and
 * /apis) is asked for first; a server that answers with the legacy forms
 * is walked the legacy way (/api, /api/<v>, /apis, /apis/<g>/<v>; a
 * group-version that fails, such as an unavailable aggregated API, is
 * skipped). Subresources ("deployments/status") are not indexed.
 *
 * The result is cached. Queries load it on first use; a query that misses
 * refreshes it again if the cache is older than the refresh interval (so a
 * CRD installed later is found, without a request per query);
 * kdiscovery_refresh() forces a refresh. Thread-safe: the index is an
 * immutable snapshot swapped under a lock; no lock is held during I/O.
 */
#ifndef GRACE_KDISCOVERY_H
#define GRACE_KDISCOVERY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "kclient.h"
#include "kerr.h"

#define KDISCOVERY_DEFAULT_INTERVAL_S 30

struct kdiscovery;

/* New, empty cache over `c` (borrowed; must outlive it). Nothing is fetched
 * yet. Returns KERR_INVAL when c is NULL. Free with kdiscovery_free(). */
enum kerr kdiscovery_new(struct kclient *c, struct kdiscovery **out);

/* Minimum age (seconds) of the cache before a missing resource triggers a
 * refresh; 0 = refresh on every miss. Default KDISCOVERY_DEFAULT_INTERVAL_S. */
void kdiscovery_set_interval(struct kdiscovery *d, int seconds);

/* Fetch everything now and replace the cache. On error the old cache is
 * kept. KERR_* from the client (e.g. KERR_FORBIDDEN, KERR_IO). */
enum kerr kdiscovery_refresh(struct kdiscovery *d, struct kerr_info *err);

/* Is `plural` served in group/version? group "" or NULL = core. false also
 * when discovery cannot be fetched. */
bool kdiscovery_has(struct kdiscovery *d, const char *group, const char *version,
                    const char *plural);

/* Is group/version/plural namespaced? false when cluster-scoped or not
 * served. */
bool kdiscovery_namespaced(struct kdiscovery *d, const char *group, const char *version,
                           const char *plural);

/*
 * The first version in `preferred` (NULL-terminated, e.g. {"v1", "v1beta2",
 * NULL}) in which group/plural is served, copied into buf. With preferred
 * NULL: the first version the server lists for the group (its preferred
 * one) that serves plural. KERR_NOTFOUND when none is served, KERR_INVAL
 * when buf is too small, or the error of fetching discovery.
 */
enum kerr kdiscovery_pick_version(struct kdiscovery *d, const char *group, const char *plural,
                                  const char *const *preferred, char *buf, size_t n,
                                  struct kerr_info *err);

/*
 * Is `e`, returned by a discovery refresh, an error that retrying cannot fix?
 * The credentials are refused (KERR_UNAUTHORIZED), the identity may not read
 * discovery (KERR_FORBIDDEN), TLS verification fails (KERR_TLS), the server
 * refuses the request as such (KERR_BADREQUEST: e.g. plain HTTP sent to an
 * HTTPS port) or the configuration is wrong (KERR_CONFIG, KERR_INVAL).
 * Connection refused, timeouts, 429 and 5xx are transient: false.
 */
bool kdiscovery_fatal(enum kerr e);

/* Called by kdiscovery_wait_for before each wait: `e` is the refresh's
 * error (`err` its details), or KERR_OK when the server answered but does
 * not serve the resource yet; `retry_ms` is the wait. */
typedef void (*kdiscovery_wait_fn)(void *ctx, enum kerr e, const struct kerr_info *err,
                                   long retry_ms);

/* What kdiscovery_wait_for waits for, and how. Zero times take the defaults. */
struct kdiscovery_wait {
    const char *group, *version, *plural; /* group "" = core */
    const volatile sig_atomic_t *stop; /* nonzero: give up (KERR_STOPPED); may be NULL */
    long not_served_ms;                   /* wait while not served; default 2000 */
    long backoff_min_ms, backoff_max_ms;  /* after errors, doubling; default 1000, 30000 */
    kdiscovery_wait_fn progress;          /* may be NULL */
    void *ctx;
};

/*
 * Start-up: refresh until w->group/version/plural is served (a CRD may be
 * applied after the operator). Transient errors are retried with backoff,
 * "not served yet" every not_served_ms; each wait is reported to
 * w->progress first. Returns KERR_OK once served, a fatal error (see
 * kdiscovery_fatal) at once with `err` filled, or KERR_STOPPED when *w->stop
 * becomes nonzero (checked every 100 ms).
 */
enum kerr kdiscovery_wait_for(struct kdiscovery *d, const struct kdiscovery_wait *w,
                              struct kerr_info *err);

/* Number of group/versions in the cache (0 before the first load). */
size_t kdiscovery_count(struct kdiscovery *d);

void kdiscovery_free(struct kdiscovery *d);

#endif
