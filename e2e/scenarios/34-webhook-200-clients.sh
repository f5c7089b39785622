#!/bin/bash
# 200 concurrent clients on the admission webhook (issue 15), each posting a
# valid AdmissionReview of a GraceService carrying a 256 kB annotation to
# /mutate-graceservice, while /healthz is polled every 20 ms from another
# process: /healthz never fails and stays under 1 s (the webhook has its own
# thread), and the webhook still answers afterwards. Prints the /healthz p99
# under this load and how the 200 reviews were answered.
. "$(dirname "$0")/gslib.sh"
PY=$(python3 -c 'import sys; print(sys.executable)') || skip "python3 not available"
LOAD="$E2E_ROOT/hack/webhook_load.py"
WPORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setup_env
op_start operator --webhook-addr "127.0.0.1:$WPORT" --webhook-cert-dir "$WORK/certs"
HPORT=$(op_port operator health)

out=$("$PY" "$LOAD" flood --webhook-port "$WPORT" --health-port "$HPORT" \
  --cafile "$WORK/certs/ca.crt" --clients 200 --requests 1 --size 262144 --seconds 12) ||
  fail "load tool failed"
note "200 clients: $out"
"$PY" - "$out" <<'PY' || fail "200 clients: see above"
import json, sys
d = json.loads(sys.argv[1]); h = d["healthz"]
print("  /healthz under 200 webhook clients (%d B reviews): p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d polls, %d failed; answers %s"
      % (d["review_bytes"], h["p50_ms"], h["p99_ms"], h["max_ms"], h["n"], h["failures"], d["answers"]))
assert h["failures"] == 0, "/healthz failed: %s" % h["errors"]
assert h["max_ms"] < 1000, "/healthz took %.0f ms" % h["max_ms"]
assert d["answers"].get("ok", 0) > 0, "no review was answered"
PY
code=$(curl -sS --max-time 5 --cacert "$WORK/certs/ca.crt" -o /dev/null -w '%{http_code}' \
  -H 'Content-Type: application/json' --data-binary '{}' "https://127.0.0.1:$WPORT/validate-graceservice") ||
  fail "webhook not answering after the load"
[ "$code" = 400 ] || fail "webhook after the load: HTTP $code (want 400 for '{}')"
note "/healthz never failed under 200 concurrent webhook clients"
