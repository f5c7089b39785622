#!/usr/bin/env python3
"""A test OTLP/HTTP receiver (JSON encoding), Python standard library only.

Accepts POST /v1/traces with an OTLP JSON body, and appends one line per span to
--out (JSON: the span as sent, plus "resource" with the resource attributes as a
flat dict). Answers 200 {} -- after --delay seconds, or with --status instead of
200. POST /control?delay=S&status=N changes both while it runs (the e2e scenario
makes the collector slow without restarting the operator). Anything else: 404.
Binds 127.0.0.1:--port (0 = any free port) and writes the bound port to
--port-file once listening. Used by e2e/scenarios/64-traces.sh and
hack/trace_overhead.sh.
"""

import argparse
import os
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 16 << 20
_lock = threading.Lock()
_mode = {"delay": 0.0, "status": 200}
_stats = {"requests": 0, "spans": 0}


def flat_attrs(attrs):
    out = {}
    for a in attrs or []:
        v = a.get("value") or {}
        for k in ("stringValue", "intValue", "boolValue", "doubleValue"):
            if k in v:
                out[a.get("key")] = v[k]
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _answer(self, code, body=b"{}"):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            self._answer(413)
            return
        body = self.rfile.read(n)
        url = urllib.parse.urlparse(self.path)
        if url.path == "/control":
            q = urllib.parse.parse_qs(url.query)
            with _lock:
                if "delay" in q:
                    _mode["delay"] = float(q["delay"][0])
                if "status" in q:
                    _mode["status"] = int(q["status"][0])
            self._answer(200, json.dumps(dict(_mode, **_stats)).encode())
            return
        if url.path != "/v1/traces":
            self._answer(404)
            return
        with _lock:
            delay, status = _mode["delay"], _mode["status"]
        if delay:
            time.sleep(delay)
        try:
            doc = json.loads(body)
        except ValueError:
            self._answer(400)
            return
        lines = []
        for rs in doc.get("resourceSpans") or []:
            res = flat_attrs((rs.get("resource") or {}).get("attributes"))
            for ss in rs.get("scopeSpans") or []:
                for sp in ss.get("spans") or []:
                    sp = dict(sp, resource=res, attrs=flat_attrs(sp.get("attributes")))
                    lines.append(json.dumps(sp, sort_keys=True))
        with _lock:
            _stats["requests"] += 1
            if status == 200:
                _stats["spans"] += len(lines)
                with open(self.server.out, "a") as f:
                    for line in lines:
                        f.write(line + "\n")
        self._answer(status)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--status", type=int, default=200)
    a = ap.parse_args(argv)
    _mode.update(delay=a.delay, status=a.status)
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.out = a.out
    open(a.out, "a").close()
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])

    os.rename(a.port_file + ".tmp", a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
