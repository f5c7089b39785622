/*
 * metrics_test: the Prometheus registry (metrics.c). Rendered text is
 * compared exactly for small cases. The operator's families (opmetrics.c)
 * have their own suite, opmetrics_test.
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"

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
