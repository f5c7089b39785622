#!/usr/bin/env bash
# ownerReferences and the garbage collector: background, foreground (held by
# a dependent's finalizer), orphan; dangling and cross-namespace owners.
. "$(dirname "$0")/lib.sh"
install_crd
make_ns

owner() {  # owner NAME -> uid
  widget "$1" small | kubectl apply -f - >/dev/null || fail "owner $1"
  jp "widget/$1" '{.metadata.uid}'
}
dependent() {  # dependent NAME OWNER UID [NS] [FINALIZER]
  local ns=${4:-$NS} fin=""
  [ -n "${5:-}" ] && fin="finalizers: [$5]"
  cat <<YAML | kubectl apply -f - >/dev/null || fail "dependent $1"
apiVersion: v1
kind: ConfigMap
metadata:
  name: $1
  namespace: $ns
  $fin
  ownerReferences:
  - {apiVersion: conformance.kubesim.dev/v1, kind: Widget, name: $2, uid: "$3", controller: true, blockOwnerDeletion: true}
data: {k: v}
YAML
}
gone() { ! kubectl get "$1" -n "${2:-$NS}" >/dev/null 2>&1; }

# background (the default)
uid=$(owner o-bg); dependent d-bg o-bg "$uid"
kubectl delete widget o-bg -n "$NS" >/dev/null || fail "delete o-bg"
# The real garbage collector starts watching a new CRD's kind at its next discovery
# sync (kube-controller-manager: every 30 s), so the first collection after the CRD
# was installed may take that long; the later ones are prompt.
eventually 45 gone cm/d-bg || fail "background: dependent not collected"

# foreground, with a dependent that has its own finalizer
uid=$(owner o-fg); dependent d-fg o-fg "$uid" "$NS" conformance.kubesim.dev/hold
kubectl delete widget o-fg -n "$NS" --cascade=foreground --wait=false >/dev/null || fail "fg delete"
sleep 1
[[ $(jp widget/o-fg '{.metadata.finalizers}') == *foregroundDeletion* ]] || fail "owner lacks foregroundDeletion"
[ -n "$(jp cm/d-fg '{.metadata.deletionTimestamp}')" ] || fail "dependent not being deleted"
kubectl patch cm d-fg -n "$NS" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
eventually 5 gone cm/d-fg || fail "foreground: dependent still there"
eventually 5 gone widget/o-fg || fail "foreground: owner still there"

# orphan: the dependent survives without its ownerReference
uid=$(owner o-or); dependent d-or o-or "$uid"
kubectl delete widget o-or -n "$NS" --cascade=orphan >/dev/null || fail "orphan delete"
eventually 5 gone widget/o-or || fail "orphan: owner still there"
sleep 0.5
kubectl get cm d-or -n "$NS" >/dev/null 2>&1 || fail "orphan: dependent was deleted"
[ -z "$(jp cm/d-or '{.metadata.ownerReferences}')" ] || fail "orphan: ownerReferences kept"

# a wrong uid, or an owner in another namespace, counts as a missing owner
uid=$(owner o-real)
dependent d-wrong o-real 00000000-0000-0000-0000-000000000001
eventually 5 gone cm/d-wrong || fail "dependent with a wrong owner uid survived"
dependent d-keep o-real "$uid"
sleep 0.5
kubectl get cm d-keep -n "$NS" >/dev/null 2>&1 || fail "dependent of a live owner was deleted"
note "ok"
