/*
 * kjsonstream: incremental JSON splitter (see kjsonstream.h).
 *
 * A byte-at-a-time state machine over the JSON grammar's structure: a stack
 * of frames (object or array, each with its position: expecting a key, a
 * colon, a value, a comma...), plus the token state (inside a string, after
 * a backslash, inside a bare literal such as a number or `true`). It never
 * decodes values itself; it copies the minified text of the values it is
 * asked for into one growable buffer (capped) and hands that text out.
 * Scalars handed to the `field` callback are decoded with jansson.
 *
 * Memory: one buffer as large as the largest handed-out value, plus the
 * fixed frame stack.
 *
 * The same machine finds the top-level members of one complete object text
 * (kjs_object_members, for kobj): fed the whole text in an internal third
 * mode that copies nothing and records where the values of the wanted keys
 * start and end in the text. So JSON's lexical rules live here only.
 */
#include "kjsonstream.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kjs_state {
    S_OBJ_FIRST, /* after '{': key or '}' */
    S_OBJ_KEY,   /* after ',': key */
    S_OBJ_COLON, /* after key: ':' */
    S_OBJ_VALUE, /* after ':': value */
    S_OBJ_NEXT,  /* after value: ',' or '}' */
    S_ARR_FIRST, /* after '[': value or ']' */
    S_ARR_VALUE, /* after ',': value */
    S_ARR_NEXT   /* after value: ',' or ']' */
};

enum kjs_role {
    R_NONE,
    R_ITEMS,
    R_META,
    R_IMETA, /* an item's "metadata" (or the metadata of a document's "object") */
    R_IOBJ   /* KJS_DOCS: a document's "object" */
};
enum kjs_capture { C_NONE, C_ITEM, C_FIELD };

/* kjs_object_members: one complete object, the spans of some top-level
 * members in the text (not a mode callers can ask kjs_new for). */
#define KJS_MEMBERS ((enum kjs_mode)(KJS_DOCS + 1))

struct kjs_frame {
    unsigned char state; /* enum kjs_state */
    unsigned char role;  /* enum kjs_role */
};

#define KJS_KEY_MAX 128

struct kjs {
    enum kjs_mode mode;
    char *array_key;
    size_t max_value;
    struct kjs_callbacks cb;
    void *ctx;

    struct kjs_frame frames[KJS_MAX_DEPTH];
    size_t depth;
    bool top_done; /* KJS_ITEMS, KJS_MEMBERS: the top-level object is complete */

    bool in_string, escape, in_bare, string_is_key;
    unsigned char uhex;         /* hex digits still due after a \u escape */
    unsigned uval;              /* the code unit of that escape so far */
    bool u_high;                /* a high surrogate escape waits for its low half */
    unsigned char u8_need;      /* UTF-8 continuation bytes still due in a string */
    unsigned char u8_lo, u8_hi; /* the range the next continuation byte must be in */
    unsigned char bare;         /* number grammar state, or KJS_LIT for a literal */
    const char *lit;            /* the literal being matched (true, false, null) */
    unsigned char lit_pos;      /* characters of it seen */
    size_t bare_off;            /* where the scalar starts in buf (when copied), or in src */
    bool collect_key;           /* copying the current key into keys[] */
    char keys[2][KJS_KEY_MAX];  /* current key at depth 1 and in "metadata" */
    size_t key_len;
    bool key_overflow;

    enum kjs_capture cap;
    size_t cap_depth;
    char *buf;
    size_t len, alloc;

    /* Dropping one member of each item's "metadata" (kjs_drop_meta_key). */
    char *drop_key;         /* NULL: nothing is dropped */
    char ikey[KJS_KEY_MAX]; /* current key inside an item (its top level or metadata) */
    size_t ikey_len;
    bool ikey_collect, ikey_overflow;
    size_t key_mark;    /* buffer length before the current item key */
    bool dropping;      /* inside the dropped member: nothing is copied */
    size_t drop_depth;  /* depth of the object that holds the dropped member */
    bool swallow_comma; /* the dropped member was first: drop the ',' after it */

    /* KJS_DOCS: the spans of the document's top-level "type" and "object". */
    struct kjs_span doc_type, doc_object;
    struct kjs_span *doc_member; /* the member value being captured, or NULL */

    /* KJS_MEMBERS: the wanted keys, their spans in the text, the one being read. */
    const char *src; /* the whole text, fed at once: numbers are checked in place */
    const char *const *mkeys;
    size_t nmkeys;
    struct kjs_span *mspans, *member;

    size_t offset; /* bytes fed since reset, for error messages */
    size_t count;  /* values handed to item() */
    bool failed;
};

struct kjs *kjs_new(enum kjs_mode mode, const char *array_key, size_t max_value,
                    const struct kjs_callbacks *cb, void *ctx)
{
    struct kjs *s = kerr_xcalloc(1, sizeof *s);
    s->mode = mode;
    s->array_key = kerr_xstrdup(array_key ? array_key : "items");
    s->max_value = max_value ? max_value : KJS_DEFAULT_MAX_VALUE;
    if (cb)
        s->cb = *cb;
    s->ctx = ctx;
    return s;
}

void kjs_reset(struct kjs *s)
{
    s->depth = 0;
    s->top_done = false;
    s->in_string = s->escape = s->in_bare = s->string_is_key = false;
    s->uhex = 0;
    s->uval = 0;
    s->u_high = false;
    s->u8_need = 0;
    s->collect_key = false;
    s->keys[0][0] = s->keys[1][0] = '\0';
    s->key_len = 0;
    s->key_overflow = false;
    s->cap = C_NONE;
    s->len = 0;
    s->ikey_len = 0;
    s->ikey_collect = s->ikey_overflow = false;
    s->dropping = s->swallow_comma = false;
    s->doc_type = s->doc_object = (struct kjs_span){0, 0};
    s->doc_member = NULL;
    s->member = NULL;
    s->offset = 0;
    s->count = 0;
    s->failed = false;
}

void kjs_drop_meta_key(struct kjs *s, const char *key)
{
    free(s->drop_key);
    s->drop_key = (key && *key) ? kerr_xstrdup(key) : NULL;
}

void kjs_doc_event(const struct kjs *s, struct kjs_span *type, struct kjs_span *object)
{
    *type = s->doc_type;
    *object = s->doc_object;
}

size_t kjs_count(const struct kjs *s)
{
    return s->count;
}

void kjs_free(struct kjs *s)
{
    if (!s)
        return;
    free(s->array_key);
    free(s->drop_key);
    free(s->buf);
    free(s);
}

static enum kerr kjs_fail(struct kjs *s, struct kerr_info *err, const char *what)
{
    s->failed = true;
    return kerr_set(err, KERR_PARSE, 0, "MalformedJSON", "malformed JSON at byte %zu: %s",
                    s->offset, what);
}

/* A string holds text jansson cannot read (json_loadb would fail on the
 * value, so a cache could never read the object back): the body is
 * refused, with its own reason so that the caller can count it. */
static enum kerr kjs_reject(struct kjs *s, struct kerr_info *err, const char *what)
{
    s->failed = true;
    return kerr_set(err, KERR_PARSE, 0, KJS_REASON_UNREADABLE,
                    "unreadable JSON text at byte %zu: %s", s->offset, what);
}

/* Append bytes to the capture buffer, enforcing the size cap: the slow
 * path (growing, the cap). The buffer always has room for a NUL after
 * `len`; it is written when a value is handed out. */
static enum kerr kjs_append_slow(struct kjs *s, const char *p, size_t n, struct kerr_info *err)
{
    if (s->len + n + 1 > s->max_value + 1) {
        s->failed = true;
        return kerr_set(err, KERR_PARSE, 0, "TooLarge",
                        "JSON value larger than %zu bytes (at byte %zu)", s->max_value, s->offset);
    }
    if (s->len + n + 1 > s->alloc) {
        size_t want = s->alloc ? s->alloc : 4096;
        while (want < s->len + n + 1)
            want *= 2;
        s->buf = kerr_xrealloc(s->buf, want);
        s->alloc = want;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return KERR_OK;
}

/* Append (called for nearly every byte captured, so the common case is
 * inlined). Nothing is copied while a dropped member is being skipped. */
static inline enum kerr kjs_append(struct kjs *s, const char *p, size_t n, struct kerr_info *err)
{
    if (s->dropping)
        return KERR_OK;
    if (s->len + n < s->alloc && s->len + n <= s->max_value) {
        if (n == 1)
            s->buf[s->len] = *p;
        else
            memcpy(s->buf + s->len, p, n);
        s->len += n;
        return KERR_OK;
    }
    return kjs_append_slow(s, p, n, err);
}

static void kjs_key_append(struct kjs *s, const char *p, size_t n)
{
    if (s->ikey_collect) {
        if (s->ikey_len + n >= KJS_KEY_MAX) {
            s->ikey_overflow = true;
        } else {
            memcpy(s->ikey + s->ikey_len, p, n);
            s->ikey_len += n;
            s->ikey[s->ikey_len] = '\0';
        }
        return;
    }
    if (!s->collect_key)
        return;
    if (s->key_len + n >= KJS_KEY_MAX) {
        s->key_overflow = true;
        return;
    }
    char *k = s->keys[s->depth == 1 ? 0 : 1];
    memcpy(k + s->key_len, p, n);
    s->key_len += n;
    k[s->key_len] = '\0';
}

/* Decode a captured scalar and hand it to field(). */
static enum kerr kjs_emit_field(struct kjs *s, struct kerr_info *err)
{
    char path[KJS_KEY_MAX * 2 + 16];
    if (s->depth == 1)
        snprintf(path, sizeof path, "%s", s->keys[0]);
    else
        snprintf(path, sizeof path, "metadata.%s", s->keys[1]);
    json_error_t jerr;
    json_t *v = json_loadb(s->buf, s->len, JSON_DECODE_ANY, &jerr);
    if (!v)
        return kjs_fail(s, err, "bad scalar value");
    const char *val = json_is_string(v) ? json_string_value(v) : json_is_null(v) ? NULL : s->buf;
    int rc = s->cb.field ? s->cb.field(s->ctx, path, val) : 0;
    json_decref(v);
    if (rc != 0)
        return kerr_set(err, KERR_STOPPED, 0, "Stopped", "stopped by the field callback");
    return KERR_OK;
}

/* A value contained in the current frame (or the top level) just ended;
 * `end` is the offset just after it (in what was fed since the reset). */
static enum kerr kjs_value_done(struct kjs *s, size_t end, struct kerr_info *err)
{
    enum kerr rc = KERR_OK;
    if (s->member && s->depth == 1) {
        s->member->len = end - s->member->off; /* KJS_MEMBERS: a wanted value ended */
        s->member = NULL;
    }
    if (s->dropping && s->depth == s->drop_depth)
        s->dropping = false; /* the dropped member's value ended */
    if (s->doc_member && s->depth == s->cap_depth + 1) {
        s->doc_member->len = s->len - s->doc_member->off; /* "type" or "object" ended */
        s->doc_member = NULL;
    }
    if (s->cap != C_NONE && s->depth == s->cap_depth) {
        enum kjs_capture c = s->cap;
        s->cap = C_NONE;
        s->buf[s->len] = '\0';
        if (c == C_FIELD) {
            rc = kjs_emit_field(s, err);
        } else {
            s->count++;
            if (s->cb.item && s->cb.item(s->ctx, s->buf, s->len) != 0)
                rc = kerr_set(err, KERR_STOPPED, 0, "Stopped", "stopped by the item callback");
        }
        s->len = 0;
    }
    if (s->depth == 0)
        s->top_done = (s->mode != KJS_DOCS);
    else
        s->frames[s->depth - 1].state =
            s->frames[s->depth - 1].state <= S_OBJ_NEXT ? S_OBJ_NEXT : S_ARR_NEXT;
    return rc;
}

/* KJS_MEMBERS: a member value of the object starts at the current byte:
 * remember where, when its key is wanted. */
static void kjs_member_start(struct kjs *s)
{
    for (size_t k = 0; k < s->nmkeys && !s->key_overflow; k++) {
        if (strcmp(s->keys[0], s->mkeys[k]) == 0) {
            s->member = &s->mspans[k];
            s->member->off = s->offset;
            s->member->len = 0;
            return;
        }
    }
}

/* Decide what a value starting with `c` at the current depth is for:
 * returns the role of the frame it opens (if it is a container). */
static enum kerr kjs_begin_value(struct kjs *s, char c, enum kjs_role *role, struct kerr_info *err)
{
    bool container = (c == '{' || c == '[');
    *role = R_NONE;
    if (s->cap != C_NONE)
        return KERR_OK;
    if (s->depth == 0) {
        if (s->mode == KJS_DOCS) {
            s->cap = C_ITEM;
            s->cap_depth = 0;
            s->doc_type = s->doc_object = (struct kjs_span){0, 0};
            s->doc_member = NULL;
        } else if (c != '{') {
            return kjs_fail(s, err, "the body is not a JSON object");
        }
        return KERR_OK;
    }
    if (s->mode == KJS_MEMBERS && s->depth == 1)
        kjs_member_start(s);
    if (s->mode != KJS_ITEMS || s->depth > 2)
        return KERR_OK;
    if (s->depth == 1) {
        bool named = !s->key_overflow && strcmp(s->keys[0], s->array_key) == 0;
        if (named && c == '[')
            *role = R_ITEMS;
        else if (named && c != 'n')
            return kjs_fail(s, err, "the item list is not an array");
        else if (!named && c == '{' && !s->key_overflow && strcmp(s->keys[0], "metadata") == 0)
            *role = R_META;
        else if (!container && !named && !s->key_overflow)
            s->cap = C_FIELD;
    } else if (s->frames[1].role == R_ITEMS) {
        s->cap = C_ITEM;
    } else if (s->frames[1].role == R_META && !container && !s->key_overflow) {
        s->cap = C_FIELD;
    }
    if (s->cap != C_NONE)
        s->cap_depth = s->depth;
    return KERR_OK;
}

/* Inside a captured value, at the level of the members of the object
 * whose metadata loses the dropped key: the item itself (KJS_ITEMS) or a
 * document's "object" (KJS_DOCS). */
static bool kjs_at_obj_top(const struct kjs *s)
{
    if (s->cap != C_ITEM)
        return false;
    if (s->mode == KJS_ITEMS)
        return s->depth == s->cap_depth + 1;
    return s->depth == s->cap_depth + 2 && s->frames[s->depth - 1].role == R_IOBJ;
}

/* KJS_DOCS: at the level of a document's own members ("type", "object"). */
static bool kjs_at_doc_top(const struct kjs *s)
{
    return s->mode == KJS_DOCS && s->cap == C_ITEM && s->depth == s->cap_depth + 1 &&
           s->frames[s->depth - 1].state == S_OBJ_VALUE;
}

/* The role of an object opened as the value of the current item key. */
static enum kjs_role kjs_inner_role(const struct kjs *s)
{
    if (s->ikey_overflow || s->frames[s->depth - 1].state != S_OBJ_VALUE)
        return R_NONE;
    if (s->drop_key && kjs_at_obj_top(s) && strcmp(s->ikey, "metadata") == 0)
        return R_IMETA;
    if (kjs_at_doc_top(s) && strcmp(s->ikey, "object") == 0)
        return R_IOBJ;
    return R_NONE;
}

/* KJS_DOCS: a document member value starts (before its first byte is
 * captured): remember where, when it is "type" or "object". */
static void kjs_doc_member_start(struct kjs *s)
{
    if (!kjs_at_doc_top(s) || s->ikey_overflow)
        return;
    if (strcmp(s->ikey, "type") == 0)
        s->doc_member = &s->doc_type;
    else if (strcmp(s->ikey, "object") == 0)
        s->doc_member = &s->doc_object;
    else
        return;
    s->doc_member->off = s->len;
    s->doc_member->len = 0;
}

/* ---- scalars: JSON's number grammar and literals, checked as they stream
 * (the stored text of an item is never re-parsed whole, so a malformed
 * value must be caught here) ---- */

enum { N_MINUS = 1, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP, N_BAD, KJS_LIT };

static unsigned char kjs_num_step(unsigned char st, char c)
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

/* Start a scalar at its first character (one of -0123456789tfn). */
static void kjs_bare_start(struct kjs *s, char c)
{
    s->lit = c == 't' ? "true" : c == 'f' ? "false" : c == 'n' ? "null" : NULL;
    s->lit_pos = 1;
    s->bare = s->lit ? KJS_LIT : c == '-' ? N_MINUS : c == '0' ? N_ZERO : N_INT;
}

static enum kerr kjs_bare_byte(struct kjs *s, char c, struct kerr_info *err)
{
    if (s->bare == KJS_LIT) {
        if (s->lit[s->lit_pos] != c)
            return kjs_fail(s, err, "bad literal (true, false or null expected)");
        s->lit_pos++;
        return KERR_OK;
    }
    s->bare = kjs_num_step(s->bare, c);
    return s->bare == N_BAD ? kjs_fail(s, err, "malformed number") : KERR_OK;
}

/* A number jansson reads: an integer that fits json_int_t (long long), a
 * real that does not overflow to infinity (its own rules). `t` is the
 * number's well-formed text, `n` bytes, followed by a byte that cannot
 * continue it (where strtoll / strtod stop). */
static bool kjs_num_readable(const char *t, size_t n)
{
    errno = 0;
    if (!memchr(t, '.', n) && !memchr(t, 'e', n) && !memchr(t, 'E', n)) {
        (void)strtoll(t, NULL, 10);
        return errno != ERANGE;
    }
    double v = strtod(t, NULL);
    return !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL));
}

static enum kerr kjs_bare_end(struct kjs *s, struct kerr_info *err)
{
    bool ok = s->bare == KJS_LIT ? s->lit[s->lit_pos] == '\0'
                                 : (s->bare == N_ZERO || s->bare == N_INT || s->bare == N_FRAC ||
                                    s->bare == N_EXP);
    if (!ok)
        return kjs_fail(s, err, "incomplete number or literal");
    const char *num = NULL;
    size_t n = 0;
    if (s->bare == KJS_LIT || s->dropping)
        return KERR_OK;
    if (s->src) { /* followed by the byte that ended it, inside the text */
        num = s->src + s->bare_off;
        n = s->offset - s->bare_off;
    } else if (s->cap != C_NONE) {
        s->buf[s->len] = '\0'; /* the buffer always has room for it */
        num = s->buf + s->bare_off;
        n = s->len - s->bare_off;
    } else {
        return KERR_OK; /* only what is handed out must be readable */
    }
    if (!kjs_num_readable(num, n))
        return kjs_reject(s, err, "number out of range (integer beyond 64 bits or real overflow)");
    return KERR_OK;
}

static enum kerr kjs_open(struct kjs *s, char c, struct kerr_info *err)
{
    enum kjs_role role = R_NONE;
    enum kerr rc = KERR_OK;
    /* KJS_MEMBERS below the top level: nothing to decide (the common case) */
    if (s->mode != KJS_MEMBERS || s->depth <= 1) {
        if ((rc = kjs_begin_value(s, c, &role, err)) != KERR_OK)
            return rc;
        if (s->depth > 0)
            kjs_doc_member_start(s);
    }
    if (s->cap != C_NONE && (rc = kjs_append(s, &c, 1, err)) != KERR_OK)
        return rc;
    if (c == '"') {
        s->in_string = true;
        s->string_is_key = false;
        return KERR_OK;
    }
    if (c != '{' && c != '[') {
        if (!((c >= '0' && c <= '9') || c == '-' || c == 't' || c == 'f' || c == 'n'))
            return kjs_fail(s, err, "unexpected character where a value was expected");
        s->in_bare = true;
        s->bare_off = s->src ? s->offset
                             : s->len - (s->cap != C_NONE && !s->dropping); /* first byte copied */
        kjs_bare_start(s, c);
        return KERR_OK;
    }
    if (s->depth >= KJS_MAX_DEPTH)
        return kjs_fail(s, err, "nesting too deep");
    if (c == '{' && s->depth > 0 && role == R_NONE && s->mode != KJS_MEMBERS)
        role = kjs_inner_role(s);
    s->frames[s->depth].state = (c == '{') ? S_OBJ_FIRST : S_ARR_FIRST;
    s->frames[s->depth].role = (unsigned char)role;
    s->depth++;
    return KERR_OK;
}

static enum kerr kjs_close(struct kjs *s, char c, struct kerr_info *err)
{
    enum kjs_state st = s->frames[s->depth - 1].state;
    bool ok = (c == '}') ? (st == S_OBJ_FIRST || st == S_OBJ_NEXT)
                         : (st == S_ARR_FIRST || st == S_ARR_NEXT);
    if (!ok)
        return kjs_fail(s, err, "unexpected closing bracket");
    enum kerr rc;
    if (s->cap != C_NONE && (rc = kjs_append(s, &c, 1, err)) != KERR_OK)
        return rc;
    if (s->depth == s->drop_depth)
        s->swallow_comma = false;
    s->depth--;
    return kjs_value_done(s, s->offset + 1, err);
}

static enum kerr kjs_key_start(struct kjs *s, struct kerr_info *err)
{
    enum kerr rc;
    if (s->cap != C_NONE && (rc = kjs_append(s, "\"", 1, err)) != KERR_OK)
        return rc;
    s->in_string = true;
    s->string_is_key = true;
    if (s->mode == KJS_MEMBERS && s->depth > 1)
        return KERR_OK; /* no key below the top level is looked at */
    s->collect_key =
        s->cap == C_NONE && ((s->mode == KJS_ITEMS &&
                              (s->depth == 1 || (s->depth == 2 && s->frames[1].role == R_META))) ||
                             (s->mode == KJS_MEMBERS && s->depth == 1));
    s->ikey_collect =
        s->cap == C_ITEM && !s->dropping &&
        ((s->mode == KJS_DOCS && s->depth == s->cap_depth + 1) ||
         (s->drop_key && (kjs_at_obj_top(s) || s->frames[s->depth - 1].role == R_IMETA)));
    s->ikey_len = 0;
    s->ikey_overflow = false;
    s->ikey[0] = '\0';
    if (s->ikey_collect)
        s->key_mark = s->len - 1; /* the opening quote was just copied */
    s->key_len = 0;
    s->key_overflow = false;
    if (s->collect_key)
        s->keys[s->depth == 1 ? 0 : 1][0] = '\0';
    return KERR_OK;
}

/* One structural byte (not inside a string or literal, not whitespace). */
static enum kerr kjs_struct_byte(struct kjs *s, char c, struct kerr_info *err)
{
    if (s->depth == 0) {
        if (s->top_done)
            return kjs_fail(s, err, "data after the end of the object");
        return kjs_open(s, c, err);
    }
    struct kjs_frame *f = &s->frames[s->depth - 1];
    enum kerr rc;
    switch ((enum kjs_state)f->state) {
    case S_OBJ_FIRST:
    case S_OBJ_KEY:
        if (c == '"')
            return kjs_key_start(s, err);
        if (c == '}' && f->state == S_OBJ_FIRST)
            return kjs_close(s, c, err);
        return kjs_fail(s, err, "expected an object key");
    case S_OBJ_COLON:
        if (c != ':')
            return kjs_fail(s, err, "expected ':'");
        f->state = S_OBJ_VALUE;
        break;
    case S_OBJ_VALUE:
    case S_ARR_VALUE:
        return kjs_open(s, c, err);
    case S_ARR_FIRST:
        return c == ']' ? kjs_close(s, c, err) : kjs_open(s, c, err);
    case S_OBJ_NEXT:
    case S_ARR_NEXT:
        if (c == '}' || c == ']')
            return kjs_close(s, c, err);
        if (c != ',')
            return kjs_fail(s, err, "expected ',' or a closing bracket");
        f->state = (f->state == S_OBJ_NEXT) ? S_OBJ_KEY : S_ARR_VALUE;
        if (s->swallow_comma && s->depth == s->drop_depth) {
            s->swallow_comma = false; /* the member before it was dropped */
            return KERR_OK;
        }
        break;
    }
    if (s->cap != C_NONE && (rc = kjs_append(s, &c, 1, err)) != KERR_OK)
        return rc;
    return KERR_OK;
}

/* An item key just ended: start dropping when it is the dropped member of
 * the item's metadata (cut the key and the ',' before it, if any). */
static void kjs_key_done(struct kjs *s)
{
    bool drop = s->ikey_collect && !s->ikey_overflow && s->drop_key &&
                s->frames[s->depth - 1].role == R_IMETA && strcmp(s->ikey, s->drop_key) == 0;
    s->ikey_collect = false;
    if (!drop)
        return;
    s->swallow_comma = s->buf[s->key_mark - 1] != ',';
    s->len = s->swallow_comma ? s->key_mark : s->key_mark - 1;
    s->buf[s->len] = '\0';
    s->dropping = true;
    s->drop_depth = s->depth;
}

/* A UTF-8 lead byte >= 0x80: how many continuation bytes follow and the
 * range of the first one (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF). False when `b` cannot start a character. */
static bool kjs_utf8_lead(struct kjs *s, unsigned char b)
{
    s->u8_lo = 0x80;
    s->u8_hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF)
        s->u8_need = 1;
    else if (b >= 0xE0 && b <= 0xEF)
        s->u8_need = 2;
    else if (b >= 0xF0 && b <= 0xF4)
        s->u8_need = 3;
    else
        return false;
    if (b == 0xE0)
        s->u8_lo = 0xA0;
    else if (b == 0xED)
        s->u8_hi = 0x9F;
    else if (b == 0xF0)
        s->u8_lo = 0x90;
    else if (b == 0xF4)
        s->u8_hi = 0x8F;
    return true;
}

/* Printable ASCII that a string holds as it is (not a quote or backslash). */
static inline bool kjs_plain_byte(unsigned char b)
{
    return (unsigned char)(b - 0x20) < 0x60 && b != '"' && b != '\\';
}

/* Eight bytes at p, all kjs_plain_byte: no byte has its high bit set, is
 * below 0x20, or is a quote or a backslash (the "has a byte less than"
 * and "has a zero byte" word tricks, exact as a yes/no answer). */
static inline bool kjs_plain8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t x, q, b;
    memcpy(&x, p, sizeof x);
    q = x ^ (ones * '"');
    b = x ^ (ones * '\\');
    return ((x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high) == 0;
}

/* The length of the run of ordinary string bytes at p (checked UTF-8, no
 * quote, backslash or control character); *bad when a byte is not UTF-8.
 * Printable ASCII, nearly all of what an API server sends, takes the
 * short loops (eight bytes at a time, then one). */
static size_t kjs_text_run(struct kjs *s, const unsigned char *p, size_t n, bool *bad)
{
    size_t i = 0;
    *bad = false;
    for (;;) {
        for (; s->u8_need && i < n; i++, s->u8_need--) {
            if (p[i] < s->u8_lo || p[i] > s->u8_hi) {
                *bad = true;
                return i;
            }
            s->u8_lo = 0x80;
            s->u8_hi = 0xBF;
        }
        while (i + 8 <= n && kjs_plain8(p + i))
            i += 8;
        while (i < n && kjs_plain_byte(p[i]))
            i++;
        if (i >= n || p[i] < 0x80)
            return i; /* the end, or a quote, backslash or control character */
        if (!kjs_utf8_lead(s, p[i])) {
            *bad = true;
            return i;
        }
        i++;
    }
}

/* The last hex digit of a \\u escape: UTF-16 surrogates must pair up (a
 * high one, then at once a \\u escape of a low one), as jansson wants. */
static bool kjs_u_done(struct kjs *s)
{
    bool high = s->uval >= 0xD800 && s->uval <= 0xDBFF;
    bool low = s->uval >= 0xDC00 && s->uval <= 0xDFFF;
    if (s->u_high != low)
        return false;
    s->u_high = high;
    return true;
}

/* The byte after a backslash, or a hex digit of a \\u escape. */
static enum kerr kjs_escape_byte(struct kjs *s, char e, struct kerr_info *err)
{
    bool hex = (e >= '0' && e <= '9') || (e >= 'a' && e <= 'f') || (e >= 'A' && e <= 'F');
    if (s->uhex ? !hex : !strchr("\"\\/bfnrtu", e) || e == '\0')
        return kjs_fail(s, err, s->uhex ? "bad \\u escape" : "bad escape in a string");
    if (s->uhex) {
        s->uval = s->uval * 16 + (unsigned)(e <= '9' ? e - '0' : (e | 0x20) - 'a' + 10);
        if (--s->uhex == 0 && !kjs_u_done(s))
            return kjs_reject(s, err, "unpaired UTF-16 surrogate escape in a string");
        if (s->uhex == 0 && s->uval == 0 && s->string_is_key)
            return kjs_reject(s, err, "\\u0000 in an object key (jansson refuses it)");
    } else if (e == 'u') {
        s->uhex = 4;
        s->uval = 0;
    } else if (s->u_high) {
        return kjs_reject(s, err, "unpaired UTF-16 surrogate escape in a string");
    }
    s->escape = false;
    return KERR_OK;
}

/* Inside a string: the run of ordinary bytes (or the single byte that ends
 * it: quote, backslash, escape character); returns how many bytes of `p`
 * were consumed. */
static size_t kjs_string_bytes(struct kjs *s, const char *p, size_t n, enum kerr *rc,
                               struct kerr_info *err)
{
    bool bad = false;
    size_t i;
    if (s->escape || s->uhex) {
        *rc = kjs_escape_byte(s, p[0], err);
        return *rc == KERR_OK ? 1 : 0;
    }
    if (s->u_high && p[0] != '\\') {
        *rc = kjs_reject(s, err, "unpaired UTF-16 surrogate escape in a string");
        return 0;
    }
    i = kjs_text_run(s, (const unsigned char *)p, n, &bad);
    if (bad) {
        *rc = kjs_reject(s, err, "invalid UTF-8 in a string");
        return 0;
    }
    if (i > 0 && i < n && p[i] == '"' && !s->u8_need) {
        s->in_string = false; /* the run and the closing quote at once */
        return i + 1;
    }
    if (i > 0)
        return i;
    if ((unsigned char)p[0] < 0x20) {
        *rc = kjs_fail(s, err, "control character in a string");
        return 0;
    }
    if (p[0] == '\\')
        s->escape = true;
    else
        s->in_string = false;
    return 1;
}

/* Inside a string: copy the run of ordinary bytes at once; returns how many
 * bytes of `p` were consumed. */
static size_t kjs_string_run(struct kjs *s, const char *p, size_t n, enum kerr *rc,
                             struct kerr_info *err)
{
    size_t i = kjs_string_bytes(s, p, n, rc, err);
    if (*rc != KERR_OK)
        return 0;
    if (s->cap != C_NONE && (*rc = kjs_append(s, p, i, err)) != KERR_OK)
        return 0;
    kjs_key_append(s, p, s->in_string ? i : i - 1);
    if (!s->in_string) {
        if (s->string_is_key) {
            s->frames[s->depth - 1].state = S_OBJ_COLON;
            s->collect_key = false;
            kjs_key_done(s);
        } else {
            *rc = kjs_value_done(s, s->offset + i, err);
        }
    }
    return i;
}

static bool kjs_is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

size_t kjs_skip_ws(const char *text, size_t i, size_t len)
{
    while (i < len && kjs_is_ws(text[i]))
        i++;
    return i;
}

static bool kjs_is_bare(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' ||
           c == '-' || c == '.';
}

enum kerr kjs_feed(struct kjs *s, const char *buf, size_t n, struct kerr_info *err)
{
    if (s->failed)
        return kerr_set(err, KERR_PARSE, 0, "MalformedJSON", "JSON stream already failed");
    size_t i = 0;
    enum kerr rc = KERR_OK;
    while (i < n && rc == KERR_OK) {
        char c = buf[i];
        if (s->in_string) {
            size_t used = kjs_string_run(s, buf + i, n - i, &rc, err);
            i += used;
            s->offset += used;
            continue;
        }
        if (s->in_bare) {
            if (kjs_is_bare(c)) {
                rc = kjs_bare_byte(s, c, err);
                if (rc == KERR_OK && s->cap != C_NONE)
                    rc = kjs_append(s, &c, 1, err);
                i++;
                s->offset++;
                continue;
            }
            s->in_bare = false;
            if ((rc = kjs_bare_end(s, err)) != KERR_OK ||
                (rc = kjs_value_done(s, s->offset, err)) != KERR_OK)
                break;
        }
        if (!kjs_is_ws(c))
            rc = kjs_struct_byte(s, c, err);
        i++;
        s->offset++;
    }
    return rc;
}

enum kerr kjs_finish(struct kjs *s, struct kerr_info *err)
{
    if (s->failed)
        return kerr_set(err, KERR_PARSE, 0, "MalformedJSON", "JSON stream already failed");
    if (s->in_bare && s->depth == 0) {
        s->in_bare = false;
        enum kerr rc = kjs_bare_end(s, err);
        if (rc == KERR_OK)
            rc = kjs_value_done(s, s->offset, err);
        if (rc != KERR_OK)
            return rc;
    }
    bool complete =
        !s->in_string && !s->in_bare && s->depth == 0 && (s->mode == KJS_DOCS || s->top_done);
    if (!complete) {
        s->failed = true;
        return kerr_set(err, KERR_PARSE, 0, "Truncated",
                        "JSON truncated after %zu bytes (%zu complete values)", s->offset,
                        s->count);
    }
    return KERR_OK;
}

enum kerr kjs_object_members(const char *text, size_t len, const char *const *keys, size_t nkeys,
                             struct kjs_span *spans, struct kerr_info *err)
{
    struct kjs s;
    memset(&s, 0, sizeof s); /* nothing is captured: no buffer, no limit reached */
    s.mode = KJS_MEMBERS;
    s.max_value = KJS_DEFAULT_MAX_VALUE;
    s.src = text;
    s.mkeys = keys;
    s.nmkeys = nkeys;
    s.mspans = spans;
    memset(spans, 0, nkeys * sizeof *spans);
    enum kerr rc = kjs_feed(&s, text, len, err);
    if (rc == KERR_OK)
        rc = kjs_finish(&s, err);
    if (rc != KERR_OK)
        memset(spans, 0, nkeys * sizeof *spans);
    return rc;
}
