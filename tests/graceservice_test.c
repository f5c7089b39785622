/*
 * graceservice_test: gs_reconcile end to end within one process: the real
 * reconciler (templates, apply, prune, readiness, status, finalizer, real
 * PostgreSQL through hack/pg.sh) against fakeapi, an in-memory API server
 * on testsrv. The caches are fed from fakeapi's store between reconciles,
 * as the watch would (sync()).
 *
 * Covered: create, no-op, spec change, drift, prune, a child owned by
 * someone else, a hostname conflict, deletion with each deletionPolicy,
 * and every API request of a create or a deletion answering 500 or 409 in
 * turn: each run ends converged (Ready, every child present, the
 * database's password in the Secret logs in, one more reconcile writes
 * nothing) with nothing lost.
 */
#include <check.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "childkinds.h"
#include "config.h"
#include "fakeapi.h"
#include "graceservice.h"
#include "kclient.h"
#include "kconfig.h"
#include "kinformer.h"
#include "kobj.h"
#include "kwatch.h"
#include "log.h"
#include "pg.h"
#include "pgsrv.h"

#define NS "grace"
#define NAME "peeps"
#define KEY NS "/" NAME

static struct pgsrv g_pg;

/* One reconciler wired to a fakeapi. */
struct env {
    struct fakeapi *api;
    struct kconfig kcfg;
    struct kclient *client;
    struct kwatcher *watcher;
    struct kinformer *gs_inf;
    struct childkinds kinds;
    struct kinformer *child_inf[CHILDKINDS_MAX];
    struct grace_config *cfg;
    struct gs_controller *c;
    struct gs_worker *w;
};

static const char *const config_yaml = "baseDomain: example.test\n"
                                       "kafka: {namespace: kafka}\n"
                                       "backup: {namespace: velero}\n";

/* ---- wiring ---- */

static void controller_up(struct env *e)
{
    const struct grace_config_postgres *pc = grace_config_postgres(e->cfg);
    struct gs_deps d = {
        .client = e->client,
        .gs_inf = e->gs_inf,
        .kinds = &e->kinds,
        .cfg = {.templates = grace_config_json(e->cfg),
                .base_domain = grace_config_base_domain(e->cfg),
                .tailscale = true,
                .backup = true,
                .postgres = {NULL, 0, "disable", pc->admin_secret_namespace,
                             pc->admin_secret_name}},
        .templates_dir = "templates",
    };
    memcpy(d.child_inf, e->child_inf, sizeof d.child_inf);
    e->c = gs_controller_new(&d);
    struct kerr_info err = {0};
    ck_assert_msg(gs_worker_new(e->c, &e->w, &err) == KERR_OK, "%s", err.message);
}

static void controller_down(struct env *e)
{
    gs_worker_free(e->w);
    gs_controller_free(e->c);
    e->w = NULL;
    e->c = NULL;
}

static char *b64(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    ck_assert_ptr_nonnull(out);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    return out;
}

static void put_admin_secret(struct env *e)
{
    char port[16];
    snprintf(port, sizeof port, "%d", g_pg.port);
    const char *kv[][2] = {{"host", g_pg.host},
                           {"port", port},
                           {"username", g_pg.user},
                           {"password", g_pg.password},
                           {"sslmode", "disable"}};
    json_t *data = json_object();
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        char *v = b64(kv[i][1]);
        json_object_set_new(data, kv[i][0], json_string(v));
        free(v);
    }
    json_t *s =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "v1", "kind", "Secret", "metadata",
                  "name", "postgres-admin", "namespace", "grace-system", "data", data);
    json_decref(fakeapi_put(e->api, "secrets", s, "admin"));
    json_decref(s);
}

static void env_up(struct env *e)
{
    memset(e, 0, sizeof *e);
    e->api = fakeapi_start();
    e->kcfg.server = (char *)fakeapi_url(e->api);
    struct kclient_options o = {.max_retries = -1}; /* a 500 reaches the reconciler */
    struct kerr_info err = {0};
    ck_assert_int_eq(kclient_new(&e->kcfg, &o, &e->client, &err), KERR_OK);
    ck_assert_int_eq(kwatcher_new(e->client, &e->watcher), KERR_OK);
    struct kres gs = {"grace.dev", "v1alpha1", "graceservices"};
    e->gs_inf = kinformer_new(e->client, e->watcher, &gs, NULL, NULL);
    childkinds_init(&e->kinds); /* every kind served, at its preferred version */
    for (size_t i = 0; i < childkinds_count(&e->kinds); i++) {
        struct childkind *k = childkinds_at(&e->kinds, i);
        k->served = true;
        struct kres r;
        childkinds_kres(k, &r);
        e->child_inf[i] = kinformer_new(e->client, e->watcher, &r, NULL,
                                        "app.kubernetes.io/managed-by=grace-operator");
        kinformer_set_kind(e->child_inf[i], k->kind);
    }
    ck_assert_msg(grace_config_load_string(config_yaml, "test", &e->cfg, &err) == KERR_OK, "%s",
                  err.message);
    put_admin_secret(e);
    controller_up(e);
}

static void env_down(struct env *e)
{
    controller_down(e);
    kinformer_free(e->gs_inf);
    for (size_t i = 0; i < childkinds_count(&e->kinds); i++)
        kinformer_free(e->child_inf[i]);
    kwatcher_free(e->watcher);
    kclient_free(e->client);
    grace_config_free(e->cfg);
    fakeapi_stop(e->api);
}

/* ---- the watch, played: caches follow the store ---- */

struct seen {
    struct fakeapi *api;
    const char *group, *plural;
    json_t *gone; /* array of [ns, name] */
};

static void collect_gone(void *ctx, const struct kobj *o)
{
    struct seen *s = ctx;
    json_t *now = fakeapi_get(s->api, s->group, s->plural, kobj_namespace(o), kobj_name(o));
    if (!now)
        json_array_append_new(s->gone, json_pack("[s, s]", kobj_namespace(o), kobj_name(o)));
    json_decref(now);
}

static void sync_one(struct env *e, struct kinformer *inf, const char *group, const char *plural,
                     bool ours_only)
{
    json_t *all = fakeapi_list(e->api, group, plural);
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o)
    {
        const json_t *labels = json_object_get(json_object_get(o, "metadata"), "labels");
        const char *by = json_string_value(json_object_get(labels, "app.kubernetes.io/managed-by"));
        if (!ours_only || (by && !strcmp(by, "grace-operator")))
            kinformer_apply_write(inf, o);
    }
    json_decref(all);
    struct seen s = {e->api, group, plural, json_array()};
    kinformer_foreach(inf, collect_gone, &s);
    json_array_foreach(s.gone, i, o)
    {
        kinformer_apply_delete(inf, json_string_value(json_array_get(o, 0)),
                               json_string_value(json_array_get(o, 1)));
    }
    json_decref(s.gone);
}

static void sync(struct env *e)
{
    fakeapi_gc(e->api);
    sync_one(e, e->gs_inf, "grace.dev", "graceservices", false);
    for (size_t i = 0; i < childkinds_count(&e->kinds); i++) {
        struct childkind *k = childkinds_at(&e->kinds, i);
        sync_one(e, e->child_inf[i], k->group, k->plural, true);
    }
}

/* ---- the GraceService ---- */

static json_t *peeps(const char *policy)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:i, s:i, s:s, s:{s:s, s:[s], s:s}, "
                     "s:{s:[{s:s, s:i, s:i}], s:[s], s:[s]}, s:{s:s}, s:{s:b}}}",
                     "apiVersion", "grace.dev/v1alpha1", "kind", "GraceService", "metadata", "name",
                     NAME, "namespace", NS, "creationTimestamp", "2026-01-01T00:00:00Z", "spec",
                     "image", "ghcr.io/example/peeps:1.4.2", "replicas", 1, "port", 8000,
                     "hostname", "peeps", "postgres", "database", "peeps", "extensions", "pgcrypto",
                     "deletionPolicy", policy, "kafka", "topics", "name", "peeps.updated",
                     "partitions", 3, "replicas", 3, "consumes", "imessage.received", "produces",
                     "peeps.updated", "backup", "schedule", "0 * * * *", "egress", "restricted", 1);
}

static void put_gs(struct env *e, const json_t *gs)
{
    json_decref(fakeapi_put(e->api, "graceservices", gs, "kubectl"));
}

static json_t *get_gs(struct env *e)
{
    return fakeapi_get(e->api, "grace.dev", "graceservices", NS, NAME);
}

/* Reconcile (the watch played before each) until a reconcile is done and
 * wrote nothing; returns how many reconciles that took, -1 if none did
 * within `max`. *writes: the API writes made on the way. */
static int converge(struct env *e, const char *key, int max, size_t *writes)
{
    size_t w0 = fakeapi_writes(e->api);
    for (int i = 1; i <= max; i++) {
        sync(e);
        size_t before = fakeapi_writes(e->api);
        long after = 0;
        enum gs_result r = gs_reconcile(e->c, e->w, key, &after);
        if (r == GS_DONE && fakeapi_writes(e->api) == before) {
            if (writes)
                *writes = before - w0;
            sync(e);
            return i;
        }
    }
    return -1;
}

/* "Kind ns/name" of every stored object labelled as this service's child,
 * sorted, as one string (owned). */
static char *children(struct env *e)
{
    json_t *names = json_array();
    for (size_t i = 0; i < childkinds_count(&e->kinds); i++) {
        struct childkind *k = childkinds_at(&e->kinds, i);
        json_t *all = fakeapi_list(e->api, k->group, k->plural);
        size_t j;
        json_t *o;
        json_array_foreach(all, j, o)
        {
            const json_t *l = json_object_get(json_object_get(o, "metadata"), "labels");
            const char *svc = json_string_value(json_object_get(l, "grace.dev/service"));
            const json_t *md = json_object_get(o, "metadata");
            if (svc && !strcmp(svc, NAME))
                json_array_append_new(
                    names, json_sprintf("%s %s/%s", k->kind,
                                        json_string_value(json_object_get(md, "namespace")),
                                        json_string_value(json_object_get(md, "name"))));
        }
        json_decref(all);
    }
    size_t n = json_array_size(names), len = 1;
    const char **v = calloc(n + 1, sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++) {
        v[i] = json_string_value(json_array_get(names, i));
        len += strlen(v[i]) + 1;
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: a dozen names */
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            const char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    char *out = calloc(1, len);
    ck_assert_ptr_nonnull(out);
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(out + off, len - off, "%s\n", v[i]);
    free(v);
    json_decref(names);
    return out;
}

/* ---- PostgreSQL ---- */

static struct pg_admin admin(void)
{
    return (struct pg_admin){.host = g_pg.host,
                             .port = g_pg.port,
                             .user = g_pg.user,
                             .password = g_pg.password,
                             .sslmode = "disable",
                             .dbname = g_pg.dbname[0] ? g_pg.dbname : "postgres",
                             .connect_timeout_s = 10,
                             .statement_timeout_ms = 10000};
}

static void db_names(char role[64], char db[64])
{
    ck_assert_int_eq(pg_derive_names(NS, NAME, "peeps", role, db, NULL), KERR_OK);
}

static void db_drop(void)
{
    char role[64], db[64];
    db_names(role, db);
    struct pg_admin a = admin();
    struct pg_conn *c = pg_conn_new();
    struct kerr_info err = {0};
    ck_assert_msg(pg_drop(c, &a, role, db, &err) == KERR_OK, "%s", err.message);
    pg_conn_free(c);
}

/* The password in the stored <name>-postgres Secret (owned), or NULL. */
static char *secret_password(struct env *e)
{
    json_t *s = fakeapi_get(e->api, "", "secrets", NS, NAME "-postgres");
    const char *enc = json_string_value(json_object_get(json_object_get(s, "data"), "password"));
    char *pw = NULL;
    if (enc) {
        size_t n = strlen(enc);
        pw = calloc(1, n + 1);
        ck_assert_ptr_nonnull(pw);
        int len = EVP_DecodeBlock((unsigned char *)pw, (const unsigned char *)enc, (int)n);
        ck_assert_int_ge(len, 0);
        while (n > 0 && enc[n - 1] == '=') {
            len--;
            n--;
        }
        pw[len] = '\0';
    }
    json_decref(s);
    return pw;
}

/* True when the Secret's credentials log into the service's database. */
static bool secret_logs_in(struct env *e)
{
    char role[64], db[64];
    db_names(role, db);
    char *pw = secret_password(e);
    struct pg_admin a = admin();
    struct kerr_info err = {0};
    bool ok = pw && pg_check_login(&a, role, pw, db, &err) == KERR_OK;
    free(pw);
    return ok;
}

/* ---- assertions ---- */

static const char *cond_of(const json_t *gs, const char *type, const char *field)
{
    json_t *conds = json_object_get(json_object_get(gs, "status"), "conditions");
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        if (!strcmp(json_string_value(json_object_get(c, "type")), type))
            return json_string_value(json_object_get(c, field));
    }
    return NULL;
}

static bool has_finalizer(const json_t *gs)
{
    json_t *f = json_object_get(json_object_get(gs, "metadata"), "finalizers");
    return json_array_size(f) == 1 &&
           !strcmp(json_string_value(json_array_get(f, 0)), GS_FINALIZER);
}

/* Ready for its generation, finalizer on, exactly `want` children, the
 * database reachable with the Secret's password. */
static void assert_converged(struct env *e, const char *want, const char *what)
{
    json_t *gs = get_gs(e);
    ck_assert_ptr_nonnull(gs);
    ck_assert_msg(has_finalizer(gs), "%s: no finalizer", what);
    const char *ready = cond_of(gs, "Ready", "status");
    ck_assert_msg(ready && !strcmp(ready, "True"), "%s: Ready is %s (%s)", what,
                  ready ? ready : "absent", cond_of(gs, "Ready", "message"));
    json_t *md = json_object_get(gs, "metadata");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(gs, "status"), "observedGeneration")),
        json_integer_value(json_object_get(md, "generation")));
    char *have = children(e);
    ck_assert_msg(!strcmp(have, want), "%s: children\n%s\nwant\n%s", what, have, want);
    free(have);
    ck_assert_msg(secret_logs_in(e), "%s: the Secret's password does not log in", what);
    json_decref(gs);
}

/* A GraceService created and converged; its children into *want (owned). */
static void create_converged(struct env *e, const char *policy, char **want, size_t *writes)
{
    json_t *gs = peeps(policy);
    put_gs(e, gs);
    json_decref(gs);
    ck_assert_int_gt(converge(e, KEY, 8, writes), 0);
    *want = children(e);
}

/* The children a create makes, from the templates and the database. */
static const char *const want_children = "Certificate grace/peeps\n"
                                         "Deployment grace/peeps\n"
                                         "IngressRoute grace/peeps\n"
                                         "KafkaTopic kafka/peeps.updated\n"
                                         "KafkaUser kafka/grace-peeps-635e15c76642fb1f\n"
                                         "NetworkPolicy grace/peeps-egress\n"
                                         "Schedule velero/grace-peeps-635e15c76642fb1f\n"
                                         "Secret grace/grace-peeps-635e15c76642fb1f\n"
                                         "Secret grace/peeps-postgres\n"
                                         "Service grace/peeps\n";

/* ---- create, no-op, change, drift, prune ---- */

START_TEST(gs_reconcile_creates_every_child_and_reports_ready)
{
    struct env e;
    env_up(&e);
    char *want = NULL;
    size_t writes = 0;
    create_converged(&e, "Retain", &want, &writes);
    ck_assert_str_eq(want, want_children);
    assert_converged(&e, want_children, "create");
    fprintf(stderr, "graceservice_test: a create took %zu API writes\n", writes);
    free(want);
    env_down(&e);
    db_drop();
}
END_TEST

/* The API server shows a new GraceService with the CRD's default status
 * (observedGeneration 0) until the operator writes one. kstatus already
 * reads that as in progress, so the progress report of the first
 * reconcile waits (debounced) and a service Ready within that time costs
 * one status write instead of two. */
/* A create while the Deployment is not yet available, then converged;
 * `status` (stolen, may be NULL) is what the server shows before our first
 * write. The writes of the first reconcile and of the rest into *first,
 * *rest. */
static enum gs_result create_held_back(struct env *e, json_t *status, size_t *first,
                                       size_t *rest)
{
    fakeapi_hold(e->api, "Deployment");
    json_t *gs = peeps("Retain");
    if (status)
        json_object_set_new(gs, "status", status);
    put_gs(e, gs);
    json_decref(gs);
    sync(e);
    size_t w0 = fakeapi_writes(e->api);
    long after = 0;
    enum gs_result res = gs_reconcile(e->c, e->w, KEY, &after);
    *first = fakeapi_writes(e->api) - w0;
    if (res == GS_REQUEUE_AFTER)
        ck_assert(after > 0 && after <= 5000);
    fakeapi_hold(e->api, NULL);
    ck_assert_int_gt(converge(e, KEY, 8, rest), 0);
    assert_converged(e, want_children, "create, Deployment held back");
    return res;
}

/* The API server shows a new GraceService with the CRD's default status
 * (observedGeneration 0) until the operator writes one. kstatus already
 * reads that as in progress, so the progress report of the first
 * reconcile waits (debounced, at most 5 s) and a service Ready within that
 * time costs one status write instead of two. */
START_TEST(gs_create_over_the_default_status_writes_the_status_once)
{
    struct env e;
    size_t first_plain, rest_plain, first, rest;
    env_up(&e);
    ck_assert_int_eq(create_held_back(&e, NULL, &first_plain, &rest_plain), GS_DONE);
    env_down(&e);
    db_drop();

    env_up(&e); /* the same over the default status: the first reconcile waits */
    ck_assert_int_eq(
        create_held_back(&e, json_pack("{s:i}", "observedGeneration", 0), &first, &rest),
        GS_REQUEUE_AFTER);
    json_t *gs = get_gs(&e);
    env_down(&e);
    db_drop();
    ck_assert_uint_eq(first + 1, first_plain); /* no progress write */
    ck_assert_uint_eq(rest, rest_plain);       /* the Ready write */
    ck_assert_ptr_nonnull(cond_of(gs, "Ready", "lastTransitionTime"));
    json_decref(gs);
}
END_TEST

START_TEST(gs_reconcile_twice_writes_nothing_the_second_time)
{
    struct env e;
    env_up(&e);
    char *want = NULL;
    create_converged(&e, "Retain", &want, NULL);
    size_t w0 = fakeapi_writes(e.api);
    long after = 0;
    ck_assert_int_eq(gs_reconcile(e.c, e.w, KEY, &after), GS_DONE);
    ck_assert_uint_eq(fakeapi_writes(e.api), w0);
    /* a fresh controller (no memory of the last run) compares every child */
    controller_down(&e);
    controller_up(&e);
    size_t r0 = fakeapi_requests(e.api);
    ck_assert_int_eq(gs_reconcile(e.c, e.w, KEY, &after), GS_DONE);
    ck_assert_uint_eq(fakeapi_writes(e.api), w0);
    fprintf(stderr, "graceservice_test: a no-op resync took %zu API requests, 0 writes\n",
            fakeapi_requests(e.api) - r0);
    free(want);
    env_down(&e);
    db_drop();
}
END_TEST

static json_t *stored_deployment(struct env *e)
{
    return fakeapi_get(e->api, "apps", "deployments", NS, NAME);
}

static const char *image_of(const json_t *dep)
{
    const json_t *spec =
        json_object_get(json_object_get(json_object_get(dep, "spec"), "template"), "spec");
    return json_string_value(
        json_object_get(json_array_get(json_object_get(spec, "containers"), 0), "image"));
}

START_TEST(gs_reconcile_applies_a_spec_change_and_observes_the_generation)
{
    struct env e;
    env_up(&e);
    char *want = NULL;
    create_converged(&e, "Retain", &want, NULL);
    json_t *gs = get_gs(&e);
    json_object_set_new(json_object_get(gs, "spec"), "image",
                        json_string("ghcr.io/example/peeps:1.5.0"));
    put_gs(&e, gs);
    json_decref(gs);
    size_t writes = 0;
    ck_assert_int_gt(converge(&e, KEY, 8, &writes), 0);
    json_t *dep = stored_deployment(&e);
    ck_assert_str_eq(image_of(dep), "ghcr.io/example/peeps:1.5.0");
    json_decref(dep);
    assert_converged(&e, want, "spec change");
    ck_assert_uint_eq(writes, 2); /* the Deployment, then the status */
    free(want);
    env_down(&e);
    db_drop();
}
END_TEST

START_TEST(gs_reconcile_puts_back_a_child_changed_by_hand)
{
    struct env e;
    env_up(&e);
    char *want = NULL;
    create_converged(&e, "Retain", &want, NULL);
    json_t *dep = stored_deployment(&e);
    json_t *c0 = json_array_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(dep, "spec"), "template"), "spec"),
            "containers"),
        0);
    json_object_set_new(c0, "image", json_string("evil:latest"));
    json_decref(fakeapi_put(e.api, "deployments", dep, "grace-operator"));
    json_decref(dep);
    size_t writes = 0;
    ck_assert_int_gt(converge(&e, KEY, 8, &writes), 0);
    dep = stored_deployment(&e);
    ck_assert_str_eq(image_of(dep), "ghcr.io/example/peeps:1.4.2");
    json_decref(dep);
    ck_assert_uint_eq(writes, 1); /* the Deployment only: status did not change */
    assert_converged(&e, want, "drift");
    free(want);
    env_down(&e);
    db_drop();
}
END_TEST

START_TEST(gs_reconcile_prunes_a_child_no_longer_desired)
{
    struct env e;
    env_up(&e);
    char *want = NULL;
    create_converged(&e, "Retain", &want, NULL);
    json_t *gs = get_gs(&e);
    json_object_set_new(json_object_get(gs, "spec"), "backup", json_pack("{s:b}", "enabled", 0));
    put_gs(&e, gs);
    json_decref(gs);
    ck_assert_int_gt(converge(&e, KEY, 8, NULL), 0);
    json_t *sch =
        fakeapi_get(e.api, "velero.io", "schedules", "velero", "grace-peeps-635e15c76642fb1f");
    ck_assert_ptr_null(sch);
    gs = get_gs(&e);
    ck_assert_ptr_null(cond_of(gs, "BackupReady", "status"));
    ck_assert_str_eq(cond_of(gs, "Ready", "status"), "True");
    json_decref(gs);
    free(want);
    env_down(&e);
    db_drop();
}
END_TEST

/* ---- conflicts ---- */

START_TEST(gs_reconcile_never_takes_over_a_child_someone_else_owns)
{
    struct env e;
    env_up(&e);
    json_t *theirs =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:i}}", "apiVersion", "apps/v1", "kind",
                  "Deployment", "metadata", "name", NAME, "namespace", NS, "spec", "replicas", 7);
    json_decref(fakeapi_put(e.api, "deployments", theirs, "someone-else"));
    json_decref(theirs);
    json_t *gs = peeps("Retain");
    put_gs(&e, gs);
    json_decref(gs);
    ck_assert_int_lt(converge(&e, KEY, 3, NULL), 0); /* retried, never done */
    json_t *dep = stored_deployment(&e);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(dep, "spec"), "replicas")),
                     7);
    ck_assert_ptr_null(json_object_get(json_object_get(dep, "metadata"), "labels"));
    json_decref(dep);
    gs = get_gs(&e);
    ck_assert_str_eq(cond_of(gs, "WorkloadReady", "reason"), "ChildConflict");
    ck_assert_str_eq(cond_of(gs, "Stalled", "status"), "True");
    ck_assert_str_eq(cond_of(gs, "Ready", "status"), "False");
    json_decref(gs);
    env_down(&e);
    db_drop();
}
END_TEST

START_TEST(gs_reconcile_gives_a_taken_hostname_to_the_older_service)
{
    struct env e;
    env_up(&e);
    char *want = NULL;
    create_converged(&e, "Retain", &want, NULL);
    json_t *other = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:i, s:s}}", "apiVersion",
                              "grace.dev/v1alpha1", "kind", "GraceService", "metadata", "name",
                              "other", "namespace", NS, "creationTimestamp", "2026-02-01T00:00:00Z",
                              "spec", "image", "x:1", "port", 80, "hostname", "peeps");
    put_gs(&e, other);
    json_decref(other);
    converge(&e, NS "/other", 3, NULL);
    json_t *o = fakeapi_get(e.api, "grace.dev", "graceservices", NS, "other");
    ck_assert_str_eq(cond_of(o, "RouteReady", "reason"), "HostnameConflict");
    ck_assert_str_eq(cond_of(o, "Stalled", "status"), "True");
    json_decref(o);
    json_t *route = fakeapi_get(e.api, "traefik.io", "ingressroutes", NS, "other");
    ck_assert_ptr_null(route);
    ck_assert_int_gt(converge(&e, KEY, 3, NULL), 0);
    assert_converged(&e, want, "the older service");
    free(want);
    env_down(&e);
    db_drop();
}
END_TEST

/* ---- deletion ---- */

/* Delete the GraceService and reconcile until it is gone. */
static void delete_converged(struct env *e)
{
    ck_assert(fakeapi_delete(e->api, "grace.dev", "graceservices", NS, NAME));
    ck_assert_int_gt(converge(e, KEY, 8, NULL), 0);
    json_t *gs = get_gs(e);
    ck_assert_ptr_null(gs);
    char *left = children(e);
    ck_assert_str_eq(left, ""); /* foreign ones by the finalizer, the rest by the GC */
    free(left);
}

START_TEST(gs_delete_with_retain_keeps_the_database)
{
    struct env e;
    env_up(&e);
    char *want = NULL;
    create_converged(&e, "Retain", &want, NULL);
    char *pw = secret_password(&e);
    delete_converged(&e);
    char role[64], db[64];
    db_names(role, db);
    struct pg_admin a = admin();
    struct kerr_info err = {0};
    ck_assert_msg(pg_check_login(&a, role, pw, db, &err) == KERR_OK, "%s", err.message);
    free(pw);
    free(want);
    env_down(&e);
    db_drop();
}
END_TEST

START_TEST(gs_delete_with_delete_drops_the_database)
{
    struct env e;
    env_up(&e);
    char *want = NULL;
    create_converged(&e, "Delete", &want, NULL);
    char *pw = secret_password(&e);
    delete_converged(&e);
    char role[64], db[64];
    db_names(role, db);
    struct pg_admin a = admin();
    struct kerr_info err = {0};
    ck_assert_int_ne(pg_check_login(&a, role, pw, db, &err), KERR_OK);
    free(pw);
    free(want);
    env_down(&e);
}
END_TEST

/* ---- an API request failing at each step ---- */

/* Requests made by a clean create's first reconcile. */
static size_t create_requests(void)
{
    struct env e;
    env_up(&e);
    json_t *gs = peeps("Retain");
    put_gs(&e, gs);
    json_decref(gs);
    sync(&e);
    long after = 0;
    size_t r0 = fakeapi_requests(e.api);
    gs_reconcile(e.c, e.w, KEY, &after);
    size_t n = fakeapi_requests(e.api) - r0;
    env_down(&e);
    db_drop();
    return n;
}

static void create_with_fault(long i, int status)
{
    struct env e;
    env_up(&e);
    json_t *gs = peeps("Retain");
    put_gs(&e, gs);
    json_decref(gs);
    sync(&e);
    fakeapi_fail_at(e.api, i, status);
    char what[64];
    snprintf(what, sizeof what, "create, request %ld answering %d", i, status);
    int n = converge(&e, KEY, 8, NULL);
    ck_assert_msg(n > 0, "%s: did not converge", what);
    ck_assert_msg(n > 1, "%s: the fault was not seen", what); /* it cost a retry */
    assert_converged(&e, want_children, what);
    env_down(&e);
    db_drop();
}

START_TEST(gs_create_converges_whichever_request_fails)
{
    size_t n = create_requests();
    ck_assert_uint_gt(n, 5);
    for (size_t i = 0; i <= n; i++) {
        create_with_fault((long)i, 500);
        create_with_fault((long)i, 409);
    }
    fprintf(stderr, "graceservice_test: create: each of %zu requests failed in turn (500, 409)\n",
            n);
}
END_TEST

static void delete_with_fault(long i, int status, size_t *requests)
{
    struct env e;
    env_up(&e);
    char *want = NULL;
    create_converged(&e, "Delete", &want, NULL);
    char *pw = secret_password(&e);
    ck_assert(fakeapi_delete(e.api, "grace.dev", "graceservices", NS, NAME));
    size_t r0 = fakeapi_requests(e.api);
    fakeapi_fail_at(e.api, i, status);
    int n = converge(&e, KEY, 8, NULL);
    ck_assert_msg(n > 0, "delete, request %ld answering %d", i, status);
    ck_assert_msg(i < 0 || n > 1, "delete, request %ld answering %d: not seen", i, status);
    *requests = fakeapi_requests(e.api) - r0;
    ck_assert_ptr_null(get_gs(&e));
    char *left = children(&e);
    ck_assert_msg(!strcmp(left, ""), "delete, request %ld answering %d: left\n%s", i, status, left);
    free(left);
    char role[64], db[64];
    db_names(role, db);
    struct pg_admin a = admin();
    struct kerr_info err = {0};
    ck_assert_int_ne(pg_check_login(&a, role, pw, db, &err), KERR_OK);
    free(pw);
    free(want);
    env_down(&e);
}

START_TEST(gs_delete_converges_whichever_request_fails)
{
    size_t n = 0;
    delete_with_fault(-1, 500, &n); /* no fault: how many requests a deletion makes */
    ck_assert_uint_gt(n, 2);
    for (size_t i = 0; i < n; i++) {
        size_t ignored;
        delete_with_fault((long)i, 500, &ignored);
        delete_with_fault((long)i, 409, &ignored);
    }
    fprintf(stderr, "graceservice_test: delete: each of %zu requests failed in turn (500, 409)\n",
            n);
}
END_TEST

static Suite *graceservice_suite(void)
{
    Suite *s = suite_create("graceservice");
    TCase *tc = tcase_create("reconcile");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, gs_reconcile_creates_every_child_and_reports_ready);
    tcase_add_test(tc, gs_reconcile_twice_writes_nothing_the_second_time);
    tcase_add_test(tc, gs_create_over_the_default_status_writes_the_status_once);
    tcase_add_test(tc, gs_reconcile_applies_a_spec_change_and_observes_the_generation);
    tcase_add_test(tc, gs_reconcile_puts_back_a_child_changed_by_hand);
    tcase_add_test(tc, gs_reconcile_prunes_a_child_no_longer_desired);
    tcase_add_test(tc, gs_reconcile_never_takes_over_a_child_someone_else_owns);
    tcase_add_test(tc, gs_reconcile_gives_a_taken_hostname_to_the_older_service);
    tcase_add_test(tc, gs_delete_with_retain_keeps_the_database);
    tcase_add_test(tc, gs_delete_with_delete_drops_the_database);
    tcase_add_test(tc, gs_create_converges_whichever_request_fails);
    tcase_add_test(tc, gs_delete_converges_whichever_request_fails);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    (void)argc;
    if (pgsrv_start(&g_pg, argv[0], "graceservice_test") != 0) {
        pgsrv_stop(&g_pg);
        return EXIT_FAILURE;
    }
    log_init(LOG_KV, LOG_ERROR);
    SRunner *sr = srunner_create(graceservice_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    pgsrv_stop(&g_pg);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
