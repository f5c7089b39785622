/*
 * log_test: the structured logger. Lines are captured through a temporary
 * file set with log_set_output() and checked field by field (JSON lines are
 * parsed back with jansson).
 */
#define _XOPEN_SOURCE 700 /* posix_openpt and friends, for the terminal test */
#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static FILE *cap;

static void cap_start(enum log_format fmt, enum log_level lvl)
{
    cap = tmpfile();
    ck_assert_ptr_nonnull(cap);
    log_set_output(fileno(cap));
    log_init(fmt, lvl);
    log_ctx_clear();
}

/* Everything written since cap_start (caller frees). */
static char *cap_read(void)
{
    long n = lseek(fileno(cap), 0, SEEK_END);
    ck_assert_int_ge(n, 0);
    char *buf = calloc(1, (size_t)n + 1);
    ck_assert_int_eq(pread(fileno(cap), buf, (size_t)n, 0), n);
    return buf;
}

static void cap_stop(void)
{
    log_set_output(2);
    fclose(cap);
    cap = NULL;
}

static json_t *parse_line(const char *line)
{
    json_error_t e;
    json_t *j = json_loads(line, JSON_DISABLE_EOF_CHECK, &e);
    ck_assert_msg(j != NULL, "not JSON: %s (%s)", line, e.text);
    return j;
}

START_TEST(log_json_line_has_ts_level_msg_then_keys_in_order)
{
    cap_start(LOG_JSON, LOG_INFO);
    log_msg(LOG_INFO, "reconciled", "controller", "graceservice", "namespace", "ns1", "name", "svc",
            NULL);
    char *out = cap_read();
    ck_assert_str_eq(out, strstr(out, "{\"ts\":\""));
    ck_assert_ptr_nonnull(strstr(out, "\"level\":\"info\",\"msg\":\"reconciled\","
                                      "\"controller\":\"graceservice\",\"namespace\":\"ns1\","
                                      "\"name\":\"svc\"}\n"));
    json_t *j = parse_line(out);
    regex_t re;
    ck_assert_int_eq(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    ck_assert_int_eq(regexec(&re, json_string_value(json_object_get(j, "ts")), 0, NULL, 0), 0);
    regfree(&re);
    json_decref(j);
    free(out);
    cap_stop();
}
END_TEST

START_TEST(log_kv_line_quotes_only_when_needed)
{
    cap_start(LOG_KV, LOG_DEBUG);
    log_msg(LOG_WARN, "apply failed", "plain", "abc", "spaced", "a b", "quoted", "say \"hi\"", "eq",
            "a=b", "empty", "", "nl", "x\ny", "nullval", NULL, NULL);
    char *out = cap_read();
    ck_assert_ptr_nonnull(strstr(out, " level=warn msg=\"apply failed\" plain=abc spaced=\"a b\""
                                      " quoted=\"say \\\"hi\\\"\" eq=\"a=b\" empty=\"\""
                                      " nl=\"x\\ny\" nullval=\"\"\n"));
    ck_assert(strncmp(out, "ts=", 3) == 0);
    ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1); /* one line */
    free(out);
    cap_stop();
}
END_TEST

START_TEST(log_redacts_secret_keys_in_both_formats)
{
    for (int fmt = LOG_JSON; fmt <= LOG_KV; fmt++) {
        cap_start((enum log_format)fmt, LOG_INFO);
        log_msg(LOG_INFO, "connecting", "password", "hunter2", "Token", "tok-1", "SECRET", "s3cr3t",
                "uri", "postgres://u:pw@h/db", "key", "k-9", "dbPassword", "pw-2", "bearerToken",
                "bt-3", "user", "alice", NULL);
        char *out = cap_read();
        const char *leaks[] = {"hunter2", "tok-1", "s3cr3t", "pw@h", "k-9", "pw-2", "bt-3"};
        for (size_t i = 0; i < sizeof leaks / sizeof leaks[0]; i++)
            ck_assert_msg(strstr(out, leaks[i]) == NULL, "leaked %s in %s", leaks[i], out);
        ck_assert_ptr_nonnull(strstr(out, "alice"));
        ck_assert_ptr_nonnull(strstr(out, "[REDACTED]"));
        if (fmt == LOG_JSON) {
            json_t *j = parse_line(out);
            ck_assert_str_eq(json_string_value(json_object_get(j, "password")), "[REDACTED]");
            ck_assert_str_eq(json_string_value(json_object_get(j, "uri")), "[REDACTED]");
            json_decref(j);
        } else {
            ck_assert_ptr_nonnull(strstr(out, " password=[REDACTED] "));
        }
        free(out);
        cap_stop();
    }
}
END_TEST

START_TEST(log_context_keys_are_added_then_cleared)
{
    cap_start(LOG_JSON, LOG_INFO);
    log_ctx_set("graceservice", "team-a", "api", "0f8fad5b-d9cb-469f-a165-70867728950e");
    log_msg(LOG_INFO, "step", "child", "Deployment", NULL);
    log_ctx_clear();
    log_msg(LOG_INFO, "after", NULL);
    char *out = cap_read();
    char *second = strchr(out, '\n') + 1;
    json_t *a = parse_line(out);
    json_t *b = parse_line(second);
    ck_assert_str_eq(json_string_value(json_object_get(a, "controller")), "graceservice");
    ck_assert_str_eq(json_string_value(json_object_get(a, "namespace")), "team-a");
    ck_assert_str_eq(json_string_value(json_object_get(a, "name")), "api");
    ck_assert_str_eq(json_string_value(json_object_get(a, "reconcileID")),
                     "0f8fad5b-d9cb-469f-a165-70867728950e");
    ck_assert_str_eq(json_string_value(json_object_get(a, "child")), "Deployment");
    ck_assert_ptr_null(json_object_get(b, "reconcileID"));
    ck_assert_ptr_null(json_object_get(b, "controller"));
    json_decref(a);
    json_decref(b);
    free(out);
    cap_stop();
}
END_TEST

START_TEST(log_explicit_key_overrides_context_without_duplicate)
{
    cap_start(LOG_KV, LOG_INFO);
    log_ctx_set("graceservice", "ns", "from-ctx", "id-1");
    log_msg(LOG_INFO, "x", "name", "explicit", "msg", "not the message", NULL);
    char *out = cap_read();
    ck_assert_ptr_nonnull(strstr(out, " name=explicit "));
    ck_assert_ptr_null(strstr(out, "from-ctx"));
    ck_assert_ptr_nonnull(strstr(out, " msg=x "));
    ck_assert_ptr_nonnull(strstr(out, "field.msg=\"not the message\""));
    free(out);
    log_ctx_clear();
    cap_stop();
}
END_TEST

static void *other_thread(void *arg)
{
    (void)arg;
    log_msg(LOG_INFO, "from-other", NULL);
    return NULL;
}

START_TEST(log_context_is_per_thread)
{
    cap_start(LOG_JSON, LOG_INFO);
    log_ctx_set("graceservice", "ns", "n", "main-thread-id");
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, other_thread, NULL), 0);
    pthread_join(t, NULL);
    char *out = cap_read();
    json_t *j = parse_line(out);
    ck_assert_str_eq(json_string_value(json_object_get(j, "msg")), "from-other");
    ck_assert_ptr_null(json_object_get(j, "reconcileID"));
    json_decref(j);
    free(out);
    log_ctx_clear();
    cap_stop();
}
END_TEST

START_TEST(log_level_filters_lower_levels)
{
    cap_start(LOG_JSON, LOG_WARN);
    ck_assert(!log_enabled(LOG_INFO));
    ck_assert(log_enabled(LOG_ERROR));
    log_msg(LOG_DEBUG, "d", NULL);
    log_msg(LOG_INFO, "i", NULL);
    log_msg(LOG_ERROR, "e", NULL);
    char *out = cap_read();
    ck_assert_ptr_nonnull(strstr(out, "\"level\":\"error\",\"msg\":\"e\""));
    ck_assert_ptr_null(strstr(out, "\"msg\":\"i\""));
    ck_assert_ptr_null(strstr(out, "\"msg\":\"d\""));
    free(out);
    cap_stop();
}
END_TEST

START_TEST(log_parse_level_accepts_names_and_rejects_others)
{
    enum log_level l = LOG_ERROR;
    struct kerr_info e;
    ck_assert_int_eq(log_parse_level("debug", &l, NULL), KERR_OK);
    ck_assert_int_eq(l, LOG_DEBUG);
    ck_assert_int_eq(log_parse_level("INFO", &l, NULL), KERR_OK);
    ck_assert_int_eq(l, LOG_INFO);
    ck_assert_int_eq(log_parse_level("warning", &l, NULL), KERR_OK);
    ck_assert_int_eq(l, LOG_WARN);
    ck_assert_int_eq(log_parse_level("error", &l, NULL), KERR_OK);
    ck_assert_int_eq(l, LOG_ERROR);
    ck_assert_int_eq(log_parse_level("verbose", &l, &e), KERR_INVAL);
    ck_assert_ptr_nonnull(strstr(e.message, "\"verbose\""));
    ck_assert_int_eq(log_parse_level(NULL, &l, NULL), KERR_INVAL);
    enum log_format f;
    ck_assert_int_eq(log_parse_format("json", &f, NULL), KERR_OK);
    ck_assert_int_eq(f, LOG_JSON);
    ck_assert_int_eq(log_parse_format("xml", &f, NULL), KERR_INVAL);
}
END_TEST

START_TEST(log_auto_format_is_json_when_not_a_tty)
{
    cap_start(LOG_AUTO, LOG_INFO);
    log_msg(LOG_INFO, "auto", NULL);
    char *out = cap_read();
    ck_assert_int_eq(out[0], '{');
    free(out);
    cap_stop();
}
END_TEST

START_TEST(log_auto_format_is_kv_on_a_terminal)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    ck_assert_int_ge(master, 0);
    ck_assert_int_eq(grantpt(master), 0);
    ck_assert_int_eq(unlockpt(master), 0);
    int tty = open(ptsname(master), O_RDWR | O_NOCTTY);
    ck_assert_int_ge(tty, 0);
    log_set_output(tty);
    log_init(LOG_AUTO, LOG_INFO);
    log_msg(LOG_INFO, "on a tty", "k", "v", NULL);
    char buf[512] = "";
    ssize_t n = read(master, buf, sizeof buf - 1);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(strncmp(buf, "ts=", 3), 0);
    ck_assert_ptr_nonnull(strstr(buf, "msg=\"on a tty\" k=v"));
    log_set_output(2);
    close(tty);
    close(master);
}
END_TEST

START_TEST(log_reconcile_ids_are_uuid_v4_and_distinct)
{
    char a[37], b[37];
    log_new_reconcile_id(a);
    log_new_reconcile_id(b);
    regex_t re;
    ck_assert_int_eq(
        regcomp(&re, "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
                REG_EXTENDED | REG_NOSUB),
        0);
    ck_assert_int_eq(regexec(&re, a, 0, NULL, 0), 0);
    ck_assert_int_eq(regexec(&re, b, 0, NULL, 0), 0);
    regfree(&re);
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(log_invalid_utf8_value_still_gives_valid_json)
{
    cap_start(LOG_JSON, LOG_INFO);
    log_msg(LOG_INFO, "bytes", "v", "ok\xff\xfe", NULL);
    char *out = cap_read();
    json_t *j = parse_line(out);
    ck_assert_str_eq(json_string_value(json_object_get(j, "v")), "ok??");
    json_decref(j);
    free(out);
    cap_stop();
}
END_TEST

#define NTHREADS 4
#define NLINES 300

static void *spam(void *arg)
{
    char n[16];
    snprintf(n, sizeof n, "%d", (int)(long)arg);
    char pad[600];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < NLINES; i++)
        log_msg(LOG_INFO, "spam", "thread", n, "pad", pad, NULL);
    return NULL;
}

START_TEST(log_concurrent_lines_never_interleave)
{
    cap_start(LOG_JSON, LOG_INFO);
    pthread_t t[NTHREADS];
    for (long i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, spam, (void *)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    char *out = cap_read();
    int lines = 0;
    for (char *p = out; *p; lines++) {
        char *nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        *nl = '\0';
        json_t *j = parse_line(p);
        ck_assert_str_eq(json_string_value(json_object_get(j, "msg")), "spam");
        json_decref(j);
        p = nl + 1;
    }
    ck_assert_int_eq(lines, NTHREADS * NLINES);
    free(out);
    cap_stop();
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, log_json_line_has_ts_level_msg_then_keys_in_order);
    tcase_add_test(tc, log_kv_line_quotes_only_when_needed);
    tcase_add_test(tc, log_redacts_secret_keys_in_both_formats);
    tcase_add_test(tc, log_context_keys_are_added_then_cleared);
    tcase_add_test(tc, log_explicit_key_overrides_context_without_duplicate);
    tcase_add_test(tc, log_context_is_per_thread);
    tcase_add_test(tc, log_level_filters_lower_levels);
    tcase_add_test(tc, log_parse_level_accepts_names_and_rejects_others);
    tcase_add_test(tc, log_auto_format_is_json_when_not_a_tty);
    tcase_add_test(tc, log_auto_format_is_kv_on_a_terminal);
    tcase_add_test(tc, log_reconcile_ids_are_uuid_v4_and_distinct);
    tcase_add_test(tc, log_invalid_utf8_value_still_gives_valid_json);
    tcase_add_test(tc, log_concurrent_lines_never_interleave);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(log_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
