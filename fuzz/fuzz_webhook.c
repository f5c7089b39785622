/*
 * fuzz_webhook: AdmissionReview handling (webhook_serve / webhook_handle),
 * with the operator's checks behind it: validation (cmd_render_validate,
 * what `render` and the validating webhook share) and defaulting
 * (cmd_render_defaults_patch, the manager's mutating route).
 *
 * Input: byte 0 picks the route (bit 0: validate or mutate; bit 1: an
 * unknown path); the rest is the request body.
 *
 * Invariants:
 *  - there is always an answer and an HTTP status (200, 400 or 404);
 *  - a 200 answer is an AdmissionReview (admission.k8s.io/v1) whose
 *    response.uid is the request's uid and whose "allowed" is a boolean;
 *  - a denial has a status with a code; a patch comes only with
 *    patchType JSONPatch and is base64 of a JSON array of operations, each
 *    with an "op" and a "path" that starts with '/'.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_render.h"
#include "fuzzutil.h"
#include "webhook.h"

#define H "webhook"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init_quiet();
    return 0;
}

static void validate(void *ctx, const struct webhook_request *req, struct webhook_verdict *v)
{
    (void)ctx;
    struct kerr_info err = {0};
    if (req->object && strcmp(req->kind, "GraceService") == 0 &&
        cmd_render_validate(req->object, &err) != KERR_OK)
        webhook_deny(v, "%s", err.message);
}

static void mutate(void *ctx, const struct webhook_request *req, struct webhook_verdict *v)
{
    (void)ctx;
    cmd_render_defaults_patch(req->object, v);
}

static const char *str_or_empty(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void check_patch(const json_t *resp)
{
    const char *b64 = json_string_value(json_object_get(resp, "patch"));
    if (!b64)
        return;
    if (strcmp(str_or_empty(resp, "patchType"), "JSONPatch") != 0)
        fz_fail(H, "a patch without patchType JSONPatch");
    size_t n = strlen(b64);
    unsigned char *raw = malloc(n / 4 * 3 + 1);
    int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    if (len < 0)
        fz_fail(H, "patch is not base64");
    while (len > 0 && raw[len - 1] == '\0')
        len--; /* EVP_DecodeBlock counts the padding */
    json_t *ops = json_loadb((const char *)raw, (size_t)len, 0, NULL);
    size_t i;
    json_t *op;
    if (!json_is_array(ops))
        fz_fail(H, "patch is not a JSON array");
    json_array_foreach(ops, i, op)
    {
        const char *path = json_string_value(json_object_get(op, "path"));
        if (!json_is_string(json_object_get(op, "op")) || !path || path[0] != '/')
            fz_fail(H, "patch operation %zu has no op or no /path", i);
    }
    json_decref(ops);
    free(raw);
}

static void check_answer(const char *body, size_t len, const char *out)
{
    json_t *req = json_loadb(body, len, 0, NULL);
    json_t *ans = json_loads(out, 0, NULL);
    const json_t *resp = json_object_get(ans, "response");
    const char *uid = json_string_value(json_object_get(json_object_get(req, "request"), "uid"));
    const char *got = json_string_value(json_object_get(resp, "uid"));
    if (!ans || strcmp(str_or_empty(ans, "kind"), "AdmissionReview"))
        fz_fail(H, "a 200 answer that is no AdmissionReview: %.300s", out);
    if (!got || (uid && strcmp(uid, got) != 0))
        fz_fail(H, "response.uid does not echo request.uid");
    if (!json_is_boolean(json_object_get(resp, "allowed")))
        fz_fail(H, "response.allowed is not a boolean");
    if (json_is_false(json_object_get(resp, "allowed")) &&
        !json_is_integer(json_object_get(json_object_get(resp, "status"), "code")))
        fz_fail(H, "a denial without status.code");
    check_patch(resp);
    json_decref(req);
    json_decref(ans);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct webhook_routes routes = {.validate_path = "/validate-graceservice",
                                    .validate = validate,
                                    .mutate_path = "/mutate-graceservice",
                                    .mutate = mutate,
                                    .group = "grace.dev",
                                    .kind = "GraceService"};
    const char *path = (data[0] & 2)   ? "/other"
                       : (data[0] & 1) ? "/mutate-graceservice"
                                       : "/validate-graceservice";
    int status = 0;
    char *out = webhook_serve(&routes, path, (const char *)data + 1, size - 1, &status);
    if (!out || (status != 200 && status != 400 && status != 404))
        fz_fail(H, "no answer, or HTTP status %d", status);
    if (status == 200)
        check_answer((const char *)data + 1, size - 1, out);
    free(out);
    return 0;
}
