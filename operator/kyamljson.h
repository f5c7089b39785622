/*
 * kyamljson: YAML (libyaml) to jansson, for manifests and the operator
 * configuration file. A stream may hold several documents (`---`); the
 * result is always a JSON array with one element per non-empty document.
 *
 * Scalars are typed by the YAML 1.2 core schema: plain `null`/`~`/empty is
 * null, `true`/`false` (and their Capitalised/UPPER forms) are booleans,
 * decimal, 0o octal and 0x hex integers are integers (int64; out of range is
 * an error), decimal floats are reals; everything else, and every quoted or
 * block scalar, is a string. YAML 1.1 words such as `yes`/`on` are strings.
 * Explicit tags !!str !!int !!float !!bool !!null !!map !!seq are honoured;
 * other tags are an error. `.inf`/`.nan` are an error (JSON has no such value).
 *
 * Anchors and aliases are resolved (the alias becomes a deep copy), bounded by
 * a total node budget and a smaller one for what aliases add, so an "alias
 * bomb" is an error after little work, not an OOM. `<<` merge
 * keys are applied (explicit keys win). Duplicate mapping keys and
 * non-scalar keys are errors. Nesting deeper than 128 levels is an error.
 *
 * Errors are KERR_PARSE with "NAME:LINE:COL: problem" in err->message, NAME
 * being the file path or "<string>"; LINE and COL are 1-based.
 */
#ifndef GRACE_KYAMLJSON_H
#define GRACE_KYAMLJSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "kerr.h"

/* Most nodes a stream may produce, aliases expanded. */
#define KYAMLJSON_MAX_NODES 1000000
/* Most nodes aliases may add (each alias is charged the size of what it
 * copies, before the copy): a "billion laughs" document is refused after
 * this much work, long before it costs memory. */
#define KYAMLJSON_MAX_ALIAS_NODES 100000
/* Deepest nesting of mappings and sequences. */
#define KYAMLJSON_MAX_DEPTH 128

/*
 * Parse the YAML file at `path`. On success *docs_out is a new JSON array
 * (owned by the caller, json_decref) of the documents, empty documents
 * skipped. KERR_IO when the file cannot be read (message names the path),
 * KERR_PARSE for malformed or unsupported YAML. *docs_out is untouched on
 * failure.
 */
enum kerr kyamljson_load_file(const char *path, json_t **docs_out, struct kerr_info *err);

/* Same as kyamljson_load_file for `len` bytes at `buf` (need not be
 * NUL-terminated); messages name "<string>". */
enum kerr kyamljson_load_string(const char *buf, size_t len, json_t **docs_out,
                                struct kerr_info *err);

/* Same with `name` used in error messages instead of "<string>". */
enum kerr kyamljson_load_named(const char *buf, size_t len, const char *name, json_t **docs_out,
                               struct kerr_info *err);

/*
 * Write each element of the JSON array `docs` to `out` as one YAML document
 * ("---" before each), block style, object keys sorted. Strings that YAML
 * 1.2 core or YAML 1.1 (kubectl) would read as something else ("true",
 * "1", "yes", "null", "") are quoted, so the text loads back to the same
 * JSON. KERR_IO when writing fails.
 */
enum kerr kyamljson_emit(FILE *out, const json_t *docs, struct kerr_info *err);

#endif
