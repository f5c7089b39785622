#!/bin/bash
# Slow clients on the admission webhook (issue 15): 60 TLS connections each
# declare a 100 kB body and trickle it one byte every 2 s, while /healthz is
# polled every 20 ms from another process. /healthz never fails and stays
# under 1 s; every trickling connection is answered 408 and closed by the
# request deadline (10 s from its headers; 14 s allowed for TLS set-up on a
# busy machine); the webhook still answers
# afterwards. Prints the /healthz p99 under this load.
. "$(dirname "$0")/gslib.sh"
PY=$(python3 -c 'import sys; print(sys.executable)') || skip "python3 not available"
LOAD="$E2E_ROOT/hack/webhook_load.py"
WPORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setup_env
op_start operator --webhook-addr "127.0.0.1:$WPORT" --webhook-cert-dir "$WORK/certs"
HPORT=$(op_port operator health)

out=$("$PY" "$LOAD" slow --webhook-port "$WPORT" --health-port "$HPORT" \
  --cafile "$WORK/certs/ca.crt" --conns 60 --seconds 18) || fail "load tool failed"
note "slow clients: $out"
"$PY" - "$out" <<'PY' || fail "slow clients: see above"
import json, sys
d = json.loads(sys.argv[1]); h = d["healthz"]
print("  /healthz under 60 trickling clients: p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d polls, %d failed"
      % (h["p50_ms"], h["p99_ms"], h["max_ms"], h["n"], h["failures"]))
assert h["failures"] == 0, "/healthz failed: %s" % h["errors"]
assert h["max_ms"] < 1000, "/healthz took %.0f ms" % h["max_ms"]
assert d["closed"] == d["conns"], "%d of %d trickling connections still open" % (d["conns"] - d["closed"], d["conns"])
assert d["max_open_s"] < 14, "a trickling connection stayed %.1f s" % d["max_open_s"]
assert d["answered_408"] == d["conns"], "%d of %d trickling connections got no 408" % (d["conns"] - d["answered_408"], d["conns"])
PY
code=$(curl -sS --max-time 5 --cacert "$WORK/certs/ca.crt" -o /dev/null -w '%{http_code}' \
  -H 'Content-Type: application/json' --data-binary '{}' "https://127.0.0.1:$WPORT/validate-graceservice") ||
  fail "webhook not answering after the slow clients"
[ "$code" = 400 ] || fail "webhook after the slow clients: HTTP $code (want 400 for '{}')"
note "every trickling connection answered 408 and closed by the deadline; /healthz never failed"
