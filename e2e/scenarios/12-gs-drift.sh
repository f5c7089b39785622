#!/bin/bash
# A child deleted or edited by hand is restored by the next reconcile.
. "$(dirname "$0")/gslib.sh"
setup_env
op_start
gs_apply web 'image: example/web:1'
wait_ready web
uid=$(jp deployment/web '{.metadata.uid}')
kubectl delete deployment web -n "$NS" --wait=false >/dev/null
eventually 30 bash -c "u=\$(kubectl get deployment web -n $NS -o jsonpath='{.metadata.uid}' 2>/dev/null); [ -n \"\$u\" ] && [ \"\$u\" != $uid ]" ||
  fail "deleted Deployment was not recreated"
kubectl scale deployment web -n "$NS" --replicas=5 >/dev/null
eventually_eq 30 1 jp deployment/web '{.spec.replicas}' || fail "edited replicas were not restored"
kubectl delete service web -n "$NS" >/dev/null
eventually 30 kubectl get service web -n "$NS" || fail "deleted Service was not recreated"
wait_ready web
note "drift undone"

# A forced full resync (SIGHUP) relists every kind, re-checks every
# GraceService, writes nothing when nothing changed, and the operator lives on.
mport=$(op_port operator metrics)
reqs() { curl -s "127.0.0.1:$mport/metrics" | awk -v m="$1" '/^rest_client_requests_total/ && $0 ~ "method=\""m"\"" {s+=$NF} END {print s+0}'; }
writes() { echo $(( $(reqs PATCH) + $(reqs POST) + $(reqs PUT) + $(reqs DELETE) )); }
w=$(writes); for _ in $(seq 20); do sleep 1; w2=$(writes); [ "$w2" = "$w" ] && break; w=$w2; done
gets=$(reqs GET)
kill -HUP "$operator_PID"
eventually 10 grep -q '"forced resync (SIGHUP)' "$WORK/operator.log" || fail "SIGHUP did not start a resync"
gets_above() { [ "$(reqs GET)" -gt "$1" ]; }
eventually 10 gets_above "$gets" || fail "the resync relisted nothing"
sleep 2
kill -0 "$operator_PID" || fail "the operator died on SIGHUP"
[ "$(writes)" = "$w" ] || fail "a resync with nothing changed wrote: $w -> $(writes) writes"
wait_ready web 5
note "forced resync: relisted, no writes"
