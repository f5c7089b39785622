/*
 * tlsgen: the webhook's serving certificate when none is mounted. At
 * start-up the operator makes, with OpenSSL 3, a self-signed CA (ECDSA
 * P-256, 10 years) and a serving certificate signed by it (ECDSA P-256,
 * 1 year, serverAuth, subjectAltName from the given DNS names and IP
 * addresses), all PEM in memory. The CA PEM is what a
 * ValidatingWebhookConfiguration's caBundle needs.
 *
 * Ownership: struct tlsgen_pem's strings are malloc'd and owned by the
 * struct; tlsgen_free() releases them (wiping the key first). The struct
 * itself is the caller's (usually on the stack).
 */
#ifndef GRACE_TLSGEN_H
#define GRACE_TLSGEN_H

#include <stdbool.h>
#include <stddef.h>

#include "kerr.h"

struct tlsgen_pem {
    char *cert_pem;                   /* serving certificate ("-----BEGIN CERTIFICATE-----") */
    char *key_pem;                    /* its private key, PKCS#8 ("-----BEGIN PRIVATE KEY-----") */
    char *ca_pem;                     /* the CA certificate that signed it */
    size_t cert_len, key_len, ca_len; /* strlen of each */
};

/* File names in a certificate directory (the kubernetes.io/tls Secret keys). */
#define TLSGEN_CERT_FILE "tls.crt"
#define TLSGEN_KEY_FILE "tls.key"
#define TLSGEN_CA_FILE "ca.crt"

/*
 * Generate a CA and a serving certificate for `names` (n >= 1): each entry
 * that parses as an IPv4/IPv6 address becomes an IP SAN, any other a DNS SAN
 * ("*.x" wildcards allowed); the first name is also the subject CN.
 * On KERR_OK *out is filled (owned, free with tlsgen_free); otherwise *out is
 * left zeroed. KERR_INVAL for no names or a name with spaces or control
 * characters; KERR_IO with the OpenSSL error text if OpenSSL fails.
 */
enum kerr tlsgen_serving_cert(const char *const *names, size_t n, struct tlsgen_pem *out,
                              struct kerr_info *err);

/* Free the strings of `p` (the key is wiped first) and zero it. NULL allowed. */
void tlsgen_free(struct tlsgen_pem *p);

/*
 * Write tls.crt (0644), tls.key (0600) and ca.crt (0644) into `dir`, creating
 * it (0700) if missing. Each file is written to a temporary name and renamed,
 * so a reader never sees half a file. KERR_IO with the path on failure.
 */
enum kerr tlsgen_write_dir(const struct tlsgen_pem *p, const char *dir, struct kerr_info *err);

/* True when `dir` holds both tls.crt and tls.key (readable): a certificate
 * was mounted and no generation is needed. */
bool tlsgen_dir_has_cert(const char *dir);

/*
 * Check that a certificate (chain) file and a key file load and belong
 * together, so a bad mount fails at start-up with a clear message instead of
 * inside the TLS library. KERR_CONFIG naming the file and the problem.
 */
enum kerr tlsgen_check_files(const char *cert_path, const char *key_path, struct kerr_info *err);

#endif
