"""Tests for schema.py: pruning, defaulting, validation texts (transcripts 07, 08)."""

import copy
import time
import unittest

from fixtures import GS_SCHEMA, NIL_CAUSE, gs
import schema


def run(obj, old=None, strict=False, s=GS_SCHEMA):
    return schema.validate_and_default(s, obj, old, "GraceService", strict)


def causes(obj, old=None, s=GS_SCHEMA):
    return run(obj, old, s=s)[1]


class TranscriptCases(unittest.TestCase):
    """The 422 bodies of transcript 08, cause by cause."""

    def test_wrong_type_gives_type_invalid_and_nil_cause(self):
        self.assertEqual(causes(gs(image="x", replicas="two")), [
            {"reason": "FieldValueTypeInvalid",
             "message": "Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
             "field": "spec.replicas"}, NIL_CAUSE])

    def test_missing_required_nested_field(self):
        self.assertEqual(causes(gs(replicas=1)), [
            {"reason": "FieldValueRequired", "message": "Required value",
             "field": "spec.image"}, NIL_CAUSE])

    def test_missing_required_top_level_spec(self):
        obj = gs(image="x")
        del obj["spec"]
        self.assertEqual(causes(obj), [
            {"reason": "FieldValueRequired", "message": "Required value", "field": "spec"},
            NIL_CAUSE])

    def test_enum_violation_lists_supported_values(self):
        self.assertEqual(causes(gs(image="x", postgres={"deletionPolicy": "Drop"})), [
            {"reason": "FieldValueNotSupported",
             "message": "Unsupported value: \"Drop\": supported values: \"Retain\", \"Delete\"",
             "field": "spec.postgres.deletionPolicy"}, NIL_CAUSE])

    def test_cel_message_rule_on_object(self):
        c = causes(gs(image="x", tls={"enabled": True}, ingress={"enabled": False}))
        self.assertEqual(c, [{"reason": "FieldValueInvalid",
                              "message": "Invalid value: \"object\": tls.enabled requires ingress.enabled",
                              "field": "spec"}])
        self.assertEqual(schema.format_invalid_message("GraceService.grace.dev", "v4", c),
                         'GraceService.grace.dev "v4" is invalid: spec: Invalid value: '
                         '"object": tls.enabled requires ingress.enabled')

    def test_cel_message_expression(self):
        self.assertEqual(causes(gs(image="x", hostname="Not_A_Label")), [
            {"reason": "FieldValueInvalid",
             "message": "Invalid value: \"string\": hostname Not_A_Label is not a DNS label",
             "field": "spec.hostname"}])

    def test_several_errors_at_once(self):
        c = causes(gs(image="", replicas=-3, port=70000,
                      postgres={"deletionPolicy": "Nope"}, hostname="UPPER"))
        expected = [
            {"reason": "FieldValueNotSupported",
             "message": "Unsupported value: \"Nope\": supported values: \"Retain\", \"Delete\"",
             "field": "spec.postgres.deletionPolicy"},
            {"reason": "FieldValueInvalid",
             "message": "Invalid value: -3: spec.replicas in body should be greater than or equal to 0",
             "field": "spec.replicas"},
            {"reason": "FieldValueInvalid",
             "message": "Invalid value: \"\": spec.image in body should be at least 1 chars long",
             "field": "spec.image"},
            {"reason": "FieldValueInvalid",
             "message": "Invalid value: 70000: spec.port in body should be less than or equal to 65535",
             "field": "spec.port"}]
        # the real server's order among fields is Go map order (random); the
        # <nil> cause is always last and the CEL rule on hostname is skipped
        self.assertEqual(c[-1], NIL_CAUSE)
        self.assertCountEqual(c[:-1], expected)

    def test_minimum_alone_is_not_blocking_and_cel_still_runs(self):
        c = causes(gs(image="x", replicas=-1, hostname="BAD"))
        self.assertEqual(c, [
            {"reason": "FieldValueInvalid",
             "message": "Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
             "field": "spec.replicas"},
            {"reason": "FieldValueInvalid",
             "message": "Invalid value: \"string\": hostname BAD is not a DNS label",
             "field": "spec.hostname"}])

    def test_int32_is_not_range_checked(self):
        obj, c, _, _ = run(gs(image="x", replicas=3000000000))
        self.assertEqual(c, [])
        self.assertEqual(obj["spec"]["replicas"], 3000000000)

    def test_valid_object_has_no_causes(self):
        self.assertEqual(causes(gs(image="x", hostname="ok-name", tls={"enabled": True})), [])


class Messages(unittest.TestCase):
    def test_multiple_causes_are_bracketed(self):
        c = causes(gs(image="x", replicas="two"))
        self.assertEqual(
            schema.format_invalid_message("GraceService.grace.dev", "v1", c),
            'GraceService.grace.dev "v1" is invalid: [spec.replicas: Invalid value: "string": '
            'spec.replicas in body must be of type integer: "string", <nil>: Invalid value: '
            '"null": some validation rules were not checked because the object was invalid; '
            'correct the existing errors to complete validation]')

    def test_duplicate_causes_are_listed_once(self):
        c = [schema.cause("FieldValueForbidden", "metadata.finalizers", None, "no new finalizers")] * 2
        self.assertEqual(schema.format_invalid_message("ConfigMap", "x", c),
                         'ConfigMap "x" is invalid: metadata.finalizers: Forbidden: no new finalizers')

    def test_no_causes(self):
        self.assertEqual(schema.format_invalid_message("Lease.coordination.k8s.io", "l", []),
                         'Lease.coordination.k8s.io "l" is invalid')

    def test_strict_message(self):
        self.assertEqual(
            schema.format_strict_message("GraceService", "v1alpha1", ["extra_top", "spec.colour"]),
            'GraceService in version "v1alpha1" cannot be handled as a GraceService: strict '
            'decoding error: unknown field "extra_top", unknown field "spec.colour"')


class PruningAndDefaults(unittest.TestCase):
    def test_unknown_fields_are_pruned_and_reported_sorted(self):
        obj = gs(image="x", colour="blue")
        obj["extra_top"] = "y"
        out, c, warnings, unknown = run(obj)
        self.assertEqual(unknown, ["extra_top", "spec.colour"])
        self.assertEqual(warnings, ['unknown field "extra_top"', 'unknown field "spec.colour"'])
        self.assertNotIn("colour", out["spec"])
        self.assertNotIn("extra_top", out)
        self.assertEqual(c, [])

    def test_strict_mode_reports_but_does_not_warn(self):
        _, _, warnings, unknown = run(gs(image="x", colour="blue"), strict=True)
        self.assertEqual(warnings, [])
        self.assertEqual(unknown, ["spec.colour"])

    def test_metadata_keeps_only_object_meta_fields(self):
        obj = gs(image="x")
        obj["metadata"].update({"labelz": {"a": "b"}, "labels": {"a": "b"},
                                "ownerReferences": [{"uid": "u", "name": "n", "kind": "K",
                                                     "apiVersion": "v1", "bogus": 1}]})
        out, _, _, unknown = run(obj)
        self.assertEqual(unknown, ["metadata.labelz", "metadata.ownerReferences[0].bogus"])
        self.assertEqual(out["metadata"]["labels"], {"a": "b"})

    def test_unknown_field_in_status_and_in_list_items(self):
        obj = gs(image="x")
        obj["status"] = {"colour": "x", "conditions": [
            {"type": "Ready", "status": "True", "reason": "R", "message": "",
             "lastTransitionTime": "2026-01-01T00:00:00Z", "extra": 1}]}
        _, c, _, unknown = run(obj)
        self.assertEqual(unknown, ["status.colour", "status.conditions[0].extra"])
        self.assertEqual(c, [])

    def test_preserve_unknown_fields_keeps_everything(self):
        s = {"type": "object", "properties": {"spec": {
            "type": "object", "x-kubernetes-preserve-unknown-fields": True,
            "properties": {"a": {"type": "string"}}}}}
        out, c, _, unknown = run({"spec": {"a": "x", "b": {"c": 1}}}, s=s)
        self.assertEqual(unknown, [])
        self.assertEqual(out["spec"], {"a": "x", "b": {"c": 1}})

    def test_defaults_apply_only_under_present_parents(self):
        out, _, _, _ = run(gs(image="x", postgres={"database": "p"}))
        self.assertEqual(out["spec"], {"image": "x", "replicas": 1, "port": 8000,
                                       "postgres": {"database": "p", "deletionPolicy": "Retain"}})

    def test_defaults_inside_array_items_and_nested_defaults(self):
        s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "n": {"type": "integer", "default": 3},
                "sub": {"type": "object", "default": {},
                        "properties": {"x": {"type": "string", "default": "d"}}}}}}}}}}
        out, c, _, _ = run({"spec": {"items": [{}, {"n": 5}]}}, s=s)
        self.assertEqual(out["spec"]["items"], [{"n": 3, "sub": {"x": "d"}},
                                                {"n": 5, "sub": {"x": "d"}}])
        self.assertEqual(c, [])

    def test_null_without_default_is_dropped_and_null_with_default_is_defaulted(self):
        out, c, _, _ = run(gs(image="x", hostname=None, replicas=None))
        self.assertNotIn("hostname", out["spec"])
        self.assertEqual(out["spec"]["replicas"], 1)
        self.assertEqual(c, [])

    def test_nullable_keeps_null(self):
        s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "a": {"type": "string", "nullable": True}}}}}
        out, c, _, _ = run({"spec": {"a": None}}, s=s)
        self.assertEqual(out["spec"], {"a": None})
        self.assertEqual(c, [])

    def test_input_is_not_modified(self):
        obj = gs(image="x", colour="c")
        before = copy.deepcopy(obj)
        run(obj)
        self.assertEqual(obj, before)


def spec_schema(**props):
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": props}}}


def ruled(props):
    """props plus a trivial CEL rule elsewhere, so that the schema has a CEL validator."""
    return dict(props, ruled={"type": "string", "x-kubernetes-validations": [{"rule": "true"}]})


def spec_causes(s_props, spec, old_spec=None):
    old = None if old_spec is None else {"spec": old_spec}
    return causes({"spec": spec}, old, s=spec_schema(**s_props))


class Keywords(unittest.TestCase):
    def test_pattern(self):
        c = spec_causes({"a": {"type": "string", "pattern": "^[a-z]+$"}}, {"a": "A1"})
        self.assertEqual(c, [{"reason": "FieldValueInvalid",
                              "message": "Invalid value: \"A1\": spec.a in body should match '^[a-z]+$'",
                              "field": "spec.a"}])

    def test_schema_without_rules_has_no_nil_cause(self):
        c = spec_causes({"a": {"type": "integer"}}, {"a": "x"})
        self.assertEqual(c, [{"reason": "FieldValueTypeInvalid",
                              "message": "Invalid value: \"string\": spec.a in body must be of "
                                         "type integer: \"string\"", "field": "spec.a"}])

    def test_max_length_is_too_long_and_blocking(self):
        c = spec_causes(ruled({"a": {"type": "string", "maxLength": 3}}), {"a": "abcd"})
        self.assertEqual(c, [{"reason": "FieldValueTooLong",
                              "message": "Too long: may not be more than 3 bytes",
                              "field": "spec.a"}, NIL_CAUSE])

    def test_exclusive_bounds(self):
        c = spec_causes({"a": {"type": "number", "minimum": 1.5, "exclusiveMinimum": True},
                         "b": {"type": "integer", "maximum": 10, "exclusiveMaximum": True}},
                        {"a": 1.5, "b": 10})
        self.assertEqual([x["message"] for x in c], [
            "Invalid value: 1.5: spec.a in body should be greater than 1.5",
            "Invalid value: 10: spec.b in body should be less than 10"])

    def test_items_counts_and_uniqueness(self):
        c = spec_causes({"l": {"type": "array", "minItems": 2, "items": {"type": "string"}},
                         "m": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
                         "u": {"type": "array", "uniqueItems": True, "items": {"type": "string"}}},
                        {"l": ["a"], "m": ["a", "b"], "u": ["x", "x"]})
        self.assertEqual(c[:3], [
            {"reason": "FieldValueInvalid",
             "message": "Invalid value: 1: spec.l in body should have at least 2 items",
             "field": "spec.l"},
            {"reason": "FieldValueTooMany", "message": "Too many: 2: must have at most 1 item",
             "field": "spec.m"},
            {"reason": "FieldValueInvalid",
             "message": "Invalid value: \"\": spec.u in body shouldn't contain duplicates",
             "field": "spec.u"}])

    def test_properties_counts(self):
        c = spec_causes({"a": {"type": "object", "minProperties": 1,
                               "additionalProperties": {"type": "string"}},
                         "b": {"type": "object", "maxProperties": 1,
                               "additionalProperties": {"type": "string"}}},
                        {"a": {}, "b": {"x": "1", "y": "2"}})
        self.assertEqual([x["message"] for x in c[:2]], [
            "Invalid value: 0: spec.a in body should have at least 1 properties",
            "Too many: 2: must have at most 1 item"])

    def test_additional_properties_values_are_validated_with_dotted_path(self):
        c = spec_causes({"m": {"type": "object", "additionalProperties": {"type": "integer"}}},
                        {"m": {"k": "v"}})
        self.assertEqual(c[0]["field"], "spec.m.k")

    def test_int_or_string(self):
        props = {"p": {"x-kubernetes-int-or-string": True}}
        self.assertEqual(spec_causes(props, {"p": 80}), [])
        self.assertEqual(spec_causes(props, {"p": "http"}), [])
        self.assertEqual(spec_causes(props, {"p": True})[0]["message"],
                         "Invalid value: \"boolean\": spec.p in body must be of type "
                         "integer,string: \"boolean\"")

    def test_integral_float_is_an_integer_and_int_is_a_number(self):
        self.assertEqual(spec_causes({"a": {"type": "integer"}, "b": {"type": "number"}},
                                     {"a": 3.0, "b": 3}), [])

    def test_boolean_is_not_an_integer(self):
        self.assertEqual(spec_causes({"a": {"type": "integer"}}, {"a": True})[0]["message"],
                         "Invalid value: \"boolean\": spec.a in body must be of type integer: \"boolean\"")

    def test_array_item_errors_use_index_paths(self):
        c = spec_causes({"l": {"type": "array", "items": {"type": "object", "required": ["n"],
                                                          "properties": {"n": {"type": "string"}}}}},
                        {"l": [{"n": "a"}, {}]})
        self.assertEqual(c[0], {"reason": "FieldValueRequired", "message": "Required value",
                                "field": "spec.l[1].n"})

    def test_date_time_format(self):
        props = {"t": {"type": "string", "format": "date-time"}}
        self.assertEqual(spec_causes(props, {"t": "2026-01-01T00:00:00Z"}), [])
        self.assertEqual(spec_causes(props, {"t": "yesterday"})[0], {
            "reason": "FieldValueTypeInvalid",
            "message": "Invalid value: \"yesterday\": spec.t in body must be of type date-time: \"yesterday\"",
            "field": "spec.t"})

    def test_other_formats(self):
        for fmt, good, bad in (("uuid", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "nope"),
                               ("ipv4", "10.0.0.1", "10.0.0.256"), ("cidr", "10.0.0.0/8", "10.0.0.0"),
                               ("byte", "aGk=", "***"), ("date", "2026-02-28", "2026-02-30")):
            props = {"a": {"type": "string", "format": fmt}}
            self.assertEqual(spec_causes(props, {"a": good}), [], fmt)
            self.assertEqual(len(spec_causes(props, {"a": bad})), 1, fmt)
            self.assertEqual(len(spec_causes(ruled(props), {"a": bad})), 2, fmt)

    def test_list_type_map_duplicates(self):
        cond = {"type": "Ready", "status": "True", "reason": "R", "message": "",
                "lastTransitionTime": "2026-01-01T00:00:00Z"}
        obj = gs(image="x")
        obj["status"] = {"conditions": [cond, dict(cond)]}
        c = causes(obj)
        self.assertEqual(c, [{"reason": "FieldValueDuplicate", "field": "status.conditions[1]",
                              "message": 'Duplicate value: map[string]interface {}{'
                                         '"lastTransitionTime":"2026-01-01T00:00:00Z", '
                                         '"message":"", "reason":"R", "status":"True", '
                                         '"type":"Ready"}'}])

    def test_list_type_set_duplicates(self):
        c = spec_causes({"s": {"type": "array", "x-kubernetes-list-type": "set",
                               "items": {"type": "string"}}}, {"s": ["a", "b", "a"]})
        self.assertEqual(c, [{"reason": "FieldValueDuplicate", "message": 'Duplicate value: "a"',
                              "field": "spec.s[2]"}])


class CelRules(unittest.TestCase):
    def test_default_message_and_root_rule_field(self):
        s = {"type": "object", "x-kubernetes-validations": [{"rule": "self.spec.a > 1"}],
             "properties": {"spec": {"type": "object", "properties": {"a": {"type": "integer"}}}}}
        self.assertEqual(causes({"spec": {"a": 1}}, s=s), [
            {"reason": "FieldValueInvalid",
             "message": "Invalid value: \"object\": failed rule: self.spec.a > 1", "field": "<nil>"}])

    def test_runtime_error_no_such_key(self):
        c = spec_causes({"o": {"type": "object", "x-kubernetes-validations": [
            {"rule": "self.missing == 1", "message": "m"}],
            "properties": {"missing": {"type": "integer"}}}}, {"o": {}})
        self.assertEqual(c[0]["message"], "Invalid value: \"object\": no such key: missing "
                                          "evaluating rule: m")

    def test_compile_error_is_a_cause_not_an_exception(self):
        c = spec_causes({"a": {"type": "string", "x-kubernetes-validations": [
            {"rule": "self ==="}]}}, {"a": "x"})
        self.assertEqual(len(c), 1)
        self.assertTrue(c[0]["message"].startswith("Invalid value: \"string\": rule compile error"))

    def test_reason_and_field_path(self):
        c = spec_causes({"o": {"type": "object", "x-kubernetes-validations": [
            {"rule": "self.a != 'x'", "message": "no x", "reason": "FieldValueForbidden",
             "fieldPath": ".a"}], "properties": {"a": {"type": "string"}}}}, {"o": {"a": "x"}})
        self.assertEqual(c, [{"reason": "FieldValueForbidden", "message": "Forbidden: no x",
                              "field": "spec.o.a"}])

    def test_rules_on_array_items_and_map_values(self):
        c = spec_causes({"l": {"type": "array", "items": {"type": "integer",
                                                          "x-kubernetes-validations": [
                                                              {"rule": "self < 3"}]}},
                         "m": {"type": "object", "additionalProperties": {
                             "type": "string", "x-kubernetes-validations": [
                                 {"rule": "self != 'bad'"}]}}},
                        {"l": [1, 5], "m": {"k": "bad"}})
        self.assertEqual([x["field"] for x in c], ["spec.l[1]", "spec.m[k]"])

    def test_transition_rule_skipped_on_create_and_checked_on_update(self):
        props = {"a": {"type": "string", "x-kubernetes-validations": [
            {"rule": "self == oldSelf", "message": "immutable"}]}}
        self.assertEqual(spec_causes(props, {"a": "x"}), [])
        self.assertEqual(spec_causes(props, {"a": "y"}, {"a": "x"}), [
            {"reason": "FieldValueInvalid", "message": "Invalid value: \"string\": immutable",
             "field": "spec.a"}])

    def test_number_fields_are_doubles_and_date_times_are_timestamps(self):
        c = spec_causes({"r": {"type": "number", "x-kubernetes-validations": [
            {"rule": "self * 2.0 < 5.0"}]}, "t": {"type": "string", "format": "date-time",
                                                  "x-kubernetes-validations": [
                                                      {"rule": "self > timestamp('2020-01-01T00:00:00Z')"}]}},
                        {"r": 2, "t": "2021-01-01T00:00:00Z"})
        self.assertEqual(c, [])


class Ratcheting(unittest.TestCase):
    def test_unchanged_invalid_value_is_accepted_on_update(self):
        old = gs(image="x", hostname="Legacy_Name", replicas=1, port=8000)
        new = copy.deepcopy(old)
        new["spec"]["replicas"] = 2
        self.assertEqual(causes(new, old), [])

    def test_changed_invalid_value_is_rejected_on_update(self):
        old = gs(image="x", hostname="ok", replicas=1, port=8000)
        new = copy.deepcopy(old)
        new["spec"]["hostname"] = "Not_OK"
        self.assertEqual(len(causes(new, old)), 1)


class Performance(unittest.TestCase):
    def test_typical_object_validates_well_under_a_millisecond(self):
        obj = gs(image="ghcr.io/x/y:1", hostname="peeps", tls={"enabled": True},
                 ingress={"enabled": True}, postgres={"database": "p"})
        run(obj)
        n = 300
        t = time.perf_counter()
        for _ in range(n):
            run(obj)
        self.assertLess((time.perf_counter() - t) / n, 0.001)


if __name__ == "__main__":
    unittest.main()
