#!/bin/sh
# Runs the unit tests of the kubesim pure-function libraries (schema, CEL,
# patch, server-side apply). Exits non-zero if any test fails.
# Usage: hack/kubesim/tests/run.sh [-v]
set -e
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
exec python3 -m unittest discover -s tests -t tests -p 'test_*.py' "$@"
