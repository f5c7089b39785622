/* Unit tests for controllers/directory.c: entries, the Kafka map, the
 * namespace filter, determinism, the published bytes, and the cache that
 * reparses only the services that changed. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "kobj.h"

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

/* ---- the published bytes, and the cache that makes them ---- */

/* Six services covering what the bytes depend on: namespaces whose keys
 * sort differently from their names ("a-b/" before "a/"), an owner being
 * deleted, empty and malformed topic names, repeated consumers, a
 * description with escapes and non-ASCII text, a Ready condition. */
static json_t *mixed(void)
{
    static const char *const gs[] = {
        "{\"metadata\":{\"namespace\":\"b\",\"name\":\"late\",\"uid\":\"u1\","
        "\"resourceVersion\":\"11\",\"creationTimestamp\":\"2026-03-01T00:00:00Z\"},"
        "\"spec\":{\"kafka\":{\"topics\":[{\"name\":\"t1\"}]}}}",
        "{\"metadata\":{\"namespace\":\"a\",\"name\":\"early\",\"uid\":\"u2\","
        "\"resourceVersion\":\"12\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},"
        "\"spec\":{\"kafka\":{\"topics\":[{\"name\":\"t1\"}],\"consumes\":[\"ext\"]}}}",
        "{\"metadata\":{\"namespace\":\"c\",\"name\":\"reader\",\"uid\":\"u3\","
        "\"resourceVersion\":\"13\",\"creationTimestamp\":\"2026-02-01T00:00:00Z\"},"
        "\"spec\":{\"kafka\":{\"consumes\":[\"t1\",\"orphan\"],\"produces\":[\"t2\"]}}}",
        "{\"metadata\":{\"namespace\":\"a-b\",\"name\":\"old\",\"uid\":\"u4\","
        "\"resourceVersion\":\"14\",\"creationTimestamp\":\"2025-01-01T00:00:00Z\","
        "\"deletionTimestamp\":\"2026-01-05T00:00:00Z\"},"
        "\"spec\":{\"hostname\":\"h\",\"tls\":{\"enabled\":false},"
        "\"tailscale\":{\"enabled\":false},"
        "\"kafka\":{\"topics\":[{\"name\":\"t1\"},{\"name\":\"\"},{\"x\":1}],"
        "\"consumes\":[\"t1\",\"t1\",\"\",7]}}}",
        "{\"metadata\":{\"namespace\":\"a\",\"name\":\"z\",\"uid\":\"u5\","
        "\"resourceVersion\":\"15\"},"
        "\"spec\":{\"description\":\"caf\\u00e9 \\\"quoted\\\" / back\\\\slash \\u2028 tab\\t\","
        "\"ingress\":{\"enabled\":false},\"kafka\":{\"consumes\":[\"t2\",\"t1\"]}},"
        "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\","
        "\"lastTransitionTime\":\"2026-01-03T00:00:00Z\"}]}}",
        PEEPS,
    };
    json_t *items = json_array();
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++)
        json_array_append_new(items, J(gs[i]));
    return items;
}

/* The bytes the directory had before it was built from records (the tree
 * of each entry and of the whole document dumped by jansson), recorded
 * from that code for mixed() with external topics ext and peeps.updated:
 * whole, and filtered to namespaces "a" and "a-b". */
static const char GOLDEN_ALL[] =
    "{\"apiVersion\":\"grace.dev/v1alpha1\",\"kind\":\"ServiceDirectory\",\"services\":[{\""
    "namespace\":\"a-b\",\"name\":\"old\",\"url\":\"http://h.grace.example.com\",\"openapiU"
    "rl\":\"http://h.grace.example.com/openapi.json\",\"produces\":[\"t1\"],\"consumes\":[\""
    "t1\"],\"hasDatabase\":false,\"ready\":false,\"lastTransitionTime\":\"2025-01-01T00:00:"
    "00Z\"},{\"namespace\":\"a\",\"name\":\"early\",\"url\":\"https://early.grace.example.c"
    "om\",\"openapiUrl\":\"https://early.grace.example.com/openapi.json\",\"tailnetUrl\":\""
    "https://early.grace.example.com\",\"produces\":[\"t1\"],\"consumes\":[\"ext\"],\"hasDa"
    "tabase\":false,\"ready\":false,\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"},{\"nam"
    "espace\":\"a\",\"name\":\"z\",\"description\":\"caf\xc3\xa9 \\\"quoted\\\" / back\\\\s"
    "lash \xe2\x80\xa8 tab\\t\",\"consumes\":[\"t1\",\"t2\"],\"hasDatabase\":false,\"lastTr"
    "ansitionTime\":\"2026-01-03T00:00:00Z\",\"ready\":false},{\"namespace\":\"b\",\"name\""
    ":\"late\",\"url\":\"https://late.grace.example.com\",\"openapiUrl\":\"https://late.gra"
    "ce.example.com/openapi.json\",\"tailnetUrl\":\"https://late.grace.example.com\",\"prod"
    "uces\":[\"t1\"],\"hasDatabase\":false,\"ready\":false,\"lastTransitionTime\":\"2026-03"
    "-01T00:00:00Z\"},{\"namespace\":\"c\",\"name\":\"reader\",\"url\":\"https://reader.gra"
    "ce.example.com\",\"openapiUrl\":\"https://reader.grace.example.com/openapi.json\",\"ta"
    "ilnetUrl\":\"https://reader.grace.example.com\",\"produces\":[\"t2\"],\"consumes\":[\""
    "orphan\",\"t1\"],\"hasDatabase\":false,\"ready\":false,\"lastTransitionTime\":\"2026-0"
    "2-01T00:00:00Z\"},{\"namespace\":\"grace\",\"name\":\"peeps\",\"description\":\"Contac"
    "ts and people.\",\"url\":\"https://peeps.grace.example.com\",\"openapiUrl\":\"https://"
    "peeps.grace.example.com/api/openapi.json\",\"tailnetUrl\":\"https://peeps.grace.exampl"
    "e.com\",\"produces\":[\"peeps.updated\"],\"consumes\":[\"imessage.received\"],\"hasDat"
    "abase\":true,\"lastTransitionTime\":\"2026-01-02T00:00:00Z\",\"ready\":true}],\"topics"
    "\":[{\"name\":\"ext\",\"consumers\":[\"a/early\"],\"external\":true},{\"name\":\"imess"
    "age.received\",\"consumers\":[\"grace/peeps\"]},{\"name\":\"orphan\",\"consumers\":[\""
    "c/reader\"]},{\"name\":\"peeps.updated\",\"producer\":\"grace/peeps\",\"external\":tru"
    "e},{\"name\":\"t1\",\"producer\":\"a/early\",\"consumers\":[\"a-b/old\",\"a/z\",\"c/re"
    "ader\"]},{\"name\":\"t2\",\"consumers\":[\"a/z\"]}]}\n";
static const char GOLDEN_A[] =
    "{\"apiVersion\":\"grace.dev/v1alpha1\",\"kind\":\"ServiceDirectory\",\"services\":[{\""
    "namespace\":\"a\",\"name\":\"early\",\"url\":\"https://early.grace.example.com\",\"ope"
    "napiUrl\":\"https://early.grace.example.com/openapi.json\",\"tailnetUrl\":\"https://ea"
    "rly.grace.example.com\",\"produces\":[\"t1\"],\"consumes\":[\"ext\"],\"hasDatabase\":f"
    "alse,\"ready\":false,\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"},{\"namespace\":\""
    "a\",\"name\":\"z\",\"description\":\"caf\xc3\xa9 \\\"quoted\\\" / back\\\\slash \xe2\x80\xa8 "
    "tab\\t\",\"consumes\":[\"t1\",\"t2\"],\"hasDatabase\":false,\"lastTransitionTime\":\"2"
    "026-01-03T00:00:00Z\",\"ready\":false}],\"topics\":[{\"name\":\"ext\",\"consumers\":[\""
    "a/early\"],\"external\":true},{\"name\":\"t1\",\"producer\":\"a/early\",\"consumers\":"
    "[\"a-b/old\",\"a/z\",\"c/reader\"]},{\"name\":\"t2\",\"consumers\":[\"a/z\"]}]}\n";
static const char GOLDEN_AB[] =
    "{\"apiVersion\":\"grace.dev/v1alpha1\",\"kind\":\"ServiceDirectory\",\"services\":[{\""
    "namespace\":\"a-b\",\"name\":\"old\",\"url\":\"http://h.grace.example.com\",\"openapiU"
    "rl\":\"http://h.grace.example.com/openapi.json\",\"produces\":[\"t1\"],\"consumes\":[\""
    "t1\"],\"hasDatabase\":false,\"ready\":false,\"lastTransitionTime\":\"2025-01-01T00:00:"
    "00Z\"}],\"topics\":[{\"name\":\"t1\",\"producer\":\"a/early\",\"consumers\":[\"a-b/old"
    "\",\"a/z\",\"c/reader\"]}]}\n";

static const char *const golden[3] = {GOLDEN_ALL, GOLDEN_A, GOLDEN_AB};
static const char *const golden_ns[3] = {NULL, "a", "a-b"};

static char *dumped(const json_t *items, const struct dir_config *cfg, const char *ns, size_t *len)
{
    json_t *doc = dir_build(items, cfg, ns);
    char *text = dir_dump(doc, len);
    json_decref(doc);
    return text;
}

START_TEST(dir_dump_bytes_are_unchanged)
{
    json_t *items = mixed(), *ext = J("[\"ext\",\"peeps.updated\"]");
    struct dir_config cfg = shared;
    cfg.external_topics = ext;
    for (size_t k = 0; k < 3; k++) {
        size_t len = 0;
        char *text = dumped(items, &cfg, golden_ns[k], &len);
        ck_assert_uint_eq(len, strlen(golden[k]));
        ck_assert_str_eq(text, golden[k]);
        free(text);
    }
    json_decref(ext);
    json_decref(items);
}
END_TEST

/* The items of a JSON array as kobjs (each a new reference). */
static struct kobj **kobjs(const json_t *items)
{
    size_t n = json_array_size(items);
    struct kobj **o = calloc(n ? n : 1, sizeof *o);
    for (size_t i = 0; i < n; i++) {
        o[i] = kobj_new_from_json(json_array_get(items, i));
        ck_assert_ptr_nonnull(o[i]);
    }
    return o;
}

static void kobjs_free(struct kobj **o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kobj_unref(o[i]);
    free(o);
}

/* The cache's bytes for items equal dir_dump(dir_build(items)). */
static void assert_cache_bytes(struct dir_cache *c, const json_t *items,
                               const struct dir_config *cfg, const char *ns)
{
    size_t n = json_array_size(items), la = 0, lb = 0;
    struct kobj **o = kobjs(items);
    char *a = dir_cache_build(c, (const struct kobj *const *)o, n, ns, &la, NULL);
    char *b = dumped(items, cfg, ns, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert_msg(memcmp(a, b, la) == 0, "cache:\n%s\nbuild:\n%s", a, b);
    free(a);
    free(b);
    kobjs_free(o, n);
}

START_TEST(dir_cache_bytes_are_the_published_ones)
{
    json_t *items = mixed(), *ext = J("[\"ext\",\"peeps.updated\"]");
    struct dir_config cfg = shared;
    cfg.external_topics = ext;
    struct dir_cache *c = dir_cache_new(&cfg);
    for (size_t k = 0; k < 3; k++) {
        size_t n = json_array_size(items), len = 0;
        struct kobj **o = kobjs(items);
        char *text = dir_cache_build(c, (const struct kobj *const *)o, n, golden_ns[k], &len, NULL);
        ck_assert_uint_eq(len, strlen(golden[k]));
        ck_assert_str_eq(text, golden[k]);
        free(text);
        kobjs_free(o, n);
    }
    /* mixed() has one service without a resourceVersion: parsed every time */
    ck_assert_uint_eq(dir_cache_parsed(c), 6 + 1 + 1);
    dir_cache_free(c);
    json_decref(ext);
    json_decref(items);
}
END_TEST

/* Service i of a test fleet at resourceVersion rv. */
static json_t *fleet_svc(size_t i, unsigned rv, const char *desc)
{
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"metadata\":{\"namespace\":\"team-%zu\",\"name\":\"svc-%03zu\",\"uid\":\"uid-%zu\","
             "\"resourceVersion\":\"%u\",\"creationTimestamp\":\"2026-01-01T00:%02zu:00Z\"},"
             "\"spec\":{\"description\":\"%s\",\"kafka\":{\"topics\":[{\"name\":\"t%zu\"}],"
             "\"consumes\":[\"t%zu\"]}},\"status\":{\"conditions\":[{\"type\":\"Ready\","
             "\"status\":\"%s\"}]}}",
             i % 7, i, i, rv, i % 60, desc, i % 13, (i + 1) % 13, i % 3 ? "True" : "False");
    return J(buf);
}

START_TEST(dir_cache_rebuild_parses_only_changed_services)
{
    struct dir_cache *c = dir_cache_new(&shared);
    json_t *items = json_array();
    for (size_t i = 0; i < 100; i++)
        json_array_append_new(items, fleet_svc(i, 1, "first"));
    assert_cache_bytes(c, items, &shared, NULL);
    ck_assert_uint_eq(dir_cache_parsed(c), 100);
    assert_cache_bytes(c, items, &shared, NULL); /* nothing changed: nothing parsed */
    assert_cache_bytes(c, items, &shared, "team-3");
    ck_assert_uint_eq(dir_cache_parsed(c), 100);
    json_array_set_new(items, 42, fleet_svc(42, 2, "second")); /* one update */
    assert_cache_bytes(c, items, &shared, NULL);
    ck_assert_uint_eq(dir_cache_parsed(c), 101);
    json_array_remove(items, 7); /* a deletion parses nothing and drops the entry */
    json_array_append_new(items, fleet_svc(100, 1, "new")); /* a creation parses it */
    assert_cache_bytes(c, items, &shared, NULL);
    ck_assert_uint_eq(dir_cache_parsed(c), 102);
    /* recreated under the same name at the same resourceVersion: a new uid */
    json_t *again = fleet_svc(42, 2, "recreated");
    json_object_set_new(json_object_get(again, "metadata"), "uid", json_string("other"));
    json_array_set_new(items, 41, again); /* index 41 is svc-042 after the removal */
    assert_cache_bytes(c, items, &shared, NULL);
    ck_assert_uint_eq(dir_cache_parsed(c), 103);
    dir_cache_free(c);
    json_decref(items);
}
END_TEST

struct ns_counts {
    char log[4096];
};

static void log_svc(void *ctx, const char *ns, bool ready, size_t n)
{
    struct ns_counts *c = ctx;
    size_t l = strlen(c->log);
    snprintf(c->log + l, sizeof c->log - l, "%s:%d=%zu ", ns, ready, n);
}

static void log_topic(void *ctx, const char *t, size_t p, size_t n)
{
    struct ns_counts *c = ctx;
    size_t l = strlen(c->log);
    snprintf(c->log + l, sizeof c->log - l, "%s:%zu/%zu ", t, p, n);
}

START_TEST(dir_tally_counts_as_the_document_does)
{
    json_t *items = mixed(), *ext = J("[\"ext\"]");
    for (size_t i = 0; i < 30; i++)
        json_array_append_new(items, fleet_svc(i, 1, "x"));
    struct dir_config cfg = shared;
    cfg.external_topics = ext;
    struct dir_cache *c = dir_cache_new(&cfg);
    for (size_t k = 0; k < 3; k++) {
        struct ns_counts want = {{0}}, got = {{0}};
        struct dir_counts_fn fw = {.services = log_svc, .topic = log_topic, .ctx = &want};
        struct dir_counts_fn fg = {.services = log_svc, .topic = log_topic, .ctx = &got};
        json_t *doc = dir_build(items, &cfg, golden_ns[k]);
        dir_counts(doc, &fw);
        size_t n = json_array_size(items), len = 0;
        struct kobj **o = kobjs(items);
        struct dir_tally *t = NULL;
        free(dir_cache_build(c, (const struct kobj *const *)o, n, golden_ns[k], &len, &t));
        ck_assert_ptr_nonnull(t);
        struct dir_tally *t2 = dir_tally_ref(t);
        dir_tally_unref(t);
        dir_tally_counts(t2, &fg);
        dir_tally_unref(t2);
        ck_assert_str_eq(got.log, want.log);
        if (k < 2) /* a/early and a/z, not Ready */
            ck_assert_ptr_nonnull(strstr(got.log, "a:0=2 "));
        kobjs_free(o, n);
        json_decref(doc);
    }
    dir_cache_free(c);
    json_decref(ext);
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
    tcase_add_test(t, dir_dump_bytes_are_unchanged);
    tcase_add_test(t, dir_cache_bytes_are_the_published_ones);
    tcase_add_test(t, dir_cache_rebuild_parses_only_changed_services);
    tcase_add_test(t, dir_tally_counts_as_the_document_does);
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
