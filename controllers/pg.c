/*
 * pg: PostgreSQL provisioning over libpq -- the per-worker admin connection,
 * pg_ensure / pg_drop / pg_check_login, and the mapping of libpq failures to
 * DatabaseReady reasons. See pg.h for the contracts; names come from
 * pgname.c.
 *
 * Every SQL statement is either a catalog query with $n parameters
 * (PQexecParams) or DDL built from PQescapeIdentifier / PQescapeLiteral
 * output and sent alone with PQexec (DDL takes no parameters, and CREATE /
 * DROP DATABASE refuse to run inside a transaction block or a multi-statement
 * string). Passwords reach the server only as SCRAM verifiers.
 */
#include "pg.h"

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_DEFAULT_CONNECT_TIMEOUT_S 5
#define PG_DEFAULT_STATEMENT_TIMEOUT_MS 30000
#define PG_FP_LEN 32

struct pg_conn {
    PGconn *conn;                /* NULL until first use or after a failure */
    unsigned char fp[PG_FP_LEN]; /* SHA-256 of the admin settings conn was made with */
};

/*
 * One call's context: the connection in use, where it points (for messages)
 * and the secrets that must never appear in a message.
 */
struct pg_ctx {
    PGconn *conn;
    const struct pg_admin *a;
    const char *user;
    const char *secrets[2];
};

/* ---------------------------------------------------------------- helpers */

static const char *pg_or(const char *s, const char *def)
{
    return (s && s[0]) ? s : def;
}

static int pg_port(const struct pg_admin *a)
{
    return a->port > 0 ? a->port : 5432;
}

static const char *pg_host(const struct pg_admin *a)
{
    return pg_or(a->host, "localhost");
}

static void pg_notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* malloc'ed printf; aborts on OOM. */
static char *pg_sqlf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pg_sqlf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        kerr_oom();
    char *s = kerr_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Replace every occurrence of `secret` in s (capacity cap) by "***". */
static void pg_scrub(char *s, size_t cap, const char *secret)
{
    size_t sl = secret ? strlen(secret) : 0;
    if (sl == 0)
        return;
    char *from = s, *hit;
    while ((hit = strstr(from, secret)) != NULL) {
        size_t tail = strlen(hit + sl);
        size_t room = cap - (size_t)(hit - s) - 1; /* bytes available from hit */
        if (room < 3)
            break;
        size_t keep = tail < room - 3 ? tail : room - 3;
        memmove(hit + 3, hit + sl, keep);
        memcpy(hit, "***", 3);
        hit[3 + keep] = '\0';
        from = hit + 3; /* never rescan the mask ("*" as a secret) */
    }
}

/*
 * Copy a server or libpq message into dst on one line: control characters
 * become spaces, runs of blanks collapse, the result is truncated to fit,
 * and every secret of the context is replaced by "***".
 */
static void pg_clean(const struct pg_ctx *x, char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    bool blank = true;
    for (const unsigned char *p = (const unsigned char *)pg_or(src, "no message"); *p; p++) {
        if (n + 1 >= cap)
            break;
        bool sp = *p < 0x20 || *p == 0x7f || *p == ' ';
        if (sp && blank)
            continue;
        dst[n++] = sp ? ' ' : (char)*p;
        blank = sp;
    }
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
    for (size_t i = 0; i < 2; i++)
        pg_scrub(dst, cap, x->secrets[i]);
}

/* SHA-256 over the admin settings (length-prefixed), so a change is noticed
 * without keeping a copy of the password. */
static void pg_fingerprint(const struct pg_admin *a, unsigned char out[PG_FP_LEN])
{
    char nums[64];
    const char *parts[] = {a->host, a->user, a->password, a->sslmode, a->dbname, nums};
    snprintf(nums, sizeof nums, "%d/%d/%d", a->port, a->connect_timeout_s, a->statement_timeout_ms);
    unsigned int len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        kerr_oom();
    int ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (size_t i = 0; ok && i < sizeof parts / sizeof parts[0]; i++) {
        const char *s = parts[i] ? parts[i] : "";
        unsigned char tag = parts[i] ? 1 : 0;
        size_t sl = strlen(s);
        ok = EVP_DigestUpdate(md, &tag, 1) && EVP_DigestUpdate(md, &sl, sizeof sl) &&
             EVP_DigestUpdate(md, s, sl);
    }
    if (!ok || !EVP_DigestFinal_ex(md, out, &len) || len != PG_FP_LEN) {
        EVP_MD_CTX_free(md);
        fputs("grace-operator: SHA-256 unavailable\n", stderr);
        abort();
    }
    EVP_MD_CTX_free(md);
}

/* ------------------------------------------------------------ connecting */

/* Open a connection (always returns a PGconn; check PQstatus). */
static PGconn *pg_open(const struct pg_admin *a, const char *user, const char *password,
                       const char *dbname)
{
    char port[16], timeout[16], options[128];
    int st =
        a->statement_timeout_ms > 0 ? a->statement_timeout_ms : PG_DEFAULT_STATEMENT_TIMEOUT_MS;
    snprintf(port, sizeof port, "%d", pg_port(a));
    snprintf(timeout, sizeof timeout, "%d",
             a->connect_timeout_s > 0 ? a->connect_timeout_s : PG_DEFAULT_CONNECT_TIMEOUT_S);
    snprintf(options, sizeof options, "-c statement_timeout=%d -c client_min_messages=warning", st);
    const char *const keys[] = {"host",
                                "port",
                                "user",
                                "password",
                                "dbname",
                                "sslmode",
                                "connect_timeout",
                                "options",
                                "gssencmode",
                                "application_name",
                                NULL};
    const char *const vals[] = {
        a->host, port,    user,      password,         dbname, pg_or(a->sslmode, "prefer"),
        timeout, options, "disable", "grace-operator", NULL};
    /* expand_dbname = 0: a database name is never parsed as a conninfo string. */
    PGconn *conn = PQconnectdbParams(keys, vals, 0);
    if (!conn)
        kerr_oom();
    PQsetNoticeProcessor(conn, pg_notice_ignore, NULL);
    return conn;
}

/*
 * Classify a failed connection. libpq reports no SQLSTATE for connection
 * failures, so this reads its (English) message; anything not recognised as
 * an authentication, permission or missing-database problem is treated as
 * the server being unreachable, which is retried.
 */
static enum kerr pg_connect_fail(const struct pg_ctx *x, PGconn *conn, bool as_admin,
                                 const char *db, struct kerr_info *err)
{
    char buf[320];
    pg_clean(x, buf, sizeof buf, PQerrorMessage(conn));
    const char *h = pg_host(x->a), *m = buf, *cut;
    int p = pg_port(x->a);
    /* drop libpq's "connection to server at "h", port p failed: " and "FATAL: " */
    if (strncmp(m, "connection to server", 20) == 0 && (cut = strstr(m, " failed: ")) != NULL)
        m = cut + 9;
    if (strncmp(m, "FATAL: ", 7) == 0)
        m += 7;
    if (strstr(m, "authentication failed") || strstr(m, "no password supplied") ||
        strstr(m, "pg_hba.conf") || (strstr(m, "role \"") && strstr(m, "does not exist"))) {
        if (as_admin)
            return kerr_set(err, KERR_DB, 0, PG_REASON_AUTHENTICATION_FAILED,
                            "PostgreSQL at %s:%d rejected the admin user %s; check the admin "
                            "credentials Secret (%s)",
                            h, p, x->user, m);
        return kerr_set(err, KERR_DB, 0, PG_REASON_AUTHENTICATION_FAILED,
                        "role %s cannot log in to PostgreSQL at %s:%d (%s)", x->user, h, p, m);
    }
    if (strstr(m, "permission denied"))
        return kerr_set(err, KERR_DB, 0, PG_REASON_PERMISSION_DENIED,
                        "user %s may not connect to database %s (needs CONNECT): %s", x->user, db,
                        m);
    if (strstr(m, "database \"") && strstr(m, "does not exist"))
        return kerr_set(err, KERR_DB, 0, PG_REASON_DATABASE_ERROR,
                        "database %s does not exist on %s:%d%s", db, h, p,
                        as_admin ? "; check the operator's PostgreSQL settings" : "");
    if (strncmp(m, "invalid ", 8) == 0) /* a libpq option rejected before connecting */
        return kerr_set(err, KERR_DB, 0, PG_REASON_DATABASE_ERROR,
                        "invalid PostgreSQL connection setting: %s", m);
    return kerr_set(err, KERR_DB, 0, PG_REASON_CONNECTION_FAILED,
                    "cannot connect to PostgreSQL at %s:%d (%s); will retry", h, p, m);
}

/* Make c->conn a live admin connection; *fresh tells whether it was just opened. */
static enum kerr pg_conn_ready(struct pg_conn *c, const struct pg_admin *a, bool *fresh,
                               struct kerr_info *err)
{
    unsigned char fp[PG_FP_LEN];
    pg_fingerprint(a, fp);
    *fresh = false;
    if (c->conn && (memcmp(fp, c->fp, PG_FP_LEN) != 0 || PQstatus(c->conn) != CONNECTION_OK ||
                    PQtransactionStatus(c->conn) != PQTRANS_IDLE)) {
        PQfinish(c->conn);
        c->conn = NULL;
    }
    if (c->conn)
        return KERR_OK;
    PGconn *conn = pg_open(a, a->user, a->password, pg_or(a->dbname, "postgres"));
    if (PQstatus(conn) != CONNECTION_OK) {
        struct pg_ctx x = {conn, a, pg_or(a->user, "(default)"), {a->password, NULL}};
        enum kerr rc = pg_connect_fail(&x, conn, true, pg_or(a->dbname, "postgres"), err);
        PQfinish(conn);
        return rc;
    }
    c->conn = conn;
    memcpy(c->fp, fp, PG_FP_LEN);
    *fresh = true;
    return KERR_OK;
}

/* ------------------------------------------------------------ statements */

static bool pg_state_is(const char *state, const char *want)
{
    return state && want && strcmp(state, want) == 0;
}

/*
 * Turn a result into KERR_OK or a classified error. `what` says what was
 * being done ("create role x"), `need` which privilege that takes.
 */
static enum kerr pg_check(const struct pg_ctx *x, PGresult *res, const char *what, const char *need,
                          struct kerr_info *err)
{
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return KERR_OK;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char m[320];
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    pg_clean(x, m, sizeof m, primary ? primary : PQerrorMessage(x->conn));
    if (PQstatus(x->conn) != CONNECTION_OK || (state && strncmp(state, "08", 2) == 0) ||
        pg_state_is(state, "57P01") || pg_state_is(state, "57P02") || pg_state_is(state, "57P03"))
        return kerr_set(err, KERR_DB, 0, PG_REASON_CONNECTION_FAILED,
                        "lost the connection to PostgreSQL at %s:%d during %s (%s); will retry",
                        pg_host(x->a), pg_port(x->a), what, m);
    if (pg_state_is(state, "42501"))
        return kerr_set(err, KERR_DB, 0, PG_REASON_PERMISSION_DENIED,
                        "permission denied to %s: the admin user %s needs %s (%s)", what, x->user,
                        need, m);
    return kerr_set(err, KERR_DB, 0, PG_REASON_DATABASE_ERROR, "%s failed: %s (SQLSTATE %s)", what,
                    m, state ? state : "none");
}

/*
 * Run a DDL statement alone. A failure with SQLSTATE `tolerate` (may be NULL)
 * counts as success and sets *tolerated (may be NULL).
 */
static enum kerr pg_cmd(const struct pg_ctx *x, const char *sql, const char *tolerate,
                        bool *tolerated, const char *what, const char *need, struct kerr_info *err)
{
    PGresult *res = PQexec(x->conn, sql);
    enum kerr rc = KERR_OK;
    bool hit = tolerate && pg_state_is(PQresultErrorField(res, PG_DIAG_SQLSTATE), tolerate);
    if (!hit)
        rc = pg_check(x, res, what, need, err);
    if (tolerated)
        *tolerated = hit;
    PQclear(res);
    return rc;
}

/*
 * Run a catalog query with text parameters; copy column 0 of row 0 into val
 * (when val != NULL) and set *found to whether there was a row.
 */
static enum kerr pg_query(const struct pg_ctx *x, const char *sql, int nparams,
                          const char *const *params, char *val, size_t cap, bool *found,
                          const char *what, struct kerr_info *err)
{
    PGresult *res = PQexecParams(x->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    enum kerr rc = pg_check(x, res, what, "read access to the catalogs", err);
    if (rc == KERR_OK) {
        *found = PQntuples(res) > 0 && PQnfields(res) > 0;
        if (val && cap)
            snprintf(val, cap, "%s", *found ? PQgetvalue(res, 0, 0) : "");
    }
    PQclear(res);
    return rc;
}

/* An escaped identifier (PQfreemem it). */
static char *pg_ident(const struct pg_ctx *x, const char *name)
{
    char *s = PQescapeIdentifier(x->conn, name, strlen(name));
    if (!s)
        kerr_oom(); /* only fails on OOM or invalid encoding; names are ASCII */
    return s;
}

/* ------------------------------------------------------------------ role */

static enum kerr pg_role_password(const struct pg_ctx *x, const char *role, const char *password,
                                  bool exists, struct kerr_info *err)
{
    enum kerr rc;
    char *ident = pg_ident(x, role), *lit = NULL, *sql = NULL, what[128];
    char *verifier = PQencryptPasswordConn(x->conn, password, role, "scram-sha-256");
    if (!verifier) {
        char m[256];
        pg_clean(x, m, sizeof m, PQerrorMessage(x->conn));
        rc = kerr_set(err, KERR_DB, 0, PG_REASON_DATABASE_ERROR,
                      "cannot compute the SCRAM verifier for role %s: %s", role, m);
        goto out;
    }
    lit = PQescapeLiteral(x->conn, verifier, strlen(verifier));
    if (!lit)
        kerr_oom();
    if (!exists) {
        snprintf(what, sizeof what, "create role %s", role);
        sql = pg_sqlf("CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %s", ident,
                      lit);
        /* 42710: created meanwhile by someone else; set its password below. */
        bool raced = false;
        rc = pg_cmd(x, sql, "42710", &raced, what, "CREATEROLE", err);
        if (rc != KERR_OK || !raced)
            goto out;
        free(sql);
    }
    snprintf(what, sizeof what, "set the password of role %s", role);
    sql = pg_sqlf("ALTER ROLE %s WITH LOGIN PASSWORD %s", ident, lit);
    rc = pg_cmd(x, sql, NULL, NULL, what, "CREATEROLE", err);
out:
    free(sql);
    PQfreemem(lit);
    PQfreemem(verifier);
    PQfreemem(ident);
    return rc;
}

/*
 * CREATE DATABASE ... OWNER r, CREATE EXTENSION in r's database and DROP
 * DATABASE need the admin to hold r's privileges: on PG15 membership (with
 * the admin's INHERIT), on PG16+ a grant with INHERIT and SET (the automatic
 * grant a CREATEROLE creator gets has neither). Not exercised on PG16 by
 * the tests (they run PG15).
 */
static enum kerr pg_role_join(const struct pg_ctx *x, const char *role, struct kerr_info *err)
{
    char member[8], what[128];
    bool found = false, pg16 = PQserverVersion(x->conn) >= 160000;
    const char *params[] = {role};
    snprintf(what, sizeof what, "check membership in role %s", role);
    enum kerr rc = pg_query(x,
                            pg16 ? "SELECT pg_catalog.pg_has_role(current_user, $1, 'USAGE') AND "
                                   "pg_catalog.pg_has_role(current_user, $1, 'SET')"
                                 : "SELECT pg_catalog.pg_has_role(current_user, $1, 'USAGE')",
                            1, params, member, sizeof member, &found, what, err);
    if (rc != KERR_OK || (found && strcmp(member, "t") == 0))
        return rc;
    char *ident = pg_ident(x, role);
    char *sql =
        pg_sqlf("GRANT %s TO CURRENT_USER%s", ident, pg16 ? " WITH INHERIT TRUE, SET TRUE" : "");
    snprintf(what, sizeof what, "grant role %s to the admin user", role);
    rc = pg_cmd(x, sql, NULL, NULL, what, "CREATEROLE", err);
    free(sql);
    PQfreemem(ident);
    return rc;
}

static enum kerr pg_role_exists(const struct pg_ctx *x, const char *role, bool *exists,
                                struct kerr_info *err)
{
    const char *params[] = {role};
    return pg_query(x, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", 1, params, NULL, 0,
                    exists, "look up the role", err);
}

static enum kerr pg_role_ensure(const struct pg_ctx *x, const char *role, const char *password,
                                struct kerr_info *err)
{
    bool exists = false;
    enum kerr rc = pg_role_exists(x, role, &exists, err);
    if (rc == KERR_OK)
        rc = pg_role_password(x, role, password, exists, err);
    if (rc == KERR_OK)
        rc = pg_role_join(x, role, err);
    return rc;
}

/* -------------------------------------------------------------- database */

static enum kerr pg_db_owner(const struct pg_ctx *x, const char *db, char owner[PG_NAME_MAX + 1],
                             bool *exists, struct kerr_info *err)
{
    const char *params[] = {db};
    return pg_query(x,
                    "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_catalog.pg_database "
                    "WHERE datname = $1",
                    1, params, owner, PG_NAME_MAX + 1, exists, "look up the database", err);
}

/* Create the database, or give it back to role when the admin owns it. */
static enum kerr pg_db_create(const struct pg_ctx *x, const char *db, const char *role,
                              struct kerr_info *err)
{
    char owner[PG_NAME_MAX + 1], what[160];
    bool exists = false;
    char *sql = NULL, *dbi = pg_ident(x, db), *ri = pg_ident(x, role);
    enum kerr rc = pg_db_owner(x, db, owner, &exists, err);
    if (rc != KERR_OK)
        goto out;
    if (!exists) {
        snprintf(what, sizeof what, "create database %s", db);
        sql = pg_sqlf("CREATE DATABASE %s OWNER %s", dbi, ri);
        rc = pg_cmd(x, sql, "42P04", NULL, what, "CREATEDB", err);
        if (rc == KERR_OK)
            rc = pg_db_owner(x, db, owner, &exists, err);
        if (rc != KERR_OK)
            goto out;
    }
    if (!exists || strcmp(owner, role) == 0)
        goto out;
    /* Only a database named after the role (a derived name, unique to this
     * service) is taken back from the admin; a requested name might be
     * anybody's database. */
    if (strcmp(owner, PQuser(x->conn)) != 0 || strcmp(db, role) != 0) {
        rc = kerr_set(err, KERR_DB, 0, PG_REASON_DATABASE_CONFLICT,
                      "database %s already exists and belongs to role %s, not %s; choose "
                      "another spec.postgres.database (or, if it is this service's, run "
                      "ALTER DATABASE ... OWNER TO %s)",
                      db, owner, role, role);
        goto out;
    }
    free(sql);
    snprintf(what, sizeof what, "give database %s to role %s", db, role);
    sql = pg_sqlf("ALTER DATABASE %s OWNER TO %s", dbi, ri);
    rc = pg_cmd(x, sql, NULL, NULL, what, "ownership of the database", err);
out:
    free(sql);
    PQfreemem(dbi);
    PQfreemem(ri);
    return rc;
}

/* PUBLIC gets CONNECT and TEMPORARY on new databases: take them away. */
static enum kerr pg_db_privileges(const struct pg_ctx *x, const char *db, const char *role,
                                  struct kerr_info *err)
{
    char val[8], what[160];
    bool found = false;
    const char *params[] = {db, role};
    char *dbi = pg_ident(x, db), *ri = pg_ident(x, role), *sql = NULL;
    enum kerr rc = pg_query(x,
                            "SELECT pg_catalog.has_database_privilege('public', $1, 'CONNECT') "
                            "OR pg_catalog.has_database_privilege('public', $1, 'TEMPORARY')",
                            1, params, val, sizeof val, &found, "read database privileges", err);
    if (rc == KERR_OK && strcmp(val, "t") == 0) {
        snprintf(what, sizeof what, "revoke CONNECT on database %s from PUBLIC", db);
        sql = pg_sqlf("REVOKE CONNECT, TEMPORARY ON DATABASE %s FROM PUBLIC", dbi);
        rc = pg_cmd(x, sql, NULL, NULL, what, "ownership of the database", err);
    }
    if (rc == KERR_OK)
        rc = pg_query(x, "SELECT pg_catalog.has_database_privilege($2, $1, 'CONNECT')", 2, params,
                      val, sizeof val, &found, "read database privileges", err);
    if (rc == KERR_OK && strcmp(val, "t") != 0) {
        free(sql);
        snprintf(what, sizeof what, "grant CONNECT on database %s to %s", db, role);
        sql = pg_sqlf("GRANT CONNECT ON DATABASE %s TO %s", dbi, ri);
        rc = pg_cmd(x, sql, NULL, NULL, what, "ownership of the database", err);
    }
    free(sql);
    PQfreemem(dbi);
    PQfreemem(ri);
    return rc;
}

/* ------------------------------------------------------------ extensions */

static enum kerr pg_ext_one(const struct pg_ctx *x, const char *ext, const char *db,
                            struct kerr_info *err)
{
    char what[192];
    bool found = false;
    const char *params[] = {ext};
    enum kerr rc = pg_query(x, "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = $1", 1,
                            params, NULL, 0, &found, "look up extensions", err);
    if (rc != KERR_OK || found)
        return rc;
    char *ident = pg_ident(x, ext);
    char *sql = pg_sqlf("CREATE EXTENSION IF NOT EXISTS %s", ident);
    snprintf(what, sizeof what, "create extension %s in database %s", ext, db);
    rc = pg_cmd(x, sql, NULL, NULL, what,
                "superuser (only trusted extensions can be created by a database owner)", err);
    free(sql);
    PQfreemem(ident);
    return rc;
}

static enum kerr pg_ext_ensure(const struct pg_admin *a, const struct pg_want *w,
                               struct kerr_info *err)
{
    PGconn *conn = pg_open(a, a->user, a->password, w->db);
    struct pg_ctx x = {conn, a, pg_or(a->user, "(default)"), {a->password, w->password}};
    enum kerr rc = KERR_OK;
    if (PQstatus(conn) != CONNECTION_OK)
        rc = pg_connect_fail(&x, conn, true, w->db, err);
    for (size_t i = 0; rc == KERR_OK && i < w->n_extensions; i++)
        rc = pg_ext_one(&x, w->extensions[i], w->db, err);
    PQfinish(conn);
    return rc;
}

/* ------------------------------------------------------------ public API */

struct pg_conn *pg_conn_new(void)
{
    return kerr_xcalloc(1, sizeof(struct pg_conn));
}

void pg_conn_free(struct pg_conn *c)
{
    if (!c)
        return;
    if (c->conn)
        PQfinish(c->conn);
    free(c);
}

static enum kerr pg_names_ok(const char *role, const char *db, struct kerr_info *err)
{
    if (!pg_name_valid(role) || !pg_name_valid(db))
        return kerr_set(err, KERR_INVAL, 0, PG_REASON_INVALID_NAME,
                        "role and database names must match ^[a-z_][a-z0-9_]{0,62}$");
    return KERR_OK;
}

/* One pass of pg_ensure over the admin connection (everything but extensions). */
static enum kerr pg_ensure_op(struct pg_conn *c, const struct pg_admin *a, const void *arg,
                              struct kerr_info *err)
{
    const struct pg_want *w = arg;
    struct pg_ctx x = {c->conn, a, PQuser(c->conn), {a->password, w->password}};
    enum kerr rc = pg_role_ensure(&x, w->role, w->password, err);
    if (rc == KERR_OK)
        rc = pg_db_create(&x, w->db, w->role, err);
    if (rc == KERR_OK)
        rc = pg_db_privileges(&x, w->db, w->role, err);
    return rc;
}

/*
 * Run `once` on a ready admin connection; if it failed because a reused
 * connection was dead (the server restarted since), run it once more on a
 * fresh one.
 */
typedef enum kerr (*pg_op_fn)(struct pg_conn *c, const struct pg_admin *a, const void *arg,
                              struct kerr_info *err);

static enum kerr pg_with_conn(struct pg_conn *c, const struct pg_admin *a, pg_op_fn once,
                              const void *arg, struct kerr_info *err)
{
    for (int attempt = 0;; attempt++) {
        bool fresh = false;
        enum kerr rc = pg_conn_ready(c, a, &fresh, err);
        if (rc != KERR_OK)
            return rc;
        rc = once(c, a, arg, err);
        if (rc == KERR_OK || fresh || attempt > 0 || PQstatus(c->conn) == CONNECTION_OK)
            return rc;
    }
}

enum kerr pg_ensure(struct pg_conn *c, const struct pg_admin *a, const struct pg_want *w,
                    struct kerr_info *err)
{
    kerr_clear(err);
    if (!c || !a || !w)
        return kerr_set(err, KERR_INVAL, 0, PG_REASON_INVALID_NAME, "pg_ensure: missing argument");
    enum kerr rc = pg_names_ok(w->role, w->db, err);
    if (rc != KERR_OK)
        return rc;
    if (!w->password || !w->password[0])
        return kerr_set(err, KERR_INVAL, 0, PG_REASON_INVALID_NAME,
                        "pg_ensure: the role password must not be empty");
    for (size_t i = 0; i < w->n_extensions; i++) {
        const char *e = w->extensions ? w->extensions[i] : NULL;
        if (!e || !e[0] || strlen(e) > PG_NAME_MAX)
            return kerr_set(err, KERR_INVAL, 0, PG_REASON_INVALID_NAME,
                            "extension names must be 1 to 63 bytes");
    }
    rc = pg_with_conn(c, a, pg_ensure_op, w, err);
    if (rc == KERR_OK && w->n_extensions > 0)
        rc = pg_ext_ensure(a, w, err);
    return rc;
}

struct pg_drop_arg {
    const char *role, *db;
};

static enum kerr pg_drop_db(const struct pg_ctx *x, const char *role, const char *db,
                            struct kerr_info *err)
{
    char owner[PG_NAME_MAX + 1], what[160];
    bool exists = false, found = false;
    enum kerr rc = pg_db_owner(x, db, owner, &exists, err);
    if (rc != KERR_OK || !exists || strcmp(owner, role) != 0)
        return rc; /* gone already, or not ours: leave it alone */
    rc = pg_role_join(x, role, err);
    if (rc != KERR_OK)
        return rc;
    bool force = PQserverVersion(x->conn) >= 130000;
    if (!force) {
        const char *params[] = {db};
        rc = pg_query(x,
                      "SELECT count(pg_catalog.pg_terminate_backend(pid)) FROM "
                      "pg_catalog.pg_stat_activity WHERE datname = $1 AND pid <> "
                      "pg_catalog.pg_backend_pid()",
                      1, params, NULL, 0, &found, "terminate the database's sessions", err);
        if (rc != KERR_OK)
            return rc;
    }
    char *dbi = pg_ident(x, db);
    char *sql = pg_sqlf("DROP DATABASE IF EXISTS %s%s", dbi, force ? " WITH (FORCE)" : "");
    snprintf(what, sizeof what, "drop database %s", db);
    rc = pg_cmd(x, sql, NULL, NULL, what, "ownership of the database", err);
    free(sql);
    PQfreemem(dbi);
    return rc;
}

static enum kerr pg_drop_role(const struct pg_ctx *x, const char *role, struct kerr_info *err)
{
    char what[160];
    bool exists = false;
    enum kerr rc = pg_role_exists(x, role, &exists, err);
    if (rc != KERR_OK || !exists)
        return rc;
    rc = pg_role_join(x, role, err);
    if (rc != KERR_OK)
        return rc;
    char *ri = pg_ident(x, role);
    char *sql = pg_sqlf("DROP OWNED BY %s", ri);
    snprintf(what, sizeof what, "drop objects owned by role %s", role);
    rc = pg_cmd(x, sql, NULL, NULL, what, "membership in the role", err);
    if (rc == KERR_OK) {
        free(sql);
        sql = pg_sqlf("DROP ROLE IF EXISTS %s", ri);
        snprintf(what, sizeof what, "drop role %s", role);
        rc = pg_cmd(x, sql, NULL, NULL, what, "CREATEROLE", err);
    }
    free(sql);
    PQfreemem(ri);
    return rc;
}

static enum kerr pg_drop_op(struct pg_conn *c, const struct pg_admin *a, const void *arg,
                            struct kerr_info *err)
{
    const struct pg_drop_arg *d = arg;
    struct pg_ctx x = {c->conn, a, PQuser(c->conn), {a->password, NULL}};
    enum kerr rc = pg_drop_db(&x, d->role, d->db, err);
    if (rc == KERR_OK)
        rc = pg_drop_role(&x, d->role, err);
    return rc;
}

enum kerr pg_drop(struct pg_conn *c, const struct pg_admin *a, const char *role, const char *db,
                  struct kerr_info *err)
{
    kerr_clear(err);
    if (!c || !a)
        return kerr_set(err, KERR_INVAL, 0, PG_REASON_INVALID_NAME, "pg_drop: missing argument");
    enum kerr rc = pg_names_ok(role, db, err);
    if (rc != KERR_OK)
        return rc;
    struct pg_drop_arg d = {role, db};
    return pg_with_conn(c, a, pg_drop_op, &d, err);
}

enum kerr pg_check_login(const struct pg_admin *a, const char *role, const char *password,
                         const char *db, struct kerr_info *err)
{
    kerr_clear(err);
    if (!a)
        return kerr_set(err, KERR_INVAL, 0, PG_REASON_INVALID_NAME,
                        "pg_check_login: missing argument");
    enum kerr rc = pg_names_ok(role, db, err);
    if (rc != KERR_OK)
        return rc;
    if (!password || !password[0])
        return kerr_set(err, KERR_INVAL, 0, PG_REASON_INVALID_NAME,
                        "pg_check_login: the password must not be empty");
    PGconn *conn = pg_open(a, role, password, db);
    if (PQstatus(conn) != CONNECTION_OK) {
        struct pg_ctx x = {conn, a, role, {password, a->password}};
        rc = pg_connect_fail(&x, conn, false, db, err);
    }
    PQfinish(conn);
    return rc;
}
