/*
 * fuzz_kobj: the object parser and what the cache (kinformer) accepts.
 *
 * Input: byte 0 picks what is exercised, the rest is a body:
 *  - bit 0 clear: a list body, split as kclient_list_text does (KJS_ITEMS,
 *    managedFields dropped); every item goes to kobj_new_from_text and to
 *    kobj_new_from_split_meta, as kinformer's list sink does, and to
 *    kobj_new_from_text_meta;
 *  - bit 0 set: a watch stream, split as kwatch does (KJS_DOCS); each
 *    event's "object" goes to kobj_new_from_split_meta, as kinformer's
 *    event sink does, and to kobj_new_from_text_meta;
 *  - bit 1: a kind and apiVersion are given (built-in list items lack them);
 *  - bit 2: the whole body also goes to kobj_new_from_text as it is (any
 *    text jansson accepts, leading whitespace included).
 *
 * Invariants, for every kobj made:
 *  - kobj_json() reads it back (never NULL), as an object;
 *  - the accessors agree with that tree: name, namespace, uid,
 *    resourceVersion, kind, apiVersion, labels, owners, generation;
 *  - the tree has no metadata.managedFields;
 *  - the full parse and the metadata-only parses of the same text agree;
 *  - on a text the splitter handed out, kobj_new_from_split_meta makes a
 *    kobj exactly when kobj_new_from_text_meta does, with the same text;
 *  - without a metadata view, both read the metadata without a tree where
 *    they can (kobjmeta): the kobj is then identical, accessor by accessor
 *    and byte by byte, to the one read with jansson;
 *  - kobj_meta_members_same (finalizers, annotations) holds for a kobj and
 *    itself, and when it holds for two kobjs (each and the one checked
 *    before it) jansson reads equal values there.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "kjsonstream.h"
#include "kobj.h"
#include "kpack.h"

#define H "kobj"

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void same(const char *what, const char *a, const char *b)
{
    if (strcmp(a, b) != 0)
        fz_fail(H, "%s: accessor \"%.100s\" but tree \"%.100s\"", what, a, b);
}

static void check_labels(const struct kobj *o, const json_t *meta)
{
    const json_t *labels = json_object_get(meta, "labels");
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)labels, k, v)
    {
        if (!json_is_string(v))
            continue;
        n++;
        const char *got = kobj_label(o, k);
        if (!got || strcmp(got, json_string_value(v)) != 0)
            if (!memchr(json_string_value(v), '\0', json_string_length(v)))
                fz_fail(H, "label %.100s lost or changed", k);
    }
    if (n != kobj_label_count(o))
        fz_fail(H, "%zu string labels in the tree, %zu in the kobj", n, kobj_label_count(o));
}

/* kobj_meta_members_same: an object is the same as itself, and whatever
 * it calls the same as the object checked before holds equal values
 * (jansson's reading of both texts). */
static void check_meta_members(const struct kobj *o, const json_t *meta)
{
    static const char *const keys[] = {"finalizers", "annotations"};
    static struct kobj *prev;
    static json_t *prev_meta;
    if (!kobj_meta_members_same(o, o, keys, 2))
        fz_fail(H, "metadata members differ from themselves");
    if (prev && kobj_meta_members_same(prev, o, keys, 2))
        for (size_t i = 0; i < 2; i++) {
            const json_t *a = json_object_get(prev_meta, keys[i]);
            const json_t *b = json_object_get(meta, keys[i]);
            if ((a || b) && !(a && b && json_equal(a, b)))
                fz_fail(H, "metadata.%s called the same, but the values differ", keys[i]);
        }
    kobj_unref(prev);
    json_decref(prev_meta);
    prev = kobj_ref(o);
    prev_meta = json_incref((json_t *)meta);
}

/* kobj_json reads `o` back, and the accessors match the tree. */
static void check_obj(const struct kobj *o, const char *kind, const char *av)
{
    json_t *t = kobj_json(o);
    if (!json_is_object(t))
        fz_fail(H, "cached object unreadable by kobj_json: %.300s",
                kobj_text(o) ? kobj_text(o) : "(packed)");
    const json_t *meta = json_object_get(t, "metadata");
    same("name", kobj_name(o), jstr(meta, "name"));
    same("namespace", kobj_namespace(o), jstr(meta, "namespace"));
    same("uid", kobj_uid(o), jstr(meta, "uid"));
    same("resourceVersion", kobj_resource_version(o), jstr(meta, "resourceVersion"));
    same("kind", kobj_kind(o), jstr(t, "kind"));
    same("apiVersion", kobj_api_version(o), jstr(t, "apiVersion"));
    if (kind && !json_object_get(t, "kind"))
        fz_fail(H, "kind %s was to be filled in", kind);
    if (av && !json_object_get(t, "apiVersion"))
        fz_fail(H, "apiVersion %s was to be filled in", av);
    if (json_object_get(meta, "managedFields"))
        fz_fail(H, "metadata.managedFields kept");
    if (kobj_generation(o) != json_integer_value(json_object_get(meta, "generation")))
        fz_fail(H, "generation differs");
    const json_t *owners = json_object_get(meta, "ownerReferences");
    if (kobj_owner_count(o) != (json_is_array(owners) ? json_array_size(owners) : 0))
        fz_fail(H, "owner count differs");
    check_labels(o, meta);
    check_meta_members(o, meta);
    json_decref(t);
}

struct ctx {
    bool typed;
};

static void compare(const struct kobj *a, const struct kobj *b)
{
    same("full vs meta name", kobj_name(a), kobj_name(b));
    same("full vs meta namespace", kobj_namespace(a), kobj_namespace(b));
    same("full vs meta rv", kobj_resource_version(a), kobj_resource_version(b));
    same("full vs meta kind", kobj_kind(a), kobj_kind(b));
    if (kobj_label_count(a) != kobj_label_count(b) || kobj_owner_count(a) != kobj_owner_count(b) ||
        kobj_deleting(a) != kobj_deleting(b))
        fz_fail(H, "full and metadata-only parses disagree");
}

static void same_str(const char *what, const char *a, const char *b)
{
    if (strcmp(a, b) != 0)
        fz_fail(H, "tree-less and jansson metadata disagree on %s: \"%.100s\" vs \"%.100s\"", what,
                a, b);
}

/* `a` (read without a tree) and `b` (read with jansson) hold the same. */
static void identical(const struct kobj *a, const struct kobj *b)
{
    same_str("name", kobj_name(a), kobj_name(b));
    same_str("namespace", kobj_namespace(a), kobj_namespace(b));
    same_str("uid", kobj_uid(a), kobj_uid(b));
    same_str("resourceVersion", kobj_resource_version(a), kobj_resource_version(b));
    same_str("kind", kobj_kind(a), kobj_kind(b));
    same_str("apiVersion", kobj_api_version(a), kobj_api_version(b));
    same_str("controller", kobj_controller_uid(a) ? kobj_controller_uid(a) : "-",
             kobj_controller_uid(b) ? kobj_controller_uid(b) : "-");
    if (kobj_generation(a) != kobj_generation(b) || kobj_deleting(a) != kobj_deleting(b) ||
        kobj_label_count(a) != kobj_label_count(b) || kobj_owner_count(a) != kobj_owner_count(b))
        fz_fail(H, "tree-less and jansson metadata disagree (generation, deletion or counts)");
    for (size_t i = 0; i < kobj_label_count(a); i++) {
        same_str("label key", kobj_label_key(a, i), kobj_label_key(b, i));
        same_str("label value", kobj_label_value(a, i), kobj_label_value(b, i));
    }
    for (size_t i = 0; i < kobj_owner_count(a); i++)
        same_str("owner", kobj_owner_uid(a, i), kobj_owner_uid(b, i));
    if (kobj_text_len(a) != kobj_text_len(b) ||
        memcmp(kobj_text(a), kobj_text(b), kobj_text_len(a)) != 0)
        fz_fail(H, "tree-less and jansson metadata make different texts");
}

/* The codec the informers would pack with: one per process, its
 * dictionary the first text packed (a typical object, so later inputs are
 * packed against something like what the cache holds). */
static struct kpack *fz_codec(void)
{
    static struct kpack *c;
    if (!c) {
        static const char first[] =
            "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"peeps\","
            "\"namespace\":\"grace\",\"uid\":\"6f1c0000-1a2b-4c3d-8e9f-000000000001\","
            "\"resourceVersion\":\"10\",\"labels\":{\"app.kubernetes.io/managed-by\":"
            "\"grace-operator\"}},\"type\":\"Opaque\",\"data\":{\"password\":\"c2VjcmV0\"}}";
        unsigned char z[sizeof first];
        c = kpack_new();
        kpack_compress(c, first, sizeof first - 1, z);
    }
    return c;
}

/* A second codec, whose dictionary is the first input packed with it (as
 * kinformer_repack's is a stored object). */
static struct kpack *fz_codec2(void)
{
    static struct kpack *c;
    if (!c)
        c = kpack_new();
    return c;
}

/* `p` reads back exactly the text of `o` and passes check_obj. */
static void check_reads_back(const struct kobj *p, const struct kobj *o, const char *kind,
                             const char *av, const char *what)
{
    char *t = kobj_text_copy(p);
    if (!t || kobj_text_len(p) != kobj_text_len(o) ||
        memcmp(t, kobj_text(o), kobj_text_len(o)) != 0)
        fz_fail(H, "a %s object does not read back its text: %.200s", what, kobj_text(o));
    free(t);
    check_obj(p, kind, av);
}

/* A packed copy of `o`, and that copy repacked with another codec, read
 * back exactly its text and pass check_obj. */
static void check_packed(const struct kobj *o, const char *kind, const char *av)
{
    struct kobj *p = kobj_packed_copy(o, fz_codec());
    if (!p)
        return; /* packing did not pay: the cache keeps the text */
    check_reads_back(p, o, kind, av, "packed");
    struct kobj *q = kobj_packed_copy(p, fz_codec2());
    if (q) {
        if (!kobj_packed_with(q, fz_codec2()) || kobj_packed_len(q) == 0)
            fz_fail(H, "a repacked object is not packed with its new codec");
        check_reads_back(q, o, kind, av, "repacked");
        kobj_unref(q);
    }
    kobj_unref(p);
}

/* One object text as the cache gets it: both constructors. */
static void cache_text(const struct ctx *c, const char *text, size_t len, bool full_too)
{
    const char *kind = c->typed ? "Secret" : NULL, *av = c->typed ? "v1" : NULL;
    json_t *tree = NULL, *view = NULL, *sview = NULL;
    struct kobj *m = kobj_new_from_text_meta(text, len, av, kind, &view, NULL);
    struct kobj *sm = kobj_new_from_split_meta(text, len, av, kind, &sview, NULL);
    struct kobj *f = full_too ? kobj_new_from_text(text, len, av, kind, &tree, NULL) : NULL;
    struct kobj *fm = kobj_new_from_text_meta(text, len, av, kind, NULL, NULL);
    struct kobj *fsm = kobj_new_from_split_meta(text, len, av, kind, NULL, NULL);
    if (!m != !sm)
        fz_fail(H, "split and checked metadata-only parses disagree on: %.200s", text);
    if (!fm != !m || !fsm != !sm)
        fz_fail(H, "tree-less and jansson metadata parses disagree on: %.200s", text);
    if (fm && m)
        identical(fm, m);
    if (fsm && sm)
        identical(fsm, sm);
    if (m)
        check_obj(m, kind, av);
    if (sm) {
        check_obj(sm, kind, av);
        check_packed(sm, kind, av);
    }
    if (m && sm && strcmp(kobj_text(m), kobj_text(sm)) != 0)
        fz_fail(H, "split and checked metadata-only parses make different texts");
    if (f)
        check_obj(f, kind, av);
    if (m && f)
        compare(f, m);
    if (sm && f)
        compare(f, sm);
    json_decref(tree);
    json_decref(view);
    json_decref(sview);
    kobj_unref(m);
    kobj_unref(sm);
    kobj_unref(f);
    kobj_unref(fm);
    kobj_unref(fsm);
}

static int on_list_item(void *ctx, const char *text, size_t len)
{
    cache_text(ctx, text, len, true);
    return 0;
}

static struct kjs *watch_split; /* the splitter of the watch being fed */

static int on_watch_event(void *ctx, const char *text, size_t len)
{
    struct kjs_span t, o;
    kjs_doc_event(watch_split, &t, &o);
    if (o.len && text[o.off] == '{')
        cache_text(ctx, text + o.off, o.len, false);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct ctx c = {(data[0] & 2) != 0};
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    bool watch = data[0] & 1;
    struct kjs_callbacks cb = {watch ? on_watch_event : on_list_item, NULL};
    struct kjs *s = kjs_new(watch ? KJS_DOCS : KJS_ITEMS, "items", 1 << 16, &cb, &c);
    kjs_drop_meta_key(s, "managedFields");
    watch_split = s;
    if (kjs_feed(s, body, n, NULL) == KERR_OK)
        kjs_finish(s, NULL);
    kjs_free(s);
    if (data[0] & 4) {
        json_t *tree = NULL;
        struct kobj *o = kobj_new_from_text(body, n, c.typed ? "v1" : NULL,
                                            c.typed ? "Secret" : NULL, &tree, NULL);
        if (o)
            check_obj(o, c.typed ? "Secret" : NULL, c.typed ? "v1" : NULL);
        kobj_unref(o);
        json_decref(tree);
    }
    return 0;
}
