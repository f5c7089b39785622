/*
 * pgsrv: a real, throwaway PostgreSQL for a unit suite (shared helper,
 * linked into every suite): started with hack/pg.sh in a temporary
 * directory, or the running one whose pg.env $PG_ENV_FILE names (then it is
 * left running). Without the server binaries pgsrv_start fails: suites
 * that need PostgreSQL fail, they do not skip.
 */
#ifndef GRACE_PGSRV_H
#define GRACE_PGSRV_H

#include <stdbool.h>

struct pgsrv {
    char dir[256];  /* the hack/pg.sh directory */
    char pgsh[512]; /* path of hack/pg.sh */
    bool own;       /* started here: pgsrv_stop stops it */
    char host[64], user[64], password[128], dbname[64];
    int port;
};

/* Start or adopt a server; 0 on success, else -1 with a message on stderr
 * naming `suite`. argv0 helps find hack/pg.sh. */
int pgsrv_start(struct pgsrv *s, const char *argv0, const char *suite);

/* Run `hack/pg.sh VERB DIR` on it ("stop", "start", "restart"): suites that
 * take the server down and back; the exit status of pg.sh. */
int pgsrv_ctl(struct pgsrv *s, const char *verb);

/* Stop the server if it was started here and remove its directory. */
void pgsrv_stop(struct pgsrv *s);

#endif
