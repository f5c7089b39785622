#!/usr/bin/env bash
# kubesim fault switches: injected 500/429 answers, dropping every watch.
. "$(dirname "$0")/lib.sh"
need_kubesim
make_ns
URL=$(cat "$KUBESIM_DIR/url")
TOKEN=$(cat "$KUBESIM_DIR/token")
code() { curl -s -o /dev/null -w '%{http_code}' --cacert "$KUBESIM_DIR/ca.crt" \
           -H "Authorization: Bearer $TOKEN" "$URL$1"; }
trap 'raw_post /_sim/faults "{\"errorRate\": 0}" >/dev/null 2>&1 || true; cleanup' EXIT

[ "$(code "/api/v1/namespaces/$NS/configmaps")" = 200 ] || fail "baseline"
raw_post /_sim/faults "{\"errorRate\": 1, \"errorCode\": 429, \"errorPaths\": \"/namespaces/$NS/\"}" >/dev/null
[ "$(code "/api/v1/namespaces/$NS/configmaps")" = 429 ] || fail "429 not injected"
body=$(curl -s -D - --cacert "$KUBESIM_DIR/ca.crt" -H "Authorization: Bearer $TOKEN" \
       "$URL/api/v1/namespaces/$NS/configmaps")
[[ $body == *"Retry-After: 1"* && $body == *'"reason": "TooManyRequests"'* ]] || fail "429 shape: $body"
[ "$(code /api/v1/namespaces)" = 200 ] || fail "errorPaths filter ignored"
raw_post /_sim/faults "{\"errorRate\": 1, \"errorCode\": 500, \"errorPaths\": \"/namespaces/$NS/\"}" >/dev/null
[ "$(code "/api/v1/namespaces/$NS/configmaps")" = 500 ] || fail "500 not injected"
raw_post /_sim/faults '{"errorRate": 0}' >/dev/null
[ "$(code "/api/v1/namespaces/$NS/configmaps")" = 200 ] || fail "errorRate 0 did not disable"

# dropWatches: an open watch ends at once (no timeout reached)
start=$SECONDS
kubectl get --raw "/api/v1/namespaces/$NS/configmaps?watch=1&timeoutSeconds=30" >/dev/null 2>&1 &
wpid=$!
sleep 1
out=$(raw_post /_sim/faults '{"dropWatches": true}') || fail "dropWatches"
[[ $out == *droppedWatches* ]] || fail "dropWatches answer: $out"
wait $wpid 2>/dev/null || true
[ $((SECONDS - start)) -lt 10 ] || fail "watch was not dropped"

stats=$(kubectl get --raw /_sim/stats) || fail "stats"
[[ $stats == *'"watch"'* && $stats == *'"list"'* ]] || fail "stats: $stats"
note "ok"
