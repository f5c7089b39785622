/*
 * fuzz_kconfig: the kubeconfig loader (kconfig_load_file).
 *
 * Input: a kubeconfig, written to a private directory that also holds
 * ca.crt, tls.key and token (so relative file references resolve). Byte 0,
 * when it is '!', asks for the context "other" instead of current-context.
 *
 * Invariants:
 *  - on success: server is an http(s) URL without a trailing '/', a client
 *    certificate comes with its key, the context is set, a token read from
 *    it is non-empty;
 *  - on failure: the message never contains a token or client key given in
 *    the file (secrets never reach an error message or a log line).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "kconfig.h"
#include "kyaml.h"

#define H "kconfig"

static char dir[64];
static char path[128];

static void put(const char *name, const char *text)
{
    char p[160];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init_quiet();
    fz_tmpdir(dir, sizeof dir, "kconfig");
    snprintf(path, sizeof path, "%s/config", dir);
    put("ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    put("tls.key", "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n");
    put("token", "file-token-value\n");
    return 0;
}

/* True when `secret` is inside a string of the document other than the
 * secret fields themselves (a message may quote that other string). */
static bool quoted_elsewhere(const json_t *v, const char *key, const char *secret)
{
    const char *k;
    json_t *c;
    size_t i;
    if (json_is_string(v))
        return strcmp(key, "token") != 0 && strcmp(key, "client-key-data") != 0 &&
               strstr(json_string_value(v), secret) != NULL;
    if (json_is_object(v))
        json_object_foreach((json_t *)v, k, c) if (quoted_elsewhere(c, k, secret)) return true;
    if (json_is_array(v))
        json_array_foreach(v, i, c) if (quoted_elsewhere(c, key, secret)) return true;
    return false;
}

/* A secret (token, client key) of `user` must not be in msg. */
static void no_secret(const json_t *root, const json_t *user, const char *key, const char *msg)
{
    const char *s = json_string_value(json_object_get(user, key));
    if (s && strlen(s) >= 8 && strstr(msg, s) && !quoted_elsewhere(root, "", s))
        fz_fail(H, "error message shows the %s: %s", key, msg);
}

static void check_error(const uint8_t *data, size_t size, const char *msg)
{
    json_t *root = NULL;
    struct kyaml_opts kubeconfig = {0, NULL, KYAML_SMALL_ALIAS_NODES}; /* as kconfig loads it */
    if (kyaml_load((const char *)data, size, &kubeconfig, &root, NULL) != KERR_OK)
        return;
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(root, "users"), i, u)
    {
        const json_t *user = json_object_get(u, "user");
        no_secret(root, user, "token", msg);
        no_secret(root, user, "client-key-data", msg);
    }
    json_decref(root);
}

static void check_ok(const struct kconfig *c)
{
    size_t n = strlen(c->server);
    if (strncmp(c->server, "https://", 8) != 0 && strncmp(c->server, "http://", 7) != 0)
        fz_fail(H, "server %.100s is not an http(s) URL", c->server);
    if (n > 0 && c->server[n - 1] == '/')
        fz_fail(H, "server %.100s keeps a trailing slash", c->server);
    if (!c->cert_pem != !c->key_pem)
        fz_fail(H, "a client certificate without its key (or the reverse)");
    if ((c->ca_pem && !c->ca_len) || !c->context)
        fz_fail(H, "empty CA or no context");
    char *tok = kconfig_bearer_token(c);
    if (tok && !*tok && !c->token)
        fz_fail(H, "an empty token from the token file");
    free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    const char *context = size > 0 && data[0] == '!' ? "other" : NULL;
    struct kconfig *c = NULL;
    struct kerr_info err = {0};
    if (kconfig_load_file(path, context, &c, &err) == KERR_OK)
        check_ok(c);
    else
        check_error(data, size, err.message);
    kconfig_free(c);
    return 0;
}
