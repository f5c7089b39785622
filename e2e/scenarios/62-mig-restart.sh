#!/bin/bash
# A restart during a migration neither runs it twice nor rolls early: the new
# operator finds the running Job by its name (a hash of image and command), keeps
# the old image until that Job succeeded, then rolls.
. "$(dirname "$0")/gslib.sh"
. "$(dirname "$0")/miglib.sh"
setup_env
op_start
gs_apply web 'image: example/web:1' 'migrations: {command: [migrate]}'
wait_ready web
gs_apply web 'image: example/web:2' 'migrations: {command: [migrate, STANDIN_SLEEP=8]}'
end=$((SECONDS + 30))
until j=$(mig_job web) && [ -n "$j" ] && kubectl get job "$j" -n "$NS" >/dev/null 2>&1 &&
      [ "$j" != "$(jp gs/web '{.status.migrations.succeeded}')" ]; do
  [ $SECONDS -lt $end ] || fail "no migration Job for image 2"; sleep 0.2
done
uid=$(jp "job/$j" '{.metadata.uid}')
kill -TERM "$operator_PID"; wait "$operator_PID" 2>/dev/null || true
note "operator stopped during $j"
op_start operator2
while [ "$(job_cond "$j" Complete)" != True ]; do
  [ $SECONDS -lt $((end + 40)) ] || fail "Job $j never completed"
  [ "$(dep_image web)" = example/web:1 ] || fail "rolled to $(dep_image web) before $j succeeded"
  sleep 0.3
done
eventually_eq 30 example/web:2 dep_image web || fail "did not roll after $j succeeded"
wait_ready web
[ "$(jp "job/$j" '{.metadata.uid}')" = "$uid" ] || fail "the Job was created again"
[ "$(jobs_of web | grep -c -- "-migrate-")" -le 2 ] || fail "extra Jobs: $(jobs_of web | tr '\n' ' ')"
grep -q '"starting the migration Job"' "$WORK/operator2.log" && fail "the restarted operator started a migration Job"
note "restart during $j: one Job, rolled after it succeeded"
