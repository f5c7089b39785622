#!/bin/bash
# Deleting the GraceService cleans up everything, including the children in
# other namespaces; under Retain the database and its data are kept.
. "$(dirname "$0")/gslib.sh"
setup_env
op_start
gs_apply keep 'image: example/k:1' 'postgres: {}' 'kafka: {topics: [{name: keep.t}]}'
wait_ready keep
user=$(secret_field keep-postgres username); pw=$(secret_field keep-postgres password); db=$(secret_field keep-postgres database)
psql_as "$user" "$pw" "$db" "CREATE TABLE notes(t text); INSERT INTO notes VALUES ('kept');" || fail "cannot write"
kubectl delete gs keep -n "$NS" --timeout=60s >/dev/null || fail "delete did not finish"
eventually 30 bash -c "[ -z \"\$(kubectl get kafkatopics,kafkausers -n $KNS -l grace.dev/service=keep -o name)\" ]" || fail "Kafka objects left"
eventually 30 bash -c "[ -z \"\$(kubectl get schedules -n $BNS -l grace.dev/service=keep -o name)\" ]" || fail "Schedule left"
eventually 30 bash -c "[ -z \"\$(kubectl get deployments,services,secrets -n $NS -l app.kubernetes.io/managed-by=grace-operator,grace.dev/service=keep -o name)\" ]" || fail "namespaced children left"
[ "$(psql_as "$user" "$pw" "$db" "SELECT t FROM notes")" = kept ] || fail "Retain lost the data"
note "cleaned up; Retain kept the database"
