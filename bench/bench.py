#!/usr/bin/env python3
"""bench/bench.py: one benchmark run against an API server.

bench/run.sh starts the API server (hack/envtest.sh's real control plane or
hack/kubesim, or uses a KUBECONFIG), the dependency stand-ins (and
PostgreSQL), then calls this once per N:

    bench.py --kubeconfig K --server envtest --work DIR --bin bin/grace-operator \
             --config C --n N --out run.json [--pg] [--standins-pid P] [--k 50] \
             [--server-pids apiserver=P,etcd=P,kcm=P] [--ns bench] [--cleanup]

Server processes named in --server-pids have their CPU read from /proc; a
real API server's own /metrics (bench/apimetrics.py) gives its requests by
verb and resource, the watch events it sent and its CPU, per phase.

Phases (each prints its figures; the JSON holds all of them):
  idle       start the operator with no GraceService; RSS once /readyz is 200
  create     N GraceServices POSTed (4 connections); a watch records when each
             becomes Ready; then wait for the queue to drain. Requests by verb
             from the operator's rest_client_requests_total, CPU, peak RSS
  memory     count and raw JSON size of the objects the operator caches
  latency    spec.image of K services patched one at a time; a watch on the
             Deployments gives the time to the child write (p50, p99)
  restart    stop the operator and start it with everything in place: cold
             start (process start -> /readyz 200), then requests until the queue
             drains (writes should be 0), RSS once settled
  resync     SIGHUP: the running operator relists everything; writes should be 0
  apiserver  plain GETs of one object per second over one keep-alive
             connection for ~3 s, the duration of a LIST of every GraceService,
             and the lists of every cached kind three ways (paginated without
             resourceVersion, resourceVersion=0, streaming watch-list) with the
             server's CPU for each
  reqcost    (a server this bench started) the API server's CPU for each kind of
             request the operator sends per GraceService (--reqcost-k of each
             on 4 connections, three rounds, the median), operator stopped
             and stand-ins paused; and their sum per GraceService
             (bench/reqcost.py)
  cleanup    (--cleanup, an existing cluster) every GraceService deleted while
             the operator runs, so its finalizer removes the children

A benchmark never fails on speed: this exits non-zero only when the set-up
breaks (the operator dies, the API server does not answer).
"""

import argparse
import json
import os
import urllib.parse
import signal
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apimetrics  # noqa: E402
import kube  # noqa: E402
import objsize  # noqa: E402
import opproc  # noqa: E402
import reqcost  # noqa: E402

GROUP_PATH = "/apis/grace.dev/v1alpha1"
RECONCILE = "controller_runtime_reconcile_total"
REQ_SECONDS = "rest_client_request_duration_seconds_sum"
NS = "bench"   # --ns

# The same-job client-go controller on the same real kube-apiserver v1.32.13
# (issue 13's table): printed beside our figures as the reference.
CLIENT_GO = {
    "gs_ready_per_s": {100: 8.6, 1000: 7.2, 3000: 7.2},
    "writes_per_gs": 27.5,
    "operator_cpu_ms_per_gs": {100: 23.0, 1000: 28.5, 3000: 27.3},
    "apiserver_cpu_ms_per_gs": {1000: 195, 3000: 195},
    "settled_rss_mib": {1000: 287, 3000: 791},
    "cold_start_ms": {100: 308, 1000: 1666, 3000: 5238},
    "cold_start_apiserver_cpu_s": {1000: 0.72, 3000: 3.7},
    "restart_writes": "9 per GraceService",
}


def cgo(key, n=None):
    """The client-go reference for a figure at N (None when the table has none)."""
    v = CLIENT_GO.get(key)
    return v.get(n) if isinstance(v, dict) else v


def say(msg):
    print("  " + msg, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def pct(values, p):
    """Nearest-rank percentile."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


NAME_PREFIX = "svc"   # --name-prefix


def gs_name(i):
    return "%s-%05d" % (NAME_PREFIX, i)


def gs_body(i, pg):
    name = gs_name(i)
    spec = {
        "image": "ghcr.io/example/%s:1.0.0" % name,
        "port": 8000,
        "kafka": {"topics": [{"name": name + ".events", "partitions": 3}],
                  "produces": [name + ".events"]},
        "backup": {"schedule": "0 3 * * *"},
    }
    if pg:
        spec["postgres"] = {}
    return {"apiVersion": "grace.dev/v1alpha1", "kind": "GraceService",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def is_ready(obj):
    meta, st = obj.get("metadata") or {}, obj.get("status") or {}
    for c in st.get("conditions") or []:
        if c.get("type") == "Ready":
            return (c.get("status") == "True"
                    and c.get("observedGeneration") == meta.get("generation"))
    return False


class Procs:
    """CPU seconds of the operator, the API server's processes (local ones: the
    kube-apiserver, etcd, kube-controller-manager, or kubesim) and the
    stand-ins; with `client`, also the API server's /metrics."""

    def __init__(self, op, server_pids, standins_pid, client=None):
        self.op, self.server_pids, self.standins = op, dict(server_pids or {}), standins_pid
        self.client = client

    def snap(self, scrape=None):
        """scrape: None, or "first"/"last": the API server's /metrics read
        before / after the CPU figures, so that the scrape's own cost falls
        outside the interval (a start snapshot: "first"; an end one: "last")."""
        api = self._scrape() if scrape == "first" else None
        out = {"operator": self.op.cpu(),
               "standins": opproc.proc_cpu(self.standins) if self.standins else None,
               "t": time.monotonic()}
        for name, pid in self.server_pids.items():
            out[name] = opproc.proc_cpu(pid)
        if scrape == "last":
            api = self._scrape()
        if api is not None:
            out["api"] = api
        return out

    def wait_quiet(self, busy=0.1, window=0.5, limit=20.0):
        """Wait until the server's processes and the stand-ins together use
        less than `busy` of one core over `window` seconds (at most `limit`
        s): a cold start is measured against a settled server, not one
        still working off the phase before. Returns the seconds waited."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            a = self.snap()
            time.sleep(window)
            b = self.snap()
            used = sum(b[k] - a[k] for k in list(self.server_pids) + ["standins"]
                       if a.get(k) is not None and b.get(k) is not None)
            if used < busy * window:
                break
        return time.monotonic() - t0

    def _scrape(self):
        return apimetrics.summary(apimetrics.scrape(self.client)) if self.client else None

    @staticmethod
    def delta(a, b, n=1):
        out = {"wall_s": round(b["t"] - a["t"], 3)}
        for k in ("operator", "apiserver", "etcd", "kcm", "standins"):
            if a.get(k) is not None and b.get(k) is not None:
                out[k + "_cpu_s"] = round(b[k] - a[k], 2)
        if a.get("api") is not None and b.get("api") is not None:
            out["api"] = apimetrics.diff(b["api"], a["api"], n)
        return out


def say_api(phase, d, n_label="GraceService"):
    """The API server's side of a phase (its /metrics), when it has them."""
    api = d.get("api")
    if not api:
        return
    say("%s: API server (its /metrics): CPU %.2f s (process: %s s; etcd %s s); per %s %s" % (
        phase, api["cpu_s"], d.get("apiserver_cpu_s"), d.get("etcd_cpu_s"), n_label,
        api["per_gs"]))
    say("%s: API server requests: %s" % (phase, apimetrics.top(api["requests"], 12)))
    say("%s: API server seconds answering (not WATCH): %s" % (
        phase, apimetrics.top(api["seconds"], 8)))
    say("%s: watch events sent by kind: %s" % (phase, apimetrics.top(api["watch_events"], 12)))


def cpu_text(d):
    """A Procs.delta without the API server's /metrics part (printed apart)."""
    return {k: v for k, v in d.items() if k != "api"}


def _g(d, *path):
    for p in path:
        d = d.get(p) if isinstance(d, dict) else None
    return d


def per_gs(by_method, n):
    return {k: round(v / n, 2) for k, v in by_method.items()}


def req_summary(before, after, n):
    m = opproc.diff(opproc.requests_by(after), opproc.requests_by(before))
    mc = opproc.diff(opproc.requests_by_method_code(after),
                     opproc.requests_by_method_code(before))
    return {"by_method": m, "by_method_code": mc,
            "per_gs": per_gs(m, n), "writes": opproc.writes(m),
            "writes_per_gs": round(opproc.writes(m) / n, 2),
            "requests_per_gs": round(sum(m.values()) / n, 2)}


def events_per_gs(client, n):
    """Events in the services' namespace per GraceService, by reason."""
    items, _, _ = kube.list_all(client, "/api/v1/namespaces/%s/events" % NS)
    by = {}
    for e in items:
        by[e.get("reason", "?")] = by.get(e.get("reason", "?"), 0) + (e.get("count") or 1)
    return {k: round(v / n, 2) for k, v in sorted(by.items())}


# ---- phases ---------------------------------------------------------------

def phase_idle(op):
    op.start()
    ready = op.wait_ready()
    time.sleep(1.0)
    mem = op.mem()
    maps = opproc.proc_maps_rss(op.pid)
    say("idle: ready after %.0f ms, RSS %.1f MiB (anon %.1f, file %.1f), %d threads" % (
        ready * 1000, mem["VmRSS"] / 2**20, mem["RssAnon"] / 2**20,
        mem["RssFile"] / 2**20, mem["Threads"]))
    say("idle: resident by mapping (KiB): %s" % ", ".join(
        "%s %d" % (k, v // 1024) for k, v in (maps or {}).items()))
    return {"ready_ms": round(ready * 1000, 1), "mem": mem, "rss_by_mapping": maps}


def create_all(client, n, pg, conns=4):
    """POST n GraceServices over `conns` connections; returns {name: t_created}."""
    created, lock, errors = {}, threading.Lock(), []
    idx = iter(range(n))

    def worker():
        try:
            while True:
                with lock:
                    i = next(idx, None)
                if i is None:
                    return
                t = time.monotonic()
                client.json("POST", "%s/namespaces/%s/graceservices" % (GROUP_PATH, NS),
                            gs_body(i, pg), ok=(201,))
                with lock:
                    created[gs_name(i)] = t
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)
        finally:
            client.close()

    ts = [threading.Thread(target=worker) for _ in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return created


def apiserver_pprof(client, spec):
    """Start a CPU profile of the API server (its /debug/pprof/profile) in a
    thread: spec "FILE" or "FILE:SECONDS" (default 30). Returns the thread."""
    path, _, secs = spec.partition(":")
    secs = int(secs or 30)

    def fetch():
        conn = client.connect(timeout=secs + 60)
        try:
            conn.request("GET", "/debug/pprof/profile?seconds=%d" % secs,
                         headers=client._headers())
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                say("apiserver pprof: HTTP %d" % resp.status)
                return
            with open(path, "wb") as f:
                f.write(data)
            say("apiserver pprof: %d s written to %s (summary: bench/pprofsum.py)" % (secs, path))
        except OSError as e:
            say("apiserver pprof failed: %s" % e)
        finally:
            conn.close()

    t = threading.Thread(target=fetch, daemon=True)
    t.start()
    return t


def phase_create(client, op, procs, n, pg, timeout, stall=180.0, perf=None, pprof=None):
    gs_path = "%s/namespaces/%s/graceservices" % (GROUP_PATH, NS)
    _, rv, _ = kube.list_all(client, gs_path)
    ready, cv, modified = {}, threading.Condition(), [0]

    def on_event(typ, obj, now):
        if typ == "MODIFIED":
            modified[0] += 1
        if typ in ("ADDED", "MODIFIED") and is_ready(obj):
            name = obj["metadata"]["name"]
            with cv:
                if name not in ready:
                    ready[name] = now
                    cv.notify_all()

    w = kube.Watch(client, gs_path, rv, on_event)
    m0, c0, load0 = op.metrics(), procs.snap("first"), loadavg()
    prof = opproc.perf_attach(op.pid, perf) if perf else None
    pprof_thread = apiserver_pprof(client, pprof) if pprof else None
    t0 = time.monotonic()
    created = create_all(client, n, pg)
    t_posted = time.monotonic()
    say("create: %d POSTed in %.1f s" % (n, t_posted - t0))
    deadline, last_print = t0 + timeout, time.monotonic()
    progress = (0, time.monotonic())
    with cv:
        while len(ready) < n and time.monotonic() < deadline and w.error is None:
            cv.wait(1.0)
            now = time.monotonic()
            if len(ready) != progress[0]:
                progress = (len(ready), now)
            elif now - progress[1] > stall:
                say("create: no GraceService became Ready for %.0f s: giving up" % stall)
                break
            if now - last_print >= 30:
                last_print = now
                say("create: %d/%d Ready after %.0f s" % (len(ready), n, now - t0))
    if len(ready) < n:   # the watch failed or time ran out: one list decides
        items, _, _ = kube.list_all(client, gs_path)
        now = time.monotonic()
        for o in items:
            if is_ready(o) and o["metadata"]["name"] not in ready:
                ready[o["metadata"]["name"]] = now
    n_ready = len(ready)
    t_all = max(ready.values()) if ready else time.monotonic()
    c_ready = procs.snap()
    m1, settle = opproc.quiesce(op, timeout=max(60.0, n * 0.2))
    c1, mem, load1 = procs.snap("last"), op.mem(), loadavg()
    maps = opproc.proc_maps_rss(op.pid)
    if prof:
        opproc.perf_detach(prof)
    if pprof_thread:
        pprof_thread.join()
    time.sleep(0.5)   # the last watch events
    w.stop()
    lat = [ready[k] - created[k] for k in ready if k in created]
    out = {
        "n_ready": n_ready, "posted_s": round(t_posted - t0, 2),
        "all_ready_s": round(t_all - t0, 2) if n_ready == n else None,
        "gs_ready_per_s": round(n / (t_all - t0), 1) if n_ready == n else None,
        "create_to_ready_p50_s": round(pct(lat, 50), 2) if lat else None,
        "create_to_ready_p99_s": round(pct(lat, 99), 2) if lat else None,
        "settle_after_ready_s": round(settle, 2) if settle is not None else None,
        "requests": req_summary(m0, m1, n),
        "reconciles": opproc.reconciles(m1) - opproc.reconciles(m0),
        "reconciles_by_result": opproc.diff(opproc.by_label(m1, RECONCILE, "result"),
                                            opproc.by_label(m0, RECONCILE, "result")),
        "request_seconds": round(opproc.msum(m1, REQ_SECONDS) - opproc.msum(m0, REQ_SECONDS), 2),
        "gs_modified_per_gs": round(modified[0] / n, 2),
        "events_per_gs": events_per_gs(client, n),
        "cpu_to_ready": Procs.delta(c0, c_ready),
        "cpu": Procs.delta(c0, c1, n),
        "mem_settled": mem, "rss_by_mapping": maps, "load": [load0, load1],
        # the service directory (issue 16): its JSON size, and the ConfigMap writes
        # creation cost (coalesced: at most one per 2 s)
        "directory_bytes": opproc.msum(m1, "grace_directory_bytes"),
        "directory_writes": opproc.msum(m1, "grace_directory_configmap_writes_total")
        - opproc.msum(m0, "grace_directory_configmap_writes_total"),
        "directory_errors": opproc.msum(m1, "grace_directory_publish_errors_total")
        - opproc.msum(m0, "grace_directory_publish_errors_total"),
    }
    out["operator_cpu_ms_per_gs"] = round(out["cpu"]["operator_cpu_s"] * 1000 / n, 2)
    api_cpu = out["cpu"].get("apiserver_cpu_s")
    if api_cpu is None and out["cpu"].get("api"):
        api_cpu = out["cpu"]["api"]["cpu_s"]
    out["apiserver_cpu_ms_per_gs"] = round(api_cpu * 1000 / n, 1) if api_cpu is not None else None
    say("create: %d/%d Ready in %s s (%s GS/s); settled %s s later" % (
        n_ready, n, out["all_ready_s"], out["gs_ready_per_s"], out["settle_after_ready_s"]))
    say("create: per GS %s; writes/GS %.2f; operator CPU %.2f ms/GS (%s)" % (
        out["requests"]["per_gs"], out["requests"]["writes_per_gs"],
        out["operator_cpu_ms_per_gs"], cpu_text(out["cpu"])))
    say("create: reconciles %s; operator waited %.1f s on API requests in total" % (
        out["reconciles_by_result"], out["request_seconds"]))
    say("create: writes seen: %.2f updates of each GraceService (finalizer, status), "
        "Events per GraceService %s" % (out["gs_modified_per_gs"], out["events_per_gs"]))
    say("create: directory %d B of JSON, %d ConfigMap writes, %d failed or did not fit" % (
        out["directory_bytes"], out["directory_writes"], out["directory_errors"]))
    say("create: RSS settled %.1f MiB (anon %.1f), peak %.1f MiB; heap in use %.1f MiB, "
        "free inside it %.1f MiB" % (
            mem["VmRSS"] / 2**20, mem["RssAnon"] / 2**20, mem["VmHWM"] / 2**20,
            mem.get("HeapInUse", 0) / 2**20, mem.get("HeapFree", 0) / 2**20))
    say("create: resident by mapping (KiB): %s" % ", ".join(
        "%s %d" % (k, v // 1024) for k, v in (maps or {}).items()))
    say_api("create", out["cpu"])
    say("create: API server CPU %s ms/GS (client-go %s); operator %s ms/GS (client-go %s); "
        "writes/GS %s (client-go %s); %s GS/s (client-go %s)" % (
            out["apiserver_cpu_ms_per_gs"], cgo("apiserver_cpu_ms_per_gs", n),
            out["operator_cpu_ms_per_gs"], cgo("operator_cpu_ms_per_gs", n),
            out["requests"]["writes_per_gs"], cgo("writes_per_gs"), out["gs_ready_per_s"],
            cgo("gs_ready_per_s", n)))
    return out


def phase_latency(client, op, procs, n, k):
    dep_path = "/apis/apps/v1/namespaces/%s/deployments" % NS
    _, rv, _ = kube.list_all(client, dep_path, limit=1)
    seen, cv = {}, threading.Condition()

    def on_event(typ, obj, now):
        if typ not in ("ADDED", "MODIFIED"):
            return
        try:
            img = obj["spec"]["template"]["spec"]["containers"][0]["image"]
        except (KeyError, IndexError, TypeError):
            return
        key = (obj["metadata"]["name"], img)
        with cv:
            seen.setdefault(key, now)
            cv.notify_all()

    w = kube.Watch(client, dep_path, rv, on_event,
                   label_selector="app.kubernetes.io/managed-by=grace-operator")
    m0, c0 = op.metrics(), procs.snap()
    lat, missed = [], 0
    k = min(k, n)
    for j in range(k):
        name = gs_name(j * n // k)
        img = "ghcr.io/example/%s:1.0.1" % name
        t0 = time.monotonic()
        client.json("PATCH", "%s/namespaces/%s/graceservices/%s" % (GROUP_PATH, NS, name),
                    {"spec": {"image": img}}, content_type="application/merge-patch+json")
        with cv:
            ok = cv.wait_for(lambda: (name, img) in seen, timeout=30.0)
        if ok:
            lat.append(seen[(name, img)] - t0)
        else:
            missed += 1
    w.stop()
    # Before anything else: every changed service Ready again (the stand-ins roll
    # the Deployments out), so that a restart afterwards has nothing to catch up on.
    t_wait, names = time.monotonic(), {gs_name(j * n // k) for j in range(k)}
    while time.monotonic() - t_wait < 600:
        items, _, _ = kube.list_all(client, "%s/namespaces/%s/graceservices" % (GROUP_PATH, NS))
        if all(is_ready(o) for o in items if o["metadata"]["name"] in names):
            break
        time.sleep(1.0)
    ready_again = time.monotonic() - t_wait
    m1, _ = opproc.quiesce(op, timeout=120.0)
    c1 = procs.snap()
    out = {"k": k, "missed": missed, "all_ready_again_s": round(ready_again, 1),
           "p50_ms": round(pct(lat, 50) * 1000, 1) if lat else None,
           "p99_ms": round(pct(lat, 99) * 1000, 1) if lat else None,
           "max_ms": round(max(lat) * 1000, 1) if lat else None,
           "mean_ms": round(statistics.mean(lat) * 1000, 1) if lat else None,
           "requests": req_summary(m0, m1, k), "cpu": Procs.delta(c0, c1)}
    say("latency: spec.image -> Deployment write, K=%d: p50 %s ms, p99 %s ms, max %s ms%s" % (
        k, out["p50_ms"], out["p99_ms"], out["max_ms"],
        ", %d missed" % missed if missed else ""))
    say("latency: per change %s" % out["requests"]["per_gs"])
    return out


def conditions(obj):
    return {c.get("type"): "%s/%s" % (c.get("status"), c.get("reason"))
            for c in (obj.get("status") or {}).get("conditions") or []}


class WriteSpy:
    """What the operator wrote to GraceServices and Events while it ran: a watch
    on the GraceServices (changed conditions per update) and the Events that are
    new since the start."""

    def __init__(self, client):
        self.client = client
        gs_path = "%s/namespaces/%s/graceservices" % (GROUP_PATH, NS)
        items, rv, _ = kube.list_all(client, gs_path)
        self.last = {o["metadata"]["name"]: conditions(o) for o in items}
        self.updates, self.lock = [], threading.Lock()
        ev, _, _ = kube.list_all(client, "/api/v1/namespaces/%s/events" % NS)
        self.events0 = {(e["metadata"]["name"], e.get("count")) for e in ev}
        self.watch = kube.Watch(client, gs_path, rv, self.on_event)

    def on_event(self, typ, obj, now):
        if typ != "MODIFIED":
            return
        name, cur = obj["metadata"]["name"], conditions(obj)
        with self.lock:
            old = self.last.get(name, {})
            changed = {t: "%s -> %s" % (old.get(t), v) for t, v in cur.items() if old.get(t) != v}
            self.updates.append({"name": name, "changed": changed})
            self.last[name] = cur

    def result(self):
        time.sleep(0.5)
        self.watch.stop()
        ev, _, _ = kube.list_all(self.client, "/api/v1/namespaces/%s/events" % NS)
        new = [{"object": (e.get("involvedObject") or e.get("regarding") or {}).get("name"),
                "reason": e.get("reason"), "message": (e.get("message") or e.get("note"))}
               for e in ev if (e["metadata"]["name"], e.get("count")) not in self.events0]
        return {"gs_updates": self.updates[:20], "gs_update_count": len(self.updates),
                "new_events": new[:20], "new_event_count": len(new)}


def phase_restart(client, op, procs, n, rounds, perf=None, alt_bin=None):
    out = []
    main_bin = op.binary
    for r in range(rounds):
        stop_s = op.stop()
        quiet_s = procs.wait_quiet()
        op.set_binary(alt_bin if alt_bin and r % 2 == 1 else main_bin)
        spy = WriteSpy(client)
        c0 = procs.snap("first")
        prof = None
        if perf and r == 0:   # attach before the operator runs: cold start included
            op.start(gated=True)
            prof = opproc.perf_attach(op.pid, perf, settle=1.0)
            c0 = procs.snap("first")
            op.release()
        else:
            op.start()
        c0["operator"] = 0.0   # a new process: its CPU counts from zero
        cold = op.wait_ready()
        c_ready, mem_ready = procs.snap("last"), op.mem()
        m1, settle = opproc.quiesce(op, min_reconciles=n, timeout=max(60.0, n * 0.2))
        c1, mem = procs.snap("last"), op.mem()
        maps = opproc.proc_maps_rss(op.pid)
        if prof:
            opproc.perf_detach(prof)
        by = opproc.requests_by(m1)
        res = {"stop_s": round(stop_s, 2) if stop_s is not None else None,
               "server_quiet_after_s": round(quiet_s, 1),
               "cold_start_ms": round(cold * 1000, 1),
               "cold_start_cpu": Procs.delta(c0, c_ready), "mem_at_ready": mem_ready,
               "drained_s": round(settle, 2) if settle is not None else None,
               "reconciles": opproc.reconciles(m1),
               "reconciles_by_result": opproc.by_label(m1, RECONCILE, "result"),
               "request_seconds": round(opproc.msum(m1, REQ_SECONDS), 2),
               "requests": {"by_method": by,
                            "by_method_code": opproc.requests_by_method_code(m1),
                            "writes": opproc.writes(by),
                            "writes_per_gs": round(opproc.writes(by) / n, 3)},
               "cpu": Procs.delta(c0, c1), "mem_settled": mem, "rss_by_mapping": maps,
               "load": loadavg()}
        res["written"] = spy.result()
        res["binary"] = "alt" if op.binary != main_bin else "main"
        out.append(res)
        if alt_bin:
            say("restart %d runs the %s binary" % (r + 1, res["binary"]))
        say("restart %d: server quiet after %.1f s; cold start %.0f ms (CPU s until then: %s), "
            "drained after %s s, %d reconciles, requests %s, writes %d; RSS %.1f MiB (anon %.1f); "
            "CPU %s" % (
                r + 1, quiet_s, res["cold_start_ms"], cpu_text(res["cold_start_cpu"]), res["drained_s"],
                res["reconciles"], by, res["requests"]["writes"], mem["VmRSS"] / 2**20,
                mem["RssAnon"] / 2**20, cpu_text(res["cpu"])))
        say("restart %d: heap in use %.1f MiB, free inside it %.1f MiB" % (
            r + 1, mem.get("HeapInUse", 0) / 2**20, mem.get("HeapFree", 0) / 2**20))
        say("restart %d: resident by mapping (KiB): %s" % (r + 1, ", ".join(
            "%s %d" % (k, v // 1024) for k, v in (maps or {}).items())))
        if res["requests"]["writes"]:
            say("restart %d: what was written: %s" % (r + 1, json.dumps(res["written"])[:1500]))
        cs = res["cold_start_cpu"]
        lists = {k: v for k, v in (_g(cs, "api", "seconds") or {}).items() if k.startswith("LIST")}
        if lists:   # the server's own time answering the initial lists (they run at once)
            res["server_list_ms"] = {"longest": round(max(lists.values()) * 1000, 1),
                                     "sum": round(sum(lists.values()) * 1000, 1)}
        say("restart %d: cold start %.0f ms (client-go %s ms); the server's own time answering "
            "the lists %s ms (longest; sum %s ms); API server CPU until ready %s s "
            "(client-go %s s), etcd %s s" % (
                r + 1, res["cold_start_ms"], cgo("cold_start_ms", n),
                _g(res, "server_list_ms", "longest"), _g(res, "server_list_ms", "sum"),
                cs.get("apiserver_cpu_s", _g(cs, "api", "cpu_s")),
                cgo("cold_start_apiserver_cpu_s", n), cs.get("etcd_cpu_s")))
        say_api("restart %d (until ready)" % (r + 1), cs, "object cached")
    return out


def phase_resync(client, op, procs, n):
    """A forced full resync with nothing changed: SIGHUP makes the running
    operator relist every kind and re-check every GraceService."""
    spy = WriteSpy(client)
    m0, c0 = op.metrics(), procs.snap("first")
    r0 = opproc.reconciles(m0)
    op.proc.send_signal(signal.SIGHUP)
    m1, settle = opproc.quiesce(op, min_reconciles=r0 + n, timeout=max(60.0, n * 0.2))
    c1 = procs.snap("last")
    by = opproc.diff(opproc.requests_by(m1), opproc.requests_by(m0))
    res = {"drained_s": round(settle, 2) if settle is not None else None,
           "reconciles": opproc.reconciles(m1) - r0,
           "requests": {"by_method": by,
                        "by_method_code": opproc.diff(opproc.requests_by_method_code(m1),
                                                      opproc.requests_by_method_code(m0)),
                        "writes": opproc.writes(by),
                        "writes_per_gs": round(opproc.writes(by) / n, 3)},
           "cpu": Procs.delta(c0, c1, n)}
    res["written"] = spy.result()
    say("resync (SIGHUP): drained after %s s, %d reconciles, requests %s, writes %d; CPU %s" % (
        res["drained_s"], res["reconciles"], by, res["requests"]["writes"], cpu_text(res["cpu"])))
    if res["requests"]["writes"]:
        say("resync: what was written: %s" % json.dumps(res["written"])[:1500])
    say_api("resync", res["cpu"])
    return res


LIST_MODES = ("paged", "rv0", "unpaged", "watchlist")


def _list_one(client, path, selector, mode):
    """One kind listed the way `mode` says; returns bytes received. paged: pages
    of 500 without resourceVersion (each a consistent read); rv0: one request
    with resourceVersion=0 (the watch cache, any state); unpaged: one request
    without resourceVersion (consistent; from the watch cache where the server
    has ConsistentListFromCache, beta in 1.31); watchlist: a watch with
    sendInitialEvents=true until the initial-events-end bookmark."""
    if mode == "paged":
        return kube.list_all(client, path, selector, raw_only=True)[2]
    q = {"resourceVersion": "0"} if mode == "rv0" else {} if mode == "unpaged" else {
        "watch": "1", "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
        "allowWatchBookmarks": "true", "timeoutSeconds": "60"}
    if selector:
        q["labelSelector"] = selector
    url = path + "?" + urllib.parse.urlencode(q)
    if mode in ("rv0", "unpaged"):
        status, data = client.raw("GET", url)
        if status != 200:
            raise kube.ApiError("GET", url, status, data.decode("utf-8", "replace"))
        return len(data)
    conn = client.connect(timeout=120)
    try:
        conn.request("GET", url, headers=client._headers())
        resp = conn.getresponse()
        if resp.status != 200:
            raise kube.ApiError("GET", url, resp.status, resp.read().decode("utf-8", "replace"))
        total = 0
        while True:
            line = resp.readline()
            if not line:
                raise kube.ApiError("GET", url, 200, "watch ended before initial-events-end")
            total += len(line)
            if line.startswith(b'{"type":"BOOKMARK"') and b"initial-events-end" in line:
                return total
    finally:
        conn.close()


def list_modes(client, procs, rounds=3):
    """Every cached kind listed concurrently (as the operator's informers do),
    each mode `rounds` times, alternating: wall time, bytes and the API
    server's CPU (its process, and etcd's) per mode (the median round)."""
    kinds = objsize.served_paths(client)
    out = {m: [] for m in LIST_MODES}
    for _ in range(rounds):
        for mode in LIST_MODES:
            errors, sizes = [], []

            def one(path, sel, mode=mode, errors=errors, sizes=sizes):
                try:
                    sizes.append(_list_one(client, path, sel, mode))
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(str(e)[:200])
                finally:
                    client.close()

            local = "apiserver" in procs.server_pids   # else its /metrics give its CPU
            a = procs.snap() if local else procs.snap("first")
            ts = [threading.Thread(target=one, args=k) for k in kinds]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            d = Procs.delta(a, procs.snap() if local else procs.snap("last"))
            if not local and d.get("api"):
                d["apiserver_cpu_s"] = d["api"]["cpu_s"]
            d.pop("api", None)
            d["bytes"] = sum(sizes)
            if errors:
                d["errors"] = errors[:3]
            out[mode].append(d)
            time.sleep(0.5)
    med = {}
    for mode, runs in out.items():
        runs.sort(key=lambda d: d["wall_s"])
        med[mode] = runs[len(runs) // 2]
    return med


def phase_apiserver(client, procs, n, seconds=3.0):
    one = "%s/namespaces/%s/graceservices/%s" % (GROUP_PATH, NS, gs_name(0))
    count, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        status, _ = client.raw("GET", one)
        if status != 200:
            raise kube.ApiError("GET", one, status, b"")
        count += 1
    get_rate = count / (time.monotonic() - t0)
    lists = []
    for _ in range(3):
        t = time.monotonic()
        status, data = client.raw("GET", "%s/graceservices" % GROUP_PATH)
        lists.append((time.monotonic() - t, len(data)))
    dur = statistics.median(x[0] for x in lists)
    t, pages = time.monotonic(), []
    objsize.count_objects(client, timing=pages)
    with_parse = time.monotonic() - t
    cached = sum(pages)  # the server's answers only, not this client's json.loads
    out = {"get_one_per_s": round(get_rate, 1), "list_gs_ms": round(dur * 1000, 1),
           "list_gs_bytes": lists[0][1], "n": n,
           "list_cached_kinds_ms": round(cached * 1000, 1),
           "list_cached_kinds_with_client_parse_ms": round(with_parse * 1000, 1)}
    say("apiserver: %.0f GET/s of one object (one keep-alive connection); "
        "LIST of %d GraceServices %.0f ms (%.1f MB); the lists of every cached kind "
        "(pages of 500, one after another) %.0f ms (%.0f ms with this client's parsing)" % (
            get_rate, n, dur * 1000, lists[0][1] / 1e6, cached * 1000, with_parse * 1000))
    out["list_modes"] = list_modes(client, procs)
    for mode, d in out["list_modes"].items():
        say("apiserver: every cached kind at once, %-9s %6.0f ms, %.1f MB; CPU s: API server "
            "%s, etcd %s%s" % (mode, d["wall_s"] * 1000, d["bytes"] / 1e6,
                               d.get("apiserver_cpu_s"), d.get("etcd_cpu_s"),
                               "; errors: %s" % d["errors"] if d.get("errors") else ""))
    return out


def phase_cleanup(client, n):
    """Delete every GraceService of the run while the operator runs (its
    finalizer removes the children in other namespaces); wait until gone."""
    gs_path = "%s/namespaces/%s/graceservices" % (GROUP_PATH, NS)
    client.json("DELETE", gs_path, ok=(200,))
    end = time.monotonic() + 120 + n * 0.2
    while time.monotonic() < end:
        items, _, _ = kube.list_all(client, gs_path)
        if not items:
            say("cleanup: every GraceService deleted")
            return
        time.sleep(1.0)
    say("cleanup: %d GraceServices still there" % len(items))


def phase_reqcost(client, procs, a, create):
    """What each of the operator's requests costs the API server, and their
    sum per GraceService (bench/reqcost.py)."""
    _, ready = client.json("GET", "%s/namespaces/%s/graceservices/%s" % (GROUP_PATH, NS,
                                                                         gs_name(0)))

    def template(name, ns):
        body = gs_body(0, a.pg)
        body = json.loads(json.dumps(body).replace(gs_name(0), name))
        body["metadata"]["namespace"] = ns
        return body

    table = reqcost.measure(client, procs, a.bin, a.config, template, ready, k=a.reqcost_k,
                            say=say)
    api_req = _g(create, "cpu", "api", "requests") or {}
    extras = {"status": api_req.get("PATCH graceservices/status", a.n) / a.n,
              "events": sum((create.get("events_per_gs") or {}).values())}
    floor = reqcost.floor(table, extras)
    say("reqcost: the operator's requests per GraceService cost the API server %.1f ms "
        "(%d applies %.1f, finalizer, one status, the Kafka Secret GET); %.1f ms with the "
        "%.2f status writes and %.2f Events per GraceService of the create phase" % (
            floor["minimum_ms"], floor["applies"], floor["applies_ms"],
            floor["with_measured_extras_ms"], extras["status"], extras["events"]))
    return {"requests": table, "floor": floor, "extras_per_gs": extras, "k": a.reqcost_k}


# ---- main -----------------------------------------------------------------

def server_info(client, kind):
    """Which API server this ran against: kind and version."""
    try:
        _, v = client.json("GET", "/version")
    except (kube.ApiError, OSError, ValueError):
        v = {}
    return {"kind": kind, "version": (v or {}).get("gitVersion"),
            "platform": (v or {}).get("platform")}


def run(a):
    global NS, NAME_PREFIX
    NS, NAME_PREFIX = a.ns, a.name_prefix
    client = kube.Client(a.kubeconfig)
    op = opproc.Operator(a.bin, a.kubeconfig, a.config, a.work,
                         os.path.join(a.work, "operator.pid"), log_level=a.log_level,
                         wrap=a.wrap.split() if a.wrap and a.profile_phase != "restart" else ())
    phases = set(a.phases.split(","))
    pids = dict(kv.split("=", 1) for kv in a.server_pids.split(",") if kv) if a.server_pids else {}
    procs = Procs(op, {k: int(v) for k, v in pids.items()}, a.standins_pid, client)
    res = {"n": a.n, "postgres": a.pg, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "server": server_info(client, a.server), "load_at_start": loadavg()}
    say("server: %s %s" % (res["server"]["kind"], res["server"]["version"]))
    t_run = time.monotonic()
    try:
        res["idle"] = phase_idle(op)
        res["create"] = phase_create(client, op, procs, a.n, a.pg, a.timeout, a.stall,
                                     a.perf if a.profile_phase == "create" else None,
                                     a.apiserver_pprof)
        res["cached"] = objsize.measure(client, res["idle"]["mem"], res["create"]["mem_settled"])
        objsize.report(res["cached"], say)
        if "latency" in phases and a.k > 0 and res["create"]["n_ready"] == a.n:
            res["latency"] = phase_latency(client, op, procs, a.n, a.k)
        if "restart" in phases and a.restarts > 0:
            if a.profile_phase == "restart" and a.wrap:
                op.argv = a.wrap.split() + op.argv
            res["restart"] = phase_restart(client, op, procs, a.n, a.restarts,
                                           a.perf if a.profile_phase == "restart" else None,
                                           a.alt_bin)
            res["cached_after_restart"] = objsize.measure(
                client, res["idle"]["mem"], res["restart"][-1]["mem_settled"], res["cached"])
            objsize.report(res["cached_after_restart"], say)
        if "resync" in phases:
            res["resync"] = phase_resync(client, op, procs, a.n)
        if "apiserver" in phases:
            res["apiserver"] = phase_apiserver(client, procs, a.n)
        if a.cleanup:
            phase_cleanup(client, a.n)
        if "reqcost" in phases and a.server in ("envtest", "kubesim"):
            op.stop()
            res["reqcost"] = phase_reqcost(client, procs, a, res["create"])
    finally:
        op.stop()
        res["duration_s"] = round(time.monotonic() - t_run, 1)
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1, sort_keys=True)
    say("run N=%d%s took %.0f s" % (a.n, " (postgres)" if a.pg else "", res["duration_s"]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kubeconfig", required=True, help="the API server and its admin credentials")
    p.add_argument("--server", default="kubeconfig", help="what the server is (recorded): "
                   "envtest, kubesim or kubeconfig")
    p.add_argument("--server-pids", help="local server processes whose CPU is read: "
                   "apiserver=PID,etcd=PID,kcm=PID")
    p.add_argument("--ns", default="bench", help="namespace of the GraceServices")
    p.add_argument("--name-prefix", default="svc",
                   help="GraceService names PREFIX-00000...: host names and Kafka topics derive "
                   "from them and are unique cluster-wide, so a shared cluster needs one per run")
    p.add_argument("--cleanup", action="store_true",
                   help="delete the GraceServices (through the operator) at the end")
    p.add_argument("--work", required=True, help="directory for logs and the pid file")
    p.add_argument("--bin", required=True)
    p.add_argument("--alt-bin", help="restarts alternate between --bin (odd) and this binary "
                   "(even), back to back (A/B comparisons of cold start and restart writes)")
    p.add_argument("--config", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--k", type=int, default=50, help="spec changes for the latency phase")
    p.add_argument("--restarts", type=int, default=2)
    p.add_argument("--pg", action="store_true", help="GraceServices with spec.postgres")
    p.add_argument("--timeout", type=float, default=0, help="seconds to wait for all Ready")
    p.add_argument("--standins-pid", type=int)
    p.add_argument("--log-level", default="warn", help="operator log level (diagnosis)")
    p.add_argument("--reqcost-k", type=int, default=150,
                   help="requests of each kind per round in the reqcost phase (3 rounds)")
    p.add_argument("--phases", default="latency,restart,resync,apiserver,reqcost",
                   help="phases after idle+create (comma-separated)")
    p.add_argument("--stall", type=float, default=180.0,
                   help="give up creation when no GraceService became Ready for this long")
    p.add_argument("--perf", help="perf record the operator into this file (create or the "
                   "first restart: --profile-phase)")
    p.add_argument("--apiserver-pprof", metavar="FILE[:SECONDS]",
                   help="CPU profile of the API server from the start of creation "
                   "(its /debug/pprof/profile, default 30 s)")
    p.add_argument("--wrap", help="command prefix for the operator (e.g. valgrind --tool=massif)")
    p.add_argument("--profile-phase", choices=("create", "restart"), default="create",
                   help="--perf: during creation (default) or the first restart; --wrap: "
                   "every operator start, or with restart only the restarted ones")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    if a.timeout <= 0:
        a.timeout = 300 + a.n * 3.0
    run(a)


if __name__ == "__main__":
    main()
