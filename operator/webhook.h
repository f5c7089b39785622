/*
 * webhook: the AdmissionReview v1 plumbing of the admission webhooks.
 * webhook_handle() decodes a review (request.uid, kind, operation, object,
 * oldObject), runs a validating callback and/or a defaulting callback, and
 * encodes the response review (uid echoed, allowed, status for a denial,
 * warnings, and for defaulting a base64 JSONPatch).
 *
 * The GraceService rules (hostname already taken, topic owned by another
 * service) are not here: they are callbacks written by the controllers.
 * This module knows AdmissionReview, not GraceService.
 *
 * Threading: no state; callable from any thread (the HTTP server thread).
 */
#ifndef GRACE_WEBHOOK_H
#define GRACE_WEBHOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define WEBHOOK_API_VERSION "admission.k8s.io/v1"

/* The decoded request. Every pointer borrows from the parsed review and is
 * valid only during the callback. Strings are never NULL ("" if absent). */
struct webhook_request {
    const char *uid;
    const char *operation; /* "CREATE", "UPDATE", "DELETE", "CONNECT" */
    const char *group;     /* request.kind.group ("" for core) */
    const char *version;   /* request.kind.version */
    const char *kind;      /* request.kind.kind */
    const char *resource;  /* request.resource.resource */
    const char *subresource;
    const char *ns;       /* request.namespace */
    const char *name;     /* request.name (may be "" on CREATE with generateName) */
    const char *username; /* request.userInfo.username */
    bool dry_run;
    const json_t *object;     /* NULL when absent or null (DELETE) */
    const json_t *old_object; /* NULL when absent or null (CREATE) */
    const json_t *request;    /* the whole "request" object */
};

/*
 * What a callback decides. Starts as allowed, no message, code 403, reason
 * "Forbidden". Set it with the helpers below. warnings and patch are owned
 * by the verdict (webhook_handle frees them).
 */
struct webhook_verdict {
    bool allowed;
    int code;        /* status.code of a denial (403 for a policy refusal,
                        500 when the webhook could not decide) */
    char reason[64]; /* status.reason of a denial (a metav1.StatusReason) */
    char message[1024];
    json_t *warnings; /* array of strings, or NULL */
    json_t *patch;    /* JSON Patch (RFC 6902) operations array, or NULL */
};

typedef void (*webhook_validate_fn)(void *ctx, const struct webhook_request *req,
                                    struct webhook_verdict *v);
typedef void (*webhook_default_fn)(void *ctx, const struct webhook_request *req,
                                   struct webhook_verdict *v);

/* Refuse the request with a message (printf format). Code stays 403 unless
 * set before; reason "Forbidden" unless set before. */
void webhook_deny(struct webhook_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Add a warning shown to the kubectl user (allowed or not). */
void webhook_warn(struct webhook_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append one JSON Patch operation: op "add"/"replace"/"remove"/..., path a
 * JSON Pointer ("/spec/replicas"; escape '~' as "~0" and '/' as "~1"),
 * value stolen (NULL for "remove"). */
void webhook_patch(struct webhook_verdict *v, const char *op, const char *path, json_t *value);

/*
 * Handle one AdmissionReview request body (`len` bytes, need not be
 * NUL-terminated). `validate` (may be NULL) runs first; if it allows and
 * `mutate` (may be NULL) is given, the defaulter runs and its patch is
 * returned. ctx is passed to both.
 *
 * Returns a malloc'd NUL-terminated body (free with free()) and sets
 * *http_status: 200 with an AdmissionReview JSON for every decoded review
 * (allowed or denied); 400 with a one-line plain-text message for malformed
 * JSON, a body that is not an admission.k8s.io/v1 AdmissionReview, no
 * request, or a request without uid.
 */
char *webhook_handle(const char *body, size_t len, webhook_validate_fn validate,
                     webhook_default_fn mutate, void *ctx, int *http_status);

/*
 * Routing for the HTTP server: one validating and one defaulting endpoint.
 * webhook_serve() has the shape of httpd_webhook_fn (pass the routes as the
 * server's ctx): the validate path runs only `validate`, the mutate path
 * only `mutate`, any other path answers 404. Borrowed; must outlive the
 * server.
 *
 * With `kind` set, a review whose request.kind is another group/kind (a
 * webhook configuration whose rules match more than they should) runs no
 * callback: it is allowed unchanged, with a warning naming the kind, as a
 * webhook does for objects it does not own (denying would block unrelated
 * writes; patching would write another kind's defaults into them).
 */
struct webhook_routes {
    const char *validate_path; /* e.g. "/validate-graceservice" */
    webhook_validate_fn validate;
    const char *mutate_path; /* e.g. "/mutate-graceservice" */
    webhook_default_fn mutate;
    void *ctx;         /* passed to both callbacks */
    const char *group; /* with kind: request.kind.group served, e.g. "grace.dev" */
    const char *kind;  /* request.kind.kind served, e.g. "GraceService"; NULL: any */
};

char *webhook_serve(void *routes, const char *path, const char *body, size_t len, int *http_status);

#endif
