/*
 * pgname: role/database name derivation, requested-name validation, password
 * generation and the connection URI, for PostgreSQL provisioning. Pure
 * functions over strings, OpenSSL for SHA-256 and the CSPRNG. See pgname.h;
 * pg.c uses these and owns everything that talks to a server.
 */
#include "pgname.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PGNAME_PREFIX_MAX (PG_NAME_MAX - 2 - PG_NAME_HASH_HEX) /* room before "__<hash>" */

static bool pgname_plain_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

bool pg_name_valid(const char *s)
{
    if (!s || !s[0] || strlen(s) > PG_NAME_MAX)
        return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (const char *p = s; *p; p++)
        if (!pgname_plain_char((unsigned char)*p) && *p != '_')
            return false;
    return true;
}

static bool pgname_all_plain(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!pgname_plain_char(*p))
            return false;
    return true;
}

/* Append the sanitized form of s to out (len bytes used, cap incl. NUL):
 * lower-cased, other bytes as '_', runs of '_' collapsed. */
static void pgname_append_sanitized(char *out, size_t *len, size_t cap, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p && *len + 1 < cap; p++) {
        char c = (char)*p;
        if (*p >= 'A' && *p <= 'Z')
            c = (char)(*p - 'A' + 'a');
        else if (!pgname_plain_char(*p))
            c = '_';
        if (c == '_' && *len > 0 && out[*len - 1] == '_')
            continue;
        out[(*len)++] = c;
    }
    out[*len] = '\0';
}

void pg_name_hash(const char *ns, const char *name, char hex[PG_NAME_HASH_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        kerr_oom();
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, ns, strlen(ns)) != 1 || EVP_DigestUpdate(ctx, "/", 1) != 1 ||
        EVP_DigestUpdate(ctx, name, strlen(name)) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen < PG_NAME_HASH_HEX / 2) {
        EVP_MD_CTX_free(ctx);
        fputs("grace-operator: SHA-256 unavailable\n", stderr);
        abort();
    }
    EVP_MD_CTX_free(ctx);
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < PG_NAME_HASH_HEX / 2; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[PG_NAME_HASH_HEX] = '\0';
}

static void pgname_derive(const char *ns, const char *name, char out[PG_NAME_MAX + 1])
{
    size_t nl = strlen(ns), ml = strlen(name);
    if (2 + nl + 1 + ml <= PG_NAME_MAX && pgname_all_plain(ns) && pgname_all_plain(name)) {
        memcpy(out, "g_", 2);
        memcpy(out + 2, ns, nl);
        out[2 + nl] = '_';
        memcpy(out + 3 + nl, name, ml);
        out[3 + nl + ml] = '\0';
        return;
    }
    char prefix[PGNAME_PREFIX_MAX + 1] = "g_";
    size_t len = 2;
    pgname_append_sanitized(prefix, &len, sizeof prefix, ns);
    if (len + 1 < sizeof prefix && prefix[len - 1] != '_') {
        prefix[len++] = '_';
        prefix[len] = '\0';
    }
    pgname_append_sanitized(prefix, &len, sizeof prefix, name);
    while (len > 2 && prefix[len - 1] == '_')
        prefix[--len] = '\0';
    char hex[PG_NAME_HASH_HEX + 1];
    pg_name_hash(ns, name, hex);
    snprintf(out, PG_NAME_MAX + 1, "%s__%s", prefix, hex);
}

static bool pgname_reserved_db(const char *s)
{
    return strcmp(s, "postgres") == 0 || strcmp(s, "template0") == 0 ||
           strcmp(s, "template1") == 0 || strncmp(s, "pg_", 3) == 0;
}

enum kerr pg_derive_names(const char *ns, const char *name, const char *requested_db,
                          char role[PG_NAME_MAX + 1], char db[PG_NAME_MAX + 1],
                          struct kerr_info *err)
{
    if (!ns || !ns[0] || !name || !name[0])
        return kerr_set(err, KERR_INVAL, 0, "InvalidName", "namespace and name must not be empty");
    if (strchr(ns, '/'))
        return kerr_set(err, KERR_INVAL, 0, "InvalidName", "namespace must not contain '/'");
    if (requested_db && requested_db[0]) {
        if (!pg_name_valid(requested_db))
            return kerr_set(err, KERR_INVAL, 0, "InvalidName",
                            "spec.postgres.database must match ^[a-z_][a-z0-9_]{0,62}$ "
                            "(lower-case letters, digits, '_', at most 63 bytes)");
        if (pgname_reserved_db(requested_db))
            return kerr_set(err, KERR_INVAL, 0, "InvalidName",
                            "spec.postgres.database %s is reserved (postgres, template0, "
                            "template1, pg_*)",
                            requested_db);
    }
    char derived[PG_NAME_MAX + 1];
    pgname_derive(ns, name, derived);
    memcpy(role, derived, sizeof derived);
    if (requested_db && requested_db[0])
        snprintf(db, PG_NAME_MAX + 1, "%s", requested_db);
    else
        memcpy(db, derived, sizeof derived);
    return KERR_OK;
}

void pg_password_new(char *buf, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[256];
    if (!buf || n == 0)
        return;
    if (n < 33 || n - 1 > sizeof raw) {
        fputs("grace-operator: pg_password_new: buffer must hold 32..256 characters\n", stderr);
        abort();
    }
    if (RAND_bytes(raw, (int)(n - 1)) != 1) {
        fputs("grace-operator: OpenSSL RAND_bytes failed\n", stderr);
        abort();
    }
    /* 64 symbols: the low 6 bits of a uniform byte are uniform, no bias. */
    for (size_t i = 0; i < n - 1; i++)
        buf[i] = alphabet[raw[i] & 63];
    buf[n - 1] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
}

/* A bounded writer: counts every byte, stores what fits. */
struct pgname_out {
    char *buf;
    size_t cap, len;
};

static void pgname_put(struct pgname_out *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void pgname_puts(struct pgname_out *o, const char *s)
{
    for (; s && *s; s++)
        pgname_put(o, *s);
}

/* Percent-encode s; `keep` is one more byte left as is (':' inside a bracketed host). */
static void pgname_put_encoded(struct pgname_out *o, const char *s, char keep)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (keep && c == (unsigned char)keep)) {
            pgname_put(o, (char)c);
        } else {
            pgname_put(o, '%');
            pgname_put(o, hex[c >> 4]);
            pgname_put(o, hex[c & 15]);
        }
    }
}

size_t pg_uri(char *buf, size_t n, const char *host, int port, const char *db, const char *user,
              const char *password, const char *sslmode)
{
    struct pgname_out o = {buf, n, 0};
    char portbuf[16];
    pgname_puts(&o, "postgresql://");
    pgname_put_encoded(&o, user, 0);
    if (password && password[0]) {
        pgname_put(&o, ':');
        pgname_put_encoded(&o, password, 0);
    }
    pgname_put(&o, '@');
    bool v6 = host && strchr(host, ':');
    if (v6)
        pgname_put(&o, '[');
    pgname_put_encoded(&o, host, v6 ? ':' : 0);
    if (v6)
        pgname_put(&o, ']');
    snprintf(portbuf, sizeof portbuf, ":%d/", port);
    pgname_puts(&o, portbuf);
    pgname_put_encoded(&o, db, 0);
    if (sslmode && sslmode[0]) {
        pgname_puts(&o, "?sslmode=");
        pgname_put_encoded(&o, sslmode, 0);
    }
    if (n > 0)
        buf[o.len < n ? o.len : n - 1] = '\0';
    return o.len;
}
