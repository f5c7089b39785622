#!/bin/bash
# The Argo CD health check (gitops/argocd-health.lua) gives the expected
# health for sample GraceService statuses: ready, progressing, degraded, an
# old observedGeneration, no status (tests/gitops/test_health.lua, run with
# Debian's lua5.4, and with lua5.1 -- the dialect of Argo CD's gopher-lua --
# when installed). Also checks that the test fails for a wrong script. Needs
# no cluster. Exit codes: 0 pass, 1 fail, 77 skip.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCENARIO=$(basename "$0" .sh)
fail() { echo "FAIL [$SCENARIO]: $*" >&2; exit 1; }
note() { echo "  [$SCENARIO] $*"; }
command -v lua5.4 >/dev/null || { echo "SKIP [$SCENARIO]: lua5.4 is not installed"; exit 77; }

TEST=$ROOT/tests/gitops/test_health.lua
for lua in lua5.4 lua5.1; do
  command -v "$lua" >/dev/null || { note "$lua not installed, not run with it"; continue; }
  out=$("$lua" "$TEST" "$ROOT/gitops/argocd-health.lua" 2>&1) || { echo "$out" >&2; fail "$lua: health check gave wrong results"; }
  note "$lua: $(echo "$out" | tail -1)"
done

# The test must be able to fail: a script that always answers Healthy.
bad=$(mktemp /tmp/grace-e2e-health.XXXXXX.lua)
trap 'rm -f "$bad"' EXIT
printf 'return {status = "Healthy", message = "always"}\n' >"$bad"
if lua5.4 "$TEST" "$bad" >/dev/null 2>&1; then
  fail "the test passed a script that always answers Healthy"
fi
note "a wrong health script is caught"
