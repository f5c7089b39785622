#!/usr/bin/env bash
# delete with a finalizer: the object stays (deletionTimestamp set) until the
# finalizer is removed; no new finalizers while terminating; then it is gone.
. "$(dirname "$0")/lib.sh"
install_crd
make_ns

cat <<YAML | kubectl apply -f - >/dev/null || fail "create"
apiVersion: conformance.kubesim.dev/v1
kind: Widget
metadata: {name: f1, namespace: $NS, finalizers: [conformance.kubesim.dev/hold]}
spec: {size: small}
YAML
kubectl delete widget f1 -n "$NS" --wait=false >/dev/null || fail "delete"
sleep 1
ts=$(jp widget/f1 '{.metadata.deletionTimestamp}') || fail "object vanished despite its finalizer"
[ -n "$ts" ] || fail "no deletionTimestamp"
[ "$(jp widget/f1 '{.metadata.generation}')" = 2 ] || fail "deletion did not bump generation"
if err=$(kubectl patch widget f1 -n "$NS" --type=json \
     -p '[{"op":"add","path":"/metadata/finalizers/-","value":"x.dev/another"}]' 2>&1); then
  fail "new finalizer accepted on a terminating object"
fi
observe terminating-finalizer-add "$err"
# kubectl wait --for=delete must still be waiting
if kubectl wait --for=delete widget/f1 -n "$NS" --timeout=1s >/dev/null 2>&1; then
  fail "wait --for=delete returned while the finalizer is set"
fi
kubectl patch widget f1 -n "$NS" --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' \
  >/dev/null || fail "finalizer removal"
eventually 5 bash -c "! kubectl get widget f1 -n $NS" || fail "object still there after finalizer removal"

# the same with a ConfigMap and kubectl delete waiting for the object to go
kubectl create configmap fcm -n "$NS" >/dev/null
kubectl patch configmap fcm -n "$NS" --type=merge -p '{"metadata":{"finalizers":["conformance.kubesim.dev/hold"]}}' >/dev/null
( sleep 1.5; kubectl patch configmap fcm -n "$NS" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null ) &
start=$SECONDS
kubectl delete configmap fcm -n "$NS" --timeout=20s >/dev/null || fail "delete configmap"
[ $((SECONDS - start)) -ge 1 ] || fail "kubectl delete returned before the finalizer was removed"
kubectl get configmap fcm -n "$NS" >/dev/null 2>&1 && fail "configmap still exists"
note "ok"
