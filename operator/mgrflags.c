/*
 * mgrflags: see mgrflags.h.
 */
#include "mgrflags.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_KUBECONFIG = 256, OPT_CONTEXT, OPT_NAMESPACE, OPT_CONFIG, OPT_TEMPLATES, OPT_WORKERS,
    OPT_LEADER, OPT_LEADER_NS, OPT_LEADER_ID, OPT_IDENTITY, OPT_METRICS, OPT_HEALTH,
    OPT_WEBHOOK, OPT_CERTDIR, OPT_LOGLEVEL, OPT_LOGFORMAT, OPT_RESYNC, OPT_COMPRESSION, OPT_HELP,
    OPT_VERSION
};

static const struct option opts[] = {
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"namespace", required_argument, NULL, OPT_NAMESPACE},
    {"api-compression", optional_argument, NULL, OPT_COMPRESSION},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"templates", required_argument, NULL, OPT_TEMPLATES},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"leader-elect", optional_argument, NULL, OPT_LEADER},
    {"leader-election-namespace", required_argument, NULL, OPT_LEADER_NS},
    {"leader-election-id", required_argument, NULL, OPT_LEADER_ID},
    {"identity", required_argument, NULL, OPT_IDENTITY},
    {"metrics-addr", required_argument, NULL, OPT_METRICS},
    {"health-addr", required_argument, NULL, OPT_HEALTH},
    {"webhook-addr", required_argument, NULL, OPT_WEBHOOK},
    {"webhook-cert-dir", required_argument, NULL, OPT_CERTDIR},
    {"log-level", required_argument, NULL, OPT_LOGLEVEL},
    {"log-format", required_argument, NULL, OPT_LOGFORMAT},
    {"resync-period", required_argument, NULL, OPT_RESYNC},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

void mgrflags_usage(FILE *out)
{
    fputs(
        "usage: grace-operator [flags]                 run the operator (manager)\n"
        "       grace-operator render -f FILE [...]    print the objects a GraceService becomes\n"
        "       grace-operator directory [-o json]    print the service directory (docs/agents.md)\n"
        "       grace-operator schema                 print the spec as a JSON Schema\n"
        "       grace-operator version                 print the version\n"
        "\n"
        "Connection:\n"
        "  --kubeconfig PATH     kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then\n"
        "                        the in-cluster service account)\n"
        "  --context NAME        kubeconfig context (default: current-context)\n"
        "  --namespace NS        watch GraceServices in NS only (default: all namespaces)\n"
        "  --api-compression[=true|false]  ask the API server to gzip large answers (lists;\n"
        "                        default off: on a cluster network it costs the server and\n"
        "                        the operator more CPU than it saves; use it over a slow\n"
        "                        link). A kubeconfig cluster's disable-compression: true\n"
        "                        wins\n"
        "Behaviour:\n"
        "  --config PATH         operator configuration YAML (default: built-in defaults;\n"
        "                        see docs/configuration.md)\n"
        "  --templates DIR       Lua template directory (overrides templatesDir)\n"
        "  --workers N           concurrent reconciles (default 4)\n"
        "  --resync-period SEC   re-check every GraceService this often (default 600);\n"
        "                        SIGHUP forces a full resync now (every kind relisted,\n"
        "                        every GraceService re-checked)\n"
        "Leader election:\n"
        "  --leader-elect[=true|false]  run only while holding the Lease (default: on\n"
        "                        in-cluster, off otherwise)\n"
        "  --leader-election-namespace NS  where the Lease lives (default: the context or\n"
        "                        service-account namespace, else \"default\")\n"
        "  --leader-election-id NAME  the Lease name (default grace-operator-leader)\n"
        "  --identity ID         this replica's identity (default: hostname_pid)\n"
        "HTTP:\n"
        "  --health-addr ADDR    /healthz and /readyz (default 127.0.0.1:8081; \":8081\" = all)\n"
        "  --metrics-addr ADDR   /metrics, Prometheus text (default 127.0.0.1:8080)\n"
        "  --webhook-addr ADDR   admission webhook over HTTPS (default :9443; \"off\" disables)\n"
        "  --webhook-cert-dir D  tls.crt and tls.key for the webhook (default: generate a\n"
        "                        self-signed certificate at start-up)\n"
        "  Each listener needs its own address (health and metrics given the very same\n"
        "  one share a listener); two on one port (\":P\" covers \"127.0.0.1:P\") fail\n"
        "  start-up. Port 0 = a free port, logged in \"http server listening\".\n"
        "Logging:\n"
        "  --log-level LEVEL     debug, info, warn, error (default info)\n"
        "  --log-format FORMAT   auto (key=value on a terminal, JSON otherwise), json, kv\n"
        "Other:\n"
        "  --help, --version\n"
        "\n"
        "Signals: SIGTERM or SIGINT stop intake, let running reconciles finish, release the\n"
        "Lease and exit 0.\n",
        out);
}

static enum kerr parse_bool(const char *name, const char *v, int *out, struct kerr_info *err)
{
    if (!v || !strcmp(v, "true") || !strcmp(v, "1"))
        *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0"))
        *out = 0;
    else
        return kerr_set(err, KERR_INVAL, 0, "BadFlag",
                        "--%s: \"%s\" is not true or false", name, v);
    return KERR_OK;
}

static enum kerr parse_long(const char *name, const char *v, long lo, long hi, long *out,
                            struct kerr_info *err)
{
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi)
        return kerr_set(err, KERR_INVAL, 0, "BadFlag", "--%s: \"%s\" is not a number in %ld..%ld",
                        name, v, lo, hi);
    *out = n;
    return KERR_OK;
}

static void defaults(struct mgr_flags *f)
{
    memset(f, 0, sizeof *f);
    f->workers = 4;
    f->leader_elect = -1;
    f->leader_id = "grace-operator-leader";
    f->metrics_addr = "127.0.0.1:8080";
    f->health_addr = "127.0.0.1:8081";
    f->webhook_addr = ":9443";
    f->log_level = "info";
    f->log_format = "auto";
    f->resync_s = 600;
}

static enum kerr apply_opt(int c, struct mgr_flags *f, struct kerr_info *err)
{
    long n = 0;
    enum kerr e = KERR_OK;
    switch (c) {
    case OPT_KUBECONFIG: f->kubeconfig = optarg; break;
    case OPT_CONTEXT: f->context = optarg; break;
    case OPT_NAMESPACE: f->namespace_ = optarg; break;
    case OPT_CONFIG: f->config = optarg; break;
    case OPT_TEMPLATES: f->templates = optarg; break;
    case OPT_WORKERS:
        e = parse_long("workers", optarg, 1, 256, &n, err);
        f->workers = (int)n;
        break;
    case OPT_LEADER: e = parse_bool("leader-elect", optarg, &f->leader_elect, err); break;
    case OPT_COMPRESSION: e = parse_bool("api-compression", optarg, &f->api_compression, err); break;
    case OPT_LEADER_NS: f->leader_ns = optarg; break;
    case OPT_LEADER_ID: f->leader_id = optarg; break;
    case OPT_IDENTITY: f->identity = optarg; break;
    case OPT_METRICS: f->metrics_addr = optarg; break;
    case OPT_HEALTH: f->health_addr = optarg; break;
    case OPT_WEBHOOK: f->webhook_addr = optarg; break;
    case OPT_CERTDIR: f->webhook_cert_dir = optarg; break;
    case OPT_LOGLEVEL: f->log_level = optarg; break;
    case OPT_LOGFORMAT: f->log_format = optarg; break;
    case OPT_RESYNC: e = parse_long("resync-period", optarg, 1, 86400L * 7, &f->resync_s, err); break;
    case OPT_HELP: f->help = true; break;
    case OPT_VERSION: f->version = true; break;
    default:
        return kerr_set(err, KERR_INVAL, 0, "BadFlag", "unknown flag (see --help)");
    }
    return e;
}

enum kerr mgrflags_parse(int argc, char **argv, struct mgr_flags *f, struct kerr_info *err)
{
    defaults(f);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == '?' || c == ':')
            return kerr_set(err, KERR_INVAL, 0, "BadFlag",
                            "unknown flag or missing value: %s (see --help)",
                            argv[optind - 1]);
        enum kerr e = apply_opt(c, f, err);
        if (e != KERR_OK)
            return e;
    }
    if (optind < argc)
        return kerr_set(err, KERR_INVAL, 0, "BadFlag", "unexpected argument \"%s\" (see --help)",
                        argv[optind]);
    return KERR_OK;
}
