/*
 * webhook: AdmissionReview v1 decoding, callback dispatch and response
 * encoding (JSON with jansson, base64 of the patch with kb64). See
 * webhook.h.
 */
#include "webhook.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb64.h"
#include "kerr.h"

static char *text_error(int *http_status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *text_error(int *http_status, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    *http_status = 400;
    return kerr_xstrdup(buf);
}

static const char *str_at(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static const json_t *obj_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_object(v) ? v : NULL;
}

static void decode_request(const json_t *r, struct webhook_request *req)
{
    const json_t *kind = obj_at(r, "kind");
    const json_t *res = obj_at(r, "resource");
    req->uid = str_at(r, "uid");
    req->operation = str_at(r, "operation");
    req->group = str_at(kind, "group");
    req->version = str_at(kind, "version");
    req->kind = str_at(kind, "kind");
    req->resource = str_at(res, "resource");
    req->subresource = str_at(r, "subResource");
    req->ns = str_at(r, "namespace");
    req->name = str_at(r, "name");
    req->username = str_at(obj_at(r, "userInfo"), "username");
    req->dry_run = json_is_true(json_object_get(r, "dryRun"));
    req->object = obj_at(r, "object");
    req->old_object = obj_at(r, "oldObject");
    req->request = r;
}

void webhook_deny(struct webhook_verdict *v, const char *fmt, ...)
{
    va_list ap;
    v->allowed = false;
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof v->message, fmt, ap);
    va_end(ap);
}

void webhook_warn(struct webhook_verdict *v, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!v->warnings)
        v->warnings = json_array();
    if (!v->warnings || json_array_append_new(v->warnings, json_string(buf)) != 0)
        kerr_oom();
}

void webhook_patch(struct webhook_verdict *v, const char *op, const char *path, json_t *value)
{
    if (!v->patch)
        v->patch = json_array();
    json_t *o = json_pack("{s:s, s:s}", "op", op, "path", path);
    if (!v->patch || !o)
        kerr_oom();
    if (value)
        json_object_set_new(o, "value", value);
    json_array_append_new(v->patch, o);
}

/* Add patchType/patch to the response; false if the patch is not an array. */
static bool add_patch(json_t *resp, const json_t *patch)
{
    if (!patch)
        return true;
    if (!json_is_array(patch))
        return false;
    if (json_array_size(patch) == 0)
        return true;
    char *s = json_dumps(patch, JSON_COMPACT);
    if (!s)
        kerr_oom(); /* json_dumps fails only on OOM */
    char *b = kb64_encode(s, s ? strlen(s) : 0, NULL);
    free(s);
    json_object_set_new(resp, "patchType", json_string("JSONPatch"));
    json_object_set_new(resp, "patch", json_string(b));
    free(b);
    return true;
}

static json_t *build_response(const char *uid, struct webhook_verdict *v)
{
    json_t *resp = json_pack("{s:s, s:b}", "uid", uid, "allowed", v->allowed);
    if (!resp)
        kerr_oom();
    if (v->allowed && !add_patch(resp, v->patch)) {
        v->allowed = false;
        v->code = 500;
        snprintf(v->reason, sizeof v->reason, "InternalError");
        snprintf(v->message, sizeof v->message, "the defaulting webhook produced an invalid patch");
        json_object_set_new(resp, "allowed", json_false());
    }
    if (!v->allowed) {
        json_t *st = json_pack("{s:s, s:i, s:s}", "status", "Failure", "code", v->code, "message",
                               v->message[0] ? v->message : "denied");
        if (!st)
            kerr_oom();
        if (v->reason[0])
            json_object_set_new(st, "reason", json_string(v->reason));
        json_object_set_new(resp, "status", st);
    }
    if (v->warnings && json_array_size(v->warnings) > 0)
        json_object_set(resp, "warnings", v->warnings);
    return resp;
}

/* Validate the envelope; on success *request is borrowed from `review`. */
static char *check_review(const json_t *review, const json_t **request, int *http_status)
{
    if (!json_is_object(review))
        return text_error(http_status, "malformed AdmissionReview: not a JSON object");
    const char *api = str_at(review, "apiVersion");
    const char *kind = str_at(review, "kind");
    if (strcmp(kind, "AdmissionReview") != 0)
        return text_error(http_status, "expected kind AdmissionReview, got \"%s\"", kind);
    if (strcmp(api, WEBHOOK_API_VERSION) != 0)
        return text_error(http_status, "unsupported AdmissionReview apiVersion \"%s\": expected %s",
                          api, WEBHOOK_API_VERSION);
    *request = obj_at(review, "request");
    if (!*request)
        return text_error(http_status, "AdmissionReview has no request");
    if (!*str_at(*request, "uid"))
        return text_error(http_status, "AdmissionReview request.uid is missing");
    return NULL;
}

static void run_callbacks(const struct webhook_request *req, webhook_validate_fn validate,
                          webhook_default_fn mutate, void *ctx, struct webhook_verdict *v)
{
    if (validate)
        validate(ctx, req, v);
    if (v->allowed && mutate)
        mutate(ctx, req, v);
    if (!v->allowed) { /* a denial carries no patch */
        json_decref(v->patch);
        v->patch = NULL;
    }
}

char *webhook_handle(const char *body, size_t len, webhook_validate_fn validate,
                     webhook_default_fn mutate, void *ctx, int *http_status)
{
    json_error_t jerr;
    json_t *review = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
    if (!review)
        return text_error(http_status, "malformed AdmissionReview JSON: %s (line %d, column %d)",
                          jerr.text, jerr.line, jerr.column);
    const json_t *request = NULL;
    char *out = check_review(review, &request, http_status);
    if (out) {
        json_decref(review);
        return out;
    }
    struct webhook_request req;
    decode_request(request, &req);
    struct webhook_verdict v = {.allowed = true, .code = 403, .reason = "Forbidden"};
    run_callbacks(&req, validate, mutate, ctx, &v);
    json_t *resp = build_response(req.uid, &v);
    json_t *answer = json_pack("{s:s, s:s, s:o}", "apiVersion", WEBHOOK_API_VERSION, "kind",
                               "AdmissionReview", "response", resp);
    out = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
    if (!out)
        kerr_oom();
    json_decref(answer);
    json_decref(v.warnings);
    json_decref(v.patch);
    json_decref(review);
    *http_status = 200;
    return out;
}

/* Is the request for the routes' kind? Otherwise warn and run nothing. */
static bool route_kind_ok(const struct webhook_routes *r, const struct webhook_request *req,
                          struct webhook_verdict *v)
{
    if (!r->kind || (strcmp(req->kind, r->kind) == 0 &&
                     strcmp(req->group, r->group ? r->group : "") == 0))
        return true;
    webhook_warn(v, "this webhook handles %s%s%s only; %s%s%s was not checked", r->kind,
                 r->group && *r->group ? "." : "", r->group ? r->group : "", req->kind,
                 *req->group ? "." : "", req->group);
    return false;
}

static void route_validate(void *routes, const struct webhook_request *req,
                           struct webhook_verdict *v)
{
    const struct webhook_routes *r = routes;
    if (route_kind_ok(r, req, v) && r->validate)
        r->validate(r->ctx, req, v);
}

static void route_mutate(void *routes, const struct webhook_request *req,
                         struct webhook_verdict *v)
{
    const struct webhook_routes *r = routes;
    if (route_kind_ok(r, req, v) && r->mutate)
        r->mutate(r->ctx, req, v);
}

char *webhook_serve(void *routes, const char *path, const char *body, size_t len, int *http_status)
{
    const struct webhook_routes *r = routes;
    if (r->validate_path && path && strcmp(path, r->validate_path) == 0)
        return webhook_handle(body, len, route_validate, NULL, routes, http_status);
    if (r->mutate_path && path && strcmp(path, r->mutate_path) == 0)
        return webhook_handle(body, len, NULL, route_mutate, routes, http_status);
    *http_status = 404;
    return kerr_xstrdup("no admission webhook at this path");
}
