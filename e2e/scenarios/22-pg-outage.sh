#!/bin/bash
# PostgreSQL goes down mid-run: DatabaseReady=False with a reason, the other
# services are unaffected; it comes back: the service converges.
. "$(dirname "$0")/gslib.sh"
pg_env
pgdir=$(dirname "$PG_ENV_FILE")
[ -x "$E2E_ROOT/hack/pg.sh" ] || [ -f "$E2E_ROOT/hack/pg.sh" ] || skip "no hack/pg.sh"
restart_pg() { bash "$E2E_ROOT/hack/pg.sh" start "$pgdir" >/dev/null 2>&1 || true; }
trap 'restart_pg; gs_cleanup' EXIT
setup_env
op_start
gs_apply plain 'image: example/p:1'
wait_ready plain
bash "$E2E_ROOT/hack/pg.sh" stop "$pgdir" >/dev/null || fail "cannot stop PostgreSQL"
gs_apply db 'image: example/d:1' 'postgres: {}'
eventually_eq 40 False cond db DatabaseReady || fail "DatabaseReady did not turn False"
reason=$(cond_reason db DatabaseReady)
[ "$reason" = ConnectionFailed ] || fail "reason is $reason, not ConnectionFailed"
msg=$(jp gs/db '{.status.conditions[?(@.type=="DatabaseReady")].message}')
echo "$msg" | grep -q "$PGPORT" || fail "message does not say where: $msg"
[ "$(cond db Ready)" = False ] || fail "db is Ready without a database"
gs_apply plain 'image: example/p:2'
eventually_eq 30 example/p:2 jp deployment/plain '{.spec.template.spec.containers[0].image}' || fail "other services were blocked"
wait_ready plain
kill -0 "$operator_PID" || fail "the operator died"
restart_pg
wait_ready db 90
note "outage reported ($reason), recovered"
