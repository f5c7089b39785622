/*
 * gsclaims: hostnames and owned Kafka topics are claimed by GraceServices;
 * a name claimed twice goes to the older claimant (creationTimestamp, then
 * namespace/name as a tie-break, so both sides agree). Reads only the
 * GraceService cache, through two indexes this module defines.
 */
#ifndef GRACE_GSCLAIMS_H
#define GRACE_GSCLAIMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "kinformer.h"

#define GSCLAIMS_INDEX_HOST "grace.dev/hostname"
#define GSCLAIMS_INDEX_TOPIC "grace.dev/topic"

/* Register the two indexes on the GraceService informer (before start). */
void gsclaims_add_indexes(struct kinformer *gs_inf);

/* The effective hostname label of a GraceService: spec.hostname or its name. */
const char *gsclaims_hostname(const json_t *gs);

/*
 * Who holds `value` in `index`: writes "ns/name" of the winner into
 * winner (empty if `gs` itself wins or nobody else claims it). `gs` may be
 * a GraceService that is not in the cache yet (admission).
 * Returns true when gs loses the claim.
 */
bool gsclaims_loses(struct kinformer *gs_inf, const char *index, const char *value,
                    const json_t *gs, char *winner, size_t n);

#endif
