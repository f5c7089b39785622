#!/bin/bash
# A database Secret whose password cannot be read fails closed: DatabaseReady
# turns False (SecretUnreadable), the Secret is neither rewritten nor pruned,
# and the role keeps its password (no rotation). Restoring the key recovers
# with the same password.
. "$(dirname "$0")/gslib.sh"
setup_env
op_start
gs_apply db 'image: example/d:1' 'postgres: {database: unread}'
wait_ready db
u=$(secret_field db-postgres username); p=$(secret_field db-postgres password); d=$(secret_field db-postgres database)
enc=$(jp secret/db-postgres '{.data.password}')
kubectl patch secret db-postgres -n "$NS" --type json \
  -p '[{"op":"remove","path":"/data/password"}]' >/dev/null || fail "patch"
eventually_eq 30 SecretUnreadable cond_reason db DatabaseReady ||
  fail "DatabaseReady reason $(cond_reason db DatabaseReady), wanted SecretUnreadable"
sleep 2 # a few more reconciles
[ -z "$(jp secret/db-postgres '{.data.password}')" ] || fail "the Secret was rewritten"
[ -n "$(jp secret/db-postgres '{.metadata.uid}')" ] || fail "the Secret was pruned"
[ "$(psql_as "$u" "$p" "$d" "SELECT 1")" = 1 ] || fail "the role's password changed"
kubectl patch secret db-postgres -n "$NS" --type merge \
  -p "{\"data\":{\"password\":\"$enc\"}}" >/dev/null || fail "restore"
wait_ready db
[ "$(secret_field db-postgres password)" = "$p" ] || fail "the password changed after the restore"
grep -q 'database Secret unreadable; password kept' "$WORK/operator.log" || fail "not logged"
! grep -q "$p" "$WORK/operator.log" || fail "the password reached the log"
note "unreadable Secret: DatabaseReady SecretUnreadable, Secret and password kept, recovered"
