/*
 * kmap: the intrusive chained hash map (see kmap.h). Growth relinks the
 * existing nodes into a slot array twice the size; removal walks the
 * node's chain (about one node long at load factor 1) to find its
 * predecessor, which keeps the node at two words.
 */
#include "kmap.h"

#include <stdlib.h>

#include "kerr.h"

#define KMAP_MIN_SLOTS 16
#define KMAP_MIN_SHIFT 60 /* 64 - log2(KMAP_MIN_SLOTS) */

void kmap_init(struct kmap *m)
{
    *m = (struct kmap){NULL, 0, 0, 0};
}

void kmap_free(struct kmap *m)
{
    if (!m)
        return;
    free(m->slots);
    kmap_init(m);
}

static void kmap_link(struct kmap *m, struct kmap_node *n)
{
    struct kmap_node **head = &m->slots[kmap__slot(m, n->hash)];
    n->next = *head;
    *head = n;
}

static void kmap_grow(struct kmap *m)
{
    struct kmap old = *m;
    m->nslots = old.nslots ? old.nslots * 2 : KMAP_MIN_SLOTS;
    m->shift = old.nslots ? old.shift - 1 : KMAP_MIN_SHIFT;
    m->slots = kerr_xcalloc(m->nslots, sizeof(struct kmap_node *));
    for (size_t i = 0; i < old.nslots; i++) {
        struct kmap_node *n = old.slots[i];
        while (n) {
            struct kmap_node *next = n->next;
            kmap_link(m, n);
            n = next;
        }
    }
    free(old.slots);
}

void kmap_insert(struct kmap *m, struct kmap_node *n, uint64_t hash)
{
    if (m->count >= m->nslots)
        kmap_grow(m);
    n->hash = hash;
    kmap_link(m, n);
    m->count++;
}

void kmap_remove(struct kmap *m, struct kmap_node *n)
{
    struct kmap_node **pp = &m->slots[kmap__slot(m, n->hash)];
    while (*pp != n)
        pp = &(*pp)->next;
    *pp = n->next;
    n->next = NULL;
    m->count--;
}

void kmap_iter_init(struct kmap_iter *it, const struct kmap *m)
{
    it->m = m;
    it->slot = 0;
    it->next = NULL;
}

struct kmap_node *kmap_iter_next(struct kmap_iter *it)
{
    struct kmap_node *n = it->next;
    while (!n && it->slot < it->m->nslots)
        n = it->m->slots[it->slot++];
    it->next = n ? n->next : NULL;
    return n;
}
