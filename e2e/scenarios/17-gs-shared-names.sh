#!/bin/bash
# Names in shared namespaces: GraceService `c` in namespace `<x>-b` and `b-c`
# in `<x>` would both have been `<x>-b-c` in the Kafka and Velero namespaces.
# Each gets its own Schedule and KafkaUser (and Secret copy, user name,
# consumer group) named <ns>-<name>-<16 hex of SHA-256(ns/name)>; both are
# Ready; deleting one leaves the other's intact.
# Upgrade: objects under the old <ns>-<name> names, labelled for the service,
# are replaced and then removed (the KafkaUser and its Secret copy once the
# workload has rolled out); an old-style object labelled for another service
# is never touched.
. "$(dirname "$0")/gslib.sh"
NS2="$NS-b"
EXTRA_NS=("$NS2")
OLD="$NS-b-c" # the colliding <namespace>-<name> of both services

setup_env
kubectl create namespace "$NS2" >/dev/null || fail "namespace $NS2"

BC=$(unique_name "$NS" b-c)  # b-c in <x>
C=$(unique_name "$NS2" c)    # c in <x>-b
[ "$BC" != "$C" ] || fail "the expected names are equal"

# legacy: labels LABEL_NS LABEL_SVC: the operator's labels on an old object.
labels() { printf '{app.kubernetes.io/managed-by: grace-operator, grace.dev/namespace: %s, grace.dev/service: %s}' "$1" "$2"; }
# The upgrade's starting point, as the previous release left it: b-c's old
# Schedule; c's old KafkaUser (the last writer of the shared name) and its
# Secret copy; and an old Schedule of a third service, x, which is not ours.
kubectl apply -f - >/dev/null <<YAML || fail "legacy objects"
apiVersion: velero.io/v1
kind: Schedule
metadata: {name: $OLD, namespace: $BNS, labels: $(labels "$NS" b-c)}
spec: {schedule: "0 3 * * *", template: {includedNamespaces: [$NS]}}
---
apiVersion: velero.io/v1
kind: Schedule
metadata: {name: $NS-x, namespace: $BNS, labels: $(labels "$NS" x)}
spec: {schedule: "0 3 * * *", template: {includedNamespaces: [$NS]}}
---
apiVersion: kafka.strimzi.io/v1
kind: KafkaUser
metadata:
  name: $OLD
  namespace: $KNS
  labels: {app.kubernetes.io/managed-by: grace-operator, grace.dev/namespace: $NS2, grace.dev/service: c, strimzi.io/cluster: kafka}
spec: {authentication: {type: scram-sha-512}, authorization: {type: simple, acls: []}}
---
apiVersion: v1
kind: Secret
metadata: {name: $OLD, namespace: $NS2, labels: $(labels "$NS2" c)}
stringData: {password: old-password}
YAML

op_start operator
op_start operator-b --namespace "$NS2"

spec=('image: example/shared:1' 'kafka: {consumes: [shared.events]}')
gs_apply b-c "${spec[@]}"
NS=$NS2 gs_apply c "${spec[@]}"
for ns_name in "$NS/b-c" "$NS2/c"; do
  kubectl wait --for=condition=Ready "gs/${ns_name#*/}" -n "${ns_name%%/*}" --timeout=90s >/dev/null ||
    { kubectl get gs "${ns_name#*/}" -n "${ns_name%%/*}" -o yaml | sed -n '/^status:/,$p' >&2; fail "gs/$ns_name not Ready"; }
done

# both_present NS NAME UNIQUE: its Schedule, KafkaUser, Secret copy, status and env.
both_present() {
  local ns=$1 name=$2 u=$3
  [ "$(jp "schedule/$u" '{.metadata.labels.grace\.dev/service}' "$BNS")" = "$name" ] || fail "Schedule $u (of $ns/$name) missing"
  [ "$(jp "kafkauser/$u" '{.metadata.labels.grace\.dev/namespace}' "$KNS")" = "$ns" ] || fail "KafkaUser $u (of $ns/$name) missing"
  [ -n "$(jp "secret/$u" '{.data.password}' "$ns")" ] || fail "Secret copy $ns/$u missing"
  [ "$(jp "gs/$name" '{.status.kafka.user}' "$ns")" = "$u" ] || fail "$ns/$name: status.kafka.user is not $u"
  [ "$(jp "deployment/$name" '{.spec.template.spec.containers[0].env[?(@.name=="KAFKA_USERNAME")].value}' "$ns")" = "$u" ] ||
    fail "$ns/$name: KAFKA_USERNAME is not $u"
}
both_present "$NS" b-c "$BC"
both_present "$NS2" c "$C"
[ "$(kubectl get schedules -n "$BNS" -l "grace.dev/service in (b-c,c)" -o name | wc -l)" = 2 ] || fail "not two Schedules"
note "two services, two Schedules ($BC, $C), two KafkaUsers"

# The upgrade: the old names go (once replaced), the other service's stays.
eventually 60 bash -c "! kubectl get schedule $OLD -n $BNS" || fail "b-c's old Schedule $OLD was not removed"
eventually 60 bash -c "! kubectl get kafkauser $OLD -n $KNS" || fail "c's old KafkaUser $OLD was not removed"
eventually 60 bash -c "! kubectl get secret $OLD -n $NS2" || fail "c's old Secret copy $OLD was not removed"
kubectl get schedule "$NS-x" -n "$BNS" >/dev/null 2>&1 || fail "another service's old Schedule $NS-x was deleted"
note "old-name objects replaced, then removed; another service's left alone"

# Deleting one leaves the other's intact.
kubectl delete gs c -n "$NS2" --wait=false >/dev/null
eventually 60 bash -c "! kubectl get gs c -n $NS2" || fail "gs c was not deleted"
eventually 30 bash -c "! kubectl get schedule $C -n $BNS && ! kubectl get kafkauser $C -n $KNS" ||
  fail "c's Schedule or KafkaUser left after its deletion"
both_present "$NS" b-c "$BC"
[ "$(cond b-c Ready)" = True ] || fail "b-c is no longer Ready"
kubectl get schedule "$NS-x" -n "$BNS" >/dev/null 2>&1 || fail "another service's old Schedule $NS-x was deleted"
note "deleting c left b-c's Schedule, KafkaUser and Secret intact"
