/*
 * optrace: the daemon's side of the operator's own traces. Reads the
 * configuration (operatorTraces, else otlpEndpoint), starts the runtime's
 * tracer (ktrace) when an endpoint is set, and publishes its counters as
 * metrics: grace_operator_trace_spans_exported_total and
 * grace_operator_trace_spans_dropped_total{reason="queue_full"|"export_failed"}.
 */
#ifndef GRACE_OPTRACE_H
#define GRACE_OPTRACE_H

#include "config.h"
#include "kerr.h"
#include "ktrace.h"
#include "metrics.h"

/* *out: the tracer, or NULL when traces are off. `m` (may be NULL) gets
 * the metric families, which read the tracer at each scrape: call
 * ktrace_free only after the workers and the HTTP server have stopped. */
enum kerr optrace_start(const struct grace_config *cfg, struct metrics *m, const char *version,
                        struct ktrace **out, struct kerr_info *err);

#endif
