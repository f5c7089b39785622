/*
 * kpack: see kpack.h.
 */
#include "kpack.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kerr.h"

/* Raw deflate (no zlib header or checksum: the kobj keeps the length) with
 * an 8 KiB window. Level 3, not 1: a text matches its dictionary in long
 * runs, and level 3's longer "nice" match length takes them in fewer
 * symbols, so it is both faster and smaller here (a Deployment of 916 B
 * against the first one: 3.55 us and 83 B at level 3, 3.86 us and 101 B at
 * level 1; levels 4 and up switch to lazy matching, 4.9 us). memLevel 4
 * keeps a stream's state at ~46 KB (the default 8 would be ~270 KB).
 *
 * Every kpack_compress sets up its own stream and ends it, as
 * kpack_expand does: deflateInit2 costs no more than the deflateReset a
 * kept stream needs (both clear the hash table; 14.5-14.9 us per 1.4 KB
 * text against an 8 KiB dictionary either way, measured), and a codec
 * keeps no stream between calls: 46 KB less per cached kind (~420 KB at
 * any N), and threads packing objects of one kind no longer wait for
 * each other's deflate. */
#define KPACK_WBITS (-13)
#define KPACK_LEVEL 3
#define KPACK_MEMLEVEL 4

struct kpack {
    atomic_uint refs;
    pthread_mutex_t mu; /* guards the setting of dict, and shared */
    atomic_ulong packed; /* kpack_compress calls so far */
    /* Set once, under mu, by the first kpack_compress, then read-only: a
     * reader reaches it only through a kobj packed after it was set. */
    unsigned char *dict;
    size_t dict_len;
    /* Shared strings (kpack_share), under mu; an entry never changes once
     * added, and its strings live until the codec is freed. */
    struct kpack_pair {
        char *key, *value;
    } shared[KPACK_SHARED_MAX];
    size_t nshared;
};

struct kpack *kpack_new(void)
{
    struct kpack *c = kerr_xcalloc(1, sizeof *c);
    atomic_init(&c->refs, 1);
    atomic_init(&c->packed, 0);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

struct kpack *kpack_ref(struct kpack *c)
{
    if (c)
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void kpack_unref(struct kpack *c)
{
    if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_destroy(&c->mu);
    for (size_t i = 0; i < c->nshared; i++) {
        free(c->shared[i].key);
        free(c->shared[i].value);
    }
    free(c->dict);
    free(c);
}

/* The entry for `key` (mu held), added while there is room; NULL else. */
static struct kpack_pair *kpack_pair(struct kpack *c, const char *key, const char *value)
{
    for (size_t i = 0; i < c->nshared; i++)
        if (strcmp(c->shared[i].key, key) == 0)
            return &c->shared[i];
    if (c->nshared == KPACK_SHARED_MAX || strlen(key) + strlen(value) > KPACK_SHARED_LEN)
        return NULL;
    struct kpack_pair *e = &c->shared[c->nshared++];
    e->key = kerr_xstrdup(key);
    e->value = kerr_xstrdup(value);
    return e;
}

void kpack_share(struct kpack *c, const char *key, const char *value, const char **key_out,
                 const char **value_out)
{
    pthread_mutex_lock(&c->mu);
    const struct kpack_pair *e = kpack_pair(c, key, value);
    *key_out = e ? e->key : NULL;
    *value_out = e && strcmp(e->value, value) == 0 ? e->value : NULL;
    pthread_mutex_unlock(&c->mu);
}

/* The dictionary, set from the first text packed. */
static void kpack_dict(struct kpack *c, const char *text, size_t len)
{
    pthread_mutex_lock(&c->mu);
    if (!c->dict) {
        size_t n = len < KPACK_DICT_MAX ? len : KPACK_DICT_MAX;
        unsigned char *d = kerr_xmalloc(n);
        memcpy(d, text + len - n, n);
        c->dict_len = n;
        c->dict = d;
    }
    pthread_mutex_unlock(&c->mu);
}

size_t kpack_compress(struct kpack *c, const char *text, size_t len, unsigned char *out)
{
    if (!c || len < 2 || len > UINT32_MAX / 2)
        return 0;
    atomic_fetch_add_explicit(&c->packed, 1, memory_order_relaxed);
    kpack_dict(c, text, len);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, KPACK_LEVEL, Z_DEFLATED, KPACK_WBITS, KPACK_MEMLEVEL,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    bool ok = deflateSetDictionary(&zs, c->dict, (uInt)c->dict_len) == Z_OK;
    if (ok) {
        zs.next_in = (Bytef *)text;
        zs.avail_in = (uInt)len;
        zs.next_out = out;
        zs.avail_out = (uInt)(len - 1); /* room for a smaller result only */
        ok = deflate(&zs, Z_FINISH) == Z_STREAM_END;
    }
    size_t n = ok ? len - 1 - zs.avail_out : 0;
    deflateEnd(&zs);
    return n;
}

unsigned long kpack_count(const struct kpack *c)
{
    return c ? atomic_load_explicit(&c->packed, memory_order_relaxed) : 0;
}

bool kpack_expand(const struct kpack *c, const unsigned char *z, size_t zlen, char *out, size_t len)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (!c || !c->dict || zlen > UINT32_MAX || len > UINT32_MAX ||
        inflateInit2(&s, KPACK_WBITS) != Z_OK)
        return false;
    bool ok = inflateSetDictionary(&s, c->dict, (uInt)c->dict_len) == Z_OK;
    if (ok) {
        s.next_in = (Bytef *)z;
        s.avail_in = (uInt)zlen;
        s.next_out = (Bytef *)out;
        s.avail_out = (uInt)len;
        ok = inflate(&s, Z_FINISH) == Z_STREAM_END && s.avail_out == 0 && s.avail_in == 0;
    }
    inflateEnd(&s);
    return ok;
}
