/*
 * kerr: the one error enum of the whole project, its strerror, and the
 * error buffer that failing calls fill (HTTP status, Kubernetes reason and
 * message). Every module returns `enum kerr` from calls that can fail and
 * takes an optional `struct kerr_info *` (NULL = caller does not care).
 *
 * Out-of-memory is not an error code: kerr_oom() aborts (the pod restarts;
 * all state lives in the API server and PostgreSQL).
 */
#ifndef GRACE_KERR_H
#define GRACE_KERR_H

#include <stddef.h>

enum kerr {
    KERR_OK = 0,
    KERR_INVAL,        /* bad argument or input from the caller/user */
    KERR_CONFIG,       /* kubeconfig / operator config missing or malformed */
    KERR_IO,           /* transport failure: connect, TLS, reset, DNS */
    KERR_TIMEOUT,      /* connect or request timeout */
    KERR_TLS,          /* TLS: the server's certificate failed verification, or
                          the local TLS material was refused; retrying cannot fix it */
    KERR_PARSE,        /* a response or document could not be decoded */
    KERR_BADREQUEST,   /* HTTP 400 */
    KERR_UNAUTHORIZED, /* HTTP 401 */
    KERR_FORBIDDEN,    /* HTTP 403 */
    KERR_NOTFOUND,     /* HTTP 404 */
    KERR_EXISTS,       /* HTTP 409 reason AlreadyExists */
    KERR_CONFLICT,     /* HTTP 409 otherwise (stale resourceVersion, SSA conflict) */
    KERR_GONE,         /* HTTP 410, or a watch ERROR event carrying 410 */
    KERR_UNSUPPORTED,  /* HTTP 406 / 415 */
    KERR_INVALID,      /* HTTP 422 (validation) */
    KERR_TOOMANY,      /* HTTP 429 */
    KERR_SERVER,       /* HTTP 5xx */
    KERR_HTTP,         /* any other unexpected HTTP status */
    KERR_STOPPED,      /* the component was shut down */
    KERR_DB,           /* PostgreSQL error */
    KERR_TEMPLATE,     /* template (Lua) error */
    KERR__COUNT
};

/* Details of a failure. Strings are always NUL-terminated (possibly empty). */
struct kerr_info {
    long http_status;  /* 0 when no HTTP response was received */
    char reason[64];   /* Kubernetes Status.reason, SQLSTATE, or a short tag */
    char message[512]; /* human-readable, never contains secret values */
};

/* Static, never-NULL name of an error ("not found", ...). */
const char *kerr_strerror(enum kerr e);

/* Map an HTTP status (and Status.reason, may be NULL) to the enum. */
enum kerr kerr_from_http(long status, const char *reason);

/* Fill `info` (NULL is allowed: then this is a no-op) and return `e`. */
enum kerr kerr_set(struct kerr_info *info, enum kerr e, long http_status, const char *reason,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Reset `info` to "no error"; NULL allowed. */
void kerr_clear(struct kerr_info *info);

/* Abort on out-of-memory with a message; never returns. */
_Noreturn void kerr_oom(void);

/* Allocation helpers that abort on failure. */
void *kerr_xmalloc(size_t n);
void *kerr_xcalloc(size_t n, size_t m);
void *kerr_xrealloc(void *p, size_t n);
char *kerr_xstrdup(const char *s);

/* Give jansson an allocator that aborts on failure (kerr_xmalloc), so that
 * a json_object_set_new or json_array_append_new can no longer drop a
 * value silently on out-of-memory. Call once at start-up, before any JSON
 * value exists and before threads start. */
void kerr_json_alloc_init(void);

#endif
