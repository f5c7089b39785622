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
 *
 * The daemon rebuilds the document whenever a GraceService changes, so it
 * keeps a dir_cache: one compact record per service (its entry as text
 * and the topic names the Kafka map needs), reused while the service's uid
 * and resourceVersion are unchanged. A rebuild parses only the services
 * that changed and writes the document's text from the records; it never
 * holds the parsed GraceServices or the document as trees.
 */
#ifndef GRACE_DIRECTORY_H
#define GRACE_DIRECTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "kinformer.h"
#include "kobj.h"

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

/* The same counts kept from a build without the document (a few bytes per
 * namespace and topic): immutable, shared by an atomic reference count so
 * the metrics can read one while the next build replaces it. */
struct dir_tally;
struct dir_tally *dir_tally_ref(struct dir_tally *t); /* returns t; NULL allowed */
void dir_tally_unref(struct dir_tally *t);            /* NULL allowed */
void dir_tally_counts(const struct dir_tally *t, const struct dir_counts_fn *fn);

/*
 * The incremental builder (see the top of this file). cfg is borrowed and
 * must outlive the cache. Not thread-safe: one build at a time.
 */
struct dir_cache;
struct dir_cache *dir_cache_new(const struct dir_config *cfg);
void dir_cache_free(struct dir_cache *c); /* NULL allowed */

/*
 * The document's bytes for the GraceServices `objs` (borrowed, any order):
 * the same bytes as dir_dump(dir_build(their trees, cfg, ns_filter)), with
 * a final newline (malloc'd, caller frees; *len without the NUL). A
 * service whose uid and non-empty resourceVersion match its record keeps
 * the record; the others are parsed (kobj_json) one at a time. Records of
 * services no longer in `objs` are dropped. tally (may be NULL) gets the
 * counts of the document (owned: dir_tally_unref).
 */
char *dir_cache_build(struct dir_cache *c, const struct kobj *const *objs, size_t n,
                      const char *ns_filter, size_t *len, struct dir_tally **tally);

/* The same over a snapshot of the GraceService cache. */
char *dir_cache_build_informer(struct dir_cache *c, struct kinformer *gs_inf, const char *ns_filter,
                               size_t *len, struct dir_tally **tally);

/* GraceServices parsed by the cache since it was made (tests, diagnosis). */
unsigned long dir_cache_parsed(const struct dir_cache *c);

#endif
