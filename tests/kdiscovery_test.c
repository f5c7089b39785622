/*
 * Tests for kdiscovery against a scripted server that speaks legacy
 * discovery (/api, /api/v1, /apis, /apis/<g>/<v>) and, when asked,
 * aggregated discovery: lookups, scope, version picking (Strimzi's
 * v1/v1beta2 case), caching and rate-limited refresh on a miss, a failing
 * group-version, errors, and concurrent readers.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kdiscovery.h"
#include "testsrv.h"

static struct testsrv *srv;
static struct kconfig cfg;
static struct kclient *kc;
static struct kdiscovery *kd;

static atomic_bool aggregated;    /* answer the aggregated Accept with v2 lists */
static atomic_bool crd_installed; /* grace.dev/v1alpha1 is served */
static atomic_int api_status;     /* status for /api (200 normally) */

static const char API[] = "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"]}";
static const char API_V1[] =
    "{\"kind\":\"APIResourceList\",\"groupVersion\":\"v1\",\"resources\":["
    "{\"name\":\"configmaps\",\"namespaced\":true,\"kind\":\"ConfigMap\"},"
    "{\"name\":\"namespaces\",\"namespaced\":false,\"kind\":\"Namespace\"},"
    "{\"name\":\"namespaces/status\",\"namespaced\":false,\"kind\":\"Namespace\"},"
    "{\"name\":\"nodes\",\"namespaced\":false,\"kind\":\"Node\"}]}";
static const char APIS[] =
    "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":["
    "{\"name\":\"apps\",\"versions\":[{\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}]},"
    "{\"name\":\"kafka.strimzi.io\",\"versions\":["
    "{\"groupVersion\":\"kafka.strimzi.io/v1beta2\",\"version\":\"v1beta2\"},"
    "{\"groupVersion\":\"kafka.strimzi.io/v1beta1\",\"version\":\"v1beta1\"}]},"
    "{\"name\":\"metrics.k8s.io\",\"versions\":[{\"groupVersion\":\"metrics.k8s.io/v1beta1\","
    "\"version\":\"v1beta1\"}]}%s]}";
static const char APIS_GRACE[] =
    ",{\"name\":\"grace.dev\",\"versions\":[{\"groupVersion\":\"grace.dev/v1alpha1\","
    "\"version\":\"v1alpha1\"}]}";
static const char APPS_V1[] =
    "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"apps/v1\","
    "\"resources\":[{\"name\":\"deployments\",\"namespaced\":true,\"kind\":\"Deployment\"},"
    "{\"name\":\"deployments/status\",\"namespaced\":true,\"kind\":\"Deployment\"}]}";
static const char STRIMZI[] =
    "{\"kind\":\"APIResourceList\",\"groupVersion\":\"kafka.strimzi.io/x\",\"resources\":["
    "{\"name\":\"kafkatopics\",\"namespaced\":true,\"kind\":\"KafkaTopic\"}]}";
static const char GRACE[] =
    "{\"kind\":\"APIResourceList\",\"groupVersion\":\"grace.dev/v1alpha1\",\"resources\":["
    "{\"name\":\"graceservices\",\"namespaced\":true,\"kind\":\"GraceService\"}]}";
static const char AGG_API[] =
    "{\"kind\":\"APIGroupDiscoveryList\",\"apiVersion\":\"apidiscovery.k8s.io/v2\","
    "\"metadata\":{},\"items\":[{\"metadata\":{\"creationTimestamp\":null},\"versions\":[{"
    "\"version\":\"v1\",\"resources\":[{\"resource\":\"configmaps\",\"scope\":\"Namespaced\","
    "\"verbs\":[\"get\"]},{\"resource\":\"nodes\",\"scope\":\"Cluster\"}],"
    "\"freshness\":\"Current\"}]}]}";
static const char AGG_APIS[] =
    "{\"kind\":\"APIGroupDiscoveryList\",\"apiVersion\":\"apidiscovery.k8s.io/v2\","
    "\"metadata\":{},\"items\":["
    "{\"metadata\":{\"name\":\"apps\"},\"versions\":[{\"version\":\"v1\",\"resources\":["
    "{\"resource\":\"deployments\",\"scope\":\"Namespaced\",\"subresources\":[{\"subresource\":"
    "\"status\",\"verbs\":[\"get\"]}]}]}]},"
    "{\"metadata\":{\"name\":\"kafka.strimzi.io\"},\"versions\":["
    "{\"version\":\"v1\",\"resources\":[{\"resource\":\"kafkatopics\",\"scope\":\"Namespaced\"}]},"
    "{\"version\":\"v1beta2\",\"resources\":[{\"resource\":\"kafkatopics\",\"scope\":"
    "\"Namespaced\"}]}]}]}";

static void handler(void *ctx, const struct testsrv_req *r, struct testsrv_resp *out)
{
    static char apis[2048];
    const char *accept = testsrv_header(r, "Accept");
    bool agg = aggregated && accept && strstr(accept, "as=APIGroupDiscoveryList");
    out->status = 200;
    if (strcmp(r->path, "/api") == 0) {
        out->status = api_status;
        out->body = agg ? AGG_API : API;
        if (api_status != 200)
            out->body = "{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"message\":\"no\"}";
    } else if (strcmp(r->path, "/apis") == 0 && agg) {
        out->body = AGG_APIS;
    } else if (strcmp(r->path, "/apis") == 0) {
        /* only written between requests of one client thread */
        snprintf(apis, sizeof apis, APIS, crd_installed ? APIS_GRACE : "");
        out->body = apis;
    } else if (strcmp(r->path, "/api/v1") == 0) {
        out->body = API_V1;
    } else if (strcmp(r->path, "/apis/apps/v1") == 0) {
        out->body = APPS_V1;
    } else if (strncmp(r->path, "/apis/kafka.strimzi.io/", 23) == 0) {
        out->body = STRIMZI;
    } else if (strcmp(r->path, "/apis/grace.dev/v1alpha1") == 0 && crd_installed) {
        out->body = GRACE;
    } else if (strcmp(r->path, "/apis/metrics.k8s.io/v1beta1") == 0) {
        out->status = 503;
        out->body = "{\"kind\":\"Status\",\"reason\":\"ServiceUnavailable\",\"code\":503}";
    } else {
        out->status = 404;
        out->content_type = "text/plain";
        out->body = "404 page not found\n";
    }
}

static void setup(void)
{
    aggregated = false;
    crd_installed = false;
    api_status = 200;
    srv = testsrv_start();
    testsrv_set_handler(srv, handler, NULL);
    memset(&cfg, 0, sizeof cfg);
    cfg.server = (char *)testsrv_url(srv);
    ck_assert_int_eq(kclient_new(&cfg, &(struct kclient_options){.max_retries = -1}, &kc, NULL),
                     KERR_OK);
    ck_assert_int_eq(kdiscovery_new(kc, &kd), KERR_OK);
}

static void teardown(void)
{
    kdiscovery_free(kd);
    kclient_free(kc);
    testsrv_stop(srv);
}

START_TEST(kdiscovery_legacy_walks_every_group_version)
{
    ck_assert_int_eq(kdiscovery_refresh(kd, NULL), KERR_OK);
    ck_assert(kdiscovery_has(kd, "", "v1", "configmaps"));
    ck_assert(kdiscovery_has(kd, NULL, "v1", "nodes"));
    ck_assert(kdiscovery_has(kd, "apps", "v1", "deployments"));
    ck_assert(kdiscovery_has(kd, "kafka.strimzi.io", "v1beta1", "kafkatopics"));
    ck_assert(!kdiscovery_has(kd, "apps", "v1", "deployments/status"));
    ck_assert(!kdiscovery_has(kd, "apps", "v2", "deployments"));
    ck_assert(kdiscovery_namespaced(kd, "", "v1", "configmaps"));
    ck_assert(!kdiscovery_namespaced(kd, "", "v1", "namespaces"));
    ck_assert(!kdiscovery_namespaced(kd, "apps", "v1", "nosuch"));
    /* core v1, apps/v1, two strimzi versions; metrics.k8s.io failed and was skipped */
    ck_assert_uint_eq(kdiscovery_count(kd), 4);
    ck_assert_uint_eq(testsrv_nrequests(srv), 7);
    ck_assert_str_eq(testsrv_request(srv, 0)->path, "/api");
    ck_assert_str_eq(testsrv_request(srv, 1)->path, "/api/v1");
    ck_assert_str_eq(testsrv_request(srv, 2)->path, "/apis");
    ck_assert_str_eq(testsrv_request(srv, 3)->path, "/apis/apps/v1");
    ck_assert_ptr_nonnull(
        strstr(testsrv_header(testsrv_request(srv, 0), "Accept"), "as=APIGroupDiscoveryList"));
}
END_TEST

START_TEST(kdiscovery_pick_version_follows_the_preference_list)
{
    char v[16];
    struct kerr_info err;
    const char *const strimzi[] = {"v1", "v1beta2", NULL};
    ck_assert_int_eq(
        kdiscovery_pick_version(kd, "kafka.strimzi.io", "kafkatopics", strimzi, v, sizeof v, &err),
        KERR_OK);
    ck_assert_str_eq(v, "v1beta2");
    /* NULL preference: the server's order (its preferred version first) */
    ck_assert_int_eq(
        kdiscovery_pick_version(kd, "kafka.strimzi.io", "kafkatopics", NULL, v, sizeof v, &err),
        KERR_OK);
    ck_assert_str_eq(v, "v1beta2");
    const char *const only_v1[] = {"v1", NULL};
    ck_assert_int_eq(
        kdiscovery_pick_version(kd, "kafka.strimzi.io", "kafkatopics", only_v1, v, sizeof v, &err),
        KERR_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.message, "kafkatopics.kafka.strimzi.io"));
    ck_assert_ptr_nonnull(strstr(err.message, "v1"));
    ck_assert_int_eq(
        kdiscovery_pick_version(kd, "kafka.strimzi.io", "kafkatopics", strimzi, v, 4, &err),
        KERR_INVAL);
    ck_assert_int_eq(kdiscovery_pick_version(kd, "", "configmaps", NULL, v, sizeof v, &err),
                     KERR_OK);
    ck_assert_str_eq(v, "v1");
}
END_TEST

START_TEST(kdiscovery_aggregated_needs_two_requests)
{
    aggregated = true;
    char v[16];
    const char *const strimzi[] = {"v1", "v1beta2", NULL};
    ck_assert_int_eq(
        kdiscovery_pick_version(kd, "kafka.strimzi.io", "kafkatopics", strimzi, v, sizeof v, NULL),
        KERR_OK);
    ck_assert_str_eq(v, "v1");
    ck_assert(kdiscovery_has(kd, "apps", "v1", "deployments"));
    ck_assert(kdiscovery_namespaced(kd, "apps", "v1", "deployments"));
    ck_assert(!kdiscovery_namespaced(kd, "", "v1", "nodes"));
    ck_assert(kdiscovery_has(kd, "", "v1", "nodes"));
    ck_assert_uint_eq(kdiscovery_count(kd), 4);
    ck_assert_uint_eq(testsrv_nrequests(srv), 2);
}
END_TEST

START_TEST(kdiscovery_is_cached_and_a_miss_refreshes_at_most_once_per_interval)
{
    ck_assert(kdiscovery_has(kd, "apps", "v1", "deployments"));
    size_t n = testsrv_nrequests(srv);
    ck_assert_uint_eq(n, 7);
    ck_assert(kdiscovery_has(kd, "", "v1", "configmaps"));
    ck_assert_uint_eq(testsrv_nrequests(srv), n); /* cached */
    /* a miss within the interval does not refetch */
    crd_installed = true;
    ck_assert(!kdiscovery_has(kd, "grace.dev", "v1alpha1", "graceservices"));
    ck_assert_uint_eq(testsrv_nrequests(srv), n);
    /* with interval 0 a miss refetches and the new CRD is found */
    kdiscovery_set_interval(kd, 0);
    ck_assert(kdiscovery_has(kd, "grace.dev", "v1alpha1", "graceservices"));
    ck_assert_uint_gt(testsrv_nrequests(srv), n);
    n = testsrv_nrequests(srv);
    ck_assert(kdiscovery_namespaced(kd, "grace.dev", "v1alpha1", "graceservices"));
    ck_assert_uint_eq(testsrv_nrequests(srv), n); /* a hit never refetches */
}
END_TEST

START_TEST(kdiscovery_errors_are_reported_and_the_old_cache_kept)
{
    api_status = 403;
    struct kerr_info err;
    ck_assert_int_eq(kdiscovery_refresh(kd, &err), KERR_FORBIDDEN);
    ck_assert_str_eq(err.message, "no");
    ck_assert(!kdiscovery_has(kd, "", "v1", "configmaps"));
    char v[16];
    ck_assert_int_ne(kdiscovery_pick_version(kd, "", "configmaps", NULL, v, sizeof v, &err),
                     KERR_OK);
    ck_assert_uint_eq(kdiscovery_count(kd), 0);
    api_status = 200;
    ck_assert_int_eq(kdiscovery_refresh(kd, NULL), KERR_OK);
    api_status = 403;
    ck_assert_int_eq(kdiscovery_refresh(kd, NULL), KERR_FORBIDDEN);
    ck_assert(kdiscovery_has(kd, "", "v1", "configmaps"));
    ck_assert_int_eq(kdiscovery_new(NULL, &(struct kdiscovery *){NULL}), KERR_INVAL);
    kdiscovery_free(NULL);
}
END_TEST

struct waits {
    int calls;
    enum kerr last;
    long retry_ms[8];
};

static void on_wait(void *ctx, enum kerr e, const struct kerr_info *err, long retry_ms)
{
    struct waits *w = ctx;
    if (w->calls < 8)
        w->retry_ms[w->calls] = retry_ms;
    w->calls++;
    w->last = e;
    if (w->calls == 3)
        crd_installed = true; /* the CRD is applied while the operator waits */
}

static enum kerr wait_grace(struct waits *w, struct kerr_info *err)
{
    struct kdiscovery_wait spec = {.group = "grace.dev", .version = "v1alpha1",
                                   .plural = "graceservices", .not_served_ms = 20,
                                   .backoff_min_ms = 10, .backoff_max_ms = 30,
                                   .progress = on_wait, .ctx = w};
    return kdiscovery_wait_for(kd, &spec, err);
}

START_TEST(kdiscovery_wait_stops_at_once_on_401_and_403)
{
    static const int fatal[] = {401, 403, 400};
    static const enum kerr want[] = {KERR_UNAUTHORIZED, KERR_FORBIDDEN, KERR_BADREQUEST};
    for (int i = 0; i < 3; i++) {
        api_status = fatal[i];
        struct waits w = {0};
        struct kerr_info err;
        ck_assert_int_eq(wait_grace(&w, &err), want[i]);
        ck_assert_int_eq(w.calls, 0); /* no retry */
        ck_assert_int_eq(err.http_status, fatal[i]);
        ck_assert(kdiscovery_fatal(want[i]));
    }
    ck_assert(kdiscovery_fatal(KERR_TLS));
    ck_assert(!kdiscovery_fatal(KERR_IO) && !kdiscovery_fatal(KERR_TIMEOUT) &&
              !kdiscovery_fatal(KERR_SERVER) && !kdiscovery_fatal(KERR_TOOMANY));
}
END_TEST

START_TEST(kdiscovery_wait_retries_5xx_with_backoff_and_waits_for_the_crd)
{
    api_status = 503;
    struct waits w = {0};
    /* 503 twice (backoff 10, 20 ms), then the CRD is missing once (20 ms), then served */
    testsrv_push(srv, &(struct testsrv_resp){.status = 503, .body = "{}"});
    testsrv_push(srv, &(struct testsrv_resp){.status = 503, .body = "{}"});
    api_status = 200;
    ck_assert_int_eq(wait_grace(&w, NULL), KERR_OK);
    ck_assert_int_eq(w.calls, 3);
    ck_assert_int_eq(w.retry_ms[0], 10);
    ck_assert_int_eq(w.retry_ms[1], 20);
    ck_assert_int_eq(w.retry_ms[2], 20);
    ck_assert_int_eq(w.last, KERR_OK);
    ck_assert(kdiscovery_has(kd, "grace.dev", "v1alpha1", "graceservices"));
}
END_TEST

static volatile sig_atomic_t stop_flag;

static void *stop_later(void *arg)
{
    usleep(300 * 1000);
    stop_flag = 1;
    return NULL;
}

START_TEST(kdiscovery_wait_retries_a_refused_connection_until_stopped)
{
    struct kconfig dead = {.server = "http://127.0.0.1:1"};
    struct kclient *c2 = NULL;
    struct kdiscovery *d2 = NULL;
    ck_assert_int_eq(kclient_new(&dead, &(struct kclient_options){.max_retries = -1}, &c2, NULL),
                     KERR_OK);
    ck_assert_int_eq(kdiscovery_new(c2, &d2), KERR_OK);
    stop_flag = 0;
    struct waits w = {0};
    struct kdiscovery_wait spec = {.group = "grace.dev", .version = "v1alpha1",
                                   .plural = "graceservices", .stop = &stop_flag,
                                   .backoff_min_ms = 5, .backoff_max_ms = 20,
                                   .progress = on_wait, .ctx = &w};
    pthread_t t;
    pthread_create(&t, NULL, stop_later, NULL);
    struct kerr_info err;
    ck_assert_int_eq(kdiscovery_wait_for(d2, &spec, &err), KERR_STOPPED);
    pthread_join(t, NULL);
    ck_assert_int_ge(w.calls, 4);
    ck_assert_int_eq(w.last, KERR_IO);
    ck_assert_int_eq(w.retry_ms[0], 5);
    ck_assert_int_eq(w.retry_ms[1], 10);
    ck_assert_int_eq(w.retry_ms[3], 20); /* capped */
    kdiscovery_free(d2);
    kclient_free(c2);
}
END_TEST

static void *reader(void *arg)
{
    for (int i = 0; i < 30; i++) {
        ck_assert(kdiscovery_has(kd, "apps", "v1", "deployments"));
        kdiscovery_has(kd, "x", "v1", "missing"); /* misses refresh (interval 0) */
    }
    return NULL;
}

START_TEST(kdiscovery_is_safe_with_concurrent_readers_and_refreshes)
{
    aggregated = true;
    kdiscovery_set_interval(kd, 0);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, reader, NULL);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(kdiscovery_refresh(kd, NULL), KERR_OK);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    ck_assert(kdiscovery_has(kd, "apps", "v1", "deployments"));
}
END_TEST

static Suite *kdiscovery_suite(void)
{
    Suite *s = suite_create("kdiscovery");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, kdiscovery_legacy_walks_every_group_version);
    tcase_add_test(tc, kdiscovery_pick_version_follows_the_preference_list);
    tcase_add_test(tc, kdiscovery_aggregated_needs_two_requests);
    tcase_add_test(tc, kdiscovery_is_cached_and_a_miss_refreshes_at_most_once_per_interval);
    tcase_add_test(tc, kdiscovery_errors_are_reported_and_the_old_cache_kept);
    tcase_add_test(tc, kdiscovery_is_safe_with_concurrent_readers_and_refreshes);
    tcase_add_test(tc, kdiscovery_wait_stops_at_once_on_401_and_403);
    tcase_add_test(tc, kdiscovery_wait_retries_5xx_with_backoff_and_waits_for_the_crd);
    tcase_add_test(tc, kdiscovery_wait_retries_a_refused_connection_until_stopped);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kdiscovery_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
