/*
 * khash: the project's one hash function, FNV-1a, for the hash map (kmap) and
 * fingerprints. It streams: start from KHASH_INIT, feed strings with
 * khash_str and single values (separators, small integers) with
 * khash_step, so callers that hash several fields mark where one ends
 * (khash_field does both: a string, then the 0xff terminator).
 * khash32_str is the 32-bit variant, kept only where the value is shown to
 * users (label values shortened with a hash suffix; the Lua templates'
 * grace helper computes the same). Not keyed: tables that hold network
 * input cap their size instead.
 */
#ifndef GRACE_KHASH_H
#define GRACE_KHASH_H

#include <stdint.h>

#define KHASH_INIT 0xcbf29ce484222325ULL /* the FNV-1a offset basis */
#define KHASH_PRIME 1099511628211ULL

/* One FNV-1a step with value v (a byte, a separator, a small integer). */
static inline uint64_t khash_step(uint64_t h, uint64_t v)
{
    return (h ^ v) * KHASH_PRIME;
}

/* Feed the bytes of s (NULL counts as ""), without a terminator. */
static inline uint64_t khash_str(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = khash_step(h, (unsigned char)*s);
    return h;
}

/* Feed s (NULL counts as "") then the byte 0xff, which no UTF-8 text
 * holds: a list of fields hashed this way keeps its boundaries
 * (["ab", "c"] and ["a", "bc"] differ). Values persisted by callers (the
 * migration Job's name) depend on it: do not change the terminator. */
static inline uint64_t khash_field(uint64_t h, const char *s)
{
    return khash_step(khash_str(h, s), 0xffu);
}

/* 32-bit FNV-1a of the first n bytes of s. */
static inline uint32_t khash32_str(const char *s, uint64_t n)
{
    uint32_t h = 0x811c9dc5u;
    for (uint64_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x01000193u;
    return h;
}

#endif
