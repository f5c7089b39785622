/*
 * kclient_http: the libcurl transport under kclient (internal to
 * operator/kube/; the public API is kclient.h).
 *
 * One curl easy handle per (client, thread), created on first use and kept
 * in a pthread key, so connections (HTTP/1.1 keep-alive over TLS) are
 * reused per thread. Handles share DNS and TLS sessions through one CURLSH.
 * A request is retried on 429 and 5xx with exponential backoff (or the
 * server's Retry-After), and every exchange is reported to the observer.
 *
 * Other kube modules use it for requests kclient.h does not cover
 * (discovery with its own Accept header, lists that stream).
 */
#ifndef GRACE_KCLIENT_HTTP_H
#define GRACE_KCLIENT_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "kclient.h"
#include "kjsonstream.h"

#define KCLIENT_MAX_BODY ((size_t)64 << 20) /* buffered response bodies */
#define KCLIENT_BACKOFF_BASE_MS 100
#define KCLIENT_BACKOFF_CAP_MS 5000
#define KCLIENT_RETRY_AFTER_CAP_S 30

struct kclient_request {
    const char *verb;         /* observer label: "GET", "LIST", "POST", "APPLY"... */
    const char *method;       /* HTTP method: GET POST PUT PATCH DELETE */
    const char *path;         /* "/api/v1/...?query" (already escaped) */
    const char *accept;       /* NULL = "application/json" */
    const char *content_type; /* required with a body */
    const char *body;         /* may be NULL */
    size_t body_len;
    struct kjs *stream; /* non-NULL: a 2xx body is fed to it (and
                           kjs_finish'ed) instead of being buffered */
};

struct kclient_response {
    long status; /* last HTTP status, 0 if none */
    char *body;  /* buffered body (NUL-terminated; error bodies always) */
    size_t len;
    char *content_type; /* may be NULL */
};

/*
 * Perform `req` (with retries). KERR_OK for a 2xx; otherwise the error the
 * status maps to (decoded Status: reason, message), KERR_TIMEOUT / KERR_IO
 * for transport failures, KERR_TLS when the server's certificate fails
 * verification or the CA / client certificate cannot be used, KERR_PARSE for an over-long or (streamed)
 * malformed body, or the stream's own error (e.g. KERR_STOPPED). `resp` is
 * filled in every case and must be released with kclient_response_free().
 */
enum kerr kclient_http_do(struct kclient *c, const struct kclient_request *req,
                          struct kclient_response *resp, struct kerr_info *err);

void kclient_response_free(struct kclient_response *r);

/* Map a non-2xx response to the enum, filling err from a Status body when
 * there is one, else from the body's first line. */
enum kerr kclient_status_error(long status, const char *body, size_t len, struct kerr_info *err);

/* Report an exchange to the observer (for transfers driven elsewhere). */
void kclient_http_observe(struct kclient *c, const char *verb, long code, double seconds);

/* The backoff before retry number `attempt` (0-based): base doubling,
 * capped, with "equal jitter" (half fixed, half random) from `*seed`. */
long kclient_backoff_ms(int attempt, unsigned *seed);

/*
 * curl_easy_setopt results, checked once where a handle is configured:
 * KCLIENT_SETOPT records the first option libcurl refused (an unknown
 * option, a blob it could not copy, out of memory) and
 * kclient_setopt_result turns it into KERR_CONFIG naming the option, so a
 * half-configured handle is never used. One exception, not checked: the
 * watches' CURLOPT_HTTP_VERSION (HTTP/2 where libcurl has it, else 1.1).
 */
struct kclient_setopt {
    CURLcode rc;      /* the first failure, CURLE_OK if none */
    const char *name; /* its option's name */
};
#define KCLIENT_SETOPT(st, easy, opt, val)                                                         \
    kclient_setopt_note((st), #opt, curl_easy_setopt((easy), (opt), (val)))
void kclient_setopt_note(struct kclient_setopt *st, const char *name, CURLcode rc);
enum kerr kclient_setopt_result(const struct kclient_setopt *st, struct kerr_info *err);

#endif
