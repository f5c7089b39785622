/*
 * ktime_test: the Kubernetes time formats are written and read back in UTC;
 * text that is not a Time or MicroTime is refused, not read as 0.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ktime.h"

START_TEST(ktime_parses_time_and_microtime_in_utc)
{
    double t = -1;
    ck_assert(ktime_parse_rfc3339("2026-11-28T13:00:00Z", &t));
    ck_assert_double_eq(t, 1795870800.0);
    ck_assert(ktime_parse_rfc3339("2026-11-28T13:00:00.123456Z", &t));
    ck_assert_double_eq(t, 1795870800.0);
    ck_assert(ktime_parse_rfc3339("1970-01-01T00:00:00Z", &t));
    ck_assert_double_eq(t, 0.0);
}
END_TEST

START_TEST(ktime_refuses_what_is_not_a_time)
{
    double t = 42;
    ck_assert(!ktime_parse_rfc3339("", &t));
    ck_assert(!ktime_parse_rfc3339(NULL, &t));
    ck_assert(!ktime_parse_rfc3339("yesterday", &t));
    ck_assert(!ktime_parse_rfc3339("2026-11-28T13:00:00", &t));       /* no zone */
    ck_assert(!ktime_parse_rfc3339("2026-11-28T13:00:00+01:00", &t)); /* not UTC */
    ck_assert_double_eq(t, 42);
}
END_TEST

START_TEST(ktime_formats_read_back)
{
    char buf[48];
    double t = 0;
    ktime_rfc3339(buf);
    ck_assert_uint_eq(strlen(buf), 20);
    ck_assert(ktime_parse_rfc3339(buf, &t));
    ktime_microtime(buf);
    ck_assert_uint_eq(strlen(buf), 27);
    ck_assert(ktime_parse_rfc3339(buf, &t));
    ck_assert(t > 1.7e9);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ktime");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, ktime_parses_time_and_microtime_in_utc);
    tcase_add_test(tc, ktime_refuses_what_is_not_a_time);
    tcase_add_test(tc, ktime_formats_read_back);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
