/*
 * kyaml: YAML (libyaml document API) to jansson (see kyaml.h).
 *
 * libyaml builds the node graph of the first document (aliases point at
 * shared nodes); we walk it recursively and build fresh jansson values,
 * counting every value produced so an alias bomb cannot blow up memory:
 * what aliases add beyond the document's own nodes is bounded on its own
 * (KYAML_MAX_ALIAS_NODES), so a bomb fails after little work.
 */
#include "kyaml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct kyaml_walk {
    yaml_document_t *doc;
    unsigned flags;
    size_t produced;
    size_t own; /* the document's own nodes: what is produced beyond is alias expansion */
    struct kerr_info *err;
};

static enum kerr kyaml_node_err(struct kyaml_walk *w, const yaml_node_t *n, const char *what)
{
    return kerr_set(w->err, KERR_PARSE, 0, "BadYAML", "line %zu, column %zu: %s",
                    (size_t)n->start_mark.line + 1, (size_t)n->start_mark.column + 1, what);
}

static bool kyaml_is(const char *v, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(v, *words) == 0)
            return true;
    return false;
}

/* Integer (decimal, 0x hex, 0o octal) or float of the YAML 1.2 core
 * schema; NULL when `v` is neither (.inf/.nan stay strings). */
static json_t *kyaml_number(const char *v)
{
    const char *d = (v[0] == '+' || v[0] == '-') ? v + 1 : v;
    int base = 10;
    if (d == v && v[0] == '0' && (v[1] == 'x' || v[1] == 'o')) {
        base = v[1] == 'x' ? 16 : 8;
        d = v + 2;
    }
    if (*d == '\0')
        return NULL;
    char *end = NULL;
    errno = 0;
    long long i = strtoll(d, &end, base);
    if (*end == '\0' && errno == 0 && (d[0] != '+' && d[0] != '-')) {
        if (v[0] == '-')
            return json_integer(-i);
        return json_integer(i);
    }
    if (base != 10 || strspn(v, "+-.0123456789eE") != strlen(v) || strpbrk(v, "0123456789") == NULL)
        return NULL;
    errno = 0;
    double r = strtod(v, &end);
    if (*end != '\0' || errno != 0)
        return NULL;
    return json_real(r);
}

/* YAML 1.2 core schema resolution of a plain scalar; NULL = keep string. */
static json_t *kyaml_resolve(const char *v, size_t len)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    if (strlen(v) != len)
        return NULL; /* embedded NUL: keep as a string */
    if (kyaml_is(v, nulls))
        return json_null();
    if (kyaml_is(v, trues))
        return json_true();
    if (kyaml_is(v, falses))
        return json_false();
    return kyaml_number(v);
}

static enum kerr kyaml_node(struct kyaml_walk *w, yaml_node_t *n, unsigned depth, json_t **out);

static enum kerr kyaml_scalar(struct kyaml_walk *w, yaml_node_t *n, json_t **out)
{
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    json_t *j = NULL;
    if ((w->flags & KYAML_TYPED) && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        j = kyaml_resolve(v, len);
    if (!j)
        j = json_stringn(v, len);
    if (!j)
        return kyaml_node_err(w, n, "scalar is not valid UTF-8");
    *out = j;
    return KERR_OK;
}

static enum kerr kyaml_sequence(struct kyaml_walk *w, yaml_node_t *n, unsigned depth, json_t **out)
{
    json_t *arr = json_array();
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        json_t *v = NULL;
        enum kerr rc = kyaml_node(w, yaml_document_get_node(w->doc, *it), depth + 1, &v);
        if (rc != KERR_OK) {
            json_decref(arr);
            return rc;
        }
        json_array_append_new(arr, v);
    }
    *out = arr;
    return KERR_OK;
}

static enum kerr kyaml_mapping(struct kyaml_walk *w, yaml_node_t *n, unsigned depth, json_t **out)
{
    json_t *obj = json_object();
    enum kerr rc = KERR_OK;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        if (!k || k->type != YAML_SCALAR_NODE) {
            rc = kyaml_node_err(w, k ? k : n, "mapping key is not a scalar");
            break;
        }
        char *key = kerr_xmalloc(k->data.scalar.length + 1);
        memcpy(key, k->data.scalar.value, k->data.scalar.length);
        key[k->data.scalar.length] = '\0';
        if (strlen(key) != k->data.scalar.length || json_object_get(obj, key)) {
            char msg[200];
            snprintf(msg, sizeof msg, "duplicate or invalid key \"%.120s\"", key);
            free(key);
            rc = kyaml_node_err(w, k, msg);
            break;
        }
        json_t *v = NULL;
        rc = kyaml_node(w, yaml_document_get_node(w->doc, p->value), depth + 1, &v);
        if (rc == KERR_OK && json_object_set_new(obj, key, v) != 0)
            rc = kyaml_node_err(w, k, "mapping key is not valid UTF-8");
        free(key);
        if (rc != KERR_OK)
            break;
    }
    if (rc != KERR_OK) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return KERR_OK;
}

static enum kerr kyaml_node(struct kyaml_walk *w, yaml_node_t *n, unsigned depth, json_t **out)
{
    if (!n)
        return kerr_set(w->err, KERR_PARSE, 0, "BadYAML", "dangling YAML node");
    if (depth > KYAML_MAX_DEPTH)
        return kyaml_node_err(w, n, "nesting too deep");
    if (++w->produced > KYAML_MAX_NODES)
        return kyaml_node_err(w, n, "too many values (alias expansion?)");
    if (w->produced > w->own + KYAML_MAX_ALIAS_NODES)
        return kyaml_node_err(w, n,
                              "too many values from aliases (they expand to more than 10000 "
                              "nodes: an alias bomb?)");
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return kyaml_scalar(w, n, out);
    case YAML_SEQUENCE_NODE:
        return kyaml_sequence(w, n, depth, out);
    case YAML_MAPPING_NODE:
        return kyaml_mapping(w, n, depth, out);
    default:
        return kyaml_node_err(w, n, "empty node");
    }
}

enum kerr kyaml_load_string_ex(const char *text, size_t len, unsigned flags, json_t **out,
                               struct kerr_info *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    enum kerr rc = KERR_OK;
    *out = NULL;
    if (!yaml_parser_initialize(&parser))
        kerr_oom();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = kerr_set(err, KERR_PARSE, 0, "BadYAML", "line %zu, column %zu: %s%s%s",
                      (size_t)parser.problem_mark.line + 1, (size_t)parser.problem_mark.column + 1,
                      parser.problem ? parser.problem : "invalid YAML", parser.context ? " " : "",
                      parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = kerr_set(err, KERR_PARSE, 0, "BadYAML", "empty YAML document");
    } else {
        struct kyaml_walk w = {&doc, flags, 0, (size_t)(doc.nodes.top - doc.nodes.start), err};
        rc = kyaml_node(&w, root, 0, out);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

enum kerr kyaml_load_string(const char *text, size_t len, json_t **out, struct kerr_info *err)
{
    return kyaml_load_string_ex(text, len, 0, out, err);
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

enum kerr kyaml_load_file(const char *path, json_t **out, struct kerr_info *err)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    enum kerr rc = kyaml_read_file(path, KYAML_MAX_FILE, &text, &len, err);
    if (rc != KERR_OK)
        return rc;
    struct kerr_info local;
    kerr_clear(&local);
    rc = kyaml_load_string(text, len, out, &local);
    free(text);
    if (rc != KERR_OK)
        kerr_set(err, rc, 0, local.reason, "%s: %s", path, local.message);
    return rc;
}
