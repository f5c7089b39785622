"""The stand-ins' pure logic: what each absent controller would write, and when not to."""

import base64
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import desired as s  # noqa: E402
import standins  # noqa: E402

NOW = "2026-11-28T12:00:00Z"
LATER = "2026-11-28T13:00:00Z"
DATES = ("2026-11-28T11:00:00Z", "2027-02-26T11:00:00Z", "2027-01-27T11:00:00Z")


def apply(obj, patch):
    """Merge patch, enough for these tests."""
    def merge(t, p):
        if not isinstance(p, dict):
            return p
        out = dict(t) if isinstance(t, dict) else {}
        for k, v in p.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = merge(out.get(k), v)
        return out
    return merge(obj, patch)


def deployment(replicas=2, gen=3, status=None):
    spec = {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    d = {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "web", "namespace": "ns", "generation": gen}, "spec": spec}
    if status is not None:
        d["status"] = status
    return d


class DeploymentTest(unittest.TestCase):
    def test_new_deployment_gets_counts_generation_and_both_conditions(self):
        p = s.deployment_status_patch(deployment(), NOW)["status"]
        self.assertEqual(p["observedGeneration"], 3)
        for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            self.assertEqual(p[k], 2, k)
        av = s.find_condition(p["conditions"], "Available")
        pr = s.find_condition(p["conditions"], "Progressing")
        self.assertEqual((av["status"], av["reason"]), ("True", "MinimumReplicasAvailable"))
        self.assertEqual((pr["status"], pr["reason"]), ("True", "NewReplicaSetAvailable"))
        self.assertRegex(pr["message"], r'^ReplicaSet "web-[bcdfghjklmnpqrstvwxz2456789]+" has')
        self.assertEqual(av["lastTransitionTime"], NOW)

    def test_settled_deployment_needs_no_write(self):
        d = deployment()
        d = apply(d, s.deployment_status_patch(d, NOW))
        self.assertIsNone(s.deployment_status_patch(d, LATER))

    def test_spec_change_updates_generation_but_keeps_transition_time(self):
        d = deployment()
        d = apply(d, s.deployment_status_patch(d, NOW))
        d["metadata"]["generation"] = 4
        d["spec"]["replicas"] = 5
        p = s.deployment_status_patch(d, LATER)["status"]
        self.assertEqual((p["observedGeneration"], p["replicas"]), (4, 5))
        if "conditions" in p:
            av = s.find_condition(p["conditions"], "Available")
            self.assertEqual(av["lastTransitionTime"], NOW)

    def test_missing_replicas_defaults_to_one_and_zero_counts_are_removed(self):
        p = s.deployment_status_patch(deployment(replicas=None), NOW)["status"]
        self.assertEqual(p["availableReplicas"], 1)
        d = apply(deployment(), s.deployment_status_patch(deployment(), NOW))
        d["spec"]["replicas"] = 0
        d["metadata"]["generation"] = 4
        p = s.deployment_status_patch(d, NOW)["status"]
        self.assertIsNone(p["readyReplicas"])
        self.assertIn("readyReplicas", p)  # null deletes in a merge patch

    def test_false_condition_is_flipped_with_new_transition_time(self):
        d = deployment(status={"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2,
                               "readyReplicas": 2, "availableReplicas": 2, "conditions": [
                                   {"type": "Available", "status": "False", "reason": "X",
                                    "lastTransitionTime": "2020-01-01T00:00:00Z"}]})
        p = s.deployment_status_patch(d, NOW)["status"]
        self.assertEqual(s.find_condition(p["conditions"], "Available")["lastTransitionTime"], NOW)


def certificate(gen=2, status=None):
    c = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
         "metadata": {"name": "web", "namespace": "ns", "generation": gen, "uid": "u1"},
         "spec": {"secretName": "web-tls", "dnsNames": ["a.example.com", "b.example.com"],
                  "issuerRef": {"name": "le", "kind": "ClusterIssuer", "group": "cert-manager.io"},
                  "secretTemplate": {"labels": {"app": "web"}}}}
    if status is not None:
        c["status"] = status
    return c


class CertificateTest(unittest.TestCase):
    def test_ready_with_observed_generation_and_dates(self):
        p = s.certificate_status_patch(certificate(), NOW, DATES)["status"]
        r = s.find_condition(p["conditions"], "Ready")
        self.assertEqual((r["status"], r["reason"], r["observedGeneration"]), ("True", "Ready", 2))
        self.assertEqual((p["notBefore"], p["notAfter"], p["renewalTime"]), DATES)
        self.assertIsNone(s.certificate_status_patch(apply(certificate(), {"status": p}), LATER,
                                                     DATES))

    def test_issued_dates_are_kept_when_material_changes(self):
        c = apply(certificate(), s.certificate_status_patch(certificate(), NOW, DATES))
        other = ("2030-01-01T00:00:00Z",) * 3
        self.assertIsNone(s.certificate_status_patch(c, LATER, other))

    def test_new_generation_updates_only_the_condition(self):
        c = apply(certificate(), s.certificate_status_patch(certificate(), NOW, DATES))
        c["metadata"]["generation"] = 3
        p = s.certificate_status_patch(c, LATER, DATES)["status"]
        self.assertEqual(list(p), ["conditions"])
        self.assertEqual(p["conditions"][0]["observedGeneration"], 3)
        self.assertEqual(p["conditions"][0]["lastTransitionTime"], NOW)

    def test_issuing_condition_and_failure_fields_are_cleared(self):
        c = certificate(status={"conditions": [{"type": "Issuing", "status": "True"}],
                                "failedIssuanceAttempts": 2, "lastFailureTime": NOW})
        p = s.certificate_status_patch(c, NOW, DATES)["status"]
        self.assertEqual([x["type"] for x in p["conditions"]], ["Ready"])
        self.assertIsNone(p["failedIssuanceAttempts"])
        self.assertIn("lastFailureTime", p)

    def test_fail_mode_sets_ready_false_reason_failed_once(self):
        p = s.certificate_status_patch(certificate(), NOW, None, fail=True)["status"]
        r = s.find_condition(p["conditions"], "Ready")
        self.assertEqual((r["status"], r["reason"], r["observedGeneration"]), ("False", "Failed", 2))
        self.assertEqual(p["failedIssuanceAttempts"], 1)
        c = apply(certificate(), {"status": p})
        self.assertIsNone(s.certificate_status_patch(c, LATER, None, fail=True))

    def test_tls_secret_shape(self):
        sec = s.certificate_secret(certificate(), b"CRT", b"KEY")
        self.assertEqual(sec["type"], "kubernetes.io/tls")
        self.assertEqual(sec["metadata"]["name"], "web-tls")
        self.assertEqual(sec["metadata"]["namespace"], "ns")
        self.assertEqual(base64.b64decode(sec["data"]["tls.crt"]), b"CRT")
        self.assertEqual(base64.b64decode(sec["data"]["tls.key"]), b"KEY")
        self.assertNotIn("ca.crt", sec["data"])
        self.assertEqual(sec["metadata"]["labels"]["app"], "web")
        a = sec["metadata"]["annotations"]
        self.assertEqual(a["cert-manager.io/alt-names"], "a.example.com,b.example.com")
        self.assertEqual(a["cert-manager.io/issuer-kind"], "ClusterIssuer")
        self.assertNotIn("ownerReferences", sec["metadata"])  # cert-manager's default


def topic(gen=1, labels=None, annotations=None, status=None, topic_name=None):
    spec = {"partitions": 3, "replicas": 1}
    if topic_name:
        spec["topicName"] = topic_name
    t = {"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic",
         "metadata": {"name": "events", "namespace": "kafka", "generation": gen, "uid": "t1",
                      "labels": {"strimzi.io/cluster": "c"} if labels is None else labels},
         "spec": spec}
    if annotations:
        t["metadata"]["annotations"] = annotations
    if status is not None:
        t["status"] = status
    return t


class StrimziTest(unittest.TestCase):
    def test_topic_ready_with_generation_and_topic_name(self):
        t = topic(topic_name="grace.events_v1")
        p = s.strimzi_status_patch(t, NOW, s.topic_extra(t))["status"]
        self.assertEqual(p["conditions"], [{"type": "Ready", "status": "True",
                                            "lastTransitionTime": NOW}])
        self.assertEqual(p["observedGeneration"], 1)
        self.assertEqual(p["topicName"], "grace.events_v1")
        self.assertTrue(p["topicId"])
        t = apply(t, {"status": p})
        self.assertIsNone(s.strimzi_status_patch(t, LATER, s.topic_extra(t)))

    def test_topic_name_defaults_to_metadata_name(self):
        self.assertEqual(s.topic_extra(topic())["topicName"], "events")

    def test_missing_cluster_label_is_skipped(self):
        self.assertIsNotNone(s.strimzi_skip_reason(topic(labels={})))
        self.assertIsNone(s.strimzi_skip_reason(topic()))

    def test_paused_and_unmanaged_annotations(self):
        t = topic(annotations={"strimzi.io/pause-reconciliation": "true"})
        c = s.strimzi_status_patch(t, NOW, s.topic_extra(t))["status"]["conditions"]
        self.assertEqual(c[0]["type"], "ReconciliationPaused")
        t = topic(annotations={"strimzi.io/managed": "false"})
        c = s.strimzi_status_patch(t, NOW, s.topic_extra(t))["status"]["conditions"]
        self.assertEqual(c[0]["type"], "Unmanaged")

    def test_error_gives_ready_false_with_reason(self):
        t = topic()
        p = s.strimzi_status_patch(t, NOW, {}, ("NotSupported", "no"))["status"]
        self.assertEqual(p["conditions"][0]["status"], "False")
        self.assertEqual(p["conditions"][0]["reason"], "NotSupported")

    def user(self, auth="scram-sha-512", password_ref=None):
        a = {"type": auth} if auth else None
        if password_ref:
            a["password"] = {"valueFrom": {"secretKeyRef": password_ref}}
        u = {"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaUser",
             "metadata": {"name": "app", "namespace": "kafka", "generation": 1, "uid": "u9",
                          "labels": {"strimzi.io/cluster": "c"}},
             "spec": {"template": {"secret": {"metadata": {"labels": {"team": "t"}}}}}}
        if a:
            u["spec"]["authentication"] = a
        return u

    def test_scram_user_secret_has_password_and_jaas_and_owner(self):
        u = self.user()
        data = s.user_secret_data(u, None)
        pw = base64.b64decode(data["password"]).decode()
        self.assertEqual(len(pw), 32)
        jaas = base64.b64decode(data["sasl.jaas.config"]).decode()
        self.assertIn('username="app"', jaas)
        self.assertIn('password="%s"' % pw, jaas)
        sec = s.user_secret(u, data)
        self.assertEqual(sec["metadata"]["name"], "app")
        ref = sec["metadata"]["ownerReferences"][0]
        self.assertEqual((ref["kind"], ref["uid"], ref["name"]), ("KafkaUser", "u9", "app"))
        self.assertEqual(sec["metadata"]["labels"]["strimzi.io/kind"], "KafkaUser")
        self.assertEqual(sec["metadata"]["labels"]["team"], "t")

    def test_existing_password_is_kept_and_secret_needs_no_patch(self):
        u = self.user()
        first = s.user_secret(u, s.user_secret_data(u, None))
        again = s.user_secret(u, s.user_secret_data(u, first["data"]))
        self.assertEqual(again["data"], first["data"])
        self.assertIsNone(s.secret_patch(first, again))

    def test_password_from_secret_ref_is_used(self):
        u = self.user(password_ref={"name": "pw", "key": "k"})
        data = s.user_secret_data(u, None, password="s3cret")
        self.assertEqual(base64.b64decode(data["password"]), b"s3cret")

    def test_tls_user_gets_cn_username_and_tls_keys(self):
        u = self.user("tls")
        self.assertEqual(s.user_name(u), "CN=app")
        tls = {k: k.encode() for k in s.TLS_KEYS}
        data = s.user_secret_data(u, None, tls=tls)
        self.assertEqual(sorted(data), sorted(s.TLS_KEYS))
        self.assertIsNone(s.user_secret_data(self.user("tls-external"), None))

    def test_switching_auth_type_removes_old_keys(self):
        u = self.user()
        have = s.user_secret(u, s.user_secret_data(u, None))
        t = self.user("tls")
        want = s.user_secret(t, s.user_secret_data(t, None, tls={k: b"x" for k in s.TLS_KEYS}))
        p = s.secret_patch(have, want)
        self.assertIsNone(p["data"]["password"])
        self.assertEqual(p["data"]["user.key"], s.b64(b"x"))

    def test_secret_patch_adds_missing_owner_reference(self):
        u = self.user()
        want = s.user_secret(u, s.user_secret_data(u, None))
        have = {"metadata": {"name": "app", "labels": want["metadata"]["labels"],
                             "ownerReferences": [{"uid": "other"}]}, "data": want["data"]}
        p = s.secret_patch(have, want)
        self.assertEqual([r["uid"] for r in p["metadata"]["ownerReferences"]], ["other", "u9"])


class VeleroTest(unittest.TestCase):
    def schedule(self, cron, status=None):
        o = {"apiVersion": "velero.io/v1", "kind": "Schedule",
             "metadata": {"name": "daily", "namespace": "velero", "generation": 1},
             "spec": {"schedule": cron, "template": {}}}
        if status is not None:
            o["status"] = status
        return o

    def test_valid_schedule_is_enabled_once(self):
        p = s.schedule_status_patch(self.schedule("0 3 * * *"))
        self.assertEqual(p, {"status": {"phase": "Enabled"}})
        self.assertIsNone(s.schedule_status_patch(self.schedule("0 3 * * *", p["status"])))

    def test_invalid_schedule_fails_validation_and_recovers(self):
        p = s.schedule_status_patch(self.schedule("61 * * * *"))["status"]
        self.assertEqual(p["phase"], "FailedValidation")
        self.assertTrue(p["validationErrors"][0].startswith("invalid schedule"))
        p2 = s.schedule_status_patch(self.schedule("0 * * * *", p))["status"]
        self.assertEqual(p2, {"phase": "Enabled", "validationErrors": None})

    def test_cron_forms(self):
        for ok in ("* * * * *", "*/5 0-6 1,15 jan-mar MON-fri", "CRON_TZ=Europe/Berlin 0 3 * * *",
                   "@daily", "@every 6h", "@every 1h30m", "0 0 ? * 7"):
            self.assertIsNone(s.cron_error(ok), ok)
        for bad in ("", "* * * *", "* * * * * *", "@sometimes", "@every soon", "*/0 * * * *",
                    "0 24 * * *", "5-1 * * * *", "x * * * *"):
            self.assertIsNotNone(s.cron_error(bad), bad)


def job(*words, deadline=None):
    spec = {"template": {"spec": {"containers": [{"name": "m", "command": list(words)}]}}}
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {"metadata": {"name": "j", "namespace": "n"}, "spec": spec}


T0 = 1795867200.0  # 2026-11-28T08:00:00Z


class JobTest(unittest.TestCase):
    def run_to_end(self, obj, start=T0, step=1.0, limit=50):
        now = start
        for _ in range(limit):
            patch, _ = s.job_status_patch(obj, now)
            if patch:
                obj = apply(obj, patch)
            if s.job_finished(obj.get("status") or {}):
                return obj, now
            now += step
        return obj, now

    def types(self, obj):
        return [c["type"] for c in obj["status"]["conditions"]]

    def test_start_then_complete_with_success_criteria_first(self):
        patch, _ = s.job_status_patch(job("migrate"), T0)
        self.assertEqual(patch["status"]["active"], 1)
        self.assertIn("startTime", patch["status"])
        obj, _ = self.run_to_end(job("migrate"))
        self.assertEqual(self.types(obj), ["SuccessCriteriaMet", "Complete"])
        self.assertEqual(obj["status"]["succeeded"], 1)
        self.assertIn("completionTime", obj["status"])
        self.assertNotIn("active", obj["status"])

    def test_fail_marker_fails_with_failure_target_first(self):
        obj, _ = self.run_to_end(job("migrate", "STANDIN_FAIL"))
        self.assertEqual(self.types(obj), ["FailureTarget", "Failed"])
        self.assertEqual(obj["status"]["conditions"][1]["reason"], "BackoffLimitExceeded")
        self.assertNotIn("completionTime", obj["status"])

    def test_sleep_marker_waits_and_asks_to_be_looked_at_again(self):
        obj = apply(job("STANDIN_SLEEP=5"), s.job_status_patch(job("STANDIN_SLEEP=5"), T0)[0])
        patch, again = s.job_status_patch(obj, T0 + 2)
        self.assertIsNone(patch)
        self.assertAlmostEqual(again, 3.1, places=3)
        obj, end = self.run_to_end(obj, start=T0 + 2)
        self.assertEqual(self.types(obj)[-1], "Complete")
        self.assertGreaterEqual(end, T0 + 5)

    def test_hang_until_the_deadline(self):
        obj = job("STANDIN_HANG", deadline=3)
        obj, end = self.run_to_end(obj)
        self.assertEqual(obj["status"]["conditions"][-1]["reason"], "DeadlineExceeded")
        self.assertGreaterEqual(end, T0 + 3)
        patch, again = s.job_status_patch(job("STANDIN_HANG"), T0)
        obj = apply(job("STANDIN_HANG"), patch)
        self.assertEqual(s.job_status_patch(obj, T0 + 100), (None, None))  # no deadline: forever

    def test_finished_or_suspended_job_is_left_alone(self):
        obj, _ = self.run_to_end(job("migrate"))
        self.assertEqual(s.job_status_patch(obj, T0 + 10), (None, None))
        sus = job("migrate")
        sus["spec"]["suspend"] = True
        self.assertEqual(s.job_status_patch(sus, T0), (None, None))


class MiscTest(unittest.TestCase):
    def test_parse_only(self):
        self.assertEqual(standins.parse_only("kafka,velero"),
                         ["kafkatopics", "kafkausers", "schedules"])
        self.assertEqual(standins.parse_only("deployments,deployments"), ["deployments"])
        with self.assertRaises(ValueError):
            standins.parse_only("traefik")

    def test_template_hash_is_stable_and_changes_with_template(self):
        a = s.template_hash({"spec": {"x": 1}})
        self.assertEqual(a, s.template_hash({"spec": {"x": 1}}))
        self.assertNotEqual(a, s.template_hash({"spec": {"x": 2}}))


if __name__ == "__main__":
    unittest.main()
