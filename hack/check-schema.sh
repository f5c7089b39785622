#!/bin/sh
# hack/check-schema.sh [BIN]: `grace-operator schema` against examples/ with
# the JSON Schema validator a user would reach for (Debian's
# python3-jsonschema, Draft 2020-12): the schema is itself valid, the spec
# of every GraceService in examples/ validates, and invalid-hostname.yaml
# (rejected by the API server) is rejected. Part of `make check`.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/bin/grace-operator}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import jsonschema, yaml' 2>/dev/null; then
  echo "check-schema: python3-jsonschema and python3-yaml are needed (hack/deps.sh)" >&2
  exit 1
fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$BIN" schema >"$tmp"
"$PY" - "$tmp" "$ROOT"/examples/*.yaml <<'PYEOF'
import json, sys, yaml
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
bad, checked = 0, 0
for path in sys.argv[2:]:
    for doc in yaml.safe_load_all(open(path)):
        if not isinstance(doc, dict) or doc.get("kind") != "GraceService":
            continue
        errors = sorted(v.iter_errors(doc.get("spec", {})), key=lambda e: list(e.path))
        checked += 1
        should_fail = path.endswith("invalid-hostname.yaml")
        if should_fail and not errors:
            print(f"check-schema: {path}: accepted, but the API server rejects it")
            bad += 1
        elif not should_fail and errors:
            for e in errors:
                print(f"check-schema: {path}: spec.{'.'.join(map(str, e.path))}: {e.message}")
            bad += 1
if checked < 4:
    print(f"check-schema: only {checked} GraceServices found in examples/")
    bad += 1
print(f"check-schema: {checked} examples checked, {bad} failed")
sys.exit(1 if bad else 0)
PYEOF
