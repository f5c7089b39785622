/*
 * pgsecret: PostgreSQL credentials from Secrets, failing closed (see
 * pgsecret.h).
 */
#include "pgsecret.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "kb64.h"

char *pgsecret_unb64(const char *s)
{
    size_t n = strlen(s);
    char *out = NULL;
    if (n > (size_t)1 << 20 || kb64_decode(s, n, KB64_NO_NUL, &out, NULL) != KERR_OK)
        return NULL;
    return out;
}

/* The text of a JSON string, or NULL when it is none or holds a NUL (its
 * C string would be cut short: another value than the Secret's). */
static const char *whole_string(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) ? s : NULL;
}

static enum kerr unreadable(struct kerr_info *err, const char *what, const char *key)
{
    return kerr_set(err, KERR_PARSE, 0, PGSECRET_REASON_UNREADABLE, "%s: %s%s%s", what,
                    key ? "key \"" : "", key ? key : "", key ? "\" is not base64 text" : "");
}

enum kerr pgsecret_admin_decode(const json_t *secret, json_t **out, struct kerr_info *err)
{
    static const char *const keys[] = {"host",     "port",    "user",   "username",
                                       "password", "sslmode", "dbname", NULL};
    const json_t *data = json_object_get(secret, "data");
    *out = NULL;
    if (data && !json_is_object(data))
        return unreadable(err, "data is not an object", NULL);
    json_t *dec = json_object();
    if (!dec)
        kerr_oom();
    for (size_t i = 0; keys[i]; i++) {
        const json_t *v = json_object_get(data, keys[i]);
        if (!v)
            continue;
        char *plain = whole_string(v) ? pgsecret_unb64(whole_string(v)) : NULL;
        if (!plain) {
            json_decref(dec);
            return unreadable(err, "admin Secret", keys[i]);
        }
        json_object_set_new(dec, keys[i], json_string(plain));
        OPENSSL_cleanse(plain, strlen(plain));
        free(plain);
    }
    *out = dec;
    return KERR_OK;
}

/* The Secret's key, else the configured value, else dflt. */
static const char *pick(const json_t *sec, const char *key, const char *cfg, const char *dflt)
{
    const char *s = json_string_value(json_object_get(sec, key));
    if (s && *s)
        return s;
    return (cfg && *cfg) ? cfg : dflt;
}

/* A decimal port in 1..65535, or 0. */
static int port_of(const char *s)
{
    char *end = NULL;
    if (!s || *s < '0' || *s > '9')
        return 0;
    long v = strtol(s, &end, 10);
    return (*end == '\0' && v >= 1 && v <= 65535) ? (int)v : 0;
}

enum kerr pgsecret_admin(const json_t *decoded, const struct gs_pg_config *pc,
                         struct pg_admin *a, struct kerr_info *err)
{
    memset(a, 0, sizeof *a);
    const char *port = json_string_value(json_object_get(decoded, "port"));
    if (port && !port_of(port))
        return kerr_set(err, KERR_PARSE, 0, PGSECRET_REASON_UNREADABLE,
                        "admin Secret: key \"port\" is not a port number (1..65535)");
    a->host = pick(decoded, "host", pc ? pc->host : NULL, "127.0.0.1");
    a->port = port ? port_of(port) : (pc && pc->port ? pc->port : 5432);
    a->user = pick(decoded, "user", NULL, pick(decoded, "username", NULL, "postgres"));
    a->password = pick(decoded, "password", NULL, "");
    a->sslmode = pick(decoded, "sslmode", pc ? pc->sslmode : NULL, "prefer");
    a->dbname = pick(decoded, "dbname", NULL, "postgres");
    a->connect_timeout_s = 5;
    a->statement_timeout_ms = 30000;
    return KERR_OK;
}

/* Why a cached Secret's password cannot be read, or NULL when it can
 * (then *pw is the decoded password). */
static const char *password_of(const struct kobj *o, char **pw)
{
    json_t *s = kobj_json(o);
    const char *enc = whole_string(json_object_get(json_object_get(s, "data"), "password"));
    const char *why = !s ? "the object does not parse" : !enc ? "no data.password string" : NULL;
    *pw = enc ? pgsecret_unb64(enc) : NULL;
    if (!why && !*pw)
        why = "not base64 text";
    else if (!why && !**pw)
        why = "empty";
    json_decref(s);
    if (why) {
        free(*pw);
        *pw = NULL;
    }
    return why;
}

enum kerr pgsecret_password(const struct kobj *o, char **pw, struct kerr_info *err)
{
    *pw = NULL;
    if (!o)
        return KERR_OK;
    const char *why = password_of(o, pw);
    if (!why)
        return KERR_OK;
    return kerr_set(err, KERR_PARSE, 0, PGSECRET_REASON_UNREADABLE,
                    "Secret %s/%s exists but its password cannot be read (%s): the Secret is "
                    "kept and the password is not changed; fix or delete the Secret",
                    kobj_namespace(o), kobj_name(o), why);
}
