#!/usr/bin/env bash
# kubectl apply (client-side): create, change, no-op; a CR and a built-in kind.
. "$(dirname "$0")/lib.sh"
install_crd
make_ns

out=$(widget w1 small 2 | kubectl apply -f -) || fail "apply create"
[[ $out == *"widget.conformance.kubesim.dev/w1 created"* ]] || fail "unexpected: $out"
[ "$(jp widget/w1 '{.metadata.generation}')" = 1 ] || fail "generation should be 1"
[ "$(jp widget/w1 '{.spec.replicas}')" = 2 ] || fail "replicas"

out=$(widget w1 large 12 | kubectl apply -f -) || fail "apply change"
[[ $out == *"configured"* ]] || fail "expected configured: $out"
[ "$(jp widget/w1 '{.spec.size}/{.spec.replicas}/{.metadata.generation}')" = large/12/2 ] \
  || fail "change not applied: $(jp widget/w1 '{.spec}')"
ann=$(jp widget/w1 "{.metadata.annotations['kubectl\.kubernetes\.io/last-applied-configuration']}")
[[ $ann == *'"size":"large"'* ]] || fail "last-applied annotation: $ann"

out=$(widget w1 large 12 | kubectl apply -f -) || fail "apply again"
[[ $out == *"unchanged"* ]] || fail "expected unchanged: $out"

# schema default (replicas 1) and validation through apply
widget w2 medium | kubectl apply -f - >/dev/null || fail "apply w2"
[ "$(jp widget/w2 '{.spec.replicas}')" = 1 ] || fail "default replicas not applied"
if err=$(widget w3 huge | kubectl apply -f - 2>&1); then fail "enum violation accepted"; fi
[[ $err == *'Unsupported value: "huge"'* ]] || fail "enum error text: $err"
observe enum-error "$err"
if err=$(widget w4 small 11 | kubectl apply -f - 2>&1); then fail "CEL rule not enforced"; fi
[[ $err == *"more than 10 replicas need size large"* ]] || fail "CEL error text: $err"
observe cel-error "$err"
observe widget-w2 "$(jp widget/w2 '{.spec}') generation=$(jp widget/w2 '{.metadata.generation}')"

# a built-in kind (strategic merge patch path)
cat <<YAML | kubectl apply -f - >/dev/null || fail "configmap create"
apiVersion: v1
kind: ConfigMap
metadata: {name: cm1, namespace: $NS, labels: {a: "1"}}
data: {k1: v1, k2: v2}
YAML
cat <<YAML | kubectl apply -f - >/dev/null || fail "configmap change"
apiVersion: v1
kind: ConfigMap
metadata: {name: cm1, namespace: $NS, labels: {a: "1"}}
data: {k1: v1b}
YAML
[ "$(jp cm/cm1 '{.data}')" = '{"k1":"v1b"}' ] || fail "configmap data after apply: $(jp cm/cm1 '{.data}')"
note "ok"
