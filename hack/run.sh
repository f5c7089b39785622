#!/bin/bash
# make run: run the operator.
#  - With KUBECONFIG set: run bin/grace-operator against that cluster, in the
#    foreground (flags from GRACE_FLAGS).
#  - Without: start a local API server under .run/ -- the real control plane
#    (hack/envtest.sh: kube-apiserver, etcd, kube-controller-manager) when its
#    binaries are found (KUBEBUILDER_ASSETS, default ../shared/envtest), else the
#    stand-in hack/kubesim (RUN_SERVER=kubesim|envtest forces one) -- the
#    dependency stand-ins and a local PostgreSQL, apply the CRD,
#    the PostgreSQL admin Secret and examples/peeps.yaml, start the operator,
#    and show the GraceService becoming Ready. Then follow the operator's log
#    until Ctrl-C (or exit at once when RUN_ONCE=1 or CI is set). Everything
#    started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bin/grace-operator

if [ -n "${KUBECONFIG:-}" ]; then
  echo "make run: KUBECONFIG is set: running against $(kubectl config current-context 2>/dev/null || echo '?')"
  # shellcheck disable=SC2086
  exec "$BIN" --kubeconfig "$KUBECONFIG" ${GRACE_FLAGS:-}
fi

RUN=$ROOT/.run
rm -rf "$RUN"; mkdir -p "$RUN"
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  bash hack/pg.sh stop "$RUN/pg" >/dev/null 2>&1
  [ -d "$RUN/envtest" ] && hack/envtest.sh stop "$RUN/envtest" >/dev/null 2>&1
  echo "make run: stopped everything (logs kept in .run/)"
}
trap cleanup EXIT INT TERM

step() { printf '\n== %s\n' "$*"; }

server=${RUN_SERVER:-}
if [ -z "$server" ]; then
  if hack/envtest.sh assets >"$RUN/envtest-assets.log" 2>&1; then server=envtest; else server=kubesim; fi
fi
if [ "$server" = envtest ]; then
  step "starting a local Kubernetes control plane (hack/envtest.sh: kube-apiserver, etcd, kube-controller-manager)"
  ENVTEST_OWNER_PID=$$ hack/envtest.sh start "$RUN/envtest" || exit 1
  export KUBECONFIG=$RUN/envtest/kubeconfig
else
  step "starting the local API server stand-in (hack/kubesim; no real control plane binaries found)"
  python3 hack/kubesim/kubesim.py --dir "$RUN/kubesim" >"$RUN/kubesim.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 200); do [ -f "$RUN/kubesim/ready" ] && break; sleep 0.1; done
  [ -f "$RUN/kubesim/ready" ] || { echo "kubesim did not start; see .run/kubesim.log"; tail -20 "$RUN/kubesim.log"; exit 1; }
  export KUBECONFIG=$RUN/kubesim/kubeconfig
fi
echo "KUBECONFIG=$KUBECONFIG  (use it with kubectl in another terminal)"

step "starting PostgreSQL on 127.0.0.1"
bash hack/pg.sh start "$RUN/pg" >"$RUN/pg-start.log" 2>&1 || { cat "$RUN/pg-start.log"; exit 1; }
# shellcheck disable=SC1091
. "$RUN/pg/pg.env"
echo "PostgreSQL at $PGHOST:$PGPORT"

step "installing the CRDs and the dependency stand-ins"
kubectl apply -f crds/graceservice.yaml >/dev/null
python3 hack/standins/standins.py --kubeconfig "$KUBECONFIG" --install-crds >"$RUN/standins.log" 2>&1 &
pids+=($!)
kubectl wait --for=condition=Established crd/graceservices.grace.dev --timeout=30s >/dev/null
for ns in grace grace-system kafka velero; do
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
done
kubectl -n grace-system create secret generic postgres-admin \
  --from-literal=host="$PGHOST" --from-literal=port="$PGPORT" \
  --from-literal=user="$PGUSER" --from-literal=password="$PGPASSWORD" \
  --from-literal=sslmode=disable --dry-run=client -o yaml | kubectl apply -f - >/dev/null
for _ in $(seq 1 100); do
  kubectl get crd kafkatopics.kafka.strimzi.io schedules.velero.io certificates.cert-manager.io >/dev/null 2>&1 && break
  sleep 0.2
done

step "starting the operator"
# shellcheck disable=SC2086
"$BIN" --kubeconfig "$KUBECONFIG" --health-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
  --webhook-addr off --log-format kv ${GRACE_FLAGS:-} >"$RUN/operator.log" 2>&1 &
pids+=($!)

step "kubectl apply -f examples/peeps.yaml"
kubectl apply -f examples/peeps.yaml
kubectl get gs -n grace
echo "waiting for Ready..."
if ! kubectl wait --for=condition=Ready gs/peeps -n grace --timeout=120s; then
  kubectl get gs peeps -n grace -o yaml | sed -n '/^status:/,$p'
  echo "--- operator log (tail)"; tail -30 "$RUN/operator.log"
  exit 1
fi
kubectl get gs -n grace
kubectl get deployments,services,secrets -n grace -l grace.dev/service=peeps
kubectl get certificates,ingressroutes -n grace 2>/dev/null || true
kubectl get kafkatopics,kafkausers -n kafka 2>/dev/null || true
kubectl get schedules -n velero 2>/dev/null || true

if [ -n "${RUN_ONCE:-}" ] || [ -n "${CI:-}" ] || [ ! -t 1 ]; then
  echo "make run: peeps is Ready (RUN_ONCE: stopping)"
  exit 0
fi
step "peeps is Ready. Following the operator log; Ctrl-C stops everything."
tail -f "$RUN/operator.log"
