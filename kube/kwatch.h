/*
 * kwatch: the watch engine. ONE thread drives every watch stream of the
 * process through ONE libcurl multi handle (HTTP/2 multiplexes the streams
 * over one connection when the server offers it).
 *
 * For each registered collection (a "stream", registered by kinformer) the
 * thread runs the list-then-watch cycle of client-go's reflector:
 *   1. list the collection (through the sink's list callback) and remember
 *      the list resourceVersion; the first list asks for resourceVersion
 *      "0", a relist for the last one seen (both answered from a real API
 *      server's watch cache), a list after a failed one for "" (a
 *      consistent read, paginated);
 *   2. watch from it with allowWatchBookmarks=true and a server timeout,
 *      splitting the chunked body event by event as it arrives (kjsonstream,
 *      which also cuts metadata.managedFields and finds each event's "type"
 *      and "object"); the object goes to the sink as text, parsed once there;
 *      every event and BOOKMARK moves the remembered resourceVersion;
 *   3. when the server ends the watch normally, watch again at once from the
 *      last resourceVersion; when the stream fails (transport error, a cut
 *      in the middle of an event, an HTTP error, a watch that ends at once
 *      with nothing in it), wait with jittered exponential backoff, then
 *      watch again from the last complete event's resourceVersion (a half
 *      received event is discarded);
 *   4. on 410 Gone (an HTTP 410, or an ERROR event carrying a 410 Status,
 *      which is what a real server sends when the resourceVersion fell out
 *      of its watch cache) go back to 1.
 *
 * Threads: kwatcher_start spawns the thread; sinks (the informers' stores
 * and their event handlers) run on it, except that lists due at the same
 * time (the initial ones, a resync) run concurrently on up to
 * KWATCHER_LIST_THREADS threads (the watcher's own and short-lived ones),
 * each taking the next list in the order the streams were registered: a
 * sink's list callback may run on such a thread, in parallel with other
 * streams' list callbacks, never with another call for its own stream.
 * More lists at once only multiply TLS connections and the API server's
 * memory for answers in flight: at N=1,000 on a 2-core machine, 4 threads
 * against one per list (12) cut the server's CPU for the initial lists
 * from ~1.0 to ~0.6 s (bench/README.md).
 * kwatcher_resync, kwatcher_stop and kwatcher_stats may be called from any
 * thread.
 */
#ifndef GRACE_KWATCH_H
#define GRACE_KWATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "kclient.h"
#include "kerr.h"

struct kwatcher;

#define KWATCHER_LIST_THREADS 4

/* Counters for metrics and logs. A plain value snapshot. */
struct kwatcher_stats {
    uint64_t lists;       /* complete lists (initial ones included) */
    uint64_t relists;     /* lists after the first one of a stream */
    uint64_t list_errors; /* lists that failed (retried with backoff) */
    uint64_t watches;     /* watch requests started */
    uint64_t reconnects;  /* watches started again after the first one */
    uint64_t gone;        /* 410s (HTTP or ERROR event) */
    uint64_t errors;      /* watches that ended in an error */
    uint64_t events;      /* ADDED / MODIFIED / DELETED events applied */
    uint64_t bookmarks;   /* BOOKMARK events */
    uint64_t unreadable;  /* list or watch bodies refused because a value in
                             them was unreadable text (KJS_REASON_UNREADABLE);
                             also counted in list_errors or errors */
    char last_error[256]; /* the last failure, "" if none (no secrets) */
};

/* New watcher using `c` (borrowed; must outlive the watcher) for lists
 * and its configuration (server, TLS, token) for watches. KERR_IO when
 * libcurl cannot be set up. */
enum kerr kwatcher_new(struct kclient *c, struct kwatcher **out);

/* Start the thread. Streams registered before or after start are listed,
 * then watched. KERR_INVAL if already started, KERR_IO if the thread cannot
 * be created. */
enum kerr kwatcher_start(struct kwatcher *w);

/* Ask for a relist of every stream (the watches are dropped and restarted
 * after the lists). Returns at once; the relists happen on the thread. */
void kwatcher_resync(struct kwatcher *w);

/* Stop the thread and wait for it (a list in progress stops at its next
 * item or when its request ends). Idempotent; fine if never started. */
void kwatcher_stop(struct kwatcher *w);

/* Free; stops first. Sinks (informers) are not freed. NULL allowed. */
void kwatcher_free(struct kwatcher *w);

void kwatcher_stats(struct kwatcher *w, struct kwatcher_stats *st);

/* Tuning, before kwatcher_start (tests use small values). Reconnect
 * backoff: base_ms doubling to max_ms, jittered in [d/2, d] (defaults
 * 200 ms and 30 s). watch_timeout_s: the timeoutSeconds asked of the server
 * (default 0: a random value in [300, 600) per watch, as client-go does). */
void kwatcher_set_backoff(struct kwatcher *w, long base_ms, long max_ms);
void kwatcher_set_watch_timeout(struct kwatcher *w, long watch_timeout_s);

/* ---- internal interface between kwatch and kinformer (no other user) ---- */

enum kwatch_event_type { KWATCH_ADDED, KWATCH_MODIFIED, KWATCH_DELETED };

/* What a stream feeds. `event` runs on the watcher thread, `list` on it or
 * on a list thread (see above); never two at once for one stream. */
struct kwatch_sink {
    /* List the whole collection into the store (synthesized deletes for
     * what disappeared) at resourceVersion `from` (borrowed: "0", one seen
     * before, or "" for a consistent paginated read; see
     * kclient_list_text_at) and return the list resourceVersion in *rv
     * (malloc'd). Should stop early (KERR_STOPPED) when
     * kwatcher__stopping(w) becomes true. */
    enum kerr (*list)(void *ctx, const char *from, char **rv, struct kerr_info *err);
    /* One ADDED / MODIFIED / DELETED event: the event's object as minified
     * JSON text without metadata.managedFields (borrowed for the call; not
     * parsed by kwatch, but checked whole by kjsonstream's splitter, which
     * kobj_new_from_split_meta relies on). Returns KERR_OK and the object's
     * metadata.resourceVersion in *rv (malloc'd, NULL when it has none), or
     * KERR_PARSE (err says why) when the text is not a valid object: the
     * watch then ends as for an undecodable event. */
    enum kerr (*event)(void *ctx, enum kwatch_event_type type, const char *text, size_t len,
                       char **rv, struct kerr_info *err);
};

/* Register a collection (strings are copied; `sink` is copied, `ctx`
 * borrowed and must stay valid until the watcher is stopped). */
void kwatcher__add(struct kwatcher *w, const struct kres *r, const char *ns,
                   const char *label_selector, const struct kwatch_sink *sink, void *ctx);

/* True once kwatcher_stop was called (for sinks' list callbacks). */
bool kwatcher__stopping(const struct kwatcher *w);

/* The client the watcher was created with. */
struct kclient *kwatcher__client(const struct kwatcher *w);

#endif
