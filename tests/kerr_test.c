/*
 * kerr_test: the error enum's names, kerr_set's message, and jansson's
 * allocator set by kerr_json_alloc_init.
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "kerr.h"

START_TEST(kerr_set_fills_the_info_and_returns_the_code)
{
    struct kerr_info info;
    ck_assert_int_eq(kerr_set(&info, KERR_CONFLICT, 409, "Conflict", "x=%d", 7), KERR_CONFLICT);
    ck_assert_int_eq(info.http_status, 409);
    ck_assert_str_eq(info.reason, "Conflict");
    ck_assert_str_eq(info.message, "x=7");
    ck_assert_int_eq(kerr_set(NULL, KERR_IO, 0, "", "ignored"), KERR_IO);
    ck_assert_str_eq(kerr_strerror(KERR_CONFLICT), "conflict");
}
END_TEST

START_TEST(kerr_json_alloc_init_gives_jansson_an_aborting_allocator)
{
    json_malloc_t before_m = NULL;
    json_free_t before_f = NULL;
    json_get_alloc_funcs(&before_m, &before_f);
    kerr_json_alloc_init();
    json_malloc_t m = NULL;
    json_free_t f = NULL;
    json_get_alloc_funcs(&m, &f);
    ck_assert_ptr_ne((void *)m, (void *)malloc);
    ck_assert_ptr_eq((void *)f, (void *)free);
    void *p = m(0); /* never NULL, not even for 0 bytes */
    ck_assert_ptr_nonnull(p);
    f(p);
    json_t *o = json_pack("{s:s}", "a", "b"); /* values still work */
    ck_assert_str_eq(json_string_value(json_object_get(o, "a")), "b");
    json_decref(o);
    json_set_alloc_funcs(before_m, before_f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kerr");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, kerr_set_fills_the_info_and_returns_the_code);
    tcase_add_test(tc, kerr_json_alloc_init_gives_jansson_an_aborting_allocator);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
