/*
 * pgsecret: the PostgreSQL credentials read out of Secrets, which are
 * outside input: the platform's admin Secret (named by the configuration)
 * and each GraceService's own <name>-postgres Secret, whose password the
 * operator reuses so that a reconcile never rotates it.
 *
 * Both fail closed. A credential that cannot be read (a Secret whose text
 * does not parse, a value that is not a string, not base64, or decodes to
 * bytes holding a NUL, a port that is not one) is an error, never taken as
 * absent: an absent password means "create one", so reading an unreadable
 * one as absent would rotate it. Messages name the Secret and the key,
 * never a value.
 */
#ifndef GRACE_PGSECRET_H
#define GRACE_PGSECRET_H

#include <jansson.h>

#include "kerr.h"
#include "kobj.h"
#include "gsdeps.h"
#include "pg.h"

/* kerr_info.reason of an unreadable credentials Secret. */
#define PGSECRET_REASON_UNREADABLE "SecretUnreadable"

/*
 * The admin Secret `secret` (an object as the API returns it, borrowed)
 * decoded: *out is a new object (caller json_decrefs) holding, for each of
 * the keys the connection uses (host, port, user, username, password,
 * sslmode, dbname) that the Secret's data has, its decoded text. Other
 * keys are not looked at. KERR_PARSE (PGSECRET_REASON_UNREADABLE) when
 * data is present but not an object, or one of those keys cannot be read;
 * *out is then NULL.
 */
enum kerr pgsecret_admin_decode(const json_t *secret, json_t **out, struct kerr_info *err);

/*
 * Fill *a from a decoded admin Secret (borrowed strings live as long as
 * `decoded`), the configuration `pc` filling what the Secret lacks, then
 * defaults (127.0.0.1:5432, user postgres, sslmode prefer, dbname
 * postgres). KERR_PARSE (PGSECRET_REASON_UNREADABLE) when the Secret's
 * port is not a number in 1..65535.
 */
enum kerr pgsecret_admin(const json_t *decoded, const struct gs_pg_config *pc,
                         struct pg_admin *a, struct kerr_info *err);

/*
 * The password of a GraceService's own Secret `o` (as cached; NULL: there
 * is no such Secret). KERR_OK with *pw NULL when o is NULL (a password is
 * to be created), KERR_OK with *pw a malloc'd non-empty password (caller
 * cleanses and frees it), or KERR_PARSE (PGSECRET_REASON_UNREADABLE) when
 * the Secret exists but its data.password is missing, empty or unreadable.
 */
enum kerr pgsecret_password(const struct kobj *o, char **pw, struct kerr_info *err);

/* Decode base64 text into a malloc'd NUL-terminated string; NULL when it
 * is not base64 or the bytes hold a NUL. */
char *pgsecret_unb64(const char *s);

#endif
