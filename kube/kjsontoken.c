/*
 * kjsontoken: JSON's token-level rules, byte by byte, for kjsonstream's
 * machine (see kjsontoken.h): strings (UTF-8, escapes, surrogate pairs)
 * and bare scalars (the number grammar and range, literals).
 */
#include "kjsontoken.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* ---- strings ---- */

/* A UTF-8 lead byte >= 0x80: how many continuation bytes follow and the
 * range of the first one (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF). False when `b` cannot start a character. */
static bool kjt_utf8_lead(struct kjt *t, unsigned char b)
{
    t->u8_lo = 0x80;
    t->u8_hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF)
        t->u8_need = 1;
    else if (b >= 0xE0 && b <= 0xEF)
        t->u8_need = 2;
    else if (b >= 0xF0 && b <= 0xF4)
        t->u8_need = 3;
    else
        return false;
    if (b == 0xE0)
        t->u8_lo = 0xA0;
    else if (b == 0xED)
        t->u8_hi = 0x9F;
    else if (b == 0xF0)
        t->u8_lo = 0x90;
    else if (b == 0xF4)
        t->u8_hi = 0x8F;
    return true;
}

/* The length of the run of ordinary string bytes at p (checked UTF-8, no
 * quote, backslash or control character); *bad when a byte is not UTF-8.
 * Printable ASCII, nearly all of what an API server sends, takes the
 * short loops (eight bytes at a time, then one). */
static size_t kjt_text_run(struct kjt *t, const unsigned char *p, size_t n, bool *bad)
{
    size_t i = 0;
    *bad = false;
    for (;;) {
        for (; t->u8_need && i < n; i++, t->u8_need--) {
            if (p[i] < t->u8_lo || p[i] > t->u8_hi) {
                *bad = true;
                return i;
            }
            t->u8_lo = 0x80;
            t->u8_hi = 0xBF;
        }
        while (i + 8 <= n && kjt_plain8(p + i))
            i += 8;
        while (i < n && kjt_plain_byte(p[i]))
            i++;
        if (i >= n || p[i] < 0x80)
            return i; /* the end, or a quote, backslash or control character */
        if (!kjt_utf8_lead(t, p[i])) {
            *bad = true;
            return i;
        }
        i++;
    }
}

/* The last hex digit of a \\u escape: UTF-16 surrogates must pair up (a
 * high one, then at once a \\u escape of a low one), as jansson wants. */
static bool kjt_u_done(struct kjt *t)
{
    bool high = t->uval >= 0xD800 && t->uval <= 0xDBFF;
    bool low = t->uval >= 0xDC00 && t->uval <= 0xDFFF;
    if (t->u_high != low)
        return false;
    t->u_high = high;
    return true;
}

static enum kjt_verdict kjt_bad(const char **why, enum kjt_verdict v, const char *what)
{
    *why = what;
    return v;
}

/* The byte after a backslash, or a hex digit of a \\u escape. */
static enum kjt_verdict kjt_escape_byte(struct kjt *t, char e, bool in_key, const char **why)
{
    static const char unpaired[] = "unpaired UTF-16 surrogate escape in a string";
    bool hex = (e >= '0' && e <= '9') || (e >= 'a' && e <= 'f') || (e >= 'A' && e <= 'F');
    if (t->uhex ? !hex : !strchr("\"\\/bfnrtu", e) || e == '\0')
        return kjt_bad(why, KJT_MALFORMED, t->uhex ? "bad \\u escape" : "bad escape in a string");
    if (t->uhex) {
        t->uval = t->uval * 16 + (unsigned)(e <= '9' ? e - '0' : (e | 0x20) - 'a' + 10);
        if (--t->uhex == 0 && !kjt_u_done(t))
            return kjt_bad(why, KJT_UNREADABLE, unpaired);
        if (t->uhex == 0 && t->uval == 0 && in_key)
            return kjt_bad(why, KJT_UNREADABLE, "\\u0000 in an object key (jansson refuses it)");
    } else if (e == 'u') {
        t->uhex = 4;
        t->uval = 0;
    } else if (t->u_high) {
        return kjt_bad(why, KJT_UNREADABLE, unpaired);
    }
    t->escape = false;
    return KJT_OK;
}

size_t kjt_string_step(struct kjt *t, const char *p, size_t n, bool in_key, bool *closed,
                       enum kjt_verdict *v, const char **why)
{
    bool bad = false;
    size_t i;
    *closed = false;
    *v = KJT_OK;
    if (t->escape || t->uhex) {
        *v = kjt_escape_byte(t, p[0], in_key, why);
        return *v == KJT_OK ? 1 : 0;
    }
    if (t->u_high && p[0] != '\\') {
        *v = kjt_bad(why, KJT_UNREADABLE, "unpaired UTF-16 surrogate escape in a string");
        return 0;
    }
    i = kjt_text_run(t, (const unsigned char *)p, n, &bad);
    if (bad) {
        *v = kjt_bad(why, KJT_UNREADABLE, "invalid UTF-8 in a string");
        return 0;
    }
    if (i > 0 && i < n && p[i] == '"' && !t->u8_need) {
        *closed = true; /* the run and the closing quote at once */
        return i + 1;
    }
    if (i > 0)
        return i;
    if ((unsigned char)p[0] < 0x20) {
        *v = kjt_bad(why, KJT_MALFORMED, "control character in a string");
        return 0;
    }
    if (p[0] == '\\')
        t->escape = true;
    else
        *closed = true;
    return 1;
}

size_t kjt_skim_step(struct kjt *t, const char *p, size_t n, bool *closed)
{
    *closed = false;
    if (t->escape) {
        t->escape = false; /* the escaped byte; a \u escape's digits are plain */
        return 1;
    }
    if (p[0] == '\\')
        t->escape = true;
    else
        *closed = p[0] == '"';
    return 1;
}

/* ---- scalars: JSON's number grammar and literals ---- */

enum { N_MINUS = 1, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP, N_BAD, KJT_LIT };

static unsigned char kjt_num_step(unsigned char st, char c)
{
    bool digit = c >= '0' && c <= '9';
    switch (st) {
    case N_MINUS:
        return c == '0' ? N_ZERO : digit ? N_INT : N_BAD;
    case N_ZERO:
    case N_INT:
        if (digit)
            return st == N_INT ? N_INT : N_BAD;
        return c == '.' ? N_DOT : (c == 'e' || c == 'E') ? N_E : N_BAD;
    case N_DOT:
        return digit ? N_FRAC : N_BAD;
    case N_FRAC:
        return digit ? N_FRAC : (c == 'e' || c == 'E') ? N_E : N_BAD;
    case N_E:
        return (c == '+' || c == '-') ? N_ESIGN : digit ? N_EXP : N_BAD;
    case N_ESIGN:
    case N_EXP:
        return digit ? N_EXP : N_BAD;
    default:
        return N_BAD;
    }
}

void kjt_bare_start(struct kjt *t, char c)
{
    t->lit = c == 't' ? "true" : c == 'f' ? "false" : c == 'n' ? "null" : NULL;
    t->lit_pos = 1;
    t->bare = t->lit ? KJT_LIT : c == '-' ? N_MINUS : c == '0' ? N_ZERO : N_INT;
}

enum kjt_verdict kjt_bare_byte(struct kjt *t, char c, const char **why)
{
    if (t->bare == KJT_LIT) {
        if (t->lit[t->lit_pos] != c)
            return kjt_bad(why, KJT_MALFORMED, "bad literal (true, false or null expected)");
        t->lit_pos++;
        return KJT_OK;
    }
    t->bare = kjt_num_step(t->bare, c);
    return t->bare == N_BAD ? kjt_bad(why, KJT_MALFORMED, "malformed number") : KJT_OK;
}

bool kjt_bare_complete(const struct kjt *t)
{
    if (t->bare == KJT_LIT)
        return t->lit[t->lit_pos] == '\0';
    return t->bare == N_ZERO || t->bare == N_INT || t->bare == N_FRAC || t->bare == N_EXP;
}

bool kjt_bare_is_literal(const struct kjt *t)
{
    return t->bare == KJT_LIT;
}

bool kjt_num_readable(const char *num, size_t n)
{
    errno = 0;
    if (!memchr(num, '.', n) && !memchr(num, 'e', n) && !memchr(num, 'E', n)) {
        (void)strtoll(num, NULL, 10);
        return errno != ERANGE;
    }
    double v = strtod(num, NULL);
    return !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL));
}
