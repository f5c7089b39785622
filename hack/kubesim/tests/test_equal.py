"""The fast JSON equality checks of schema (ratcheting) and ssa (comparison)."""

import unittest

import fixtures  # noqa: F401  (puts the kubesim modules on sys.path)
import schema
import schema_cel
import ssa


class EqualTest(unittest.TestCase):
    CASES = [
        ({"a": [1, {"b": "x"}]}, {"a": [1, {"b": "x"}]}, True),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),        # key order does not matter
        ({"a": True}, {"a": 1}, False),                       # a bool is not a number
        ([False], [0], False),
        ({"a": 1}, {"a": 1.0}, True),                         # 1 and 1.0 are one number
        ({"a": [1, 2]}, {"a": [2, 1]}, False),
        ({"a": None}, {}, False),
        ("x", "x", True),
        (None, None, True),
    ]

    def test_schema_deep_equal(self):
        for a, b, want in self.CASES:
            self.assertEqual(schema._deep_equal(a, b), want, (a, b))
            self.assertEqual(schema._deep_equal_walk(a, b), want, (a, b))

    def test_ssa_same(self):
        for a, b, want in self.CASES:
            self.assertEqual(ssa._same(a, b), want, (a, b))
            self.assertEqual(ssa._json_equal(a, b), want, (a, b))

    def test_ssa_compare_bool_against_number_is_a_change(self):
        added, modified, removed = ssa.compare({"spec": {"x": 1}}, {"spec": {"x": True}},
                                               lambda names: None)
        self.assertEqual(modified, {("f:spec", "f:x")})

    def test_cel_walk_skips_only_rule_free_subtrees(self):
        leaf = {"type": "string"}
        ruled = {"type": "string", "x-kubernetes-validations": [{"rule": "true"}]}
        s = {"type": "object", "properties": {
            "a": {"type": "object", "properties": {"b": leaf}},
            "c": {"type": "array", "items": {"type": "object", "properties": {"d": ruled}}},
            "e": {"type": "object", "additionalProperties": ruled}}}
        self.assertTrue(schema_cel._ruled(s))
        self.assertFalse(schema_cel._ruled(s["properties"]["a"]))
        self.assertTrue(schema_cel._ruled(s["properties"]["c"]))
        self.assertTrue(schema_cel._ruled(s["properties"]["e"]))


class FieldsCacheTest(unittest.TestCase):
    def test_encoded_trees_are_copies(self):
        paths = {("f:spec",), ("f:spec", "f:a"), ("f:metadata", "f:labels", "f:x")}
        t1 = ssa._tree_of(paths)
        self.assertEqual(t1, ssa.to_fields_v1(paths))
        t1["f:spec"]["f:zzz"] = {}
        self.assertEqual(ssa._tree_of(frozenset(paths)), ssa.to_fields_v1(paths))

    def test_decoded_sets_follow_the_tree(self):
        tree = {"f:spec": {".": {}, "f:a": {}}}
        self.assertEqual(ssa._paths_of(tree), ssa.from_fields_v1(tree))
        other = {"f:spec": {"f:b": {}}}
        self.assertEqual(ssa._paths_of(other), {("f:spec", "f:b")})
        self.assertEqual(ssa._paths_of(None), set())

    def test_update_does_not_change_its_inputs(self):
        old = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "a", "managedFields": [{
                   "manager": "m", "operation": "Update", "apiVersion": "v1",
                   "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                   "fieldsV1": {"f:data": {".": {}, "f:k": {}}}}]},
               "data": {"k": "v"}}
        new = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "a", "managedFields": old["metadata"]["managedFields"]},
               "data": {"k": "v", "j": "w"}}
        import json
        before = json.dumps([old, new], sort_keys=True)
        out = ssa.update_managed_fields(old, new, "n", "Update", None, "v1",
                                        "2026-01-02T00:00:00Z")
        self.assertEqual(json.dumps([old, new], sort_keys=True), before)
        self.assertEqual([e["manager"] for e in out["metadata"]["managedFields"]], ["m", "n"])
        self.assertEqual(out["metadata"]["managedFields"][1]["fieldsV1"],
                         {"f:data": {"f:j": {}}})


if __name__ == "__main__":
    unittest.main()
