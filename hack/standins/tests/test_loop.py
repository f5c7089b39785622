"""The stand-ins process end to end against a small fake API server: CRD install,
list+watch, the writes each kind gets, idempotence, watch drops, 410 relists, flags,
and SIGTERM."""

import base64
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import fakeapi  # noqa: E402
import kubeapi  # noqa: E402
import standins  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(HERE), "standins.py")
DEP = ("apps", "v1", "deployments")
CERT = ("cert-manager.io", "v1", "certificates")
TOPIC = ("kafka.strimzi.io", "v1", "kafkatopics")
USER = ("kafka.strimzi.io", "v1", "kafkausers")
SCHED = ("velero.io", "v1", "schedules")
SECRET = ("", "v1", "secrets")


def wait_until(fn, timeout=10, what="condition"):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def cond(obj, ctype):
    return standins.find_condition(((obj or {}).get("status") or {}).get("conditions"), ctype)


class StandinsProcessTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.api = fakeapi.FakeAPI(self.tmp.name).__enter__()
        self.client = kubeapi.Client(kubeapi.load_kubeconfig(self.api.kubeconfig_path))
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stderr.close()
        self.api.__exit__(None, None, None)
        self.tmp.cleanup()

    def start(self, *args):
        ready = os.path.join(self.tmp.name, "ready-%d" % len(self.procs))
        p = subprocess.Popen([sys.executable, SCRIPT, "--kubeconfig", self.api.kubeconfig_path,
                              "--ready-file", ready] + list(args),
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        wait_until(lambda: os.path.exists(ready) or p.poll() is not None, 20, "ready file")
        if p.poll() is not None:
            self.fail("stand-ins exited early: " + p.stderr.read())
        return p

    def stop(self, p):
        p.send_signal(signal.SIGTERM)
        rc = p.wait(5)
        return rc, p.stderr.read()

    def create(self, gvr, ns, obj):
        g, v, plural = gvr
        base = "/apis/%s/%s" % (g, v) if g else "/api/v1"
        return self.client.create("%s/namespaces/%s/%s" % (base, ns, plural), obj)

    def settle(self, quiet=1.0, timeout=10):
        """Wait until no write happened for `quiet` seconds; returns the write count."""
        end = time.monotonic() + timeout
        last, since = len(self.api.writes()), time.monotonic()
        while time.monotonic() < end:
            time.sleep(0.1)
            n = len(self.api.writes())
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return n
        raise AssertionError("writes never settled")

    def test_everything_becomes_ready_once_and_then_nothing_is_written(self):
        p = self.start("--install-crds")
        self.create(DEP, "ns", {"metadata": {"name": "web"}, "spec": {"replicas": 2, "template": {}}})
        self.create(CERT, "ns", {"metadata": {"name": "web"}, "spec": {
            "secretName": "web-tls", "issuerRef": {"name": "le"}, "dnsNames": ["a.example"]}})
        self.create(TOPIC, "ns", {"metadata": {"name": "t", "labels": {
            "strimzi.io/cluster": "c"}}, "spec": {"partitions": 3}})
        self.create(TOPIC, "ns", {"metadata": {"name": "nolabel"}, "spec": {}})
        self.create(USER, "ns", {"metadata": {"name": "u", "labels": {"strimzi.io/cluster": "c"}},
                                 "spec": {"authentication": {"type": "scram-sha-512"}}})
        self.create(SCHED, "ns", {"metadata": {"name": "s"}, "spec": {"schedule": "0 3 * * *",
                                                                      "template": {}}})
        wait_until(lambda: cond(self.api.obj(DEP, "ns", "web"), "Available"), what="deployment")
        d = self.api.obj(DEP, "ns", "web")
        self.assertEqual(d["status"]["availableReplicas"], 2)
        self.assertEqual(d["status"]["observedGeneration"], d["metadata"]["generation"])
        wait_until(lambda: cond(self.api.obj(CERT, "ns", "web"), "Ready"), what="certificate")
        tls = self.api.obj(SECRET, "ns", "web-tls")
        self.assertEqual(tls["type"], "kubernetes.io/tls")
        self.assertIn(b"BEGIN CERTIFICATE", base64.b64decode(tls["data"]["tls.crt"]))
        self.assertIn(b"PRIVATE KEY", base64.b64decode(tls["data"]["tls.key"]))
        wait_until(lambda: cond(self.api.obj(TOPIC, "ns", "t"), "Ready"), what="topic")
        self.assertEqual(self.api.obj(TOPIC, "ns", "t")["status"]["topicName"], "t")
        wait_until(lambda: cond(self.api.obj(USER, "ns", "u"), "Ready"), what="user")
        us = self.api.obj(SECRET, "ns", "u")
        self.assertEqual(sorted(us["data"]), ["password", "sasl.jaas.config"])
        self.assertEqual(us["metadata"]["ownerReferences"][0]["kind"], "KafkaUser")
        sched = wait_until(lambda: (self.api.obj(SCHED, "ns", "s").get("status") or {})
                           .get("phase"), what="schedule")
        self.assertEqual(sched, "Enabled")
        # The schedule's status went through the main resource (no status subresource).
        self.assertIn(("PATCH", "/apis/velero.io/v1/namespaces/ns/schedules/s"),
                      self.api.writes())
        self.assertIsNone(self.api.obj(TOPIC, "ns", "nolabel").get("status"))
        n = self.settle()
        time.sleep(1.5)
        self.assertEqual(len(self.api.writes()), n, "writes after settling: %s" %
                         self.api.writes()[n:])
        rc, err = self.stop(p)
        self.assertEqual(rc, 0)
        self.assertIn("Deployment ns/web: available", err)
        self.assertIn("no strimzi.io/cluster label", err)
        self.assertNotIn(base64.b64decode(us["data"]["password"]).decode(), err)

    def test_restart_on_a_settled_cluster_writes_nothing(self):
        p = self.start("--install-crds")
        self.create(CERT, "ns", {"metadata": {"name": "c"}, "spec": {
            "secretName": "c-tls", "issuerRef": {"name": "le"}}})
        self.create(USER, "ns", {"metadata": {"name": "u", "labels": {"strimzi.io/cluster": "x"}},
                                 "spec": {"authentication": {"type": "tls"}}})
        wait_until(lambda: cond(self.api.obj(USER, "ns", "u"), "Ready"), what="user")
        wait_until(lambda: cond(self.api.obj(CERT, "ns", "c"), "Ready"), what="cert")
        self.stop(p)
        n = self.settle(0.3)
        self.start("--install-crds")
        time.sleep(1.5)
        extra = [w for w in self.api.writes()[n:] if "customresourcedefinitions" not in w[1]]
        self.assertEqual(extra, [])

    def test_changes_after_watch_drop_and_compaction_are_seen(self):
        self.start("--only", "deployments")
        self.create(DEP, "ns", {"metadata": {"name": "a"}, "spec": {"replicas": 1}})
        wait_until(lambda: cond(self.api.obj(DEP, "ns", "a"), "Available"), what="a")
        self.api.drop_watches()
        time.sleep(0.2)
        self.create(DEP, "ns", {"metadata": {"name": "b"}, "spec": {"replicas": 1}})
        wait_until(lambda: cond(self.api.obj(DEP, "ns", "b"), "Available"), what="b after drop")
        self.api.compact()
        time.sleep(0.2)
        self.create(DEP, "ns", {"metadata": {"name": "c"}, "spec": {"replicas": 3}})
        wait_until(lambda: cond(self.api.obj(DEP, "ns", "c"), "Available"), what="c after 410")
        # A spec change bumps generation; the stand-in catches up.
        self.client.merge_patch("/apis/apps/v1/namespaces/ns/deployments/c",
                                {"spec": {"replicas": 4}})
        wait_until(lambda: (self.api.obj(DEP, "ns", "c")["status"].get("readyReplicas") == 4),
                   what="scale to 4")

    def test_only_namespace_and_fail_certificates_and_delay(self):
        self.start("--install-crds", "--only", "certificates", "--namespace", "mine",
                   "--fail-certificates", "--ready-delay-ms", "700")
        self.create(CERT, "other", {"metadata": {"name": "c"}, "spec": {
            "secretName": "c-tls", "issuerRef": {"name": "le"}}})
        t0 = time.monotonic()
        self.create(CERT, "mine", {"metadata": {"name": "c"}, "spec": {
            "secretName": "c-tls", "issuerRef": {"name": "le"}}})
        self.create(DEP, "mine", {"metadata": {"name": "d"}, "spec": {}})
        r = wait_until(lambda: cond(self.api.obj(CERT, "mine", "c"), "Ready"), what="failed cert")
        self.assertGreaterEqual(time.monotonic() - t0, 0.6)
        self.assertEqual((r["status"], r["reason"]), ("False", "Failed"))
        self.assertIsNone(self.api.obj(SECRET, "mine", "c-tls"))
        time.sleep(0.5)
        self.assertIsNone(self.api.obj(CERT, "other", "c").get("status"))
        self.assertIsNone(self.api.obj(DEP, "mine", "d").get("status"))

    def test_resync_recreates_a_deleted_tls_secret(self):
        self.start("--install-crds", "--only", "certificates", "--resync-seconds", "2")
        self.create(CERT, "ns", {"metadata": {"name": "c"}, "spec": {
            "secretName": "c-tls", "issuerRef": {"name": "le"}}})
        wait_until(lambda: self.api.obj(SECRET, "ns", "c-tls"), what="secret")
        self.client.request("DELETE", "/api/v1/namespaces/ns/secrets/c-tls")
        self.assertIsNone(self.api.obj(SECRET, "ns", "c-tls"))
        wait_until(lambda: self.api.obj(SECRET, "ns", "c-tls"), timeout=8,
                   what="secret recreated by the resync")

    def test_missing_crds_are_waited_for(self):
        p = self.start("--only", "velero")
        time.sleep(0.3)
        standins.install_crds(self.client, standins.DEFAULT_CRDS)
        self.create(SCHED, "ns", {"metadata": {"name": "s"}, "spec": {"schedule": "@daily",
                                                                      "template": {}}})
        wait_until(lambda: (self.api.obj(SCHED, "ns", "s").get("status") or {}).get("phase"),
                   timeout=15, what="schedule after CRD install")
        rc, err = self.stop(p)
        self.assertIn("not served", err)

    def test_bad_kubeconfig_exits_2(self):
        r = subprocess.run([sys.executable, SCRIPT, "--kubeconfig", "/nonexistent"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot use kubeconfig", r.stderr)


if __name__ == "__main__":
    unittest.main()
