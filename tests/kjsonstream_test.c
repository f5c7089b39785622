/*
 * Tests for kjsonstream: the incremental splitter must give the same items
 * whatever the chunking, handle strings that contain brackets and escaped
 * quotes, capture list metadata, enforce its size cap and reject truncated
 * or malformed input; and kjs_object_members must find the top-level
 * members of one object with the same rules.
 */
#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kjsonstream.h"

struct collect {
    json_t *items;  /* array of parsed items */
    json_t *fields; /* object path -> value (null for JSON null) */
    int stop_after; /* stop when this many items were seen (0 = never) */
};

static int on_item(void *ctx, const char *text, size_t len)
{
    struct collect *c = ctx;
    ck_assert_uint_eq(strlen(text), len);
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(v != NULL, "item does not parse: %s (%s)", text, jerr.text);
    json_array_append_new(c->items, v);
    if (c->stop_after && (int)json_array_size(c->items) >= c->stop_after)
        return 1;
    return 0;
}

static int on_field(void *ctx, const char *path, const char *value)
{
    struct collect *c = ctx;
    json_object_set_new(c->fields, path, value ? json_string(value) : json_null());
    return 0;
}

static void collect_init(struct collect *c)
{
    c->items = json_array();
    c->fields = json_object();
    c->stop_after = 0;
}

static void collect_done(struct collect *c)
{
    json_decref(c->items);
    json_decref(c->fields);
}

static const struct kjs_callbacks cbs = {on_item, on_field};

static const char *LIST =
    "{\"kind\": \"ConfigMapList\", \"apiVersion\": \"v1\",\n"
    " \"metadata\": {\"resourceVersion\": \"229\", \"continue\": \"eyJ2\\\"x\", "
    "\"remainingItemCount\": 3, \"nothing\": null, \"deep\": {\"x\": \"ignored\"}},\n"
    " \"items\": [\n"
    "  {\"metadata\": {\"name\": \"a\"}, \"data\": {\"k\": \"}]\\\"{[\", \"e\": \"\\\\\"}},\n"
    "  {\"metadata\": {\"name\": \"b\"}, \"spec\": {\"m\": [[1, 2], [], [[{\"z\": -1.5e3}]]]}},\n"
    "  {\"metadata\": {\"name\": \"c\"}, \"t\": true, \"f\": false, \"n\": null}\n"
    " ],\n"
    " \"trailer\": [1, {\"x\": 2}]}\n";

static void check_list_result(struct collect *c)
{
    ck_assert_uint_eq(json_array_size(c->items), 3);
    const char *names[] = {"a", "b", "c"};
    for (size_t i = 0; i < 3; i++) {
        json_t *md = json_object_get(json_array_get(c->items, i), "metadata");
        ck_assert_str_eq(json_string_value(json_object_get(md, "name")), names[i]);
    }
    json_t *data = json_object_get(json_array_get(c->items, 0), "data");
    ck_assert_str_eq(json_string_value(json_object_get(data, "k")), "}]\"{[");
    ck_assert_str_eq(json_string_value(json_object_get(data, "e")), "\\");
    ck_assert_str_eq(json_string_value(json_object_get(c->fields, "kind")), "ConfigMapList");
    ck_assert_str_eq(json_string_value(json_object_get(c->fields, "metadata.resourceVersion")),
                     "229");
    ck_assert_str_eq(json_string_value(json_object_get(c->fields, "metadata.continue")), "eyJ2\"x");
    ck_assert_str_eq(json_string_value(json_object_get(c->fields, "metadata.remainingItemCount")),
                     "3");
    ck_assert(json_is_null(json_object_get(c->fields, "metadata.nothing")));
    ck_assert_ptr_null(json_object_get(c->fields, "metadata.deep"));
    ck_assert_ptr_null(json_object_get(c->fields, "metadata.deep.x"));
}

START_TEST(kjs_list_whole_buffer_gives_items_and_metadata)
{
    struct collect c;
    collect_init(&c);
    struct kjs *s = kjs_new(KJS_ITEMS, "items", 0, &cbs, &c);
    ck_assert_int_eq(kjs_feed(s, LIST, strlen(LIST), NULL), KERR_OK);
    ck_assert_int_eq(kjs_finish(s, NULL), KERR_OK);
    check_list_result(&c);
    ck_assert_uint_eq(kjs_count(s), 3);
    kjs_free(s);
    collect_done(&c);
}
END_TEST

START_TEST(kjs_list_split_at_every_byte_boundary)
{
    size_t n = strlen(LIST);
    for (size_t cut = 0; cut <= n; cut++) {
        struct collect c;
        collect_init(&c);
        struct kjs *s = kjs_new(KJS_ITEMS, "items", 0, &cbs, &c);
        ck_assert_int_eq(kjs_feed(s, LIST, cut, NULL), KERR_OK);
        ck_assert_int_eq(kjs_feed(s, LIST + cut, n - cut, NULL), KERR_OK);
        ck_assert_int_eq(kjs_finish(s, NULL), KERR_OK);
        check_list_result(&c);
        kjs_free(s);
        collect_done(&c);
    }
}
END_TEST

START_TEST(kjs_list_fed_one_byte_at_a_time)
{
    struct collect c;
    collect_init(&c);
    struct kjs *s = kjs_new(KJS_ITEMS, "items", 0, &cbs, &c);
    for (size_t i = 0; LIST[i]; i++)
        ck_assert_int_eq(kjs_feed(s, LIST + i, 1, NULL), KERR_OK);
    ck_assert_int_eq(kjs_finish(s, NULL), KERR_OK);
    check_list_result(&c);
    kjs_free(s);
    collect_done(&c);
}
END_TEST

static int keep_text(void *ctx, const char *text, size_t len)
{
    json_array_append_new(ctx, json_stringn(text, len));
    return 0;
}

START_TEST(kjs_item_text_is_minified_but_strings_keep_spaces)
{
    const char *body = "{\"items\": [ { \"a\" : [ 1 , 2 ] , \"s\" : \" x  y \" } ] }";
    json_t *texts = json_array();
    struct kjs_callbacks cb = {keep_text, NULL};
    struct kjs *s = kjs_new(KJS_ITEMS, "items", 0, &cb, texts);
    ck_assert_int_eq(kjs_feed(s, body, strlen(body), NULL), KERR_OK);
    ck_assert_int_eq(kjs_finish(s, NULL), KERR_OK);
    ck_assert_str_eq(json_string_value(json_array_get(texts, 0)), "{\"a\":[1,2],\"s\":\" x  y \"}");
    kjs_free(s);
    json_decref(texts);
}
END_TEST

START_TEST(kjs_empty_and_null_item_lists)
{
    const char *bodies[] = {"{\"metadata\":{},\"items\":[]}", "{\"items\":null}", "{}"};
    for (size_t i = 0; i < 3; i++) {
        struct collect c;
        collect_init(&c);
        struct kjs *s = kjs_new(KJS_ITEMS, "items", 0, &cbs, &c);
        ck_assert_int_eq(kjs_feed(s, bodies[i], strlen(bodies[i]), NULL), KERR_OK);
        ck_assert_int_eq(kjs_finish(s, NULL), KERR_OK);
        ck_assert_uint_eq(json_array_size(c.items), 0);
        kjs_free(s);
        collect_done(&c);
    }
}
END_TEST

START_TEST(kjs_truncated_in_the_middle_of_an_item_fails_at_finish)
{
    size_t n = strlen(LIST);
    const char *cut_at = strstr(LIST, "\"name\": \"b\"");
    size_t cut = (size_t)(cut_at - LIST);
    struct collect c;
    collect_init(&c);
    struct kjs *s = kjs_new(KJS_ITEMS, "items", 0, &cbs, &c);
    ck_assert_int_eq(kjs_feed(s, LIST, cut, NULL), KERR_OK);
    struct kerr_info err;
    ck_assert_int_eq(kjs_finish(s, &err), KERR_PARSE);
    ck_assert_str_eq(err.reason, "Truncated");
    ck_assert_uint_eq(json_array_size(c.items), 1); /* only "a" was complete */
    /* also truncated at the very end (missing final '}') */
    kjs_reset(s);
    json_array_clear(c.items);
    ck_assert_int_eq(kjs_feed(s, LIST, n - 2, NULL), KERR_OK);
    ck_assert_int_eq(kjs_finish(s, NULL), KERR_PARSE);
    ck_assert_uint_eq(json_array_size(c.items), 3);
    kjs_free(s);
    collect_done(&c);
}
END_TEST

START_TEST(kjs_malformed_structure_is_rejected)
{
    const char *bad[] = {
        "[1,2]",                       /* not an object */
        "{\"items\": [1 2]}",          /* missing comma */
        "{\"items\": [1,]}",           /* trailing comma */
        "{\"items\": [{\"a\":1}}",     /* mismatched bracket */
        "{\"a\" 1}",                   /* missing colon */
        "{\"items\": \"x\"}",          /* items not an array */
        "{\"a\": \"x\ny\"}",           /* raw control character */
        "{} {}",                       /* data after the object */
        "{\"items\": [{\"a\": 1}], }", /* trailing comma in object */
        "{\"a\": @}",                  /* not a value */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct collect c;
        collect_init(&c);
        struct kjs *s = kjs_new(KJS_ITEMS, "items", 0, &cbs, &c);
        struct kerr_info err;
        kerr_clear(&err);
        enum kerr rc = kjs_feed(s, bad[i], strlen(bad[i]), &err);
        if (rc == KERR_OK)
            rc = kjs_finish(s, &err);
        ck_assert_msg(rc == KERR_PARSE, "accepted: %s", bad[i]);
        ck_assert_msg(err.message[0] != '\0', "no message for %s", bad[i]);
        /* a failed splitter stays failed */
        ck_assert_int_eq(kjs_feed(s, "{}", 2, NULL), KERR_PARSE);
        kjs_free(s);
        collect_done(&c);
    }
}
END_TEST

/* Scalars and escapes inside items are checked while streaming (the stored
 * text of an item is not parsed whole again), whatever the chunking. */
START_TEST(kjs_malformed_scalars_and_escapes_are_rejected)
{
    const char *bad[] = {
        "{\"items\": [{\"a\": tru}]}",
        "{\"items\": [{\"a\": nul}]}",
        "{\"items\": [{\"a\": falsey}]}",
        "{\"items\": [{\"a\": 1.2.3}]}",
        "{\"items\": [{\"a\": 01}]}",
        "{\"items\": [{\"a\": -}]}",
        "{\"items\": [{\"a\": 1e}]}",
        "{\"items\": [{\"a\": 1.}]}",
        "{\"items\": [{\"a\": 0x1F}]}",
        "{\"items\": [{\"a\": \"\\x\"}]}",
        "{\"items\": [{\"a\": \"\\u12g4\"}]}",
        "{\"items\": [1e+]}",
        "{\"n\": 12a}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (size_t chunk = 1; chunk <= strlen(bad[i]); chunk += strlen(bad[i]) - 1) {
            struct collect c;
            collect_init(&c);
            struct kjs *s = kjs_new(KJS_ITEMS, "items", 0, &cbs, &c);
            enum kerr rc = KERR_OK;
            for (size_t at = 0; at < strlen(bad[i]) && rc == KERR_OK; at += chunk) {
                size_t n = strlen(bad[i]) - at < chunk ? strlen(bad[i]) - at : chunk;
                rc = kjs_feed(s, bad[i] + at, n, NULL);
            }
            if (rc == KERR_OK)
                rc = kjs_finish(s, NULL);
            ck_assert_msg(rc == KERR_PARSE, "accepted (chunk %zu): %s", chunk, bad[i]);
            ck_assert_uint_eq(json_array_size(c.items), 0);
            kjs_free(s);
            collect_done(&c);
        }
    }
}
END_TEST

START_TEST(kjs_valid_scalars_and_escapes_pass)
{
    const char *good = "{\"items\": [{\"a\": [0, -0, 12, -3.25, 1e9, 2E-3, 4.5e+6, true, "
                       "false, null, \"\\u00e9\\n\\\"\\/\\\\\"]}]}";
    for (size_t chunk = 1; chunk <= 7; chunk++) {
        struct collect c;
        collect_init(&c);
        struct kjs *s = kjs_new(KJS_ITEMS, "items", 0, &cbs, &c);
        enum kerr rc = KERR_OK;
        for (size_t at = 0; at < strlen(good) && rc == KERR_OK; at += chunk) {
            size_t n = strlen(good) - at < chunk ? strlen(good) - at : chunk;
            rc = kjs_feed(s, good + at, n, NULL);
        }
        ck_assert_int_eq(rc, KERR_OK);
        ck_assert_int_eq(kjs_finish(s, NULL), KERR_OK);
        ck_assert_uint_eq(json_array_size(c.items), 1);
        json_t *a = json_object_get(json_array_get(c.items, 0), "a");
        ck_assert_uint_eq(json_array_size(a), 11);
        ck_assert_str_eq(json_string_value(json_array_get(a, 10)), "\xc3\xa9\n\"/\\");
        kjs_free(s);
        collect_done(&c);
    }
}
END_TEST

START_TEST(kjs_item_over_the_size_cap_is_a_parse_error)
{
    char body[400];
    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(body, sizeof body, "{\"items\":[{\"a\":1},{\"s\":\"%s\"}]}", big);
    struct collect c;
    collect_init(&c);
    struct kjs *s = kjs_new(KJS_ITEMS, "items", 100, &cbs, &c);
    struct kerr_info err;
    ck_assert_int_eq(kjs_feed(s, body, strlen(body), &err), KERR_PARSE);
    ck_assert_str_eq(err.reason, "TooLarge");
    ck_assert_uint_eq(json_array_size(c.items), 1);
    kjs_free(s);
    /* exactly at the cap is fine */
    const char *exact = "{\"items\":[\"12345678\"]}"; /* item is 10 bytes */
    s = kjs_new(KJS_ITEMS, "items", 10, &cbs, &c);
    ck_assert_int_eq(kjs_feed(s, exact, strlen(exact), NULL), KERR_OK);
    ck_assert_int_eq(kjs_finish(s, NULL), KERR_OK);
    kjs_free(s);
    collect_done(&c);
}
END_TEST

START_TEST(kjs_too_deep_nesting_is_rejected)
{
    size_t n = KJS_MAX_DEPTH + 10;
    char *body = malloc(n + 1);
    memset(body, '[', n);
    body[n] = '\0';
    struct kjs *s = kjs_new(KJS_DOCS, NULL, 0, &cbs, NULL);
    struct kerr_info err;
    ck_assert_int_eq(kjs_feed(s, body, n, &err), KERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "deep"));
    kjs_free(s);
    free(body);
}
END_TEST

START_TEST(kjs_item_callback_can_stop_the_stream)
{
    struct collect c;
    collect_init(&c);
    c.stop_after = 2;
    struct kjs *s = kjs_new(KJS_ITEMS, "items", 0, &cbs, &c);
    ck_assert_int_eq(kjs_feed(s, LIST, strlen(LIST), NULL), KERR_STOPPED);
    ck_assert_uint_eq(json_array_size(c.items), 2);
    kjs_free(s);
    collect_done(&c);
}
END_TEST

START_TEST(kjs_docs_mode_splits_watch_events)
{
    const char *stream =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\",\"a\":\"{\\\"\"}}}\n"
        "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"12\"}}}\n"
        "  \n{\"type\":\"DELETED\",\"object\":{\"items\":[1,[2]]}}\n";
    size_t n = strlen(stream);
    for (size_t cut = 0; cut <= n; cut++) {
        struct collect c;
        collect_init(&c);
        struct kjs *s = kjs_new(KJS_DOCS, NULL, 0, &cbs, &c);
        ck_assert_int_eq(kjs_feed(s, stream, cut, NULL), KERR_OK);
        ck_assert_int_eq(kjs_feed(s, stream + cut, n - cut, NULL), KERR_OK);
        ck_assert_int_eq(kjs_finish(s, NULL), KERR_OK);
        ck_assert_uint_eq(json_array_size(c.items), 3);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(c.items, 1), "type")),
                         "BOOKMARK");
        ck_assert_uint_eq(json_object_size(c.fields), 0);
        kjs_free(s);
        collect_done(&c);
    }
}
END_TEST

START_TEST(kjs_docs_mode_event_cut_in_the_middle_is_truncated)
{
    const char *stream = "{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"MODIF";
    struct collect c;
    collect_init(&c);
    struct kjs *s = kjs_new(KJS_DOCS, NULL, 0, &cbs, &c);
    ck_assert_int_eq(kjs_feed(s, stream, strlen(stream), NULL), KERR_OK);
    ck_assert_uint_eq(json_array_size(c.items), 1);
    ck_assert_int_eq(kjs_finish(s, NULL), KERR_PARSE);
    /* an empty stream is complete */
    kjs_reset(s);
    ck_assert_int_eq(kjs_finish(s, NULL), KERR_OK);
    kjs_free(s);
    collect_done(&c);
}
END_TEST

/* Items' metadata.managedFields is cut from the text, wherever it sits in
 * metadata (first, middle, last, alone), whatever the chunking; the same
 * key elsewhere (top-level metadata, spec, nested) is kept. */
static const char *DROP_LIST =
    "{\"metadata\": {\"resourceVersion\": \"7\", \"managedFields\": \"top\"},\n"
    " \"items\": [\n"
    "  {\"metadata\": {\"managedFields\": [{\"a\": {\"f:x\": {}}}], \"name\": \"first\"}},\n"
    "  {\"metadata\": {\"name\": \"mid\", \"managedFields\": [{\"m\": \"}\"}], \"uid\": \"u\"}},\n"
    "  {\"metadata\": {\"name\": \"last\", \"managedFields\": null}, \"spec\": "
    "{\"managedFields\": 1}},\n"
    "  {\"metadata\": {\"managedFields\": 3}, \"x\": {\"metadata\": {\"managedFields\": 2}}},\n"
    "  {\"spec\": {}, \"metadata\": {\"labels\": {\"managedFields\": \"v\"}, \"name\": \"n\"}},\n"
    "  {\"x\": 1, \"metadata\": null},\n"
    "  [{\"managedFields\": 1}]\n"
    " ]}";

static const char *DROP_WANT[] = {
    "{\"metadata\":{\"name\":\"first\"}}",
    "{\"metadata\":{\"name\":\"mid\",\"uid\":\"u\"}}",
    "{\"metadata\":{\"name\":\"last\"},\"spec\":{\"managedFields\":1}}",
    "{\"metadata\":{},\"x\":{\"metadata\":{\"managedFields\":2}}}",
    "{\"spec\":{},\"metadata\":{\"labels\":{\"managedFields\":\"v\"},\"name\":\"n\"}}",
    "{\"x\":1,\"metadata\":null}",
    "[{\"managedFields\":1}]",
};

struct texts {
    char *t[10];
    size_t n;
};

static int on_text(void *ctx, const char *text, size_t len)
{
    struct texts *t = ctx;
    ck_assert_uint_lt(t->n, 10);
    ck_assert_uint_eq(strlen(text), len);
    t->t[t->n++] = strdup(text);
    return 0;
}

START_TEST(kjs_drop_meta_key_cuts_managed_fields_of_items)
{
    size_t len = strlen(DROP_LIST);
    size_t steps[] = {len, 1, 2, 3, 7};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        struct texts t = {{NULL}, 0};
        struct kjs_callbacks cb = {on_text, NULL};
        struct kjs *s = kjs_new(KJS_ITEMS, "items", 0, &cb, &t);
        kjs_drop_meta_key(s, "managedFields");
        for (size_t off = 0; off < len; off += steps[k]) {
            size_t n = len - off < steps[k] ? len - off : steps[k];
            ck_assert_int_eq(kjs_feed(s, DROP_LIST + off, n, NULL), KERR_OK);
        }
        ck_assert_int_eq(kjs_finish(s, NULL), KERR_OK);
        ck_assert_uint_eq(t.n, 7);
        for (size_t i = 0; i < t.n; i++) {
            ck_assert_str_eq(t.t[i], DROP_WANT[i]);
            free(t.t[i]);
        }
        kjs_free(s);
    }
}
END_TEST

/* Watch events (KJS_DOCS): the object's metadata.managedFields is cut
 * (first, middle, last, alone), the same key elsewhere is kept (the event's
 * own members, a nested object's metadata, labels), and the spans of "type"
 * and "object" point at their values in the handed-out text, whatever the
 * member order and the chunking. */
static const char *DROP_EVENTS =
    "{\"type\": \"ADDED\", \"object\": {\"kind\": \"ConfigMap\", \"metadata\": "
    "{\"managedFields\": [{\"a\": {\"f:x\": {}}}], \"name\": \"first\"}}}\n"
    "{\"object\": {\"metadata\": {\"name\": \"mid\", \"managedFields\": [{\"m\": \"}\"}], "
    "\"uid\": \"u\"}}, \"type\": \"MODIFIED\"}\n"
    "{\"managedFields\": 1, \"type\": \"DELETED\", \"object\": {\"metadata\": {\"name\": "
    "\"last\", \"managedFields\": null}, \"spec\": {\"metadata\": {\"managedFields\": 2}}}}\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"managedFields\":3}}}\n"
    "{\"type\": \"ERROR\", \"object\": {\"metadata\": {\"labels\": {\"managedFields\": \"v\"}}, "
    "\"code\": 410}}\n"
    "{\"type\": \"X\", \"metadata\": {\"managedFields\": 4}}\n"
    "{\"type\": null, \"object\": [1]}\n"
    "[{\"object\": {\"metadata\": {\"managedFields\": 5}}}]\n";

static const char *EVENTS_WANT[][3] = {
    /* whole text, type span, object span */
    {"{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"first\"}}}",
     "\"ADDED\"", "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"first\"}}"},
    {"{\"object\":{\"metadata\":{\"name\":\"mid\",\"uid\":\"u\"}},\"type\":\"MODIFIED\"}",
     "\"MODIFIED\"", "{\"metadata\":{\"name\":\"mid\",\"uid\":\"u\"}}"},
    {"{\"managedFields\":1,\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"last\"},"
     "\"spec\":{\"metadata\":{\"managedFields\":2}}}}",
     "\"DELETED\"",
     "{\"metadata\":{\"name\":\"last\"},\"spec\":{\"metadata\":{\"managedFields\":2}}}"},
    {"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}", "\"BOOKMARK\"", "{\"metadata\":{}}"},
    {"{\"type\":\"ERROR\",\"object\":{\"metadata\":{\"labels\":{\"managedFields\":\"v\"}},"
     "\"code\":410}}",
     "\"ERROR\"", "{\"metadata\":{\"labels\":{\"managedFields\":\"v\"}},\"code\":410}"},
    {"{\"type\":\"X\",\"metadata\":{\"managedFields\":4}}", "\"X\"", ""},
    {"{\"type\":null,\"object\":[1]}", "null", "[1]"},
    {"[{\"object\":{\"metadata\":{\"managedFields\":5}}}]", "", ""},
};

#define NEVENTS (sizeof EVENTS_WANT / sizeof EVENTS_WANT[0])

struct events {
    struct kjs *s;
    char *t[NEVENTS][3];
    size_t n;
};

static char *span_dup(const char *text, struct kjs_span sp)
{
    char *d = malloc(sp.len + 1);
    ck_assert_ptr_nonnull(d);
    memcpy(d, text + sp.off, sp.len);
    d[sp.len] = '\0';
    return d;
}

static int on_event(void *ctx, const char *text, size_t len)
{
    struct events *e = ctx;
    struct kjs_span type, object;
    ck_assert_uint_lt(e->n, NEVENTS);
    ck_assert_uint_eq(strlen(text), len);
    kjs_doc_event(e->s, &type, &object);
    ck_assert_uint_le(type.off + type.len, len);
    ck_assert_uint_le(object.off + object.len, len);
    e->t[e->n][0] = strdup(text);
    e->t[e->n][1] = span_dup(text, type);
    e->t[e->n][2] = span_dup(text, object);
    e->n++;
    return 0;
}

START_TEST(kjs_docs_mode_cuts_managed_fields_of_event_objects)
{
    size_t len = strlen(DROP_EVENTS);
    size_t steps[] = {len, 1, 2, 3, 7, 64};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        struct events e = {NULL, {{NULL}}, 0};
        struct kjs_callbacks cb = {on_event, NULL};
        e.s = kjs_new(KJS_DOCS, NULL, 0, &cb, &e);
        kjs_drop_meta_key(e.s, "managedFields");
        for (size_t off = 0; off < len; off += steps[k]) {
            size_t n = len - off < steps[k] ? len - off : steps[k];
            ck_assert_int_eq(kjs_feed(e.s, DROP_EVENTS + off, n, NULL), KERR_OK);
        }
        ck_assert_int_eq(kjs_finish(e.s, NULL), KERR_OK);
        ck_assert_uint_eq(e.n, NEVENTS);
        for (size_t i = 0; i < e.n; i++) {
            for (int j = 0; j < 3; j++) {
                ck_assert_msg(strcmp(e.t[i][j], EVENTS_WANT[i][j]) == 0,
                              "step %zu event %zu part %d: %s", steps[k], i, j, e.t[i][j]);
                free(e.t[i][j]);
            }
        }
        kjs_free(e.s);
    }
}
END_TEST

/* Without a drop key, events are handed out whole (spans all the same). */
START_TEST(kjs_docs_mode_keeps_managed_fields_without_drop_key)
{
    const char *ev = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"managedFields\":[1]}}}";
    struct events e = {NULL, {{NULL}}, 0};
    struct kjs_callbacks cb = {on_event, NULL};
    e.s = kjs_new(KJS_DOCS, NULL, 0, &cb, &e);
    ck_assert_int_eq(kjs_feed(e.s, ev, strlen(ev), NULL), KERR_OK);
    ck_assert_int_eq(kjs_finish(e.s, NULL), KERR_OK);
    ck_assert_uint_eq(e.n, 1);
    ck_assert_str_eq(e.t[0][0], ev);
    ck_assert_str_eq(e.t[0][1], "\"ADDED\"");
    ck_assert_str_eq(e.t[0][2], "{\"metadata\":{\"managedFields\":[1]}}");
    for (int j = 0; j < 3; j++)
        free(e.t[0][j]);
    kjs_free(e.s);
}
END_TEST

START_TEST(kjs_other_array_key_is_honoured)
{
    const char *body = "{\"items\":[1],\"groups\":[{\"name\":\"apps\"},{\"name\":\"batch\"}]}";
    struct collect c;
    collect_init(&c);
    struct kjs *s = kjs_new(KJS_ITEMS, "groups", 0, &cbs, &c);
    ck_assert_int_eq(kjs_feed(s, body, strlen(body), NULL), KERR_OK);
    ck_assert_int_eq(kjs_finish(s, NULL), KERR_OK);
    ck_assert_uint_eq(json_array_size(c.items), 2);
    kjs_free(s);
    collect_done(&c);
}
END_TEST

/* Feed `text` (n bytes) in chunks of `chunk` bytes; returns the outcome. */
static enum kerr feed_chunked(struct kjs *s, const char *text, size_t n, size_t chunk,
                              struct kerr_info *err)
{
    enum kerr rc = KERR_OK;
    for (size_t at = 0; at < n && rc == KERR_OK; at += chunk)
        rc = kjs_feed(s, text + at, n - at < chunk ? n - at : chunk, err);
    return rc == KERR_OK ? kjs_finish(s, err) : rc;
}

/* Values jansson cannot read (a raw NUL where a value belongs, invalid
 * UTF-8, unpaired UTF-16 surrogates) are refused by the splitter: nothing
 * unreadable is ever handed to the cache, whatever the chunking. */
START_TEST(kjs_unreadable_values_are_rejected)
{
    static const struct {
        const char *text;
        size_t len;
        bool unreadable; /* reason KJS_REASON_UNREADABLE (else malformed) */
    } bad[] = {
#define BAD(s, u) {s, sizeof s - 1, u}
        BAD("{\"items\":[{\"metadata\":{\"name\":\"a\"},\"x\":\0}]}", false),
        BAD("{\"items\":[{\"x\":[1,\0]}]}", false),
        BAD("{\"items\":[{\"x\":\"\xff\"}]}", true),
        BAD("{\"items\":[{\"x\":\"\xc0\xaf\"}]}", true),         /* overlong '/' */
        BAD("{\"items\":[{\"x\":\"\xed\xa0\x80\"}]}", true),     /* encoded surrogate */
        BAD("{\"items\":[{\"x\":\"\xf4\x90\x80\x80\"}]}", true), /* above U+10FFFF */
        BAD("{\"items\":[{\"x\":\"\xe2\x82\"}]}", true),         /* cut short */
        BAD("{\"items\":[{\"x\":\"a\x80\"}]}", true),            /* lone continuation */
        BAD("{\"items\":[{\"\xfe\":1}]}", true),                 /* in a key */
        BAD("{\"items\":[{\"x\":\"\\ud800\"}]}", true),          /* unpaired high */
        BAD("{\"items\":[{\"x\":\"\\udc00\"}]}", true),          /* unpaired low */
        BAD("{\"items\":[{\"x\":\"\\ud800\\u0041\"}]}", true),   /* high + not low */
        BAD("{\"items\":[{\"x\":\"\\ud800x\"}]}", true),         /* high + text */
        BAD("{\"items\":[{\"x\":\"\\ud800\\n\"}]}", true),       /* high + escape */
        BAD("{\"items\":[{\"x\":9223372036854775808}]}", true),  /* beyond int64 */
        BAD("{\"items\":[{\"x\":-99999999999999999999}]}", true),
        BAD("{\"items\":[{\"x\":1e400}]}", true), /* real overflow */
        BAD("{\"items\":[-1.5E+999]}", true),
#undef BAD
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (size_t chunk = 1; chunk <= bad[i].len; chunk += bad[i].len - 1) {
            struct collect c;
            collect_init(&c);
            struct kjs *s = kjs_new(KJS_ITEMS, "items", 0, &cbs, &c);
            struct kerr_info err;
            kerr_clear(&err);
            enum kerr rc = feed_chunked(s, bad[i].text, bad[i].len, chunk, &err);
            ck_assert_msg(rc == KERR_PARSE, "case %zu accepted (chunk %zu)", i, chunk);
            ck_assert_uint_eq(json_array_size(c.items), 0);
            if (bad[i].unreadable)
                ck_assert_str_eq(err.reason, KJS_REASON_UNREADABLE);
            kjs_free(s);
            collect_done(&c);
        }
    }
}
END_TEST

/* The same in a watch stream, and valid UTF-8, surrogate pairs and an
 * escaped NUL (valid JSON that an API server may send) still pass. */
START_TEST(kjs_unreadable_watch_event_is_rejected_valid_text_passes)
{
    const char ev[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"},\"x\":\0}}\n";
    struct collect c;
    collect_init(&c);
    struct kjs *s = kjs_new(KJS_DOCS, NULL, 0, &cbs, &c);
    ck_assert_int_eq(feed_chunked(s, ev, sizeof ev - 1, sizeof ev - 1, NULL), KERR_PARSE);
    ck_assert_uint_eq(json_array_size(c.items), 0);
    kjs_free(s);
    collect_done(&c);
    const char good[] =
        "{\"items\":[{\"x\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"
        "\",\"y\":\"\\ud83d\\ude00\",\"z\":\"a\\u0000b\",\"n\":[9223372036854775807,"
        "-9223372036854775808,1e-400,1.7e308]}]}";
    for (size_t chunk = 1; chunk <= 3; chunk++) {
        struct kjs_callbacks keep = {on_text, NULL};
        struct texts t = {{NULL}, 0};
        s = kjs_new(KJS_ITEMS, "items", 0, &keep, &t);
        ck_assert_int_eq(feed_chunked(s, good, sizeof good - 1, chunk, NULL), KERR_OK);
        ck_assert_uint_eq(t.n, 1);
        json_t *v = json_loads(t.t[0], JSON_ALLOW_NUL, NULL);
        ck_assert_ptr_nonnull(v);
        ck_assert_uint_eq(json_string_length(json_object_get(v, "z")), 3);
        json_decref(v);
        free(t.t[0]);
        kjs_free(s);
    }
}
END_TEST

/* ---- kjs_object_members: one complete object, spans of top-level members ---- */

static const char *const WANT[3] = {"metadata", "kind", "apiVersion"};

/* The text of span `sp` of `t` as a new string (caller frees). */
static char *span_text(const char *t, struct kjs_span sp)
{
    char *r = malloc(sp.len + 1);
    memcpy(r, t + sp.off, sp.len);
    r[sp.len] = '\0';
    return r;
}

static void expect_span(const char *t, struct kjs_span sp, const char *want)
{
    char *got = span_text(t, sp);
    ck_assert_msg(strcmp(got, want) == 0, "span '%s', want '%s' in %s", got, want, t);
    free(got);
}

/* Wherever the members sit (first, last, between values holding braces,
 * quotes and escapes, around whitespace), each span is its value's text;
 * a member of a nested object with a wanted name is not taken; a repeated
 * key gives its last value, as jansson reads it. */
START_TEST(kjs_object_members_finds_top_level_values)
{
    struct kjs_span sp[3];
    struct kerr_info err;
    const char *t = "{\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":\"}{\\\"][\\\\\"}}";
    ck_assert_int_eq(kjs_object_members(t, strlen(t), WANT, 3, sp, &err), KERR_OK);
    expect_span(t, sp[0], "{\"name\":\"a\"}");
    ck_assert_uint_eq(sp[1].len, 0);
    ck_assert_uint_eq(sp[2].len, 0);
    t = " \n{ \"spec\" : {\"metadata\":{\"name\":\"wrong\"}} , \"kind\" : \"K\\\"\" ,"
        "\"n\":[1,-2.5e3,true,null],\"apiVersion\":\"v1\",\"metadata\" : { \"name\" : \"b\" } "
        "}\r\n";
    ck_assert_int_eq(kjs_object_members(t, strlen(t), WANT, 3, sp, &err), KERR_OK);
    expect_span(t, sp[0], "{ \"name\" : \"b\" }");
    expect_span(t, sp[1], "\"K\\\"\"");
    expect_span(t, sp[2], "\"v1\"");
    t = "{\"kind\":1,\"metadata\":null,\"kind\":\"Last\"}";
    ck_assert_int_eq(kjs_object_members(t, strlen(t), WANT, 3, sp, &err), KERR_OK);
    expect_span(t, sp[0], "null");
    expect_span(t, sp[1], "\"Last\"");
    t = "{}";
    ck_assert_int_eq(kjs_object_members(t, strlen(t), WANT, 3, sp, &err), KERR_OK);
    ck_assert_uint_eq(sp[0].len + sp[1].len + sp[2].len, 0);
}
END_TEST

/* What is not one complete, readable object is refused, as kjs_feed
 * refuses a body, and no span is left set. */
START_TEST(kjs_object_members_refuses_what_is_not_one_object)
{
    static const char *const bad[] = {
        "",
        "[1]",
        "\"metadata\"",
        "{\"metadata\":{\"name\":}}",
        "{\"a\" 1}",
        "{\"metadata\":{\"name\":\"x\"}",
        "{\"metadata\":{}} {}",
        "{\"metadata\":{},}",
        "{\"kind\":tru}",
        "{\"kind\":01}",
        "{\"kind\":\"a\nb\"}",
        "{\"kind\":\"\\x\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct kjs_span sp[3] = {{1, 1}, {1, 1}, {1, 1}};
        struct kerr_info err = {0};
        ck_assert_msg(kjs_object_members(bad[i], strlen(bad[i]), WANT, 3, sp, &err) == KERR_PARSE,
                      "accepted: %s", bad[i]);
        ck_assert_uint_eq(sp[0].len + sp[1].len + sp[2].len, 0);
        ck_assert_msg(err.message[0] != '\0', "no message for %s", bad[i]);
    }
    /* text jansson cannot read: its own reason, as in a stream */
    static const char *const unreadable[] = {"{\"kind\":\"\xff\"}", "{\"kind\":\"\\ud800\"}",
                                             "{\"a\":[1e999]}", "{\"a\":99999999999999999999}",
                                             "{\"a\":{\"k\\u0000\":1}}"};
    for (size_t i = 0; i < sizeof unreadable / sizeof unreadable[0]; i++) {
        struct kjs_span sp[3];
        struct kerr_info err = {0};
        ck_assert_int_eq(
            kjs_object_members(unreadable[i], strlen(unreadable[i]), WANT, 3, sp, &err),
            KERR_PARSE);
        ck_assert_str_eq(err.reason, KJS_REASON_UNREADABLE);
    }
}
END_TEST

/* Strings longer than a word, with multi-byte UTF-8 and escapes at every
 * position relative to the eight-byte fast path, read the same as through
 * jansson; and a stream fed one byte at a time agrees. */
START_TEST(kjs_long_strings_with_utf8_and_escapes_at_every_offset)
{
    for (size_t pos = 0; pos < 20; pos++) {
        char val[64];
        memset(val, 'x', sizeof val);
        memcpy(val + pos, "\xc3\xa9\\n\xe2\x82\xac\\\"", 10);
        val[40] = '\0';
        char t[200];
        snprintf(t, sizeof t, "{\"kind\":\"%s\",\"metadata\":{\"name\":\"%s\"}}", val, val);
        struct kjs_span sp[3];
        ck_assert_int_eq(kjs_object_members(t, strlen(t), WANT, 3, sp, NULL), KERR_OK);
        json_t *k = json_loadb(t + sp[1].off, sp[1].len, JSON_DECODE_ANY, NULL);
        json_t *all = json_loads(t, 0, NULL);
        ck_assert_ptr_nonnull(k);
        ck_assert(json_equal(k, json_object_get(all, "kind")));
        json_decref(k);
        json_decref(all);
        struct collect c = {json_array(), json_object(), 0};
        struct kjs *s = kjs_new(KJS_DOCS, NULL, 0, &cbs, &c);
        for (size_t i = 0; t[i]; i++)
            ck_assert_int_eq(kjs_feed(s, t + i, 1, NULL), KERR_OK);
        ck_assert_int_eq(kjs_finish(s, NULL), KERR_OK);
        ck_assert_uint_eq(json_array_size(c.items), 1);
        kjs_free(s);
        json_decref(c.items);
        json_decref(c.fields);
    }
}
END_TEST

/* kjs_split_members, over texts a splitter hands out (nested values with
 * braces, quotes, escapes and UTF-8 in strings, repeated keys), finds
 * the same spans as kjs_object_members; what breaks the top level is
 * still refused. */
START_TEST(kjs_split_members_agrees_on_split_texts)
{
    static const char *const texts[] = {
        "{\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":\"}{\\\"][\\\\\"}}",
        "{\"kind\":\"K\\\"\",\"spec\":{\"metadata\":{\"name\":\"wrong\"},\"l\":[[],{},\"]\"]},"
        "\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"b\\u00e9\\\\\",\"x\":\"\xc3\xa9}\"}}",
        "{\"kind\":1,\"metadata\":null,\"kind\":\"Last\",\"n\":[1,-2.5e3,true,null]}",
        "{}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct kjs_span a[3], b[3];
        const char *t = texts[i];
        ck_assert_int_eq(kjs_object_members(t, strlen(t), WANT, 3, a, NULL), KERR_OK);
        ck_assert_msg(kjs_split_members(t, strlen(t), WANT, 3, b, NULL) == KERR_OK, "%s", t);
        for (size_t k = 0; k < 3; k++)
            ck_assert_msg(a[k].off == b[k].off && a[k].len == b[k].len, "member %zu of %s", k, t);
    }
    static const char *const bad[] = {"",
                                      "[1]",
                                      "{\"a\" 1}",
                                      "{\"metadata\":{\"name\":\"x\"}",
                                      "{\"metadata\":{}} {}",
                                      "{\"kind\":tru}",
                                      "{\"metadata\":{\"a\":[}}",
                                      "{\"metadata\":{\"a\":\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct kjs_span sp[3] = {{1, 1}, {1, 1}, {1, 1}};
        ck_assert_msg(kjs_split_members(bad[i], strlen(bad[i]), WANT, 3, sp, NULL) == KERR_PARSE,
                      "accepted: %s", bad[i]);
        ck_assert_uint_eq(sp[0].len + sp[1].len + sp[2].len, 0);
    }
}
END_TEST

START_TEST(kjs_skip_ws_skips_json_whitespace_only)
{
    ck_assert_uint_eq(kjs_skip_ws(" \t\r\n{", 0, 5), 4);
    ck_assert_uint_eq(kjs_skip_ws("  ", 0, 2), 2);
    ck_assert_uint_eq(kjs_skip_ws("\v{", 0, 2), 0);
    ck_assert_uint_eq(kjs_skip_ws("a {", 1, 3), 2);
}
END_TEST

static Suite *kjs_suite(void)
{
    Suite *s = suite_create("kjsonstream");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, kjs_list_whole_buffer_gives_items_and_metadata);
    tcase_add_test(tc, kjs_list_split_at_every_byte_boundary);
    tcase_add_test(tc, kjs_list_fed_one_byte_at_a_time);
    tcase_add_test(tc, kjs_item_text_is_minified_but_strings_keep_spaces);
    tcase_add_test(tc, kjs_empty_and_null_item_lists);
    tcase_add_test(tc, kjs_truncated_in_the_middle_of_an_item_fails_at_finish);
    tcase_add_test(tc, kjs_malformed_structure_is_rejected);
    tcase_add_test(tc, kjs_malformed_scalars_and_escapes_are_rejected);
    tcase_add_test(tc, kjs_unreadable_values_are_rejected);
    tcase_add_test(tc, kjs_unreadable_watch_event_is_rejected_valid_text_passes);
    tcase_add_test(tc, kjs_valid_scalars_and_escapes_pass);
    tcase_add_test(tc, kjs_item_over_the_size_cap_is_a_parse_error);
    tcase_add_test(tc, kjs_too_deep_nesting_is_rejected);
    tcase_add_test(tc, kjs_item_callback_can_stop_the_stream);
    tcase_add_test(tc, kjs_docs_mode_splits_watch_events);
    tcase_add_test(tc, kjs_docs_mode_event_cut_in_the_middle_is_truncated);
    tcase_add_test(tc, kjs_other_array_key_is_honoured);
    tcase_add_test(tc, kjs_drop_meta_key_cuts_managed_fields_of_items);
    tcase_add_test(tc, kjs_docs_mode_cuts_managed_fields_of_event_objects);
    tcase_add_test(tc, kjs_docs_mode_keeps_managed_fields_without_drop_key);
    tcase_add_test(tc, kjs_object_members_finds_top_level_values);
    tcase_add_test(tc, kjs_object_members_refuses_what_is_not_one_object);
    tcase_add_test(tc, kjs_long_strings_with_utf8_and_escapes_at_every_offset);
    tcase_add_test(tc, kjs_split_members_agrees_on_split_texts);
    tcase_add_test(tc, kjs_skip_ws_skips_json_whitespace_only);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kjs_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
