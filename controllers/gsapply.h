/*
 * gsapply: the children of one GraceService (see gsapply.c): apply what
 * differs from the cache, prune what is no longer desired, readiness per
 * concern, removal of the children in other namespaces on deletion, and
 * the fingerprint of the children that lets an unchanged reconcile return
 * early.
 */
#ifndef GRACE_GSAPPLY_H
#define GRACE_GSAPPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "gsrun.h"

/* Register the owner index (GS_OWNER_INDEX) on a child informer. */
void gs_child_indexes(struct kinformer *inf);

/* Apply the desired children not applied yet in this run (those past the
 * end of r->live), appending what each looks like afterwards to r->live. */
void gs_apply_children(struct gs_run *r);

/* Delete the cached children of this service (by its labels) that are no
 * longer desired, except, for now, those whose replacement of the same kind
 * and namespace does not exist yet and (until WorkloadReady, so call it
 * after gs_eval_children) the KafkaUser and Secrets the old pods may use. */
void gs_prune_children(struct gs_run *r);

/* Fold each desired child's readiness into its concern's state. */
void gs_eval_children(struct gs_run *r);

/* On deletion: delete the children outside the GraceService's namespace
 * (the garbage collector cannot see them); *remaining is true while any is
 * still cached. KERR_IO when a delete failed. */
enum kerr gs_delete_foreign_children(struct gs_run *r, bool *remaining);

/* Fingerprint of the cached children of GraceService `key` (kind, namespace,
 * name, resourceVersion of each; order-free), and the same of the children
 * of this run as it left them (false when one is missing). Equal values
 * mean the cache holds exactly what the run saw or wrote. */
uint64_t gs_fp_cached(struct gs_controller *c, const char *key);
bool gs_fp_run(struct gs_run *r, uint64_t *out);

#endif
