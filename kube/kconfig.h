/*
 * kconfig: where the API server is and how to authenticate to it.
 * Loaded from a kubeconfig file (libyaml) or from the in-cluster service
 * account. Plain value struct; strings owned by the struct.
 */
#ifndef GRACE_KCONFIG_H
#define GRACE_KCONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "kerr.h"

struct kconfig {
    char *server;          /* "https://host:port" (no trailing slash) */
    char *context;         /* context name used (NULL in-cluster) */
    char *namespace_;      /* context namespace or SA namespace; may be NULL */
    /* TLS material, PEM in memory (decoded from *-data or read from files). */
    char *ca_pem;          size_t ca_len;
    char *cert_pem;        size_t cert_len;
    char *key_pem;         size_t key_len;
    bool insecure_skip_tls_verify;
    bool disable_compression; /* the cluster's disable-compression (client-go's field) */
    char *token;           /* static bearer token, may be NULL */
    char *token_file;      /* re-read when it changes (in-cluster rotation); may be NULL */
    /* Private to kconfig.c (token-file cache and its lock); NULL in a struct
     * built by hand, which then re-reads token_file on every call. */
    struct kconfig_priv *priv_;
};

/*
 * Load `path` (NULL: $KUBECONFIG's first entry, else ~/.kube/config), using
 * `context` (NULL: current-context). Errors name the file, context, cluster
 * or user at fault. The CA and client certificate must parse as PEM X.509
 * certificates and the client key as a PEM private key (OpenSSL), and a
 * plain http:// server must be loopback (localhost, 127/8, [::1]): these are
 * KERR_CONFIG here rather than a TLS failure on every request later.
 */
enum kerr kconfig_load_file(const char *path, const char *context, struct kconfig **out,
                            struct kerr_info *err);

/* In-cluster: KUBERNETES_SERVICE_HOST/PORT, the service account token, CA
 * (checked as PEM certificates) and namespace under `sa_dir` (NULL:
 * /var/run/secrets/kubernetes.io/serviceaccount). */
enum kerr kconfig_in_cluster(const char *sa_dir, struct kconfig **out, struct kerr_info *err);

/* The current bearer token (re-reading token_file if it changed). Returns a
 * malloc'd string or NULL when there is none. */
char *kconfig_bearer_token(const struct kconfig *cfg);

void kconfig_free(struct kconfig *cfg);

#endif
