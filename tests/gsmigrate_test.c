/*
 * gsmigrate_test: the pure part of the migrations gate: the Job's name and
 * hash, its state from its conditions, the gate's decision in every case,
 * the Job built from a rendered Deployment, and image pinning.
 */
#include "gsmigrate.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static json_t *cmd(const char *a, const char *b)
{
    return b ? json_pack("[s, s]", a, b) : json_pack("[s]", a);
}

START_TEST(job_name_is_stable_and_changes_with_image_and_command)
{
    char a[GSM_NAME_MAX], b[GSM_NAME_MAX], c[GSM_NAME_MAX], d[GSM_NAME_MAX], hash[11];
    json_t *c1 = cmd("alembic", "upgrade"), *c2 = cmd("alembic", "downgrade");
    gsmigrate_job_name("web", "img:1", c1, a, hash);
    gsmigrate_job_name("web", "img:1", c1, b, NULL);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(strncmp(a, "web-migrate-", 12), 0);
    ck_assert_str_eq(a + 12, hash);
    ck_assert_uint_eq(strlen(hash), 10);
    gsmigrate_job_name("web", "img:2", c1, c, NULL);
    gsmigrate_job_name("web", "img:1", c2, d, NULL);
    ck_assert_str_ne(a, c);
    ck_assert_str_ne(a, d);
    json_decref(c1);
    json_decref(c2);
}
END_TEST

/* The name is persisted (the Job's name and label): its hash must never
 * change. Values computed by the original FNV-1a code, checked by hand. */
START_TEST(job_name_hash_is_pinned)
{
    char a[GSM_NAME_MAX], hash[11];
    json_t *c = json_pack("[s, s, s]", "rake", "db:migrate", "--trace");
    gsmigrate_job_name("web", "registry.example/app:1.2.3", c, a, hash);
    ck_assert_str_eq(a, "web-migrate-34fa611713");
    ck_assert_str_eq(hash, "34fa611713");
    gsmigrate_job_name("web", NULL, NULL, a, hash);
    ck_assert_str_eq(a, "web-migrate-af64724c86");
    json_decref(c);
}
END_TEST

/* ["ab", "c"] and ["a", "bc"] are different commands. */
START_TEST(job_name_separates_arguments)
{
    char a[GSM_NAME_MAX], b[GSM_NAME_MAX];
    json_t *c1 = cmd("ab", "c"), *c2 = cmd("a", "bc");
    gsmigrate_job_name("web", "img", c1, a, NULL);
    gsmigrate_job_name("web", "img", c2, b, NULL);
    ck_assert_str_ne(a, b);
    json_decref(c1);
    json_decref(c2);
}
END_TEST

START_TEST(job_name_fits_a_label_value)
{
    char a[GSM_NAME_MAX];
    const char *svc = "a-very-long-service-name-that-goes-on-and-on-and-on-for-63-chars";
    json_t *c = cmd("migrate", NULL);
    gsmigrate_job_name(svc, "img", c, a, NULL);
    ck_assert_uint_le(strlen(a), 63);
    ck_assert_ptr_nonnull(strstr(a, "-migrate-"));
    ck_assert_int_ne(a[0], '-');
    /* a cut that would end in '-' loses it: no "--migrate-" */
    gsmigrate_job_name("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq--rest", "img", c, a, NULL);
    ck_assert_ptr_null(strstr(a, "--"));
    json_decref(c);
}
END_TEST

static json_t *job_with(const char *type, const char *reason)
{
    return json_pack("{s:{s:[{s:s, s:s, s:s, s:s}]}}", "status", "conditions", "type", type,
                     "status", "True", "reason", reason, "message", "why");
}

START_TEST(job_state_from_conditions)
{
    char why[64];
    ck_assert_int_eq(gsmigrate_job_state(NULL, why, sizeof why), GSM_ABSENT);
    json_t *j = json_pack("{s:{s:i}}", "status", "active", 1);
    ck_assert_int_eq(gsmigrate_job_state(j, why, sizeof why), GSM_ACTIVE);
    json_decref(j);
    j = job_with("Complete", "CompletionsReached");
    ck_assert_int_eq(gsmigrate_job_state(j, why, sizeof why), GSM_SUCCEEDED);
    json_decref(j);
    j = job_with("Failed", "DeadlineExceeded");
    ck_assert_int_eq(gsmigrate_job_state(j, why, sizeof why), GSM_FAILED);
    ck_assert_str_eq(why, "DeadlineExceeded: why");
    json_decref(j);
    /* an interim FailureTarget alone is not a failure yet */
    j = job_with("FailureTarget", "BackoffLimitExceeded");
    ck_assert_int_eq(gsmigrate_job_state(j, NULL, 0), GSM_ACTIVE);
    json_decref(j);
}
END_TEST

START_TEST(decide_opens_once_succeeded_or_recorded)
{
    struct gsm_decision d;
    gsmigrate_decide(&(struct gsm_input){.want = GSM_SUCCEEDED}, &d);
    ck_assert_int_eq(d.gate, GSM_OPEN);
    ck_assert_int_eq(d.state, READY_TRUE);
    ck_assert(!d.create);
    /* the Job is gone (time-to-live) but status remembers it: not run again */
    gsmigrate_decide(&(struct gsm_input){.want = GSM_ABSENT, .recorded = true}, &d);
    ck_assert_int_eq(d.gate, GSM_OPEN);
    ck_assert(!d.create);
}
END_TEST

START_TEST(decide_holds_while_running_and_on_failure)
{
    struct gsm_decision d;
    gsmigrate_decide(&(struct gsm_input){.want = GSM_ACTIVE}, &d);
    ck_assert_int_eq(d.gate, GSM_HOLD);
    ck_assert_int_eq(d.state, READY_PENDING);
    ck_assert(!d.create);
    gsmigrate_decide(&(struct gsm_input){.want = GSM_FAILED}, &d);
    ck_assert_int_eq(d.gate, GSM_HOLD);
    ck_assert_int_eq(d.state, READY_FALSE);
    ck_assert(d.terminal);
    ck_assert_str_eq(d.reason, "MigrationFailed");
    ck_assert(!d.create); /* the failed Job is not retried by itself */
}
END_TEST

START_TEST(decide_creates_only_when_nothing_else_runs)
{
    struct gsm_decision d;
    gsmigrate_decide(&(struct gsm_input){.want = GSM_ABSENT}, &d);
    ck_assert(d.create);
    ck_assert_int_eq(d.gate, GSM_HOLD);
    gsmigrate_decide(&(struct gsm_input){.want = GSM_ABSENT, .other_active = true}, &d);
    ck_assert(!d.create);
    ck_assert_str_eq(d.reason, "WaitingForPreviousMigration");
    gsmigrate_decide(&(struct gsm_input){.want = GSM_ABSENT, .db_pending = true}, &d);
    ck_assert(!d.create);
    ck_assert_str_eq(d.reason, "WaitingForDatabase");
    ck_assert_int_eq(d.state, READY_PENDING);
}
END_TEST

static json_t *deployment(void)
{
    return json_loads(
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
        "\"namespace\":\"ns\",\"labels\":{\"grace.dev/service\":\"web\",\"grace.dev/namespace\":"
        "\"ns\",\"app.kubernetes.io/managed-by\":\"grace-operator\"},\"ownerReferences\":[{"
        "\"kind\":\"GraceService\",\"name\":\"web\"}]},\"spec\":{\"template\":{\"metadata\":{"
        "\"labels\":{\"app.kubernetes.io/name\":\"web\",\"grace.dev/service\":\"web\"}},\"spec\":{"
        "\"automountServiceAccountToken\":false,\"securityContext\":{\"runAsNonRoot\":true},"
        "\"volumes\":[{\"name\":\"tmp\",\"emptyDir\":{}}],\"containers\":[{\"name\":\"app\","
        "\"image\":\"img:1\",\"args\":[\"serve\"],\"ports\":[{\"containerPort\":8000}],"
        "\"readinessProbe\":{},\"livenessProbe\":{},\"env\":[{\"name\":\"DATABASE_URL\","
        "\"valueFrom\":{\"secretKeyRef\":{\"name\":\"web-postgres\",\"key\":\"uri\"}}}],"
        "\"envFrom\":[{\"configMapRef\":{\"name\":\"extra\"}}],\"securityContext\":{"
        "\"readOnlyRootFilesystem\":true},\"volumeMounts\":[{\"name\":\"tmp\",\"mountPath\":"
        "\"/tmp\"}]}]}}}}",
        0, NULL);
}

static json_t *service(const char *mig)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\"},\"spec\":{\"image\":\"img:2\","
             "\"migrations\":%s}}",
             mig);
    return json_loads(text, 0, NULL);
}

static const json_t *at(const json_t *v, const char *a, const char *b, const char *c)
{
    v = json_object_get(v, a);
    v = b ? json_object_get(v, b) : v;
    return c ? json_object_get(v, c) : v;
}

START_TEST(job_runs_the_new_image_with_the_workloads_env_and_security)
{
    json_t *d = deployment();
    json_t *gs = service("{\"command\":[\"alembic\",\"upgrade\",\"head\"],\"timeoutSeconds\":30,"
                         "\"backoffLimit\":2}");
    json_t *job = gsmigrate_job_build(gs, d, "web-migrate-0123456789", "0123456789");
    ck_assert_ptr_nonnull(job);
    ck_assert_str_eq(json_string_value(json_object_get(job, "kind")), "Job");
    const json_t *md = json_object_get(job, "metadata");
    ck_assert_str_eq(json_string_value(json_object_get(md, "name")), "web-migrate-0123456789");
    ck_assert_str_eq(json_string_value(json_object_get(md, "namespace")), "ns");
    ck_assert_str_eq(json_string_value(at(md, "labels", GSM_LABEL, NULL)), "0123456789");
    ck_assert_ptr_nonnull(json_object_get(md, "ownerReferences"));
    const json_t *spec = json_object_get(job, "spec");
    ck_assert_int_eq(json_integer_value(json_object_get(spec, "activeDeadlineSeconds")), 30);
    ck_assert_int_eq(json_integer_value(json_object_get(spec, "backoffLimit")), 2);
    ck_assert_ptr_null(json_object_get(spec, "ttlSecondsAfterFinished"));
    const json_t *pod = at(spec, "template", "spec", NULL);
    ck_assert_str_eq(json_string_value(json_object_get(pod, "restartPolicy")), "Never");
    ck_assert(json_is_true(at(pod, "securityContext", "runAsNonRoot", NULL)));
    ck_assert(json_is_false(json_object_get(pod, "automountServiceAccountToken")));
    const json_t *c = json_array_get(json_object_get(pod, "containers"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(c, "image")), "img:2");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(c, "command"), 2)), "head");
    ck_assert_ptr_null(json_object_get(c, "args"));
    ck_assert_ptr_null(json_object_get(c, "ports"));
    ck_assert_ptr_null(json_object_get(c, "readinessProbe"));
    ck_assert_ptr_nonnull(json_object_get(c, "env"));
    ck_assert_ptr_nonnull(json_object_get(c, "envFrom"));
    ck_assert_ptr_nonnull(json_object_get(c, "volumeMounts"));
    ck_assert(json_is_true(at(c, "securityContext", "readOnlyRootFilesystem", NULL)));
    /* the pod is not selected by the Service */
    const json_t *pl = at(spec, "template", "metadata", "labels");
    ck_assert_ptr_null(json_object_get(pl, "app.kubernetes.io/name"));
    ck_assert_str_eq(json_string_value(json_object_get(pl, "grace.dev/service")), "web");
    json_decref(job);
    json_decref(gs);
    json_decref(d);
}
END_TEST

START_TEST(job_defaults_and_no_container)
{
    json_t *d = deployment();
    json_t *gs = service("{\"command\":[\"migrate\"]}");
    json_t *job = gsmigrate_job_build(gs, d, "j", "h");
    ck_assert_int_eq(json_integer_value(at(job, "spec", "activeDeadlineSeconds", NULL)),
                     GSM_DEFAULT_TIMEOUT);
    ck_assert_int_eq(json_integer_value(at(job, "spec", "backoffLimit", NULL)), 0);
    json_decref(job);
    json_t *pod = (json_t *)at(d, "spec", "template", "spec");
    json_object_set_new(pod, "containers", json_array());
    ck_assert_ptr_null(gsmigrate_job_build(gs, d, "j", "h"));
    json_decref(gs);
    json_decref(d);
}
END_TEST

START_TEST(pin_keeps_the_live_image_per_container)
{
    json_t *want = deployment();
    json_t *c = json_array_get(json_object_get(at(want, "spec", "template", "spec"), "containers"), 0);
    json_object_set_new(c, "image", json_string("img:2"));
    json_t *live = deployment(); /* runs img:1 */
    gsmigrate_pin_images(want, live);
    ck_assert_str_eq(json_string_value(json_object_get(c, "image")), "img:1");
    /* a container the live one lacks keeps its image */
    json_object_set_new(c, "name", json_string("other"));
    json_object_set_new(c, "image", json_string("img:3"));
    gsmigrate_pin_images(want, live);
    ck_assert_str_eq(json_string_value(json_object_get(c, "image")), "img:3");
    json_decref(want);
    json_decref(live);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gsmigrate");
    TCase *t = tcase_create("core");
    tcase_add_test(t, job_name_is_stable_and_changes_with_image_and_command);
    tcase_add_test(t, job_name_hash_is_pinned);
    tcase_add_test(t, job_name_separates_arguments);
    tcase_add_test(t, job_name_fits_a_label_value);
    tcase_add_test(t, job_state_from_conditions);
    tcase_add_test(t, decide_opens_once_succeeded_or_recorded);
    tcase_add_test(t, decide_holds_while_running_and_on_failure);
    tcase_add_test(t, decide_creates_only_when_nothing_else_runs);
    tcase_add_test(t, job_runs_the_new_image_with_the_workloads_env_and_security);
    tcase_add_test(t, job_defaults_and_no_container);
    tcase_add_test(t, pin_keeps_the_live_image_per_container);
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
