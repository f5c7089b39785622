/*
 * Tests for kclient against the in-process test server: the exact method,
 * path, query, headers and body of each verb; Status errors mapped to the
 * enum with reason and message; retries with backoff and Retry-After;
 * timeouts; connection reuse; streamed pagination and cut streams; the
 * observer.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kclient.h"
#include "kclient_http.h"
#include "testsrv.h"

static struct testsrv *srv;
static struct kconfig cfg;
static struct kclient *kc;

static const struct kres CM = {"", "v1", "configmaps"};
static const struct kres DEPLOY = {"apps", "v1", "deployments"};

/* Observer: records "VERB code" lines. */
static pthread_mutex_t obs_lock = PTHREAD_MUTEX_INITIALIZER;
static char obs_log[4096];
static int obs_count;

static void observer(void *ctx, const char *verb, long code, double seconds)
{
    pthread_mutex_lock(&obs_lock);
    size_t n = strlen(obs_log);
    snprintf(obs_log + n, sizeof obs_log - n, "%s %ld;", verb, code);
    obs_count++;
    ck_assert(seconds >= 0);
    pthread_mutex_unlock(&obs_lock);
}

static void new_client(const struct kclient_options *opts)
{
    kclient_free(kc);
    kc = NULL;
    ck_assert_int_eq(kclient_new(&cfg, opts, &kc, NULL), KERR_OK);
    kclient_set_observer(kc, observer, NULL);
}

static void setup(void)
{
    srv = testsrv_start();
    memset(&cfg, 0, sizeof cfg);
    cfg.server = (char *)testsrv_url(srv);
    cfg.token = "t0ken";
    obs_log[0] = '\0';
    obs_count = 0;
    kc = NULL;
    new_client(&(struct kclient_options){.request_timeout_ms = 5000, .user_agent = "kc-test/1"});
}

static void teardown(void)
{
    kclient_free(kc);
    testsrv_stop(srv);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct testsrv_req *req_n(size_t i)
{
    const struct testsrv_req *r = testsrv_request(srv, i);
    ck_assert_ptr_nonnull(r);
    return r;
}

START_TEST(kclient_path_builds_group_namespace_name_and_subresource)
{
    char p[256];
    ck_assert_int_eq(kclient_path(p, sizeof p, &CM, NULL, NULL, NULL), KERR_OK);
    ck_assert_str_eq(p, "/api/v1/configmaps");
    ck_assert_int_eq(kclient_path(p, sizeof p, &DEPLOY, "ns", "web", "status"), KERR_OK);
    ck_assert_str_eq(p, "/apis/apps/v1/namespaces/ns/deployments/web/status");
    ck_assert_int_eq(kclient_path(p, sizeof p, &(struct kres){NULL, "v1", "nodes"}, "", "n1", NULL),
                     KERR_OK);
    ck_assert_str_eq(p, "/api/v1/nodes/n1");
    ck_assert_int_eq(kclient_path(p, sizeof p, &CM, "a b", "x/y?z#%", NULL), KERR_OK);
    ck_assert_str_eq(p, "/api/v1/namespaces/a%20b/configmaps/x%2Fy%3Fz%23%25");
    ck_assert_int_eq(kclient_path(p, 10, &CM, "ns", "x", NULL), KERR_INVAL);
    ck_assert_int_eq(kclient_path(p, sizeof p, &(struct kres){"", "", "x"}, NULL, NULL, NULL),
                     KERR_INVAL);
    ck_assert_int_eq(kclient_path(p, sizeof p, &CM, "ns", NULL, "status"), KERR_INVAL);
}
END_TEST

START_TEST(kclient_get_sends_accept_token_and_user_agent)
{
    testsrv_push_simple(srv, 200, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm1\"}}", 1);
    json_t *obj = NULL;
    ck_assert_int_eq(kclient_get(kc, &CM, "ref", "cm1", &obj, NULL), KERR_OK);
    ck_assert_str_eq(json_string_value(json_object_get(obj, "kind")), "ConfigMap");
    json_decref(obj);
    const struct testsrv_req *r = req_n(0);
    ck_assert_str_eq(r->method, "GET");
    ck_assert_str_eq(r->path, "/api/v1/namespaces/ref/configmaps/cm1");
    ck_assert_str_eq(testsrv_header(r, "Accept"), "application/json");
    ck_assert_str_eq(testsrv_header(r, "Authorization"), "Bearer t0ken");
    ck_assert_str_eq(testsrv_header(r, "User-Agent"), "kc-test/1");
    ck_assert_ptr_null(testsrv_header(r, "Content-Type"));
    ck_assert_str_eq(obs_log, "GET 200;");
    /* a name is required */
    ck_assert_int_eq(kclient_get(kc, &CM, "ref", "", &obj, NULL), KERR_INVAL);
    ck_assert_ptr_null(obj);
}
END_TEST

/* Compressed answers only when asked for, and never against the
 * kubeconfig's disable-compression: true. */
START_TEST(kclient_asks_for_compression_only_when_told)
{
    json_t *obj = NULL;
    testsrv_push_simple(srv, 200, "{\"kind\":\"ConfigMap\"}", 1);
    ck_assert_int_eq(kclient_get(kc, &CM, "ref", "cm1", &obj, NULL), KERR_OK);
    json_decref(obj);
    ck_assert_ptr_null(testsrv_header(req_n(0), "Accept-Encoding"));

    new_client(&(struct kclient_options){.request_timeout_ms = 5000, .compression = true});
    testsrv_push_simple(srv, 200, "{\"kind\":\"ConfigMap\"}", 1);
    ck_assert_int_eq(kclient_get(kc, &CM, "ref", "cm1", &obj, NULL), KERR_OK);
    json_decref(obj);
    const char *ae = testsrv_header(req_n(1), "Accept-Encoding");
    ck_assert_msg(ae && strstr(ae, "gzip"), "Accept-Encoding: %s", ae ? ae : "(none)");

    cfg.disable_compression = true;
    new_client(&(struct kclient_options){.request_timeout_ms = 5000, .compression = true});
    testsrv_push_simple(srv, 200, "{\"kind\":\"ConfigMap\"}", 1);
    ck_assert_int_eq(kclient_get(kc, &CM, "ref", "cm1", &obj, NULL), KERR_OK);
    json_decref(obj);
    ck_assert_ptr_null(testsrv_header(req_n(2), "Accept-Encoding"));
}
END_TEST

START_TEST(kclient_create_posts_compact_json_to_the_collection)
{
    testsrv_push_simple(srv, 201, "{\"metadata\":{\"name\":\"cm1\",\"resourceVersion\":\"5\"}}", 1);
    json_t *obj = json_pack("{s:s,s:{s:s}}", "kind", "ConfigMap", "metadata", "name", "cm1");
    json_t *out = NULL;
    ck_assert_int_eq(kclient_create(kc, &CM, "ref", obj, &out, NULL), KERR_OK);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(out, "metadata"), "resourceVersion")),
        "5");
    const struct testsrv_req *r = req_n(0);
    ck_assert_str_eq(r->method, "POST");
    ck_assert_str_eq(r->path, "/api/v1/namespaces/ref/configmaps");
    ck_assert_str_eq(testsrv_header(r, "Content-Type"), "application/json");
    ck_assert_ptr_null(testsrv_header(r, "Expect"));
    json_t *sent = json_loads(r->body, 0, NULL);
    ck_assert(json_equal(sent, obj));
    ck_assert_ptr_null(strchr(r->body, ' '));
    json_decref(sent);
    json_decref(obj);
    json_decref(out);
    ck_assert_str_eq(obs_log, "POST 201;");
}
END_TEST

START_TEST(kclient_apply_uses_patch_apply_yaml_field_manager_and_force)
{
    testsrv_push_simple(srv, 200, "{}", 2);
    json_t *obj = json_pack("{s:s}", "kind", "Deployment");
    json_t *out = NULL;
    ck_assert_int_eq(
        kclient_apply(kc, &DEPLOY, "ns", "web", NULL, obj, "grace-operator", true, &out, NULL),
        KERR_OK);
    json_decref(out);
    ck_assert_int_eq(
        kclient_apply(kc, &DEPLOY, "ns", "web", "status", obj, "grace op", false, NULL, NULL),
        KERR_OK);
    const struct testsrv_req *r = req_n(0);
    ck_assert_str_eq(r->method, "PATCH");
    ck_assert_str_eq(r->path,
                     "/apis/apps/v1/namespaces/ns/deployments/web?fieldManager=grace-operator&"
                     "force=true");
    ck_assert_str_eq(testsrv_header(r, "Content-Type"), "application/apply-patch+yaml");
    ck_assert_str_eq(r->body, "{\"kind\":\"Deployment\"}");
    r = req_n(1);
    ck_assert_str_eq(r->path,
                     "/apis/apps/v1/namespaces/ns/deployments/web/status?fieldManager=grace%20op");
    ck_assert_str_eq(obs_log, "APPLY 200;APPLY 200;");
    /* apply without a field manager is refused before any request */
    struct kerr_info err;
    ck_assert_int_eq(kclient_apply(kc, &DEPLOY, "ns", "web", NULL, obj, NULL, false, NULL, &err),
                     KERR_INVAL);
    ck_assert_uint_eq(testsrv_nrequests(srv), 2);
    json_decref(obj);
}
END_TEST

/* A write's answer comes back whole but for metadata.managedFields (no
 * caller reads it; it is as large as the rest of an applied object); an
 * answer that is not JSON is still an error naming the parser's reason. */
START_TEST(kclient_answers_come_without_managed_fields)
{
    testsrv_push_simple(srv, 200,
                        "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"managedFields\":"
                        "[{\"manager\":\"m\",\"fieldsV1\":{\"f:spec\":{}}}],\"uid\":\"u\"},"
                        "\"spec\": {\"replicas\": 2}}",
                        1);
    testsrv_push_simple(srv, 200, "{\"kind\":\"Deployment\",", 1);
    json_t *obj = json_pack("{s:s}", "kind", "Deployment");
    json_t *out = NULL;
    ck_assert_int_eq(
        kclient_apply(kc, &DEPLOY, "ns", "web", NULL, obj, "grace-operator", true, &out, NULL),
        KERR_OK);
    char *text = json_dumps(out, JSON_COMPACT);
    ck_assert_str_eq(text, "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"uid\":"
                           "\"u\"},\"spec\":{\"replicas\":2}}");
    free(text);
    json_decref(out);
    struct kerr_info err;
    ck_assert_int_eq(
        kclient_apply(kc, &DEPLOY, "ns", "web", NULL, obj, "grace-operator", true, &out, &err),
        KERR_PARSE);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(err.reason, "BadJSON");
    json_decref(obj);
}
END_TEST

START_TEST(kclient_merge_patch_and_update_content_types)
{
    testsrv_push_simple(srv, 200, "{\"ok\":1}", 2);
    json_t *patch = json_pack("{s:{s:n}}", "data", "a");
    json_t *out = NULL;
    ck_assert_int_eq(kclient_merge_patch(kc, &CM, "ns", "cm1", NULL, patch, &out, NULL), KERR_OK);
    json_decref(out);
    ck_assert_int_eq(kclient_update(kc, &CM, "ns", "cm1", "status", patch, NULL, NULL), KERR_OK);
    const struct testsrv_req *r = req_n(0);
    ck_assert_str_eq(r->method, "PATCH");
    ck_assert_str_eq(r->path, "/api/v1/namespaces/ns/configmaps/cm1");
    ck_assert_str_eq(testsrv_header(r, "Content-Type"), "application/merge-patch+json");
    ck_assert_str_eq(r->body, "{\"data\":{\"a\":null}}");
    r = req_n(1);
    ck_assert_str_eq(r->method, "PUT");
    ck_assert_str_eq(r->path, "/api/v1/namespaces/ns/configmaps/cm1/status");
    ck_assert_str_eq(testsrv_header(r, "Content-Type"), "application/json");
    ck_assert_str_eq(obs_log, "PATCH 200;PUT 200;");
    json_decref(patch);
}
END_TEST

START_TEST(kclient_delete_sends_delete_options_only_when_needed)
{
    testsrv_push_simple(srv, 200, "{\"kind\":\"Status\",\"status\":\"Success\"}", 2);
    json_t *out = NULL;
    ck_assert_int_eq(kclient_delete(kc, &CM, "ns", "cm1", NULL, NULL, NULL, &out, NULL), KERR_OK);
    ck_assert_str_eq(json_string_value(json_object_get(out, "status")), "Success");
    json_decref(out);
    ck_assert_int_eq(kclient_delete(kc, &CM, "ns", "cm1", "Foreground", "uid-1", "207", NULL, NULL),
                     KERR_OK);
    const struct testsrv_req *r = req_n(0);
    ck_assert_str_eq(r->method, "DELETE");
    ck_assert_str_eq(r->path, "/api/v1/namespaces/ns/configmaps/cm1");
    ck_assert_uint_eq(r->body_len, 0);
    ck_assert_ptr_null(testsrv_header(r, "Content-Type"));
    r = req_n(1);
    ck_assert_str_eq(r->method, "DELETE");
    ck_assert_str_eq(testsrv_header(r, "Content-Type"), "application/json");
    json_t *body = json_loads(r->body, 0, NULL);
    json_t *want = json_pack("{s:s,s:s,s:s,s:{s:s,s:s}}", "kind", "DeleteOptions", "apiVersion",
                             "v1", "propagationPolicy", "Foreground", "preconditions", "uid",
                             "uid-1", "resourceVersion", "207");
    ck_assert(json_equal(body, want));
    json_decref(body);
    json_decref(want);
    ck_assert_str_eq(obs_log, "DELETE 200;DELETE 200;");
}
END_TEST

static const char *status_body(int code, const char *reason, const char *msg)
{
    static char b[512];
    snprintf(b, sizeof b,
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
             "\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}",
             msg, reason, code);
    return b;
}

START_TEST(kclient_status_errors_map_to_the_enum_with_reason_and_message)
{
    struct {
        int code;
        const char *reason;
        enum kerr want;
    } cases[] = {
        {404, "NotFound", KERR_NOTFOUND},
        {409, "AlreadyExists", KERR_EXISTS},
        {409, "Conflict", KERR_CONFLICT},
        {422, "Invalid", KERR_INVALID},
        {403, "Forbidden", KERR_FORBIDDEN},
        {401, "Unauthorized", KERR_UNAUTHORIZED},
        {400, "BadRequest", KERR_BADREQUEST},
        {410, "Expired", KERR_GONE},
        {415, "UnsupportedMediaType", KERR_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        testsrv_push(srv,
                     &(struct testsrv_resp){.status = cases[i].code,
                                            .body = status_body(cases[i].code, cases[i].reason,
                                                                "configmaps \\\"x\\\" says no")});
        json_t *out = (json_t *)0x1;
        struct kerr_info err;
        kerr_clear(&err);
        ck_assert_int_eq(kclient_get(kc, &CM, "ns", "x", &out, &err), cases[i].want);
        ck_assert_ptr_null(out);
        ck_assert_int_eq(err.http_status, cases[i].code);
        ck_assert_str_eq(err.reason, cases[i].reason);
        ck_assert_str_eq(err.message, "configmaps \"x\" says no");
    }
    ck_assert_uint_eq(testsrv_nrequests(srv), sizeof cases / sizeof cases[0]);
}
END_TEST

START_TEST(kclient_plain_text_404_is_notfound_with_the_text)
{
    testsrv_push(srv, &(struct testsrv_resp){.status = 404,
                                             .content_type = "text/plain",
                                             .body = "404 page not found\n"});
    json_t *out = NULL;
    struct kerr_info err;
    ck_assert_int_eq(kclient_get_path(kc, "/apis/nosuch.example.com/v1", &out, &err),
                     KERR_NOTFOUND);
    ck_assert_str_eq(err.message, "HTTP 404: 404 page not found");
    ck_assert_str_eq(err.reason, "");
    ck_assert_int_eq(kclient_get_path(kc, "relative", &out, &err), KERR_INVAL);
}
END_TEST

START_TEST(kclient_bad_json_in_a_2xx_is_a_parse_error)
{
    testsrv_push_simple(srv, 200, "{not json", 1);
    json_t *out = NULL;
    ck_assert_int_eq(kclient_get(kc, &CM, "ns", "x", &out, NULL), KERR_PARSE);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(kclient_retries_503_then_succeeds)
{
    testsrv_push_simple(srv, 503, status_body(503, "ServiceUnavailable", "busy"), 2);
    testsrv_push_simple(srv, 200, "{\"ok\":true}", 1);
    json_t *out = NULL;
    double t0 = now_s();
    ck_assert_int_eq(kclient_get(kc, &CM, "ns", "x", &out, NULL), KERR_OK);
    double dt = now_s() - t0;
    ck_assert(json_is_true(json_object_get(out, "ok")));
    json_decref(out);
    ck_assert_uint_eq(testsrv_nrequests(srv), 3);
    ck_assert_str_eq(obs_log, "GET 503;GET 503;GET 200;");
    /* backoff: 50..100 ms then 100..200 ms */
    ck_assert_msg(dt >= 0.15 && dt < 1.0, "took %f s", dt);
}
END_TEST

START_TEST(kclient_retry_after_is_honoured)
{
    testsrv_push(srv, &(struct testsrv_resp){.status = 429,
                                             .headers = "Retry-After: 1\r\n",
                                             .body = status_body(429, "TooManyRequests", "slow")});
    testsrv_push_simple(srv, 200, "{}", 1);
    json_t *out = NULL;
    double t0 = now_s();
    ck_assert_int_eq(kclient_get(kc, &CM, "ns", "x", &out, NULL), KERR_OK);
    double dt = now_s() - t0;
    json_decref(out);
    ck_assert_msg(dt >= 0.95 && dt < 2.5, "waited %f s", dt);
    ck_assert_str_eq(obs_log, "GET 429;GET 200;");
}
END_TEST

START_TEST(kclient_429_gives_up_after_max_retries)
{
    new_client(&(struct kclient_options){.max_retries = 2});
    testsrv_push_simple(srv, 429, status_body(429, "TooManyRequests", "slow down"), 4);
    struct kerr_info err;
    json_t *out = NULL;
    ck_assert_int_eq(kclient_get(kc, &CM, "ns", "x", &out, &err), KERR_TOOMANY);
    ck_assert_uint_eq(testsrv_nrequests(srv), 3);
    ck_assert_str_eq(err.message, "slow down");
    /* negative: no retries at all; 4xx other than 429 are never retried */
    new_client(&(struct kclient_options){.max_retries = -1});
    ck_assert_int_eq(kclient_get(kc, &CM, "ns", "x", &out, &err), KERR_TOOMANY);
    ck_assert_uint_eq(testsrv_nrequests(srv), 4);
    testsrv_push_simple(srv, 409, status_body(409, "Conflict", "c"), 1);
    new_client(NULL);
    ck_assert_int_eq(kclient_get(kc, &CM, "ns", "x", &out, &err), KERR_CONFLICT);
    ck_assert_uint_eq(testsrv_nrequests(srv), 5);
}
END_TEST

START_TEST(kclient_backoff_doubles_from_100ms_with_jitter_and_a_cap)
{
    unsigned seed = 42;
    for (int i = 0; i < 200; i++) {
        long b0 = kclient_backoff_ms(0, &seed), b1 = kclient_backoff_ms(1, &seed);
        long b3 = kclient_backoff_ms(3, &seed), b30 = kclient_backoff_ms(30, &seed);
        ck_assert(b0 >= 50 && b0 <= 100);
        ck_assert(b1 >= 100 && b1 <= 200);
        ck_assert(b3 >= 400 && b3 <= 800);
        ck_assert(b30 >= KCLIENT_BACKOFF_CAP_MS / 2 && b30 <= KCLIENT_BACKOFF_CAP_MS);
    }
}
END_TEST

START_TEST(kclient_request_timeout_is_a_timeout_error)
{
    new_client(&(struct kclient_options){.request_timeout_ms = 200});
    testsrv_push(srv, &(struct testsrv_resp){.status = 200, .body = "{}", .delay_ms = 800});
    struct kerr_info err;
    json_t *out = NULL;
    double t0 = now_s();
    ck_assert_int_eq(kclient_get(kc, &CM, "ns", "x", &out, &err), KERR_TIMEOUT);
    ck_assert(now_s() - t0 < 0.7);
    ck_assert_uint_eq(testsrv_nrequests(srv), 1); /* not retried */
    ck_assert_str_eq(obs_log, "GET 0;");
}
END_TEST

START_TEST(kclient_connection_refused_is_an_io_error)
{
    struct kconfig bad = {.server = "http://127.0.0.1:1"};
    struct kclient *c2 = NULL;
    ck_assert_int_eq(kclient_new(&bad, NULL, &c2, NULL), KERR_OK);
    struct kerr_info err;
    json_t *out = NULL;
    ck_assert_int_eq(kclient_get_path(c2, "/version", &out, &err), KERR_IO);
    ck_assert_int_eq(err.http_status, 0);
    ck_assert_ptr_nonnull(strstr(err.message, "/version"));
    kclient_free(c2);
    struct kconfig none = {0};
    ck_assert_int_eq(kclient_new(&none, NULL, &c2, &err), KERR_INVAL);
    ck_assert_ptr_null(c2);
}
END_TEST

START_TEST(kclient_reuses_one_connection_for_several_requests)
{
    testsrv_push_simple(srv, 200, "{}", 6);
    for (int i = 0; i < 6; i++) {
        json_t *out = NULL;
        ck_assert_int_eq(kclient_get(kc, &CM, "ns", "x", &out, NULL), KERR_OK);
        json_decref(out);
    }
    ck_assert_int_eq(testsrv_connections(srv), 1);
    for (size_t i = 0; i < 6; i++)
        ck_assert_int_eq(req_n(i)->conn, 1);
}
END_TEST

static void *thread_gets(void *arg)
{
    for (int i = 0; i < 5; i++) {
        json_t *out = NULL;
        ck_assert_int_eq(kclient_get(kc, &CM, "ns", "x", &out, NULL), KERR_OK);
        json_decref(out);
    }
    return NULL;
}

START_TEST(kclient_threads_get_their_own_connection)
{
    testsrv_push_simple(srv, 200, "{}", 20);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, thread_gets, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ck_assert_uint_eq(testsrv_nrequests(srv), 20);
    ck_assert_int_le(testsrv_connections(srv), 4);
    ck_assert_int_eq(obs_count, 20);
}
END_TEST

/* LIST tests: pages served by a handler keyed on the continue token. */
struct collected {
    json_t *names;
    int stop_at;
};

static int collect_item(void *ctx, json_t *item)
{
    struct collected *c = ctx;
    const char *n = json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
    json_array_append_new(c->names, json_string(n ? n : "?"));
    return c->stop_at && (int)json_array_size(c->names) >= c->stop_at;
}

static const char PAGE1[] =
    "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"229\","
    "\"continue\":\"a+b/c=\",\"remainingItemCount\":3},\"items\":[{\"metadata\":{\"name\":\"l1\"},"
    "\"data\":{\"x\":\"}{\"}},{\"metadata\":{\"name\":\"l2\"}}]}\n";
static const char PAGE2[] =
    "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"229\",\"continue\":\"tok2\"},"
    "\"items\":[{\"metadata\":{\"name\":\"l3\"}},{\"metadata\":{\"name\":\"l4\"}}]}\n";
static const char PAGE3[] = "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":"
                            "\"229\"},\"items\":[{\"metadata\":{\"name\":\"l5\"}}]}\n";

START_TEST(kclient_list_follows_continue_across_three_pages)
{
    testsrv_push(srv,
                 &(struct testsrv_resp){.status = 200, .body = PAGE1, .chunked = true, .piece = 7});
    testsrv_push(
        srv, &(struct testsrv_resp){
                 .status = 200, .body = PAGE2, .chunked = true, .piece = 3, .piece_delay_ms = 1});
    testsrv_push(srv, &(struct testsrv_resp){.status = 200, .body = PAGE3});
    struct collected c = {json_array(), 0};
    char *rv = NULL;
    ck_assert_int_eq(kclient_list(kc, &CM, "list", "tier in (web,db),tier!=web", "metadata.name!=x",
                                  2, collect_item, &c, &rv, NULL),
                     KERR_OK);
    ck_assert_str_eq(rv, "229");
    free(rv);
    char *names = json_dumps(c.names, JSON_COMPACT);
    ck_assert_str_eq(names, "[\"l1\",\"l2\",\"l3\",\"l4\",\"l5\"]");
    free(names);
    json_decref(c.names);
    ck_assert_uint_eq(testsrv_nrequests(srv), 3);
    const char *sel = "/api/v1/namespaces/list/configmaps?labelSelector=tier%20in%20%28web%2Cdb%29"
                      "%2Ctier%21%3Dweb&fieldSelector=metadata.name%21%3Dx&limit=2";
    ck_assert_str_eq(req_n(0)->path, sel);
    char want[512];
    snprintf(want, sizeof want, "%s&continue=a%%2Bb%%2Fc%%3D", sel);
    ck_assert_str_eq(req_n(1)->path, want);
    snprintf(want, sizeof want, "%s&continue=tok2", sel);
    ck_assert_str_eq(req_n(2)->path, want);
    ck_assert_str_eq(obs_log, "LIST 200;LIST 200;LIST 200;");
    ck_assert_int_eq(testsrv_connections(srv), 1);
}
END_TEST

START_TEST(kclient_list_cut_in_the_middle_of_an_item_is_an_error)
{
    size_t cut = (size_t)(strstr(PAGE1, "\"l2\"") - PAGE1);
    testsrv_push(
        srv,
        &(struct testsrv_resp){
            .status = 200, .body = PAGE1, .chunked = true, .piece = 16, .cut_after = (long)cut});
    struct collected c = {json_array(), 0};
    char *rv = (char *)0x1;
    struct kerr_info err;
    enum kerr rc = kclient_list(kc, &CM, "list", NULL, NULL, 0, collect_item, &c, &rv, &err);
    ck_assert_int_eq(rc, KERR_IO);
    ck_assert_ptr_null(rv);
    ck_assert_uint_eq(json_array_size(c.names), 1); /* l1 was complete */
    json_decref(c.names);
    /* a well-framed HTTP body whose JSON stops half-way: parse error */
    testsrv_push(srv, &(struct testsrv_resp){.status = 200, .body = PAGE1, .body_len = cut});
    c.names = json_array();
    ck_assert_int_eq(kclient_list(kc, &CM, "list", NULL, NULL, 0, collect_item, &c, NULL, &err),
                     KERR_PARSE);
    ck_assert_str_eq(err.reason, "Truncated");
    json_decref(c.names);
    /* an item that is not valid JSON inside a well-formed structure */
    testsrv_push_simple(srv, 200, "{\"items\":[{\"a\":tru}]}", 1);
    c.names = json_array();
    ck_assert_int_eq(kclient_list(kc, &CM, "list", NULL, NULL, 0, collect_item, &c, NULL, &err),
                     KERR_PARSE);
    ck_assert_uint_eq(json_array_size(c.names), 0);
    json_decref(c.names);
}
END_TEST

/* kclient_list_text: items as text, managedFields cut, across pages; an
 * item function's error stops the list with its code and message. */
struct texts {
    char all[1024];
    int fail_at; /* 1-based item that returns KERR_PARSE, 0: none */
    int n;
};

static enum kerr text_item(void *ctx, const char *text, size_t len, struct kerr_info *err)
{
    struct texts *t = ctx;
    ck_assert_uint_eq(strlen(text), len);
    t->n++;
    if (t->fail_at && t->n == t->fail_at)
        return kerr_set(err, KERR_PARSE, 0, "BadItem", "item %d refused", t->n);
    size_t used = strlen(t->all);
    snprintf(t->all + used, sizeof t->all - used, "%s;", text);
    return KERR_OK;
}

static const char TPAGE1[] =
    "{\"metadata\":{\"resourceVersion\":\"9\",\"continue\":\"c\"},\"items\":["
    "{\"metadata\":{\"name\":\"t1\",\"managedFields\":[{\"manager\":\"m\"}]},\"data\":{\"a\": "
    "1}}]}";
static const char TPAGE2[] = "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":["
                             "{\"metadata\":{\"managedFields\":[],\"name\":\"t2\"}}]}";

START_TEST(kclient_list_text_hands_items_without_managed_fields)
{
    testsrv_push(
        srv, &(struct testsrv_resp){.status = 200, .body = TPAGE1, .chunked = true, .piece = 5});
    testsrv_push(srv, &(struct testsrv_resp){.status = 200, .body = TPAGE2});
    struct texts t = {"", 0, 0};
    char *rv = NULL;
    ck_assert_int_eq(kclient_list_text(kc, &CM, "ns", NULL, NULL, 1, text_item, &t, &rv, NULL),
                     KERR_OK);
    ck_assert_str_eq(t.all, "{\"metadata\":{\"name\":\"t1\"},\"data\":{\"a\":1}};"
                            "{\"metadata\":{\"name\":\"t2\"}};");
    ck_assert_str_eq(rv, "10");
    free(rv);
    ck_assert_uint_eq(testsrv_nrequests(srv), 2);
    testsrv_push_simple(srv, 200, TPAGE1, 1);
    struct texts t2 = {"", 1, 0};
    struct kerr_info err;
    rv = (char *)0x1;
    ck_assert_int_eq(kclient_list_text(kc, &CM, "ns", NULL, NULL, 1, text_item, &t2, &rv, &err),
                     KERR_PARSE);
    ck_assert_ptr_null(rv);
    ck_assert_str_eq(err.reason, "BadItem");
    ck_assert_str_eq(err.message, "item 1 refused");
    ck_assert_uint_eq(testsrv_nrequests(srv), 3);
}
END_TEST

START_TEST(kclient_list_item_callback_can_stop)
{
    testsrv_push_simple(srv, 200, PAGE1, 1);
    struct collected c = {json_array(), 1};
    ck_assert_int_eq(kclient_list(kc, &CM, NULL, NULL, NULL, 0, collect_item, &c, NULL, NULL),
                     KERR_STOPPED);
    ck_assert_uint_eq(json_array_size(c.names), 1);
    ck_assert_uint_eq(testsrv_nrequests(srv), 1);
    ck_assert_str_eq(req_n(0)->path, "/api/v1/configmaps");
    json_decref(c.names);
}
END_TEST

START_TEST(kclient_list_error_status_and_retry)
{
    testsrv_push(srv, &(struct testsrv_resp){.status = 504,
                                             .headers = "Retry-After: 1\r\n",
                                             .body = status_body(504, "Timeout", "later")});
    testsrv_push_simple(srv, 200, PAGE3, 1);
    testsrv_push_simple(srv, 410, status_body(410, "Expired", "too old resource version"), 1);
    struct collected c = {json_array(), 0};
    ck_assert_int_eq(kclient_list(kc, &CM, "ns", NULL, NULL, 0, collect_item, &c, NULL, NULL),
                     KERR_OK);
    ck_assert_uint_eq(json_array_size(c.names), 1);
    struct kerr_info err;
    ck_assert_int_eq(kclient_list(kc, &CM, "ns", NULL, NULL, 0, collect_item, &c, NULL, &err),
                     KERR_GONE);
    ck_assert_str_eq(err.reason, "Expired");
    ck_assert_str_eq(obs_log, "LIST 504;LIST 200;LIST 410;");
    json_decref(c.names);
}
END_TEST

START_TEST(kclient_list_of_many_items_streams)
{
    /* 5000 items in one chunked page, fed in odd pieces */
    size_t cap = 5000 * 64 + 256, n = 0;
    char *body = malloc(cap);
    n += (size_t)snprintf(body + n, cap - n,
                          "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s{\"metadata\":{\"name\":\"o%d\"}}",
                              i ? "," : "", i);
    n += (size_t)snprintf(body + n, cap - n, "]}");
    testsrv_push(
        srv, &(struct testsrv_resp){.status = 200, .body = body, .chunked = true, .piece = 4093});
    free(body);
    struct collected c = {json_array(), 0};
    char *rv = NULL;
    ck_assert_int_eq(kclient_list(kc, &CM, NULL, NULL, NULL, 0, collect_item, &c, &rv, NULL),
                     KERR_OK);
    ck_assert_uint_eq(json_array_size(c.names), 5000);
    ck_assert_str_eq(json_string_value(json_array_get(c.names, 4999)), "o4999");
    ck_assert_str_eq(rv, "9");
    free(rv);
    json_decref(c.names);
}
END_TEST

START_TEST(kclient_token_file_is_sent_and_rotation_followed)
{
    char path[] = "/tmp/kclient_tok.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "file-1\n", 7), 7);
    close(fd);
    cfg.token = NULL;
    cfg.token_file = path;
    testsrv_push_simple(srv, 200, "{}", 2);
    json_t *out = NULL;
    ck_assert_int_eq(kclient_get_path(kc, "/version", &out, NULL), KERR_OK);
    json_decref(out);
    FILE *f = fopen(path, "w");
    fputs("file-2", f);
    fclose(f);
    ck_assert_int_eq(kclient_get_path(kc, "/version", &out, NULL), KERR_OK);
    json_decref(out);
    ck_assert_str_eq(testsrv_header(req_n(0), "Authorization"), "Bearer file-1");
    ck_assert_str_eq(testsrv_header(req_n(1), "Authorization"), "Bearer file-2");
    unlink(path);
    cfg.token_file = NULL;
}
END_TEST

/*
 * TLS: a CA, a server certificate for 127.0.0.1 and an admin client
 * certificate are made with the openssl CLI; `openssl s_server -WWW`
 * (requiring a client certificate) serves ok.json from a temp dir. The
 * client loads a kubeconfig with the material as base64 *-data fields.
 */
static char tls_dir[64];
static pid_t tls_pid;
static int tls_port;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void tls_setup(void)
{
    snprintf(tls_dir, sizeof tls_dir, "/tmp/kclient_tls.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tls_dir));
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    int rc = sh("cd %s && { printf 'subjectAltName=IP:127.0.0.1\\n' > san.cnf && "
                "openssl req -x509 %s -keyout ca.key -out ca.crt -subj /CN=test-ca -days 1 && "
                "openssl req %s -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 && "
                "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
                "-out srv.crt -days 1 -extfile san.cnf && "
                "openssl req %s -keyout cli.key -out cli.csr -subj /O=system:masters/CN=admin && "
                "openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
                "-out cli.crt -days 1 && "
                "openssl req -x509 %s -keyout other.key -out other.crt -subj /CN=other -days 1 && "
                "printf '{\"major\":\"1\",\"minor\":\"32\"}' > ok.json && "
                "for f in ca.crt cli.crt cli.key other.crt; do base64 -w0 $f > $f.b64; done; "
                "} >/dev/null 2>&1",
                tls_dir, ec, ec, ec, ec);
    ck_assert_int_eq(rc, 0);
    tls_port = free_port();
    tls_pid = fork();
    ck_assert_int_ge(tls_pid, 0);
    if (tls_pid == 0) {
        char accept[64];
        snprintf(accept, sizeof accept, "127.0.0.1:%d", tls_port);
        if (chdir(tls_dir) != 0)
            _exit(127);
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("openssl", "openssl", "s_server", "-quiet", "-accept", accept, "-WWW", "-cert",
               "srv.crt", "-key", "srv.key", "-CAfile", "ca.crt", "-Verify", "1", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && !port_open(tls_port); i++)
        usleep(10000);
    ck_assert_msg(port_open(tls_port), "openssl s_server did not start");
}

static void tls_teardown(void)
{
    if (tls_pid > 0) {
        kill(tls_pid, SIGTERM);
        waitpid(tls_pid, NULL, 0);
    }
    sh("rm -rf %s", tls_dir);
}

/* Write a kubeconfig for the TLS server; `ca` / `cert` name the .b64 files. */
static void write_tls_kubeconfig(const char *ca, bool with_cert, bool insecure)
{
    int rc = sh("cd %s && { printf 'clusters:\\n- name: t\\n  cluster:\\n"
                "    server: https://127.0.0.1:%d\\n"
                "    insecure-skip-tls-verify: %s\\n"
                "    certificate-authority-data: '; cat %s.b64; "
                "printf '\\nusers:\\n- name: admin\\n  user:\\n'; %s "
                "printf '    token: unused\\ncontexts:\\n- name: t\\n  context: {cluster: t, user: "
                "admin}\\ncurrent-context: t\\n'; } > kubeconfig",
                tls_dir, tls_port, insecure ? "true" : "false", ca,
                with_cert ? "printf '    client-certificate-data: '; cat cli.crt.b64; "
                            "printf '\\n    client-key-data: '; cat cli.key.b64; printf '\\n';"
                          : "");
    ck_assert_int_eq(rc, 0);
}

static enum kerr tls_get(struct kerr_info *err, json_t **out)
{
    char path[128];
    snprintf(path, sizeof path, "%s/kubeconfig", tls_dir);
    struct kconfig *kcfg = NULL;
    ck_assert_int_eq(kconfig_load_file(path, NULL, &kcfg, err), KERR_OK);
    struct kclient *c = NULL;
    ck_assert_int_eq(kclient_new(kcfg, &(struct kclient_options){.max_retries = -1}, &c, NULL),
                     KERR_OK);
    enum kerr rc = kclient_get_path(c, "/ok.json", out, err);
    kclient_free(c);
    kconfig_free(kcfg);
    return rc;
}

START_TEST(kclient_tls_with_ca_and_client_certificate_from_kubeconfig_data)
{
    write_tls_kubeconfig("ca.crt", true, false);
    json_t *out = NULL;
    struct kerr_info err;
    ck_assert_msg(tls_get(&err, &out) == KERR_OK, "%s", err.message);
    ck_assert_str_eq(json_string_value(json_object_get(out, "minor")), "32");
    json_decref(out);
}
END_TEST

START_TEST(kclient_tls_rejects_a_server_not_signed_by_the_ca)
{
    write_tls_kubeconfig("other.crt", true, false);
    json_t *out = NULL;
    struct kerr_info err;
    /* a permanent error of its own kind, so start-up can stop on it */
    ck_assert_int_eq(tls_get(&err, &out), KERR_TLS);
    ck_assert_str_eq(err.reason, "TLSVerify");
    ck_assert_ptr_null(out);
    /* ...unless insecure-skip-tls-verify is set */
    write_tls_kubeconfig("other.crt", true, true);
    ck_assert_msg(tls_get(&err, &out) == KERR_OK, "%s", err.message);
    json_decref(out);
}
END_TEST

START_TEST(kclient_tls_without_client_certificate_is_refused)
{
    write_tls_kubeconfig("ca.crt", false, false);
    json_t *out = NULL;
    struct kerr_info err;
    ck_assert_int_eq(tls_get(&err, &out), KERR_IO);
}
END_TEST

/* A refused curl option is an error naming it; the first one is kept. */
START_TEST(kclient_setopt_failure_is_reported_once_with_its_option)
{
    struct kclient_setopt so = {CURLE_OK, NULL};
    struct kerr_info err;
    KCLIENT_SETOPT(&so, NULL, CURLOPT_NOSIGNAL, 1L); /* no handle: refused */
    kclient_setopt_note(&so, "CURLOPT_SECOND", CURLE_UNKNOWN_OPTION);
    ck_assert_int_ne(so.rc, CURLE_OK);
    ck_assert_int_eq(kclient_setopt_result(&so, &err), KERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "CURLOPT_NOSIGNAL"));
    struct kclient_setopt ok = {CURLE_OK, NULL};
    kclient_setopt_note(&ok, "CURLOPT_X", CURLE_OK);
    ck_assert_int_eq(kclient_setopt_result(&ok, &err), KERR_OK);
}
END_TEST

static Suite *kclient_suite(void)
{
    Suite *s = suite_create("kclient");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, kclient_path_builds_group_namespace_name_and_subresource);
    tcase_add_test(tc, kclient_get_sends_accept_token_and_user_agent);
    tcase_add_test(tc, kclient_asks_for_compression_only_when_told);
    tcase_add_test(tc, kclient_create_posts_compact_json_to_the_collection);
    tcase_add_test(tc, kclient_apply_uses_patch_apply_yaml_field_manager_and_force);
    tcase_add_test(tc, kclient_answers_come_without_managed_fields);
    tcase_add_test(tc, kclient_merge_patch_and_update_content_types);
    tcase_add_test(tc, kclient_delete_sends_delete_options_only_when_needed);
    tcase_add_test(tc, kclient_status_errors_map_to_the_enum_with_reason_and_message);
    tcase_add_test(tc, kclient_plain_text_404_is_notfound_with_the_text);
    tcase_add_test(tc, kclient_bad_json_in_a_2xx_is_a_parse_error);
    tcase_add_test(tc, kclient_retries_503_then_succeeds);
    tcase_add_test(tc, kclient_retry_after_is_honoured);
    tcase_add_test(tc, kclient_429_gives_up_after_max_retries);
    tcase_add_test(tc, kclient_backoff_doubles_from_100ms_with_jitter_and_a_cap);
    tcase_add_test(tc, kclient_request_timeout_is_a_timeout_error);
    tcase_add_test(tc, kclient_connection_refused_is_an_io_error);
    tcase_add_test(tc, kclient_reuses_one_connection_for_several_requests);
    tcase_add_test(tc, kclient_threads_get_their_own_connection);
    tcase_add_test(tc, kclient_list_follows_continue_across_three_pages);
    tcase_add_test(tc, kclient_list_cut_in_the_middle_of_an_item_is_an_error);
    tcase_add_test(tc, kclient_list_item_callback_can_stop);
    tcase_add_test(tc, kclient_list_text_hands_items_without_managed_fields);
    tcase_add_test(tc, kclient_list_error_status_and_retry);
    tcase_add_test(tc, kclient_list_of_many_items_streams);
    tcase_add_test(tc, kclient_token_file_is_sent_and_rotation_followed);
    suite_add_tcase(s, tc);
    TCase *tls = tcase_create("tls");
    tcase_set_timeout(tls, 30);
    tcase_add_unchecked_fixture(tls, tls_setup, tls_teardown);
    tcase_add_test(tls, kclient_tls_with_ca_and_client_certificate_from_kubeconfig_data);
    tcase_add_test(tls, kclient_tls_rejects_a_server_not_signed_by_the_ca);
    tcase_add_test(tls, kclient_tls_without_client_certificate_is_refused);
    tcase_add_test(tls, kclient_setopt_failure_is_reported_once_with_its_option);
    suite_add_tcase(s, tls);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kclient_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
