/*
 * Tests for kyaml: YAML to jansson, strings by default, core-schema typing
 * on request, anchors, and the errors (line numbers, duplicate keys,
 * non-scalar keys, alias bombs, unreadable files).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kyaml.h"

static json_t *load(const char *text, unsigned flags)
{
    json_t *j = NULL;
    struct kerr_info err;
    ck_assert_msg(kyaml_load_string_ex(text, strlen(text), flags, &j, &err) == KERR_OK, "%s",
                  err.message);
    return j;
}

START_TEST(kyaml_scalars_are_strings_by_default)
{
    json_t *j = load("a: 1\nb: true\nc: ~\nd: 'x'\ne: [1, two]\nf: {g: h}\n", 0);
    ck_assert_str_eq(json_string_value(json_object_get(j, "a")), "1");
    ck_assert_str_eq(json_string_value(json_object_get(j, "b")), "true");
    ck_assert_str_eq(json_string_value(json_object_get(j, "c")), "~");
    ck_assert_str_eq(json_string_value(json_object_get(j, "d")), "x");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "e"), 1)), "two");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "f"), "g")), "h");
    json_decref(j);
}
END_TEST

START_TEST(kyaml_typed_resolves_plain_scalars_only)
{
    json_t *j = load("i: 42\nn: -7\nx: 0x1f\no: 0o17\nr: 2.5\ne: 1e3\nt: true\nF: False\n"
                     "z: null\nq: '42'\ns: 1.2.3\nv: .inf\nempty:\nlead: 010\n",
                     KYAML_TYPED);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "i")), 42);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "n")), -7);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "x")), 31);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "o")), 15);
    ck_assert(json_real_value(json_object_get(j, "r")) == 2.5);
    ck_assert(json_real_value(json_object_get(j, "e")) == 1000.0);
    ck_assert(json_is_true(json_object_get(j, "t")));
    ck_assert(json_is_false(json_object_get(j, "F")));
    ck_assert(json_is_null(json_object_get(j, "z")));
    ck_assert(json_is_null(json_object_get(j, "empty")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "q")), "42");
    ck_assert_str_eq(json_string_value(json_object_get(j, "s")), "1.2.3");
    ck_assert_str_eq(json_string_value(json_object_get(j, "v")), ".inf");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "lead")), 10);
    json_decref(j);
}
END_TEST

START_TEST(kyaml_anchors_and_aliases_are_expanded)
{
    json_t *j = load("base: &b {x: 1}\ncopy: *b\n", 0);
    ck_assert(json_equal(json_object_get(j, "base"), json_object_get(j, "copy")));
    json_decref(j);
}
END_TEST

static void expect_parse_error(const char *text, const char *needle)
{
    json_t *j = (json_t *)0x1;
    struct kerr_info err;
    ck_assert_int_eq(kyaml_load_string(text, strlen(text), &j, &err), KERR_PARSE);
    ck_assert_ptr_null(j);
    ck_assert_msg(strstr(err.message, needle) != NULL, "'%s' not in '%s'", needle, err.message);
}

START_TEST(kyaml_errors_say_where)
{
    expect_parse_error("a: b\n c: d: e\n", "line 2");
    expect_parse_error("a: 1\nb: 2\na: 3\n", "duplicate");
    expect_parse_error("? [x]\n: 1\n", "not a scalar");
    expect_parse_error("", "empty");
    expect_parse_error("a: [1, 2\n", "line");
}
END_TEST

START_TEST(kyaml_alias_bomb_is_refused)
{
    const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    expect_parse_error(bomb, "too many values");
}
END_TEST

static const char *LAUGHS_200K = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                                 "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                                 "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                                 "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                                 "f: [*e, *e]\n";

/* A moderate use of aliases (about 1,100 values copied) still loads. */
static const char *ALIASES_1K = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                                "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                "d: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n";

/* What aliases add is bounded on its own (KYAML_MAX_ALIAS_NODES), far
 * below the total budget: a document expanding to ~220,000 values (under
 * KYAML_MAX_NODES) is refused with a message naming aliases, after little
 * work. */
START_TEST(kyaml_alias_expansion_is_bounded_below_the_node_budget)
{
    expect_parse_error(LAUGHS_200K, "from aliases");
    json_t *j = NULL;
    struct kerr_info err;
    ck_assert_int_eq(kyaml_load_string(ALIASES_1K, strlen(ALIASES_1K), &j, &err), KERR_OK);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "d")), 10);
    json_decref(j);
}
END_TEST

START_TEST(kyaml_file_errors_name_the_file)
{
    json_t *j = NULL;
    struct kerr_info err;
    ck_assert_int_eq(kyaml_load_file("/nonexistent/x.yaml", &j, &err), KERR_IO);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/x.yaml"));
    char path[] = "/tmp/kyaml_test.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "k: [\n", 5), 5);
    close(fd);
    ck_assert_int_eq(kyaml_load_file(path, &j, &err), KERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.message, path));
    FILE *f = fopen(path, "w");
    fputs("k: v\n", f);
    fclose(f);
    ck_assert_int_eq(kyaml_load_file(path, &j, &err), KERR_OK);
    ck_assert_str_eq(json_string_value(json_object_get(j, "k")), "v");
    json_decref(j);
    char *text = NULL;
    ck_assert_int_eq(kyaml_read_file(path, 3, &text, NULL, &err), KERR_IO);
    ck_assert_ptr_null(text);
    ck_assert_ptr_nonnull(strstr(err.message, "larger than"));
    unlink(path);
}
END_TEST

static Suite *kyaml_suite(void)
{
    Suite *s = suite_create("kyaml");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, kyaml_scalars_are_strings_by_default);
    tcase_add_test(tc, kyaml_typed_resolves_plain_scalars_only);
    tcase_add_test(tc, kyaml_anchors_and_aliases_are_expanded);
    tcase_add_test(tc, kyaml_errors_say_where);
    tcase_add_test(tc, kyaml_alias_bomb_is_refused);
    tcase_add_test(tc, kyaml_alias_expansion_is_bounded_below_the_node_budget);
    tcase_add_test(tc, kyaml_file_errors_name_the_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kyaml_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
