"""Tests for patch.py (transcript 14 and RFC 7386 / 6902 edge cases)."""

import copy
import unittest

import fixtures  # noqa: F401  (sets sys.path)
from patch import (PatchError, json_merge_patch, json_patch, smp_list_strategy,
                   strategic_merge_patch)


def deployment():
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a"]},
            "spec": {"replicas": 1,
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                         "containers": [
                             {"name": "app", "image": "nginx:1.25",
                              "ports": [{"containerPort": 80, "protocol": "TCP"}],
                              "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                             {"name": "sidecar", "image": "busybox:1.36",
                              "command": ["sleep", "infinity"]}],
                         "tolerations": [{"key": "k1"}]}}}}


def containers(obj):
    return obj["spec"]["template"]["spec"]["containers"]


class MergePatch(unittest.TestCase):
    def test_null_deletes_and_objects_merge(self):
        target = {"metadata": {"labels": {"owner": "a", "x": "y"}},
                  "spec": {"hostname": "h", "port": 1}}
        out = json_merge_patch(target, {"metadata": {"labels": {"owner": None, "tier": "gold"}},
                                        "spec": {"hostname": "ssa-host", "port": None}})
        self.assertEqual(out, {"metadata": {"labels": {"x": "y", "tier": "gold"}},
                               "spec": {"hostname": "ssa-host"}})
        self.assertEqual(target["spec"]["port"], 1)

    def test_lists_are_replaced_whole(self):
        out = json_merge_patch(deployment(), {"spec": {"template": {"spec": {
            "containers": [{"name": "app", "image": "nginx:1.28"}]}}}})
        self.assertEqual(containers(out), [{"name": "app", "image": "nginx:1.28"}])

    def test_non_object_patch_replaces(self):
        self.assertEqual(json_merge_patch({"a": 1}, [1]), [1])
        self.assertEqual(json_merge_patch("x", {"a": {"b": None}}), {"a": {}})


class JsonPatch(unittest.TestCase):
    def test_transcript_sequence(self):
        doc = {"metadata": {}, "spec": {"image": "ghcr.io/example/ssa:1", "hostname": "h"}}
        out = json_patch(doc, [
            {"op": "test", "path": "/spec/image", "value": "ghcr.io/example/ssa:1"},
            {"op": "replace", "path": "/spec/image", "value": "ghcr.io/example/ssa:2"},
            {"op": "add", "path": "/metadata/annotations", "value": {"grace.dev/note": "patched"}},
            {"op": "remove", "path": "/spec/hostname"}])
        self.assertEqual(out, {"metadata": {"annotations": {"grace.dev/note": "patched"}},
                               "spec": {"image": "ghcr.io/example/ssa:2"}})
        self.assertIn("hostname", doc["spec"])

    def test_failures_raise_patch_error(self):
        doc = {"spec": {"image": "a", "l": [1]}}
        for ops in ([{"op": "test", "path": "/spec/image", "value": "wrong"}],
                    [{"op": "remove", "path": "/spec/nosuchfield"}],
                    [{"op": "replace", "path": "/spec/nosuch", "value": 1}],
                    [{"op": "add", "path": "/nope/x", "value": 1}],
                    [{"op": "add", "path": "/spec/l/5", "value": 1}],
                    [{"op": "add", "path": "/spec/l/01", "value": 1}],
                    [{"op": "bogus", "path": "/spec"}],
                    [{"op": "add", "path": "/spec/x"}],
                    {"op": "add"}):
            with self.assertRaises(PatchError, msg=str(ops)):
                json_patch(doc, ops)

    def test_arrays_pointer_escapes_move_and_copy(self):
        doc = {"l": [1, 3], "a/b": {"~k": 1}}
        out = json_patch(doc, [
            {"op": "add", "path": "/l/1", "value": 2},
            {"op": "add", "path": "/l/-", "value": 4},
            {"op": "copy", "from": "/a~1b/~0k", "path": "/c"},
            {"op": "move", "from": "/l/0", "path": "/first"},
            {"op": "test", "path": "/l", "value": [2, 3, 4]}])
        self.assertEqual(out, {"l": [2, 3, 4], "a/b": {"~k": 1}, "c": 1, "first": 1})

    def test_test_compares_numbers_by_value(self):
        self.assertEqual(json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}]),
                         {"a": 1})


class StrategicMergePatch(unittest.TestCase):
    def test_containers_and_env_merge_by_name_and_patch_delete(self):
        out = strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "nginx:1.27",
             "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]},
            {"name": "sidecar", "$patch": "delete"}]}}}}, "Deployment")
        self.assertEqual(containers(out), [
            {"name": "app", "image": "nginx:1.27",
             "ports": [{"containerPort": 80, "protocol": "TCP"}],
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "20"},
                     {"name": "C", "value": "3"}]}])

    def test_set_element_order(self):
        out = strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
            "containers": [{"name": "app", "imagePullPolicy": "Always"}]}}}}, "Deployment")
        self.assertEqual([c["name"] for c in containers(out)], ["sidecar", "app"])
        self.assertEqual(containers(out)[1]["imagePullPolicy"], "Always")
        self.assertNotIn("$setElementOrder/containers", out["spec"]["template"]["spec"])

    def test_new_items_are_appended_and_lists_without_strategy_replaced(self):
        out = strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {
            "containers": [{"name": "new", "image": "x"}],
            "tolerations": [{"key": "k2"}]}}}}, "Deployment")
        self.assertEqual([c["name"] for c in containers(out)], ["app", "sidecar", "new"])
        self.assertEqual(out["spec"]["template"]["spec"]["tolerations"], [{"key": "k2"}])

    def test_patch_replace_on_a_list_and_on_a_map(self):
        out = strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {
            "containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}},
            "strategy": {"$patch": "replace", "type": "Recreate"}}}, "Deployment")
        self.assertEqual(containers(out), [{"name": "only", "image": "x"}])
        self.assertEqual(out["spec"]["strategy"], {"type": "Recreate"})

    def test_retain_keys(self):
        out = strategic_merge_patch(deployment(), {"spec": {"strategy": {
            "$retainKeys": ["type"], "type": "Recreate"}}}, "Deployment")
        self.assertEqual(out["spec"]["strategy"], {"type": "Recreate"})

    def test_null_deletes_and_maps_merge(self):
        out = strategic_merge_patch(deployment(), {"metadata": {"labels": {"app": None, "t": "1"}},
                                                   "spec": {"replicas": 3}}, "Deployment")
        self.assertEqual(out["metadata"]["labels"], {"t": "1"})
        self.assertEqual(out["spec"]["replicas"], 3)

    def test_primitive_list_with_merge_strategy_and_delete_from_primitive_list(self):
        out = strategic_merge_patch(deployment(), {"metadata": {"finalizers": ["b", "a"]}},
                                    "Deployment")
        self.assertEqual(out["metadata"]["finalizers"], ["a", "b"])
        out = strategic_merge_patch(deployment(), {"metadata": {
            "finalizers": ["b"], "$deleteFromPrimitiveList/finalizers": ["a"]}}, "Deployment")
        self.assertEqual(out["metadata"]["finalizers"], ["b"])

    def test_service_ports_merge_by_port(self):
        svc = {"kind": "Service", "spec": {"ports": [{"port": 80, "name": "http"},
                                                     {"port": 443, "name": "https"}]}}
        out = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}},
                                    "Service")
        self.assertEqual(out["spec"]["ports"], [{"port": 80, "name": "http", "targetPort": 8080},
                                                {"port": 443, "name": "https"}])

    def test_item_without_merge_key_is_an_error(self):
        with self.assertRaises(PatchError):
            strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {
                "containers": [{"image": "x"}]}}}}, "Deployment")

    def test_unknown_kind_replaces_lists(self):
        out = strategic_merge_patch({"spec": {"l": [1, 2]}}, {"spec": {"l": [3]}}, "Widget")
        self.assertEqual(out, {"spec": {"l": [3]}})

    def test_input_not_modified(self):
        d = deployment()
        before = copy.deepcopy(d)
        strategic_merge_patch(d, {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "y"}]}}}}, "Deployment")
        self.assertEqual(d, before)

    def test_merge_key_table(self):
        self.assertEqual(smp_list_strategy("Deployment", (
            "spec", "template", "spec", "containers", "volumeMounts")), ("merge", "mountPath"))
        self.assertEqual(smp_list_strategy("CronJob", (
            "spec", "jobTemplate", "spec", "template", "spec", "volumes")), ("merge", "name"))
        self.assertEqual(smp_list_strategy("Pod", ("status", "conditions")), ("merge", "type"))
        self.assertEqual(smp_list_strategy("Ingress", ("spec", "rules")), (None, None))


if __name__ == "__main__":
    unittest.main()
