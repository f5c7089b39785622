/*
 * wq_test: the work queue's de-duplication, one-worker-per-key rule,
 * backoff arithmetic, delayed adds, draining shutdown, stats and observer.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wq.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Take one key, check it, mark it done. */
static void get_expect(struct wq *q, const char *want)
{
    char *k = NULL;
    ck_assert(wq_get(q, &k));
    ck_assert_str_eq(k, want);
    wq_done(q, k);
    free(k);
}

START_TEST(wq_add_twice_queues_once)
{
    struct wq *q = wq_new();
    wq_add(q, "ns/a");
    wq_add(q, "ns/a");
    ck_assert_uint_eq(wq_len(q), 1);
    get_expect(q, "ns/a");
    ck_assert_uint_eq(wq_len(q), 0);
    wq_free(q);
}
END_TEST

START_TEST(wq_get_returns_keys_in_fifo_order)
{
    struct wq *q = wq_new();
    wq_add(q, "ns/a");
    wq_add(q, "ns/b");
    wq_add(q, "ns/c");
    wq_add(q, "ns/a");
    get_expect(q, "ns/a");
    get_expect(q, "ns/b");
    get_expect(q, "ns/c");
    ck_assert_uint_eq(wq_len(q), 0);
    wq_free(q);
}
END_TEST

START_TEST(wq_add_while_processing_requeues_after_done)
{
    struct wq *q = wq_new();
    char *k = NULL;
    wq_add(q, "ns/a");
    ck_assert(wq_get(q, &k));
    wq_add(q, "ns/a");
    wq_add(q, "ns/a");
    /* Not handed out again while it is being processed. */
    ck_assert_uint_eq(wq_len(q), 0);
    wq_done(q, k);
    free(k);
    ck_assert_uint_eq(wq_len(q), 1);
    get_expect(q, "ns/a");
    ck_assert_uint_eq(wq_len(q), 0);
    wq_free(q);
}
END_TEST

START_TEST(wq_done_of_unknown_key_is_ignored)
{
    struct wq *q = wq_new();
    wq_done(q, "ns/never");
    wq_add(q, "ns/a");
    wq_done(q, "ns/a"); /* queued but not processing: no effect */
    ck_assert_uint_eq(wq_len(q), 1);
    get_expect(q, "ns/a");
    wq_free(q);
}
END_TEST

/* ---- concurrency: never two workers on one key ---- */

#define NKEYS 5
struct conc {
    struct wq *q;
    atomic_int inflight[NKEYS];
    atomic_int violations;
    atomic_int processed;
};

static void *conc_worker(void *arg)
{
    struct conc *c = arg;
    char *k = NULL;
    while (wq_get(c->q, &k)) {
        int i = k[1] - '0';
        if (atomic_fetch_add(&c->inflight[i], 1) != 0)
            atomic_fetch_add(&c->violations, 1);
        usleep(200);
        atomic_fetch_sub(&c->inflight[i], 1);
        atomic_fetch_add(&c->processed, 1);
        wq_done(c->q, k);
        free(k);
    }
    return NULL;
}

static void *conc_adder(void *arg)
{
    struct conc *c = arg;
    char key[3] = "k0";
    for (int n = 0; n < 2000; n++) {
        key[1] = (char)('0' + n % NKEYS);
        wq_add(c->q, key);
        if (n % 50 == 0)
            usleep(100);
    }
    return NULL;
}

START_TEST(wq_key_is_never_processed_by_two_workers)
{
    struct conc c = {.q = wq_new()};
    pthread_t w[4], a[2];
    for (int i = 0; i < 4; i++)
        pthread_create(&w[i], NULL, conc_worker, &c);
    for (int i = 0; i < 2; i++)
        pthread_create(&a[i], NULL, conc_adder, &c);
    for (int i = 0; i < 2; i++)
        pthread_join(a[i], NULL);
    wq_shutdown(c.q);
    for (int i = 0; i < 4; i++)
        pthread_join(w[i], NULL);
    ck_assert_int_eq(atomic_load(&c.violations), 0);
    ck_assert_int_gt(atomic_load(&c.processed), NKEYS - 1);
    ck_assert_uint_eq(wq_len(c.q), 0);
    wq_free(c.q);
}
END_TEST

/* ---- backoff ---- */

START_TEST(wq_backoff_doubles_from_5ms_to_1000s_cap)
{
    ck_assert_int_eq(wq_backoff_ms(0), 5);
    ck_assert_int_eq(wq_backoff_ms(1), 10);
    ck_assert_int_eq(wq_backoff_ms(2), 20);
    ck_assert_int_eq(wq_backoff_ms(10), 5120);
    ck_assert_int_eq(wq_backoff_ms(17), 655360);
    ck_assert_int_eq(wq_backoff_ms(18), 1000000);
    ck_assert_int_eq(wq_backoff_ms(1000), 1000000);
    ck_assert_int_eq(wq_backoff_ms(-3), 5);
}
END_TEST

START_TEST(wq_rate_limited_counts_requeues_and_forget_resets)
{
    struct wq *q = wq_new();
    ck_assert_int_eq(wq_num_requeues(q, "ns/a"), 0);
    wq_add_rate_limited(q, "ns/a");
    wq_add_rate_limited(q, "ns/a");
    wq_add_rate_limited(q, "ns/a");
    ck_assert_int_eq(wq_num_requeues(q, "ns/a"), 3);
    ck_assert_int_eq(wq_num_requeues(q, "ns/b"), 0);
    wq_forget(q, "ns/a");
    ck_assert_int_eq(wq_num_requeues(q, "ns/a"), 0);
    /* The pending delayed add is still delivered after forget. */
    get_expect(q, "ns/a");
    struct wq_stats st;
    wq_stats(q, &st);
    ck_assert_uint_eq(st.retries, 3);
    wq_free(q);
}
END_TEST

START_TEST(wq_rate_limited_waits_for_the_backoff)
{
    struct wq *q = wq_new();
    for (int i = 0; i < 4; i++) /* requeues 0..3: next delay 80 ms */
        wq_add_rate_limited(q, "ns/a");
    get_expect(q, "ns/a"); /* the first (5 ms) delay wins */
    double t0 = now_s();
    wq_add_rate_limited(q, "ns/a"); /* requeues = 4: 80 ms */
    ck_assert_uint_eq(wq_len(q), 0);
    get_expect(q, "ns/a");
    double waited = now_s() - t0;
    ck_assert_msg(waited >= 0.075 && waited < 1.0, "waited %.3f s", waited);
    wq_free(q);
}
END_TEST

/* ---- delayed adds ---- */

START_TEST(wq_add_after_hands_out_in_ready_order)
{
    struct wq *q = wq_new();
    double t0 = now_s();
    wq_add_after(q, "ns/c", 90);
    wq_add_after(q, "ns/a", 30);
    wq_add_after(q, "ns/b", 60);
    ck_assert_uint_eq(wq_len(q), 0);
    get_expect(q, "ns/a");
    ck_assert(now_s() - t0 >= 0.029);
    get_expect(q, "ns/b");
    get_expect(q, "ns/c");
    ck_assert(now_s() - t0 >= 0.089);
    wq_free(q);
}
END_TEST

START_TEST(wq_add_after_keeps_the_earlier_time)
{
    struct wq *q = wq_new();
    double t0 = now_s();
    wq_add_after(q, "ns/a", 5000);
    wq_add_after(q, "ns/a", 20);
    wq_add_after(q, "ns/a", 8000);
    get_expect(q, "ns/a");
    ck_assert(now_s() - t0 < 2.0);
    struct wq_stats st;
    wq_stats(q, &st);
    ck_assert_uint_eq(st.delayed, 0);
    wq_free(q);
}
END_TEST

START_TEST(wq_add_after_zero_is_immediate)
{
    struct wq *q = wq_new();
    wq_add_after(q, "ns/a", 0);
    ck_assert_uint_eq(wq_len(q), 1);
    wq_free(q);
}
END_TEST

/* ---- shutdown ---- */

START_TEST(wq_shutdown_drains_queued_keys_then_returns_false)
{
    struct wq *q = wq_new();
    char *k = NULL;
    wq_add(q, "ns/a");
    wq_add(q, "ns/b");
    wq_add_after(q, "ns/later", 60000);
    wq_shutdown(q);
    ck_assert(wq_shutting_down(q));
    wq_add(q, "ns/c"); /* intake stopped */
    get_expect(q, "ns/a");
    get_expect(q, "ns/b");
    ck_assert(!wq_get(q, &k));
    ck_assert_ptr_null(k);
    wq_free(q);
}
END_TEST

static void *blocked_getter(void *arg)
{
    char *k = NULL;
    bool got = wq_get(arg, &k);
    free(k);
    return got ? (void *)1 : NULL;
}

START_TEST(wq_shutdown_wakes_blocked_getters)
{
    struct wq *q = wq_new();
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, blocked_getter, q);
    usleep(50000);
    wq_shutdown(q);
    for (int i = 0; i < 3; i++) {
        void *r = (void *)1;
        pthread_join(t[i], &r);
        ck_assert_ptr_null(r);
    }
    wq_free(q);
}
END_TEST

START_TEST(wq_shutdown_requeues_key_dirtied_while_processing)
{
    struct wq *q = wq_new();
    char *k = NULL;
    wq_add(q, "ns/a");
    ck_assert(wq_get(q, &k));
    wq_add(q, "ns/a"); /* dirty while processing */
    wq_shutdown(q);
    pthread_t t;
    pthread_create(&t, NULL, blocked_getter, q);
    usleep(30000);
    wq_done(q, k); /* now it is queued once more and the getter takes it */
    free(k);
    void *r = NULL;
    pthread_join(t, &r);
    ck_assert_ptr_nonnull(r);
    ck_assert(!wq_get(q, &k));
    wq_free(q);
}
END_TEST

/* ---- stats and observer ---- */

START_TEST(wq_stats_count_adds_depth_and_running_work)
{
    struct wq *q = wq_new();
    char *k = NULL;
    wq_add(q, "ns/a");
    wq_add(q, "ns/a");
    wq_add(q, "ns/b");
    struct wq_stats st;
    wq_stats(q, &st);
    ck_assert_uint_eq(st.adds, 2);
    ck_assert_uint_eq(st.depth, 2);
    ck_assert(wq_get(q, &k));
    usleep(20000);
    wq_stats(q, &st);
    ck_assert_uint_eq(st.depth, 1);
    ck_assert_uint_eq(st.processing, 1);
    ck_assert(st.longest_running_seconds >= 0.019);
    ck_assert(st.unfinished_work_seconds >= st.longest_running_seconds);
    wq_done(q, k);
    free(k);
    wq_stats(q, &st);
    ck_assert_uint_eq(st.processing, 0);
    ck_assert(st.unfinished_work_seconds == 0);
    wq_free(q);
}
END_TEST

/* Running time is summed over the keys being processed only, however
 * many keys the queue holds (it walks those keys, not every key). */
START_TEST(wq_stats_sums_only_the_running_keys)
{
    struct wq *q = wq_new();
    char *a = NULL, *b = NULL, name[32];
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "ns/k%d", i);
        wq_add(q, name);
    }
    ck_assert(wq_get(q, &a));
    ck_assert(wq_get(q, &b));
    usleep(20000);
    struct wq_stats st;
    wq_stats(q, &st);
    ck_assert_uint_eq(st.processing, 2);
    ck_assert(st.unfinished_work_seconds >= 2 * 0.019);
    wq_done(q, a);
    wq_stats(q, &st);
    ck_assert_uint_eq(st.processing, 1);
    ck_assert(st.unfinished_work_seconds >= 0.019 && st.unfinished_work_seconds < 2 * 0.019 + 1.0);
    ck_assert(st.unfinished_work_seconds == st.longest_running_seconds);
    wq_done(q, b);
    wq_stats(q, &st);
    ck_assert_uint_eq(st.processing, 0);
    ck_assert(st.unfinished_work_seconds == 0);
    free(a);
    free(b);
    wq_free(q);
}
END_TEST

struct obs {
    int latency_calls, work_calls;
    double work;
};

static void observer(void *ctx, enum wq_obs what, double s)
{
    struct obs *o = ctx;
    if (what == WQ_OBS_QUEUE_LATENCY) {
        o->latency_calls++;
    } else {
        o->work_calls++;
        o->work = s;
    }
}

START_TEST(wq_observer_reports_latency_and_work_duration)
{
    struct wq *q = wq_new();
    struct obs o = {0};
    char *k = NULL;
    wq_set_observer(q, observer, &o);
    wq_add(q, "ns/a");
    ck_assert(wq_get(q, &k));
    usleep(10000);
    wq_done(q, k);
    free(k);
    ck_assert_int_eq(o.latency_calls, 1);
    ck_assert_int_eq(o.work_calls, 1);
    ck_assert(o.work >= 0.009);
    wq_free(q);
}
END_TEST

START_TEST(wq_free_accepts_null_and_pending_keys)
{
    wq_free(NULL);
    struct wq *q = wq_new();
    char *k = NULL;
    wq_add(q, "ns/a");
    wq_add(q, "ns/b");
    wq_add_after(q, "ns/c", 100000);
    wq_add_rate_limited(q, "ns/d");
    ck_assert(wq_get(q, &k));
    free(k);
    wq_free(q); /* processing, queued and delayed keys are all freed */
}
END_TEST

static Suite *wq_suite(void)
{
    Suite *s = suite_create("wq");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, wq_add_twice_queues_once);
    tcase_add_test(tc, wq_get_returns_keys_in_fifo_order);
    tcase_add_test(tc, wq_add_while_processing_requeues_after_done);
    tcase_add_test(tc, wq_done_of_unknown_key_is_ignored);
    tcase_add_test(tc, wq_key_is_never_processed_by_two_workers);
    tcase_add_test(tc, wq_backoff_doubles_from_5ms_to_1000s_cap);
    tcase_add_test(tc, wq_rate_limited_counts_requeues_and_forget_resets);
    tcase_add_test(tc, wq_rate_limited_waits_for_the_backoff);
    tcase_add_test(tc, wq_add_after_hands_out_in_ready_order);
    tcase_add_test(tc, wq_add_after_keeps_the_earlier_time);
    tcase_add_test(tc, wq_add_after_zero_is_immediate);
    tcase_add_test(tc, wq_shutdown_drains_queued_keys_then_returns_false);
    tcase_add_test(tc, wq_shutdown_wakes_blocked_getters);
    tcase_add_test(tc, wq_shutdown_requeues_key_dirtied_while_processing);
    tcase_add_test(tc, wq_stats_count_adds_depth_and_running_work);
    tcase_add_test(tc, wq_stats_sums_only_the_running_keys);
    tcase_add_test(tc, wq_observer_reports_latency_and_work_duration);
    tcase_add_test(tc, wq_free_accepts_null_and_pending_keys);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wq_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
