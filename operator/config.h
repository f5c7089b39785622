/*
 * config: the operator configuration file (one YAML document, mounted from a
 * ConfigMap, given by --config). Every field has a default that works on a
 * fresh cluster; an unknown field, a wrong type or an invalid value is a
 * start-up error naming the file and the field path. The full configuration
 * with defaults filled in is also available as JSON: that is what templates
 * receive as their `config` argument. Field reference: docs/configuration.md.
 *
 * A loaded configuration is immutable and may be read from any thread.
 */
#ifndef GRACE_CONFIG_H
#define GRACE_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "kerr.h"

struct grace_config; /* opaque */

enum grace_route_kind { GRACE_ROUTE_INGRESSROUTE, GRACE_ROUTE_INGRESS };
enum grace_tailscale_mode {
    GRACE_TAILSCALE_SHARED,
    GRACE_TAILSCALE_PER_SERVICE,
    GRACE_TAILSCALE_OFF
};

/* The views below borrow strings from the configuration: valid until
 * grace_config_free. */
struct grace_config_issuer {
    const char *kind; /* "ClusterIssuer" | "Issuer" */
    const char *name;
    const char *group; /* "cert-manager.io" */
};

struct grace_config_route {
    enum grace_route_kind kind;
    const char *kind_name;     /* "IngressRoute" | "Ingress" */
    const char *entry_point;   /* Traefik entry point, e.g. "websecure" */
    const char *ingress_class; /* ingressClassName for kind Ingress */
};

struct grace_config_kafka {
    const char *cluster;           /* Strimzi Kafka name (strimzi.io/cluster label) */
    const char *namespace;         /* where KafkaTopic/KafkaUser live */
    const char *bootstrap;         /* host:port[,host:port...] */
    const char *api_version;       /* kafka.strimzi.io/v1 | kafka.strimzi.io/v1beta2 */
    const char *security_protocol; /* given to workloads, e.g. SASL_PLAINTEXT */
};

struct grace_config_postgres {
    const char *host;
    int port;
    const char *sslmode;
    const char *admin_secret_namespace;
    const char *admin_secret_name;
};

struct grace_config_backup {
    bool enabled;
    const char *namespace;
    const char *storage_location;
    const char *default_schedule;
    const char *default_ttl;
};

struct grace_config_egress {
    const char *gateway_namespace;
    const json_t *gateway_pod_labels; /* object of string → string, borrowed */
    const char *dns_namespace;
    const json_t *dns_pod_labels; /* borrowed */
};

/*
 * Load the configuration at `path` (NULL = defaults only). On success
 * *out is owned by the caller (grace_config_free). KERR_CONFIG when the file
 * cannot be read (the message says it is the configuration file given with
 * --config), for malformed YAML, an unknown field, a wrong type or an
 * invalid value; err->message then reads e.g.
 * `config /etc/grace/config.yaml: unknown field "kafka.bootstrp"`.
 */
enum kerr grace_config_load(const char *path, struct grace_config **out, struct kerr_info *err);

/* Same from YAML text; `name` (may be NULL) is used in messages. */
enum kerr grace_config_load_string(const char *yaml, const char *name, struct grace_config **out,
                                   struct kerr_info *err);

/* Free; NULL allowed. */
void grace_config_free(struct grace_config *c);

/* The full configuration with defaults, as templates see it (camelCase keys
 * as in the file). Borrowed, immutable: copy before editing. */
const json_t *grace_config_json(const struct grace_config *c);

/* A deep copy of grace_config_json (owned), e.g. for the reconciler to set
 * kafka.apiVersion from discovery before rendering. */
json_t *grace_config_json_copy(const struct grace_config *c);

/* Typed accessors; all borrow from `c`. */
const char *grace_config_base_domain(const struct grace_config *c);
const char *grace_config_field_manager(const struct grace_config *c); /* "grace-operator" */
const char *grace_config_templates_dir(const struct grace_config *c); /* NULL = built-in */
const char *grace_config_otlp_endpoint(const struct grace_config *c); /* NULL = none */
/* Where the operator sends its own spans: operatorTraces.endpoint, else
 * otlpEndpoint; NULL when neither is set or operatorTraces.enabled is false.
 * *queue_size receives operatorTraces.queueSize. */
const char *grace_config_traces_endpoint(const struct grace_config *c, size_t *queue_size);
enum grace_tailscale_mode grace_config_tailscale_mode(const struct grace_config *c);
const struct grace_config_issuer *grace_config_issuer(const struct grace_config *c);
const struct grace_config_route *grace_config_route(const struct grace_config *c);
const struct grace_config_kafka *grace_config_kafka(const struct grace_config *c);
const struct grace_config_postgres *grace_config_postgres(const struct grace_config *c);
const struct grace_config_backup *grace_config_backup(const struct grace_config *c);
const struct grace_config_egress *grace_config_egress(const struct grace_config *c);

#endif
