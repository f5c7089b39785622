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


if __name__ == "__main__":
    unittest.main()
