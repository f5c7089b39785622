/*
 * directory: see directory.h. Builds service entries one by one, sorts
 * them, then folds the Kafka map from the same GraceServices.
 */
#include "directory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kerr.h"
#include "kobj.h"

static const char *str_at(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_string_value(v);
}

static const char *nonnull(const char *s)
{
    return s ? s : "";
}

/* spec.<key>.enabled, default `dflt` when absent. */
static bool spec_enabled(const json_t *spec, const char *key, bool dflt)
{
    const json_t *v = json_object_get(json_object_get(spec, key), "enabled");
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

static void add_urls(json_t *e, const json_t *gs, const struct dir_config *cfg)
{
    const json_t *spec = json_object_get(gs, "spec");
    const char *host = str_at(spec, "hostname", NULL);
    if (!host || !*host)
        host = nonnull(str_at(gs, "metadata", "name"));
    const char *bd = nonnull(cfg->base_domain);
    char fqdn[512], url[600], api[1700];
    snprintf(fqdn, sizeof fqdn, "%s%s%s", host, *bd ? "." : "", bd);
    bool route = spec_enabled(spec, "ingress", true);
    bool tls = spec_enabled(spec, "tls", true);
    snprintf(url, sizeof url, "%s://%s", tls ? "https" : "http", fqdn);
    if (route) {
        set_str(e, "url", url);
        const char *p = str_at(spec, "openapiPath", NULL);
        snprintf(api, sizeof api, "%s%s", url, p && *p ? p : "/openapi.json");
        set_str(e, "openapiUrl", api);
    }
    if (cfg->tailscale && spec_enabled(spec, "tailscale", true)) {
        if (cfg->tailscale_per_service) {
            snprintf(url, sizeof url, "http://%s", host);
            set_str(e, "tailnetUrl", url);
        } else if (route) {
            set_str(e, "tailnetUrl", url); /* the shared ingress is on the tailnet */
        }
    }
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A sorted array of the distinct strings of `a` and `b` (each an array of
 * strings, or of {name} objects when `field` is set); NULL when empty. */
static json_t *names_union(const json_t *a, const char *field, const json_t *b)
{
    size_t n = json_array_size(a) + json_array_size(b), k = 0, i;
    if (!n)
        return NULL;
    const char **v = kerr_xcalloc(n, sizeof *v);
    json_t *x;
    json_array_foreach(a, i, x) {
        const char *s = json_string_value(field ? json_object_get(x, field) : x);
        if (s && *s)
            v[k++] = s;
    }
    json_array_foreach(b, i, x) {
        if (json_is_string(x) && *json_string_value(x))
            v[k++] = json_string_value(x);
    }
    qsort(v, k, sizeof *v, str_cmp);
    json_t *out = k ? json_array() : NULL;
    for (i = 0; i < k; i++)
        if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
            json_array_append_new(out, json_string(v[i]));
    free(v);
    return out;
}

static void add_ready(json_t *e, const json_t *gs)
{
    const json_t *conds = json_object_get(json_object_get(gs, "status"), "conditions");
    size_t i;
    json_t *c;
    bool ready = false;
    json_array_foreach(conds, i, c) {
        if (!json_is_string(json_object_get(c, "type")) ||
            strcmp(str_at(c, "type", NULL), "Ready") != 0)
            continue;
        ready = strcmp(nonnull(str_at(c, "status", NULL)), "True") == 0;
        set_str(e, "lastTransitionTime", str_at(c, "lastTransitionTime", NULL));
    }
    json_object_set_new(e, "ready", json_boolean(ready));
    if (!json_object_get(e, "lastTransitionTime"))
        set_str(e, "lastTransitionTime", str_at(gs, "metadata", "creationTimestamp"));
}

json_t *dir_entry_new(const json_t *gs, const struct dir_config *cfg)
{
    const json_t *spec = json_object_get(gs, "spec");
    const json_t *kafka = json_object_get(spec, "kafka");
    json_t *e = json_object();
    json_object_set_new(e, "namespace", json_string(nonnull(str_at(gs, "metadata", "namespace"))));
    json_object_set_new(e, "name", json_string(nonnull(str_at(gs, "metadata", "name"))));
    set_str(e, "description", str_at(spec, "description", NULL));
    add_urls(e, gs, cfg);
    json_t *prod = names_union(json_object_get(kafka, "topics"), "name",
                               json_object_get(kafka, "produces"));
    json_t *cons = names_union(json_object_get(kafka, "consumes"), NULL, NULL);
    if (prod)
        json_object_set_new(e, "produces", prod);
    if (cons)
        json_object_set_new(e, "consumes", cons);
    json_object_set_new(e, "hasDatabase", json_boolean(json_is_object(json_object_get(spec, "postgres"))));
    add_ready(e, gs);
    return e;
}

bool dir_topic_external(const struct dir_config *cfg, const char *topic)
{
    size_t i;
    json_t *t;
    json_array_foreach(cfg->external_topics, i, t) {
        if (json_is_string(t) && strcmp(json_string_value(t), topic) == 0)
            return true;
    }
    return false;
}

/* ---- building ---- */

/* One GraceService as the builder sees it (borrowed from the items). */
struct dir_item {
    const json_t *gs;
    char key[512]; /* namespace/name */
    const char *created;
    bool deleting;
};

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dir_item *)a)->key, ((const struct dir_item *)b)->key);
}

/* True when claim a (creation time, key) is older than b: the same rule as
 * gsclaims (an empty timestamp is the newest). */
static bool older(const struct dir_item *a, const struct dir_item *b)
{
    bool ea = !*a->created, eb = !*b->created;
    if (ea != eb)
        return eb;
    int c = strcmp(a->created, b->created);
    return c ? c < 0 : strcmp(a->key, b->key) < 0;
}

/* topics: name -> {"producer": index of the owner item (internal),
 * "consumers": [keys]} while folding; turned into the published form by
 * topics_finish. */
static json_t *topic_slot(json_t *topics, const char *name)
{
    json_t *t = json_object_get(topics, name);
    if (!t) {
        t = json_object();
        json_object_set_new(topics, name, t);
    }
    return t;
}

static void fold_owner(json_t *topics, const struct dir_item *items, size_t idx)
{
    const json_t *owned =
        json_object_get(json_object_get(json_object_get(items[idx].gs, "spec"), "kafka"), "topics");
    size_t i;
    json_t *o;
    json_array_foreach(owned, i, o) {
        const char *tn = str_at(o, "name", NULL);
        if (!tn || !*tn)
            continue;
        json_t *t = topic_slot(topics, tn);
        if (items[idx].deleting)
            continue;
        const json_t *cur = json_object_get(t, "owner");
        if (!cur || older(&items[idx], &items[json_integer_value(cur)]))
            json_object_set_new(t, "owner", json_integer((json_int_t)idx));
    }
}

/* A topic named in spec.kafka.<field>: known to the map; a consumer is
 * recorded (items come sorted, so a repeated name is the previous one). */
static void fold_uses(json_t *topics, const struct dir_item *it, const char *field,
                      bool consumer)
{
    const json_t *l = json_object_get(json_object_get(json_object_get(it->gs, "spec"), "kafka"),
                                      field);
    size_t i;
    json_t *v;
    json_array_foreach(l, i, v) {
        const char *tn = json_string_value(v);
        if (!tn || !*tn)
            continue;
        json_t *t = topic_slot(topics, tn);
        if (!consumer)
            continue; /* its producer is its owner, not who lists it */
        json_t *c = json_object_get(t, "consumers");
        if (!c) {
            c = json_array();
            json_object_set_new(t, "consumers", c);
        }
        json_t *last = json_array_get(c, json_array_size(c) - 1);
        if (!last || strcmp(json_string_value(last), it->key) != 0)
            json_array_append_new(c, json_string(it->key));
    }
}

static bool in_namespace(const char *key, const char *ns)
{
    size_t n = strlen(ns);
    return strncmp(key, ns, n) == 0 && key[n] == '/';
}

static bool topic_touches(const json_t *t, const char *producer, const char *ns)
{
    if (producer && in_namespace(producer, ns))
        return true;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(t, "consumers"), i, c) {
        if (in_namespace(json_string_value(c), ns))
            return true;
    }
    return false;
}

static json_t *topics_finish(json_t *topics, const struct dir_item *items,
                             const struct dir_config *cfg, const char *ns)
{
    size_t n = json_object_size(topics), k = 0;
    const char **names = kerr_xcalloc(n ? n : 1, sizeof *names);
    const char *name;
    json_t *t;
    json_object_foreach(topics, name, t)
        names[k++] = name;
    qsort(names, k, sizeof *names, str_cmp);
    json_t *out = json_array();
    for (size_t i = 0; i < k; i++) {
        t = json_object_get(topics, names[i]);
        const json_t *owner = json_object_get(t, "owner");
        const char *producer = owner ? items[json_integer_value(owner)].key : NULL;
        if (ns && *ns && !topic_touches(t, producer, ns))
            continue;
        json_t *e = json_pack("{s:s}", "name", names[i]);
        set_str(e, "producer", producer);
        if (json_object_get(t, "consumers"))
            json_object_set(e, "consumers", json_object_get(t, "consumers"));
        if (dir_topic_external(cfg, names[i]))
            json_object_set_new(e, "external", json_true());
        json_array_append_new(out, e);
    }
    free(names);
    return out;
}

static void item_init(struct dir_item *it, const json_t *gs)
{
    it->gs = gs;
    snprintf(it->key, sizeof it->key, "%s/%s", nonnull(str_at(gs, "metadata", "namespace")),
             nonnull(str_at(gs, "metadata", "name")));
    it->created = nonnull(str_at(gs, "metadata", "creationTimestamp"));
    it->deleting = str_at(gs, "metadata", "deletionTimestamp") != NULL;
}

json_t *dir_build(const json_t *items, const struct dir_config *cfg, const char *ns_filter)
{
    size_t n = json_array_size(items), i;
    struct dir_item *its = kerr_xcalloc(n ? n : 1, sizeof *its);
    for (i = 0; i < n; i++)
        item_init(&its[i], json_array_get(items, i));
    qsort(its, n, sizeof *its, item_cmp);
    json_t *services = json_array(), *topics = json_object();
    for (i = 0; i < n; i++) {
        fold_owner(topics, its, i);
        fold_uses(topics, &its[i], "produces", false);
        fold_uses(topics, &its[i], "consumes", true);
        if (ns_filter && *ns_filter && !in_namespace(its[i].key, ns_filter))
            continue;
        json_array_append_new(services, dir_entry_new(its[i].gs, cfg));
    }
    json_t *doc = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", DIR_API_VERSION, "kind",
                            DIR_KIND, "services", services, "topics",
                            topics_finish(topics, its, cfg, ns_filter));
    json_decref(topics);
    free(its);
    return doc;
}

static void collect(void *ctx, const struct kobj *o)
{
    json_t *gs = kobj_json(o);
    if (gs)
        json_array_append_new(ctx, gs);
}

json_t *dir_build_cache(struct kinformer *gs_inf, const struct dir_config *cfg,
                        const char *ns_filter)
{
    json_t *items = json_array();
    kinformer_foreach(gs_inf, collect, items);
    json_t *doc = dir_build(items, cfg, ns_filter);
    json_decref(items);
    return doc;
}

char *dir_dump(const json_t *doc, size_t *len)
{
    size_t n = json_dumpb(doc, NULL, 0, JSON_COMPACT);
    char *out = kerr_xmalloc(n + 2);
    if (json_dumpb(doc, out, n, JSON_COMPACT) != n)
        kerr_oom(); /* the same document: only memory can make it differ */
    out[n] = '\n';
    out[n + 1] = '\0';
    *len = n + 1;
    return out;
}

/* ---- counts for the metrics ---- */

static void count_services(const json_t *services, const struct dir_counts_fn *fn)
{
    /* services are sorted by namespace: count runs */
    size_t i, run[2] = {0, 0};
    const char *ns = NULL;
    json_t *s;
    json_array_foreach(services, i, s) {
        const char *sns = nonnull(str_at(s, "namespace", NULL));
        if (ns && strcmp(ns, sns) != 0) {
            fn->services(fn->ctx, ns, true, run[1]);
            fn->services(fn->ctx, ns, false, run[0]);
            run[0] = run[1] = 0;
        }
        ns = sns;
        run[json_is_true(json_object_get(s, "ready")) ? 1 : 0]++;
    }
    if (ns) {
        fn->services(fn->ctx, ns, true, run[1]);
        fn->services(fn->ctx, ns, false, run[0]);
    }
}

void dir_counts(const json_t *doc, const struct dir_counts_fn *fn)
{
    if (fn->services)
        count_services(json_object_get(doc, "services"), fn);
    size_t i;
    json_t *t;
    json_array_foreach(fn->topic ? json_object_get(doc, "topics") : NULL, i, t) {
        fn->topic(fn->ctx, str_at(t, "name", NULL), json_object_get(t, "producer") ? 1 : 0,
                  json_array_size(json_object_get(t, "consumers")));
    }
}
