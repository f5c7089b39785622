/*
 * tlsgen: self-signed CA + serving certificate generation (OpenSSL 3 EVP and
 * X509 APIs), writing and checking certificate directories. See tlsgen.h.
 *
 * SANs are built as GENERAL_NAME values, not through an OpenSSL config
 * string, so a name can never inject extra entries.
 */
#include "tlsgen.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TLSGEN_CA_DAYS 3650
#define TLSGEN_SERVING_DAYS 365
#define TLSGEN_SKEW_SECONDS 300 /* notBefore in the past: tolerate clock skew */

static enum kerr ossl_fail(struct kerr_info *err, const char *what)
{
    char buf[256] = "unknown error";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return kerr_set(err, KERR_IO, 0, "OpenSSL", "%s: %s", what, buf);
}

static bool valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 253)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == ',')
            return false;
    return true;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return 0;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

static int add_sans(X509 *x, const char *const *names, size_t n)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int ok = gens != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(names[i]);
        if (!g) {
            ok = 0;
        } else if (ip) {
            GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
        } else {
            ERR_clear_error(); /* "not an IP address" is not an error here */
            ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
            ok = dns && ASN1_STRING_set(dns, names[i], -1);
            if (dns)
                GENERAL_NAME_set0_value(g, GEN_DNS, dns);
        }
        if (g && (!ok || !sk_GENERAL_NAME_push(gens, g))) {
            GENERAL_NAME_free(g);
            ok = 0;
        }
    }
    if (ok)
        ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT);
    GENERAL_NAMES_free(gens);
    return ok;
}

static int set_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
             BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

/* Fields common to both certificates: version, serial, validity, names, key. */
static int cert_base(X509 *x, EVP_PKEY *key, const char *cn, X509 *issuer, long days)
{
    X509_NAME *subj = X509_get_subject_name(x);
    return X509_set_version(x, X509_VERSION_3) && set_serial(x) &&
           X509_gmtime_adj(X509_getm_notBefore(x), -TLSGEN_SKEW_SECONDS) &&
           X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L) && X509_set_pubkey(x, key) &&
           X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_UTF8,
                                      (const unsigned char *)"grace-operator", -1, -1, 0) &&
           X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                      0) &&
           X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : subj);
}

static X509 *make_ca(EVP_PKEY *key)
{
    X509 *x = X509_new();
    int ok = x && cert_base(x, key, "grace-operator webhook CA", NULL, TLSGEN_CA_DAYS) &&
             add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
             add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") &&
             add_ext(x, x, NID_subject_key_identifier, "hash") &&
             add_ext(x, x, NID_authority_key_identifier, "keyid:always") &&
             X509_sign(x, key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static X509 *make_serving(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, const char *const *names,
                          size_t n)
{
    X509 *x = X509_new();
    int ok = x && cert_base(x, key, names[0], ca, TLSGEN_SERVING_DAYS) &&
             add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(x, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
             add_ext(x, ca, NID_ext_key_usage, "serverAuth") &&
             add_ext(x, ca, NID_subject_key_identifier, "hash") &&
             add_ext(x, ca, NID_authority_key_identifier, "keyid:always") &&
             add_sans(x, names, n) && X509_sign(x, ca_key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Copy a memory BIO's contents into a malloc'd NUL-terminated string. */
static char *bio_string(BIO *b, size_t *len)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n <= 0)
        return NULL;
    char *s = kerr_xmalloc((size_t)n + 1);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    *len = (size_t)n;
    return s;
}

static char *cert_pem(X509 *x, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = (b && PEM_write_bio_X509(b, x)) ? bio_string(b, len) : NULL;
    BIO_free(b);
    return s;
}

static char *key_pem(EVP_PKEY *k, size_t *len)
{
    BIO *b = BIO_new(BIO_s_secmem()); /* wiped when freed */
    char *s = (b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) ? bio_string(b, len)
                                                                               : NULL;
    BIO_free(b);
    return s;
}

static enum kerr check_names(const char *const *names, size_t n, struct kerr_info *err)
{
    if (!names || n == 0)
        return kerr_set(err, KERR_INVAL, 0, "NoNames",
                        "a serving certificate needs at least one name");
    for (size_t i = 0; i < n; i++)
        if (!valid_name(names[i]))
            return kerr_set(err, KERR_INVAL, 0, "BadName", "invalid certificate name \"%s\"",
                            names[i] ? names[i] : "");
    return KERR_OK;
}

enum kerr tlsgen_serving_cert(const char *const *names, size_t n, struct tlsgen_pem *out,
                              struct kerr_info *err)
{
    memset(out, 0, sizeof *out);
    enum kerr e = check_names(names, n, err);
    if (e != KERR_OK)
        return e;
    EVP_PKEY *ca_key = NULL, *key = NULL;
    X509 *ca = NULL, *cert = NULL;
    ca_key = EVP_EC_gen("P-256");
    key = EVP_EC_gen("P-256");
    if (!ca_key || !key) {
        e = ossl_fail(err, "generating EC P-256 keys");
        goto out;
    }
    ca = make_ca(ca_key);
    cert = ca ? make_serving(key, ca, ca_key, names, n) : NULL;
    if (!cert) {
        e = ossl_fail(err, "building certificates");
        goto out;
    }
    out->ca_pem = cert_pem(ca, &out->ca_len);
    out->cert_pem = cert_pem(cert, &out->cert_len);
    out->key_pem = key_pem(key, &out->key_len);
    if (!out->ca_pem || !out->cert_pem || !out->key_pem) {
        tlsgen_free(out);
        e = ossl_fail(err, "encoding PEM");
    }
out:
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    return e;
}

void tlsgen_free(struct tlsgen_pem *p)
{
    if (!p)
        return;
    if (p->key_pem)
        OPENSSL_cleanse(p->key_pem, p->key_len);
    free(p->key_pem);
    free(p->cert_pem);
    free(p->ca_pem);
    memset(p, 0, sizeof *p);
}

static enum kerr write_file(const char *dir, const char *name, const char *data, size_t len,
                            mode_t mode, struct kerr_info *err)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return kerr_set(err, KERR_IO, 0, "WriteFailed", "%s: %s", tmp, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int saved = errno;
    if (close(fd) != 0 || off < len || rename(tmp, path) != 0) {
        if (off == len)
            saved = errno;
        unlink(tmp);
        return kerr_set(err, KERR_IO, 0, "WriteFailed", "%s: %s", path, strerror(saved));
    }
    return KERR_OK;
}

enum kerr tlsgen_write_dir(const struct tlsgen_pem *p, const char *dir, struct kerr_info *err)
{
    if (!p || !p->cert_pem || !p->key_pem || !dir)
        return kerr_set(err, KERR_INVAL, 0, "NoCert", "nothing to write");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return kerr_set(err, KERR_IO, 0, "MkdirFailed", "%s: %s", dir, strerror(errno));
    enum kerr e = write_file(dir, TLSGEN_KEY_FILE, p->key_pem, p->key_len, 0600, err);
    if (e == KERR_OK)
        e = write_file(dir, TLSGEN_CERT_FILE, p->cert_pem, p->cert_len, 0644, err);
    if (e == KERR_OK && p->ca_pem)
        e = write_file(dir, TLSGEN_CA_FILE, p->ca_pem, p->ca_len, 0644, err);
    return e;
}

bool tlsgen_dir_has_cert(const char *dir)
{
    char crt[4096], key[4096];
    if (!dir || !*dir)
        return false;
    snprintf(crt, sizeof crt, "%s/%s", dir, TLSGEN_CERT_FILE);
    snprintf(key, sizeof key, "%s/%s", dir, TLSGEN_KEY_FILE);
    return access(crt, R_OK) == 0 && access(key, R_OK) == 0;
}

enum kerr tlsgen_check_files(const char *cert_path, const char *key_path, struct kerr_info *err)
{
    enum kerr e = KERR_OK;
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    FILE *f = fopen(cert_path, "r");
    if (!f || !(x = PEM_read_X509(f, NULL, NULL, NULL))) {
        e = kerr_set(err, KERR_CONFIG, 0, "BadCertificate", "%s: %s", cert_path,
                     f ? "not a PEM certificate" : strerror(errno));
        goto out;
    }
    fclose(f);
    f = fopen(key_path, "r");
    if (!f || !(k = PEM_read_PrivateKey(f, NULL, NULL, NULL))) {
        e = kerr_set(err, KERR_CONFIG, 0, "BadKey", "%s: %s", key_path,
                     f ? "not a PEM private key" : strerror(errno));
        goto out;
    }
    if (X509_check_private_key(x, k) != 1)
        e = kerr_set(err, KERR_CONFIG, 0, "KeyMismatch", "%s does not match the certificate in %s",
                     key_path, cert_path);
out:
    if (f)
        fclose(f);
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(k);
    return e;
}
