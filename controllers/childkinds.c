/*
 * childkinds: see childkinds.h. `known` is the constant template every
 * table starts from.
 */
#include "childkinds.h"

#include <stdio.h>
#include <string.h>

static const char *const v1[] = {"v1", NULL};
static const char *const v1alpha1[] = {"v1alpha1", NULL};
static const char *const strimzi[] = {"v1", "v1beta2", NULL};

static const struct childkind known[] = {
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

_Static_assert(sizeof known / sizeof known[0] <= CHILDKINDS_MAX, "CHILDKINDS_MAX too small");

void childkinds_init(struct childkinds *t)
{
    memset(t, 0, sizeof *t);
    t->n = sizeof known / sizeof known[0];
    memcpy(t->kind, known, sizeof known);
}

size_t childkinds_count(const struct childkinds *t)
{
    return t->n;
}

struct childkind *childkinds_at(struct childkinds *t, size_t i)
{
    return i < t->n ? &t->kind[i] : NULL;
}

struct childkind *childkinds_find(struct childkinds *t, const char *api_version, const char *kind)
{
    if (!api_version || !kind)
        return NULL;
    const char *slash = strchr(api_version, '/');
    size_t glen = slash ? (size_t)(slash - api_version) : 0;
    for (size_t i = 0; i < t->n; i++) {
        struct childkind *k = &t->kind[i];
        if (strcmp(k->kind, kind) != 0)
            continue;
        if (strlen(k->group) == glen && strncmp(k->group, api_version, glen) == 0)
            return k;
    }
    return NULL;
}

struct childkind *childkinds_by_kind(struct childkinds *t, const char *kind)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->kind[i].kind, kind) == 0)
            return &t->kind[i];
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
