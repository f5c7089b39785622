/*
 * watchmetrics_test: grace_watch_unreadable_total on the metrics text,
 * from a real watcher fed an unreadable watch event by the fake endpoint
 * (watchsrv): 0 before, counted after, and registered once only.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kinformer.h"
#include "metrics.h"
#include "watchmetrics.h"
#include "watchsrv.h"

static const struct kres CM = {"", "v1", "configmaps"};

struct fx {
    struct watchsrv *ws;
    struct kconfig cfg;
    struct kclient *c;
    struct kwatcher *w;
    struct kinformer *inf;
    struct metrics *m;
};

static void fx_setup(struct fx *f)
{
    struct kerr_info err = {0};
    memset(f, 0, sizeof *f);
    f->ws = watchsrv_start();
    f->cfg.server = (char *)watchsrv_url(f->ws);
    ck_assert_int_eq(kclient_new(&f->cfg, NULL, &f->c, &err), KERR_OK);
    ck_assert_int_eq(kwatcher_new(f->c, &f->w), KERR_OK);
    kwatcher_set_backoff(f->w, 10, 100);
    f->inf = kinformer_new(f->c, f->w, &CM, "ns", NULL);
    watchsrv_set_list(f->ws, "12", watchsrv_item("ns", "a", "10", "1"));
    watchsrv_set_idle_rv(f->ws, "12");
    f->m = metrics_new();
    ck_assert_int_eq(watchmetrics_register(f->m, f->w, &err), KERR_OK);
}

static void fx_teardown(struct fx *f)
{
    kwatcher_stop(f->w);
    metrics_free(f->m);
    kinformer_free(f->inf);
    kwatcher_free(f->w);
    kclient_free(f->c);
    watchsrv_stop(f->ws);
}

/* The sample line of the family, e.g. "grace_watch_unreadable_total 1". */
static char *sample(struct metrics *m)
{
    size_t len = 0;
    char *text = metrics_render(m, &len);
    const char *p = strstr(text, "\ngrace_watch_unreadable_total ");
    ck_assert_msg(p, "no sample in:\n%s", text);
    p++;
    char *out = strndup(p, strcspn(p, "\n"));
    free(text);
    return out;
}

static bool unreadable_seen(struct kwatcher *w)
{
    struct kwatcher_stats st;
    kwatcher_stats(w, &st);
    return st.unreadable > 0;
}

START_TEST(watchmetrics_unreadable_is_zero_then_counted)
{
    struct fx f;
    fx_setup(&f);
    char *s = sample(f.m);
    ck_assert_str_eq(s, "grace_watch_unreadable_total 0");
    free(s);
    size_t len = 0;
    char *text = metrics_render(f.m, &len);
    ck_assert_ptr_nonnull(strstr(text, "# TYPE grace_watch_unreadable_total counter\n"));
    free(text);
    /* an event holding invalid UTF-8: refused by the splitter, counted */
    watchsrv_push_watch(f.ws, 200, watchsrv_event("ADDED", "ns", "c", "13", "\xff"), 0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    for (int i = 0; i < 500 && !unreadable_seen(f.w); i++)
        usleep(10 * 1000);
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_ge(st.unreadable, 1);
    char want[64];
    snprintf(want, sizeof want, "grace_watch_unreadable_total %llu",
             (unsigned long long)st.unreadable);
    s = sample(f.m);
    ck_assert_str_eq(s, want);
    free(s);
    fx_teardown(&f);
}
END_TEST

START_TEST(watchmetrics_second_registration_is_refused)
{
    struct fx f;
    fx_setup(&f);
    struct kerr_info err = {0};
    ck_assert_int_eq(watchmetrics_register(f.m, f.w, &err), KERR_EXISTS);
    fx_teardown(&f);
}
END_TEST

static Suite *watchmetrics_suite(void)
{
    Suite *s = suite_create("watchmetrics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, watchmetrics_unreadable_is_zero_then_counted);
    tcase_add_test(tc, watchmetrics_second_registration_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(watchmetrics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
