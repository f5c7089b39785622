/*
 * metrics: a small Prometheus registry. Families (counter, gauge, histogram)
 * have a fixed list of label names; a child per distinct tuple of label values
 * is created on first use and can be deleted (a GraceService that goes away
 * takes its series with it). metrics_render() writes the Prometheus text
 * exposition format 0.0.4 (HELP, TYPE, escaped label values, cumulative
 * histogram buckets ending in +Inf, _sum, _count).
 *
 * This module is generic: the operator's own metric names live in
 * opmetrics.c. Thread safety: each family has a mutex guarding its children
 * and their values, so updates from worker threads, the watch thread and the
 * HTTP thread (render) are safe; the registry mutex guards the family list
 * and the collectors. No lock is held while a collector runs.
 *
 * Ownership: the registry owns its families (freed by metrics_free); family
 * pointers stay valid until then. Label value arrays passed in are borrowed
 * (copied when a child is created).
 */
#ifndef GRACE_METRICS_H
#define GRACE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kerr.h"

struct metrics;
struct metrics_family;

enum metrics_type {
    METRICS_COUNTER,
    METRICS_GAUGE,
    METRICS_HISTOGRAM,
};

/* What a family is. Strings and arrays are copied by metrics_register. */
struct metrics_desc {
    const char *name; /* [a-zA-Z_:][a-zA-Z0-9_:]* ; counters should end in _total */
    const char *help; /* one line; may be NULL (then empty) */
    enum metrics_type type;
    const char *const *labels; /* label names, [a-zA-Z_][a-zA-Z0-9_]*, no "__" prefix */
    size_t nlabels;
    const double *buckets; /* histograms: finite, strictly increasing upper bounds */
    size_t nbuckets;       /* without +Inf; buckets == NULL: Prometheus defaults */
};

/* A function run at the start of every render, to refresh values that are
 * sampled rather than counted (process metrics, queue ages). It must not
 * register families or call metrics_render. */
typedef void (*metrics_collector_fn)(void *ctx);

/* New empty registry (never NULL; aborts on OOM). */
struct metrics *metrics_new(void);

/* Free the registry, its families and children. NULL allowed. */
void metrics_free(struct metrics *m);

/*
 * Add a family. On KERR_OK *out (may be NULL) is the family, owned by the
 * registry. KERR_INVAL for a malformed name, label name or bucket list;
 * KERR_EXISTS when a family of that name is already registered.
 */
enum kerr metrics_register(struct metrics *m, const struct metrics_desc *d,
                           struct metrics_family **out, struct kerr_info *err);

/*
 * A family whose samples are not stored in the registry but produced at
 * each render by fn(ctx, e), which calls metrics_emit once per sample (for
 * data kept elsewhere in a compact form, such as one small record per
 * GraceService instead of one child per label tuple). Counters and gauges
 * only. The registry's update, value and delete calls do nothing on such a
 * family and metrics_children() is 0. fn runs during metrics_render with
 * the registry's family list locked: it may take its own locks but must
 * call nothing in the registry except metrics_emit. ctx is borrowed and
 * must outlive the registry's renders.
 */
struct metrics_emitter;
typedef void (*metrics_emit_fn)(void *ctx, struct metrics_emitter *e);
enum kerr metrics_register_func(struct metrics *m, const struct metrics_desc *d,
                                metrics_emit_fn fn, void *ctx, struct metrics_family **out,
                                struct kerr_info *err);

/* One sample of a func family: values as for the updates below. The
 * family's HELP and TYPE lines are written before its first sample; a
 * render without samples leaves the family out. */
void metrics_emit(struct metrics_emitter *e, const char *const *values, double v);

/* For a func family rendered in pieces (metrics_stream_next): fn skips
 * every record at or before metrics_emit_resume(e) (0: from the start) and
 * calls metrics_emit_mark(e, pos) after each record, with positions that
 * increase along its records and stay with a record (an id, not an index,
 * so records added or removed between pieces shift nothing). When mark
 * returns false the piece is full: fn returns at once and is called again
 * for the next piece with resume = pos. Under metrics_render mark always
 * returns true. */
uint64_t metrics_emit_resume(const struct metrics_emitter *e);
bool metrics_emit_mark(struct metrics_emitter *e, uint64_t pos);

/*
 * Incremental rendering: the text of metrics_render in pieces of about
 * `hint` bytes, so that a large exposition (thousands of GraceServices) is
 * never held whole. A stored family goes whole into one piece; a func
 * family is split between pieces at its marks. Each piece reads the values
 * of its time (as a client_golang scrape collects metric by metric).
 * metrics_stream_new runs the collectors; metrics_stream_next returns the
 * next piece (malloc'd, NUL-terminated, length in *len), NULL at the end.
 * The registry must outlive the stream.
 */
struct metrics_stream;
struct metrics_stream *metrics_stream_new(struct metrics *m);
char *metrics_stream_next(struct metrics_stream *s, size_t hint, size_t *len);
void metrics_stream_free(struct metrics_stream *s);

/* The family called `name`, or NULL. Borrowed. */
struct metrics_family *metrics_find(struct metrics *m, const char *name);

/* Run fn(ctx) at the start of each render (ctx borrowed). */
void metrics_add_collector(struct metrics *m, metrics_collector_fn fn, void *ctx);

/*
 * Updates. `values` holds one value per label name of the family, in order
 * (NULL allowed when the family has no labels; a NULL value means ""). The
 * child is created on first use. A call of the wrong kind for the family's
 * type, or a negative counter increment, is ignored.
 */
void metrics_counter_add(struct metrics_family *f, const char *const *values, double v);
/* Set a counter to a total kept elsewhere (a snapshot such as wq_stats);
 * the source must never decrease. */
void metrics_counter_set(struct metrics_family *f, const char *const *values, double v);
void metrics_gauge_set(struct metrics_family *f, const char *const *values, double v);
void metrics_gauge_add(struct metrics_family *f, const char *const *values, double v);
void metrics_histogram_observe(struct metrics_family *f, const char *const *values, double v);

/* Read a counter/gauge value, or a histogram's count, into *out. False when
 * the child does not exist. */
bool metrics_value(struct metrics_family *f, const char *const *values, double *out);

/* Number of children of the family. */
size_t metrics_children(struct metrics_family *f);

/* Delete one child. True if it existed. */
bool metrics_delete(struct metrics_family *f, const char *const *values);

/* Delete every child for which pred(ctx, values) returns true; returns how
 * many. pred runs with the family locked: it must not call into metrics. */
typedef bool (*metrics_pred_fn)(void *ctx, const char *const *values);
size_t metrics_delete_if(struct metrics_family *f, metrics_pred_fn pred, void *ctx);

/*
 * Render every family with at least one child, in registration order, in
 * the text exposition format 0.0.4 (Content-Type
 * "text/plain; version=0.0.4; charset=utf-8"). Runs the collectors first.
 * Returns a NUL-terminated malloc'd buffer (free with free()); *len (may be
 * NULL) receives its length without the NUL.
 */
char *metrics_render(struct metrics *m, size_t *len);

/* Content-Type of metrics_render() output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
