/*
 * khash_test: the project's hash function is FNV-1a (published test
 * vectors), streams field by field, and separators keep fields apart.
 */
#include <check.h>
#include <stdlib.h>

#include "khash.h"

START_TEST(khash_matches_the_fnv1a_test_vectors)
{
    ck_assert_uint_eq(khash_str(KHASH_INIT, ""), 0xcbf29ce484222325ULL);
    ck_assert_uint_eq(khash_str(KHASH_INIT, "a"), 0xaf63dc4c8601ec8cULL);
    ck_assert_uint_eq(khash_str(KHASH_INIT, "foobar"), 0x85944171f73967e8ULL);
    ck_assert_uint_eq(khash32_str("a", 1), 0xe40c292cu);
    ck_assert_uint_eq(khash32_str("foobar", 6), 0xbf9cf968u);
}
END_TEST

START_TEST(khash_streams_and_separators_keep_fields_apart)
{
    ck_assert_uint_eq(khash_str(khash_str(KHASH_INIT, "foo"), "bar"),
                      khash_str(KHASH_INIT, "foobar"));
    uint64_t ab_c = khash_str(khash_step(khash_str(KHASH_INIT, "ab"), 0xff), "c");
    uint64_t a_bc = khash_str(khash_step(khash_str(KHASH_INIT, "a"), 0xff), "bc");
    ck_assert_uint_ne(ab_c, a_bc);
    ck_assert_uint_eq(khash_str(KHASH_INIT, NULL), KHASH_INIT);
}
END_TEST

/* khash_field is a string then the 0xff terminator; its values are
 * persisted by callers, so one is pinned. */
START_TEST(khash_field_is_the_string_then_a_terminator)
{
    ck_assert_uint_eq(khash_field(KHASH_INIT, "ab"), khash_step(khash_str(KHASH_INIT, "ab"), 0xff));
    ck_assert_uint_eq(khash_field(KHASH_INIT, NULL), khash_field(KHASH_INIT, ""));
    ck_assert_uint_ne(khash_field(khash_field(KHASH_INIT, "ab"), "c"),
                      khash_field(khash_field(KHASH_INIT, "a"), "bc"));
    ck_assert_uint_eq(khash_field(KHASH_INIT, "registry.example/app:1.2.3"), 0xf185b506a0729b99ULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("khash");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, khash_matches_the_fnv1a_test_vectors);
    tcase_add_test(tc, khash_streams_and_separators_keep_fields_apart);
    tcase_add_test(tc, khash_field_is_the_string_then_a_terminator);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
