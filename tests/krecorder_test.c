/*
 * krecorder_test: events.k8s.io/v1 Event creation with the required fields
 * (transcript 19), de-duplication of repeats into series updates, note
 * truncation, argument and server errors.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "krecorder.h"
#include "testsrv.h"

#define EVENTS "/apis/events.k8s.io/v1/namespaces/ref/events"

static const char *PEEPS =
    "{\"apiVersion\":\"grace.dev/v1alpha1\",\"kind\":\"GraceService\",\"metadata\":{\"name\":"
    "\"peeps\",\"namespace\":\"ref\",\"uid\":\"f697b24b\",\"resourceVersion\":\"215\","
    "\"managedFields\":[]},\"spec\":{}}";

struct fx {
    struct testsrv *srv;
    struct kconfig cfg;
    struct kclient *c;
    struct krecorder *rec;
    json_t *peeps;
    int fail_status; /* answer POSTs with this (0: 201) */
};

static void handler(void *ctx, const struct testsrv_req *req, struct testsrv_resp *out)
{
    struct fx *x = ctx;
    if (strcmp(req->method, "POST") == 0 && x->fail_status) {
        out->status = x->fail_status;
        out->body = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                    "\"message\":\"Event is invalid\",\"reason\":\"Invalid\",\"code\":422}";
        return;
    }
    out->status = strcmp(req->method, "POST") == 0 ? 201 : 200;
    out->body = "{\"kind\":\"Event\",\"apiVersion\":\"events.k8s.io/v1\",\"metadata\":{}}";
}

static void fx_setup(struct fx *x)
{
    struct kerr_info err = {0};
    memset(x, 0, sizeof *x);
    x->srv = testsrv_start();
    testsrv_set_handler(x->srv, handler, x);
    x->cfg.server = (char *)testsrv_url(x->srv);
    ck_assert_int_eq(kclient_new(&x->cfg, NULL, &x->c, &err), KERR_OK);
    x->rec = krecorder_new(x->c, "grace.dev/grace-operator", "grace-operator-7d9f-abcde");
    x->peeps = json_loads(PEEPS, 0, NULL);
    ck_assert_ptr_nonnull(x->peeps);
}

static void fx_teardown(struct fx *x)
{
    json_decref(x->peeps);
    krecorder_free(x->rec);
    kclient_free(x->c);
    testsrv_stop(x->srv);
}

static int count(struct fx *x, const char *method)
{
    int n = 0;
    for (size_t i = 0; i < testsrv_nrequests(x->srv); i++)
        if (strcmp(testsrv_request(x->srv, i)->method, method) == 0)
            n++;
    return n;
}

/* Body of the n-th request with `method`, parsed (caller decrefs). */
static json_t *body_of(struct fx *x, const char *method, int nth, const char **path)
{
    for (size_t i = 0; i < testsrv_nrequests(x->srv); i++) {
        const struct testsrv_req *r = testsrv_request(x->srv, i);
        if (strcmp(r->method, method) == 0 && nth-- == 0) {
            if (path)
                *path = r->path;
            return json_loadb(r->body, r->body_len, 0, NULL);
        }
    }
    ck_abort_msg("no %s request", method);
    return NULL;
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "(none)";
}

START_TEST(krecorder_creates_an_event_with_the_required_fields)
{
    struct fx x;
    const char *path = NULL;
    fx_setup(&x);
    ck_assert_int_eq(krecorder_event(x.rec, x.peeps, "Normal", "Provisioned", "Reconcile",
                                     "database %s created", "grace_peeps"),
                     KERR_OK);
    json_t *ev = body_of(&x, "POST", 0, &path);
    ck_assert_str_eq(path, EVENTS);
    ck_assert_str_eq(str(ev, "apiVersion"), "events.k8s.io/v1");
    ck_assert_str_eq(str(ev, "kind"), "Event");
    ck_assert_str_eq(str(ev, "reportingController"), "grace.dev/grace-operator");
    ck_assert_str_eq(str(ev, "reportingInstance"), "grace-operator-7d9f-abcde");
    ck_assert_str_eq(str(ev, "action"), "Reconcile");
    ck_assert_str_eq(str(ev, "reason"), "Provisioned");
    ck_assert_str_eq(str(ev, "type"), "Normal");
    ck_assert_str_eq(str(ev, "note"), "database grace_peeps created");
    const char *t = str(ev, "eventTime");
    ck_assert_uint_eq(strlen(t), 27); /* 2026-11-28T12:00:00.000000Z */
    ck_assert(t[19] == '.' && t[26] == 'Z');
    const json_t *meta = json_object_get(ev, "metadata");
    ck_assert_str_eq(str(meta, "namespace"), "ref");
    ck_assert_int_eq(strncmp(str(meta, "name"), "peeps.", 6), 0);
    const json_t *reg = json_object_get(ev, "regarding");
    ck_assert_str_eq(str(reg, "apiVersion"), "grace.dev/v1alpha1");
    ck_assert_str_eq(str(reg, "kind"), "GraceService");
    ck_assert_str_eq(str(reg, "namespace"), "ref");
    ck_assert_str_eq(str(reg, "name"), "peeps");
    ck_assert_str_eq(str(reg, "uid"), "f697b24b");
    ck_assert_str_eq(str(reg, "resourceVersion"), "215");
    json_decref(ev);
    fx_teardown(&x);
}
END_TEST

START_TEST(krecorder_repeat_within_the_interval_is_folded)
{
    struct fx x;
    fx_setup(&x);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(
            krecorder_event(x.rec, x.peeps, "Warning", "Failed", "Reconcile", "boom %d", 1),
            KERR_OK);
    ck_assert_int_eq(count(&x, "POST"), 1);
    ck_assert_int_eq(count(&x, "PATCH"), 0);
    fx_teardown(&x);
}
END_TEST

START_TEST(krecorder_other_reason_note_or_object_is_a_new_event)
{
    struct fx x;
    fx_setup(&x);
    krecorder_event(x.rec, x.peeps, "Warning", "Failed", "Reconcile", "boom");
    krecorder_event(x.rec, x.peeps, "Warning", "Failed", "Reconcile", "bang");
    krecorder_event(x.rec, x.peeps, "Warning", "Stuck", "Reconcile", "boom");
    krecorder_event(x.rec, x.peeps, "Normal", "Failed", "Reconcile", "boom");
    json_t *other = json_deep_copy(x.peeps);
    json_object_set_new(json_object_get(other, "metadata"), "uid", json_string("other-uid"));
    krecorder_event(x.rec, other, "Warning", "Failed", "Reconcile", "boom");
    json_decref(other);
    ck_assert_int_eq(count(&x, "POST"), 5);
    fx_teardown(&x);
}
END_TEST

START_TEST(krecorder_repeat_after_the_interval_patches_the_series)
{
    struct fx x;
    const char *path = NULL;
    char want[512];
    fx_setup(&x);
    krecorder_set_timing(x.rec, 600, 0.4);
    krecorder_event(x.rec, x.peeps, "Warning", "Failed", "Reconcile", "boom");
    krecorder_event(x.rec, x.peeps, "Warning", "Failed", "Reconcile", "boom"); /* folded */
    usleep(450000);
    ck_assert_int_eq(krecorder_event(x.rec, x.peeps, "Warning", "Failed", "Reconcile", "boom"),
                     KERR_OK);
    ck_assert_int_eq(count(&x, "POST"), 1);
    ck_assert_int_eq(count(&x, "PATCH"), 1);
    json_t *ev = body_of(&x, "POST", 0, NULL);
    json_t *patch = body_of(&x, "PATCH", 0, &path);
    snprintf(want, sizeof want, EVENTS "/%s", str(json_object_get(ev, "metadata"), "name"));
    ck_assert_str_eq(path, want);
    const json_t *series = json_object_get(patch, "series");
    ck_assert_int_eq(json_integer_value(json_object_get(series, "count")), 3);
    ck_assert_uint_eq(strlen(str(series, "lastObservedTime")), 27);
    ck_assert_uint_eq(json_object_size(patch), 1); /* note etc. are immutable */
    const struct testsrv_req *r = NULL;
    for (size_t i = 0; i < testsrv_nrequests(x.srv); i++)
        if (strcmp(testsrv_request(x.srv, i)->method, "PATCH") == 0)
            r = testsrv_request(x.srv, i);
    ck_assert_str_eq(testsrv_header(r, "Content-Type"), "application/merge-patch+json");
    json_decref(ev);
    json_decref(patch);
    fx_teardown(&x);
}
END_TEST

START_TEST(krecorder_repeat_after_the_window_is_a_new_event)
{
    struct fx x;
    fx_setup(&x);
    krecorder_set_timing(x.rec, 0.05, 0.01);
    krecorder_event(x.rec, x.peeps, "Normal", "Done", "Reconcile", "ok");
    usleep(70000);
    krecorder_event(x.rec, x.peeps, "Normal", "Done", "Reconcile", "ok");
    ck_assert_int_eq(count(&x, "POST"), 2);
    ck_assert_int_eq(count(&x, "PATCH"), 0);
    fx_teardown(&x);
}
END_TEST

START_TEST(krecorder_expired_events_leave_the_cache)
{
    struct fx x;
    fx_setup(&x);
    krecorder_event(x.rec, x.peeps, "Normal", "Done", "Reconcile", "one");
    krecorder_event(x.rec, x.peeps, "Normal", "Done", "Reconcile", "two");
    ck_assert_uint_eq(krecorder_cached(x.rec), 2);
    usleep(20000);
    krecorder_set_timing(x.rec, 0.01, 0.01); /* both are now older than the window */
    krecorder_event(x.rec, x.peeps, "Normal", "Done", "Reconcile", "three");
    ck_assert_uint_eq(krecorder_cached(x.rec), 1);
    fx_teardown(&x);
}
END_TEST

/* At the bound the oldest Event is forgotten: its repeat is a new Event,
 * while a repeat of a newer one is still folded. */
START_TEST(krecorder_full_cache_evicts_the_oldest)
{
    struct fx x;
    fx_setup(&x);
    krecorder_set_capacity(x.rec, 3);
    for (int i = 0; i < 4; i++)
        krecorder_event(x.rec, x.peeps, "Warning", "Failed", "Reconcile", "boom %d", i);
    ck_assert_uint_eq(krecorder_cached(x.rec), 3);
    ck_assert_int_eq(count(&x, "POST"), 4);
    krecorder_event(x.rec, x.peeps, "Warning", "Failed", "Reconcile", "boom %d", 3);
    ck_assert_int_eq(count(&x, "POST"), 4);
    krecorder_event(x.rec, x.peeps, "Warning", "Failed", "Reconcile", "boom %d", 0);
    ck_assert_int_eq(count(&x, "POST"), 5);
    ck_assert_uint_eq(krecorder_cached(x.rec), 3);
    fx_teardown(&x);
}
END_TEST

/* Many distinct Events (the table grows) are each remembered. */
START_TEST(krecorder_many_events_are_each_remembered)
{
    struct fx x;
    fx_setup(&x);
    for (int i = 0; i < 300; i++)
        krecorder_event(x.rec, x.peeps, "Normal", "Step", "Reconcile", "step %d", i);
    ck_assert_uint_eq(krecorder_cached(x.rec), 300);
    for (int i = 0; i < 300; i++)
        krecorder_event(x.rec, x.peeps, "Normal", "Step", "Reconcile", "step %d", i);
    ck_assert_int_eq(count(&x, "POST"), 300);
    ck_assert_int_eq(count(&x, "PATCH"), 0);
    fx_teardown(&x);
}
END_TEST

START_TEST(krecorder_truncates_the_note_at_a_utf8_boundary)
{
    struct fx x;
    char note[1100];
    fx_setup(&x);
    memset(note, 'a', 1023);
    memcpy(note + 1023, "\xc3\xa9 and more", 11); /* an é straddles byte 1024 */
    note[1034] = '\0';
    krecorder_event(x.rec, x.peeps, "Normal", "Long", "Reconcile", "%s", note);
    json_t *ev = body_of(&x, "POST", 0, NULL);
    ck_assert_ptr_nonnull(ev);
    ck_assert_uint_eq(strlen(str(ev, "note")), 1023);
    json_decref(ev);
    fx_teardown(&x);
}
END_TEST

START_TEST(krecorder_rejects_bad_arguments_without_a_request)
{
    struct fx x;
    fx_setup(&x);
    json_t *nameless = json_pack("{s:{s:s}}", "metadata", "namespace", "ref");
    ck_assert_int_eq(krecorder_event(x.rec, x.peeps, "Info", "R", "A", "n"), KERR_INVAL);
    ck_assert_int_eq(krecorder_event(x.rec, x.peeps, "Normal", "", "A", "n"), KERR_INVAL);
    ck_assert_int_eq(krecorder_event(x.rec, x.peeps, "Normal", "R", NULL, "n"), KERR_INVAL);
    ck_assert_int_eq(krecorder_event(x.rec, nameless, "Normal", "R", "A", "n"), KERR_INVAL);
    ck_assert_int_eq(krecorder_event(x.rec, NULL, "Normal", "R", "A", "n"), KERR_INVAL);
    ck_assert_int_eq(krecorder_event(NULL, x.peeps, "Normal", "R", "A", "n"), KERR_INVAL);
    ck_assert_uint_eq(testsrv_nrequests(x.srv), 0);
    json_decref(nameless);
    krecorder_free(NULL);
    fx_teardown(&x);
}
END_TEST

START_TEST(krecorder_failed_create_is_tried_again_next_time)
{
    struct fx x;
    fx_setup(&x);
    x.fail_status = 422;
    ck_assert_int_eq(krecorder_event(x.rec, x.peeps, "Normal", "R", "A", "n"), KERR_INVALID);
    x.fail_status = 0;
    ck_assert_int_eq(krecorder_event(x.rec, x.peeps, "Normal", "R", "A", "n"), KERR_OK);
    ck_assert_int_eq(count(&x, "POST"), 2);
    fx_teardown(&x);
}
END_TEST

START_TEST(krecorder_cluster_scoped_object_goes_to_default)
{
    struct fx x;
    const char *path = NULL;
    fx_setup(&x);
    json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                           "metadata", "name", "team-a");
    krecorder_event(x.rec, ns, "Normal", "Seen", "Watch", "hello");
    json_t *ev = body_of(&x, "POST", 0, &path);
    ck_assert_str_eq(path, "/apis/events.k8s.io/v1/namespaces/default/events");
    ck_assert_ptr_null(json_object_get(json_object_get(ev, "regarding"), "namespace"));
    json_decref(ev);
    json_decref(ns);
    fx_teardown(&x);
}
END_TEST

static Suite *krecorder_suite(void)
{
    Suite *s = suite_create("krecorder");
    TCase *tc = tcase_create("events");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, krecorder_creates_an_event_with_the_required_fields);
    tcase_add_test(tc, krecorder_repeat_within_the_interval_is_folded);
    tcase_add_test(tc, krecorder_other_reason_note_or_object_is_a_new_event);
    tcase_add_test(tc, krecorder_repeat_after_the_interval_patches_the_series);
    tcase_add_test(tc, krecorder_repeat_after_the_window_is_a_new_event);
    tcase_add_test(tc, krecorder_expired_events_leave_the_cache);
    tcase_add_test(tc, krecorder_full_cache_evicts_the_oldest);
    tcase_add_test(tc, krecorder_many_events_are_each_remembered);
    tcase_add_test(tc, krecorder_truncates_the_note_at_a_utf8_boundary);
    tcase_add_test(tc, krecorder_rejects_bad_arguments_without_a_request);
    tcase_add_test(tc, krecorder_failed_create_is_tried_again_next_time);
    tcase_add_test(tc, krecorder_cluster_scoped_object_goes_to_default);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(krecorder_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
