#!/usr/bin/env bash
# A kubesim restarted with the same --dir keeps every object and keeps
# counting resourceVersions upward.  Starts its own private instance.
. "$(dirname "$0")/lib.sh"
need_kubesim
SIM="$CONF_DIR/../../hack/kubesim/kubesim.py"
[ -f "$SIM" ] || skip "kubesim.py not found"
DIR=$(mktemp -d)
PID=
stop_sim() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; PID=; }
trap 'stop_sim; rm -rf "$DIR"' EXIT
start_sim() {
  rm -f "$DIR/ready"
  python3 "$SIM" --dir "$DIR" >"$DIR/log" 2>&1 &
  PID=$!
  eventually 20 test -s "$DIR/ready" || fail "private kubesim did not start: $(cat "$DIR/log")"
}
start_sim
export KUBECONFIG="$DIR/kubeconfig"
kubectl create namespace keep >/dev/null || fail "ns"
rv0=$(kubectl get namespace keep -o jsonpath='{.metadata.resourceVersion}')
kubectl create configmap c1 -n keep --from-literal=a=1 >/dev/null || fail "cm"
rv1=$(kubectl get configmap c1 -n keep -o jsonpath='{.metadata.resourceVersion}')
uid1=$(kubectl get configmap c1 -n keep -o jsonpath='{.metadata.uid}')
stop_sim
start_sim
[ "$(kubectl get configmap c1 -n keep -o jsonpath='{.metadata.uid}')" = "$uid1" ] \
  || fail "object lost across restart"
kubectl patch configmap c1 -n keep --type=merge -p '{"data":{"a":"2"}}' >/dev/null || fail "patch"
rv2=$(kubectl get configmap c1 -n keep -o jsonpath='{.metadata.resourceVersion}')
[ "$rv2" -gt "$rv1" ] || fail "resourceVersion went backwards: $rv1 -> $rv2"
# the watch history starts again at the restart: the last RV before it still
# works, older ones are too old (like an apiserver's fresh watch cache)
out=$(kubectl get --raw "/api/v1/namespaces/keep/configmaps?watch=1&resourceVersion=$rv1&timeoutSeconds=1")
[[ $out == *'"type":"MODIFIED"'* ]] || fail "watch from the last pre-restart RV: $out"
out=$(kubectl get --raw "/api/v1/namespaces/keep/configmaps?watch=1&resourceVersion=$rv0&timeoutSeconds=1")
[[ $out == *'"code":410'* ]] || fail "older pre-restart RV should be expired: $out"
note "ok"
