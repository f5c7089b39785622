"""bench/kube.py: a small Kubernetes API client for the benchmark (stdlib only).

It talks to any API server a kubeconfig names: the current context's server,
CA (certificate-authority-data or file, or insecure-skip-tls-verify) and user
(client-certificate-data/key-data or files, token or tokenFile). The kubeconfig
is resolved by `kubectl config view --raw --minify --flatten -o json` (KUBECONFIG
lists, relative paths and the current context exactly as kubectl sees them; the
bench needs kubectl anyway), so no YAML parser is needed. One keep-alive HTTPS
connection per thread; a broken connection is reopened once. Credentials are
only ever sent (header, TLS handshake): never logged, never printed; a client
key is written to a private temporary file only while it is loaded.

    c = Client("/tmp/dir/kubeconfig")
    status, obj = c.json("GET", "/apis/grace.dev/v1alpha1/graceservices")
    w = Watch(c, "/apis/apps/v1/namespaces/bench/deployments", rv, on_event)
    ...
    w.stop()
"""

import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse


class ApiError(Exception):
    """A request answered with an unexpected HTTP status."""

    def __init__(self, method, path, status, body):
        super().__init__("%s %s: HTTP %d: %s" % (method, path, status, body[:300]))
        self.status = status


def _data_or_file(d, key):
    """The text of `key-data` (base64) or of the file `key` (None if neither)."""
    if d.get(key + "-data"):
        return base64.b64decode(d[key + "-data"]).decode()
    if d.get(key):
        with open(d[key]) as f:
            return f.read()
    return None


def load_kubeconfig(path):
    """The current context of a kubeconfig: {"server", "ca" (PEM or None),
    "insecure", "cert"/"key" (PEM) or "token"}."""
    env = dict(os.environ, KUBECONFIG=path)
    out = subprocess.run(["kubectl", "config", "view", "--raw", "--minify", "--flatten",
                          "-o", "json"], env=env, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise ValueError("kubectl config view: %s" % out.stderr.strip())
    doc = json.loads(out.stdout)
    cluster = (doc.get("clusters") or [{}])[0].get("cluster") or {}
    user = (doc.get("users") or [{}])[0].get("user") or {}
    cfg = {"server": cluster.get("server", ""),
           "ca": _data_or_file(cluster, "certificate-authority"),
           "insecure": bool(cluster.get("insecure-skip-tls-verify")),
           "cert": _data_or_file(user, "client-certificate"),
           "key": _data_or_file(user, "client-key"),
           "token": user.get("token")}
    if not cfg["token"] and user.get("tokenFile"):
        with open(user["tokenFile"]) as f:
            cfg["token"] = f.read().strip()
    if not cfg["server"]:
        raise ValueError("kubeconfig %s: no server in the current context" % path)
    return cfg


def _load_client_cert(ctx, cert_pem, key_pem):
    """ssl loads a client certificate from files only: a private directory
    holds them for the call."""
    d = tempfile.mkdtemp(prefix="bench-kube-")
    try:
        paths = []
        for name, text in (("tls.crt", cert_pem), ("tls.key", key_pem)):
            p = os.path.join(d, name)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            paths.append(p)
        ctx.load_cert_chain(paths[0], paths[1])
    finally:
        for name in ("tls.crt", "tls.key"):
            try:
                os.unlink(os.path.join(d, name))
            except OSError:
                pass
        os.rmdir(d)


class Client:
    """Keep-alive HTTPS client for one API server (one connection per thread)."""

    def __init__(self, kubeconfig, timeout=120.0):
        cfg = load_kubeconfig(kubeconfig)
        url = urllib.parse.urlsplit(cfg["server"])
        if url.scheme != "https":
            raise ValueError("bench: only https API servers (%s)" % cfg["server"])
        self.server = cfg["server"]
        self._token = cfg.get("token")
        self.host = url.hostname
        self.port = url.port or 443
        self.timeout = timeout
        self.ctx = ssl.create_default_context(cadata=cfg.get("ca"))
        if cfg.get("insecure"):
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE
        if cfg.get("cert") and cfg.get("key"):
            _load_client_cert(self.ctx, cfg["cert"], cfg["key"])
        self._local = threading.local()

    def _headers(self, content_type=None):
        h = {"Accept": "application/json"}
        if self._token:
            h["Authorization"] = "Bearer " + self._token
        if content_type:
            h["Content-Type"] = content_type
        return h

    def connect(self, timeout=None):
        """A new HTTPS connection (the caller owns it)."""
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                           timeout=timeout or self.timeout)

    def _conn(self):
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self.connect()
            self._local.conn = c
        return c

    def close(self):
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None

    def raw(self, method, path, body=None, content_type=None):
        """Send one request on this thread's connection; returns (status, bytes)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body, separators=(",", ":")).encode()
            content_type = content_type or "application/json"
        for attempt in (0, 1):
            conn = self._conn()
            try:
                conn.request(method, path, body=body, headers=self._headers(content_type))
                resp = conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return resp.status, data
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method, path, body=None, content_type=None, ok=(200, 201)):
        """Like raw(), but decodes the answer and raises ApiError on a status not in ok."""
        status, data = self.raw(method, path, body, content_type)
        if status not in ok:
            raise ApiError(method, path, status, data.decode("utf-8", "replace"))
        return status, json.loads(data) if data else None


class Watch:
    """Follows a watch stream in a thread; calls on_event(type, obj, t_monotonic).

    Reconnects from the last resourceVersion seen (bookmarks included) when the
    server ends the stream. A 410 (ERROR event) stops the watch: `error` is set.
    """

    def __init__(self, client, path, rv, on_event, label_selector=None):
        self.client = client
        self.path = path
        self.rv = rv
        self.on_event = on_event
        self.selector = label_selector
        self.error = None
        self._stop = threading.Event()
        self._conn = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="watch", daemon=True)
        self._thread.start()

    def _query(self):
        q = {"watch": "1", "allowWatchBookmarks": "true", "resourceVersion": self.rv,
             "timeoutSeconds": "300"}
        if self.selector:
            q["labelSelector"] = self.selector
        return self.path + "?" + urllib.parse.urlencode(q)

    def _stream(self):
        conn = self.client.connect(timeout=3600)
        with self._lock:
            if self._stop.is_set():
                conn.close()
                return
            self._conn = conn
        conn.request("GET", self._query(), headers=self.client._headers())
        resp = conn.getresponse()
        if resp.status != 200:
            self.error = "watch: HTTP %d" % resp.status
            return
        while not self._stop.is_set():
            line = resp.readline()
            if not line:
                return
            now = time.monotonic()
            ev = json.loads(line)
            obj = ev.get("object") or {}
            if ev.get("type") == "ERROR":
                self.error = "watch: %s" % obj.get("message")
                return
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if rv:
                self.rv = rv
            if ev.get("type") != "BOOKMARK":
                self.on_event(ev.get("type"), obj, now)

    def _run(self):
        while not self._stop.is_set() and self.error is None:
            try:
                self._stream()
            except (http.client.HTTPException, OSError, ValueError):
                if self._stop.is_set():
                    return
                time.sleep(0.2)
            finally:
                with self._lock:
                    if self._conn is not None:
                        self._conn.close()
                        self._conn = None

    def stop(self):
        self._stop.set()
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.sock and self._conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._thread.join(5)


def list_all(client, path, selector=None, limit=500, timing=None, raw_only=False):
    """Paginated LIST; returns (items, resourceVersion, bytes transferred).
    timing: a list the seconds of each page's exchange (request sent to body
    read, before this client parses it) are appended to. raw_only: the items
    are not kept (only what pagination needs is decoded)."""
    items, cont, total, rv = [], None, 0, None
    while True:
        q = {"limit": str(limit)}
        if selector:
            q["labelSelector"] = selector
        if cont:
            q["continue"] = cont
        t0 = time.monotonic()
        status, data = client.raw("GET", path + "?" + urllib.parse.urlencode(q))
        if timing is not None:
            timing.append(time.monotonic() - t0)
        if status != 200:
            raise ApiError("GET", path, status, data.decode("utf-8", "replace"))
        total += len(data)
        doc = json.loads(data)
        if not raw_only:
            items.extend(doc.get("items") or [])
        meta = doc.get("metadata") or {}
        rv = meta.get("resourceVersion", rv)
        cont = meta.get("continue")
        if not cont:
            return items, rv, total
