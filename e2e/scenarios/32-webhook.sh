#!/bin/bash
# The admission webhook over HTTPS (generated certificate, verified with the
# ca.crt the operator writes to --webhook-cert-dir), AdmissionReview v1:
#  (a) a valid new GraceService is allowed, the uid echoed, no patch;
#      an existing service re-validated against itself is allowed;
#  (b) a hostname already taken by an older service is denied (403) with a
#      message naming the hostname and the owner;
#  (c) a Kafka topic owned by another service is denied, naming both;
#  (d) malformed JSON and a wrong envelope get HTTP 400 with a clear message;
#      unknown path 404;
#  (e) /mutate-graceservice on a spec without port/replicas answers a base64
#      JSONPatch adding the CRD defaults (port 8000, replicas 1), and nothing
#      for a field that is set;
#  (f) two listeners on one address (--metrics-addr and --webhook-addr both
#      127.0.0.1:P, or :P and 127.0.0.1:P) stop the binary at start-up with
#      exit 1 and one error naming both flags.
# The webhook listens on port 0 and the scenario reads the bound port from
# the operator's log: no port is picked before the operator binds it.
. "$(dirname "$0")/gslib.sh"

# The interpreter itself, resolved once: a version-manager shim (pyenv) may
# cost seconds per start.
PY=$(python3 -c 'import sys; print(sys.executable)') || skip "python3 not available"

# review UID NAME SPEC_JSON [OPERATION] [OBJECT_JSON]: an AdmissionReview v1
# request for a GraceService in $NS (OBJECT_JSON replaces the built object).
review() {
  "$PY" - "$NS" "$@" <<'PY'
import json, sys
ns, uid, name, spec = sys.argv[1:5]
op = sys.argv[5] if len(sys.argv) > 5 else "CREATE"
obj = json.loads(sys.argv[6]) if len(sys.argv) > 6 else {
    "apiVersion": "grace.dev/v1alpha1", "kind": "GraceService",
    "metadata": {"name": name, "namespace": ns}, "spec": json.loads(spec)}
print(json.dumps({
    "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
    "request": {
        "uid": uid, "operation": op, "namespace": ns, "name": name,
        "kind": {"group": "grace.dev", "version": "v1alpha1", "kind": "GraceService"},
        "resource": {"group": "grace.dev", "version": "v1alpha1", "resource": "graceservices"},
        "requestKind": {"group": "grace.dev", "version": "v1alpha1", "kind": "GraceService"},
        "userInfo": {"username": "e2e"}, "dryRun": False, "object": obj}}))
PY
}

# post PATH [DATA]: POST DATA (default: stdin) over verified TLS; the body goes
# to $WORK/resp, the HTTP status to stdout.
post() {
  curl -sS --max-time 5 --cacert "$WORK/certs/ca.crt" -o "$WORK/resp" -w '%{http_code}' \
    -H 'Content-Type: application/json' --data-binary "${2:-@-}" "https://127.0.0.1:$WPORT$1"
}

# expect PY_EXPR: PY_EXPR (over r = the parsed $WORK/resp response object,
# d = the whole document) is true.
expect() {
  "$PY" - "$WORK/resp" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = d.get("response", {})
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

# admit PATH UID NAME SPEC_JSON [OPERATION] [OBJECT_JSON]: post a review, check
# the envelope (200, AdmissionReview v1, uid echoed).
admit() {
  local path=$1 uid=$2 code
  shift
  code=$(review "$@" | post "$path") || fail "$path: request failed"
  [ "$code" = 200 ] || fail "$path ($uid): HTTP $code: $(head -c 300 "$WORK/resp")"
  expect "d.get('apiVersion') == 'admission.k8s.io/v1' and d.get('kind') == 'AdmissionReview' and r.get('uid') == '$uid'" ||
    fail "$path ($uid): not an AdmissionReview v1 echoing the uid: $(head -c 300 "$WORK/resp")"
}

setup_env
op_start operator --webhook-addr 127.0.0.1:0 --webhook-cert-dir "$WORK/certs"
WPORT=$(op_port operator webhook)
[ -n "$WPORT" ] && [ "$WPORT" != 0 ] || fail "no webhook port in the log"
[ "$WPORT" != "$(op_port operator metrics)" ] || fail "webhook and metrics on one port $WPORT"
for f in tls.crt tls.key ca.crt; do
  [ -s "$WORK/certs/$f" ] || fail "$f not written to --webhook-cert-dir"
done
if command -v openssl >/dev/null; then
  openssl verify -CAfile "$WORK/certs/ca.crt" "$WORK/certs/tls.crt" >/dev/null 2>&1 ||
    fail "tls.crt is not signed by ca.crt"
fi
eventually 10 post /validate-graceservice '{}' || fail "webhook not answering on 127.0.0.1:$WPORT (TLS verified)"

# The claims' owner: older than every request below, and in the operator's
# cache once it has been reconciled (the status is written from the cache).
gs_apply owner 'image: example/owner:1' 'hostname: shared' 'kafka: {topics: [{name: owned.topic}]}'
eventually 30 bash -c "[ -n \"\$(kubectl get gs owner -n $NS -o jsonpath='{.status.observedGeneration}')\" ]" || fail "owner was never reconciled"

# (a) valid
admit /validate-graceservice uid-a fresh '{"image": "example/fresh:1", "kafka": {"topics": [{"name": "fresh.topic"}]}}'
expect "r.get('allowed') is True" || fail "(a) valid service denied: $(cat "$WORK/resp")"
expect "'patch' not in r and 'patchType' not in r" || fail "(a) the validating webhook returned a patch"
owner_json=$(kubectl get gs owner -n "$NS" -o json)
admit /validate-graceservice uid-a2 owner '{}' UPDATE "$owner_json"
expect "r.get('allowed') is True" || fail "(a) the owner conflicts with itself: $(cat "$WORK/resp")"

# (b) hostname taken
admit /validate-graceservice uid-b newcomer '{"image": "example/new:1", "hostname": "shared"}'
expect "r.get('allowed') is False" || fail "(b) taken hostname allowed: $(cat "$WORK/resp")"
expect "r['status']['code'] == 403" || fail "(b) status code: $(cat "$WORK/resp")"
msg=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["response"]["status"]["message"])' "$WORK/resp")
grep -q '"shared"' <<<"$msg" && grep -qF "$NS/owner" <<<"$msg" || fail "(b) message does not name the hostname and the owner: $msg"
note "(b) $msg"

# (c) topic owned by another service
admit /validate-graceservice uid-c thief '{"image": "example/thief:1", "kafka": {"topics": [{"name": "fresh.topic"}, {"name": "owned.topic"}]}}'
expect "r.get('allowed') is False" || fail "(c) owned topic allowed: $(cat "$WORK/resp")"
msg=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["response"]["status"]["message"])' "$WORK/resp")
grep -q 'owned.topic' <<<"$msg" && grep -qF "$NS/owner" <<<"$msg" || fail "(c) message does not name the topic and the owner: $msg"
note "(c) $msg"

# (d) malformed requests
code=$(post /validate-graceservice '{"apiVersion": "admission.k8s.io/v1", "kind": ') || fail "(d) request failed"
[ "$code" = 400 ] || fail "(d) malformed JSON: HTTP $code (want 400)"
grep -qi 'malformed.*json' "$WORK/resp" || fail "(d) unclear message: $(cat "$WORK/resp")"
note "(d) $(cat "$WORK/resp")"
code=$(post /validate-graceservice '{"apiVersion": "admission.k8s.io/v1", "kind": "Pod"}') || fail "(d) request failed"
[ "$code" = 400 ] && grep -q AdmissionReview "$WORK/resp" || fail "(d) wrong kind: HTTP $code: $(cat "$WORK/resp")"
code=$(post /validate-graceservice '{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}') || fail "(d) request failed"
[ "$code" = 400 ] && grep -q uid "$WORK/resp" || fail "(d) no uid: HTTP $code: $(cat "$WORK/resp")"
code=$(post /nowhere '{}') || fail "(d) request failed"
[ "$code" = 404 ] || fail "unknown path: HTTP $code (want 404)"

# (e) defaulting
admit /mutate-graceservice uid-e bare '{"image": "example/bare:1"}'
expect "r.get('allowed') is True and r.get('patchType') == 'JSONPatch'" || fail "(e) no JSONPatch: $(cat "$WORK/resp")"
"$PY" - "$WORK/resp" "$SCENARIO" <<'PY' || fail "(e) wrong patch"
import base64, json, sys
r = json.load(open(sys.argv[1]))["response"]
ops = json.loads(base64.b64decode(r["patch"], validate=True))
print(f"  [{sys.argv[2]}] (e) patch:", json.dumps(ops))
assert isinstance(ops, list) and ops, "patch is not a non-empty list"
by_path = {o["path"]: o for o in ops}
assert all(o["op"] == "add" for o in ops), "only add operations expected"
assert by_path.get("/spec/port", {}).get("value") == 8000, "no add of /spec/port 8000"
assert by_path.get("/spec/replicas", {}).get("value") == 1, "no add of /spec/replicas 1"
assert "/spec/image" not in by_path, "the patch touches spec.image"
PY
admit /mutate-graceservice uid-e2 set '{"image": "example/set:1", "port": 9000, "replicas": 3}'
expect "r.get('allowed') is True" || fail "(e) denied: $(cat "$WORK/resp")"
"$PY" - "$WORK/resp" <<'PY' || fail "(e) the patch overrides fields that are set"
import base64, json, sys
r = json.load(open(sys.argv[1]))["response"]
ops = json.loads(base64.b64decode(r["patch"])) if "patch" in r else []
paths = {o["path"] for o in ops}
assert not paths & {"/spec/port", "/spec/replicas", "/spec/image"}, paths
PY
# (f) another kind sent to the defaulting path is allowed unchanged (no
#     GraceService defaults patched into it), with a warning naming it
review uid-f cm '{}' | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
d["request"]["kind"] = {"group": "", "version": "v1", "kind": "ConfigMap"}
d["request"]["object"] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}, "spec": {}}
print(json.dumps(d))' >"$WORK/cm-review.json"
code=$(post /mutate-graceservice "@$WORK/cm-review.json") || fail "(f) request failed"
[ "$code" = 200 ] || fail "(f) HTTP $code"
expect "r.get('allowed') is True and 'patch' not in r" || fail "(f) another kind was patched or denied: $(cat "$WORK/resp")"
expect "any('ConfigMap' in w for w in r.get('warnings', []))" || fail "(f) no warning naming the kind: $(cat "$WORK/resp")"
note "webhook answers: valid, taken hostname, owned topic, malformed, defaults, another kind left alone"

# (g) listener collisions: checked before anything is bound, so the running
# operator's own port serves (whatever holds it, the conflict is reported).
collide() {
  local rc=0
  "$GRACE_BIN" --kubeconfig "$KUBECONFIG" --config "$WORK/config.yaml" --namespace "$NS" \
    --log-format json --health-addr 127.0.0.1:0 "$@" >"$WORK/collide.log" 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "(g) $* exited $rc (want 1): $(tail -3 "$WORK/collide.log")"
  grep '"start-up failed"' "$WORK/collide.log" | grep -q -- "$want" ||
    fail "(g) $*: no error naming both flags: $(tail -3 "$WORK/collide.log")"
  ! grep -q '"http server listening"' "$WORK/collide.log" || fail "(g) $*: it listened"
}
want="--metrics-addr 127.0.0.1:$WPORT and --webhook-addr 127.0.0.1:$WPORT are the same address"
collide --metrics-addr "127.0.0.1:$WPORT" --webhook-addr "127.0.0.1:$WPORT"
want="--metrics-addr :$WPORT and --webhook-addr 127.0.0.1:$WPORT are the same address"
collide --metrics-addr ":$WPORT" --webhook-addr "127.0.0.1:$WPORT"
note "two listeners on one address: exit 1 naming both flags"
