/*
 * kobj: one cached Kubernetes object, immutable and shared by reference
 * count between the informer store, its indexes, event handlers and
 * reconcilers.
 *
 * Memory is what matters here (the goal is ~9,000 cached objects in under
 * 32 MB resident), so a kobj keeps no jansson tree: it is ONE allocation
 * holding the object as minified JSON text with metadata.managedFields
 * removed, plus the few fields every caller reads without parsing
 * (namespace, name, uid, resourceVersion, generation, deletion, labels and
 * ownerReference uids). kobj_json() parses the text on demand. Those
 * fields are read from the text without a tree where the metadata has the
 * plain shape an API server sends (kobjmeta.h), else with jansson. A
 * packed kobj (kobj_pack) holds its text deflated and shares kind,
 * apiVersion, label keys and common label values with its kind's codec.
 *
 * Texts are parsed with JSON_ALLOW_NUL: "\u0000" is valid JSON, and an API
 * server sends it for a NUL character in a string, so such an object is
 * cached and read back like any other (a C string of it ends at the NUL).
 *
 * Thread safety: a kobj never changes after kobj_new_from_json; the
 * reference count is atomic, so kobj_ref/kobj_unref and every accessor may
 * be used from any thread.
 */
#ifndef GRACE_KOBJ_H
#define GRACE_KOBJ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "kerr.h"

struct kobj;

/*
 * A new kobj (reference count 1) from `obj` (borrowed, not modified): the
 * text is `obj` dumped compactly without metadata.managedFields. Returns
 * NULL when `obj` is not an object or has no metadata.name. Missing
 * namespace / uid / resourceVersion read as "". Aborts on out-of-memory.
 */
struct kobj *kobj_new_from_json(const json_t *obj);

/* The same, filling "apiVersion" and "kind" (each may be NULL) when `obj`
 * lacks them, as built-in list items do. They go first in the text. */
struct kobj *kobj_new_with_type(const json_t *obj, const char *api_version, const char *kind);

/*
 * The same from the object's minified JSON text (what a list stream hands
 * out, kjsonstream with kjs_drop_meta_key "managedFields"): the text is
 * parsed once for the fields above and kept as it is, not dumped again
 * (kind / apiVersion are inserted first when missing; if the text still
 * has metadata.managedFields it is stripped the slow way). NULL when the
 * text does not parse (KERR_PARSE in err) or has no metadata.name (err
 * untouched). When `tree` is non-NULL and a kobj is returned, *tree gets
 * the parsed object (caller json_decrefs it; it lacks the inserted kind /
 * apiVersion), otherwise NULL.
 */
struct kobj *kobj_new_from_text(const char *text, size_t len, const char *api_version,
                                const char *kind, json_t **tree, struct kerr_info *err);

/*
 * The same, parsing only the top-level "metadata" (and "kind" /
 * "apiVersion"); the rest of the text is not parsed into a tree but only
 * scanned, by kjsonstream's machine (kjs_object_members: brackets, commas,
 * scalars, strings UTF-8 with paired surrogate escapes), and refused like
 * a text that does not parse when the scan fails. For callers that need no
 * more than metadata. `meta_view` (may be NULL)
 * receives {"metadata":..., "kind":..., "apiVersion":...} as far as the
 * text has them (caller json_decrefs it).
 */
struct kobj *kobj_new_from_text_meta(const char *text, size_t len, const char *api_version,
                                     const char *kind, json_t **meta_view, struct kerr_info *err);

/*
 * kobj_new_from_text_meta for a text that a kjsonstream splitter handed
 * out: a list item (KJS_ITEMS, as kclient_list_text gives it) or a watch
 * event's "object" (KJS_DOCS, as kwatch gives it to its sink). The
 * splitter checked every byte of it as it streamed and refuses a body
 * holding anything jansson cannot read, so the text is not checked again:
 * its top-level members are found with kjs_split_members (the member
 * values are skimmed), then metadata, kind and apiVersion are parsed as
 * above. This is the informer's path for every list item and watch event.
 * Text from any other source must go to kobj_new_from_text_meta (or
 * kobj_new_from_text): given here, it could make a kobj whose text
 * kobj_json cannot read.
 */
struct kobj *kobj_new_from_split_meta(const char *text, size_t len, const char *api_version,
                                      const char *kind, json_t **meta_view, struct kerr_info *err);

/* Take another reference; returns `o`. NULL is allowed (returns NULL). */
struct kobj *kobj_ref(const struct kobj *o);

/* Drop a reference; the object is freed with the last one. NULL allowed. */
void kobj_unref(const struct kobj *o);

/* Accessors: borrowed strings, valid while the caller holds a reference.
 * Never NULL ("" when the field is absent). */
const char *kobj_namespace(const struct kobj *o);
const char *kobj_name(const struct kobj *o);
const char *kobj_uid(const struct kobj *o);
const char *kobj_resource_version(const struct kobj *o);
/* "kind" and "apiVersion" as the object carries them ("" when absent:
 * built-in list items carry neither). */
const char *kobj_kind(const struct kobj *o);
const char *kobj_api_version(const struct kobj *o);

/* metadata.generation (0 when absent). */
long long kobj_generation(const struct kobj *o);

/* True when metadata.deletionTimestamp is set. */
bool kobj_deleting(const struct kobj *o);

/* The value of label `key`, or NULL when the object has no such label. */
const char *kobj_label(const struct kobj *o, const char *key);

/* Number of labels, and the i-th key/value (i < kobj_label_count). */
size_t kobj_label_count(const struct kobj *o);
const char *kobj_label_key(const struct kobj *o, size_t i);
const char *kobj_label_value(const struct kobj *o, size_t i);

/* True when one of metadata.ownerReferences has this uid. */
bool kobj_owned_by(const struct kobj *o, const char *uid);

/* The uid of the ownerReference with controller=true, or NULL. */
const char *kobj_controller_uid(const struct kobj *o);

/* Number of ownerReferences, and the i-th uid. */
size_t kobj_owner_count(const struct kobj *o);
const char *kobj_owner_uid(const struct kobj *o, size_t i);

/* The minified JSON text (borrowed; NULL when the kobj is packed: use
 * kobj_text_copy or kobj_json), and its length (also when packed). */
const char *kobj_text(const struct kobj *o);
size_t kobj_text_len(const struct kobj *o);
/* The text, packed or not, as a new NUL-terminated string (caller frees);
 * NULL only if a packed text does not inflate (never for a valid kobj). */
char *kobj_text_copy(const struct kobj *o);
/*
 * The same object with its text deflated against `pack`'s dictionary
 * (kpack.h): what the informers keep, about a quarter to a tenth of the
 * text for the kinds the operator caches. Takes `o` (reference count 1,
 * not yet shared) and returns its replacement, or `o` itself when packing
 * does not pay (or `o` is shared, already packed, or pack is NULL).
 * Accessors and kobj_json read a packed kobj as before; kobj_text gives
 * NULL for it.
 */
struct kpack;
struct kobj *kobj_pack(struct kobj *o, struct kpack *pack);
/* A new kobj with `o`'s content packed with `pack` (reference count 1; `o`
 * is left alone), or NULL when packing does not pay or `o` is already
 * packed with `pack`. An `o` packed with another codec is repacked. */
struct kobj *kobj_packed_copy(const struct kobj *o, struct kpack *pack);
bool kobj_packed(const struct kobj *o);
/* Packed with this codec; and the deflated bytes a packed kobj holds (0
 * when not packed). */
bool kobj_packed_with(const struct kobj *o, const struct kpack *pack);
size_t kobj_packed_len(const struct kobj *o);

/* Whether metadata.<keys[i]> holds the same value in `a` and `b` for every
 * i (absent from both counts as the same). The texts are compared first,
 * without a tree; only members whose texts differ are parsed (the same
 * value written another way: another key order, other escapes). At most
 * KOBJ_MAX_SAME_KEYS keys (more: false). */
#define KOBJ_MAX_SAME_KEYS 8
bool kobj_meta_members_same(const struct kobj *a, const struct kobj *b, const char *const *keys,
                            size_t n);

/* A freshly parsed tree of the text: a new reference owned by the caller
 * (json_decref it). The tree is private to the caller, so it may be edited.
 * Returns NULL only if the text cannot be parsed (never for a valid kobj). */
json_t *kobj_json(const struct kobj *o);

/* Compare resourceVersions: <0, 0, >0 as a is older, the same, newer than
 * b. Numeric strings compare numerically (what every API server uses);
 * anything else compares equal only when identical and is otherwise
 * treated as newer (an opaque RV that changed is a change). */
int kobj_rv_cmp(const char *a, const char *b);

#endif
