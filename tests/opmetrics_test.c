/*
 * opmetrics_test: the operator's metric families (opmetrics.c), through
 * opmetrics.h and the registry's public API only (rendered text, the
 * families' values): service conditions and deletion, streamed scrapes
 * while services change, REST requests, reconciles, queues, leadership,
 * workers, the process collector, NULL handles, and the full output
 * checked with `promtool check metrics` when /usr/bin/promtool exists.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"
#include "opmetrics.h"
#include "wq.h"

#define L(...) ((const char *const[]){__VA_ARGS__})

static json_t *conds(const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    ck_assert_ptr_nonnull(j);
    return j;
}

/* The value of the sample `line` ("name{labels}") in a render, -1 if absent.
 * The service families are rendered from opm's records, so the test reads
 * what a scrape sees. */
static double sample_value(struct metrics *m, const char *line)
{
    char *out = metrics_render(m, NULL), want[512];
    snprintf(want, sizeof want, "\n%s ", line);
    const char *p = strstr(out, want);
    double v = p ? strtod(p + strlen(want), NULL) : -1;
    free(out);
    return v;
}

/* Number of samples of `family` (with labels) in a render. */
static size_t samples_of(struct metrics *m, const char *family)
{
    char *out = metrics_render(m, NULL), want[256];
    snprintf(want, sizeof want, "\n%s{", family);
    size_t n = 0;
    for (const char *p = strstr(out, want); p; p = strstr(p + 1, want))
        n++;
    free(out);
    return n;
}

static double cond_value(struct metrics *m, const char *type, const char *status)
{
    char line[256];
    snprintf(line, sizeof line,
             "grace_service_condition{namespace=\"ns\",name=\"svc\",type=\"%s\",status=\"%s\"}",
             type, status);
    return sample_value(m, line);
}

static double ready_value(struct metrics *m, const char *ns, const char *name)
{
    char line[256];
    snprintf(line, sizeof line, "grace_service_ready{namespace=\"%s\",name=\"%s\"}", ns, name);
    return sample_value(m, line);
}

START_TEST(opm_service_conditions_set_one_status_per_type)
{
    struct metrics *m = metrics_new();
    struct opm *o = opm_new(m, "1.2.3");
    json_t *c = conds("[{\"type\":\"Ready\",\"status\":\"False\"},"
                      "{\"type\":\"Database\",\"status\":\"True\"},"
                      "{\"type\":\"Route\",\"status\":\"Weird\"}]");
    opm_service_conditions(o, "ns", "svc", c);
    ck_assert(cond_value(m, "Ready", "False") == 1);
    ck_assert(cond_value(m, "Ready", "True") == 0);
    ck_assert(cond_value(m, "Ready", "Unknown") == 0);
    ck_assert(cond_value(m, "Database", "True") == 1);
    ck_assert(cond_value(m, "Route", "Unknown") == 1);
    ck_assert(ready_value(m, "ns", "svc") == 0);
    ck_assert_uint_eq(samples_of(m, "grace_service_condition"), 9);
    json_decref(c);

    c = conds("[{\"type\":\"Ready\",\"status\":\"True\"}]");
    opm_service_conditions(o, "ns", "svc", c);
    ck_assert(cond_value(m, "Ready", "True") == 1);
    ck_assert(cond_value(m, "Database", "True") == -1); /* stale type removed */
    ck_assert(cond_value(m, "Route", "Unknown") == -1);
    ck_assert(ready_value(m, "ns", "svc") == 1);
    ck_assert_uint_eq(samples_of(m, "grace_service_condition"), 3);
    json_decref(c);
    opm_free(o);
    metrics_free(m);
}
END_TEST

START_TEST(opm_service_deleting_has_a_sample_only_while_deleted)
{
    struct metrics *m = metrics_new();
    struct opm *o = opm_new(m, "v");
    json_t *c = conds("[{\"type\":\"Ready\",\"status\":\"True\"}]");
    opm_service_conditions(o, "ns", "svc", c);
    opm_service_conditions(o, "ns", "other", c);
    ck_assert_uint_eq(samples_of(m, "grace_service_deletion_timestamp_seconds"), 0);
    char *out = metrics_render(m, NULL); /* no sample: no HELP/TYPE */
    ck_assert_ptr_null(strstr(out, "grace_service_deletion_timestamp_seconds"));
    free(out);
    opm_service_deleting(o, "ns", "svc", 1764000000);
    ck_assert_uint_eq(samples_of(m, "grace_service_deletion_timestamp_seconds"), 1);
    ck_assert(sample_value(m, "grace_service_deletion_timestamp_seconds{namespace=\"ns\","
                              "name=\"svc\"}") == 1764000000);
    ck_assert(ready_value(m, "ns", "svc") == 1); /* the last status is kept */
    opm_service_delete(o, "ns", "svc");
    ck_assert_uint_eq(samples_of(m, "grace_service_deletion_timestamp_seconds"), 0);
    ck_assert(ready_value(m, "ns", "other") == 1);
    json_decref(c);
    opm_free(o);
    metrics_free(m);
}
END_TEST

START_TEST(opm_service_delete_removes_only_that_service)
{
    struct metrics *m = metrics_new();
    struct opm *o = opm_new(m, "v");
    json_t *c = conds("[{\"type\":\"Ready\",\"status\":\"True\"}]");
    opm_service_conditions(o, "ns", "svc", c);
    opm_service_conditions(o, "ns", "other", c);
    opm_service_conditions(o, "ns2", "svc", c);
    opm_service_delete(o, "ns", "svc");
    ck_assert_uint_eq(samples_of(m, "grace_service_condition"), 6);
    ck_assert_uint_eq(samples_of(m, "grace_service_ready"), 2);
    ck_assert(cond_value(m, "Ready", "True") == -1);
    ck_assert(ready_value(m, "ns", "svc") == -1);
    ck_assert(ready_value(m, "ns2", "svc") == 1);
    opm_service_conditions(o, "ns", "other", NULL); /* no conditions: all removed */
    ck_assert_uint_eq(samples_of(m, "grace_service_condition"), 3);
    ck_assert(ready_value(m, "ns", "other") == 0);
    opm_service_delete(o, "ns", "other");
    opm_service_delete(o, "ns2", "svc");
    char *out = metrics_render(m, NULL); /* no samples: no HELP/TYPE either */
    ck_assert_ptr_null(strstr(out, "grace_service_"));
    free(out);
    json_decref(c);
    opm_free(o);
    metrics_free(m);
}
END_TEST

/* Services added and removed between the pieces of a scrape: no sample
 * twice, none of the untouched services lost, the family's HELP once. */
START_TEST(opm_stream_survives_services_changing_between_pieces)
{
    struct metrics *m = metrics_new();
    struct opm *o = opm_new(m, "v");
    json_t *c = conds("[{\"type\":\"Ready\",\"status\":\"True\"}]");
    char name[32];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "s%02d", i);
        opm_service_conditions(o, "ns", name, c);
    }
    struct metrics_stream *st = metrics_stream_new(m);
    char *all = NULL, *piece;
    size_t size = 0, len = 0;
    FILE *out = open_memstream(&all, &size);
    int n = 0;
    while ((piece = metrics_stream_next(st, 512, &len))) {
        fwrite(piece, 1, len, out);
        free(piece);
        if (++n == 8) { /* somewhere inside the services */
            for (int i = 0; i < 40; i += 2) {
                snprintf(name, sizeof name, "s%02d", i);
                opm_service_delete(o, "ns", name);
            }
            opm_service_conditions(o, "ns", "late", c);
            opm_service_conditions(o, "ns", "s01", c); /* an update keeps its place */
        }
    }
    metrics_stream_free(st);
    fclose(out);
    ck_assert_int_gt(n, 8);
    for (int i = 1; i < 40; i += 2) {
        char want[160];
        snprintf(want, sizeof want,
                 "\ngrace_service_condition{namespace=\"ns\",name=\"s%02d\",type=\"Ready\","
                 "status=\"True\"} 1\n",
                 i);
        const char *p = strstr(all, want);
        ck_assert_msg(p != NULL, "s%02d missing", i);
        ck_assert_msg(strstr(p + 1, want) == NULL, "s%02d twice", i);
    }
    ck_assert_ptr_nonnull(strstr(all, "name=\"late\""));
    const char *help = strstr(all, "# HELP grace_service_condition ");
    ck_assert_ptr_nonnull(help);
    ck_assert_ptr_null(strstr(help + 1, "# HELP grace_service_condition "));
    free(all);
    json_decref(c);
    opm_free(o);
    metrics_free(m);
}
END_TEST

START_TEST(opm_rest_request_maps_verbs_and_transport_errors)
{
    struct metrics *m = metrics_new();
    struct opm *o = opm_new(m, "v");
    opm_set_rest_host(o, "10.0.0.1:6443");
    opm_rest_observer(o, "LIST", 200, 0.01);
    opm_rest_observer(o, "WATCH", 200, 0.02);
    opm_rest_observer(o, "APPLY", 409, 0.03);
    opm_rest_observer(o, "GET", 0, 1.5);
    struct metrics_family *t = metrics_find(m, "rest_client_requests_total");
    double v = 0;
    ck_assert(metrics_value(t, L("200", "GET", "10.0.0.1:6443"), &v));
    ck_assert(v == 2);
    ck_assert(metrics_value(t, L("409", "PATCH", "10.0.0.1:6443"), &v));
    ck_assert(metrics_value(t, L("<error>", "GET", "10.0.0.1:6443"), &v));
    ck_assert(metrics_value(metrics_find(m, "rest_client_request_duration_seconds"),
                            L("GET", "10.0.0.1:6443"), &v));
    ck_assert(v == 3);
    opm_free(o);
    metrics_free(m);
}
END_TEST

START_TEST(opm_reconcile_results_and_errors_are_counted)
{
    struct metrics *m = metrics_new();
    struct opm *o = opm_new(m, "v");
    opm_controller_init(o, "graceservice", 4);
    opm_reconcile_done(o, "graceservice", OPM_SUCCESS, 0.02);
    opm_reconcile_done(o, "graceservice", OPM_ERROR, 0.5);
    opm_reconcile_done(o, "graceservice", OPM_REQUEUE_AFTER, 0.1);
    double v = -1;
    struct metrics_family *t = metrics_find(m, "controller_runtime_reconcile_total");
    ck_assert(metrics_value(t, L("graceservice", "requeue"), &v) && v == 0);
    ck_assert(metrics_value(t, L("graceservice", "error"), &v) && v == 1);
    ck_assert(metrics_value(metrics_find(m, "controller_runtime_reconcile_errors_total"),
                            L("graceservice"), &v) &&
              v == 1);
    ck_assert(metrics_value(metrics_find(m, "controller_runtime_reconcile_time_seconds"),
                            L("graceservice"), &v) &&
              v == 3);
    ck_assert(metrics_value(metrics_find(m, "controller_runtime_max_concurrent_reconciles"),
                            L("graceservice"), &v) &&
              v == 4);
    opm_active_workers(o, "graceservice", 1);
    ck_assert(metrics_value(metrics_find(m, "controller_runtime_active_workers"), L("graceservice"),
                            &v) &&
              v == 1);
    opm_reconcile_done(NULL, "x", OPM_SUCCESS, 1); /* NULL opm is a no-op */
    opm_free(o);
    metrics_free(m);
}
END_TEST

START_TEST(opm_attached_queue_is_sampled_at_scrape)
{
    struct metrics *m = metrics_new();
    struct opm *o = opm_new(m, "v");
    struct wq *q = wq_new();
    opm_attach_wq(o, "graceservice", q);
    wq_add(q, "ns/a");
    wq_add(q, "ns/b");
    wq_add(q, "ns/a");
    char *key = NULL;
    ck_assert(wq_get(q, &key));
    wq_done(q, key);
    free(key);
    char *out = metrics_render(m, NULL);
    ck_assert_ptr_nonnull(strstr(out, "\nworkqueue_depth{name=\"graceservice\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(out, "\nworkqueue_adds_total{name=\"graceservice\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "\nworkqueue_queue_duration_seconds_count{name=\"graceservice\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "\nworkqueue_work_duration_seconds_count{name=\"graceservice\"} 1\n"));
    free(out);
    wq_shutdown(q);
    wq_free(q);
    opm_free(o);
    metrics_free(m);
}
END_TEST

START_TEST(opm_process_metrics_are_plausible)
{
    struct metrics *m = metrics_new();
    struct opm *o = opm_new(m, "v");
    char *out = metrics_render(m, NULL);
    double rss = 0, start = 0, fds = 0;
    ck_assert(metrics_value(metrics_find(m, "process_resident_memory_bytes"), NULL, &rss));
    ck_assert(metrics_value(metrics_find(m, "process_start_time_seconds"), NULL, &start));
    ck_assert(metrics_value(metrics_find(m, "process_open_fds"), NULL, &fds));
    ck_assert(rss > 1024 * 1024);
    ck_assert(start > 1.5e9 && start < 1e10);
    ck_assert(fds >= 3);
    /* the heap: what is in use now includes a block held across a scrape */
    double in_use = 0, freed = -1;
    char *volatile held = malloc(4 << 20); /* volatile: the compiler may not elide it */
    ck_assert_ptr_nonnull(held);
    memset(held, 1, 4 << 20);
    free(metrics_render(m, NULL));
    ck_assert(metrics_value(metrics_find(m, "grace_heap_bytes"), (const char *[]){"in_use"},
                            &in_use));
    ck_assert(metrics_value(metrics_find(m, "grace_heap_bytes"), (const char *[]){"free"}, &freed));
    /* valgrind and ASan replace glibc's malloc, and mallinfo2 then says 0 */
    if (in_use != 0 || freed != 0)
        ck_assert_msg(in_use >= 4 << 20, "in use %.0f", in_use);
    ck_assert(freed >= 0);
    free(held);
    ck_assert_ptr_nonnull(strstr(out, "grace_build_info{version=\"v\"} 1\n"));
    free(out);
    opm_free(o);
    metrics_free(m);
}
END_TEST

/* Fill every operator family, render, and feed the text to promtool. */
START_TEST(opm_render_passes_promtool_check_metrics)
{
    if (access("/usr/bin/promtool", X_OK) != 0) {
        fprintf(stderr, "promtool not installed: skipping\n");
        return;
    }
    struct metrics *m = metrics_new();
    struct opm *o = opm_new(m, "0.1.0-test");
    opm_controller_init(o, "graceservice", 4);
    opm_reconcile_done(o, "graceservice", OPM_SUCCESS, 0.2);
    opm_active_workers(o, "graceservice", 1);
    struct wq_stats st = {.adds = 5,
                          .retries = 1,
                          .depth = 2,
                          .unfinished_work_seconds = 0.5,
                          .longest_running_seconds = 0.4};
    opm_workqueue(o, "graceservice", &st);
    struct metrics_family *qd = metrics_find(m, "workqueue_queue_duration_seconds");
    metrics_histogram_observe(qd, L("graceservice"), 0.001);
    metrics_histogram_observe(metrics_find(m, "workqueue_work_duration_seconds"), L("graceservice"),
                              0.2);
    opm_rest_request(o, "GET", 200, "127.0.0.1:6443", 0.01);
    opm_leader(o, "grace-operator", true);
    json_t *c = conds("[{\"type\":\"Ready\",\"status\":\"True\"},"
                      "{\"type\":\"Database\",\"status\":\"False\"}]");
    opm_service_conditions(o, "team \"a\"", "svc\\1", c);
    json_decref(c);
    size_t len = 0;
    char *out = metrics_render(m, &len);
    char path[] = "/tmp/metrics_test_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, out, len), (ssize_t)len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char msg[4096] = "";
    size_t n = fread(msg, 1, sizeof msg - 1, p);
    msg[n] = '\0';
    int status = pclose(p);
    unlink(path);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 && n == 0,
                  "promtool check metrics failed (status %d): %s", status, msg);
    ck_assert_ptr_nonnull(strstr(out, "grace_service_condition{namespace=\"team \\\"a\\\"\","
                                      "name=\"svc\\\\1\",type=\"Ready\",status=\"True\"} 1\n"));
    free(out);
    opm_free(o);
    metrics_free(m);
}
END_TEST

START_TEST(opm_leader_status_follows_leadership)
{
    struct metrics *m = metrics_new();
    struct opm *o = opm_new(m, "v");
    opm_leader(o, "grace-operator", false);
    ck_assert(sample_value(m, "leader_election_master_status{name=\"grace-operator\"}") == 0);
    opm_leader(o, "grace-operator", true);
    ck_assert(sample_value(m, "leader_election_master_status{name=\"grace-operator\"}") == 1);
    opm_leader(o, "grace-operator", false);
    ck_assert(sample_value(m, "leader_election_master_status{name=\"grace-operator\"}") == 0);
    opm_free(o);
    metrics_free(m);
}
END_TEST

START_TEST(opm_controller_init_creates_series_and_workers_move_the_gauge)
{
    struct metrics *m = metrics_new();
    struct opm *o = opm_new(m, "v");
    ck_assert_ptr_eq(opm_registry(o), m);
    opm_controller_init(o, "graceservice", 4);
    ck_assert(sample_value(m, "controller_runtime_max_concurrent_reconciles{controller="
                              "\"graceservice\"}") == 4);
    ck_assert(sample_value(m, "controller_runtime_active_workers{controller=\"graceservice\"}") ==
              0);
    static const enum opm_result all[] = {OPM_SUCCESS, OPM_ERROR, OPM_REQUEUE, OPM_REQUEUE_AFTER};
    for (size_t i = 0; i < 4; i++) {
        char line[160];
        snprintf(line, sizeof line,
                 "controller_runtime_reconcile_total{controller=\"graceservice\",result=\"%s\"}",
                 opm_result_name(all[i]));
        ck_assert_msg(sample_value(m, line) == 0, "%s not created at 0", line);
    }
    ck_assert_str_eq(opm_result_name(OPM_REQUEUE_AFTER), "requeue_after");
    opm_active_workers(o, "graceservice", 1);
    opm_active_workers(o, "graceservice", 1);
    opm_active_workers(o, "graceservice", -1);
    ck_assert(sample_value(m, "controller_runtime_active_workers{controller=\"graceservice\"}") ==
              1);
    opm_free(o);
    metrics_free(m);
}
END_TEST

/* Code paths without metrics pass NULL: every helper does nothing. */
START_TEST(opm_null_handle_is_ignored_by_every_helper)
{
    json_t *c = conds("[{\"type\":\"Ready\",\"status\":\"True\"}]");
    struct wq_stats st = {.adds = 1};
    opm_controller_init(NULL, "c", 1);
    opm_reconcile_done(NULL, "c", OPM_ERROR, 0.1);
    opm_active_workers(NULL, "c", 1);
    opm_workqueue(NULL, "c", &st);
    opm_rest_request(NULL, "GET", 200, "h", 0.1);
    opm_set_rest_host(NULL, "h");
    opm_rest_observer(NULL, "GET", 200, 0.1);
    opm_leader(NULL, "x", true);
    opm_service_conditions(NULL, "ns", "n", c);
    opm_service_deleting(NULL, "ns", "n", 1.0);
    opm_service_delete(NULL, "ns", "n");
    ck_assert_ptr_null(opm_registry(NULL));
    opm_free(NULL);
    json_decref(c);
}
END_TEST

static Suite *opmetrics_suite(void)
{
    Suite *s = suite_create("opmetrics");
    TCase *op = tcase_create("opmetrics");
    tcase_set_timeout(op, 30);
    tcase_add_test(op, opm_service_conditions_set_one_status_per_type);
    tcase_add_test(op, opm_service_delete_removes_only_that_service);
    tcase_add_test(op, opm_service_deleting_has_a_sample_only_while_deleted);
    tcase_add_test(op, opm_stream_survives_services_changing_between_pieces);
    tcase_add_test(op, opm_rest_request_maps_verbs_and_transport_errors);
    tcase_add_test(op, opm_reconcile_results_and_errors_are_counted);
    tcase_add_test(op, opm_attached_queue_is_sampled_at_scrape);
    tcase_add_test(op, opm_process_metrics_are_plausible);
    tcase_add_test(op, opm_render_passes_promtool_check_metrics);
    tcase_add_test(op, opm_leader_status_follows_leadership);
    tcase_add_test(op, opm_controller_init_creates_series_and_workers_move_the_gauge);
    tcase_add_test(op, opm_null_handle_is_ignored_by_every_helper);
    suite_add_tcase(s, op);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(opmetrics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
