/*
 * watchmetrics: grace_watch_unreadable_total, a func family of the
 * registry (metrics_register_func) emitting the watcher's counter at each
 * render. See watchmetrics.h.
 */
#include "watchmetrics.h"

static void emit_unreadable(void *ctx, struct metrics_emitter *e)
{
    struct kwatcher_stats st;
    kwatcher_stats(ctx, &st);
    metrics_emit(e, NULL, (double)st.unreadable);
}

enum kerr watchmetrics_register(struct metrics *m, struct kwatcher *w, struct kerr_info *err)
{
    struct metrics_desc d = {
        .name = "grace_watch_unreadable_total",
        .help = "List or watch responses refused because a value in them was unreadable text "
                "(the cache keeps its last good state; the request is retried).",
        .type = METRICS_COUNTER};
    return metrics_register_func(m, &d, emit_unreadable, w, NULL, err);
}
