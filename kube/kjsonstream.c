/*
 * kjsonstream: incremental JSON splitter (see kjsonstream.h).
 *
 * A byte-at-a-time state machine over the JSON grammar's structure: a stack
 * of frames (object or array, each with its position: expecting a key, a
 * colon, a value, a comma...), plus the token state (inside a string, after
 * a backslash, inside a bare literal such as a number or `true`), whose
 * rules (UTF-8, escapes, surrogates, the number grammar and range) are
 * kjsontoken's. It never decodes values itself; it copies the minified text
 * of the values it is asked for into one growable buffer (capped) and
 * hands that text out, and it knows the roles of the values it splits
 * (items, list metadata, a watch event's "type" and "object", the member
 * it drops). Scalars handed to the `field` callback are decoded with
 * jansson.
 *
 * Memory: one buffer as large as the largest handed-out value, plus the
 * fixed frame stack.
 *
 * The same machine finds the top-level members of one complete object text
 * (kjs_object_members, kjs_split_members, for kobj): fed the whole text in
 * an internal third mode that copies nothing and records where the values
 * of the wanted keys start and end in the text. For a text a splitter
 * handed out (kjs_split_members) the values of the members are skimmed
 * (brackets and string quotes only): the splitter checked every byte of
 * them already. So JSON's lexical rules live in these two files only.
 */
#include "kjsonstream.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kjsontoken.h"

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

    bool in_string, in_bare, string_is_key;
    struct kjt tok;            /* inside a string or scalar (kjsontoken) */
    size_t bare_off;           /* where the scalar starts in buf (when copied), or in src */
    bool collect_key;          /* copying the current key into keys[] */
    char keys[2][KJS_KEY_MAX]; /* current key at depth 1 and in "metadata" */
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
    const char *src;     /* the whole text, fed at once: numbers are checked in place */
    bool checked;        /* the text passed a splitter: member values are skimmed */
    bool skim, skim_str; /* skimming a member's object or array; inside a string */
    size_t skim_depth;   /* brackets open inside it */
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
    s->in_string = s->in_bare = s->string_is_key = false;
    memset(&s->tok, 0, sizeof s->tok);
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
    s->skim = s->skim_str = false;
    s->skim_depth = 0;
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

/* ---- scalars, checked as they stream (the stored text of an item is
 * never re-parsed whole, so a malformed value must be caught here) ---- */

/* A token broke a rule of kjsontoken: malformed JSON or unreadable text. */
static enum kerr kjs_token_error(struct kjs *s, enum kjt_verdict v, const char *why,
                                 struct kerr_info *err)
{
    return v == KJT_UNREADABLE ? kjs_reject(s, err, why) : kjs_fail(s, err, why);
}

static enum kerr kjs_bare_end(struct kjs *s, struct kerr_info *err)
{
    if (!kjt_bare_complete(&s->tok))
        return kjs_fail(s, err, "incomplete number or literal");
    const char *num = NULL;
    size_t n = 0;
    if (kjt_bare_is_literal(&s->tok) || s->dropping)
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
    if (!kjt_num_readable(num, n))
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
        kjt_bare_start(&s->tok, c);
        return KERR_OK;
    }
    if (s->depth >= KJS_MAX_DEPTH)
        return kjs_fail(s, err, "nesting too deep");
    if (c == '{' && s->depth > 0 && role == R_NONE && s->mode != KJS_MEMBERS)
        role = kjs_inner_role(s);
    s->frames[s->depth].state = (c == '{') ? S_OBJ_FIRST : S_ARR_FIRST;
    s->frames[s->depth].role = (unsigned char)role;
    s->depth++;
    s->skim = s->checked && s->depth == 2; /* a top-level member's value */
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

/* Inside a string: copy the run of ordinary bytes at once; returns how many
 * bytes of `p` were consumed. */
static size_t kjs_string_run(struct kjs *s, const char *p, size_t n, enum kerr *rc,
                             struct kerr_info *err)
{
    bool closed = false;
    enum kjt_verdict v;
    const char *why = NULL;
    size_t i = kjt_string_bytes(&s->tok, p, n, s->string_is_key, &closed, &v, &why);
    if (v != KJT_OK) {
        *rc = kjs_token_error(s, v, why, err);
        return 0;
    }
    s->in_string = !closed;
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

/* Checked text (kjs_split_members), inside an object or array that is the
 * value of a top-level member: its bytes are passed over by brackets and
 * string quotes alone, up to the bracket that closes it, which is left
 * for the machine (it checks that the bracket matches). Returns how many
 * bytes of `p` were passed over. */
static size_t kjs_skim(struct kjs *s, const char *p, size_t n)
{
    size_t i = 0, depth = s->skim_depth; /* kept in registers in the loop */
    bool in_str = s->skim_str;
    while (i < n) {
        if (in_str) {
            bool closed = false;
            i += kjt_string_skim(&s->tok, p + i, n - i, &closed);
            in_str = !closed;
            continue;
        }
        char c = p[i];
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && depth-- == 0) {
            depth = 0;
            s->skim = false;
            break;
        }
        i++;
    }
    s->skim_depth = depth;
    s->skim_str = in_str;
    return i;
}

size_t kjs_skip_ws(const char *text, size_t i, size_t len)
{
    while (i < len && kjt_is_ws(text[i]))
        i++;
    return i;
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
        if (s->skim) {
            size_t used = kjs_skim(s, buf + i, n - i);
            i += used;
            s->offset += used;
            continue;
        }
        if (s->in_bare) {
            if (kjt_is_bare(c)) {
                const char *why = NULL;
                enum kjt_verdict v = kjt_bare_byte(&s->tok, c, &why);
                if (v != KJT_OK)
                    rc = kjs_token_error(s, v, why, err);
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
        if (!kjt_is_ws(c))
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

/* Both member finders: the machine over the whole text in KJS_MEMBERS. */
static enum kerr kjs_members(const char *text, size_t len, bool checked, const char *const *keys,
                             size_t nkeys, struct kjs_span *spans, struct kerr_info *err)
{
    struct kjs s;
    memset(&s, 0, sizeof s); /* nothing is captured: no buffer, no limit reached */
    s.mode = KJS_MEMBERS;
    s.max_value = KJS_DEFAULT_MAX_VALUE;
    s.src = text;
    s.checked = checked;
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

enum kerr kjs_object_members(const char *text, size_t len, const char *const *keys, size_t nkeys,
                             struct kjs_span *spans, struct kerr_info *err)
{
    return kjs_members(text, len, false, keys, nkeys, spans, err);
}

enum kerr kjs_split_members(const char *text, size_t len, const char *const *keys, size_t nkeys,
                            struct kjs_span *spans, struct kerr_info *err)
{
    return kjs_members(text, len, true, keys, nkeys, spans, err);
}
