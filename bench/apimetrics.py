"""bench/apimetrics.py: what the API server says it did (its own /metrics).

A real kube-apiserver serves Prometheus text at /metrics to the admin user;
hack/kubesim does not (404: every figure here is then None). A scrape is
~2 MB and costs the server ~0.1 s of CPU, so the bench scrapes only at phase
boundaries, and the difference of two scrapes is what a phase cost:

- requests by verb and resource (`apiserver_request_total`, summed over
  code, scope and client; WATCH counts streams opened, not events), and the
  seconds the server spent answering them
  (`apiserver_request_duration_seconds_sum`: wall time per request, a long
  watch counts its whole life, so WATCH is left out of the time);
- response bytes by verb and resource (`apiserver_response_sizes_sum`);
- watch events sent by kind (`apiserver_watch_events_total`) and their bytes
  (`apiserver_watch_events_sizes_sum`): each write is fanned out to every
  watcher of its kind;
- the server process's own CPU seconds (`process_cpu_seconds_total`), which
  also works when the server is not a local process.

Requests from kube-controller-manager are counted too (label system_client);
the kcm figures are reported apart.
"""

import opproc

WANT = ("apiserver_request_total", "apiserver_request_duration_seconds_sum",
        "apiserver_response_sizes_sum", "apiserver_watch_events_total",
        "apiserver_watch_events_sizes_sum", "process_cpu_seconds_total",
        "apiserver_watch_cache_consistent_read_total", "etcd_requests_total")


def scrape(client):
    """The wanted samples as a list of (name, labels, value); None when the
    server serves no /metrics (kubesim) or refuses."""
    try:
        status, data = client.raw("GET", "/metrics")
    except OSError:
        return None
    if status != 200:
        return None
    lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.startswith(WANT)]
    return opproc.parse_metrics("\n".join(lines))


def _res(lab):
    r = lab.get("resource") or lab.get("subresource") or "-"
    if lab.get("resource") and lab.get("subresource"):
        r += "/" + lab["subresource"]
    return r


def _by(samples, name, keyfn, skip=None):
    out = {}
    for n, lab, v in samples or ():
        if n == name and not (skip and skip(lab)):
            k = keyfn(lab)
            out[k] = out.get(k, 0) + v
    return out


def summary(samples):
    """Counters of one scrape, keyed for diff()."""
    if samples is None:
        return None
    kcm = lambda lab: lab.get("system_client") == "kube-controller-manager"  # noqa: E731
    vr = lambda lab: "%s %s" % (lab.get("verb", "?"), _res(lab))  # noqa: E731
    return {
        "requests": _by(samples, "apiserver_request_total", vr, kcm),
        "requests_kcm": _by(samples, "apiserver_request_total",
                            lambda lab: lab.get("verb", "?"), lambda lab: not kcm(lab)),
        "seconds": _by(samples, "apiserver_request_duration_seconds_sum", vr,
                       lambda lab: lab.get("verb") in ("WATCH", "CONNECT")),
        "response_bytes": _by(samples, "apiserver_response_sizes_sum", vr),
        "watch_events": _by(samples, "apiserver_watch_events_total",
                            lambda lab: lab.get("kind", "?")),
        "watch_event_bytes": _by(samples, "apiserver_watch_events_sizes_sum",
                                 lambda lab: lab.get("kind", "?")),
        "consistent_reads_from_cache": _by(samples, "apiserver_watch_cache_consistent_read_total",
                                           lambda lab: lab.get("success", "?")),
        "etcd_requests": _by(samples, "etcd_requests_total",
                             lambda lab: lab.get("operation", "?")),
        "cpu_s": sum(v for n, _, v in samples if n == "process_cpu_seconds_total"),
    }


def diff(after, before, n=1):
    """after - before (each a summary), and per `n` (a count of GraceServices)."""
    if after is None or before is None:
        return None
    out = {"cpu_s": round(after["cpu_s"] - before["cpu_s"], 2)}
    for k, v in after.items():
        if isinstance(v, dict):
            d = opproc.diff(v, before.get(k) or {})
            out[k] = {kk: round(vv, 3) for kk, vv in d.items()}
    out["requests_total"] = sum(out["requests"].values())
    out["writes"] = sum(v for k, v in out["requests"].items()
                        if k.split()[0] in ("POST", "PUT", "PATCH", "APPLY", "DELETE",
                                            "DELETECOLLECTION"))
    out["per_gs"] = {"requests": round(out["requests_total"] / n, 2),
                     "writes": round(out["writes"] / n, 2),
                     "cpu_ms": round(out["cpu_s"] * 1000 / n, 1),
                     "watch_events": round(sum(out["watch_events"].values()) / n, 1)}
    return out


def top(d, k=8):
    """The k largest entries of a {key: value} as "key value" text."""
    items = sorted((d or {}).items(), key=lambda kv: -kv[1])[:k]
    return ", ".join("%s %s" % (key, ("%.2f" % v).rstrip("0").rstrip(".")) for key, v in items)
