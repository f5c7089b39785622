/*
 * kb64: base64 (RFC 4648, standard alphabet, padded) on OpenSSL's EVP
 * encoder and decoder: the one place that encodes admission patches and the
 * directory's ConfigMap binaryData, and decodes kubeconfig `*-data` fields
 * and Secret values.
 *
 * Decoding comes in two strictnesses: KB64_NEWLINES accepts what PEM-style
 * tools write (line breaks and surrounding whitespace, EVP_Decode*),
 * otherwise the text must be whole 4-character groups (EVP_DecodeBlock: a
 * Kubernetes Secret's data). KB64_NO_NUL also refuses a result holding a
 * NUL byte (its C string would be another value than the encoded one).
 *
 * Ownership: results are malloc'd, NUL-terminated (one byte past the
 * length) and owned by the caller (free). On failure nothing is returned
 * and what was decoded so far is cleansed first (Secret material).
 */
#ifndef GRACE_KB64_H
#define GRACE_KB64_H

#include <stddef.h>

#include "kerr.h"

#define KB64_NEWLINES 1u /* line breaks and surrounding whitespace allowed */
#define KB64_NO_NUL 2u   /* a result holding a NUL byte is refused */

/* Encode `len` bytes at `data`: one line, padded. `*out_len` (may be NULL)
 * gets strlen of the result. Aborts on out-of-memory. */
char *kb64_encode(const void *data, size_t len, size_t *out_len);

/* Decode `len` characters at `in`. KERR_OK with *out (and *out_len, may be
 * NULL), or KERR_PARSE when `in` is not base64 as `flags` want it (or,
 * KB64_NO_NUL, decodes to a NUL byte); *out is NULL then. Input longer than
 * 1 GiB is refused. */
enum kerr kb64_decode(const char *in, size_t len, unsigned flags, char **out, size_t *out_len);

#endif
