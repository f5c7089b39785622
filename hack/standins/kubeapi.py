"""A small Kubernetes API client for the stand-ins (Python standard library only).

Reads a kubeconfig (the current context, or a named one): server URL, CA
(certificate-authority-data or a file), insecure-skip-tls-verify, and the user's
bearer token (token or tokenFile), client certificate and key (inline data or
files) or basic auth. Exec and auth-provider plugins are not supported. Only the
first file of a colon-separated KUBECONFIG is read.

Client talks JSON over HTTPS (or plain HTTP) with http.client: one keep-alive
connection per thread for requests (so it is safe from several threads, and a
TLS handshake is paid once per thread, not per request; a reused connection the
server closed in between is reopened and the request sent again once), and one
dedicated connection per watch stream. Errors come back as ApiError carrying the HTTP status and the
Kubernetes Status reason. Secret values (tokens, keys) are never logged.
"""

import base64
import http.client
import json
import os
import socket
import ssl
import tempfile
import threading
import urllib.parse

import miniyaml

__all__ = ["ApiError", "KubeConfig", "Client", "load_kubeconfig"]


class ApiError(Exception):
    """An HTTP error answer from the API server (status >= 400), or a bad answer."""

    def __init__(self, status, reason="", message="", body=None):
        self.status, self.reason, self.body = status, reason, body
        super().__init__("HTTP %s %s: %s" % (status, reason, message))

    @classmethod
    def from_body(cls, status, raw):
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("kind") == "Status":
            return cls(status, body.get("reason", ""), body.get("message", ""), body)
        text = raw.decode("utf-8", "replace").strip()[:200] if isinstance(raw, bytes) else str(raw)
        return cls(status, "", text, body)


class KubeConfig:
    """Connection settings taken from one kubeconfig context."""

    def __init__(self):
        self.server = ""
        self.ca_pem = None          # str, PEM
        self.insecure = False
        self.tls_server_name = None
        self.token = None
        self.cert_pem = None        # bytes
        self.key_pem = None         # bytes
        self.basic = None           # (user, password)
        self.namespace = None

    def __repr__(self):  # never shows credentials
        return "KubeConfig(server=%r, auth=%s)" % (self.server, self.auth_kind())

    def auth_kind(self):
        if self.token:
            return "token"
        if self.cert_pem:
            return "client-certificate"
        if self.basic:
            return "basic"
        return "none"


def _named(items, name, what):
    for it in items or []:
        if isinstance(it, dict) and it.get("name") == name:
            return it.get(what) or {}
    raise ValueError("kubeconfig: no %s named %r" % (what, name))


def _read_rel(base, path, mode="rb"):
    if not os.path.isabs(path):
        path = os.path.join(base, path)
    with open(path, mode) as f:
        return f.read()


def parse_kubeconfig(doc, base_dir=".", context=None):
    """A KubeConfig from an already parsed kubeconfig document (dict)."""
    if not isinstance(doc, dict):
        raise ValueError("kubeconfig: not a mapping")
    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        raise ValueError("kubeconfig: no current-context and no --context given")
    ctx = _named(doc.get("contexts"), ctx_name, "context")
    cluster = _named(doc.get("clusters"), ctx.get("cluster"), "cluster")
    user = _named(doc.get("users"), ctx.get("user"), "user") if ctx.get("user") else {}
    kc = KubeConfig()
    kc.server = (cluster.get("server") or "").rstrip("/")
    if not kc.server:
        raise ValueError("kubeconfig: cluster %r has no server" % ctx.get("cluster"))
    kc.namespace = ctx.get("namespace")
    kc.insecure = bool(cluster.get("insecure-skip-tls-verify"))
    kc.tls_server_name = cluster.get("tls-server-name")
    if cluster.get("certificate-authority-data"):
        kc.ca_pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
    elif cluster.get("certificate-authority"):
        kc.ca_pem = _read_rel(base_dir, cluster["certificate-authority"], "r")
    if user.get("exec") or user.get("auth-provider"):
        raise ValueError("kubeconfig: exec and auth-provider users are not supported")
    if user.get("token"):
        kc.token = str(user["token"])
    elif user.get("tokenFile"):
        kc.token = _read_rel(base_dir, user["tokenFile"], "r").strip()
    if user.get("client-certificate-data"):
        kc.cert_pem = base64.b64decode(user["client-certificate-data"])
    elif user.get("client-certificate"):
        kc.cert_pem = _read_rel(base_dir, user["client-certificate"])
    if user.get("client-key-data"):
        kc.key_pem = base64.b64decode(user["client-key-data"])
    elif user.get("client-key"):
        kc.key_pem = _read_rel(base_dir, user["client-key"])
    if bool(kc.cert_pem) != bool(kc.key_pem):
        raise ValueError("kubeconfig: client certificate and key must come together")
    if user.get("username") and user.get("password") is not None:
        kc.basic = (str(user["username"]), str(user["password"]))
    return kc


def load_kubeconfig(path=None, context=None):
    """Read the kubeconfig at `path` (default: $KUBECONFIG's first entry, then ~/.kube/config)."""
    if not path:
        env = os.environ.get("KUBECONFIG", "")
        path = env.split(os.pathsep)[0] if env else os.path.expanduser("~/.kube/config")
    with open(path, "r") as f:
        doc = miniyaml.load(f.read())
    return parse_kubeconfig(doc, os.path.dirname(os.path.abspath(path)), context)


def _ssl_context(kc):
    ctx = ssl.create_default_context()
    if kc.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif kc.ca_pem:
        ctx = ssl.create_default_context(cadata=kc.ca_pem)
    if kc.cert_pem:
        # load_cert_chain wants files: write them to a private directory, load, delete.
        d = tempfile.mkdtemp(prefix="standins-")
        try:
            cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
            for p, data in ((cert, kc.cert_pem), (key, kc.key_pem)):
                fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
            ctx.load_cert_chain(cert, key)
        finally:
            for p in os.listdir(d):
                os.unlink(os.path.join(d, p))
            os.rmdir(d)
    return ctx


class _NamedTLSConnection(http.client.HTTPSConnection):
    """HTTPS that verifies the certificate against tls-server-name, not the URL's host."""

    def __init__(self, host, port, server_hostname, **kw):
        super().__init__(host, port, **kw)
        self._sni = server_hostname

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._sni)


# A reused keep-alive connection that fails like this before any answer was
# closed by the server while idle: the request never reached it.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
          ConnectionAbortedError)


class Client:
    """JSON requests against one API server. Thread-safe (a connection per thread)."""

    def __init__(self, kc, user_agent="grace-standins/0.1", timeout=30):
        self.kc = kc
        self.timeout = timeout
        self.user_agent = user_agent
        u = urllib.parse.urlsplit(kc.server)
        if u.scheme not in ("https", "http"):
            raise ValueError("unsupported server URL scheme %r" % u.scheme)
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port
        self.prefix = u.path.rstrip("/")
        self.ssl = _ssl_context(kc) if u.scheme == "https" else None
        self._server_hostname = kc.tls_server_name
        self._local = threading.local()

    def _conn(self, timeout):
        if self.scheme == "http":
            return http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        if self._server_hostname:
            return _NamedTLSConnection(self.host, self.port, self._server_hostname,
                                       timeout=timeout, context=self.ssl)
        return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.ssl)

    def _headers(self, content_type=None, accept="application/json"):
        h = {"Accept": accept, "User-Agent": self.user_agent}
        if self.kc.token:
            h["Authorization"] = "Bearer " + self.kc.token
        elif self.kc.basic:
            raw = ("%s:%s" % self.kc.basic).encode()
            h["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        if content_type:
            h["Content-Type"] = content_type
        return h

    def url(self, path, query=None):
        q = ""
        if query:
            q = "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        return self.prefix + path + q

    def request(self, method, path, body=None, query=None, content_type="application/json",
                timeout=None):
        """Send one request; returns the decoded JSON answer (or None). Raises ApiError."""
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        url = self.url(path, query)
        headers = self._headers(content_type if data is not None else None)
        status, raw = self._roundtrip(method, url, data, headers, timeout or self.timeout)
        if status >= 400:
            raise ApiError.from_body(status, raw)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(status, "BadResponse", "answer is not JSON")

    def _roundtrip(self, method, url, data, headers, timeout):
        """(status, body) over this thread's keep-alive connection."""
        conn = getattr(self._local, "conn", None)
        reused = conn is not None and conn.sock is not None
        if conn is None:
            conn = self._local.conn = self._conn(timeout)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        try:
            conn.request(method, url, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        except _STALE:
            conn.close()
            if not reused:
                raise
        except BaseException:
            conn.close()
            raise
        try:
            conn.request(method, url, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        except BaseException:
            conn.close()
            raise

    def close(self):
        """Close this thread's keep-alive connection (others close with their thread)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()

    def get(self, path, query=None):
        return self.request("GET", path, query=query)

    def create(self, path, obj):
        return self.request("POST", path, body=obj)

    def replace(self, path, obj):
        return self.request("PUT", path, body=obj)

    def merge_patch(self, path, patch):
        return self.request("PATCH", path, body=patch, content_type="application/merge-patch+json")

    def list_all(self, path, query=None, page=500):
        """Every item of a list, following continue tokens. Returns (items, resourceVersion)."""
        items, cont = [], None
        while True:
            q = dict(query or {})
            q["limit"] = str(page)
            if cont:
                q["continue"] = cont
            lst = self.get(path, q) or {}
            items.extend(lst.get("items") or [])
            meta = lst.get("metadata") or {}
            cont = meta.get("continue")
            if not cont:
                return items, meta.get("resourceVersion", "")

    def watch(self, path, resource_version, timeout_seconds=60, query=None, on_open=None):
        """Yield watch events (dicts) from resource_version until the server ends the stream.

        Raises ApiError for an HTTP error answer (e.g. 410 for a too old version on some
        servers), and OSError / http.client.HTTPException when the connection breaks.
        """
        q = dict(query or {})
        q.update({"watch": "true", "allowWatchBookmarks": "true",
                  "timeoutSeconds": str(int(timeout_seconds))})
        if resource_version:
            q["resourceVersion"] = resource_version
        conn = self._conn(timeout_seconds + 30)
        try:
            conn.request("GET", self.url(path, q), headers=self._headers())
            resp = conn.getresponse()
            if resp.status != 200:
                raise ApiError.from_body(resp.status, resp.read())
            if on_open:
                on_open(conn)
            while True:
                line = resp.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    continue
                try:
                    ev = json.loads(line)
                except ValueError:
                    raise http.client.HTTPException("bad watch event line")
                if not isinstance(ev, dict) or "type" not in ev:
                    raise http.client.HTTPException("bad watch event")
                yield ev
        finally:
            conn.close()
