/*
 * kinformer: a cache of one collection (a resource, in one namespace or
 * all, optionally narrowed by a label selector), kept current by the
 * watcher (kwatch), with secondary indexes and event handlers.
 *
 * The store maps "namespace/name" to an immutable struct kobj (minified
 * text, managedFields stripped; see kobj.h) and is guarded by a rwlock.
 * Readers (kinformer_get, _by_index, _foreach) take references and may
 * keep them as long as they like; the store replaces objects, it never
 * changes one.
 *
 * Events: handlers run on the watcher thread (during an initial list or a
 * resync: on that informer's list thread, concurrently with other
 * informers' handlers; see kwatch.h), without the store lock held, after
 * the store was updated. They must be quick (enqueue keys). On a
 * relist, objects that disappeared are reported through on_delete and
 * changed ones (another resourceVersion) through on_update.
 *
 * Read-your-writes: kinformer_apply_write puts the object a write returned
 * into the store at once (when its resourceVersion is newer than the cached
 * one) without calling handlers. When the watch then delivers that same
 * resourceVersion, the store is left as it is and handlers get
 * on_update(old, new) with old == new (same object, same resourceVersion),
 * so a handler can recognise the echo of its own write; if the object was
 * new (first seen through apply_write), handlers get on_add. Watch events
 * older than the cached object are ignored.
 *
 * Lifecycle: kinformer_new registers with the watcher; add handlers and
 * indexes before kwatcher_start. Free informers only after kwatcher_stop.
 */
#ifndef GRACE_KINFORMER_H
#define GRACE_KINFORMER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "kclient.h"
#include "kobj.h"
#include "kwatch.h"

struct kinformer;

/* Event handlers; any callback may be NULL. Objects are borrowed for the
 * call (kobj_ref to keep one). */
struct kinformer_handlers {
    void (*on_add)(void *ctx, const struct kobj *obj);
    void (*on_update)(void *ctx, const struct kobj *old_obj, const struct kobj *new_obj);
    void (*on_delete)(void *ctx, const struct kobj *obj);
    void *ctx;
};

/* Index function: write up to `max` index keys (each < 256 bytes,
 * NUL-terminated) for `obj` into keys[] and return how many. Called at
 * ingest, on the thread that ingests (watcher or apply_write caller). */
#define KINFORMER_MAX_INDEX_KEYS 16
typedef size_t (*kinformer_index_fn)(const json_t *obj, char keys[][256], size_t max);
/* The same for an index of metadata only, read from the kobj's accessors
 * (labels, owners, names). */
typedef size_t (*kinformer_meta_index_fn)(const struct kobj *o, char keys[][256], size_t max);

/*
 * New informer for resource `r` in namespace `ns` (NULL or "": all) with
 * `label_selector` (NULL: none), registered with watcher `w`. `c` and `w`
 * are borrowed and must outlive it; strings are copied. Aborts on OOM.
 */
struct kinformer *kinformer_new(struct kclient *c, struct kwatcher *w, const struct kres *r,
                                const char *ns, const char *label_selector);

/* Free the store and every reference it holds. Only after kwatcher_stop.
 * NULL allowed. */
void kinformer_free(struct kinformer *inf);

/* Built-in kinds' list items carry no "kind"/"apiVersion". Objects stored
 * without them get apiVersion from the resource and, if set here, `kind`
 * (copied). Call before kwatcher_start. */
void kinformer_set_kind(struct kinformer *inf, const char *kind);

/* Add a set of handlers (copied). Best before kwatcher_start (a set added
 * later misses the events before it); safe at any time. At most
 * KINFORMER_MAX_HANDLERS sets (more is a programming error: abort). */
#define KINFORMER_MAX_HANDLERS 16
void kinformer_add_handlers(struct kinformer *inf, const struct kinformer_handlers *h);

/* Add a named index (name copied). Objects already cached are indexed at
 * once, so it is safe at any time; best before kwatcher_start. At most
 * KINFORMER_MAX_INDEXES per informer (more is a programming error: abort). */
#define KINFORMER_MAX_INDEXES 64
void kinformer_add_index(struct kinformer *inf, const char *index_name, kinformer_index_fn fn);

/* The same for an index whose keys depend only on the object's spec (and
 * its namespace and name), for a resource with a status subresource, whose
 * metadata.generation changes with its spec and only then. A newer object
 * of the same uid and generation keeps its keys: a status or metadata
 * write is not parsed again for them. */
void kinformer_add_spec_index(struct kinformer *inf, const char *index_name,
                              kinformer_index_fn fn);

/* The same for an index of metadata only, given the kobj. An informer
 * whose indexes are all of this sort reads only the metadata of what it
 * stores, without a tree (the rest of each item is stored as text,
 * unparsed), which is most of the cost of a list. */
void kinformer_add_meta_index(struct kinformer *inf, const char *index_name,
                              kinformer_meta_index_fn fn);

/*
 * Objects whose index `index_name` produced `key`: *out receives a
 * malloc'd array of new references (kobj_unref each, then free the array;
 * NULL when the count is 0). Unknown index: 0.
 */
size_t kinformer_by_index(struct kinformer *inf, const char *index_name, const char *key,
                          struct kobj ***out);

/* The cached object, as a new reference, or NULL. ns NULL means "". */
struct kobj *kinformer_get(struct kinformer *inf, const char *ns, const char *name);

/* Call fn on a snapshot of every cached object (no lock held during calls). */
typedef void (*kinformer_foreach_fn)(void *ctx, const struct kobj *obj);
void kinformer_foreach(struct kinformer *inf, kinformer_foreach_fn fn, void *ctx);

size_t kinformer_count(struct kinformer *inf);

/* For an idle moment after a burst of writes: when the kind's codec has
 * packed at least a quarter of the cache since the last look and a codec
 * whose dictionary is the newest stored object would pack a sample of the
 * cache to 90 % or less, repack every stored object with that codec (see
 * kinformer.c). Returns whether it did. Costs ~65 packs when it only
 * looks; holds the write lock while it repacks (~7 us per object). */
bool kinformer_repack(struct kinformer *inf);

/* True once the first list completed. */
bool kinformer_has_synced(struct kinformer *inf);

/* Read-your-writes (see above). `obj` is borrowed. Objects without
 * metadata.name are ignored, and so is an object the cache already holds
 * at that resourceVersion or a newer one (it is not even turned into
 * text: the watch delivered it first). */
void kinformer_apply_write(struct kinformer *inf, const json_t *obj);

/* Remove the object after our own successful delete (the server answered
 * with a Status: the object is gone). No handlers are called; the watch's
 * DELETED event later calls on_delete with the object that event carries. */
void kinformer_apply_delete(struct kinformer *inf, const char *ns, const char *name);

#endif
