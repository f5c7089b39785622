/*
 * kyaml: load a YAML document (libyaml) into a jansson tree, so the rest of
 * the code reads kubeconfigs and config files with the same json_* calls it
 * uses for API objects.
 *
 * Mappings become objects (keys must be scalars; duplicate keys are an
 * error), sequences become arrays. Scalars are strings unless KYAML_TYPED
 * is given, in which case plain (unquoted, untagged) scalars are resolved
 * with the YAML 1.2 core schema: null/~/empty -> null, true/false -> bool,
 * integers -> integer, floats -> real. Anchors and aliases are expanded,
 * with a cap on the total number of values produced (alias bombs) and on
 * nesting depth. Only the first document of a stream is read.
 *
 * Ownership: `*out` is a new reference owned by the caller, set only on
 * KERR_OK. Error messages carry line and column (1-based).
 */
#ifndef GRACE_KYAML_H
#define GRACE_KYAML_H

#include <jansson.h>
#include <stddef.h>

#include "kerr.h"

#define KYAML_TYPED 1u             /* resolve plain scalars to null/bool/number */
#define KYAML_MAX_FILE (16u << 20) /* files larger than this are refused */
#define KYAML_MAX_NODES 1000000u   /* values produced, aliases expanded */
/* Values produced by expanding aliases (beyond the document's own nodes):
 * a document of anchors nested in anchors ("billion laughs") is refused
 * after this much work, long before it costs memory. A kubeconfig (the
 * only user) has no reason for more. */
#define KYAML_MAX_ALIAS_NODES 10000u
#define KYAML_MAX_DEPTH 256u

/* Parse `len` bytes of YAML text (all strings). KERR_PARSE on bad YAML or
 * an empty stream. */
enum kerr kyaml_load_string(const char *text, size_t len, json_t **out, struct kerr_info *err);

/* Same with flags (KYAML_TYPED). */
enum kerr kyaml_load_string_ex(const char *text, size_t len, unsigned flags, json_t **out,
                               struct kerr_info *err);

/* Read and parse a file (all strings). KERR_IO when it cannot be read,
 * KERR_PARSE when it is not YAML; messages start with the path. */
enum kerr kyaml_load_file(const char *path, json_t **out, struct kerr_info *err);

/* Read a whole file into a NUL-terminated malloc'd buffer (at most `max`
 * bytes, else KERR_IO "too large"). `*len` may be NULL. Owned by caller. */
enum kerr kyaml_read_file(const char *path, size_t max, char **out, size_t *len,
                          struct kerr_info *err);

#endif
