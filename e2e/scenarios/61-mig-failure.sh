#!/bin/bash
# A failing migration leaves the running version serving: MigrationsReady=False
# (MigrationFailed, the Job's name in the message), Stalled=True, a Warning Event.
# Deleting the failed Job runs it again; a fixed image recovers, and the failed Job
# is removed once its successor exists. A Job past its timeout is a failure too.
. "$(dirname "$0")/gslib.sh"
. "$(dirname "$0")/miglib.sh"
setup_env
op_start
gs_apply web 'image: example/web:1' 'migrations: {command: [migrate]}'
wait_ready web
[ "$(dep_image web)" = example/web:1 ] || fail "image 1 not running"
# Image 2's migration fails.
gs_apply web 'image: example/web:2' 'migrations: {command: [migrate, STANDIN_FAIL]}'
eventually_eq 30 MigrationFailed cond_reason web MigrationsReady ||
  fail "MigrationsReady reason $(cond_reason web MigrationsReady)"
jf=$(mig_job web)
[ "$(cond web MigrationsReady)" = False ] || fail "MigrationsReady not False"
jp gs/web '{.status.conditions[?(@.type=="MigrationsReady")].message}' | grep -q "$jf" ||
  fail "MigrationsReady message lacks $jf"
eventually_eq 10 True cond web Stalled || fail "Stalled is not True"
[ "$(cond web Ready)" = False ] || fail "Ready is not False"
[ "$(dep_image web)" = example/web:1 ] || fail "Deployment rolled to a failed migration's image"
eventually 10 sh -c "kubectl get events -n '$NS' -o jsonpath='{range .items[*]}{.type}/{.reason}{\"\\n\"}{end}' | grep -qx Warning/MigrationFailed" ||
  fail "no Warning Event MigrationFailed"
note "failed migration $jf: old image serving, Stalled, Event"
# Deleting the failed Job runs it again (same name, a new object).
uid1=$(jp "job/$jf" '{.metadata.uid}')
kubectl delete job "$jf" -n "$NS" --wait=false >/dev/null
end=$((SECONDS + 30))
until uid2=$(jp "job/$jf" '{.metadata.uid}') && [ -n "$uid2" ] && [ "$uid2" != "$uid1" ]; do
  [ $SECONDS -lt $end ] || fail "deleting the failed Job did not run it again"; sleep 0.2
done
eventually_eq 30 True job_cond "$jf" Failed || fail "the retried Job did not fail again"
[ "$(dep_image web)" = example/web:1 ] || fail "rolled after the retry failed"
note "deleting the failed Job retried it"
# A fixed image recovers; the failed Job goes once its successor exists.
gs_apply web 'image: example/web:3' 'migrations: {command: [migrate]}'
eventually_eq 30 example/web:3 dep_image web || fail "fixed image did not roll"
wait_ready web
[ "$(cond web Stalled)" = False ] || fail "still Stalled"
eventually 30 sh -c "! kubectl get job '$jf' -n '$NS' >/dev/null 2>&1" || fail "the failed Job $jf was kept after a successor succeeded"
note "image 3 recovered"
# A migration past its timeout fails (DeadlineExceeded); the old image stays.
gs_apply web 'image: example/web:4' 'migrations: {command: [migrate, STANDIN_HANG], timeoutSeconds: 2}'
eventually_eq 30 MigrationFailed cond_reason web MigrationsReady || fail "a timed-out migration is not a failure"
jp gs/web '{.status.conditions[?(@.type=="MigrationsReady")].message}' | grep -q DeadlineExceeded ||
  fail "message does not say DeadlineExceeded"
[ "$(dep_image web)" = example/web:3 ] || fail "rolled past a timed-out migration"
# The latest failed Job is kept (no time-to-live).
[ -z "$(jp "job/$(mig_job web)" '{.spec.ttlSecondsAfterFinished}')" ] || fail "failed Job has a time-to-live"
note "timeout is a failure"
