/*
 * kjsontoken: JSON's token-level rules for kjsonstream's machine (internal
 * to the runtime's JSON readers: kjsonstream, and kobjmeta and kobj for
 * its character classes; nothing outside kube/ includes this header).
 *
 * kjsonstream tracks a body's structure (brackets, commas, colons) and what
 * it hands out; this module knows what is inside one token, byte by byte,
 * so that a value may end in one piece of a body and go on in the next:
 *  - strings: printable ASCII runs (eight bytes at a time), UTF-8 as RFC
 *    3629 has it (no overlong forms, no surrogates, nothing above
 *    U+10FFFF), escapes, \u escapes whose UTF-16 surrogates pair up, no
 *    "\u0000" in an object key, no control characters;
 *  - scalars: JSON's number grammar, the literals true, false and null, and
 *    whether a well-formed number is one jansson reads (an integer within
 *    64 bits, a real that does not overflow).
 *
 * A token is "malformed" when it breaks JSON's grammar and "unreadable"
 * when it is valid JSON that jansson refuses (kjsonstream reports the
 * second with KJS_REASON_UNREADABLE). The state lives in the caller's
 * struct kjt; nothing here allocates.
 */
#ifndef GRACE_KJSONTOKEN_H
#define GRACE_KJSONTOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The state of the token being read (all zero: none). */
struct kjt {
    bool escape;                /* the byte after a backslash is due */
    unsigned char uhex;         /* hex digits still due after a \u escape */
    unsigned uval;              /* the code unit of that escape so far */
    bool u_high;                /* a high surrogate escape waits for its low half */
    unsigned char u8_need;      /* UTF-8 continuation bytes still due in a string */
    unsigned char u8_lo, u8_hi; /* the range the next continuation byte must be in */
    unsigned char bare;         /* number grammar state, or a literal's */
    const char *lit;            /* the literal being matched (true, false, null) */
    unsigned char lit_pos;      /* characters of it seen */
};

enum kjt_verdict {
    KJT_OK,
    KJT_MALFORMED, /* not JSON */
    KJT_UNREADABLE /* JSON that jansson refuses to read */
};

/* JSON whitespace. */
static inline bool kjt_is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* A byte that may continue a bare scalar (number or literal); the byte
 * after one that may not ends it. */
static inline bool kjt_is_bare(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' ||
           c == '-' || c == '.';
}

/* Printable ASCII that a string holds as it is (not a quote or backslash). */
static inline bool kjt_plain_byte(unsigned char b)
{
    return (unsigned char)(b - 0x20) < 0x60 && b != '"' && b != '\\';
}

/* Eight bytes at p, all kjt_plain_byte: no byte has its high bit set, is
 * below 0x20, or is a quote or a backslash (the "has a byte less than"
 * and "has a zero byte" word tricks, exact as a yes/no answer). */
static inline bool kjt_plain8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t x, q, b;
    memcpy(&x, p, sizeof x);
    q = x ^ (ones * '"');
    b = x ^ (ones * '\\');
    return ((x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high) == 0;
}

/* kjt_string_bytes in general: escapes, UTF-8, control characters, a
 * surrogate escape waiting for its low half. */
size_t kjt_string_step(struct kjt *t, const char *p, size_t n, bool in_key, bool *closed,
                       enum kjt_verdict *v, const char **why);

/*
 * Inside a string (after its opening quote), at p[0..n): the ordinary
 * bytes at once, or the one byte that ends the run (a quote, a backslash,
 * a byte of an escape). Returns how many bytes were consumed; *closed when
 * the last of them is the closing quote. `in_key`: the string is an object
 * key. On KJT_MALFORMED / KJT_UNREADABLE (*why says what), the bytes
 * before the bad one count as consumed and the string stays open.
 * Printable ASCII, nearly all of what an API server sends, is taken here
 * (inlined into the machine's loop); the rest by kjt_string_step.
 */
static inline size_t kjt_string_bytes(struct kjt *t, const char *p, size_t n, bool in_key,
                                      bool *closed, enum kjt_verdict *v, const char **why)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    if (t->escape || t->uhex || t->u_high || t->u8_need)
        return kjt_string_step(t, p, n, in_key, closed, v, why);
    while (i + 8 <= n && kjt_plain8(u + i))
        i += 8;
    while (i < n && kjt_plain_byte(u[i]))
        i++;
    *v = KJT_OK;
    *closed = i < n && u[i] == '"';
    if (*closed)
        return i + 1;
    return i ? i : kjt_string_step(t, p, n, in_key, closed, v, why);
}

/* Eight bytes at p, none a quote or a backslash (the same word trick). */
static inline bool kjt_noquote8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t x, q, b;
    memcpy(&x, p, sizeof x);
    q = x ^ (ones * '"');
    b = x ^ (ones * '\\');
    return ((((q - ones) & ~q) | ((b - ones) & ~b)) & high) == 0;
}

/* kjt_string_skim's general case: a backslash and the byte it escapes. */
size_t kjt_skim_step(struct kjt *t, const char *p, size_t n, bool *closed);

/*
 * The same for a string that was checked before (by kjt_string_bytes, in
 * text a kjsonstream splitter handed out): only where it ends is looked
 * for, a quote that no backslash escapes. Whatever the bytes, it never
 * reads past p[n - 1].
 */
static inline size_t kjt_string_skim(struct kjt *t, const char *p, size_t n, bool *closed)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    if (t->escape)
        return kjt_skim_step(t, p, n, closed);
    while (i + 8 <= n && kjt_noquote8(u + i))
        i += 8;
    while (i < n && u[i] != '"' && u[i] != '\\')
        i++;
    *closed = i < n && u[i] == '"';
    if (*closed)
        return i + 1;
    return i ? i : kjt_skim_step(t, p, n, closed);
}
/* A bare scalar starts at `c`, one of -0123456789tfn. */
void kjt_bare_start(struct kjt *t, char c);

/* The next byte of the scalar (a kjt_is_bare byte): KJT_OK or
 * KJT_MALFORMED (*why says what). */
enum kjt_verdict kjt_bare_byte(struct kjt *t, char c, const char **why);

/* The scalar ended: true when what was seen is a whole number or literal. */
bool kjt_bare_complete(const struct kjt *t);

/* The scalar is one of the literals (true, false, null), not a number. */
bool kjt_bare_is_literal(const struct kjt *t);

/* A number jansson reads: an integer that fits json_int_t (long long), a
 * real that does not overflow to infinity (its own rules). `num` is the
 * number's well-formed text, `n` bytes, followed by a byte that cannot
 * continue it (where strtoll / strtod stop). */
bool kjt_num_readable(const char *num, size_t n);

#endif
