/*
 * kjsonstream: an incremental JSON splitter for HTTP bodies that arrive in
 * pieces. It does not build trees: it tracks nesting, strings and escapes
 * byte by byte and hands out the text of complete values, so a caller can
 * json_loadb() one object at a time and peak memory follows the largest
 * object rather than the whole body.
 *
 * Two modes:
 *  - KJS_ITEMS: the body is ONE JSON object (a Kubernetes List). Each
 *    element of the top-level array named `array_key` (e.g. "items") is
 *    handed to `item` as soon as it is complete; top-level scalars
 *    ("kind", "apiVersion") and the scalars of the top-level "metadata"
 *    object ("metadata.resourceVersion", "metadata.continue",
 *    "metadata.remainingItemCount") are handed to `field`.
 *  - KJS_DOCS: the body is a sequence of top-level JSON values separated by
 *    whitespace (newline-delimited watch events). Each complete value is
 *    handed to `item`. `field` is not used.
 *
 * Texts handed to callbacks are minified (whitespace outside strings is
 * dropped), NUL-terminated, and borrowed: valid only during the callback.
 * Structure is checked as it streams (brackets, commas, colons, scalars,
 * string control characters), and so is what jansson would refuse inside
 * strings (invalid UTF-8, unpaired UTF-16 surrogate escapes, "\u0000" in
 * an object key) and numbers out of its range (integers beyond 64 bits,
 * reals that overflow). A body holding such a value is refused
 * (KERR_PARSE, reason KJS_REASON_UNREADABLE) rather than the value
 * skipped: a cache that silently missed an object would take it for
 * deleted. So every value handed out reads with
 * json_loadb(JSON_ALLOW_NUL) ("\u0000" is valid JSON and passes).
 *
 * A value larger than `max_value` bytes (minified), nesting deeper than
 * KJS_MAX_DEPTH, or malformed structure gives KERR_PARSE. After any error
 * the splitter stays failed until kjs_reset().
 *
 * Not thread-safe: one splitter per stream.
 */
#ifndef GRACE_KJSONSTREAM_H
#define GRACE_KJSONSTREAM_H

#include <stddef.h>

#include "kerr.h"

#define KJS_MAX_DEPTH 512
/* kerr_info.reason of a body refused because a value in it is not text
 * jansson can read: invalid UTF-8 or an unpaired UTF-16 surrogate escape
 * in a string, "\u0000" in an object key, an integer beyond 64 bits, a
 * real that overflows. */
#define KJS_REASON_UNREADABLE "UnreadableText"
#define KJS_DEFAULT_MAX_VALUE ((size_t)16 << 20) /* 16 MiB */

struct kjs;

enum kjs_mode {
    KJS_ITEMS, /* one object; split the elements of its array `array_key` */
    KJS_DOCS   /* a stream of top-level values (NDJSON) */
};

/*
 * Callbacks (each may be NULL). A non-zero return stops the stream:
 * kjs_feed() then returns KERR_STOPPED.
 *  item:  one complete element of the named array (KJS_ITEMS) or one
 *         top-level value (KJS_DOCS). `text` is minified JSON of `len` bytes.
 *  field: a top-level scalar (path "kind") or a scalar of the top-level
 *         "metadata" object (path "metadata.continue"). Strings are
 *         unescaped; numbers and booleans are given as their JSON text;
 *         null is given as value NULL. KJS_ITEMS only.
 */
struct kjs_callbacks {
    int (*item)(void *ctx, const char *text, size_t len);
    int (*field)(void *ctx, const char *path, const char *value);
};

/*
 * New splitter. `array_key` is required for KJS_ITEMS (e.g. "items") and
 * ignored for KJS_DOCS. `max_value` 0 means KJS_DEFAULT_MAX_VALUE.
 * Callbacks are copied; ctx is borrowed. Free with kjs_free().
 */
struct kjs *kjs_new(enum kjs_mode mode, const char *array_key, size_t max_value,
                    const struct kjs_callbacks *cb, void *ctx);

/* Feed the next `n` bytes of the body. KERR_OK, KERR_PARSE (err says why
 * and at which byte offset), or KERR_STOPPED when a callback asked. */
enum kerr kjs_feed(struct kjs *s, const char *buf, size_t n, struct kerr_info *err);

/*
 * End of body. KJS_ITEMS: KERR_OK only if the top-level object was
 * complete. KJS_DOCS: KERR_OK if no value was left half-way (an empty
 * stream is fine). Otherwise KERR_PARSE ("truncated").
 */
enum kerr kjs_finish(struct kjs *s, struct kerr_info *err);

/* Leave the member `key` (e.g. "managedFields") out of the "metadata"
 * object of every item handed to `item` (KJS_ITEMS), or of the top-level
 * "object" member of every value handed to `item` (KJS_DOCS: a watch
 * event's object). The text stays valid, minified JSON. NULL: keep
 * everything (the default). Call before feeding. */
void kjs_drop_meta_key(struct kjs *s, const char *key);

/* Where a value sits in a text handed to `item`: text + off, len bytes. */
struct kjs_span {
    size_t off, len; /* len 0: absent */
};

/* KJS_DOCS, during the `item` callback only: the values of the top-level
 * members "type" and "object" of the value handed out (a Kubernetes watch
 * event), as spans of its text (their raw JSON text, a quoted string and
 * an object); len 0 when the value has no such member (or is no object).
 * Found while splitting, so the caller need not scan the text again. */
void kjs_doc_event(const struct kjs *s, struct kjs_span *type, struct kjs_span *object);

/*
 * One complete JSON object in text[0..len) (whitespace allowed before,
 * after and inside it), checked as kjs_feed checks a body (structure,
 * strings: UTF-8, escapes, paired surrogate escapes; numbers and literals
 * by their grammar; nesting up to KJS_MAX_DEPTH): KERR_OK with spans[k]
 * the value of its top-level member keys[k] in `text` (len 0: no such
 * member; when a key repeats, the last one, as jansson reads it), or
 * KERR_PARSE (err says why and where; spans all len 0). Nothing is copied.
 */
enum kerr kjs_object_members(const char *text, size_t len, const char *const *keys, size_t nkeys,
                             struct kjs_span *spans, struct kerr_info *err);

/*
 * kjs_object_members for a text that a splitter handed out: a value given
 * to `item` (KJS_ITEMS), or the span of one member of it such as the
 * "object" of a watch event (KJS_DOCS). The splitter checked every byte of
 * it as it streamed (and refused a body holding anything jansson cannot
 * read), so only the top level is checked again (brackets, keys, commas,
 * scalars, strings); a member value that is an object or an array is
 * skimmed, by its brackets and string quotes alone. Same results as
 * kjs_object_members for such a text, in a fraction of the instructions.
 * Given any other text it reads nothing outside text[0..len) and every
 * span lies inside it, but the member values are not checked: text from
 * any other source goes to kjs_object_members.
 */
enum kerr kjs_split_members(const char *text, size_t len, const char *const *keys, size_t nkeys,
                            struct kjs_span *spans, struct kerr_info *err);

/* The index of the first byte at or after text[i] that is not JSON
 * whitespace (len when there is none). */
size_t kjs_skip_ws(const char *text, size_t i, size_t len);

/* Forget all state (and any error) and start a new body with the same
 * mode, key, limit and callbacks. */
void kjs_reset(struct kjs *s);

/* Number of values handed to `item` since the last reset. */
size_t kjs_count(const struct kjs *s);

/* Free; NULL allowed. */
void kjs_free(struct kjs *s);

#endif
