/*
 * gsrun: the state and helpers shared by the GraceService reconciler's
 * concerns (see gsrun.h).
 */
#include "gsrun.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const concern_types[GC__N] = {
    [GC_WORKLOAD] = "WorkloadReady",   [GC_ROUTE] = "RouteReady",
    [GC_CERT] = "CertificateReady",    [GC_TAILSCALE] = "TailscaleReady",
    [GC_DATABASE] = "DatabaseReady",   [GC_KAFKA] = "KafkaReady",
    [GC_BACKUP] = "BackupReady",       [GC_EGRESS] = "EgressReady",
};

const char *gs_concern_type(enum gs_concern c)
{
    return concern_types[c];
}

const char *gs_meta(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(o, "metadata"), key));
    return s ? s : "";
}

const json_t *gs_spec(const json_t *gs, const char *key)
{
    return json_object_get(json_object_get(gs, "spec"), key);
}

bool gs_enabled(const json_t *gs, const char *key, bool dflt)
{
    const json_t *v = json_object_get(gs_spec(gs, key), "enabled");
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

void gs_concern_fail(struct gs_concern_state *s, bool terminal, const char *reason,
                     const char *fmt, ...)
{
    s->state = READY_FALSE;
    s->terminal = s->terminal || terminal;
    snprintf(s->reason, sizeof s->reason, "%s", reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->message, sizeof s->message, fmt, ap);
    va_end(ap);
}

enum gs_concern gs_concern_of(const json_t *obj)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    kind = kind ? kind : "";
    if (strcmp(kind, "Service") == 0) {
        const json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
        const char *lbc = json_string_value(
            json_object_get(json_object_get(obj, "spec"), "loadBalancerClass"));
        if (json_object_get(ann, "tailscale.com/expose") || (lbc && !strcmp(lbc, "tailscale")))
            return GC_TAILSCALE;
        return GC_WORKLOAD;
    }
    if (!strcmp(kind, "IngressRoute") || !strcmp(kind, "Ingress"))
        return GC_ROUTE;
    if (!strcmp(kind, "Certificate"))
        return GC_CERT;
    if (!strcmp(kind, "Secret")) {
        const char *n = gs_meta(obj, "name");
        size_t len = strlen(n);
        return (len > 9 && !strcmp(n + len - 9, "-postgres")) ? GC_DATABASE : GC_KAFKA;
    }
    if (!strncmp(kind, "Kafka", 5))
        return GC_KAFKA;
    if (!strcmp(kind, "Schedule"))
        return GC_BACKUP;
    if (!strcmp(kind, "NetworkPolicy"))
        return GC_EGRESS;
    if (!strcmp(kind, "Connector") || !strcmp(kind, "ProxyGroup"))
        return GC_TAILSCALE;
    return GC_WORKLOAD;
}

struct kinformer *gs_child_informer(struct gs_controller *c, const char *api_version,
                                    const char *kind, struct childkind **kind_out)
{
    struct childkind *k = childkinds_find(api_version, kind);
    if (kind_out)
        *kind_out = k;
    if (!k)
        return NULL;
    return c->d.child_inf[k - childkinds_at(0)];
}

