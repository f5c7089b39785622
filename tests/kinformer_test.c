/*
 * kinformer_test: the informer store against a fake list/watch endpoint
 * (watchsrv): initial list then watch events, handlers, indexes,
 * read-your-writes, relist differences, snapshots.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinformer.h"
#include "watchsrv.h"

static const struct kres CM = {"", "v1", "configmaps"};

/* Handler calls, as one text log: "add:a@10 update:a@10->14 delete:b@15 ". */
struct hlog {
    pthread_mutex_t mu;
    char text[16384];
};

struct fx {
    struct watchsrv *ws;
    struct kconfig cfg;
    struct kclient *c;
    struct kwatcher *w;
    struct kinformer *inf;
    struct hlog log;
};

static void hlog_add(struct hlog *l, const char *fmt, const char *a, const char *b, const char *c)
{
    pthread_mutex_lock(&l->mu);
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, fmt, a, b, c);
    pthread_mutex_unlock(&l->mu);
}

static void on_add(void *ctx, const struct kobj *o)
{
    hlog_add(ctx, "add:%s@%s%s ", kobj_name(o), kobj_resource_version(o), "");
}

static void on_update(void *ctx, const struct kobj *old, const struct kobj *o)
{
    char who[300];
    snprintf(who, sizeof who, "%s@%s", kobj_name(o), kobj_resource_version(old));
    hlog_add(ctx, "update:%s->%s%s ", who, kobj_resource_version(o), old == o ? "=" : "");
}

static void on_delete(void *ctx, const struct kobj *o)
{
    hlog_add(ctx, "delete:%s@%s%s ", kobj_name(o), kobj_resource_version(o), "");
}

static bool hlog_has(struct hlog *l, const char *what)
{
    pthread_mutex_lock(&l->mu);
    bool r = strstr(l->text, what) != NULL;
    pthread_mutex_unlock(&l->mu);
    return r;
}

static void fx_setup(struct fx *f, const char *selector)
{
    struct kerr_info err = {0};
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->log.mu, NULL);
    f->ws = watchsrv_start();
    f->cfg.server = (char *)watchsrv_url(f->ws);
    ck_assert_int_eq(kclient_new(&f->cfg, NULL, &f->c, &err), KERR_OK);
    ck_assert_int_eq(kwatcher_new(f->c, &f->w), KERR_OK);
    kwatcher_set_backoff(f->w, 10, 100);
    f->inf = kinformer_new(f->c, f->w, &CM, "ns", selector);
    struct kinformer_handlers h = {on_add, on_update, on_delete, &f->log};
    kinformer_add_handlers(f->inf, &h);
}

static void fx_teardown(struct fx *f)
{
    kwatcher_stop(f->w);
    kinformer_free(f->inf);
    kwatcher_free(f->w);
    kclient_free(f->c);
    watchsrv_stop(f->ws);
    pthread_mutex_destroy(&f->log.mu);
}

struct wait_log {
    struct fx *f;
    const char *what;
};

static bool pred_log(void *ctx)
{
    struct wait_log *w = ctx;
    return hlog_has(&w->f->log, w->what);
}

static void wait_log(struct fx *f, const char *what)
{
    struct wait_log w = {f, what};
    ck_assert_msg(watchsrv_wait(pred_log, &w, 5000), "no '%s' in handler log: %s", what,
                  f->log.text);
}

static bool pred_synced(void *ctx)
{
    return kinformer_has_synced(ctx);
}

static char *join2(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    ck_assert_ptr_nonnull(s);
    snprintf(s, n, "%s%s%s", a, *a && *b ? "," : "", b);
    return s;
}

/* "a@10" -> rv of cached ns/a, or "" when absent. */
static void expect_rv(struct fx *f, const char *name, const char *rv)
{
    struct kobj *o = kinformer_get(f->inf, "ns", name);
    if (!rv) {
        ck_assert_msg(o == NULL, "%s should be gone", name);
        return;
    }
    ck_assert_msg(o != NULL, "%s missing", name);
    ck_assert_str_eq(kobj_resource_version(o), rv);
    kobj_unref(o);
}

START_TEST(informer_lists_then_applies_watch_events)
{
    struct fx f;
    char body[8192], rv[32];
    fx_setup(&f, NULL);
    kinformer_set_kind(f.inf, "ConfigMap");
    char *items = join2(watchsrv_item("ns", "a", "10", "1"), watchsrv_item("ns", "b", "11", "1"));
    watchsrv_set_list(f.ws, "12", items);
    free(items);
    snprintf(body, sizeof body, "%s%s%s", watchsrv_event("ADDED", "ns", "c", "13", "1"),
             watchsrv_event("MODIFIED", "ns", "a", "14", "2"),
             watchsrv_event("DELETED", "ns", "b", "15", "1"));
    watchsrv_push_watch(f.ws, 200, body, 0, 0);
    watchsrv_set_idle_rv(f.ws, "15");
    ck_assert(!kinformer_has_synced(f.inf));
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_log(&f, "delete:b@15");
    ck_assert(kinformer_has_synced(f.inf));
    ck_assert_str_eq(watchsrv_watch_rv(f.ws, 0, rv, sizeof rv), "12");
    expect_rv(&f, "a", "14");
    expect_rv(&f, "b", NULL);
    expect_rv(&f, "c", "13");
    ck_assert_uint_eq(kinformer_count(f.inf), 2);
    ck_assert(hlog_has(&f.log, "add:a@10 "));
    ck_assert(hlog_has(&f.log, "add:b@11 "));
    ck_assert(hlog_has(&f.log, "add:c@13 "));
    ck_assert(hlog_has(&f.log, "update:a@10->14 "));
    struct kobj *a = kinformer_get(f.inf, "ns", "a");
    char *text_a = kobj_text_copy(a);
    ck_assert_ptr_null(strstr(text_a, "managedFields"));
    free(text_a);
    ck_assert_str_eq(kobj_kind(a), "ConfigMap");
    ck_assert_str_eq(kobj_label(a, "app"), "a");
    kobj_unref(a);
    fx_teardown(&f);
}
END_TEST

/* Stored objects are packed (kobj_pack), those of the first list as they
 * arrive, and read back the same; an echo of what is cached is not. */
START_TEST(informer_packs_what_it_stores)
{
    struct fx f;
    fx_setup(&f, NULL);
    kinformer_set_kind(f.inf, "ConfigMap");
    char *items = join2(watchsrv_item("ns", "a", "10", "1"), watchsrv_item("ns", "b", "11", "1"));
    watchsrv_set_list(f.ws, "12", items);
    free(items);
    watchsrv_set_idle_rv(f.ws, "12");
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_log(&f, "add:b@11");
    ck_assert(watchsrv_wait(pred_synced, f.inf, 5000));
    struct kobj *b = kinformer_get(f.inf, "ns", "b");
    ck_assert(kobj_packed(b));
    ck_assert_str_eq(kobj_resource_version(b), "11");
    ck_assert_str_eq(kobj_label(b, "app"), "b");
    json_t *got = kobj_json(b);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "metadata"), "name")),
                     "b");
    json_decref(got);
    kobj_unref(b);
    json_t *c = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1",
                          "kind", "ConfigMap", "metadata", "name", "c", "namespace", "ns",
                          "resourceVersion", "20", "labels", "app", "c", "data", "k", "v");
    kinformer_apply_write(f.inf, c);
    struct kobj *pc = kinformer_get(f.inf, "ns", "c");
    ck_assert(kobj_packed(pc));
    got = kobj_json(pc);
    ck_assert(json_equal(got, c));
    json_decref(got);
    json_decref(c);
    kobj_unref(pc);
    fx_teardown(&f);
}
END_TEST

START_TEST(informer_list_items_without_kind_get_api_version)
{
    struct fx f;
    fx_setup(&f, NULL);
    watchsrv_set_list(f.ws, "12", watchsrv_item("ns", "a", "10", "1"));
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    ck_assert(watchsrv_wait(pred_synced, f.inf, 5000));
    struct kobj *a = kinformer_get(f.inf, "ns", "a");
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(kobj_api_version(a), "v1");
    ck_assert_str_eq(kobj_kind(a), "");
    kobj_unref(a);
    fx_teardown(&f);
}
END_TEST

static size_t index_x(const json_t *obj, char keys[][256], size_t max)
{
    const char *x = json_string_value(json_object_get(json_object_get(obj, "data"), "x"));
    if (!x || max < 2)
        return 0;
    snprintf(keys[0], 256, "%s", x);
    snprintf(keys[1], 256, "%s", x); /* a duplicate key is indexed once */
    return 2;
}

static size_t by_x(struct fx *f, const char *x)
{
    struct kobj **objs = NULL;
    size_t n = kinformer_by_index(f->inf, "x", x, &objs);
    for (size_t i = 0; i < n; i++)
        kobj_unref(objs[i]);
    if (n == 0)
        ck_assert_ptr_null(objs);
    free(objs);
    return n;
}

START_TEST(informer_index_follows_updates_and_deletes)
{
    struct fx f;
    char body[8192];
    fx_setup(&f, NULL);
    kinformer_add_index(f.inf, "x", index_x);
    char *items = join2(watchsrv_item("ns", "a", "10", "1"), watchsrv_item("ns", "b", "11", "1"));
    watchsrv_set_list(f.ws, "12", items);
    free(items);
    snprintf(body, sizeof body, "%s", watchsrv_event("MODIFIED", "ns", "a", "14", "2"));
    watchsrv_push_watch(f.ws, 200, body, 0, 300);
    watchsrv_push_watch(f.ws, 200, watchsrv_event("DELETED", "ns", "b", "15", "1"), 0, 300);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    ck_assert(watchsrv_wait(pred_synced, f.inf, 5000));
    ck_assert_uint_eq(by_x(&f, "1"), 2);
    ck_assert_uint_eq(by_x(&f, "2"), 0);
    wait_log(&f, "update:a@10->14");
    ck_assert_uint_eq(by_x(&f, "1"), 1);
    ck_assert_uint_eq(by_x(&f, "2"), 1);
    wait_log(&f, "delete:b@15");
    ck_assert_uint_eq(by_x(&f, "1"), 0);
    struct kobj **objs = NULL;
    ck_assert_uint_eq(kinformer_by_index(f.inf, "nosuch", "2", &objs), 0);
    ck_assert_ptr_null(objs);
    fx_teardown(&f);
}
END_TEST

START_TEST(informer_index_added_late_covers_cached_objects)
{
    struct fx f;
    fx_setup(&f, NULL);
    watchsrv_set_list(f.ws, "12", watchsrv_item("ns", "a", "10", "7"));
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    ck_assert(watchsrv_wait(pred_synced, f.inf, 5000));
    kwatcher_stop(f.w);
    kinformer_add_index(f.inf, "x", index_x);
    ck_assert_uint_eq(by_x(&f, "7"), 1);
    fx_teardown(&f);
}
END_TEST

/* A metadata index (labels) with a data index next to it: list items are
 * parsed once for both; with the metadata index alone only metadata is
 * parsed, and the stored text is the whole object all the same. */
static size_t index_app(const struct kobj *o, char keys[][256], size_t max)
{
    const char *app = kobj_label(o, "app");
    if (!app || max < 1)
        return 0;
    snprintf(keys[0], 256, "%s", app);
    return 1;
}

static size_t count_index(struct fx *f, const char *index, const char *key)
{
    struct kobj **objs = NULL;
    size_t n = kinformer_by_index(f->inf, index, key, &objs);
    for (size_t i = 0; i < n; i++)
        kobj_unref(objs[i]);
    free(objs);
    return n;
}

static size_t index_three(const json_t *obj, char keys[][256], size_t max)
{
    if (max < 3)
        return 0;
    for (int i = 0; i < 3; i++)
        snprintf(keys[i], 256, "m%d", i);
    return 3;
}

/* Buckets past their inline entry and entries in several buckets: six
 * objects under one key of "x" and three keys of "three"; an update moves
 * one out of "x"'s bucket, a delete takes one out of all four. */
START_TEST(informer_index_holds_many_entries_per_key_and_keys_per_entry)
{
    struct fx f;
    fx_setup(&f, NULL);
    kinformer_add_index(f.inf, "x", index_x);
    kinformer_add_index(f.inf, "three", index_three);
    char *items = join2("", "");
    for (int i = 0; i < 6; i++) {
        char name[16], rv[16];
        snprintf(name, sizeof name, "o%d", i);
        snprintf(rv, sizeof rv, "%d", 10 + i);
        char *next = join2(items, watchsrv_item("ns", name, rv, "1"));
        free(items);
        items = next;
    }
    watchsrv_set_list(f.ws, "20", items);
    free(items);
    watchsrv_push_watch(f.ws, 200, watchsrv_event("MODIFIED", "ns", "o2", "21", "2"), 0, 300);
    watchsrv_push_watch(f.ws, 200, watchsrv_event("DELETED", "ns", "o4", "22", "1"), 0, 300);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    ck_assert(watchsrv_wait(pred_synced, f.inf, 5000));
    wait_log(&f, "delete:o4@22");
    ck_assert_uint_eq(by_x(&f, "1"), 4);
    ck_assert_uint_eq(by_x(&f, "2"), 1);
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof key, "m%d", i);
        ck_assert_uint_eq(count_index(&f, "three", key), 5);
    }
    fx_teardown(&f);
}
END_TEST

/* A spec index keeps its keys while the generation stays (a status or
 * metadata write), without calling its function; the other indexes follow
 * every write. Objects here change data.x without a new generation on
 * purpose, to show which index looked. */
static atomic_int spec_calls;

static size_t index_spec_x(const json_t *obj, char keys[][256], size_t max)
{
    atomic_fetch_add(&spec_calls, 1);
    return index_x(obj, keys, max);
}

static void apply_gen(struct fx *f, const char *uid, const char *rv, int generation,
                      const char *app, const char *x)
{
    json_t *o = json_pack("{s:{s:s, s:s, s:s, s:s, s:i, s:{s:s}}, s:{s:s}}", "metadata", "namespace",
                          "ns", "name", "a", "uid", uid, "resourceVersion", rv, "generation",
                          generation, "labels", "app", app, "data", "x", x);
    ck_assert_ptr_nonnull(o);
    kinformer_apply_write(f->inf, o);
    json_decref(o);
}

START_TEST(informer_spec_index_keeps_its_keys_while_the_generation_stays)
{
    struct fx f;
    fx_setup(&f, NULL);
    atomic_store(&spec_calls, 0);
    kinformer_add_spec_index(f.inf, "spec", index_spec_x);
    kinformer_add_index(f.inf, "x", index_x);
    kinformer_add_meta_index(f.inf, "app", index_app);
    watchsrv_set_list(f.ws, "12", "");
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    ck_assert(watchsrv_wait(pred_synced, f.inf, 5000));
    apply_gen(&f, "u1", "20", 1, "p", "1");
    ck_assert_int_eq(atomic_load(&spec_calls), 1);
    ck_assert_uint_eq(count_index(&f, "spec", "1"), 1);
    /* same uid and generation: the spec keys stay, the others move */
    apply_gen(&f, "u1", "21", 1, "q", "2");
    ck_assert_int_eq(atomic_load(&spec_calls), 1);
    ck_assert_uint_eq(count_index(&f, "spec", "1"), 1);
    ck_assert_uint_eq(count_index(&f, "spec", "2"), 0);
    ck_assert_uint_eq(count_index(&f, "x", "1"), 0);
    ck_assert_uint_eq(count_index(&f, "x", "2"), 1);
    ck_assert_uint_eq(count_index(&f, "app", "p"), 0);
    ck_assert_uint_eq(count_index(&f, "app", "q"), 1);
    /* a new generation */
    apply_gen(&f, "u1", "22", 2, "q", "3");
    ck_assert_int_eq(atomic_load(&spec_calls), 2);
    ck_assert_uint_eq(count_index(&f, "spec", "1"), 0);
    ck_assert_uint_eq(count_index(&f, "spec", "3"), 1);
    /* another object under the same name (recreated): its generation
     * says nothing about the old one's */
    apply_gen(&f, "u2", "23", 2, "q", "4");
    ck_assert_int_eq(atomic_load(&spec_calls), 3);
    ck_assert_uint_eq(count_index(&f, "spec", "3"), 0);
    ck_assert_uint_eq(count_index(&f, "spec", "4"), 1);
    /* no generation: always looked at */
    apply_gen(&f, "u2", "24", 0, "q", "5");
    apply_gen(&f, "u2", "25", 0, "q", "6");
    ck_assert_int_eq(atomic_load(&spec_calls), 5);
    ck_assert_uint_eq(count_index(&f, "spec", "6"), 1);
    ck_assert_uint_eq(count_index(&f, "spec", "4") + count_index(&f, "spec", "5"), 0);
    ck_assert_uint_eq(count_index(&f, "x", "6"), 1);
    fx_teardown(&f);
}
END_TEST

/* An object named svc-<i> at resourceVersion rv; with a status when
 * `ready` (what a controller fills in later). */
static void apply_svc(struct fx *f, int i, int rv, bool ready)
{
    char name[32], rvs[32], uid[64], msg[128];
    snprintf(name, sizeof name, "svc-%d", i);
    snprintf(rvs, sizeof rvs, "%d", rv);
    snprintf(uid, sizeof uid, "6f1c%04d-1a2b-4c3d-8e9f-%012d", i, i * 7919);
    snprintf(msg, sizeof msg, "certificate svc-%d-tls is up to date and has not expired", i);
    json_t *o = json_pack("{s:{s:s, s:s, s:s, s:s, s:{s:s}}, s:{s:s, s:i}}", "metadata",
                          "namespace", "ns", "name", name, "uid", uid, "resourceVersion", rvs,
                          "labels", "app", name, "spec", "secretName", name, "replicas", 1);
    if (ready) {
        json_t *conds = json_array();
        static const char *const types[] = {"Ready", "Issuing", "Available", "Progressing"};
        for (size_t t = 0; t < 4; t++)
            json_array_append_new(
                conds, json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "type", types[t], "status",
                                 t == 1 ? "False" : "True", "reason", "Ready", "message", msg,
                                 "lastTransitionTime", "2026-12-07T05:31:12Z",
                                 "observedGeneration", 1));
        json_object_set_new(o, "status",
                            json_pack("{s:o, s:s, s:s, s:i}", "conditions", conds, "notAfter",
                                      "2027-03-07T05:31:12Z", "notBefore", "2026-12-07T05:31:12Z",
                                      "revision", 1));
    }
    kinformer_apply_write(f->inf, o);
    json_decref(o);
}

static void sum_packed(void *ctx, const struct kobj *o)
{
    *(size_t *)ctx += kobj_packed(o) ? kobj_packed_len(o) : kobj_text_len(o);
}

static size_t packed_total(struct fx *f)
{
    size_t total = 0;
    kinformer_foreach(f->inf, sum_packed, &total);
    return total;
}

START_TEST(informer_repack_chooses_a_dictionary_that_fits_the_cache)
{
    struct fx f;
    fx_setup(&f, NULL);
    kinformer_set_kind(f.inf, "Certificate");
    kinformer_add_meta_index(f.inf, "app", index_app);
    watchsrv_set_list(f.ws, "12", "");
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    ck_assert(watchsrv_wait(pred_synced, f.inf, 5000));
    ck_assert(!kinformer_repack(f.inf)); /* empty */
    /* the first object, written before anything filled its status, is
     * the dictionary; the others come back with one */
    apply_svc(&f, 0, 100, false);
    for (int i = 1; i <= 200; i++)
        apply_svc(&f, i, 100 + i, true);
    struct kobj *o = kinformer_get(f.inf, "ns", "svc-50");
    json_t *before_json = kobj_json(o);
    kobj_unref(o);
    size_t before = packed_total(&f);
    ck_assert(kinformer_repack(f.inf));
    size_t after = packed_total(&f);
    ck_assert_msg(after * 10 <= before * 9, "packed %zu bytes, then %zu", before, after);
    o = kinformer_get(f.inf, "ns", "svc-50");
    ck_assert(kobj_packed(o));
    json_t *after_json = kobj_json(o);
    ck_assert(json_equal(before_json, after_json));
    ck_assert_str_eq(kobj_label(o, "app"), "svc-50");
    kobj_unref(o);
    json_decref(before_json);
    json_decref(after_json);
    ck_assert_uint_eq(kinformer_count(f.inf), 201);
    ck_assert_uint_eq(count_index(&f, "app", "svc-50"), 1);
    ck_assert(!kinformer_repack(f.inf)); /* nothing packed since */
    /* new objects are packed with the new dictionary, and read back */
    apply_svc(&f, 201, 400, true);
    o = kinformer_get(f.inf, "ns", "svc-201");
    ck_assert(kobj_packed(o));
    json_t *j = kobj_json(o);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "spec"), "secretName")),
                     "svc-201");
    json_decref(j);
    kobj_unref(o);
    /* more objects like the dictionary: due again, but it does not pay */
    for (int i = 202; i <= 300; i++)
        apply_svc(&f, i, 300 + i, true);
    ck_assert(!kinformer_repack(f.inf));
    ck_assert_uint_eq(kinformer_count(f.inf), 301);
    fx_teardown(&f);
}
END_TEST

START_TEST(informer_meta_index_alone_and_with_a_full_index)
{
    for (int with_full = 0; with_full < 2; with_full++) {
        struct fx f;
        fx_setup(&f, NULL);
        kinformer_add_meta_index(f.inf, "app", index_app);
        if (with_full)
            kinformer_add_index(f.inf, "x", index_x);
        char *items =
            join2(watchsrv_item("ns", "a", "10", "1"), watchsrv_item("ns", "b", "11", "2"));
        watchsrv_set_list(f.ws, "12", items);
        free(items);
        ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
        ck_assert(watchsrv_wait(pred_synced, f.inf, 5000));
        ck_assert_uint_eq(count_index(&f, "app", "a"), 1);
        ck_assert_uint_eq(count_index(&f, "app", "b"), 1);
        ck_assert_uint_eq(count_index(&f, "x", "2"), (size_t)with_full);
        struct kobj *b = kinformer_get(f.inf, "ns", "b");
        json_t *j = kobj_json(b);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "data"), "x")), "2");
        char *text_b = kobj_text_copy(b);
        ck_assert_ptr_null(strstr(text_b, "managedFields"));
        free(text_b);
        ck_assert_str_eq(kobj_uid(b), "uid-b");
        json_decref(j);
        kobj_unref(b);
        /* a full index added afterwards sees the whole of what was listed */
        kwatcher_stop(f.w);
        if (!with_full) {
            kinformer_add_index(f.inf, "x", index_x);
            ck_assert_uint_eq(count_index(&f, "x", "1"), 1);
        }
        fx_teardown(&f);
    }
}
END_TEST

START_TEST(informer_apply_write_is_visible_at_once_and_echo_is_recognised)
{
    struct fx f;
    char body[8192];
    fx_setup(&f, NULL);
    watchsrv_set_list(f.ws, "12", watchsrv_item("ns", "a", "10", "1"));
    /* The watch echoes our writes 400 ms later. */
    snprintf(body, sizeof body, "%s%s", watchsrv_event("MODIFIED", "ns", "a", "20", "w"),
             watchsrv_event("ADDED", "ns", "n", "21", "new"));
    watchsrv_push_watch(f.ws, 200, body, 0, 400);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    ck_assert(watchsrv_wait(pred_synced, f.inf, 5000));
    json_error_t je;
    json_t *wa = json_loads(watchsrv_item("ns", "a", "20", "w"), 0, &je);
    json_t *wn = json_loads(watchsrv_item("ns", "n", "21", "new"), 0, &je);
    json_t *old = json_loads(watchsrv_item("ns", "a", "5", "old"), 0, &je);
    kinformer_apply_write(f.inf, wa);
    kinformer_apply_write(f.inf, wn);
    kinformer_apply_write(f.inf, old); /* older than the cache: ignored */
    kinformer_apply_write(f.inf, NULL);
    expect_rv(&f, "a", "20");
    expect_rv(&f, "n", "21");
    ck_assert(!hlog_has(&f.log, "update:"));
    ck_assert(!hlog_has(&f.log, "add:n"));
    wait_log(&f, "add:n@21 ");
    wait_log(&f, "update:a@20->20= "); /* same object: the echo of our write */
    expect_rv(&f, "a", "20");
    json_decref(wa);
    json_decref(wn);
    json_decref(old);
    fx_teardown(&f);
}
END_TEST

/* A watch event's object is stored as the server sent it but for
 * metadata.managedFields (only its metadata is parsed at ingest), and a
 * data index added before start still sees the whole object. */
START_TEST(informer_watch_objects_are_whole_but_for_managed_fields)
{
    struct fx f;
    char body[8192];
    fx_setup(&f, NULL);
    kinformer_add_meta_index(f.inf, "app", index_app);
    kinformer_add_index(f.inf, "x", index_x);
    watchsrv_set_list(f.ws, "12", watchsrv_item("ns", "a", "10", "1"));
    snprintf(body, sizeof body, "%s%s", watchsrv_event("ADDED", "ns", "c", "13", "cx"),
             watchsrv_event("DELETED", "ns", "a", "14", "1"));
    watchsrv_push_watch(f.ws, 200, body, 0, 0);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_log(&f, "delete:a@14 ");
    json_t *want = json_loads(watchsrv_event("ADDED", "ns", "c", "13", "cx"), 0, NULL);
    json_t *want_obj = json_object_get(want, "object");
    json_object_del(json_object_get(want_obj, "metadata"), "managedFields");
    struct kobj *c = kinformer_get(f.inf, "ns", "c");
    ck_assert_ptr_nonnull(c);
    json_t *got = kobj_json(c);
    char *stored = kobj_text_copy(c);
    ck_assert_msg(json_equal(got, want_obj), "stored: %s", stored);
    free(stored);
    ck_assert_str_eq(kobj_uid(c), "uid-c");
    json_decref(got);
    json_decref(want);
    kobj_unref(c);
    ck_assert_uint_eq(count_index(&f, "x", "cx"), 1);
    ck_assert_uint_eq(count_index(&f, "app", "c"), 1);
    ck_assert_uint_eq(count_index(&f, "app", "a"), 0);
    ck_assert_uint_eq(kinformer_count(f.inf), 1);
    fx_teardown(&f);
}
END_TEST

/* A write answered with the resourceVersion the cache holds changes
 * nothing (the cached object stays, not the write's). */
START_TEST(informer_apply_write_of_the_cached_version_is_ignored)
{
    struct fx f;
    fx_setup(&f, NULL);
    kinformer_add_index(f.inf, "x", index_x);
    watchsrv_set_list(f.ws, "12", watchsrv_item("ns", "a", "10", "1"));
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    ck_assert(watchsrv_wait(pred_synced, f.inf, 5000));
    json_t *same = json_loads(watchsrv_item("ns", "a", "10", "other"), 0, NULL);
    json_t *newer = json_loads(watchsrv_item("ns", "a", "11", "new"), 0, NULL);
    kinformer_apply_write(f.inf, same);
    ck_assert_uint_eq(by_x(&f, "1"), 1);
    ck_assert_uint_eq(by_x(&f, "other"), 0);
    kinformer_apply_write(f.inf, newer);
    ck_assert_uint_eq(by_x(&f, "1"), 0);
    ck_assert_uint_eq(by_x(&f, "new"), 1);
    struct kobj *a = kinformer_get(f.inf, "ns", "a");
    char *text_a = kobj_text_copy(a);
    ck_assert_ptr_null(strstr(text_a, "managedFields"));
    free(text_a);
    ck_assert_str_eq(kobj_resource_version(a), "11");
    kobj_unref(a);
    json_decref(same);
    json_decref(newer);
    fx_teardown(&f);
}
END_TEST

START_TEST(informer_apply_delete_removes_without_handlers)
{
    struct fx f;
    fx_setup(&f, NULL);
    char *items = join2(watchsrv_item("ns", "a", "10", "1"), watchsrv_item("ns", "b", "11", "1"));
    watchsrv_set_list(f.ws, "12", items);
    free(items);
    watchsrv_push_watch(f.ws, 200, watchsrv_event("DELETED", "ns", "b", "15", "1"), 0, 400);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    ck_assert(watchsrv_wait(pred_synced, f.inf, 5000));
    kinformer_apply_delete(f.inf, "ns", "b");
    kinformer_apply_delete(f.inf, "ns", "never");
    expect_rv(&f, "b", NULL);
    ck_assert_uint_eq(kinformer_count(f.inf), 1);
    ck_assert(!hlog_has(&f.log, "delete:"));
    wait_log(&f, "delete:b@15 "); /* the watch still reports it */
    fx_teardown(&f);
}
END_TEST

START_TEST(informer_relist_reports_only_differences)
{
    struct fx f;
    fx_setup(&f, NULL);
    char *ab = join2(watchsrv_item("ns", "a", "10", "1"), watchsrv_item("ns", "b", "11", "1"));
    char *abc = join2(ab, watchsrv_item("ns", "c", "12", "1"));
    watchsrv_set_list(f.ws, "12", abc);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    ck_assert(watchsrv_wait(pred_synced, f.inf, 5000));
    /* Now the server moves on: b changed, c gone, d new; our RV is too old. */
    char *ab2 = join2(watchsrv_item("ns", "a", "10", "1"), watchsrv_item("ns", "b", "25", "2"));
    char *abd = join2(ab2, watchsrv_item("ns", "d", "26", "1"));
    watchsrv_set_list(f.ws, "30", abd);
    watchsrv_push_watch(f.ws, 200,
                        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                        "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource "
                        "version: 12 (28)\",\"reason\":\"Expired\",\"code\":410}}\n",
                        0, 0);
    wait_log(&f, "delete:c@12 ");
    ck_assert(hlog_has(&f.log, "update:b@11->25 "));
    ck_assert(hlog_has(&f.log, "add:d@26 "));
    ck_assert(!hlog_has(&f.log, "update:a"));
    expect_rv(&f, "c", NULL);
    expect_rv(&f, "b", "25");
    ck_assert_uint_eq(kinformer_count(f.inf), 3);
    struct kwatcher_stats st;
    kwatcher_stats(f.w, &st);
    ck_assert_uint_ge(st.relists, 1);
    ck_assert_uint_ge(st.gone, 1);
    free(ab);
    free(abc);
    free(ab2);
    free(abd);
    fx_teardown(&f);
}
END_TEST

static bool pred_three_lists(void *ctx)
{
    return watchsrv_lists(ctx) >= 3;
}

/* As client-go's reflector: the first list from the server's watch cache
 * (resourceVersion=0, one request), a relist after a 410 not older than
 * what was seen (resourceVersion=<last>), and after a failed list a
 * consistent read (no resourceVersion, paginated). */
START_TEST(informer_lists_from_the_watch_cache_and_consistently_after_a_failure)
{
    struct fx f;
    char path[2048];
    fx_setup(&f, NULL);
    watchsrv_set_list(f.ws, "12", watchsrv_item("ns", "a", "12", "1"));
    watchsrv_set_idle_rv(f.ws, "12");
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    ck_assert(watchsrv_wait(pred_synced, f.inf, 5000));
    ck_assert_ptr_nonnull(watchsrv_list_path(f.ws, 0, path, sizeof path));
    ck_assert_msg(strstr(path, "resourceVersion=0") && !strstr(path, "limit="), "%s", path);
    watchsrv_fail_lists(f.ws, 403, 1); /* not retried inside kclient */
    watchsrv_push_watch(f.ws, 410, NULL, 0, 0);
    ck_assert(watchsrv_wait(pred_three_lists, f.ws, 5000));
    ck_assert_ptr_nonnull(watchsrv_list_path(f.ws, 1, path, sizeof path));
    ck_assert_msg(strstr(path, "resourceVersion=12") && !strstr(path, "limit="), "%s", path);
    ck_assert_ptr_nonnull(watchsrv_list_path(f.ws, 2, path, sizeof path));
    ck_assert_msg(!strstr(path, "resourceVersion=") && strstr(path, "limit=500"), "%s", path);
    fx_teardown(&f);
}
END_TEST

static void collect(void *ctx, const struct kobj *o)
{
    char *names = ctx;
    strncat(names, kobj_name(o), 63 - strlen(names));
}

START_TEST(informer_foreach_count_and_get)
{
    struct fx f;
    fx_setup(&f, NULL);
    char names[64] = "";
    kinformer_foreach(f.inf, collect, names); /* empty store */
    ck_assert_str_eq(names, "");
    char *items = join2(watchsrv_item("ns", "a", "10", "1"), watchsrv_item("ns", "b", "11", "1"));
    watchsrv_set_list(f.ws, "12", items);
    free(items);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    ck_assert(watchsrv_wait(pred_synced, f.inf, 5000));
    kinformer_foreach(f.inf, collect, names);
    ck_assert_uint_eq(strlen(names), 2);
    ck_assert_ptr_nonnull(strchr(names, 'a'));
    ck_assert_ptr_nonnull(strchr(names, 'b'));
    ck_assert_uint_eq(kinformer_count(f.inf), 2);
    ck_assert_ptr_null(kinformer_get(f.inf, "ns", "zz"));
    ck_assert_ptr_null(kinformer_get(f.inf, "other", "a"));
    ck_assert_ptr_null(kinformer_get(f.inf, NULL, "a"));
    fx_teardown(&f);
}
END_TEST

struct reader {
    struct fx *f;
    atomic_int stop;
};

static void count_obj(void *ctx, const struct kobj *o)
{
    (*(long *)ctx) += kobj_text_len(o) > 0;
}

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    long seen = 0;
    while (!atomic_load(&r->stop)) {
        struct kobj *o = kinformer_get(r->f->inf, "ns", "a");
        if (o)
            ck_assert_str_eq(kobj_name(o), "a");
        kobj_unref(o);
        struct kobj **objs = NULL;
        size_t n = kinformer_by_index(r->f->inf, "x", "1", &objs);
        for (size_t i = 0; i < n; i++)
            kobj_unref(objs[i]);
        free(objs);
        kinformer_foreach(r->f->inf, count_obj, &seen);
    }
    return NULL;
}

START_TEST(informer_reads_are_safe_during_updates)
{
    struct fx f;
    static char body[200 * 1024];
    size_t len = 0;
    char rv[16], x[8];
    fx_setup(&f, NULL);
    kinformer_add_index(f.inf, "x", index_x);
    watchsrv_set_list(f.ws, "12", watchsrv_item("ns", "a", "10", "1"));
    for (int i = 0; i < 300; i++) {
        snprintf(rv, sizeof rv, "%d", 100 + i);
        snprintf(x, sizeof x, "%d", i % 3);
        const char *ev =
            watchsrv_event(i % 2 ? "MODIFIED" : "ADDED", "ns", i % 2 ? "a" : "b", rv, x);
        len += (size_t)snprintf(body + len, sizeof body - len, "%s", ev);
    }
    len += (size_t)snprintf(body + len, sizeof body - len, "%s",
                            watchsrv_event("DELETED", "ns", "b", "999", "0"));
    watchsrv_push_watch(f.ws, 200, body, 0, 50);
    struct reader r = {&f, 0};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, reader_main, &r);
    ck_assert_int_eq(kwatcher_start(f.w), KERR_OK);
    wait_log(&f, "delete:b@999");
    atomic_store(&r.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    expect_rv(&f, "a", "399");
    ck_assert_uint_eq(kinformer_count(f.inf), 1);
    fx_teardown(&f);
}
END_TEST

START_TEST(informer_free_accepts_null)
{
    kinformer_free(NULL);
}
END_TEST

static Suite *kinformer_suite(void)
{
    Suite *s = suite_create("kinformer");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, informer_lists_then_applies_watch_events);
    tcase_add_test(tc, informer_packs_what_it_stores);
    tcase_add_test(tc, informer_list_items_without_kind_get_api_version);
    tcase_add_test(tc, informer_index_follows_updates_and_deletes);
    tcase_add_test(tc, informer_index_added_late_covers_cached_objects);
    tcase_add_test(tc, informer_index_holds_many_entries_per_key_and_keys_per_entry);
    tcase_add_test(tc, informer_meta_index_alone_and_with_a_full_index);
    tcase_add_test(tc, informer_spec_index_keeps_its_keys_while_the_generation_stays);
    tcase_add_test(tc, informer_repack_chooses_a_dictionary_that_fits_the_cache);
    tcase_add_test(tc, informer_apply_write_is_visible_at_once_and_echo_is_recognised);
    tcase_add_test(tc, informer_apply_delete_removes_without_handlers);
    tcase_add_test(tc, informer_watch_objects_are_whole_but_for_managed_fields);
    tcase_add_test(tc, informer_apply_write_of_the_cached_version_is_ignored);
    tcase_add_test(tc, informer_relist_reports_only_differences);
    tcase_add_test(tc, informer_lists_from_the_watch_cache_and_consistently_after_a_failure);
    tcase_add_test(tc, informer_foreach_count_and_get);
    tcase_add_test(tc, informer_reads_are_safe_during_updates);
    tcase_add_test(tc, informer_free_accepts_null);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kinformer_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
