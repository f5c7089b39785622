/* Unit tests for controllers/directory.c: entries, the Kafka map, the
 * namespace filter, determinism. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "bad test JSON: %s", e.text);
    return j;
}

static const struct dir_config shared = {.base_domain = "grace.example.com", .tailscale = true};

#define PEEPS                                                                                  \
    "{\"metadata\":{\"namespace\":\"grace\",\"name\":\"peeps\","                               \
    "\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},"                                         \
    "\"spec\":{\"image\":\"x\",\"description\":\"Contacts and people.\","                      \
    "\"openapiPath\":\"/api/openapi.json\",\"postgres\":{\"database\":\"peeps\"},"             \
    "\"kafka\":{\"topics\":[{\"name\":\"peeps.updated\"}],\"produces\":[\"peeps.updated\"],"   \
    "\"consumes\":[\"imessage.received\",\"imessage.received\"]}},"                            \
    "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","                     \
    "\"lastTransitionTime\":\"2026-01-02T00:00:00Z\"}]}}"

START_TEST(dir_entry_has_urls_topics_and_readiness)
{
    json_t *gs = J(PEEPS);
    json_t *e = dir_entry_new(gs, &shared);
    json_t *want = J("{\"namespace\":\"grace\",\"name\":\"peeps\","
                     "\"description\":\"Contacts and people.\","
                     "\"url\":\"https://peeps.grace.example.com\","
                     "\"openapiUrl\":\"https://peeps.grace.example.com/api/openapi.json\","
                     "\"tailnetUrl\":\"https://peeps.grace.example.com\","
                     "\"produces\":[\"peeps.updated\"],\"consumes\":[\"imessage.received\"],"
                     "\"hasDatabase\":true,\"ready\":true,"
                     "\"lastTransitionTime\":\"2026-01-02T00:00:00Z\"}");
    ck_assert_msg(json_equal(e, want), "got %s", json_dumps(e, JSON_COMPACT));
    json_decref(want);
    json_decref(e);
    json_decref(gs);
}
END_TEST

START_TEST(dir_entry_without_route_or_tailnet_has_no_urls)
{
    json_t *gs = J("{\"metadata\":{\"namespace\":\"a\",\"name\":\"w\","
                   "\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},"
                   "\"spec\":{\"hostname\":\"h\",\"ingress\":{\"enabled\":false}}}");
    json_t *e = dir_entry_new(gs, &shared);
    ck_assert_ptr_null(json_object_get(e, "url"));
    ck_assert_ptr_null(json_object_get(e, "openapiUrl"));
    ck_assert_ptr_null(json_object_get(e, "tailnetUrl")); /* shared: through the route */
    ck_assert(json_is_false(json_object_get(e, "ready")));
    ck_assert(json_is_false(json_object_get(e, "hasDatabase")));
    ck_assert_str_eq(json_string_value(json_object_get(e, "lastTransitionTime")),
                     "2026-01-01T00:00:00Z");
    json_decref(e);
    struct dir_config per = {.base_domain = "", .tailscale = true, .tailscale_per_service = true};
    e = dir_entry_new(gs, &per);
    ck_assert_str_eq(json_string_value(json_object_get(e, "tailnetUrl")), "http://h");
    json_decref(e);
    json_decref(gs);
}
END_TEST

START_TEST(dir_entry_never_carries_credentials)
{
    /* a status with secret names, env with values: nothing of it is copied */
    json_t *gs = J("{\"metadata\":{\"namespace\":\"a\",\"name\":\"s\"},"
                   "\"spec\":{\"env\":[{\"name\":\"PASSWORD\",\"value\":\"hunter2\"}],"
                   "\"postgres\":{}},\"status\":{\"database\":{\"secretName\":\"s-postgres\"},"
                   "\"kafka\":{\"user\":\"u\",\"secretName\":\"u\"}}}");
    json_t *doc = J("[]");
    json_array_append(doc, gs);
    json_t *d = dir_build(doc, &shared, NULL);
    size_t len;
    char *text = dir_dump(d, &len);
    ck_assert_ptr_null(strstr(text, "hunter2"));
    ck_assert_ptr_null(strstr(text, "PASSWORD"));
    ck_assert_ptr_null(strstr(text, "secret"));
    ck_assert_ptr_null(strstr(text, "postgres"));
    free(text);
    json_decref(d);
    json_decref(doc);
    json_decref(gs);
}
END_TEST

static json_t *svc(const char *ns, const char *name, const char *created, const char *kafka)
{
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\",\"creationTimestamp\":\"%s\"},"
             "\"spec\":{\"kafka\":%s}}",
             ns, name, created, kafka);
    return J(buf);
}

static const json_t *topic(const json_t *doc, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "topics"), i, t) {
        if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0)
            return t;
    }
    return NULL;
}

static json_t *three(void)
{
    json_t *items = json_array();
    json_array_append_new(items, svc("b", "late", "2026-03-01T00:00:00Z",
                                     "{\"topics\":[{\"name\":\"t1\"}]}"));
    json_array_append_new(items, svc("a", "early", "2026-01-01T00:00:00Z",
                                     "{\"topics\":[{\"name\":\"t1\"}],\"consumes\":[\"ext\"]}"));
    json_array_append_new(items, svc("c", "reader", "2026-02-01T00:00:00Z",
                                     "{\"consumes\":[\"t1\",\"orphan\"],\"produces\":[\"t2\"]}"));
    return items;
}

START_TEST(dir_kafka_map_owner_is_the_oldest_claimant)
{
    json_t *items = three();
    json_t *ext = J("[\"ext\"]");
    struct dir_config cfg = shared;
    cfg.external_topics = ext;
    json_t *doc = dir_build(items, &cfg, NULL);
    const json_t *t1 = topic(doc, "t1");
    ck_assert_str_eq(json_string_value(json_object_get(t1, "producer")), "a/early");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(t1, "consumers"), 0)),
                     "c/reader");
    ck_assert_ptr_null(json_object_get(topic(doc, "orphan"), "producer"));
    ck_assert_ptr_null(json_object_get(topic(doc, "t2"), "producer")); /* produces != owns */
    ck_assert(json_is_true(json_object_get(topic(doc, "ext"), "external")));
    ck_assert_int_eq(json_array_size(json_object_get(doc, "topics")), 4);
    /* services sorted by namespace/name */
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(doc, "services"), 0), "name")),
                     "early");
    json_decref(doc);
    json_decref(ext);
    json_decref(items);
}
END_TEST

START_TEST(dir_deleting_owner_is_no_producer)
{
    json_t *items = json_array();
    json_t *gs = svc("a", "p", "2026-01-01T00:00:00Z", "{\"topics\":[{\"name\":\"t\"}]}");
    json_object_set_new(json_object_get(gs, "metadata"), "deletionTimestamp",
                        json_string("2026-01-05T00:00:00Z"));
    json_array_append_new(items, gs);
    json_array_append_new(items, svc("a", "c", "2026-01-01T00:00:00Z", "{\"consumes\":[\"t\"]}"));
    json_t *doc = dir_build(items, &shared, NULL);
    ck_assert_ptr_null(json_object_get(topic(doc, "t"), "producer"));
    json_decref(doc);
    json_decref(items);
}
END_TEST

START_TEST(dir_namespace_filter_keeps_its_services_and_their_topics)
{
    json_t *items = three();
    json_t *doc = dir_build(items, &shared, "c");
    ck_assert_int_eq(json_array_size(json_object_get(doc, "services")), 1);
    ck_assert_ptr_nonnull(topic(doc, "t1"));     /* consumed by c/reader */
    ck_assert_ptr_null(topic(doc, "ext"));       /* only a/early */
    ck_assert_str_eq(json_string_value(json_object_get(topic(doc, "t1"), "producer")),
                     "a/early"); /* the producer rule still sees every namespace */
    json_decref(doc);
    doc = dir_build(items, &shared, "zzz");
    ck_assert_int_eq(json_array_size(json_object_get(doc, "services")), 0);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "topics")), 0);
    json_decref(doc);
    json_decref(items);
}
END_TEST

START_TEST(dir_dump_is_independent_of_input_order)
{
    json_t *a = three(), *b = json_array();
    for (size_t i = json_array_size(a); i-- > 0;)
        json_array_append(b, json_array_get(a, i));
    json_t *da = dir_build(a, &shared, NULL), *db = dir_build(b, &shared, NULL);
    size_t la, lb;
    char *ta = dir_dump(da, &la), *tb = dir_dump(db, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert_str_eq(ta, tb);
    ck_assert_int_eq(ta[la - 1], '\n');
    free(ta);
    free(tb);
    json_decref(da);
    json_decref(db);
    json_decref(a);
    json_decref(b);
}
END_TEST

struct counts {
    size_t ready, unready, topics, consumers, producers;
};

static void on_svc(void *ctx, const char *ns, bool ready, size_t n)
{
    struct counts *c = ctx;
    (void)ns;
    if (ready)
        c->ready += n;
    else
        c->unready += n;
}

static void on_topic(void *ctx, const char *t, size_t p, size_t n)
{
    struct counts *c = ctx;
    (void)t;
    c->topics++;
    c->producers += p;
    c->consumers += n;
}

START_TEST(dir_counts_by_namespace_and_topic)
{
    json_t *items = three();
    json_array_append_new(items, J(PEEPS));
    json_t *doc = dir_build(items, &shared, NULL);
    struct counts c = {0};
    struct dir_counts_fn fn = {.services = on_svc, .topic = on_topic, .ctx = &c};
    dir_counts(doc, &fn);
    ck_assert_uint_eq(c.ready, 1);
    ck_assert_uint_eq(c.unready, 3);
    ck_assert_uint_eq(c.topics, 6); /* t1 t2 ext orphan peeps.updated imessage.received */
    ck_assert_uint_eq(c.producers, 2);
    ck_assert_uint_eq(c.consumers, 4);
    json_decref(doc);
    json_decref(items);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("directory");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, dir_entry_has_urls_topics_and_readiness);
    tcase_add_test(t, dir_entry_without_route_or_tailnet_has_no_urls);
    tcase_add_test(t, dir_entry_never_carries_credentials);
    tcase_add_test(t, dir_kafka_map_owner_is_the_oldest_claimant);
    tcase_add_test(t, dir_deleting_owner_is_no_producer);
    tcase_add_test(t, dir_namespace_filter_keeps_its_services_and_their_topics);
    tcase_add_test(t, dir_dump_is_independent_of_input_order);
    tcase_add_test(t, dir_counts_by_namespace_and_topic);
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
