#!/bin/sh
# hack/check-crd-sync.sh: the install manifests carry copies of files whose
# source of truth lives elsewhere in the repository (Helm's .Files and
# kustomize's generators only read files inside their own directory). This
# checks that every copy is byte-identical to its source and that no copy is
# missing or left over, and exits non-zero with a message naming each
# difference.
#
#   hack/check-crd-sync.sh          check (exit 0: in sync, 1: out of sync)
#   hack/check-crd-sync.sh --fix    copy the sources over the copies, then check
#
# Sources -> copies:
#   crds/graceservice.yaml      -> charts/grace-operator/crds/graceservice.yaml
#                                  deploy/kustomize/crds/graceservice.yaml
#   templates/*.lua             -> charts/grace-operator/files/templates/*.lua
#                                  deploy/kustomize/templates/*.lua
#   charts/grafana-dashboard.json -> charts/grace-operator/files/grafana-dashboard.json
#                                  deploy/kustomize/components/monitoring/grafana-dashboard.json
#   charts/grace-operator/files/prometheus-rules.yaml
#                               -> the spec of deploy/kustomize/components/monitoring/prometheusrule.yaml
#                                  (everything after its "spec:" line, indented by two spaces)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

FIX=0
case "${1:-}" in
  --fix) FIX=1 ;;
  "") ;;
  -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--fix]" >&2; exit 2 ;;
esac

bad=0
problem() { echo "check-crd-sync: $*" >&2; bad=1; }

# same SRC COPY: COPY must exist and be byte-identical to SRC.
same() {
  if [ ! -f "$1" ]; then problem "source $1 is missing"; return; fi
  if [ "$FIX" = 1 ]; then
    mkdir -p "$(dirname "$2")"
    cmp -s "$1" "$2" || { cp "$1" "$2"; echo "check-crd-sync: updated $2 from $1"; }
  fi
  if [ ! -f "$2" ]; then
    problem "$2 is missing (copy of $1; run hack/check-crd-sync.sh --fix)"
  elif ! cmp -s "$1" "$2"; then
    problem "$2 differs from $1 (run hack/check-crd-sync.sh --fix)"
  fi
}

# same_dir SRCDIR COPYDIR EXT: every SRCDIR/*.EXT has an identical copy and
# COPYDIR holds no other *.EXT (a template deleted at the source must go).
same_dir() {
  for f in "$1"/*."$3"; do
    [ -e "$f" ] || { problem "no *.$3 files in $1"; return; }
    same "$f" "$2/$(basename "$f")"
  done
  for f in "$2"/*."$3"; do
    [ -e "$f" ] || continue
    [ -f "$1/$(basename "$f")" ] && continue
    if [ "$FIX" = 1 ]; then rm -f "$f"; echo "check-crd-sync: removed $f (no longer in $1)"; continue; fi
    problem "$f has no source $1/$(basename "$f") (run hack/check-crd-sync.sh --fix)"
  done
}

same crds/graceservice.yaml charts/grace-operator/crds/graceservice.yaml
same crds/graceservice.yaml deploy/kustomize/crds/graceservice.yaml
same_dir templates charts/grace-operator/files/templates lua
same_dir templates deploy/kustomize/templates lua
same charts/grafana-dashboard.json charts/grace-operator/files/grafana-dashboard.json
same charts/grafana-dashboard.json deploy/kustomize/components/monitoring/grafana-dashboard.json

# kustomize's configMapGenerator lists the template files one by one.
for f in templates/*.lua; do
  grep -q "^  - $f\$" deploy/kustomize/kustomization.yaml ||
    problem "deploy/kustomize/kustomization.yaml does not list $f in the grace-operator-templates configMapGenerator"
done

# The PrometheusRule spec: the chart's rules file, indented by two spaces,
# must be exactly what follows "spec:" in the kustomize object.
rules=charts/grace-operator/files/prometheus-rules.yaml
prule=deploy/kustomize/components/monitoring/prometheusrule.yaml
if [ ! -f "$rules" ] || [ ! -f "$prule" ]; then
  problem "$rules or $prule is missing"
else
  want=$(sed 's/^/  /; s/^  $//' "$rules")
  got=$(sed -n '/^spec:$/,$p' "$prule" | sed 1d)
  if [ "$want" != "$got" ]; then
    if [ "$FIX" = 1 ]; then
      { sed '/^spec:$/q' "$prule"; printf '%s\n' "$want"; } >"$prule.tmp" && mv "$prule.tmp" "$prule"
      echo "check-crd-sync: updated the spec of $prule from $rules"
    else
      problem "the spec of $prule differs from $rules (run hack/check-crd-sync.sh --fix)"
    fi
  fi
fi

if [ "$bad" != 0 ]; then
  echo "check-crd-sync: FAILED: the copies above are out of sync with their sources" >&2
  exit 1
fi
echo "check-crd-sync: ok (CRD, templates, dashboard and alert rule copies are identical to their sources)"
