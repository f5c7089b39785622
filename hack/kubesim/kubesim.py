#!/usr/bin/env python3
"""kubesim: a local stand-in for the Kubernetes API server (Python stdlib only).

  python3 hack/kubesim/kubesim.py --dir DIR [--port N] [--host 127.0.0.1]
                                  [--plain-http] [--http-port N] [-v]

Generates a CA, a server certificate and an admin client certificate with the
openssl command (reused on restart), then writes into DIR:
  kubeconfig        HTTPS, bearer token
  kubeconfig-cert   HTTPS, client certificate
  kubeconfig-http   plain HTTP, bearer token (with --plain-http)
  url, url-http     server URLs;  token  the bearer token
  state.json        every object and the resourceVersion counter
  ready             written once listening; contains the HTTPS port
SIGTERM or SIGINT stops cleanly (state saved).  See README.md.
"""

import argparse
import base64
import os
import secrets
import signal
import ssl
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import controllers  # noqa: E402
import discovery  # noqa: E402
import openapi  # noqa: E402
import registry  # noqa: E402
import rest  # noqa: E402
import server  # noqa: E402
import store as storemod  # noqa: E402
import builtin  # noqa: E402

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certs(d):
    """CA, server (127.0.0.1, localhost) and admin client certs via openssl."""
    p = lambda n: os.path.join(d, n)  # noqa: E731
    if all(os.path.exists(p(n)) for n in ("ca.crt", "ca.key", "server.crt", "server.key",
                                          "admin.crt", "admin.key")):
        return
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(["openssl", "req", "-x509"] + ec + ["-keyout", p("ca.key"), "-out", p("ca.crt"),
        "-days", "3650", "-subj", "/CN=kubesim-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"])
    for name, subj, ext in (
            ("server", "/CN=kubesim", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
             "extendedKeyUsage=serverAuth\n"),
            ("admin", "/O=system:masters/CN=kubesim-admin", "extendedKeyUsage=clientAuth\n")):
        run(["openssl", "req", "-new"] + ec + ["-keyout", p(name + ".key"), "-out",
            p(name + ".csr"), "-subj", subj])
        with open(p(name + ".ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,"
                    "keyEncipherment\n" + ext)
        run(["openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.crt"),
             "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "3650", "-out",
             p(name + ".crt"), "-extfile", p(name + ".ext")])
        os.remove(p(name + ".csr"))
        os.remove(p(name + ".ext"))
    for n in ("ca.key", "server.key", "admin.key"):
        os.chmod(p(n), 0o600)


def b64file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def kubeconfig(server_url, user):
    lines = ["apiVersion: v1", "kind: Config", "clusters:", "- name: kubesim", "  cluster:",
             "    server: " + server_url]
    lines += user[0]
    lines += ["users:", "- name: kubesim-admin", "  user:"] + user[1]
    lines += ["contexts:", "- name: kubesim", "  context:", "    cluster: kubesim",
              "    user: kubesim-admin", "    namespace: default",
              "current-context: kubesim", "preferences: {}", ""]
    return "\n".join(lines)


def write_file(path, text, mode=0o600):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class App:
    def __init__(self, d, token, verbose):
        self.dir = d
        self.token = token
        self.verbose = verbose
        self.faults = server.Faults()
        self.store = storemod.Store(os.path.join(d, "state.json"))
        self.store.load()
        self.registry = registry.Registry()
        self.api = rest.Api(self.store, self.registry)
        self.openapi = openapi.OpenAPI(self.registry)
        self.discovery = None
        self.controllers = controllers.Controllers(self.api)

    def bootstrap(self):
        for o in self.store.items(("", "services")):
            ip = (o.get("spec") or {}).get("clusterIP")
            if ip:
                builtin.SERVICE_IPS.used.add(ip)
        rt = self.registry.lookup("", "v1", "namespaces")
        for ns in DEFAULT_NAMESPACES:
            if self.store.get(rt.store_key, "", ns) is None:
                req = rest.Req("POST", "", {"fieldManager": "kube-apiserver"}, {}, b"")
                self.api.create(req, rt, None, {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": ns}})


def main(argv=None):
    ap = argparse.ArgumentParser(description="local Kubernetes API server stand-in")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--plain-http", action="store_true")
    ap.add_argument("--http-port", type=int, default=0)
    ap.add_argument("--history", type=int, default=10000,
                    help="watch history window (events)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    d = os.path.abspath(a.dir)
    os.makedirs(d, exist_ok=True)
    for n in ("ready",):
        if os.path.exists(os.path.join(d, n)):
            os.remove(os.path.join(d, n))
    make_certs(d)
    tpath = os.path.join(d, "token")
    if os.path.exists(tpath):
        with open(tpath) as f:
            token = f.read().strip()
    else:
        token = secrets.token_hex(24)
        write_file(tpath, token + "\n")
    app = App(d, token, a.verbose)
    app.store.history_max = a.history
    app.bootstrap()
    app.controllers.start()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.crt"), os.path.join(d, "server.key"))
    ctx.load_verify_locations(os.path.join(d, "ca.crt"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    httpd = server.Server((a.host, a.port), app, ctx)
    port = httpd.server_address[1]
    app.discovery = discovery.Discovery(app.registry, "%s:%d" % (a.host, port))
    servers = [httpd]
    url = "https://%s:%d" % (a.host, port)
    ca = ["    certificate-authority-data: " + b64file(os.path.join(d, "ca.crt"))]
    write_file(os.path.join(d, "kubeconfig"),
               kubeconfig(url, (ca, ["    token: " + token])))
    write_file(os.path.join(d, "kubeconfig-cert"), kubeconfig(url, (ca, [
        "    client-certificate-data: " + b64file(os.path.join(d, "admin.crt")),
        "    client-key-data: " + b64file(os.path.join(d, "admin.key"))])))
    write_file(os.path.join(d, "url"), url + "\n", 0o644)
    if a.plain_http:
        plain = server.Server((a.host, a.http_port), app, None)
        servers.append(plain)
        hurl = "http://%s:%d" % (a.host, plain.server_address[1])
        write_file(os.path.join(d, "kubeconfig-http"), kubeconfig(hurl, ([], ["    token: "
                                                                              + token])))
        write_file(os.path.join(d, "url-http"), hurl + "\n", 0o644)
    app.store.start_writer()
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2},
                                daemon=True) for s in servers]
    for t in threads:
        t.start()
    write_file(os.path.join(d, "ready"), "%d\n" % port, 0o644)
    sys.stderr.write("kubesim: serving %s (dir %s)\n" % (url, d))

    done = threading.Event()

    def stop(signum, frame):
        done.set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not done.wait(1.0):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    for w in app.store.all_watchers():
        w.close()
    app.controllers.shutdown()
    app.store.stop()
    try:
        os.remove(os.path.join(d, "ready"))
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
