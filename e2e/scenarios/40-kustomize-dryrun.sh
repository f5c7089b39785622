#!/bin/bash
# The plain-manifest install (deploy/kustomize) renders with `kubectl
# kustomize` and the API server accepts every object in a server-side apply
# dry run (nothing is created). It is rendered through an overlay that moves
# it into this scenario's own namespace (the documented way to install
# elsewhere, replacements included), with and without the optional
# monitoring component. With the stand-ins running (they install hack/crds:
# cert-manager's Issuer and Certificate, the Prometheus Operator's kinds) every
# object must be served and accepted; without them (a bare cluster) objects of
# kinds the server does not serve are listed and skipped. Also checks that the copies of the CRD, the templates, the
# dashboard and the alert rules are in sync (hack/check-crd-sync.sh), and
# runs the alert rules' unit tests with promtool when it is installed.
. "$(dirname "$0")/gslib.sh"

"$E2E_ROOT/hack/check-crd-sync.sh" >"$WORK/sync.log" 2>&1 || { cat "$WORK/sync.log" >&2; fail "copies out of sync"; }
note "$(tail -1 "$WORK/sync.log")"

# The alert rules: valid PromQL, and they fire (and stay quiet) as intended.
if command -v promtool >/dev/null; then
  promtool check rules "$E2E_ROOT/charts/grace-operator/files/prometheus-rules.yaml" >"$WORK/promtool.log" 2>&1 &&
    promtool test rules "$E2E_ROOT/charts/grace-operator/tests/prometheus-rules.test.yaml" >>"$WORK/promtool.log" 2>&1 ||
    { cat "$WORK/promtool.log" >&2; fail "alert rules: promtool check/test failed"; }
  note "alert rules: promtool check and unit tests pass"
else
  note "promtool not installed: alert rules not unit-tested"
fi

kubectl create namespace "$NS" >/dev/null || fail "namespace $NS"

# overlay DIR [component]: an overlay of deploy/kustomize into $NS.
overlay() {
  local dir=$1 comp=${2:-} base
  mkdir -p "$dir"
  base=$(realpath --relative-to="$dir" "$E2E_ROOT/deploy/kustomize")
  {
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "namespace: $NS"
    echo "resources: [$base]"
    [ -n "$comp" ] && echo "components: [$base/components/$comp]"
    # The base's replacements, re-run after the namespace change.
    sed -n '/^replacements:/,$p' "$E2E_ROOT/deploy/kustomize/kustomization.yaml"
  } >"$dir/kustomization.yaml"
}

# served: "apiVersion kind" of every kind the server serves.
kubectl api-resources --no-headers 2>/dev/null | awk '{print $(NF-2), $NF}' | sort -u >"$WORK/served"
[ -s "$WORK/served" ] || fail "kubectl api-resources returned nothing"

# split RENDERED OUT SKIPPED: keep the documents whose kind is served.
split() {
  awk -v served="$WORK/served" -v out="$2" -v skipped="$3" '
    BEGIN { while ((getline l < served) > 0) ok[l] = 1 }
    function flush() {
      if (doc == "") return
      if (ok[av " " kd]) { printf "---\n%s", doc > out; n++ }
      else print av " " kd " " nm > skipped
      doc = ""; av = ""; kd = ""; nm = ""; inmeta = 0
    }
    /^---$/ { flush(); next }
    { doc = doc $0 "\n" }
    /^apiVersion: / { av = $2 }
    /^kind: / { kd = $2 }
    /^metadata:/ { inmeta = 1; next }
    inmeta && /^  name: / { nm = $2; inmeta = 0 }
    /^[a-z]/ && !/^metadata:/ { inmeta = 0 }
    END { flush() }' "$1"
  : >>"$2"; : >>"$3"
}

check_render() { # NAME FILE
  local name=$1 file=$2 objs
  objs=$(grep -c '^kind: ' "$file")
  # Everything namespaced lands in $NS; only the configuration's values still
  # name grace-system (the default admin Secret namespace and PostgreSQL host).
  if grep -n 'grace-system' "$file" | grep -v -e 'adminSecret:' -e 'host: postgres.grace-system.svc' >&2; then
    fail "$name: objects still point at grace-system after the namespace change"
  fi
  grep -q "grace-operator-webhook.$NS.svc" "$file" || fail "$name: certificate DNS names not moved to $NS"
  grep -q "inject-ca-from: $NS/grace-operator-webhook" "$file" || fail "$name: CA injector annotation not moved to $NS"
  note "$name: $objs objects rendered"
}

dry_run() { # NAME FILE
  local name=$1 file=$2 out
  split "$file" "$WORK/$name.apply.yaml" "$WORK/$name.skipped"
  while read -r av kd nm; do note "$name: not served here, skipped: $kd $nm ($av)"; done <"$WORK/$name.skipped"
  # With the stand-ins' CRDs installed (hack/crds: cert-manager, Prometheus Operator, ...)
  # every kind the install renders is served: nothing may be skipped.
  if [ "${E2E_STANDINS_RUNNING:-0}" = 1 ] && [ -s "$WORK/$name.skipped" ]; then
    fail "$name: kinds not served although the stand-ins installed hack/crds: $(cut -d' ' -f2 "$WORK/$name.skipped" | sort -u | tr '\n' ' ')"
  fi
  [ -s "$WORK/$name.apply.yaml" ] || fail "$name: nothing left to apply"
  out=$(kubectl apply --server-side --force-conflicts --field-manager=grace-e2e-dryrun \
    --dry-run=server -f "$WORK/$name.apply.yaml" 2>&1) || { echo "$out" >&2; fail "$name: server-side dry run rejected objects"; }
  echo "$out" | grep -q 'serverside-applied (server dry run)' || { echo "$out" >&2; fail "$name: unexpected kubectl output"; }
  note "$name: $(echo "$out" | grep -c 'server dry run') objects accepted by the server (dry run)"
}

overlay "$WORK/base"
kubectl kustomize "$WORK/base" >"$WORK/base.yaml" || fail "kubectl kustomize (base) failed"
check_render base "$WORK/base.yaml"
# The base alone (as shipped, namespace grace-system) renders too.
kubectl kustomize "$E2E_ROOT/deploy/kustomize" >"$WORK/shipped.yaml" || fail "kubectl kustomize deploy/kustomize failed"
dry_run base "$WORK/base.yaml"

overlay "$WORK/monitoring" monitoring
kubectl kustomize "$WORK/monitoring" >"$WORK/monitoring.yaml" || fail "kubectl kustomize (monitoring) failed"
check_render monitoring "$WORK/monitoring.yaml"
for k in ServiceMonitor PrometheusRule; do
  grep -q "^kind: $k$" "$WORK/monitoring.yaml" || fail "monitoring: no $k rendered"
done
grep -q 'grafana_dashboard: "1"' "$WORK/monitoring.yaml" || fail "monitoring: dashboard ConfigMap lacks the grafana_dashboard label"
dry_run monitoring "$WORK/monitoring.yaml"

# A dry run leaves nothing behind.
left=$(kubectl get deploy,svc,cm,sa,role,rolebinding,pdb -n "$NS" -o name 2>/dev/null | grep -v -e '^configmap/kube-root-ca.crt$' -e '^serviceaccount/default$' || true)
[ -z "$left" ] || fail "the dry run created objects: $left"
note "deploy/kustomize accepted by the API server (server-side dry run), nothing created"
