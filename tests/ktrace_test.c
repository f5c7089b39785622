/*
 * ktrace_test: spans and their export. OTLP JSON encoding (IDs, parents,
 * times, attributes, status), batching (a full batch goes at once, a
 * partial one after flush_ms), the bounded queue (a full queue drops and
 * counts), a slow or dead collector (the batch is dropped and counted,
 * ending a span never waits for it), the thread's current span, and NULL
 * handles.
 */
#include "ktrace.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testsrv.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void wait_stats(struct ktrace *t, struct ktrace_stats *st, uint64_t want_done, double max_s)
{
    double end = now_s() + max_s;
    do {
        ktrace_get_stats(t, st);
        if (st->exported + st->dropped_export + st->dropped_full >= want_done)
            return;
        struct timespec d = {0, 10 * 1000000L};
        nanosleep(&d, NULL);
    } while (now_s() < end);
}

static struct ktrace *tracer(struct testsrv *s, size_t queue, size_t batch, long flush_ms,
                             long timeout_ms)
{
    struct ktrace_options o = {.endpoint = s ? testsrv_url(s) : "http://127.0.0.1:9",
                               .service_version = "v1", .queue_max = queue,
                               .batch_max = batch, .flush_ms = flush_ms,
                               .timeout_ms = timeout_ms};
    struct ktrace *t = NULL;
    struct kerr_info err = {0};
    ck_assert_int_eq(ktrace_new(&o, &t, &err), KERR_OK);
    return t;
}

static void ok_handler(void *ctx, const struct testsrv_req *req, struct testsrv_resp *out)
{
    (void)ctx;
    (void)req;
    *out = (struct testsrv_resp){.status = 200, .body = "{}"};
}

static void slow_handler(void *ctx, const struct testsrv_req *req, struct testsrv_resp *out)
{
    (void)ctx;
    (void)req;
    *out = (struct testsrv_resp){.status = 200, .body = "{}", .delay_ms = 1500};
}

static void end_n(struct ktrace *t, int n)
{
    for (int i = 0; i < n; i++)
        ktrace_span_end(ktrace_span_start(t, "s", KTRACE_INTERNAL, NULL));
}

START_TEST(encode_is_otlp_json_with_parent_and_attributes)
{
    struct ktrace *t = tracer(NULL, 8, 8, 10000, 100);
    struct ktrace_span *root = ktrace_span_start(t, "reconcile", KTRACE_INTERNAL, NULL);
    struct ktrace_span *child = ktrace_child(root, "kube APPLY", KTRACE_CLIENT);
    ktrace_set_str(child, "url.path", "/api/v1/x");
    ktrace_set_int(child, "http.response.status_code", 409);
    ktrace_set_error(child, "conflict");
    struct ktrace_span *spans[] = {root, child};
    json_t *doc = ktrace_encode(spans, 2, "grace-operator", "v1");
    const json_t *rs = json_array_get(json_object_get(doc, "resourceSpans"), 0);
    const json_t *ra = json_array_get(json_object_get(json_object_get(rs, "resource"),
                                                      "attributes"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(ra, "key")), "service.name");
    const json_t *ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
    const json_t *arr = json_object_get(ss, "spans");
    ck_assert_uint_eq(json_array_size(arr), 2);
    const json_t *r = json_array_get(arr, 0), *c = json_array_get(arr, 1);
    const char *tid = json_string_value(json_object_get(r, "traceId"));
    ck_assert_uint_eq(strlen(tid), 32);
    ck_assert_str_eq(json_string_value(json_object_get(c, "traceId")), tid);
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(r, "spanId"))), 16);
    ck_assert_ptr_null(json_object_get(r, "parentSpanId"));
    ck_assert_str_eq(json_string_value(json_object_get(c, "parentSpanId")),
                     json_string_value(json_object_get(r, "spanId")));
    ck_assert_int_eq(json_integer_value(json_object_get(c, "kind")), KTRACE_CLIENT);
    ck_assert(json_is_string(json_object_get(r, "startTimeUnixNano")));
    const json_t *a1 = json_array_get(json_object_get(c, "attributes"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a1, "value"), "intValue")),
                     "409");
    const json_t *st = json_object_get(c, "status");
    ck_assert_int_eq(json_integer_value(json_object_get(st, "code")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(st, "message")), "conflict");
    char id[33];
    ktrace_trace_id(root, id);
    ck_assert_str_eq(id, tid);
    json_decref(doc);
    ktrace_span_end(child);
    ktrace_span_end(root);
    ktrace_free(t);
}
END_TEST

START_TEST(new_traces_get_distinct_ids)
{
    struct ktrace *t = tracer(NULL, 8, 8, 10000, 100);
    struct ktrace_span *a = ktrace_span_start(t, "a", KTRACE_INTERNAL, NULL);
    struct ktrace_span *b = ktrace_span_start(t, "b", KTRACE_INTERNAL, NULL);
    char ia[33], ib[33];
    ktrace_trace_id(a, ia);
    ktrace_trace_id(b, ib);
    ck_assert_str_ne(ia, ib);
    ktrace_span_end(a);
    ktrace_span_end(b);
    ktrace_free(t);
}
END_TEST

START_TEST(full_batch_goes_at_once_to_v1_traces)
{
    struct testsrv *s = testsrv_start();
    testsrv_set_handler(s, ok_handler, NULL);
    struct ktrace *t = tracer(s, 64, 4, 60000, 2000); /* no flush by time in this test */
    end_n(t, 8);
    struct ktrace_stats st;
    wait_stats(t, &st, 8, 5);
    ck_assert_uint_eq(st.exported, 8);
    ck_assert_uint_eq(st.batches, 2);
    const struct testsrv_req *r = testsrv_request(s, 0);
    ck_assert_str_eq(r->method, "POST");
    ck_assert_str_eq(r->path, "/v1/traces");
    json_t *doc = json_loads(r->body, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    const json_t *spans = json_object_get(
        json_array_get(json_object_get(json_array_get(json_object_get(doc, "resourceSpans"), 0),
                                       "scopeSpans"),
                       0),
        "spans");
    ck_assert_uint_eq(json_array_size(spans), 4);
    json_decref(doc);
    ktrace_free(t);
    testsrv_stop(s);
}
END_TEST

START_TEST(partial_batch_goes_after_flush_interval)
{
    struct testsrv *s = testsrv_start();
    testsrv_set_handler(s, ok_handler, NULL);
    struct ktrace *t = tracer(s, 64, 32, 100, 2000);
    end_n(t, 3);
    struct ktrace_stats st;
    wait_stats(t, &st, 3, 5);
    ck_assert_uint_eq(st.exported, 3);
    ck_assert_uint_eq(st.batches, 1);
    ktrace_free(t);
    testsrv_stop(s);
}
END_TEST

/* A slow collector: ending spans never waits; the queue fills and drops
 * (counted), the batch that timed out is dropped (counted). */
START_TEST(slow_collector_drops_and_counts_without_waiting)
{
    struct testsrv *s = testsrv_start();
    testsrv_set_handler(s, slow_handler, NULL);
    struct ktrace *t = tracer(s, 8, 4, 50, 200);
    double t0 = now_s();
    end_n(t, 4); /* one batch, in flight for 200 ms */
    struct timespec d = {0, 50 * 1000000L};
    nanosleep(&d, NULL);
    end_n(t, 20); /* the queue holds 8 */
    ck_assert_double_lt(now_s() - t0, 0.15); /* never blocked on the export */
    struct ktrace_stats st;
    wait_stats(t, &st, 24, 5);
    ck_assert_uint_eq(st.ended, 24);
    ck_assert_uint_ge(st.dropped_full, 12);
    ck_assert_uint_ge(st.dropped_export, 4);
    ck_assert_uint_eq(st.exported + st.dropped_export + st.dropped_full, 24);
    ktrace_free(t);
    testsrv_stop(s);
}
END_TEST

START_TEST(dead_collector_drops_each_batch)
{
    struct ktrace *t = tracer(NULL, 16, 4, 20, 200); /* port 9: refused */
    end_n(t, 8);
    struct ktrace_stats st;
    wait_stats(t, &st, 8, 5);
    ck_assert_uint_eq(st.dropped_export, 8);
    ck_assert_uint_eq(st.exported, 0);
    ktrace_free(t);
}
END_TEST

START_TEST(non_2xx_answer_is_a_failed_export)
{
    struct testsrv *s = testsrv_start();
    testsrv_push(s, &(struct testsrv_resp){.status = 503, .body = "{}"});
    struct ktrace *t = tracer(s, 16, 2, 20, 1000);
    end_n(t, 2);
    struct ktrace_stats st;
    wait_stats(t, &st, 2, 5);
    ck_assert_uint_eq(st.dropped_export, 2);
    ktrace_free(t);
    testsrv_stop(s);
}
END_TEST

START_TEST(free_exports_what_is_queued)
{
    struct testsrv *s = testsrv_start();
    testsrv_set_handler(s, ok_handler, NULL);
    struct ktrace *t = tracer(s, 64, 32, 60000, 2000);
    end_n(t, 5);
    ktrace_free(t);
    ck_assert_uint_ge(testsrv_nrequests(s), 1);
    testsrv_stop(s);
}
END_TEST

START_TEST(current_span_and_null_handles)
{
    ck_assert_ptr_null(ktrace_span_start(NULL, "x", KTRACE_INTERNAL, NULL));
    ck_assert_ptr_null(ktrace_child(NULL, "x", KTRACE_INTERNAL));
    ck_assert_ptr_null(ktrace_child_current("x", KTRACE_INTERNAL));
    ktrace_set_str(NULL, "k", "v");
    ktrace_set_int(NULL, "k", 1);
    ktrace_set_error(NULL, "e");
    ktrace_span_end(NULL);
    ktrace_free(NULL);
    char id[33] = "x";
    ktrace_trace_id(NULL, id);
    ck_assert_str_eq(id, "");
    struct ktrace *t = tracer(NULL, 8, 8, 10000, 100);
    struct ktrace_span *root = ktrace_span_start(t, "r", KTRACE_INTERNAL, NULL);
    ktrace_current_set(root);
    ck_assert_ptr_eq(ktrace_current(), root);
    struct ktrace_span *c = ktrace_child_current("c", KTRACE_CLIENT);
    ck_assert_ptr_nonnull(c);
    ktrace_span_end(c);
    ck_assert_ptr_eq(ktrace_current(), root);
    ktrace_span_end(root); /* ending the current span clears it */
    ck_assert_ptr_null(ktrace_current());
    ktrace_free(t);
}
END_TEST

START_TEST(bad_endpoint_is_refused)
{
    struct ktrace *t = NULL;
    struct kerr_info err = {0};
    struct ktrace_options o = {.endpoint = "grpc://collector:4317"};
    ck_assert_int_eq(ktrace_new(&o, &t, &err), KERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "grpc://"));
    ck_assert_ptr_null(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ktrace");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, encode_is_otlp_json_with_parent_and_attributes);
    tcase_add_test(t, new_traces_get_distinct_ids);
    tcase_add_test(t, full_batch_goes_at_once_to_v1_traces);
    tcase_add_test(t, partial_batch_goes_after_flush_interval);
    tcase_add_test(t, slow_collector_drops_and_counts_without_waiting);
    tcase_add_test(t, dead_collector_drops_each_batch);
    tcase_add_test(t, non_2xx_answer_is_a_failed_export);
    tcase_add_test(t, free_exports_what_is_queued);
    tcase_add_test(t, current_span_and_null_handles);
    tcase_add_test(t, bad_endpoint_is_refused);
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
