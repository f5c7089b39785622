# miglib.sh: helpers for the migration scenarios (6x), sourced after gslib.sh.
# The stand-ins play the Job controller; markers in the migration command choose
# what the "pod" does (hack/standins/desired.py): STANDIN_FAIL, STANDIN_HANG,
# STANDIN_SLEEP=<seconds>.

# mig_job NAME: the migration Job of the current image and command (status).
mig_job() { jp "gs/$1" '{.status.migrations.job}'; }
# job_cond JOB TYPE: status of the Job's condition TYPE ("True" or "").
job_cond() { jp "job/$1" "{.status.conditions[?(@.type==\"$2\")].status}"; }
# jobs_of NAME: the names of the service's migration Jobs, sorted, one a line.
jobs_of() {
  kubectl get jobs -n "$NS" -l "grace.dev/service=$1" -o name 2>/dev/null | sed 's|.*/||' | sort
}
dep_image() { jp "deployment/$1" '{.spec.template.spec.containers[0].image}'; }
# wait_mig_job NAME: wait until status names a migration Job that exists; prints it.
wait_mig_job() {
  local end=$((SECONDS + 30)) j
  while [ $SECONDS -lt $end ]; do
    j=$(mig_job "$1")
    if [ -n "$j" ] && kubectl get job "$j" -n "$NS" >/dev/null 2>&1; then echo "$j"; return 0; fi
    sleep 0.2
  done
  fail "no migration Job for $1 (status.migrations: $(jp "gs/$1" '{.status.migrations}'))"
}
