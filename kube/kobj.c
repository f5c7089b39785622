/*
 * kobj: immutable, reference-counted cached object (see kobj.h).
 *
 * Layout: one malloc block = the struct, then the label and owner pointer
 * arrays, then every string (the JSON text first) back to back. Nothing
 * else is allocated per object, so a cached object costs its minified text
 * plus about 100 bytes. A packed kobj (kobj_pack) holds the text deflated
 * against its kind's dictionary instead (kpack) and a reference to that
 * codec; kobj_json inflates it.
 */
#include "kobj.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kerr.h"
#include "kjsonstream.h"
#include "kjsontoken.h"
#include "kobjmeta.h"
#include "kpack.h"

struct kobj {
    atomic_uint refs;
    int32_t controller_idx; /* index into the owners of the controller=true ref, -1 none */
    uint32_t nlabels, nowners;
    uint32_t text_len; /* the JSON text's length (also when packed) */
    uint32_t zlen;     /* packed: length of the deflated bytes; else 0 */
    bool deleting;
    long long generation;
    const char *text;   /* the text, or when packed its deflated bytes */
    struct kpack *pack; /* packed: the codec (a reference); else NULL */
    const char *ns, *name, *uid, *rv, *kind, *api_version;
    /* nlabels (key, value) pairs, then nowners uids; their strings follow,
     * except those a packed object shares with its codec (kpack_share) */
    const char *slots[];
};

#define KOBJ_LABELS(o) ((o)->slots)
#define KOBJ_OWNERS(o) ((o)->slots + 2 * (size_t)(o)->nlabels)

static const char *kobj_jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* A shallow copy of `obj` without metadata.managedFields, with apiVersion
 * and kind filled when missing. Values are shared, never modified. */
static json_t *kobj_strip(const json_t *obj, const char *api_version, const char *kind)
{
    json_t *top = json_object();
    const char *key;
    json_t *v;
    if (!top)
        kerr_oom();
    if (kind && !json_object_get(obj, "kind"))
        json_object_set_new(top, "kind", json_string(kind));
    if (api_version && !json_object_get(obj, "apiVersion"))
        json_object_set_new(top, "apiVersion", json_string(api_version));
    json_object_foreach((json_t *)obj, key, v)
    {
        if (strcmp(key, "metadata") == 0 && json_is_object(v)) {
            json_t *m = json_object();
            const char *mk;
            json_t *mv;
            if (!m)
                kerr_oom();
            json_object_foreach(v, mk, mv) if (strcmp(mk, "managedFields") != 0)
                json_object_set(m, mk, mv);
            json_object_set_new(top, key, m);
        } else {
            json_object_set(top, key, v);
        }
    }
    return top;
}

static struct kobjmeta_str kobj_str(const char *s)
{
    return (struct kobjmeta_str){s ? s : "", s ? strlen(s) : 0};
}

/* The metadata of a parsed tree as kobjmeta_read gives it of a text; its
 * label and owner arrays are allocated (kobj_tree_meta_free). */
static void kobj_tree_meta(const json_t *obj, struct kobjmeta *m)
{
    const json_t *meta = json_object_get(obj, "metadata");
    const json_t *labels = json_object_get(meta, "labels");
    const json_t *owners = json_object_get(meta, "ownerReferences");
    const char *k;
    json_t *v;
    size_t i;
    m->ns = kobj_str(kobj_jstr(meta, "namespace"));
    m->name = kobj_str(kobj_jstr(meta, "name"));
    m->uid = kobj_str(kobj_jstr(meta, "uid"));
    m->rv = kobj_str(kobj_jstr(meta, "resourceVersion"));
    m->has_name = json_is_string(json_object_get(meta, "name"));
    m->generation = json_integer_value(json_object_get(meta, "generation"));
    const json_t *dts = json_object_get(meta, "deletionTimestamp");
    m->deleting = dts && !json_is_null(dts);
    struct kobjmeta_str *lab = kerr_xcalloc(2 * json_object_size(labels) + 1, sizeof *lab);
    m->nlabels = 0;
    json_object_foreach((json_t *)labels, k, v)
    {
        if (!json_is_string(v))
            continue;
        lab[2 * m->nlabels] = kobj_str(k);
        lab[2 * m->nlabels + 1] =
            (struct kobjmeta_str){json_string_value(v), json_string_length(v)};
        m->nlabels++;
    }
    struct kobjmeta_str *own = kerr_xcalloc(json_array_size(owners) + 1, sizeof *own);
    m->nowners = json_array_size(owners);
    m->controller_idx = -1;
    json_array_foreach(owners, i, v)
    {
        own[i] = kobj_str(kobj_jstr(v, "uid"));
        if (m->controller_idx < 0 && json_is_true(json_object_get(v, "controller")))
            m->controller_idx = (int)i;
    }
    m->labels = lab;
    m->owners = own;
}

static void kobj_tree_meta_free(struct kobjmeta *m)
{
    free((void *)m->labels);
    free((void *)m->owners);
}

static size_t kobj_strings_size(const struct kobjmeta *m, const struct kobjmeta_str *type)
{
    size_t total = m->ns.n + m->name.n + m->uid.n + m->rv.n + type[0].n + type[1].n + 6;
    for (size_t i = 0; i < 2 * m->nlabels; i++)
        total += m->labels[i].n + 1;
    for (size_t i = 0; i < m->nowners; i++)
        total += m->owners[i].n + 1;
    return total;
}

/* Copy s into the string area at *p; return the copy. */
static const char *kobj_put(char **p, const char *s, size_t n)
{
    char *d = *p;
    memcpy(d, s, n);
    d[n] = '\0';
    *p = d + n + 1;
    return d;
}

static void kobj_fill(struct kobj *o, const struct kobjmeta *m, const struct kobjmeta_str *type,
                      char *p)
{
    const char **dst[6] = {&o->ns, &o->name, &o->uid, &o->rv, &o->kind, &o->api_version};
    const struct kobjmeta_str *src[6] = {&m->ns, &m->name, &m->uid, &m->rv, &type[0], &type[1]};
    for (size_t i = 0; i < 6; i++)
        *dst[i] = kobj_put(&p, src[i]->p, src[i]->n);
    for (size_t i = 0; i < 2 * m->nlabels; i++)
        KOBJ_LABELS(o)[i] = kobj_put(&p, m->labels[i].p, m->labels[i].n);
    for (size_t i = 0; i < m->nowners; i++)
        KOBJ_OWNERS(o)[i] = kobj_put(&p, m->owners[i].p, m->owners[i].n);
}

/* A text in two pieces, written one after the other: `head` (may be empty)
 * then `rest`. */
struct kobj_text {
    const char *head;
    size_t head_len;
    const char *rest;
    size_t rest_len;
};

/* The block for metadata `m` around the text t->head + t->rest, whose
 * "kind" and "apiVersion" are type[0] and type[1]. */
static struct kobj *kobj_build(const struct kobjmeta *m, const struct kobj_text *t,
                               const struct kobjmeta_str *type)
{
    size_t text_len = t->head_len + t->rest_len;
    if (text_len > UINT32_MAX || m->nlabels > UINT32_MAX / 4 || m->nowners > UINT32_MAX / 4)
        kerr_oom(); /* beyond any object an API server stores */
    size_t ptrs = (2 * m->nlabels + m->nowners) * sizeof(const char *);
    struct kobj *o = kerr_xmalloc(sizeof *o + ptrs + text_len + 1 + kobj_strings_size(m, type));
    atomic_init(&o->refs, 1);
    o->nlabels = (uint32_t)m->nlabels;
    o->nowners = (uint32_t)m->nowners;
    o->controller_idx = m->controller_idx;
    o->text_len = (uint32_t)text_len;
    o->zlen = 0;
    o->pack = NULL;
    o->generation = m->generation;
    o->deleting = m->deleting;
    char *p = (char *)(o->slots + 2 * m->nlabels + m->nowners);
    o->text = p;
    if (t->head_len)
        memcpy(p, t->head, t->head_len);
    memcpy(p + t->head_len, t->rest, t->rest_len);
    p[text_len] = '\0';
    kobj_fill(o, m, type, p + text_len + 1);
    return o;
}

/* kobj_build with the metadata read from the tree `obj`. */
static struct kobj *kobj_build_tree(const json_t *obj, const char *text, size_t text_len,
                                    const char *kind, const char *api_version)
{
    struct kobjmeta m;
    struct kobjmeta_str type[2] = {kobj_str(kind), kobj_str(api_version)};
    kobj_tree_meta(obj, &m);
    struct kobj_text t = {NULL, 0, text, text_len};
    struct kobj *o = kobj_build(&m, &t, type);
    kobj_tree_meta_free(&m);
    return o;
}

static bool kobj_named(const json_t *obj)
{
    return json_is_object(obj) &&
           json_is_string(json_object_get(json_object_get(obj, "metadata"), "name"));
}

struct kobj *kobj_new_with_type(const json_t *obj, const char *api_version, const char *kind)
{
    if (!kobj_named(obj))
        return NULL;
    json_t *stripped = kobj_strip(obj, api_version, kind);
    char *text = json_dumps(stripped, JSON_COMPACT);
    struct kobj *o = NULL;
    if (text)
        o = kobj_build_tree(obj, text, strlen(text), kobj_jstr(stripped, "kind"),
                            kobj_jstr(stripped, "apiVersion"));
    else
        kerr_oom();
    free(text);
    json_decref(stripped);
    return o;
}

/* `s` as a JSON string at `out`, which has room for 6 * strlen(s) + 2
 * bytes (jansson's longest escape, \uXXXX, for each byte); returns the
 * bytes written. A kind or apiVersion is plain ASCII: quoted as it is. */
static size_t kobj_json_string(char *out, const char *s)
{
    size_t n = strlen(s), i = 0;
    while (i < n && kjt_plain_byte((unsigned char)s[i]))
        i++;
    if (i == n) {
        out[0] = '"';
        memcpy(out + 1, s, n + 1); /* its NUL becomes the closing quote */
        out[n + 1] = '"';
        return n + 2;
    }
    json_t *j = json_string(s);
    size_t w = j ? json_dumpb(j, out, 6 * n + 2, JSON_ENCODE_ANY | JSON_COMPACT) : 0;
    json_decref(j);
    if (w == 0 || w > 6 * n + 2)
        kerr_oom(); /* not UTF-8: the informer's own kind and apiVersion are */
    return w;
}

/* `"key":<s as JSON>,` at out; returns the bytes written. */
static size_t kobj_member(char *out, const char *key, const char *s)
{
    size_t k = strlen(key);
    out[0] = '"';
    memcpy(out + 1, key, k + 1); /* its NUL becomes the closing quote */
    out[k + 1] = '"';
    out[k + 2] = ':';
    size_t n = k + 3 + kobj_json_string(out + k + 3, s);
    out[n] = ',';
    return n + 1;
}

/* Room kobj_head needs for `kind` and `av` (NULL: not inserted). */
static size_t kobj_head_room(const char *kind, const char *av)
{
    return 2 + (kind ? 6 * strlen(kind) + 10 : 0) + (av ? 6 * strlen(av) + 16 : 0);
}

/* The text with `"kind":..,"apiVersion":..,` inserted after its '{' for
 * those given (NULL: not inserted), as two pieces: the head, '{' and the
 * members, written to `head` (kobj_head_room bytes), and the rest of
 * `text` from its first member (or its '}' when the object is empty: the
 * head then drops its last ','). The text is an object that parsed, but it
 * may have whitespace before its '{' and after it (not always minified). */
static struct kobj_text kobj_head(const char *text, size_t len, const char *kind, const char *av,
                                  char *head)
{
    size_t n = 0, open = 0;
    while (open < len && text[open] != '{')
        open++; /* only whitespace can come before it */
    size_t first = kjs_skip_ws(text, open + 1, len);
    head[n++] = '{';
    if (kind)
        n += kobj_member(head + n, "kind", kind);
    if (av)
        n += kobj_member(head + n, "apiVersion", av);
    if (first < len && text[first] == '}')
        n--; /* the object was empty: no ',' before its '}' */
    return (struct kobj_text){head, n, text + first, len - first};
}

/* kobj_build around `text`, with kind / apiVersion inserted first when
 * given and the text has none of its own (in_text[0], in_text[1]); have[0]
 * and have[1] are the text's own kind and apiVersion ("" when absent or
 * not a string). */
static struct kobj *kobj_finish(const struct kobjmeta *m, const char *text, size_t len,
                                const char *api_version, const char *kind,
                                const struct kobjmeta_str *have, const bool *in_text)
{
    bool add_kind = kind && !in_text[0], add_av = api_version && !in_text[1];
    struct kobjmeta_str type[2] = {add_kind ? kobj_str(kind) : have[0],
                                   add_av ? kobj_str(api_version) : have[1]};
    struct kobj_text t = {NULL, 0, text, len};
    if (!add_kind && !add_av)
        return kobj_build(m, &t, type);
    char room[512]; /* any real kind and apiVersion: no allocation per object */
    size_t need = kobj_head_room(add_kind ? kind : NULL, add_av ? api_version : NULL);
    char *head = need <= sizeof room ? room : kerr_xmalloc(need);
    t = kobj_head(text, len, add_kind ? kind : NULL, add_av ? api_version : NULL, head);
    struct kobj *o = kobj_build(m, &t, type);
    if (head != room)
        free(head);
    return o;
}

/* kobj_finish with the metadata, kind and apiVersion of the tree `view`. */
static struct kobj *kobj_finish_tree(const json_t *view, const char *text, size_t len,
                                     const char *api_version, const char *kind, bool kind_in_text,
                                     bool av_in_text)
{
    struct kobjmeta m;
    struct kobjmeta_str have[2] = {
        kobj_str(json_string_value(json_object_get(view, "kind"))),
        kobj_str(json_string_value(json_object_get(view, "apiVersion")))};
    bool in_text[2] = {kind_in_text, av_in_text};
    kobj_tree_meta(view, &m);
    struct kobj *o = kobj_finish(&m, text, len, api_version, kind, have, in_text);
    kobj_tree_meta_free(&m);
    return o;
}

struct kobj *kobj_new_from_text(const char *text, size_t len, const char *api_version,
                                const char *kind, json_t **tree, struct kerr_info *err)
{
    json_error_t jerr;
    struct kobj *o = NULL;
    if (tree)
        *tree = NULL;
    json_t *obj = json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
    if (!obj) {
        kerr_set(err, KERR_PARSE, 0, "BadJSON", "object is not valid JSON: %s", jerr.text);
        return NULL;
    }
    if (!kobj_named(obj))
        goto out;
    if (json_object_get(json_object_get(obj, "metadata"), "managedFields")) {
        o = kobj_new_with_type(obj, api_version, kind); /* the text keeps it: strip */
        goto out;
    }
    o = kobj_finish_tree(obj, text, len, api_version, kind, json_object_get(obj, "kind") != NULL,
                         json_object_get(obj, "apiVersion") != NULL);
out:
    if (o && tree)
        *tree = obj;
    else
        json_decref(obj);
    return o;
}

struct kobj *kobj_new_from_json(const json_t *obj)
{
    return kobj_new_with_type(obj, NULL, NULL);
}

/* ---- metadata only: find the top-level members (kjsonstream's machine),
 * parse only metadata ---- */

/* A top-level member (kind, apiVersion), when present and valid, decoded
 * into `view`. */
static void kobj_span_member(const char *t, const struct kjs_span *sp, json_t *view,
                             const char *key)
{
    json_t *v =
        sp->len ? json_loadb(t + sp->off, sp->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
    if (v)
        json_object_set_new(view, key, v);
}

/* A top-level string member's text as a kobjmeta_str ("" when absent);
 * false when it is not a string without escapes. */
static bool kobj_span_string(const char *t, const struct kjs_span *sp, struct kobjmeta_str *out)
{
    *out = kobj_str("");
    return !sp->len || kobjmeta_string(t + sp->off, sp->len, out);
}

/* The kobj of a checked text whose members are `sp`, its metadata read
 * without a tree (kobjmeta); NULL when kobjmeta leaves it to jansson. */
static struct kobj *kobj_meta_fast(const char *text, size_t len, const struct kjs_span *sp,
                                   const char *api_version, const char *kind)
{
    struct kobjmeta m;
    struct kobjmeta_buf buf;
    struct kobjmeta_str have[2];
    bool in_text[2] = {sp[1].len != 0, sp[2].len != 0};
    if (!kobjmeta_read(text + sp[0].off, sp[0].len, &buf, &m) || !m.has_name ||
        !kobj_span_string(text, &sp[1], &have[0]) || !kobj_span_string(text, &sp[2], &have[1]))
        return NULL;
    return kobj_finish(&m, text, len, api_version, kind, have, in_text);
}

/* Both metadata-only constructors: `split` when the text is a splitter's
 * (kjs_split_members), otherwise every byte of it is checked. Without
 * `meta_view` the metadata is read without a tree where it can be. */
static struct kobj *kobj_meta(const char *text, size_t len, bool split, const char *api_version,
                              const char *kind, json_t **meta_view, struct kerr_info *err)
{
    static const char *const want[3] = {"metadata", "kind", "apiVersion"};
    struct kjs_span sp[3];
    struct kerr_info serr;
    json_error_t jerr;
    struct kobj *o = NULL;
    if (meta_view)
        *meta_view = NULL;
    enum kerr rc = split ? kjs_split_members(text, len, want, 3, sp, &serr)
                         : kjs_object_members(text, len, want, 3, sp, &serr);
    if (rc != KERR_OK) {
        kerr_set(err, KERR_PARSE, 0, "BadJSON", "object is not valid JSON: %s", serr.message);
        return NULL;
    }
    if (!sp[0].len || text[sp[0].off] != '{')
        return NULL; /* no metadata, so no name */
    if (!meta_view && (o = kobj_meta_fast(text, len, sp, api_version, kind)))
        return o;
    json_t *meta = json_loadb(text + sp[0].off, sp[0].len, JSON_ALLOW_NUL, &jerr);
    if (!meta) {
        kerr_set(err, KERR_PARSE, 0, "BadJSON", "metadata is not valid JSON: %s", jerr.text);
        return NULL;
    }
    if (json_object_get(meta, "managedFields")) {
        json_decref(meta);
        return kobj_new_from_text(text, len, api_version, kind, meta_view, err);
    }
    json_t *view = json_object();
    if (!view)
        kerr_oom();
    json_object_set_new(view, "metadata", meta);
    kobj_span_member(text, &sp[1], view, "kind");
    kobj_span_member(text, &sp[2], view, "apiVersion");
    if (kobj_named(view))
        o = kobj_finish_tree(view, text, len, api_version, kind, sp[1].len != 0, sp[2].len != 0);
    if (o && meta_view)
        *meta_view = view;
    else
        json_decref(view);
    return o;
}

struct kobj *kobj_new_from_text_meta(const char *text, size_t len, const char *api_version,
                                     const char *kind, json_t **meta_view, struct kerr_info *err)
{
    return kobj_meta(text, len, false, api_version, kind, meta_view, err);
}

struct kobj *kobj_new_from_split_meta(const char *text, size_t len, const char *api_version,
                                      const char *kind, json_t **meta_view, struct kerr_info *err)
{
    return kobj_meta(text, len, true, api_version, kind, meta_view, err);
}

struct kobj *kobj_ref(const struct kobj *o)
{
    struct kobj *m = (struct kobj *)o; /* only the count is mutable */
    if (m)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void kobj_unref(const struct kobj *o)
{
    struct kobj *m = (struct kobj *)o;
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
        kpack_unref(m->pack);
        free(m);
    }
}

const char *kobj_namespace(const struct kobj *o)
{
    return o->ns;
}

const char *kobj_name(const struct kobj *o)
{
    return o->name;
}

const char *kobj_uid(const struct kobj *o)
{
    return o->uid;
}

const char *kobj_resource_version(const struct kobj *o)
{
    return o->rv;
}

const char *kobj_kind(const struct kobj *o)
{
    return o->kind;
}

const char *kobj_api_version(const struct kobj *o)
{
    return o->api_version;
}

long long kobj_generation(const struct kobj *o)
{
    return o->generation;
}

bool kobj_deleting(const struct kobj *o)
{
    return o->deleting;
}

const char *kobj_label(const struct kobj *o, const char *key)
{
    for (size_t i = 0; i < o->nlabels; i++)
        if (strcmp(KOBJ_LABELS(o)[2 * i], key) == 0)
            return KOBJ_LABELS(o)[2 * i + 1];
    return NULL;
}

size_t kobj_label_count(const struct kobj *o)
{
    return o->nlabels;
}

const char *kobj_label_key(const struct kobj *o, size_t i)
{
    return i < o->nlabels ? KOBJ_LABELS(o)[2 * i] : NULL;
}

const char *kobj_label_value(const struct kobj *o, size_t i)
{
    return i < o->nlabels ? KOBJ_LABELS(o)[2 * i + 1] : NULL;
}

bool kobj_owned_by(const struct kobj *o, const char *uid)
{
    for (size_t i = 0; i < o->nowners; i++)
        if (strcmp(KOBJ_OWNERS(o)[i], uid) == 0)
            return true;
    return false;
}

const char *kobj_controller_uid(const struct kobj *o)
{
    return o->controller_idx >= 0 ? KOBJ_OWNERS(o)[o->controller_idx] : NULL;
}

size_t kobj_owner_count(const struct kobj *o)
{
    return o->nowners;
}

const char *kobj_owner_uid(const struct kobj *o, size_t i)
{
    return i < o->nowners ? KOBJ_OWNERS(o)[i] : NULL;
}

const char *kobj_text(const struct kobj *o)
{
    return o->pack ? NULL : o->text;
}

size_t kobj_text_len(const struct kobj *o)
{
    return o->text_len;
}

char *kobj_text_copy(const struct kobj *o)
{
    char *text = kerr_xmalloc(o->text_len + 1);
    text[o->text_len] = '\0';
    if (!o->pack)
        memcpy(text, o->text, o->text_len);
    else if (!kpack_expand(o->pack, (const unsigned char *)o->text, o->zlen, text, o->text_len)) {
        free(text);
        return NULL;
    }
    return text;
}

/* The spans of metadata.<keys[i]> in `text` (len 0: absent). */
static bool kobj_meta_spans(const char *text, size_t len, const char *const *keys, size_t n,
                            struct kjs_span *out)
{
    static const char *const top[1] = {"metadata"};
    struct kjs_span m;
    struct kerr_info err;
    memset(out, 0, n * sizeof *out);
    if (kjs_split_members(text, len, top, 1, &m, &err) != KERR_OK)
        return false;
    if (m.len == 0)
        return true;
    if (kjs_split_members(text + m.off, m.len, keys, n, out, &err) != KERR_OK)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i].off += m.off;
    return true;
}

/* Two member values (spans; len 0: absent) hold the same: the same bytes,
 * else (another key order or other escapes, e.g. a text jansson wrote
 * beside one the API server wrote) the same value as jansson reads them. */
static bool kobj_span_same(const char *ta, struct kjs_span a, const char *tb, struct kjs_span b)
{
    if (a.len == b.len && memcmp(ta + a.off, tb + b.off, a.len) == 0)
        return true;
    if (a.len == 0 || b.len == 0)
        return false;
    const size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_t *va = json_loadb(ta + a.off, a.len, flags, NULL);
    json_t *vb = json_loadb(tb + b.off, b.len, flags, NULL);
    bool same = va && vb && json_equal(va, vb);
    json_decref(va);
    json_decref(vb);
    return same;
}

bool kobj_meta_members_same(const struct kobj *a, const struct kobj *b, const char *const *keys,
                            size_t n)
{
    struct kjs_span sa[KOBJ_MAX_SAME_KEYS], sb[KOBJ_MAX_SAME_KEYS];
    if (n > KOBJ_MAX_SAME_KEYS)
        return false;
    char *ta = kobj_text_copy(a), *tb = kobj_text_copy(b);
    bool same = ta && tb && kobj_meta_spans(ta, a->text_len, keys, n, sa) &&
                kobj_meta_spans(tb, b->text_len, keys, n, sb);
    for (size_t i = 0; same && i < n; i++)
        same = kobj_span_same(ta, sa[i], tb, sb[i]);
    free(ta);
    free(tb);
    return same;
}

json_t *kobj_json(const struct kobj *o)
{
    if (!o->pack)
        return json_loadb(o->text, o->text_len, JSON_ALLOW_NUL, NULL);
    char *text = kobj_text_copy(o);
    json_t *j = text ? json_loadb(text, o->text_len, JSON_ALLOW_NUL, NULL) : NULL;
    free(text);
    return j;
}

bool kobj_packed(const struct kobj *o)
{
    return o->pack != NULL;
}

/* A packed copy's strings that its codec holds (kpack_share), NULL where
 * the copy keeps its own: kind and apiVersion, then the first
 * KOBJ_SHARED_LABELS labels' keys and values. */
#define KOBJ_SHARED_LABELS 32
struct kobj_shared {
    const char *type[2];
    const char *labels[2 * KOBJ_SHARED_LABELS];
};

static void kobj_share(const struct kobj *o, struct kpack *pack, struct kobj_shared *sh)
{
    memset(sh, 0, sizeof *sh);
    kpack_share(pack, o->kind, o->api_version, &sh->type[0], &sh->type[1]);
    for (size_t i = 0; i < o->nlabels && i < KOBJ_SHARED_LABELS; i++)
        kpack_share(pack, KOBJ_LABELS(o)[2 * i], KOBJ_LABELS(o)[2 * i + 1], &sh->labels[2 * i],
                    &sh->labels[2 * i + 1]);
}

static const char *kobj_shared_label(const struct kobj_shared *sh, size_t i)
{
    return i < (size_t)2 * KOBJ_SHARED_LABELS ? sh->labels[i] : NULL;
}

/* Bytes of o's strings other than the text that a packed copy keeps in
 * its own block (each with its NUL). */
static size_t kobj_own_size(const struct kobj *o, const struct kobj_shared *sh)
{
    const char *s[4] = {o->ns, o->name, o->uid, o->rv};
    size_t total =
        (sh->type[0] ? 0 : strlen(o->kind) + 1) + (sh->type[1] ? 0 : strlen(o->api_version) + 1);
    for (size_t i = 0; i < 4; i++)
        total += strlen(s[i]) + 1;
    for (size_t i = 0; i < 2 * (size_t)o->nlabels; i++)
        total += kobj_shared_label(sh, i) ? 0 : strlen(KOBJ_LABELS(o)[i]) + 1;
    for (size_t i = 0; i < o->nowners; i++)
        total += strlen(KOBJ_OWNERS(o)[i]) + 1;
    return total;
}

/* `s` shared, or copied into the block at *at. */
static const char *kobj_place(char **at, const char *shared, const char *s)
{
    return shared ? shared : kobj_put(at, s, strlen(s));
}

/* A copy of `o` whose text is `z` (zlen deflated bytes), its strings
 * shared with the codec or copied after it. */
static struct kobj *kobj_repack(const struct kobj *o, const unsigned char *z, size_t zlen,
                                struct kpack *pack)
{
    struct kobj_shared sh;
    kobj_share(o, pack, &sh);
    size_t nslots = 2 * (size_t)o->nlabels + o->nowners;
    struct kobj *p =
        kerr_xmalloc(sizeof *p + nslots * sizeof(const char *) + zlen + kobj_own_size(o, &sh));
    *p = *o;
    atomic_init(&p->refs, 1);
    char *at = (char *)(p->slots + nslots);
    memcpy(at, z, zlen);
    p->text = at;
    at += zlen;
    p->zlen = (uint32_t)zlen;
    p->pack = kpack_ref(pack);
    const char **dst[4] = {&p->ns, &p->name, &p->uid, &p->rv};
    const char *src[4] = {o->ns, o->name, o->uid, o->rv};
    for (size_t i = 0; i < 4; i++)
        *dst[i] = kobj_put(&at, src[i], strlen(src[i]));
    p->kind = kobj_place(&at, sh.type[0], o->kind);
    p->api_version = kobj_place(&at, sh.type[1], o->api_version);
    for (size_t i = 0; i < 2 * (size_t)o->nlabels; i++)
        KOBJ_LABELS(p)[i] = kobj_place(&at, kobj_shared_label(&sh, i), KOBJ_LABELS(o)[i]);
    for (size_t i = 0; i < o->nowners; i++)
        KOBJ_OWNERS(p)[i] = kobj_put(&at, KOBJ_OWNERS(o)[i], strlen(KOBJ_OWNERS(o)[i]));
    return p;
}

struct kobj *kobj_packed_copy(const struct kobj *o, struct kpack *pack)
{
    if (!o || !pack || o->pack == pack)
        return NULL;
    char *plain = NULL; /* the text of an object packed with another codec */
    const char *text = o->text;
    if (o->pack && !(text = plain = kobj_text_copy(o)))
        return NULL;
    unsigned char stack[8192]; /* most objects: no allocation for the deflated bytes */
    unsigned char *z = o->text_len <= sizeof stack ? stack : kerr_xmalloc(o->text_len);
    size_t zlen = kpack_compress(pack, text, o->text_len, z);
    struct kobj *p = zlen ? kobj_repack(o, z, zlen, pack) : NULL;
    if (z != stack)
        free(z);
    free(plain);
    return p;
}

size_t kobj_packed_len(const struct kobj *o)
{
    return o->pack ? o->zlen : 0;
}

bool kobj_packed_with(const struct kobj *o, const struct kpack *pack)
{
    return o->pack && o->pack == pack;
}

struct kobj *kobj_pack(struct kobj *o, struct kpack *pack)
{
    if (!o || o->pack || atomic_load(&o->refs) != 1)
        return o;
    struct kobj *p = kobj_packed_copy(o, pack);
    if (!p)
        return o;
    kobj_unref(o);
    return p;
}

/* Parse a decimal RV; false if it is not one. */
static bool kobj_rv_num(const char *s, unsigned long long *out)
{
    char *end = NULL;
    if (!s || *s < '0' || *s > '9')
        return false;
    *out = strtoull(s, &end, 10);
    return end && *end == '\0';
}

int kobj_rv_cmp(const char *a, const char *b)
{
    unsigned long long x = 0, y = 0;
    if (kobj_rv_num(a, &x) && kobj_rv_num(b, &y))
        return x < y ? -1 : (x > y ? 1 : 0);
    if (a && b && strcmp(a, b) == 0)
        return 0;
    return 1;
}
