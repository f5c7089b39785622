/*
 * kconfig: find and read the API server's address and credentials (see
 * kconfig.h). Two sources:
 *  - a kubeconfig file, parsed with kyaml (libyaml -> jansson), resolving
 *    context -> cluster + user the way kubectl does, including
 *    `*-data` fields in base64 (as `talosctl kubeconfig` writes them) and
 *    file paths relative to the kubeconfig's directory;
 *  - the in-cluster service account (environment + token/CA/namespace files).
 *
 * Every error names the file and the context, cluster or user at fault and
 * never includes a secret value. The bearer token may come from a file that
 * rotates; kconfig_bearer_token() re-reads it when it changes (stat check)
 * and at least once a minute, under a lock, so any thread may call it.
 */
#include "kconfig.h"

#include <errno.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "kb64.h"
#include "kyaml.h"

#define KCONFIG_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define KCONFIG_MAX_FILE (16u << 20) /* a kubeconfig larger than this is refused */
#define KCONFIG_MAX_PEM (1u << 20)
#define KCONFIG_MAX_TOKEN (64u << 10)
#define KCONFIG_TOKEN_MAX_AGE 60 /* seconds between forced re-reads */

/* Token-file cache. `lock` guards every other field. */
struct kconfig_priv {
    pthread_mutex_t lock;
    char *token;      /* last successfully read, trimmed content; may be NULL */
    struct stat seen; /* stat of the file when `token` was read */
    time_t read_at;   /* CLOCK_MONOTONIC seconds of that read */
};

/* State of one kubeconfig load, for error messages. */
struct kc_load {
    const char *path;
    char *dir; /* directory of the kubeconfig, for relative paths */
    struct kerr_info *err;
};

static struct kconfig *kconfig_alloc(void)
{
    struct kconfig *cfg = kerr_xcalloc(1, sizeof *cfg);
    cfg->priv_ = kerr_xcalloc(1, sizeof *cfg->priv_);
    pthread_mutex_init(&cfg->priv_->lock, NULL);
    return cfg;
}

static void kconfig_wipe(char *p, size_t n)
{
    if (p) {
        volatile char *v = p;
        while (n--)
            *v++ = 0;
    }
    free(p);
}

void kconfig_free(struct kconfig *cfg)
{
    if (!cfg)
        return;
    free(cfg->server);
    free(cfg->context);
    free(cfg->namespace_);
    free(cfg->ca_pem);
    free(cfg->cert_pem);
    kconfig_wipe(cfg->key_pem, cfg->key_len);
    kconfig_wipe(cfg->token, cfg->token ? strlen(cfg->token) : 0);
    free(cfg->token_file);
    if (cfg->priv_) {
        pthread_mutex_destroy(&cfg->priv_->lock);
        kconfig_wipe(cfg->priv_->token, cfg->priv_->token ? strlen(cfg->priv_->token) : 0);
        free(cfg->priv_);
    }
    free(cfg);
}

/* Trim trailing whitespace (token and namespace files end in '\n'). */
static void kconfig_rtrim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

/* `p` relative to `dir` unless absolute. Owned by caller. */
static char *kconfig_join(const char *dir, const char *p)
{
    if (p[0] == '/' || !dir)
        return kerr_xstrdup(p);
    size_t n = strlen(dir) + strlen(p) + 2;
    char *out = kerr_xmalloc(n);
    snprintf(out, n, "%s/%s", dir, p);
    return out;
}

static char *kconfig_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return kerr_xstrdup(".");
    if (slash == path)
        return kerr_xstrdup("/");
    char *d = kerr_xmalloc((size_t)(slash - path) + 1);
    memcpy(d, path, (size_t)(slash - path));
    d[slash - path] = '\0';
    return d;
}

/* What a PEM field must hold. */
enum kc_pem_kind { KC_PEM_CERTS, KC_PEM_KEY };

/* OpenSSL's reason for the last failure (the queue is emptied). */
static const char *kconfig_ssl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : "no PEM block found";
}

/* A key must never wait on a terminal for a passphrase. */
static int kconfig_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

/*
 * Does `pem` parse with OpenSSL as what `kind` says: one or more X.509
 * certificates (a CA bundle, a client certificate chain), or a private key?
 * NULL when it does; otherwise OpenSSL's reason (static). Catches, at load
 * time, base64 that decodes to something else than a certificate, which
 * would otherwise fail every TLS handshake later.
 */
static const char *kconfig_pem_problem(const char *pem, size_t len, enum kc_pem_kind kind)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        kerr_oom();
    ERR_clear_error();
    const char *problem = NULL;
    if (kind == KC_PEM_KEY) {
        EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, kconfig_no_passphrase, NULL);
        problem = k ? NULL : kconfig_ssl_reason();
        EVP_PKEY_free(k);
    } else {
        int n = 0;
        X509 *x;
        while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
            X509_free(x);
            n++;
        }
        /* the loop ends on "no start line" after the last certificate */
        unsigned long e = ERR_peek_last_error();
        if (n == 0 || (e && ERR_GET_REASON(e) != PEM_R_NO_START_LINE))
            problem = kconfig_ssl_reason();
        ERR_clear_error();
    }
    BIO_free(bio);
    return problem;
}

/* Optional string field; KERR_CONFIG when present but not a string. */
static enum kerr kc_str(struct kc_load *L, json_t *obj, const char *key, const char *who,
                        const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return KERR_OK;
    if (!json_is_string(v))
        return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                        "kubeconfig %s: %s: %s is not a string", L->path, who, key);
    *out = json_string_value(v);
    if (**out == '\0')
        *out = NULL;
    return KERR_OK;
}

/* Find entry `name` of the list `list_key` (contexts, clusters, users).
 * *inner receives its inner object (`inner`: "context", "cluster",
 * "user"), borrowed, or NULL when the entry has none. */
static bool kc_find(json_t *root, const char *list_key, const char *name, const char *inner,
                    json_t **inner_out)
{
    json_t *list = json_object_get(root, list_key);
    size_t i;
    json_t *e;
    *inner_out = NULL;
    if (!json_is_array(list))
        return false;
    json_array_foreach(list, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, name) == 0) {
            json_t *in = json_object_get(e, inner);
            *inner_out = json_is_object(in) ? in : NULL;
            return true;
        }
    }
    return false;
}

/*
 * PEM material from `<data_key>` (base64) or `<file_key>` (path relative
 * to the kubeconfig). Nothing given leaves *pem NULL.
 */
static enum kerr kc_pem(struct kc_load *L, json_t *obj, const char *data_key, const char *file_key,
                        const char *who, enum kc_pem_kind kind, char **pem, size_t *len)
{
    const char *data, *file;
    enum kerr rc;
    if ((rc = kc_str(L, obj, data_key, who, &data)) != KERR_OK ||
        (rc = kc_str(L, obj, file_key, who, &file)) != KERR_OK)
        return rc;
    if (data) {
        if (kb64_decode(data, strlen(data), KB64_NEWLINES, pem, len) != KERR_OK || *len == 0)
            return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                            "kubeconfig %s: %s: %s is not valid base64", L->path, who, data_key);
    } else if (file) {
        char *p = kconfig_join(L->dir, file);
        struct kerr_info e;
        rc = kyaml_read_file(p, KCONFIG_MAX_PEM, pem, len, &e);
        free(p);
        if (rc != KERR_OK)
            return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig", "kubeconfig %s: %s: %s %s",
                            L->path, who, file_key, e.message);
    } else {
        return KERR_OK;
    }
    if (!strstr(*pem, "-----BEGIN ")) {
        free(*pem);
        *pem = NULL;
        return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                        "kubeconfig %s: %s: %s does not contain a PEM block", L->path, who,
                        data ? data_key : file_key);
    }
    const char *problem = kconfig_pem_problem(*pem, *len, kind);
    if (problem) {
        kconfig_wipe(*pem, *len);
        *pem = NULL;
        *len = 0;
        return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                        "kubeconfig %s: %s: %s is not a PEM %s (%s)", L->path, who,
                        data ? data_key : file_key,
                        kind == KC_PEM_KEY ? "private key" : "certificate", problem);
    }
    return KERR_OK;
}

static enum kerr kc_bool(struct kc_load *L, json_t *obj, const char *key, const char *who,
                         bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1", NULL};
    static const char *const no[] = {"false", "no", "off", "0", NULL};
    const char *v;
    enum kerr rc = kc_str(L, obj, key, who, &v);
    *out = false;
    if (rc != KERR_OK || !v)
        return rc;
    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return KERR_OK;
        }
        if (strcasecmp(v, no[i]) == 0)
            return KERR_OK;
    }
    return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                    "kubeconfig %s: %s: %s is not a boolean", L->path, who, key);
}

/* Read a token file: trimmed, non-empty content or NULL. */
static char *kconfig_read_token(const char *path, struct kerr_info *err)
{
    char *t = NULL;
    if (kyaml_read_file(path, KCONFIG_MAX_TOKEN, &t, NULL, err) != KERR_OK)
        return NULL;
    kconfig_rtrim(t);
    if (t[0] == '\0') {
        free(t);
        kerr_set(err, KERR_CONFIG, 0, "EmptyToken", "%s: empty token", path);
        return NULL;
    }
    return t;
}

static time_t kconfig_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* Prime the token cache from cfg->token_file; errors name the file. */
static enum kerr kconfig_prime_token(struct kconfig *cfg, struct kerr_info *err)
{
    struct kconfig_priv *p = cfg->priv_;
    if (stat(cfg->token_file, &p->seen) != 0)
        memset(&p->seen, 0, sizeof p->seen);
    p->token = kconfig_read_token(cfg->token_file, err);
    p->read_at = kconfig_now();
    return p->token ? KERR_OK : KERR_CONFIG;
}

static bool kconfig_same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

char *kconfig_bearer_token(const struct kconfig *cfg)
{
    if (!cfg)
        return NULL;
    if (!cfg->token_file)
        return cfg->token ? kerr_xstrdup(cfg->token) : NULL;
    struct kconfig_priv *p = cfg->priv_;
    if (!p) {
        char *t = kconfig_read_token(cfg->token_file, NULL);
        return t ? t : (cfg->token ? kerr_xstrdup(cfg->token) : NULL);
    }
    char *out = NULL;
    pthread_mutex_lock(&p->lock);
    struct stat st;
    bool stat_ok = stat(cfg->token_file, &st) == 0;
    time_t now = kconfig_now();
    if (!p->token || (stat_ok && !kconfig_same_file(&st, &p->seen)) ||
        now - p->read_at >= KCONFIG_TOKEN_MAX_AGE) {
        char *t = kconfig_read_token(cfg->token_file, NULL);
        if (t) { /* keep the last good token when the file is mid-rotation */
            kconfig_wipe(p->token, p->token ? strlen(p->token) : 0);
            p->token = t;
            if (stat_ok)
                p->seen = st;
        }
        p->read_at = now;
    }
    if (p->token)
        out = kerr_xstrdup(p->token);
    else if (cfg->token)
        out = kerr_xstrdup(cfg->token);
    pthread_mutex_unlock(&p->lock);
    return out;
}

/* Is the host of "host[:port][/path]" (after "http://") loopback:
 * localhost, 127.0.0.0/8 or [::1]? Plain http is allowed only there. */
/* True when `server` is an http:// or https:// URL with a host, as
 * libcurl's URL parser reads it ("https://" alone has none). */
static bool kc_server_url_ok(const char *server)
{
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
        return false;
    CURLU *u = curl_url();
    if (!u)
        kerr_oom();
    char *host = NULL;
    bool ok = curl_url_set(u, CURLUPART_URL, server, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && host[0];
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

static bool kconfig_loopback_url(const char *hostport)
{
    char host[256];
    size_t n;
    if (hostport[0] == '[') {
        n = strcspn(hostport + 1, "]");
        if (hostport[1 + n] != ']' || n >= sizeof host)
            return false;
        memcpy(host, hostport + 1, n);
    } else {
        n = strcspn(hostport, ":/?#");
        if (n >= sizeof host)
            return false;
        memcpy(host, hostport, n);
    }
    host[n] = '\0';
    struct in_addr a4;
    struct in6_addr a6;
    if (strcasecmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static enum kerr kc_cluster(struct kc_load *L, json_t *root, const char *name, const char *ctxname,
                            struct kconfig *cfg)
{
    char who[300];
    json_t *cl;
    const char *server;
    enum kerr rc;
    snprintf(who, sizeof who, "cluster \"%s\"", name);
    if (!kc_find(root, "clusters", name, "cluster", &cl))
        return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                        "kubeconfig %s: cluster \"%s\" (of context \"%s\") not found", L->path,
                        name, ctxname);
    if ((rc = kc_str(L, cl, "server", who, &server)) != KERR_OK)
        return rc;
    if (!server)
        return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig", "kubeconfig %s: %s has no server",
                        L->path, who);
    if (!kc_server_url_ok(server))
        return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                        "kubeconfig %s: %s: server \"%s\" is not an http(s) URL with a host",
                        L->path, who, server);
    if (strncmp(server, "http://", 7) == 0 && !kconfig_loopback_url(server + 7))
        return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                        "kubeconfig %s: %s: server \"%s\" uses plain http:// to a host that is "
                        "not loopback: credentials would travel unencrypted (use https://)",
                        L->path, who, server);
    cfg->server = kerr_xstrdup(server);
    size_t n = strlen(cfg->server);
    while (n > 0 && cfg->server[n - 1] == '/')
        cfg->server[--n] = '\0';
    if ((rc = kc_pem(L, cl, "certificate-authority-data", "certificate-authority", who,
                     KC_PEM_CERTS, &cfg->ca_pem, &cfg->ca_len)) != KERR_OK)
        return rc;
    if ((rc = kc_bool(L, cl, "disable-compression", who, &cfg->disable_compression)) != KERR_OK)
        return rc;
    return kc_bool(L, cl, "insecure-skip-tls-verify", who, &cfg->insecure_skip_tls_verify);
}

static enum kerr kc_user_token(struct kc_load *L, json_t *u, const char *who, struct kconfig *cfg)
{
    const char *token, *file;
    enum kerr rc;
    if ((rc = kc_str(L, u, "token", who, &token)) != KERR_OK ||
        (rc = kc_str(L, u, "tokenFile", who, &file)) != KERR_OK)
        return rc;
    if (token)
        cfg->token = kerr_xstrdup(token);
    if (!file)
        return KERR_OK;
    cfg->token_file = kconfig_join(L->dir, file);
    struct kerr_info e;
    if (kconfig_prime_token(cfg, &e) != KERR_OK)
        return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig", "kubeconfig %s: %s: tokenFile %s",
                        L->path, who, e.message);
    return KERR_OK;
}

static enum kerr kc_user(struct kc_load *L, json_t *root, const char *name, struct kconfig *cfg)
{
    char who[300];
    json_t *u;
    enum kerr rc;
    snprintf(who, sizeof who, "user \"%s\"", name);
    if (!kc_find(root, "users", name, "user", &u))
        return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                        "kubeconfig %s: user \"%s\" (of context \"%s\") not found", L->path, name,
                        cfg->context);
    if ((rc = kc_pem(L, u, "client-certificate-data", "client-certificate", who, KC_PEM_CERTS,
                     &cfg->cert_pem, &cfg->cert_len)) != KERR_OK ||
        (rc = kc_pem(L, u, "client-key-data", "client-key", who, KC_PEM_KEY, &cfg->key_pem,
                     &cfg->key_len)) != KERR_OK)
        return rc;
    if (!cfg->cert_pem != !cfg->key_pem)
        return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                        "kubeconfig %s: %s: %s given without %s", L->path, who,
                        cfg->cert_pem ? "client certificate" : "client key",
                        cfg->cert_pem ? "client key" : "client certificate");
    if ((rc = kc_user_token(L, u, who, cfg)) != KERR_OK)
        return rc;
    static const char *const unsupported[] = {"exec", "auth-provider", "username", NULL};
    for (int i = 0; unsupported[i] && !cfg->cert_pem && !cfg->token && !cfg->token_file; i++)
        if (json_object_get(u, unsupported[i]))
            return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                            "kubeconfig %s: %s: \"%s\" credentials are not supported (use a "
                            "client certificate or a token)",
                            L->path, who, unsupported[i]);
    return KERR_OK;
}

/* Resolve the context and fill cfg from the parsed kubeconfig. */
static enum kerr kc_from_tree(struct kc_load *L, json_t *root, const char *context,
                              struct kconfig *cfg)
{
    const char *ctxname = context, *cluster, *user, *ns;
    json_t *ctx;
    enum kerr rc;
    if (!json_is_object(root))
        return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                        "kubeconfig %s: not a YAML mapping", L->path);
    if (!ctxname && (rc = kc_str(L, root, "current-context", "top level", &ctxname)) != KERR_OK)
        return rc;
    if (!ctxname)
        return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                        "kubeconfig %s: no current-context and no context given", L->path);
    if (!kc_find(root, "contexts", ctxname, "context", &ctx))
        return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                        "kubeconfig %s: context \"%s\" not found", L->path, ctxname);
    cfg->context = kerr_xstrdup(ctxname);
    char who[300];
    snprintf(who, sizeof who, "context \"%s\"", ctxname);
    if ((rc = kc_str(L, ctx, "cluster", who, &cluster)) != KERR_OK ||
        (rc = kc_str(L, ctx, "user", who, &user)) != KERR_OK ||
        (rc = kc_str(L, ctx, "namespace", who, &ns)) != KERR_OK)
        return rc;
    if (!cluster)
        return kerr_set(L->err, KERR_CONFIG, 0, "BadKubeconfig",
                        "kubeconfig %s: context \"%s\" names no cluster", L->path, ctxname);
    if (ns)
        cfg->namespace_ = kerr_xstrdup(ns);
    if ((rc = kc_cluster(L, root, cluster, ctxname, cfg)) != KERR_OK)
        return rc;
    return user ? kc_user(L, root, user, cfg) : KERR_OK;
}

/* $KUBECONFIG's first existing entry, else ~/.kube/config. */
static enum kerr kconfig_default_path(char **out, struct kerr_info *err)
{
    const char *env = getenv("KUBECONFIG");
    struct stat st;
    if (env && *env) {
        char *copy = kerr_xstrdup(env), *save = NULL;
        for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
            if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
                *out = kerr_xstrdup(p);
                free(copy);
                return KERR_OK;
            }
        }
        free(copy);
        kerr_set(err, KERR_CONFIG, 0, "NoKubeconfig",
                 "kubeconfig: none of the files in $KUBECONFIG (%s) exists", env);
        return KERR_CONFIG;
    }
    const char *home = getenv("HOME");
    if (!home || !*home) {
        kerr_set(err, KERR_CONFIG, 0, "NoKubeconfig",
                 "kubeconfig: neither $KUBECONFIG nor $HOME is set");
        return KERR_CONFIG;
    }
    size_t n = strlen(home) + sizeof "/.kube/config";
    *out = kerr_xmalloc(n);
    snprintf(*out, n, "%s/.kube/config", home);
    return KERR_OK;
}

enum kerr kconfig_load_file(const char *path, const char *context, struct kconfig **out,
                            struct kerr_info *err)
{
    char *owned = NULL, *text = NULL;
    size_t len = 0;
    json_t *root = NULL;
    struct kconfig *cfg = NULL;
    struct kc_load L = {path, NULL, err};
    struct kerr_info e;
    enum kerr rc;
    *out = NULL;
    if (!path) {
        if ((rc = kconfig_default_path(&owned, err)) != KERR_OK)
            goto out;
        L.path = path = owned;
    }
    L.dir = kconfig_dirname(path);
    if (kyaml_read_file(path, KCONFIG_MAX_FILE, &text, &len, &e) != KERR_OK) {
        rc = kerr_set(err, KERR_CONFIG, 0, "NoKubeconfig", "kubeconfig %s", e.message);
        goto out;
    }
    /* Every value a string (tags ignored), the first document, a small
     * alias budget: what a kubeconfig needs. */
    struct kyaml_opts yo = {0, path, KYAML_SMALL_ALIAS_NODES};
    if (kyaml_load(text, len, &yo, &root, &e) != KERR_OK) {
        rc = kerr_set(err, KERR_CONFIG, 0, "BadKubeconfig", "kubeconfig: malformed YAML: %s",
                      e.message);
        goto out;
    }
    cfg = kconfig_alloc();
    if ((rc = kc_from_tree(&L, root, context, cfg)) != KERR_OK)
        goto out;
    *out = cfg;
    cfg = NULL;
out:
    kconfig_free(cfg);
    json_decref(root);
    free(text);
    free(L.dir);
    free(owned);
    return rc;
}

/* Read `dir`/`name` into *out (NULL when missing and !required). */
static enum kerr kconfig_sa_file(const char *dir, const char *name, bool required, char **out,
                                 size_t *len, struct kerr_info *err)
{
    char *p = kconfig_join(dir, name);
    struct kerr_info e;
    enum kerr rc = kyaml_read_file(p, KCONFIG_MAX_PEM, out, len, &e);
    free(p);
    if (rc != KERR_OK && required)
        return kerr_set(err, KERR_CONFIG, 0, "NoServiceAccount", "in-cluster config: %s",
                        e.message);
    return KERR_OK;
}

enum kerr kconfig_in_cluster(const char *sa_dir, struct kconfig **out, struct kerr_info *err)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    struct kconfig *cfg = NULL;
    enum kerr rc;
    *out = NULL;
    if (!sa_dir)
        sa_dir = KCONFIG_SA_DIR;
    if (!host || !*host || !port || !*port)
        return kerr_set(err, KERR_CONFIG, 0, "NotInCluster",
                        "in-cluster config: KUBERNETES_SERVICE_HOST and "
                        "KUBERNETES_SERVICE_PORT must be set");
    cfg = kconfig_alloc();
    size_t n = strlen(host) + strlen(port) + 16;
    cfg->server = kerr_xmalloc(n);
    snprintf(cfg->server, n, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
    cfg->token_file = kconfig_join(sa_dir, "token");
    struct kerr_info e;
    if (kconfig_prime_token(cfg, &e) != KERR_OK) {
        rc = kerr_set(err, KERR_CONFIG, 0, "NoServiceAccount", "in-cluster config: %s", e.message);
        goto out;
    }
    if ((rc = kconfig_sa_file(sa_dir, "ca.crt", true, &cfg->ca_pem, &cfg->ca_len, err)) != KERR_OK)
        goto out;
    const char *problem = kconfig_pem_problem(cfg->ca_pem, cfg->ca_len, KC_PEM_CERTS);
    if (problem) {
        rc = kerr_set(err, KERR_CONFIG, 0, "NoServiceAccount",
                      "in-cluster config: %s/ca.crt is not a PEM certificate (%s)", sa_dir,
                      problem);
        goto out;
    }
    size_t nslen = 0;
    kconfig_sa_file(sa_dir, "namespace", false, &cfg->namespace_, &nslen, NULL);
    if (cfg->namespace_) {
        kconfig_rtrim(cfg->namespace_);
        if (!cfg->namespace_[0]) {
            free(cfg->namespace_);
            cfg->namespace_ = NULL;
        }
    }
    *out = cfg;
    cfg = NULL;
out:
    kconfig_free(cfg);
    return rc;
}
