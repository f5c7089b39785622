/*
 * kerr: project-wide error enum, strerror, error-info filling and the
 * abort-on-OOM allocation wrappers. See kerr.h.
 */
#include "kerr.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kerr_names[KERR__COUNT] = {
    [KERR_OK] = "ok",
    [KERR_INVAL] = "invalid argument",
    [KERR_CONFIG] = "configuration error",
    [KERR_IO] = "transport error",
    [KERR_TIMEOUT] = "timed out",
    [KERR_TLS] = "TLS verification failed",
    [KERR_PARSE] = "malformed response",
    [KERR_BADREQUEST] = "bad request",
    [KERR_UNAUTHORIZED] = "unauthorized",
    [KERR_FORBIDDEN] = "forbidden",
    [KERR_NOTFOUND] = "not found",
    [KERR_EXISTS] = "already exists",
    [KERR_CONFLICT] = "conflict",
    [KERR_GONE] = "gone (resource version too old)",
    [KERR_UNSUPPORTED] = "unsupported media type",
    [KERR_INVALID] = "invalid object",
    [KERR_TOOMANY] = "too many requests",
    [KERR_SERVER] = "server error",
    [KERR_HTTP] = "unexpected HTTP status",
    [KERR_STOPPED] = "stopped",
    [KERR_DB] = "database error",
    [KERR_TEMPLATE] = "template error",
};

const char *kerr_strerror(enum kerr e)
{
    if ((int)e < 0 || e >= KERR__COUNT || !kerr_names[e])
        return "unknown error";
    return kerr_names[e];
}

enum kerr kerr_from_http(long status, const char *reason)
{
    if (status >= 200 && status < 300)
        return KERR_OK;
    switch (status) {
    case 400: return KERR_BADREQUEST;
    case 401: return KERR_UNAUTHORIZED;
    case 403: return KERR_FORBIDDEN;
    case 404: return KERR_NOTFOUND;
    case 406:
    case 415: return KERR_UNSUPPORTED;
    case 409:
        return (reason && strcmp(reason, "AlreadyExists") == 0) ? KERR_EXISTS : KERR_CONFLICT;
    case 410: return KERR_GONE;
    case 422: return KERR_INVALID;
    case 429: return KERR_TOOMANY;
    default: break;
    }
    if (status >= 500 && status < 600)
        return KERR_SERVER;
    return KERR_HTTP;
}

enum kerr kerr_set(struct kerr_info *info, enum kerr e, long http_status, const char *reason,
                   const char *fmt, ...)
{
    if (!info)
        return e;
    info->http_status = http_status;
    snprintf(info->reason, sizeof info->reason, "%s", reason ? reason : "");
    info->message[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(info->message, sizeof info->message, fmt, ap);
        va_end(ap);
    }
    return e;
}

void kerr_clear(struct kerr_info *info)
{
    if (!info)
        return;
    info->http_status = 0;
    info->reason[0] = '\0';
    info->message[0] = '\0';
}

_Noreturn void kerr_oom(void)
{
    fputs("grace-operator: out of memory\n", stderr);
    abort();
}

void *kerr_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        kerr_oom();
    return p;
}

void *kerr_xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p)
        kerr_oom();
    return p;
}

void *kerr_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        kerr_oom();
    return q;
}

char *kerr_xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        kerr_oom();
    return p;
}

/* malloc_fn for jansson: never NULL. */
static void *json_xmalloc(size_t n)
{
    return kerr_xmalloc(n);
}

void kerr_json_alloc_init(void)
{
    json_set_alloc_funcs(json_xmalloc, free);
}
