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
