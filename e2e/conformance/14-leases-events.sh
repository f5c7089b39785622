#!/usr/bin/env bash
# Leases (leader election): create, optimistic renew, create-on-PUT, MicroTime
# parsing; Events through events.k8s.io/v1 and core/v1 (one object, two views).
. "$(dirname "$0")/lib.sh"
make_ns

lease() {  # lease NAME HOLDER RENEW
  cat <<YAML
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: $1, namespace: $NS}
spec: {holderIdentity: $2, leaseDurationSeconds: 15, renewTime: "$3"}
YAML
}
lease op a "2026-11-28T12:00:00.000000Z" | kubectl create -f - >/dev/null || fail "lease create"
if err=$(lease op b "2026-11-28T12:00:00.000000Z" | kubectl create -f - 2>&1); then
  fail "second create of the same lease succeeded"
fi
observe duplicate-create "$err"
rv=$(jp lease/op '{.metadata.resourceVersion}')
kubectl get lease op -n "$NS" -o json | python3 -c '
import json, sys
o = json.load(sys.stdin); o["spec"]["renewTime"] = "2026-11-28T12:00:02.000000Z"; print(json.dumps(o))' \
  > "/tmp/lease-$NS.json"
kubectl replace -f "/tmp/lease-$NS.json" >/dev/null || fail "renew"
[ "$(jp lease/op '{.metadata.resourceVersion}')" != "$rv" ] || fail "renew did not bump the RV"
if err=$(kubectl replace -f "/tmp/lease-$NS.json" 2>&1); then fail "stale renew accepted"; fi
observe stale-renew "$err"
rm -f "/tmp/lease-$NS.json"
# PUT to a missing Lease creates it
lease other x "2026-11-28T12:00:00.000000Z" | kubectl replace -f - >/dev/null || fail "create-on-update"
kubectl get lease other -n "$NS" >/dev/null || fail "lease not created by PUT"
# MicroTime: 6 fractional digits required; offsets normalised to UTC
if err=$(lease bad x "2026-11-28T12:00:00Z" | kubectl create -f - 2>&1); then fail "MicroTime without fraction accepted"; fi
[[ $err == *'cannot parse "Z" as ".000000"'* ]] || fail "MicroTime error: $err"
observe microtime-error "$err"
lease tz x "2026-11-28T13:00:00.123456+01:00" | kubectl create -f - >/dev/null || fail "offset MicroTime"
[ "$(jp lease/tz '{.spec.renewTime}')" = "2026-11-28T12:00:00.123456Z" ] || fail "not normalised to UTC"

cat <<YAML | kubectl create -f - >/dev/null || fail "events.k8s.io create"
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: e1, namespace: $NS}
eventTime: "2026-11-28T12:00:00.000000Z"
reportingController: kubesim.dev/conformance
reportingInstance: conformance-1
action: Test
reason: Tested
type: Normal
note: hello from events.k8s.io
regarding: {apiVersion: v1, kind: ConfigMap, namespace: $NS, name: target, uid: "1234"}
YAML
[ "$(kubectl get events.v1.events.k8s.io e1 -n "$NS" -o jsonpath='{.note}')" = "hello from events.k8s.io" ] \
  || fail "events.k8s.io view"
[ "$(kubectl get events.v1. e1 -n "$NS" -o jsonpath='{.message}/{.involvedObject.name}/{.reportingComponent}')" \
  = "hello from events.k8s.io/target/kubesim.dev/conformance" ] || fail "core/v1 view"
names=$(kubectl get events.v1. -n "$NS" --field-selector "involvedObject.name=target,involvedObject.kind=ConfigMap" -o name)
[ "$names" = event/e1 ] || fail "involvedObject field selector: $names"
if err=$(cat <<YAML | kubectl create -f - 2>&1
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: e2, namespace: $NS}
eventTime: "2026-11-28T12:00:00.000000Z"
reportingController: kubesim.dev/conformance
reportingInstance: conformance-1
type: Normal
regarding: {apiVersion: v1, kind: ConfigMap, namespace: $NS, name: target}
YAML
); then fail "event without action/reason accepted"; fi
[[ $err == *"action: Required value"* && $err == *"reason: Required value"* ]] || fail "event 422: $err"
observe event-422 "$err"
note "ok"
