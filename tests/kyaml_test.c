/*
 * Tests for kyaml, the one YAML loader and its emitter. The "strings"
 * cases are the kubeconfig's use (all strings, first document, the small
 * alias budget): strings by default, core-schema typing on request,
 * anchors, and the errors (positions, duplicate keys, non-scalar keys,
 * alias bombs, unreadable files). The "manifests" cases are the daemon's
 * use (KYAML_MANIFESTS): typing (YAML 1.2 core schema), multiple
 * documents, anchors/aliases and merge keys, error positions, limits, and
 * the YAML emitter's round trip.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kyaml.h"

/* The kubeconfig's options, with `flags` added. */
static struct kyaml_opts small(unsigned flags)
{
    return (struct kyaml_opts){flags, NULL, KYAML_SMALL_ALIAS_NODES};
}

static json_t *load(const char *text, unsigned flags)
{
    json_t *j = NULL;
    struct kerr_info err;
    struct kyaml_opts o = small(flags);
    ck_assert_msg(kyaml_load(text, strlen(text), &o, &j, &err) == KERR_OK, "%s", err.message);
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
                     "z: null\nq: '42'\ns: 1.2.3\nempty:\nlead: 010\n",
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
    ck_assert_int_eq(json_integer_value(json_object_get(j, "lead")), 10);
    json_decref(j);
    /* .inf has no JSON value: typed, it is an error (untyped, a string) */
    struct kyaml_opts o = small(KYAML_TYPED);
    struct kerr_info err;
    ck_assert_int_eq(kyaml_load("v: .inf\n", 8, &o, &j, &err), KERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.message, ".inf"));
    j = load("v: .inf\n", 0);
    ck_assert_str_eq(json_string_value(json_object_get(j, "v")), ".inf");
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
    struct kyaml_opts o = small(0);
    ck_assert_int_eq(kyaml_load(text, strlen(text), &o, &j, &err), KERR_PARSE);
    ck_assert_ptr_null(j);
    ck_assert_msg(strstr(err.message, needle) != NULL, "'%s' not in '%s'", needle, err.message);
}

START_TEST(kyaml_errors_say_where)
{
    expect_parse_error("a: b\n c: d: e\n", "<string>:2:");
    expect_parse_error("a: 1\nb: 2\na: 3\n", "duplicate");
    expect_parse_error("? [x]\n: 1\n", "keys must be scalars");
    expect_parse_error("", "empty");
    expect_parse_error("a: [1, 2\n", "<string>:2:");
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
    expect_parse_error(bomb, "too many nodes from aliases");
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

/* What aliases add is bounded on its own (KYAML_SMALL_ALIAS_NODES), far
 * below the total budget: a document expanding to ~220,000 values (under
 * KYAML_MAX_NODES) is refused with a message naming aliases, after little
 * work. */
START_TEST(kyaml_alias_expansion_is_bounded_below_the_node_budget)
{
    expect_parse_error(LAUGHS_200K, "from aliases");
    json_t *j = NULL;
    struct kerr_info err;
    struct kyaml_opts o = small(0);
    ck_assert_int_eq(kyaml_load(ALIASES_1K, strlen(ALIASES_1K), &o, &j, &err), KERR_OK);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "d")), 10);
    json_decref(j);
}
END_TEST

START_TEST(kyaml_file_errors_name_the_file)
{
    json_t *j = NULL;
    struct kerr_info err;
    ck_assert_int_eq(kyaml_load_file("/nonexistent/x.yaml", NULL, &j, &err), KERR_IO);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/x.yaml"));
    char path[] = "/tmp/kyaml_test.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "k: [\n", 5), 5);
    close(fd);
    ck_assert_int_eq(kyaml_load_file(path, NULL, &j, &err), KERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.message, path));
    FILE *f = fopen(path, "w");
    fputs("k: v\n", f);
    fclose(f);
    ck_assert_int_eq(kyaml_load_file(path, NULL, &j, &err), KERR_OK);
    ck_assert_str_eq(json_string_value(json_object_get(j, "k")), "v");
    json_decref(j);
    char *text = NULL;
    ck_assert_int_eq(kyaml_read_file(path, 3, &text, NULL, &err), KERR_IO);
    ck_assert_ptr_null(text);
    ck_assert_ptr_nonnull(strstr(err.message, "larger than"));
    unlink(path);
}
END_TEST

/* ---- manifests (KYAML_MANIFESTS) ---- */

static const struct kyaml_opts MANIFESTS = {KYAML_MANIFESTS, NULL, 0};

static json_t *load1(const char *yaml)
{
    json_t *docs = NULL;
    struct kerr_info err;
    enum kerr rc = kyaml_load(yaml, strlen(yaml), &MANIFESTS, &docs, &err);
    ck_assert_msg(rc == KERR_OK, "load failed: %s", err.message);
    ck_assert_uint_eq(json_array_size(docs), 1);
    json_t *d = json_incref(json_array_get(docs, 0));
    json_decref(docs);
    return d;
}

static enum kerr load_err(const char *yaml, struct kerr_info *err)
{
    json_t *docs = NULL;
    enum kerr rc = kyaml_load(yaml, strlen(yaml), &MANIFESTS, &docs, err);
    if (rc == KERR_OK)
        json_decref(docs);
    return rc;
}

START_TEST(plain_scalars_follow_core_schema)
{
    json_t *d = load1("i: 42\nneg: -7\noct: 0o17\nhex: 0x1F\nf: 1.5\nexp: 1e3\nt: true\n"
                      "F: False\nn: null\ntilde: ~\nempty:\nyes: yes\non: on\ns: hello\n");
    ck_assert(json_is_integer(json_object_get(d, "i")));
    ck_assert_int_eq(json_integer_value(json_object_get(d, "i")), 42);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "neg")), -7);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "oct")), 15);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "hex")), 31);
    ck_assert(json_is_real(json_object_get(d, "f")));
    ck_assert(json_is_real(json_object_get(d, "exp")));
    ck_assert(json_real_value(json_object_get(d, "exp")) == 1000.0);
    ck_assert(json_is_true(json_object_get(d, "t")));
    ck_assert(json_is_false(json_object_get(d, "F")));
    ck_assert(json_is_null(json_object_get(d, "n")));
    ck_assert(json_is_null(json_object_get(d, "tilde")));
    ck_assert(json_is_null(json_object_get(d, "empty")));
    ck_assert_str_eq(json_string_value(json_object_get(d, "yes")), "yes");
    ck_assert_str_eq(json_string_value(json_object_get(d, "on")), "on");
    ck_assert_str_eq(json_string_value(json_object_get(d, "s")), "hello");
    json_decref(d);
}
END_TEST

START_TEST(quoted_and_block_scalars_are_strings)
{
    json_t *d = load1("a: \"42\"\nb: 'true'\nc: |\n  line1\n  line2\nd: !!str 7\ne: ''\n");
    ck_assert_str_eq(json_string_value(json_object_get(d, "a")), "42");
    ck_assert_str_eq(json_string_value(json_object_get(d, "b")), "true");
    ck_assert_str_eq(json_string_value(json_object_get(d, "c")), "line1\nline2\n");
    ck_assert_str_eq(json_string_value(json_object_get(d, "d")), "7");
    ck_assert_str_eq(json_string_value(json_object_get(d, "e")), "");
    json_decref(d);
}
END_TEST

START_TEST(explicit_tags_are_honoured_or_rejected)
{
    struct kerr_info err;
    json_t *d = load1("a: !!int \"12\"\nb: !!float 3\n");
    ck_assert_int_eq(json_integer_value(json_object_get(d, "a")), 12);
    ck_assert(json_is_real(json_object_get(d, "b")));
    json_decref(d);
    ck_assert_int_eq(load_err("a: !!int abc\n", &err), KERR_PARSE);
    ck_assert_int_eq(load_err("a: !custom x\n", &err), KERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "unsupported tag"));
}
END_TEST

START_TEST(several_documents_become_an_array_and_empty_ones_are_skipped)
{
    const char *y = "---\na: 1\n---\n---\n# only a comment\n---\n- x\n- y\n";
    json_t *docs = NULL;
    ck_assert_int_eq(kyaml_load(y, strlen(y), &MANIFESTS, &docs, NULL), KERR_OK);
    ck_assert_uint_eq(json_array_size(docs), 2);
    ck_assert(json_is_object(json_array_get(docs, 0)));
    ck_assert(json_is_array(json_array_get(docs, 1)));
    json_decref(docs);
    ck_assert_int_eq(kyaml_load("", 0, &MANIFESTS, &docs, NULL), KERR_OK);
    ck_assert_uint_eq(json_array_size(docs), 0);
    json_decref(docs);
}
END_TEST

START_TEST(aliases_are_resolved_as_copies_and_merge_keys_apply)
{
    json_t *d = load1("base: &b {x: 1, y: 2}\nuse: *b\nlist: &l [1, 2]\nl2: *l\n"
                      "merged:\n  <<: *b\n  y: 20\n  z: 3\n");
    ck_assert(json_equal(json_object_get(d, "base"), json_object_get(d, "use")));
    ck_assert_ptr_ne(json_object_get(d, "base"), json_object_get(d, "use"));
    ck_assert_uint_eq(json_array_size(json_object_get(d, "l2")), 2);
    json_t *m = json_object_get(d, "merged");
    ck_assert_int_eq(json_integer_value(json_object_get(m, "x")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "y")), 20);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "z")), 3);
    json_decref(d);
}
END_TEST

START_TEST(alias_bomb_is_an_error_not_an_oom)
{
    struct kerr_info err;
    const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    ck_assert_int_eq(load_err(bomb, &err), KERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "too many nodes"));
}
END_TEST

/* A moderate use of aliases (about 11,000 nodes copied) still loads. */
static const char *ALIASES_11K = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                                 "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                                 "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n";

/* What aliases add is bounded on its own, far below the total budget: a
 * document expanding to ~220,000 nodes (under KYAML_MAX_NODES) is
 * refused with a message naming aliases, after little work. */
START_TEST(alias_expansion_is_bounded_below_the_node_budget)
{
    struct kerr_info err;
    ck_assert_int_eq(load_err(LAUGHS_200K, &err), KERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "from aliases"));
    ck_assert_int_eq(load_err(ALIASES_11K, &err), KERR_OK);
}
END_TEST

START_TEST(unknown_and_recursive_aliases_are_errors)
{
    struct kerr_info err;
    ck_assert_int_eq(load_err("a: *nope\n", &err), KERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "unknown anchor"));
    ck_assert_int_eq(load_err("a: &x [1, *x]\n", &err), KERR_PARSE);
}
END_TEST

START_TEST(syntax_error_reports_line_and_column)
{
    struct kerr_info err;
    ck_assert_int_eq(load_err("a: 1\nb: {c: 2\n", &err), KERR_PARSE);
    ck_assert_msg(strncmp(err.message, "<string>:3:1:", 13) == 0, "got %s", err.message);
    json_t *docs = NULL;
    ck_assert_int_eq(
        kyaml_load("x: [1\n", 6, &(struct kyaml_opts){KYAML_MANIFESTS, "svc.yaml", 0}, &docs, &err),
        KERR_PARSE);
    ck_assert_msg(strncmp(err.message, "svc.yaml:", 9) == 0, "got %s", err.message);
}
END_TEST

START_TEST(duplicate_and_complex_keys_are_errors)
{
    struct kerr_info err;
    ck_assert_int_eq(load_err("a: 1\nb: 2\na: 3\n", &err), KERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "duplicate mapping key: a"));
    ck_assert_msg(strncmp(err.message, "<string>:3:1:", 13) == 0, "got %s", err.message);
    ck_assert_int_eq(load_err("? [a, b]\n: 1\n", &err), KERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "keys must be scalars"));
}
END_TEST

START_TEST(out_of_range_int_and_nan_are_errors)
{
    struct kerr_info err;
    ck_assert_int_eq(load_err("a: 99999999999999999999\n", &err), KERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "out of range"));
    ck_assert_int_eq(load_err("a: .nan\n", &err), KERR_PARSE);
    ck_assert_int_eq(load_err("a: -.inf\n", &err), KERR_PARSE);
}
END_TEST

START_TEST(nesting_too_deep_is_an_error)
{
    char buf[600];
    memset(buf, '[', 300);
    buf[300] = '\0';
    struct kerr_info err;
    ck_assert_int_eq(load_err(buf, &err), KERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "too deep"));
}
END_TEST

START_TEST(missing_file_is_an_io_error_naming_the_path)
{
    struct kerr_info err;
    json_t *docs = NULL;
    ck_assert_int_eq(kyaml_load_file("/nonexistent/x.yaml", &MANIFESTS, &docs, &err), KERR_IO);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/x.yaml"));
    ck_assert_ptr_null(docs);
}
END_TEST

START_TEST(load_file_reads_documents)
{
    char path[] = "/tmp/kyaml_test_docsXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("kind: A\n---\nkind: B\n", f);
    fclose(f);
    json_t *docs = NULL;
    ck_assert_int_eq(kyaml_load_file(path, &MANIFESTS, &docs, NULL), KERR_OK);
    unlink(path);
    ck_assert_uint_eq(json_array_size(docs), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(docs, 1), "kind")), "B");
    json_decref(docs);
}
END_TEST

START_TEST(emit_round_trips_tricky_strings)
{
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:b, s:n, s:[], s:{}, s:s}", "t",
                  "true", "n", "123", "y", "yes", "e", "", "nul", "null", "oct", "0755", "i", 5,
                  "r", 2.0, "b", 1, "z", "list", "obj", "multi", "a\nb: c");
    json_t *docs = json_pack("[O]", doc);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(kyaml_emit(f, docs, NULL), KERR_OK);
    fclose(f);
    json_t *back = NULL;
    ck_assert_int_eq(kyaml_load(buf, len, &MANIFESTS, &back, NULL), KERR_OK);
    ck_assert_msg(json_equal(json_array_get(back, 0), doc), "round trip differs:\n%s", buf);
    ck_assert_ptr_nonnull(strstr(buf, "'yes'"));
    free(buf);
    json_decref(back);
    json_decref(docs);
    json_decref(doc);
}
END_TEST

static Suite *kyaml_suite(void)
{
    Suite *s = suite_create("kyaml");
    TCase *tc = tcase_create("strings");
    tcase_add_test(tc, kyaml_scalars_are_strings_by_default);
    tcase_add_test(tc, kyaml_typed_resolves_plain_scalars_only);
    tcase_add_test(tc, kyaml_anchors_and_aliases_are_expanded);
    tcase_add_test(tc, kyaml_errors_say_where);
    tcase_add_test(tc, kyaml_alias_bomb_is_refused);
    tcase_add_test(tc, kyaml_alias_expansion_is_bounded_below_the_node_budget);
    tcase_add_test(tc, kyaml_file_errors_name_the_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("manifests");
    tcase_add_test(tc, plain_scalars_follow_core_schema);
    tcase_add_test(tc, quoted_and_block_scalars_are_strings);
    tcase_add_test(tc, explicit_tags_are_honoured_or_rejected);
    tcase_add_test(tc, several_documents_become_an_array_and_empty_ones_are_skipped);
    tcase_add_test(tc, aliases_are_resolved_as_copies_and_merge_keys_apply);
    tcase_add_test(tc, alias_bomb_is_an_error_not_an_oom);
    tcase_add_test(tc, alias_expansion_is_bounded_below_the_node_budget);
    tcase_add_test(tc, unknown_and_recursive_aliases_are_errors);
    tcase_add_test(tc, syntax_error_reports_line_and_column);
    tcase_add_test(tc, duplicate_and_complex_keys_are_errors);
    tcase_add_test(tc, out_of_range_int_and_nan_are_errors);
    tcase_add_test(tc, nesting_too_deep_is_an_error);
    tcase_add_test(tc, missing_file_is_an_io_error_naming_the_path);
    tcase_add_test(tc, load_file_reads_documents);
    tcase_add_test(tc, emit_round_trips_tricky_strings);
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
