/*
 * manager_run_test: manager_main as the binary runs it, in this process. Flags: --help and
 * --version exit 0, a bad flag or log level exits 2. Start and stop: against
 * a testsrv API server that does not serve GraceServices yet, the manager
 * starts its HTTP server (/healthz ok, /readyz not ready: caches not
 * synced), waits for the CRD, and on SIGTERM stops everything and returns
 * 0 (valgrind: nothing leaked). A kubeconfig that cannot be read is a
 * start-up failure (1).
 */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "manager.h"
#include "testsrv.h"

static int run(const char *const *args)
{
    int argc = 0;
    while (args[argc])
        argc++;
    return manager_main(argc, (char **)args);
}

START_TEST(manager_help_and_version_exit_zero)
{
    const char *help[] = {"grace-operator", "--help", NULL};
    const char *version[] = {"grace-operator", "--version", NULL};
    ck_assert_int_eq(run(help), 0);
    ck_assert_int_eq(run(version), 0);
}
END_TEST

START_TEST(manager_bad_flags_exit_two)
{
    const char *bogus[] = {"grace-operator", "--no-such-flag", NULL};
    const char *level[] = {"grace-operator", "--log-level", "loud", NULL};
    const char *workers[] = {"grace-operator", "--workers", "0", NULL};
    ck_assert_int_eq(run(bogus), 2);
    ck_assert_int_eq(run(level), 2);
    ck_assert_int_eq(run(workers), 2);
}
END_TEST

/* ---- start and stop ---- */

static void api(void *ctx, const struct testsrv_req *req, struct testsrv_resp *out)
{
    (void)ctx;
    out->status = 200;
    if (!strncmp(req->path, "/apis", 5) && (req->path[5] == '\0' || req->path[5] == '?'))
        out->body = "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[]}";
    else if (!strncmp(req->path, "/api", 4) && (req->path[4] == '\0' || req->path[4] == '?'))
        out->body = "{\"kind\":\"APIVersions\",\"versions\":[]}";
    else {
        out->status = 404;
        out->body = "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"NotFound\","
                    "\"code\":404}";
    }
}

struct mgr_run {
    const char *const *args;
    int rc;
};

static void *mgr_thread(void *arg)
{
    struct mgr_run *r = arg;
    r->rc = run(r->args);
    return NULL;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Wait until the log holds `what`; the log text then. */
static const char *wait_log(const char *path, const char *what)
{
    for (int i = 0; i < 600; i++) {
        const char *t = slurp(path);
        if (strstr(t, what))
            return t;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ck_abort_msg("the log never said \"%s\":\n%s", what, slurp(path));
    return NULL;
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static long http_status(int port, const char *path)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

static void write_kubeconfig(const char *path, const char *url)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
            "clusters: [{name: t, cluster: {server: \"%s\"}}]\n"
            "users: [{name: t, user: {token: abc}}]\n"
            "contexts: [{name: t, context: {cluster: t, user: t, namespace: default}}]\n",
            url);
    fclose(f);
}

START_TEST(manager_starts_waits_for_the_crd_and_stops_on_sigterm)
{
    struct testsrv *s = testsrv_start();
    testsrv_set_handler(s, api, NULL);
    char kc[] = "/tmp/manager_test_kc_XXXXXX", logp[] = "/tmp/manager_test_log_XXXXXX";
    int kfd = mkstemp(kc), lfd = mkstemp(logp);
    ck_assert_int_ge(kfd, 0);
    ck_assert_int_ge(lfd, 0);
    close(kfd);
    write_kubeconfig(kc, testsrv_url(s));
    log_set_output(lfd);
    const char *args[] = {"grace-operator", "--kubeconfig", kc, "--leader-elect=false",
                          "--health-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
                          "--webhook-addr", "off", "--templates", "templates",
                          "--log-format", "kv", NULL};
    struct mgr_run r = {args, -1};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, mgr_thread, &r), 0);
    const char *t = wait_log(logp, "healthPort=");
    int port = (int)strtol(strstr(t, "healthPort=") + 11, NULL, 10);
    ck_assert_int_gt(port, 0);
    wait_log(logp, "does not serve grace.dev/v1alpha1");
    ck_assert_int_eq(http_status(port, "/healthz"), 200);
    ck_assert_int_eq(http_status(port, "/readyz"), 503);
    kill(getpid(), SIGTERM);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(r.rc, 0);
    wait_log(logp, "msg=stopped");
    log_set_output(2);
    close(lfd);
    unlink(kc);
    unlink(logp);
    testsrv_stop(s);
}
END_TEST

START_TEST(manager_unreadable_kubeconfig_is_a_start_up_failure)
{
    char logp[] = "/tmp/manager_test_log_XXXXXX";
    int lfd = mkstemp(logp);
    ck_assert_int_ge(lfd, 0);
    log_set_output(lfd);
    const char *args[] = {"grace-operator", "--kubeconfig", "/nonexistent/kubeconfig",
                          "--leader-elect=false", "--health-addr", "127.0.0.1:0",
                          "--metrics-addr", "127.0.0.1:0", "--webhook-addr", "off",
                          "--log-format", "kv", NULL};
    ck_assert_int_eq(run(args), 1);
    wait_log(logp, "start-up failed");
    log_set_output(2);
    close(lfd);
    unlink(logp);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("manager");
    TCase *tc = tcase_create("main");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, manager_help_and_version_exit_zero);
    tcase_add_test(tc, manager_bad_flags_exit_two);
    tcase_add_test(tc, manager_starts_waits_for_the_crd_and_stops_on_sigterm);
    tcase_add_test(tc, manager_unreadable_kubeconfig_is_a_start_up_failure);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
