/*
 * fuzz_pgsecret: the PostgreSQL credentials and connection parameters
 * taken from outside input: the admin Secret (pgsecret_admin_decode,
 * pgsecret_admin), a GraceService's own Secret as cached
 * (pgsecret_password), and what is built from them: the role and database
 * names (pg_derive_names) and the connection URI handed to the workload
 * (pg_uri).
 *
 * Input: a Secret as JSON. Its "metadata" strings "namespace", "name" and
 * the annotation "db" stand in for the GraceService's namespace, name and
 * requested database.
 *
 * Invariants:
 *  - a decoded admin Secret holds strings without NUL, and what it yields
 *    is a usable connection: port in 1..65535, no NULL field;
 *  - a password read from the own Secret is non-empty; an existing Secret
 *    gives its password or an error, never "absent" (that would rotate it);
 *  - derived names are valid PostgreSQL names of at most 63 bytes, the
 *    same for the same input;
 *  - pg_uri reports the full length, always terminates its buffer, and
 *    its user, password, host and database decode back to the input.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "pgname.h"
#include "pgsecret.h"

#define H "pgsecret"

static void check_admin(const json_t *secret)
{
    json_t *dec = NULL;
    struct pg_admin a;
    struct gs_pg_config pc = {"cfg", 5432, "prefer", "ns", "admin"};
    if (pgsecret_admin_decode(secret, &dec, NULL) != KERR_OK)
        return;
    const char *k;
    json_t *v;
    json_object_foreach(dec, k, v)
    {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
            fz_fail(H, "decoded admin key %s is not a plain string", k);
    }
    if (pgsecret_admin(dec, &pc, &a, NULL) == KERR_OK) {
        if (a.port < 1 || a.port > 65535 || !a.host || !a.user || !a.password || !a.sslmode ||
            !a.dbname)
            fz_fail(H, "admin connection with port %d or a NULL field", a.port);
    }
    json_decref(dec);
}

static void check_password(const char *text, size_t len)
{
    struct kobj *o = kobj_new_from_text(text, len, "v1", "Secret", NULL, NULL);
    char *pw = NULL;
    enum kerr e = pgsecret_password(o, &pw, NULL);
    if (e == KERR_OK && o && !pw)
        fz_fail(H, "an existing Secret read as having no password (a rotation)");
    if (pw && !*pw)
        fz_fail(H, "an empty password");
    free(pw);
    kobj_unref(o);
}

/* Percent-decode s[0..n) into out (room for n + 1). */
static void pct_decode(const char *s, size_t n, char *out)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            out[j++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
}

static void check_uri(const char *user, const char *pw, const char *host, const char *db)
{
    char small[16], *big, *dec;
    size_t need = pg_uri(small, sizeof small, host, 5432, db, user, pw, "require");
    if (strlen(small) >= sizeof small || (need < sizeof small && strlen(small) != need))
        fz_fail(H, "pg_uri: bad truncation");
    big = malloc(need + 1);
    dec = malloc(need + 1);
    if (pg_uri(big, need + 1, host, 5432, db, user, pw, "require") != need || strlen(big) != need)
        fz_fail(H, "pg_uri: length differs");
    const char *p = big + strlen("postgresql://");
    const char *at = strchr(p, '@');
    const char *colon = memchr(p, ':', at ? (size_t)(at - p) : 0);
    if (!at)
        fz_fail(H, "pg_uri: no '@' in %.200s", big);
    pct_decode(p, (size_t)((colon ? colon : at) - p), dec);
    if (strcmp(dec, user) != 0)
        fz_fail(H, "pg_uri: user does not decode back");
    if (colon) {
        pct_decode(colon + 1, (size_t)(at - colon - 1), dec);
        if (strcmp(dec, pw) != 0)
            fz_fail(H, "pg_uri: password does not decode back");
    } else if (*pw) {
        fz_fail(H, "pg_uri: password missing");
    }
    const char *slash = strchr(at, '/');
    const char *q = slash ? strchr(slash, '?') : NULL;
    if (!slash || !q)
        fz_fail(H, "pg_uri: no /database?sslmode in %.200s", big);
    pct_decode(slash + 1, (size_t)(q - slash - 1), dec);
    if (strcmp(dec, db) != 0)
        fz_fail(H, "pg_uri: database does not decode back");
    (void)host;
    free(big);
    free(dec);
}

static const char *meta(const json_t *s, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(s, "metadata"), key));
    return v ? v : "";
}

static void check_names(const json_t *secret)
{
    char role[PG_NAME_MAX + 1], db[PG_NAME_MAX + 1], role2[PG_NAME_MAX + 1], db2[PG_NAME_MAX + 1];
    const char *req = json_string_value(
        json_object_get(json_object_get(json_object_get(secret, "metadata"), "annotations"), "db"));
    if (pg_derive_names(meta(secret, "namespace"), meta(secret, "name"), req, role, db, NULL) !=
        KERR_OK)
        return;
    if (!pg_name_valid(role) || !pg_name_valid(db) || strlen(role) > PG_NAME_MAX ||
        strlen(db) > PG_NAME_MAX)
        fz_fail(H, "derived names \"%s\" / \"%s\" are not valid", role, db);
    if (pg_derive_names(meta(secret, "namespace"), meta(secret, "name"), req, role2, db2, NULL) !=
            KERR_OK ||
        strcmp(role, role2) || strcmp(db, db2))
        fz_fail(H, "derived names differ for the same input");
    check_uri(role, meta(secret, "uid"), meta(secret, "namespace"), db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *secret = json_loadb((const char *)data, size, 0, NULL);
    check_password((const char *)data, size);
    if (json_is_object(secret)) {
        check_admin(secret);
        check_names(secret);
    }
    json_decref(secret);
    return 0;
}
