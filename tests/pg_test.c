/*
 * pg_test: PostgreSQL provisioning against a REAL server. main() starts a
 * throwaway PostgreSQL with hack/pg.sh in a temporary directory (or uses the
 * one whose pg.env PG_ENV_FILE names -- it must be a hack/pg.sh directory,
 * since some tests stop and restart it) and stops it at the end. Without the
 * server binaries the suite FAILS, it does not skip.
 *
 * Each test uses its own service names, so tests are independent; the one
 * that stops the server runs last.
 */
#include <check.h>
#include <errno.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pg.h"
#include "pgsrv.h"

static struct pgsrv g_srv; /* the server (tests/pgsrv) */
static char g_run[16];     /* per-run tag, so a reused (PG_ENV_FILE) server sees fresh names */
static struct pg_admin g_admin;

/* ------------------------------------------------------------- harness */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------- helpers */

struct svc {
    char role[64], db[64], pw[PG_PASSWORD_BUFSZ];
};

/* Like snprintf(buf, 64, "%s_%s", base, g_run): a per-run object name. */
static const char *run_name(char buf[64], const char *base)
{
    snprintf(buf, 64, "%s_%s", base, g_run);
    return buf;
}

/* Names for a test service (its namespace tagged with the run), and a fresh password. */
static void svc_init(struct svc *s, const char *ns, const char *name, const char *db)
{
    struct kerr_info err;
    char tagged[128], dbt[64];
    snprintf(tagged, sizeof tagged, "%s%s", ns, g_run);
    ck_assert_int_eq(
        pg_derive_names(tagged, name, db ? run_name(dbt, db) : NULL, s->role, s->db, &err),
        KERR_OK);
    pg_password_new(s->pw, sizeof s->pw);
}

static void ensure_ok(struct pg_conn *c, const struct pg_admin *a, const struct svc *s,
                      const char *const *ext, size_t n_ext)
{
    struct pg_want w = {s->role, s->db, s->pw, ext, n_ext};
    struct kerr_info err;
    enum kerr rc = pg_ensure(c, a, &w, &err);
    ck_assert_msg(rc == KERR_OK, "pg_ensure(%s): %s: %s", s->role, err.reason, err.message);
}

static PGconn *connect_as(const char *user, const char *pw, const char *db)
{
    char port[16];
    snprintf(port, sizeof port, "%d", g_srv.port);
    const char *const k[] = {"host", "port", "user", "password", "dbname", "gssencmode", NULL};
    const char *const v[] = {g_srv.host, port, user, pw, db, "disable", NULL};
    return PQconnectdbParams(k, v, 0);
}

/* Run sql as the admin in db; return column 0 of row 0 (static buffer) or "" . */
static const char *admin_sql(const char *db, const char *sql, const char *param)
{
    static char val[256];
    PGconn *conn = connect_as(g_srv.user, g_srv.password, db);
    ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "admin connect: %s", PQerrorMessage(conn));
    const char *params[] = {param};
    PGresult *res = PQexecParams(conn, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQerrorMessage(conn));
    snprintf(val, sizeof val, "%s",
             (st == PGRES_TUPLES_OK && PQntuples(res) > 0) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    PQfinish(conn);
    return val;
}

static bool role_exists(const char *role)
{
    return strcmp(admin_sql("postgres", "SELECT 1 FROM pg_roles WHERE rolname=$1", role), "1") == 0;
}

static const char *db_owner(const char *db)
{
    return admin_sql("postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname=$1",
                     db);
}

/* Create a login role for use as a (limited) admin; attrs e.g. "CREATEDB". */
static void make_admin_role(const char *name, const char *pw, const char *attrs)
{
    PGconn *conn = connect_as(g_srv.user, g_srv.password, "postgres");
    ck_assert_int_eq(PQstatus(conn), CONNECTION_OK);
    char *ver = PQencryptPasswordConn(conn, pw, name, "scram-sha-256");
    char sql[512];
    snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN %s PASSWORD '%s'", name, attrs, ver);
    PQfreemem(ver);
    PGresult *res = PQexec(conn, sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* --------------------------------------------------------------- tests */

START_TEST(pg_ensure_creates_role_and_db_the_role_can_use)
{
    struct svc s;
    svc_init(&s, "shop", "orders", NULL);
    struct pg_conn *c = pg_conn_new();
    ensure_ok(c, &g_admin, &s, NULL, 0);
    ck_assert_str_eq(db_owner(s.db), s.role);
    PGconn *conn = connect_as(s.role, s.pw, s.db);
    ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s", PQerrorMessage(conn));
    PGresult *res = PQexec(conn, "CREATE TABLE t (x int); INSERT INTO t VALUES (42)");
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQerrorMessage(conn));
    PQclear(res);
    res = PQexec(conn, "SELECT x FROM t");
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "42");
    PQclear(res);
    PQfinish(conn);
    struct kerr_info err;
    ck_assert_int_eq(pg_check_login(&g_admin, s.role, s.pw, s.db, &err), KERR_OK);
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_ensure_twice_is_idempotent_and_keeps_data)
{
    struct svc s;
    svc_init(&s, "shop", "twice", NULL);
    struct pg_conn *c = pg_conn_new();
    ensure_ok(c, &g_admin, &s, NULL, 0);
    PGconn *conn = connect_as(s.role, s.pw, s.db);
    PQclear(PQexec(conn, "CREATE TABLE keep (x int); INSERT INTO keep VALUES (7)"));
    PQfinish(conn);
    ensure_ok(c, &g_admin, &s, NULL, 0);
    ensure_ok(c, &g_admin, &s, NULL, 0);
    ck_assert_str_eq(admin_sql(s.db, "SELECT count(*) FROM keep", NULL), "1");
    ck_assert_str_eq(
        admin_sql("postgres", "SELECT count(*) FROM pg_roles WHERE rolname=$1", s.role), "1");
    ck_assert_str_eq(db_owner(s.db), s.role);
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_ensure_with_new_password_makes_the_role_match)
{
    struct svc s;
    struct kerr_info err;
    char old[PG_PASSWORD_BUFSZ];
    svc_init(&s, "shop", "rotate", NULL);
    struct pg_conn *c = pg_conn_new();
    ensure_ok(c, &g_admin, &s, NULL, 0);
    memcpy(old, s.pw, sizeof old);
    pg_password_new(s.pw, sizeof s.pw);
    ensure_ok(c, &g_admin, &s, NULL, 0);
    ck_assert_int_eq(pg_check_login(&g_admin, s.role, s.pw, s.db, &err), KERR_OK);
    ck_assert_int_eq(pg_check_login(&g_admin, s.role, old, s.db, &err), KERR_DB);
    ck_assert_str_eq(err.reason, PG_REASON_AUTHENTICATION_FAILED);
    ck_assert_ptr_null(strstr(err.message, old));
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_ensure_recreates_a_role_dropped_by_hand)
{
    struct svc s;
    struct kerr_info err;
    char sql[256];
    svc_init(&s, "shop", "lostrole", NULL);
    struct pg_conn *c = pg_conn_new();
    ensure_ok(c, &g_admin, &s, NULL, 0);
    /* what an operator would do by hand: give the objects away, then drop */
    snprintf(sql, sizeof sql, "REASSIGN OWNED BY %s TO CURRENT_USER", s.role);
    admin_sql(s.db, sql, NULL);
    snprintf(sql, sizeof sql, "DROP OWNED BY %s", s.role);
    admin_sql(s.db, sql, NULL);
    snprintf(sql, sizeof sql, "DROP ROLE %s", s.role);
    admin_sql("postgres", sql, NULL);
    ck_assert(!role_exists(s.role));
    ensure_ok(c, &g_admin, &s, NULL, 0);
    ck_assert(role_exists(s.role));
    ck_assert_str_eq(db_owner(s.db), s.role); /* given back */
    ck_assert_int_eq(pg_check_login(&g_admin, s.role, s.pw, s.db, &err), KERR_OK);
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_ensure_recreates_a_db_dropped_by_hand)
{
    struct svc s;
    struct kerr_info err;
    char sql[256];
    svc_init(&s, "shop", "lostdb", NULL);
    struct pg_conn *c = pg_conn_new();
    ensure_ok(c, &g_admin, &s, NULL, 0);
    snprintf(sql, sizeof sql, "DROP DATABASE %s", s.db);
    admin_sql("postgres", sql, NULL);
    ck_assert_int_eq(pg_check_login(&g_admin, s.role, s.pw, s.db, &err), KERR_DB);
    ck_assert_str_eq(err.reason, PG_REASON_DATABASE_ERROR);
    ensure_ok(c, &g_admin, &s, NULL, 0);
    ck_assert_str_eq(db_owner(s.db), s.role);
    ck_assert_int_eq(pg_check_login(&g_admin, s.role, s.pw, s.db, &err), KERR_OK);
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_ensure_creates_extensions_usable_by_the_role)
{
    struct svc s;
    const char *ext[] = {"pgcrypto"};
    svc_init(&s, "shop", "crypto", NULL);
    struct pg_conn *c = pg_conn_new();
    ensure_ok(c, &g_admin, &s, ext, 1);
    ensure_ok(c, &g_admin, &s, ext, 1); /* IF NOT EXISTS */
    PGconn *conn = connect_as(s.role, s.pw, s.db);
    PGresult *res = PQexec(conn, "SELECT encode(digest('abc', 'sha256'), 'hex')");
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQerrorMessage(conn));
    ck_assert_str_eq(PQgetvalue(res, 0, 0),
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    PQclear(res);
    PQfinish(conn);
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_ensure_reports_untrusted_or_unknown_extensions)
{
    struct svc s;
    struct kerr_info err;
    const char *untrusted[] = {"adminpack"};
    const char *unknown[] = {"no_such_extension"};
    svc_init(&s, "shop", "badext", NULL);
    struct pg_conn *c = pg_conn_new();
    struct pg_want w = {s.role, s.db, s.pw, untrusted, 1};
    ck_assert_int_eq(pg_ensure(c, &g_admin, &w, &err), KERR_DB);
    ck_assert_str_eq(err.reason, PG_REASON_PERMISSION_DENIED);
    ck_assert_msg(strstr(err.message, "adminpack") && strstr(err.message, "superuser"), "%s",
                  err.message);
    w.extensions = unknown;
    ck_assert_int_eq(pg_ensure(c, &g_admin, &w, &err), KERR_DB);
    ck_assert_str_eq(err.reason, PG_REASON_DATABASE_ERROR);
    ck_assert_ptr_nonnull(strstr(err.message, "no_such_extension"));
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_public_cannot_connect_to_a_service_db)
{
    struct svc a, b;
    struct kerr_info err;
    svc_init(&a, "team-a", "app", NULL);
    svc_init(&b, "team-b", "app", NULL);
    struct pg_conn *c = pg_conn_new();
    ensure_ok(c, &g_admin, &a, NULL, 0);
    ensure_ok(c, &g_admin, &b, NULL, 0);
    ck_assert_str_eq(
        admin_sql("postgres", "SELECT has_database_privilege('public', $1, 'CONNECT')", a.db), "f");
    ck_assert_int_eq(pg_check_login(&g_admin, b.role, b.pw, a.db, &err), KERR_DB);
    ck_assert_msg(strcmp(err.reason, PG_REASON_PERMISSION_DENIED) == 0, "%s: %s", err.reason,
                  err.message);
    PGconn *conn = connect_as(b.role, b.pw, a.db);
    ck_assert_int_ne(PQstatus(conn), CONNECTION_OK);
    PQfinish(conn);
    ck_assert_int_eq(pg_check_login(&g_admin, b.role, b.pw, b.db, &err), KERR_OK);
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_hostile_service_names_are_escaped_end_to_end)
{
    struct svc s;
    struct kerr_info err;
    svc_init(&s, "Team \"X\"; DROP", "caf\xc3\xa9'; SELECT 1; --", NULL);
    struct pg_conn *c = pg_conn_new();
    ensure_ok(c, &g_admin, &s, NULL, 0);
    ck_assert(role_exists(s.role));
    ck_assert_int_eq(pg_check_login(&g_admin, s.role, s.pw, s.db, &err), KERR_OK);
    ck_assert_int_eq(pg_drop(c, &g_admin, s.role, s.db, &err), KERR_OK);
    ck_assert(!role_exists(s.role));
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_requested_db_of_another_service_is_a_conflict)
{
    struct svc a, b;
    struct kerr_info err;
    svc_init(&a, "team-a", "owner", "shared_name");
    svc_init(&b, "team-b", "thief", "shared_name");
    struct pg_conn *c = pg_conn_new();
    ensure_ok(c, &g_admin, &a, NULL, 0);
    struct pg_want w = {b.role, b.db, b.pw, NULL, 0};
    ck_assert_int_eq(pg_ensure(c, &g_admin, &w, &err), KERR_DB);
    ck_assert_str_eq(err.reason, PG_REASON_DATABASE_CONFLICT);
    ck_assert_str_eq(db_owner(a.db), a.role);
    /* deleting the loser must not drop the winner's database */
    ck_assert_int_eq(pg_drop(c, &g_admin, b.role, b.db, &err), KERR_OK);
    ck_assert_str_eq(db_owner(a.db), a.role);
    ck_assert(!role_exists(b.role));
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_requested_db_that_already_exists_is_not_taken_over)
{
    struct svc s;
    struct kerr_info err;
    char sql[128], plat[64];
    run_name(plat, "platform_db");
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", plat); /* owned by the admin */
    admin_sql("postgres", sql, NULL);
    svc_init(&s, "team-a", "grabby", "platform_db");
    ck_assert_str_eq(s.db, plat);
    struct pg_conn *c = pg_conn_new();
    struct pg_want w = {s.role, s.db, s.pw, NULL, 0};
    ck_assert_int_eq(pg_ensure(c, &g_admin, &w, &err), KERR_DB);
    ck_assert_str_eq(err.reason, PG_REASON_DATABASE_CONFLICT);
    ck_assert_str_eq(db_owner(plat), g_srv.user);
    ck_assert_int_eq(pg_drop(c, &g_admin, s.role, s.db, &err), KERR_OK);
    ck_assert_str_eq(db_owner(plat), g_srv.user);
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_drop_removes_db_and_role_despite_open_sessions)
{
    struct svc s;
    struct kerr_info err;
    svc_init(&s, "shop", "dropme", NULL);
    struct pg_conn *c = pg_conn_new();
    ensure_ok(c, &g_admin, &s, NULL, 0);
    PGconn *open = connect_as(s.role, s.pw, s.db);
    ck_assert_int_eq(PQstatus(open), CONNECTION_OK);
    PQclear(PQexec(open, "CREATE TABLE t (x int)"));
    ck_assert_int_eq(pg_drop(c, &g_admin, s.role, s.db, &err), KERR_OK);
    ck_assert_str_eq(db_owner(s.db), "");
    ck_assert(!role_exists(s.role));
    PGresult *res = PQexec(open, "SELECT 1");
    ck_assert_int_ne(PQresultStatus(res), PGRES_TUPLES_OK); /* session was terminated */
    PQclear(res);
    PQfinish(open);
    /* idempotent, also for names that never existed */
    ck_assert_int_eq(pg_drop(c, &g_admin, s.role, s.db, &err), KERR_OK);
    ck_assert_int_eq(pg_drop(c, &g_admin, "g_never_was", "g_never_was", &err), KERR_OK);
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_plaintext_passwords_never_reach_the_server_log)
{
    struct svc s;
    struct kerr_info err;
    char old[PG_PASSWORD_BUFSZ], path[300];
    svc_init(&s, "shop", "logcheck", NULL);
    struct pg_conn *c = pg_conn_new();
    ensure_ok(c, &g_admin, &s, NULL, 0); /* CREATE ROLE */
    memcpy(old, s.pw, sizeof old);
    pg_password_new(s.pw, sizeof s.pw);
    ensure_ok(c, &g_admin, &s, NULL, 0); /* ALTER ROLE */
    ck_assert_int_eq(pg_check_login(&g_admin, s.role, s.pw, s.db, &err), KERR_OK);
    ck_assert_int_eq(pg_drop(c, &g_admin, s.role, s.db, &err), KERR_OK);
    pg_conn_free(c);
    snprintf(path, sizeof path, "%s/pg.log", g_srv.dir);
    char *log = read_file(path);
    /* the log does record our DDL (so this test can fail)... */
    ck_assert_msg(strstr(log, "CREATE ROLE \"") || strstr(log, "CREATE ROLE g_"), "no DDL logged");
    ck_assert_ptr_nonnull(strstr(log, "PASSWORD 'SCRAM-SHA-256$4096:"));
    /* ...but never a password in clear */
    ck_assert_ptr_null(strstr(log, old));
    ck_assert_ptr_null(strstr(log, s.pw));
    ck_assert_ptr_null(strstr(log, g_srv.password));
    free(log);
}
END_TEST

START_TEST(pg_wrong_admin_password_is_authentication_failed)
{
    struct svc s;
    struct kerr_info err;
    svc_init(&s, "shop", "badadmin", NULL);
    struct pg_admin bad = g_admin;
    bad.password = "wrong-Pa55word-xyz";
    struct pg_conn *c = pg_conn_new();
    struct pg_want w = {s.role, s.db, s.pw, NULL, 0};
    ck_assert_int_eq(pg_ensure(c, &bad, &w, &err), KERR_DB);
    ck_assert_str_eq(err.reason, PG_REASON_AUTHENTICATION_FAILED);
    ck_assert_msg(strstr(err.message, "admin credentials Secret"), "%s", err.message);
    ck_assert_ptr_null(strstr(err.message, "wrong-Pa55word-xyz"));
    ck_assert_ptr_null(strstr(err.message, s.pw));
    ck_assert(!role_exists(s.role));
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_conn_reconnects_when_admin_settings_change)
{
    struct svc s;
    struct kerr_info err;
    svc_init(&s, "shop", "settings", NULL);
    struct pg_conn *c = pg_conn_new();
    ensure_ok(c, &g_admin, &s, NULL, 0);
    struct pg_admin bad = g_admin;
    bad.password = "not-the-password";
    struct pg_want w = {s.role, s.db, s.pw, NULL, 0};
    /* a reused connection would hide the new (wrong) credentials */
    ck_assert_int_eq(pg_ensure(c, &bad, &w, &err), KERR_DB);
    ck_assert_str_eq(err.reason, PG_REASON_AUTHENTICATION_FAILED);
    ensure_ok(c, &g_admin, &s, NULL, 0);
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_admin_without_createrole_is_permission_denied)
{
    struct svc s;
    struct kerr_info err;
    char pw[PG_PASSWORD_BUFSZ];
    pg_password_new(pw, sizeof pw);
    char user[64];
    make_admin_role(run_name(user, "limited_nocreaterole"), pw, "CREATEDB NOCREATEROLE");
    struct pg_admin lim = g_admin;
    lim.user = user;
    lim.password = pw;
    svc_init(&s, "shop", "limited", NULL);
    struct pg_conn *c = pg_conn_new();
    struct pg_want w = {s.role, s.db, s.pw, NULL, 0};
    ck_assert_int_eq(pg_ensure(c, &lim, &w, &err), KERR_DB);
    ck_assert_str_eq(err.reason, PG_REASON_PERMISSION_DENIED);
    ck_assert_msg(strstr(err.message, "CREATEROLE"), "%s", err.message);
    ck_assert_ptr_null(strstr(err.message, pw));
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_admin_without_createdb_is_permission_denied)
{
    struct svc s;
    struct kerr_info err;
    char pw[PG_PASSWORD_BUFSZ];
    pg_password_new(pw, sizeof pw);
    char user[64];
    make_admin_role(run_name(user, "limited_nocreatedb"), pw, "NOCREATEDB CREATEROLE");
    struct pg_admin lim = g_admin;
    lim.user = user;
    lim.password = pw;
    svc_init(&s, "shop", "nodb", NULL);
    struct pg_conn *c = pg_conn_new();
    struct pg_want w = {s.role, s.db, s.pw, NULL, 0};
    ck_assert_int_eq(pg_ensure(c, &lim, &w, &err), KERR_DB);
    ck_assert_str_eq(err.reason, PG_REASON_PERMISSION_DENIED);
    ck_assert_msg(strstr(err.message, "CREATEDB"), "%s", err.message);
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_statement_timeout_bounds_a_blocked_statement)
{
    struct svc s;
    struct kerr_info err;
    char sql[256];
    svc_init(&s, "shop", "blocked", NULL);
    struct pg_conn *c = pg_conn_new();
    ensure_ok(c, &g_admin, &s, NULL, 0);
    /* another session holds the role's catalog row */
    PGconn *holder = connect_as(g_srv.user, g_srv.password, "postgres");
    snprintf(sql, sizeof sql, "BEGIN; ALTER ROLE %s CONNECTION LIMIT 5", s.role);
    PQclear(PQexec(holder, sql));
    struct pg_admin quick = g_admin;
    quick.statement_timeout_ms = 300;
    struct pg_want w = {s.role, s.db, s.pw, NULL, 0};
    double t0 = now_s();
    ck_assert_int_eq(pg_ensure(c, &quick, &w, &err), KERR_DB);
    ck_assert_double_lt(now_s() - t0, 3.0);
    ck_assert_str_eq(err.reason, PG_REASON_DATABASE_ERROR);
    ck_assert_msg(strstr(err.message, "57014"), "%s", err.message);
    PQfinish(holder);
    ensure_ok(c, &g_admin, &s, NULL, 0);
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_connect_timeout_bounds_a_silent_server)
{
    /* a socket that accepts TCP but never speaks: only connect_timeout ends the wait */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    struct pg_admin silent = g_admin;
    silent.port = ntohs(sa.sin_port);
    silent.connect_timeout_s = 2;
    struct pg_conn *c = pg_conn_new();
    struct pg_want w = {"g_x_y", "g_x_y", "pw-pw-pw", NULL, 0};
    struct kerr_info err;
    double t0 = now_s();
    ck_assert_int_eq(pg_ensure(c, &silent, &w, &err), KERR_DB);
    double took = now_s() - t0;
    ck_assert_str_eq(err.reason, PG_REASON_CONNECTION_FAILED);
    ck_assert_msg(took >= 1.5 && took < 5.0, "took %.2f s", took);
    close(fd);
    pg_conn_free(c);
}
END_TEST

START_TEST(pg_invalid_arguments_are_rejected_before_connecting)
{
    struct kerr_info err;
    struct pg_conn *c = pg_conn_new();
    struct pg_want w = {"Bad-Name", "db", "pw", NULL, 0};
    ck_assert_int_eq(pg_ensure(c, &g_admin, &w, &err), KERR_INVAL);
    ck_assert_str_eq(err.reason, PG_REASON_INVALID_NAME);
    w.role = "g_ok";
    w.password = "";
    ck_assert_int_eq(pg_ensure(c, &g_admin, &w, &err), KERR_INVAL);
    const char *ext[] = {""};
    struct pg_want we = {"g_ok", "g_ok", "pw", ext, 1};
    ck_assert_int_eq(pg_ensure(c, &g_admin, &we, NULL), KERR_INVAL);
    ck_assert_int_eq(pg_drop(c, &g_admin, "x;y", "db", &err), KERR_INVAL);
    ck_assert_int_eq(pg_check_login(&g_admin, "g_ok", NULL, "db", &err), KERR_INVAL);
    pg_conn_free(c);
    pg_conn_free(NULL);
}
END_TEST

/* Runs last: it stops and restarts the shared server. */
START_TEST(pg_server_down_is_connection_failed_then_recovers)
{
    struct svc s;
    struct kerr_info err;
    svc_init(&s, "shop", "outage", NULL);
    struct pg_conn *c = pg_conn_new();
    ensure_ok(c, &g_admin, &s, NULL, 0); /* c now holds a live connection */
    ck_assert_int_eq(pgsrv_ctl(&g_srv, "stop"), 0);
    struct pg_want w = {s.role, s.db, s.pw, NULL, 0};
    double t0 = now_s();
    enum kerr rc = pg_ensure(c, &g_admin, &w, &err);
    double took = now_s() - t0;
    ck_assert_int_eq(rc, KERR_DB);
    ck_assert_str_eq(err.reason, PG_REASON_CONNECTION_FAILED);
    ck_assert_msg(took < 3.0, "took %.2f s", took);
    char hp[96];
    snprintf(hp, sizeof hp, "%s:%d", g_srv.host, g_srv.port);
    ck_assert_msg(strstr(err.message, hp) && strstr(err.message, "retry"), "%s", err.message);
    ck_assert_int_eq(pg_check_login(&g_admin, s.role, s.pw, s.db, &err), KERR_DB);
    ck_assert_str_eq(err.reason, PG_REASON_CONNECTION_FAILED);
    ck_assert_int_eq(pgsrv_ctl(&g_srv, "start"), 0);
    ensure_ok(c, &g_admin, &s, NULL, 0); /* same pg_conn: reconnects */
    ck_assert_int_eq(pg_check_login(&g_admin, s.role, s.pw, s.db, &err), KERR_OK);
    /* the server ends the (idle, reused) admin session, as a restart would: the
     * dead connection is replaced transparently */
    ck_assert_str_eq(admin_sql("postgres",
                               "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE application_name = $1 AND pid <> pg_backend_pid()",
                               "grace-operator"),
                     "1");
    ensure_ok(c, &g_admin, &s, NULL, 0);
    ck_assert_int_eq(pg_check_login(&g_admin, s.role, s.pw, s.db, &err), KERR_OK);
    pg_conn_free(c);
}
END_TEST

static Suite *pg_suite(void)
{
    Suite *s = suite_create("pg");
    TCase *tc = tcase_create("server");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, pg_ensure_creates_role_and_db_the_role_can_use);
    tcase_add_test(tc, pg_ensure_twice_is_idempotent_and_keeps_data);
    tcase_add_test(tc, pg_ensure_with_new_password_makes_the_role_match);
    tcase_add_test(tc, pg_ensure_recreates_a_role_dropped_by_hand);
    tcase_add_test(tc, pg_ensure_recreates_a_db_dropped_by_hand);
    tcase_add_test(tc, pg_ensure_creates_extensions_usable_by_the_role);
    tcase_add_test(tc, pg_ensure_reports_untrusted_or_unknown_extensions);
    tcase_add_test(tc, pg_public_cannot_connect_to_a_service_db);
    tcase_add_test(tc, pg_hostile_service_names_are_escaped_end_to_end);
    tcase_add_test(tc, pg_requested_db_of_another_service_is_a_conflict);
    tcase_add_test(tc, pg_requested_db_that_already_exists_is_not_taken_over);
    tcase_add_test(tc, pg_drop_removes_db_and_role_despite_open_sessions);
    tcase_add_test(tc, pg_plaintext_passwords_never_reach_the_server_log);
    tcase_add_test(tc, pg_wrong_admin_password_is_authentication_failed);
    tcase_add_test(tc, pg_conn_reconnects_when_admin_settings_change);
    tcase_add_test(tc, pg_admin_without_createrole_is_permission_denied);
    tcase_add_test(tc, pg_admin_without_createdb_is_permission_denied);
    tcase_add_test(tc, pg_statement_timeout_bounds_a_blocked_statement);
    tcase_add_test(tc, pg_connect_timeout_bounds_a_silent_server);
    tcase_add_test(tc, pg_invalid_arguments_are_rejected_before_connecting);
    tcase_add_test(tc, pg_server_down_is_connection_failed_then_recovers);
    suite_add_tcase(s, tc);
    return s;
}

/* Start (or adopt) the server; 0 on success, with a message on failure. */
static int server_setup(const char *argv0)
{
    if (pgsrv_start(&g_srv, argv0, "pg_test") != 0)
        return -1;
    /* generous timeouts: SCRAM is slow under valgrind; the timeout tests set their own */
    g_admin = (struct pg_admin){.host = g_srv.host,
                                .port = g_srv.port,
                                .user = g_srv.user,
                                .password = g_srv.password,
                                .sslmode = "prefer",
                                .dbname = g_srv.dbname[0] ? g_srv.dbname : "postgres",
                                .connect_timeout_s = 10,
                                .statement_timeout_ms = 10000};
    return 0;
}

static void server_teardown(void)
{
    if (!g_srv.own)
        pgsrv_ctl(&g_srv, "start"); /* leave an adopted server running, as we found it */
    pgsrv_stop(&g_srv);
}

int main(int argc, char **argv)
{
    (void)argc;
    double t0 = now_s();
    snprintf(g_run, sizeof g_run, "%lx", (unsigned long)getpid());
    if (server_setup(argv[0]) != 0) {
        server_teardown();
        return EXIT_FAILURE;
    }
    fprintf(stderr, "pg_test: server on %s:%d ready in %.1f s\n", g_srv.host, g_srv.port,
            now_s() - t0);
    SRunner *sr = srunner_create(pg_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    server_teardown();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
