/*
 * kyamljson: YAML to jansson through libyaml's event parser. A small
 * explicit stack of frames (one per open mapping or sequence) builds the
 * tree; scalars are typed by the YAML 1.2 core schema; anchors are kept per
 * document and an alias becomes a deep copy charged to a node budget.
 * See kyamljson.h for the rules.
 */
#include "kyamljson.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define KYAMLJSON_MAX_FILE ((size_t)64 << 20)

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
    struct kerr_info *err;
    struct frame stack[KYAMLJSON_MAX_DEPTH];
    int depth;
    json_t *docs;
    json_t *root;
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

static json_t *scalar_to_json(struct loader *ld, const yaml_event_t *ev, enum kerr *rc)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    const char *val = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    enum want want = WANT_ANY;
    const char *why = NULL;
    json_t *j = NULL;

    if (tag && strcmp(tag, "!") != 0) {
        if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0) {
            *rc = fail_at(ld, ev->start_mark, "unsupported tag", tag);
            return NULL;
        }
        const char *t = tag + strlen(TAG_PREFIX);
        if (!strcmp(t, "str"))
            plain = false;
        else if (!strcmp(t, "int"))
            want = WANT_INT;
        else if (!strcmp(t, "float"))
            want = WANT_FLOAT;
        else if (!strcmp(t, "bool"))
            want = WANT_BOOL;
        else if (!strcmp(t, "null"))
            want = WANT_NULL;
        else {
            *rc = fail_at(ld, ev->start_mark, "unsupported tag on a scalar", tag);
            return NULL;
        }
        if (want != WANT_ANY)
            plain = true;
    } else if (tag) {
        plain = false; /* "!" = non-specific: a string */
    }
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
    if (ld->nodes > KYAMLJSON_MAX_NODES)
        return fail_at(ld, m, "document too large (too many nodes, aliases expanded)", NULL);
    return KERR_OK;
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
        if (!f->merges)
            f->merges = json_array();
        if (json_is_object(v)) {
            json_array_append_new(f->merges, v);
        } else if (json_is_array(v)) {
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
            json_decref(v);
        } else {
            json_decref(v);
            rc = fail_at(ld, m, "merge key << needs a mapping or a list of mappings", NULL);
        }
    } else if (json_object_get(f->node, f->key)) {
        json_decref(v);
        rc = fail_at(ld, f->key_mark, "duplicate mapping key", f->key);
    } else {
        json_object_set_new(f->node, f->key, v);
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

static enum kerr on_scalar(struct loader *ld, const yaml_event_t *ev)
{
    enum kerr rc = charge(ld, 1, ev->start_mark);
    if (rc)
        return rc;
    if (wants_key(ld)) {
        struct frame *f = &ld->stack[ld->depth - 1];
        const char *val = (const char *)ev->data.scalar.value;
        if (memchr(val, '\0', ev->data.scalar.length))
            return fail_at(ld, ev->start_mark, "mapping key contains a NUL byte", NULL);
        if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag &&
            !strcmp(val, "<<")) {
            f->merge_next = true;
            return KERR_OK;
        }
        f->key = kerr_xstrdup(val);
        f->key_mark = ev->start_mark;
        return KERR_OK;
    }
    json_t *v = scalar_to_json(ld, ev, &rc);
    if (!v)
        return rc;
    if (ev->data.scalar.anchor)
        anchor_add(ld, kerr_xstrdup((const char *)ev->data.scalar.anchor), v);
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
    if (ld->depth == KYAMLJSON_MAX_DEPTH)
        return fail_at(ld, ev->start_mark, "nesting too deep", NULL);
    if (tag && strcmp(tag, map ? TAG_PREFIX "map" : TAG_PREFIX "seq") != 0 && strcmp(tag, "!") != 0)
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
    if (ld->alias_nodes > KYAMLJSON_MAX_ALIAS_NODES)
        return fail_at(ld, ev->start_mark,
                       "too many nodes from aliases (they expand to more than 100000 nodes: an "
                       "alias bomb?)",
                       name);
    enum kerr rc = charge(ld, a->nodes, ev->start_mark);
    if (rc)
        return rc;
    return place(ld, json_deep_copy(a->value), ev->start_mark);
}

static enum kerr on_event(struct loader *ld, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        json_decref(ld->root);
        ld->root = NULL;
        return KERR_OK;
    case YAML_DOCUMENT_END_EVENT:
        if (ld->root && !json_is_null(ld->root))
            json_array_append(ld->docs, ld->root);
        json_decref(ld->root);
        ld->root = NULL;
        anchors_clear(ld);
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
}

enum kerr kyamljson_load_named(const char *buf, size_t len, const char *name, json_t **docs_out,
                               struct kerr_info *err)
{
    yaml_parser_t parser;
    struct loader ld;
    enum kerr rc = KERR_OK;
    bool done = false;

    memset(&ld, 0, sizeof ld);
    ld.name = name ? name : "<string>";
    ld.err = err;
    ld.docs = json_array();
    if (!yaml_parser_initialize(&parser))
        kerr_oom();
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    while (!done && rc == KERR_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = fail_at(&ld, parser.problem_mark, parser.problem ? parser.problem : "syntax error",
                         parser.context);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&ld, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (rc == KERR_OK) {
        *docs_out = ld.docs;
        ld.docs = NULL;
    }
    loader_cleanup(&ld);
    return rc;
}

enum kerr kyamljson_load_string(const char *buf, size_t len, json_t **docs_out,
                                struct kerr_info *err)
{
    return kyamljson_load_named(buf, len, NULL, docs_out, err);
}

static enum kerr read_file(const char *path, char **buf_out, size_t *len_out, struct kerr_info *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return kerr_set(err, KERR_IO, 0, "ReadError", "%s: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = kerr_xmalloc(cap);
    enum kerr rc = KERR_OK;
    for (;;) {
        if (len == cap) {
            if (cap >= KYAMLJSON_MAX_FILE) {
                rc = kerr_set(err, KERR_IO, 0, "TooLarge", "%s: file larger than %zu bytes", path,
                              KYAMLJSON_MAX_FILE);
                break;
            }
            cap *= 2;
            buf = kerr_xrealloc(buf, cap);
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                rc = kerr_set(err, KERR_IO, 0, "ReadError", "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *buf_out = buf;
    *len_out = len;
    return KERR_OK;
}

enum kerr kyamljson_load_file(const char *path, json_t **docs_out, struct kerr_info *err)
{
    char *buf = NULL;
    size_t len = 0;
    enum kerr rc = read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    rc = kyamljson_load_named(buf, len, path, docs_out, err);
    free(buf);
    return rc;
}

/* ---- emitting ---- */

struct emit {
    yaml_emitter_t em;
    bool failed;
};

static void emit_event(struct emit *e, yaml_event_t *ev)
{
    if (e->failed)
        yaml_event_delete(ev); /* the emitter owns events it was given, even on failure */
    else if (!yaml_emitter_emit(&e->em, ev))
        e->failed = true;
}

/* Would a plain `s` read back as something other than this string? */
static bool needs_quotes(const char *s)
{
    static const char *const yaml11[] = {"y",  "Y",  "yes", "Yes", "YES", "n",   "N",   "no", "No",
                                         "NO", "on", "On",  "ON",  "off", "Off", "OFF", "<<", "="};
    const char *why = NULL;
    json_t *probe = resolve_scalar(s, WANT_ANY, &why);
    bool typed = !probe || !json_is_string(probe);
    json_decref(probe);
    if (typed)
        return true;
    for (size_t i = 0; i < sizeof yaml11 / sizeof yaml11[0]; i++)
        if (!strcmp(s, yaml11[i]))
            return true;
    /* YAML 1.1 numbers: 1_000, 0b101, 1:20, 0755 ... */
    if (strchr("0123456789+-.", s[0]) && all_in(s, "0123456789abcdefABCDEFxXoO_:.+-"))
        return true;
    return false;
}

static void emit_scalar(struct emit *e, const char *s, size_t len, bool is_string)
{
    yaml_event_t ev;
    bool quote = is_string && (memchr(s, '\0', len) || needs_quotes(s));
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, !quote, 1,
                                 YAML_ANY_SCALAR_STYLE);
    emit_event(e, &ev);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void emit_real(struct emit *e, double d)
{
    char buf[64];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (!strpbrk(buf, ".eEn"))
        strncat(buf, ".0", sizeof buf - strlen(buf) - 1);
    emit_scalar(e, buf, strlen(buf), false);
}

static void emit_node(struct emit *e, const json_t *v);

static void emit_object(struct emit *e, const json_t *v)
{
    yaml_event_t ev;
    size_t n = json_object_size(v), i = 0;
    const char **keys = kerr_xmalloc((n ? n : 1) * sizeof *keys);
    const char *k;
    json_t *c;
    json_object_foreach((json_t *)v, k, c)
    {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof *keys, cmp_str);
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    emit_event(e, &ev);
    for (i = 0; i < n; i++) {
        emit_scalar(e, keys[i], strlen(keys[i]), true);
        emit_node(e, json_object_get(v, keys[i]));
    }
    free(keys);
    yaml_mapping_end_event_initialize(&ev);
    emit_event(e, &ev);
}

static void emit_array(struct emit *e, const json_t *v)
{
    yaml_event_t ev;
    size_t i;
    json_t *c;
    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
    emit_event(e, &ev);
    json_array_foreach(v, i, c)
    {
        emit_node(e, c);
    }
    yaml_sequence_end_event_initialize(&ev);
    emit_event(e, &ev);
}

static void emit_node(struct emit *e, const json_t *v)
{
    char buf[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        emit_object(e, v);
        break;
    case JSON_ARRAY:
        emit_array(e, v);
        break;
    case JSON_STRING:
        emit_scalar(e, json_string_value(v), json_string_length(v), true);
        break;
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        emit_scalar(e, buf, strlen(buf), false);
        break;
    case JSON_REAL:
        emit_real(e, json_real_value(v));
        break;
    case JSON_TRUE:
        emit_scalar(e, "true", 4, false);
        break;
    case JSON_FALSE:
        emit_scalar(e, "false", 5, false);
        break;
    default:
        emit_scalar(e, "null", 4, false);
        break;
    }
}

enum kerr kyamljson_emit(FILE *out, const json_t *docs, struct kerr_info *err)
{
    struct emit e = {.failed = false};
    yaml_event_t ev;
    size_t i;
    json_t *d;

    if (!json_is_array(docs))
        return kerr_set(err, KERR_INVAL, 0, "BadInput", "kyamljson_emit: docs must be an array");
    if (!yaml_emitter_initialize(&e.em))
        kerr_oom();
    yaml_emitter_set_output_file(&e.em, out);
    yaml_emitter_set_unicode(&e.em, 1);
    yaml_emitter_set_width(&e.em, -1);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    emit_event(&e, &ev);
    json_array_foreach(docs, i, d)
    {
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0);
        emit_event(&e, &ev);
        emit_node(&e, d);
        yaml_document_end_event_initialize(&ev, 1);
        emit_event(&e, &ev);
    }
    yaml_stream_end_event_initialize(&ev);
    emit_event(&e, &ev);
    if (!e.failed && !yaml_emitter_flush(&e.em))
        e.failed = true;
    enum kerr rc = KERR_OK;
    if (e.failed)
        rc = kerr_set(err, KERR_IO, 0, "WriteError", "YAML output failed: %s",
                      e.em.problem ? e.em.problem : "write error");
    yaml_emitter_delete(&e.em);
    return rc;
}
