/*
 * kyaml: the one YAML loader (libyaml's event parser to a jansson tree), so
 * the rest of the code reads kubeconfigs, the operator's configuration file
 * and manifests with the same json_* calls it uses for API objects; and the
 * YAML emitter that writes JSON documents back (kyaml_emit.c).
 *
 * Options (struct kyaml_opts, flags):
 *  - scalars: all strings (the default: kubeconfigs, whose values are read
 *    as text; tags are ignored), or KYAML_TYPED, the YAML 1.2 core schema:
 *    plain `null`/`~`/empty is null, `true`/`false` (and their Capitalised /
 *    UPPER forms) are booleans, decimal, 0o octal and 0x hex integers are
 *    integers (int64; out of range is an error), decimal floats are reals;
 *    everything else, and every quoted or block scalar, is a string. YAML 1.1
 *    words such as `yes`/`on` are strings. Explicit tags !!str !!int !!float
 *    !!bool !!null !!map !!seq are honoured; other tags are an error.
 *    `.inf`/`.nan` are an error (JSON has no such value).
 *  - documents: the first document only (the default; the result is its
 *    root value, and a stream without a document is an error "empty YAML
 *    document"), or KYAML_ALL_DOCS: the result is always a JSON array with
 *    one element per non-empty document (`---`); an empty stream is [].
 *
 * In every mode: mappings become objects, sequences arrays. Anchors and
 * aliases are resolved (the alias becomes a deep copy), bounded by a total
 * node budget and a smaller one for what aliases add (each alias is
 * charged the size of what it copies, before the copy), so an "alias bomb"
 * is an error after little work, not an OOM. `<<` merge keys are applied
 * (explicit keys win). Duplicate mapping keys, non-scalar keys and aliases
 * as keys are errors. Nesting deeper than KYAML_MAX_DEPTH is an error.
 *
 * Errors are KERR_PARSE (reason "YAMLError") with "NAME:LINE:COL: problem"
 * in err->message, NAME being opts->name (the file path for
 * kyaml_load_file) or "<string>"; LINE and COL are 1-based.
 *
 * Ownership: `*out` is a new reference owned by the caller (json_decref)
 * on KERR_OK, NULL otherwise.
 */
#ifndef GRACE_KYAML_H
#define GRACE_KYAML_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "kerr.h"

#define KYAML_TYPED 1u    /* YAML 1.2 core schema typing, tags honoured */
#define KYAML_ALL_DOCS 2u /* every document, as a JSON array */
/* Manifests and the operator's configuration file. */
#define KYAML_MANIFESTS (KYAML_TYPED | KYAML_ALL_DOCS)

#define KYAML_MAX_FILE ((size_t)64 << 20) /* kyaml_load_file refuses larger files */
#define KYAML_MAX_NODES 1000000u          /* values produced, aliases expanded */
/* Values aliases may add: a "billion laughs" document is refused after
 * this much work, long before it costs memory. The default; a caller with
 * no reason for more (a kubeconfig) passes KYAML_SMALL_ALIAS_NODES. */
#define KYAML_MAX_ALIAS_NODES 100000u
#define KYAML_SMALL_ALIAS_NODES 10000u
#define KYAML_MAX_DEPTH 128 /* deepest nesting of mappings and sequences */

struct kyaml_opts {
    unsigned flags;         /* KYAML_TYPED, KYAML_ALL_DOCS; 0: strings, first document */
    const char *name;       /* NAME in messages; NULL: "<string>" */
    size_t max_alias_nodes; /* 0: KYAML_MAX_ALIAS_NODES */
};

/* Parse `len` bytes of YAML at `text` (need not be NUL-terminated).
 * `opts` NULL: all zero. KERR_PARSE on malformed or unsupported YAML. */
enum kerr kyaml_load(const char *text, size_t len, const struct kyaml_opts *opts, json_t **out,
                     struct kerr_info *err);

/* Read (at most KYAML_MAX_FILE bytes) and parse the file at `path`, which
 * names it in messages (opts->name is not used). KERR_IO when it cannot be
 * read (the message starts with the path), else as kyaml_load. */
enum kerr kyaml_load_file(const char *path, const struct kyaml_opts *opts, json_t **out,
                          struct kerr_info *err);

/* Read a whole file into a NUL-terminated malloc'd buffer (at most `max`
 * bytes, else KERR_IO "larger than"). `*len` may be NULL. Owned by caller;
 * *out is NULL on failure. */
enum kerr kyaml_read_file(const char *path, size_t max, char **out, size_t *len,
                          struct kerr_info *err);

/*
 * Write each element of the JSON array `docs` to `out` as one YAML document
 * ("---" before each), block style, object keys sorted. Strings that YAML
 * 1.2 core or YAML 1.1 (kubectl) would read as something else ("true",
 * "1", "yes", "null", "") are quoted, so the text loads back (KYAML_MANIFESTS)
 * to the same JSON. KERR_INVAL when `docs` is no array, KERR_IO when writing
 * fails.
 */
enum kerr kyaml_emit(FILE *out, const json_t *docs, struct kerr_info *err);

/* Internal (for kyaml_emit.c): would the plain scalar `s` load as the
 * string `s` under KYAML_TYPED (not null, a boolean, a number, or an
 * error)? */
bool kyaml__plain_is_string(const char *s);

#endif
