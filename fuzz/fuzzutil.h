/*
 * fuzzutil: what the libFuzzer harnesses in fuzz/ share. A harness checks
 * invariants, not only crashes: a broken one is reported with fz_fail(),
 * which prints what was wrong and aborts, so libFuzzer records the input
 * as a crash. Chunk points and other choices are derived from the input
 * itself (fz_rng), so every run of an input is the same run.
 *
 * Not part of the operator: built only by `make fuzz` (see README.md).
 */
#ifndef GRACE_FUZZUTIL_H
#define GRACE_FUZZUTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* A deterministic generator seeded from bytes (xorshift64*). */
struct fz_rng {
    uint64_t s;
};

/* Seed from the input (FNV-1a over it; never 0). */
void fz_rng_seed(struct fz_rng *r, const uint8_t *data, size_t n);

/* The next value in [0, bound); 0 when bound is 0. */
size_t fz_rng_below(struct fz_rng *r, size_t bound);

/* An invariant failed: print the harness, the message and abort(). */
_Noreturn void fz_fail(const char *harness, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The input as a NUL-terminated copy (malloc'd; aborts on OOM). */
char *fz_strndup(const uint8_t *data, size_t n);

/* stdin from /dev/null and quiet logging: a parser that is given a path
 * such as /dev/stdin must not wait for a terminal. Call from
 * LLVMFuzzerInitialize. */
void fz_init_quiet(void);

/* A new private directory /tmp/fuzz-<name>-XXXXXX into buf (at least 64
 * bytes), removed with its files when the process exits. Aborts on error. */
void fz_tmpdir(char *buf, size_t size, const char *name);

/* json_dumps(v, JSON_COMPACT|JSON_SORT_KEYS|JSON_ENCODE_ANY) that aborts
 * on failure (a tree a parser returned must always dump). */
char *fz_dump(const char *harness, const json_t *v);

#endif
