/*
 * webhook_test: AdmissionReview v1 handling with demo callbacks standing in
 * for the GraceService rules (a "hostname taken" validator and a defaulter
 * that sets spec.replicas).
 */
#include <check.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook.h"

static const char *review_tmpl =
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
    "\"request\":{\"uid\":\"705ab4f5-6393-11e8-b7cc-42010a800002\","
    "\"kind\":{\"group\":\"grace.dev\",\"version\":\"v1alpha1\",\"kind\":\"GraceService\"},"
    "\"resource\":{\"group\":\"grace.dev\",\"version\":\"v1alpha1\",\"resource\":\"graceservices\"}"
    ","
    "\"namespace\":\"team-a\",\"name\":\"api\",\"operation\":\"%s\","
    "\"userInfo\":{\"username\":\"alice\"},\"dryRun\":true,"
    "\"object\":{\"metadata\":{\"name\":\"api\"},\"spec\":{\"hostname\":\"%s\"}},"
    "\"oldObject\":%s}}";

static char *review(const char *op, const char *hostname, const char *old)
{
    size_t n = strlen(review_tmpl) + strlen(op) + strlen(hostname) + strlen(old) + 1;
    char *s = malloc(n);
    ck_assert_int_gt(snprintf(s, n, review_tmpl, op, hostname, old), 0);
    return s;
}

struct seen {
    int calls;
    int default_calls;
    char op[16], kind[32], ns[32], name[32], user[32], uid[64];
    bool dry_run, has_old;
};

/* Demo rule: "taken.example.com" belongs to another GraceService. */
static void demo_validate(void *ctx, const struct webhook_request *req, struct webhook_verdict *v)
{
    struct seen *s = ctx;
    s->calls++;
    snprintf(s->op, sizeof s->op, "%s", req->operation);
    snprintf(s->kind, sizeof s->kind, "%s", req->kind);
    snprintf(s->ns, sizeof s->ns, "%s", req->ns);
    snprintf(s->name, sizeof s->name, "%s", req->name);
    snprintf(s->user, sizeof s->user, "%s", req->username);
    snprintf(s->uid, sizeof s->uid, "%s", req->uid);
    s->dry_run = req->dry_run;
    s->has_old = req->old_object != NULL;
    const char *host =
        json_string_value(json_object_get(json_object_get(req->object, "spec"), "hostname"));
    if (host && strcmp(host, "taken.example.com") == 0)
        webhook_deny(v, "spec.hostname %s is already used by GraceService team-b/web", host);
    if (host && strstr(host, "legacy"))
        webhook_warn(v, "hostname %s uses a deprecated zone", host);
}

static void demo_default(void *ctx, const struct webhook_request *req, struct webhook_verdict *v)
{
    struct seen *s = ctx;
    s->default_calls++;
    if (!json_object_get(json_object_get(req->object, "spec"), "replicas"))
        webhook_patch(v, "add", "/spec/replicas", json_integer(2));
}

static json_t *handle(const char *body, webhook_validate_fn val, webhook_default_fn def, void *ctx,
                      int want_status)
{
    int status = 0;
    char *out = webhook_handle(body, strlen(body), val, def, ctx, &status);
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(status == want_status, "status %d, body %s", status, out);
    json_t *j = json_loads(out, 0, NULL);
    ck_assert_msg(j != NULL, "response is not JSON: %s", out);
    free(out);
    ck_assert_str_eq(json_string_value(json_object_get(j, "apiVersion")), "admission.k8s.io/v1");
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "AdmissionReview");
    return j;
}

START_TEST(webhook_valid_request_is_allowed_with_uid_echoed)
{
    struct seen s = {0};
    char *body = review("CREATE", "free.example.com", "null");
    json_t *j = handle(body, demo_validate, NULL, &s, 200);
    json_t *r = json_object_get(j, "response");
    ck_assert_str_eq(json_string_value(json_object_get(r, "uid")),
                     "705ab4f5-6393-11e8-b7cc-42010a800002");
    ck_assert(json_is_true(json_object_get(r, "allowed")));
    ck_assert_ptr_null(json_object_get(r, "status"));
    ck_assert_ptr_null(json_object_get(r, "patch"));
    ck_assert_int_eq(s.calls, 1);
    json_decref(j);
    free(body);
}
END_TEST

START_TEST(webhook_callback_sees_decoded_request)
{
    struct seen s = {0};
    char *body = review("UPDATE", "free.example.com", "{\"spec\":{}}");
    json_t *j = handle(body, demo_validate, NULL, &s, 200);
    ck_assert_str_eq(s.op, "UPDATE");
    ck_assert_str_eq(s.kind, "GraceService");
    ck_assert_str_eq(s.ns, "team-a");
    ck_assert_str_eq(s.name, "api");
    ck_assert_str_eq(s.user, "alice");
    ck_assert_str_eq(s.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
    ck_assert(s.dry_run);
    ck_assert(s.has_old);
    json_decref(j);
    free(body);
    body = review("CREATE", "free.example.com", "null");
    j = handle(body, demo_validate, NULL, &s, 200);
    ck_assert(!s.has_old); /* null oldObject is reported as absent */
    json_decref(j);
    free(body);
}
END_TEST

START_TEST(webhook_rejected_request_carries_403_and_message)
{
    struct seen s = {0};
    char *body = review("CREATE", "taken.example.com", "null");
    json_t *j = handle(body, demo_validate, demo_default, &s, 200);
    json_t *r = json_object_get(j, "response");
    ck_assert(json_is_false(json_object_get(r, "allowed")));
    json_t *st = json_object_get(r, "status");
    ck_assert_int_eq(json_integer_value(json_object_get(st, "code")), 403);
    ck_assert_str_eq(json_string_value(json_object_get(st, "reason")), "Forbidden");
    ck_assert_str_eq(json_string_value(json_object_get(st, "message")),
                     "spec.hostname taken.example.com is already used by GraceService team-b/web");
    ck_assert_ptr_null(json_object_get(r, "patch"));
    ck_assert_int_eq(s.default_calls, 0); /* a denial skips the defaulter */
    json_decref(j);
    free(body);
}
END_TEST

START_TEST(webhook_warnings_are_returned_with_an_allow)
{
    struct seen s = {0};
    char *body = review("CREATE", "legacy.example.com", "null");
    json_t *j = handle(body, demo_validate, NULL, &s, 200);
    json_t *r = json_object_get(j, "response");
    ck_assert(json_is_true(json_object_get(r, "allowed")));
    json_t *w = json_object_get(r, "warnings");
    ck_assert_int_eq(json_array_size(w), 1);
    ck_assert_str_eq(json_string_value(json_array_get(w, 0)),
                     "hostname legacy.example.com uses a deprecated zone");
    json_decref(j);
    free(body);
}
END_TEST

START_TEST(webhook_defaulter_patch_is_base64_json_patch)
{
    struct seen s = {0};
    char *body = review("CREATE", "free.example.com", "null");
    json_t *j = handle(body, NULL, demo_default, &s, 200);
    json_t *r = json_object_get(j, "response");
    ck_assert(json_is_true(json_object_get(r, "allowed")));
    ck_assert_str_eq(json_string_value(json_object_get(r, "patchType")), "JSONPatch");
    const char *b64 = json_string_value(json_object_get(r, "patch"));
    ck_assert_ptr_nonnull(b64);
    unsigned char dec[512];
    int n = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)strlen(b64));
    ck_assert_int_gt(n, 0);
    while (n > 0 && dec[n - 1] == '\0') /* DecodeBlock keeps padding bytes */
        n--;
    json_t *patch = json_loadb((const char *)dec, (size_t)n, 0, NULL);
    ck_assert_ptr_nonnull(patch);
    json_t *want =
        json_loads("[{\"op\":\"add\",\"path\":\"/spec/replicas\",\"value\":2}]", 0, NULL);
    ck_assert(json_equal(patch, want));
    json_decref(want);
    json_decref(patch);
    json_decref(j);
    free(body);
}
END_TEST

static void no_change(void *ctx, const struct webhook_request *req, struct webhook_verdict *v)
{
    (void)ctx;
    (void)req;
    v->patch = json_array(); /* an empty patch: nothing to report */
}

START_TEST(webhook_empty_patch_sends_no_patch_fields)
{
    char *body = review("CREATE", "x.example.com", "null");
    json_t *j = handle(body, NULL, no_change, NULL, 200);
    json_t *r = json_object_get(j, "response");
    ck_assert(json_is_true(json_object_get(r, "allowed")));
    ck_assert_ptr_null(json_object_get(r, "patchType"));
    ck_assert_ptr_null(json_object_get(r, "patch"));
    json_decref(j);
    free(body);
}
END_TEST

static void bad_patch(void *ctx, const struct webhook_request *req, struct webhook_verdict *v)
{
    (void)ctx;
    (void)req;
    v->patch = json_object(); /* not an array */
}

START_TEST(webhook_invalid_patch_is_denied_as_internal_error)
{
    char *body = review("CREATE", "x.example.com", "null");
    json_t *j = handle(body, NULL, bad_patch, NULL, 200);
    json_t *r = json_object_get(j, "response");
    ck_assert(json_is_false(json_object_get(r, "allowed")));
    json_t *st = json_object_get(r, "status");
    ck_assert_int_eq(json_integer_value(json_object_get(st, "code")), 500);
    ck_assert_str_eq(json_string_value(json_object_get(st, "reason")), "InternalError");
    json_decref(j);
    free(body);
}
END_TEST

static void cannot_decide(void *ctx, const struct webhook_request *req, struct webhook_verdict *v)
{
    (void)ctx;
    (void)req;
    v->code = 500;
    snprintf(v->reason, sizeof v->reason, "InternalError");
    webhook_deny(v, "caches not synced yet");
}

START_TEST(webhook_denial_code_and_reason_can_be_set)
{
    char *body = review("DELETE", "x", "null");
    json_t *j = handle(body, cannot_decide, NULL, NULL, 200);
    json_t *st = json_object_get(json_object_get(j, "response"), "status");
    ck_assert_int_eq(json_integer_value(json_object_get(st, "code")), 500);
    ck_assert_str_eq(json_string_value(json_object_get(st, "message")), "caches not synced yet");
    json_decref(j);
    free(body);
}
END_TEST

static void expect_400(const char *body, const char *fragment)
{
    int status = 0;
    struct seen s = {0};
    char *out =
        webhook_handle(body, body ? strlen(body) : 0, demo_validate, demo_default, &s, &status);
    ck_assert_int_eq(status, 400);
    ck_assert_msg(strstr(out, fragment) != NULL, "\"%s\" not in \"%s\"", fragment, out);
    ck_assert_int_eq(s.calls, 0);
    free(out);
}

START_TEST(webhook_malformed_json_is_400_with_clear_message)
{
    expect_400("{\"apiVersion\":", "malformed AdmissionReview JSON");
    expect_400("", "malformed AdmissionReview JSON");
    expect_400(NULL, "malformed AdmissionReview JSON");
    expect_400("[1,2]", "not a JSON object");
}
END_TEST

START_TEST(webhook_request_without_uid_is_400)
{
    expect_400("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
               "\"request\":{\"operation\":\"CREATE\"}}",
               "request.uid is missing");
    expect_400("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
               "\"request\":{\"uid\":\"\"}}",
               "request.uid is missing");
}
END_TEST

START_TEST(webhook_wrong_envelope_is_400)
{
    expect_400("{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\","
               "\"request\":{\"uid\":\"u\"}}",
               "unsupported AdmissionReview apiVersion \"admission.k8s.io/v1beta1\"");
    expect_400("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Pod\"}",
               "expected kind AdmissionReview");
    expect_400("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
               "has no request");
}
END_TEST

START_TEST(webhook_body_need_not_be_nul_terminated)
{
    char *body = review("CREATE", "free.example.com", "null");
    size_t n = strlen(body);
    char *copy = malloc(n + 8);
    memcpy(copy, body, n);
    memcpy(copy + n, "garbage", 7); /* bytes past len must be ignored */
    int status = 0;
    char *out = webhook_handle(copy, n, NULL, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_ptr_nonnull(strstr(out, "\"allowed\":true"));
    free(out);
    free(copy);
    free(body);
}
END_TEST

START_TEST(webhook_serve_routes_by_path)
{
    struct seen s = {0};
    struct webhook_routes r = {.validate_path = "/validate-graceservice",
                               .validate = demo_validate,
                               .mutate_path = "/mutate-graceservice",
                               .mutate = demo_default,
                               .ctx = &s};
    char *body = review("CREATE", "taken.example.com", "null");
    int status = 0;
    char *out = webhook_serve(&r, "/validate-graceservice", body, strlen(body), &status);
    ck_assert_int_eq(status, 200);
    ck_assert_ptr_nonnull(strstr(out, "\"allowed\":false"));
    ck_assert_int_eq(s.calls, 1);
    ck_assert_int_eq(s.default_calls, 0);
    free(out);
    out = webhook_serve(&r, "/mutate-graceservice", body, strlen(body), &status);
    ck_assert_int_eq(status, 200);
    ck_assert_ptr_nonnull(strstr(out, "\"patchType\":\"JSONPatch\""));
    ck_assert_int_eq(s.calls, 1); /* the mutate path does not validate */
    ck_assert_int_eq(s.default_calls, 1);
    free(out);
    out = webhook_serve(&r, "/other", body, strlen(body), &status);
    ck_assert_int_eq(status, 404);
    free(out);
    free(body);
}
END_TEST

START_TEST(webhook_serve_leaves_another_kind_alone)
{
    struct seen s = {0};
    struct webhook_routes r = {"/validate-graceservice", demo_validate, "/mutate-graceservice",
                               demo_default, &s, "grace.dev", "GraceService"};
    char *gs = review("CREATE", "taken.example.com", "null");
    /* the same review, for a ConfigMap */
    char *cm = review("CREATE", "taken.example.com", "null");
    char *k = strstr(cm, "\"group\":\"grace.dev\",\"version\":\"v1alpha1\",\"kind\":\"GraceService\"");
    ck_assert_ptr_nonnull(k);
    memcpy(k, "\"group\":\"\",         \"version\":\"v1\",      \"kind\":\"ConfigMap\"   ",
           strlen("\"group\":\"grace.dev\",\"version\":\"v1alpha1\",\"kind\":\"GraceService\""));
    int status = 0;
    char *out = webhook_serve(&r, "/mutate-graceservice", cm, strlen(cm), &status);
    ck_assert_int_eq(status, 200);
    ck_assert_msg(strstr(out, "\"allowed\":true") && !strstr(out, "patch"), "%s", out);
    ck_assert_msg(strstr(out, "ConfigMap was not checked"), "%s", out);
    free(out);
    out = webhook_serve(&r, "/validate-graceservice", cm, strlen(cm), &status);
    ck_assert_msg(strstr(out, "\"allowed\":true"), "%s", out); /* not denied either */
    free(out);
    ck_assert_int_eq(s.calls + s.default_calls, 0);
    /* the GraceService itself is still defaulted and checked */
    out = webhook_serve(&r, "/mutate-graceservice", gs, strlen(gs), &status);
    ck_assert_ptr_nonnull(strstr(out, "\"patchType\":\"JSONPatch\""));
    free(out);
    ck_assert_int_eq(s.default_calls, 1);
    free(gs);
    free(cm);
}
END_TEST

static Suite *webhook_suite(void)
{
    Suite *s = suite_create("webhook");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, webhook_valid_request_is_allowed_with_uid_echoed);
    tcase_add_test(tc, webhook_callback_sees_decoded_request);
    tcase_add_test(tc, webhook_rejected_request_carries_403_and_message);
    tcase_add_test(tc, webhook_warnings_are_returned_with_an_allow);
    tcase_add_test(tc, webhook_defaulter_patch_is_base64_json_patch);
    tcase_add_test(tc, webhook_empty_patch_sends_no_patch_fields);
    tcase_add_test(tc, webhook_invalid_patch_is_denied_as_internal_error);
    tcase_add_test(tc, webhook_denial_code_and_reason_can_be_set);
    tcase_add_test(tc, webhook_malformed_json_is_400_with_clear_message);
    tcase_add_test(tc, webhook_request_without_uid_is_400);
    tcase_add_test(tc, webhook_wrong_envelope_is_400);
    tcase_add_test(tc, webhook_body_need_not_be_nul_terminated);
    tcase_add_test(tc, webhook_serve_routes_by_path);
    tcase_add_test(tc, webhook_serve_leaves_another_kind_alone);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(webhook_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
