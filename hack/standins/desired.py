"""What the absent controllers would write: pure functions, no I/O (unit-tested).

Each *_patch function takes the object as the API server returns it and the current
time (RFC 3339), and returns the merge patch the real controller's status write
would amount to, or None when the object already looks like that: this is what
makes the stand-ins idempotent. The Secret builders return whole Secrets; the
caller creates them or turns the difference into a patch with secret_patch().
Used by standins.py; documented in e2e/README.md.
"""

import base64
import calendar
import hashlib
import json
import re
import secrets
import string
import time

STRIMZI_CLUSTER = "strimzi.io/cluster"


def meta(obj):
    return obj.get("metadata") or {}


def generation(obj):
    return int(meta(obj).get("generation") or 0)


def find_condition(conds, ctype):
    for c in conds or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def make_condition(old_conds, ctype, status, reason, message, now, observed=None, extra=None):
    """A condition; keeps the old lastTransitionTime when the status did not change."""
    old = find_condition(old_conds, ctype)
    c = {"type": ctype, "status": status}
    if observed is not None:
        c["observedGeneration"] = observed
    c["reason"] = reason
    c["message"] = message
    keep = old is not None and old.get("status") == status and old.get("lastTransitionTime")
    c["lastTransitionTime"] = old["lastTransitionTime"] if keep else now
    if extra:
        c.update(extra)
    return c


def _same_conditions(have, want, ignore=("lastTransitionTime", "lastUpdateTime")):
    """Same condition types, in any order, with equal fields except timestamps."""
    have = [c for c in (have or []) if isinstance(c, dict)]
    if len(have) != len(want):
        return False
    for w in want:
        h = find_condition(have, w["type"])
        if h is None:
            return False
        for k in set(h) | set(w):
            if k not in ignore and h.get(k) != w.get(k):
                return False
    return True


def _status_delta(status, want):
    """The merge-patch for status: keys of `want` that differ (None deletes)."""
    delta = {}
    for k, v in want.items():
        if v is None:
            if k in status:
                delta[k] = None
        elif status.get(k) != v:
            delta[k] = v
    return delta


_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template):
    """A pod-template-hash-like name suffix (FNV-32a, encoded like client-go's SafeEncodeString)."""
    h = 0x811C9DC5
    for b in json.dumps(template, sort_keys=True, separators=(",", ":")).encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(ch) % len(_SAFE)] for ch in str(h))


def deployment_status_patch(obj, now):
    """The /status merge patch that makes a Deployment available, or None if it already is."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    n = spec.get("replicas")
    n = 1 if n is None else int(n)
    name = meta(obj).get("name", "")
    rs = "%s-%s" % (name, template_hash(spec.get("template") or {}))
    old = status.get("conditions") or []
    conds = [
        make_condition(old, "Available", "True", "MinimumReplicasAvailable",
                       "Deployment has minimum availability.", now,
                       extra={"lastUpdateTime": now}),
        make_condition(old, "Progressing", "True", "NewReplicaSetAvailable",
                       'ReplicaSet "%s" has successfully progressed.' % rs, now,
                       extra={"lastUpdateTime": now}),
    ]
    want = {"observedGeneration": generation(obj)}
    for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
        want[k] = n if n else None  # zero counts are omitted, as the API server does
    want["unavailableReplicas"] = None
    delta = _status_delta(status, want)
    if not _same_conditions(old, conds):
        delta["conditions"] = conds
    return {"status": delta} if delta else None


def certificate_is_failed_mode_done(obj):
    ready = find_condition((obj.get("status") or {}).get("conditions"), "Ready")
    return (ready is not None and ready.get("status") == "False" and ready.get("reason") == "Failed"
            and ready.get("observedGeneration") == generation(obj))


def certificate_status_patch(obj, now, dates, fail=False):
    """The /status merge patch for a Certificate, or None when nothing changes.

    dates: (notBefore, notAfter, renewalTime) strings of the issued certificate.
    """
    status = obj.get("status") or {}
    old = status.get("conditions") or []
    gen = generation(obj)
    if fail:
        conds = [
            make_condition(old, "Ready", "False", "Failed",
                           "The certificate request has failed to complete and will be retried: "
                           "stand-in started with --fail-certificates", now, observed=gen),
            make_condition(old, "Issuing", "False", "Failed",
                           "The certificate request has failed to complete and will be retried",
                           now, observed=gen),
        ]
        want = {"lastFailureTime": status.get("lastFailureTime") or now,
                "failedIssuanceAttempts": status.get("failedIssuanceAttempts") or 1}
    else:
        conds = [make_condition(old, "Ready", "True", "Ready",
                                "Certificate is up to date and has not expired", now, observed=gen)]
        if all(status.get(k) for k in ("notBefore", "notAfter", "renewalTime")):
            dates = (status["notBefore"], status["notAfter"], status["renewalTime"])
        not_before, not_after, renewal = dates
        want = {"notBefore": not_before, "notAfter": not_after, "renewalTime": renewal,
                "revision": status.get("revision") or 1,
                "lastFailureTime": None, "failedIssuanceAttempts": None}
    delta = _status_delta(status, want)
    if not _same_conditions(old, conds):
        delta["conditions"] = conds
    return {"status": delta} if delta else None


def certificate_secret(cert, crt_pem, key_pem):
    """The kubernetes.io/tls Secret cert-manager would write for this Certificate."""
    m, spec = meta(cert), cert.get("spec") or {}
    issuer = spec.get("issuerRef") or {}
    tmpl = spec.get("secretTemplate") or {}
    annotations = dict(tmpl.get("annotations") or {})
    annotations.update({
        "cert-manager.io/alt-names": ",".join(spec.get("dnsNames") or []),
        "cert-manager.io/certificate-name": m.get("name", ""),
        "cert-manager.io/common-name": spec.get("commonName") or "",
        "cert-manager.io/ip-sans": ",".join(spec.get("ipAddresses") or []),
        "cert-manager.io/issuer-group": issuer.get("group") or "cert-manager.io",
        "cert-manager.io/issuer-kind": issuer.get("kind") or "Issuer",
        "cert-manager.io/issuer-name": issuer.get("name") or "",
        "cert-manager.io/uri-sans": ",".join(spec.get("uris") or []),
    })
    labels = dict(tmpl.get("labels") or {})
    labels["controller.cert-manager.io/fao"] = "true"
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": spec.get("secretName"), "namespace": m.get("namespace"),
                     "labels": labels, "annotations": annotations},
        "data": {"tls.crt": b64(crt_pem), "tls.key": b64(key_pem)},
    }


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def strimzi_skip_reason(obj):
    labels = meta(obj).get("labels") or {}
    if not labels.get(STRIMZI_CLUSTER):
        return "no %s label: ignored, as Strimzi does" % STRIMZI_CLUSTER
    return None


def strimzi_state(obj):
    """(condition type, reason) for the annotations Strimzi honours, or None for normal work."""
    ann = meta(obj).get("annotations") or {}
    if ann.get("strimzi.io/pause-reconciliation") == "true":
        return "ReconciliationPaused"
    if obj.get("kind") == "KafkaTopic" and ann.get("strimzi.io/managed") == "false":
        return "Unmanaged"
    return None


def strimzi_status_patch(obj, now, extra, error=None):
    """Status merge patch for a KafkaTopic/KafkaUser: one condition + observedGeneration + extra.

    error: None for success, else (reason, message) for Ready=False.
    """
    status = obj.get("status") or {}
    old = status.get("conditions") or []
    special = strimzi_state(obj)
    if special:
        cond = {"type": special, "status": "True"}
        extra = {}
    elif error:
        cond = {"type": "Ready", "status": "False", "reason": error[0], "message": error[1]}
    else:
        cond = {"type": "Ready", "status": "True"}
    prev = find_condition(old, cond["type"])
    same = prev is not None and prev.get("status") == cond["status"]
    cond["lastTransitionTime"] = prev.get("lastTransitionTime") if same else now
    want = dict(extra)
    want["observedGeneration"] = generation(obj)
    delta = _status_delta(status, want)
    if not _same_conditions(old, [cond]):
        delta["conditions"] = [cond]
    return {"status": delta} if delta else None


def topic_extra(obj):
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    uid = meta(obj).get("uid") or meta(obj).get("name", "")
    topic_id = status.get("topicId") or base64.urlsafe_b64encode(
        hashlib.sha256(uid.encode()).digest()[:16]).decode().rstrip("=")
    return {"topicName": spec.get("topicName") or meta(obj).get("name"), "topicId": topic_id}


def user_auth_type(obj):
    return ((obj.get("spec") or {}).get("authentication") or {}).get("type")


def user_name(obj):
    name = meta(obj).get("name", "")
    return "CN=" + name if user_auth_type(obj) in ("tls", "tls-external") else name


def jaas_config(username, password):
    return ('org.apache.kafka.common.security.scram.ScramLoginModule required '
            'username="%s" password="%s";' % (username, password))


SCRAM_KEYS = ("password", "sasl.jaas.config")
TLS_KEYS = ("ca.crt", "user.crt", "user.key", "user.p12", "user.password")


def user_secret_data(obj, existing_data, password=None, tls=None):
    """The `data` (base64 values) of the user's Secret, reusing what already exists.

    password: the password from spec.authentication.password, or None to generate one
    (or keep the existing one). tls: dict key -> bytes for the TLS keys.
    """
    existing_data = existing_data or {}
    kind = user_auth_type(obj)
    if kind == "scram-sha-512":
        if password is None:
            old = existing_data.get("password")
            password = base64.b64decode(old).decode() if old else gen_password()
        return {"password": b64(password),
                "sasl.jaas.config": b64(jaas_config(user_name(obj), password))}
    if kind == "tls":
        if all(existing_data.get(k) for k in TLS_KEYS):
            return {k: existing_data[k] for k in TLS_KEYS}
        return {k: b64(tls[k]) for k in TLS_KEYS}
    return None


def gen_password(n=32):
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def user_secret(obj, data):
    """The full Secret Strimzi's User Operator would write for this KafkaUser."""
    m = meta(obj)
    cluster = (m.get("labels") or {}).get(STRIMZI_CLUSTER, "")
    tmpl = ((((obj.get("spec") or {}).get("template") or {}).get("secret") or {})
            .get("metadata") or {})
    labels = dict(tmpl.get("labels") or {})
    labels.update({
        "app.kubernetes.io/instance": m.get("name"),
        "app.kubernetes.io/managed-by": "strimzi-user-operator",
        "app.kubernetes.io/name": "strimzi-user-operator",
        "app.kubernetes.io/part-of": "strimzi-" + cluster,
        STRIMZI_CLUSTER: cluster,
        "strimzi.io/kind": "KafkaUser",
    })
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {
            "name": m.get("name"), "namespace": m.get("namespace"), "labels": labels,
            "annotations": dict(tmpl.get("annotations") or {}),
            "ownerReferences": [owner_ref(obj)],
        },
        "data": data,
    }


def owner_ref(obj):
    m = meta(obj)
    return {"apiVersion": obj.get("apiVersion", "kafka.strimzi.io/v1"), "kind": obj.get("kind"),
            "name": m.get("name"), "uid": m.get("uid"),
            "controller": False, "blockOwnerDeletion": False}


def secret_patch(existing, want):
    """Merge patch turning Secret `existing` into `want` (data, labels, annotations,
    ownerReferences), or None when it already matches."""
    patch, em, wm = {}, meta(existing), meta(want)
    for field in ("labels", "annotations"):
        have = em.get(field) or {}
        diff = {k: v for k, v in (wm.get(field) or {}).items() if have.get(k) != v}
        if diff:
            patch.setdefault("metadata", {})[field] = diff
    refs = em.get("ownerReferences") or []
    for ref in wm.get("ownerReferences") or []:
        if not any(r.get("uid") == ref.get("uid") for r in refs):
            patch.setdefault("metadata", {})["ownerReferences"] = refs + [ref]
    have = existing.get("data") or {}
    want_data = want.get("data") or {}
    data = {k: v for k, v in want_data.items() if have.get(k) != v}
    if want.get("type") == "Opaque":  # the user Secret holds exactly the wanted keys
        data.update({k: None for k in have if k not in want_data})
    if data:
        patch["data"] = data
    return patch or None


_CRON_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                     "@hourly"}
_CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
_CRON_NAMES = [None, None, None,
               "jan feb mar apr may jun jul aug sep oct nov dec".split(),
               "sun mon tue wed thu fri sat".split()]
_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")


def _cron_value(v, idx):
    names = _CRON_NAMES[idx]
    if names and v.lower() in names:
        return names.index(v.lower()) + (1 if idx == 3 else 0)
    if not v.isdigit():
        raise ValueError("bad value %r" % v)
    n = int(v)
    lo, hi = _CRON_RANGES[idx]
    if not lo <= n <= hi:
        raise ValueError("%d out of range [%d, %d]" % (n, lo, hi))
    return n


def _cron_field(field, idx):
    for part in field.split(","):
        rng, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise ValueError("bad step %r" % step)
        if rng in ("*", "?"):
            continue
        lo, dash, hi = rng.partition("-")
        a = _cron_value(lo, idx)
        if dash and _cron_value(hi, idx) < a:
            raise ValueError("bad range %r" % rng)


def cron_error(expr):
    """None when `expr` is a schedule robfig/cron's ParseStandard accepts, else a message."""
    s = (expr or "").strip()
    if s.startswith(("CRON_TZ=", "TZ=")):
        _, _, s = s.partition(" ")
        s = s.strip()
    if not s:
        return "empty spec string"
    if s.startswith("@"):
        if s in _CRON_DESCRIPTORS:
            return None
        if s.startswith("@every "):
            return None if _DURATION.match(s[7:].strip()) else "failed to parse duration %s" % s
        return "unrecognized descriptor: %s" % s
    fields = s.split()
    if len(fields) != 5:
        return "expected exactly 5 fields, found %d: %s" % (len(fields), s)
    for i, f in enumerate(fields):
        try:
            _cron_field(f, i)
        except ValueError as e:
            return "%s (field %d of %s)" % (e, i + 1, s)
    return None


def schedule_status_patch(obj):
    """Merge patch for the Schedule's MAIN resource, or None when the phase is already right."""
    status = obj.get("status") or {}
    err = cron_error((obj.get("spec") or {}).get("schedule"))
    if err:
        want = {"phase": "FailedValidation", "validationErrors": ["invalid schedule: " + err]}
    else:
        want = {"phase": "Enabled", "validationErrors": None}
    delta = _status_delta(status, want)
    return {"status": delta} if delta else None


# ---------------------------------------------------------------------------------------
# Jobs (the Job controller's status side). No pod runs: what the pod "does" is read from
# markers in its containers' command and args, so a test chooses the outcome:
#   STANDIN_FAIL        the pod fails; the Job fails (BackoffLimitExceeded)
#   STANDIN_HANG        the pod never finishes; only activeDeadlineSeconds ends it
#   STANDIN_SLEEP=<s>   the pod runs <s> seconds first (default 0)
# A Job still running past spec.activeDeadlineSeconds fails with DeadlineExceeded.

JOB_FAIL, JOB_HANG, JOB_SLEEP = "STANDIN_FAIL", "STANDIN_HANG", "STANDIN_SLEEP="


def job_plan(obj):
    """(outcome, seconds): "complete", "fail" or "hang", after running `seconds`."""
    pod = ((((obj.get("spec") or {}).get("template") or {}).get("spec")) or {})
    words = []
    for c in pod.get("containers") or []:
        words += [str(w) for w in (c.get("command") or []) + (c.get("args") or [])]
    secs = 0.0
    for w in words:
        if w.startswith(JOB_SLEEP):
            try:
                secs = max(0.0, float(w[len(JOB_SLEEP):]))
            except ValueError:
                pass
    if JOB_HANG in words:
        return "hang", secs
    return ("fail" if JOB_FAIL in words else "complete"), secs


def parse_rfc3339(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def job_finished(status):
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in status.get("conditions") or [])


def _job_end(status, now, success, reason, message):
    """The status of a finished Job, as the Job controller of v1.31+ writes it (the interim
    SuccessCriteriaMet / FailureTarget condition first: the API server requires it)."""
    ts = rfc3339_at(now)
    first, last = ("SuccessCriteriaMet", "Complete") if success else ("FailureTarget", "Failed")
    conds = [{"type": t, "status": "True", "reason": reason, "message": message,
              "lastProbeTime": ts, "lastTransitionTime": ts} for t in (first, last)]
    patch = {"conditions": conds, "active": None, "ready": 0, "terminating": 0,
             "uncountedTerminatedPods": {}}
    if success:
        patch["succeeded"] = 1
        patch["completionTime"] = ts
    else:
        patch["failed"] = 1
    return {"status": patch}


def rfc3339_at(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def job_status_patch(obj, now):
    """(the /status merge patch or None, seconds until it should be looked at again or None)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if job_finished(status) or spec.get("suspend"):
        return None, None
    start = status.get("startTime")
    if not start:
        return {"status": {"startTime": rfc3339_at(now), "active": 1, "ready": 0,
                           "terminating": 0}}, None
    elapsed = now - parse_rfc3339(start)
    deadline = spec.get("activeDeadlineSeconds")
    outcome, secs = job_plan(obj)
    if deadline is not None and elapsed >= deadline and (outcome == "hang" or secs >= deadline):
        return _job_end(status, now, False, "DeadlineExceeded",
                        "Job was active longer than specified deadline"), None
    if outcome == "hang" or elapsed < secs:
        wait = (secs if outcome != "hang" else float("inf")) - elapsed
        if deadline is not None:
            wait = min(wait, deadline - elapsed)
        return None, (None if wait == float("inf") else max(wait, 0) + 0.1)
    if outcome == "fail":
        return _job_end(status, now, False, "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit"), None
    return _job_end(status, now, True, "CompletionsReached", "Reached expected number of succeeded pods"), None
