"""HTTP(S) front end: TLS, authentication, routing, content negotiation, faults.

One thread per connection (ThreadingHTTPServer), HTTP/1.1 keep-alive, TLS
handshake inside the connection's thread, chunked watch streams.  Bearer
token or client certificate authenticate as the admin; anonymous requests
may read /version and health endpoints only (transcript 01).  The test-only
admin endpoints live under /_sim/ (see README.md).
"""

import json
import random
import select
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import apierr
import builtin
import patching
import tables
import watch as watchmod
import store as storemod
import yamlmini
from apierr import ApiError
from rest import Req

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.13",
           "gitCommit": "kubesim", "gitTreeState": "clean",
           "buildDate": "2026-11-28T00:00:00Z", "goVersion": "go1.23.5",
           "compiler": "gc", "platform": "linux/amd64"}
ANON_PATHS = ("/version", "/healthz", "/livez", "/readyz")
FLOWSCHEMA = str(uuid.uuid4())
PRIOLEVEL = str(uuid.uuid4())
REASONS = {200: "OK", 201: "Created", 301: "Moved Permanently", 304: "Not Modified",
           400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict", 410: "Gone",
           415: "Unsupported Media Type", 422: "Unprocessable Entity",
           429: "Too Many Requests", 500: "Internal Server Error", 504: "Gateway Timeout"}


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.error_rate = 0.0
        self.error_code = 500
        self.error_paths = ""
        self.stats = {}
        self.codes = {}

    def count(self, verb, code):
        with self.lock:
            self.stats[verb] = self.stats.get(verb, 0) + 1
            self.codes[str(code)] = self.codes.get(str(code), 0) + 1

    def inject(self, path):
        if self.error_rate <= 0 or (self.error_paths and self.error_paths not in path):
            return None
        if random.random() >= self.error_rate:
            return None
        if self.error_code == 429:
            return ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                            {"retryAfterSeconds": 1}, headers={"Retry-After": "1"})
        return ApiError(self.error_code, "InternalError",
                        "Internal error occurred: kubesim injected fault",
                        {"causes": [{"message": "kubesim injected fault"}]})

    def config(self):
        return {"errorRate": self.error_rate, "errorCode": self.error_code,
                "errorPaths": self.error_paths}


def parse_accept(accept):
    out = []
    for part in (accept or "").split(","):
        items = [x.strip() for x in part.split(";")]
        if not items[0]:
            continue
        params = {}
        for kv in items[1:]:
            if "=" in kv:
                k, v = kv.split("=", 1)
                params[k.strip()] = v.strip()
        out.append((items[0].lower(), params))
    return out or [("application/json", {})]


def choose(accept, allow_table=False, allow_discovery=False):
    """First acceptable representation -> (mode, media type) or ApiError 406."""
    for mt, p in parse_accept(accept):
        as_ = p.get("as")
        if mt in ("application/json", "application/*", "*/*"):
            if as_ is None:
                return "json", "application/json"
            if allow_discovery and as_ == "APIGroupDiscoveryList" and \
                    p.get("g") == "apidiscovery.k8s.io" and p.get("v") in ("v2", "v2beta1"):
                return "agg-" + p["v"], ("application/json;g=apidiscovery.k8s.io;v=%s;"
                                         "as=APIGroupDiscoveryList" % p["v"])
            if allow_table and p.get("g") == "meta.k8s.io" and p.get("v") in ("v1", "v1beta1"):
                if as_ == "Table":
                    return "table", "application/json"
                if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                    return "partial", "application/json"
        elif mt in ("application/yaml",) and as_ is None:
            return "yaml", "application/yaml"
    raise apierr.not_acceptable()


def list_text(store, rt, items, meta):
    """Compact JSON of api.list_obj(rt, items, meta), from the objects' cached texts.

    Same text as dumps(list_obj, sort_keys=rt.is_cr): for CRs the keys
    apiVersion < items < kind < metadata are already in sorted order.
    """
    key = rt.store_key
    if rt.is_cr:
        md = {"continue": meta.get("continue", "")}
        md.update(meta)
        body = ",".join([store.encoded(key, o, "sorted") for o in items])
        return '{"apiVersion":%s,"items":[%s],"kind":%s,"metadata":%s}' % (
            storemod.dumps(rt.gv), body, storemod.dumps(rt.list_kind),
            storemod.dumps(md, True))
    body = ",".join([store.encoded(key, o, "item") for o in items])
    return '{"kind":%s,"apiVersion":%s,"metadata":%s,"items":[%s]}' % (
        storemod.dumps(rt.list_kind), storemod.dumps(rt.gv), storemod.dumps(meta), body)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubesim"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            sys.stderr.write("kubesim: %s - %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    # -- plumbing -------------------------------------------------------------
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, code, body=b"", ctype="application/json", headers=None,
             cache="no-cache, private"):
        if isinstance(body, str):
            body = body.encode()
        lines = ["HTTP/1.1 %d %s" % (code, REASONS.get(code, "Unknown")),
                 "Audit-Id: " + str(uuid.uuid4())]
        if cache:
            lines.append("Cache-Control: " + cache)
        if ctype and code != 304:
            lines.append("Content-Type: " + ctype)
        for k, v in (headers or []):
            lines.append("%s: %s" % (k, v))
        lines += ["X-Kubernetes-Pf-Flowschema-Uid: " + FLOWSCHEMA,
                  "X-Kubernetes-Pf-Prioritylevel-Uid: " + PRIOLEVEL,
                  "Date: " + self.date_time_string()]
        if code != 304:
            lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + \
            (body if self.command != "HEAD" else b"")
        self.wfile.write(data)
        self.code = code

    def pretty(self):
        ua = self.headers.get("User-Agent") or ""
        return ua.startswith("curl/") or ua.startswith("Wget/") or \
            self.query.get("pretty") == "true"

    def send_obj(self, code, obj, sort=False, headers=None, mode="json", key=None):
        """Send obj as JSON or YAML; key (a storage key) allows the cached text."""
        if mode == "yaml":
            return self.send(code, yamlmini.dump(obj), "application/yaml", headers)
        if self.pretty():
            text = json.dumps(obj, indent=2, sort_keys=sort, ensure_ascii=False)
        elif key is not None:
            text = self.server.app.store.encoded(key, obj, "sorted" if sort else "json")
        else:
            text = storemod.dumps(obj, sort)
        self.send(code, text + "\n", "application/json", headers)

    def send_error_obj(self, err):
        headers = list(err.headers.items())
        if err.code == 406 or err.code >= 500 or err.code == 429:
            mode = "json"
        else:
            try:
                mode, _ = choose(self.headers.get("Accept"), allow_table=True)
            except ApiError:
                mode = "json"
        self.send_obj(err.code, err.status(), headers=headers,
                      mode="yaml" if mode == "yaml" else "json")

    def not_found_plain(self):
        self.send(404, "404 page not found\n", "text/plain; charset=utf-8",
                  [("X-Content-Type-Options", "nosniff")])

    # -- entry point ----------------------------------------------------------
    def dispatch(self):
        app = self.server.app
        self.code = 0
        self.verb = "other"
        self.anonymous = False
        u = urlsplit(self.path)
        self.query = dict(parse_qsl(u.query, keep_blank_values=True))
        path = u.path
        try:
            body = self.read_body()
            self.authenticate(path)
            if path.startswith("/_sim/"):
                self.verb = "admin"
                return self.admin(path, body)
            err = app.faults.inject(path)
            if err is not None:
                raise err
            self.route(path, body)
        except ApiError as e:
            self.send_error_obj(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        except watchmod.Dropped:
            self.abort()
        except Exception as e:  # noqa: BLE001 - never kill the connection thread silently
            import traceback
            traceback.print_exc()
            try:
                self.send_error_obj(apierr.internal(repr(e)))
            except OSError:
                self.close_connection = True
        finally:
            app.faults.count(self.verb, self.code)

    def abort(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def authenticate(self, path):
        app = self.server.app
        auth = self.headers.get("Authorization")
        if auth:
            if auth.startswith("Bearer ") and auth[7:].strip() == app.token:
                return
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                if self.connection.getpeercert():
                    return
            except ValueError:
                pass
        if path in ANON_PATHS:
            return
        self.anonymous = True
        if not (path.startswith("/api/") or path.startswith("/apis/")):
            raise ApiError(403, "Forbidden", 'forbidden: User "system:anonymous" cannot %s path '
                           '"%s"' % (self.command.lower(), path), {})

    # -- routing --------------------------------------------------------------
    def route(self, path, body):
        app = self.server.app
        method = self.command
        if path == "/version":
            self.verb = "discovery"
            return self.send_obj(200, VERSION)
        if path in ("/healthz", "/livez", "/readyz"):
            return self.send(200, "ok", "text/plain; charset=utf-8")
        if path.startswith("/openapi/"):
            self.verb = "openapi"
            return self.openapi(path)
        segs = [s for s in path.split("/") if s]
        if not segs or segs[0] not in ("api", "apis"):
            return self.not_found_plain()
        self.verb = "discovery"
        if self.anonymous and len(segs) <= 3 and not (segs[0] == "api" and len(segs) == 3):
            raise ApiError(403, "Forbidden", 'forbidden: User "system:anonymous" cannot %s '
                           'path "%s"' % (self.command.lower(), path), {})
        if segs == ["api"] or segs == ["apis"]:
            return self.discovery_root(segs[0] == "api")
        if segs[0] == "api":
            group, version, rest = "", segs[1], segs[2:]
            if version != "v1":
                return self.not_found_plain()
        else:
            group = segs[1]
            if len(segs) == 2:
                if not app.registry.has_group(group):
                    return self.not_found_plain()
                choose(self.headers.get("Accept"))
                return self.send(200, app.discovery.group(group))
            version, rest = segs[2], segs[3:]
        if not app.registry.has_gv(group, version):
            return self.not_found_plain()
        if not rest:
            choose(self.headers.get("Accept"))
            return self.send(200, app.discovery.resource_list(group, version))
        watching = False
        if rest[0] == "watch":
            watching, rest = True, rest[1:]
        ns = None
        if rest and rest[0] == "namespaces" and len(rest) >= 3 and \
                not (group == "" and len(rest) == 3 and rest[2] in ("status", "finalize")):
            ns, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise apierr.generic_not_found()
        rt = app.registry.lookup(group, version, rest[0])
        if rt is None or (ns is not None and not rt.namespaced):
            raise apierr.generic_not_found()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if rt.namespaced and name is not None and ns is None:
            raise apierr.generic_not_found()
        if self.anonymous:
            raise self.forbidden(rt, ns, name, sub, watching)
        req = Req(method, path, self.query, self.headers, body)
        self.resource(app, req, rt, ns, name, sub, watching)

    def forbidden(self, rt, ns, name, sub, watching):
        m = self.command
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(m)
        if verb is None:
            if m == "DELETE":
                verb = "delete" if name else "deletecollection"
            elif watching or self.query.get("watch") in ("1", "true"):
                verb = "watch"
            else:
                verb = "get" if name else "list"
        res = rt.plural + ("/" + sub if sub else "")
        who = '%s "%s"' % (rt.qualified, name) if name else rt.qualified
        where = 'in the namespace "%s"' % ns if ns else "at the cluster scope"
        details = {"name": name} if name else {}
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.plural
        return ApiError(403, "Forbidden", '%s is forbidden: User "system:anonymous" cannot %s '
                        'resource "%s" in API group "%s" %s' % (who, verb, res, rt.group, where),
                        details)

    def resource(self, app, req, rt, ns, name, sub, watching):
        api = app.api
        method = req.method
        if method in ("GET", "HEAD"):
            if watching or req.flag("watch"):
                self.verb = "watch"
                if name is not None:
                    req.query["fieldSelector"] = "metadata.name=" + name
                return self.watch(api, req, rt, ns)
            mode, _ = choose(self.headers.get("Accept"), allow_table=True)
            if name is None:
                self.verb = "list"
                items, meta = api.list(req, rt, ns)
                return self.send_list(api, rt, items, meta, mode)
            self.verb = "get"
            code, obj, _ = api.get(req, rt, ns, name, sub)
            return self.send_one(rt, code, obj, mode, [])
        if rt.virtual:
            if method != "POST" or name is not None:
                raise apierr.method_not_allowed()
            self.verb = "create"
            obj, _ = api.decode(req, rt)
            return self.send_obj(201, builtin.review_status(obj))
        if method == "POST":
            self.verb = "create"
            if name is not None or (rt.namespaced and ns is None):
                raise apierr.method_not_allowed()
            code, obj, warns = api.create(req, rt, ns)
        elif method == "PUT":
            self.verb = "update"
            if name is None:
                raise apierr.method_not_allowed()
            code, obj, warns = api.update(req, rt, ns, name, sub)
        elif method == "PATCH":
            self.verb = "patch"
            if name is None:
                raise apierr.method_not_allowed()
            code, obj, warns = patching.patch(api, req, rt, ns, name, sub)
        elif method == "DELETE":
            if name is None:
                self.verb = "deletecollection"
                code, obj, warns = api.deletecollection(req, rt, ns)
                return self.send_obj(code, obj, sort=rt.is_cr)
            self.verb = "delete"
            code, obj, warns = api.delete(req, rt, ns, name)
        else:
            raise apierr.method_not_allowed()
        mode, _ = choose(self.headers.get("Accept"), allow_table=True)
        self.send_one(rt, code, obj, mode if mode in ("json", "yaml") else "json", warns)

    def send_one(self, rt, code, obj, mode, warns):
        headers = [("Warning", '299 - %s' % json.dumps(w)) for w in warns]
        if mode == "table" and obj.get("kind") != "Status" and obj.get("kind") != "Scale":
            t = tables.table(rt, [obj], self.query.get("includeObject", "Metadata"),
                             {"resourceVersion": obj["metadata"].get("resourceVersion", "")})
            return self.send_obj(code, t, headers=headers)
        if mode == "partial" and obj.get("kind") != "Status":
            return self.send_obj(code, tables.partial(obj), headers=headers)
        self.send_obj(code, obj, sort=rt.is_cr and obj.get("kind") == rt.kind, headers=headers,
                      mode=mode, key=rt.store_key)

    def send_list(self, api, rt, items, meta, mode):
        if mode == "table":
            return self.send_obj(200, tables.table(rt, items, self.query.get("includeObject",
                                                                             "Metadata"), meta))
        if mode == "partial":
            return self.send_obj(200, {"kind": "PartialObjectMetadataList",
                                       "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                                       "items": [tables.partial(o) for o in items]})
        if mode != "json" or self.pretty():
            return self.send_obj(200, api.list_obj(rt, items, meta), sort=rt.is_cr, mode=mode)
        self.send(200, list_text(api.store, rt, items, meta) + "\n", "application/json")

    # -- watch ------------------------------------------------------------------
    def watch(self, api, req, rt, ns):
        mode, _ = choose(self.headers.get("Accept"), allow_table=True)
        st = watchmod.prepare(api, req, rt, ns)
        head = ("HTTP/1.1 200 OK\r\nAudit-Id: %s\r\nCache-Control: no-cache, private\r\n"
                "Content-Type: application/json\r\nX-Kubernetes-Pf-Flowschema-Uid: %s\r\n"
                "X-Kubernetes-Pf-Prioritylevel-Uid: %s\r\nDate: %s\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
                % (uuid.uuid4(), FLOWSCHEMA, PRIOLEVEL, self.date_time_string()))
        self.wfile.write(head.encode())
        self.code = 200
        wfile = self.wfile

        def write(data):
            wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        enc = watchmod.Encoder(rt, mode if mode in ("table", "partial") else "json",
                               self.query.get("includeObject", "Metadata"), api.store)
        watchmod.stream(api, rt, st, write, enc, self.client_alive)
        self.wfile.write(b"0\r\n\r\n")

    def client_alive(self):
        """False once the client closed its side (checked while a watch is idle)."""
        sock = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        if not readable:
            return True
        try:
            sock.setblocking(False)
            data = sock.recv(1)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return True
        except OSError:
            return False
        finally:
            try:
                sock.setblocking(True)
            except OSError:
                pass
        return bool(data)

    # -- discovery and openapi -------------------------------------------------
    def discovery_root(self, core):
        app = self.server.app
        mode, ctype = choose(self.headers.get("Accept"), allow_discovery=True)
        if mode.startswith("agg-"):
            body, etag = app.discovery.aggregated(core, mode[4:])
            hdrs = [("Etag", etag), ("Vary", "Accept")]
            if self.headers.get("If-None-Match") == etag:
                return self.send(304, b"", None, hdrs, cache="public")
            return self.send(200, body, ctype, hdrs, cache="public")
        if core:
            return self.send(200, app.discovery.api_versions())
        return self.send(200, app.discovery.group_list())

    def openapi(self, path):
        app = self.server.app
        if path.rstrip("/") == "/openapi/v3":
            return self.send(200, app.openapi.index(), "text/plain; charset=utf-8",
                             [("Accept-Ranges", "bytes")])
        if not path.startswith("/openapi/v3/"):
            return self.not_found_plain()
        doc = app.openapi.doc(path[len("/openapi/v3/"):].strip("/"))
        if doc is None:
            return self.not_found_plain()
        body, h = doc
        etag = '"%s"' % h
        want = self.query.get("hash")
        if want is not None and want != h:
            return self.send(301, b"", "application/json",
                             [("Etag", etag), ("Location", "%s?hash=%s" % (path, h)),
                              ("Vary", "Accept")])
        if self.headers.get("If-None-Match") == etag:
            return self.send(304, b"", None, [("Etag", etag), ("Vary", "Accept")])
        if want is not None:
            exp = time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime(time.time() + 31536000))
            return self.send(200, body, "application/json",
                             [("Accept-Ranges", "bytes"), ("Etag", etag), ("Expires", exp),
                              ("Vary", "Accept")], cache="public, immutable")
        self.send(200, body, "application/json",
                  [("Accept-Ranges", "bytes"), ("Etag", etag), ("Vary", "Accept")])

    # -- admin ------------------------------------------------------------------
    def admin(self, path, body):
        app = self.server.app
        f = app.faults
        if path == "/_sim/stats" and self.command == "GET":
            with f.lock:
                stats = {"requests": dict(f.stats), "codes": dict(f.codes),
                         "total": sum(f.stats.values())}
            stats["resourceVersion"] = app.store.rv
            stats["objects"] = sum(app.store.count(k) for k in list(app.store.data))
            stats["watches"] = len(app.store.all_watchers())
            return self.send_obj(200, stats)
        if path == "/_sim/faults" and self.command == "GET":
            return self.send_obj(200, f.config())
        if path == "/_sim/faults" and self.command == "POST":
            try:
                cfg = json.loads(body or b"{}")
            except ValueError:
                raise apierr.bad_request("faults: body must be a JSON object")
            if not isinstance(cfg, dict):
                raise apierr.bad_request("faults: body must be a JSON object")
            out = {}
            if cfg.get("compact"):
                app.store.compact()
                out["compacted"] = app.store.rv
            if "errorRate" in cfg:
                with f.lock:
                    f.error_rate = float(cfg.get("errorRate") or 0)
                    f.error_code = int(cfg.get("errorCode") or 500)
                    f.error_paths = str(cfg.get("errorPaths") or "")
            if cfg.get("dropWatches"):
                ws = app.store.all_watchers()
                for w in ws:
                    w.close()
                out["droppedWatches"] = len(ws)
            out.update(f.config())
            return self.send_obj(200, out)
        if path == "/_sim/stats/reset" and self.command == "POST":
            with f.lock:
                f.stats.clear()
                f.codes.clear()
            return self.send_obj(200, {})
        raise apierr.generic_not_found()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, app, ssl_ctx=None):
        self.app = app
        self.ssl_ctx = ssl_ctx
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        if self.ssl_ctx is not None:
            try:
                request.settimeout(10)
                request = self.ssl_ctx.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                try:
                    request.close()
                except OSError:
                    pass
                return
        try:
            self.RequestHandlerClass(request, client_address, self)
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            if self.ssl_ctx is not None:
                try:
                    request.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        pass
