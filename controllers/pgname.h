/*
 * pgname: the pure, connection-free half of PostgreSQL provisioning: the role
 * and database names derived from a GraceService's namespace and name, the
 * validation of a user-requested database name, the generated password, and
 * the postgresql:// URI written into the service's Secret.
 *
 * Nothing here talks to a server; pg.h does that. All functions are
 * thread-safe (no state).
 */
#ifndef GRACE_PGNAME_H
#define GRACE_PGNAME_H

#include <stdbool.h>
#include <stddef.h>

#include "kerr.h"

/* PostgreSQL truncates identifiers past NAMEDATALEN-1 bytes. */
#define PG_NAME_MAX 63
/* Length of the passwords pg_password_new() makes with a PG_PASSWORD_BUFSZ buffer. */
#define PG_PASSWORD_LEN 40
#define PG_PASSWORD_BUFSZ (PG_PASSWORD_LEN + 1)

/*
 * Derive the role name and the database name of the service ns/name.
 *
 * The role (and, unless `requested_db` is given, the database) is
 * "g_<ns>_<name>" when ns and name consist only of [a-z0-9] and the result
 * fits in 63 bytes. Otherwise it is a readable prefix (lower-cased, other
 * bytes replaced by '_', truncated) followed by "__" and 16 hex digits of
 * SHA-256("ns/name"). Plain names never contain "__" and hashed ones always
 * do, so no two (ns, name) pairs map to the same name (short of a 64-bit
 * hash collision). The result matches ^[a-z_][a-z0-9_]{0,62}$ and never
 * starts with "pg_".
 *
 * `requested_db` (NULL or "" = derive) must itself match
 * ^[a-z_][a-z0-9_]{0,62}$ and not be postgres, template0, template1 or start
 * with "pg_"; it is then used unchanged.
 *
 * Errors: KERR_INVAL with reason "InvalidName" when ns or name is NULL or
 * empty, ns contains '/', or requested_db is invalid. role and db are
 * written only on KERR_OK.
 */
enum kerr pg_derive_names(const char *ns, const char *name, const char *requested_db,
                          char role[PG_NAME_MAX + 1], char db[PG_NAME_MAX + 1],
                          struct kerr_info *err);

/* Hex digits pg_name_hash() writes (64 bits of SHA-256). */
#define PG_NAME_HASH_HEX 16

/*
 * The per-service hash every derived name uses to stay unique per
 * (namespace, name): the first 16 lowercase hex digits of
 * SHA-256("<ns>/<name>"), NUL-terminated, into hex. Namespaces cannot
 * contain '/', so distinct pairs hash distinct inputs. Used here for the
 * PostgreSQL names and by the templates' grace.unique_name (render.c) for
 * children in shared namespaces. Thread-safe; aborts if SHA-256 is
 * unavailable.
 */
void pg_name_hash(const char *ns, const char *name, char hex[PG_NAME_HASH_HEX + 1]);

/* True when `s` matches ^[a-z_][a-z0-9_]{0,62}$ (a name that needs no case folding). */
bool pg_name_valid(const char *s);

/*
 * Fill buf with n-1 characters from OpenSSL's CSPRNG (RAND_bytes), drawn
 * uniformly from the URL-safe alphabet [A-Za-z0-9_-], and a NUL. Callers
 * pass PG_PASSWORD_BUFSZ (40 characters, 240 bits); n must be at least 33.
 * Aborts if the CSPRNG fails (it is never seeded from anything weaker).
 */
void pg_password_new(char *buf, size_t n);

/*
 * Write "postgresql://user:password@host:port/db?sslmode=mode" into buf
 * (always NUL-terminated when n > 0). user, password, db and sslmode are
 * percent-encoded (everything outside [A-Za-z0-9-._~]), and so is the host; a host containing
 * ':' (an IPv6 literal) is put in brackets. sslmode NULL or "" omits the
 * query. Returns the length the full URI needs (excluding the NUL), like
 * snprintf: the output was truncated when the result is >= n.
 */
size_t pg_uri(char *buf, size_t n, const char *host, int port, const char *db, const char *user,
              const char *password, const char *sslmode);

#endif
