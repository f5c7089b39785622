/*
 * gsdb: the database concern of a GraceService (see gsdb.c): role and
 * database on the platform's PostgreSQL and the <name>-postgres Secret.
 */
#ifndef GRACE_GSDB_H
#define GRACE_GSDB_H

#include "gsrun.h"

/* Provision the role and database and add the Secret to r->desired; the
 * outcome goes to r->cs[GC_DATABASE]. */
void gs_db_ensure(struct gs_run *r);

/* On deletion: drop the role and database when spec.postgres.deletionPolicy
 * is Delete (else keep them). */
enum kerr gs_db_cleanup(struct gs_run *r, struct kerr_info *err);

#endif
