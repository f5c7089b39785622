/*
 * childkinds: see childkinds.h. The table is filled once at start-up
 * (before any worker thread runs) and read-only afterwards.
 */
#include "childkinds.h"

#include <stdio.h>
#include <string.h>

static const char *const v1[] = {"v1", NULL};
static const char *const v1alpha1[] = {"v1alpha1", NULL};
static const char *const strimzi[] = {"v1", "v1beta2", NULL};

static struct childkind table[] = {
    {"Deployment", "apps", "deployments", v1, "v1", false},
    {"Service", "", "services", v1, "v1", false},
    {"Secret", "", "secrets", v1, "v1", false},
    {"NetworkPolicy", "networking.k8s.io", "networkpolicies", v1, "v1", false},
    {"Ingress", "networking.k8s.io", "ingresses", v1, "v1", false},
    {"IngressRoute", "traefik.io", "ingressroutes", v1alpha1, "v1alpha1", false},
    {"Certificate", "cert-manager.io", "certificates", v1, "v1", false},
    {"KafkaTopic", "kafka.strimzi.io", "kafkatopics", strimzi, "v1", false},
    {"KafkaUser", "kafka.strimzi.io", "kafkausers", strimzi, "v1", false},
    {"Schedule", "velero.io", "schedules", v1, "v1", false},
    {"Job", "batch", "jobs", v1, "v1", false},
};

size_t childkinds_count(void)
{
    return sizeof table / sizeof table[0];
}

struct childkind *childkinds_at(size_t i)
{
    return i < childkinds_count() ? &table[i] : NULL;
}

struct childkind *childkinds_find(const char *api_version, const char *kind)
{
    if (!api_version || !kind)
        return NULL;
    const char *slash = strchr(api_version, '/');
    size_t glen = slash ? (size_t)(slash - api_version) : 0;
    for (size_t i = 0; i < childkinds_count(); i++) {
        struct childkind *k = &table[i];
        if (strcmp(k->kind, kind) != 0)
            continue;
        if (strlen(k->group) == glen && strncmp(k->group, api_version, glen) == 0)
            return k;
    }
    return NULL;
}

struct childkind *childkinds_by_kind(const char *kind)
{
    for (size_t i = 0; i < childkinds_count(); i++)
        if (strcmp(table[i].kind, kind) == 0)
            return &table[i];
    return NULL;
}

void childkinds_kres(const struct childkind *k, struct kres *out)
{
    out->group = k->group;
    out->version = k->version;
    out->plural = k->plural;
}

void childkinds_api_version(const struct childkind *k, char *buf, size_t n)
{
    if (k->group[0])
        snprintf(buf, n, "%s/%s", k->group, k->version);
    else
        snprintf(buf, n, "%s", k->version);
}
