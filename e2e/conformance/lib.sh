# Shared helpers for the conformance scenarios (sourced, not run).
# Each scenario uses the real kubectl with $KUBECONFIG; $KUBESIM_DIR is set
# when the server is the local stand-in (hack/kubesim).  Exit codes: 0 pass,
# 1 fail, 77 skip.  A scenario creates its own namespace and deletes it on exit.
set -euo pipefail

CONF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCENARIO=$(basename "$0" .sh)
NS="c${SCENARIO%%-*}-$(printf '%04x%04x' $RANDOM $RANDOM)"
CRD=widgets.conformance.kubesim.dev

fail() { echo "FAIL [$SCENARIO]: $*" >&2; exit 1; }
note() { echo "  [$SCENARIO] $*"; }
skip() { echo "SKIP [$SCENARIO]: $*"; exit 77; }

cleanup() {
  local rc=$?
  local pids
  pids=$(jobs -p) || true
  [ -n "$pids" ] && kill $pids 2>/dev/null || true
  # drop finalizers a failed scenario may have left, then the namespace
  for r in $(kubectl get widgets,configmaps -n "$NS" -o name 2>/dev/null || true); do
    kubectl patch "$r" -n "$NS" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
  done
  kubectl delete namespace "$NS" --wait=false --ignore-not-found >/dev/null 2>&1 || true
  exit $rc
}
trap cleanup EXIT

# observe KEY VALUE...: record what the server answered. The harness runs every case on
# the real kube-apiserver and on kubesim and fails when their observations differ, so
# record only what both must agree on (status codes, reasons, field values; not names
# with random suffixes, timestamps or resourceVersions).
observe() {
  local key=$1
  shift
  # the scenario's random namespace name is replaced, so both servers' lines compare
  [ -n "${E2E_OBSERVE_FILE:-}" ] && printf '%s: %s\n' "$key" "${*//$NS/<ns>}" >>"$E2E_OBSERVE_FILE"
  return 0
}

need_kubesim() { [ -n "${KUBESIM_DIR:-}" ] || skip "needs the kubesim stand-in (KUBESIM_DIR unset)"; }

# eventually SECONDS CMD...: retry CMD every 0.1 s until it succeeds.
eventually() {
  local t=$1; shift
  local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.1
  done
}

make_ns() { kubectl create namespace "$NS" >/dev/null || fail "cannot create namespace $NS"; }

install_crd() {
  kubectl apply -f "$CONF_DIR/fixtures/widget-crd.yaml" >/dev/null || fail "CRD apply"
  kubectl wait --for=condition=Established "crd/$CRD" --timeout=30s >/dev/null || fail "CRD not Established"
  # Established is set before the real server's discovery documents list the new kind
  # (they are rebuilt asynchronously), so kubectl may not resolve "widgets" yet.
  eventually 15 kubectl get widgets -n default || fail "widgets not in discovery"
}

# widget NAME SIZE [REPLICAS]: a Widget manifest on stdout
widget() {
  cat <<YAML
apiVersion: conformance.kubesim.dev/v1
kind: Widget
metadata:
  name: $1
  namespace: $NS
spec:
  size: $2
YAML
  [ -n "${3:-}" ] && echo "  replicas: $3"
  return 0
}

jp() { kubectl get "$1" -n "$NS" -o "jsonpath=$2"; }

# raw_post PATH JSON: POST a JSON body through kubectl's credentials
raw_post() {
  local f
  f=$(mktemp)
  printf '%s' "$2" > "$f"
  kubectl create --raw "$1" -f "$f"
  rm -f "$f"
}
