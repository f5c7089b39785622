#!/usr/bin/env bash
# Convenience runner for the conformance scenarios against a private kubesim.
#   e2e/conformance/run-local.sh [PATTERN]   (e.g. run-local.sh 0[1-3])
# Starts hack/kubesim in a temporary directory, runs every NN-*.sh matching
# PATTERN with KUBECONFIG and KUBESIM_DIR set, prints "N passed, N failed"
# (skips counted apart), stops the server and removes the directory.
# With KUBECONFIG already set and KUBESIM_DIR unset it runs against that
# cluster instead (fault scenarios skip).  The official harness is e2e/run.sh.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PATTERN=${1:-[0-9][0-9]}
PID=
DIR=
stop() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
  [ -n "$DIR" ] && rm -rf "$DIR"
}
trap stop EXIT INT TERM

if [ -z "${KUBECONFIG:-}" ] || [ -n "${KUBESIM_DIR:-}" ]; then
  DIR=$(mktemp -d /tmp/kubesim-conf.XXXXXX)
  python3 "$ROOT/hack/kubesim/kubesim.py" --dir "$DIR" >"$DIR.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do [ -s "$DIR/ready" ] && break; sleep 0.1; done
  [ -s "$DIR/ready" ] || { echo "kubesim did not start:"; cat "$DIR.log"; exit 1; }
  export KUBECONFIG="$DIR/kubeconfig" KUBESIM_DIR="$DIR"
  echo "kubesim on $(cat "$DIR/url")"
fi

pass=0 failed=0 skipped=0 failures=()
for t in "$HERE"/$PATTERN-*.sh; do
  [ -f "$t" ] || continue
  name=$(basename "$t")
  start=$(date +%s.%N)
  bash "$t"
  rc=$?
  dur=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
  case $rc in
    0) pass=$((pass + 1)); echo "PASS $name (${dur}s)" ;;
    77) skipped=$((skipped + 1)); echo "SKIP $name" ;;
    *) failed=$((failed + 1)); failures+=("$name"); echo "FAIL $name (rc=$rc, ${dur}s)" ;;
  esac
done
[ -n "$PID" ] && [ -f "$DIR.log" ] && grep -q Traceback "$DIR.log" && {
  echo "--- kubesim log has tracebacks:"; cat "$DIR.log"; }
[ -f "${DIR:-/nonexistent}.log" ] && rm -f "$DIR.log"
echo "$pass passed, $failed failed${skipped:+, $skipped skipped}"
[ $failed -eq 0 ]
