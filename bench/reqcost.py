"""bench/reqcost.py: what each request the operator sends for one GraceService
costs the API server (bench.py's `reqcost` phase).

The API server's CPU per GraceService at creation (the create phase) is the
sum of every client's requests and of the watch events they fan out. This
phase takes the operator's own requests one kind at a time: each is sent K
times on four keep-alive connections (the operator's four workers) into a
scratch namespace, and the API server's and etcd's CPU over the batch and a
one-second settle after it (what the server does after answering: watch
events, its own controllers), less what they use idle over that time, is
divided by K. Three rounds of every kind; the median is kept, so that a
garbage collection of the server that lands in one batch does not decide
the figure.

The bodies are the operator's: the children are `grace-operator render` of
the bench's GraceService (with the run's --config), applied with the
operator's field manager; the finalizer patch carries a resourceVersion
precondition as the operator's does; the status is the one the operator
wrote on a GraceService of the create phase; the Event is an events.k8s.io/v1
Event as kube/krecorder.c writes it. Not measured: the PostgreSQL credentials
Secret of a service with spec.postgres (written once the database exists;
`render` cannot make it), so the +postgres run's sum lacks one apply.

The operator is stopped and the stand-ins are paused (SIGSTOP) meanwhile, so
no other client writes. Only for a server this bench started (envtest,
kubesim): on a shared cluster the Deployments would be scheduled.
"""

import base64
import concurrent.futures
import json
import os
import signal
import statistics
import subprocess
import tempfile
import time

import objsize

SCRATCH_NS = "bench-reqcost"
MANAGER = "grace-operator"
# kind -> resource, from the kinds the operator caches (objsize.KINDS)
PLURALS = {kind: paths[0].rsplit("/", 1)[1] for kind, paths, _ in objsize.KINDS}


def _path(api_version, plural, ns, name=None):
    base = "/api/v1" if api_version == "v1" else "/apis/" + api_version
    p = "%s/namespaces/%s/%s" % (base, ns, plural)
    return p + "/" + name if name else p


def render_children(bin_path, config, gs):
    """The operator's children for `gs` (grace-operator render)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(gs, f)
    try:
        out = subprocess.run([bin_path, "render", "-f", f.name, "--config", config, "-o", "json"],
                             check=True, capture_output=True, text=True, timeout=60).stdout
    finally:
        os.unlink(f.name)
    return json.loads(out)["items"]


def kafka_secret_copy(children):
    """The Secret the operator copies from Strimzi's (controllers/gskafka.c),
    labelled and owned as the other children in the service's namespace."""
    dep = next(o for o in children if o["kind"] == "Deployment")
    user = next((o for o in children if o["kind"] == "KafkaUser"), None)
    if user is None:
        return None
    meta = {"name": user["metadata"]["name"], "namespace": dep["metadata"]["namespace"],
            "labels": dep["metadata"].get("labels", {}),
            "ownerReferences": dep["metadata"].get("ownerReferences", [])}
    password = "p" * 32  # Strimzi's are 32 characters
    jaas = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
            'username="%s" password="%s";' % (user["metadata"]["name"], password))
    data = {"password": base64.b64encode(password.encode()).decode(),
            "sasl.jaas.config": base64.b64encode(jaas.encode()).decode()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
            "data": data}


def _renamed(obj, old, new, ns, uid):
    """obj for another service: names with `old` get `new`; in `ns`; owned by uid."""
    o = json.loads(json.dumps(obj).replace(old, new))
    o["metadata"]["namespace"] = ns
    for ref in o["metadata"].get("ownerReferences", []):
        ref["uid"] = uid
    return o


class Batch:
    """K requests of one kind on `workers` connections (the operator's
    default --workers), against the server's CPU (procs.snap), less what the
    server uses idle over the same time (measured once, over `idle_s`: its
    own periodic work, kube-controller-manager's lease renewals)."""

    def __init__(self, procs, k, settle, workers=4, idle_s=4.0):
        self.procs, self.k, self.settle, self.workers = procs, k, settle, workers
        self.local = "apiserver" in procs.server_pids
        self.procs.wait_quiet(limit=10.0)
        a = self._snap("first")
        time.sleep(idle_s)
        b = self._snap("last")
        self.idle = {key: (self._cpu(a, b, key) or 0.0) / (b["t"] - a["t"])
                     for key in ("apiserver", "etcd")}

    def _snap(self, which):
        return self.procs.snap() if self.local else self.procs.snap(which)

    @staticmethod
    def _cpu(a, b, key):
        if key == "apiserver" and a.get("api") is not None and b.get("api") is not None:
            return b["api"]["cpu_s"] - a["api"]["cpu_s"]
        if a.get(key) is None or b.get(key) is None:
            return None
        return b[key] - a[key]

    def run(self, send):
        self.procs.wait_quiet(limit=10.0)
        a = self._snap("first")
        with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
            t0 = time.monotonic()
            list(pool.map(send, range(self.k)))
            wall = time.monotonic() - t0
        time.sleep(self.settle)
        b = self._snap("last")
        out = {"wall_ms": round(wall * 1000 / self.k, 2)}
        for key in ("apiserver", "etcd"):
            used = self._cpu(a, b, key)
            if used is None:
                continue
            used -= self.idle[key] * (b["t"] - a["t"])
            out[key + "_ms"] = round(max(used, 0.0) * 1000 / self.k, 2)
        return out


def measure(client, procs, bin_path, config, gs_template, ready_gs, k=150, rounds=3,
            settle=1.0, say=print):
    """The table: {request: {apiserver_ms, etcd_ms, wall_ms}} per request,
    each the median of `rounds` rounds (one batch of every request per
    round). gs_template(name, ns) is the bench's GraceService body; ready_gs
    a GraceService the operator made Ready (its status is the one written)."""
    client.json("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": SCRATCH_NS}}, ok=(201, 409))
    stopped = procs.standins
    if stopped:
        os.kill(stopped, signal.SIGSTOP)
    try:
        batch = Batch(procs, k, settle)
        children = render_children(bin_path, config,
                                   gs_template("rctemplate", ready_gs["metadata"]["namespace"]))
        runs = [_round(client, batch, children, gs_template, ready_gs, "rc%d" % r, k)
                for r in range(rounds)]
    finally:
        if stopped:
            os.kill(stopped, signal.SIGCONT)
    res = {}
    for name in runs[0]:
        res[name] = {key: round(statistics.median(r[name][key] for r in runs), 2)
                     for key in runs[0][name]}
    for name, d in res.items():
        say("reqcost: %-58s API server %6.2f ms, etcd %s ms, %.2f ms each" % (
            name, d.get("apiserver_ms", 0), d.get("etcd_ms", "-"), d["wall_ms"]))
    return res


def _round(client, batch, children, gs_template, ready_gs, prefix, k):
    """One batch of each request; its objects are named PREFIX-NNNNN."""
    names = ["%s-%05d" % (prefix, i) for i in range(k)]
    gs_path = "/apis/grace.dev/v1alpha1/namespaces/%s/graceservices" % SCRATCH_NS
    made = {}
    res = {}

    def create_gs(i):
        _, o = client.json("POST", gs_path, gs_template(names[i], SCRATCH_NS))
        made[i] = o["metadata"]

    res["POST graceservices (the user's create, for scale)"] = batch.run(create_gs)

    def finalizer(i):
        body = {"metadata": {"finalizers": ["grace.dev/cleanup"],
                             "resourceVersion": made[i]["resourceVersion"]}}
        client.json("PATCH", "%s/%s?fieldManager=%s" % (gs_path, names[i], MANAGER), body,
                     content_type="application/merge-patch+json")

    res["PATCH graceservices (finalizer)"] = batch.run(finalizer)
    status = ready_gs.get("status") or {}

    def write_status(i):
        client.json("PATCH", "%s/%s/status?fieldManager=%s" % (gs_path, names[i], MANAGER),
                    {"status": status}, content_type="application/merge-patch+json")

    res["PATCH graceservices/status (first status, %d B)" % len(json.dumps(status))] = \
        batch.run(write_status)

    secret = kafka_secret_copy(children)
    for child in children + ([secret] if secret else []):
        plural = PLURALS.get(child["kind"])
        if not plural:  # a child kind objsize.KINDS lacks: add it there
            raise ValueError("reqcost: no resource known for kind %s" % child["kind"])

        def apply(i, child=child, plural=plural):
            o = _renamed(child, "rctemplate", names[i], SCRATCH_NS, made[i]["uid"])
            path = _path(o["apiVersion"], plural, SCRATCH_NS, o["metadata"]["name"])
            client.json("PATCH", "%s?fieldManager=%s&force=true" % (path, MANAGER), o,
                        content_type="application/apply-patch+yaml")

        res["APPLY %s (create, %d B)" % (plural, len(json.dumps(child)))] = batch.run(apply)

    def event(i):
        regarding = {"apiVersion": "grace.dev/v1alpha1", "kind": "GraceService",
                     "namespace": SCRATCH_NS, "name": names[i], "uid": made[i]["uid"]}
        body = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
                "metadata": {"name": "%s.%x" % (names[i], time.time_ns()),
                             "namespace": SCRATCH_NS},
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
                "reportingController": "grace.dev/grace-operator",
                "reportingInstance": "grace-operator-bench", "action": "Reconcile",
                "reason": "Ready", "type": "Normal", "note": "all components are ready",
                "regarding": regarding}
        client.json("POST", "/apis/events.k8s.io/v1/namespaces/%s/events" % SCRATCH_NS, body)

    res["POST events"] = batch.run(event)
    if secret:
        def get_secret(i):
            name = _renamed(secret, "rctemplate", names[i], SCRATCH_NS, "")["metadata"]["name"]
            client.json("GET", _path("v1", "secrets", SCRATCH_NS, name))

        res["GET secrets (one object)"] = batch.run(get_secret)
    return res


def floor(res, writes):
    """API server ms per GraceService for the operator's own requests at
    creation: every child apply, the finalizer and one status write (the
    minimum, 10 writes), and with the extra status writes and Events per
    GraceService that the create phase measured (writes: {"status": x,
    "events": y})."""
    applies = sum(d["apiserver_ms"] for n, d in res.items() if n.startswith("APPLY "))
    fin = next((d["apiserver_ms"] for n, d in res.items() if "(finalizer)" in n), 0)
    st = next((d["apiserver_ms"] for n, d in res.items() if "graceservices/status" in n), 0)
    ev = res.get("POST events", {}).get("apiserver_ms", 0)
    get = res.get("GET secrets (one object)", {}).get("apiserver_ms", 0)
    minimum = applies + fin + st + get
    measured = minimum + st * max(0.0, writes.get("status", 1) - 1) + ev * writes.get("events", 0)
    return {"minimum_ms": round(minimum, 1), "with_measured_extras_ms": round(measured, 1),
            "applies_ms": round(applies, 1),
            "applies": sum(1 for n in res if n.startswith("APPLY "))}
