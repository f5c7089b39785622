/*
 * fuzz_kjsonstream: the watch/list stream splitter (kjsonstream).
 *
 * Input: byte 0 picks the mode (bit 0: KJS_ITEMS or KJS_DOCS) and whether
 * managedFields is dropped (bit 1); the rest is the body.
 *
 * Invariants:
 *  - the body fed whole and the same body fed in chunks (cut at points
 *    derived from the input) give the same outcome: the same result code,
 *    the same items and fields in the same order;
 *  - every value handed to `item` is JSON that jansson reads back (what the
 *    cache stores must be readable), NUL-terminated, and its KJS_DOCS spans
 *    ("type", "object") lie inside it and are JSON values themselves;
 *  - kjs_object_members (kobj's scanner) accepts every object handed to
 *    `item`, and whatever text it accepts (the body itself too) jansson
 *    reads, with each span the member jansson finds (absent: len 0);
 *  - kjs_split_members (the same for a text a splitter handed out) gives
 *    the same spans for every object handed to `item`; over any text (the
 *    body too) its spans lie inside the text.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "kjsonstream.h"

#define H "kjsonstream"

struct run {
    struct kjs *s;
    json_t *log; /* ["i", text] and ["f", path, value] in order */
};

static void check_span(const char *text, size_t len, struct kjs_span sp, const char *what)
{
    if (sp.len == 0)
        return;
    if (sp.off + sp.len > len)
        fz_fail(H, "%s span %zu+%zu outside the %zu-byte value", what, sp.off, sp.len, len);
    json_t *v = json_loadb(text + sp.off, sp.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!v)
        fz_fail(H, "%s span is not a JSON value", what);
    json_decref(v);
}

/* kjs_split_members over `text`: spans inside it; when `want` (the spans
 * kjs_object_members found in a text the splitter handed out), the same. */
static void check_split_members(const char *text, size_t len, const struct kjs_span *want)
{
    static const char *const keys[] = {"metadata", "kind", "apiVersion", "type", "object"};
    struct kjs_span sp[5];
    enum kerr rc = kjs_split_members(text, len, keys, 5, sp, NULL);
    for (size_t k = 0; k < 5; k++) {
        if (sp[k].len && (sp[k].off >= len || sp[k].len > len - sp[k].off))
            fz_fail(H, "kjs_split_members: span %zu+%zu outside %zu bytes", sp[k].off, sp[k].len,
                    len);
        if (want && (rc != KERR_OK || sp[k].off != want[k].off || sp[k].len != want[k].len))
            fz_fail(H, "kjs_split_members: member %s differs from kjs_object_members'", keys[k]);
    }
}

/* kjs_object_members over `text` agrees with jansson; `must` when the
 * text is an object the splitter handed out (so it has to be accepted). */
static void check_members(const char *text, size_t len, bool must)
{
    static const char *const keys[] = {"metadata", "kind", "apiVersion", "type", "object"};
    struct kjs_span sp[5];
    check_split_members(text, len, NULL);
    if (kjs_object_members(text, len, keys, 5, sp, NULL) != KERR_OK) {
        if (must)
            fz_fail(H, "kjs_object_members refuses an object the splitter handed out: %.200s",
                    text);
        return;
    }
    json_error_t jerr;
    json_t *obj = json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
    if (!json_is_object(obj))
        fz_fail(H, "kjs_object_members accepts what jansson does not read as an object: %s",
                jerr.text);
    for (size_t k = 0; k < 5; k++) {
        const json_t *want = json_object_get(obj, keys[k]);
        json_t *got = sp[k].len ? json_loadb(text + sp[k].off, sp[k].len,
                                             JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
                                : NULL;
        if (!want != !got || (want && !json_equal((json_t *)want, got)))
            fz_fail(H, "kjs_object_members: member %s differs from jansson's", keys[k]);
        json_decref(got);
    }
    json_decref(obj);
    if (must)
        check_split_members(text, len, sp);
}

static int on_item(void *ctx, const char *text, size_t len)
{
    struct run *r = ctx;
    json_error_t jerr;
    if (strlen(text) > len || text[len] != '\0')
        fz_fail(H, "item text not NUL-terminated at its length");
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v)
        fz_fail(H, "item handed out is not readable JSON: %s: %.200s", jerr.text, text);
    json_decref(v);
    struct kjs_span t, o;
    kjs_doc_event(r->s, &t, &o);
    check_span(text, len, t, "type");
    check_span(text, len, o, "object");
    check_members(text, len, text[0] == '{');
    json_array_append_new(r->log, json_pack("[s, s%]", "i", text, len));
    return 0;
}

static int on_field(void *ctx, const char *path, const char *value)
{
    struct run *r = ctx;
    json_array_append_new(r->log, json_pack("[s, s, s?]", "f", path, value));
    return 0;
}

/* Feed the body whole or in pieces of 1..64 bytes. Returns the log. */
static json_t *feed(unsigned mode, const uint8_t *body, size_t n, struct fz_rng *rng, bool chunked,
                    enum kerr *rc)
{
    struct kjs_callbacks cb = {on_item, on_field};
    struct run r = {NULL, json_array()};
    r.s = kjs_new((mode & 1) ? KJS_DOCS : KJS_ITEMS, "items", 1 << 16, &cb, &r);
    if (mode & 2)
        kjs_drop_meta_key(r.s, "managedFields");
    size_t off = 0;
    *rc = KERR_OK;
    while (off < n && *rc == KERR_OK) {
        size_t take = chunked ? 1 + fz_rng_below(rng, (n - off) < 64 ? (n - off) : 64) : n - off;
        *rc = kjs_feed(r.s, (const char *)body + off, take, NULL);
        off += take;
    }
    if (*rc == KERR_OK)
        *rc = kjs_finish(r.s, NULL);
    kjs_free(r.s);
    return r.log;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    struct fz_rng rng;
    fz_rng_seed(&rng, data, size);
    enum kerr whole_rc, chunk_rc;
    json_t *whole = feed(mode, data + 1, size - 1, &rng, false, &whole_rc);
    json_t *parts = feed(mode, data + 1, size - 1, &rng, true, &chunk_rc);
    if (whole_rc != chunk_rc)
        fz_fail(H, "whole body gives %d, chunked gives %d", (int)whole_rc, (int)chunk_rc);
    if (!json_equal(whole, parts)) {
        char *a = fz_dump(H, whole), *b = fz_dump(H, parts);
        fz_fail(H, "whole and chunked differ:\n%.500s\n%.500s", a, b);
    }
    json_decref(whole);
    json_decref(parts);
    check_members((const char *)data + 1, size - 1, false);
    return 0;
}
