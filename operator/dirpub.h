/*
 * dirpub: publishes the service directory (controllers/directory.h) from
 * the GraceService cache: the ConfigMap named in the configuration, the
 * GET /directory answer, and the directory metrics.
 *
 * The ConfigMap costs nothing when nothing changes: every GraceService
 * event marks the directory dirty; one thread rebuilds it at most once per
 * interval (default 2 s) and writes the ConfigMap only when its bytes
 * differ from what the ConfigMap holds (read once, then remembered), so a
 * restart with nothing changed writes nothing. Only while leading; never
 * before the cache has synced (a partial directory is never published).
 *
 * Memory: a rebuild parses only the GraceServices added or changed since
 * the last one (a dir_cache, shared with GET /directory); what stays
 * between rebuilds is one record per service (its entry as text, ~0.6 KB)
 * and the counts the metrics are rendered from, never the document or the
 * parsed GraceServices as trees.
 *
 * Encoding (dirpub_encode): data["directory.json"] when the JSON is at most
 * DIRPUB_PLAIN_MAX bytes; beyond, binaryData["directory.json.gz"] (gzip of
 * the same bytes) when that fits DIRPUB_OBJECT_MAX; beyond that the
 * ConfigMap is left as it was, with an error in the log and
 * grace_directory_publish_errors_total.
 *
 * Metrics (registered by dirpub_new):
 *   grace_directory_services{namespace,ready}       services by readiness
 *   grace_directory_topic_producers{topic}          0 or 1 (its owner)
 *   grace_directory_topic_consumers{topic}
 *   grace_directory_bytes                           JSON size of the directory
 *   grace_directory_configmap_writes_total
 *   grace_directory_publish_errors_total
 *
 * Threads: dirpub_new, _start, _free from the owning thread;
 * dirpub_set_leading and dirpub_http from any thread.
 */
#ifndef GRACE_DIRPUB_H
#define GRACE_DIRPUB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "directory.h"
#include "kclient.h"
#include "kerr.h"
#include "kinformer.h"
#include "metrics.h"

#define DIRPUB_KEY "directory.json"
#define DIRPUB_GZ_KEY "directory.json.gz"
#define DIRPUB_PLAIN_MAX ((size_t)768 * 1024)
#define DIRPUB_OBJECT_MAX ((size_t)1000 * 1000) /* the API server's limit is 1 MiB per object */

struct dirpub;

struct dirpub_options {
    struct kclient *client;   /* borrowed */
    struct kinformer *gs_inf; /* borrowed; handlers are added by dirpub_new */
    struct dir_config dir;    /* borrowed strings and array */
    const char *cm_namespace; /* copied */
    const char *cm_name;      /* copied; NULL or "": no ConfigMap */
    struct metrics *metrics;  /* borrowed, may be NULL */
    long interval_ms;         /* at most one rebuild and write per interval; 0: 2000 */
};

/* New publisher (never NULL). Call before the informer starts. */
struct dirpub *dirpub_new(const struct dirpub_options *o);

/* Start the publishing thread (nothing is written until leading). */
enum kerr dirpub_start(struct dirpub *p, struct kerr_info *err);

/* This replica leads (or no longer does). */
void dirpub_set_leading(struct dirpub *p, bool leading);

/* Stop the thread, free. NULL allowed. */
void dirpub_free(struct dirpub *p);

/* httpd_get_fn for GET /directory: query "namespace=NS" filters; the
 * directory is built from the cache at the time of the request. 503 before
 * the cache has synced. */
char *dirpub_http(void *ctx, const char *query, size_t *len, int *status);

/*
 * The ConfigMap's data and binaryData (owned objects, either may be empty)
 * for the directory's bytes, per the encoding above. KERR_INVAL (message
 * with the sizes) when even the gzip form does not fit.
 */
enum kerr dirpub_encode(const char *text, size_t len, json_t **data, json_t **binary_data,
                        struct kerr_info *err);

/* Writes done so far (for tests). */
unsigned long dirpub_writes(struct dirpub *p);

#endif
