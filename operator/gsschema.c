/*
 * gsschema: see gsschema.h. A recursive walk over the OpenAPI node; each
 * keyword is copied, converted or folded into the description.
 */
#include "gsschema.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "kyaml.h"

#define GSSCHEMA_ID "https://grace.dev/schemas/v1alpha1/graceservice-spec.json"

static const char *const copied[] = {
    "type",      "description", "default",  "enum",      "format",        "pattern",
    "minimum",   "maximum",     "minLength", "maxLength", "minItems",      "maxItems",
    "minProperties", "maxProperties", "required", NULL};

/* Keep a reference to v (ours: the converted CRD is never shared). */
static void set_ref(json_t *o, const char *k, const json_t *v)
{
    json_object_set_new(o, k, json_incref((json_t *)(uintptr_t)v));
}

static bool in_list(const char *const *l, const char *k)
{
    for (; *l; l++)
        if (strcmp(*l, k) == 0)
            return true;
    return false;
}

static enum kerr node(const json_t *in, const char *path, json_t **out, struct kerr_info *err);

static enum kerr sub(json_t *dst, const char *key, const json_t *v, const char *path,
                     struct kerr_info *err)
{
    char p[1024];
    snprintf(p, sizeof p, "%s.%s", path, key);
    json_t *o = NULL;
    enum kerr e = node(v, p, &o, err);
    if (e == KERR_OK)
        json_object_set_new(dst, key, o);
    return e;
}

static enum kerr props(json_t *dst, const json_t *v, const char *path, struct kerr_info *err)
{
    json_t *ps = json_object();
    json_object_set_new(dst, "properties", ps);
    const char *k;
    json_t *pv;
    json_object_foreach((json_t *)v, k, pv) {
        enum kerr e = sub(ps, k, pv, path, err);
        if (e != KERR_OK)
            return e;
    }
    return KERR_OK;
}

static enum kerr list(json_t *dst, const char *key, const json_t *v, const char *path,
                      struct kerr_info *err)
{
    json_t *a = json_array();
    json_object_set_new(dst, key, a);
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        char p[1024];
        snprintf(p, sizeof p, "%s.%s[%zu]", path, key, i);
        json_t *o = NULL;
        enum kerr e = node(x, p, &o, err);
        if (e != KERR_OK)
            return e;
        json_array_append_new(a, o);
    }
    return KERR_OK;
}

/* Sentences appended to the description (rules, list keys). */
static void describe(json_t *dst, const char *extra)
{
    const char *d = json_string_value(json_object_get(dst, "description"));
    size_t n = (d ? strlen(d) : 0) + strlen(extra) + 2;
    char *s = kerr_xmalloc(n);
    snprintf(s, n, "%s%s%s", d ? d : "", d && *d ? " " : "", extra);
    json_object_set_new(dst, "description", json_string(s));
    free(s);
}

/* Add a pattern (into allOf when the node has one already). */
static void add_pattern(json_t *dst, const char *re)
{
    if (!json_object_get(dst, "pattern")) {
        json_object_set_new(dst, "pattern", json_string(re));
        return;
    }
    json_t *all = json_object_get(dst, "allOf");
    if (!all) {
        all = json_array();
        json_object_set_new(dst, "allOf", all);
    }
    json_array_append_new(all, json_pack("{s:s}", "pattern", re));
}

/* A rule that is exactly self.matches('RE') or self.startsWith('S') (no
 * quote inside) is also a pattern, so a validator checks it. */
static void rule_pattern(json_t *dst, const char *rule)
{
    static const char *const fns[] = {"self.matches('", "self.startsWith('"};
    for (size_t f = 0; f < 2; f++) {
        size_t n = strlen(fns[f]), len = strlen(rule);
        if (strncmp(rule, fns[f], n) != 0 || len < n + 2 || strcmp(rule + len - 2, "')") != 0)
            continue;
        const char *arg = rule + n;
        size_t alen = len - n - 2;
        if (memchr(arg, '\'', alen))
            return;
        char re[1024];
        size_t k = 0;
        if (f == 1)
            re[k++] = '^';
        for (size_t i = 0; i < alen && k + 3 < sizeof re; i++) {
            if (f == 1 && strchr("\\^$.|?*+()[]{}/", arg[i]))
                re[k++] = '\\';
            re[k++] = arg[i];
        }
        re[k] = '\0';
        add_pattern(dst, re);
    }
}

static void rules(json_t *dst, const json_t *v)
{
    size_t i;
    json_t *r;
    json_array_foreach(v, i, r) {
        const char *msg = json_string_value(json_object_get(r, "message"));
        const char *rule = json_string_value(json_object_get(r, "rule"));
        char buf[2048];
        snprintf(buf, sizeof buf, "Rule: %s.", msg ? msg : rule ? rule : "");
        describe(dst, buf);
        if (rule)
            rule_pattern(dst, rule);
    }
}

static void map_keys(json_t *dst, const json_t *keys)
{
    char buf[512] = "Entries are unique by";
    size_t i, n = strlen(buf);
    json_t *k;
    json_array_foreach(keys, i, k)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? ", " : " ",
                              json_string_value(k));
    snprintf(buf + n, sizeof buf - n, ".");
    describe(dst, buf);
}

static void add_null(json_t *dst)
{
    json_t *t = json_object_get(dst, "type");
    if (json_is_string(t))
        json_object_set_new(dst, "type", json_pack("[O, s]", t, "null"));
}

/* The x-kubernetes-* keywords and the OpenAPI 3.0 forms. */
static enum kerr special(json_t *dst, const json_t *in, const char *k, const json_t *v,
                        const char *path, struct kerr_info *err)
{
    if (strcmp(k, "x-kubernetes-validations") == 0)
        rules(dst, v);
    else if (strcmp(k, "x-kubernetes-int-or-string") == 0)
        json_object_set_new(dst, "type", json_pack("[s, s]", "integer", "string"));
    else if (strcmp(k, "x-kubernetes-list-type") == 0) {
        if (strcmp(json_string_value(v), "set") == 0)
            json_object_set_new(dst, "uniqueItems", json_true());
    } else if (strcmp(k, "x-kubernetes-list-map-keys") == 0)
        map_keys(dst, v);
    else if (strcmp(k, "x-kubernetes-preserve-unknown-fields") == 0)
        ; /* additionalProperties stays open (see node) */
    else if (strcmp(k, "nullable") == 0) {
        if (json_is_true(v))
            add_null(dst);
    } else if (strcmp(k, "exclusiveMinimum") == 0 || strcmp(k, "exclusiveMaximum") == 0) {
        const char *bound = k[9] == 'M' && k[10] == 'i' ? "minimum" : "maximum";
        if (json_is_true(v)) {
            set_ref(dst, k, json_object_get(in, bound));
            json_object_del(dst, bound);
        }
    } else
        return kerr_set(err, KERR_INVAL, 0, "UnknownKeyword",
                        "%s: CRD schema keyword \"%s\" has no JSON Schema conversion", path, k);
    return KERR_OK;
}

static enum kerr keyword(json_t *dst, const json_t *in, const char *k, const json_t *v,
                         const char *path, struct kerr_info *err)
{
    if (in_list(copied, k)) {
        if (!json_object_get(dst, k) || strcmp(k, "description") != 0)
            set_ref(dst, k, v);
        return KERR_OK;
    }
    if (strcmp(k, "properties") == 0)
        return props(dst, v, path, err);
    if (strcmp(k, "items") == 0 || strcmp(k, "not") == 0 ||
        (strcmp(k, "additionalProperties") == 0 && json_is_object(v)))
        return sub(dst, k, v, path, err);
    if (strcmp(k, "additionalProperties") == 0) {
        set_ref(dst, k, v);
        return KERR_OK;
    }
    if (strcmp(k, "allOf") == 0 || strcmp(k, "anyOf") == 0 || strcmp(k, "oneOf") == 0)
        return list(dst, k, v, path, err);
    return special(dst, in, k, v, path, err);
}

static enum kerr node(const json_t *in, const char *path, json_t **out, struct kerr_info *err)
{
    json_t *dst = json_object();
    /* description first: the rules and list keys append to it */
    const json_t *d = json_object_get(in, "description");
    if (d)
        set_ref(dst, "description", d);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v) {
        if (strcmp(k, "exclusiveMinimum") == 0 || strcmp(k, "exclusiveMaximum") == 0)
            continue; /* after minimum / maximum are in place */
        enum kerr e = keyword(dst, in, k, v, path, err);
        if (e != KERR_OK) {
            json_decref(dst);
            return e;
        }
    }
    static const char *const excl[] = {"exclusiveMinimum", "exclusiveMaximum"};
    for (size_t i = 0; i < 2; i++)
        if (json_object_get(in, excl[i]))
            special(dst, in, excl[i], json_object_get(in, excl[i]), path, err);
    if (json_object_get(in, "nullable") && json_is_true(json_object_get(in, "nullable")))
        add_null(dst); /* the type may have come after nullable */
    if (json_object_get(in, "properties") && !json_object_get(in, "additionalProperties") &&
        !json_is_true(json_object_get(in, "x-kubernetes-preserve-unknown-fields")))
        json_object_set_new(dst, "additionalProperties", json_false());
    *out = dst;
    return KERR_OK;
}

enum kerr gsschema_convert(const json_t *openapi, json_t **out, struct kerr_info *err)
{
    return node(openapi, "spec", out, err);
}

enum kerr gsschema_from_crd(const char *yaml, size_t len, json_t **out, struct kerr_info *err)
{
    json_t *docs = NULL, *schema = NULL;
    enum kerr e = kyaml_load(
        yaml, len, &(struct kyaml_opts){KYAML_MANIFESTS, "crds/graceservice.yaml", 0}, &docs, err);
    if (e != KERR_OK)
        return e;
    const json_t *v = json_array_get(json_object_get(json_object_get(json_array_get(docs, 0),
                                                                      "spec"),
                                                     "versions"),
                                     0);
    const json_t *spec = json_object_get(
        json_object_get(json_object_get(json_object_get(v, "schema"), "openAPIV3Schema"),
                        "properties"),
        "spec");
    if (!json_is_object(spec))
        e = kerr_set(err, KERR_INVAL, 0, "NoSpec",
                     "the CRD has no versions[0].schema.openAPIV3Schema.properties.spec");
    else
        e = gsschema_convert(spec, &schema, err);
    if (e == KERR_OK) {
        json_t *top = json_pack("{s:s, s:s, s:s}", "$schema",
                                "https://json-schema.org/draft/2020-12/schema", "$id",
                                GSSCHEMA_ID, "title", "GraceService spec (grace.dev/v1alpha1)");
        json_object_update(top, schema);
        json_decref(schema);
        *out = top;
    }
    json_decref(docs);
    return e;
}

int cmd_schema(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        bool json_out = strcmp(argv[i], "-o") == 0 && i + 1 < argc &&
                        strcmp(argv[i + 1], "json") == 0;
        if (json_out) {
            i++;
            continue;
        }
        FILE *f = strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ? stdout : stderr;
        fputs("usage: grace-operator schema [-o json]\n\n"
              "Print the GraceService spec as a standalone JSON Schema (draft 2020-12),\n"
              "from the CRD this binary was built with: descriptions, defaults, enums,\n"
              "limits; CEL rules are described in the descriptions. docs/agents.md.\n",
              f);
        return f == stdout ? 0 : 2;
    }
    json_t *s = NULL;
    struct kerr_info err = {0};
    if (gsschema_from_crd((const char *)grace_crd_yaml, grace_crd_yaml_len, &s, &err) !=
        KERR_OK) {
        fprintf(stderr, "grace-operator schema: %s\n", err.message);
        return 1;
    }
    json_dumpf(s, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(s);
    return 0;
}
