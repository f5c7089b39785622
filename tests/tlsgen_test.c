/*
 * tlsgen_test: generated CA and serving certificate, checked with OpenSSL
 * itself (SANs, key match, chain verification with hostname and purpose),
 * plus the directory helpers and their error paths.
 */
#include <check.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsgen.h"

static const char *const names[] = {"grace-operator-webhook.grace-system.svc", "localhost",
                                    "127.0.0.1", "::1"};

static X509 *load_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_ptr_nonnull(x);
    return x;
}

static EVP_PKEY *load_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_ptr_nonnull(k);
    return k;
}

static struct tlsgen_pem gen(void)
{
    struct tlsgen_pem p;
    struct kerr_info e;
    ck_assert_int_eq(tlsgen_serving_cert(names, 4, &p, &e), KERR_OK);
    ck_assert_ptr_nonnull(strstr(p.cert_pem, "-----BEGIN CERTIFICATE-----"));
    ck_assert_ptr_nonnull(strstr(p.key_pem, "-----BEGIN PRIVATE KEY-----"));
    ck_assert_uint_eq(p.key_len, strlen(p.key_pem));
    return p;
}

START_TEST(tlsgen_serving_cert_carries_dns_and_ip_sans)
{
    struct tlsgen_pem p = gen();
    X509 *x = load_cert(p.cert_pem);
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    ck_assert_ptr_nonnull(gens);
    ck_assert_int_eq(sk_GENERAL_NAME_num(gens), 4);
    int dns = 0, ips = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_DNS) {
            const char *s = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
            ck_assert(strcmp(s, names[0]) == 0 || strcmp(s, "localhost") == 0);
            dns++;
        } else if (g->type == GEN_IPADD) {
            int len = ASN1_STRING_length(g->d.iPAddress);
            ck_assert(len == 4 || len == 16);
            ips++;
        }
    }
    ck_assert_int_eq(dns, 2);
    ck_assert_int_eq(ips, 2);
    GENERAL_NAMES_free(gens);
    ck_assert_int_eq(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    ck_assert_int_eq(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    ck_assert_int_eq(X509_check_ip_asc(x, "::1", 0), 1);
    ck_assert_int_ne(X509_check_host(x, "evil.example", 0, 0, NULL), 1);
    X509_free(x);
    tlsgen_free(&p);
}
END_TEST

START_TEST(tlsgen_key_matches_certificate)
{
    struct tlsgen_pem p = gen();
    X509 *x = load_cert(p.cert_pem);
    EVP_PKEY *k = load_key(p.key_pem);
    ck_assert_int_eq(X509_check_private_key(x, k), 1);
    ck_assert_int_eq(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
    X509 *ca = load_cert(p.ca_pem);
    ck_assert_int_ne(X509_check_private_key(ca, k), 1); /* the CA has its own key */
    X509_free(ca);
    EVP_PKEY_free(k);
    X509_free(x);
    tlsgen_free(&p);
}
END_TEST

static int verify(X509 *leaf, X509 *ca, const char *host)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, NULL);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0);
    int ok = X509_verify_cert(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

START_TEST(tlsgen_serving_cert_verifies_against_its_ca)
{
    struct tlsgen_pem p = gen();
    X509 *x = load_cert(p.cert_pem);
    X509 *ca = load_cert(p.ca_pem);
    ck_assert_int_eq(verify(x, ca, names[0]), 1);
    ck_assert_int_ne(verify(x, ca, "other.svc"), 1);
    ck_assert_int_ge(X509_check_ca(ca), 1);
    ck_assert_int_eq(X509_check_ca(x), 0);
    ck_assert(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
    /* valid now, for about a year */
    int days = 0, secs = 0;
    ck_assert_int_lt(X509_cmp_current_time(X509_get0_notBefore(x)), 0);
    ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)), 1);
    ck_assert(days >= 364 && days <= 365);
    /* a second generation is a different CA: no cross-verification */
    struct tlsgen_pem q = gen();
    X509 *ca2 = load_cert(q.ca_pem);
    ck_assert_int_ne(verify(x, ca2, names[0]), 1);
    X509_free(ca2);
    tlsgen_free(&q);
    X509_free(ca);
    X509_free(x);
    tlsgen_free(&p);
}
END_TEST

START_TEST(tlsgen_rejects_missing_and_malformed_names)
{
    struct tlsgen_pem p;
    struct kerr_info e;
    ck_assert_int_eq(tlsgen_serving_cert(names, 0, &p, &e), KERR_INVAL);
    ck_assert_ptr_null(p.cert_pem);
    const char *bad[] = {"ok.svc", "has space"};
    ck_assert_int_eq(tlsgen_serving_cert(bad, 2, &p, &e), KERR_INVAL);
    ck_assert_ptr_nonnull(strstr(e.message, "has space"));
    const char *inject[] = {"a.svc,DNS:evil.example"};
    ck_assert_int_eq(tlsgen_serving_cert(inject, 1, &p, &e), KERR_INVAL);
    const char *empty[] = {""};
    ck_assert_int_eq(tlsgen_serving_cert(empty, 1, &p, &e), KERR_INVAL);
    tlsgen_free(&p);
    tlsgen_free(NULL);
}
END_TEST

START_TEST(tlsgen_write_dir_writes_files_that_check_out)
{
    char dir[] = "/tmp/tlsgen_test_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sub[64];
    snprintf(sub, sizeof sub, "%s/certs", dir);
    ck_assert(!tlsgen_dir_has_cert(sub));
    struct tlsgen_pem p = gen();
    struct kerr_info e;
    ck_assert_int_eq(tlsgen_write_dir(&p, sub, &e), KERR_OK);
    ck_assert(tlsgen_dir_has_cert(sub));
    char crt[128], key[128], ca[128];
    snprintf(crt, sizeof crt, "%s/tls.crt", sub);
    snprintf(key, sizeof key, "%s/tls.key", sub);
    snprintf(ca, sizeof ca, "%s/ca.crt", sub);
    struct stat st;
    ck_assert_int_eq(stat(key, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(stat(sub, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    ck_assert_int_eq(tlsgen_check_files(crt, key, &e), KERR_OK);
    /* a mismatched pair is reported clearly */
    ck_assert_int_eq(tlsgen_check_files(ca, key, &e), KERR_CONFIG);
    ck_assert_str_eq(e.reason, "KeyMismatch");
    ck_assert_ptr_nonnull(strstr(e.message, "does not match"));
    /* a certificate in place of a key */
    ck_assert_int_eq(tlsgen_check_files(crt, crt, &e), KERR_CONFIG);
    ck_assert_str_eq(e.reason, "BadKey");
    unlink(crt);
    ck_assert_int_eq(tlsgen_check_files(crt, key, &e), KERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "No such file"));
    ck_assert(!tlsgen_dir_has_cert(sub));
    unlink(key);
    unlink(ca);
    rmdir(sub);
    rmdir(dir);
    tlsgen_free(&p);
    ck_assert_ptr_null(p.key_pem);
}
END_TEST

START_TEST(tlsgen_write_dir_reports_unwritable_path)
{
    struct tlsgen_pem p = gen();
    struct kerr_info e;
    ck_assert_int_eq(tlsgen_write_dir(&p, "/proc/no/such/dir", &e), KERR_IO);
    ck_assert_ptr_nonnull(strstr(e.message, "/proc/no/such/dir"));
    ck_assert_int_eq(tlsgen_write_dir(NULL, "/tmp", &e), KERR_INVAL);
    tlsgen_free(&p);
}
END_TEST

static Suite *tlsgen_suite(void)
{
    Suite *s = suite_create("tlsgen");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, tlsgen_serving_cert_carries_dns_and_ip_sans);
    tcase_add_test(tc, tlsgen_key_matches_certificate);
    tcase_add_test(tc, tlsgen_serving_cert_verifies_against_its_ca);
    tcase_add_test(tc, tlsgen_rejects_missing_and_malformed_names);
    tcase_add_test(tc, tlsgen_write_dir_writes_files_that_check_out);
    tcase_add_test(tc, tlsgen_write_dir_reports_unwritable_path);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tlsgen_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
