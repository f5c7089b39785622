/*
 * pgname_test: role/database name derivation with hostile input (quotes,
 * semicolons, spaces, Unicode, upper case, 200-byte names), the cases where
 * sanitizing would make two services collide, requested database names,
 * the URI's percent-encoding and the generated passwords. No server needed.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgname.h"

/* Derive, assert success and the structural invariants; return the role in role. */
static void derive_ok(const char *ns, const char *name, char role[64], char db[64])
{
    struct kerr_info err;
    enum kerr rc = pg_derive_names(ns, name, NULL, role, db, &err);
    ck_assert_msg(rc == KERR_OK, "derive(%s, %s): %s", ns, name, err.message);
    ck_assert_msg(pg_name_valid(role), "role '%s' is not a valid identifier", role);
    ck_assert_str_eq(role, db);
    ck_assert_uint_le(strlen(role), 63);
    ck_assert(strncmp(role, "pg_", 3) != 0);
}

START_TEST(pgname_plain_names_are_readable)
{
    char role[64], db[64];
    derive_ok("default", "peeps", role, db);
    ck_assert_str_eq(role, "g_default_peeps");
    derive_ok("team7", "api2", role, db);
    ck_assert_str_eq(role, "g_team7_api2");
}
END_TEST

START_TEST(pgname_dashes_are_sanitized_and_hashed)
{
    char role[64], db[64];
    derive_ok("my-team", "web-api", role, db);
    ck_assert_msg(strncmp(role, "g_my_team_web_api__", 19) == 0, "got %s", role);
    ck_assert_uint_eq(strlen(role), 19 + 16);
}
END_TEST

START_TEST(pgname_dash_placement_does_not_collide)
{
    char r1[64], d1[64], r2[64], d2[64], r3[64], d3[64];
    derive_ok("a-b", "c", r1, d1);
    derive_ok("a", "b-c", r2, d2);
    derive_ok("a", "b_c", r3, d3);
    ck_assert_str_ne(r1, r2);
    ck_assert_str_ne(r1, r3);
    ck_assert_str_ne(r2, r3);
    /* and none of them equals the plain name of ("a_b", ...) style pairs */
    derive_ok("ab", "c", r3, d3);
    ck_assert_str_ne(r1, r3);
}
END_TEST

START_TEST(pgname_underscore_in_input_cannot_fake_a_plain_name)
{
    char r1[64], d1[64], r2[64], d2[64];
    /* "g_a_b_c" would be the plain name of both if '_' were kept unhashed */
    derive_ok("a_b", "c", r1, d1);
    derive_ok("a", "b_c", r2, d2);
    ck_assert_str_ne(r1, r2);
    ck_assert_str_ne(r1, "g_a_b_c");
    ck_assert_ptr_nonnull(strstr(r1, "__"));
}
END_TEST

START_TEST(pgname_case_differences_do_not_collide)
{
    char r1[64], d1[64], r2[64], d2[64];
    derive_ok("Prod", "Web", r1, d1);
    derive_ok("prod", "web", r2, d2);
    ck_assert_str_ne(r1, r2);
    ck_assert_str_eq(r2, "g_prod_web");
    ck_assert_msg(strncmp(r1, "g_prod_web__", 12) == 0, "got %s", r1);
}
END_TEST

START_TEST(pgname_hostile_characters_are_removed)
{
    const char *hostile[] = {
        "x\"; DROP DATABASE postgres; --", "it's", "a b\tc\nd", "semi;colon", "back\\slash",
        "caf\xc3\xa9-\xe2\x98\x83",        "$1",   "%s%n",      "\x7f\x01",   "\"\"",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        char role[64], db[64];
        derive_ok("ns", hostile[i], role, db);
        derive_ok(hostile[i], "svc", role, db);
    }
}
END_TEST

START_TEST(pgname_long_names_are_truncated_with_a_hash)
{
    char a[201], b[201], r1[64], d1[64], r2[64], d2[64];
    memset(a, 'a', 200);
    a[200] = '\0';
    memcpy(b, a, sizeof a);
    b[199] = 'b'; /* differs only after the truncation point */
    derive_ok("ns", a, r1, d1);
    derive_ok("ns", b, r2, d2);
    ck_assert_uint_eq(strlen(r1), 63);
    ck_assert_str_ne(r1, r2);
    ck_assert_int_eq(memcmp(r1, r2, 45), 0); /* same readable prefix */
    derive_ok(a, b, r1, d1);
    ck_assert_uint_eq(strlen(r1), 63);
}
END_TEST

START_TEST(pgname_length_limit_is_exactly_63_bytes)
{
    char name[64], role[64], db[64];
    /* "g_" + "n" + "_" + 59 = 63: still plain */
    memset(name, 'x', 59);
    name[59] = '\0';
    derive_ok("n", name, role, db);
    ck_assert_uint_eq(strlen(role), 63);
    ck_assert_ptr_null(strstr(role, "__"));
    /* one more byte: hashed */
    name[59] = 'x';
    name[60] = '\0';
    derive_ok("n", name, role, db);
    ck_assert_ptr_nonnull(strstr(role, "__"));
}
END_TEST

START_TEST(pgname_truncated_hash_cannot_equal_a_plain_name)
{
    /* A long ns truncates to "g_<48 a>" + hash; a plain pair could only produce
     * that shape without the "__" marker. */
    char ns[61], role[64], db[64];
    memset(ns, 'a', 60);
    ns[60] = '\0';
    derive_ok(ns, "x", role, db);
    ck_assert_ptr_nonnull(strstr(role, "__"));
}
END_TEST

START_TEST(pgname_derivation_is_stable)
{
    char r1[64], d1[64], r2[64], d2[64];
    derive_ok("my-team", "web-api", r1, d1);
    derive_ok("my-team", "web-api", r2, d2);
    ck_assert_str_eq(r1, r2);
}
END_TEST

START_TEST(pgname_hash_is_sha256_of_ns_slash_name)
{
    char a[PG_NAME_HASH_HEX + 1], b[PG_NAME_HASH_HEX + 1];
    pg_name_hash("a-b", "c", a); /* printf a-b/c | sha256sum */
    pg_name_hash("a", "b-c", b);
    ck_assert_str_eq(a, "4e84717d75bd540d");
    ck_assert_str_eq(b, "b88f83c840abe581");
}
END_TEST

START_TEST(pgname_empty_or_slash_is_invalid)
{
    char role[64] = "untouched", db[64] = "untouched";
    struct kerr_info err;
    ck_assert_int_eq(pg_derive_names("", "x", NULL, role, db, &err), KERR_INVAL);
    ck_assert_str_eq(err.reason, "InvalidName");
    ck_assert_int_eq(pg_derive_names("ns", "", NULL, role, db, &err), KERR_INVAL);
    ck_assert_int_eq(pg_derive_names(NULL, "x", NULL, role, db, &err), KERR_INVAL);
    ck_assert_int_eq(pg_derive_names("a/b", "c", NULL, role, db, &err), KERR_INVAL);
    ck_assert_int_eq(pg_derive_names("a", "b", NULL, role, db, NULL), KERR_OK);
    ck_assert_str_eq(role, "g_a_b");
    ck_assert_int_eq(pg_derive_names("", "x", NULL, role, db, NULL), KERR_INVAL);
    ck_assert_str_eq(role, "g_a_b"); /* outputs untouched on error */
}
END_TEST

START_TEST(pgname_valid_requested_database_is_used)
{
    char role[64], db[64], longest[64];
    struct kerr_info err;
    ck_assert_int_eq(pg_derive_names("ns", "svc", "peeps", role, db, &err), KERR_OK);
    ck_assert_str_eq(db, "peeps");
    ck_assert_str_eq(role, "g_ns_svc");
    ck_assert_int_eq(pg_derive_names("ns", "svc", "_x9_", role, db, &err), KERR_OK);
    ck_assert_str_eq(db, "_x9_");
    memset(longest, 'd', 63);
    longest[63] = '\0';
    ck_assert_int_eq(pg_derive_names("ns", "svc", longest, role, db, &err), KERR_OK);
    ck_assert_str_eq(db, longest);
    ck_assert_int_eq(pg_derive_names("ns", "svc", "", role, db, &err), KERR_OK);
    ck_assert_str_eq(db, "g_ns_svc"); /* empty = derive */
}
END_TEST

START_TEST(pgname_invalid_requested_database_is_rejected)
{
    const char *bad[] = {"Peeps",     "9lives",      "a-b",      "a b",
                         "x\";drop",  "caf\xc3\xa9", "postgres", "template0",
                         "template1", "pg_catalog",  "a.b",      "\"quoted\""};
    char role[64] = "r", db[64] = "d", toolong[65];
    struct kerr_info err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(pg_derive_names("ns", "svc", bad[i], role, db, &err) == KERR_INVAL,
                      "accepted %s", bad[i]);
        ck_assert_str_eq(err.reason, "InvalidName");
    }
    memset(toolong, 'd', 64);
    toolong[64] = '\0';
    ck_assert_int_eq(pg_derive_names("ns", "svc", toolong, role, db, &err), KERR_INVAL);
    ck_assert_str_eq(db, "d");
}
END_TEST

START_TEST(pgname_name_valid_follows_identifier_rules)
{
    ck_assert(pg_name_valid("a"));
    ck_assert(pg_name_valid("_"));
    ck_assert(pg_name_valid("a_1"));
    ck_assert(!pg_name_valid(""));
    ck_assert(!pg_name_valid(NULL));
    ck_assert(!pg_name_valid("1a"));
    ck_assert(!pg_name_valid("aB"));
    ck_assert(!pg_name_valid("a$"));
}
END_TEST

START_TEST(pgname_uri_percent_encodes_credentials)
{
    char buf[512];
    size_t n = pg_uri(buf, sizeof buf, "db.example.com", 5432, "peeps", "g_ns_svc", "p@ss:w/rd?#%",
                      "require");
    ck_assert_str_eq(buf, "postgresql://g_ns_svc:p%40ss%3Aw%2Frd%3F%23%25@db.example.com:5432/peeps"
                          "?sslmode=require");
    ck_assert_uint_eq(n, strlen(buf));
    pg_uri(buf, sizeof buf, "h", 1, "d", "u s\xc3\xa9r", "-_.~", NULL);
    ck_assert_str_eq(buf, "postgresql://u%20s%C3%A9r:-_.~@h:1/d");
}
END_TEST

START_TEST(pgname_uri_brackets_ipv6_hosts)
{
    char buf[128];
    pg_uri(buf, sizeof buf, "::1", 5432, "d", "u", "p", "disable");
    ck_assert_str_eq(buf, "postgresql://u:p@[::1]:5432/d?sslmode=disable");
    pg_uri(buf, sizeof buf, "a/b@c", 5432, "d", "u", "p", NULL);
    ck_assert_str_eq(buf, "postgresql://u:p@a%2Fb%40c:5432/d");
}
END_TEST

START_TEST(pgname_uri_truncates_like_snprintf)
{
    char small[16], full[128];
    size_t need = pg_uri(full, sizeof full, "host", 5432, "db", "user", "pw", "prefer");
    size_t got = pg_uri(small, sizeof small, "host", 5432, "db", "user", "pw", "prefer");
    ck_assert_uint_eq(need, got);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    ck_assert_int_eq(strncmp(small, full, sizeof small - 1), 0);
    ck_assert_uint_eq(pg_uri(NULL, 0, "host", 5432, "db", "user", "pw", "prefer"), need);
}
END_TEST

START_TEST(pgname_password_is_long_url_safe_and_unique)
{
    char seen[64][PG_PASSWORD_BUFSZ];
    for (int i = 0; i < 64; i++) {
        pg_password_new(seen[i], sizeof seen[i]);
        ck_assert_uint_eq(strlen(seen[i]), PG_PASSWORD_LEN);
        ck_assert_uint_ge(strlen(seen[i]), 32);
        ck_assert_uint_eq(strspn(seen[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789-_"),
                          PG_PASSWORD_LEN);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(seen[i], seen[j]);
    }
}
END_TEST

START_TEST(pgname_password_uses_the_whole_alphabet)
{
    /* 64 symbols over 100 x 40 draws: every symbol appears (p(miss) ~ 1e-26). */
    int count[256] = {0};
    char pw[PG_PASSWORD_BUFSZ];
    for (int i = 0; i < 100; i++) {
        pg_password_new(pw, sizeof pw);
        for (const char *p = pw; *p; p++)
            count[(unsigned char)*p]++;
    }
    int distinct = 0;
    for (int c = 0; c < 256; c++)
        distinct += count[c] > 0;
    ck_assert_int_eq(distinct, 64);
}
END_TEST

START_TEST(pgname_password_fills_the_given_buffer)
{
    char pw[101];
    memset(pw, '!', sizeof pw);
    pg_password_new(pw, sizeof pw);
    ck_assert_uint_eq(strlen(pw), 100);
}
END_TEST

static Suite *pgname_suite(void)
{
    Suite *s = suite_create("pgname");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, pgname_plain_names_are_readable);
    tcase_add_test(tc, pgname_dashes_are_sanitized_and_hashed);
    tcase_add_test(tc, pgname_dash_placement_does_not_collide);
    tcase_add_test(tc, pgname_underscore_in_input_cannot_fake_a_plain_name);
    tcase_add_test(tc, pgname_case_differences_do_not_collide);
    tcase_add_test(tc, pgname_hostile_characters_are_removed);
    tcase_add_test(tc, pgname_long_names_are_truncated_with_a_hash);
    tcase_add_test(tc, pgname_length_limit_is_exactly_63_bytes);
    tcase_add_test(tc, pgname_truncated_hash_cannot_equal_a_plain_name);
    tcase_add_test(tc, pgname_derivation_is_stable);
    tcase_add_test(tc, pgname_hash_is_sha256_of_ns_slash_name);
    tcase_add_test(tc, pgname_empty_or_slash_is_invalid);
    tcase_add_test(tc, pgname_valid_requested_database_is_used);
    tcase_add_test(tc, pgname_invalid_requested_database_is_rejected);
    tcase_add_test(tc, pgname_name_valid_follows_identifier_rules);
    tcase_add_test(tc, pgname_uri_percent_encodes_credentials);
    tcase_add_test(tc, pgname_uri_brackets_ipv6_hosts);
    tcase_add_test(tc, pgname_uri_truncates_like_snprintf);
    tcase_add_test(tc, pgname_password_is_long_url_safe_and_unique);
    tcase_add_test(tc, pgname_password_uses_the_whole_alphabet);
    tcase_add_test(tc, pgname_password_fills_the_given_buffer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pgname_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
