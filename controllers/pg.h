/*
 * pg: PostgreSQL provisioning through libpq. Given admin credentials and the
 * names from pgname.h, it makes a login role and a database owned by it exist
 * on the server (with a given password and extensions), drops them again,
 * and checks that the role can log in. It knows PostgreSQL, not Kubernetes:
 * the reconciler reads the admin Secret, keeps the role's password in the
 * Secret `<name>-postgres`, and maps failures to the DatabaseReady condition.
 *
 * Passwords: the role's password is sent only as a SCRAM-SHA-256 verifier
 * computed client-side (PQencryptPasswordConn), so the plain text never
 * reaches the server, its log or pg_stat_activity. No password is ever put
 * into a kerr_info message (messages are also scrubbed of them).
 *
 * Connections: one `struct pg_conn` per worker thread, reused across calls.
 * It connects lazily (connect_timeout, statement_timeout), reconnects when
 * the connection went bad or the admin settings changed, and retries a call
 * once on a fresh connection when a reused one turned out to be dead (the
 * server restarted). A pg_conn must not be used by two threads at once.
 *
 * Required admin privileges: LOGIN, CREATEROLE, CREATEDB (a superuser also
 * works). The admin makes itself a member of each role it manages (GRANT
 * role TO CURRENT_USER; on PG16+ WITH INHERIT TRUE, SET TRUE) so that it may
 * create databases owned by that role, create extensions in them and drop
 * them. Tested against PostgreSQL 15.
 *
 * Errors: calls return KERR_OK, KERR_INVAL (bad argument; reason
 * "InvalidName") or KERR_DB, with kerr_info.reason set to one of the
 * PG_REASON_* values below (the DatabaseReady condition reason) and an
 * actionable message. http_status is always 0.
 */
#ifndef GRACE_PG_H
#define GRACE_PG_H

#include <stddef.h>

#include "kerr.h"
#include "pgname.h"

/* Server down or unreachable, or the connection broke: retry with backoff. */
#define PG_REASON_CONNECTION_FAILED "ConnectionFailed"
/* The server rejected the credentials (admin: fix the admin Secret). */
#define PG_REASON_AUTHENTICATION_FAILED "AuthenticationFailed"
/* SQLSTATE 42501; the message names the missing privilege. */
#define PG_REASON_PERMISSION_DENIED "PermissionDenied"
/* A role, database or extension name is not acceptable (KERR_INVAL). */
#define PG_REASON_INVALID_NAME "InvalidName"
/* The database exists but is owned by another role (another service's). */
#define PG_REASON_DATABASE_CONFLICT "DatabaseConflict"
/* Any other server error; the message has the server's text and SQLSTATE. */
#define PG_REASON_DATABASE_ERROR "DatabaseError"

/*
 * How to reach the server as the admin. All strings are borrowed for the
 * duration of a call. Defaults: host NULL = libpq default, port <= 0 = 5432,
 * sslmode NULL/"" = "prefer", dbname NULL/"" = "postgres",
 * connect_timeout_s <= 0 = 5 (libpq treats values below 2 as 2),
 * statement_timeout_ms <= 0 = 30000. password NULL/"" lets libpq fall back to
 * PGPASSWORD / ~/.pgpass.
 */
struct pg_admin {
    const char *host;
    int port;
    const char *user;
    const char *password;
    const char *sslmode;
    const char *dbname;
    int connect_timeout_s;
    int statement_timeout_ms;
};

/*
 * What pg_ensure makes true. role and db must satisfy pg_name_valid() (use
 * pg_derive_names); password is the plain text (from the existing Secret, or
 * a new pg_password_new()), non-empty. extensions: n_extensions names, each
 * created with CREATE EXTENSION IF NOT EXISTS in db. All borrowed.
 */
struct pg_want {
    const char *role;
    const char *db;
    const char *password;
    const char *const *extensions;
    size_t n_extensions;
};

/* A reusable admin connection (opaque). */
struct pg_conn;

/* A new, unconnected pg_conn (connects on first use). Owned; pg_conn_free. */
struct pg_conn *pg_conn_new(void);

/* Close and free; NULL is allowed. */
void pg_conn_free(struct pg_conn *c);

/*
 * Make the role, the database and the extensions exist, idempotently:
 * - role missing: CREATE ROLE ... LOGIN PASSWORD <verifier>; present:
 *   ALTER ROLE ... WITH LOGIN PASSWORD <verifier> (so it matches `password`);
 * - the admin is made a member of the role when it is not (PG15 needs that);
 * - database missing: CREATE DATABASE ... OWNER role, alone, in autocommit;
 *   present and owned by role: kept; owned by the admin and named like the
 *   role (a derived name: its objects were reassigned by hand): given back
 *   to role; otherwise (another service's, or a pre-existing database under
 *   a requested name): PG_REASON_DATABASE_CONFLICT, left untouched;
 * - PUBLIC loses CONNECT and TEMPORARY on the database, the role keeps CONNECT;
 * - each extension: CREATE EXTENSION IF NOT EXISTS, over a short-lived admin
 *   connection to db (only when n_extensions > 0).
 * Statements whose effect is already in place are not sent (except the
 * password, which cannot be compared without logging in).
 */
enum kerr pg_ensure(struct pg_conn *c, const struct pg_admin *a, const struct pg_want *w,
                    struct kerr_info *err);

/*
 * Remove the database and the role, idempotently: DROP DATABASE IF EXISTS
 * ... WITH (FORCE) (terminates its sessions; on servers before 13 they are
 * terminated with pg_terminate_backend first) -- only when the database is
 * owned by `role`, a database owned by anyone else is left alone -- then
 * DROP OWNED BY role (in the admin database: grants on shared objects) and
 * DROP ROLE IF EXISTS. Missing objects are not an error.
 */
enum kerr pg_drop(struct pg_conn *c, const struct pg_admin *a, const char *role, const char *db,
                  struct kerr_info *err);

/*
 * Readiness: connect to `db` as `role` with `password` (host, port, sslmode
 * and connect_timeout_s from `a`; its user/password/dbname are ignored) and
 * disconnect. KERR_OK when the role can log in and the database exists;
 * otherwise KERR_DB with reason AuthenticationFailed (wrong password or no
 * such role), PermissionDenied (no CONNECT privilege), DatabaseError (no such
 * database) or ConnectionFailed. Opens its own short-lived connection.
 */
enum kerr pg_check_login(const struct pg_admin *a, const char *role, const char *password,
                         const char *db, struct kerr_info *err);

#endif
