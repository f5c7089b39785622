#!/bin/bash
# Migrations gate: a new service's first Deployment waits for its migration Job;
# a new image runs a new Job while the old image keeps running, and rolls only after
# the Job succeeded. The Job runs with the new image, the service's env, envFrom and
# database Secret, the workload's restricted security context, an owner reference,
# a deadline, and (once it succeeded) a time-to-live. The same image migrates once.
. "$(dirname "$0")/gslib.sh"
. "$(dirname "$0")/miglib.sh"
setup_env
kubectl -n "$NS" create configmap extra --from-literal=FEATURE=on >/dev/null || fail configmap
op_start
# The first Job runs 8 s: a new service's first report of progress only (the Job
# running, nothing failed) is written after at most 5 s (docs: gitops/README.md).
gs_apply web 'image: example/web:1' 'postgres: {}' 'envFrom: [{configMapRef: {name: extra}}]' \
  'env: [{name: MODE, value: blue}]' 'migrations: {command: [alembic, upgrade, head, STANDIN_SLEEP=8]}'
j1=$(wait_mig_job web)
[ "$(cond_reason web MigrationsReady)" = MigrationRunning ] ||
  eventually_eq 10 MigrationRunning cond_reason web MigrationsReady || fail "MigrationsReady is not MigrationRunning"
kubectl get deployment web -n "$NS" >/dev/null 2>&1 && fail "Deployment exists before its migration succeeded"
[ "$(cond_reason web WorkloadReady)" = AwaitingMigrations ] || fail "WorkloadReady reason $(cond_reason web WorkloadReady)"
# What the Job runs.
spec() { jp "job/$j1" "$1"; }
[ "$(spec '{.spec.template.spec.containers[0].image}')" = example/web:1 ] || fail "Job image"
[ "$(spec '{.spec.template.spec.containers[0].command}')" = '["alembic","upgrade","head","STANDIN_SLEEP=8"]' ] ||
  fail "Job command $(spec '{.spec.template.spec.containers[0].command}')"
[ "$(spec '{.spec.template.spec.containers[0].env[?(@.name=="DATABASE_URL")].valueFrom.secretKeyRef.name}')" = web-postgres ] ||
  fail "Job has no DATABASE_URL from web-postgres"
[ "$(spec '{.spec.template.spec.containers[0].env[?(@.name=="MODE")].value}')" = blue ] || fail "Job lacks the service's env"
[ "$(spec '{.spec.template.spec.containers[0].envFrom[0].configMapRef.name}')" = extra ] || fail "Job lacks envFrom"
[ "$(spec '{.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem}')" = true ] || fail "Job root fs writable"
[ "$(spec '{.spec.template.spec.containers[0].securityContext.capabilities.drop}')" = '["ALL"]' ] || fail "Job capabilities"
[ "$(spec '{.spec.template.spec.securityContext.runAsNonRoot}')" = true ] || fail "Job runAsNonRoot"
[ "$(spec '{.spec.template.spec.automountServiceAccountToken}')" = false ] || fail "Job mounts a token"
[ "$(spec '{.spec.template.spec.restartPolicy}')" = Never ] || fail "Job restartPolicy"
[ "$(spec '{.spec.activeDeadlineSeconds}')" = 600 ] || fail "Job deadline $(spec '{.spec.activeDeadlineSeconds}')"
[ "$(spec '{.metadata.ownerReferences[0].kind}')" = GraceService ] || fail "Job has no owner reference"
[ -z "$(spec '{.spec.template.metadata.labels.app\.kubernetes\.io/name}')" ] || fail "migration pod carries the Service's selector"
[ -z "$(spec '{.spec.template.spec.containers[0].readinessProbe}')" ] || fail "Job has probes"
# Success: the Deployment appears with that image.
eventually_eq 30 example/web:1 dep_image web || fail "Deployment not created after the migration"
wait_ready web
[ "$(cond web MigrationsReady)" = True ] || fail "MigrationsReady not True"
jp gs/web '{.status.conditions[?(@.type=="MigrationsReady")].message}' | grep -q "$j1" || fail "MigrationsReady message lacks the Job name"
[ "$(jp gs/web '{.status.migrations.succeeded}')" = "$j1" ] || fail "status.migrations.succeeded"
eventually_eq 10 3600 jp "job/$j1" '{.spec.ttlSecondsAfterFinished}' || fail "succeeded Job has no time-to-live"
note "first rollout waited for $j1"
# A new image: the old one keeps running until its Job succeeded.
gs_apply web 'image: example/web:2' 'postgres: {}' 'envFrom: [{configMapRef: {name: extra}}]' \
  'env: [{name: MODE, value: blue}]' 'migrations: {command: [alembic, upgrade, head, STANDIN_SLEEP=4]}'
end=$((SECONDS + 30))
until j2=$(mig_job web) && [ -n "$j2" ] && [ "$j2" != "$j1" ]; do
  [ $SECONDS -lt $end ] || fail "no new migration Job"; sleep 0.2
done
saw_old=0
while [ "$(job_cond "$j2" Complete)" != True ]; do
  [ $SECONDS -lt $((end + 30)) ] || fail "Job $j2 never completed"
  [ "$(dep_image web)" = example/web:1 ] || fail "Deployment rolled to $(dep_image web) before $j2 succeeded"
  saw_old=1
  sleep 0.3
done
[ $saw_old = 1 ] || fail "never saw the old image while $j2 ran"
eventually_eq 30 example/web:2 dep_image web || fail "Deployment did not roll after $j2 succeeded"
wait_ready web
note "image 2 rolled after $j2"
# The same image again (another field changed): no new Job.
gs_apply web 'image: example/web:2' 'replicas: 2' 'postgres: {}' 'envFrom: [{configMapRef: {name: extra}}]' \
  'env: [{name: MODE, value: blue}]' 'migrations: {command: [alembic, upgrade, head, STANDIN_SLEEP=4]}'
eventually_eq 30 2 jp deployment/web '{.spec.replicas}' || fail "replicas did not follow"
sleep 1
[ "$(mig_job web)" = "$j2" ] || fail "a replicas change made a new migration Job"
[ "$(jobs_of web | grep -c .)" -le 2 ] || fail "too many Jobs: $(jobs_of web | tr '\n' ' ')"
jobs_of web | grep -qx "$j2" || fail "Job $j2 gone early"
note "same image: no new Job"
