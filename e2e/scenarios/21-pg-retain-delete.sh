#!/bin/bash
# deletionPolicy: Retain keeps the role, database and data; Delete drops them.
. "$(dirname "$0")/gslib.sh"
setup_env
op_start
gs_apply kept 'image: example/k:1' 'postgres: {deletionPolicy: Retain}'
gs_apply gone 'image: example/g:1' 'postgres: {deletionPolicy: Delete}'
wait_ready kept
wait_ready gone
uk=$(secret_field kept-postgres username); pk=$(secret_field kept-postgres password); dk=$(secret_field kept-postgres database)
ug=$(secret_field gone-postgres username); pg=$(secret_field gone-postgres password); dg=$(secret_field gone-postgres database)
psql_as "$uk" "$pk" "$dk" "CREATE TABLE t(x text); INSERT INTO t VALUES ('still here')" || fail "write kept"
psql_as "$ug" "$pg" "$dg" "CREATE TABLE t(x text); INSERT INTO t VALUES ('bye')" || fail "write gone"
kubectl delete gs kept gone -n "$NS" --timeout=60s >/dev/null || fail "delete did not finish"
[ "$(psql_as "$uk" "$pk" "$dk" "SELECT x FROM t")" = "still here" ] || fail "Retain lost data"
[ "$(admin_psql "SELECT count(*) FROM pg_database WHERE datname='$dg'")" = 0 ] || fail "Delete kept the database"
[ "$(admin_psql "SELECT count(*) FROM pg_roles WHERE rolname='$ug'")" = 0 ] || fail "Delete kept the role"
note "Retain kept the data; Delete dropped database and role"
