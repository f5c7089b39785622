"""A deliberately small fake Kubernetes API server for the stand-ins' tests.

Plain HTTP on 127.0.0.1 (ephemeral port), bearer-token check, in-memory objects with a
global resourceVersion, list, watch (chunked JSON lines, ERROR 410 for an expired
version), create, get, merge patch (main resource and /status, generation rules of a
CRD with and without a status subresource), PUT, DELETE, and CRDs that serve their
kind once created (Established at once). It is not kubesim: it exists so the
stand-ins can be tested before and independently of it.
"""

import copy
import json
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = "test-token"
BUILTIN = {("apps", "v1", "deployments"): ("Deployment", True),
           ("", "v1", "secrets"): ("Secret", False),
           ("", "v1", "namespaces"): ("Namespace", False)}


def merge(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out


class Store:
    def __init__(self):
        self.lock = threading.Condition()
        self.rv = 100
        self.objs = {}     # (group, version, plural, ns, name) -> obj
        self.events = []   # (rv, (group, version, plural), ns, type, obj)
        self.kinds = dict(BUILTIN)
        self.writes = []   # (method, path) of successful writes
        self.compacted = 0  # events with rv <= this are gone (410)
        self.drop = 0       # bumped to break every open watch

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def record(self, gvr, ns, etype, obj):
        self.events.append((int(obj["metadata"]["resourceVersion"]), gvr, ns, etype,
                            copy.deepcopy(obj)))
        self.lock.notify_all()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store = None

    def log_message(self, *a):
        pass

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def status(self, code, reason, msg):
        self.send_json(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "reason": reason, "message": msg, "code": code})

    def parse(self):
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        parts = [p for p in u.path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        ns = None
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        if not rest:
            return None
        plural, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), (rest[2] if len(rest) > 2 else None)
        return (group, version, plural), ns, name, sub, q

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"null")

    def handle_any(self, method):
        peer_cert = getattr(self.connection, "getpeercert", lambda: None)()
        if self.headers.get("Authorization") != "Bearer " + TOKEN and not peer_cert:
            return self.status(401, "Unauthorized", "Unauthorized")
        p = self.parse()
        s = self.store
        if p is None:
            return self.status(404, "NotFound", "404 page not found")
        gvr, ns, name, sub, q = p
        with s.lock:
            kind = s.kinds.get(gvr)
        if kind is None:
            return self.status(404, "NotFound", "the server could not find the requested resource")
        if method == "GET" and name is None:
            if q.get("watch") in ("true", "1"):
                return self.watch(gvr, ns, q)
            return self.list(gvr, ns)
        getattr(self, "do_" + method.lower() + "_obj")(gvr, kind, ns, name, sub)

    def list(self, gvr, ns):
        s = self.store
        with s.lock:
            items = [copy.deepcopy(o) for k, o in sorted(s.objs.items())
                     if k[:3] == gvr and (ns is None or k[3] == ns)]
            rv = str(s.rv)
        self.send_json(200, {"kind": "List", "apiVersion": "v1",
                             "metadata": {"resourceVersion": rv}, "items": items})

    def watch(self, gvr, ns, q):
        s = self.store
        rv = int(q.get("resourceVersion") or 0)
        deadline = time.monotonic() + min(float(q.get("timeoutSeconds") or 30), 30)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(obj):
            data = json.dumps(obj).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        with s.lock:
            drop = s.drop
            if rv and rv < s.compacted:
                chunk({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
                       "status": "Failure", "reason": "Expired", "code": 410,
                       "message": "too old resource version: %d (%d)" % (rv, s.compacted)}})
                self.wfile.write(b"0\r\n\r\n")
                return
        while True:
            with s.lock:
                evs = [e for e in s.events if e[0] > rv and e[1] == gvr and (ns is None or e[2] == ns)]
                if not evs:
                    left = deadline - time.monotonic()
                    if left <= 0 or s.drop != drop:
                        break
                    s.lock.wait(min(left, 0.2))
                    if s.drop != drop:
                        self.close_connection = True
                        return  # an abrupt drop: no terminating chunk
                    continue
            for e in evs:
                chunk({"type": e[3], "object": e[4]})
                rv = e[0]
        self.wfile.write(b"0\r\n\r\n")

    def do_get_obj(self, gvr, kind, ns, name, sub):
        with self.store.lock:
            o = self.store.objs.get(gvr + (ns or "", name))
            o = copy.deepcopy(o)
        if o is None:
            return self.status(404, "NotFound", '%s "%s" not found' % (gvr[2], name))
        self.send_json(200, o)

    def do_post_obj(self, gvr, kind, ns, name, sub):
        o = self.body()
        s = self.store
        name = o["metadata"]["name"]
        key = gvr + (ns or "", name)
        with s.lock:
            if key in s.objs:
                return self.status(409, "AlreadyExists", '%s "%s" already exists' % (gvr[2], name))
            m = o["metadata"]
            m.update({"uid": str(uuid.uuid4()), "resourceVersion": s.next_rv(),
                      "creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            if ns:
                m["namespace"] = ns
            if gvr[0] not in ("",):
                m["generation"] = 1
            if gvr[2] == "customresourcedefinitions":
                self.serve_crd(o)
            s.objs[key] = o
            s.writes.append(("POST", self.path))
            s.record(gvr, ns or "", "ADDED", o)
        self.send_json(201, o)

    def serve_crd(self, crd):
        spec = crd["spec"]
        for v in spec["versions"]:
            has_status = "status" in (v.get("subresources") or {})
            self.store.kinds[(spec["group"], v["name"], spec["names"]["plural"])] = (
                spec["names"]["kind"], has_status)
        crd["status"] = {"conditions": [{"type": "Established", "status": "True"}]}

    def do_put_obj(self, gvr, kind, ns, name, sub):
        o = self.body()
        s = self.store
        key = gvr + (ns or "", name)
        with s.lock:
            old = s.objs.get(key)
            if old is None:
                return self.status(404, "NotFound", "not found")
            if o["metadata"].get("resourceVersion") != old["metadata"]["resourceVersion"]:
                return self.status(409, "Conflict", "the object has been modified")
            o["metadata"] = merge(old["metadata"], {k: v for k, v in o["metadata"].items()
                                                    if k in ("labels", "annotations")})
            if gvr[2] == "customresourcedefinitions":
                self.serve_crd(o)
            self.store_write(gvr, ns, key, old, o)

    def store_write(self, gvr, ns, key, old, new):
        s = self.store
        if new == old:
            return self.send_json(200, new)
        new["metadata"]["resourceVersion"] = s.next_rv()
        s.objs[key] = new
        s.writes.append((self.command, self.path))
        s.record(gvr, ns or "", "MODIFIED", new)
        self.send_json(200, new)

    def do_patch_obj(self, gvr, kind, ns, name, sub):
        if self.headers.get("Content-Type") != "application/merge-patch+json":
            return self.status(415, "UnsupportedMediaType", "only merge patch here")
        patch = self.body()
        s = self.store
        key = gvr + (ns or "", name)
        with s.lock:
            old = s.objs.get(key)
            has_status = kind[1]
            if old is None or (sub == "status" and not has_status) or sub not in (None, "status"):
                return self.status(404, "NotFound", '%s "%s" not found' % (gvr[2], name))
            new = merge(old, patch)
            if sub == "status":
                new = dict(old, status=new.get("status"))
                if new["status"] is None:
                    new.pop("status")
            elif has_status:
                new["status"] = old.get("status")
                if new["status"] is None:
                    new.pop("status")
            new["metadata"] = merge(old["metadata"], patch.get("metadata") or {}) if sub is None else old["metadata"]
            new["metadata"]["generation"] = old["metadata"].get("generation")
            if "generation" in old["metadata"]:
                strip = lambda o, drop: {k: v for k, v in o.items() if k not in drop}  # noqa: E731
                drop = ("metadata", "status") if has_status else ("metadata",)
                if strip(new, drop) != strip(old, drop):
                    new["metadata"]["generation"] += 1
            self.store_write(gvr, ns, key, old, new)

    def do_delete_obj(self, gvr, kind, ns, name, sub):
        s = self.store
        key = gvr + (ns or "", name)
        with s.lock:
            old = s.objs.pop(key, None)
            if old is None:
                return self.status(404, "NotFound", "not found")
            old = copy.deepcopy(old)
            old["metadata"]["resourceVersion"] = s.next_rv()
            s.writes.append(("DELETE", self.path))
            s.record(gvr, ns or "", "DELETED", old)
        self.send_json(200, {"kind": "Status", "status": "Success"})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # clients that hang up (dropped watches) are expected here


class FakeAPI:
    """with FakeAPI() as api: api.kubeconfig_path, api.store, api.url."""

    def __init__(self, tmpdir, tls=None):
        """tls: None for plain HTTP, else dict(cert=, key=, ca=) PEM file paths (server
        certificate for 127.0.0.1, and the CA that client certificates must chain to)."""
        self.store = Store()
        self.store.kinds[("apiextensions.k8s.io", "v1", "customresourcedefinitions")] = (
            "CustomResourceDefinition", True)
        handler = type("H", (Handler,), {"store": self.store})
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls["cert"], tls["key"])
            ctx.load_verify_locations(tls["ca"])
            ctx.verify_mode = ssl.CERT_OPTIONAL
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.httpd.server_address[1])
        self.kubeconfig_path = tmpdir + "/kubeconfig"
        with open(self.kubeconfig_path, "w") as f:
            f.write(KUBECONFIG % (self.url, TOKEN))

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *a):
        with self.store.lock:
            self.store.drop += 1
            self.store.lock.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()

    def drop_watches(self):
        with self.store.lock:
            self.store.drop += 1
            self.store.lock.notify_all()

    def compact(self):
        with self.store.lock:
            self.store.compacted = self.store.rv + 1
            self.store.events = []
            self.store.drop += 1
            self.store.lock.notify_all()

    def writes(self):
        with self.store.lock:
            return list(self.store.writes)

    def obj(self, gvr, ns, name):
        with self.store.lock:
            return copy.deepcopy(self.store.objs.get(gvr + (ns, name)))


KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- cluster:
    server: %s
  name: fake
contexts:
- context:
    cluster: fake
    namespace: default
    user: fake-admin
  name: fake
current-context: fake
preferences: {}
users:
- name: fake-admin
  user:
    token: %s
"""
