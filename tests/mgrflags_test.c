/*
 * mgrflags_test: the manager's command line, for the flags whose parsing
 * has rules of its own (booleans with an optional value).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mgrflags.h"

static enum kerr parse(struct mgr_flags *f, struct kerr_info *err, const char *a, const char *b)
{
    char *argv[] = {"grace-operator", (char *)a, (char *)b, NULL};
    int argc = 1 + (a != NULL) + (b != NULL);
    memset(err, 0, sizeof *err);
    return mgrflags_parse(argc, argv, f, err);
}

START_TEST(mgrflags_api_compression_is_off_unless_asked)
{
    struct mgr_flags f;
    struct kerr_info err;
    ck_assert_int_eq(parse(&f, &err, NULL, NULL), KERR_OK);
    ck_assert_int_eq(f.api_compression, 0);
    ck_assert_int_eq(parse(&f, &err, "--api-compression", NULL), KERR_OK);
    ck_assert_int_eq(f.api_compression, 1);
    ck_assert_int_eq(parse(&f, &err, "--api-compression=true", NULL), KERR_OK);
    ck_assert_int_eq(f.api_compression, 1);
    ck_assert_int_eq(parse(&f, &err, "--api-compression=false", NULL), KERR_OK);
    ck_assert_int_eq(f.api_compression, 0);
}
END_TEST

START_TEST(mgrflags_bad_boolean_names_its_flag)
{
    struct mgr_flags f;
    struct kerr_info err;
    ck_assert_int_eq(parse(&f, &err, "--api-compression=maybe", NULL), KERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "--api-compression"));
    ck_assert_ptr_nonnull(strstr(err.message, "maybe"));
    ck_assert_int_eq(parse(&f, &err, "--leader-elect=sometimes", NULL), KERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "--leader-elect"));
}
END_TEST

static Suite *mgrflags_suite(void)
{
    Suite *s = suite_create("mgrflags");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, mgrflags_api_compression_is_off_unless_asked);
    tcase_add_test(tc, mgrflags_bad_boolean_names_its_flag);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mgrflags_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
