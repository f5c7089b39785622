#!/usr/bin/env bash
# kubectl apply --server-side: managedFields, a conflict between two managers
# (409 with the manager and field named), --force-conflicts, field release.
. "$(dirname "$0")/lib.sh"
install_crd
make_ns

widget s1 small 2 | kubectl apply --server-side --field-manager=mgr-a -f - >/dev/null \
  || fail "ssa create"
mf=$(jp widget/s1 '{range .metadata.managedFields[*]}{.manager}:{.operation} {end}')
[[ $mf == *"mgr-a:Apply"* ]] || fail "managedFields: $mf"
observe managedFields "$mf"

# the same value from another manager is shared ownership, not a conflict
widget s1 small | kubectl apply --server-side --field-manager=mgr-b -f - >/dev/null \
  || fail "co-owning apply rejected"

if err=$(widget s1 small 5 | kubectl apply --server-side --field-manager=mgr-b -f - 2>&1); then
  fail "conflicting apply succeeded"
fi
[[ $err == *'conflict with "mgr-a"'* && $err == *".spec.replicas"* ]] || fail "conflict text: $err"
observe conflict "$(printf '%s\n' "$err" | head -1)"
[ "$(jp widget/s1 '{.spec.replicas}')" = 2 ] || fail "conflicting apply changed the object"

widget s1 small 5 | kubectl apply --server-side --force-conflicts --field-manager=mgr-b -f - \
  >/dev/null || fail "forced apply"
[ "$(jp widget/s1 '{.spec.replicas}')" = 5 ] || fail "forced value not stored"
own=$(kubectl get widget s1 -n "$NS" -o json --show-managed-fields | python3 -c '
import json, sys
o = json.load(sys.stdin)
for e in o["metadata"]["managedFields"]:
    if "f:replicas" in json.dumps(e.get("fieldsV1", {})):
        print(e["manager"])')
[ "$own" = mgr-b ] || fail "replicas should be owned by mgr-b only, got: $own"
observe managers-after-force "$(jp widget/s1 '{range .metadata.managedFields[*]}{.manager}:{.operation} {end}')"

# mgr-b stops sending replicas: nobody owns it, it is removed and re-defaulted to 1
widget s1 small | kubectl apply --server-side --field-manager=mgr-b -f - >/dev/null || fail "release"
[ "$(jp widget/s1 '{.spec.replicas}')" = 1 ] || fail "released field not re-defaulted"

# a second identical apply is a no-op (same resourceVersion)
rv=$(jp widget/s1 '{.metadata.resourceVersion}')
widget s1 small | kubectl apply --server-side --field-manager=mgr-b -f - >/dev/null || fail "no-op"
[ "$(jp widget/s1 '{.metadata.resourceVersion}')" = "$rv" ] || fail "no-op apply changed the RV"
note "ok"
