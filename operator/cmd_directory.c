/*
 * cmd_directory: `grace-operator directory` (see cmd_directory.h). Lists
 * GraceServices through the kubeconfig and prints the directory built by
 * the same code as the operator's ConfigMap (controllers/directory.c), so
 * `-o json` prints the very bytes the ConfigMap holds given the same
 * configuration.
 */
#include "cmd_directory.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "directory.h"
#include "kclient.h"
#include "kconfig.h"

static const char cmd_directory_usage[] =
    "usage: grace-operator directory [-n NAMESPACE] [-o table|json] [--config FILE]\n"
    "                                [--kubeconfig FILE] [--context NAME]\n"
    "\n"
    "Print the service directory: every GraceService with its description, URLs,\n"
    "Kafka topics, database and readiness, and the Kafka map (docs/agents.md).\n"
    "Reads the cluster through the kubeconfig; the JSON is the content of the\n"
    "operator's directory ConfigMap given the same configuration.\n"
    "\n"
    "  -n, --namespace NS    only the services of NS (and their topics)\n"
    "  -o, --output FORMAT   table (default) or json\n"
    "  --config FILE         operator configuration (baseDomain, tailscale.mode,\n"
    "                        kafka.externalTopics; default: built-in defaults)\n"
    "  --kubeconfig FILE     default: $KUBECONFIG, else ~/.kube/config\n"
    "  --context NAME        kubeconfig context (default: current-context)\n"
    "  -h, --help            this text\n";

struct dir_args {
    const char *ns, *output, *config, *kubeconfig, *context;
};

static int parse(int argc, char **argv, struct dir_args *a)
{
    static const struct option opts[] = {
        {"namespace", required_argument, NULL, 'n'}, {"output", required_argument, NULL, 'o'},
        {"config", required_argument, NULL, 'c'},    {"kubeconfig", required_argument, NULL, 'k'},
        {"context", required_argument, NULL, 'x'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "n:o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'n': a->ns = optarg; break;
        case 'o': a->output = optarg; break;
        case 'c': a->config = optarg; break;
        case 'k': a->kubeconfig = optarg; break;
        case 'x': a->context = optarg; break;
        case 'h': fputs(cmd_directory_usage, stdout); return 0;
        default: fputs(cmd_directory_usage, stderr); return 2;
        }
    }
    if (optind < argc || (strcmp(a->output, "json") != 0 && strcmp(a->output, "table") != 0)) {
        fputs(cmd_directory_usage, stderr);
        return 2;
    }
    return -1;
}

static int add_item(void *ctx, json_t *item)
{
    json_array_append(ctx, item);
    return 0;
}

/* Every GraceService in the cluster (the producer rule needs all of them). */
static enum kerr list_all(const struct dir_args *a, json_t **out, struct kerr_info *err)
{
    struct kconfig *kc = NULL;
    struct kclient *c = NULL;
    char *rv = NULL;
    json_t *items = json_array();
    enum kerr e = kconfig_load_file(a->kubeconfig, a->context, &kc, err);
    struct kclient_options o = {.user_agent = "grace-operator-directory"};
    if (e == KERR_OK)
        e = kclient_new(kc, &o, &c, err);
    struct kres gs = {"grace.dev", "v1alpha1", "graceservices"};
    if (e == KERR_OK)
        e = kclient_list(c, &gs, NULL, NULL, NULL, 500, add_item, items, &rv, err);
    free(rv);
    kclient_free(c);
    kconfig_free(kc);
    if (e == KERR_OK)
        *out = items;
    else
        json_decref(items);
    return e;
}

static const char *s(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static void join(const json_t *arr, char *buf, size_t n)
{
    size_t i, len = 0;
    json_t *v;
    buf[0] = '\0';
    json_array_foreach(arr, i, v) {
        if (len + 1 >= n)
            break;
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? "," : "", json_string_value(v));
    }
    if (!buf[0])
        snprintf(buf, n, "-");
}

static void print_table(const json_t *doc)
{
    printf("%-16s %-24s %-5s %-3s %-44s %-24s %-24s %s\n", "NAMESPACE", "NAME", "READY", "DB",
           "URL", "PRODUCES", "CONSUMES", "DESCRIPTION");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "services"), i, e) {
        char prod[256], cons[256];
        join(json_object_get(e, "produces"), prod, sizeof prod);
        join(json_object_get(e, "consumes"), cons, sizeof cons);
        printf("%-16s %-24s %-5s %-3s %-44s %-24s %-24s %.60s\n", s(e, "namespace"), s(e, "name"),
               json_is_true(json_object_get(e, "ready")) ? "True" : "False",
               json_is_true(json_object_get(e, "hasDatabase")) ? "yes" : "no",
               *s(e, "url") ? s(e, "url") : "-", prod, cons, s(e, "description"));
    }
}

static struct dir_config dir_config_of(const struct grace_config *cfg)
{
    const json_t *cj = grace_config_json(cfg);
    enum grace_tailscale_mode ts = grace_config_tailscale_mode(cfg);
    struct dir_config d = {
        .base_domain = grace_config_base_domain(cfg),
        .tailscale = ts != GRACE_TAILSCALE_OFF,
        .tailscale_per_service = ts == GRACE_TAILSCALE_PER_SERVICE,
        .external_topics = json_object_get(json_object_get(cj, "kafka"), "externalTopics"),
    };
    return d;
}

int cmd_directory(int argc, char **argv)
{
    struct dir_args a = {.output = "table"};
    int rc = parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    struct grace_config *cfg = NULL;
    struct kerr_info err = {0};
    json_t *items = NULL;
    enum kerr e = grace_config_load(a.config, &cfg, &err);
    if (e == KERR_OK)
        e = list_all(&a, &items, &err);
    if (e != KERR_OK) {
        fprintf(stderr, "grace-operator directory: %s\n", err.message);
        grace_config_free(cfg);
        return 1;
    }
    struct dir_config dc = dir_config_of(cfg);
    json_t *doc = dir_build(items, &dc, a.ns);
    if (strcmp(a.output, "json") == 0) {
        size_t len = 0;
        char *text = dir_dump(doc, &len);
        fwrite(text, 1, len, stdout);
        free(text);
    } else {
        print_table(doc);
    }
    json_decref(doc);
    json_decref(items);
    grace_config_free(cfg);
    return 0;
}
