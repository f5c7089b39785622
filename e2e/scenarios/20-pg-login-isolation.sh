#!/bin/bash
# PostgreSQL, for real: a GraceService gets a database and role; its Secret's
# credentials log in and can create a table; a second service's role cannot
# reach the first one's database; no password reaches the server log.
. "$(dirname "$0")/gslib.sh"
setup_env
op_start
gs_apply alpha 'image: example/a:1' 'postgres: {extensions: [pgcrypto]}'
gs_apply beta 'image: example/b:1' 'postgres: {}'
wait_ready alpha
wait_ready beta
ua=$(secret_field alpha-postgres username); pa=$(secret_field alpha-postgres password); da=$(secret_field alpha-postgres database)
ub=$(secret_field beta-postgres username); pb=$(secret_field beta-postgres password); db=$(secret_field beta-postgres database)
uri=$(secret_field alpha-postgres uri)
[ -n "$ua" ] && [ -n "$pa" ] && [ -n "$da" ] || fail "Secret alpha-postgres incomplete"
case "$uri" in postgresql://*"@$PGHOST:$PGPORT/$da"*) ;; *) fail "uri has the wrong shape" ;; esac
psql_as "$ua" "$pa" "$da" "CREATE TABLE t(x int); INSERT INTO t VALUES (42);" || fail "alpha cannot create a table"
[ "$(psql_as "$ua" "$pa" "$da" "SELECT x FROM t")" = 42 ] || fail "alpha cannot read its table"
[ "$(psql_as "$ua" "$pa" "$da" "SELECT count(*) FROM pg_extension WHERE extname='pgcrypto'")" = 1 ] || fail "extension pgcrypto missing"
if psql_as "$ub" "$pb" "$da" "SELECT 1" >/dev/null 2>&1; then fail "beta can connect to alpha's database"; fi
if psql_as "$ua" "wrong-password" "$da" "SELECT 1" >/dev/null 2>&1; then fail "a wrong password logs in"; fi
# The workload reads the URI from the Secret.
kubectl get deployment alpha -n "$NS" -o json | grep -q '"DATABASE_URL"' || fail "workload has no DATABASE_URL"
# Self-healing: drop the role and database by hand; the next reconcile recreates them with the Secret's password.
admin_psql "DROP DATABASE \"$db\" WITH (FORCE)" >/dev/null
admin_psql "DROP ROLE \"$ub\"" >/dev/null
kubectl annotate gs beta -n "$NS" grace.dev/reconcile-requested-at="$(date +%s%N)" --overwrite >/dev/null
eventually 60 psql_as "$ub" "$pb" "$db" "SELECT 1" || fail "dropped role/database were not recreated"
pgdir=$(dirname "$PG_ENV_FILE")
if [ -r "$pgdir/pg.log" ] && grep -qF -e "$pa" -e "$pb" "$pgdir/pg.log"; then fail "a plaintext password reached the server log"; fi
note "login, isolation, self-healing ok"
