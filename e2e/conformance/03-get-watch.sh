#!/usr/bin/env bash
# kubectl get -w: the initial list, then a change made while watching arrives.
. "$(dirname "$0")/lib.sh"
install_crd
make_ns

widget g1 small 1 | kubectl apply -f - >/dev/null || fail "create"
out=$(mktemp)
kubectl get widgets -n "$NS" -w --no-headers > "$out" 2>&1 &
wpid=$!
eventually 10 grep -q "^g1 .*small" "$out" || fail "initial row missing: $(cat "$out")"
kubectl patch widget g1 -n "$NS" --type=merge -p '{"spec":{"replicas":7}}' >/dev/null || fail "patch"
eventually 10 grep -q "^g1 .* 7 " "$out" || fail "change not seen by get -w: $(cat "$out")"
widget g2 medium | kubectl apply -f - >/dev/null || fail "create g2"
eventually 10 grep -q "^g2 .*medium" "$out" || fail "new object not seen: $(cat "$out")"
kill $wpid 2>/dev/null || true
wait $wpid 2>/dev/null || true

# raw watch from a resourceVersion: MODIFIED then DELETED, then the timeout ends it
rv=$(kubectl get widgets -n "$NS" -o jsonpath='{.metadata.resourceVersion}')
raw=$(mktemp)
kubectl get --raw "/apis/conformance.kubesim.dev/v1/namespaces/$NS/widgets?watch=1&resourceVersion=$rv&allowWatchBookmarks=true&timeoutSeconds=3" > "$raw" &
rpid=$!
sleep 0.5
kubectl patch widget g2 -n "$NS" --type=merge -p '{"spec":{"color":"red"}}' >/dev/null
kubectl delete widget g2 -n "$NS" >/dev/null
wait $rpid || fail "raw watch failed"
grep -q '"type":"MODIFIED".*"color":"red"' "$raw" || fail "MODIFIED missing: $(cat "$raw")"
grep -q '"type":"DELETED"' "$raw" || fail "DELETED missing: $(cat "$raw")"
grep -q '"type":"BOOKMARK"' "$raw" || fail "BOOKMARK missing: $(cat "$raw")"
rm -f "$out" "$raw"
note "ok"
