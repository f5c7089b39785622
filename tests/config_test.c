/*
 * config_test: the operator configuration file: defaults, every field read
 * through the typed views and the JSON tree, unknown fields, wrong types,
 * invalid values, malformed YAML, and the file path in messages.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static struct grace_config *load_ok(const char *yaml)
{
    struct grace_config *c = NULL;
    struct kerr_info err;
    enum kerr rc = grace_config_load_string(yaml, "test.yaml", &c, &err);
    ck_assert_msg(rc == KERR_OK, "load failed: %s", err.message);
    return c;
}

static void expect_error(const char *yaml, const char *needle)
{
    struct grace_config *c = NULL;
    struct kerr_info err;
    enum kerr rc = grace_config_load_string(yaml, "test.yaml", &c, &err);
    ck_assert_int_eq(rc, KERR_CONFIG);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err.message, needle), "message \"%s\" lacks \"%s\"", err.message, needle);
}

START_TEST(defaults_without_a_file)
{
    struct grace_config *c = NULL;
    ck_assert_int_eq(grace_config_load(NULL, &c, NULL), KERR_OK);
    ck_assert_str_eq(grace_config_base_domain(c), "grace.localhost");
    ck_assert_str_eq(grace_config_field_manager(c), "grace-operator");
    ck_assert_ptr_null(grace_config_templates_dir(c));
    ck_assert_ptr_null(grace_config_otlp_endpoint(c));
    ck_assert_int_eq(grace_config_tailscale_mode(c), GRACE_TAILSCALE_SHARED);
    ck_assert_str_eq(grace_config_issuer(c)->kind, "ClusterIssuer");
    ck_assert_str_eq(grace_config_issuer(c)->group, "cert-manager.io");
    ck_assert_int_eq(grace_config_route(c)->kind, GRACE_ROUTE_INGRESSROUTE);
    ck_assert_str_eq(grace_config_route(c)->entry_point, "websecure");
    ck_assert_str_eq(grace_config_kafka(c)->api_version, "kafka.strimzi.io/v1");
    ck_assert_str_eq(grace_config_kafka(c)->namespace, "kafka");
    ck_assert_int_eq(grace_config_postgres(c)->port, 5432);
    ck_assert_str_eq(grace_config_postgres(c)->sslmode, "prefer");
    ck_assert(grace_config_backup(c)->enabled);
    ck_assert_str_eq(grace_config_backup(c)->namespace, "velero");
    ck_assert_str_eq(grace_config_backup(c)->default_ttl, "720h");
    ck_assert_str_eq(grace_config_egress(c)->dns_namespace, "kube-system");
    ck_assert(json_is_object(grace_config_egress(c)->gateway_pod_labels));
    grace_config_free(c);
}
END_TEST

START_TEST(empty_file_means_defaults)
{
    struct grace_config *c = load_ok("# nothing set\n");
    ck_assert_str_eq(grace_config_base_domain(c), "grace.localhost");
    grace_config_free(c);
}
END_TEST

static const char every_field[] =
    "baseDomain: apps.example.com\n"
    "fieldManager: my-operator\n"
    "templatesDir: /etc/grace/templates\n"
    "otlpEndpoint: http://otel-collector.monitoring:4318\n"
    "certificate:\n"
    "  issuer: {kind: Issuer, name: letsencrypt-dns, group: cert-manager.io}\n"
    "route: {kind: Ingress, entryPoint: https, ingressClassName: traefik-internal}\n"
    "tailscale:\n"
    "  mode: per-service\n"
    "  tags: \"tag:k8s,tag:grace\"\n"
    "  dnsTarget: 100.101.102.103\n"
    "  externalDnsPrefixes: [external-dns.kubernetes.io/]\n"
    "kafka:\n"
    "  cluster: main\n"
    "  namespace: streaming\n"
    "  bootstrap: main-kafka-bootstrap.streaming.svc:9093,b2:9093\n"
    "  apiVersion: kafka.strimzi.io/v1beta2\n"
    "  securityProtocol: SASL_SSL\n"
    "postgres:\n"
    "  host: 10.0.0.5\n"
    "  port: 6432\n"
    "  sslmode: verify-full\n"
    "  adminSecret: {namespace: db, name: pg-admin}\n"
    "backup:\n"
    "  enabled: false\n"
    "  namespace: backups\n"
    "  storageLocation: s3-eu\n"
    "  defaultSchedule: \"@daily\"\n"
    "  defaultTtl: 168h30m\n"
    "egress:\n"
    "  gateway: {namespace: gw, podLabels: {app: gw}}\n"
    "  dns: {namespace: dns, podLabels: {k8s-app: coredns}}\n";

START_TEST(every_field_is_read)
{
    struct grace_config *c = load_ok(every_field);
    ck_assert_str_eq(grace_config_base_domain(c), "apps.example.com");
    ck_assert_str_eq(grace_config_field_manager(c), "my-operator");
    ck_assert_str_eq(grace_config_templates_dir(c), "/etc/grace/templates");
    ck_assert_str_eq(grace_config_otlp_endpoint(c), "http://otel-collector.monitoring:4318");
    const struct grace_config_issuer *is = grace_config_issuer(c);
    ck_assert_str_eq(is->kind, "Issuer");
    ck_assert_str_eq(is->name, "letsencrypt-dns");
    const struct grace_config_route *ro = grace_config_route(c);
    ck_assert_int_eq(ro->kind, GRACE_ROUTE_INGRESS);
    ck_assert_str_eq(ro->kind_name, "Ingress");
    ck_assert_str_eq(ro->entry_point, "https");
    ck_assert_str_eq(ro->ingress_class, "traefik-internal");
    ck_assert_int_eq(grace_config_tailscale_mode(c), GRACE_TAILSCALE_PER_SERVICE);
    const struct grace_config_kafka *k = grace_config_kafka(c);
    ck_assert_str_eq(k->cluster, "main");
    ck_assert_str_eq(k->namespace, "streaming");
    ck_assert_str_eq(k->bootstrap, "main-kafka-bootstrap.streaming.svc:9093,b2:9093");
    ck_assert_str_eq(k->api_version, "kafka.strimzi.io/v1beta2");
    ck_assert_str_eq(k->security_protocol, "SASL_SSL");
    const struct grace_config_postgres *pg = grace_config_postgres(c);
    ck_assert_str_eq(pg->host, "10.0.0.5");
    ck_assert_int_eq(pg->port, 6432);
    ck_assert_str_eq(pg->sslmode, "verify-full");
    ck_assert_str_eq(pg->admin_secret_namespace, "db");
    ck_assert_str_eq(pg->admin_secret_name, "pg-admin");
    const struct grace_config_backup *b = grace_config_backup(c);
    ck_assert(!b->enabled);
    ck_assert_str_eq(b->namespace, "backups");
    ck_assert_str_eq(b->storage_location, "s3-eu");
    ck_assert_str_eq(b->default_schedule, "@daily");
    ck_assert_str_eq(b->default_ttl, "168h30m");
    const struct grace_config_egress *e = grace_config_egress(c);
    ck_assert_str_eq(e->gateway_namespace, "gw");
    ck_assert_str_eq(json_string_value(json_object_get(e->gateway_pod_labels, "app")), "gw");
    ck_assert_str_eq(e->dns_namespace, "dns");
    const json_t *j = grace_config_json(c);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "tailscale"), "tags")),
                     "tag:k8s,tag:grace");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(j, "tailscale"), "dnsTarget")),
        "100.101.102.103");
    ck_assert_uint_eq(
        json_array_size(json_object_get(json_object_get(j, "tailscale"), "externalDnsPrefixes")),
        1);
    grace_config_free(c);
}
END_TEST

START_TEST(json_holds_defaults_for_unset_fields)
{
    struct grace_config *c = load_ok("kafka: {cluster: main}\n");
    const json_t *k = json_object_get(grace_config_json(c), "kafka");
    ck_assert_str_eq(json_string_value(json_object_get(k, "cluster")), "main");
    ck_assert_str_eq(json_string_value(json_object_get(k, "namespace")), "kafka");
    json_t *copy = grace_config_json_copy(c);
    ck_assert(json_equal(copy, (json_t *)grace_config_json(c)));
    json_decref(copy);
    grace_config_free(c);
}
END_TEST

START_TEST(null_keeps_the_default)
{
    struct grace_config *c = load_ok("otlpEndpoint:\npostgres: {port: null}\n");
    ck_assert_int_eq(grace_config_postgres(c)->port, 5432);
    grace_config_free(c);
}
END_TEST

START_TEST(unknown_field_names_its_path_and_the_file)
{
    expect_error("kafka:\n  bootstrp: x:1\n", "config test.yaml: unknown field \"kafka.bootstrp\"");
    expect_error("colour: blue\n", "unknown field \"colour\"");
    expect_error("egress: {gateway: {ns: x}}\n", "unknown field \"egress.gateway.ns\"");
}
END_TEST

START_TEST(wrong_type_names_the_field)
{
    expect_error("postgres: {port: \"5432\"}\n",
                 "field \"postgres.port\": expected an integer, got a string");
    expect_error("backup: {enabled: yes}\n", "field \"backup.enabled\": expected a boolean");
    expect_error("kafka: 3\n", "field \"kafka\": expected a mapping");
    expect_error("egress: {gateway: {podLabels: {app: 1}}}\n", "values must be strings");
    expect_error("tailscale: {externalDnsPrefixes: [1]}\n", "expected a list of strings");
}
END_TEST

START_TEST(invalid_values_are_rejected)
{
    expect_error("route: {kind: Gateway}\n",
                 "field \"route.kind\": \"Gateway\" is not one of: IngressRoute, Ingress");
    expect_error("tailscale: {mode: magic}\n", "tailscale.mode");
    expect_error("postgres: {port: 70000}\n", "between 1 and 65535");
    expect_error("baseDomain: Not_A_Domain\n", "baseDomain");
    expect_error("kafka: {bootstrap: nohost}\n", "host:port");
    expect_error("backup: {defaultTtl: 30d}\n", "duration");
    expect_error("otlpEndpoint: otel:4317\n", "http://");
    expect_error("postgres: {sslmode: \"prefer|require\"}\n", "postgres.sslmode");
    expect_error("certificate: {issuer: {name: \"\"}}\n", "must not be empty");
}
END_TEST

START_TEST(default_backup_schedule_is_a_cron_expression_as_the_crd_says)
{
    static const char *const bad[] = {"daily", "0 3 * *", "0 3 * * * *", "@fortnightly",
                                      "@every", "0  3 * * *", "CRON_TZ= 0 3 * * *", NULL};
    static const char *const good[] = {"0 3 * * *", "@daily", "@every 6h", "*/5 * * * 1-5",
                                       "CRON_TZ=Europe/Paris 0 3 * * *", "TZ=UTC @hourly", NULL};
    char yaml[512];
    for (int i = 0; bad[i]; i++) {
        snprintf(yaml, sizeof yaml, "backup: {defaultSchedule: \"%s\"}\n", bad[i]);
        expect_error(yaml, "field \"backup.defaultSchedule\"");
        expect_error(yaml, "cron expression with 5 fields");
    }
    for (int i = 0; good[i]; i++) {
        snprintf(yaml, sizeof yaml, "backup: {defaultSchedule: \"%s\"}\n", good[i]);
        struct grace_config *c = load_ok(yaml);
        ck_assert_str_eq(grace_config_backup(c)->default_schedule, good[i]);
        grace_config_free(c);
    }
    char longer[300];
    memset(longer, '1', 200);
    snprintf(longer + 200, 100, " * * * *");
    snprintf(yaml, sizeof yaml, "backup: {defaultSchedule: \"%.240s\"}\n", longer);
    expect_error(yaml, "1 to 128 characters");
}
END_TEST

START_TEST(malformed_yaml_and_wrong_shapes_are_config_errors)
{
    expect_error("a: [1\n", "config test.yaml: test.yaml:2:1");
    expect_error("- a\n- b\n", "must be a mapping");
    expect_error("a: 1\n---\nb: 2\n", "expected one YAML document");
}
END_TEST

START_TEST(load_from_a_file_names_the_path)
{
    char path[] = "/tmp/config_testXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("kafka:\n  bootstrp: x\n", f);
    fclose(f);
    struct grace_config *c = NULL;
    struct kerr_info err;
    ck_assert_int_eq(grace_config_load(path, &c, &err), KERR_CONFIG);
    char want[128];
    snprintf(want, sizeof want, "config %s: unknown field \"kafka.bootstrp\"", path);
    ck_assert_str_eq(err.message, want);
    unlink(path);
    ck_assert_int_eq(grace_config_load("/nonexistent/config.yaml", &c, &err), KERR_CONFIG);
    ck_assert_msg(strstr(err.message, "configuration file (--config) /nonexistent/config.yaml") &&
                      strstr(err.message, "No such file"),
                  "%s", err.message);
    ck_assert_ptr_null(c);
    grace_config_free(NULL);
}
END_TEST

START_TEST(example_config_file_loads)
{
    struct grace_config *c = NULL;
    struct kerr_info err;
    enum kerr rc = grace_config_load("examples/config.yaml", &c, &err);
    ck_assert_msg(rc == KERR_OK, "examples/config.yaml: %s", err.message);
    grace_config_free(c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, defaults_without_a_file);
    tcase_add_test(tc, empty_file_means_defaults);
    tcase_add_test(tc, every_field_is_read);
    tcase_add_test(tc, json_holds_defaults_for_unset_fields);
    tcase_add_test(tc, null_keeps_the_default);
    tcase_add_test(tc, unknown_field_names_its_path_and_the_file);
    tcase_add_test(tc, wrong_type_names_the_field);
    tcase_add_test(tc, invalid_values_are_rejected);
    tcase_add_test(tc, default_backup_schedule_is_a_cron_expression_as_the_crd_says);
    tcase_add_test(tc, malformed_yaml_and_wrong_shapes_are_config_errors);
    tcase_add_test(tc, load_from_a_file_names_the_path);
    tcase_add_test(tc, example_config_file_loads);
    suite_add_tcase(s, tc);
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
