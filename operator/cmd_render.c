/*
 * cmd_render: `grace-operator render` (see cmd_render.h). Reads the
 * manifests with kyaml (KYAML_MANIFESTS), applies the CRD defaults from a
 * small table (keep it in step with crds/graceservice.yaml), validates the fields the
 * templates rely on, renders with the same engine and render_finish as the
 * operator, and prints JSON (a List) or YAML documents.
 */
#include "cmd_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "kyaml.h"
#include "render.h"

#define GS_API_VERSION "grace.dev/v1alpha1"

static const char cmd_render_usage[] =
    "usage: grace-operator render -f FILE [--config FILE] [--templates DIR] [-o json|yaml]\n"
    "\n"
    "Print, offline, the objects the operator would apply for every GraceService\n"
    "in FILE (\"-\" reads standard input), with the CRD's defaults applied.\n"
    "\n"
    "  -f, --filename FILE   manifest(s), YAML or JSON, several documents allowed\n"
    "  --config FILE         operator configuration (default: built-in defaults)\n"
    "  --templates DIR       template directory (default: config templatesDir,\n"
    "                        else <bin>/../templates, else " RENDER_SYSTEM_TEMPLATES ")\n"
    "  -o, --output FORMAT   json (a List, default) or yaml (one document per object)\n"
    "  -h, --help            this text\n";

/* Defaults, applied in order: an entry applies when its parent object
 * exists and the field is absent. */
static const struct {
    const char *parent, *field, *value; /* value is JSON */
} cmd_render_defaults[] = {
    {"spec", "replicas", "1"},
    {"spec", "port", "8000"},
    {"spec", "healthPath", "\"/healthz\""},
    {"spec", "openapiPath", "\"/openapi.json\""},
    {"spec", "ingress", "{}"},
    {"spec.ingress", "enabled", "true"},
    {"spec", "tls", "{}"},
    {"spec.tls", "enabled", "true"},
    {"spec", "tailscale", "{}"},
    {"spec.tailscale", "enabled", "true"},
    {"spec.postgres", "deletionPolicy", "\"Retain\""},
    {"spec", "backup", "{}"},
    {"spec.backup", "enabled", "true"},
    {"spec", "egress", "{}"},
    {"spec.egress", "restricted", "false"},
};

static json_t *at_path(json_t *root, const char *path)
{
    char seg[64];
    const char *p = path;
    json_t *cur = root;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(seg, sizeof seg, "%.*s", (int)n, p);
        cur = json_object_get(cur, seg);
        p += n + (dot ? 1 : 0);
    }
    return cur;
}

void cmd_render_apply_defaults(json_t *gs)
{
    json_t *md = json_object_get(gs, "metadata");
    if (json_is_object(md) && !json_is_string(json_object_get(md, "namespace")))
        json_object_set_new(md, "namespace", json_string("default"));
    for (size_t i = 0; i < sizeof cmd_render_defaults / sizeof cmd_render_defaults[0]; i++) {
        json_t *parent = at_path(gs, cmd_render_defaults[i].parent);
        if (!json_is_object(parent))
            continue;
        json_t *cur = json_object_get(parent, cmd_render_defaults[i].field);
        if (cur && !json_is_null(cur))
            continue;
        json_object_set_new(parent, cmd_render_defaults[i].field,
                            json_loads(cmd_render_defaults[i].value, JSON_DECODE_ANY, NULL));
    }
}

void cmd_render_defaults_patch(const json_t *object, struct webhook_verdict *v)
{
    const json_t *spec = json_object_get(object, "spec");
    if (!json_is_object(spec))
        return;
    json_t *gs = json_deep_copy(object);
    cmd_render_apply_defaults(gs);
    const char *k;
    json_t *val;
    json_object_foreach(json_object_get(gs, "spec"), k, val)
    {
        if (!json_object_get(spec, k) && !strchr(k, '/') && !strchr(k, '~')) {
            char path[300];
            snprintf(path, sizeof path, "/spec/%s", k);
            webhook_patch(v, "add", path, json_incref(val));
        }
    }
    json_decref(gs);
}

static int is_dns_label(const char *s, int first_letter)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[n - 1] == '-')
        return 0;
    if (first_letter ? !(s[0] >= 'a' && s[0] <= 'z') : s[0] == '-')
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

enum kerr cmd_render_validate(const json_t *gs, struct kerr_info *err)
{
    const json_t *md = json_object_get(gs, "metadata"), *spec = json_object_get(gs, "spec");
    const char *name = json_string_value(json_object_get(md, "name"));
    if (!name)
        return kerr_set(err, KERR_INVALID, 0, "Invalid", "metadata.name: Required value");
    if (!is_dns_label(name, 1))
        return kerr_set(err, KERR_INVALID, 0, "Invalid",
                        "metadata.name \"%s\" must be a DNS-1035 label (lowercase letters, "
                        "digits and '-', starting with a letter, at most 63 characters)",
                        name);
    if (!json_is_object(spec))
        return kerr_set(err, KERR_INVALID, 0, "Invalid", "spec: Required value");
    const json_t *image = json_object_get(spec, "image");
    if (!json_is_string(image) || json_string_length(image) == 0)
        return kerr_set(err, KERR_INVALID, 0, "Invalid",
                        "spec.image: Required value (the container image to run)");
    const json_t *host = json_object_get(spec, "hostname");
    if (host && (!json_is_string(host) || !is_dns_label(json_string_value(host), 0)))
        return kerr_set(err, KERR_INVALID, 0, "Invalid", "spec.hostname must be a DNS label");
    return KERR_OK;
}

struct opts {
    const char *file, *config, *templates, *output;
};

/* 0 = parsed, 1 = --help printed, 2 = usage error (printed). */
static int parse_args(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(cmd_render_usage, stdout);
            return 1;
        }
        if (!strcmp(a, "-f") || !strcmp(a, "--filename"))
            dst = &o->file;
        else if (!strcmp(a, "--config"))
            dst = &o->config;
        else if (!strcmp(a, "--templates"))
            dst = &o->templates;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            dst = &o->output;
        if (!dst || i + 1 >= argc) {
            fprintf(stderr, "grace-operator render: %s %s\n%s",
                    dst ? "missing value for" : "unknown option", a, cmd_render_usage);
            return 2;
        }
        *dst = argv[++i];
    }
    if (!o->file) {
        fprintf(stderr, "grace-operator render: -f FILE is required\n%s", cmd_render_usage);
        return 2;
    }
    if (strcmp(o->output, "json") != 0 && strcmp(o->output, "yaml") != 0) {
        fprintf(stderr, "grace-operator render: -o must be json or yaml, not %s\n", o->output);
        return 2;
    }
    return 0;
}

static enum kerr load_manifests(const char *file, json_t **docs, struct kerr_info *err)
{
    if (strcmp(file, "-") != 0 && strcmp(file, "<stdin>") != 0)
        return kyaml_load_file(file, &(struct kyaml_opts){KYAML_MANIFESTS, NULL, 0}, docs, err);
    size_t cap = 65536, len = 0, n;
    char *buf = kerr_xmalloc(cap);
    while ((n = fread(buf + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap)
            buf = kerr_xrealloc(buf, cap *= 2);
    }
    enum kerr rc =
        kyaml_load(buf, len, &(struct kyaml_opts){KYAML_MANIFESTS, "<stdin>", 0}, docs, err);
    free(buf);
    return rc;
}

/* Render one GraceService document and append its objects to `items`. */
static enum kerr render_one(struct render *r, const struct grace_config *cfg, const char *file,
                            size_t index, json_t *doc, json_t *items, struct kerr_info *err)
{
    json_t *objects = NULL;
    const char *av = json_string_value(json_object_get(doc, "apiVersion"));
    if (!av || strcmp(av, GS_API_VERSION) != 0)
        return kerr_set(err, KERR_INVALID, 0, "Invalid",
                        "%s: document %zu: apiVersion must be %s, got %s", file, index,
                        GS_API_VERSION, av ? av : "(none)");
    cmd_render_apply_defaults(doc);
    enum kerr rc = cmd_render_validate(doc, err);
    if (rc) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return kerr_set(err, rc, 0, "Invalid", "%s: document %zu: %s", file, index, msg);
    }
    rc = render_objects(r, doc, grace_config_json(cfg), &objects, err);
    if (rc == KERR_OK)
        rc = render_finish(doc, objects, err);
    if (rc == KERR_OK)
        json_array_extend(items, objects);
    json_decref(objects);
    return rc;
}

static enum kerr render_all(const struct opts *o, json_t *docs, json_t *items,
                            struct kerr_info *err)
{
    struct grace_config *cfg = NULL;
    struct render *r = NULL;
    size_t i, found = 0;
    json_t *doc;
    enum kerr rc = grace_config_load(o->config, &cfg, err);
    if (rc)
        goto out;
    const char *dir = o->templates ? o->templates : grace_config_templates_dir(cfg);
    rc = render_new(dir, &r, err);
    if (rc)
        goto out;
    json_array_foreach(docs, i, doc)
    {
        const char *kind = json_string_value(json_object_get(doc, "kind"));
        if (!json_is_object(doc) || !kind || strcmp(kind, "GraceService") != 0) {
            fprintf(stderr, "grace-operator render: %s: document %zu: skipping kind %s\n", o->file,
                    i + 1, kind ? kind : "(none)");
            continue;
        }
        found++;
        rc = render_one(r, cfg, o->file, i + 1, doc, items, err);
        if (rc)
            goto out;
    }
    if (!found)
        rc = kerr_set(err, KERR_INVALID, 0, "Invalid",
                      "%s: no GraceService (kind: GraceService, "
                      "apiVersion: %s) found",
                      o->file, GS_API_VERSION);
out:
    render_free(r);
    grace_config_free(cfg);
    return rc;
}

static int print_items(const char *format, json_t *items)
{
    struct kerr_info err;
    if (!strcmp(format, "yaml")) {
        if (kyaml_emit(stdout, items, &err) != KERR_OK) {
            fprintf(stderr, "grace-operator render: %s\n", err.message);
            return 1;
        }
        return 0;
    }
    json_t *list = json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind", "List", "items", items);
    int rc = json_dumpf(list, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(list);
    fputc('\n', stdout);
    return (rc == 0 && fflush(stdout) == 0) ? 0 : 1;
}

int cmd_render(int argc, char **argv)
{
    struct opts o = {NULL, NULL, NULL, "json"};
    const char *shown;
    struct kerr_info err;
    json_t *docs = NULL, *items = json_array();
    int status = parse_args(argc, argv, &o);
    if (status) {
        status = status == 1 ? 0 : 2;
        goto out;
    }
    kerr_clear(&err);
    enum kerr rc = load_manifests(o.file, &docs, &err);
    shown = strcmp(o.file, "-") ? o.file : "<stdin>";
    o.file = shown;
    if (rc == KERR_OK)
        rc = render_all(&o, docs, items, &err);
    if (rc) {
        fprintf(stderr, "grace-operator render: %s\n", err.message);
        status = 1;
        goto out;
    }
    status = print_items(o.output, items);
out:
    json_decref(docs);
    json_decref(items);
    return status;
}
