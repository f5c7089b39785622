/*
 * gsdb: the database concern of a GraceService: role and database on the
 * platform's PostgreSQL (through pg.c), and the Secret <name>-postgres that
 * the workload reads. The password is reused from the existing Secret, so
 * a reconcile never rotates it by accident; no secret value is logged or
 * put into status or Events.
 */
#include "gsdb.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kb64.h"
#include "kobj.h"
#include "ktime.h"
#include "log.h"
#include "pgsecret.h"

#define ADMIN_TTL_MS 30000
/* A database verified this recently (same generation, same password) is
 * not checked again: a burst of reconciles costs PostgreSQL one check, and
 * a role or database dropped by hand is still recreated within this time
 * of the next reconcile (every resync period at the latest). */
#define DB_VERIFIED_TTL_MS 20000

/* Read (or reuse for ADMIN_TTL_MS) the admin Secret, decoded. Returns a new
 * reference to an object of strings, or NULL with err filled. */
static json_t *admin_secret(struct gs_controller *c, struct kerr_info *err)
{
    json_t *out = NULL;
    pthread_mutex_lock(&c->admin_mu);
    if (c->admin_secret && ktime_mono_ms() - c->admin_read_ms < ADMIN_TTL_MS)
        out = json_incref(c->admin_secret);
    pthread_mutex_unlock(&c->admin_mu);
    if (out)
        return out;
    const struct gs_pg_config *pc = &c->d.cfg.postgres;
    const char *sns = pc->admin_secret_namespace;
    const char *sname = pc->admin_secret_name;
    struct kres res = {"", "v1", "secrets"};
    json_t *sec = NULL;
    enum kerr e = kclient_get(c->d.client, &res, sns, sname, &sec, err);
    if (e != KERR_OK) {
        kerr_set(err, e, err ? err->http_status : 0, "AdminSecretUnavailable",
                 "cannot read the PostgreSQL admin Secret %s/%s: %s", sns ? sns : "",
                 sname ? sname : "", kerr_strerror(e));
        return NULL;
    }
    struct kerr_info derr = {0};
    e = pgsecret_admin_decode(sec, &out, &derr);
    json_decref(sec);
    if (e != KERR_OK) { /* unreadable: fail closed, nothing is derived from it */
        kerr_set(err, e, 0, derr.reason, "PostgreSQL admin Secret %s/%s: %s", sns ? sns : "",
                 sname ? sname : "", derr.message);
        return NULL;
    }
    pthread_mutex_lock(&c->admin_mu);
    json_decref(c->admin_secret);
    c->admin_secret = json_incref(out);
    c->admin_read_ms = ktime_mono_ms();
    pthread_mutex_unlock(&c->admin_mu);
    return out;
}

/* Fill admin from the decoded admin Secret (borrowed strings live as long
 * as sec) and the configuration. */
static enum kerr admin_from(const struct gs_controller *c, const json_t *sec, struct pg_admin *a,
                            struct kerr_info *err)
{
    return pgsecret_admin(sec, &c->d.cfg.postgres, a, err);
}

static void db_names(const json_t *gs, char role[64], char db[64])
{
    const char *req =
        json_string_value(json_object_get(gs_spec(gs, "postgres"), "database"));
    if (pg_derive_names(gs_meta(gs, "namespace"), gs_meta(gs, "name"), req, role, db, NULL) !=
        KERR_OK) {
        role[0] = '\0';
        db[0] = '\0';
    }
}

/* Keep our existing Secret exactly as it is (the admin credentials are
 * unreadable, so nothing new can be derived): it stays desired, unchanged. */
static void keep_existing_secret(struct gs_run *r, const char *secret_name)
{
    struct kinformer *inf = gs_child_informer(r->c, "v1", "Secret", NULL);
    struct kobj *o = inf ? kinformer_get(inf, r->ns, secret_name) : NULL;
    if (!o)
        return;
    json_t *live = kobj_json(o);
    kobj_unref(o);
    if (!live) {
        r->hold_prune = true; /* unreadable: neither rewritten nor pruned */
        return;
    }
    json_t *one = json_pack("[{s:s, s:s, s:{s:s, s:s}, s:s, s:O}]", "apiVersion", "v1", "kind",
                            "Secret", "metadata", "name", secret_name, "namespace", r->ns, "type",
                            "Opaque", "data", json_object_get(live, "data"));
    if (one && render_finish(r->gs, one, NULL) == KERR_OK)
        gs_desired_add(r, one, GC_DATABASE);
    json_decref(one);
    json_decref(live);
}

/* The existing password from our Secret in the cache: KERR_OK with *pw
 * malloc'd, or NULL when there is no Secret (a password is to be created);
 * an error when the Secret is there but its password cannot be read. */
static enum kerr existing_password(struct gs_run *r, const char *secret_name, char **pw,
                                   struct kerr_info *err)
{
    struct kinformer *inf = gs_child_informer(r->c, "v1", "Secret", NULL);
    struct kobj *o = inf ? kinformer_get(inf, r->ns, secret_name) : NULL;
    enum kerr e = pgsecret_password(o, pw, err);
    kobj_unref(o);
    return e;
}

static void put(json_t *data, const char *key, const char *val)
{
    char *e = kb64_encode(val, strlen(val), NULL);
    json_object_set_new(data, key, json_string(e));
    free(e);
}

static void add_secret(struct gs_run *r, const struct pg_admin *a, const char *secret_name,
                       const char *role, const char *db, const char *pw)
{
    char port[16], uri[1024];
    snprintf(port, sizeof port, "%d", a->port);
    pg_uri(uri, sizeof uri, a->host, a->port, db, role, pw, a->sslmode);
    json_t *data = json_object();
    put(data, "host", a->host);
    put(data, "port", port);
    put(data, "database", db);
    put(data, "username", role);
    put(data, "password", pw);
    put(data, "sslmode", a->sslmode);
    put(data, "uri", uri);
    json_t *one = json_pack("[{s:s, s:s, s:{s:s, s:s}, s:s, s:o}]", "apiVersion", "v1", "kind",
                            "Secret", "metadata", "name", secret_name, "namespace", r->ns, "type",
                            "Opaque", "data", data);
    struct kerr_info err = {0};
    if (render_finish(r->gs, one, &err) == KERR_OK)
        gs_desired_add(r, one, GC_DATABASE);
    json_decref(one);
}

/* A fingerprint of the password (never the password itself). */
static void pw_tag(const char *pw, char out[17])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(pw, strlen(pw), md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 8; i++)
        snprintf(out + (size_t)i * 2, 3, "%02x", md[i]);
}

/* grace.dev/reconcile-requested-at: a new value forces a fresh check. */
static const char *poke(const struct gs_run *r)
{
    const char *p = json_string_value(json_object_get(
        json_object_get(json_object_get(r->gs, "metadata"), "annotations"),
        "grace.dev/reconcile-requested-at"));
    return p ? p : "";
}

static bool recently_verified(struct gs_run *r, const char *pw)
{
    char tag[17];
    pw_tag(pw, tag);
    pthread_mutex_lock(&r->c->status_mu);
    json_t *v = json_object_get(r->c->db_verified, r->key);
    const char *seen = json_string_value(json_object_get(v, "pw"));
    const char *seen_poke = json_string_value(json_object_get(v, "poke"));
    bool ok = v && seen && seen_poke && strcmp(seen_poke, poke(r)) == 0 &&
              json_integer_value(json_object_get(v, "gen")) == r->generation &&
              strcmp(seen, tag) == 0 &&
              ktime_mono_ms() - json_integer_value(json_object_get(v, "ms")) < DB_VERIFIED_TTL_MS;
    pthread_mutex_unlock(&r->c->status_mu);
    return ok;
}

static void mark_verified(struct gs_run *r, const char *pw, bool ok)
{
    char tag[17];
    pw_tag(pw, tag);
    pthread_mutex_lock(&r->c->status_mu);
    if (ok)
        json_object_set_new(r->c->db_verified, r->key,
                            json_pack("{s:I, s:I, s:s, s:s}", "ms", (json_int_t)ktime_mono_ms(),
                                      "gen", r->generation, "pw", tag, "poke", poke(r)));
    else
        json_object_del(r->c->db_verified, r->key);
    pthread_mutex_unlock(&r->c->status_mu);
}

void gs_db_ensure(struct gs_run *r)
{
    struct gs_concern_state *cs = &r->cs[GC_DATABASE];
    char role[64], db[64], secret_name[300];
    struct kerr_info err = {0};
    const char *req = json_string_value(json_object_get(gs_spec(r->gs, "postgres"), "database"));
    if (pg_derive_names(r->ns, r->name, req, role, db, &err) != KERR_OK) {
        gs_concern_fail(cs, true, "InvalidName", "%s", err.message);
        return;
    }
    snprintf(secret_name, sizeof secret_name, "%s-postgres", r->name);
    json_object_set_new(r->status_extra, "database",
                        json_pack("{s:s, s:s}", "name", db, "secretName", secret_name));
    char *pw = NULL;
    if (existing_password(r, secret_name, &pw, &err) != KERR_OK) {
        /* Fail closed: an unreadable Secret is neither rewritten with a new
         * password nor pruned; the condition says why. */
        r->hold_prune = true;
        gs_concern_fail(cs, false, err.reason, "%s", err.message);
        log_msg(LOG_WARN, "database Secret unreadable; password kept", "secret", secret_name,
                "error", err.message, LOG_END);
        goto out;
    }
    bool fresh = pw == NULL;
    struct pg_admin a;
    json_t *sec = admin_secret(r->c, &err);
    if (!sec || admin_from(r->c, sec, &a, &err) != KERR_OK) {
        if (pw)
            keep_existing_secret(r, secret_name);
        gs_concern_fail(cs, false, err.reason, "%s", err.message);
        json_decref(sec);
        goto out;
    }
    if (fresh) {
        pw = kerr_xmalloc(64);
        pg_password_new(pw, 64);
    }
    const char *exts[32];
    size_t nexts = 0, i;
    json_t *x;
    json_array_foreach(json_object_get(gs_spec(r->gs, "postgres"), "extensions"), i, x) {
        if (json_is_string(x) && nexts < 32)
            exts[nexts++] = json_string_value(x);
    }
    struct pg_want want = {role, db, pw, exts, nexts};
    enum kerr e = KERR_OK;
    if (fresh || !recently_verified(r, pw)) {
        e = pg_ensure(r->w->pg, &a, &want, &err);
        if (e == KERR_OK)
            e = pg_check_login(&a, role, pw, db, &err);
        mark_verified(r, pw, e == KERR_OK);
    }
    if (e == KERR_OK || !fresh)
        add_secret(r, &a, secret_name, role, db, pw);
    if (e != KERR_OK) {
        gs_concern_fail(cs, false, err.reason[0] ? err.reason : "DatabaseError", "%s",
                        err.message);
        log_msg(LOG_WARN, "database not ready", "reason", err.reason, "error", err.message, LOG_END);
    } else {
        cs->has_children = true;
        snprintf(cs->reason, sizeof cs->reason, "DatabaseReady");
        snprintf(cs->message, sizeof cs->message, "database %s is ready for role %s", db, role);
    }
    json_decref(sec);
out:
    if (pw)
        OPENSSL_cleanse(pw, strlen(pw));
    free(pw);
}

enum kerr gs_db_cleanup(struct gs_run *r, struct kerr_info *err)
{
    const char *policy =
        json_string_value(json_object_get(gs_spec(r->gs, "postgres"), "deletionPolicy"));
    if (!policy || strcmp(policy, "Delete") != 0) {
        log_msg(LOG_INFO, "deletionPolicy Retain: keeping the database and role", LOG_END);
        return KERR_OK;
    }
    char role[64], db[64];
    db_names(r->gs, role, db);
    if (!role[0])
        return KERR_OK;
    json_t *sec = admin_secret(r->c, err);
    if (!sec)
        return KERR_CONFIG;
    struct pg_admin a;
    enum kerr e = admin_from(r->c, sec, &a, err);
    if (e == KERR_OK)
        e = pg_drop(r->w->pg, &a, role, db, err);
    json_decref(sec);
    if (e == KERR_OK)
        log_msg(LOG_INFO, "dropped database and role (deletionPolicy Delete)", "database", db, LOG_END);
    return e;
}
