/*
 * metrics_test: the Prometheus registry (metrics.c) and the operator's
 * families (opmetrics.c). Rendered text is compared exactly for small cases,
 * and the full operator output is checked with `promtool check metrics`
 * when /usr/bin/promtool exists.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"
#include "opmetrics.h"
#include "wq.h"

#define L(...) ((const char *const[]){__VA_ARGS__})

static struct metrics_family *must_register(struct metrics *m, const char *name,
                                            enum metrics_type t, const char *const *labels,
                                            size_t n)
{
    struct metrics_desc d = {
        .name = name, .help = "Help text.", .type = t, .labels = labels, .nlabels = n};
    struct metrics_family *f = NULL;
    ck_assert_int_eq(metrics_register(m, &d, &f, NULL), KERR_OK);
    return f;
}

START_TEST(metrics_counter_renders_help_type_and_samples)
{
    struct metrics *m = metrics_new();
    struct metrics_family *f = must_register(m, "jobs_total", METRICS_COUNTER, L("kind"), 1);
    struct metrics_family *g = must_register(m, "temp", METRICS_GAUGE, NULL, 0);
    metrics_counter_add(f, L("a"), 1);
    metrics_counter_add(f, L("a"), 2);
    metrics_counter_add(f, L("b"), 0.5);
    metrics_gauge_set(g, NULL, -3);
    size_t len = 0;
    char *out = metrics_render(m, &len);
    ck_assert_str_eq(out, "# HELP jobs_total Help text.\n"
                          "# TYPE jobs_total counter\n"
                          "jobs_total{kind=\"a\"} 3\n"
                          "jobs_total{kind=\"b\"} 0.5\n"
                          "# HELP temp Help text.\n"
                          "# TYPE temp gauge\n"
                          "temp -3\n");
    ck_assert_uint_eq(len, strlen(out));
    free(out);
    metrics_free(m);
}
END_TEST

struct emit_fx {
    int n; /* samples to emit */
};

static void emit_some(void *ctx, struct metrics_emitter *e)
{
    const struct emit_fx *x = ctx;
    for (int i = 0; i < x->n; i++) {
        if ((uint64_t)i + 1 <= metrics_emit_resume(e))
            continue;
        metrics_emit(e, L(i ? "b\"" : "a", NULL), i + 0.5);
        if (!metrics_emit_mark(e, (uint64_t)i + 1))
            break;
    }
}

/* Concatenate every piece of a streamed render; *pieces counts them. */
static char *stream_all(struct metrics *m, size_t hint, int *pieces)
{
    struct metrics_stream *st = metrics_stream_new(m);
    char *all = NULL;
    size_t size = 0, len = 0;
    FILE *out = open_memstream(&all, &size);
    char *piece;
    *pieces = 0;
    while ((piece = metrics_stream_next(st, hint, &len))) {
        ck_assert_uint_eq(len, strlen(piece));
        fwrite(piece, 1, len, out);
        free(piece);
        (*pieces)++;
    }
    metrics_stream_free(st);
    fclose(out);
    return all;
}

START_TEST(metrics_stream_pieces_make_the_whole_render)
{
    struct metrics *m = metrics_new();
    struct emit_fx x = {.n = 100};
    struct metrics_desc d = {"live", "Live.", METRICS_GAUGE, L("k", "v"), 2, NULL, 0};
    struct metrics_family *a = must_register(m, "a_total", METRICS_COUNTER, L("kind"), 1);
    ck_assert_int_eq(metrics_register_func(m, &d, emit_some, &x, NULL, NULL), KERR_OK);
    struct metrics_family *z = must_register(m, "z", METRICS_GAUGE, NULL, 0);
    struct metrics_family *h =
        must_register(m, "empty_seconds", METRICS_HISTOGRAM, L("kind"), 1); /* no samples */
    (void)h;
    metrics_counter_add(a, L("x"), 1);
    metrics_counter_add(a, L("y"), 2);
    metrics_gauge_set(z, NULL, 3);
    char *whole = metrics_render(m, NULL);
    int pieces = 0;
    char *all = stream_all(m, 64, &pieces);
    ck_assert_str_eq(all, whole);
    ck_assert_int_gt(pieces, 20); /* 100 samples of ~20 bytes in pieces of ~64 */
    free(all);
    all = stream_all(m, 1 << 20, &pieces);
    ck_assert_str_eq(all, whole);
    ck_assert_int_eq(pieces, 1);
    free(all);
    free(whole);
    x.n = 0; /* a func family without samples is left out, HELP included */
    all = stream_all(m, 16, &pieces);
    ck_assert_ptr_null(strstr(all, "live"));
    ck_assert_ptr_nonnull(strstr(all, "\nz 3\n"));
    free(all);
    metrics_free(m);
}
END_TEST

START_TEST(metrics_func_family_renders_what_its_function_emits)
{
    struct metrics *m = metrics_new();
    struct emit_fx x = {0};
    struct metrics_desc d = {"live", "Live.", METRICS_GAUGE, L("k", "v"), 2, NULL, 0};
    struct metrics_family *f = NULL;
    struct kerr_info err;
    ck_assert_int_eq(metrics_register_func(m, &d, emit_some, &x, &f, &err), KERR_OK);
    struct metrics_family *g = must_register(m, "after", METRICS_GAUGE, NULL, 0);
    metrics_gauge_set(g, NULL, 1);
    metrics_gauge_set(f, L("a", ""), 7); /* ignored: the function is the source */
    ck_assert_uint_eq(metrics_children(f), 0);
    char *out = metrics_render(m, NULL);
    ck_assert_str_eq(out, "# HELP after Help text.\n# TYPE after gauge\nafter 1\n");
    free(out);
    x.n = 2;
    out = metrics_render(m, NULL);
    ck_assert_str_eq(out, "# HELP live Live.\n"
                          "# TYPE live gauge\n"
                          "live{k=\"a\",v=\"\"} 0.5\n"
                          "live{k=\"b\\\"\",v=\"\"} 1.5\n"
                          "# HELP after Help text.\n# TYPE after gauge\nafter 1\n");
    free(out);
    d.type = METRICS_HISTOGRAM;
    d.name = "hist";
    ck_assert_int_eq(metrics_register_func(m, &d, emit_some, &x, NULL, &err), KERR_INVAL);
    d.type = METRICS_GAUGE;
    ck_assert_int_eq(metrics_register_func(m, &d, NULL, &x, NULL, &err), KERR_INVAL);
    d.name = "live";
    ck_assert_int_eq(metrics_register_func(m, &d, emit_some, &x, NULL, &err), KERR_EXISTS);
    metrics_free(m);
}
END_TEST

START_TEST(metrics_label_values_and_help_are_escaped)
{
    struct metrics *m = metrics_new();
    struct metrics_desc d = {.name = "x",
                             .help = "line1\nback\\slash \"q\"",
                             .type = METRICS_GAUGE,
                             .labels = L("v"),
                             .nlabels = 1};
    struct metrics_family *f = NULL;
    ck_assert_int_eq(metrics_register(m, &d, &f, NULL), KERR_OK);
    metrics_gauge_set(f, L("a\"b\\c\nd"), 1);
    char *out = metrics_render(m, NULL);
    ck_assert_str_eq(out, "# HELP x line1\\nback\\\\slash \"q\"\n"
                          "# TYPE x gauge\n"
                          "x{v=\"a\\\"b\\\\c\\nd\"} 1\n");
    free(out);
    metrics_free(m);
}
END_TEST

START_TEST(metrics_histogram_buckets_are_cumulative_with_inf_sum_count)
{
    struct metrics *m = metrics_new();
    const double b[] = {0.1, 1, 5};
    struct metrics_desc d = {.name = "lat_seconds",
                             .help = "h",
                             .type = METRICS_HISTOGRAM,
                             .labels = L("op"),
                             .nlabels = 1,
                             .buckets = b,
                             .nbuckets = 3};
    struct metrics_family *f = NULL;
    ck_assert_int_eq(metrics_register(m, &d, &f, NULL), KERR_OK);
    metrics_histogram_observe(f, L("get"), 0.05);
    metrics_histogram_observe(f, L("get"), 0.1); /* on the bound: counts in le=0.1 */
    metrics_histogram_observe(f, L("get"), 2);
    metrics_histogram_observe(f, L("get"), 100);
    char *out = metrics_render(m, NULL);
    ck_assert_str_eq(out, "# HELP lat_seconds h\n"
                          "# TYPE lat_seconds histogram\n"
                          "lat_seconds_bucket{op=\"get\",le=\"0.1\"} 2\n"
                          "lat_seconds_bucket{op=\"get\",le=\"1\"} 2\n"
                          "lat_seconds_bucket{op=\"get\",le=\"5\"} 3\n"
                          "lat_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"
                          "lat_seconds_sum{op=\"get\"} 102.15\n"
                          "lat_seconds_count{op=\"get\"} 4\n");
    double v = 0;
    ck_assert(metrics_value(f, L("get"), &v));
    ck_assert(v == 4);
    free(out);
    metrics_free(m);
}
END_TEST

START_TEST(metrics_histogram_without_labels_and_default_buckets)
{
    struct metrics *m = metrics_new();
    struct metrics_family *f = must_register(m, "d_seconds", METRICS_HISTOGRAM, NULL, 0);
    metrics_histogram_observe(f, NULL, 0.003);
    char *out = metrics_render(m, NULL);
    ck_assert_ptr_nonnull(strstr(out, "\nd_seconds_bucket{le=\"0.005\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(out, "\nd_seconds_bucket{le=\"10\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(out, "\nd_seconds_bucket{le=\"+Inf\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(out, "\nd_seconds_sum 0.003\nd_seconds_count 1\n"));
    free(out);
    metrics_free(m);
}
END_TEST

START_TEST(metrics_numbers_use_shortest_round_trip_text)
{
    struct metrics *m = metrics_new();
    struct metrics_family *f = must_register(m, "n", METRICS_GAUGE, L("k"), 1);
    metrics_gauge_set(f, L("a"), 0.1);
    metrics_gauge_set(f, L("b"), 1e-8);
    metrics_gauge_set(f, L("c"), 1234567);
    metrics_gauge_set(f, L("d"), NAN);
    metrics_gauge_set(f, L("e"), INFINITY);
    metrics_gauge_set(f, L("f"), 1.0 / 3);
    char *out = metrics_render(m, NULL);
    ck_assert_ptr_nonnull(strstr(out, "n{k=\"a\"} 0.1\n"));
    ck_assert_ptr_nonnull(strstr(out, "n{k=\"b\"} 1e-08\n"));
    ck_assert_ptr_nonnull(strstr(out, "n{k=\"c\"} 1234567\n"));
    ck_assert_ptr_nonnull(strstr(out, "n{k=\"d\"} NaN\n"));
    ck_assert_ptr_nonnull(strstr(out, "n{k=\"e\"} +Inf\n"));
    ck_assert_ptr_nonnull(strstr(out, "n{k=\"f\"} 0.3333333333333333\n"));
    free(out);
    metrics_free(m);
}
END_TEST

START_TEST(metrics_register_rejects_bad_descriptions)
{
    struct metrics *m = metrics_new();
    struct kerr_info e;
    struct metrics_desc d = {.name = "1bad", .type = METRICS_GAUGE};
    ck_assert_int_eq(metrics_register(m, &d, NULL, &e), KERR_INVAL);
    ck_assert_ptr_nonnull(strstr(e.message, "1bad"));
    d = (struct metrics_desc){
        .name = "ok", .type = METRICS_GAUGE, .labels = L("a-b"), .nlabels = 1};
    ck_assert_int_eq(metrics_register(m, &d, NULL, &e), KERR_INVAL);
    d = (struct metrics_desc){
        .name = "ok", .type = METRICS_GAUGE, .labels = L("__x"), .nlabels = 1};
    ck_assert_int_eq(metrics_register(m, &d, NULL, &e), KERR_INVAL);
    d = (struct metrics_desc){
        .name = "ok", .type = METRICS_GAUGE, .labels = L("a", "a"), .nlabels = 2};
    ck_assert_int_eq(metrics_register(m, &d, NULL, &e), KERR_INVAL);
    ck_assert_ptr_nonnull(strstr(e.message, "duplicate"));
    d = (struct metrics_desc){
        .name = "h", .type = METRICS_HISTOGRAM, .labels = L("le"), .nlabels = 1};
    ck_assert_int_eq(metrics_register(m, &d, NULL, &e), KERR_INVAL);
    const double bad[] = {1, 1};
    d = (struct metrics_desc){
        .name = "h", .type = METRICS_HISTOGRAM, .buckets = bad, .nbuckets = 2};
    ck_assert_int_eq(metrics_register(m, &d, NULL, &e), KERR_INVAL);
    d = (struct metrics_desc){.name = "ns:ok_total", .type = METRICS_COUNTER};
    ck_assert_int_eq(metrics_register(m, &d, NULL, &e), KERR_OK);
    ck_assert_int_eq(metrics_register(m, &d, NULL, &e), KERR_EXISTS);
    ck_assert_ptr_nonnull(metrics_find(m, "ns:ok_total"));
    ck_assert_ptr_null(metrics_find(m, "ok"));
    metrics_free(m);
}
END_TEST

START_TEST(metrics_wrong_kind_of_update_is_ignored)
{
    struct metrics *m = metrics_new();
    struct metrics_family *c = must_register(m, "c_total", METRICS_COUNTER, NULL, 0);
    metrics_counter_add(c, NULL, 2);
    metrics_counter_add(c, NULL, -1);
    metrics_counter_add(c, NULL, NAN);
    metrics_gauge_set(c, NULL, 100);
    metrics_histogram_observe(c, NULL, 100);
    double v = 0;
    ck_assert(metrics_value(c, NULL, &v));
    ck_assert(v == 2);
    metrics_free(m);
}
END_TEST

START_TEST(metrics_delete_removes_series_and_empty_family_is_not_rendered)
{
    struct metrics *m = metrics_new();
    struct metrics_family *f = must_register(m, "g", METRICS_GAUGE, L("ns", "name"), 2);
    metrics_gauge_set(f, L("a", "x"), 1);
    metrics_gauge_set(f, L("a", "y"), 1);
    metrics_gauge_set(f, L("b", "x"), 1);
    ck_assert(metrics_delete(f, L("a", "x")));
    ck_assert(!metrics_delete(f, L("a", "x")));
    ck_assert_uint_eq(metrics_children(f), 2);
    double v;
    ck_assert(!metrics_value(f, L("a", "x"), &v));
    ck_assert(metrics_value(f, L("a", "y"), &v));
    char *out = metrics_render(m, NULL);
    ck_assert_ptr_null(strstr(out, "ns=\"a\",name=\"x\""));
    free(out);
    metrics_delete(f, L("a", "y"));
    metrics_delete(f, L("b", "x"));
    out = metrics_render(m, NULL);
    ck_assert_str_eq(out, "");
    free(out);
    metrics_free(m);
}
END_TEST

static bool first_is_a(void *ctx, const char *const *values)
{
    (void)ctx;
    return strcmp(values[0], "a") == 0;
}

START_TEST(metrics_delete_if_removes_matching_series_only)
{
    struct metrics *m = metrics_new();
    struct metrics_family *f = must_register(m, "g", METRICS_GAUGE, L("ns", "name"), 2);
    char name[32];
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof name, "n%d", i);
        metrics_gauge_set(f, L(i % 2 ? "a" : "b", name), i);
    }
    ck_assert_uint_eq(metrics_delete_if(f, first_is_a, NULL), 25);
    ck_assert_uint_eq(metrics_children(f), 25);
    double v;
    ck_assert(metrics_value(f, L("b", "n10"), &v));
    ck_assert(v == 10);
    ck_assert(!metrics_value(f, L("a", "n11"), &v));
    metrics_free(m);
}
END_TEST

START_TEST(metrics_label_tuples_do_not_collide_when_concatenated)
{
    struct metrics *m = metrics_new();
    struct metrics_family *f = must_register(m, "g", METRICS_GAUGE, L("x", "y"), 2);
    metrics_gauge_set(f, L("a", "bc"), 1);
    metrics_gauge_set(f, L("ab", "c"), 2);
    ck_assert_uint_eq(metrics_children(f), 2);
    metrics_free(m);
}
END_TEST

START_TEST(metrics_many_children_stay_findable)
{
    struct metrics *m = metrics_new();
    struct metrics_family *f = must_register(m, "g", METRICS_GAUGE, L("k"), 1);
    char k[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof k, "key-%d", i);
        metrics_gauge_set(f, L(k), i);
    }
    for (int i = 0; i < 20000; i += 997) {
        double v = -1;
        snprintf(k, sizeof k, "key-%d", i);
        ck_assert(metrics_value(f, L(k), &v));
        ck_assert(v == i);
    }
    ck_assert_uint_eq(metrics_children(f), 20000);
    metrics_free(m);
}
END_TEST

static struct metrics_family *shared_counter;

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++)
        metrics_counter_add(shared_counter, L(i % 2 ? "odd" : "even"), 1);
    return NULL;
}

START_TEST(metrics_concurrent_updates_are_all_counted)
{
    struct metrics *m = metrics_new();
    shared_counter = must_register(m, "c_total", METRICS_COUNTER, L("p"), 1);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, NULL), 0);
    for (int i = 0; i < 20; i++)
        free(metrics_render(m, NULL)); /* render concurrently with updates */
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    double even = 0, odd = 0;
    ck_assert(metrics_value(shared_counter, L("even"), &even));
    ck_assert(metrics_value(shared_counter, L("odd"), &odd));
    ck_assert(even == 40000 && odd == 40000);
    metrics_free(m);
}
END_TEST

static void bump(void *ctx)
{
    metrics_gauge_add(ctx, NULL, 1);
}

START_TEST(metrics_collectors_run_before_each_render)
{
    struct metrics *m = metrics_new();
    struct metrics_family *f = must_register(m, "scrapes", METRICS_GAUGE, NULL, 0);
    metrics_add_collector(m, bump, f);
    free(metrics_render(m, NULL));
    char *out = metrics_render(m, NULL);
    ck_assert_ptr_nonnull(strstr(out, "\nscrapes 2\n"));
    free(out);
    metrics_free(m);
}
END_TEST

/* ---- opmetrics ---- */

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

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, metrics_counter_renders_help_type_and_samples);
    tcase_add_test(tc, metrics_func_family_renders_what_its_function_emits);
    tcase_add_test(tc, metrics_stream_pieces_make_the_whole_render);
    tcase_add_test(tc, metrics_label_values_and_help_are_escaped);
    tcase_add_test(tc, metrics_histogram_buckets_are_cumulative_with_inf_sum_count);
    tcase_add_test(tc, metrics_histogram_without_labels_and_default_buckets);
    tcase_add_test(tc, metrics_numbers_use_shortest_round_trip_text);
    tcase_add_test(tc, metrics_register_rejects_bad_descriptions);
    tcase_add_test(tc, metrics_wrong_kind_of_update_is_ignored);
    tcase_add_test(tc, metrics_delete_removes_series_and_empty_family_is_not_rendered);
    tcase_add_test(tc, metrics_delete_if_removes_matching_series_only);
    tcase_add_test(tc, metrics_label_tuples_do_not_collide_when_concatenated);
    tcase_add_test(tc, metrics_many_children_stay_findable);
    tcase_add_test(tc, metrics_concurrent_updates_are_all_counted);
    tcase_add_test(tc, metrics_collectors_run_before_each_render);
    suite_add_tcase(s, tc);
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
    suite_add_tcase(s, op);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
