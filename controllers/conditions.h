/*
 * conditions: metav1.Condition lists for GraceService status. Builds the
 * new list from the old one so that lastTransitionTime changes only when a
 * condition's status flips, and compares lists ignoring timestamps so
 * status is written only when something a reader cares about changed.
 */
#ifndef GRACE_CONDITIONS_H
#define GRACE_CONDITIONS_H

#include <jansson.h>
#include <stdbool.h>

/*
 * Append (or replace, by type) a condition in `conds` (a JSON array we own).
 * `old` (borrowed, may be NULL) is the previous status.conditions: when its
 * entry of the same type has the same status, its lastTransitionTime is kept.
 * `now` is an RFC 3339 timestamp.
 */
void conditions_set(json_t *conds, const json_t *old, const char *type, const char *status,
                    const char *reason, const char *message, json_int_t generation,
                    const char *now);

/* Borrowed entry of `type` in a conditions array, or NULL. */
json_t *conditions_find(const json_t *conds, const char *type);

/* True when both lists hold the same conditions (any order), comparing
 * type, status, reason, message and observedGeneration only. */
bool conditions_equal(const json_t *a, const json_t *b);

/* Write the current UTC time as RFC 3339 ("2026-11-28T13:00:00Z"). */
void conditions_now(char buf[32]);

#endif
