/*
 * pgsecret_test: credentials read from Secrets fail closed. An unreadable
 * password of a GraceService's own Secret is an error (never "absent",
 * which would create a new password: a rotation); the admin Secret's keys
 * are decoded strictly and its port checked.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pgsecret.h"

static struct kobj *secret(const char *text)
{
    struct kobj *o = kobj_new_from_text(text, strlen(text), "v1", "Secret", NULL, NULL);
    ck_assert_ptr_nonnull(o);
    return o;
}

START_TEST(pgsecret_password_absent_secret_means_create)
{
    char *pw = (char *)"x";
    ck_assert_int_eq(pgsecret_password(NULL, &pw, NULL), KERR_OK);
    ck_assert_ptr_null(pw);
}
END_TEST

START_TEST(pgsecret_password_readable_is_reused)
{
    struct kobj *o = secret("{\"metadata\":{\"name\":\"s\",\"namespace\":\"n\"},"
                            "\"data\":{\"password\":\"cGFzcw==\"}}");
    char *pw = NULL;
    ck_assert_int_eq(pgsecret_password(o, &pw, NULL), KERR_OK);
    ck_assert_str_eq(pw, "pass");
    free(pw);
    kobj_unref(o);
}
END_TEST

/* The Secret is there but its password cannot be read: an error, never a
 * NULL password (which the database step takes as "create one"). */
START_TEST(pgsecret_password_unreadable_is_an_error_not_absent)
{
    const char *texts[] = {
        "{\"metadata\":{\"name\":\"s\"},\"data\":{\"password\":\"!!not base64!!\"}}",
        "{\"metadata\":{\"name\":\"s\"},\"data\":{\"password\":\"cGFz\\u0000\"}}",
        "{\"metadata\":{\"name\":\"s\"},\"data\":{\"password\":\"AHBhc3M=\"}}", /* "\0pass" */
        "{\"metadata\":{\"name\":\"s\"},\"data\":{\"password\":\"\"}}",
        "{\"metadata\":{\"name\":\"s\"},\"data\":{\"password\":7}}",
        "{\"metadata\":{\"name\":\"s\"},\"data\":{}}",
        "{\"metadata\":{\"name\":\"s\"}}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct kobj *o = secret(texts[i]);
        char *pw = NULL;
        struct kerr_info err = {0};
        ck_assert_msg(pgsecret_password(o, &pw, &err) == KERR_PARSE, "accepted: %s", texts[i]);
        ck_assert_ptr_null(pw);
        ck_assert_str_eq(err.reason, PGSECRET_REASON_UNREADABLE);
        ck_assert_ptr_nonnull(strstr(err.message, "/s exists"));
        kobj_unref(o);
    }
}
END_TEST

/* A Secret whose text does not parse (invalid UTF-8 in its password)
 * never becomes a cached object pgsecret could take for absent: the
 * metadata-only constructor scans the whole text (kjs_object_members) and
 * refuses it, as the full one does. (pgsecret_password still reports a
 * kobj whose text does not parse as unreadable, but no constructor makes
 * one any more.) */
START_TEST(pgsecret_unparseable_secret_is_refused_before_the_cache)
{
    const char t[] = "{\"metadata\":{\"name\":\"s\"},\"data\":{\"password\":\"\xff\"}}";
    for (int meta = 0; meta < 2; meta++) {
        struct kerr_info err = {0};
        struct kobj *o =
            meta ? kobj_new_from_text_meta(t, sizeof t - 1, "v1", "Secret", NULL, &err)
                 : kobj_new_from_text(t, sizeof t - 1, "v1", "Secret", NULL, &err);
        ck_assert_ptr_null(o);
        ck_assert_str_eq(err.reason, "BadJSON");
    }
}
END_TEST

START_TEST(pgsecret_admin_decodes_the_keys_it_uses_and_checks_the_port)
{
    json_t *sec = json_pack("{s:{s:s, s:s, s:s, s:s}}", "data", "host", "ZGIuZXhhbXBsZQ==", "port",
                            "NTQzMw==", "password", "c2VjcmV0", "ca.p12", "AAEC");
    json_t *dec = NULL;
    struct pg_admin a;
    struct gs_pg_config pc = {"cfg-host", 6000, "require", NULL, NULL};
    ck_assert_int_eq(pgsecret_admin_decode(sec, &dec, NULL), KERR_OK);
    ck_assert_ptr_null(json_object_get(dec, "ca.p12")); /* binary, not a connection key */
    ck_assert_int_eq(pgsecret_admin(dec, &pc, &a, NULL), KERR_OK);
    ck_assert_str_eq(a.host, "db.example");
    ck_assert_int_eq(a.port, 5433);
    ck_assert_str_eq(a.password, "secret");
    ck_assert_str_eq(a.user, "postgres");
    ck_assert_str_eq(a.sslmode, "require");
    json_decref(dec);
    json_decref(sec);
    const char *bad_ports[] = {"0", "65536", "54x", "-1", ""};
    for (size_t i = 0; i < sizeof bad_ports / sizeof bad_ports[0]; i++) {
        dec = json_pack("{s:s}", "port", bad_ports[i]);
        struct kerr_info err = {0};
        ck_assert_int_eq(pgsecret_admin(dec, &pc, &a, &err), KERR_PARSE);
        ck_assert_str_eq(err.reason, PGSECRET_REASON_UNREADABLE);
        json_decref(dec);
    }
}
END_TEST

START_TEST(pgsecret_admin_unreadable_password_is_an_error)
{
    const char *bad[] = {"{\"data\":{\"password\":\"%%%%\"}}", "{\"data\":{\"password\":1}}",
                         "{\"data\":{\"user\":\"AA==\"}}", "{\"data\":[]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *sec = json_loads(bad[i], 0, NULL), *dec = (json_t *)1;
        struct kerr_info err = {0};
        ck_assert_int_eq(pgsecret_admin_decode(sec, &dec, &err), KERR_PARSE);
        ck_assert_ptr_null(dec);
        ck_assert_ptr_null(strstr(err.message, "%%"));
        json_decref(sec);
    }
}
END_TEST

static Suite *pgsecret_suite(void)
{
    Suite *s = suite_create("pgsecret");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, pgsecret_password_absent_secret_means_create);
    tcase_add_test(tc, pgsecret_password_readable_is_reused);
    tcase_add_test(tc, pgsecret_password_unreadable_is_an_error_not_absent);
    tcase_add_test(tc, pgsecret_unparseable_secret_is_refused_before_the_cache);
    tcase_add_test(tc, pgsecret_admin_decodes_the_keys_it_uses_and_checks_the_port);
    tcase_add_test(tc, pgsecret_admin_unreadable_password_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pgsecret_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
