/* Unit tests for operator/gsschema.c: the conversion keyword by keyword,
 * and the drift checks (the embedded CRD is crds/graceservice.yaml; every
 * field, type, default, enum and limit of the CRD's spec is in the schema
 * and the schema has nothing else). Run from the repository root. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gsschema.h"
#include "kyaml.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "bad test JSON: %s", e.text);
    return j;
}

static json_t *conv(const char *text)
{
    json_t *in = J(text), *out = NULL;
    struct kerr_info err = {0};
    ck_assert_int_eq(gsschema_convert(in, &out, &err), KERR_OK);
    json_decref(in);
    return out;
}

START_TEST(gsschema_rules_become_sentences_and_patterns)
{
    json_t *s = conv("{\"type\":\"string\",\"description\":\"A path.\","
                     "\"x-kubernetes-validations\":[{\"rule\":\"self.startsWith('/a.b')\","
                     "\"message\":\"must start with /a.b\"},"
                     "{\"rule\":\"self.matches('^[a-z]+$')\"},{\"rule\":\"self == oldSelf\","
                     "\"message\":\"is immutable\"}]}");
    ck_assert_str_eq(json_string_value(json_object_get(s, "description")),
                     "A path. Rule: must start with /a.b. Rule: self.matches('^[a-z]+$'). "
                     "Rule: is immutable.");
    ck_assert_str_eq(json_string_value(json_object_get(s, "pattern")), "^\\/a\\.b");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(s, "allOf"), 0), "pattern")),
                     "^[a-z]+$");
    json_decref(s);
}
END_TEST

START_TEST(gsschema_kubernetes_keywords_are_converted)
{
    json_t *s = conv("{\"type\":\"object\",\"properties\":{"
                     "\"q\":{\"x-kubernetes-int-or-string\":true},"
                     "\"n\":{\"type\":\"integer\",\"minimum\":0,\"exclusiveMinimum\":true,"
                     "\"nullable\":true},"
                     "\"s\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"set\","
                     "\"items\":{\"type\":\"string\"}},"
                     "\"m\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\","
                     "\"x-kubernetes-list-map-keys\":[\"name\"],\"items\":{\"type\":\"object\","
                     "\"x-kubernetes-preserve-unknown-fields\":true,"
                     "\"properties\":{\"name\":{\"type\":\"string\"}}}}}}");
    const json_t *p = json_object_get(s, "properties");
    ck_assert(json_is_false(json_object_get(s, "additionalProperties")));
    json_t *want = J("[\"integer\",\"string\"]");
    ck_assert(json_equal(json_object_get(json_object_get(p, "q"), "type"), want));
    json_decref(want);
    const json_t *n = json_object_get(p, "n");
    ck_assert_int_eq(json_integer_value(json_object_get(n, "exclusiveMinimum")), 0);
    ck_assert_ptr_null(json_object_get(n, "minimum"));
    want = J("[\"integer\",\"null\"]");
    ck_assert(json_equal(json_object_get(n, "type"), want));
    json_decref(want);
    ck_assert(json_is_true(json_object_get(json_object_get(p, "s"), "uniqueItems")));
    const json_t *m = json_object_get(p, "m");
    ck_assert_str_eq(json_string_value(json_object_get(m, "description")),
                     "Entries are unique by name.");
    /* preserve-unknown-fields keeps the object open */
    ck_assert_ptr_null(json_object_get(json_object_get(m, "items"), "additionalProperties"));
    json_decref(s);
}
END_TEST

START_TEST(gsschema_unknown_keyword_is_an_error_naming_its_path)
{
    json_t *in = J("{\"type\":\"object\",\"properties\":{\"a\":{\"x-kubernetes-new\":1}}}");
    json_t *out = NULL;
    struct kerr_info err = {0};
    ck_assert_int_eq(gsschema_convert(in, &out, &err), KERR_INVAL);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(err.message, "spec.a"));
    ck_assert_ptr_nonnull(strstr(err.message, "x-kubernetes-new"));
    json_decref(in);
}
END_TEST

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (run from the repository root)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

START_TEST(gsschema_embedded_crd_is_the_crd_file)
{
    size_t len;
    char *b = read_file("crds/graceservice.yaml", &len);
    ck_assert_uint_eq(len, grace_crd_yaml_len);
    ck_assert(memcmp(b, grace_crd_yaml, len) == 0);
    free(b);
}
END_TEST

/* Walk the CRD node and the schema node together: same properties, and
 * every constraint of the CRD present with the same value. */
static void same_tree(const json_t *crd, const json_t *sch, const char *path)
{
    static const char *const keys[] = {"default",   "enum",      "minLength", "maxLength",
                                       "minItems",  "maxItems",  "minimum",   "maximum",
                                       "required",  "format",    "maxProperties", NULL};
    for (const char *const *k = keys; *k; k++) {
        const json_t *a = json_object_get(crd, *k);
        if (a)
            ck_assert_msg(json_equal(a, json_object_get(sch, *k)), "%s: %s differs", path, *k);
    }
    const json_t *t = json_object_get(crd, "type");
    if (t && !json_is_true(json_object_get(crd, "x-kubernetes-int-or-string")))
        ck_assert_msg(json_equal(t, json_object_get(sch, "type")), "%s: type differs", path);
    const char *d = json_string_value(json_object_get(crd, "description"));
    if (d)
        ck_assert_msg(strncmp(json_string_value(json_object_get(sch, "description")), d,
                              strlen(d)) == 0,
                      "%s: description differs", path);
    const json_t *cp = json_object_get(crd, "properties"), *sp = json_object_get(sch, "properties");
    ck_assert_uint_eq(json_object_size(cp), json_object_size(sp));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)cp, k, v) {
        char p[1024];
        snprintf(p, sizeof p, "%s.%s", path, k);
        ck_assert_msg(json_object_get(sp, k) != NULL, "%s missing from the schema", p);
        same_tree(v, json_object_get(sp, k), p);
    }
    if (json_object_get(crd, "items"))
        same_tree(json_object_get(crd, "items"), json_object_get(sch, "items"), path);
    if (json_is_object(json_object_get(crd, "additionalProperties")))
        same_tree(json_object_get(crd, "additionalProperties"),
                  json_object_get(sch, "additionalProperties"), path);
}

START_TEST(gsschema_schema_and_crd_cannot_drift)
{
    json_t *docs = NULL, *schema = NULL;
    struct kerr_info err = {0};
    ck_assert_int_eq(kyaml_load_file("crds/graceservice.yaml",
                                     &(struct kyaml_opts){KYAML_MANIFESTS, NULL, 0}, &docs, &err),
                     KERR_OK);
    const json_t *spec = json_object_get(
        json_object_get(
            json_object_get(
                json_object_get(json_array_get(json_object_get(json_object_get(
                                                                   json_array_get(docs, 0),
                                                                   "spec"),
                                                               "versions"),
                                               0),
                                "schema"),
                "openAPIV3Schema"),
            "properties"),
        "spec");
    ck_assert_ptr_nonnull(spec);
    ck_assert_int_eq(gsschema_from_crd((const char *)grace_crd_yaml, grace_crd_yaml_len, &schema,
                                       &err),
                     KERR_OK);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(schema, "properties"), "description"));
    same_tree(spec, schema, "spec");
    json_decref(schema);
    json_decref(docs);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gsschema");
    TCase *t = tcase_create("core");
    tcase_add_test(t, gsschema_rules_become_sentences_and_patterns);
    tcase_add_test(t, gsschema_kubernetes_keywords_are_converted);
    tcase_add_test(t, gsschema_unknown_keyword_is_an_error_naming_its_path);
    tcase_add_test(t, gsschema_embedded_crd_is_the_crd_file);
    tcase_add_test(t, gsschema_schema_and_crd_cannot_drift);
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
