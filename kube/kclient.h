/*
 * kclient: the REST client for the Kubernetes API, on libcurl (HTTP/1.1
 * with keep-alive, TLS through OpenSSL, a connection per calling thread).
 *
 * One `struct kclient` is shared by every thread. Each calling thread gets
 * its own curl easy handle internally (thread-local), so calls are safe from
 * any thread and connections are reused per thread. Objects are jansson
 * values; this module knows Kubernetes, not GraceService.
 *
 * Ownership: `*out` parameters are new references owned by the caller, set
 * only on KERR_OK (otherwise left NULL). Input json_t are borrowed. An
 * object answer comes without metadata.managedFields (cut before parsing:
 * nothing here reads it, and it is as large as the rest of an applied
 * object).
 *
 * Errors: a non-2xx answer is decoded as a Kubernetes Status when it is one
 * (reason, message go into kerr_info) and mapped with kerr_from_http().
 * 429 and 5xx are retried with exponential backoff (honouring Retry-After)
 * up to `max_retries`; other errors are returned at once.
 */
#ifndef GRACE_KCLIENT_H
#define GRACE_KCLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "kconfig.h"
#include "kerr.h"

struct kclient;

struct kclient_options {
    long connect_timeout_ms; /* default 5000 */
    long request_timeout_ms; /* default 30000 (not applied to watches) */
    int max_retries;         /* on 429 / 5xx; default 5 */
    const char *user_agent;  /* default "grace-operator/<version>" */
    /* Ask for compressed answers (Accept-Encoding: gzip, which the API server
     * applies to answers over 128 KiB, i.e. large lists). Default off: on a
     * cluster network, compressing a list costs the API server (and us) more
     * CPU than the bytes save; worth it over a slow link. The kubeconfig's
     * disable-compression: true turns it off whatever this says. */
    bool compression;
};

/*
 * Called after every completed HTTP exchange (also each retry), from the
 * calling thread: verb is "GET", "LIST", "WATCH", "POST", "PATCH", "APPLY",
 * "PUT", "DELETE"; code is the HTTP status or 0 on a transport error.
 * Used by the daemon to feed rest_client_requests_total.
 */
typedef void (*kclient_observer_fn)(void *ctx, const char *verb, long code, double seconds);

/* Create a client for `cfg` (borrowed; must outlive the client). opts may be NULL. */
enum kerr kclient_new(const struct kconfig *cfg, const struct kclient_options *opts,
                      struct kclient **out, struct kerr_info *err);
void kclient_free(struct kclient *c);
void kclient_set_observer(struct kclient *c, kclient_observer_fn fn, void *ctx);
const struct kconfig *kclient_config(const struct kclient *c);

/*
 * Resource addressing. `group` "" or NULL is the core group ("/api/v1");
 * `ns` NULL or "" is cluster scope / all namespaces; `name` NULL for a
 * collection; `sub` NULL or e.g. "status".
 */
struct kres {
    const char *group;   /* "apps", "" for core */
    const char *version; /* "v1" */
    const char *plural;  /* "deployments" */
};

/* Write the path (e.g. "/apis/apps/v1/namespaces/ns/deployments/x/status")
 * into buf. Returns KERR_INVAL if it does not fit. Names are URL-escaped. */
enum kerr kclient_path(char *buf, size_t size, const struct kres *r, const char *ns,
                       const char *name, const char *sub);

/* GET one object. */
enum kerr kclient_get(struct kclient *c, const struct kres *r, const char *ns, const char *name,
                      json_t **out, struct kerr_info *err);

/*
 * LIST with pagination (`limit` per page, following `continue`), decoding
 * each page as it streams: `item_fn` is called once per item (borrowed; it
 * must json_incref to keep it). label_selector / field_selector may be NULL.
 * `*list_rv` (caller frees with free()) receives the list's resourceVersion.
 * If item_fn returns non-zero the list stops with KERR_STOPPED.
 */
typedef int (*kclient_item_fn)(void *ctx, json_t *item);
enum kerr kclient_list(struct kclient *c, const struct kres *r, const char *ns,
                       const char *label_selector, const char *field_selector, long limit,
                       kclient_item_fn item_fn, void *ctx, char **list_rv,
                       struct kerr_info *err);

/*
 * The same, handing each item as its minified JSON text with
 * metadata.managedFields removed (borrowed for the call; not parsed here).
 * The text is a value kjsonstream's splitter handed out, so it has been
 * checked whole (kobj_new_from_split_meta relies on it).
 * A result other than KERR_OK from item_fn stops the list and is returned
 * (with what item_fn put into its kerr_info, if anything).
 */
typedef enum kerr (*kclient_text_item_fn)(void *ctx, const char *text, size_t len,
                                         struct kerr_info *err);
enum kerr kclient_list_text(struct kclient *c, const struct kres *r, const char *ns,
                            const char *label_selector, const char *field_selector, long limit,
                            kclient_text_item_fn item_fn, void *ctx, char **list_rv,
                            struct kerr_info *err);

/*
 * kclient_list_text at a resourceVersion, in one request (no pagination):
 * "0" lists any state the server holds, a resourceVersion seen before lists
 * a state not older than it. A real API server answers both from its watch
 * cache (no etcd read; it ignores limit there), which is what client-go's
 * reflector asks for. NULL or "" is kclient_list_text: a consistent read,
 * paginated by `limit`.
 */
enum kerr kclient_list_text_at(struct kclient *c, const struct kres *r, const char *ns,
                               const char *label_selector, const char *field_selector,
                               const char *resource_version, long limit,
                               kclient_text_item_fn item_fn, void *ctx, char **list_rv,
                               struct kerr_info *err);

/* POST a new object (ns from the argument, not from obj). */
enum kerr kclient_create(struct kclient *c, const struct kres *r, const char *ns,
                         const json_t *obj, json_t **out, struct kerr_info *err);

/* PUT (update) an object; obj must carry metadata.resourceVersion for CRs. */
enum kerr kclient_update(struct kclient *c, const struct kres *r, const char *ns,
                         const char *name, const char *sub, const json_t *obj, json_t **out,
                         struct kerr_info *err);

/* Server-side apply: PATCH application/apply-patch+yaml (JSON body is valid
 * YAML) with ?fieldManager=..&force=... `sub` may be "status". */
enum kerr kclient_apply(struct kclient *c, const struct kres *r, const char *ns, const char *name,
                        const char *sub, const json_t *obj, const char *field_manager,
                        bool force, json_t **out, struct kerr_info *err);

/* JSON merge patch (application/merge-patch+json). `sub` may be "status". */
enum kerr kclient_merge_patch(struct kclient *c, const struct kres *r, const char *ns,
                              const char *name, const char *sub, const json_t *patch,
                              json_t **out, struct kerr_info *err);

/* DELETE. propagation: NULL, "Background", "Foreground" or "Orphan".
 * precondition_uid / precondition_rv may be NULL. `out` (may be NULL)
 * receives the body: a Status, or the object when finalizers keep it.
 * A 404 is returned as KERR_NOTFOUND (callers that prune treat it as done). */
enum kerr kclient_delete(struct kclient *c, const struct kres *r, const char *ns,
                         const char *name, const char *propagation,
                         const char *precondition_uid, const char *precondition_rv,
                         json_t **out, struct kerr_info *err);

/* Raw GET of any path (discovery, /version). */
enum kerr kclient_get_path(struct kclient *c, const char *path, json_t **out,
                           struct kerr_info *err);

#endif
