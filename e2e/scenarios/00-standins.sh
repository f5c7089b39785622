#!/usr/bin/env bash
# The dependency stand-ins (hack/standins) make children ready the way the real
# controllers would: a Deployment becomes Available, a Certificate Ready with its
# kubernetes.io/tls Secret, a KafkaTopic and a KafkaUser Ready (with the user's
# Secret, owned by the KafkaUser), a Velero Schedule phase=Enabled. A spec change
# is followed (observedGeneration catches up).
. "$(dirname "$0")/../lib.sh"
need_standins
ns_create standins

kc apply -f - >/dev/null <<YAML || fail "apply"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: $NS}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: registry.k8s.io/pause:3.9}]}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: $NS}
spec:
  secretName: web-tls
  dnsNames: [web.e2e.example.com]
  issuerRef: {name: letsencrypt-dns, kind: ClusterIssuer, group: cert-manager.io}
  secretTemplate: {labels: {app.kubernetes.io/managed-by: e2e}}
---
apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata: {name: web.events, namespace: $NS, labels: {strimzi.io/cluster: kafka}}
spec: {partitions: 3, replicas: 1, config: {retention.ms: "604800000"}}
---
apiVersion: kafka.strimzi.io/v1
kind: KafkaUser
metadata: {name: web, namespace: $NS, labels: {strimzi.io/cluster: kafka}}
spec:
  authentication: {type: scram-sha-512}
  authorization:
    type: simple
    acls:
    - resource: {type: topic, name: web.events, patternType: literal}
      operations: [Describe, Read]
---
apiVersion: velero.io/v1
kind: Schedule
metadata: {name: web, namespace: $NS}
spec:
  schedule: "0 3 * * *"
  template: {includedNamespaces: [$NS], ttl: 720h0m0s}
YAML

kc wait -n "$NS" --for=condition=Available deployment/web --timeout=60s >/dev/null ||
  fail "Deployment not Available"
kc wait -n "$NS" --for=condition=Ready certificate/web kafkatopic/web.events kafkauser/web \
  --timeout=60s >/dev/null || fail "Certificate/KafkaTopic/KafkaUser not Ready"
kc wait -n "$NS" --for=jsonpath='{.status.phase}'=Enabled schedule/web --timeout=60s >/dev/null ||
  fail "Schedule not Enabled"
note "all children ready"

get() { kc get -n "$NS" "$1" -o "jsonpath=$2"; }
assert_eq 2 "$(get deployment/web '{.status.availableReplicas}')" "availableReplicas"
assert_eq kubernetes.io/tls "$(get secret/web-tls '{.type}')" "TLS Secret type"
get secret/web-tls '{.data.tls\.crt}' | base64 -d | grep -q 'BEGIN CERTIFICATE' || fail "tls.crt"
[ -n "$(get secret/web-tls '{.data.tls\.key}')" ] || fail "tls.key missing"
assert_eq e2e "$(get secret/web-tls '{.metadata.labels.app\.kubernetes\.io/managed-by}')" \
  "secretTemplate label"
assert_eq "$(get certificate/web '{.metadata.generation}')" \
  "$(get certificate/web '{.status.conditions[?(@.type=="Ready")].observedGeneration}')" \
  "Certificate Ready observedGeneration"
assert_eq web.events "$(get kafkatopic/web.events '{.status.topicName}')" "topicName"
assert_eq web "$(get kafkauser/web '{.status.username}')" "username"
[ -n "$(get secret/web '{.data.password}')" ] || fail "KafkaUser Secret has no password"
get secret/web '{.data.sasl\.jaas\.config}' | base64 -d | grep -q 'username="web"' ||
  fail "sasl.jaas.config"
assert_eq "$(get kafkauser/web '{.metadata.uid}')" \
  "$(get secret/web '{.metadata.ownerReferences[0].uid}')" "KafkaUser Secret owner"

# A spec change: the stand-ins follow the new generation.
kc scale -n "$NS" deployment/web --replicas=3 >/dev/null || fail "scale"
wait_for "[ \"\$(get deployment/web '{.status.availableReplicas}')\" = 3 ]" 30 \
  "3 available replicas"
assert_eq "$(get deployment/web '{.metadata.generation}')" \
  "$(get deployment/web '{.status.observedGeneration}')" "Deployment observedGeneration"
kc patch -n "$NS" kafkatopic/web.events --type=merge -p '{"spec":{"partitions":6}}' >/dev/null
wait_for "[ \"\$(get kafkatopic/web.events '{.status.observedGeneration}')\" = 2 ]" 30 \
  "KafkaTopic observedGeneration 2"
note "spec changes followed"
