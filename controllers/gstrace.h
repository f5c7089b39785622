/*
 * gstrace: the GraceService reconciler's spans, over the runtime's tracer
 * (ktrace.h). One root span per reconcile ("reconcile", the service as
 * attributes, its trace ID logged as traceID beside reconcileID), and a
 * child span per step (render, postgres, migrations); kclient adds a child
 * span for each API write on its own, through the thread's current span.
 * With no tracer every call is a no-op.
 */
#ifndef GRACE_GSTRACE_H
#define GRACE_GSTRACE_H

#include <jansson.h>
#include <stdbool.h>

#include "ktrace.h"

/* Start the reconcile's root span for "namespace/name" and make it the
 * thread's current span. NULL when t is NULL. */
struct ktrace_span *gs_trace_begin(struct ktrace *t, const char *key);
/* Add the GraceService's attributes (borrowed) to the current root span. */
void gs_trace_service(const json_t *gs);
/* End the root span with the reconcile's outcome ("done", "retry",
 * "requeue", "unchanged"). Takes s. */
void gs_trace_end(struct ktrace_span *s, const char *outcome);

/* A step: a child of the current span; end it with gs_trace_step_end
 * (failed: status ERROR with message). */
struct ktrace_span *gs_trace_step(const char *name);
void gs_trace_step_end(struct ktrace_span *s, bool failed, const char *message);

#endif
