/*
 * gsstatus: the GraceService's status from one reconcile's concern states
 * (see gsstatus.c).
 */
#ifndef GRACE_GSSTATUS_H
#define GRACE_GSSTATUS_H

#include <stdbool.h>

#include "gsrun.h"

/* Write the status when it changed (progress-only changes are debounced:
 * *after_ms > 0 is how long until it is written); *ready: Ready is True. */
enum kerr gs_write_status(struct gs_run *r, bool *ready, long *after_ms);

/* The GraceService is gone: forget what is remembered about it. */
void gs_status_forget(struct gs_controller *c, const char *key);

#endif
