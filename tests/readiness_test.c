/* Unit tests for controllers/readiness.c, conditions.c and childdiff.c. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "childdiff.h"
#include "conditions.h"
#include "readiness.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "bad test JSON: %s", e.text);
    return j;
}

static enum ready_state eval(const char *kind, const char *text, struct ready_result *r)
{
    json_t *o = text ? J(text) : NULL;
    readiness_eval(o, kind, "x", r);
    json_decref(o);
    return r->state;
}

START_TEST(readiness_missing_child_is_pending)
{
    struct ready_result r;
    ck_assert_int_eq(eval("Deployment", NULL, &r), READY_PENDING);
    ck_assert_str_eq(r.reason, "Creating");
}
END_TEST

START_TEST(readiness_deployment_needs_current_generation_and_available)
{
    struct ready_result r;
    const char *stale = "{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":2},"
                        "\"status\":{\"observedGeneration\":2,\"updatedReplicas\":2,"
                        "\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"}]}}";
    ck_assert_int_eq(eval("Deployment", stale, &r), READY_PENDING);
    const char *rolling = "{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":2},"
                          "\"status\":{\"observedGeneration\":3,\"updatedReplicas\":1,"
                          "\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"}]}}";
    ck_assert_int_eq(eval("Deployment", rolling, &r), READY_PENDING);
    const char *ok = "{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":2},"
                     "\"status\":{\"observedGeneration\":3,\"updatedReplicas\":2,"
                     "\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"}]}}";
    ck_assert_int_eq(eval("Deployment", ok, &r), READY_TRUE);
}
END_TEST

START_TEST(readiness_certificate_ignores_stale_ready)
{
    struct ready_result r;
    const char *stale = "{\"metadata\":{\"generation\":2},\"status\":{\"conditions\":[{\"type\":"
                        "\"Ready\",\"status\":\"True\",\"observedGeneration\":1}]}}";
    ck_assert_int_eq(eval("Certificate", stale, &r), READY_PENDING);
    const char *ok = "{\"metadata\":{\"generation\":2},\"status\":{\"conditions\":[{\"type\":"
                     "\"Ready\",\"status\":\"True\",\"observedGeneration\":2}]}}";
    ck_assert_int_eq(eval("Certificate", ok, &r), READY_TRUE);
}
END_TEST

START_TEST(readiness_kafka_failure_carries_reason)
{
    struct ready_result r;
    const char *bad = "{\"metadata\":{\"generation\":1},\"status\":{\"observedGeneration\":1,"
                      "\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\",\"reason\":"
                      "\"PartitionDecreaseException\",\"message\":\"no\"}]}}";
    ck_assert_int_eq(eval("KafkaTopic", bad, &r), READY_FALSE);
    ck_assert_str_eq(r.reason, "PartitionDecreaseException");
    ck_assert_ptr_nonnull(strstr(r.message, "no"));
}
END_TEST

START_TEST(readiness_schedule_phase)
{
    struct ready_result r;
    ck_assert_int_eq(eval("Schedule", "{\"status\":{\"phase\":\"Enabled\"}}", &r), READY_TRUE);
    ck_assert_int_eq(eval("Schedule", "{\"status\":{\"phase\":\"New\"}}", &r), READY_PENDING);
    ck_assert_int_eq(eval("Schedule", "{\"status\":{\"phase\":\"FailedValidation\"}}", &r),
                     READY_FALSE);
}
END_TEST

START_TEST(readiness_terminating_child_is_not_ready)
{
    struct ready_result r;
    ck_assert_int_eq(eval("NetworkPolicy", "{\"metadata\":{\"deletionTimestamp\":\"x\"}}", &r),
                     READY_PENDING);
    ck_assert_int_eq(eval("NetworkPolicy", "{\"metadata\":{}}", &r), READY_TRUE);
}
END_TEST

START_TEST(readiness_tailnet_service_waits_for_proxy)
{
    struct ready_result r;
    const char *svc = "{\"metadata\":{\"annotations\":{\"tailscale.com/expose\":\"true\"}}}";
    ck_assert_int_eq(eval("Service", svc, &r), READY_PENDING);
    ck_assert_int_eq(eval("Service", "{\"metadata\":{}}", &r), READY_TRUE);
}
END_TEST

START_TEST(conditions_keep_transition_time_when_status_unchanged)
{
    json_t *old = J("[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"T0\","
                    "\"reason\":\"A\",\"message\":\"\"}]");
    json_t *c = json_array();
    conditions_set(c, old, "Ready", "True", "B", "m", 4, "T1");
    json_t *r = conditions_find(c, "Ready");
    ck_assert_str_eq(json_string_value(json_object_get(r, "lastTransitionTime")), "T0");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "observedGeneration")), 4);
    conditions_set(c, old, "Ready", "False", "B", "m", 4, "T1");
    ck_assert_int_eq(json_array_size(c), 1);
    r = conditions_find(c, "Ready");
    ck_assert_str_eq(json_string_value(json_object_get(r, "lastTransitionTime")), "T1");
    json_decref(old);
    json_decref(c);
}
END_TEST

START_TEST(conditions_equal_ignores_time_and_order)
{
    json_t *a = J("[{\"type\":\"A\",\"status\":\"True\",\"reason\":\"R\",\"message\":\"\","
                  "\"lastTransitionTime\":\"1\"},{\"type\":\"B\",\"status\":\"False\","
                  "\"reason\":\"R\",\"message\":\"m\"}]");
    json_t *b = J("[{\"type\":\"B\",\"status\":\"False\",\"reason\":\"R\",\"message\":\"m\"},"
                  "{\"type\":\"A\",\"status\":\"True\",\"reason\":\"R\",\"message\":\"\","
                  "\"lastTransitionTime\":\"2\"}]");
    json_t *c = J("[{\"type\":\"B\",\"status\":\"True\",\"reason\":\"R\",\"message\":\"m\"},"
                  "{\"type\":\"A\",\"status\":\"True\",\"reason\":\"R\",\"message\":\"\"}]");
    ck_assert(conditions_equal(a, b));
    ck_assert(!conditions_equal(a, c));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}
END_TEST

START_TEST(childdiff_subset_matches_defaulted_live_object)
{
    json_t *want = J("{\"spec\":{\"replicas\":1,\"template\":{\"spec\":{\"containers\":[{"
                     "\"name\":\"app\",\"image\":\"x:1\"}]}}},\"metadata\":{\"labels\":{\"a\":"
                     "\"b\"},\"annotations\":{}}}");
    json_t *live = J("{\"spec\":{\"replicas\":1,\"strategy\":{},\"template\":{\"spec\":{"
                     "\"containers\":[{\"name\":\"app\",\"image\":\"x:1\",\"imagePullPolicy\":"
                     "\"IfNotPresent\"}]}}},\"metadata\":{\"labels\":{\"a\":\"b\",\"c\":\"d\"}}}");
    ck_assert(childdiff_matches(want, live));
    json_t *edited = J("{\"spec\":{\"replicas\":3,\"template\":{\"spec\":{\"containers\":[{"
                       "\"name\":\"app\",\"image\":\"x:1\"}]}}},\"metadata\":{\"labels\":{\"a\":"
                       "\"b\"}}}");
    ck_assert(!childdiff_matches(want, edited));
    ck_assert(!childdiff_matches(want, NULL));
    json_decref(want);
    json_decref(live);
    json_decref(edited);
}
END_TEST

START_TEST(childdiff_list_length_change_is_a_difference)
{
    json_t *want = J("{\"l\":[1,2]}");
    json_t *live = J("{\"l\":[1,2,3]}");
    ck_assert(!childdiff_matches(want, live));
    json_t *num = J("{\"l\":[1.0,2]}");
    json_t *live2 = J("{\"l\":[1,2]}");
    ck_assert(childdiff_matches(num, live2));
    json_decref(want);
    json_decref(live);
    json_decref(num);
    json_decref(live2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("readiness");
    TCase *t = tcase_create("core");
    tcase_add_test(t, readiness_missing_child_is_pending);
    tcase_add_test(t, readiness_deployment_needs_current_generation_and_available);
    tcase_add_test(t, readiness_certificate_ignores_stale_ready);
    tcase_add_test(t, readiness_kafka_failure_carries_reason);
    tcase_add_test(t, readiness_schedule_phase);
    tcase_add_test(t, readiness_terminating_child_is_not_ready);
    tcase_add_test(t, readiness_tailnet_service_waits_for_proxy);
    tcase_add_test(t, conditions_keep_transition_time_when_status_unchanged);
    tcase_add_test(t, conditions_equal_ignores_time_and_order);
    tcase_add_test(t, childdiff_subset_matches_defaulted_live_object);
    tcase_add_test(t, childdiff_list_length_change_is_a_difference);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
