/*
 * kobjmeta: what kobj keeps of an object's metadata, read straight from a
 * checked text without building a tree (internal to kobj: no other module
 * includes this header).
 *
 * An informer stores every list item and watch event it receives; parsing
 * each one's metadata with jansson (an object hash table per object, a
 * string per value) was a fifth of the operator's CPU during a cold start.
 * The objects an API server sends have one plain shape: string values
 * without escapes, labels a flat object of strings, ownerReferences an
 * array of objects. kobjmeta_read reads that shape in one pass over the
 * metadata text and points into it. Anything else (an escape in a value it
 * keeps, a value of another type, more labels or owners than it has room
 * for, managedFields still present) makes it decline, and the caller reads
 * the text with jansson as before, so what a kobj holds never depends on
 * which path read it (fuzz_kobj compares the two).
 *
 * The text must be one JSON object that a kjsonstream splitter checked
 * (kjs_split_members): the reader relies on its strings being terminated
 * and its brackets balanced, yet never reads outside text[0..len) whatever
 * it is given.
 */
#ifndef GRACE_KOBJMETA_H
#define GRACE_KOBJMETA_H

#include <stdbool.h>
#include <stddef.h>

/* A string inside the text: p[0..n), not NUL-terminated, no escapes. */
struct kobjmeta_str {
    const char *p;
    size_t n;
};

#define KOBJMETA_MAX_LABELS 32
#define KOBJMETA_MAX_OWNERS 8

/* The fields a kobj copies; strings absent from the text are {"", 0}. */
struct kobjmeta {
    struct kobjmeta_str ns, name, uid, rv;
    bool has_name;        /* metadata.name is a string */
    long long generation; /* 0 when absent */
    bool deleting;        /* deletionTimestamp present and not null */
    size_t nlabels;
    const struct kobjmeta_str *labels; /* nlabels key, value pairs */
    size_t nowners;
    const struct kobjmeta_str *owners; /* nowners uids */
    int controller_idx;                /* first owner with controller: true, -1 none */
};

/* Room for kobjmeta_read's labels and owners. */
struct kobjmeta_buf {
    struct kobjmeta_str labels[2 * KOBJMETA_MAX_LABELS];
    struct kobjmeta_str owners[KOBJMETA_MAX_OWNERS];
};

/* Read the metadata object text[0..len) into *m, its label and owner
 * arrays in *buf. False when it has a shape this reader leaves to jansson
 * (see above); *m is then undefined. */
bool kobjmeta_read(const char *text, size_t len, struct kobjmeta_buf *buf, struct kobjmeta *m);

/* A top-level string member's value span (a quoted JSON string) as a
 * kobjmeta_str: false when it is not a string or holds an escape. */
bool kobjmeta_string(const char *text, size_t len, struct kobjmeta_str *out);

#endif
