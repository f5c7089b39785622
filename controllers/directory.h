/*
 * directory: the service directory and the Kafka map, computed from
 * GraceService objects. Pure computation over JSON: no I/O, no locks, no
 * clock, so the same input gives byte-identical output (the ConfigMap is
 * written only when those bytes change). The daemon publishes it (a
 * ConfigMap, GET /directory, `grace-operator directory`); the reconciler
 * applies the same producer rule for its TopicWithoutProducer warning.
 *
 * The document (docs/agents.md is the reference):
 *
 *   {"apiVersion":"grace.dev/v1alpha1","kind":"ServiceDirectory",
 *    "services":[{"namespace","name","description"?,"url"?,"tailnetUrl"?,
 *                 "openapiUrl"?,"produces"?,"consumes"?,"hasDatabase",
 *                 "ready","lastTransitionTime"?}, ...],     sorted by ns/name
 *    "topics":[{"name","producer"?,"consumers"?,"external"?}, ...]}  by name
 *
 * A topic's producer is its owner: the oldest GraceService not being
 * deleted that lists it in spec.kafka.topics (the same rule as the topic
 * claim, gsclaims). Absent keys mean "none". Nothing secret is read: only
 * metadata, spec fields that name things, and the Ready condition.
 */
#ifndef GRACE_DIRECTORY_H
#define GRACE_DIRECTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "kinformer.h"

#define DIR_API_VERSION "grace.dev/v1alpha1"
#define DIR_KIND "ServiceDirectory"

/* What the URLs depend on besides the GraceService. Borrowed. */
struct dir_config {
    const char *base_domain;       /* "" or NULL: hostnames without a domain */
    bool tailscale;                /* tailnet exposure is on (mode is not "off") */
    bool tailscale_per_service;    /* per-service devices (http://<hostname>) */
    const json_t *external_topics; /* array of topic names produced outside; may be NULL */
};

/* One service's directory entry (owned), from a GraceService object
 * (borrowed). Entries of the same input are equal. */
json_t *dir_entry_new(const json_t *gs, const struct dir_config *cfg);

/*
 * The whole document (owned) from an array of GraceService objects
 * (borrowed; any order). ns_filter (NULL or "": all) keeps the services of
 * that namespace and the topics one of them produces or consumes; the
 * producer rule still sees every service.
 */
json_t *dir_build(const json_t *items, const struct dir_config *cfg, const char *ns_filter);

/* The same over the GraceService cache (a snapshot of it). */
json_t *dir_build_cache(struct kinformer *gs_inf, const struct dir_config *cfg,
                        const char *ns_filter);

/* The document's bytes as published: compact JSON with a final newline
 * (malloc'd, caller frees; *len without the NUL). */
char *dir_dump(const json_t *doc, size_t *len);

/* Is `topic` in cfg->external_topics? */
bool dir_topic_external(const struct dir_config *cfg, const char *topic);

/* Service entries by readiness and topics by producer and consumer count,
 * for the metrics: fn is called once per (namespace, ready) pair with the
 * count, and once per topic with its producer and consumer counts. */
struct dir_counts_fn {
    void (*services)(void *ctx, const char *ns, bool ready, size_t n);
    void (*topic)(void *ctx, const char *topic, size_t producers, size_t consumers);
    void *ctx;
};
void dir_counts(const json_t *doc, const struct dir_counts_fn *fn);

#endif
