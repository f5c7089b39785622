/*
 * watchmetrics: the watcher's own counters on /metrics, read from
 * kwatcher_stats at each scrape (nothing is stored twice):
 *
 *   grace_watch_unreadable_total   list or watch bodies refused because a
 *                                  value in them was text jansson cannot
 *                                  read (invalid UTF-8, unpaired
 *                                  surrogates, out-of-range numbers;
 *                                  kjsonstream's KJS_REASON_UNREADABLE).
 *                                  The cache keeps its last good state and
 *                                  the request is retried.
 */
#ifndef GRACE_WATCHMETRICS_H
#define GRACE_WATCHMETRICS_H

#include "kerr.h"
#include "kwatch.h"
#include "metrics.h"

/* Register the families above in `m`, rendered from `w`. Both borrowed:
 * `w` must stay alive while `m` can be rendered (stop the metrics server
 * before freeing the watcher). KERR_EXISTS if already registered. */
enum kerr watchmetrics_register(struct metrics *m, struct kwatcher *w, struct kerr_info *err);

#endif
