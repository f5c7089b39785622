/*
 * kdiscovery: cached API discovery (see kdiscovery.h).
 *
 * The cache is one immutable jansson snapshot:
 *   {"groups": {"<group>": ["v1", "v1beta2"], ...},       (server order)
 *    "gv": {"<group>/<version>" or "<version>": {"<plural>": <namespaced>}}}
 * built off-lock by a refresh and swapped in under `lock`. Readers take a
 * reference under the lock and read without it.
 */
#include "kdiscovery.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>

#include "kclient_http.h"

#define KD_ACCEPT_AGGREGATED                                                                       \
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"                        \
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"                   \
    "application/json"
#define KD_FAILED_RETRY_S 1 /* no cache yet: at most one attempt per second */

struct kdiscovery {
    struct kclient *c;
    pthread_mutex_t lock; /* guards index, the times, failed, interval */
    json_t *index;        /* NULL until the first successful refresh */
    time_t loaded_at;     /* last success */
    time_t attempted_at;  /* start of the last refresh */
    time_t failed_at;     /* last failure (when `failed`) */
    bool failed;
    int interval;
};

static time_t kd_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

enum kerr kdiscovery_new(struct kclient *c, struct kdiscovery **out)
{
    *out = NULL;
    if (!c)
        return KERR_INVAL;
    struct kdiscovery *d = kerr_xcalloc(1, sizeof *d);
    d->c = c;
    d->interval = KDISCOVERY_DEFAULT_INTERVAL_S;
    pthread_mutex_init(&d->lock, NULL);
    *out = d;
    return KERR_OK;
}

void kdiscovery_set_interval(struct kdiscovery *d, int seconds)
{
    pthread_mutex_lock(&d->lock);
    d->interval = seconds < 0 ? 0 : seconds;
    pthread_mutex_unlock(&d->lock);
}

void kdiscovery_free(struct kdiscovery *d)
{
    if (!d)
        return;
    json_decref(d->index);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/* GET `path` with `accept`; *out owned on KERR_OK. */
static enum kerr kd_get(struct kdiscovery *d, const char *path, const char *accept, json_t **out,
                        struct kerr_info *err)
{
    struct kclient_request req = {.verb = "GET", .method = "GET", .path = path, .accept = accept};
    struct kclient_response resp;
    *out = NULL;
    enum kerr rc = kclient_http_do(d->c, &req, &resp, err);
    if (rc == KERR_OK) {
        *out = json_loadb(resp.body ? resp.body : "", resp.len, 0, NULL);
        if (!json_is_object(*out)) {
            json_decref(*out);
            *out = NULL;
            rc = kerr_set(err, KERR_PARSE, resp.status, "BadJSON",
                          "discovery %s: not a JSON object", path);
        }
    }
    kclient_response_free(&resp);
    return rc;
}

/* Record one resource in the index under "<group>/<version>". */
static void kd_add(json_t *ix, const char *group, const char *version, const char *plural,
                   bool namespaced)
{
    char gv[512];
    if (!version || !plural || strchr(plural, '/'))
        return; /* subresources are not indexed */
    snprintf(gv, sizeof gv, "%s%s%s", group ? group : "", group && *group ? "/" : "", version);
    json_t *groups = json_object_get(ix, "groups"), *gvs = json_object_get(ix, "gv");
    json_t *versions = json_object_get(groups, group ? group : "");
    if (!versions) {
        versions = json_array();
        json_object_set_new(groups, group ? group : "", versions);
    }
    json_t *res = json_object_get(gvs, gv);
    if (!res) {
        res = json_object();
        json_object_set_new(gvs, gv, res);
        json_array_append_new(versions, json_string(version));
    }
    json_object_set_new(res, plural, json_boolean(namespaced));
}

/* Aggregated form: APIGroupDiscoveryList. */
static void kd_add_aggregated(json_t *ix, json_t *list)
{
    size_t i, j, k;
    json_t *g, *v, *r;
    json_array_foreach(json_object_get(list, "items"), i, g)
    {
        const char *group =
            json_string_value(json_object_get(json_object_get(g, "metadata"), "name"));
        json_array_foreach(json_object_get(g, "versions"), j, v)
        {
            const char *version = json_string_value(json_object_get(v, "version"));
            json_array_foreach(json_object_get(v, "resources"), k, r)
            {
                const char *scope = json_string_value(json_object_get(r, "scope"));
                kd_add(ix, group ? group : "", version,
                       json_string_value(json_object_get(r, "resource")),
                       scope && strcmp(scope, "Namespaced") == 0);
            }
        }
    }
}

/* Legacy form: one APIResourceList for group/version. */
static void kd_add_legacy(json_t *ix, const char *group, const char *version, json_t *list)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(list, "resources"), i, r)
    {
        kd_add(ix, group, version, json_string_value(json_object_get(r, "name")),
               json_is_true(json_object_get(r, "namespaced")));
    }
}

/* Fetch /api/<v> or /apis/<g>/<v> and add it; failures are skipped. */
static void kd_legacy_gv(struct kdiscovery *d, json_t *ix, const char *group, const char *version)
{
    char path[600];
    json_t *list = NULL;
    if (group && *group)
        snprintf(path, sizeof path, "/apis/%s/%s", group, version);
    else
        snprintf(path, sizeof path, "/api/%s", version);
    if (kd_get(d, path, NULL, &list, NULL) == KERR_OK)
        kd_add_legacy(ix, group, version, list);
    json_decref(list);
}

/* /api in its legacy form (APIVersions) or aggregated form. */
static enum kerr kd_load_root(struct kdiscovery *d, json_t *ix, const char *root,
                              struct kerr_info *err)
{
    json_t *j = NULL;
    enum kerr rc = kd_get(d, root, KD_ACCEPT_AGGREGATED, &j, err);
    if (rc != KERR_OK)
        return rc;
    const char *kind = json_string_value(json_object_get(j, "kind"));
    size_t i, k;
    json_t *v, *g;
    if (kind && strcmp(kind, "APIGroupDiscoveryList") == 0) {
        kd_add_aggregated(ix, j);
    } else if (strcmp(root, "/api") == 0) {
        json_array_foreach(json_object_get(j, "versions"), i, v)
        {
            if (json_is_string(v))
                kd_legacy_gv(d, ix, "", json_string_value(v));
        }
    } else {
        json_array_foreach(json_object_get(j, "groups"), i, g)
        {
            const char *name = json_string_value(json_object_get(g, "name"));
            json_array_foreach(json_object_get(g, "versions"), k, v)
            {
                const char *ver = json_string_value(json_object_get(v, "version"));
                if (name && *name && ver)
                    kd_legacy_gv(d, ix, name, ver);
            }
        }
    }
    json_decref(j);
    return KERR_OK;
}

enum kerr kdiscovery_refresh(struct kdiscovery *d, struct kerr_info *err)
{
    pthread_mutex_lock(&d->lock);
    d->attempted_at = kd_now();
    pthread_mutex_unlock(&d->lock);
    json_t *ix = json_pack("{s:{}, s:{}}", "groups", "gv");
    enum kerr rc = kd_load_root(d, ix, "/api", err);
    if (rc == KERR_OK)
        rc = kd_load_root(d, ix, "/apis", err);
    if (rc != KERR_OK) {
        json_decref(ix);
        pthread_mutex_lock(&d->lock);
        d->failed = true;
        d->failed_at = kd_now();
        pthread_mutex_unlock(&d->lock);
        return rc;
    }
    pthread_mutex_lock(&d->lock);
    json_t *old = d->index;
    d->index = ix;
    d->loaded_at = kd_now();
    d->failed = false;
    pthread_mutex_unlock(&d->lock);
    json_decref(old);
    return KERR_OK;
}

/*
 * A reference to the current snapshot (caller decrefs), loading it when
 * there is none, or refreshing a stale one when `missed` is true.
 */
static json_t *kd_snapshot(struct kdiscovery *d, bool missed, enum kerr *rc, struct kerr_info *err)
{
    pthread_mutex_lock(&d->lock);
    time_t now = kd_now();
    /* Without a cache: fetch unless an attempt just failed (concurrent first
     * loads may fetch twice). With one: only on a miss, once per interval. */
    bool fetch = d->index ? (missed && now - d->loaded_at >= d->interval &&
                             now - d->attempted_at >= (d->interval ? 1 : 0))
                          : (!d->failed || now - d->failed_at >= KD_FAILED_RETRY_S);
    bool had = d->index != NULL;
    pthread_mutex_unlock(&d->lock);
    *rc = KERR_OK;
    if (fetch) {
        struct kerr_info local;
        *rc = kdiscovery_refresh(d, &local);
        if (*rc != KERR_OK && !had && err)
            *err = local;
    }
    pthread_mutex_lock(&d->lock);
    json_t *ix = json_incref(d->index);
    pthread_mutex_unlock(&d->lock);
    if (!ix && *rc == KERR_OK)
        *rc = kerr_set(err, KERR_IO, 0, "NoDiscovery",
                       "discovery failed recently; retrying in a moment");
    else if (ix)
        *rc = KERR_OK;
    return ix;
}

/* The namespaced flag of group/version/plural in ix, or NULL. */
static json_t *kd_lookup(json_t *ix, const char *group, const char *version, const char *plural)
{
    char gv[512];
    if (!ix || !version || !plural)
        return NULL;
    snprintf(gv, sizeof gv, "%s%s%s", group ? group : "", group && *group ? "/" : "", version);
    return json_object_get(json_object_get(json_object_get(ix, "gv"), gv), plural);
}

/* Lookup with one refresh on a miss (rate-limited). */
static json_t *kd_find(struct kdiscovery *d, const char *group, const char *version,
                       const char *plural, bool *found)
{
    enum kerr rc;
    json_t *ix = kd_snapshot(d, false, &rc, NULL);
    json_t *v = kd_lookup(ix, group, version, plural);
    if (!v && ix) {
        json_decref(ix);
        ix = kd_snapshot(d, true, &rc, NULL);
        v = kd_lookup(ix, group, version, plural);
    }
    *found = v != NULL;
    return ix;
}

bool kdiscovery_has(struct kdiscovery *d, const char *group, const char *version,
                    const char *plural)
{
    bool found;
    json_decref(kd_find(d, group, version, plural, &found));
    return found;
}

bool kdiscovery_namespaced(struct kdiscovery *d, const char *group, const char *version,
                           const char *plural)
{
    bool found;
    json_t *ix = kd_find(d, group, version, plural, &found);
    bool ns = found && json_is_true(kd_lookup(ix, group, version, plural));
    json_decref(ix);
    return ns;
}

/* First match of the preferred list (or of the server's order) in ix. */
static const char *kd_pick(json_t *ix, const char *group, const char *plural,
                           const char *const *preferred)
{
    if (preferred) {
        for (; *preferred; preferred++)
            if (kd_lookup(ix, group, *preferred, plural))
                return *preferred;
        return NULL;
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(ix, "groups"), group ? group : ""), i, v)
    {
        if (kd_lookup(ix, group, json_string_value(v), plural))
            return json_string_value(v);
    }
    return NULL;
}

enum kerr kdiscovery_pick_version(struct kdiscovery *d, const char *group, const char *plural,
                                  const char *const *preferred, char *buf, size_t n,
                                  struct kerr_info *err)
{
    enum kerr rc;
    if (!plural || !buf || n == 0)
        return kerr_set(err, KERR_INVAL, 0, "BadRequest", "discovery: bad arguments");
    json_t *ix = kd_snapshot(d, false, &rc, err);
    if (!ix)
        return rc;
    const char *v = kd_pick(ix, group, plural, preferred);
    if (!v) {
        json_decref(ix);
        ix = kd_snapshot(d, true, &rc, err);
        v = ix ? kd_pick(ix, group, plural, preferred) : NULL;
    }
    if (!v) {
        char list[256] = "";
        for (size_t i = 0, len = 0; preferred && preferred[i] && len < sizeof list; i++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                                    preferred[i]);
        rc = kerr_set(err, KERR_NOTFOUND, 0, "NotServed", "discovery: %s%s%s is not served in %s%s",
                      plural, group && *group ? "." : "", group ? group : "",
                      preferred ? "any of " : "any version", list);
    } else if (strlen(v) + 1 > n)
        rc = kerr_set(err, KERR_INVAL, 0, "BadRequest", "discovery: version buffer too small");
    else
        snprintf(buf, n, "%s", v);
    json_decref(ix);
    return rc;
}

size_t kdiscovery_count(struct kdiscovery *d)
{
    pthread_mutex_lock(&d->lock);
    size_t n = d->index ? json_object_size(json_object_get(d->index, "gv")) : 0;
    pthread_mutex_unlock(&d->lock);
    return n;
}

bool kdiscovery_fatal(enum kerr e)
{
    switch (e) {
    case KERR_UNAUTHORIZED:
    case KERR_FORBIDDEN:
    case KERR_TLS:
    case KERR_BADREQUEST:
    case KERR_CONFIG:
    case KERR_INVAL: return true;
    default: return false;
    }
}

/* Sleep `ms` in slices of at most 100 ms; false when *stop was set. */
static bool kd_sleep(long ms, const volatile sig_atomic_t *stop)
{
    while (ms > 0 && !(stop && *stop)) {
        long slice = ms < 100 ? ms : 100;
        struct timespec ts = {0, slice * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        ms -= slice;
    }
    return !(stop && *stop);
}

enum kerr kdiscovery_wait_for(struct kdiscovery *d, const struct kdiscovery_wait *w,
                              struct kerr_info *err)
{
    long not_served = w->not_served_ms > 0 ? w->not_served_ms : 2000;
    long min = w->backoff_min_ms > 0 ? w->backoff_min_ms : 1000;
    long max = w->backoff_max_ms > 0 ? w->backoff_max_ms : 30000;
    long backoff = min;
    struct kerr_info local;
    if (!err)
        err = &local;
    while (!(w->stop && *w->stop)) {
        enum kerr e = kdiscovery_refresh(d, err);
        if (e == KERR_OK && kdiscovery_has(d, w->group, w->version, w->plural))
            return KERR_OK;
        if (kdiscovery_fatal(e))
            return e;
        long wait = e == KERR_OK ? not_served : backoff;
        backoff = e == KERR_OK ? min : (backoff * 2 > max ? max : backoff * 2);
        if (w->progress)
            w->progress(w->ctx, e, err, wait);
        if (!kd_sleep(wait, w->stop))
            break;
    }
    return kerr_set(err, KERR_STOPPED, 0, "Stopped", "discovery: stopped while waiting");
}
