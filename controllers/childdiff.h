/*
 * childdiff: does a live child already hold what we would apply?
 * Server-side apply only sets the fields we send, and the server adds
 * defaults and other managers' fields, so "matches" means: every field of
 * the desired object is present in the live one with an equal value
 * (objects compared key by key, recursively; arrays element by element,
 * same length). When it matches, the reconciler skips the write: a no-op
 * resync performs zero API writes.
 */
#ifndef GRACE_CHILDDIFF_H
#define GRACE_CHILDDIFF_H

#include <jansson.h>
#include <stdbool.h>

/* Both borrowed. `live` NULL never matches. Secret `stringData` is not
 * supported (send `data`). */
bool childdiff_matches(const json_t *desired, const json_t *live);

#endif
