/*
 * kyaml: YAML to jansson through libyaml's event parser (see kyaml.h). A
 * small explicit stack of frames (one per open mapping or sequence) builds
 * the tree; scalars are strings, or typed by the YAML 1.2 core schema
 * (KYAML_TYPED); anchors are kept per document and an alias becomes a deep
 * copy charged to a node budget. The emitter is kyaml_emit.c.
 */
#include "kyaml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define TAG_PREFIX "tag:yaml.org,2002:"

/* One open mapping or sequence. */
struct frame {
    json_t *node; /* object or array being filled (owned) */
    char *key;    /* object: the key waiting for its value (owned) */
    yaml_mark_t key_mark;
    bool merge_next; /* object: the pending key is `<<` */
    json_t *merges;  /* object: merge sources, applied at the end (owned) */
    char *anchor;    /* anchor naming this node (owned) */
};

struct anchor {
    char *name;
    json_t *value; /* a reference (the tree owns the other) */
    size_t nodes;  /* size of value, for the budget */
};

struct loader {
    const char *name;
    unsigned flags;
    size_t max_alias;
    struct kerr_info *err;
    struct frame stack[KYAML_MAX_DEPTH];
    int depth;
    json_t *docs;    /* KYAML_ALL_DOCS: the result */
    json_t *root;    /* the current document's root */
    bool root_blank; /* it is an empty plain scalar (an empty document) */
    bool first_done; /* first document only: it ended, *first is the result */
    json_t *first;
    struct anchor *anchors;
    size_t nanchors, cap_anchors;
    size_t nodes;
    size_t alias_nodes; /* of those, copied by aliases */
};

static enum kerr fail_at(struct loader *ld, yaml_mark_t m, const char *what, const char *detail)
{
    return kerr_set(ld->err, KERR_PARSE, 0, "YAMLError", "%s:%zu:%zu: %s%s%s", ld->name, m.line + 1,
                    m.column + 1, what, detail ? ": " : "", detail ? detail : "");
}

static size_t count_nodes(const json_t *v)
{
    size_t n = 1;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c)
        {
            n += count_nodes(c);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            n += count_nodes(c);
        }
    }
    return n;
}

static void anchors_clear(struct loader *ld)
{
    for (size_t i = 0; i < ld->nanchors; i++) {
        free(ld->anchors[i].name);
        json_decref(ld->anchors[i].value);
    }
    ld->nanchors = 0;
}

static void anchor_add(struct loader *ld, char *name, json_t *v)
{
    if (ld->nanchors == ld->cap_anchors) {
        ld->cap_anchors = ld->cap_anchors ? 2 * ld->cap_anchors : 8;
        ld->anchors = kerr_xrealloc(ld->anchors, ld->cap_anchors * sizeof *ld->anchors);
    }
    /* A later anchor with the same name shadows the earlier one (YAML rule). */
    ld->anchors[ld->nanchors].name = name;
    ld->anchors[ld->nanchors].value = json_incref(v);
    ld->anchors[ld->nanchors].nodes = count_nodes(v);
    ld->nanchors++;
}

static const struct anchor *anchor_find(const struct loader *ld, const char *name)
{
    for (size_t i = ld->nanchors; i > 0; i--)
        if (strcmp(ld->anchors[i - 1].name, name) == 0)
            return &ld->anchors[i - 1];
    return NULL;
}

/* ---- scalar typing (YAML 1.2 core schema) ---- */

static bool all_in(const char *s, const char *set)
{
    if (!*s)
        return false;
    return strspn(s, set) == strlen(s);
}

static bool is_core_float(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    size_t ip = strspn(p, "0123456789");
    p += ip;
    size_t fp = 0;
    if (*p == '.') {
        p++;
        fp = strspn(p, "0123456789");
        p += fp;
    } else if (ip == 0) {
        return false;
    }
    if (ip == 0 && fp == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        size_t ep = strspn(p, "0123456789");
        if (ep == 0)
            return false;
        p += ep;
    }
    return *p == '\0';
}

static bool is_special_float(const char *s)
{
    const char *p = (*s == '+' || *s == '-') ? s + 1 : s;
    return !strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF") || !strcmp(s, ".nan") ||
           !strcmp(s, ".NaN") || !strcmp(s, ".NAN");
}

static bool is_null_word(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int bool_word(const char *s)
{
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return 1;
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return 0;
    return -1;
}

/* 1 = is an integer (stored in *out), 0 = not one, -1 = out of range. */
static int parse_core_int(const char *s, long long *out)
{
    int base = 10;
    const char *digits = s;
    if (s[0] == '0' && s[1] == 'o' && all_in(s + 2, "01234567")) {
        base = 8;
        digits = s + 2;
    } else if (s[0] == '0' && s[1] == 'x' && all_in(s + 2, "0123456789abcdefABCDEF")) {
        base = 16;
        digits = s + 2;
    } else {
        const char *p = (*s == '+' || *s == '-') ? s + 1 : s;
        if (!all_in(p, "0123456789"))
            return 0;
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(digits, &end, base);
    if (errno == ERANGE || !end || *end)
        return -1;
    *out = v;
    return 1;
}

enum want { WANT_ANY, WANT_INT, WANT_FLOAT, WANT_BOOL, WANT_NULL };

/* Resolve a plain (or explicitly typed) scalar. NULL + *why on error. */
static json_t *resolve_scalar(const char *s, enum want want, const char **why)
{
    long long iv;
    if ((want == WANT_ANY || want == WANT_NULL) && is_null_word(s))
        return json_null();
    int b = bool_word(s);
    if ((want == WANT_ANY || want == WANT_BOOL) && b >= 0)
        return json_boolean(b);
    if (want == WANT_ANY || want == WANT_INT || want == WANT_FLOAT) {
        int r = parse_core_int(s, &iv);
        if (r < 0) {
            *why = "integer out of range (int64)";
            return NULL;
        }
        if (r > 0)
            return want == WANT_FLOAT ? json_real((double)iv) : json_integer(iv);
    }
    if ((want == WANT_ANY || want == WANT_FLOAT) && is_core_float(s)) {
        errno = 0;
        double d = strtod(s, NULL);
        if (errno == ERANGE) {
            *why = "float out of range";
            return NULL;
        }
        return json_real(d);
    }
    if ((want == WANT_ANY || want == WANT_FLOAT) && is_special_float(s)) {
        *why = ".inf and .nan cannot be represented in JSON";
        return NULL;
    }
    if (want == WANT_ANY)
        return json_string(s);
    *why = "value does not match its tag";
    return NULL;
}

bool kyaml__plain_is_string(const char *s)
{
    const char *why = NULL;
    json_t *probe = resolve_scalar(s, WANT_ANY, &why);
    bool str = probe && json_is_string(probe);
    json_decref(probe);
    return str;
}

/* KYAML_TYPED: what an explicit tag asks for; false (error set) when the
 * tag is not one of the core schema's. *plain becomes false for !!str and
 * the non-specific "!", true for the other scalar tags. */
static bool scalar_tag(struct loader *ld, const yaml_event_t *ev, enum want *want, bool *plain,
                       enum kerr *rc)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    if (strcmp(tag, "!") == 0) {
        *plain = false; /* non-specific: a string */
        return true;
    }
    if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0) {
        *rc = fail_at(ld, ev->start_mark, "unsupported tag", tag);
        return false;
    }
    static const struct {
        const char *name;
        enum want want;
    } tags[] = {{"int", WANT_INT}, {"float", WANT_FLOAT}, {"bool", WANT_BOOL}, {"null", WANT_NULL}};
    const char *t = tag + strlen(TAG_PREFIX);
    if (!strcmp(t, "str")) {
        *plain = false;
        return true;
    }
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        if (!strcmp(t, tags[i].name)) {
            *want = tags[i].want;
            *plain = true;
            return true;
        }
    }
    *rc = fail_at(ld, ev->start_mark, "unsupported tag on a scalar", tag);
    return false;
}

static json_t *scalar_to_json(struct loader *ld, const yaml_event_t *ev, enum kerr *rc)
{
    const char *val = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    enum want want = WANT_ANY;
    const char *why = NULL;
    json_t *j = NULL;

    if (!(ld->flags & KYAML_TYPED))
        plain = false; /* every scalar is a string; tags are ignored */
    else if (ev->data.scalar.tag && !scalar_tag(ld, ev, &want, &plain, rc))
        return NULL;
    if (!plain || memchr(val, '\0', len)) {
        j = json_stringn(val, len);
        if (!j)
            *rc = fail_at(ld, ev->start_mark, "string is not valid UTF-8", NULL);
        return j;
    }
    j = resolve_scalar(val, want, &why);
    if (!j)
        *rc = fail_at(ld, ev->start_mark, why, val);
    return j;
}

/* ---- tree building ---- */

static enum kerr charge(struct loader *ld, size_t n, yaml_mark_t m)
{
    ld->nodes += n;
    if (ld->nodes > KYAML_MAX_NODES)
        return fail_at(ld, m, "document too large (too many nodes, aliases expanded)", NULL);
    return KERR_OK;
}

/* The value of a `<<` key: its mapping(s) become merge sources of `f`. */
static enum kerr merge_sources(struct loader *ld, struct frame *f, json_t *v, yaml_mark_t m)
{
    enum kerr rc = KERR_OK;
    if (!f->merges)
        f->merges = json_array();
    if (json_is_object(v)) {
        json_array_append_new(f->merges, v);
        return KERR_OK;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            if (!json_is_object(c)) {
                rc = fail_at(ld, m, "merge key << needs mappings", NULL);
                break;
            }
            json_array_append(f->merges, c);
        }
    } else {
        rc = fail_at(ld, m, "merge key << needs a mapping or a list of mappings", NULL);
    }
    json_decref(v);
    return rc;
}

/* Attach `v` (stolen) to the current container or make it the root. */
static enum kerr place(struct loader *ld, json_t *v, yaml_mark_t m)
{
    if (ld->depth == 0) {
        json_decref(ld->root);
        ld->root = v;
        return KERR_OK;
    }
    struct frame *f = &ld->stack[ld->depth - 1];
    if (json_is_array(f->node)) {
        json_array_append_new(f->node, v);
        return KERR_OK;
    }
    enum kerr rc = KERR_OK;
    if (f->merge_next) {
        rc = merge_sources(ld, f, v, m);
    } else if (json_object_get(f->node, f->key)) {
        json_decref(v);
        rc = fail_at(ld, f->key_mark, "duplicate mapping key", f->key);
    } else if (json_object_set_new(f->node, f->key, v) != 0) {
        rc = fail_at(ld, f->key_mark, "mapping key is not valid UTF-8", NULL);
    }
    free(f->key);
    f->key = NULL;
    f->merge_next = false;
    return rc;
}

static bool wants_key(const struct loader *ld)
{
    if (ld->depth == 0)
        return false;
    const struct frame *f = &ld->stack[ld->depth - 1];
    return json_is_object(f->node) && !f->key && !f->merge_next;
}

/* A scalar in key position: the pending key (or `<<`). An anchor on it
 * names its value, as for any scalar. */
static enum kerr on_key(struct loader *ld, const yaml_event_t *ev)
{
    struct frame *f = &ld->stack[ld->depth - 1];
    const char *val = (const char *)ev->data.scalar.value;
    if (memchr(val, '\0', ev->data.scalar.length))
        return fail_at(ld, ev->start_mark, "mapping key contains a NUL byte", NULL);
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag &&
        !strcmp(val, "<<")) {
        f->merge_next = true;
        return KERR_OK;
    }
    if (ev->data.scalar.anchor) {
        enum kerr rc = KERR_OK;
        json_t *v = scalar_to_json(ld, ev, &rc);
        if (!v)
            return rc;
        anchor_add(ld, kerr_xstrdup((const char *)ev->data.scalar.anchor), v);
        json_decref(v);
    }
    f->key = kerr_xstrdup(val);
    f->key_mark = ev->start_mark;
    return KERR_OK;
}

static enum kerr on_scalar(struct loader *ld, const yaml_event_t *ev)
{
    enum kerr rc = charge(ld, 1, ev->start_mark);
    if (rc)
        return rc;
    if (wants_key(ld))
        return on_key(ld, ev);
    json_t *v = scalar_to_json(ld, ev, &rc);
    if (!v)
        return rc;
    if (ev->data.scalar.anchor)
        anchor_add(ld, kerr_xstrdup((const char *)ev->data.scalar.anchor), v);
    if (ld->depth == 0)
        ld->root_blank = ev->data.scalar.length == 0 && !ev->data.scalar.tag &&
                         ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return place(ld, v, ev->start_mark);
}

static enum kerr on_start(struct loader *ld, const yaml_event_t *ev, bool map)
{
    const yaml_char_t *anchor =
        map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    const char *tag =
        (const char *)(map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
    if (wants_key(ld))
        return fail_at(ld, ev->start_mark, "mapping keys must be scalars", NULL);
    if (ld->depth == KYAML_MAX_DEPTH)
        return fail_at(ld, ev->start_mark, "nesting too deep", NULL);
    if ((ld->flags & KYAML_TYPED) && tag &&
        strcmp(tag, map ? TAG_PREFIX "map" : TAG_PREFIX "seq") != 0 && strcmp(tag, "!") != 0)
        return fail_at(ld, ev->start_mark, "unsupported tag", tag);
    enum kerr rc = charge(ld, 1, ev->start_mark);
    if (rc)
        return rc;
    struct frame *f = &ld->stack[ld->depth++];
    memset(f, 0, sizeof *f);
    f->node = map ? json_object() : json_array();
    f->anchor = anchor ? kerr_xstrdup((const char *)anchor) : NULL;
    return KERR_OK;
}

static enum kerr on_end(struct loader *ld, const yaml_event_t *ev)
{
    struct frame *f = &ld->stack[--ld->depth];
    json_t *v = f->node;
    if (f->merges) {
        size_t i;
        json_t *src;
        json_array_foreach(f->merges, i, src)
        {
            json_object_update_missing(v, src);
        }
        json_decref(f->merges);
    }
    free(f->key);
    if (f->anchor)
        anchor_add(ld, f->anchor, v);
    memset(f, 0, sizeof *f);
    if (ld->depth == 0)
        ld->root_blank = false;
    return place(ld, v, ev->start_mark);
}

static enum kerr on_alias(struct loader *ld, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    if (wants_key(ld))
        return fail_at(ld, ev->start_mark, "an alias cannot be a mapping key", name);
    const struct anchor *a = anchor_find(ld, name);
    if (!a)
        return fail_at(ld, ev->start_mark, "unknown anchor (or an alias inside its own anchor)",
                       name);
    ld->alias_nodes += a->nodes;
    if (ld->alias_nodes > ld->max_alias) {
        char what[128];
        snprintf(what, sizeof what,
                 "too many nodes from aliases (they expand to more than %zu nodes: an alias "
                 "bomb?)",
                 ld->max_alias);
        return fail_at(ld, ev->start_mark, what, name);
    }
    enum kerr rc = charge(ld, a->nodes, ev->start_mark);
    if (rc)
        return rc;
    json_t *copy = json_deep_copy(a->value);
    if (ld->depth == 0)
        ld->root_blank = false;
    return place(ld, copy, ev->start_mark);
}

static void on_document_end(struct loader *ld)
{
    if (!(ld->flags & KYAML_ALL_DOCS)) {
        ld->first = ld->root ? ld->root : json_null();
        ld->root = NULL;
        ld->first_done = true;
    } else if (ld->root && !json_is_null(ld->root) && !ld->root_blank) {
        json_array_append(ld->docs, ld->root);
    }
    json_decref(ld->root);
    ld->root = NULL;
    ld->root_blank = false;
    anchors_clear(ld);
}

static enum kerr on_event(struct loader *ld, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        json_decref(ld->root);
        ld->root = NULL;
        ld->root_blank = false;
        return KERR_OK;
    case YAML_DOCUMENT_END_EVENT:
        on_document_end(ld);
        return KERR_OK;
    case YAML_SCALAR_EVENT:
        return on_scalar(ld, ev);
    case YAML_MAPPING_START_EVENT:
        return on_start(ld, ev, true);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(ld, ev, false);
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        return on_end(ld, ev);
    case YAML_ALIAS_EVENT:
        return on_alias(ld, ev);
    case YAML_STREAM_END_EVENT:
        if (!(ld->flags & KYAML_ALL_DOCS))
            return fail_at(ld, ev->start_mark, "empty YAML document", NULL);
        return KERR_OK;
    default:
        return KERR_OK;
    }
}

static void loader_cleanup(struct loader *ld)
{
    while (ld->depth > 0) {
        struct frame *f = &ld->stack[--ld->depth];
        json_decref(f->node);
        json_decref(f->merges);
        free(f->key);
        free(f->anchor);
    }
    anchors_clear(ld);
    free(ld->anchors);
    json_decref(ld->root);
    json_decref(ld->docs);
    json_decref(ld->first);
}

enum kerr kyaml_load(const char *text, size_t len, const struct kyaml_opts *opts, json_t **out,
                     struct kerr_info *err)
{
    static const struct kyaml_opts none = {0, NULL, 0};
    yaml_parser_t parser;
    struct loader ld;
    enum kerr rc = KERR_OK;
    bool done = false;

    *out = NULL;
    if (!opts)
        opts = &none;
    memset(&ld, 0, sizeof ld);
    ld.name = opts->name ? opts->name : "<string>";
    ld.flags = opts->flags;
    ld.max_alias = opts->max_alias_nodes ? opts->max_alias_nodes : KYAML_MAX_ALIAS_NODES;
    ld.err = err;
    ld.docs = json_array();
    if (!yaml_parser_initialize(&parser))
        kerr_oom();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done && rc == KERR_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = fail_at(&ld, parser.problem_mark, parser.problem ? parser.problem : "syntax error",
                         parser.context);
            break;
        }
        rc = on_event(&ld, &ev);
        done = ev.type == YAML_STREAM_END_EVENT || ld.first_done;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (rc == KERR_OK) {
        json_t **res = (ld.flags & KYAML_ALL_DOCS) ? &ld.docs : &ld.first;
        *out = *res;
        *res = NULL;
    }
    loader_cleanup(&ld);
    return rc;
}

enum kerr kyaml_read_file(const char *path, size_t max, char **out, size_t *len,
                          struct kerr_info *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return kerr_set(err, KERR_IO, 0, "ReadFailed", "%s: %s", path, strerror(errno));
    size_t n = 0, alloc = 4096;
    char *buf = kerr_xmalloc(alloc);
    enum kerr rc = KERR_OK;
    for (;;) {
        if (n + 1 >= alloc) {
            if (alloc > max + 1) {
                rc = kerr_set(err, KERR_IO, 0, "TooLarge", "%s: larger than %zu bytes", path, max);
                goto out;
            }
            alloc *= 2;
            buf = kerr_xrealloc(buf, alloc);
        }
        size_t got = fread(buf + n, 1, alloc - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        rc = kerr_set(err, KERR_IO, 0, "ReadFailed", "%s: read error", path);
        goto out;
    }
    if (n > max) {
        rc = kerr_set(err, KERR_IO, 0, "TooLarge", "%s: larger than %zu bytes", path, max);
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    buf = NULL;
    if (len)
        *len = n;
out:
    free(buf);
    fclose(f);
    return rc;
}

enum kerr kyaml_load_file(const char *path, const struct kyaml_opts *opts, json_t **out,
                          struct kerr_info *err)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    enum kerr rc = kyaml_read_file(path, KYAML_MAX_FILE, &text, &len, err);
    if (rc != KERR_OK)
        return rc;
    struct kyaml_opts o = opts ? *opts : (struct kyaml_opts){0, NULL, 0};
    o.name = path;
    rc = kyaml_load(text, len, &o, out, err);
    free(text);
    return rc;
}
