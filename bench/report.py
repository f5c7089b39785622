#!/usr/bin/env python3
"""bench/report.py: machine description and the results files.

    report.py machine --bin bin/grace-operator --out machine.json
    report.py render --machine machine.json --out-dir bench/results run1.json ...
    report.py rerender bench/results/<date>-<host>.json [--latest]

`render` writes <out-dir>/<date>-<host>.json (machine + every run), the same
as Markdown (<date>-<host>.md) and a copy of the Markdown as latest.md. The
targets are those of issue 13 (on a real API server); the client-go column is
the same-job client-go controller measured on the same real kube-apiserver
v1.32.13 (issue 13's table). Each run says which API server it ran against.
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time

MIB = 2 ** 20


def _cmd(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip()
    except (OSError, subprocess.SubprocessError):
        return None


def machine(binary):
    info = {"host": socket.gethostname(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "nproc": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version()}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                info["mem_mib"] = int(line.split()[1]) // 1024
    with open("/proc/loadavg") as f:
        info["loadavg_at_start"] = [float(x) for x in f.read().split()[:3]]
    info["operator_version"] = _cmd([binary, "version"])
    with open(binary, "rb") as f:
        info["operator_sha256"] = hashlib.sha256(f.read()).hexdigest()
    info["cc"] = (_cmd(["cc", "--version"]) or "").split("\n")[0]
    kv = _cmd(["kubectl", "version", "--client", "-o", "json"])
    try:
        info["kubectl"] = json.loads(kv)["clientVersion"]["gitVersion"]
    except (TypeError, ValueError, KeyError):
        info["kubectl"] = kv
    libs = {}
    for pkg in ("libcurl", "jansson", "yaml-0.1", "lua5.4", "libwebsockets", "libpq", "openssl"):
        libs[pkg] = _cmd(["pkg-config", "--modversion", pkg])
    info["libraries"] = libs
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    info["git"] = _cmd(["git", "-C", root, "describe", "--always", "--dirty"])
    info["build"] = "make (OPT=-O2 -g, the default build)"
    return info


# ---- Markdown -------------------------------------------------------------

def _mem_row(mem):
    """VmRSS / RssAnon; heap in use / free (grace_heap_bytes), in MiB."""
    mem = mem or {}
    text = "%s / %s" % (_mib(mem.get("VmRSS")), _mib(mem.get("RssAnon")))
    if mem.get("HeapInUse") or mem.get("HeapFree"):
        text += "; %s / %s" % (_mib(mem.get("HeapInUse")), _mib(mem.get("HeapFree")))
    return text


def _mib(b):
    return "%.1f" % (b / MIB) if b is not None else "-"


def _g(d, *path):
    for p in path:
        if d is None:
            return None
        d = d[p] if isinstance(d, list) and isinstance(p, int) and p < len(d) else (
            d.get(p) if isinstance(d, dict) else None)
    return d


def _fmt(v, spec="%s"):
    return spec % v if v is not None else "-"


def _verbs(d):
    if not d:
        return "-"
    return ", ".join("%s %s" % (k, ("%.2f" % v).rstrip("0").rstrip(".")) for k, v in sorted(d.items()))


def _ms_per(r, s):
    return round(s * 1000 / r["n"], 1) if s is not None else None


def _top_per(d, n, k=8):
    if not d:
        return "-"
    items = sorted(d.items(), key=lambda kv: -kv[1])[:k]
    return ", ".join("%s %s" % (key, ("%.2f" % (v / n)).rstrip("0").rstrip(".")) for key, v in items)


def _listmode(r, mode):
    d = _g(r, "apiserver", "list_modes", mode)
    if not d:
        return "-"
    return "%.0f; %s + %s" % (d["wall_s"] * 1000, _fmt(d.get("apiserver_cpu_s")),
                              _fmt(d.get("etcd_cpu_s")))


def _reqcost(r):
    """The reqcost phase's API server ms per request, short names."""
    reqs = _g(r, "reqcost", "requests")
    if not reqs:
        return "-"
    out = []
    for name, d in reqs.items():
        short = name.split(" (")[0] + (" (finalizer)" if "(finalizer)" in name else "")
        out.append("%s %s" % (short, _fmt(d.get("apiserver_ms"))))
    return ", ".join(out)


def _reqcost_floor(r):
    f = _g(r, "reqcost", "floor")
    if not f:
        return "-"
    return "%s (%s applies %s) / %s" % (_fmt(f["minimum_ms"]), f.get("applies", 8),
                                        _fmt(f["applies_ms"]), _fmt(f["with_measured_extras_ms"]))


def _server(r):
    s = r.get("server") or {"kind": "kubesim", "version": None}
    return "%s %s" % (s.get("kind"), s.get("version") or "")


def _median(vals):
    vals = sorted(v for v in vals if v is not None)
    return vals[len(vals) // 2] if vals else None


# (label, function(run) -> text, target, client-go)
ROWS = [
    ("time from first create to all Ready (s)",
     lambda r: _fmt(_g(r, "create", "all_ready_s")), "", ""),
    ("GraceServices Ready per second",
     lambda r: _fmt(_g(r, "create", "gs_ready_per_s")), "", "8.6 / 7.2 / 7.2 at 100 / 1,000 / 3,000"),
    ("create -> Ready per GraceService, p50 / p99 (s)",
     lambda r: "%s / %s" % (_fmt(_g(r, "create", "create_to_ready_p50_s")),
                            _fmt(_g(r, "create", "create_to_ready_p99_s"))), "", ""),
    ("API writes per GraceService at creation",
     lambda r: _fmt(_g(r, "create", "requests", "writes_per_gs")), "10", "27-28"),
    ("API server CPU per GraceService at creation (ms; its process, else its /metrics)",
     lambda r: _fmt(_g(r, "create", "apiserver_cpu_ms_per_gs")), "<= 50", "195 at 1,000 / 3,000"),
    ("API server CPU per request the operator sends (ms; reqcost phase: median of 3 rounds of "
     "150 on 4 connections, operator stopped, stand-ins paused, idle CPU subtracted)",
     _reqcost, "", ""),
    ("... the operator's own requests per GraceService at creation (ms of API server CPU): "
     "the applies, finalizer, one status, one GET / with the create phase's extra status writes "
     "and Events", _reqcost_floor, "", ""),
    ("etcd CPU per GraceService at creation (ms)",
     lambda r: _fmt(_ms_per(r, _g(r, "create", "cpu", "etcd_cpu_s"))), "", ""),
    ("API server: requests per GraceService at creation, all clients (its /metrics)",
     lambda r: _fmt(_g(r, "create", "cpu", "api", "per_gs", "requests")), "", ""),
    ("API server: requests at creation by verb and resource (top 8, per GraceService)",
     lambda r: _top_per(_g(r, "create", "cpu", "api", "requests"), r["n"]), "", ""),
    ("API server: seconds answering at creation by verb and resource (top 5, ms per GraceService)",
     lambda r: _top_per(_g(r, "create", "cpu", "api", "seconds"), r["n"] / 1000.0, 5), "", ""),
    ("API server: watch events sent per GraceService at creation",
     lambda r: _fmt(_g(r, "create", "cpu", "api", "per_gs", "watch_events")), "", ""),
    ("API requests per GraceService at creation, by verb",
     lambda r: _verbs(_g(r, "create", "requests", "per_gs")), "", ""),
    ("reconciles per GraceService at creation (by result)",
     lambda r: "%.1f (%s)" % (_g(r, "create", "reconciles") / r["n"], _verbs(
         {k: v / r["n"] for k, v in (_g(r, "create", "reconciles_by_result") or {}).items()})),
     "", ""),
    ("API writes on a restart with nothing changed (total)",
     lambda r: " / ".join(_fmt(_g(x, "requests", "writes")) for x in r.get("restart") or []) or "-",
     "0", "9 per GraceService (9,000 at 1,000)"),
    ("API requests on that restart (total, by verb)",
     lambda r: _verbs(_g(r, "restart", 0, "requests", "by_method")), "", ""),
    ("API writes during a forced full resync (SIGHUP: relist + every GraceService re-checked), nothing changed (total)",
     lambda r: _fmt(_g(r, "resync", "requests", "writes")), "0", "9 per GraceService"),
    ("API requests during that resync (total, by verb); operator CPU s",
     lambda r: "%s; %s" % (_verbs(_g(r, "resync", "requests", "by_method")),
                           _fmt(_g(r, "resync", "cpu", "operator_cpu_s"))), "", ""),
    ("service directory: JSON bytes; ConfigMap writes during creation (failed)",
     lambda r: "%s; %s (%s)" % (_fmt(_g(r, "create", "directory_bytes"), "%d"),
                                _fmt(_g(r, "create", "directory_writes"), "%d"),
                                _fmt(_g(r, "create", "directory_errors"), "%d")),
     "< 1 MiB stored at 5,000 (gzip past 768 KiB)", ""),
    ("operator RSS idle, no objects (MiB): total / anon",
     lambda r: "%s / %s" % (_mib(_g(r, "idle", "mem", "VmRSS")), _mib(_g(r, "idle", "mem", "RssAnon"))),
     "", "28 (6.4)"),
    ("operator RSS peak during creation (MiB, VmHWM)",
     lambda r: _mib(_g(r, "create", "mem_settled", "VmHWM")), "", ""),
    ("operator RSS settled after creation (MiB): total / anon; heap in use / free inside it",
     lambda r: _mem_row(_g(r, "create", "mem_settled")),
     "<= 21 at 1,000, <= 45 at 3,000", "287 / 791 at 1,000 / 3,000 (settled)"),
    ("operator RSS settled after a restart (MiB): total / anon; heap in use / free inside it",
     lambda r: _mem_row(_g(r, "restart", -1, "mem_settled")),
     "<= 21 at 1,000, <= 45 at 3,000", "287 / 791 at 1,000 / 3,000 (settled)"),
    ("objects cached (GraceServices + children)",
     lambda r: _fmt(_g(r, "cached", "objects")), "", ""),
    ("raw JSON per cached object (B, minified, no managedFields)",
     lambda r: _fmt(_g(r, "cached", "raw_bytes_per_object")), "", "1,678"),
    ("memory per cached object after restart (anon growth over idle, B; x raw)",
     lambda r: "%s (%sx)" % (_fmt(_g(r, "cached_after_restart", "anon_per_object_bytes")),
                             _fmt(_g(r, "cached_after_restart", "anon_per_object_x_raw"))),
     "", "29.6 KB (23.8x) at 3,000"),
    ("operator CPU per GraceService at creation (ms)",
     lambda r: _fmt(_g(r, "create", "operator_cpu_ms_per_gs")), "<= 2, flat in N",
     "23.0 / 28.5 / 27.3 at 100 / 1,000 / 3,000"),
    ("CPU s at creation: operator / API server / etcd / kube-controller-manager / stand-ins",
     lambda r: " / ".join(_fmt(_g(r, "create", "cpu", k + "_cpu_s"))
                          for k in ("operator", "apiserver", "etcd", "kcm", "standins")), "", ""),
    ("spec change -> Deployment write, p50 / p99 (ms)",
     lambda r: "%s / %s" % (_fmt(_g(r, "latency", "p50_ms")), _fmt(_g(r, "latency", "p99_ms"))), "", ""),
    ("cold start, process start -> /readyz 200 (ms; each restart)",
     lambda r: " / ".join(_fmt(x.get("cold_start_ms")) for x in r.get("restart") or []) or "-",
     "<= 500 at 1,000, <= 1,500 at 3,000", "308 / 1,666 / 5,238 at 100 / 1,000 / 3,000"),
    ("cold start: the API server's own time answering the initial lists (longest LIST, ms; each restart)",
     lambda r: " / ".join(_fmt(_g(x, "server_list_ms", "longest")) for x in r.get("restart") or []) or "-",
     "cold start within 100 ms of it", ""),
    ("cold start: API server CPU s until /readyz (each restart; + etcd)",
     lambda r: " / ".join("%s (+%s)" % (_fmt(_g(x, "cold_start_cpu", "apiserver_cpu_s")),
                                        _fmt(_g(x, "cold_start_cpu", "etcd_cpu_s")))
                          for x in r.get("restart") or []) or "-",
     "", "0.72 / 3.7 at 1,000 / 3,000"),
    ("cold start: operator CPU s until /readyz (each restart)",
     lambda r: " / ".join(_fmt(_g(x, "cold_start_cpu", "operator_cpu_s")) for x in r.get("restart") or []) or "-",
     "", ""),
    ("restart: time until the queue drained after /readyz (s)",
     lambda r: _fmt(_g(r, "restart", -1, "drained_s")), "", ""),
    ("restart: CPU s operator / API server (until drained)",
     lambda r: "%s / %s" % (_fmt(_g(r, "restart", -1, "cpu", "operator_cpu_s")),
                            _fmt(_g(r, "restart", -1, "cpu", "apiserver_cpu_s"))), "",
     "API server 2.6 (ours) vs 43.9 at 1,000"),
    ("API server: GETs of one object per second (1 connection)",
     lambda r: _fmt(_g(r, "apiserver", "get_one_per_s")), "", ""),
    ("API server: LIST of all GraceServices (ms)",
     lambda r: _fmt(_g(r, "apiserver", "list_gs_ms")), "", ""),
    ("API server: LISTs of every cached kind, pages of 500, one after another (ms; its answers only)",
     lambda r: _fmt(_g(r, "apiserver", "list_cached_kinds_ms")), "", ""),
    ("every cached kind listed at once, paged (limit=500, no resourceVersion): ms; API server + etcd CPU s",
     lambda r: _listmode(r, "paged"), "", ""),
    ("... resourceVersion=0 (watch cache): ms; API server + etcd CPU s",
     lambda r: _listmode(r, "rv0"), "", ""),
    ("... one request without resourceVersion (consistent; watch cache with ConsistentListFromCache): ms; API server + etcd CPU s",
     lambda r: _listmode(r, "unpaged"), "", ""),
    ("... streaming watch-list (sendInitialEvents=true): ms; API server + etcd CPU s",
     lambda r: _listmode(r, "watchlist"), "", ""),
    ("API server", _server, "", "kube-apiserver v1.32.13"),
    ("load average (1 min) at start / end of creation",
     lambda r: "%s / %s" % (_fmt(_g(r, "create", "load", 0, 0)), _fmt(_g(r, "create", "load", 1, 0))),
     "", ""),
    ("run duration (s)", lambda r: _fmt(r.get("duration_s")), "", ""),
]


def markdown(doc):
    m, runs = doc["machine"], doc["runs"]
    out = ["# grace-operator benchmark, %s on %s" % (m.get("date", "?")[:10], m.get("host")), ""]
    servers = sorted({_server(r) for r in runs})
    out.append("Machine: %s CPUs (%s), %s MiB, Linux %s; load average at start %s "
               "(other work ran concurrently). Operator %s (%s, sha256 %s), %s; kubectl %s; python %s. "
               "API server: %s (envtest: hack/envtest.sh's etcd + kube-apiserver + "
               "kube-controller-manager on loopback; kubesim: the Python stand-in), "
               "child status: hack/standins." % (
                   m.get("nproc"), m.get("cpu"), m.get("mem_mib"), m.get("kernel"),
                   m.get("loadavg_at_start"), m.get("operator_version"), m.get("git"),
                   (m.get("operator_sha256") or "?")[:12],
                   m.get("build"), m.get("kubectl"), m.get("python"), ", ".join(servers)))
    out.append("")
    out.append("Libraries: " + ", ".join("%s %s" % kv for kv in (m.get("libraries") or {}).items()))
    out.append("")
    heads = ["N=%d%s%s" % (r["n"], " +postgres" if r.get("postgres") else "",
                           " (%s)" % _server(r).strip() if len(servers) > 1 else "") for r in runs]
    out.append("| figure | " + " | ".join(heads) + " | target (issue 13) | client-go, same job, real API server |")
    out.append("|---|" + "---:|" * len(runs) + "---|---|")
    for label, fn, target, cgo in ROWS:
        cells = []
        for r in runs:
            try:
                cells.append(fn(r))
            except (KeyError, TypeError, IndexError, ValueError):
                cells.append("-")
        out.append("| %s | %s | %s | %s |" % (label, " | ".join(cells), target, cgo))
    out.append("")
    out.append("Objects cached, by kind (count, raw JSON bytes):")
    out.append("")
    for r in runs:
        kinds = _g(r, "cached", "kinds") or {}
        out.append("- N=%d%s: %s" % (r["n"], " +postgres" if r.get("postgres") else "", ", ".join(
            "%s %d (%d B)" % (k, v["count"], v["bytes"]) for k, v in kinds.items() if v["count"])))
    out.append("")
    out.append("Requests at creation by method and code (totals):")
    out.append("")
    for r in runs:
        out.append("- N=%d%s: %s" % (r["n"], " +postgres" if r.get("postgres") else "",
                                     _verbs(_g(r, "create", "requests", "by_method_code"))))
    out.append("")
    return "\n".join(out)


def rerender(a):
    """Markdown again from a results JSON (after a change of this script)."""
    with open(a.json) as f:
        doc = json.load(f)
    md = markdown(doc)
    base = a.json[:-len(".json")] if a.json.endswith(".json") else a.json
    with open(base + ".md", "w") as f:
        f.write(md)
    if a.latest:
        shutil.copyfile(base + ".md", os.path.join(os.path.dirname(base), "latest.md"))
    print(md)
    return 0


def render(a):
    with open(a.machine) as f:
        mach = json.load(f)
    runs = []
    for p in a.runs:
        if not os.path.exists(p):
            continue
        with open(p) as f:
            runs.append(json.load(f))
    if not runs:
        print("report: no results", file=sys.stderr)
        return 1
    runs.sort(key=lambda r: (bool(r.get("postgres")), r["n"]))
    with open("/proc/loadavg") as f:
        mach["loadavg_at_end"] = [float(x) for x in f.read().split()[:3]]
    doc = {"machine": mach, "runs": runs}
    base = os.path.join(a.out_dir, "%s-%s" % (mach["date"][:10], mach["host"]))
    with open(base + ".json", "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    md = markdown(doc)
    with open(base + ".md", "w") as f:
        f.write(md)
    shutil.copyfile(base + ".md", os.path.join(a.out_dir, "latest.md"))
    print("\n" + md)
    print("bench: wrote %s.json, %s.md, %s" % (base, base, os.path.join(a.out_dir, "latest.md")))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("machine")
    m.add_argument("--bin", required=True)
    m.add_argument("--out", required=True)
    r = sub.add_parser("render")
    r.add_argument("--machine", required=True)
    r.add_argument("--out-dir", required=True)
    r.add_argument("runs", nargs="*")
    rr = sub.add_parser("rerender")
    rr.add_argument("json")
    rr.add_argument("--latest", action="store_true", help="also copy to latest.md")
    a = p.parse_args()
    if a.cmd == "machine":
        with open(a.out, "w") as f:
            json.dump(machine(a.bin), f, indent=1)
        return 0
    if a.cmd == "rerender":
        return rerender(a)
    return render(a)


if __name__ == "__main__":
    sys.exit(main())
