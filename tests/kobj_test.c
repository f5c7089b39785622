/*
 * kobj_test: managedFields stripping, accessors, labels and owners,
 * reference counting, resourceVersion comparison.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kjsonstream.h"
#include "kobj.h"
#include "kobjmeta.h"
#include "kpack.h"

static const char *DEPLOY =
    "{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\",\"metadata\":{\"name\":\"web\","
    "\"namespace\":\"shop\",\"uid\":\"u-1\",\"resourceVersion\":\"42\",\"generation\":3,"
    "\"labels\":{\"app\":\"web\",\"grace.dev/service\":\"peeps\"},"
    "\"ownerReferences\":[{\"apiVersion\":\"grace.dev/v1alpha1\",\"kind\":\"GraceService\","
    "\"name\":\"peeps\",\"uid\":\"owner-a\"},{\"apiVersion\":\"grace.dev/v1alpha1\","
    "\"kind\":\"GraceService\",\"name\":\"p2\",\"uid\":\"owner-b\",\"controller\":true}],"
    "\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Update\","
    "\"fieldsV1\":{\"f:spec\":{\"f:replicas\":{}}}}]},"
    "\"spec\":{\"replicas\":2},\"status\":{\"readyReplicas\":2}}";

static json_t *load(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    ck_assert_ptr_nonnull(j);
    return j;
}

START_TEST(kobj_strips_managed_fields_and_keeps_the_rest)
{
    json_t *in = load(DEPLOY);
    struct kobj *o = kobj_new_from_json(in);
    ck_assert_ptr_nonnull(o);
    ck_assert_ptr_null(strstr(kobj_text(o), "managedFields"));
    ck_assert_ptr_null(strstr(kobj_text(o), "kubectl"));
    ck_assert_ptr_null(strchr(kobj_text(o), ' '));
    ck_assert_uint_eq(kobj_text_len(o), strlen(kobj_text(o)));
    /* The input is not modified. */
    ck_assert_ptr_nonnull(json_object_get(json_object_get(in, "metadata"), "managedFields"));
    json_t *back = kobj_json(o);
    ck_assert_ptr_nonnull(back);
    json_t *expect = json_deep_copy(in);
    json_object_del(json_object_get(expect, "metadata"), "managedFields");
    ck_assert(json_equal(back, expect));
    /* Key order is kept: kind first, as the server sent it. */
    ck_assert_int_eq(strncmp(kobj_text(o), "{\"kind\":\"Deployment\"", 20), 0);
    json_decref(expect);
    json_decref(back);
    json_decref(in);
    kobj_unref(o);
}
END_TEST

/* From text: the same object as from the tree (the same text, accessors),
 * with kind/apiVersion inserted first when missing, managedFields stripped
 * when the text still has it, and the parsed tree handed back. */
static void same_kobj(const struct kobj *a, const struct kobj *b)
{
    ck_assert_str_eq(kobj_text(a), kobj_text(b));
    ck_assert_uint_eq(kobj_text_len(a), kobj_text_len(b));
    ck_assert_str_eq(kobj_kind(a), kobj_kind(b));
    ck_assert_str_eq(kobj_api_version(a), kobj_api_version(b));
    ck_assert_str_eq(kobj_resource_version(a), kobj_resource_version(b));
    ck_assert_str_eq(kobj_uid(a), kobj_uid(b));
    ck_assert_int_eq(kobj_generation(a), kobj_generation(b));
    ck_assert_uint_eq(kobj_label_count(a), kobj_label_count(b));
    ck_assert_uint_eq(kobj_owner_count(a), kobj_owner_count(b));
    if (kobj_controller_uid(a) || kobj_controller_uid(b))
        ck_assert_str_eq(kobj_controller_uid(a), kobj_controller_uid(b));
    for (size_t i = 0; i < kobj_label_count(a); i++)
        ck_assert_str_eq(kobj_label_value(a, i), kobj_label_value(b, i));
}

START_TEST(kobj_from_text_matches_kobj_from_tree)
{
    static const char *CM =
        "{\"metadata\":{\"name\":\"c\",\"namespace\":\"n\",\"resourceVersion\":\"5\","
        "\"ownerReferences\":[{\"uid\":\"o\",\"controller\":true}]},\"data\":{\"k\":\"v\"}}";
    const char *texts[] = {DEPLOY, CM};
    for (size_t i = 0; i < 2; i++) {
        json_t *in = load(texts[i]);
        json_t *tree = NULL;
        struct kerr_info err = {0};
        struct kobj *a = kobj_new_with_type(in, "v1", "ConfigMap");
        struct kobj *b =
            kobj_new_from_text(texts[i], strlen(texts[i]), "v1", "ConfigMap", &tree, &err);
        ck_assert_ptr_nonnull(b);
        ck_assert_ptr_nonnull(tree);
        ck_assert(json_equal(tree, in));
        same_kobj(a, b);
        json_t *back = kobj_json(b);
        ck_assert_ptr_nonnull(back);
        json_decref(back);
        json_decref(tree);
        json_decref(in);
        kobj_unref(a);
        kobj_unref(b);
    }
    ck_assert_int_eq(strncmp(texts[1], "{\"metadata\"", 11), 0);
}
END_TEST

START_TEST(kobj_from_text_rejects_bad_json_and_ignores_unnamed)
{
    struct kerr_info err = {0};
    json_t *tree = (json_t *)1;
    ck_assert_ptr_null(kobj_new_from_text("{\"metadata\":", 12, NULL, NULL, &tree, &err));
    ck_assert_ptr_null(tree);
    ck_assert_str_eq(err.reason, "BadJSON");
    struct kerr_info err2 = {0};
    const char *unnamed = "{\"metadata\":{\"namespace\":\"x\"}}";
    ck_assert_ptr_null(kobj_new_from_text(unnamed, strlen(unnamed), NULL, NULL, NULL, &err2));
    ck_assert_str_eq(err2.message, "");
}
END_TEST

/* Metadata only: the same kobj as a full parse for objects whose metadata
 * sits first, last or between members holding braces, quotes and escapes
 * in strings; the view holds metadata (and kind / apiVersion), no more. */
START_TEST(kobj_from_text_meta_matches_the_full_parse)
{
    static const char *const texts[] = {
        "{\"metadata\":{\"name\":\"c\",\"namespace\":\"n\",\"resourceVersion\":\"5\","
        "\"labels\":{\"a\":\"b\"}},\"data\":{\"k\":\"v\"}}",
        "{\"kind\":\"Secret\",\"data\":{\"k\":\"}{\\\"][\\\\\"},\"n\":[1,{\"m\":null}],"
        "\"t\":true,\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"s\",\"uid\":\"u\","
        "\"ownerReferences\":[{\"uid\":\"o\",\"controller\":true}],\"generation\":4,"
        "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"}}",
        "{\"spec\":{\"metadata\":{\"name\":\"wrong\"}},\"metadata\":{\"name\":\"right\"},"
        "\"x\":-1.5e3}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct kerr_info err = {0};
        json_t *view = NULL;
        struct kobj *a =
            kobj_new_from_text(texts[i], strlen(texts[i]), "v1", "ConfigMap", NULL, &err);
        struct kobj *b =
            kobj_new_from_text_meta(texts[i], strlen(texts[i]), "v1", "ConfigMap", &view, &err);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        same_kobj(a, b);
        ck_assert_str_eq(kobj_name(a), kobj_name(b));
        ck_assert_int_eq(kobj_deleting(a), kobj_deleting(b));
        ck_assert_ptr_nonnull(json_object_get(view, "metadata"));
        ck_assert_ptr_null(json_object_get(view, "data"));
        ck_assert_ptr_null(json_object_get(view, "spec"));
        json_decref(view);
        /* the same text as a splitter hands it out: the same kobj and view */
        json_t *sview = NULL;
        struct kobj *c =
            kobj_new_from_split_meta(texts[i], strlen(texts[i]), "v1", "ConfigMap", &sview, &err);
        ck_assert_ptr_nonnull(c);
        same_kobj(a, c);
        ck_assert_int_eq(kobj_deleting(a), kobj_deleting(c));
        ck_assert_ptr_nonnull(json_object_get(sview, "metadata"));
        ck_assert_ptr_null(json_object_get(sview, "data"));
        json_decref(sview);
        kobj_unref(c);
        kobj_unref(a);
        kobj_unref(b);
    }
    /* managedFields still in the text: stripped the slow way */
    json_t *view = NULL;
    struct kobj *d = kobj_new_from_text_meta(DEPLOY, strlen(DEPLOY), NULL, NULL, &view, NULL);
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_null(strstr(kobj_text(d), "managedFields"));
    ck_assert_ptr_nonnull(view);
    json_decref(view);
    kobj_unref(d);
}
END_TEST

/* Every field kobj keeps, compared (same_kobj and more). */
static void identical_kobj(const struct kobj *a, const struct kobj *b)
{
    same_kobj(a, b);
    ck_assert_str_eq(kobj_name(a), kobj_name(b));
    ck_assert_str_eq(kobj_namespace(a), kobj_namespace(b));
    ck_assert_int_eq(kobj_deleting(a), kobj_deleting(b));
    for (size_t i = 0; i < kobj_label_count(a); i++)
        ck_assert_str_eq(kobj_label_key(a, i), kobj_label_key(b, i));
    for (size_t i = 0; i < kobj_owner_count(a); i++)
        ck_assert_str_eq(kobj_owner_uid(a, i), kobj_owner_uid(b, i));
}

#define M(meta) "{\"metadata\":" meta ",\"spec\":{\"x\":[1,{\"y\":\"}\"}]}}"

/* Metadata shapes: the first ones kobjmeta reads itself, the others it
 * leaves to jansson (`read` false); either way the kobj made without a
 * tree is the one made with it. */
START_TEST(kobj_meta_without_a_tree_matches_jansson)
{
    static const struct {
        const char *text;
        bool read;
    } cases[] = {
        {M("{\"name\":\"d\",\"namespace\":\"grace\",\"uid\":\"6f1c-1\",\"resourceVersion\":\"77\","
           "\"generation\":3,\"creationTimestamp\":\"2026-12-06T00:00:00Z\",\"labels\":{"
           "\"app.kubernetes.io/managed-by\":\"grace-operator\",\"grace.dev/service\":\"p\"},"
           "\"annotations\":{\"a\":\"{[\\\"\"},\"ownerReferences\":[{\"apiVersion\":\"grace.dev/"
           "v1alpha1\",\"kind\":\"GraceService\",\"name\":\"p\",\"uid\":\"g-1\",\"controller\":"
           "true,"
           "\"blockOwnerDeletion\":true}]}"),
         true},
        {M("{\"name\":\"a\",\"name\":\"b\",\"labels\":null,\"ownerReferences\":{}}"), true},
        {M("{\"name\":\"a\",\"namespace\":7,\"uid\":null,\"labels\":[1],\"generation\":-4}"), true},
        {M("{\"name\":\"a\",\"ownerReferences\":[{\"controller\":false},{\"uid\":\"x\","
           "\"controller\":null},{\"uid\":\"y\",\"controller\":true},{\"uid\":\"z\","
           "\"controller\":true}]}"),
         true},
        {M("{\"name\":\"a\",\"deletionTimestamp\":null,\"labels\":{}}"), true},
        {M("{\"name\":\"a\",\"deletionTimestamp\":\"2026-12-06T00:00:00Z\"}"), true},
        {M("{\"name\":\"a\",\"labels\":{\"k\":\"v\xc3\xa9\"},\"ownerReferences\":[]}"), true},
        {" { \"metadata\" : { \"name\" : \"a\" , \"labels\" : { \"k\" : \"v\" } } } ", true},
        {M("{\"name\":\"a\\u0062\"}"), false},
        {M("{\"name\":\"a\",\"labels\":{\"k\":\"v\\n\"}}"), false},
        {M("{\"name\":\"a\",\"labels\":{\"k\":1}}"), false},
        {M("{\"name\":\"a\",\"labels\":{\"k\":\"1\",\"k\":\"2\"}}"), false},
        {M("{\"name\":\"a\",\"generation\":1.5}"), false},
        {M("{\"name\":\"a\",\"generation\":1234567890123456789}"), false},
        {M("{\"name\":\"a\",\"ownerReferences\":[1]}"), false},
        {M("{\"na\\u006de\":\"a\"}"), false},
        {M("{\"name\":\"a\",\"managedFields\":[{\"manager\":\"m\"}]}"), false},
        {M("{\"name\":1}"), false},
        /* metadata read, the escaped kind left to jansson */
        {"{\"kind\":\"K\\u0031\",\"metadata\":{\"name\":\"a\"}}", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *t = cases[i].text;
        size_t len = strlen(t);
        struct kjs_span sp[1];
        static const char *const want[1] = {"metadata"};
        ck_assert_int_eq(kjs_object_members(t, len, want, 1, sp, NULL), KERR_OK);
        struct kobjmeta m;
        struct kobjmeta_buf buf;
        bool read = kobjmeta_read(t + sp[0].off, sp[0].len, &buf, &m) && m.has_name;
        ck_assert_msg(read == cases[i].read, "case %zu: read %d", i, read);
        for (int typed = 0; typed < 2; typed++) {
            const char *av = typed ? "v1" : NULL, *kind = typed ? "ConfigMap" : NULL;
            json_t *view = NULL, *sview = NULL;
            struct kobj *a = kobj_new_from_text_meta(t, len, av, kind, &view, NULL);
            struct kobj *b = kobj_new_from_text_meta(t, len, av, kind, NULL, NULL);
            struct kobj *c = kobj_new_from_split_meta(t, len, av, kind, &sview, NULL);
            struct kobj *d = kobj_new_from_split_meta(t, len, av, kind, NULL, NULL);
            ck_assert_msg(!a == !b && !c == !d && !a == !c, "case %zu", i);
            if (a) {
                identical_kobj(a, b);
                identical_kobj(c, d);
            }
            json_decref(view);
            json_decref(sview);
            kobj_unref(a);
            kobj_unref(b);
            kobj_unref(c);
            kobj_unref(d);
        }
    }
}
END_TEST

/* More labels or owners than kobjmeta has room for: jansson's path, all
 * of them kept. */
START_TEST(kobj_meta_without_a_tree_keeps_every_label)
{
    char t[4096];
    size_t n = (size_t)snprintf(t, sizeof t, "{\"metadata\":{\"name\":\"a\",\"labels\":{");
    for (int i = 0; i < KOBJMETA_MAX_LABELS + 3; i++)
        n += (size_t)snprintf(t + n, sizeof t - n, "%s\"k%d\":\"v%d\"", i ? "," : "", i, i);
    n += (size_t)snprintf(t + n, sizeof t - n, "}}}");
    struct kobj *o = kobj_new_from_split_meta(t, n, NULL, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(kobj_label_count(o), KOBJMETA_MAX_LABELS + 3);
    ck_assert_str_eq(kobj_label(o, "k34"), "v34");
    kobj_unref(o);
}
END_TEST

START_TEST(kobj_from_text_meta_rejects_bad_metadata_and_ignores_unnamed)
{
    static const char *const bad[] = {"[1]", "{\"metadata\":{\"name\":}}", "{\"a\" 1}",
                                      "{\"metadata\":{\"name\":\"x\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct kerr_info err = {0};
        json_t *view = (json_t *)1;
        ck_assert_ptr_null(
            kobj_new_from_text_meta(bad[i], strlen(bad[i]), NULL, NULL, &view, &err));
        ck_assert_ptr_null(view);
        ck_assert_msg(strcmp(err.reason, "BadJSON") == 0, "%s: reason '%s'", bad[i], err.reason);
        /* the split constructor too: the top level and metadata are still read */
        struct kerr_info err2 = {0};
        ck_assert_ptr_null(
            kobj_new_from_split_meta(bad[i], strlen(bad[i]), NULL, NULL, NULL, &err2));
        ck_assert_str_eq(err2.reason, "BadJSON");
    }
    static const char *const unnamed[] = {"{\"spec\":{}}", "{\"metadata\":{\"uid\":\"u\"}}",
                                          "{\"metadata\":\"x\"}"};
    for (size_t i = 0; i < sizeof unnamed / sizeof unnamed[0]; i++) {
        struct kerr_info err = {0};
        ck_assert_ptr_null(
            kobj_new_from_text_meta(unnamed[i], strlen(unnamed[i]), NULL, NULL, NULL, &err));
        ck_assert_str_eq(err.message, "");
    }
}
END_TEST

START_TEST(kobj_accessors_read_metadata)
{
    json_t *in = load(DEPLOY);
    struct kobj *o = kobj_new_from_json(in);
    json_decref(in); /* the kobj does not depend on the tree */
    ck_assert_str_eq(kobj_namespace(o), "shop");
    ck_assert_str_eq(kobj_name(o), "web");
    ck_assert_str_eq(kobj_uid(o), "u-1");
    ck_assert_str_eq(kobj_resource_version(o), "42");
    ck_assert_str_eq(kobj_kind(o), "Deployment");
    ck_assert_str_eq(kobj_api_version(o), "apps/v1");
    ck_assert_int_eq(kobj_generation(o), 3);
    ck_assert(!kobj_deleting(o));
    kobj_unref(o);
}
END_TEST

START_TEST(kobj_labels_and_owner_references)
{
    json_t *in = load(DEPLOY);
    struct kobj *o = kobj_new_from_json(in);
    json_decref(in);
    ck_assert_str_eq(kobj_label(o, "app"), "web");
    ck_assert_str_eq(kobj_label(o, "grace.dev/service"), "peeps");
    ck_assert_ptr_null(kobj_label(o, "missing"));
    ck_assert_uint_eq(kobj_label_count(o), 2);
    ck_assert_str_eq(kobj_label_key(o, 0), "app");
    ck_assert_str_eq(kobj_label_value(o, 1), "peeps");
    ck_assert_ptr_null(kobj_label_key(o, 2));
    ck_assert(kobj_owned_by(o, "owner-a"));
    ck_assert(kobj_owned_by(o, "owner-b"));
    ck_assert(!kobj_owned_by(o, "owner-c"));
    ck_assert_str_eq(kobj_controller_uid(o), "owner-b");
    ck_assert_uint_eq(kobj_owner_count(o), 2);
    ck_assert_str_eq(kobj_owner_uid(o, 0), "owner-a");
    kobj_unref(o);
}
END_TEST

START_TEST(kobj_minimal_object_reads_empty_fields)
{
    json_t *in =
        load("{\"metadata\":{\"name\":\"x\",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"}}");
    struct kobj *o = kobj_new_from_json(in);
    json_decref(in);
    ck_assert_str_eq(kobj_namespace(o), "");
    ck_assert_str_eq(kobj_uid(o), "");
    ck_assert_str_eq(kobj_kind(o), "");
    ck_assert_int_eq(kobj_generation(o), 0);
    ck_assert(kobj_deleting(o));
    ck_assert_uint_eq(kobj_label_count(o), 0);
    ck_assert_ptr_null(kobj_controller_uid(o));
    ck_assert(!kobj_owned_by(o, ""));
    kobj_unref(o);
}
END_TEST

START_TEST(kobj_rejects_non_objects_and_nameless_objects)
{
    json_t *a = load("[1,2]");
    json_t *b = load("{\"metadata\":{\"namespace\":\"x\"}}");
    json_t *c = load("{\"metadata\":{\"name\":7}}");
    ck_assert_ptr_null(kobj_new_from_json(a));
    ck_assert_ptr_null(kobj_new_from_json(b));
    ck_assert_ptr_null(kobj_new_from_json(c));
    ck_assert_ptr_null(kobj_new_from_json(NULL));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}
END_TEST

START_TEST(kobj_with_type_fills_missing_kind_only)
{
    json_t *in = load("{\"metadata\":{\"name\":\"cm\",\"namespace\":\"d\"},\"data\":{}}");
    struct kobj *o = kobj_new_with_type(in, "v1", "ConfigMap");
    ck_assert_str_eq(kobj_kind(o), "ConfigMap");
    ck_assert_str_eq(kobj_api_version(o), "v1");
    ck_assert_int_eq(strncmp(kobj_text(o), "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\"", 37), 0);
    kobj_unref(o);
    json_decref(in);
    in = load(DEPLOY);
    o = kobj_new_with_type(in, "v9", "Other");
    ck_assert_str_eq(kobj_kind(o), "Deployment");
    ck_assert_str_eq(kobj_api_version(o), "apps/v1");
    kobj_unref(o);
    json_decref(in);
}
END_TEST

START_TEST(kobj_json_returns_a_private_tree)
{
    json_t *in = load(DEPLOY);
    struct kobj *o = kobj_new_from_json(in);
    json_decref(in);
    json_t *a = kobj_json(o);
    json_object_set_new(a, "spec", json_string("edited"));
    json_t *b = kobj_json(o);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(b, "spec"), "replicas")),
                     2);
    ck_assert_ptr_ne(a, b);
    json_decref(a);
    json_decref(b);
    kobj_unref(o);
}
END_TEST

START_TEST(kobj_refcount_keeps_object_until_last_unref)
{
    json_t *in = load(DEPLOY);
    struct kobj *o = kobj_new_from_json(in);
    json_decref(in);
    ck_assert_ptr_eq(kobj_ref(o), o);
    kobj_unref(o);
    ck_assert_str_eq(kobj_name(o), "web"); /* still alive: one reference left */
    kobj_unref(o);
    kobj_unref(NULL);
    ck_assert_ptr_null(kobj_ref(NULL));
}
END_TEST

static void *ref_churn(void *arg)
{
    for (int i = 0; i < 100000; i++) {
        kobj_ref(arg);
        kobj_unref(arg);
    }
    return NULL;
}

START_TEST(kobj_refcount_is_thread_safe)
{
    json_t *in = load(DEPLOY);
    struct kobj *o = kobj_new_from_json(in);
    json_decref(in);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, ref_churn, o);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ck_assert_str_eq(kobj_uid(o), "u-1");
    kobj_unref(o);
}
END_TEST

START_TEST(kobj_rv_cmp_is_numeric_then_opaque)
{
    ck_assert_int_lt(kobj_rv_cmp("9", "10"), 0);
    ck_assert_int_gt(kobj_rv_cmp("100", "99"), 0);
    ck_assert_int_eq(kobj_rv_cmp("42", "42"), 0);
    ck_assert_int_eq(kobj_rv_cmp("abc", "abc"), 0);
    ck_assert_int_gt(kobj_rv_cmp("abc", "abd"), 0);
    ck_assert_int_gt(kobj_rv_cmp("5", ""), 0);
    ck_assert_int_gt(kobj_rv_cmp("12x", "12"), 0);
}
END_TEST

/* A text with whitespace before its '{' (or around the members) that gets
 * kind / apiVersion inserted is still read back: kobj does not assume the
 * text starts with '{'. */
START_TEST(kobj_from_text_with_leading_whitespace_reads_back)
{
    const char *texts[] = {" \n\t{\"metadata\":{\"name\":\"a\"}}",
                           "{ \"metadata\" : {\"name\":\"a\"} }",
                           "\r\n{\"metadata\":{\"name\":\"a\"},\"x\":[1]}\n"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        for (int meta = 0; meta < 2; meta++) {
            const char *t = texts[i];
            struct kobj *o = meta
                                 ? kobj_new_from_text_meta(t, strlen(t), "v1", "Secret", NULL, NULL)
                                 : kobj_new_from_text(t, strlen(t), "v1", "Secret", NULL, NULL);
            ck_assert_ptr_nonnull(o);
            json_t *j = kobj_json(o);
            ck_assert_msg(j != NULL, "unreadable: %s", kobj_text(o));
            ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "Secret");
            ck_assert_str_eq(json_string_value(json_object_get(j, "apiVersion")), "v1");
            ck_assert_str_eq(kobj_name(o), "a");
            json_decref(j);
            kobj_unref(o);
        }
    }
}
END_TEST

/* "\u0000" is valid JSON that an API server sends for a NUL character in a
 * string: such an object is cached and read back, wherever the escape is. */
START_TEST(kobj_escaped_nul_is_readable)
{
    const char *texts[] = {"{\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":\"x\\u0000y\"}}",
                           "{\"metadata\":{\"name\":\"a\",\"labels\":{\"l\":\"\\u0000\"}}}",
                           "{\"kind\":\"K\\u0000\",\"metadata\":{\"name\":\"a\"}}"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        for (int meta = 0; meta < 2; meta++) {
            const char *t = texts[i];
            struct kerr_info err = {0};
            struct kobj *o = meta ? kobj_new_from_text_meta(t, strlen(t), NULL, NULL, NULL, &err)
                                  : kobj_new_from_text(t, strlen(t), NULL, NULL, NULL, &err);
            ck_assert_msg(o != NULL, "refused (%d): %s: %s", meta, t, err.message);
            json_t *j = kobj_json(o);
            ck_assert_msg(j != NULL, "cached but unreadable: %s", t);
            json_decref(j);
            kobj_unref(o);
        }
    }
}
END_TEST

/* A kind or apiVersion that needs escaping is inserted as valid JSON (the
 * plain ones are quoted as they are, without jansson). */
START_TEST(kobj_inserted_type_is_escaped_when_it_must_be)
{
    static const char t[] = " {\"metadata\":{\"name\":\"a\"},\"data\":{}}";
    for (int meta = 0; meta < 2; meta++) {
        struct kobj *o =
            meta ? kobj_new_from_split_meta(t, sizeof t - 1, "g/v\t1", "K\"ind", NULL, NULL)
                 : kobj_new_from_text(t, sizeof t - 1, "g/v\t1", "K\"ind", NULL, NULL);
        ck_assert_ptr_nonnull(o);
        ck_assert_str_eq(kobj_kind(o), "K\"ind");
        ck_assert_str_eq(kobj_api_version(o), "g/v\t1");
        json_t *j = kobj_json(o);
        ck_assert_ptr_nonnull(j);
        ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "K\"ind");
        ck_assert_str_eq(json_string_value(json_object_get(j, "apiVersion")), "g/v\t1");
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "metadata"), "name")),
                         "a");
        json_decref(j);
        kobj_unref(o);
    }
}
END_TEST

/* metadata members compared: both absent is the same, one absent is not,
 * a member of the same name elsewhere in the object is not read, the same
 * value written another way is the same, packed and plain texts compare
 * alike. */
static struct kobj *meta_obj(const char *meta_extra, const char *data)
{
    char t[1024];
    snprintf(t, sizeof t, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"%s},\"data\":%s}",
             meta_extra, data);
    struct kobj *o = kobj_new_from_text(t, strlen(t), "v1", "ConfigMap", NULL, NULL);
    ck_assert_ptr_nonnull(o);
    return o;
}

START_TEST(kobj_meta_members_same_compares_their_text)
{
    static const char *const keys[] = {"finalizers", "annotations"};
    const char *fin = ",\"finalizers\":[\"grace.dev/cleanup\"]";
    const char *ann = ",\"annotations\":{\"a\":\"1\",\"b\":\"2\"}";
    char both[256];
    snprintf(both, sizeof both, "%s%s", fin, ann);
    struct kobj *none = meta_obj("", "{}");
    struct kobj *none2 = meta_obj(",\"labels\":{\"x\":\"y\"}", "{\"finalizers\":[\"z\"]}");
    struct kobj *f = meta_obj(fin, "{}");
    struct kobj *fa = meta_obj(both, "{\"k\":\"v\"}");
    struct kobj *fa2 = meta_obj(both, "{}");
    struct kobj *fb = meta_obj(",\"finalizers\":[\"grace.dev/cleanup\"],"
                               "\"annotations\":{\"a\":\"1\",\"b\":\"3\"}",
                               "{}");
    struct kobj *empty = meta_obj(",\"finalizers\":[]", "{}");
    /* the value of fa2 written another way: key order, escapes */
    struct kobj *fa_form = meta_obj(",\"finalizers\":[\"grace.dev\\/cleanup\"],"
                                    "\"annotations\":{\"b\":\"2\",\"a\":\"\\u0031\"}",
                                    "{}");
    ck_assert(kobj_meta_members_same(none, none2, keys, 2));
    ck_assert(kobj_meta_members_same(fa, fa2, keys, 2));
    ck_assert(!kobj_meta_members_same(none, f, keys, 2));
    ck_assert(!kobj_meta_members_same(f, fa, keys, 2));
    ck_assert(kobj_meta_members_same(f, fa, keys, 1));
    ck_assert(!kobj_meta_members_same(fa, fb, keys, 2));
    ck_assert(!kobj_meta_members_same(none, empty, keys, 1));
    ck_assert(kobj_meta_members_same(fa2, fa_form, keys, 2));
    ck_assert(!kobj_meta_members_same(fb, fa_form, keys, 2));
    static const char *const many[KOBJ_MAX_SAME_KEYS + 1] = {"a", "b", "c", "d", "e",
                                                             "f", "g", "h", "i"};
    ck_assert(!kobj_meta_members_same(fa, fa2, many, KOBJ_MAX_SAME_KEYS + 1));
    ck_assert(kobj_meta_members_same(fa, fa2, many, KOBJ_MAX_SAME_KEYS));
    struct kpack *pack = kpack_new();
    struct kobj *copy = kobj_packed_copy(fa2, pack);
    ck_assert_ptr_nonnull(copy);
    ck_assert(kobj_packed(copy));
    ck_assert(kobj_meta_members_same(fa, copy, keys, 2));
    ck_assert(!kobj_meta_members_same(copy, fb, keys, 2));
    kobj_unref(copy);
    kpack_unref(pack);
    struct kobj *all[] = {none, none2, f, fa, fa2, fb, empty, fa_form};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        kobj_unref(all[i]);
}
END_TEST

static Suite *kobj_suite(void)
{
    Suite *s = suite_create("kobj");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, kobj_strips_managed_fields_and_keeps_the_rest);
    tcase_add_test(tc, kobj_accessors_read_metadata);
    tcase_add_test(tc, kobj_labels_and_owner_references);
    tcase_add_test(tc, kobj_minimal_object_reads_empty_fields);
    tcase_add_test(tc, kobj_rejects_non_objects_and_nameless_objects);
    tcase_add_test(tc, kobj_with_type_fills_missing_kind_only);
    tcase_add_test(tc, kobj_json_returns_a_private_tree);
    tcase_add_test(tc, kobj_refcount_keeps_object_until_last_unref);
    tcase_add_test(tc, kobj_refcount_is_thread_safe);
    tcase_add_test(tc, kobj_rv_cmp_is_numeric_then_opaque);
    tcase_add_test(tc, kobj_from_text_matches_kobj_from_tree);
    tcase_add_test(tc, kobj_from_text_rejects_bad_json_and_ignores_unnamed);
    tcase_add_test(tc, kobj_from_text_meta_matches_the_full_parse);
    tcase_add_test(tc, kobj_from_text_meta_rejects_bad_metadata_and_ignores_unnamed);
    tcase_add_test(tc, kobj_meta_without_a_tree_matches_jansson);
    tcase_add_test(tc, kobj_meta_without_a_tree_keeps_every_label);
    tcase_add_test(tc, kobj_inserted_type_is_escaped_when_it_must_be);
    tcase_add_test(tc, kobj_from_text_with_leading_whitespace_reads_back);
    tcase_add_test(tc, kobj_escaped_nul_is_readable);
    tcase_add_test(tc, kobj_meta_members_same_compares_their_text);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kobj_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
