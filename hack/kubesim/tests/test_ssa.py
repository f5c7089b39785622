"""Tests for ssa.py: server-side apply and managedFields (transcripts 13, 25)."""

import copy
import unittest

from fixtures import GS_SCHEMA
import schema
import ssa
import ssa_types
from patch import json_merge_patch

T = "2026-11-28T12:59:19Z"
T2 = "2026-11-28T13:00:00Z"
GV = "grace.dev/v1alpha1"
LT = ssa_types.schema_list_types(GS_SCHEMA)


def cfg(metadata=None, **body):
    out = {"apiVersion": GV, "kind": "GraceService",
           "metadata": dict({"name": "ssa"}, **(metadata or {}))}
    out.update(copy.deepcopy(body))
    return out


def mf(obj):
    """[(manager, operation, subresource, time, fieldsV1)] of an object."""
    return [(e["manager"], e["operation"], e.get("subresource"), e.get("time"), e["fieldsV1"])
            for e in obj["metadata"].get("managedFields", [])]


class Server:
    """What the HTTP layer does around apply(): ignore reset fields, default."""

    def __init__(self, time=T):
        self.time = time

    def apply(self, live, config, manager, force=False, status=False):
        new, conflicts = ssa.apply(live, config, manager, force, LT,
                                   subresource="status" if status else None, time=self.time,
                                   ignore_paths=["spec"] if status else ["status"])
        if conflicts:
            return None, conflicts
        new, causes, _, _ = schema.validate_and_default(GS_SCHEMA, new, live, "GraceService", True)
        assert not causes, causes
        return new, []


class Transcript13(unittest.TestCase):
    def setUp(self):
        self.srv = Server()
        self.a = cfg({"labels": {"owner": "a"}}, spec={"image": "img:1", "replicas": 2})
        self.obj, c = self.srv.apply(None, self.a, "a")
        self.assertEqual(c, [])

    def test_create_via_apply_owns_only_sent_fields_not_defaults(self):
        self.assertEqual(mf(self.obj), [("a", "Apply", None, T, {
            "f:metadata": {"f:labels": {"f:owner": {}}},
            "f:spec": {"f:image": {}, "f:replicas": {}}})])
        self.assertEqual(self.obj["spec"], {"image": "img:1", "replicas": 2, "port": 8000})

    def test_identical_apply_is_a_no_op(self):
        again, c = Server(T2).apply(self.obj, self.a, "a")
        self.assertEqual(c, [])
        self.assertEqual(again, self.obj)

    def test_conflict_with_apply_manager(self):
        b = cfg(spec={"image": "img:1", "replicas": 5})
        new, c = self.srv.apply(self.obj, b, "b")
        self.assertIsNone(new)
        self.assertEqual(c, [{"reason": "FieldManagerConflict", "message": "conflict with \"a\"",
                              "field": ".spec.replicas"}])
        self.assertEqual(ssa.format_conflict_message(c),
                         "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas")

    def test_force_moves_ownership_and_equal_values_are_shared(self):
        b = cfg(spec={"image": "img:1", "replicas": 5})
        obj, c = self.srv.apply(self.obj, b, "b", force=True)
        self.assertEqual(c, [])
        self.assertEqual(mf(obj), [
            ("a", "Apply", None, T, {"f:metadata": {"f:labels": {"f:owner": {}}},
                                     "f:spec": {"f:image": {}}}),
            ("b", "Apply", None, T, {"f:spec": {"f:image": {}, "f:replicas": {}}})])
        # b gives the field up: nobody owns it, it is removed and re-defaulted
        obj, _ = self.srv.apply(obj, cfg(spec={"image": "img:1"}), "b")
        self.assertEqual(obj["spec"]["replicas"], 1)
        self.assertEqual(mf(obj)[1], ("b", "Apply", None, T, {"f:spec": {"f:image": {}}}))

    def test_defaulted_field_owned_by_nobody_does_not_conflict(self):
        obj, c = self.srv.apply(self.obj, cfg(spec={"image": "img:1", "port": 8080}), "c")
        self.assertEqual(c, [])
        self.assertEqual(obj["spec"]["port"], 8080)

    def test_update_manager_owns_what_it_changes_and_conflicts_name_its_version(self):
        patched = json_merge_patch(self.obj, {"spec": {"replicas": 9}})
        obj = ssa.update_managed_fields(self.obj, patched, "m", "Update", None, GV, T2, LT,
                                        ["status"])
        self.assertEqual(mf(obj), [
            ("a", "Apply", None, T, {"f:metadata": {"f:labels": {"f:owner": {}}},
                                     "f:spec": {"f:image": {}}}),
            ("m", "Update", None, T2, {"f:spec": {"f:replicas": {}}})])
        _, c = self.srv.apply(obj, self.a, "a")
        self.assertEqual(c, [{"reason": "FieldManagerConflict",
                              "message": "conflict with \"m\" using grace.dev/v1alpha1",
                              "field": ".spec.replicas"}])
        self.assertEqual(ssa.format_conflict_message(c),
                         "Apply failed with 1 conflict: conflict with \"m\" using "
                         "grace.dev/v1alpha1: .spec.replicas")

    def test_status_conditions_merge_by_type_across_managers(self):
        cond = {"status": "False", "reason": "Provisioning", "message": "waiting for workload",
                "lastTransitionTime": "2026-01-01T00:00:00Z"}
        op = cfg(status={"observedGeneration": 1, "conditions": [dict(cond, type="Ready")]})
        obj, _ = self.srv.apply(self.obj, op, "grace-operator", status=True)
        other = cfg(status={"conditions": [dict(cond, type="WorkloadReady", status="True")]})
        obj, _ = self.srv.apply(obj, other, "other-controller", status=True)
        self.assertEqual([c["type"] for c in obj["status"]["conditions"]],
                         ["Ready", "WorkloadReady"])
        entry = [e for e in mf(obj) if e[0] == "grace-operator"][0]
        self.assertEqual(entry, ("grace-operator", "Apply", "status", T, {"f:status": {
            "f:conditions": {"k:{\"type\":\"Ready\"}": {
                ".": {}, "f:lastTransitionTime": {}, "f:message": {}, "f:reason": {},
                "f:status": {}, "f:type": {}}},
            "f:observedGeneration": {}}}))
        # the operator drops its condition: only its own one goes away
        obj, _ = self.srv.apply(obj, cfg(status={"observedGeneration": 1}), "grace-operator",
                                status=True)
        self.assertEqual([c["type"] for c in obj["status"]["conditions"]], ["WorkloadReady"])
        self.assertEqual([e for e in mf(obj) if e[0] == "grace-operator"][0][4],
                         {"f:status": {"f:observedGeneration": {}}})
        # status sent to the main resource is ignored: no change at all
        again, _ = self.srv.apply(obj, cfg({"labels": {"owner": "a"}},
                                           spec={"image": "img:1", "replicas": 2},
                                           status={"url": "ignored"}), "a")
        self.assertEqual(again, obj)

    def test_managed_fields_sort_apply_before_update_then_time_then_name(self):
        patched = json_merge_patch(self.obj, {"metadata": {"labels": {"z": "1"}}})
        obj = ssa.update_managed_fields(self.obj, patched, "aaa", "Update", None, GV, T, LT)
        obj, _ = Server(T2).apply(obj, cfg(spec={"image": "img:1", "port": 81}), "zz")
        self.assertEqual([(e[0], e[1]) for e in mf(obj)],
                         [("a", "Apply"), ("zz", "Apply"), ("aaa", "Update")])
        # an entry without a time (no value change) sorts as time zero
        obj, _ = Server(T2).apply(obj, cfg(spec={"image": "img:1"}), "zzz")
        self.assertEqual([(e[0], e[3]) for e in mf(obj)][0], ("zzz", None))


class Transcript25(unittest.TestCase):
    def service(self):
        return {"kind": "Service", "apiVersion": "v1",
                "metadata": {"name": "peeps", "namespace": "child", "uid": "u",
                             "resourceVersion": "735", "creationTimestamp": T},
                "spec": {"ports": [{"name": "http", "protocol": "TCP", "port": 80,
                                    "targetPort": 8000}],
                         "selector": {"app": "peeps"}, "type": "ClusterIP",
                         "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"},
                "status": {"loadBalancer": {}}}

    def test_create_update_entry_shape_for_a_builtin_kind(self):
        obj = ssa.update_managed_fields(None, self.service(), "grace-operator", "Update", None,
                                        "v1", T, None, ["status"])
        self.assertEqual(mf(obj), [("grace-operator", "Update", None, T, {"f:spec": {
            "f:internalTrafficPolicy": {},
            "f:ports": {".": {}, "k:{\"port\":80,\"protocol\":\"TCP\"}": {
                ".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}},
            "f:selector": {}, "f:sessionAffinity": {}, "f:type": {}}})])
        self.assertEqual(list(obj["metadata"]["managedFields"][0]),
                         ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"])

    def test_first_apply_with_same_values_adds_an_entry_without_time(self):
        live = ssa.update_managed_fields(None, self.service(), "grace-operator", "Update", None,
                                         "v1", T, None, ["status"])
        config = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "peeps"},
                  "spec": {"selector": {"app": "peeps"},
                           "ports": [{"name": "http", "port": 80, "targetPort": 8000}]}}
        obj, c = ssa.apply(live, config, "grace-operator", False, time=T2, ignore_paths=["status"])
        self.assertEqual(c, [])
        self.assertEqual(obj["spec"], live["spec"])
        self.assertNotEqual(obj, live)
        self.assertEqual(mf(obj)[0], ("grace-operator", "Apply", None, None, {"f:spec": {
            "f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {
                ".": {}, "f:name": {}, "f:port": {}, "f:targetPort": {}}},
            "f:selector": {}}}))
        again, _ = ssa.apply(obj, config, "grace-operator", False, time=T2,
                             ignore_paths=["status"])
        self.assertEqual(again, obj)


class Semantics(unittest.TestCase):
    def test_multiple_conflicts_message_groups_by_manager(self):
        c = [{"reason": "FieldManagerConflict", "message": "conflict with \"b\"",
              "field": ".spec.x"},
             {"reason": "FieldManagerConflict", "message": "conflict with \"a\"",
              "field": ".spec.y"},
             {"reason": "FieldManagerConflict", "message": "conflict with \"a\"",
              "field": ".spec.z"}]
        self.assertEqual(ssa.format_conflict_message(c),
                         "Apply failed with 3 conflicts: conflicts with \"a\":\n- .spec.y\n"
                         "- .spec.z\nconflicts with \"b\":\n- .spec.x")

    def test_conflict_paths_for_list_map_items_and_subresource_managers(self):
        live, _ = ssa.apply(None, cfg(status={"conditions": [{"type": "Ready", "status": "True"}]}),
                            "op", False, LT, subresource="status", time=T)
        _, c = ssa.apply(live, cfg(status={"conditions": [{"type": "Ready", "status": "False"}]}),
                         "other", False, LT, subresource="status", time=T)
        self.assertEqual(c, [{"reason": "FieldManagerConflict",
                              "message": "conflict with \"op\" with subresource \"status\"",
                              "field": ".status.conditions[type=\"Ready\"].status"}])

    def test_field_still_owned_by_another_manager_is_not_removed(self):
        live, _ = ssa.apply(None, cfg(spec={"image": "i", "replicas": 2}), "a", False, LT, time=T)
        live, _ = ssa.apply(live, cfg(spec={"replicas": 2}), "b", False, LT, time=T)
        out, _ = ssa.apply(live, cfg(spec={"image": "i"}), "a", False, LT, time=T)
        self.assertEqual(out["spec"], {"image": "i", "replicas": 2})

    def test_atomic_list_is_owned_as_one_field_and_replaced(self):
        lt = {"spec.args": None}
        live, _ = ssa.apply(None, cfg(spec={"args": ["a", "b"]}), "a", False, lt, time=T)
        self.assertEqual(mf(live)[0][4], {"f:spec": {"f:args": {}}})
        _, c = ssa.apply(live, cfg(spec={"args": ["c"]}), "b", False, lt, time=T)
        self.assertEqual(c[0]["field"], ".spec.args")

    def test_set_lists_own_values(self):
        lt = {"spec.tags": "set"}
        live, _ = ssa.apply(None, cfg(spec={"tags": ["x"]}), "a", False, lt, time=T)
        out, c = ssa.apply(live, cfg(spec={"tags": ["y"]}), "b", False, lt, time=T)
        self.assertEqual(c, [])
        self.assertEqual(out["spec"]["tags"], ["x", "y"])
        self.assertEqual(mf(out)[1][4], {"f:spec": {"f:tags": {"v:\"y\"": {}}}})

    def test_update_takes_fields_from_other_managers_and_releases_removed_ones(self):
        live, _ = ssa.apply(None, cfg(spec={"image": "i", "replicas": 2}), "a", False, LT, time=T)
        new = copy.deepcopy(live)
        new["spec"]["replicas"] = 3
        del new["spec"]["image"]
        out = ssa.update_managed_fields(live, new, "kubectl-edit", "Update", None, GV, T2, LT)
        self.assertEqual(mf(out), [("kubectl-edit", "Update", None, T2,
                                    {"f:spec": {"f:replicas": {}}})])

    def test_update_without_changes_keeps_managed_fields(self):
        live, _ = ssa.apply(None, cfg(spec={"image": "i"}), "a", False, LT, time=T)
        out = ssa.update_managed_fields(live, copy.deepcopy(live), "x", "Update", None, GV, T2, LT)
        self.assertEqual(out, live)

    def test_update_on_create_marks_new_maps_with_dot(self):
        obj = cfg({"labels": {"team": "a"}}, spec={"image": "i", "postgres": {"database": "p"}})
        out = ssa.update_managed_fields(None, obj, "refcapture", "Update", None, GV, T, LT)
        self.assertEqual(mf(out)[0][4], {
            "f:metadata": {"f:labels": {".": {}, "f:team": {}}},
            "f:spec": {".": {}, "f:image": {}, "f:postgres": {".": {}, "f:database": {}}}})

    def test_update_uses_managed_fields_sent_by_the_client(self):
        live, _ = ssa.apply(None, cfg(spec={"image": "i"}), "a", False, LT, time=T)
        new = copy.deepcopy(live)
        new["metadata"]["managedFields"] = []
        out = ssa.update_managed_fields(live, new, "x", "Update", None, GV, T2, LT)
        self.assertEqual(mf(out), mf(live))

    def test_owner_references_items_are_atomic(self):
        obj = cfg({"ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "n",
                                        "uid": "u1", "controller": True}]}, spec={"image": "i"})
        out = ssa.update_managed_fields(None, obj, "m", "Update", None, GV, T, LT)
        self.assertEqual(mf(out)[0][4]["f:metadata"],
                         {"f:ownerReferences": {".": {}, "k:{\"uid\":\"u1\"}": {}}})

    def test_fields_v1_round_trip(self):
        paths = {("f:spec",), ("f:spec", "f:a"), ("f:status", "f:conditions", 'k:{"type":"R"}'),
                 ("f:status", "f:conditions", 'k:{"type":"R"}', "f:status"), ("f:m", "v:\"x\"")}
        tree = ssa.to_fields_v1(paths)
        self.assertEqual(list(tree["f:spec"]), [".", "f:a"])
        self.assertEqual(ssa.from_fields_v1(tree), paths)

    def test_field_set_of_a_deployment_config(self):
        dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"},
               "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"spec": {
                   "containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}}}}
        self.assertEqual(ssa.field_set(dep), {
            ("f:spec", "f:selector"),
            ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"c"}'),
            ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"c"}', "f:name"),
            ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"c"}', "f:ports",
             'k:{"containerPort":80,"protocol":"TCP"}'),
            ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"c"}', "f:ports",
             'k:{"containerPort":80,"protocol":"TCP"}', "f:containerPort")})

    def test_apply_does_not_modify_its_inputs(self):
        live, _ = ssa.apply(None, cfg(spec={"image": "i"}), "a", False, LT, time=T)
        before = copy.deepcopy(live)
        config = cfg(spec={"image": "j"})
        ssa.apply(live, config, "b", True, LT, time=T)
        self.assertEqual(live, before)
        self.assertEqual(config, cfg(spec={"image": "j"}))


if __name__ == "__main__":
    unittest.main()
