/*
 * fakeapi: an in-memory Kubernetes API for unit tests (see fakeapi.h).
 *
 * The store is a JSON object "group|plural|ns|name" -> object, guarded by
 * `mu` together with the counters and the fault. Answer bodies must live
 * until testsrv has sent them, so each is kept in `bodies` until reset.
 */
#include "fakeapi.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testsrv.h"

struct fakeapi {
    struct testsrv *srv;
    pthread_mutex_t mu; /* guards everything below */
    json_t *store;
    json_int_t rv, uid;
    size_t nreq, nwrites;
    long fail_at; /* request index (from fail_base) that fails; -1: none */
    size_t fail_base;
    int fail_status;
    char **bodies;
    size_t nbodies;
    char held[64]; /* a kind whose controller holds back (fakeapi_hold), or "" */
};

struct fa_path {
    char group[128], version[32], plural[64], ns[128], name[256];
    bool status;
    char field_manager[128];
    bool force;
};

static char *fa_keep(struct fakeapi *f, char *body)
{
    f->bodies = realloc(f->bodies, (f->nbodies + 1) * sizeof *f->bodies);
    if (!f->bodies)
        abort();
    f->bodies[f->nbodies++] = body;
    return body;
}

static void fa_key(char *buf, size_t n, const char *g, const char *p, const char *ns,
                   const char *name)
{
    snprintf(buf, n, "%s|%s|%s|%s", g ? g : "", p, ns ? ns : "", name);
}

static const char *meta_str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(json_object_get(o, "metadata"), k));
    return s ? s : "";
}

static void group_of(const json_t *obj, char *g, size_t n)
{
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *slash = av ? strchr(av, '/') : NULL;
    snprintf(g, n, "%.*s", slash ? (int)(slash - av) : 0, slash ? av : "");
}

/* /api/v1/namespaces/NS/PLURAL/NAME[/status] or
 * /apis/GROUP/VERSION/namespaces/NS/PLURAL/NAME[/status], with a query. */
static bool fa_parse(const char *full, struct fa_path *p)
{
    memset(p, 0, sizeof *p);
    char path[1024];
    snprintf(path, sizeof path, "%s", full);
    char *q = strchr(path, '?');
    if (q) {
        *q++ = '\0';
        const char *fm = strstr(q, "fieldManager=");
        if (fm)
            sscanf(fm + 13, "%127[^&]", p->field_manager);
        p->force = strstr(q, "force=true") != NULL;
    }
    char *parts[12];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(path, "/", &save); t && n < 12;
         t = strtok_r(NULL, "/", &save))
        parts[n++] = t;
    int i = 0;
    if (n >= 2 && !strcmp(parts[0], "api")) {
        snprintf(p->version, sizeof p->version, "%s", parts[1]);
        i = 2;
    } else if (n >= 3 && !strcmp(parts[0], "apis")) {
        snprintf(p->group, sizeof p->group, "%s", parts[1]);
        snprintf(p->version, sizeof p->version, "%s", parts[2]);
        i = 3;
    } else {
        return false;
    }
    if (i + 1 < n && !strcmp(parts[i], "namespaces")) {
        snprintf(p->ns, sizeof p->ns, "%s", parts[i + 1]);
        i += 2;
    }
    if (i >= n)
        return false;
    snprintf(p->plural, sizeof p->plural, "%s", parts[i++]);
    if (i < n)
        snprintf(p->name, sizeof p->name, "%s", parts[i++]);
    p->status = i < n && !strcmp(parts[i], "status");
    return true;
}

/* ---- the other controllers ---- */

static json_t *ready_cond(json_int_t gen)
{
    return json_pack("[{s:s, s:s, s:s, s:I}]", "type", "Ready", "status", "True", "reason",
                     "Ready", "observedGeneration", gen);
}

static void fa_store_locked(struct fakeapi *f, const char *g, const char *plural, json_t *obj);

/* Strimzi's Secret for a KafkaUser (not labelled as ours). */
static void strimzi_secret(struct fakeapi *f, const json_t *user)
{
    char key[700];
    fa_key(key, sizeof key, "", "secrets", meta_str(user, "namespace"), meta_str(user, "name"));
    if (json_object_get(f->store, key))
        return;
    json_t *s = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}}", "apiVersion", "v1", "kind",
                          "Secret", "metadata", "name", meta_str(user, "name"), "namespace",
                          meta_str(user, "namespace"), "data", "password", "c2VjcmV0",
                          "sasl.jaas.config", "amFhcw==");
    fa_store_locked(f, "", "secrets", s);
}

static void play_controllers(struct fakeapi *f, json_t *obj)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    json_int_t gen = json_integer_value(json_object_get(json_object_get(obj, "metadata"),
                                                        "generation"));
    if (!kind || !strcmp(kind, f->held))
        return;
    if (!strcmp(kind, "Deployment")) {
        json_int_t rep = 1;
        json_t *r = json_object_get(json_object_get(obj, "spec"), "replicas");
        if (json_is_integer(r))
            rep = json_integer_value(r);
        json_object_set_new(obj, "status",
                            json_pack("{s:I, s:I, s:I, s:[{s:s, s:s}]}", "observedGeneration", gen,
                                      "updatedReplicas", rep, "availableReplicas", rep,
                                      "conditions", "type", "Available", "status", "True"));
    } else if (!strcmp(kind, "Certificate") || !strcmp(kind, "KafkaTopic") ||
               !strcmp(kind, "KafkaUser")) {
        json_object_set_new(obj, "status", json_pack("{s:o}", "conditions", ready_cond(gen)));
        if (!strcmp(kind, "KafkaUser"))
            strimzi_secret(f, obj);
    } else if (!strcmp(kind, "Schedule")) {
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Enabled"));
    }
}

/* ---- the store ---- */

/* Stamp and store `obj` (stolen) as the new version of its key. */
static void fa_store_locked(struct fakeapi *f, const char *g, const char *plural, json_t *obj)
{
    char key[700];
    fa_key(key, sizeof key, g, plural, meta_str(obj, "namespace"), meta_str(obj, "name"));
    json_t *old = json_object_get(f->store, key);
    json_t *md = json_object_get(obj, "metadata");
    json_t *omd = json_object_get(old, "metadata");
    char buf[32];
    if (old) {
        json_object_set(md, "uid", json_object_get(omd, "uid"));
        json_int_t gen = json_integer_value(json_object_get(omd, "generation"));
        if (!json_equal(json_object_get(old, "spec"), json_object_get(obj, "spec")))
            gen++;
        json_object_set_new(md, "generation", json_integer(gen));
    } else {
        snprintf(buf, sizeof buf, "uid-%lld", (long long)++f->uid);
        json_object_set_new(md, "uid", json_string(buf));
        json_object_set_new(md, "generation", json_integer(1));
    }
    snprintf(buf, sizeof buf, "%lld", (long long)++f->rv);
    json_object_set_new(md, "resourceVersion", json_string(buf));
    play_controllers(f, obj);
    json_object_set_new(f->store, key, obj);
}

/* The object goes, or (with finalizers) is marked for deletion. */
static void fa_delete_locked(struct fakeapi *f, const char *key)
{
    json_t *o = json_object_get(f->store, key);
    json_t *fin = json_object_get(json_object_get(o, "metadata"), "finalizers");
    if (json_array_size(fin) == 0) {
        json_object_del(f->store, key);
        return;
    }
    if (*meta_str(o, "deletionTimestamp"))
        return;
    json_t *n = json_deep_copy(o);
    json_object_set_new(json_object_get(n, "metadata"), "deletionTimestamp",
                        json_string("2026-01-01T00:00:00Z"));
    char g[128];
    group_of(n, g, sizeof g);
    const char *bar = strchr(strchr(key, '|') + 1, '|');
    char plural[64];
    snprintf(plural, sizeof plural, "%.*s", (int)(bar - strchr(key, '|') - 1),
             strchr(key, '|') + 1);
    fa_store_locked(f, g, plural, n);
}

/* RFC 7386 merge patch of `patch` into `target` (in place). */
static void merge_patch(json_t *target, const json_t *patch)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v) {
        if (json_is_null(v)) {
            json_object_del(target, k);
        } else if (json_is_object(v)) {
            json_t *t = json_object_get(target, k);
            if (!json_is_object(t)) {
                t = json_object();
                json_object_set_new(target, k, t);
            }
            merge_patch(t, v);
        } else {
            json_object_set(target, k, v);
        }
    }
}

/* ---- answers ---- */

static void answer(struct fakeapi *f, struct testsrv_resp *out, int status, json_t *body)
{
    out->status = status;
    out->body = fa_keep(f, json_dumps(body, JSON_COMPACT));
    json_decref(body);
}

static void answer_status(struct fakeapi *f, struct testsrv_resp *out, int code,
                          const char *reason, const char *msg)
{
    answer(f, out, code,
           json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
                     "status", code < 300 ? "Success" : "Failure", "reason", reason, "message",
                     msg, "code", code));
}

static void do_apply(struct fakeapi *f, const struct fa_path *p, const char *key, json_t *body,
                     struct testsrv_resp *out)
{
    json_t *old = json_object_get(f->store, key);
    const char *owner = json_string_value(json_object_get(old, "x-manager"));
    if (old && owner && strcmp(owner, p->field_manager) != 0 && !p->force) {
        answer_status(f, out, 409, "Conflict", "Apply failed with 1 conflict");
        return;
    }
    json_t *obj = json_deep_copy(body);
    json_t *md = json_object_get(obj, "metadata");
    json_t *omd = json_object_get(old, "metadata");
    static const char *const keep[] = {"finalizers", "deletionTimestamp"};
    for (size_t i = 0; i < 2; i++)
        if (json_object_get(omd, keep[i]) && !json_object_get(md, keep[i]))
            json_object_set(md, keep[i], json_object_get(omd, keep[i]));
    json_object_set_new(obj, "x-manager", json_string(p->field_manager));
    fa_store_locked(f, p->group, p->plural, obj);
    answer(f, out, old ? 200 : 201, json_deep_copy(obj));
}

static void do_merge(struct fakeapi *f, const struct fa_path *p, const char *key, json_t *patch,
                     struct testsrv_resp *out)
{
    json_t *old = json_object_get(f->store, key);
    if (!old) {
        answer_status(f, out, 404, "NotFound", "not found");
        return;
    }
    const char *want = meta_str(patch, "resourceVersion");
    if (*want && strcmp(want, meta_str(old, "resourceVersion")) != 0) {
        answer_status(f, out, 409, "Conflict", "the object has been modified");
        return;
    }
    json_t *obj = json_deep_copy(old);
    if (p->status) {
        json_t *st = json_pack("{s:O?}", "status", json_object_get(patch, "status"));
        merge_patch(obj, st);
        json_decref(st);
    } else {
        merge_patch(obj, patch);
    }
    bool gone = *meta_str(obj, "deletionTimestamp") &&
                json_array_size(json_object_get(json_object_get(obj, "metadata"),
                                                "finalizers")) == 0;
    fa_store_locked(f, p->group, p->plural, obj);
    json_t *stored = json_deep_copy(json_object_get(f->store, key));
    if (gone)
        json_object_del(f->store, key);
    answer(f, out, 200, stored);
}

static bool is_write(const char *method)
{
    return !strcmp(method, "PATCH") || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
           !strcmp(method, "DELETE");
}

/* A fault, when this is the request to fail. */
static bool fault(struct fakeapi *f, struct testsrv_resp *out)
{
    if (f->fail_at < 0 || f->nreq - 1 - f->fail_base != (size_t)f->fail_at)
        return false;
    if (f->fail_status == 409)
        answer_status(f, out, 409, "Conflict", "injected conflict");
    else
        answer_status(f, out, f->fail_status, "InternalError", "injected failure");
    return true;
}

static void serve_locked(struct fakeapi *f, const struct testsrv_req *req,
                         struct testsrv_resp *out)
{
    struct fa_path p;
    f->nreq++;
    if (is_write(req->method))
        f->nwrites++;
    if (fault(f, out))
        return;
    if (!fa_parse(req->path, &p) || !p.name[0]) {
        answer_status(f, out, 404, "NotFound", "no such path");
        return;
    }
    char key[700];
    fa_key(key, sizeof key, p.group, p.plural, p.ns, p.name);
    json_t *obj = json_object_get(f->store, key);
    if (!strcmp(req->method, "GET")) {
        if (obj)
            answer(f, out, 200, json_deep_copy(obj));
        else
            answer_status(f, out, 404, "NotFound", "not found");
        return;
    }
    if (!strcmp(req->method, "DELETE")) {
        if (!obj) {
            answer_status(f, out, 404, "NotFound", "not found");
            return;
        }
        fa_delete_locked(f, key);
        answer_status(f, out, 200, "", "deleted");
        return;
    }
    json_t *body = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);
    const char *ct = testsrv_header(req, "Content-Type");
    if (!strcmp(req->method, "PATCH") && body && ct && strstr(ct, "apply-patch"))
        do_apply(f, &p, key, body, out);
    else if (!strcmp(req->method, "PATCH") && body && ct && strstr(ct, "merge-patch"))
        do_merge(f, &p, key, body, out);
    else
        answer_status(f, out, 405, "MethodNotAllowed", "not supported by fakeapi");
    json_decref(body);
}

static void fa_handler(void *ctx, const struct testsrv_req *req, struct testsrv_resp *out)
{
    struct fakeapi *f = ctx;
    pthread_mutex_lock(&f->mu);
    serve_locked(f, req, out);
    pthread_mutex_unlock(&f->mu);
}

/* ---- the test's side ---- */

struct fakeapi *fakeapi_start(void)
{
    struct fakeapi *f = calloc(1, sizeof *f);
    if (!f)
        abort();
    pthread_mutex_init(&f->mu, NULL);
    f->store = json_object();
    f->fail_at = -1;
    f->srv = testsrv_start();
    testsrv_set_handler(f->srv, fa_handler, f);
    return f;
}

static void free_bodies(struct fakeapi *f)
{
    for (size_t i = 0; i < f->nbodies; i++)
        free(f->bodies[i]);
    free(f->bodies);
    f->bodies = NULL;
    f->nbodies = 0;
}

void fakeapi_stop(struct fakeapi *f)
{
    if (!f)
        return;
    testsrv_stop(f->srv);
    json_decref(f->store);
    free_bodies(f);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const char *fakeapi_url(const struct fakeapi *f)
{
    return testsrv_url(f->srv);
}

json_t *fakeapi_put(struct fakeapi *f, const char *plural, const json_t *obj, const char *manager)
{
    char g[128], key[700];
    group_of(obj, g, sizeof g);
    json_t *o = json_deep_copy(obj);
    if (manager)
        json_object_set_new(o, "x-manager", json_string(manager));
    pthread_mutex_lock(&f->mu);
    fa_key(key, sizeof key, g, plural, meta_str(o, "namespace"), meta_str(o, "name"));
    fa_store_locked(f, g, plural, o);
    json_t *out = json_deep_copy(json_object_get(f->store, key));
    pthread_mutex_unlock(&f->mu);
    return out;
}

json_t *fakeapi_get(struct fakeapi *f, const char *group, const char *plural, const char *ns,
                    const char *name)
{
    char key[700];
    fa_key(key, sizeof key, group, plural, ns, name);
    pthread_mutex_lock(&f->mu);
    json_t *o = json_deep_copy(json_object_get(f->store, key));
    pthread_mutex_unlock(&f->mu);
    return o;
}

bool fakeapi_delete(struct fakeapi *f, const char *group, const char *plural, const char *ns,
                    const char *name)
{
    char key[700];
    fa_key(key, sizeof key, group, plural, ns, name);
    pthread_mutex_lock(&f->mu);
    bool had = json_object_get(f->store, key) != NULL;
    if (had)
        fa_delete_locked(f, key);
    pthread_mutex_unlock(&f->mu);
    return had;
}

static bool uid_stored(const json_t *store, const char *uid)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)store, k, v) {
        if (!strcmp(meta_str(v, "uid"), uid))
            return true;
    }
    return false;
}

void fakeapi_gc(struct fakeapi *f)
{
    pthread_mutex_lock(&f->mu);
    const char *k;
    json_t *v;
    void *it;
    json_object_foreach_safe(f->store, it, k, v) {
        json_t *refs = json_object_get(json_object_get(v, "metadata"), "ownerReferences");
        const char *uid = json_string_value(json_object_get(json_array_get(refs, 0), "uid"));
        if (uid && !uid_stored(f->store, uid))
            json_object_del(f->store, k);
    }
    pthread_mutex_unlock(&f->mu);
}

json_t *fakeapi_list(struct fakeapi *f, const char *group, const char *plural)
{
    char prefix[200];
    snprintf(prefix, sizeof prefix, "%s|%s|", group ? group : "", plural);
    json_t *out = json_array();
    pthread_mutex_lock(&f->mu);
    const char *k;
    json_t *v;
    json_object_foreach(f->store, k, v) {
        if (!strncmp(k, prefix, strlen(prefix)))
            json_array_append_new(out, json_deep_copy(v));
    }
    pthread_mutex_unlock(&f->mu);
    return out;
}

size_t fakeapi_requests(struct fakeapi *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->nreq;
    pthread_mutex_unlock(&f->mu);
    return n;
}

size_t fakeapi_writes(struct fakeapi *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->nwrites;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void fakeapi_fail_at(struct fakeapi *f, long i, int status)
{
    pthread_mutex_lock(&f->mu);
    f->fail_at = i;
    f->fail_base = f->nreq;
    f->fail_status = status;
    pthread_mutex_unlock(&f->mu);
}

void fakeapi_hold(struct fakeapi *f, const char *kind)
{
    pthread_mutex_lock(&f->mu);
    char was[sizeof f->held];
    snprintf(was, sizeof was, "%s", f->held);
    snprintf(f->held, sizeof f->held, "%s", kind ? kind : "");
    if (was[0] && strcmp(was, f->held) != 0) {
        /* released: the controller catches up with what it held back */
        const char *key;
        json_t *o, *now = json_array();
        json_object_foreach(f->store, key, o) {
            const char *k = json_string_value(json_object_get(o, "kind"));
            if (k && !strcmp(k, was))
                json_array_append_new(now, json_pack("[s, O]", key, o));
        }
        size_t i;
        json_t *e;
        json_array_foreach(now, i, e) {
            char g[128], plural[64]; /* the key is "group|plural|ns|name" */
            if (sscanf(json_string_value(json_array_get(e, 0)), "%127[^|]|%63[^|]|", g, plural) !=
                2) {
                g[0] = '\0';
                sscanf(json_string_value(json_array_get(e, 0)), "|%63[^|]|", plural);
            }
            fa_store_locked(f, g, plural, json_deep_copy(json_array_get(e, 1)));
        }
        json_decref(now);
    }
    pthread_mutex_unlock(&f->mu);
}

void fakeapi_reset(struct fakeapi *f)
{
    pthread_mutex_lock(&f->mu);
    json_object_clear(f->store);
    f->nreq = f->nwrites = 0;
    f->fail_at = -1;
    free_bodies(f);
    pthread_mutex_unlock(&f->mu);
}
