/*
 * ktrace: spans, and their export with OTLP/HTTP (JSON encoding) over
 * libcurl. Part of the runtime: it knows spans, not GraceServices.
 *
 * A span is started (trace and span IDs from OpenSSL's RAND_bytes), given
 * attributes and a status by the thread that started it, and ended:
 * ktrace_span_end hands it to the tracer's bounded queue in O(1) under a
 * mutex that is never held across I/O, so tracing never delays the caller.
 * A queue that is full drops the span and counts it. One export thread
 * takes batches (up to batch_max spans, or whatever waited flush_ms),
 * encodes them (ktrace_encode) and POSTs them to <endpoint>/v1/traces with
 * its own curl handle and a timeout; a batch that fails (no answer in
 * time, connection refused, a non-2xx status) is dropped and counted, never
 * retried, so a slow or dead collector costs at most the queue's memory.
 *
 * Thread-local current span: a worker sets the span of the unit of work it
 * runs (ktrace_current_set), so code below it that is not handed the span
 * (kclient's writes) can make child spans (ktrace_child_current).
 *
 * Every function accepts NULL tracer / span and then does nothing (tracing
 * off costs a NULL check). Ownership: ktrace_span_start returns a span the
 * caller must end exactly once (ktrace_span_end takes it); strings passed in
 * are copied.
 */
#ifndef GRACE_KTRACE_H
#define GRACE_KTRACE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "kerr.h"

struct ktrace;
struct ktrace_span;

/* OTLP span kinds. */
enum ktrace_kind { KTRACE_INTERNAL = 1, KTRACE_SERVER = 2, KTRACE_CLIENT = 3 };

struct ktrace_options {
    const char *endpoint;     /* http(s) base URL; spans go to <endpoint>/v1/traces */
    const char *service_name; /* resource service.name (NULL = "grace-operator") */
    const char *service_version; /* may be NULL */
    size_t queue_max;         /* spans waiting at most (0 = 2048) */
    size_t batch_max;         /* spans per request at most (0 = 512) */
    long flush_ms;            /* a partial batch goes after this long (0 = 1000) */
    long timeout_ms;          /* one export request at most (0 = 2000) */
};

struct ktrace_stats {
    uint64_t ended;          /* spans handed to ktrace_span_end */
    uint64_t exported;       /* accepted by the collector (2xx) */
    uint64_t dropped_full;   /* dropped: the queue was full */
    uint64_t dropped_export; /* dropped: their batch's request failed */
    uint64_t batches;        /* export requests made */
};

/* Start a tracer and its export thread. KERR_INVAL for an endpoint that is
 * not http(s)://. */
enum kerr ktrace_new(const struct ktrace_options *o, struct ktrace **out, struct kerr_info *err);

/* Stop: export what is queued (one last attempt, bounded by timeout_ms per
 * batch), join the thread, free. NULL allowed. Call after every thread that
 * ends spans has stopped. */
void ktrace_free(struct ktrace *t);

/* Counters so far (consistent snapshot). */
void ktrace_get_stats(struct ktrace *t, struct ktrace_stats *out);

/* Start a span; parent NULL = a new trace. NULL when t is NULL. */
struct ktrace_span *ktrace_span_start(struct ktrace *t, const char *name, enum ktrace_kind kind,
                                      const struct ktrace_span *parent);
/* A child of `parent` with its tracer; NULL when parent is NULL. */
struct ktrace_span *ktrace_child(const struct ktrace_span *parent, const char *name,
                                 enum ktrace_kind kind);

void ktrace_set_str(struct ktrace_span *s, const char *key, const char *value);
void ktrace_set_int(struct ktrace_span *s, const char *key, long long value);
/* Status ERROR with a message (copied; may be NULL). */
void ktrace_set_error(struct ktrace_span *s, const char *message);

/* End the span and queue it for export (or drop it, counted). Takes s. */
void ktrace_span_end(struct ktrace_span *s);

/* 32 lowercase hex digits of the span's trace ID ("" for NULL). */
void ktrace_trace_id(const struct ktrace_span *s, char out[33]);

/* The calling thread's current span (borrowed), set by the code that owns
 * it; NULL clears. */
void ktrace_current_set(struct ktrace_span *s);
struct ktrace_span *ktrace_current(void);
/* A child of the current span; NULL when there is none. */
struct ktrace_span *ktrace_child_current(const char *name, enum ktrace_kind kind);

/* The OTLP/HTTP JSON body for `n` ended spans (borrowed):
 * {"resourceSpans":[{"resource":{...},"scopeSpans":[{"scope":{...},"spans":[...]}]}]}
 * IDs as hex, times as decimal strings of Unix nanoseconds. New reference. */
json_t *ktrace_encode(struct ktrace_span *const *spans, size_t n, const char *service_name,
                      const char *service_version);

#endif
