/*
 * config: loads the operator configuration. One static table lists every
 * field (dotted path, type, default, value check); the defaults tree is
 * built from it, the user's document is walked against it (unknown fields
 * and wrong types are errors naming the path) and merged over the defaults,
 * and the typed views are filled from the merged tree. See config.h and
 * docs/configuration.md (keep the table and that page in step).
 */
#include "config.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyaml.h"

/* The rule of spec.backup.schedule in crds/graceservice.yaml (its
 * x-kubernetes-validations and maxLength), so the default that the
 * templates use when a service sets none passes the same check. */
#define CFG_CRON_RE                                                                                \
    "^((CRON_TZ|TZ)=[^ ]+ )?(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|"             \
    "@every [0-9][0-9a-z.]*|[^ ]+ [^ ]+ [^ ]+ [^ ]+ [^ ]+)$"
#define CFG_CRON_MAX 128

enum cfg_type { T_STRING, T_INT, T_BOOL, T_STRMAP, T_STRLIST };

typedef const char *(*cfg_check)(const json_t *v);

struct cfg_field {
    const char *path;
    enum cfg_type type;
    const char *def;     /* T_STRING: the value; T_INT/T_BOOL: parsed; maps/lists: JSON */
    const char *allowed; /* T_STRING: "|a|b|" enum, or NULL */
    cfg_check check;     /* NULL or returns a problem description */
};

static const char *check_nonempty(const json_t *v)
{
    return json_string_length(v) ? NULL : "must not be empty";
}

static const char *check_dns_name(const json_t *v)
{
    const char *s = json_string_value(v);
    size_t len = strlen(s), label = 0;
    if (len == 0 || len > 253)
        return "must be a DNS name of 1 to 253 characters";
    for (size_t i = 0; i <= len; i++) {
        char ch = s[i];
        if (ch == '.' || ch == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return "must be a DNS name (lowercase labels of 1 to 63 characters)";
            label = 0;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                   (ch == '-' && label > 0)) {
            label++;
        } else {
            return "must be a DNS name (lowercase letters, digits, '-' and '.')";
        }
    }
    return NULL;
}

/* A DNS name, or "" (the feature it names is off). */
static const char *check_dns_name_or_empty(const json_t *v)
{
    return json_string_length(v) ? check_dns_name(v) : NULL;
}

static const char *check_port(const json_t *v)
{
    json_int_t p = json_integer_value(v);
    return (p >= 1 && p <= 65535) ? NULL : "must be a port number between 1 and 65535";
}

static const char *check_field_manager(const json_t *v)
{
    size_t n = json_string_length(v);
    return (n >= 1 && n <= 128) ? NULL : "must be 1 to 128 characters";
}

static const char *check_bootstrap(const json_t *v)
{
    const char *s = json_string_value(v);
    if (!*s)
        return "must not be empty";
    /* host:port[,host:port...] */
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        const char *colon = memchr(s, ':', n);
        if (!colon || colon == s || colon + 1 == s + n)
            return "must be host:port[,host:port...]";
        for (const char *p = colon + 1; p < s + n; p++)
            if (*p < '0' || *p > '9')
                return "must be host:port[,host:port...]";
        s += n + (comma ? 1 : 0);
    }
    return NULL;
}

static const char *check_duration(const json_t *v)
{
    const char *s = json_string_value(v);
    if (!*s)
        return "must be a duration such as 720h or 1h30m";
    while (*s) {
        size_t d = strspn(s, "0123456789");
        if (d == 0)
            return "must be a duration such as 720h or 1h30m";
        s += d;
        if (*s == '.') {
            s++;
            s += strspn(s, "0123456789");
        }
        if (!strncmp(s, "ns", 2) || !strncmp(s, "us", 2) || !strncmp(s, "ms", 2))
            s += 2;
        else if (*s == 'h' || *s == 'm' || *s == 's')
            s += 1;
        else
            return "must be a duration such as 720h or 1h30m (units h, m, s, ms)";
    }
    return NULL;
}

static const char *check_cron(const json_t *v)
{
    const char *s = json_string_value(v);
    regex_t re;
    if (!*s || strlen(s) > CFG_CRON_MAX)
        return "must be a cron expression of 1 to 128 characters";
    if (regcomp(&re, CFG_CRON_RE, REG_EXTENDED | REG_NOSUB) != 0)
        kerr_oom(); /* a constant pattern fails to compile only without memory */
    int rc = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    return rc == 0 ? NULL
                   : "must be a cron expression with 5 fields (e.g. \"0 3 * * *\") or a macro "
                     "such as @daily or \"@every 6h\", optionally after CRON_TZ=<zone>";
}

static const char *check_otlp(const json_t *v)
{
    const char *s = json_string_value(v);
    if (!*s || !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8))
        return NULL;
    return "must be empty or an http:// or https:// URL";
}

static const char *check_queue(const json_t *v)
{
    json_int_t n = json_integer_value(v);
    return (n >= 1 && n <= 1000000) ? NULL : "must be between 1 and 1000000";
}

static const char *check_strmap(const json_t *v)
{
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e)
    {
        if (!json_is_string(e))
            return "values must be strings";
    }
    return NULL;
}

static const struct cfg_field cfg_fields[] = {
    {"baseDomain", T_STRING, "grace.localhost", NULL, check_dns_name},
    {"fieldManager", T_STRING, "grace-operator", NULL, check_field_manager},
    {"templatesDir", T_STRING, "", NULL, NULL},
    {"otlpEndpoint", T_STRING, "", NULL, check_otlp},
    {"operatorTraces.enabled", T_BOOL, "true", NULL, NULL},
    {"operatorTraces.endpoint", T_STRING, "", NULL, check_otlp},
    {"operatorTraces.queueSize", T_INT, "2048", NULL, check_queue},
    {"certificate.issuer.kind", T_STRING, "ClusterIssuer", "|ClusterIssuer|Issuer|", NULL},
    {"certificate.issuer.name", T_STRING, "grace-selfsigned", NULL, check_nonempty},
    {"certificate.issuer.group", T_STRING, "cert-manager.io", NULL, check_nonempty},
    {"route.kind", T_STRING, "IngressRoute", "|IngressRoute|Ingress|", NULL},
    {"route.entryPoint", T_STRING, "websecure", NULL, check_nonempty},
    {"route.ingressClassName", T_STRING, "traefik", NULL, NULL},
    {"tailscale.mode", T_STRING, "shared", "|shared|per-service|off|", NULL},
    {"tailscale.tags", T_STRING, "", NULL, NULL},
    {"tailscale.dnsTarget", T_STRING, "", NULL, NULL},
    {"tailscale.externalDnsPrefixes", T_STRLIST,
     "[\"external-dns.kubernetes.io/\",\"external-dns.alpha.kubernetes.io/\"]", NULL, NULL},
    {"kafka.cluster", T_STRING, "kafka", NULL, check_nonempty},
    {"kafka.namespace", T_STRING, "kafka", NULL, check_dns_name},
    {"kafka.bootstrap", T_STRING, "kafka-kafka-bootstrap.kafka.svc:9092", NULL, check_bootstrap},
    {"kafka.apiVersion", T_STRING, "kafka.strimzi.io/v1",
     "|kafka.strimzi.io/v1|kafka.strimzi.io/v1beta2|", NULL},
    {"kafka.securityProtocol", T_STRING, "SASL_PLAINTEXT", "|SASL_PLAINTEXT|SASL_SSL|", NULL},
    {"kafka.externalTopics", T_STRLIST, "[]", NULL, NULL},
    {"postgres.host", T_STRING, "postgres.grace-system.svc", NULL, check_nonempty},
    {"postgres.port", T_INT, "5432", NULL, check_port},
    {"postgres.sslmode", T_STRING, "prefer", "|disable|allow|prefer|require|verify-ca|verify-full|",
     NULL},
    {"postgres.adminSecret.namespace", T_STRING, "grace-system", NULL, check_dns_name},
    {"postgres.adminSecret.name", T_STRING, "postgres-admin", NULL, check_nonempty},
    {"backup.enabled", T_BOOL, "true", NULL, NULL},
    {"backup.namespace", T_STRING, "velero", NULL, check_dns_name},
    {"backup.storageLocation", T_STRING, "default", NULL, check_nonempty},
    {"backup.defaultSchedule", T_STRING, "0 3 * * *", NULL, check_cron},
    {"backup.defaultTtl", T_STRING, "720h", NULL, check_duration},
    {"egress.gateway.namespace", T_STRING, "traefik", NULL, check_dns_name},
    {"egress.gateway.podLabels", T_STRMAP, "{\"app.kubernetes.io/name\":\"traefik\"}", NULL,
     check_strmap},
    {"egress.dns.namespace", T_STRING, "kube-system", NULL, check_dns_name},
    {"egress.dns.podLabels", T_STRMAP, "{\"k8s-app\":\"kube-dns\"}", NULL, check_strmap},
    {"directory.configMap.namespace", T_STRING, "", NULL, check_dns_name_or_empty},
    {"directory.configMap.name", T_STRING, "grace-directory", NULL,
     check_dns_name_or_empty},
};
#define CFG_NFIELDS (sizeof cfg_fields / sizeof cfg_fields[0])

struct grace_config {
    json_t *json;
    struct grace_config_issuer issuer;
    struct grace_config_route route;
    struct grace_config_kafka kafka;
    struct grace_config_postgres postgres;
    struct grace_config_backup backup;
    struct grace_config_egress egress;
    enum grace_tailscale_mode tailscale_mode;
};

/* ---- the tree ---- */

/* Set `v` (stolen) at dotted `path` in `root`, creating objects. */
static void tree_set(json_t *root, const char *path, json_t *v)
{
    char seg[128];
    const char *p = path;
    json_t *cur = root;
    for (;;) {
        const char *dot = strchr(p, '.');
        if (!dot)
            break;
        snprintf(seg, sizeof seg, "%.*s", (int)(dot - p), p);
        json_t *next = json_object_get(cur, seg);
        if (!next) {
            next = json_object();
            json_object_set_new(cur, seg, next);
        }
        cur = next;
        p = dot + 1;
    }
    json_object_set_new(cur, p, v);
}

static const json_t *tree_get(const json_t *root, const char *path)
{
    char seg[128];
    const char *p = path;
    const json_t *cur = root;
    for (;;) {
        const char *dot = strchr(p, '.');
        if (!dot)
            return json_object_get(cur, p);
        snprintf(seg, sizeof seg, "%.*s", (int)(dot - p), p);
        cur = json_object_get(cur, seg);
        p = dot + 1;
    }
}

static json_t *field_default(const struct cfg_field *f)
{
    switch (f->type) {
    case T_STRING:
        return json_string(f->def);
    case T_INT:
        return json_integer(strtol(f->def, NULL, 10));
    case T_BOOL:
        return json_boolean(!strcmp(f->def, "true"));
    default:
        return json_loads(f->def, 0, NULL);
    }
}

static json_t *defaults_tree(void)
{
    json_t *root = json_object();
    for (size_t i = 0; i < CFG_NFIELDS; i++)
        tree_set(root, cfg_fields[i].path, field_default(&cfg_fields[i]));
    return root;
}

/* ---- validating the user's document ---- */

struct walk {
    const char *name;
    json_t *tree;
    struct kerr_info *err;
};

static const struct cfg_field *field_find(const char *path)
{
    for (size_t i = 0; i < CFG_NFIELDS; i++)
        if (!strcmp(cfg_fields[i].path, path))
            return &cfg_fields[i];
    return NULL;
}

static bool is_section(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < CFG_NFIELDS; i++)
        if (!strncmp(cfg_fields[i].path, path, n) && cfg_fields[i].path[n] == '.')
            return true;
    return false;
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "a mapping";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static enum kerr bad(struct walk *w, const char *path, const char *fmt, const char *a,
                     const char *b)
{
    char detail[256];
    snprintf(detail, sizeof detail, fmt, a, b ? b : "");
    return kerr_set(w->err, KERR_CONFIG, 0, "InvalidConfig", "config %s: field \"%s\": %s", w->name,
                    path, detail);
}

static bool type_ok(const struct cfg_field *f, const json_t *v)
{
    switch (f->type) {
    case T_STRING:
        return json_is_string(v);
    case T_INT:
        return json_is_integer(v);
    case T_BOOL:
        return json_is_boolean(v);
    case T_STRMAP:
        return json_is_object(v);
    case T_STRLIST: {
        size_t i;
        json_t *e;
        if (!json_is_array(v))
            return false;
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e))
                return false;
        }
        return true;
    }
    }
    return false;
}

static const char *const type_names[] = {"a string", "an integer", "a boolean",
                                         "a mapping of strings", "a list of strings"};

static enum kerr check_field(struct walk *w, const struct cfg_field *f, json_t *v)
{
    if (json_is_null(v))
        return KERR_OK; /* null = keep the default */
    if (!type_ok(f, v))
        return bad(w, f->path, "expected %s, got %s", type_names[f->type], json_type_name(v));
    if (f->allowed) {
        char probe[160];
        snprintf(probe, sizeof probe, "|%s|", json_string_value(v));
        if (strchr(json_string_value(v), '|') || !strstr(f->allowed, probe)) {
            char list[160];
            size_t n = 0;
            for (const char *p = f->allowed + 1; *p && n + 3 < sizeof list; p++) {
                if (*p != '|') {
                    list[n++] = *p;
                } else if (p[1]) {
                    list[n++] = ',';
                    list[n++] = ' ';
                }
            }
            list[n] = '\0';
            return bad(w, f->path, "\"%s\" is not one of: %s", json_string_value(v), list);
        }
    }
    const char *problem = f->check ? f->check(v) : NULL;
    if (problem)
        return bad(w, f->path, "%s%s", problem, NULL);
    tree_set(w->tree, f->path, json_incref(v));
    return KERR_OK;
}

static enum kerr walk_object(struct walk *w, const char *prefix, json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        const struct cfg_field *f = field_find(path);
        enum kerr rc = KERR_OK;
        if (f)
            rc = check_field(w, f, v);
        else if (is_section(path) && json_is_object(v))
            rc = walk_object(w, path, v);
        else if (is_section(path) && !json_is_null(v))
            rc = bad(w, path, "expected a mapping, got %s%s", json_type_name(v), NULL);
        else if (!is_section(path))
            rc = kerr_set(w->err, KERR_CONFIG, 0, "UnknownField", "config %s: unknown field \"%s\"",
                          w->name, path);
        if (rc)
            return rc;
    }
    return KERR_OK;
}

/* ---- views ---- */

static const char *str_at(const json_t *root, const char *path)
{
    return json_string_value(tree_get(root, path));
}

static void fill_views(struct grace_config *c)
{
    const json_t *j = c->json;
    c->issuer.kind = str_at(j, "certificate.issuer.kind");
    c->issuer.name = str_at(j, "certificate.issuer.name");
    c->issuer.group = str_at(j, "certificate.issuer.group");
    c->route.kind_name = str_at(j, "route.kind");
    c->route.kind =
        strcmp(c->route.kind_name, "Ingress") ? GRACE_ROUTE_INGRESSROUTE : GRACE_ROUTE_INGRESS;
    c->route.entry_point = str_at(j, "route.entryPoint");
    c->route.ingress_class = str_at(j, "route.ingressClassName");
    const char *mode = str_at(j, "tailscale.mode");
    c->tailscale_mode = !strcmp(mode, "off")           ? GRACE_TAILSCALE_OFF
                        : !strcmp(mode, "per-service") ? GRACE_TAILSCALE_PER_SERVICE
                                                       : GRACE_TAILSCALE_SHARED;
    c->kafka.cluster = str_at(j, "kafka.cluster");
    c->kafka.namespace = str_at(j, "kafka.namespace");
    c->kafka.bootstrap = str_at(j, "kafka.bootstrap");
    c->kafka.api_version = str_at(j, "kafka.apiVersion");
    c->kafka.security_protocol = str_at(j, "kafka.securityProtocol");
    c->postgres.host = str_at(j, "postgres.host");
    c->postgres.port = (int)json_integer_value(tree_get(j, "postgres.port"));
    c->postgres.sslmode = str_at(j, "postgres.sslmode");
    c->postgres.admin_secret_namespace = str_at(j, "postgres.adminSecret.namespace");
    c->postgres.admin_secret_name = str_at(j, "postgres.adminSecret.name");
    c->backup.enabled = json_is_true(tree_get(j, "backup.enabled"));
    c->backup.namespace = str_at(j, "backup.namespace");
    c->backup.storage_location = str_at(j, "backup.storageLocation");
    c->backup.default_schedule = str_at(j, "backup.defaultSchedule");
    c->backup.default_ttl = str_at(j, "backup.defaultTtl");
    c->egress.gateway_namespace = str_at(j, "egress.gateway.namespace");
    c->egress.gateway_pod_labels = tree_get(j, "egress.gateway.podLabels");
    c->egress.dns_namespace = str_at(j, "egress.dns.namespace");
    c->egress.dns_pod_labels = tree_get(j, "egress.dns.podLabels");
}

/* ---- loading ---- */

static enum kerr config_from_docs(const char *name, json_t *docs, struct grace_config **out,
                                  struct kerr_info *err)
{
    struct walk w = {name, defaults_tree(), err};
    enum kerr rc = KERR_OK;
    size_t n = docs ? json_array_size(docs) : 0;
    if (n > 1) {
        rc = kerr_set(err, KERR_CONFIG, 0, "InvalidConfig",
                      "config %s: expected one YAML document, found %zu", name, n);
        goto out;
    }
    if (n == 1) {
        json_t *root = json_array_get(docs, 0);
        if (!json_is_object(root)) {
            rc = kerr_set(err, KERR_CONFIG, 0, "InvalidConfig",
                          "config %s: the document must be a mapping, got %s", name,
                          json_type_name(root));
            goto out;
        }
        rc = walk_object(&w, "", root);
        if (rc)
            goto out;
    }
    struct grace_config *c = kerr_xcalloc(1, sizeof *c);
    c->json = w.tree;
    w.tree = NULL;
    fill_views(c);
    *out = c;
out:
    json_decref(w.tree);
    return rc;
}

static enum kerr parse_error(enum kerr rc, const char *name, struct kerr_info *err)
{
    if (rc == KERR_PARSE && err) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err->message);
        return kerr_set(err, KERR_CONFIG, 0, "InvalidConfig", "config %s: %s", name, msg);
    }
    return rc;
}

/* The file given with --config cannot be read (missing, unreadable). */
static enum kerr config_unreadable(struct kerr_info *err)
{
    char msg[sizeof err->message] = "";
    if (err)
        snprintf(msg, sizeof msg, "%s", err->message);
    return kerr_set(err, KERR_CONFIG, 0, "NoConfig", "configuration file (--config) %s", msg);
}

enum kerr grace_config_load(const char *path, struct grace_config **out, struct kerr_info *err)
{
    json_t *docs = NULL;
    if (path) {
        enum kerr rc =
            kyaml_load_file(path, &(struct kyaml_opts){KYAML_MANIFESTS, NULL, 0}, &docs, err);
        if (rc == KERR_PARSE)
            return parse_error(rc, path, err);
        if (rc) /* cannot be read: say which file it is, not "transport error" */
            return config_unreadable(err);
    }
    enum kerr rc = config_from_docs(path ? path : "<defaults>", docs, out, err);
    json_decref(docs);
    return rc;
}

enum kerr grace_config_load_string(const char *yaml, const char *name, struct grace_config **out,
                                   struct kerr_info *err)
{
    json_t *docs = NULL;
    const char *nm = name ? name : "<string>";
    enum kerr rc =
        kyaml_load(yaml, strlen(yaml), &(struct kyaml_opts){KYAML_MANIFESTS, nm, 0}, &docs, err);
    if (rc)
        return parse_error(rc, nm, err);
    rc = config_from_docs(nm, docs, out, err);
    json_decref(docs);
    return rc;
}

void grace_config_free(struct grace_config *c)
{
    if (!c)
        return;
    json_decref(c->json);
    free(c);
}

const json_t *grace_config_json(const struct grace_config *c)
{
    return c->json;
}

json_t *grace_config_json_copy(const struct grace_config *c)
{
    return json_deep_copy(c->json);
}

const char *grace_config_base_domain(const struct grace_config *c)
{
    return str_at(c->json, "baseDomain");
}

const char *grace_config_field_manager(const struct grace_config *c)
{
    return str_at(c->json, "fieldManager");
}

const char *grace_config_templates_dir(const struct grace_config *c)
{
    const char *s = str_at(c->json, "templatesDir");
    return (s && *s) ? s : NULL;
}

const char *grace_config_otlp_endpoint(const struct grace_config *c)
{
    const char *s = str_at(c->json, "otlpEndpoint");
    return (s && *s) ? s : NULL;
}

const char *grace_config_traces_endpoint(const struct grace_config *c, size_t *queue_size)
{
    const json_t *t = json_object_get(c->json, "operatorTraces");
    *queue_size = (size_t)json_integer_value(json_object_get(t, "queueSize"));
    if (!json_is_true(json_object_get(t, "enabled")))
        return NULL;
    const char *s = json_string_value(json_object_get(t, "endpoint"));
    return (s && *s) ? s : grace_config_otlp_endpoint(c);
}

enum grace_tailscale_mode grace_config_tailscale_mode(const struct grace_config *c)
{
    return c->tailscale_mode;
}

const struct grace_config_issuer *grace_config_issuer(const struct grace_config *c)
{
    return &c->issuer;
}

const struct grace_config_route *grace_config_route(const struct grace_config *c)
{
    return &c->route;
}

const struct grace_config_kafka *grace_config_kafka(const struct grace_config *c)
{
    return &c->kafka;
}

const struct grace_config_postgres *grace_config_postgres(const struct grace_config *c)
{
    return &c->postgres;
}

const struct grace_config_backup *grace_config_backup(const struct grace_config *c)
{
    return &c->backup;
}

const struct grace_config_egress *grace_config_egress(const struct grace_config *c)
{
    return &c->egress;
}
