/*
 * optrace: see optrace.h.
 */
#include "optrace.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static void emit_exported(void *ctx, struct metrics_emitter *e)
{
    struct ktrace_stats st;
    ktrace_get_stats(ctx, &st);
    metrics_emit(e, NULL, (double)st.exported);
}

static void emit_dropped(void *ctx, struct metrics_emitter *e)
{
    struct ktrace_stats st;
    ktrace_get_stats(ctx, &st);
    metrics_emit(e, (const char *const[]){"queue_full"}, (double)st.dropped_full);
    metrics_emit(e, (const char *const[]){"export_failed"}, (double)st.dropped_export);
}

static void register_metrics(struct metrics *m, struct ktrace *t)
{
    static const char *const reason[] = {"reason"};
    struct metrics_desc exported = {"grace_operator_trace_spans_exported_total",
                                    "Spans of the operator's own traces the collector accepted",
                                    METRICS_COUNTER, NULL, 0, NULL, 0};
    struct metrics_desc dropped = {"grace_operator_trace_spans_dropped_total",
                                   "Spans of the operator's own traces dropped: the queue was "
                                   "full, or their export failed (slow or absent collector)",
                                   METRICS_COUNTER, reason, 1, NULL, 0};
    struct kerr_info err;
    if (metrics_register_func(m, &exported, emit_exported, t, NULL, &err) != KERR_OK ||
        metrics_register_func(m, &dropped, emit_dropped, t, NULL, &err) != KERR_OK) {
        fprintf(stderr, "grace-operator: metrics: %s\n", err.message);
        abort(); /* a duplicate built-in name is a programming error */
    }
}

enum kerr optrace_start(const struct grace_config *cfg, struct metrics *m, const char *version,
                        struct ktrace **out, struct kerr_info *err)
{
    size_t queue = 0;
    const char *ep = grace_config_traces_endpoint(cfg, &queue);
    *out = NULL;
    if (!ep)
        return KERR_OK;
    struct ktrace_options o = {.endpoint = ep, .service_name = "grace-operator",
                               .service_version = version, .queue_max = queue};
    enum kerr e = ktrace_new(&o, out, err);
    if (e != KERR_OK)
        return e;
    if (m)
        register_metrics(m, *out);
    log_msg(LOG_INFO, "tracing the operator", "endpoint", ep, LOG_END);
    return KERR_OK;
}
