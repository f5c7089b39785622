/*
 * kjsontoken_test: the token rules of kjsonstream's machine on their own:
 * the eight-byte word tests against the byte tests, strings read whole or
 * a byte at a time (valid, malformed, unreadable for jansson), the skim of
 * a checked string ending where the checked read ends, and the number
 * grammar and range.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kjsontoken.h"

/* Every byte value at every position of a word of 'a's: the word tests
 * say exactly what the byte tests say. */
START_TEST(kjt_word_tests_agree_with_the_byte_tests)
{
    for (unsigned b = 0; b < 256; b++) {
        for (size_t pos = 0; pos < 8; pos++) {
            unsigned char w[8];
            memset(w, 'a', sizeof w);
            w[pos] = (unsigned char)b;
            ck_assert_msg(kjt_plain8(w) == kjt_plain_byte((unsigned char)b),
                          "plain8 byte %u at %zu", b, pos);
            ck_assert_msg(kjt_noquote8(w) == (b != '"' && b != '\\'), "noquote8 byte %u at %zu", b,
                          pos);
        }
    }
}
END_TEST

/* Read the string body `s` (after its opening quote) in pieces of `step`
 * bytes (0: whole). Returns the verdict; *end is the offset just after the
 * closing quote (0 when it was not reached). */
static enum kjt_verdict read_string(const char *s, bool in_key, size_t step, size_t *end)
{
    struct kjt t;
    size_t n = strlen(s), i = 0;
    memset(&t, 0, sizeof t);
    *end = 0;
    while (i < n) {
        size_t piece = step && n - i > step ? step : n - i, used = 0;
        while (used < piece) {
            bool closed = false;
            enum kjt_verdict v = KJT_OK;
            const char *why = NULL;
            used += kjt_string_bytes(&t, s + i + used, piece - used, in_key, &closed, &v, &why);
            if (v != KJT_OK) {
                ck_assert_ptr_nonnull(why);
                return v;
            }
            if (closed) {
                *end = i + used;
                return KJT_OK;
            }
        }
        i += piece;
    }
    return KJT_OK;
}

/* The same with kjt_string_skim: where the string ends. */
static size_t skim_string(const char *s, size_t step)
{
    struct kjt t;
    size_t n = strlen(s), i = 0;
    memset(&t, 0, sizeof t);
    while (i < n) {
        size_t piece = step && n - i > step ? step : n - i, used = 0;
        while (used < piece) {
            bool closed = false;
            used += kjt_string_skim(&t, s + i + used, piece - used, &closed);
            if (closed)
                return i + used;
        }
        i += piece;
    }
    return 0;
}

START_TEST(kjt_strings_read_the_same_whole_or_byte_by_byte)
{
    static const struct {
        const char *body; /* after the opening quote */
        bool in_key;
        enum kjt_verdict want;
    } cases[] = {
        {"plain ascii text longer than a word\",", false, KJT_OK},
        {"\",", false, KJT_OK},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 end\"", false, KJT_OK},
        {"esc \\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\ud83d\\ude00\"x", false, KJT_OK},
        {"nul \\u0000 in a value\"", false, KJT_OK},
        {"nul \\u0000 in a key\"", true, KJT_UNREADABLE},
        {"bad \xff byte\"", false, KJT_UNREADABLE},
        {"overlong \xc0\xaf\"", false, KJT_UNREADABLE},
        {"surrogate \xed\xa0\x80 in UTF-8\"", false, KJT_UNREADABLE},
        {"lone \\ud800 high\"", false, KJT_UNREADABLE},
        {"lone \\udc00 low\"", false, KJT_UNREADABLE},
        {"high then \\ud800\\n\"", false, KJT_UNREADABLE},
        {"control \x01 char\"", false, KJT_MALFORMED},
        {"bad \\x escape\"", false, KJT_MALFORMED},
        {"bad \\u12g4 escape\"", false, KJT_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t whole_end = 0, one_end = 0, three_end = 0;
        enum kjt_verdict whole = read_string(cases[i].body, cases[i].in_key, 0, &whole_end);
        enum kjt_verdict one = read_string(cases[i].body, cases[i].in_key, 1, &one_end);
        enum kjt_verdict three = read_string(cases[i].body, cases[i].in_key, 3, &three_end);
        ck_assert_msg(whole == cases[i].want, "case %zu: verdict %d", i, (int)whole);
        ck_assert_msg(one == whole && three == whole, "case %zu: pieces change the verdict", i);
        ck_assert_uint_eq(one_end, whole_end);
        ck_assert_uint_eq(three_end, whole_end);
        if (whole != KJT_OK)
            continue;
        ck_assert_msg(whole_end > 0 && cases[i].body[whole_end - 1] == '"', "case %zu", i);
        /* a checked string: the skim ends at the same quote, in any pieces */
        ck_assert_uint_eq(skim_string(cases[i].body, 0), whole_end);
        ck_assert_uint_eq(skim_string(cases[i].body, 1), whole_end);
        ck_assert_uint_eq(skim_string(cases[i].body, 5), whole_end);
    }
}
END_TEST

/* The scalar `text` followed by `,` (as in a body): its verdict. */
static enum kjt_verdict read_scalar(const char *text)
{
    struct kjt t;
    const char *why = NULL;
    size_t n = strlen(text) - 1; /* the ',' ends it */
    memset(&t, 0, sizeof t);
    kjt_bare_start(&t, text[0]);
    for (size_t i = 1; i < n; i++)
        if (kjt_bare_byte(&t, text[i], &why) != KJT_OK)
            return KJT_MALFORMED;
    if (!kjt_bare_complete(&t))
        return KJT_MALFORMED;
    if (kjt_bare_is_literal(&t))
        return KJT_OK;
    return kjt_num_readable(text, n) ? KJT_OK : KJT_UNREADABLE;
}

START_TEST(kjt_scalars_follow_the_grammar_and_jansson_range)
{
    static const char *const ok[] = {"0,",
                                     "-0,",
                                     "12,",
                                     "-1.5e3,",
                                     "2E+10,",
                                     "0.25,",
                                     "true,",
                                     "false,",
                                     "null,",
                                     "9223372036854775807,",
                                     "-9223372036854775808,",
                                     "1e308,"};
    static const char *const malformed[] = {"01,",  "-,",   "1.,",  "1e,",     "1e+,",
                                            "-.5,", "tru,", "nul,", "falsey,", "1.2.3,"};
    static const char *const unreadable[] = {"9223372036854775808,", "-9223372036854775809,",
                                             "1e999,", "-1e999,"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(read_scalar(ok[i]) == KJT_OK, "refused %s", ok[i]);
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        ck_assert_msg(read_scalar(malformed[i]) == KJT_MALFORMED, "accepted %s", malformed[i]);
    for (size_t i = 0; i < sizeof unreadable / sizeof unreadable[0]; i++)
        ck_assert_msg(read_scalar(unreadable[i]) == KJT_UNREADABLE, "readable %s", unreadable[i]);
    ck_assert(kjt_is_ws(' ') && kjt_is_ws('\t') && kjt_is_ws('\r') && kjt_is_ws('\n'));
    ck_assert(!kjt_is_ws('\v') && !kjt_is_ws('\f'));
}
END_TEST

static Suite *kjsontoken_suite(void)
{
    Suite *s = suite_create("kjsontoken");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, kjt_word_tests_agree_with_the_byte_tests);
    tcase_add_test(tc, kjt_strings_read_the_same_whole_or_byte_by_byte);
    tcase_add_test(tc, kjt_scalars_follow_the_grammar_and_jansson_range);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kjsontoken_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
