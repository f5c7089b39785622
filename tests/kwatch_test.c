/*
 * kwatch_test: the watch engine against a fake endpoint (watchsrv):
 * resourceVersion tracking through events and bookmarks, 410 as an ERROR
 * event and as HTTP 410, a stream cut inside an event, HTTP and decode
 * errors, list retries, resync, request parameters, stop.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kinformer.h"
#include "watchsrv.h"

static const struct kres CM = {"", "v1", "configmaps"};

static const char *ERROR_410 =
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
    "\"status\":\"Failure\",\"message\":\"too old resource version: 12 (30)\","
    "\"reason\":\"Expired\",\"code\":410}}\n";

struct fx {
    struct watchsrv *ws;
    struct kconfig cfg;
    struct kclient *c;
    struct kwatcher *w;
    struct kinformer *inf;
    pthread_mutex_t mu;
    int updates; /* on_update calls */
};

static void on_update(void *ctx, const struct kobj *old, const struct kobj *o)
{
    struct fx *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->updates++;
    pthread_mutex_unlock(&f->mu);
}

static void fx_setup(struct fx *f, const char *selector)
{
    struct kerr_info err = {0};
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->ws = watchsrv_start();
    f->cfg.server = (char *)watchsrv_url(f->ws);
    ck_assert_int_eq(kclient_new(&f->cfg, NULL, &f->c, &err), KERR_OK);
    ck_assert_int_eq(kwatcher_new(f->c, &f->w), KERR_OK);
    kwatcher_set_backoff(f->w, 10, 100);
    f->inf = kinformer_new(f->c, f->w, &CM, "ns", selector);
    struct kinformer_handlers h = {NULL, on_update, NULL, f};
    kinformer_add_handlers(f->inf, &h);
    watchsrv_set_list(f->ws, "12", watchsrv_item("ns", "a", "10", "1"));
    watchsrv_set_idle_rv(f->ws, "12");
}

static void fx_teardown(struct fx *f)
{
    kwatcher_stop(f->w);
    kinformer_free(f->inf);
    kwatcher_free(f->w);
    kclient_free(f->c);
    watchsrv_stop(f->ws);
    pthread_mutex_destroy(&f->mu);
}

struct wait_n {
    struct fx *f;
    int n;
};

static bool pred_watches(void *ctx)
{
    struct wait_n *w = ctx;
    return watchsrv_watches(w->f->ws) >= w->n;
}

static bool pred_lists(void *ctx)
{
    struct wait_n *w = ctx;
    return watchsrv_lists(w->f->ws) >= w->n;
}

static void wait_watches(struct fx *f, int n)
{
    struct wait_n w = {f, n};
    ck_assert_msg(watchsrv_wait(pred_watches, &w, 5000), "only %d watches, wanted %d",
                  watchsrv_watches(f->ws), n);
}

static void wait_lists(struct fx *f, int n)
{
    struct wait_n w = {f, n};
    ck_assert_msg(watchsrv_wait(pred_lists, &w, 5000), "only %d lists, wanted %d",
                  watchsrv_lists(f->ws), n);
}

static const char *watch_rv(struct fx *f, int i)
{
    static char buf[64];
    const char *rv = watchsrv_watch_rv(f->ws, i, buf, sizeof buf);
    return rv ? rv : "(none)";
}

static const char *cached_rv(struct fx *f, const char *name)
{
    static char buf[64];
    struct kobj *o = kinformer_get(f->inf, "ns", name);
    snprintf(buf, sizeof buf, "%s", o ? kobj_resource_version(o) : "(absent)");
    kobj_unref(o);
    return buf;
}

START_TEST(kwatch_bookmark_moves_the_resource_version)
{
    struct fx f;
    fx_setup(&f, NULL);
    watchsrv_push_watch(f.ws, 200, watchsrv_event("BOOKMARK", NULL, NULL, "50", NULL), 0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 2);
    ck_assert_str_eq(watch_rv(&f, 0), "12");
    ck_assert_str_eq(watch_rv(&f, 1), "50");
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_ge(st.bookmarks, 1);
    ck_assert_uint_eq(st.lists, 1);
    ck_assert_uint_eq(st.relists, 0);
    fx_teardown(&f);
}
END_TEST

START_TEST(kwatch_normal_end_rewatches_from_the_last_event)
{
    struct fx f;
    fx_setup(&f, NULL);
    watchsrv_push_watch(f.ws, 200, watchsrv_event("ADDED", "ns", "c", "13", "1"), 0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 2);
    ck_assert_str_eq(watch_rv(&f, 1), "13");
    ck_assert_str_eq(cached_rv(&f, "c"), "13");
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_uint_ge(st.reconnects, 1);
    ck_assert_uint_eq(st.events, 1);
    fx_teardown(&f);
}
END_TEST

START_TEST(kwatch_error_event_410_relists)
{
    struct fx f;
    fx_setup(&f, NULL);
    watchsrv_push_watch(f.ws, 200, ERROR_410, 0, 300); /* answered after set_list */
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 1);
    watchsrv_set_list(f.ws, "40", watchsrv_item("ns", "a", "10", "1"));
    wait_watches(&f, 2);
    ck_assert_int_eq(watchsrv_lists(f.ws), 2);
    ck_assert_str_eq(watch_rv(&f, 1), "40");
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_eq(st.gone, 1);
    ck_assert_uint_eq(st.relists, 1);
    pthread_mutex_lock(&f.mu);
    ck_assert_int_eq(f.updates, 0); /* a relist of an unchanged object is silent */
    pthread_mutex_unlock(&f.mu);
    fx_teardown(&f);
}
END_TEST

START_TEST(kwatch_http_410_relists)
{
    struct fx f;
    fx_setup(&f, NULL);
    watchsrv_push_watch(f.ws, 410, NULL, 0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_lists(&f, 2);
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_eq(st.gone, 1);
    fx_teardown(&f);
}
END_TEST

START_TEST(kwatch_repeated_410_backs_off_between_relists)
{
    struct fx f;
    fx_setup(&f, NULL);
    for (int i = 0; i < 60; i++)
        watchsrv_push_watch(f.ws, 200, ERROR_410, 0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    usleep(600000);
    int lists = watchsrv_lists(f.ws);
    /* Without backoff this would be a tight list/watch loop (hundreds). */
    ck_assert_int_ge(lists, 3);
    ck_assert_int_le(lists, 25);
    fx_teardown(&f);
}
END_TEST

START_TEST(kwatch_stream_cut_inside_an_event_resumes_from_the_last_complete_one)
{
    struct fx f;
    char body[4096];
    fx_setup(&f, NULL);
    const char *e1 = watchsrv_event("ADDED", "ns", "c", "13", "1");
    size_t n1 = strlen(e1);
    snprintf(body, sizeof body, "%s%s", e1, watchsrv_event("MODIFIED", "ns", "a", "14", "2"));
    watchsrv_push_watch(f.ws, 200, body, (long)n1 + 60, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 2);
    ck_assert_str_eq(watch_rv(&f, 1), "13");
    ck_assert_str_eq(cached_rv(&f, "c"), "13");
    ck_assert_str_eq(cached_rv(&f, "a"), "10"); /* the half event was dropped */
    ck_assert_int_eq(watchsrv_lists(f.ws), 1);  /* no relist needed */
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_ge(st.errors, 1);
    ck_assert_uint_ge(st.reconnects, 1);
    ck_assert_str_ne(st.last_error, "");
    fx_teardown(&f);
}
END_TEST

START_TEST(kwatch_http_error_retries_from_the_same_version)
{
    struct fx f;
    fx_setup(&f, NULL);
    watchsrv_push_watch(f.ws, 500, NULL, 0, 0);
    watchsrv_push_watch(f.ws, 403, NULL, 0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 3);
    ck_assert_str_eq(watch_rv(&f, 1), "12");
    ck_assert_str_eq(watch_rv(&f, 2), "12");
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_ge(st.errors, 2);
    ck_assert_int_eq(watchsrv_lists(f.ws), 1);
    fx_teardown(&f);
}
END_TEST

START_TEST(kwatch_undecodable_event_reconnects)
{
    struct fx f;
    fx_setup(&f, NULL);
    watchsrv_push_watch(f.ws, 200, "{\"type\":\"ADDED\"}\n", 0, 0);
    watchsrv_push_watch(f.ws, 200, "{\"type\":\"ADDED\",\"object\":{]]\n", 0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 3);
    ck_assert_str_eq(watch_rv(&f, 2), "12");
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_ge(st.errors, 2);
    fx_teardown(&f);
}
END_TEST

/* An event whose object holds text jansson cannot read (invalid UTF-8) is
 * refused by the splitter: never cached, counted, and the watch resumes
 * from the last good resourceVersion. */
START_TEST(kwatch_unreadable_event_is_refused_and_counted)
{
    struct fx f;
    fx_setup(&f, NULL);
    watchsrv_push_watch(f.ws, 200, watchsrv_event("ADDED", "ns", "c", "13", "\xff"), 0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 2);
    ck_assert_str_eq(cached_rv(&f, "c"), "(absent)");
    ck_assert_str_eq(watch_rv(&f, 1), "12");
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_ge(st.unreadable, 1);
    ck_assert_ptr_nonnull(strstr(st.last_error, "UTF-8"));
    fx_teardown(&f);
}
END_TEST

/* The same in a list: the list fails (the informer keeps what it had, here
 * nothing, and does not report synced) and is retried. */
START_TEST(kwatch_unreadable_list_item_fails_the_list)
{
    struct fx f;
    fx_setup(&f, NULL);
    watchsrv_set_list(f.ws, "12", watchsrv_item("ns", "a", "10", "\xc0\xaf"));
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_lists(&f, 2);
    ck_assert(!kinformer_has_synced(f.inf));
    ck_assert_str_eq(cached_rv(&f, "a"), "(absent)");
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_ge(st.unreadable, 1);
    ck_assert_uint_ge(st.list_errors, 1);
    fx_teardown(&f);
}
END_TEST

START_TEST(kwatch_error_event_other_than_410_backs_off_and_rewatches)
{
    struct fx f;
    fx_setup(&f, NULL);
    watchsrv_push_watch(f.ws, 200,
                        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,"
                        "\"message\":\"etcd hiccup\"}}\n",
                        0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 2);
    ck_assert_str_eq(watch_rv(&f, 1), "12");
    ck_assert_int_eq(watchsrv_lists(f.ws), 1);
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_ptr_nonnull(strstr(st.last_error, "etcd hiccup"));
    fx_teardown(&f);
}
END_TEST

START_TEST(kwatch_pretty_printed_event_is_decoded)
{
    struct fx f;
    fx_setup(&f, NULL);
    watchsrv_push_watch(f.ws, 200,
                        "{\n  \"type\": \"ADDED\",\n  \"object\": {\n    \"metadata\": {\n"
                        "      \"name\": \"p\",\n      \"namespace\": \"ns\",\n"
                        "      \"resourceVersion\": \"77\"\n    }\n  }\n}\n",
                        0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 2);
    ck_assert_str_eq(cached_rv(&f, "p"), "77");
    ck_assert_str_eq(watch_rv(&f, 1), "77");
    fx_teardown(&f);
}
END_TEST

/* Every event of a long stream (arriving in 64-byte pieces) reaches the
 * store, whole but for metadata.managedFields. */
START_TEST(kwatch_every_event_of_a_long_stream_is_applied)
{
    struct fx f;
    static char body[64 * 1024];
    size_t len = 0;
    char name[16], rv[16];
    fx_setup(&f, NULL);
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "e%d", i);
        snprintf(rv, sizeof rv, "%d", 100 + i);
        len += (size_t)snprintf(body + len, sizeof body - len, "%s",
                                watchsrv_event(i % 2 ? "MODIFIED" : "ADDED", "ns", name, rv, name));
    }
    watchsrv_push_watch(f.ws, 200, body, 0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 2);
    ck_assert_str_eq(watch_rv(&f, 1), "139");
    ck_assert_uint_eq(kinformer_count(f.inf), 41);
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "e%d", i);
        struct kobj *o = kinformer_get(f.inf, "ns", name);
        ck_assert_msg(o != NULL, "%s missing", name);
        char *text_o = kobj_text_copy(o);
        ck_assert_ptr_null(strstr(text_o, "managedFields"));
        free(text_o);
        ck_assert_str_eq(kobj_label(o, "app"), name);
        ck_assert_str_eq(kobj_kind(o), "ConfigMap");
        json_t *j = kobj_json(o);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "data"), "x")), name);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "metadata"), "uid")),
                         kobj_uid(o));
        json_decref(j);
        kobj_unref(o);
    }
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_eq(st.events, 40);
    ck_assert_uint_eq(st.errors, 0);
    fx_teardown(&f);
}
END_TEST

/* An ERROR event ends the stream where it stands: what came before is
 * applied, what follows is not. */
START_TEST(kwatch_error_event_ends_the_stream_at_once)
{
    struct fx f;
    char body[8192];
    fx_setup(&f, NULL);
    snprintf(body, sizeof body, "%s%s%s", watchsrv_event("ADDED", "ns", "c", "13", "1"), ERROR_410,
             watchsrv_event("ADDED", "ns", "d", "14", "1"));
    watchsrv_push_watch(f.ws, 200, body, 0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 2);
    wait_lists(&f, 2);
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_eq(st.events, 1);
    ck_assert_uint_eq(st.gone, 1);
    ck_assert_str_eq(cached_rv(&f, "d"), "(absent)");
    fx_teardown(&f);
}
END_TEST

/* BOOKMARKs move the resourceVersion only when they carry one; unknown
 * event types are skipped; members may come in any order. */
START_TEST(kwatch_bookmarks_unknown_types_and_member_order)
{
    struct fx f;
    char body[8192];
    fx_setup(&f, NULL);
    snprintf(body, sizeof body, "%s%s%s%s", watchsrv_event("BOOKMARK", NULL, NULL, "50", NULL),
             "{\"object\":{\"metadata\":{}},\"type\":\"BOOKMARK\"}\n"
             "{\"type\":\"SOMETHING\",\"object\":{\"metadata\":{\"name\":\"z\","
             "\"namespace\":\"ns\",\"resourceVersion\":\"90\"}}}\n",
             "{\"object\":{\"metadata\":{\"name\":\"o\",\"namespace\":\"ns\","
             "\"resourceVersion\":\"51\",\"managedFields\":[{\"manager\":\"m\"}]}},"
             "\"type\":\"ADDED\"}\n",
             "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"\"}}}\n");
    watchsrv_push_watch(f.ws, 200, body, 0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 2);
    ck_assert_str_eq(watch_rv(&f, 1), "51");
    ck_assert_str_eq(cached_rv(&f, "o"), "51");
    ck_assert_str_eq(cached_rv(&f, "z"), "(absent)");
    struct kobj *o = kinformer_get(f.inf, "ns", "o");
    char *text_o = kobj_text_copy(o);
    ck_assert_ptr_null(strstr(text_o, "managedFields"));
    free(text_o);
    kobj_unref(o);
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_eq(st.events, 1);
    ck_assert_uint_ge(st.bookmarks, 3);
    ck_assert_uint_eq(st.errors, 0);
    fx_teardown(&f);
}
END_TEST

/* Events whose type or object is not what it should be, or whose object's
 * metadata is not valid JSON, end the watch (retried from the same
 * version); an object without a name is not stored but moves the version. */
START_TEST(kwatch_bad_events_reconnect_and_nameless_objects_move_the_version)
{
    struct fx f;
    fx_setup(&f, NULL);
    watchsrv_push_watch(f.ws, 200, "{\"type\":7,\"object\":{}}\n", 0, 0);
    watchsrv_push_watch(f.ws, 200, "{\"type\":\"ADDED\",\"object\":null}\n", 0, 0);
    watchsrv_push_watch(f.ws, 200,
                        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":tru,"
                        "\"resourceVersion\":\"70\"}}}\n",
                        0, 0);
    watchsrv_push_watch(f.ws, 200, "{\"type\":\"ERROR\",\"object\":{\"code\":tru}}\n", 0, 0);
    watchsrv_push_watch(f.ws, 200,
                        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":"
                        "\"80\"}}}\n",
                        0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 6);
    for (int i = 1; i <= 4; i++)
        ck_assert_str_eq(watch_rv(&f, i), "12");
    ck_assert_str_eq(watch_rv(&f, 5), "80");
    ck_assert_uint_eq(kinformer_count(f.inf), 1);
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_ge(st.errors, 4);
    ck_assert_uint_eq(st.events, 1);
    ck_assert_int_eq(watchsrv_lists(f.ws), 1);
    fx_teardown(&f);
}
END_TEST

START_TEST(kwatch_list_errors_are_retried_until_synced)
{
    struct fx f;
    fx_setup(&f, NULL);
    watchsrv_fail_lists(f.ws, 403, 2);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 1);
    ck_assert(kinformer_has_synced(f.inf));
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_eq(st.list_errors, 2);
    ck_assert_uint_eq(st.lists, 1);
    ck_assert_int_eq(watchsrv_lists(f.ws), 3);
    fx_teardown(&f);
}
END_TEST

START_TEST(kwatch_resync_relists_every_informer_quietly)
{
    struct fx f;
    fx_setup(&f, NULL);
    struct kinformer *inf2 = kinformer_new(f.c, f.w, &CM, "other", NULL);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 2);
    ck_assert_int_eq(watchsrv_lists(f.ws), 2);
    kwatcher_resync(f.w);
    wait_lists(&f, 4);
    wait_watches(&f, 4);
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_eq(st.relists, 2);
    pthread_mutex_lock(&f.mu);
    ck_assert_int_eq(f.updates, 0);
    pthread_mutex_unlock(&f.mu);
    kwatcher_stop(f.w);
    kinformer_free(inf2);
    fx_teardown(&f);
}
END_TEST

/* The initial lists of several informers run at the same time: each
 * informer's on_add (called from its list) waits until every informer's
 * list has reached its on_add. One after another, the first would wait in
 * vain (and say so). */
#define MEET_N 3
struct meet {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived;
    int met; /* on_add calls that saw all MEET_N lists in progress */
};

static void meet_on_add(void *ctx, const struct kobj *o)
{
    struct meet *m = ctx;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 3;
    pthread_mutex_lock(&m->mu);
    m->arrived++;
    pthread_cond_broadcast(&m->cv);
    while (m->arrived < MEET_N)
        if (pthread_cond_timedwait(&m->cv, &m->mu, &until) != 0)
            break;
    if (m->arrived >= MEET_N)
        m->met++;
    pthread_mutex_unlock(&m->mu);
}

START_TEST(kwatch_initial_lists_of_several_informers_run_concurrently)
{
    struct fx f;
    struct meet m = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    fx_setup(&f, NULL);
    struct kinformer_handlers h = {meet_on_add, NULL, NULL, &m};
    struct kinformer *more[MEET_N - 1];
    kinformer_add_handlers(f.inf, &h);
    for (int i = 0; i < MEET_N - 1; i++) {
        more[i] = kinformer_new(f.c, f.w, &CM, i ? "n2" : "n1", NULL);
        kinformer_add_handlers(more[i], &h);
    }
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, MEET_N);
    ck_assert(kinformer_has_synced(f.inf));
    for (int i = 0; i < MEET_N - 1; i++)
        ck_assert(kinformer_has_synced(more[i]));
    pthread_mutex_lock(&m.mu);
    ck_assert_int_eq(m.arrived, MEET_N);
    ck_assert_int_eq(m.met, MEET_N);
    pthread_mutex_unlock(&m.mu);
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_eq(st.lists, MEET_N);
    ck_assert_uint_eq(st.relists, 0);
    kwatcher_stop(f.w);
    for (int i = 0; i < MEET_N - 1; i++)
        kinformer_free(more[i]);
    fx_teardown(&f);
}
END_TEST

/* More initial lists than list threads: every list runs, never more than
 * KWATCHER_LIST_THREADS at once, and more than one at a time. Each list's
 * one item holds its thread in on_add for a moment. */
#define CROWD_N (KWATCHER_LIST_THREADS + 3)
struct crowd {
    pthread_mutex_t mu;
    int in, most, calls;
};

static void crowd_on_add(void *ctx, const struct kobj *o)
{
    struct crowd *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->calls++;
    if (++c->in > c->most)
        c->most = c->in;
    pthread_mutex_unlock(&c->mu);
    usleep(100 * 1000);
    pthread_mutex_lock(&c->mu);
    c->in--;
    pthread_mutex_unlock(&c->mu);
}

START_TEST(kwatch_more_lists_than_threads_share_them)
{
    struct fx f;
    struct crowd c = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    fx_setup(&f, NULL);
    struct kinformer_handlers h = {crowd_on_add, NULL, NULL, &c};
    struct kinformer *more[CROWD_N - 1];
    kinformer_add_handlers(f.inf, &h);
    for (int i = 0; i < CROWD_N - 1; i++) {
        char ns[16];
        snprintf(ns, sizeof ns, "n%d", i);
        more[i] = kinformer_new(f.c, f.w, &CM, ns, NULL);
        kinformer_add_handlers(more[i], &h);
    }
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, CROWD_N);
    for (int i = 0; i < CROWD_N - 1; i++)
        ck_assert(kinformer_has_synced(more[i]));
    pthread_mutex_lock(&c.mu);
    ck_assert_int_eq(c.calls, CROWD_N);
    ck_assert_int_le(c.most, KWATCHER_LIST_THREADS);
    ck_assert_int_ge(c.most, 2);
    pthread_mutex_unlock(&c.mu);
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_eq(st.lists, CROWD_N);
    kwatcher_stop(f.w);
    for (int i = 0; i < CROWD_N - 1; i++)
        kinformer_free(more[i]);
    fx_teardown(&f);
}
END_TEST

START_TEST(kwatch_request_asks_for_bookmarks_selector_and_timeout)
{
    struct fx f;
    char path[2048];
    fx_setup(&f, "app=web");
    kwatcher_set_watch_timeout(f.w, 7);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_watches(&f, 1);
    ck_assert_ptr_nonnull(watchsrv_watch_path(f.ws, 0, path, sizeof path));
    ck_assert_ptr_nonnull(strstr(path, "/api/v1/namespaces/ns/configmaps?"));
    ck_assert_ptr_nonnull(strstr(path, "watch=1"));
    ck_assert_ptr_nonnull(strstr(path, "allowWatchBookmarks=true"));
    ck_assert_ptr_nonnull(strstr(path, "timeoutSeconds=7"));
    ck_assert_ptr_nonnull(strstr(path, "labelSelector=app%3Dweb"));
    fx_teardown(&f);
}
END_TEST

START_TEST(kwatch_stop_is_idempotent_and_start_twice_fails)
{
    struct fx f;
    fx_setup(&f, NULL);
    kwatcher_stop(f.w); /* never started */
    fx_teardown(&f);
    fx_setup(&f, NULL);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_INVAL);
    wait_watches(&f, 1);
    kwatcher_stop(f.w);
    kwatcher_stop(f.w);
    fx_teardown(&f);
    kwatcher_free(NULL);
}
END_TEST

static Suite *kwatch_suite(void)
{
    Suite *s = suite_create("kwatch");
    TCase *tc = tcase_create("watch");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, kwatch_bookmark_moves_the_resource_version);
    tcase_add_test(tc, kwatch_normal_end_rewatches_from_the_last_event);
    tcase_add_test(tc, kwatch_error_event_410_relists);
    tcase_add_test(tc, kwatch_http_410_relists);
    tcase_add_test(tc, kwatch_repeated_410_backs_off_between_relists);
    tcase_add_test(tc, kwatch_stream_cut_inside_an_event_resumes_from_the_last_complete_one);
    tcase_add_test(tc, kwatch_http_error_retries_from_the_same_version);
    tcase_add_test(tc, kwatch_undecodable_event_reconnects);
    tcase_add_test(tc, kwatch_unreadable_event_is_refused_and_counted);
    tcase_add_test(tc, kwatch_unreadable_list_item_fails_the_list);
    tcase_add_test(tc, kwatch_error_event_other_than_410_backs_off_and_rewatches);
    tcase_add_test(tc, kwatch_pretty_printed_event_is_decoded);
    tcase_add_test(tc, kwatch_every_event_of_a_long_stream_is_applied);
    tcase_add_test(tc, kwatch_error_event_ends_the_stream_at_once);
    tcase_add_test(tc, kwatch_bookmarks_unknown_types_and_member_order);
    tcase_add_test(tc, kwatch_bad_events_reconnect_and_nameless_objects_move_the_version);
    tcase_add_test(tc, kwatch_list_errors_are_retried_until_synced);
    tcase_add_test(tc, kwatch_resync_relists_every_informer_quietly);
    tcase_add_test(tc, kwatch_initial_lists_of_several_informers_run_concurrently);
    tcase_add_test(tc, kwatch_more_lists_than_threads_share_them);
    tcase_add_test(tc, kwatch_request_asks_for_bookmarks_selector_and_timeout);
    tcase_add_test(tc, kwatch_stop_is_idempotent_and_start_twice_fails);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kwatch_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
