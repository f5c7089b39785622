/*
 * kb64_test: base64 encoding (RFC 4648 vectors, binary round trip, the
 * form libwebsockets wrote for the directory's binaryData), strict and
 * newline-tolerant decoding, and the NUL-byte refusal Secrets need.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kb64.h"

static const char *const RFC4648[][2] = {{"", ""},
                                         {"f", "Zg=="},
                                         {"fo", "Zm8="},
                                         {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="},
                                         {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};

START_TEST(kb64_encode_matches_rfc4648)
{
    for (size_t i = 0; i < sizeof RFC4648 / sizeof RFC4648[0]; i++) {
        size_t n = 99;
        char *e = kb64_encode(RFC4648[i][0], strlen(RFC4648[i][0]), &n);
        ck_assert_str_eq(e, RFC4648[i][1]);
        ck_assert_uint_eq(n, strlen(RFC4648[i][1]));
        free(e);
    }
}
END_TEST

START_TEST(kb64_decode_matches_rfc4648_in_both_modes)
{
    for (size_t i = 0; i < sizeof RFC4648 / sizeof RFC4648[0]; i++) {
        for (unsigned flags = 0; flags < 4; flags++) {
            char *d = (char *)1;
            size_t n = 99;
            const char *in = RFC4648[i][1];
            ck_assert_int_eq(kb64_decode(in, strlen(in), flags, &d, &n), KERR_OK);
            ck_assert_str_eq(d, RFC4648[i][0]);
            ck_assert_uint_eq(n, strlen(RFC4648[i][0]));
            free(d);
        }
    }
}
END_TEST

/* Every byte value, every length 0..300 (all three tails), one line with
 * no newline, and back. */
START_TEST(kb64_binary_round_trip)
{
    unsigned char bin[300];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (unsigned char)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof bin; len++) {
        size_t n = 0, m = 0;
        char *e = kb64_encode(bin, len, &n);
        ck_assert_uint_eq(n, (len + 2) / 3 * 4);
        ck_assert_ptr_null(strchr(e, '\n'));
        char *d = NULL;
        ck_assert_int_eq(kb64_decode(e, n, 0, &d, &m), KERR_OK);
        ck_assert_uint_eq(m, len);
        ck_assert_int_eq(memcmp(d, bin, len), 0);
        ck_assert_int_eq(d[m], '\0');
        free(d);
        free(e);
    }
}
END_TEST

START_TEST(kb64_strict_refuses_what_is_not_whole_groups_of_base64)
{
    static const char *const bad[] = {"Zm9", "Zm9v\nYmFy", "Zm9vYmFy\n", "Zm9v!mFy", "Zm 9v"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *d = (char *)1;
        ck_assert_msg(kb64_decode(bad[i], strlen(bad[i]), 0, &d, NULL) == KERR_PARSE, "%s", bad[i]);
        ck_assert_ptr_null(d);
    }
}
END_TEST

/* What PEM-writing tools emit (talosctl kubeconfig): line breaks inside
 * and at the end. */
START_TEST(kb64_newlines_mode_accepts_line_breaks_and_refuses_garbage)
{
    const char *in = "Zm9v\nYmFy\n";
    char *d = NULL;
    size_t n = 0;
    ck_assert_int_eq(kb64_decode(in, strlen(in), KB64_NEWLINES, &d, &n), KERR_OK);
    ck_assert_str_eq(d, "foobar");
    ck_assert_uint_eq(n, 6);
    free(d);
    d = (char *)1;
    ck_assert_int_eq(kb64_decode("Zm9v!!!!", 8, KB64_NEWLINES, &d, &n), KERR_PARSE);
    ck_assert_ptr_null(d);
}
END_TEST

START_TEST(kb64_no_nul_refuses_a_nul_byte_in_the_result)
{
    const char *in = "YQBi"; /* "a\0b" */
    char *d = NULL;
    size_t n = 0;
    ck_assert_int_eq(kb64_decode(in, 4, 0, &d, &n), KERR_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(memcmp(d, "a\0b", 3), 0);
    free(d);
    d = (char *)1;
    ck_assert_int_eq(kb64_decode(in, 4, KB64_NO_NUL, &d, &n), KERR_PARSE);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(kb64_decode("AA==", 4, KB64_NO_NUL | KB64_NEWLINES, &d, &n), KERR_PARSE);
    ck_assert_ptr_null(d);
}
END_TEST

static Suite *kb64_suite(void)
{
    Suite *s = suite_create("kb64");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, kb64_encode_matches_rfc4648);
    tcase_add_test(tc, kb64_decode_matches_rfc4648_in_both_modes);
    tcase_add_test(tc, kb64_binary_round_trip);
    tcase_add_test(tc, kb64_strict_refuses_what_is_not_whole_groups_of_base64);
    tcase_add_test(tc, kb64_newlines_mode_accepts_line_breaks_and_refuses_garbage);
    tcase_add_test(tc, kb64_no_nul_refuses_a_nul_byte_in_the_result);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kb64_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
