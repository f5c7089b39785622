#!/usr/bin/env python3
"""Stand-ins for the controllers a test cluster lacks (status side only).

grace-operator creates children that, in a real cluster, other controllers make
real: the Deployment controller, cert-manager, Strimzi's Topic and User Operators,
Velero. This process plays only the part of them that the operator can observe:

  deployments   status.observedGeneration, replica counts = spec.replicas, conditions
                Available=True and Progressing=True (NewReplicaSetAvailable); /status.
  certificates  the kubernetes.io/tls Secret spec.secretName (a dummy key pair made
                once with openssl), then status Ready=True with observedGeneration,
                notBefore/notAfter/renewalTime; /status. --fail-certificates makes
                them Ready=False reason=Failed instead.
  kafka         KafkaTopic and KafkaUser (kafka.strimzi.io/v1): Ready=True,
                status.observedGeneration, topicName / username; the user's Secret
                (scram-sha-512: password + sasl.jaas.config; tls: ca.crt, user.crt,
                user.key, user.p12, user.password), owned by the KafkaUser. Objects
                without the strimzi.io/cluster label are ignored, as Strimzi does.
  jobs          the Job controller: startTime and active=1, then Complete or Failed (with
                SuccessCriteriaMet / FailureTarget first, as v1.31+ writes them); no pod
                runs: markers in the command choose the outcome (STANDIN_FAIL, STANDIN_HANG,
                STANDIN_SLEEP=<s>, see desired.py); past activeDeadlineSeconds it fails with
                DeadlineExceeded.
  velero        Schedule status.phase=Enabled (FailedValidation for a bad cron), written
                through the MAIN resource: the CRD has no status subresource.

Traefik IngressRoutes need nothing (Traefik reports no status). Every reconcile
reads the watched object, computes what the real controller would have written and
writes only when that differs, so running against a settled cluster writes nothing.
Each kind is list+watched; a dropped watch resumes from its last resourceVersion, a
410 (HTTP or ERROR event) relists. One line per action goes to stderr.

Usage: standins.py [--kubeconfig PATH] [--namespace NS] [--only LIST] [--install-crds]
                   [--ready-delay-ms N] [--fail-certificates] [--ready-file PATH]
Python 3 standard library only; works against any API server given a kubeconfig.
Documented in e2e/README.md; tests in hack/standins/tests (python3 -m unittest).
"""

import argparse
import base64
import calendar
import glob
import heapq
import http.client
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kubeapi  # noqa: E402
import miniyaml  # noqa: E402
from desired import (STRIMZI_CLUSTER, strimzi_state, certificate_secret,  # noqa: E402
                     certificate_status_patch, deployment_status_patch, find_condition,
                     job_plan, job_status_patch,
                     gen_password, generation, meta, schedule_status_patch, secret_patch,
                     strimzi_skip_reason, strimzi_status_patch, topic_extra, user_auth_type,
                     user_name, user_secret, user_secret_data)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CRDS = os.path.normpath(os.path.join(HERE, "..", "crds"))
FIXTURE_LABEL = "app.kubernetes.io/managed-by"
FIXTURE_VALUE = "grace-standins"

_log_lock = threading.Lock()


def log(msg):
    """One line to stderr, with a UTC timestamp."""
    ts = time.strftime("%H:%M:%S", time.gmtime()) + ".%03d" % (int(time.time() * 1000) % 1000)
    with _log_lock:
        sys.stderr.write("%s standins: %s\n" % (ts, msg))
        sys.stderr.flush()


def rfc3339(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


class Resource:
    """One watched kind."""

    def __init__(self, name, group, version, plural, kind, has_status):
        self.name, self.group, self.version = name, group, version
        self.plural, self.kind, self.has_status = plural, kind, has_status

    @property
    def api_version(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    def path(self, namespace=None, name=None, sub=None):
        base = "/apis/%s/%s" % (self.group, self.version) if self.group else "/api/v1"
        if namespace:
            base += "/namespaces/" + namespace
        base += "/" + self.plural
        if name:
            base += "/" + name
        if sub:
            base += "/" + sub
        return base


RESOURCES = {
    "deployments": Resource("deployments", "apps", "v1", "deployments", "Deployment", True),
    "certificates": Resource("certificates", "cert-manager.io", "v1", "certificates",
                             "Certificate", True),
    "kafkatopics": Resource("kafkatopics", "kafka.strimzi.io", "v1", "kafkatopics",
                            "KafkaTopic", True),
    "kafkausers": Resource("kafkausers", "kafka.strimzi.io", "v1", "kafkausers",
                           "KafkaUser", True),
    "schedules": Resource("schedules", "velero.io", "v1", "schedules", "Schedule", False),
    "jobs": Resource("jobs", "batch", "v1", "jobs", "Job", True),
}
SECRETS = Resource("secrets", "", "v1", "secrets", "Secret", False)
ONLY = {
    "deployments": ["deployments"],
    "certificates": ["certificates"],
    "kafka": ["kafkatopics", "kafkausers"],
    "velero": ["schedules"],
    "jobs": ["jobs"],
}


# ---------------------------------------------------------------------------------------
# Dummy key material, made once with openssl.

class Material:
    """A self-signed EC certificate/key (and a PKCS#12 of it), generated lazily, once."""

    def __init__(self):
        self._lock = threading.Lock()
        self._done = False

    def _make(self):
        d = tempfile.mkdtemp(prefix="standins-pem-")
        try:
            crt, key, p12 = (os.path.join(d, n) for n in ("tls.crt", "tls.key", "user.p12"))
            run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
            run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-days", "90", "-subj",
                "/CN=grace-standin", "-keyout", key, "-out", crt)
            self.p12_password = gen_password(12)
            run("openssl", "pkcs12", "-export", "-in", crt, "-inkey", key, "-out", p12,
                "-passout", "pass:" + self.p12_password)
            dates = run("openssl", "x509", "-noout", "-startdate", "-enddate", "-in", crt)
            with open(crt, "rb") as f:
                self.crt = f.read()
            with open(key, "rb") as f:
                self.key = f.read()
            with open(p12, "rb") as f:
                self.p12 = f.read()
        finally:
            for n in os.listdir(d):
                os.unlink(os.path.join(d, n))
            os.rmdir(d)
        got = dict(line.split("=", 1) for line in dates.stdout.decode().split("\n") if "=" in line)
        nb = calendar.timegm(time.strptime(got["notBefore"].strip(), "%b %d %H:%M:%S %Y %Z"))
        na = calendar.timegm(time.strptime(got["notAfter"].strip(), "%b %d %H:%M:%S %Y %Z"))
        self.dates = (rfc3339(nb), rfc3339(na), rfc3339(nb + (na - nb) * 2 // 3))
        log("made the dummy certificate and key with openssl (valid %s to %s)" % self.dates[:2])

    def get(self):
        with self._lock:
            if not self._done:
                self._make()
                self._done = True
        return self

    def tls_user(self):
        m = self.get()
        return {"ca.crt": m.crt, "user.crt": m.crt, "user.key": m.key, "user.p12": m.p12,
                "user.password": m.p12_password}


# ---------------------------------------------------------------------------------------
# The loop: one informer thread per kind (list + watch into a cache), one worker thread
# that reconciles keys from a delay queue.

class Informer(threading.Thread):
    """List+watch one kind into a cache; every ADDED/MODIFIED object is queued."""

    def __init__(self, ctl, res):
        super().__init__(name="watch-" + res.name, daemon=True)
        self.ctl, self.res = ctl, res
        self.cache = {}
        self.lock = threading.Lock()
        self.synced = threading.Event()  # set after the first list attempt, even a failed one
        self.path = res.path(ctl.namespace)

    def get(self, key):
        with self.lock:
            return self.cache.get(key)

    def _fill(self, obj):
        # Items of built-in lists carry no kind/apiVersion; fill them for ownerReferences.
        obj.setdefault("apiVersion", self.res.api_version)
        obj.setdefault("kind", self.res.kind)
        return obj

    def _key(self, obj):
        m = meta(obj)
        return (m.get("namespace") or "", m.get("name"))

    def relist(self):
        items, rv = self.ctl.client.list_all(self.path)
        with self.lock:
            self.cache = {self._key(o): self._fill(o) for o in items}
        for o in items:
            self.ctl.enqueue(self.res, self._key(o))
        return rv

    def run(self):
        rv, backoff, missing_logged = None, 0.2, False
        while not self.ctl.stopping.is_set():
            try:
                if rv is None:
                    rv = self.relist()
                    self.synced.set()
                    if missing_logged:
                        log("%s: now served" % self.res.plural)
                        missing_logged = False
                    self.last_list = time.monotonic()
                rv = self.stream(rv)
                backoff = 0.2
                if time.monotonic() - self.last_list > self.ctl.resync:
                    rv = None  # periodic relist: catches what we do not watch (Secrets)
            except kubeapi.ApiError as e:
                self.synced.set()
                if e.status == 410:
                    log("%s: resourceVersion expired (HTTP 410), relisting" % self.res.plural)
                    rv = None
                    continue
                if e.status == 404:
                    if not missing_logged:
                        log("%s.%s is not served (CRD not installed?); retrying" %
                            (self.res.plural, self.res.group))
                        missing_logged = True
                    rv = None
                    self.ctl.stopping.wait(2)
                    continue
                log("%s: watch failed: %s; retrying in %.1fs" % (self.res.plural, e, backoff))
                self.ctl.stopping.wait(backoff)
                backoff = min(backoff * 2, 5)
            except (OSError, http.client.HTTPException) as e:
                self.synced.set()
                if self.ctl.verbose or backoff >= 1:
                    log("%s: watch connection lost (%s); resuming" % (self.res.plural, e))
                self.ctl.stopping.wait(backoff)
                backoff = min(backoff * 2, 5)

    def stream(self, rv):
        """Follow one watch stream; returns the last resourceVersion (None to relist)."""
        # End the stream by the next resync (at most ~5 minutes, like client-go's jitter).
        left = self.ctl.resync - (time.monotonic() - self.last_list)
        timeout = int(max(1, min(left, 240 + secrets.randbelow(120))))
        for ev in self.ctl.client.watch(self.path, rv, timeout_seconds=timeout):
            etype, obj = ev.get("type"), ev.get("object") or {}
            if etype == "ERROR":
                code = obj.get("code")
                log("%s: watch ERROR event %s %s: %s; relisting" %
                    (self.res.plural, code, obj.get("reason", ""), obj.get("message", "")))
                return None
            new_rv = meta(obj).get("resourceVersion")
            if new_rv:
                rv = new_rv
            if etype == "BOOKMARK":
                continue
            key = self._key(obj)
            if self.ctl.verbose:
                log("%s: %s %s/%s rv=%s" % (self.res.plural, etype, key[0], key[1], rv))
            with self.lock:
                if etype == "DELETED":
                    self.cache.pop(key, None)
                else:
                    self.cache[key] = self._fill(obj)
            if etype != "DELETED":
                self.ctl.enqueue(self.res, key)
        return rv


class Controller:
    def __init__(self, client, kinds, namespace=None, delay_ms=0, fail_certificates=False,
                 resync=60, verbose=False):
        self.client = client
        self.namespace = namespace
        self.delay = max(0, delay_ms) / 1000.0
        self.fail_certificates = fail_certificates
        self.resync = resync
        self.verbose = verbose
        self.stopping = threading.Event()
        self.material = Material()
        self.informers = {k: Informer(self, RESOURCES[k]) for k in kinds}
        self.queue = []            # heap of (due, seq, resource name, key)
        self.queued = set()
        self.cv = threading.Condition()
        self.seq = 0
        self.failures = {}         # (resource, key) -> consecutive failures
        self.topic_partitions = {}  # uid -> highest partition count "created" so far
        self.skip_logged = set()

    def enqueue(self, res, key, delay=None):
        item = (res.name, key)
        with self.cv:
            if item in self.queued:
                return
            self.queued.add(item)
            self.seq += 1
            due = time.monotonic() + (self.delay if delay is None else delay)
            heapq.heappush(self.queue, (due, self.seq, res.name, key))
            self.cv.notify()

    def start(self):
        for inf in self.informers.values():
            inf.start()
        threading.Thread(target=self.work, name="worker", daemon=True).start()

    def wait_synced(self, timeout):
        end = time.monotonic() + timeout
        for inf in self.informers.values():
            inf.synced.wait(max(0, end - time.monotonic()))

    def work(self):
        while not self.stopping.is_set():
            with self.cv:
                while not self.queue or self.queue[0][0] > time.monotonic():
                    wait = None if not self.queue else self.queue[0][0] - time.monotonic()
                    self.cv.wait(wait if wait is None else max(wait, 0.001))
                    if self.stopping.is_set():
                        return
                _, _, rname, key = heapq.heappop(self.queue)
                self.queued.discard((rname, key))
            self.process(rname, key)

    def process(self, rname, key):
        res = RESOURCES[rname]
        obj = self.informers[rname].get(key)
        if obj is None or meta(obj).get("deletionTimestamp"):
            return
        try:
            getattr(self, "reconcile_" + rname)(res, obj)
            self.failures.pop((rname, key), None)
        except Exception as e:  # noqa: BLE001 - a bug or outage must not kill the worker
            n = self.failures.get((rname, key), 0) + 1
            self.failures[(rname, key)] = n
            delay = min(0.25 * 2 ** n, 30)
            if isinstance(e, kubeapi.ApiError) and e.status == 404:
                delay = max(delay, 1)
            elif not isinstance(e, (kubeapi.ApiError, OSError, http.client.HTTPException)):
                e = "%s: %s" % (type(e).__name__, e)
            log("%s %s/%s: %s; retrying in %.1fs" % (res.kind, key[0], key[1], e, delay))
            self.enqueue(res, key, delay)

    # -- writes -------------------------------------------------------------------------

    def patch_status(self, res, obj, patch, what):
        m = meta(obj)
        sub = "status" if res.has_status else None
        self.client.merge_patch(res.path(m.get("namespace"), m.get("name"), sub), patch)
        log("%s %s/%s: %s" % (res.kind, m.get("namespace"), m.get("name"), what))

    def get_secret(self, namespace, name):
        try:
            return self.client.get(SECRETS.path(namespace, name))
        except kubeapi.ApiError as e:
            if e.status == 404:
                return None
            raise

    def ensure_secret(self, owner_kind, want, have):
        """Create the Secret `want`, or patch the existing one (`have`) until it matches."""
        m = meta(want)
        if have is None:
            self.client.create(SECRETS.path(m["namespace"]), want)
            log("%s: created Secret %s/%s (type %s, keys %s)" % (
                owner_kind, m["namespace"], m["name"], want["type"],
                ",".join(sorted(want["data"]))))
            return
        patch = secret_patch(have, want)
        if patch:
            self.client.merge_patch(SECRETS.path(m["namespace"], m["name"]), patch)
            log("%s: updated Secret %s/%s (%s)" % (owner_kind, m["namespace"], m["name"],
                                                     ",".join(sorted(patch))))

    # -- reconcilers ----------------------------------------------------------------------

    def reconcile_deployments(self, res, obj):
        patch = deployment_status_patch(obj, rfc3339())
        if patch:
            n = (obj.get("spec") or {}).get("replicas")
            self.patch_status(res, obj, patch, "available (replicas=%s, generation=%d)" %
                              (1 if n is None else n, generation(obj)))

    def reconcile_certificates(self, res, obj):
        now = rfc3339()
        if self.fail_certificates:
            patch = certificate_status_patch(obj, now, None, fail=True)
            if patch:
                self.patch_status(res, obj, patch, "Ready=False reason=Failed (--fail-certificates)")
            return
        spec = obj.get("spec") or {}
        if not spec.get("secretName"):
            return
        ns = meta(obj).get("namespace")
        have = self.get_secret(ns, spec["secretName"])
        mat = self.material.get()
        want = certificate_secret(obj, mat.crt, mat.key)
        have_data = (have or {}).get("data") or {}
        if have_data.get("tls.crt") and have_data.get("tls.key"):
            # Issued before (maybe by an earlier run): keep the key pair, as cert-manager would.
            want["data"] = {k: have_data[k] for k in ("tls.crt", "tls.key")}
        self.ensure_secret("Certificate %s/%s" % (ns, meta(obj)["name"]), want, have)
        patch = certificate_status_patch(obj, now, mat.dates)
        if patch:
            self.patch_status(res, obj, patch, "Ready=True (secret %s, generation %d)" %
                              (spec["secretName"], generation(obj)))

    def _strimzi_skip(self, res, obj):
        why = strimzi_skip_reason(obj)
        ident = meta(obj).get("uid") or (meta(obj).get("namespace"), meta(obj).get("name"))
        if why and ident not in self.skip_logged:
            self.skip_logged.add(ident)
            log("%s %s/%s: %s" % (res.kind, meta(obj).get("namespace"), meta(obj).get("name"),
                                  why))
        return why is not None

    def reconcile_kafkatopics(self, res, obj):
        if self._strimzi_skip(res, obj):
            return
        uid = meta(obj).get("uid", "")
        want = (obj.get("spec") or {}).get("partitions") or 1
        have = self.topic_partitions.get(uid)
        error = None
        if have is not None and want < have:
            error = ("NotSupported", "Decreasing partitions not supported")
        elif not strimzi_state(obj):
            self.topic_partitions[uid] = want
        patch = strimzi_status_patch(obj, rfc3339(), topic_extra(obj), error)
        if patch:
            self.patch_status(res, obj, patch, describe_strimzi(patch, generation(obj)))

    def reconcile_kafkausers(self, res, obj):
        if self._strimzi_skip(res, obj):
            return
        m = meta(obj)
        ns, name = m.get("namespace"), m.get("name")
        extra = {"username": user_name(obj), "secret": None}
        error = None
        if not strimzi_state(obj) and user_auth_type(obj) in ("scram-sha-512", "tls"):
            password, error = self.user_password(obj)
            if error is None:
                have = self.get_secret(ns, name)
                tls = self.material.tls_user() if user_auth_type(obj) == "tls" else None
                data = user_secret_data(obj, (have or {}).get("data"), password, tls)
                self.ensure_secret("KafkaUser %s/%s" % (ns, name), user_secret(obj, data), have)
                extra["secret"] = name
        patch = strimzi_status_patch(obj, rfc3339(), extra, error)
        if patch:
            self.patch_status(res, obj, patch, describe_strimzi(patch, generation(obj)))

    def user_password(self, obj):
        """(password or None to generate, error or None) from spec.authentication.password."""
        ref = (((((obj.get("spec") or {}).get("authentication") or {}).get("password") or {})
                .get("valueFrom") or {}).get("secretKeyRef"))
        if user_auth_type(obj) != "scram-sha-512" or not ref:
            return None, None
        ns = meta(obj).get("namespace")
        sec = self.get_secret(ns, ref.get("name", ""))
        value = ((sec or {}).get("data") or {}).get(ref.get("key", ""))
        if not value:
            return None, ("InvalidResourceException",
                          "Secret %s in namespace %s with requested user password does not "
                          "exist or has no key %s" % (ref.get("name"), ns, ref.get("key")))
        return base64.b64decode(value).decode(), None

    def reconcile_jobs(self, res, obj):
        patch, recheck = job_status_patch(obj, time.time())
        if patch:
            conds = patch["status"].get("conditions") or []
            what = ("started (pod %s after %gs)" % job_plan(obj) if not conds else
                    "%s reason=%s" % (conds[-1]["type"], conds[-1]["reason"]))
            self.patch_status(res, obj, patch, what)
        if recheck is not None:
            m = meta(obj)
            self.enqueue(res, (m.get("namespace") or "", m.get("name")), recheck)

    def reconcile_schedules(self, res, obj):
        patch = schedule_status_patch(obj)
        if patch:
            self.patch_status(res, obj, patch, "phase=%s (through the main resource)" %
                              patch["status"].get("phase", (obj.get("status") or {}).get("phase")))


def describe_strimzi(patch, gen):
    conds = patch["status"].get("conditions")
    if not conds:
        return "status updated (observedGeneration %d)" % gen
    c = conds[0]
    text = "%s=%s" % (c["type"], c["status"])
    if c.get("reason"):
        text += " reason=%s" % c["reason"]
    return text + " (generation %d)" % gen


# ---------------------------------------------------------------------------------------
# CRD installation.

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def load_crds(directory):
    crds = []
    for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
        with open(path) as f:
            for doc in miniyaml.load_all(f.read()):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    crds.append(doc)
    return crds


def crd_established(crd):
    c = find_condition((crd.get("status") or {}).get("conditions"), "Established")
    return c is not None and c.get("status") == "True"


def install_crds(client, directory, timeout=30):
    """Create or update our fixture CRDs, then wait until every one is Established.

    A CRD of the same name that we did not install (no managed-by label) is left alone.
    """
    names = []
    for crd in load_crds(directory):
        name = crd["metadata"]["name"]
        crd["metadata"].setdefault("labels", {})[FIXTURE_LABEL] = FIXTURE_VALUE
        names.append(name)
        try:
            have = client.get(CRD_PATH + "/" + name)
        except kubeapi.ApiError as e:
            if e.status != 404:
                raise
            client.create(CRD_PATH, crd)
            log("crd %s: created" % name)
            continue
        if (meta(have).get("labels") or {}).get(FIXTURE_LABEL) != FIXTURE_VALUE:
            log("crd %s: exists and is not ours (no %s=%s label): left alone" %
                (name, FIXTURE_LABEL, FIXTURE_VALUE))
            continue
        crd["metadata"]["resourceVersion"] = meta(have).get("resourceVersion")
        got = client.replace(CRD_PATH + "/" + name, crd)
        changed = meta(got or {}).get("resourceVersion") != meta(have).get("resourceVersion")
        log("crd %s: %s" % (name, "updated" if changed else "unchanged"))
    end = time.monotonic() + timeout
    pending = list(names)
    while pending:
        pending = [n for n in pending if not crd_established(client.get(CRD_PATH + "/" + n))]
        if not pending:
            break
        if time.monotonic() > end:
            raise RuntimeError("CRDs not Established after %ds: %s" % (timeout, ", ".join(pending)))
        time.sleep(0.1)
    log("crds established: %d" % len(names))


# ---------------------------------------------------------------------------------------

def parse_only(text):
    kinds = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if part not in ONLY:
            raise ValueError("--only: unknown %r (choose from %s)" % (part, ",".join(ONLY)))
        kinds.extend(k for k in ONLY[part] if k not in kinds)
    return kinds


def main(argv=None):
    ap = argparse.ArgumentParser(description="Status-side stand-ins for Deployment controller, "
                                 "cert-manager, Strimzi and Velero.")
    ap.add_argument("--kubeconfig", help="kubeconfig path (default $KUBECONFIG, ~/.kube/config)")
    ap.add_argument("--context", help="kubeconfig context (default: current-context)")
    ap.add_argument("--namespace", help="watch only this namespace (default: all)")
    ap.add_argument("--only", default=",".join(ONLY),
                    help="comma-separated subset of %s (default: all)" % ",".join(ONLY))
    ap.add_argument("--install-crds", action="store_true",
                    help="apply hack/crds/*.yaml and wait until Established")
    ap.add_argument("--crds-dir", default=DEFAULT_CRDS, help=argparse.SUPPRESS)
    ap.add_argument("--ready-delay-ms", type=int, default=0,
                    help="wait this long before acting on a change (slow controllers)")
    ap.add_argument("--fail-certificates", action="store_true",
                    help="set Certificates Ready=False reason=Failed instead of issuing")
    ap.add_argument("--ready-file", help="write this file once CRDs are installed and the "
                    "first lists are done")
    ap.add_argument("--resync-seconds", type=int, default=60,
                    help="relist every kind at least this often (default 60)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every watch event")
    args = ap.parse_args(argv)
    try:
        kinds = parse_only(args.only)
    except ValueError as e:
        ap.error(str(e))
    if not kinds:
        ap.error("--only selects nothing")

    stop = threading.Event()
    running = []

    def on_signal(signum, _frame):
        log("%s: stopping" % signal.Signals(signum).name)
        stop.set()
        if not running:  # still installing CRDs or syncing: leave at once
            raise SystemExit(0)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        kc = kubeapi.load_kubeconfig(args.kubeconfig, args.context)
        client = kubeapi.Client(kc)
    except (OSError, ValueError) as e:
        log("cannot use kubeconfig: %s" % e)
        return 2
    log("server %s (%s auth), namespace %s, kinds %s%s" % (
        kc.server, kc.auth_kind(), args.namespace or "(all)", ",".join(kinds),
        ", ready delay %dms" % args.ready_delay_ms if args.ready_delay_ms else ""))
    if args.install_crds:
        try:
            install_crds(client, args.crds_dir)
        except (kubeapi.ApiError, OSError, http.client.HTTPException, RuntimeError,
                miniyaml.YamlError) as e:
            log("installing CRDs failed: %s" % e)
            return 1
    ctl = Controller(client, kinds, args.namespace, args.ready_delay_ms, args.fail_certificates,
                     args.resync_seconds, args.verbose)
    ctl.start()
    ctl.wait_synced(15)
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write("%d\n" % os.getpid())
    running.append(True)
    log("running")
    while not stop.wait(1):
        pass
    ctl.stopping.set()
    with ctl.cv:
        ctl.cv.notify_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
