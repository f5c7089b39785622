/*
 * manager_test: the daemon's start-up as a user meets it. manager_main runs
 * in a child process (its log on a pipe) against a scripted API server:
 * a configuration, kubeconfig or certificate-directory mistake ends start-up
 * with exit 1 and one log line naming it; a permanent API error (401) ends it
 * too; a transient one (connection refused) is retried until SIGTERM.
 *
 * The child is this binary executed again (`--as-operator ARGS...`), not
 * a bare fork: a fork of a process with threads (the scripted server's)
 * inherits any lock another thread held at that instant; ASan's allocator
 * lock held that way deadlocked the child about one run in 40.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "manager.h"
#include "testsrv.h"

static char tmpdir[64];
static char self_exe[4096]; /* this binary, run again as the operator */

struct run {
    int status;     /* exit code, or -1 when it had to be stopped */
    char out[8192]; /* everything it logged */
    int lines;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read the child's output until it closes or `deadline` passes. */
static size_t drain(int fd, char *buf, size_t cap, size_t len, double deadline)
{
    while (len + 1 < cap) {
        int ms = (int)((deadline - now_s()) * 1000);
        struct pollfd p = {fd, POLLIN, 0};
        if (ms <= 0 || poll(&p, 1, ms) <= 0)
            break;
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

/*
 * Run manager_main(argv) for at most `secs` seconds; after that it gets
 * SIGTERM (status is then its exit code after the signal, and `stopped`
 * says so).
 */
static void run_operator(char **argv, double secs, struct run *r, bool *stopped)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        char *cargv[32] = {self_exe, "--as-operator"};
        for (int i = 0; argv[i] && i < 29; i++)
            cargv[i + 2] = argv[i];
        execv(self_exe, cargv);
        _exit(127);
    }
    close(fds[1]);
    double deadline = now_s() + secs;
    size_t len = 0;
    int st = 0;
    pid_t done = 0;
    /* Until the deadline or the child's exit, whichever comes first. drain can
     * return early (EOF, EINTR, a full buffer): only waitpid says it ended. */
    while (now_s() < deadline && (done = waitpid(pid, &st, WNOHANG)) == 0) {
        size_t before = len;
        len = drain(fds[0], r->out, sizeof r->out, len, fmin(deadline, now_s() + 0.1));
        if (len == before) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    *stopped = done == 0;
    if (*stopped)
        kill(pid, SIGTERM);
    drain(fds[0], r->out, sizeof r->out, len, now_s() + 10);
    if (done == 0)
        waitpid(pid, &st, 0);
    close(fds[0]);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->lines = 0;
    for (const char *p = r->out; (p = strchr(p, '\n')) != NULL; p++)
        r->lines++;
}

static void write_kubeconfig(const char *server, const char *ca_data)
{
    char path[128];
    snprintf(path, sizeof path, "%s/kubeconfig", tmpdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "clusters:\n- name: c\n  cluster:\n    server: %s\n%s%s%s"
            "users:\n- name: u\n  user: {token: t0ken}\n"
            "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
            server, ca_data ? "    certificate-authority-data: " : "", ca_data ? ca_data : "",
            ca_data ? "\n" : "");
    fclose(f);
}

/* argv for the operator with the kubeconfig in tmpdir and free ports. */
static char **args(const char *extra1, const char *extra2)
{
    static char kc[160];
    static char *argv[16];
    snprintf(kc, sizeof kc, "%s/kubeconfig", tmpdir);
    int i = 0;
    argv[i++] = "grace-operator";
    argv[i++] = "--kubeconfig";
    argv[i++] = kc;
    argv[i++] = "--log-format=json";
    argv[i++] = "--health-addr=127.0.0.1:0";
    argv[i++] = "--metrics-addr=127.0.0.1:0";
    argv[i++] = "--webhook-addr=off";
    argv[i++] = "--leader-elect=false";
    if (extra1)
        argv[i++] = (char *)extra1;
    if (extra2)
        argv[i++] = (char *)extra2;
    argv[i] = NULL;
    return argv;
}

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/manager_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void expect_one_line_failure(struct run *r, const char *needle)
{
    ck_assert_msg(r->status == 1, "exit %d: %s", r->status, r->out);
    ck_assert_msg(r->lines == 1, "%d lines: %s", r->lines, r->out);
    ck_assert_msg(strstr(r->out, "\"start-up failed\"") && strstr(r->out, needle),
                  "'%s' not in: %s", needle, r->out);
    ck_assert_msg(!strstr(r->out, "finishing running reconciles"), "%s", r->out);
    ck_assert_msg(!strstr(r->out, "t0ken"), "the token was logged: %s", r->out);
}

START_TEST(manager_missing_config_file_is_one_line_naming_the_configuration)
{
    write_kubeconfig("http://127.0.0.1:1", NULL);
    struct run r;
    bool stopped;
    run_operator(args("--config=/nonexistent/grace.yaml", NULL), 10, &r, &stopped);
    ck_assert(!stopped);
    expect_one_line_failure(&r, "configuration file (--config) /nonexistent/grace.yaml");
    ck_assert_msg(!strstr(r.out, "transport error"), "%s", r.out);
}
END_TEST

START_TEST(manager_unusable_cert_dir_names_the_flag)
{
    write_kubeconfig("http://127.0.0.1:1", NULL);
    struct run r;
    bool stopped;
    char **argv = args("--webhook-cert-dir=/nonexistent/certs/dir", NULL);
    for (int i = 0; argv[i]; i++)
        if (strcmp(argv[i], "--webhook-addr=off") == 0)
            argv[i] = "--webhook-addr=127.0.0.1:0";
    run_operator(argv, 10, &r, &stopped);
    ck_assert(!stopped);
    expect_one_line_failure(&r, "--webhook-cert-dir /nonexistent/certs/dir");
}
END_TEST

START_TEST(manager_ca_that_is_not_a_certificate_stops_start_up)
{
    const char *fake = "-----BEGIN CERTIFICATE-----\nQ0EtY2VydA==\n-----END CERTIFICATE-----\n";
    char b64[256];
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)fake, (int)strlen(fake));
    write_kubeconfig("https://127.0.0.1:1", b64);
    struct run r;
    bool stopped;
    run_operator(args(NULL, NULL), 10, &r, &stopped);
    ck_assert(!stopped);
    expect_one_line_failure(&r, "certificate-authority-data is not a PEM certificate");
}
END_TEST

START_TEST(manager_401_on_discovery_stops_start_up)
{
    struct testsrv *srv = testsrv_start();
    testsrv_push_simple(srv, 401,
                        "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"message\":"
                        "\"Unauthorized\",\"code\":401}",
                        50);
    write_kubeconfig(testsrv_url(srv), NULL);
    struct run r;
    bool stopped;
    double t0 = now_s();
    run_operator(args(NULL, NULL), 20, &r, &stopped);
    ck_assert_msg(!stopped, "still retrying after 20 s: %s", r.out);
    ck_assert_msg(now_s() - t0 < 10, "took %.1f s", now_s() - t0);
    ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.out);
    ck_assert_msg(strstr(r.out, "\"kind\":\"unauthorized\""), "%s", r.out);
    ck_assert_msg(!strstr(r.out, "retrying"), "%s", r.out);
    ck_assert_msg(!strstr(r.out, "finishing running reconciles"), "%s", r.out);
    testsrv_stop(srv);
}
END_TEST

START_TEST(manager_refused_connection_is_retried_with_backoff_until_sigterm)
{
    write_kubeconfig("http://127.0.0.1:1", NULL);
    struct run r;
    bool stopped;
    run_operator(args(NULL, NULL), 2.5, &r, &stopped);
    ck_assert_msg(stopped, "exited by itself: %s", r.out);
    ck_assert_msg(r.status == 0, "exit %d after SIGTERM: %s", r.status, r.out);
    ck_assert_msg(strstr(r.out, "\"retryIn\":\"1.0s\"") && strstr(r.out, "\"retryIn\":\"2.0s\""),
                  "no backoff: %s", r.out);
    ck_assert_msg(!strstr(r.out, "start-up failed"), "%s", r.out);
}
END_TEST

static Suite *manager_suite(void)
{
    Suite *s = suite_create("manager");
    TCase *tc = tcase_create("startup");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, manager_missing_config_file_is_one_line_naming_the_configuration);
    tcase_add_test(tc, manager_unusable_cert_dir_names_the_flag);
    tcase_add_test(tc, manager_ca_that_is_not_a_certificate_stops_start_up);
    tcase_add_test(tc, manager_401_on_discovery_stops_start_up);
    tcase_add_test(tc, manager_refused_connection_is_retried_with_backoff_until_sigterm);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--as-operator") == 0)
        _exit(manager_main(argc - 2, argv + 2)); /* as the forked child did */
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0)
        return EXIT_FAILURE;
    self_exe[n] = '\0';
    SRunner *sr = srunner_create(manager_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
