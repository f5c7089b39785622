/*
 * kmap: the runtime's one hash map, intrusive and chained. The caller
 * embeds a `struct kmap_node` in its own struct, computes a 64-bit hash of
 * the key with khash, and gets its struct back with KMAP_ENTRY. The map
 * stores no keys and allocates nothing per node: its only memory is the
 * slot array, which doubles when the nodes outnumber the slots (load
 * factor 1) and is never shrunk. A slot is chosen from the hash's high
 * bits after a multiplicative mix, so FNV-1a's weak low bits do not matter.
 *
 * Keys: the map compares hashes only. kmap_find takes an equality callback
 * for the key (called only for nodes with the same hash); a caller whose
 * hash alone identifies the entry passes NULL. Duplicates are the caller's
 * business: kmap_insert does not look first.
 *
 * Not thread-safe: the caller's lock guards the map with its nodes. A
 * zeroed struct kmap is an empty map (as kmap_init leaves it).
 */
#ifndef GRACE_KMAP_H
#define GRACE_KMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kmap_node {
    struct kmap_node *next; /* chain within the slot */
    uint64_t hash;          /* set by kmap_insert */
};

struct kmap {
    struct kmap_node **slots; /* nslots heads, or NULL before the first insert */
    size_t nslots;            /* 0 or a power of two */
    unsigned shift;           /* 64 - log2(nslots) */
    size_t count;
};

/* The struct of `type` whose member `member` is the node `n` (NULL for NULL). */
#define KMAP_ENTRY(n, type, member) ((type *)kmap__owner((n), offsetof(type, member)))

/* True when node `n` holds the key `key` (the caller's; borrowed). */
typedef bool (*kmap_eq_fn)(const struct kmap_node *n, const void *key);

static inline void *kmap__owner(const struct kmap_node *n, size_t off)
{
    return n ? (void *)((char *)(uintptr_t)n - off) : NULL;
}

static inline size_t kmap__slot(const struct kmap *m, uint64_t hash)
{
    return (size_t)((hash * 0x9e3779b97f4a7c15ULL) >> m->shift);
}

/* The node with `hash` for which eq(node, key) holds (any node with that
 * hash when eq is NULL), or NULL. Inline: the lookup is the hot path and
 * the compiler can inline the caller's eq. */
static inline struct kmap_node *kmap_find(const struct kmap *m, uint64_t hash, kmap_eq_fn eq,
                                          const void *key)
{
    if (m->count == 0)
        return NULL;
    for (struct kmap_node *n = m->slots[kmap__slot(m, hash)]; n; n = n->next)
        if (n->hash == hash && (!eq || eq(n, key)))
            return n;
    return NULL;
}

/* Empty map (no allocation). */
void kmap_init(struct kmap *m);

/* Free the slot array; the nodes are the caller's (walk them first with
 * kmap_iter to free them). The map is empty afterwards. NULL is a no-op. */
void kmap_free(struct kmap *m);

/* Link node `n` (not in any map) under `hash`; grows the slot array when
 * needed (aborts when out of memory). */
void kmap_insert(struct kmap *m, struct kmap_node *n, uint64_t hash);

/* Unlink node `n`, which must be in `m`. The node's memory is untouched. */
void kmap_remove(struct kmap *m, struct kmap_node *n);

/* Number of nodes. */
static inline size_t kmap_count(const struct kmap *m)
{
    return m->count;
}

/*
 * Every node, in no particular order. The node just returned may be
 * removed (or freed) before the next call; inserting, or removing any
 * other node, during the walk is not allowed.
 *
 *     struct kmap_iter it;
 *     kmap_iter_init(&it, &map);
 *     for (struct kmap_node *n; (n = kmap_iter_next(&it));) ...
 */
struct kmap_iter {
    const struct kmap *m;
    size_t slot;            /* the next slot to start */
    struct kmap_node *next; /* the node after the one returned */
};

void kmap_iter_init(struct kmap_iter *it, const struct kmap *m);
struct kmap_node *kmap_iter_next(struct kmap_iter *it);

#endif
