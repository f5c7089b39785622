/*
 * directory: see directory.h. Each GraceService becomes a record (its
 * entry as text, its topic names); records sorted by key are written out
 * as the document, and the Kafka map is folded from their topic names.
 * dir_build makes the records of a list; the cache keeps them between
 * builds.
 */
#include "directory.h"

#include <stdatomic.h>
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

/* ---- records: one service as a build needs it ---- */

/* A growing byte buffer, always NUL-terminated past len. */
struct dir_buf {
    char *p;
    size_t len, cap;
};

static void buf_reserve(struct dir_buf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    b->p = kerr_xrealloc(b->p, cap);
    b->cap = cap;
}

static void buf_add(struct dir_buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* s with its NUL (a string of a packed record). */
static void buf_cstr(struct dir_buf *b, const char *s)
{
    buf_add(b, s, strlen(s) + 1);
}

/* j as compact JSON: the bytes json_dumpb writes for it inside any
 * document dumped with the same flags. */
static void buf_dump(struct dir_buf *b, const json_t *j)
{
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    buf_reserve(b, n);
    if (json_dumpb(j, b->p + b->len, n, JSON_COMPACT) != n)
        kerr_oom(); /* the same value: only memory can make it differ */
    b->len += n;
    b->p[b->len] = '\0';
}

/*
 * One GraceService as the document needs it: its entry as published text,
 * and what the Kafka map and the sort read. One allocation (the strings
 * live in data[]), immutable once made. A name list is each non-empty
 * name with its NUL, ended by an empty string (walk it with next_name).
 */
struct dir_rec {
    const char *key;                        /* namespace/name */
    size_t ns_len;                          /* key[0, ns_len) is the namespace */
    const char *uid, *rv;                   /* "" when absent */
    const char *created;                    /* creationTimestamp, "" when absent */
    const char *owns, *produces, *consumes; /* spec.kafka.topics[].name, .produces, .consumes */
    const char *text;                       /* the entry (dir_entry_new), compact JSON */
    size_t text_len;
    bool deleting, ready;
    char data[];
};

static void pack_names(struct dir_buf *b, const json_t *a, const char *field)
{
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) {
        const char *s = json_string_value(field ? json_object_get(x, field) : x);
        if (s && *s)
            buf_cstr(b, s);
    }
    buf_cstr(b, "");
}

static const char *next_name(const char *s)
{
    return s + strlen(s) + 1;
}

/* The record of GraceService `gs` (borrowed). */
static struct dir_rec *rec_new(const json_t *gs, const struct dir_config *cfg)
{
    const json_t *md = json_object_get(gs, "metadata");
    const json_t *kafka = json_object_get(json_object_get(gs, "spec"), "kafka");
    const char *ns = nonnull(str_at(md, "namespace", NULL));
    json_t *e = dir_entry_new(gs, cfg);
    struct dir_buf b = {0};
    buf_reserve(&b, 1024);
    buf_add(&b, ns, strlen(ns));
    buf_add(&b, "/", 1);
    buf_cstr(&b, nonnull(str_at(md, "name", NULL)));
    size_t o_uid = b.len;
    buf_cstr(&b, nonnull(str_at(md, "uid", NULL)));
    size_t o_rv = b.len;
    buf_cstr(&b, nonnull(str_at(md, "resourceVersion", NULL)));
    size_t o_created = b.len;
    buf_cstr(&b, nonnull(str_at(md, "creationTimestamp", NULL)));
    size_t o_owns = b.len;
    pack_names(&b, json_object_get(kafka, "topics"), "name");
    size_t o_prod = b.len;
    pack_names(&b, json_object_get(kafka, "produces"), NULL);
    size_t o_cons = b.len;
    pack_names(&b, json_object_get(kafka, "consumes"), NULL);
    size_t o_text = b.len;
    buf_dump(&b, e);
    struct dir_rec *r = kerr_xmalloc(sizeof *r + b.len + 1);
    memcpy(r->data, b.p, b.len + 1);
    r->key = r->data;
    r->ns_len = strlen(ns);
    r->uid = r->data + o_uid;
    r->rv = r->data + o_rv;
    r->created = r->data + o_created;
    r->owns = r->data + o_owns;
    r->produces = r->data + o_prod;
    r->consumes = r->data + o_cons;
    r->text = r->data + o_text;
    r->text_len = b.len - o_text;
    r->deleting = str_at(md, "deletionTimestamp", NULL) != NULL;
    r->ready = json_is_true(json_object_get(e, "ready"));
    free(b.p);
    json_decref(e);
    return r;
}

static int rec_cmp(const void *a, const void *b)
{
    return strcmp((*(struct dir_rec *const *)a)->key, (*(struct dir_rec *const *)b)->key);
}

/* True when claim a (creation time, key) is older than b: the same rule as
 * gsclaims (an empty timestamp is the newest). */
static bool older(const struct dir_rec *a, const struct dir_rec *b)
{
    bool ea = !*a->created, eb = !*b->created;
    if (ea != eb)
        return eb;
    int c = strcmp(a->created, b->created);
    return c ? c < 0 : strcmp(a->key, b->key) < 0;
}

static bool in_namespace(const char *key, const char *ns)
{
    size_t n = strlen(ns);
    return strncmp(key, ns, n) == 0 && key[n] == '/';
}

/* ---- the document's text from sorted records ---- */

static struct dir_tally *tally_new(void);
static void tally_service(struct dir_tally *t, const struct dir_rec *r);
static void tally_topic(struct dir_tally *t, const char *name, bool producer, size_t consumers);

/* One topic name in one record's lists. Sorted by name, then record (key
 * order), so a topic's consumers come out in key order. */
enum dir_use_kind { USE_OWNS, USE_PRODUCES, USE_CONSUMES };
struct dir_use {
    const char *topic;
    size_t rec;
    enum dir_use_kind kind;
};

struct dir_uses {
    struct dir_use *v;
    size_t n, cap;
};

static void uses_add(struct dir_uses *u, const char *list, size_t rec, enum dir_use_kind kind)
{
    for (const char *s = list; *s; s = next_name(s)) {
        if (u->n == u->cap) {
            u->cap = u->cap ? 2 * u->cap : 64;
            u->v = kerr_xrealloc(u->v, u->cap * sizeof *u->v);
        }
        u->v[u->n++] = (struct dir_use){.topic = s, .rec = rec, .kind = kind};
    }
}

static int use_cmp(const void *a, const void *b)
{
    const struct dir_use *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    if (x->rec != y->rec)
        return x->rec < y->rec ? -1 : 1;
    return (int)x->kind - (int)y->kind;
}

/* The published entry of the topic named by u[0, n) (all the same name),
 * or NULL when the namespace filter leaves it out. A topic's producer is
 * its owner: the oldest claimant not being deleted; a service that lists
 * it in produces or twice in consumes counts once, as a consumer only for
 * consumes. */
static json_t *topic_entry(struct dir_rec *const *recs, const struct dir_use *u, size_t n,
                           const struct dir_config *cfg, const char *ns)
{
    const struct dir_rec *owner = NULL, *last = NULL;
    json_t *cons = json_array();
    bool touches = false;
    for (size_t i = 0; i < n; i++) {
        const struct dir_rec *r = recs[u[i].rec];
        if (u[i].kind == USE_OWNS && !r->deleting && (!owner || older(r, owner)))
            owner = r;
        if (u[i].kind != USE_CONSUMES || (last && strcmp(last->key, r->key) == 0))
            continue;
        json_array_append_new(cons, json_string(r->key));
        touches = touches || (ns && in_namespace(r->key, ns));
        last = r;
    }
    if (ns && !touches && !(owner && in_namespace(owner->key, ns))) {
        json_decref(cons);
        return NULL;
    }
    json_t *e = json_pack("{s:s}", "name", u[0].topic);
    set_str(e, "producer", owner ? owner->key : NULL);
    if (json_array_size(cons))
        json_object_set(e, "consumers", cons);
    json_decref(cons);
    if (dir_topic_external(cfg, u[0].topic))
        json_object_set_new(e, "external", json_true());
    return e;
}

/* The Kafka map: every topic any service owns, produces or consumes (the
 * filter applies to what is listed, not to the producer rule). */
static void add_topics(struct dir_buf *b, struct dir_rec *const *recs, size_t n,
                       const struct dir_config *cfg, const char *ns, struct dir_tally *t)
{
    struct dir_uses u = {0};
    for (size_t i = 0; i < n; i++) {
        uses_add(&u, recs[i]->owns, i, USE_OWNS);
        uses_add(&u, recs[i]->produces, i, USE_PRODUCES);
        uses_add(&u, recs[i]->consumes, i, USE_CONSUMES);
    }
    if (u.n)
        qsort(u.v, u.n, sizeof *u.v, use_cmp);
    bool first = true;
    for (size_t i = 0, j; i < u.n; i = j) {
        for (j = i + 1; j < u.n && strcmp(u.v[j].topic, u.v[i].topic) == 0; j++)
            ;
        json_t *e = topic_entry(recs, u.v + i, j - i, cfg, ns);
        if (!e)
            continue;
        if (!first)
            buf_add(b, ",", 1);
        first = false;
        buf_dump(b, e);
        if (t)
            tally_topic(t, u.v[i].topic, json_object_get(e, "producer") != NULL,
                        json_array_size(json_object_get(e, "consumers")));
        json_decref(e);
    }
    free(u.v);
}

/* What json_dumpb(JSON_COMPACT) writes before the services of the document
 * dir_build describes (jansson keeps keys in insertion order): the
 * services and topics are spliced in as their own compact dumps, so the
 * text is the dump of the whole tree, byte for byte. */
#define DIR_HEAD "{\"apiVersion\":\"" DIR_API_VERSION "\",\"kind\":\"" DIR_KIND "\",\"services\":["

/* The document's text (malloc'd, with the final newline; *len without the
 * NUL) from records sorted by key; ns "" or NULL: no filter. */
static char *assemble(struct dir_rec *const *recs, size_t n, const struct dir_config *cfg,
                      const char *ns, size_t *len, struct dir_tally **tally)
{
    if (ns && !*ns)
        ns = NULL;
    struct dir_tally *t = tally ? tally_new() : NULL;
    struct dir_buf b = {0};
    size_t want = sizeof DIR_HEAD + 32;
    for (size_t i = 0; i < n; i++)
        if (!ns || in_namespace(recs[i]->key, ns))
            want += recs[i]->text_len + 1;
    buf_reserve(&b, want + want / 4); /* the topics are a fraction of the services */
    buf_add(&b, DIR_HEAD, strlen(DIR_HEAD));
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (ns && !in_namespace(recs[i]->key, ns))
            continue;
        if (!first)
            buf_add(&b, ",", 1);
        first = false;
        buf_add(&b, recs[i]->text, recs[i]->text_len);
        if (t)
            tally_service(t, recs[i]);
    }
    buf_add(&b, "],\"topics\":[", strlen("],\"topics\":["));
    add_topics(&b, recs, n, cfg, ns, t);
    buf_add(&b, "]}\n", 3);
    if (tally)
        *tally = t;
    *len = b.len;
    return b.p;
}

static void recs_free(struct dir_rec **recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(recs[i]);
    free(recs);
}

json_t *dir_build(const json_t *items, const struct dir_config *cfg, const char *ns_filter)
{
    size_t n = json_array_size(items), len = 0;
    struct dir_rec **recs = kerr_xcalloc(n ? n : 1, sizeof(struct dir_rec *));
    for (size_t i = 0; i < n; i++)
        recs[i] = rec_new(json_array_get(items, i), cfg);
    if (n)
        qsort(recs, n, sizeof(struct dir_rec *), rec_cmp);
    char *text = assemble(recs, n, cfg, ns_filter, &len, NULL);
    recs_free(recs, n);
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, 0, &jerr);
    free(text);
    if (!doc)
        kerr_oom(); /* jansson's own compact output: only memory can fail */
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

/* ---- the tally: the counts without the document ---- */

struct dir_tally_ns {
    size_t name; /* offset in names */
    size_t ready, unready;
};

struct dir_tally_topic {
    size_t name; /* offset in names */
    size_t consumers;
    bool producer;
};

struct dir_tally {
    atomic_uint refs;
    struct dir_buf names; /* the namespace and topic names, each with its NUL */
    struct dir_tally_ns *ns;
    size_t nns, cap_ns;
    struct dir_tally_topic *topics;
    size_t ntopics, cap_topics;
};

static struct dir_tally *tally_new(void)
{
    struct dir_tally *t = kerr_xcalloc(1, sizeof *t);
    atomic_init(&t->refs, 1);
    return t;
}

/* Room for one more of n elements of `size` in *v (capacity *cap). */
static void *grow(void *v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return v;
    *cap = *cap ? 2 * *cap : 16;
    return kerr_xrealloc(v, *cap * size);
}

/* Services come sorted by key, so a namespace's services are contiguous
 * (every key with the prefix "ns/" sorts between two such keys). */
static void tally_service(struct dir_tally *t, const struct dir_rec *r)
{
    struct dir_tally_ns *last = t->nns ? &t->ns[t->nns - 1] : NULL;
    if (!last || strncmp(t->names.p + last->name, r->key, r->ns_len) != 0 ||
        t->names.p[last->name + r->ns_len] != '\0') {
        t->ns = grow(t->ns, t->nns, &t->cap_ns, sizeof *t->ns);
        last = &t->ns[t->nns++];
        *last = (struct dir_tally_ns){.name = t->names.len};
        buf_add(&t->names, r->key, r->ns_len);
        t->names.len++; /* keep the NUL buf_add wrote */
    }
    if (r->ready)
        last->ready++;
    else
        last->unready++;
}

static void tally_topic(struct dir_tally *t, const char *name, bool producer, size_t consumers)
{
    t->topics = grow(t->topics, t->ntopics, &t->cap_topics, sizeof *t->topics);
    t->topics[t->ntopics++] = (struct dir_tally_topic){
        .name = t->names.len, .consumers = consumers, .producer = producer};
    buf_cstr(&t->names, name);
}

struct dir_tally *dir_tally_ref(struct dir_tally *t)
{
    if (t)
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

void dir_tally_unref(struct dir_tally *t)
{
    if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(t->names.p);
    free(t->ns);
    free(t->topics);
    free(t);
}

void dir_tally_counts(const struct dir_tally *t, const struct dir_counts_fn *fn)
{
    for (size_t i = 0; t && fn->services && i < t->nns; i++) {
        const char *ns = t->names.p + t->ns[i].name;
        fn->services(fn->ctx, ns, true, t->ns[i].ready);
        fn->services(fn->ctx, ns, false, t->ns[i].unready);
    }
    for (size_t i = 0; t && fn->topic && i < t->ntopics; i++)
        fn->topic(fn->ctx, t->names.p + t->topics[i].name, t->topics[i].producer ? 1 : 0,
                  t->topics[i].consumers);
}

/* ---- the cache ---- */

struct dir_cache {
    const struct dir_config *cfg;
    struct dir_rec **recs; /* sorted by key */
    size_t n;
    unsigned long parsed;
};

struct dir_cache *dir_cache_new(const struct dir_config *cfg)
{
    struct dir_cache *c = kerr_xcalloc(1, sizeof *c);
    c->cfg = cfg;
    return c;
}

void dir_cache_free(struct dir_cache *c)
{
    if (!c)
        return;
    recs_free(c->recs, c->n);
    free(c);
}

unsigned long dir_cache_parsed(const struct dir_cache *c)
{
    return c->parsed;
}

/* key against "ns/name", as strcmp would compare them (without building it). */
static int key_cmp(const char *key, const char *ns, const char *name)
{
    const char *parts[3] = {ns, "/", name};
    for (size_t i = 0; i < 3; i++)
        for (const char *s = parts[i]; *s; s++, key++)
            if (*key != *s)
                return (unsigned char)*key < (unsigned char)*s ? -1 : 1;
    return *key ? 1 : 0;
}

/* Index of the record of ns/name, or c->n. */
static size_t rec_find(const struct dir_cache *c, const char *ns, const char *name)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = key_cmp(c->recs[mid]->key, ns, name);
        if (d == 0)
            return mid;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return c->n;
}

/* One build of the cache: the records kept or made so far. */
struct dir_pass {
    struct dir_cache *c;
    struct dir_rec **next;
    size_t n, cap;
    bool *kept; /* per record of c: moved into next */
};

static void pass_add(void *ctx, const struct kobj *o)
{
    struct dir_pass *ps = ctx;
    struct dir_cache *c = ps->c;
    size_t i = rec_find(c, kobj_namespace(o), kobj_name(o));
    const char *rv = kobj_resource_version(o);
    struct dir_rec *r;
    if (i < c->n && !ps->kept[i] && *rv && strcmp(c->recs[i]->rv, rv) == 0 &&
        strcmp(c->recs[i]->uid, kobj_uid(o)) == 0) {
        ps->kept[i] = true;
        r = c->recs[i];
    } else {
        json_t *gs = kobj_json(o);
        if (!gs)
            return;
        r = rec_new(gs, c->cfg);
        c->parsed++;
        json_decref(gs); /* one service's tree at a time */
    }
    ps->next = grow(ps->next, ps->n, &ps->cap, sizeof(struct dir_rec *));
    ps->next[ps->n++] = r;
}

static void pass_begin(struct dir_pass *ps, struct dir_cache *c, size_t hint)
{
    *ps = (struct dir_pass){.c = c, .cap = hint};
    ps->next = kerr_xcalloc(hint ? hint : 1, sizeof(struct dir_rec *));
    ps->kept = kerr_xcalloc(c->n ? c->n : 1, sizeof *ps->kept);
}

/* The records of this pass replace the cache's; those not kept go. */
static void pass_end(struct dir_pass *ps)
{
    struct dir_cache *c = ps->c;
    for (size_t i = 0; i < c->n; i++)
        if (!ps->kept[i])
            free(c->recs[i]);
    free(c->recs);
    free(ps->kept);
    if (ps->n)
        qsort(ps->next, ps->n, sizeof(struct dir_rec *), rec_cmp);
    c->recs = ps->next;
    c->n = ps->n;
}

char *dir_cache_build(struct dir_cache *c, const struct kobj *const *objs, size_t n,
                      const char *ns_filter, size_t *len, struct dir_tally **tally)
{
    struct dir_pass ps;
    pass_begin(&ps, c, n);
    for (size_t i = 0; i < n; i++)
        pass_add(&ps, objs[i]);
    pass_end(&ps);
    return assemble(c->recs, c->n, c->cfg, ns_filter, len, tally);
}

char *dir_cache_build_informer(struct dir_cache *c, struct kinformer *gs_inf, const char *ns_filter,
                               size_t *len, struct dir_tally **tally)
{
    struct dir_pass ps;
    pass_begin(&ps, c, kinformer_count(gs_inf));
    kinformer_foreach(gs_inf, pass_add, &ps);
    pass_end(&ps);
    return assemble(c->recs, c->n, c->cfg, ns_filter, len, tally);
}
