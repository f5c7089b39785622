#!/usr/bin/env python3
"""Load on the operator's admission webhook while /healthz is polled (stdlib only).

Used by e2e/scenarios/33-*.sh, 34-*.sh and bench/healthz.sh. Prints one JSON
object on stdout.

  webhook_load.py slow  --webhook-port P --cafile CA --health-port H [--conns N] [--seconds S]
      N TLS connections each POST a Content-Length of 100000 and trickle the
      body one byte every 2 s; reports when the server closed each one and
      how many were answered 408 first.
  webhook_load.py flood --webhook-port P --cafile CA --health-port H [--clients N]
                        [--requests R] [--size BYTES]
      N threads each POST R valid AdmissionReviews (a GraceService carrying an
      annotation of about BYTES) to /mutate-graceservice.
  webhook_load.py poll --health-port H --seconds S
      GET /healthz on a new connection every 20 ms; latency percentiles.

In slow and flood the poller runs in its own process, so the load's threads
(and Python's GIL) do not inflate the measured latencies.
"""
import argparse
import http.client
import json
import os
import select
import socket
import ssl
import subprocess
import sys
import threading
import time

POLL_TIMEOUT_S = 2.0


def percentile(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def poll(port, seconds):
    lat, failures, errors = [], 0, []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=POLL_TIMEOUT_S)
            c.request("GET", "/healthz")
            r = c.getresponse()
            body = r.read()
            c.close()
            if r.status != 200 or body != b"ok\n":
                raise RuntimeError("HTTP %d %r" % (r.status, body[:40]))
            lat.append((time.monotonic() - t0) * 1000.0)
        except Exception as e:  # a failure, whatever it is
            failures += 1
            if len(errors) < 5:
                errors.append(str(e))
        time.sleep(0.02)
    return {"n": len(lat) + failures, "failures": failures, "errors": errors,
            "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
            "max_ms": max(lat) if lat else None}


def start_poller(port, seconds):
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "poll", "--health-port", str(port),
                             "--seconds", str(seconds)], stdout=subprocess.PIPE)


def finish_poller(p):
    out, _ = p.communicate(timeout=120)
    return json.loads(out)


def tls_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False  # the certificate names localhost; we dial 127.0.0.1
    return ctx


def trickle(port, ctx, result, answers, i):
    t0 = time.monotonic()
    try:
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=60))
        s.sendall(b"POST /validate-graceservice HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        while time.monotonic() - t0 < 60:
            s.sendall(b"{")
            # wait the 2 s gap on the socket: a close is seen when it happens
            if select.select([s], [], [], 2)[0]:
                got = s.recv(64)
                if not got:
                    raise ConnectionResetError("closed by the server")
                if not answers[i]:
                    answers[i] = got.split(b"\r\n")[0].decode("latin-1")  # the status line
        result[i] = None  # never closed
    except (OSError, ssl.SSLError):
        result[i] = time.monotonic() - t0


def slow(a):
    poller = start_poller(a.health_port, a.seconds)
    time.sleep(0.3)
    ctx = tls_context(a.cafile)
    result = [None] * a.conns
    answers = [None] * a.conns  # the status line each got before the close, if any
    ts = [threading.Thread(target=trickle, args=(a.webhook_port, ctx, result, answers, i),
                           daemon=True)
          for i in range(a.conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=max(1, a.seconds - 1))
    closed = [r for r in result if r is not None]
    return {"load": "slow", "conns": a.conns, "closed": len(closed),
            "max_open_s": round(max(closed), 2) if closed else None,
            "answered_408": sum(1 for x in answers if x and x.startswith("HTTP/1.1 408 ")),
            "healthz": finish_poller(poller)}


def review(uid, size):
    obj = {"apiVersion": "grace.dev/v1alpha1", "kind": "GraceService",
           "metadata": {"name": "load", "namespace": "default",
                        "annotations": {"load/padding": "x" * size}},
           "spec": {"image": "example/load:1"}}
    return json.dumps({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": uid, "operation": "CREATE", "namespace": "default", "name": "load",
                    "kind": {"group": "grace.dev", "version": "v1alpha1", "kind": "GraceService"},
                    "resource": {"group": "grace.dev", "version": "v1alpha1",
                                 "resource": "graceservices"},
                    "userInfo": {"username": "load"}, "object": obj}}).encode()


def client(port, ctx, body, n, counts, lock):
    for _ in range(n):
        status = "error"
        try:
            c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60)
            c.request("POST", "/mutate-graceservice", body,
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            c.close()
            ok = r.status == 200 and b'"allowed":true' in data
            status = "ok" if ok else "HTTP %d" % r.status
        except Exception as e:
            status = type(e).__name__
        with lock:
            counts[status] = counts.get(status, 0) + 1


def flood(a):
    body = review("load-1", a.size)
    poller = start_poller(a.health_port, a.seconds)
    time.sleep(0.3)
    ctx = tls_context(a.cafile)
    counts, lock = {}, threading.Lock()
    t0 = time.monotonic()
    ts = [threading.Thread(target=client, args=(a.webhook_port, ctx, body, a.requests, counts,
                                                lock), daemon=True) for _ in range(a.clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    took = time.monotonic() - t0
    return {"load": "flood", "clients": a.clients, "requests": a.clients * a.requests,
            "review_bytes": len(body), "answers": counts, "seconds": round(took, 2),
            "healthz": finish_poller(poller)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["slow", "flood", "poll"])
    ap.add_argument("--webhook-port", type=int)
    ap.add_argument("--health-port", type=int, required=True)
    ap.add_argument("--cafile")
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--requests", type=int, default=1)
    ap.add_argument("--size", type=int, default=800000)
    ap.add_argument("--seconds", type=float, default=15)
    a = ap.parse_args()
    out = poll(a.health_port, a.seconds) if a.mode == "poll" else \
        slow(a) if a.mode == "slow" else flood(a)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
