/*
 * kinformer: the informer store, its indexes and event dispatch (see
 * kinformer.h). The list/watch transport is kwatch's; this file receives
 * list items and watch events through the kwatch_sink callbacks and turns
 * them into store changes and handler calls. Both arrive as text with
 * managedFields already cut and are stored as they are: list items are
 * parsed once (or only their metadata when every index reads metadata
 * only), watch events only for their metadata (an index that needs more
 * parses the stored text when the entry is indexed again).
 *
 * Store: the runtime's hash map (kmap) of entries keyed by namespace/name
 * (the key is not stored: the entry's kobj has both parts). Each entry
 * remembers the index buckets it sits in, so a replace or delete removes it
 * from exactly those. An index is a kmap from index key to a bucket (an
 * array of entries); empty buckets are freed. Most entries sit in one
 * bucket and most buckets hold one entry (a GraceService's child of one
 * kind), so both keep their first element inline: no array is allocated
 * for them (~110 bytes less per cached child).
 *
 * Relist: every list bumps `epoch`; entries seen in the list (or written
 * through apply_write during it) carry the new epoch; after a complete list
 * the entries with an older epoch are gone from the server and are removed
 * with on_delete.
 */
#include "kinformer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kerr.h"
#include "khash.h"
#include "kmap.h"
#include "kpack.h"

struct kinf_bucket {
    struct kmap_node node; /* in the index's table */
    uint32_t n;            /* entries */
    uint8_t cap_log2;      /* room for 1 << cap_log2; 0: the entry is `one` */
    uint8_t index_id;      /* below KINFORMER_MAX_INDEXES */
    union {
        struct kinf_entry *one;
        struct kinf_entry **many;
    } items;
    char value[]; /* the index key */
};

struct kinf_entry {
    struct kmap_node node; /* in the informer's map */
    struct kobj *obj;
    uint32_t epoch;    /* last list (or write during a list) that had it */
    bool announced;    /* handlers were told about this key */
    uint16_t nbuckets; /* 1: the bucket is `one`, else `many` holds them */
    union {
        struct kinf_bucket *one;
        struct kinf_bucket **many;
    } buckets;
};

static struct kinf_entry **kinf_bucket_items(struct kinf_bucket *b)
{
    return b->cap_log2 == 0 ? &b->items.one : b->items.many;
}

static struct kinf_bucket **kinf_entry_buckets(struct kinf_entry *e)
{
    return e->nbuckets == 1 ? &e->buckets.one : e->buckets.many;
}

/* Room for one more entry in `b`. */
static void kinf_bucket_grow(struct kinf_bucket *b)
{
    if (b->n < (1u << b->cap_log2))
        return;
    if (b->cap_log2 == 0) {
        struct kinf_entry **many = kerr_xmalloc(4 * sizeof(struct kinf_entry *));
        many[0] = b->items.one;
        b->items.many = many;
        b->cap_log2 = 2;
        return;
    }
    if (b->cap_log2 == 31)
        kerr_oom(); /* 2^31 objects under one key: beyond any cache */
    b->cap_log2++;
    b->items.many =
        kerr_xrealloc(b->items.many, ((size_t)1 << b->cap_log2) * sizeof(struct kinf_entry *));
}

/* `b` added to the buckets `e` sits in. */
static void kinf_entry_add_bucket(struct kinf_entry *e, struct kinf_bucket *b)
{
    if (e->nbuckets == 0) {
        e->buckets.one = b;
    } else if (e->nbuckets == 1) {
        struct kinf_bucket **many = kerr_xmalloc(2 * sizeof(struct kinf_bucket *));
        many[0] = e->buckets.one;
        many[1] = b;
        e->buckets.many = many;
    } else {
        e->buckets.many =
            kerr_xrealloc(e->buckets.many, (e->nbuckets + 1u) * sizeof(struct kinf_bucket *));
        e->buckets.many[e->nbuckets] = b;
    }
    e->nbuckets++;
}

static void kinf_entry_free_buckets(struct kinf_entry *e)
{
    if (e->nbuckets > 1)
        free(e->buckets.many);
    e->nbuckets = 0;
}

static void kinf_bucket_free(struct kinf_bucket *b)
{
    if (b->cap_log2 > 0)
        free(b->items.many);
    free(b);
}

struct kinf_index {
    char *name;
    kinformer_index_fn fn;           /* reads the parsed object, or: */
    kinformer_meta_index_fn meta_fn; /* reads the kobj's metadata only */
    bool spec_only;                  /* fn's keys follow the generation */
    struct kmap table;               /* kinf_bucket by value */
};

struct kinformer {
    struct kclient *client;
    struct kwatcher *watcher;
    char *group, *version, *plural, *ns, *selector, *api_version, *kind;
    struct kres res;
    pthread_rwlock_t lock; /* guards map, entries, indexes, epoch */
    struct kmap map;       /* kinf_entry by namespace/name */
    uint32_t epoch;
    struct kinf_index *idx; /* set before start, then read-only */
    size_t nidx;
    atomic_bool need_full; /* an index reads more than metadata */
    /* Handler sets are published once and never change: an entry is
     * written, then nh is raised (release), so dispatch needs no lock. */
    struct kinformer_handlers h[KINFORMER_MAX_HANDLERS];
    atomic_size_t nh;
    atomic_bool synced;
    /* This kind's codec, under lock: what new objects are packed with.
     * kinformer_repack may replace it; readers take a reference. */
    struct kpack *pack;
    unsigned long repack_checked; /* kpack_count(pack) at kinformer_repack's last look */
};

/* What a store change asks the handlers to hear (references held). */
enum kinf_kind { KINF_NONE, KINF_ADD, KINF_UPDATE, KINF_DELETE };
struct kinf_action {
    enum kinf_kind kind;
    struct kobj *old_obj, *new_obj;
};

static uint64_t kinf_hash2(const char *a, const char *b)
{
    return khash_str(khash_step(khash_str(KHASH_INIT, a), '/'), b);
}

/* ---- indexes (write lock held) ---- */

static bool kinf_bucket_is(const struct kmap_node *n, const void *value)
{
    const struct kinf_bucket *b = KMAP_ENTRY(n, const struct kinf_bucket, node);
    return b && strcmp(b->value, value) == 0;
}

static struct kinf_bucket *kinf_bucket_find(struct kinf_index *ix, const char *value, uint64_t h)
{
    return KMAP_ENTRY(kmap_find(&ix->table, h, kinf_bucket_is, value), struct kinf_bucket, node);
}

static void kinf_index_put(struct kinformer *inf, size_t id, struct kinf_entry *e,
                           const char *value)
{
    struct kinf_index *ix = &inf->idx[id];
    if (e->nbuckets == UINT16_MAX)
        abort(); /* unreachable: at most KINFORMER_MAX_INDEX_KEYS keys per index */
    uint64_t h = kinf_hash2(value, NULL);
    struct kinf_bucket *b = kinf_bucket_find(ix, value, h);
    if (!b) {
        size_t len = strlen(value);
        b = kerr_xcalloc(1, sizeof *b + len + 1);
        memcpy(b->value, value, len);
        b->index_id = (uint8_t)id;
        kmap_insert(&ix->table, &b->node, h);
    }
    struct kinf_entry **items = kinf_bucket_items(b);
    for (size_t i = 0; i < b->n; i++)
        if (items[i] == e)
            return; /* the index function gave the same key twice */
    kinf_bucket_grow(b);
    kinf_bucket_items(b)[b->n++] = e;
    kinf_entry_add_bucket(e, b);
}

static void kinf_bucket_remove(struct kinformer *inf, struct kinf_bucket *b, struct kinf_entry *e)
{
    struct kinf_entry **items = kinf_bucket_items(b);
    for (size_t i = 0; i < b->n; i++) {
        if (items[i] == e) {
            items[i] = items[--b->n];
            break;
        }
    }
    if (b->n > 0)
        return;
    kmap_remove(&inf->idx[b->index_id].table, &b->node);
    kinf_bucket_free(b);
}

/* Take `e` out of its buckets; with keep_spec, not out of those of spec
 * indexes (their keys still hold: kinf_same_spec). */
static void kinf_unindex_keep(struct kinformer *inf, struct kinf_entry *e, bool keep_spec)
{
    struct kinf_bucket **buckets = kinf_entry_buckets(e);
    size_t n = e->nbuckets, kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep_spec && inf->idx[buckets[i]->index_id].spec_only)
            buckets[kept++] = buckets[i];
        else
            kinf_bucket_remove(inf, buckets[i], e);
    }
    if (kept == n)
        return;
    if (kept == 0) {
        kinf_entry_free_buckets(e);
        return;
    }
    if (kept == 1) { /* n > 1: from `many` to `one` */
        struct kinf_bucket *b = buckets[0];
        free(e->buckets.many);
        e->buckets.one = b;
    }
    e->nbuckets = (uint16_t)kept;
}

static void kinf_unindex(struct kinformer *inf, struct kinf_entry *e)
{
    kinf_unindex_keep(inf, e, false);
}

/* `a` and `b` are the same object with the same spec, as far as its
 * generation tells (a resource with a status subresource). */
static bool kinf_same_spec(const struct kobj *a, const struct kobj *b)
{
    long long g = kobj_generation(a);
    return g > 0 && g == kobj_generation(b) && kobj_uid(a)[0] &&
           strcmp(kobj_uid(a), kobj_uid(b)) == 0;
}

/* The object a full index function is given: the parsed tree, or NULL
 * (`full` false) when the informer read only the metadata; a full index
 * then gets the stored text parsed (once per entry). Metadata indexes read
 * the kobj. */
struct kinf_tree {
    const json_t *obj;
    bool full;
};

/* Index `e` under indexes [from, nidx), but for the spec indexes when
 * skip_spec (it is still under their keys). Index functions run under the
 * write lock: they must be pure and must not call back into the informer. */
static void kinf_index_entry(struct kinformer *inf, struct kinf_entry *e, const struct kinf_tree *t,
                             size_t from, bool skip_spec)
{
    char keys[KINFORMER_MAX_INDEX_KEYS][256];
    json_t *parsed = NULL;
    for (size_t id = from; id < inf->nidx; id++) {
        const json_t *obj = t->obj;
        size_t n;
        if (skip_spec && inf->idx[id].spec_only)
            continue;
        if (inf->idx[id].meta_fn) {
            n = inf->idx[id].meta_fn(e->obj, keys, KINFORMER_MAX_INDEX_KEYS);
        } else {
            if (!t->full && !parsed)
                parsed = kobj_json(e->obj);
            if (!t->full)
                obj = parsed;
            n = obj ? inf->idx[id].fn(obj, keys, KINFORMER_MAX_INDEX_KEYS) : 0;
        }
        for (size_t k = 0; k < n && k < KINFORMER_MAX_INDEX_KEYS; k++) {
            keys[k][255] = '\0';
            kinf_index_put(inf, id, e, keys[k]);
        }
    }
    json_decref(parsed);
}

/* ---- map (write lock held for changes) ---- */

struct kinf_key {
    const char *ns, *name;
};

static inline bool kinf_entry_is(const struct kmap_node *n, const void *key)
{
    const struct kinf_entry *e = KMAP_ENTRY(n, const struct kinf_entry, node);
    const struct kinf_key *k = key;
    return strcmp(kobj_name(e->obj), k->name) == 0 && strcmp(kobj_namespace(e->obj), k->ns) == 0;
}

static struct kinf_entry *kinf_find(struct kinformer *inf, const char *ns, const char *name)
{
    struct kinf_key k = {ns, name};
    return KMAP_ENTRY(kmap_find(&inf->map, kinf_hash2(ns, name), kinf_entry_is, &k),
                      struct kinf_entry, node);
}

static struct kinf_entry *kinf_insert(struct kinformer *inf, struct kobj *o,
                                      const struct kinf_tree *obj)
{
    struct kinf_entry *e = kerr_xcalloc(1, sizeof *e);
    e->obj = o;
    kmap_insert(&inf->map, &e->node, kinf_hash2(kobj_namespace(o), kobj_name(o)));
    kinf_index_entry(inf, e, obj, 0, false);
    return e;
}

static void kinf_replace(struct kinformer *inf, struct kinf_entry *e, struct kobj *o,
                         const struct kinf_tree *obj)
{
    bool keep_spec = kinf_same_spec(e->obj, o);
    kinf_unindex_keep(inf, e, keep_spec);
    e->obj = o;
    kinf_index_entry(inf, e, obj, 0, keep_spec);
}

/* Unlink and free `e`; return its object (the entry's reference). */
static struct kobj *kinf_unlink(struct kinformer *inf, struct kinf_entry *e)
{
    struct kobj *o = e->obj;
    kmap_remove(&inf->map, &e->node);
    kinf_unindex(inf, e);
    free(e);
    return o;
}

/* ---- handlers ---- */

static void kinf_dispatch(struct kinformer *inf, struct kinf_action *a)
{
    size_t nh = atomic_load_explicit(&inf->nh, memory_order_acquire);
    for (size_t i = 0; i < nh; i++) {
        const struct kinformer_handlers *h = &inf->h[i];
        if (a->kind == KINF_ADD && h->on_add)
            h->on_add(h->ctx, a->new_obj);
        else if (a->kind == KINF_UPDATE && h->on_update)
            h->on_update(h->ctx, a->old_obj, a->new_obj);
        else if (a->kind == KINF_DELETE && h->on_delete)
            h->on_delete(h->ctx, a->old_obj);
    }
    kobj_unref(a->old_obj);
    kobj_unref(a->new_obj);
    a->old_obj = a->new_obj = NULL;
    a->kind = KINF_NONE;
}

/* ---- ingest ---- */

enum kinf_mode { KINF_EVENT, KINF_LIST, KINF_APPLY };

/* Tell handlers about entry `e`, whose previous object was `old` (a
 * reference handed over, or NULL when old is the current object). */
static void kinf_announce(struct kinf_entry *e, struct kobj *old, struct kinf_action *a)
{
    if (e->announced) {
        a->kind = KINF_UPDATE;
        a->old_obj = old ? old : kobj_ref(e->obj);
    } else {
        a->kind = KINF_ADD;
        kobj_unref(old);
    }
    a->new_obj = kobj_ref(e->obj);
    e->announced = true;
}

/*
 * Existing entry `e`, incoming `n` (owned), under the write lock:
 *   event: older -> ignored; same RV -> reported, store kept; newer -> replace
 *   list:  older or same -> kept (reported only if never announced); newer -> replace
 *   apply: newer -> replace silently; else ignored
 */
static void kinf_merge(struct kinformer *inf, struct kinf_entry *e, struct kobj *n,
                       const struct kinf_tree *obj, enum kinf_mode mode, struct kinf_action *a)
{
    int cmp = kobj_rv_cmp(kobj_resource_version(n), kobj_resource_version(e->obj));
    e->epoch = inf->epoch;
    if (cmp < 0 || (cmp == 0 && mode != KINF_EVENT)) {
        if (mode == KINF_LIST && !e->announced)
            kinf_announce(e, NULL, a);
        kobj_unref(n);
        return;
    }
    if (cmp == 0) {
        kinf_announce(e, NULL, a);
        kobj_unref(n);
        return;
    }
    struct kobj *old = e->obj;
    kinf_replace(inf, e, n, obj);
    if (mode == KINF_APPLY)
        kobj_unref(old);
    else
        kinf_announce(e, old, a);
}

/* `n` packed with this kind's current codec (a reference taken under the
 * lock: kinformer_repack may replace it meanwhile). */
static struct kobj *kinf_pack_now(struct kinformer *inf, struct kobj *n)
{
    pthread_rwlock_rdlock(&inf->lock);
    struct kpack *pack = kpack_ref(inf->pack);
    pthread_rwlock_unlock(&inf->lock);
    n = kobj_pack(n, pack);
    kpack_unref(pack);
    return n;
}

/* `n` packed with this kind's codec (kobj_pack) unless the store already
 * holds its resourceVersion or a newer one: then it is about to be dropped
 * (most watch events echo our own writes), and packing it would be waste.
 * The first list's objects are packed as they arrive too: packing them
 * after the list (tried) left the freed texts as holes in the heap, 7 MiB
 * more resident at 1,000 GraceServices, for ~30 ms less cold start. */
static struct kobj *kinf_pack(struct kinformer *inf, struct kobj *n)
{
    pthread_rwlock_rdlock(&inf->lock);
    struct kinf_entry *e = kinf_find(inf, kobj_namespace(n), kobj_name(n));
    bool held = e && kobj_rv_cmp(kobj_resource_version(n), kobj_resource_version(e->obj)) <= 0;
    pthread_rwlock_unlock(&inf->lock);
    return held ? n : kinf_pack_now(inf, n);
}

/* Put `n` (owned; its parsed tree `obj` borrowed, for the indexes) into
 * the store, then call handlers as decided. */
static void kinf_upsert_obj(struct kinformer *inf, struct kobj *n, const struct kinf_tree *obj,
                            enum kinf_mode mode)
{
    struct kinf_action a = {KINF_NONE, NULL, NULL};
    pthread_rwlock_wrlock(&inf->lock);
    struct kinf_entry *e = kinf_find(inf, kobj_namespace(n), kobj_name(n));
    if (e) {
        kinf_merge(inf, e, n, obj, mode, &a);
    } else {
        e = kinf_insert(inf, n, obj);
        e->epoch = inf->epoch;
        if (mode != KINF_APPLY)
            kinf_announce(e, NULL, &a);
    }
    pthread_rwlock_unlock(&inf->lock);
    if (a.kind != KINF_NONE)
        kinf_dispatch(inf, &a);
}

/* A DELETED event: remove unless we hold a newer incarnation; on_delete
 * always gets the object the event carries (its last state). `gone` is
 * owned. */
static void kinf_event_delete(struct kinformer *inf, struct kobj *gone)
{
    struct kinf_action a = {KINF_DELETE, NULL, NULL};
    struct kobj *old = NULL;
    pthread_rwlock_wrlock(&inf->lock);
    struct kinf_entry *e = kinf_find(inf, kobj_namespace(gone), kobj_name(gone));
    if (e && kobj_rv_cmp(kobj_resource_version(e->obj), kobj_resource_version(gone)) <= 0)
        old = kinf_unlink(inf, e);
    pthread_rwlock_unlock(&inf->lock);
    kobj_unref(old);
    a.old_obj = gone;
    kinf_dispatch(inf, &a);
}

/* After a complete list: remove what the list did not contain. */
static void kinf_sweep(struct kinformer *inf)
{
    struct kobj **gone = NULL;
    size_t n = 0, cap = 0;
    pthread_rwlock_wrlock(&inf->lock);
    struct kmap_iter it;
    kmap_iter_init(&it, &inf->map);
    for (struct kmap_node *nd; (nd = kmap_iter_next(&it));) {
        struct kinf_entry *e = KMAP_ENTRY(nd, struct kinf_entry, node);
        if (e->epoch == inf->epoch)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            gone = kerr_xrealloc(gone, cap * sizeof(struct kobj *));
        }
        gone[n++] = kinf_unlink(inf, e); /* the current node: allowed */
    }
    pthread_rwlock_unlock(&inf->lock);
    for (size_t i = 0; i < n; i++) {
        struct kinf_action a = {KINF_DELETE, gone[i], NULL};
        kinf_dispatch(inf, &a);
    }
    free(gone);
}

/* ---- kwatch sink ---- */

/* One list item, as the stream's text (managedFields already cut): the
 * text is kept as it is; parsed once, or only its metadata when no index
 * needs more (the text is kclient's splitter's, checked: kobj skims it). */
static enum kerr kinf_list_item(void *ctx, const char *text, size_t len, struct kerr_info *err)
{
    struct kinformer *inf = ctx;
    json_t *tree = NULL;
    if (kwatcher__stopping(inf->watcher))
        return KERR_STOPPED;
    struct kerr_info perr = {0};
    bool full = atomic_load(&inf->need_full);
    struct kobj *n =
        full ? kobj_new_from_text(text, len, inf->api_version, inf->kind, &tree, &perr)
             : kobj_new_from_split_meta(text, len, inf->api_version, inf->kind, NULL, &perr);
    if (!n) {
        if (perr.message[0] == '\0')
            return KERR_OK; /* no metadata.name: ignored, as kinf_upsert does */
        if (err)
            *err = perr;
        return KERR_PARSE;
    }
    struct kinf_tree t = {tree, full};
    kinf_upsert_obj(inf, kinf_pack(inf, n), &t, KINF_LIST);
    json_decref(tree);
    return KERR_OK;
}

static enum kerr kinf_list(void *ctx, const char *from, char **rv, struct kerr_info *err)
{
    struct kinformer *inf = ctx;
    pthread_rwlock_wrlock(&inf->lock);
    inf->epoch++;
    pthread_rwlock_unlock(&inf->lock);
    enum kerr e = kclient_list_text_at(inf->client, &inf->res, inf->ns, inf->selector, NULL, from,
                                       500, kinf_list_item, inf, rv, err);
    if (e != KERR_OK)
        return e;
    kinf_sweep(inf);
    atomic_store(&inf->synced, true);
    return KERR_OK;
}

/* metadata.resourceVersion of an object text that made no kobj (it has no
 * name): kwatch still moves its resourceVersion, as it always did. */
static char *kinf_text_rv(const char *text, size_t len)
{
    json_t *obj = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    char *r = rv ? kerr_xstrdup(rv) : NULL;
    json_decref(obj);
    return r;
}

/*
 * One watch event, as its object's text (managedFields already cut): only
 * the metadata is parsed, whatever the indexes. Most events on a busy
 * informer are the echo of our own writes (the same resourceVersion as
 * the cache, so nothing is indexed again) and deletes; an index that needs
 * more than metadata gets the stored text parsed when the entry is
 * actually (re)indexed (kinf_index_entry). The text is a span of what
 * kwatch's splitter handed out, checked: kobj skims it.
 */
static enum kerr kinf_event(void *ctx, enum kwatch_event_type type, const char *text, size_t len,
                            char **rv, struct kerr_info *err)
{
    struct kinformer *inf = ctx;
    struct kerr_info perr = {0};
    *rv = NULL;
    struct kobj *n = kobj_new_from_split_meta(text, len, inf->api_version, inf->kind, NULL, &perr);
    if (!n) {
        if (perr.message[0]) {
            if (err)
                *err = perr;
            return KERR_PARSE;
        }
        *rv = kinf_text_rv(text, len); /* no metadata.name: ignored */
        return KERR_OK;
    }
    *rv = kerr_xstrdup(kobj_resource_version(n));
    if (type == KWATCH_DELETED) {
        kinf_event_delete(inf, n);
    } else {
        struct kinf_tree t = {NULL, false};
        kinf_upsert_obj(inf, kinf_pack(inf, n), &t, KINF_EVENT);
    }
    return KERR_OK;
}

/* ---- public API ---- */

static char *kinf_dup(const char *s)
{
    return (s && *s) ? kerr_xstrdup(s) : NULL;
}

struct kinformer *kinformer_new(struct kclient *c, struct kwatcher *w, const struct kres *r,
                                const char *ns, const char *label_selector)
{
    struct kinformer *inf = kerr_xcalloc(1, sizeof *inf);
    char av[256];
    inf->pack = kpack_new();
    inf->client = c;
    inf->watcher = w;
    inf->group = kerr_xstrdup(r->group ? r->group : "");
    inf->version = kerr_xstrdup(r->version);
    inf->plural = kerr_xstrdup(r->plural);
    inf->res = (struct kres){inf->group, inf->version, inf->plural};
    inf->ns = kinf_dup(ns);
    inf->selector = kinf_dup(label_selector);
    if (*inf->group)
        snprintf(av, sizeof av, "%s/%s", inf->group, inf->version);
    else
        snprintf(av, sizeof av, "%s", inf->version);
    inf->api_version = kerr_xstrdup(av);
    pthread_rwlock_init(&inf->lock, NULL);
    kmap_init(&inf->map);
    atomic_init(&inf->synced, false);
    atomic_init(&inf->need_full, false);
    atomic_init(&inf->nh, 0);
    struct kwatch_sink sink = {kinf_list, kinf_event};
    kwatcher__add(w, &inf->res, inf->ns, inf->selector, &sink, inf);
    return inf;
}

static void kinf_free_index(struct kinf_index *ix)
{
    struct kmap_iter it;
    kmap_iter_init(&it, &ix->table);
    for (struct kmap_node *n; (n = kmap_iter_next(&it));) {
        kinf_bucket_free(KMAP_ENTRY(n, struct kinf_bucket, node));
    }
    kmap_free(&ix->table);
    free(ix->name);
}

void kinformer_free(struct kinformer *inf)
{
    if (!inf)
        return;
    struct kmap_iter it;
    kmap_iter_init(&it, &inf->map);
    for (struct kmap_node *n; (n = kmap_iter_next(&it));) {
        struct kinf_entry *e = KMAP_ENTRY(n, struct kinf_entry, node);
        kobj_unref(e->obj);
        kinf_entry_free_buckets(e);
        free(e);
    }
    for (size_t i = 0; i < inf->nidx; i++)
        kinf_free_index(&inf->idx[i]);
    free(inf->idx);
    kmap_free(&inf->map);
    pthread_rwlock_destroy(&inf->lock);
    free(inf->group);
    free(inf->version);
    free(inf->plural);
    free(inf->ns);
    free(inf->selector);
    free(inf->api_version);
    free(inf->kind);
    kpack_unref(inf->pack);
    free(inf);
}

void kinformer_set_kind(struct kinformer *inf, const char *kind)
{
    free(inf->kind);
    inf->kind = kinf_dup(kind);
}

void kinformer_add_handlers(struct kinformer *inf, const struct kinformer_handlers *h)
{
    pthread_rwlock_wrlock(&inf->lock); /* serialises adders */
    size_t n = atomic_load(&inf->nh);
    if (n == KINFORMER_MAX_HANDLERS) {
        fprintf(stderr, "kinformer: more than %d handler sets\n", KINFORMER_MAX_HANDLERS);
        abort();
    }
    inf->h[n] = *h;
    atomic_store_explicit(&inf->nh, n + 1, memory_order_release);
    pthread_rwlock_unlock(&inf->lock);
}

static void kinf_add_index(struct kinformer *inf, const char *index_name, kinformer_index_fn fn,
                           kinformer_meta_index_fn meta_fn, bool spec_only)
{
    pthread_rwlock_wrlock(&inf->lock);
    if (inf->nidx == KINFORMER_MAX_INDEXES) {
        fprintf(stderr, "kinformer: more than %d indexes\n", KINFORMER_MAX_INDEXES);
        abort();
    }
    inf->idx = kerr_xrealloc(inf->idx, (inf->nidx + 1) * sizeof *inf->idx);
    struct kinf_index *ix = &inf->idx[inf->nidx];
    memset(ix, 0, sizeof *ix);
    ix->name = kerr_xstrdup(index_name);
    ix->fn = fn;
    ix->meta_fn = meta_fn;
    ix->spec_only = spec_only;
    kmap_init(&ix->table);
    if (fn)
        atomic_store(&inf->need_full, true);
    /* Objects already cached (an index added late) are indexed now. */
    size_t id = inf->nidx++;
    struct kmap_iter it;
    kmap_iter_init(&it, &inf->map);
    for (struct kmap_node *n; (n = kmap_iter_next(&it));) {
        struct kinf_entry *e = KMAP_ENTRY(n, struct kinf_entry, node);
        struct kinf_tree t = {NULL, false}; /* a full index parses the text */
        kinf_index_entry(inf, e, &t, id, false);
    }
    pthread_rwlock_unlock(&inf->lock);
}

void kinformer_add_index(struct kinformer *inf, const char *index_name, kinformer_index_fn fn)
{
    kinf_add_index(inf, index_name, fn, NULL, false);
}

void kinformer_add_spec_index(struct kinformer *inf, const char *index_name,
                              kinformer_index_fn fn)
{
    kinf_add_index(inf, index_name, fn, NULL, true);
}

void kinformer_add_meta_index(struct kinformer *inf, const char *index_name,
                              kinformer_meta_index_fn fn)
{
    kinf_add_index(inf, index_name, NULL, fn, false);
}

size_t kinformer_by_index(struct kinformer *inf, const char *index_name, const char *key,
                          struct kobj ***out)
{
    size_t n = 0;
    *out = NULL;
    pthread_rwlock_rdlock(&inf->lock);
    for (size_t id = 0; id < inf->nidx; id++) {
        if (strcmp(inf->idx[id].name, index_name) != 0)
            continue;
        struct kinf_bucket *b = kinf_bucket_find(&inf->idx[id], key, kinf_hash2(key, NULL));
        if (b && b->n > 0) {
            struct kinf_entry **items = kinf_bucket_items(b);
            *out = kerr_xmalloc(b->n * sizeof(struct kobj *));
            for (n = 0; n < b->n; n++)
                (*out)[n] = kobj_ref(items[n]->obj);
        }
        break;
    }
    pthread_rwlock_unlock(&inf->lock);
    return n;
}

struct kobj *kinformer_get(struct kinformer *inf, const char *ns, const char *name)
{
    pthread_rwlock_rdlock(&inf->lock);
    struct kinf_entry *e = kinf_find(inf, ns ? ns : "", name);
    struct kobj *o = e ? kobj_ref(e->obj) : NULL;
    pthread_rwlock_unlock(&inf->lock);
    return o;
}

void kinformer_foreach(struct kinformer *inf, kinformer_foreach_fn fn, void *ctx)
{
    struct kobj **snap = NULL;
    size_t n = 0;
    pthread_rwlock_rdlock(&inf->lock);
    size_t total = kmap_count(&inf->map);
    if (total > 0)
        snap = kerr_xmalloc(total * sizeof(struct kobj *));
    struct kmap_iter it;
    kmap_iter_init(&it, &inf->map);
    for (struct kmap_node *nd; n < total && (nd = kmap_iter_next(&it));)
        snap[n++] = kobj_ref(KMAP_ENTRY(nd, struct kinf_entry, node)->obj);
    pthread_rwlock_unlock(&inf->lock);
    for (size_t i = 0; i < n; i++) {
        fn(ctx, snap[i]);
        kobj_unref(snap[i]);
    }
    free(snap);
}

/* ---- the codec's dictionary, chosen again ----
 *
 * A codec's dictionary is the first text it packed. A kind listed at
 * start-up gets a typical object; a kind that grew from nothing gets the
 * first object written, before anything filled its status, and every
 * later object, status and all, packs worse against it (22 % larger at
 * 1,000 GraceServices created, measured with massif). So after a burst
 * (the caller's idle moment), an informer whose codec has packed a
 * quarter of the cache (at least KINF_REPACK_SAMPLE texts) since it last
 * looked tries a new codec whose dictionary is its newest object: on a
 * sample of the cache; when that shrinks the sample to KINF_REPACK_GAIN or
 * less, every stored object is repacked with it (the same content: no
 * index or handler notices) and new objects are packed with it. */
#define KINF_REPACK_SAMPLE 64
#define KINF_REPACK_GAIN 0.9

struct kinf_sample {
    struct kobj *objs[KINF_REPACK_SAMPLE];
    size_t n;
    struct kobj *newest;
};

/* Up to KINF_REPACK_SAMPLE stored objects spread over the map, and the
 * one with the newest resourceVersion (references; read lock held). */
static void kinf_sample(struct kinformer *inf, struct kinf_sample *sm)
{
    size_t total = kmap_count(&inf->map), step = total / KINF_REPACK_SAMPLE + 1, i = 0;
    struct kmap_iter it;
    kmap_iter_init(&it, &inf->map);
    const struct kobj *newest = NULL;
    for (struct kmap_node *nd; (nd = kmap_iter_next(&it)); i++) {
        const struct kobj *o = KMAP_ENTRY(nd, struct kinf_entry, node)->obj;
        if (i % step == 0 && sm->n < KINF_REPACK_SAMPLE)
            sm->objs[sm->n++] = kobj_ref((struct kobj *)o);
        if (!newest ||
            kobj_rv_cmp(kobj_resource_version(o), kobj_resource_version(newest)) > 0)
            newest = o;
    }
    sm->newest = newest ? kobj_ref((struct kobj *)newest) : NULL;
}

/* Would `cand` pack the sample's objects that `old` packed to
 * KINF_REPACK_GAIN of their size or less? */
static bool kinf_repack_pays(const struct kinf_sample *sm, struct kpack *old, struct kpack *cand)
{
    size_t before = 0, after = 0;
    for (size_t i = 0; i < sm->n; i++) {
        if (!kobj_packed_with(sm->objs[i], old))
            continue;
        struct kobj *q = kobj_packed_copy(sm->objs[i], cand);
        before += kobj_packed_len(sm->objs[i]);
        after += q ? kobj_packed_len(q) : kobj_text_len(sm->objs[i]);
        kobj_unref(q);
    }
    return before > 0 && (double)after <= KINF_REPACK_GAIN * (double)before;
}

/* Every stored object packed with `old` repacked with `cand`, which
 * becomes the codec (write lock held; takes the caller's `cand`). All the
 * copies are made before any original is freed, so no copy takes the
 * place an original just left. Measured after creating 1,000 services:
 * 3.1 MiB free inside the heap this way, 3.2 copying one by one; the
 * repack saves heap in use (0.7 MiB), not resident memory. */
static void kinf_repack_all(struct kinformer *inf, struct kpack *old, struct kpack *cand)
{
    size_t total = kmap_count(&inf->map), n = 0;
    struct kobj **copies = kerr_xcalloc(total ? total : 1, sizeof(struct kobj *));
    struct kmap_iter it;
    kmap_iter_init(&it, &inf->map);
    for (struct kmap_node *nd; n < total && (nd = kmap_iter_next(&it)); n++) {
        const struct kobj *o = KMAP_ENTRY(nd, struct kinf_entry, node)->obj;
        copies[n] = kobj_packed_with(o, old) ? kobj_packed_copy(o, cand) : NULL;
    }
    kmap_iter_init(&it, &inf->map);
    for (size_t i = 0; i < n; i++) {
        struct kinf_entry *e = KMAP_ENTRY(kmap_iter_next(&it), struct kinf_entry, node);
        if (copies[i]) {
            kobj_unref(e->obj);
            e->obj = copies[i];
        }
    }
    free(copies);
    kpack_unref(inf->pack);
    inf->pack = cand;
    inf->repack_checked = kpack_count(cand);
}

bool kinformer_repack(struct kinformer *inf)
{
    struct kinf_sample sm = {.n = 0};
    pthread_rwlock_rdlock(&inf->lock);
    struct kpack *old = kpack_ref(inf->pack);
    size_t total = kmap_count(&inf->map);
    unsigned long packed = kpack_count(old) - inf->repack_checked;
    bool due = total >= KINF_REPACK_SAMPLE && packed >= KINF_REPACK_SAMPLE && packed >= total / 4;
    if (due)
        kinf_sample(inf, &sm);
    pthread_rwlock_unlock(&inf->lock);
    bool done = false;
    if (due && sm.newest) {
        struct kpack *cand = kpack_new();
        struct kobj *first = kobj_packed_copy(sm.newest, cand); /* its text: the dictionary */
        bool primed = first != NULL;
        kobj_unref(first);
        bool pays = primed && kinf_repack_pays(&sm, old, cand);
        pthread_rwlock_wrlock(&inf->lock);
        if (pays && inf->pack == old) {
            kinf_repack_all(inf, old, cand);
            done = true;
        } else {
            inf->repack_checked = kpack_count(inf->pack);
            kpack_unref(cand);
        }
        pthread_rwlock_unlock(&inf->lock);
    }
    for (size_t i = 0; i < sm.n; i++)
        kobj_unref(sm.objs[i]);
    kobj_unref(sm.newest);
    kpack_unref(old);
    return done;
}

size_t kinformer_count(struct kinformer *inf)
{
    pthread_rwlock_rdlock(&inf->lock);
    size_t n = kmap_count(&inf->map);
    pthread_rwlock_unlock(&inf->lock);
    return n;
}

bool kinformer_has_synced(struct kinformer *inf)
{
    return atomic_load(&inf->synced);
}

/* True when the store already holds `obj`'s resourceVersion of it, or a
 * newer one: apply_write would change nothing but the entry's epoch (set
 * here), so the object need not be turned into text. */
static bool kinf_apply_is_stale(struct kinformer *inf, const json_t *obj)
{
    const json_t *meta = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
    bool stale = false;
    if (!name)
        return false;
    pthread_rwlock_wrlock(&inf->lock);
    struct kinf_entry *e = kinf_find(inf, ns ? ns : "", name);
    if (e && kobj_rv_cmp(rv ? rv : "", kobj_resource_version(e->obj)) <= 0) {
        e->epoch = inf->epoch;
        stale = true;
    }
    pthread_rwlock_unlock(&inf->lock);
    return stale;
}

void kinformer_apply_write(struct kinformer *inf, const json_t *obj)
{
    if (!obj || kinf_apply_is_stale(inf, obj))
        return;
    struct kobj *n = kobj_new_with_type(obj, inf->api_version, inf->kind);
    struct kinf_tree t = {obj, true};
    if (n) /* not stale: it will be stored, so packed without kinf_pack's second look-up */
        kinf_upsert_obj(inf, kinf_pack_now(inf, n), &t, KINF_APPLY);
}

void kinformer_apply_delete(struct kinformer *inf, const char *ns, const char *name)
{
    struct kobj *old = NULL;
    if (!name)
        return;
    pthread_rwlock_wrlock(&inf->lock);
    struct kinf_entry *e = kinf_find(inf, ns ? ns : "", name);
    if (e)
        old = kinf_unlink(inf, e);
    pthread_rwlock_unlock(&inf->lock);
    kobj_unref(old);
}
