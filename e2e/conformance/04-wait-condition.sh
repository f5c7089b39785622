#!/usr/bin/env bash
# kubectl wait --for=condition: times out without the condition, ignores a
# condition whose observedGeneration is stale, succeeds once it is current.
. "$(dirname "$0")/lib.sh"
install_crd
make_ns

widget c1 small | kubectl apply -f - >/dev/null || fail "create"
widget c1 medium | kubectl apply -f - >/dev/null || fail "update"
gen=$(jp widget/c1 '{.metadata.generation}')
[ "$gen" = 2 ] || fail "generation should be 2, got $gen"

if kubectl wait --for=condition=Ready "widget/c1" -n "$NS" --timeout=2s >/dev/null 2>&1; then
  fail "wait succeeded without a Ready condition"
fi

stale=$((gen - 1))
kubectl patch widget c1 -n "$NS" --subresource=status --type=merge -p "{\"status\":{\"observedGeneration\":$stale,\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Done\",\"message\":\"\",\"observedGeneration\":$stale,\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}}" >/dev/null \
  || fail "status patch"
[ "$(jp widget/c1 '{.metadata.generation}')" = "$gen" ] || fail "status write bumped generation"
if kubectl wait --for=condition=Ready "widget/c1" -n "$NS" --timeout=2s >/dev/null 2>&1; then
  fail "wait accepted a condition with a stale observedGeneration"
fi

( sleep 1
  kubectl patch widget c1 -n "$NS" --subresource=status --type=merge -p "{\"status\":{\"observedGeneration\":$gen,\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Done\",\"message\":\"\",\"observedGeneration\":$gen,\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}}" >/dev/null ) &
out=$(kubectl wait --for=condition=Ready "widget/c1" -n "$NS" --timeout=20s) || fail "wait did not see the condition"
[[ $out == *"condition met"* ]] || fail "wait output: $out"
# status on the main resource is ignored when a status subresource exists
kubectl patch widget c1 -n "$NS" --type=merge -p '{"status":{"message":"ignored"}}' >/dev/null || fail "main patch"
[ -z "$(jp widget/c1 '{.status.message}')" ] || fail "status written through the main resource"
note "ok"
