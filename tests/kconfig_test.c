/*
 * Tests for kconfig: kubeconfig files as kubectl and talosctl write them,
 * the errors for each way they can be wrong (each naming the file and the
 * context, cluster or user at fault), $KUBECONFIG / $HOME lookup, the
 * in-cluster service account, and bearer-token rotation.
 */
#define _GNU_SOURCE /* nftw FTW_DEPTH/FTW_PHYS */
#include <check.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kconfig.h"

static char tmpdir[64];

/* Real material (ECDSA P-256, valid until 2125): kconfig parses it with
 * OpenSSL. CA signed CERT; KEY is CERT's key. */
static const char CA[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBijCCATGgAwIBAgIUYIoKfsvI30JLAJmTbB33aZ4YzMowCgYIKoZIzj0EAwIw\n"
    "GjEYMBYGA1UEAwwPa2NvbmZpZy10ZXN0LWNhMCAXDTI2MTIwNjE1NDIyMVoYDzIx\n"
    "MjYxMTEyMTU0MjIxWjAaMRgwFgYDVQQDDA9rY29uZmlnLXRlc3QtY2EwWTATBgcq\n"
    "hkjOPQIBBggqhkjOPQMBBwNCAASgVuwPoO1HBjzuePGrXN0xMt5dpofH54u1XO11\n"
    "F52hrFbzcbppnEPadXxLPT5fukrThp0FWj11rXsMLZMvcltNo1MwUTAdBgNVHQ4E\n"
    "FgQUFIP+l60DN1l+T2ABsfQqP1m6LdkwHwYDVR0jBBgwFoAUFIP+l60DN1l+T2AB\n"
    "sfQqP1m6LdkwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiA2Caqz\n"
    "jeN02dDJzmU+EWiYO/gd6cRUrmPy1ISmFnYLPgIgXQZ6MIbHdXFBPfXwpy74FeOq\n"
    "6OAwXIhJlPDsxIRnTYg=\n"
    "-----END CERTIFICATE-----\n";
static const char CERT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBPzCB5gIUSXO/yoJQaXfgerDwwPr7RQACYV4wCgYIKoZIzj0EAwIwGjEYMBYG\n"
    "A1UEAwwPa2NvbmZpZy10ZXN0LWNhMCAXDTI2MTIwNjE1NDIyMVoYDzIxMjYxMTEy\n"
    "MTU0MjIxWjApMRcwFQYDVQQKDA5zeXN0ZW06bWFzdGVyczEOMAwGA1UEAwwFYWRt\n"
    "aW4wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAT7MOvUj8oy2Za0t9+9txG/rVlr\n"
    "Pu2I2nSe5gToJjQSx+yTb5M8Om+x4Js/8C7C/VtMtsHS68PO9R68EXXQ2Jd6MAoG\n"
    "CCqGSM49BAMCA0gAMEUCIGwT868/A1Ep7LkIL9vnupG/SDBIaNxyHW7+oW7y2Ge1\n"
    "AiEAtT2S31woDWmOA/rEpseJBnCAfLy+8l2Z/68gWtpyPTo=\n"
    "-----END CERTIFICATE-----\n";
static const char KEY[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgvo2C5iMg5G6X3fsS\n"
    "YHr18j4o5sjPqWLla9NPEZ6uC2qhRANCAAT7MOvUj8oy2Za0t9+9txG/rVlrPu2I\n"
    "2nSe5gToJjQSx+yTb5M8Om+x4Js/8C7C/VtMtsHS68PO9R68EXXQ2Jd6\n"
    "-----END PRIVATE KEY-----\n";

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kconfig_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmpdir/name, in a static rotating buffer */
static const char *tpath(const char *name)
{
    static char bufs[4][256];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
    return b;
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(tpath(name), "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *b64(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    return out;
}

/* A kubeconfig exactly as `talosctl kubeconfig` writes it (4-space indent). */
static void write_talos(const char *name)
{
    char *ca = b64(CA), *cert = b64(CERT), *key = b64(KEY);
    char text[4096];
    snprintf(text, sizeof text,
             "apiVersion: v1\n"
             "kind: Config\n"
             "clusters:\n"
             "    - name: talos-home\n"
             "      cluster:\n"
             "        server: https://10.5.0.2:6443/\n"
             "        certificate-authority-data: %s\n"
             "users:\n"
             "    - name: admin@talos-home\n"
             "      user:\n"
             "        client-certificate-data: %s\n"
             "        client-key-data: %s\n"
             "contexts:\n"
             "    - context:\n"
             "        cluster: talos-home\n"
             "        namespace: apps\n"
             "        user: admin@talos-home\n"
             "      name: admin@talos-home\n"
             "current-context: admin@talos-home\n",
             ca, cert, key);
    write_file(name, text);
    free(ca);
    free(cert);
    free(key);
}

START_TEST(kconfig_talos_style_data_fields_are_decoded)
{
    write_talos("config");
    struct kconfig *cfg = NULL;
    struct kerr_info err;
    ck_assert_int_eq(kconfig_load_file(tpath("config"), NULL, &cfg, &err), KERR_OK);
    ck_assert_str_eq(cfg->server, "https://10.5.0.2:6443");
    ck_assert_str_eq(cfg->context, "admin@talos-home");
    ck_assert_str_eq(cfg->namespace_, "apps");
    ck_assert_uint_eq(cfg->ca_len, strlen(CA));
    ck_assert_str_eq(cfg->ca_pem, CA);
    ck_assert_str_eq(cfg->cert_pem, CERT);
    ck_assert_uint_eq(cfg->key_len, strlen(KEY));
    ck_assert_str_eq(cfg->key_pem, KEY);
    ck_assert(!cfg->insecure_skip_tls_verify);
    ck_assert_ptr_null(cfg->token);
    ck_assert_ptr_null(kconfig_bearer_token(cfg));
    kconfig_free(cfg);
}
END_TEST

START_TEST(kconfig_files_are_relative_to_the_kubeconfig_dir)
{
    mkdir(tpath("pki"), 0700);
    write_file("pki/ca.crt", CA);
    write_file("pki/admin.crt", CERT);
    write_file("pki/admin.key", KEY);
    write_file("config", "clusters:\n"
                         "- name: c\n"
                         "  cluster:\n"
                         "    server: https://k:6443\n"
                         "    certificate-authority: pki/ca.crt\n"
                         "users:\n"
                         "- name: u\n"
                         "  user:\n"
                         "    client-certificate: pki/admin.crt\n"
                         "    client-key: pki/admin.key\n"
                         "contexts:\n"
                         "- name: x\n"
                         "  context: {cluster: c, user: u}\n"
                         "current-context: x\n");
    struct kconfig *cfg = NULL;
    ck_assert_int_eq(kconfig_load_file(tpath("config"), NULL, &cfg, NULL), KERR_OK);
    ck_assert_str_eq(cfg->ca_pem, CA);
    ck_assert_str_eq(cfg->cert_pem, CERT);
    ck_assert_str_eq(cfg->key_pem, KEY);
    ck_assert_ptr_null(cfg->namespace_);
    kconfig_free(cfg);
}
END_TEST

static const char TWO_CONTEXTS[] = "clusters:\n"
                                   "- name: prod\n"
                                   "  cluster: {server: 'https://prod:443'}\n"
                                   "- name: dev\n"
                                   "  cluster:\n"
                                   "    server: http://127.0.0.1:8080\n"
                                   "    insecure-skip-tls-verify: true\n"
                                   "    disable-compression: true\n"
                                   "users:\n"
                                   "- name: t\n"
                                   "  user: {token: s3cret}\n"
                                   "contexts:\n"
                                   "- name: prod\n"
                                   "  context: {cluster: prod, user: t}\n"
                                   "- name: dev\n"
                                   "  context: {cluster: dev, user: t, namespace: dev-ns}\n"
                                   "current-context: prod\n";

START_TEST(kconfig_explicit_context_wins_over_current_context)
{
    write_file("config", TWO_CONTEXTS);
    struct kconfig *cfg = NULL;
    ck_assert_int_eq(kconfig_load_file(tpath("config"), NULL, &cfg, NULL), KERR_OK);
    ck_assert_str_eq(cfg->server, "https://prod:443");
    ck_assert(!cfg->insecure_skip_tls_verify);
    ck_assert(!cfg->disable_compression);
    kconfig_free(cfg);
    ck_assert_int_eq(kconfig_load_file(tpath("config"), "dev", &cfg, NULL), KERR_OK);
    ck_assert_str_eq(cfg->context, "dev");
    ck_assert_str_eq(cfg->server, "http://127.0.0.1:8080");
    ck_assert(cfg->insecure_skip_tls_verify);
    ck_assert(cfg->disable_compression);
    ck_assert_str_eq(cfg->namespace_, "dev-ns");
    ck_assert_str_eq(cfg->token, "s3cret");
    char *t = kconfig_bearer_token(cfg);
    ck_assert_str_eq(t, "s3cret");
    free(t);
    kconfig_free(cfg);
}
END_TEST

/* Load `text` as tmpdir/config and expect KERR_CONFIG with all of `needles`
 * in the message (and never the secret "s3cret"). */
static void expect_error(const char *text, const char *context, const char *const *needles)
{
    write_file("config", text);
    struct kconfig *cfg = (struct kconfig *)0x1;
    struct kerr_info err;
    kerr_clear(&err);
    ck_assert_int_eq(kconfig_load_file(tpath("config"), context, &cfg, &err), KERR_CONFIG);
    ck_assert_ptr_null(cfg);
    ck_assert_msg(strstr(err.message, tpath("config")) != NULL, "no path in: %s", err.message);
    for (; *needles; needles++)
        ck_assert_msg(strstr(err.message, *needles) != NULL, "'%s' not in: %s", *needles,
                      err.message);
    ck_assert(strstr(err.message, "s3cret") == NULL);
}

START_TEST(kconfig_missing_file_is_named)
{
    struct kconfig *cfg = NULL;
    struct kerr_info err;
    ck_assert_int_eq(kconfig_load_file(tpath("nope"), NULL, &cfg, &err), KERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, tpath("nope")));
    ck_assert_ptr_nonnull(strstr(err.message, "No such file"));
}
END_TEST

START_TEST(kconfig_malformed_yaml_gives_the_line)
{
    expect_error("clusters:\n- name: a\n  cluster: [unclosed\n", NULL,
                 (const char *const[]){"malformed YAML", "/config:4:1: ", NULL});
    expect_error("just a string\n", NULL, (const char *const[]){"not a YAML mapping", NULL});
    expect_error("", NULL, (const char *const[]){"malformed YAML", NULL});
    expect_error("a: 1\na: 2\n", NULL, (const char *const[]){"duplicate", NULL});
}
END_TEST

START_TEST(kconfig_missing_context_cluster_user_are_named)
{
    expect_error(TWO_CONTEXTS, "foo", (const char *const[]){"context \"foo\" not found", NULL});
    expect_error("contexts:\n- name: x\n  context: {cluster: gone, user: u}\n"
                 "current-context: x\n",
                 NULL, (const char *const[]){"cluster \"gone\"", "not found", NULL});
    expect_error("clusters:\n- name: c\n  cluster: {server: 'https://a'}\n"
                 "contexts:\n- name: x\n  context: {cluster: c, user: who}\n"
                 "current-context: x\n",
                 NULL, (const char *const[]){"user \"who\"", "not found", NULL});
    expect_error("contexts: []\n", NULL, (const char *const[]){"no current-context", NULL});
    expect_error("clusters:\n- name: c\n  cluster: {}\n"
                 "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
                 NULL, (const char *const[]){"cluster \"c\" has no server", NULL});
    expect_error("contexts:\n- name: x\n  context: {user: u}\ncurrent-context: x\n", NULL,
                 (const char *const[]){"context \"x\" names no cluster", NULL});
    expect_error("clusters:\n- name: c\n  cluster: {server: 'ftp://a'}\n"
                 "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
                 NULL, (const char *const[]){"not an http(s) URL", NULL});
    /* found by fuzz_kconfig: "https://" has no host; it was accepted and,
     * its trailing slashes cut, became "https:" */
    static const char *const no_host[] = {"https://", "https:///", "http://"};
    for (size_t i = 0; i < sizeof no_host / sizeof *no_host; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "clusters:\n- name: c\n  cluster: {server: '%s'}\n"
                 "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
                 no_host[i]);
        expect_error(text, NULL, (const char *const[]){"not an http(s) URL with a host", NULL});
    }
}
END_TEST

START_TEST(kconfig_bad_credentials_name_the_user_and_field)
{
    const char *head = "clusters:\n- name: c\n  cluster: {server: 'https://a'}\n"
                       "contexts:\n- name: x\n  context: {cluster: c, user: admin}\n"
                       "current-context: x\nusers:\n- name: admin\n  user:\n";
    char text[4096];
    char *cert = b64(CERT);
    snprintf(text, sizeof text,
             "%s    client-certificate-data: '%s'\n"
             "    client-key-data: 'not*base64!!'\n",
             head, cert);
    expect_error(
        text, NULL,
        (const char *const[]){"user \"admin\"", "client-key-data is not valid base64", NULL});
    char *notpem = b64("just bytes");
    snprintf(text, sizeof text, "%s    client-certificate-data: %s\n", head, notpem);
    free(notpem);
    expect_error(text, NULL,
                 (const char *const[]){"client-certificate-data does not contain a PEM", NULL});
    snprintf(text, sizeof text, "%s    client-certificate-data: %s\n", head, cert);
    free(cert);
    expect_error(text, NULL, (const char *const[]){"user \"admin\"", "without client key", NULL});
    snprintf(text, sizeof text, "%s    client-key: missing.key\n", head);
    expect_error(text, NULL, (const char *const[]){"client-key", "missing.key", NULL});
    snprintf(text, sizeof text, "%s    exec: {command: aws}\n", head);
    expect_error(text, NULL, (const char *const[]){"\"exec\" credentials are not supported", NULL});
    snprintf(text, sizeof text, "%s    token: {a: b}\n", head);
    expect_error(text, NULL, (const char *const[]){"token is not a string", NULL});
    expect_error("clusters:\n- name: c\n  cluster: {server: 'https://a', "
                 "insecure-skip-tls-verify: maybe}\n"
                 "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
                 NULL, (const char *const[]){"insecure-skip-tls-verify is not a boolean", NULL});
}
END_TEST

START_TEST(kconfig_kubeconfig_env_takes_the_first_existing_path)
{
    write_file("second", TWO_CONTEXTS);
    char env[600];
    snprintf(env, sizeof env, "%s:%s:%s", tpath("missing"), tpath("second"), tpath("config"));
    setenv("KUBECONFIG", env, 1);
    struct kconfig *cfg = NULL;
    struct kerr_info err;
    ck_assert_int_eq(kconfig_load_file(NULL, NULL, &cfg, &err), KERR_OK);
    ck_assert_str_eq(cfg->server, "https://prod:443");
    kconfig_free(cfg);
    setenv("KUBECONFIG", tpath("missing"), 1);
    ck_assert_int_eq(kconfig_load_file(NULL, NULL, &cfg, &err), KERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "$KUBECONFIG"));
    /* unset: $HOME/.kube/config */
    unsetenv("KUBECONFIG");
    mkdir(tpath(".kube"), 0700);
    write_file(".kube/config", TWO_CONTEXTS);
    setenv("HOME", tmpdir, 1);
    ck_assert_int_eq(kconfig_load_file(NULL, "dev", &cfg, &err), KERR_OK);
    ck_assert_str_eq(cfg->context, "dev");
    kconfig_free(cfg);
}
END_TEST

static void make_sa_dir(void)
{
    mkdir(tpath("sa"), 0700);
    write_file("sa/token", "tok-1\n");
    write_file("sa/ca.crt", CA);
    write_file("sa/namespace", "operators\n");
}

/* A cluster with `ca` (base64 of it) as certificate-authority-data and a
 * user with the given client certificate and key (NULL: none). */
static void write_with_pem(const char *ca, const char *cert, const char *key)
{
    char *ca64 = b64(ca), *cert64 = cert ? b64(cert) : NULL, *key64 = key ? b64(key) : NULL;
    char text[8192];
    snprintf(text, sizeof text,
             "clusters:\n- name: c\n  cluster:\n    server: https://k:6443\n"
             "    certificate-authority-data: %s\n"
             "users:\n- name: u\n  user:\n    token: t\n%s%s%s%s%s"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
             ca64, cert ? "    client-certificate-data: " : "", cert ? cert64 : "",
             cert ? "\n    client-key-data: " : "", key ? key64 : "", cert ? "\n" : "");
    write_file("config", text);
    free(ca64);
    free(cert64);
    free(key64);
}

static void expect_pem_error(const char *ca, const char *cert, const char *key,
                             const char *const *needles)
{
    write_with_pem(ca, cert, key);
    struct kconfig *cfg = NULL;
    struct kerr_info err;
    ck_assert_int_eq(kconfig_load_file(tpath("config"), NULL, &cfg, &err), KERR_CONFIG);
    ck_assert_ptr_null(cfg);
    for (; *needles; needles++)
        ck_assert_msg(strstr(err.message, *needles) != NULL, "'%s' not in: %s", *needles,
                      err.message);
}

START_TEST(kconfig_ca_that_is_base64_but_not_a_certificate_is_refused_at_load)
{
    /* a PEM-looking block whose content is not DER: base64 decodes fine */
    static const char FAKE[] =
        "-----BEGIN CERTIFICATE-----\nQ0EtY2VydA==\n-----END CERTIFICATE-----\n";
    expect_pem_error(FAKE, NULL, NULL,
                     (const char *const[]){"cluster \"c\"",
                                           "certificate-authority-data is not a PEM certificate",
                                           NULL});
    expect_pem_error(KEY, NULL, NULL,
                     (const char *const[]){"certificate-authority-data is not a PEM certificate",
                                           NULL});
    expect_pem_error(CA, FAKE, KEY,
                     (const char *const[]){"user \"u\"",
                                           "client-certificate-data is not a PEM certificate",
                                           NULL});
    expect_pem_error(CA, CERT, CERT,
                     (const char *const[]){"client-key-data is not a PEM private key", NULL});
    /* the real material loads, a CA bundle of two certificates too */
    char bundle[4096];
    snprintf(bundle, sizeof bundle, "%s%s", CA, CERT);
    write_with_pem(bundle, CERT, KEY);
    struct kconfig *cfg = NULL;
    struct kerr_info err;
    ck_assert_msg(kconfig_load_file(tpath("config"), NULL, &cfg, &err) == KERR_OK, "%s",
                  err.message);
    ck_assert_str_eq(cfg->ca_pem, bundle);
    kconfig_free(cfg);
}
END_TEST

START_TEST(kconfig_plain_http_is_only_for_loopback)
{
    static const char *const ok[] = {"http://127.0.0.1:8080", "http://localhost:8001",
                                     "http://[::1]:80/", "http://127.1.2.3", NULL};
    static const char *const bad[] = {"http://10.5.0.2:6443", "http://k8s.example.com",
                                      "http://[fd00::1]:6443", "http://localhost.evil.com", NULL};
    char text[512];
    for (int i = 0; ok[i]; i++) {
        snprintf(text, sizeof text,
                 "clusters:\n- name: c\n  cluster: {server: '%s'}\n"
                 "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
                 ok[i]);
        write_file("config", text);
        struct kconfig *cfg = NULL;
        ck_assert_msg(kconfig_load_file(tpath("config"), NULL, &cfg, NULL) == KERR_OK, "%s",
                      ok[i]);
        kconfig_free(cfg);
    }
    for (int i = 0; bad[i]; i++) {
        snprintf(text, sizeof text,
                 "clusters:\n- name: c\n  cluster: {server: '%s'}\n"
                 "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
                 bad[i]);
        expect_error(text, NULL, (const char *const[]){"cluster \"c\"", "plain http://",
                                                       "not loopback", NULL});
    }
}
END_TEST

START_TEST(kconfig_in_cluster_ca_must_be_a_certificate)
{
    make_sa_dir();
    write_file("sa/ca.crt", "-----BEGIN CERTIFICATE-----\nQ0EtY2VydA==\n-----END CERTIFICATE-----\n");
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    struct kconfig *cfg = NULL;
    struct kerr_info err;
    ck_assert_int_eq(kconfig_in_cluster(tpath("sa"), &cfg, &err), KERR_CONFIG);
    ck_assert_ptr_null(cfg);
    ck_assert_msg(strstr(err.message, "ca.crt is not a PEM certificate") != NULL, "%s",
                  err.message);
}
END_TEST

START_TEST(kconfig_in_cluster_reads_the_service_account)
{
    make_sa_dir();
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    struct kconfig *cfg = NULL;
    ck_assert_int_eq(kconfig_in_cluster(tpath("sa"), &cfg, NULL), KERR_OK);
    ck_assert_str_eq(cfg->server, "https://10.96.0.1:443");
    ck_assert_str_eq(cfg->namespace_, "operators");
    ck_assert_str_eq(cfg->ca_pem, CA);
    ck_assert_ptr_null(cfg->context);
    char *t = kconfig_bearer_token(cfg);
    ck_assert_str_eq(t, "tok-1");
    free(t);
    kconfig_free(cfg);
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    ck_assert_int_eq(kconfig_in_cluster(tpath("sa"), &cfg, NULL), KERR_OK);
    ck_assert_str_eq(cfg->server, "https://[fd00::1]:443");
    kconfig_free(cfg);
}
END_TEST

START_TEST(kconfig_in_cluster_errors)
{
    struct kconfig *cfg = NULL;
    struct kerr_info err;
    unsetenv("KUBERNETES_SERVICE_HOST");
    ck_assert_int_eq(kconfig_in_cluster(tpath("sa"), &cfg, &err), KERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "KUBERNETES_SERVICE_HOST"));
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    ck_assert_int_eq(kconfig_in_cluster(tpath("sa"), &cfg, &err), KERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "sa/token"));
    mkdir(tpath("sa"), 0700);
    write_file("sa/token", "t\n");
    ck_assert_int_eq(kconfig_in_cluster(tpath("sa"), &cfg, &err), KERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "ca.crt"));
    ck_assert_ptr_null(cfg);
    write_file("sa/token", "\n");
    ck_assert_int_eq(kconfig_in_cluster(tpath("sa"), &cfg, &err), KERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "empty token"));
}
END_TEST

/* Replace sa/token atomically, as the kubelet does (new inode). */
static void rotate_token(const char *value)
{
    write_file("sa/token.new", value);
    ck_assert_int_eq(rename(tpath("sa/token.new"), tpath("sa/token")), 0);
}

START_TEST(kconfig_token_file_rotation_is_picked_up)
{
    make_sa_dir();
    setenv("KUBERNETES_SERVICE_HOST", "h", 1);
    setenv("KUBERNETES_SERVICE_PORT", "1", 1);
    struct kconfig *cfg = NULL;
    ck_assert_int_eq(kconfig_in_cluster(tpath("sa"), &cfg, NULL), KERR_OK);
    char *t = kconfig_bearer_token(cfg);
    ck_assert_str_eq(t, "tok-1");
    free(t);
    rotate_token("tok-2\n");
    t = kconfig_bearer_token(cfg);
    ck_assert_str_eq(t, "tok-2");
    free(t);
    /* a file that disappears mid-rotation keeps the last good token */
    unlink(tpath("sa/token"));
    t = kconfig_bearer_token(cfg);
    ck_assert_str_eq(t, "tok-2");
    free(t);
    rotate_token("tok-3");
    t = kconfig_bearer_token(cfg);
    ck_assert_str_eq(t, "tok-3");
    free(t);
    kconfig_free(cfg);
}
END_TEST

static void *token_reader(void *arg)
{
    for (int i = 0; i < 300; i++) {
        char *t = kconfig_bearer_token(arg);
        ck_assert_ptr_nonnull(t);
        ck_assert(strncmp(t, "tok-", 4) == 0);
        free(t);
    }
    return NULL;
}

START_TEST(kconfig_token_reads_are_thread_safe_during_rotation)
{
    make_sa_dir();
    setenv("KUBERNETES_SERVICE_HOST", "h", 1);
    setenv("KUBERNETES_SERVICE_PORT", "1", 1);
    struct kconfig *cfg = NULL;
    ck_assert_int_eq(kconfig_in_cluster(tpath("sa"), &cfg, NULL), KERR_OK);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, token_reader, cfg);
    for (int i = 0; i < 50; i++) {
        char v[32];
        snprintf(v, sizeof v, "tok-%d\n", i);
        rotate_token(v);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    char *t = kconfig_bearer_token(cfg);
    ck_assert_str_eq(t, "tok-49");
    free(t);
    kconfig_free(cfg);
}
END_TEST

START_TEST(kconfig_kubeconfig_token_file_user)
{
    write_file("tok", "file-token\n");
    write_file("config", "clusters:\n- name: c\n  cluster: {server: 'https://a'}\n"
                         "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                         "current-context: x\n"
                         "users:\n- name: u\n  user: {tokenFile: tok, token: static}\n");
    struct kconfig *cfg = NULL;
    ck_assert_int_eq(kconfig_load_file(tpath("config"), NULL, &cfg, NULL), KERR_OK);
    ck_assert_str_eq(cfg->token_file, tpath("tok"));
    char *t = kconfig_bearer_token(cfg);
    ck_assert_str_eq(t, "file-token");
    free(t);
    kconfig_free(cfg);
    /* a hand-built config (no private cache) also works */
    struct kconfig hand = {0};
    hand.token_file = (char *)tpath("tok");
    t = kconfig_bearer_token(&hand);
    ck_assert_str_eq(t, "file-token");
    free(t);
    kconfig_free(NULL);
}
END_TEST

static Suite *kconfig_suite(void)
{
    Suite *s = suite_create("kconfig");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, kconfig_talos_style_data_fields_are_decoded);
    tcase_add_test(tc, kconfig_files_are_relative_to_the_kubeconfig_dir);
    tcase_add_test(tc, kconfig_explicit_context_wins_over_current_context);
    tcase_add_test(tc, kconfig_missing_file_is_named);
    tcase_add_test(tc, kconfig_malformed_yaml_gives_the_line);
    tcase_add_test(tc, kconfig_missing_context_cluster_user_are_named);
    tcase_add_test(tc, kconfig_bad_credentials_name_the_user_and_field);
    tcase_add_test(tc, kconfig_kubeconfig_env_takes_the_first_existing_path);
    tcase_add_test(tc, kconfig_in_cluster_reads_the_service_account);
    tcase_add_test(tc, kconfig_in_cluster_errors);
    tcase_add_test(tc, kconfig_token_file_rotation_is_picked_up);
    tcase_add_test(tc, kconfig_token_reads_are_thread_safe_during_rotation);
    tcase_add_test(tc, kconfig_kubeconfig_token_file_user);
    tcase_add_test(tc, kconfig_ca_that_is_base64_but_not_a_certificate_is_refused_at_load);
    tcase_add_test(tc, kconfig_plain_http_is_only_for_loopback);
    tcase_add_test(tc, kconfig_in_cluster_ca_must_be_a_certificate);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kconfig_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
