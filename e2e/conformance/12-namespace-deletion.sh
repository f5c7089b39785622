#!/usr/bin/env bash
# Namespace deletion: Terminating, no new content (403), contents deleted,
# held by an object's finalizer until it is removed.
. "$(dirname "$0")/lib.sh"
install_crd
make_ns

kubectl create configmap c -n "$NS" >/dev/null
cat <<YAML | kubectl apply -f - >/dev/null || fail "held widget"
apiVersion: conformance.kubesim.dev/v1
kind: Widget
metadata: {name: held, namespace: $NS, finalizers: [conformance.kubesim.dev/hold]}
spec: {size: small}
YAML
kubectl delete namespace "$NS" --wait=false >/dev/null || fail "delete ns"
[ "$(kubectl get namespace "$NS" -o jsonpath='{.status.phase}')" = Terminating ] || fail "not Terminating"
if err=$(kubectl create configmap late -n "$NS" 2>&1); then fail "created into a terminating namespace"; fi
[[ $err == *"forbidden"* && $err == *"being terminated"* ]] || fail "403 text: $err"
eventually 10 bash -c "! kubectl get configmap c -n $NS" || fail "contents not deleted"
sleep 1
kubectl get namespace "$NS" >/dev/null 2>&1 || fail "namespace gone while a finalizer holds content"
[ -n "$(jp widget/held '{.metadata.deletionTimestamp}')" ] || fail "held object not terminating"
kubectl patch widget held -n "$NS" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
eventually 20 bash -c "! kubectl get namespace $NS" || fail "namespace not removed"
note "ok"
