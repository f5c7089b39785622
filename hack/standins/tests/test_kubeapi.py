"""kubeconfig reading and the HTTPS client (token and client-certificate auth)."""

import base64
import os
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import fakeapi  # noqa: E402
import kubeapi  # noqa: E402
import miniyaml  # noqa: E402


def b64file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def openssl(*args, cwd):
    subprocess.run(("openssl",) + args, cwd=cwd, check=True, capture_output=True)


class KubeconfigTest(unittest.TestCase):
    def doc(self, user, cluster=None):
        return {"clusters": [{"name": "c", "cluster": cluster or {"server": "https://h:6443/"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u",
                                                        "namespace": "team"}},
                             {"name": "y", "context": {"cluster": "c", "user": "u"}}],
                "users": [{"name": "u", "user": user}], "current-context": "x"}

    def test_token_user_and_current_context(self):
        kc = kubeapi.parse_kubeconfig(self.doc({"token": "t0k"}))
        self.assertEqual((kc.server, kc.token, kc.namespace), ("https://h:6443", "t0k", "team"))
        self.assertEqual(kc.auth_kind(), "token")
        self.assertNotIn("t0k", repr(kc))

    def test_named_context(self):
        kc = kubeapi.parse_kubeconfig(self.doc({"token": "t"}), context="y")
        self.assertIsNone(kc.namespace)
        with self.assertRaises(ValueError):
            kubeapi.parse_kubeconfig(self.doc({"token": "t"}), context="nope")

    def test_client_certificate_data_and_ca_data(self):
        user = {"client-certificate-data": base64.b64encode(b"C").decode(),
                "client-key-data": base64.b64encode(b"K").decode()}
        cluster = {"server": "https://h", "certificate-authority-data":
                   base64.b64encode(b"PEM").decode()}
        kc = kubeapi.parse_kubeconfig(self.doc(user, cluster))
        self.assertEqual((kc.cert_pem, kc.key_pem, kc.ca_pem), (b"C", b"K", "PEM"))
        self.assertEqual(kc.auth_kind(), "client-certificate")

    def test_files_are_relative_to_the_kubeconfig(self):
        with tempfile.TemporaryDirectory() as d:
            for name, data in (("ca.pem", "CA"), ("tok", "t1\n")):
                with open(os.path.join(d, name), "w") as f:
                    f.write(data)
            kc = kubeapi.parse_kubeconfig(
                self.doc({"tokenFile": "tok"}, {"server": "https://h", "certificate-authority":
                                                "ca.pem"}), base_dir=d)
            self.assertEqual((kc.ca_pem, kc.token), ("CA", "t1"))

    def test_exec_users_and_half_certificates_are_refused(self):
        with self.assertRaises(ValueError):
            kubeapi.parse_kubeconfig(self.doc({"exec": {"command": "x"}}))
        with self.assertRaises(ValueError):
            kubeapi.parse_kubeconfig(self.doc({"client-certificate-data": "QQ=="}))

    def test_no_current_context_is_an_error(self):
        d = self.doc({"token": "t"})
        del d["current-context"]
        with self.assertRaises(ValueError):
            kubeapi.parse_kubeconfig(d)


class HttpsClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-days", "1", "-subj", "/CN=test-ca", "-keyout", "ca.key",
                "-out", "ca.crt", cwd=d)
        for name, ext in (("server", "subjectAltName=IP:127.0.0.1"),
                          ("client", "extendedKeyUsage=clientAuth")):
            openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-subj", "/CN=" + name, "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
            with open(os.path.join(d, name + ".ext"), "w") as f:
                f.write(ext + "\n")
            openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                    "-CAcreateserial", "-days", "1", "-extfile", name + ".ext",
                    "-out", name + ".crt", cwd=d)
        p = lambda n: os.path.join(d, n)  # noqa: E731
        cls.api = fakeapi.FakeAPI(d, tls={"cert": p("server.crt"), "key": p("server.key"),
                                          "ca": p("ca.crt")})
        cls.api.__enter__()
        cls.p = staticmethod(p)

    @classmethod
    def tearDownClass(cls):
        cls.api.__exit__(None, None, None)
        cls.tmp.cleanup()

    def kubeconfig(self, user_yaml):
        text = ("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
                "    certificate-authority-data: %s\n    server: %s\n  name: t\n"
                "contexts:\n- context:\n    cluster: t\n    user: u\n  name: t\n"
                "current-context: t\nusers:\n- name: u\n  user:\n%s" %
                (b64file(self.p("ca.crt")), self.api.url, user_yaml))
        return kubeapi.parse_kubeconfig(miniyaml.load(text))

    def test_token_over_https_with_ca_data(self):
        c = kubeapi.Client(self.kubeconfig("    token: %s\n" % fakeapi.TOKEN))
        items, rv = c.list_all("/api/v1/secrets")
        self.assertIsInstance(items, list)
        self.assertTrue(rv)

    def test_client_certificate_over_https(self):
        c = kubeapi.Client(self.kubeconfig(
            "    client-certificate-data: %s\n    client-key-data: %s\n" %
            (b64file(self.p("client.crt")), b64file(self.p("client.key")))))
        c.create("/api/v1/namespaces/a/secrets", {"metadata": {"name": "s"}, "data": {}})
        self.assertEqual(c.get("/api/v1/namespaces/a/secrets/s")["metadata"]["name"], "s")

    def test_wrong_token_is_an_api_error_401(self):
        c = kubeapi.Client(self.kubeconfig("    token: wrong\n"))
        with self.assertRaises(kubeapi.ApiError) as cm:
            c.get("/api/v1/secrets")
        self.assertEqual(cm.exception.status, 401)

    def test_unknown_ca_fails_verification(self):
        kc = self.kubeconfig("    token: %s\n" % fakeapi.TOKEN)
        kc.ca_pem = None  # system roots only: the test CA is unknown
        with self.assertRaises(OSError):
            kubeapi.Client(kc).get("/api/v1/secrets")

    def test_requests_of_a_thread_share_one_connection(self):
        c = kubeapi.Client(self.kubeconfig("    token: %s\n" % fakeapi.TOKEN))
        c.get("/api/v1/secrets")
        sock = c._local.conn.sock
        self.assertIsNotNone(sock)
        with self.assertRaises(kubeapi.ApiError):
            c.get("/api/v1/namespaces/a/secrets/missing")
        c.get("/api/v1/secrets")
        self.assertIs(c._local.conn.sock, sock)
        seen = []
        t = threading.Thread(target=lambda: (c.get("/api/v1/secrets"),
                                             seen.append(c._local.conn.sock)))
        t.start()
        t.join()
        self.assertIsNot(seen[0], sock)
        c.close()


class OneAnswerPerConnection(socketserver.StreamRequestHandler):
    """Answers one request with keep-alive, then closes: an idle timeout."""

    def handle(self):
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        self.server.connections += 1
        body = b'{"n":%d}' % self.server.connections
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


class StaleConnectionTest(unittest.TestCase):
    def test_a_connection_closed_while_idle_is_reopened(self):
        srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), OneAnswerPerConnection)
        srv.daemon_threads = True
        srv.connections = 0
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            kc = kubeapi.KubeConfig()
            kc.server = "http://127.0.0.1:%d" % srv.server_address[1]
            c = kubeapi.Client(kc, timeout=5)
            self.assertEqual(c.get("/x"), {"n": 1})
            time.sleep(0.1)  # the server has closed its side by now
            self.assertEqual(c.get("/x"), {"n": 2})
            self.assertEqual(c.get("/x"), {"n": 3})
        finally:
            srv.shutdown()
            srv.server_close()


if __name__ == "__main__":
    unittest.main()
