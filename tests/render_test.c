/*
 * render_test: the template engine and the default templates. The objects of
 * each template for examples/peeps.yaml and examples/minimal.yaml; the
 * Lua ↔ JSON rule (arrays, empty tables, integers vs floats, null); the
 * sandbox (no io/os/require..., read-only inputs and globals); the
 * instruction and memory bounds; error messages with file and line; wrong
 * result shapes; render_finish (labels, namespace, ownerReferences, GitOps
 * tracking metadata); and the `render` subcommand.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_render.h"
#include "config.h"
#include "kyaml.h"
#include "render.h"

/* ---- helpers ---- */

static json_t *load_gs(const char *path)
{
    json_t *docs = NULL;
    struct kerr_info err;
    ck_assert_msg(kyaml_load_file(path, &(struct kyaml_opts){KYAML_MANIFESTS, NULL, 0}, &docs,
                                  &err) == KERR_OK,
                  "%s", err.message);
    json_t *gs = json_incref(json_array_get(docs, 0));
    json_decref(docs);
    cmd_render_apply_defaults(gs);
    json_object_set_new(json_object_get(gs, "metadata"), "uid", json_string("uid-1234"));
    return gs;
}

static struct grace_config *config_from(const char *yaml)
{
    struct grace_config *c = NULL;
    struct kerr_info err;
    ck_assert_msg(grace_config_load_string(yaml ? yaml : "", "t", &c, &err) == KERR_OK, "%s",
                  err.message);
    return c;
}

/* Render `gs_path` with the built-in templates and config `yaml`. */
static json_t *render_file(const char *gs_path, const char *yaml)
{
    struct render *r = NULL;
    struct kerr_info err;
    struct grace_config *c = config_from(yaml);
    json_t *gs = load_gs(gs_path), *out = NULL;
    ck_assert_msg(render_new("templates", &r, &err) == KERR_OK, "%s", err.message);
    ck_assert_msg(render_objects(r, gs, grace_config_json(c), &out, &err) == KERR_OK, "%s",
                  err.message);
    ck_assert_int_eq(render_finish(gs, out, &err), KERR_OK);
    render_free(r);
    grace_config_free(c);
    json_decref(gs);
    return out;
}

static const json_t *find(const json_t *objs, const char *kind, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o)
    {
        const json_t *md = json_object_get(o, "metadata");
        if (!strcmp(json_string_value(json_object_get(o, "kind")), kind) &&
            (!name || !strcmp(json_string_value(json_object_get(md, "name")), name)))
            return o;
    }
    return NULL;
}

static const json_t *path(const json_t *v, const char *p)
{
    char seg[128];
    while (v && *p) {
        size_t n = strcspn(p, "/");
        snprintf(seg, sizeof seg, "%.*s", (int)n, p);
        if (json_is_array(v))
            v = json_array_get(v, strtoul(seg, NULL, 10));
        else
            v = json_object_get(v, seg);
        p += n + (p[n] == '/');
    }
    return v;
}

static const char *str(const json_t *v, const char *p)
{
    return json_string_value(path(v, p));
}

static const json_t *env_var(const json_t *deploy, const char *name)
{
    const json_t *env = path(deploy, "spec/template/spec/containers/0/env");
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        if (!strcmp(str(e, "name"), name))
            return e;
    }
    return NULL;
}

/* A templates dir <tmp>/templates where `name`.lua holds `src` and every
 * other template returns no objects. Returns the dir (static buffer). */
static const char *tdir(const char *name, const char *src)
{
    static char dir[128];
    char root[] = "/tmp/render_testXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(dir, sizeof dir, "%s/templates", root);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    for (int i = 0; i < RENDER_NTEMPLATES; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s.lua", dir, render_template_names[i]);
        FILE *f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fputs(!strcmp(render_template_names[i], name)
                  ? src
                  : "return function(gs, config) return {} end\n",
              f);
        fclose(f);
    }
    return dir;
}

/* Remove a directory made by tdir (templates are compiled at render_new). */
static void rm_tdir(const char *dir)
{
    char p[256];
    for (int i = 0; i < RENDER_NTEMPLATES; i++) {
        snprintf(p, sizeof p, "%s/%s.lua", dir, render_template_names[i]);
        unlink(p);
    }
    rmdir(dir);
    snprintf(p, sizeof p, "%s", dir);
    char *slash = strrchr(p, '/');
    if (slash) {
        *slash = '\0';
        rmdir(p);
    }
}

static json_t *small_gs(void)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:[], s:[s,s]}}", "apiVersion",
                     "grace.dev/v1alpha1", "kind", "GraceService", "metadata", "name", "demo",
                     "namespace", "ns1", "spec", "image", "img", "args", "command", "a", "b");
}

/* Render small_gs with a one-template dir; returns the kerr, fills out/err. */
static enum kerr run_src(const char *src, json_t **out, struct kerr_info *err)
{
    struct render *r = NULL;
    json_t *cfg = json_object(), *gs = small_gs();
    const char *dir = tdir("workload", src);
    enum kerr rc = render_new(dir, &r, err);
    rm_tdir(dir);
    if (rc == KERR_OK) {
        render_set_limits(r, 200000, 4u << 20);
        rc = render_objects(r, gs, cfg, out, err);
    }
    render_free(r);
    json_decref(cfg);
    json_decref(gs);
    return rc;
}

/* Render an object whose spec is the Lua expression `expr`; return spec. */
static json_t *spec_of(const char *expr)
{
    char src[1024];
    json_t *out = NULL;
    struct kerr_info err;
    snprintf(src, sizeof src,
             "return function(gs, config)\n"
             "  return { { apiVersion = 'v1', kind = 'ConfigMap', metadata = { name = 'x' },\n"
             "             spec = %s } }\n"
             "end\n",
             expr);
    ck_assert_msg(run_src(src, &out, &err) == KERR_OK, "%s", err.message);
    json_t *spec = json_incref(json_object_get(json_array_get(out, 0), "spec"));
    json_decref(out);
    return spec;
}

static void expect_template_error(const char *src, const char *needle)
{
    json_t *out = NULL;
    struct kerr_info err;
    ck_assert_int_eq(run_src(src, &out, &err), KERR_TEMPLATE);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(err.message, needle), "message \"%s\" lacks \"%s\"", err.message, needle);
}

/* ---- default templates ---- */

START_TEST(peeps_renders_every_concern_in_template_order)
{
    json_t *objs = render_file("examples/peeps.yaml", NULL);
    const char *want[] = {"Deployment", "Service",   "IngressRoute", "Certificate",
                          "KafkaTopic", "KafkaUser", "Schedule",     "NetworkPolicy"};
    ck_assert_uint_eq(json_array_size(objs), 8);
    for (size_t i = 0; i < 8; i++)
        ck_assert_str_eq(str(json_array_get(objs, i), "kind"), want[i]);
    json_decref(objs);
}
END_TEST

START_TEST(workload_is_restricted_and_wires_database_kafka_and_hostname)
{
    json_t *objs = render_file("examples/peeps.yaml", "otlpEndpoint: http://otel:4318\n");
    const json_t *d = find(objs, "Deployment", "peeps");
    ck_assert_ptr_nonnull(d);
    const json_t *c = path(d, "spec/template/spec/containers/0");
    ck_assert_str_eq(str(c, "image"), "ghcr.io/example/peeps:1.4.2");
    ck_assert(json_is_true(path(c, "securityContext/runAsNonRoot")));
    ck_assert(json_is_true(path(c, "securityContext/readOnlyRootFilesystem")));
    ck_assert(json_is_false(path(c, "securityContext/allowPrivilegeEscalation")));
    ck_assert_str_eq(str(c, "securityContext/capabilities/drop/0"), "ALL");
    ck_assert_str_eq(str(c, "securityContext/seccompProfile/type"), "RuntimeDefault");
    ck_assert_str_eq(str(d, "spec/template/spec/securityContext/seccompProfile/type"),
                     "RuntimeDefault");
    ck_assert_str_eq(str(c, "readinessProbe/httpGet/path"), "/healthz");
    ck_assert_str_eq(str(c, "volumeMounts/0/mountPath"), "/tmp");
    ck_assert_ptr_nonnull(path(d, "spec/template/spec/volumes/0/emptyDir"));
    ck_assert_int_eq(json_integer_value(path(c, "ports/0/containerPort")), 8000);
    ck_assert_int_eq(json_integer_value(path(d, "spec/replicas")), 1);
    ck_assert_int_eq(json_integer_value(path(d, "spec/strategy/rollingUpdate/maxUnavailable")), 0);
    ck_assert_str_eq(str(env_var(d, "DATABASE_URL"), "valueFrom/secretKeyRef/name"),
                     "peeps-postgres");
    ck_assert_str_eq(str(env_var(d, "DATABASE_URL"), "valueFrom/secretKeyRef/key"), "uri");
    ck_assert_str_eq(str(env_var(d, "KAFKA_BOOTSTRAP_SERVERS"), "value"),
                     "kafka-kafka-bootstrap.kafka.svc:9092");
    ck_assert_str_eq(str(env_var(d, "KAFKA_PASSWORD"), "valueFrom/secretKeyRef/name"),
                     "grace-peeps-635e15c76642fb1f");
    ck_assert_str_eq(str(env_var(d, "KAFKA_USERNAME"), "value"), "grace-peeps-635e15c76642fb1f");
    ck_assert_str_eq(str(env_var(d, "KAFKA_GROUP_ID"), "value"), "grace-peeps-635e15c76642fb1f");
    ck_assert_str_eq(str(env_var(d, "GRACE_HOSTNAME"), "value"), "peeps.grace.localhost");
    ck_assert_str_eq(str(env_var(d, "OTEL_EXPORTER_OTLP_ENDPOINT"), "value"), "http://otel:4318");
    ck_assert_str_eq(str(env_var(d, "OTEL_SERVICE_NAME"), "value"), "peeps");
    ck_assert_str_eq(str(find(objs, "Service", "peeps"), "spec/ports/0/targetPort"), "http");
    json_decref(objs);
}
END_TEST

START_TEST(minimal_renders_workload_route_certificate_backup_only)
{
    json_t *objs = render_file("examples/minimal.yaml", NULL);
    const char *want[] = {"Deployment", "Service", "IngressRoute", "Certificate", "Schedule"};
    ck_assert_uint_eq(json_array_size(objs), 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(str(json_array_get(objs, i), "kind"), want[i]);
    const json_t *d = find(objs, "Deployment", "hello");
    ck_assert_ptr_null(env_var(d, "DATABASE_URL"));
    ck_assert_ptr_null(env_var(d, "KAFKA_BOOTSTRAP_SERVERS"));
    ck_assert_ptr_null(env_var(d, "OTEL_EXPORTER_OTLP_ENDPOINT"));
    json_decref(objs);
}
END_TEST

START_TEST(route_and_certificate_follow_the_fqdn_and_config)
{
    json_t *objs = render_file("examples/peeps.yaml",
                               "baseDomain: example.com\ntailscale: {dnsTarget: 100.64.0.1}\n"
                               "certificate: {issuer: {name: le, kind: ClusterIssuer}}\n");
    const json_t *ir = find(objs, "IngressRoute", "peeps");
    ck_assert_str_eq(str(ir, "apiVersion"), "traefik.io/v1alpha1");
    ck_assert_str_eq(str(ir, "spec/routes/0/match"), "Host(`peeps.example.com`)");
    ck_assert_str_eq(str(ir, "spec/entryPoints/0"), "websecure");
    ck_assert_str_eq(str(ir, "spec/tls/secretName"), "peeps-tls");
    const json_t *ann = path(ir, "metadata/annotations");
    ck_assert_str_eq(json_string_value(json_object_get(ann, "external-dns.kubernetes.io/target")),
                     "100.64.0.1");
    ck_assert_str_eq(
        json_string_value(json_object_get(ann, "external-dns.kubernetes.io/cloudflare-proxied")),
        "false");
    const json_t *cert = find(objs, "Certificate", "peeps");
    ck_assert_str_eq(str(cert, "spec/dnsNames/0"), "peeps.example.com");
    ck_assert_str_eq(str(cert, "spec/secretName"), "peeps-tls");
    ck_assert_str_eq(str(cert, "spec/issuerRef/name"), "le");
    json_decref(objs);

    objs = render_file("examples/peeps.yaml", "route: {kind: Ingress}\ntailscale: {mode: off}\n");
    const json_t *ing = find(objs, "Ingress", "peeps");
    ck_assert_ptr_nonnull(ing);
    ck_assert_ptr_null(find(objs, "IngressRoute", NULL));
    ck_assert_str_eq(str(ing, "spec/rules/0/host"), "peeps.grace.localhost");
    ck_assert_str_eq(str(ing, "spec/tls/0/secretName"), "peeps-tls");
    ck_assert_ptr_null(
        json_object_get(path(ing, "metadata/annotations"), "external-dns.kubernetes.io/hostname"));
    json_decref(objs);
}
END_TEST

START_TEST(tailscale_per_service_adds_a_tailnet_service)
{
    json_t *objs =
        render_file("examples/peeps.yaml", "tailscale: {mode: per-service, tags: \"tag:k8s\"}\n");
    const json_t *s = find(objs, "Service", "peeps-tailnet");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(str(s, "spec/loadBalancerClass"), "tailscale");
    ck_assert_str_eq(json_string_value(json_object_get(path(s, "metadata/annotations"),
                                                       "tailscale.com/hostname")),
                     "peeps");
    json_decref(objs);
}
END_TEST

/* Each object is tagged with the template (the concern) that returned it:
 * two Services, one from the workload and one from the tailscale template. */
START_TEST(collect_frees_the_garbage_of_past_renders_and_keeps_the_templates)
{
    struct render *r = NULL;
    struct kerr_info err;
    struct grace_config *c = config_from(NULL);
    json_t *gs = load_gs("examples/peeps.yaml"), *first = NULL, *again = NULL;
    ck_assert_msg(render_new("templates", &r, &err) == KERR_OK, "%s", err.message);
    render_collect(r); /* nothing rendered yet: a no-op */
    size_t loaded = render_heap_bytes(r);
    for (int i = 0; i < 3; i++) {
        json_decref(first);
        first = NULL;
        ck_assert_int_eq(render_objects(r, gs, grace_config_json(c), &first, &err), KERR_OK);
    }
    size_t busy = render_heap_bytes(r);
    render_collect(r);
    size_t idle = render_heap_bytes(r);
    ck_assert_msg(idle < busy, "collect freed nothing: %zu then %zu bytes", busy, idle);
    ck_assert_msg(idle <= loaded + loaded / 4, "idle %zu bytes, %zu after loading", idle, loaded);
    render_collect(r);
    ck_assert_uint_eq(render_heap_bytes(r), idle);
    ck_assert_int_eq(render_objects(r, gs, grace_config_json(c), &again, &err), KERR_OK);
    ck_assert(json_equal(first, again));
    json_decref(first);
    json_decref(again);
    json_decref(gs);
    render_free(r);
    grace_config_free(c);
}
END_TEST

START_TEST(render_objects_from_names_the_template_of_each_object)
{
    struct render *r = NULL;
    struct kerr_info err;
    struct grace_config *c = config_from("tailscale: {mode: per-service}\n");
    json_t *gs = load_gs("examples/peeps.yaml"), *objs = NULL, *from = NULL;
    ck_assert_msg(render_new("templates", &r, &err) == KERR_OK, "%s", err.message);
    ck_assert_int_eq(render_objects_from(r, gs, grace_config_json(c), &objs, &from, &err),
                     KERR_OK);
    ck_assert_uint_eq(json_array_size(from), json_array_size(objs));
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o) {
        const char *kind = json_string_value(json_object_get(o, "kind"));
        const char *name = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
        const char *t = render_template_names[json_integer_value(json_array_get(from, i))];
        if (!strcmp(kind, "Service"))
            ck_assert_str_eq(t, strcmp(name, "peeps-tailnet") ? "workload" : "tailscale");
        else if (!strcmp(kind, "KafkaTopic") || !strcmp(kind, "KafkaUser"))
            ck_assert_str_eq(t, "kafka");
        else if (!strcmp(kind, "Schedule"))
            ck_assert_str_eq(t, "backup");
        else if (!strcmp(kind, "NetworkPolicy"))
            ck_assert_str_eq(t, "egress");
        else if (!strcmp(kind, "Certificate"))
            ck_assert_str_eq(t, "certificate");
    }
    json_decref(objs);
    json_decref(from);
    json_decref(gs);
    grace_config_free(c);
    render_free(r);
}
END_TEST

START_TEST(kafka_topics_and_user_acls)
{
    json_t *objs =
        render_file("examples/full.yaml", "kafka: {apiVersion: kafka.strimzi.io/v1beta2}\n");
    const json_t *t = find(objs, "KafkaTopic", "ledger.entries");
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(str(t, "apiVersion"), "kafka.strimzi.io/v1beta2");
    ck_assert_str_eq(str(t, "metadata/namespace"), "kafka");
    ck_assert_str_eq(
        json_string_value(json_object_get(path(t, "metadata/labels"), "strimzi.io/cluster")),
        "kafka");
    ck_assert_int_eq(json_integer_value(path(t, "spec/partitions")), 6);
    ck_assert_ptr_null(path(t, "metadata/ownerReferences"));
    /* <ns>-<name>-<first 16 hex of SHA-256("finance/ledger")> */
    const json_t *u = find(objs, "KafkaUser", "finance-ledger-bddcff67b0d41487");
    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(str(u, "spec/authentication/type"), "scram-sha-512");
    const json_t *acls = path(u, "spec/authorization/acls");
    ck_assert_uint_eq(json_array_size(acls), 5); /* 2 consumed, group, 2 produced */
    ck_assert_str_eq(str(acls, "2/resource/type"), "group");
    ck_assert_str_eq(str(acls, "2/resource/name"), "finance-ledger-bddcff67b0d41487");
    ck_assert_str_eq(str(acls, "3/operations/1"), "Write");
    json_decref(objs);
}
END_TEST

START_TEST(kafka_topic_with_invalid_k8s_name_gets_topic_name)
{
    const char *src_gs = "apiVersion: grace.dev/v1alpha1\nkind: GraceService\n"
                         "metadata: {name: a, namespace: n}\n"
                         "spec: {image: i, kafka: {topics: [{name: Orders_V1}]}}\n";
    json_t *docs = NULL;
    ck_assert_int_eq(kyaml_load(src_gs, strlen(src_gs),
                                &(struct kyaml_opts){KYAML_MANIFESTS, NULL, 0}, &docs, NULL),
                     KERR_OK);
    json_t *gs = json_array_get(docs, 0);
    cmd_render_apply_defaults(gs);
    struct render *r = NULL;
    struct grace_config *c = config_from(NULL);
    json_t *out = NULL;
    ck_assert_int_eq(render_new("templates", &r, NULL), KERR_OK);
    ck_assert_int_eq(render_objects(r, gs, grace_config_json(c), &out, NULL), KERR_OK);
    const json_t *t = find(out, "KafkaTopic", NULL);
    ck_assert_str_eq(str(t, "spec/topicName"), "Orders_V1");
    ck_assert_ptr_nonnull(strstr(str(t, "metadata/name"), "orders-v1-"));
    json_decref(out);
    render_free(r);
    grace_config_free(c);
    json_decref(docs);
}
END_TEST

/* Render a GraceService ns/name with kafka (one consumed topic) and backup. */
static json_t *render_ns_name(const char *ns, const char *name)
{
    json_t *gs = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:{s:[s]}}}", "apiVersion",
                           "grace.dev/v1alpha1", "kind", "GraceService", "metadata", "name", name,
                           "namespace", ns, "spec", "image", "i", "kafka", "consumes", "t");
    cmd_render_apply_defaults(gs);
    struct render *r = NULL;
    struct grace_config *c = config_from(NULL);
    json_t *out = NULL;
    struct kerr_info err;
    ck_assert_int_eq(render_new("templates", &r, NULL), KERR_OK);
    ck_assert_msg(render_objects(r, gs, grace_config_json(c), &out, &err) == KERR_OK, "%s",
                  err.message);
    render_free(r);
    grace_config_free(c);
    json_decref(gs);
    return out;
}

static bool dns_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* The names of the KafkaUser and the Schedule, and the user/group/Secret the
 * workload is given: all one name. */
static const char *shared_ns_name(const json_t *objs)
{
    const char *user = str(find(objs, "KafkaUser", NULL), "metadata/name");
    const json_t *d = find(objs, "Deployment", NULL);
    ck_assert_str_eq(str(find(objs, "Schedule", NULL), "metadata/name"), user);
    ck_assert_str_eq(str(env_var(d, "KAFKA_USERNAME"), "value"), user);
    ck_assert_str_eq(str(env_var(d, "KAFKA_GROUP_ID"), "value"), user);
    ck_assert_str_eq(str(env_var(d, "KAFKA_PASSWORD"), "valueFrom/secretKeyRef/name"), user);
    ck_assert_msg(dns_label(user), "%s is not a DNS label", user);
    return user;
}

START_TEST(shared_namespace_names_differ_for_c_in_a_b_and_b_c_in_a)
{
    json_t *one = render_ns_name("a-b", "c"), *two = render_ns_name("a", "b-c");
    /* readable prefix, then 16 hex digits of SHA-256("ns/name") (pg_name_hash) */
    ck_assert_str_eq(shared_ns_name(one), "a-b-c-4e84717d75bd540d");
    ck_assert_str_eq(shared_ns_name(two), "a-b-c-b88f83c840abe581");
    ck_assert_str_eq(str(find(one, "KafkaUser", NULL), "spec/authorization/acls/1/resource/name"),
                     "a-b-c-4e84717d75bd540d"); /* the consumer group */
    json_decref(one);
    json_decref(two);
    json_t *again = render_ns_name("a-b", "c");
    ck_assert_str_eq(shared_ns_name(again), "a-b-c-4e84717d75bd540d"); /* stable */
    json_decref(again);
}
END_TEST

START_TEST(shared_namespace_names_fit_63_characters_and_stay_distinct)
{
    char ns[64], name[254], name2[254];
    memset(ns, 'n', 63);
    ns[63] = '\0';
    memset(name, 'm', 253);
    name[253] = '\0';
    memcpy(name2, name, sizeof name);
    name2[252] = 'x'; /* differs only past the readable prefix */
    json_t *one = render_ns_name(ns, name), *two = render_ns_name(ns, name2);
    const char *a = shared_ns_name(one), *b = shared_ns_name(two);
    ck_assert_uint_eq(strlen(a), 63);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(strncmp(a, b, 46), 0);
    json_decref(one);
    json_decref(two);
    /* dots in a GraceService name become '-', a trailing '-' of the cut prefix goes */
    json_t *dots = render_ns_name("team", "api.v2");
    ck_assert_int_eq(strncmp(shared_ns_name(dots), "team-api-v2-", 12), 0);
    json_decref(dots);
}
END_TEST

START_TEST(backup_schedule_in_velero_namespace_with_overrides)
{
    json_t *objs = render_file("examples/peeps.yaml", NULL);
    const json_t *s = find(objs, "Schedule", "grace-peeps-635e15c76642fb1f");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(str(s, "metadata/namespace"), "velero");
    ck_assert_str_eq(str(s, "spec/schedule"), "0 * * * *");
    ck_assert_str_eq(str(s, "spec/template/ttl"), "720h");
    ck_assert_str_eq(str(s, "spec/template/includedNamespaces/0"), "grace");
    ck_assert_str_eq(json_string_value(json_object_get(
                         path(s, "spec/template/labelSelector/matchLabels"), "grace.dev/service")),
                     "peeps");
    json_decref(objs);
    objs = render_file("examples/minimal.yaml", "backup: {defaultSchedule: \"@daily\"}\n");
    ck_assert_str_eq(str(find(objs, "Schedule", NULL), "spec/schedule"), "@daily");
    json_decref(objs);
    objs = render_file("examples/minimal.yaml", "backup: {enabled: false}\n");
    ck_assert_ptr_null(find(objs, "Schedule", NULL));
    json_decref(objs);
}
END_TEST

START_TEST(egress_policy_allows_dns_gateway_kafka_and_postgres)
{
    json_t *objs = render_file("examples/peeps.yaml", "postgres: {host: 10.1.2.3, port: 6543}\n");
    const json_t *np = find(objs, "NetworkPolicy", "peeps-egress");
    ck_assert_ptr_nonnull(np);
    ck_assert_str_eq(str(np, "spec/policyTypes/0"), "Egress");
    const json_t *rules = path(np, "spec/egress");
    ck_assert_uint_eq(json_array_size(rules), 4);
    ck_assert_int_eq(json_integer_value(path(rules, "0/ports/0/port")), 53);
    ck_assert_str_eq(str(rules, "3/to/0/ipBlock/cidr"), "10.1.2.3/32");
    ck_assert_int_eq(json_integer_value(path(rules, "3/ports/0/port")), 6543);
    json_decref(objs);
    objs = render_file("examples/minimal.yaml", NULL);
    ck_assert_ptr_null(find(objs, "NetworkPolicy", NULL));
    json_decref(objs);
}
END_TEST

/* The collector of config.otlpEndpoint is admitted on its port: an in-cluster
 * name by its namespace, an IP by an ipBlock; a name outside the cluster
 * cannot be written in a NetworkPolicy and gets no rule. */
static const json_t *last_rule(const json_t *objs)
{
    const json_t *rules = path(find(objs, "NetworkPolicy", "peeps-egress"), "spec/egress");
    return json_array_get(rules, json_array_size(rules) - 1);
}

START_TEST(egress_policy_admits_the_otlp_collector)
{
    json_t *objs = render_file("examples/peeps.yaml",
                               "otlpEndpoint: http://otel.observability.svc:4318\n");
    const json_t *ml = path(last_rule(objs), "to/0/namespaceSelector/matchLabels");
    ck_assert_str_eq(json_string_value(json_object_get(ml, "kubernetes.io/metadata.name")),
                     "observability");
    ck_assert_int_eq(json_integer_value(path(last_rule(objs), "ports/0/port")), 4318);
    json_decref(objs);
    objs = render_file("examples/peeps.yaml", "otlpEndpoint: https://10.9.8.7/otlp\n");
    ck_assert_str_eq(str(last_rule(objs), "to/0/ipBlock/cidr"), "10.9.8.7/32");
    ck_assert_int_eq(json_integer_value(path(last_rule(objs), "ports/0/port")), 443);
    json_decref(objs);
    objs = render_file("examples/peeps.yaml", "otlpEndpoint: http://collector.example.com:4318\n");
    ck_assert_ptr_null(json_object_get(last_rule(objs), "ipBlock"));
    ck_assert_int_ne(json_integer_value(path(last_rule(objs), "ports/0/port")), 4318);
    json_decref(objs);
}
END_TEST

/* The policy covers every pod of the service, its migration Jobs' too. */
START_TEST(egress_policy_selects_the_service_label_only)
{
    json_t *objs = render_file("examples/peeps.yaml", NULL);
    const json_t *sel =
        path(find(objs, "NetworkPolicy", "peeps-egress"), "spec/podSelector/matchLabels");
    ck_assert_uint_eq(json_object_size(sel), 1);
    ck_assert_str_eq(json_string_value(json_object_get(sel, "grace.dev/service")), "peeps");
    json_decref(objs);
}
END_TEST

START_TEST(no_template_outputs_a_secret)
{
    json_t *objs = render_file("examples/full.yaml", NULL);
    ck_assert_ptr_null(find(objs, "Secret", NULL));
    char *text = json_dumps(objs, 0);
    ck_assert_ptr_null(strstr(text, "password\":\"")); /* only key references */
    free(text);
    json_decref(objs);
}
END_TEST

/* ---- the Lua → JSON rule ---- */

START_TEST(empty_table_is_object_and_marked_empty_table_is_array)
{
    json_t *s = spec_of("{ a = {}, b = json.array{}, c = setmetatable({}, json.array_mt) }");
    ck_assert(json_is_object(json_object_get(s, "a")));
    ck_assert(json_is_array(json_object_get(s, "b")));
    ck_assert_uint_eq(json_array_size(json_object_get(s, "b")), 0);
    ck_assert(json_is_array(json_object_get(s, "c")));
    json_decref(s);
}
END_TEST

START_TEST(sequence_is_array_and_string_keys_are_object)
{
    json_t *s = spec_of("{ list = {1, 2, 3}, obj = { x = 1 }, nested = { { y = true } } }");
    ck_assert_uint_eq(json_array_size(json_object_get(s, "list")), 3);
    ck_assert(json_is_object(json_object_get(s, "obj")));
    ck_assert(json_is_true(path(s, "nested/0/y")));
    json_decref(s);
}
END_TEST

START_TEST(integers_and_floats_are_preserved_and_null_is_json_null)
{
    json_t *s = spec_of("{ i = 3, f = 3.0, h = 0.5, n = json.null, big = 9007199254740993 }");
    ck_assert(json_is_integer(json_object_get(s, "i")));
    ck_assert(json_is_real(json_object_get(s, "f")));
    ck_assert(json_real_value(json_object_get(s, "h")) == 0.5);
    ck_assert(json_is_null(json_object_get(s, "n")));
    ck_assert_int_eq(json_integer_value(json_object_get(s, "big")), 9007199254740993LL);
    json_decref(s);
}
END_TEST

START_TEST(input_arrays_stay_arrays_even_when_empty)
{
    json_t *s =
        spec_of("{ args = gs.spec.args, cmd = gs.spec.command, copy = json.copy(gs.spec.args),"
                "  n = #gs.spec.command }");
    ck_assert(json_is_array(json_object_get(s, "args")));
    ck_assert_uint_eq(json_array_size(json_object_get(s, "args")), 0);
    ck_assert(json_is_array(json_object_get(s, "copy")));
    ck_assert_str_eq(str(s, "cmd/1"), "b");
    ck_assert_int_eq(json_integer_value(json_object_get(s, "n")), 2);
    json_decref(s);
}
END_TEST

START_TEST(mixed_keys_holes_and_functions_are_errors_with_a_path)
{
    expect_template_error(
        "return function() return { { apiVersion='v1', kind='K', metadata={name='x'},"
        " spec = { a = { 1, x = 2 } } } } end\n",
        "at result[1].spec.a: table keys must be all strings");
    expect_template_error(
        "return function() return { { apiVersion='v1', kind='K', metadata={name='x'},"
        " spec = { [1] = 1, [3] = 3 } } } end\n",
        "result[1].spec");
    expect_template_error(
        "return function() return { { apiVersion='v1', kind='K', metadata={name='x'},"
        " spec = print or tostring } } end\n",
        "cannot convert a function");
    expect_template_error(
        "return function() return { { apiVersion='v1', kind='K', metadata={name='x'},"
        " spec = 0/0 } } end\n",
        "NaN");
    expect_template_error(
        "return function() local t = {} t.self = t\n"
        " return { { apiVersion='v1', kind='K', metadata={name='x'}, spec = t } } end\n",
        "nested too deep");
}
END_TEST

/* ---- sandbox ---- */

START_TEST(sandbox_has_no_io_os_require_or_debug)
{
    json_t *s =
        spec_of("{ io = type(io), os = type(os), require = type(require), dofile = type(dofile),"
                "  loadfile = type(loadfile), debug = type(debug), package = type(package),"
                "  dump = type(string.dump), random = type(math.random), print = type(print),"
                "  string = type(string), fmt = string.format('%d', 7), up = ('x'):upper() }");
    const char *absent[] = {"io",    "os",      "require", "dofile", "loadfile",
                            "debug", "package", "dump",    "random", "print"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        ck_assert_msg(!strcmp(str(s, absent[i]), "nil"), "%s is %s", absent[i], str(s, absent[i]));
    ck_assert_str_eq(str(s, "string"), "table");
    ck_assert_str_eq(str(s, "fmt"), "7");
    ck_assert_str_eq(str(s, "up"), "X");
    json_decref(s);
}
END_TEST

START_TEST(load_accepts_text_only_and_collectgarbage_only_counts)
{
    json_t *s = spec_of("{ text = load('return 1 + 1')(),"
                        "  bin = select(2, load(string.char(27) .. 'Lua')) ~= nil,"
                        "  count = type(collectgarbage('count')),"
                        "  collect = pcall(collectgarbage, 'collect') }");
    ck_assert_int_eq(json_integer_value(json_object_get(s, "text")), 2);
    ck_assert(json_is_true(json_object_get(s, "bin"))); /* an error message came back */
    ck_assert_str_eq(str(s, "count"), "number");
    ck_assert(json_is_false(json_object_get(s, "collect")));
    json_decref(s);
}
END_TEST

START_TEST(inputs_and_globals_are_read_only)
{
    expect_template_error("return function(gs) gs.spec.image = 'evil' return {} end\n",
                          "read-only");
    expect_template_error("return function(gs) table.insert(gs.spec.args, 'x') return {} end\n",
                          "read-only");
    expect_template_error("return function(gs) leaked = 1 return {} end\n",
                          "assignment to global 'leaked'");
    expect_template_error("return function(gs) string.upper = nil return {} end\n", "read-only");
    expect_template_error("return function(gs) setmetatable(gs, nil) return {} end\n",
                          "protected metatable");
}
END_TEST

START_TEST(infinite_loop_hits_the_instruction_bound)
{
    expect_template_error("return function(gs)\n  while true do end\nend\n",
                          "templates/workload.lua:2: instruction limit exceeded");
    expect_template_error("return function(gs)\n"
                          "  while true do pcall(function() while true do end end) end\n"
                          "end\n",
                          "instruction limit exceeded");
}
END_TEST

START_TEST(memory_bomb_hits_the_memory_bound)
{
    expect_template_error("return function(gs) local s = string.rep('x', 1 << 30) return {} end\n",
                          "templates/workload.lua: memory limit exceeded");
    expect_template_error("return function(gs) local t = {}\n"
                          "  for i = 1, 1e7 do t[i] = tostring(i) end return {} end\n",
                          "limit exceeded");
}
END_TEST

/* ---- errors ---- */

START_TEST(syntax_error_names_file_and_line)
{
    struct render *r = NULL;
    struct kerr_info err;
    const char *dir = tdir("route", "return function(gs)\n  local x = \n  return {}\nend end\n");
    ck_assert_int_eq(render_new(dir, &r, &err), KERR_TEMPLATE);
    rm_tdir(dir);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(err.message, "templates/route.lua:3: unexpected symbol"), "got %s",
                  err.message);
}
END_TEST

START_TEST(runtime_error_names_file_and_line)
{
    expect_template_error("return function(gs)\n  return gs.spec.nothing.deeper\nend\n",
                          "templates/workload.lua:2: attempt to index a nil value");
    expect_template_error("return function(gs) error({}) end\n",
                          "templates/workload.lua: error object is a table value");
    expect_template_error("return function(gs) error('plain', 0) end\n",
                          "templates/workload.lua: plain");
}
END_TEST

START_TEST(wrong_result_shapes_are_template_errors)
{
    expect_template_error("return function() return 'x' end\n",
                          "must return a list of objects, got string");
    expect_template_error(
        "return function() return { apiVersion = 'v1', kind = 'K', metadata = {name='x'} } end\n",
        "got a single object");
    expect_template_error(
        "return function() return { { apiVersion = 'v1', metadata = { name = 'x' } } } end\n",
        "templates/workload.lua: object 1 of the result has no kind string");
    expect_template_error(
        "return function() return { { apiVersion = 'v1', kind = 'K', metadata = {} } } end\n",
        "has no metadata.name string");
    expect_template_error("return function() return { 42 } end\n", "is not an object");
}
END_TEST

START_TEST(chunk_must_return_a_function_and_files_must_exist)
{
    struct render *r = NULL;
    struct kerr_info err;
    const char *dir = tdir("kafka", "return 42\n");
    ck_assert_int_eq(render_new(dir, &r, &err), KERR_TEMPLATE);
    rm_tdir(dir);
    ck_assert_ptr_nonnull(strstr(err.message, "templates/kafka.lua: must return a function"));
    ck_assert_int_eq(render_new("/nonexistent/templates", &r, &err), KERR_TEMPLATE);
    ck_assert_ptr_nonnull(strstr(err.message, "workload.lua"));
}
END_TEST

START_TEST(engine_is_reusable_after_an_error)
{
    struct render *r = NULL;
    struct kerr_info err;
    const char *src = "return function(gs)\n"
                      "  if gs.spec.fail then while true do end end\n"
                      "  return { { apiVersion = 'v1', kind = 'K', metadata = { name = 'ok' } } }\n"
                      "end\n";
    const char *dir = tdir("egress", src);
    ck_assert_int_eq(render_new(dir, &r, &err), KERR_OK);
    rm_tdir(dir);
    render_set_limits(r, 100000, 0);
    json_t *cfg = json_object(), *good = small_gs(), *bad = small_gs(), *out = NULL;
    json_object_set_new(json_object_get(bad, "spec"), "fail", json_true());
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(render_objects(r, bad, cfg, &out, &err), KERR_TEMPLATE);
        ck_assert_int_eq(render_objects(r, good, cfg, &out, &err), KERR_OK);
        ck_assert_uint_eq(json_array_size(out), 1);
        json_decref(out);
    }
    render_free(r);
    json_decref(cfg);
    json_decref(good);
    json_decref(bad);
}
END_TEST

/* ---- render_finish ---- */

static json_t *child(const char *ns)
{
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}, s:{s:s, s:s}}}", "apiVersion", "v1",
                          "kind", "ConfigMap", "metadata", "name", "c", "labels",
                          "app.kubernetes.io/instance", "argo-app", "keep", "me", "annotations",
                          "argocd.argoproj.io/tracking-id", "app:/ConfigMap:ns/c", "note", "x");
    if (ns)
        json_object_set_new(json_object_get(o, "metadata"), "namespace", json_string(ns));
    return o;
}

START_TEST(finish_sets_labels_namespace_and_owner)
{
    json_t *gs = small_gs(), *objs = json_pack("[o]", child(NULL));
    json_object_set_new(json_object_get(gs, "metadata"), "uid", json_string("u-1"));
    ck_assert_int_eq(render_finish(gs, objs, NULL), KERR_OK);
    const json_t *md = path(objs, "0/metadata");
    const json_t *labels = json_object_get(md, "labels");
    ck_assert_str_eq(json_string_value(json_object_get(labels, "app.kubernetes.io/managed-by")),
                     "grace-operator");
    ck_assert_str_eq(json_string_value(json_object_get(labels, "grace.dev/service")), "demo");
    ck_assert_str_eq(json_string_value(json_object_get(labels, "grace.dev/namespace")), "ns1");
    ck_assert_str_eq(json_string_value(json_object_get(labels, "keep")), "me");
    ck_assert_str_eq(str(md, "namespace"), "ns1");
    const json_t *ref = path(md, "ownerReferences/0");
    ck_assert_str_eq(str(ref, "apiVersion"), "grace.dev/v1alpha1");
    ck_assert_str_eq(str(ref, "kind"), "GraceService");
    ck_assert_str_eq(str(ref, "name"), "demo");
    ck_assert_str_eq(str(ref, "uid"), "u-1");
    ck_assert(json_is_true(json_object_get(ref, "controller")));
    ck_assert(json_is_true(json_object_get(ref, "blockOwnerDeletion")));
    json_decref(objs);
    json_decref(gs);
}
END_TEST

START_TEST(finish_never_copies_gitops_tracking_metadata)
{
    json_t *gs = small_gs(), *objs = json_pack("[o]", child("ns1"));
    ck_assert_int_eq(render_finish(gs, objs, NULL), KERR_OK);
    const json_t *md = path(objs, "0/metadata");
    ck_assert_ptr_null(
        json_object_get(json_object_get(md, "labels"), "app.kubernetes.io/instance"));
    ck_assert_ptr_null(
        json_object_get(json_object_get(md, "annotations"), "argocd.argoproj.io/tracking-id"));
    ck_assert_str_eq(str(md, "annotations/note"), "x");
    json_decref(objs);
    json_decref(gs);
}
END_TEST

START_TEST(finish_owner_without_uid_offline_and_none_across_namespaces)
{
    json_t *gs = small_gs(), *objs = json_pack("[o,o]", child(NULL), child("kafka"));
    ck_assert_int_eq(render_finish(gs, objs, NULL), KERR_OK);
    ck_assert_ptr_nonnull(path(objs, "0/metadata/ownerReferences/0"));
    ck_assert_ptr_null(path(objs, "0/metadata/ownerReferences/0/uid"));
    ck_assert_ptr_null(path(objs, "1/metadata/ownerReferences"));
    ck_assert_str_eq(
        json_string_value(json_object_get(path(objs, "1/metadata/labels"), "grace.dev/service")),
        "demo");
    json_decref(objs);
    json_decref(gs);
}
END_TEST

START_TEST(finish_replaces_a_foreign_controller_reference)
{
    json_t *gs = small_gs(), *o = child(NULL);
    json_object_set_new(json_object_get(o, "metadata"), "ownerReferences",
                        json_pack("[{s:s,s:s,s:s,s:b},{s:s,s:s,s:s}]", "kind", "Other", "name", "x",
                                  "apiVersion", "v1", "controller", 1, "kind", "Keep", "name", "k",
                                  "apiVersion", "v1"));
    json_t *objs = json_pack("[o]", o);
    ck_assert_int_eq(render_finish(gs, objs, NULL), KERR_OK);
    const json_t *refs = path(objs, "0/metadata/ownerReferences");
    ck_assert_uint_eq(json_array_size(refs), 2);
    ck_assert_str_eq(str(refs, "0/kind"), "Keep");
    ck_assert_str_eq(str(refs, "1/kind"), "GraceService");
    json_decref(objs);
    json_decref(gs);
}
END_TEST

START_TEST(finish_rejects_objects_without_identity)
{
    json_t *gs = small_gs(),
           *objs = json_pack("[{s:s, s:{s:s}}]", "kind", "K", "metadata", "name", "x");
    struct kerr_info err;
    ck_assert_int_eq(render_finish(gs, objs, &err), KERR_TEMPLATE);
    ck_assert_ptr_nonnull(strstr(err.message, "object 1 has no apiVersion"));
    json_decref(objs);
    json_decref(gs);
}
END_TEST

START_TEST(label_values_are_shortened_to_63_characters)
{
    char out[64], in[100];
    render_label_value("short", out);
    ck_assert_str_eq(out, "short");
    memset(in, 'a', 99);
    in[99] = '\0';
    in[53] = '-';
    render_label_value(in, out);
    ck_assert_uint_le(strlen(out), 63);
    ck_assert(out[strlen(out) - 9] == '-');
    ck_assert(out[strlen(out) - 10] != '-');
    char out2[64];
    in[98] = 'b';
    render_label_value(in, out2);
    ck_assert_str_ne(out, out2);
}
END_TEST

/* ---- the render subcommand ---- */

static int run_cmd(const char *a1, const char *a2, const char *a3, const char *a4)
{
    char *argv[8] = {"render"};
    int argc = 1;
    const char *args[] = {a1, a2, a3, a4};
    for (int i = 0; i < 4 && args[i]; i++)
        argv[argc++] = (char *)args[i];
    fflush(stdout);
    fflush(stderr);
    int out = dup(1), errfd = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    int rc = cmd_render(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(errfd, 2);
    close(out);
    close(errfd);
    close(null);
    return rc;
}

START_TEST(render_command_exit_codes)
{
    ck_assert_int_eq(run_cmd("-f", "examples/peeps.yaml", "--templates", "templates"), 0);
    ck_assert_int_eq(run_cmd("-f", "examples/invalid-hostname.yaml", "--templates", "templates"),
                     1);
    ck_assert_int_eq(run_cmd("-f", "/nonexistent.yaml", "--templates", "templates"), 1);
    ck_assert_int_eq(run_cmd("--help", NULL, NULL, NULL), 0);
    ck_assert_int_eq(run_cmd("--bogus", NULL, NULL, NULL), 2);
    ck_assert_int_eq(run_cmd("-f", "examples/peeps.yaml", "-o", "xml"), 2);
}
END_TEST

START_TEST(render_command_validation_messages)
{
    struct kerr_info err;
    json_t *gs = json_pack("{s:{s:s}, s:{}}", "metadata", "name", "Bad_Name", "spec");
    ck_assert_int_eq(cmd_render_validate(gs, &err), KERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "DNS-1035"));
    json_object_set_new(json_object_get(gs, "metadata"), "name", json_string("ok"));
    ck_assert_int_eq(cmd_render_validate(gs, &err), KERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "spec.image"));
    json_object_set_new(json_object_get(gs, "spec"), "image", json_string("img"));
    ck_assert_int_eq(cmd_render_validate(gs, &err), KERR_OK);
    cmd_render_apply_defaults(gs);
    ck_assert_int_eq(json_integer_value(path(gs, "spec/replicas")), 1);
    ck_assert_int_eq(json_integer_value(path(gs, "spec/port")), 8000);
    ck_assert(json_is_true(path(gs, "spec/tls/enabled")));
    ck_assert_str_eq(str(gs, "metadata/namespace"), "default");
    json_decref(gs);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("render");
    TCase *t = tcase_create("templates");
    tcase_add_test(t, peeps_renders_every_concern_in_template_order);
    tcase_add_test(t, workload_is_restricted_and_wires_database_kafka_and_hostname);
    tcase_add_test(t, minimal_renders_workload_route_certificate_backup_only);
    tcase_add_test(t, route_and_certificate_follow_the_fqdn_and_config);
    tcase_add_test(t, tailscale_per_service_adds_a_tailnet_service);
    tcase_add_test(t, render_objects_from_names_the_template_of_each_object);
    tcase_add_test(t, collect_frees_the_garbage_of_past_renders_and_keeps_the_templates);
    tcase_add_test(t, kafka_topics_and_user_acls);
    tcase_add_test(t, kafka_topic_with_invalid_k8s_name_gets_topic_name);
    tcase_add_test(t, shared_namespace_names_differ_for_c_in_a_b_and_b_c_in_a);
    tcase_add_test(t, shared_namespace_names_fit_63_characters_and_stay_distinct);
    tcase_add_test(t, backup_schedule_in_velero_namespace_with_overrides);
    tcase_add_test(t, egress_policy_allows_dns_gateway_kafka_and_postgres);
    tcase_add_test(t, egress_policy_admits_the_otlp_collector);
    tcase_add_test(t, egress_policy_selects_the_service_label_only);
    tcase_add_test(t, no_template_outputs_a_secret);
    suite_add_tcase(s, t);
    TCase *c = tcase_create("conversion");
    tcase_add_test(c, empty_table_is_object_and_marked_empty_table_is_array);
    tcase_add_test(c, sequence_is_array_and_string_keys_are_object);
    tcase_add_test(c, integers_and_floats_are_preserved_and_null_is_json_null);
    tcase_add_test(c, input_arrays_stay_arrays_even_when_empty);
    tcase_add_test(c, mixed_keys_holes_and_functions_are_errors_with_a_path);
    suite_add_tcase(s, c);
    TCase *b = tcase_create("sandbox");
    tcase_add_test(b, sandbox_has_no_io_os_require_or_debug);
    tcase_add_test(b, load_accepts_text_only_and_collectgarbage_only_counts);
    tcase_add_test(b, inputs_and_globals_are_read_only);
    tcase_add_test(b, infinite_loop_hits_the_instruction_bound);
    tcase_add_test(b, memory_bomb_hits_the_memory_bound);
    tcase_add_test(b, syntax_error_names_file_and_line);
    tcase_add_test(b, runtime_error_names_file_and_line);
    tcase_add_test(b, wrong_result_shapes_are_template_errors);
    tcase_add_test(b, chunk_must_return_a_function_and_files_must_exist);
    tcase_add_test(b, engine_is_reusable_after_an_error);
    suite_add_tcase(s, b);
    TCase *f = tcase_create("finish");
    tcase_add_test(f, finish_sets_labels_namespace_and_owner);
    tcase_add_test(f, finish_never_copies_gitops_tracking_metadata);
    tcase_add_test(f, finish_owner_without_uid_offline_and_none_across_namespaces);
    tcase_add_test(f, finish_replaces_a_foreign_controller_reference);
    tcase_add_test(f, finish_rejects_objects_without_identity);
    tcase_add_test(f, label_values_are_shortened_to_63_characters);
    tcase_add_test(f, render_command_exit_codes);
    tcase_add_test(f, render_command_validation_messages);
    suite_add_tcase(s, f);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
