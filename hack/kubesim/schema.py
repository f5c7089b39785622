"""Custom-resource schema handling: pruning, defaulting and validation.

Reproduces what kube-apiserver v1.32 does with a CRD version's
`schema.openAPIV3Schema` when a custom resource is written (transcripts 07,
08): unknown fields are pruned and reported (metadata keeps only ObjectMeta
fields), non-nullable nulls without a default are dropped, structural
defaults are applied (nested, inside array items too), then the object is
validated the way kube-openapi + apiextensions do it, with the same 422
cause shapes and texts.  x-kubernetes-validations (CEL) rules run only when
no "blocking" OpenAPI error exists (type, required, enum, maxLength,
maxItems/maxProperties); otherwise the extra `<nil>` cause is appended --
only for schemas that have rules at all, as the real server has no CEL
validator (and so no `<nil>` cause) for a schema without rules.  On
updates, validation ratchets: unchanged values are not re-validated and
transition rules (oldSelf) see the correlated old value.

Public API:
    validate_and_default(schema, obj, old_obj, kind, strict)
        -> (obj, causes, warnings, unknown_fields)
    format_invalid_message(kind, name, causes) -> str
    format_strict_message(kind, version, unknown_fields) -> str
    cause(reason, field, value, detail) -> dict (a Status cause)
    error_body(reason, value, detail) -> str
"""

import json
import math

import schema_fmt
from schema_fmt import go_value, go_quote, go_num

__all__ = ["validate_and_default", "format_invalid_message",
           "format_strict_message", "cause", "error_body"]

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
TYPE_INVALID = "FieldValueTypeInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
FORBIDDEN = "FieldValueForbidden"
DUPLICATE = "FieldValueDuplicate"

_TYPE_TEXT = {REQUIRED: "Required value", INVALID: "Invalid value",
              TYPE_INVALID: "Invalid value", NOT_SUPPORTED: "Unsupported value",
              TOO_LONG: "Too long", TOO_MANY: "Too many", FORBIDDEN: "Forbidden",
              DUPLICATE: "Duplicate value", "FieldValueNotFound": "Not found",
              "InternalError": "Internal error"}
_NO_VALUE = {REQUIRED, FORBIDDEN, TOO_LONG, "InternalError"}
_BLOCKING = {NOT_SUPPORTED, REQUIRED, TOO_LONG, TOO_MANY, TYPE_INVALID}

NIL_CAUSE_DETAIL = ("some validation rules were not checked because the object "
                    "was invalid; correct the existing errors to complete validation")


def error_body(reason, value, detail):
    """field.Error.ErrorBody() of apimachinery 1.32."""
    s = _TYPE_TEXT.get(reason, reason)
    if reason not in _NO_VALUE:
        s += ": " + go_value(value)
    if detail:
        s += ": " + detail
    return s


def cause(reason, field, value=None, detail=""):
    """A Status cause dict {reason, message, field} for one field error."""
    return {"reason": reason, "message": error_body(reason, value, detail),
            "field": "<nil>" if field is None else field}


def format_invalid_message(kind, name, causes):
    """`<Kind.group> "<name>" is invalid: ...` as NewInvalid builds it.

    kind is the qualified kind ("GraceService.grace.dev", or "ConfigMap" for
    the core group).  Identical cause texts are listed once; one distinct
    cause is shown bare, several in brackets.
    """
    msgs = []
    for c in causes:
        m = "%s: %s" % (c.get("field", "<nil>"), c.get("message", ""))
        if m not in msgs:
            msgs.append(m)
    head = '%s "%s" is invalid' % (kind, name)
    if not msgs:
        return head
    if len(msgs) == 1:
        return head + ": " + msgs[0]
    return head + ": [" + ", ".join(msgs) + "]"


def format_strict_message(kind, version, unknown_fields):
    """The 400 message for fieldValidation=Strict with unknown fields."""
    parts = ", ".join('unknown field "%s"' % p for p in unknown_fields)
    return ('%s in version "%s" cannot be handled as a %s: strict decoding '
            "error: %s" % (kind, version, kind, parts))


# ---- pruning ---------------------------------------------------------------

_META_FIELDS = {"name", "generateName", "namespace", "selfLink", "uid",
                "resourceVersion", "generation", "creationTimestamp",
                "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
                "annotations", "ownerReferences", "finalizers", "managedFields"}
_OWNER_REF_FIELDS = {"apiVersion", "kind", "name", "uid", "controller",
                     "blockOwnerDeletion"}
_MANAGED_FIELDS = {"manager", "operation", "apiVersion", "time", "fieldsType",
                   "fieldsV1", "subresource"}


def _clone(v):
    t = type(v)
    if t is dict:
        return {k: _clone(x) for k, x in v.items()}
    if t is list:
        return [_clone(x) for x in v]
    return v


def _child(path, name):
    return name if not path else path + "." + name


def _prune_meta(meta, path, unknown):
    if not isinstance(meta, dict):
        return
    for k in list(meta):
        if k not in _META_FIELDS:
            del meta[k]
            unknown.append(_child(path, k))
    for key, allowed in (("ownerReferences", _OWNER_REF_FIELDS),
                         ("managedFields", _MANAGED_FIELDS)):
        items = meta.get(key)
        if isinstance(items, list):
            for i, it in enumerate(items):
                if isinstance(it, dict):
                    for k in list(it):
                        if k not in allowed:
                            del it[k]
                            unknown.append("%s.%s[%d].%s" % (path, key, i, k))


def _prune(x, s, path, unknown, root=False):
    if s is None:
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        keep = s.get("x-kubernetes-preserve-unknown-fields") or addl is True
        resource = root or s.get("x-kubernetes-embedded-resource")
        for k in list(x):
            cpath = _child(path, k)
            if resource and k in ("apiVersion", "kind"):
                continue
            if resource and k == "metadata":
                _prune_meta(x[k], cpath, unknown)
                continue
            if k in props:
                _prune(x[k], props[k], cpath, unknown)
            elif isinstance(addl, dict):
                _prune(x[k], addl, cpath, unknown)
            elif not keep:
                del x[k]
                unknown.append(cpath)
    elif isinstance(x, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, it in enumerate(x):
                _prune(it, items, "%s[%d]" % (path, i), unknown)


def _child_schema(s, k):
    if s is None:
        return None
    props = s.get("properties") or {}
    if k in props:
        return props[k]
    addl = s.get("additionalProperties")
    return addl if isinstance(addl, dict) else None


def _prune_nulls(x, s):
    """PruneNonNullableNullsWithoutDefaults."""
    if isinstance(x, dict):
        for k in list(x):
            cs = _child_schema(s, k)
            v = x[k]
            if v is None and cs is not None and not cs.get("nullable") \
                    and cs.get("default") is None:
                del x[k]
            else:
                _prune_nulls(v, cs)
    elif isinstance(x, list) and s is not None:
        items = s.get("items")
        for v in x:
            _prune_nulls(v, items if isinstance(items, dict) else None)


def _default(x, s):
    if s is None:
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        for k, ps in props.items():
            d = ps.get("default")
            if d is None:
                continue
            if k not in x or (x[k] is None and not ps.get("nullable")):
                x[k] = _clone(d)
        addl = s.get("additionalProperties")
        for k in x:
            if k in props:
                _default(x[k], props[k])
            elif isinstance(addl, dict):
                if x[k] is None and not addl.get("nullable") and addl.get("default") is not None:
                    x[k] = _clone(addl["default"])
                _default(x[k], addl)
    elif isinstance(x, list):
        items = s.get("items")
        if not isinstance(items, dict):
            return
        for i in range(len(x)):
            if x[i] is None and not items.get("nullable") and items.get("default") is not None:
                x[i] = _clone(items["default"])
            _default(x[i], items)


# ---- OpenAPI validation ----------------------------------------------------

def _json_kind(x):
    if x is None:
        return "null"
    t = type(x)
    if t is bool:
        return "boolean"
    if t is int:
        return "integer"
    if t is float:
        return "number"
    if t is str:
        return "string"
    if t is list:
        return "array"
    if t is dict:
        return "object"
    return "unknown"


def _go_format_of(x):
    """schemaInfoForType's format for a decoded JSON value."""
    t = type(x)
    if t is int:
        return "int64"
    if t is float:
        return "float64"
    return ""


def _types(s):
    if s.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    t = s.get("type")
    if isinstance(t, list):
        return t
    return [t] if t else []


class _V:
    """One validation run: collects field errors as cause dicts."""

    def __init__(self, ratchet):
        self.causes = []
        self.ratchet = ratchet

    def add(self, reason, field, value=None, detail=""):
        self.causes.append(cause(reason, field, value, detail))

    def node(self, s, x, path, old, has_old):
        """Validates value x at `path` (kube-openapi dotted form)."""
        if not isinstance(s, dict):
            return
        if self.ratchet and has_old and _deep_equal(x, old):
            return
        types = _types(s)
        fmt = s.get("format") if s.get("format") in schema_fmt.CHECKED else ""
        if x is None:
            if types and "null" not in types and not s.get("nullable"):
                self.type_err(path, ",".join(types), "null")
            self.enum(s, x, path)
            return
        kind = _json_kind(x)
        self.type_check(s, types, fmt, x, kind, path)
        self.combinators(s, x, path)
        if kind == "string":
            self.string(s, x, path)
            if fmt and not schema_fmt.check(fmt, x):
                self.add(TYPE_INVALID, path, x, "%s in body must be of type %s: %s"
                         % (path, s["format"], go_quote(x)))
        elif kind in ("integer", "number"):
            self.number(s, x, path)
        elif kind == "array":
            self.array(s, x, path, old if has_old else None, has_old)
        self.enum(s, x, path)
        if kind == "object":
            self.obj(s, x, path, old if has_old and isinstance(old, dict) else None)

    def type_err(self, path, expected, actual):
        self.add(TYPE_INVALID, path, actual, "%s in body must be of type %s: %s"
                 % (path, expected, go_quote(actual)))

    def type_check(self, s, types, fmt, x, kind, path):
        if not types and not fmt:
            return True
        is_float_int = kind == "number" and math.isfinite(x) and x == int(x)
        ok = kind in types or (is_float_int and "integer" in types) or (
            kind == "integer" and "number" in types)
        if kind not in ("string", "array") and fmt and not ok:
            self.type_err(path, s["format"], _go_format_of(x))
            return False
        if fmt and kind in ("string", "array") and not (
                "number" in types or "integer" in types):
            return True
        if not ok:
            self.type_err(path, ",".join(types), kind)
            return False
        return True

    def combinators(self, s, x, path):
        for key, msg in (("allOf", "must validate all the schemas (allOf)"),
                         ("anyOf", "must validate at least one schema (anyOf)"),
                         ("oneOf", "must validate one and only one schema (oneOf)")):
            subs = s.get(key)
            if not subs:
                continue
            results = []
            for sub in subs:
                v = _V(False)
                v.node(sub, x, path, None, False)
                results.append(v.causes)
            good = sum(1 for r in results if not r)
            failed = (key == "allOf" and good != len(subs)) or (
                key == "anyOf" and good == 0) or (key == "oneOf" and good != 1)
            if failed:
                self.add(INVALID, None, "", "%s %s" % (path, msg))
                bad = [r for r in results if r]
                if bad and key != "oneOf":
                    self.causes.extend(min(bad, key=len))
        if isinstance(s.get("not"), dict):
            v = _V(False)
            v.node(s["not"], x, path, None, False)
            if not v.causes:
                self.add(INVALID, None, "", "%s must not validate the schema (not)" % path)

    def string(self, s, x, path):
        n = len(x)
        if s.get("maxLength") is not None and n > s["maxLength"]:
            mx = s["maxLength"]
            self.add(TOO_LONG, path, x, "may not be more than %d %s"
                     % (mx, "byte" if mx == 1 else "bytes"))
        elif s.get("minLength") is not None and n < s["minLength"]:
            self.add(INVALID, path, x, "%s in body should be at least %d chars long"
                     % (path, s["minLength"]))
        elif s.get("pattern") and schema_fmt.regex(s["pattern"]).search(x) is None:
            self.add(INVALID, path, x, "%s in body should match '%s'"
                     % (path, s["pattern"]))

    def number(self, s, x, path):
        isint = type(x) is int
        mo = s.get("multipleOf")
        if mo is not None and mo > 0:
            q = x / mo
            if q != int(q):
                self.add(INVALID, path, x, "%s in body should be a multiple of %s"
                         % (path, go_num(mo)))
        for key, excl_key, cmp, inc_txt, exc_txt in (
                ("maximum", "exclusiveMaximum", lambda a, b: a > b,
                 "less than or equal to", "less than"),
                ("minimum", "exclusiveMinimum", lambda a, b: a < b,
                 "greater than or equal to", "greater than")):
            bound = s.get(key)
            if bound is None:
                continue
            excl = bool(s.get(excl_key))
            b = int(bound) if isint else bound
            bad = cmp(x, b) or (excl and x == b)
            if bad:
                self.add(INVALID, path, x, "%s in body should be %s %s"
                         % (path, exc_txt if excl else inc_txt,
                            str(b) if isint else go_num(float(b))))

    def array(self, s, x, path, old, has_old):
        items = s.get("items")
        if isinstance(items, dict):
            keys = s.get("x-kubernetes-list-map-keys") if s.get(
                "x-kubernetes-list-type") == "map" else None
            for i, it in enumerate(x):
                o, ho = _correlate_item(it, old, keys) if has_old else (None, False)
                self.node(items, it, "%s[%d]" % (path, i), o, ho)
        n = len(x)
        if s.get("minItems") is not None and n < s["minItems"]:
            self.add(INVALID, path, n, "%s in body should have at least %d items"
                     % (path, s["minItems"]))
        if s.get("maxItems") is not None and n > s["maxItems"]:
            mx = s["maxItems"]
            self.add(TOO_MANY, path, n, "must have at most %d %s"
                     % (mx, "item" if mx == 1 else "items"))
        if s.get("uniqueItems"):
            for i in range(n):
                if any(_deep_equal(x[i], x[j]) for j in range(i)):
                    self.add(INVALID, path, "", "%s in body shouldn't contain duplicates" % path)
                    break

    def enum(self, s, x, path):
        values = s.get("enum")
        if not values:
            return
        for v in values:
            if _enum_equal(x, v):
                return
        supported = ", ".join(go_quote(v if isinstance(v, str) else schema_fmt.go_json(v))
                              for v in values)
        self.add(NOT_SUPPORTED, path, x, "supported values: " + supported)

    def obj(self, s, x, path, old):
        n = len(x)
        if s.get("minProperties") is not None and n < s["minProperties"]:
            self.add(INVALID, path, n, "%s in body should have at least %d properties"
                     % (path, s["minProperties"]))
            return
        if s.get("maxProperties") is not None and n > s["maxProperties"]:
            mx = s["maxProperties"]
            self.add(TOO_MANY, path, n, "must have at most %d %s"
                     % (mx, "item" if mx == 1 else "items"))
            return
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        if isinstance(addl, dict):
            for k, v in x.items():
                if k not in props:
                    self.node(addl, v, path + "." + k,
                              old.get(k) if old else None, bool(old) and k in old)
        elif addl is False:
            for k in x:
                if k not in props:
                    self.add(INVALID, path, k, "%s.%s in body is a forbidden property"
                             % (path, k))
        for k, ps in props.items():
            if k in x:
                self.node(ps, x[k], _child(path, k),
                          old.get(k) if old else None, bool(old) and k in old)
        for k in s.get("required") or ():
            if k not in x:
                self.add(REQUIRED, _child(path, k))


def _enum_equal(x, v):
    if type(x) is bool or type(v) is bool:
        return type(x) is type(v) and x == v
    if isinstance(x, (int, float)) and isinstance(v, (int, float)):
        return x == v
    return type(x) is type(v) and x == v


def _deep_equal(a, b):
    """JSON equality (a bool is never equal to a number); C speed when equal."""
    if a is b:
        return True
    if a != b:
        return False      # _deep_equal implies ==
    if json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True):
        return True
    return _deep_equal_walk(a, b)


def _deep_equal_walk(a, b):
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_deep_equal_walk(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_deep_equal_walk(p, q) for p, q in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _map_key(item, keys):
    if not isinstance(item, dict):
        return None
    return tuple(schema_fmt.go_json(item.get(k)) for k in keys)


def _correlate_item(item, old_list, keys):
    """The old item with the same list-map keys (only for list-type map)."""
    if not keys or not isinstance(old_list, list):
        return None, False
    k = _map_key(item, keys)
    for o in old_list:
        if _map_key(o, keys) == k:
            return o, True
    return None, False


# ---- list-type invariants --------------------------------------------------

def _list_types(s, x, path, v):
    """ValidateListSetsAndMaps: duplicates in set / map lists."""
    if not isinstance(s, dict):
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        for k, val in x.items():
            if k in props:
                _list_types(props[k], val, _child(path, k), v)
            elif isinstance(addl, dict):
                _list_types(addl, val, "%s[%s]" % (path or "", k), v)
    elif isinstance(x, list):
        lt = s.get("x-kubernetes-list-type")
        items = s.get("items") if isinstance(s.get("items"), dict) else {}
        if lt == "set":
            seen = []
            for i, it in enumerate(x):
                if any(_deep_equal(it, o) for o in seen):
                    v.add(DUPLICATE, "%s[%d]" % (path, i), it)
                else:
                    seen.append(it)
        elif lt == "map":
            keys = s.get("x-kubernetes-list-map-keys") or []
            bad = [i for i, it in enumerate(x) if it is not None and not isinstance(it, dict)]
            if bad:
                v.add(INVALID, "%s[%d]" % (path, bad[0]), x[bad[0]],
                      "must be an object for an array of list-type map")
            else:
                seen = set()
                kprops = items.get("properties") or {}
                for i, it in enumerate(x):
                    key = tuple(schema_fmt.go_json(
                        (it or {}).get(k, (kprops.get(k) or {}).get("default"))) for k in keys)
                    if key in seen:
                        v.add(DUPLICATE, "%s[%d]" % (path, i), it)
                    seen.add(key)
        for i, it in enumerate(x):
            _list_types(items, it, "%s[%d]" % (path, i), v)


_RULES_CACHE = {}


def _find_rules(s):
    if isinstance(s, dict):
        if s.get("x-kubernetes-validations"):
            return True
        return any(_find_rules(v) for k, v in s.items()
                   if k in ("properties", "items", "additionalProperties", "allOf",
                            "anyOf", "oneOf", "not") or isinstance(v, (dict, list))
                   and k not in ("default", "enum", "example"))
    if isinstance(s, list):
        return any(_find_rules(x) for x in s)
    return False


def has_rules(schema):
    """True if any node of the schema has x-kubernetes-validations (cached)."""
    hit = _RULES_CACHE.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    r = _find_rules(schema)
    if len(_RULES_CACHE) > 256:
        _RULES_CACHE.clear()
    _RULES_CACHE[id(schema)] = (schema, r)
    return r


# ---- public entry point ----------------------------------------------------

def validate_and_default(schema, obj, old_obj=None, kind="", strict=False):
    """Prunes, defaults and validates a custom resource.

    schema: the CRD version's schema.openAPIV3Schema.  obj is not modified;
    the returned obj is a pruned and defaulted deep copy.  old_obj (the stored
    object on updates, else None) enables ratcheting and transition rules.
    kind is informational.  Returns (obj, causes, warnings, unknown_fields):
    causes are Status cause dicts in server order (empty when valid);
    unknown_fields are the pruned paths, sorted ("spec.colour",
    "metadata.labelz", "spec.items[0].x"); warnings holds
    'unknown field "<path>"' for each of them unless strict is true (the
    caller answers 400 with format_strict_message() then).
    """
    obj = _clone(obj)
    schema = schema or {}
    unknown = []
    _prune(obj, schema, "", unknown, root=True)
    _prune_nulls(obj, schema)
    _default(obj, schema)
    v = _V(ratchet=old_obj is not None)
    has_old = isinstance(old_obj, dict)
    v.node(schema, obj, "", old_obj if has_old else None, has_old)
    _list_types(schema, obj, None, v)
    if not has_rules(schema):
        pass    # no CEL validator at all: no <nil> cause either
    elif any(c["reason"] in _BLOCKING for c in v.causes):
        v.add(INVALID, None, None, NIL_CAUSE_DETAIL)
    else:
        import schema_cel
        schema_cel.validate(schema, obj, old_obj if has_old else None, v)
    unknown.sort()
    warnings = [] if strict else ['unknown field "%s"' % p for p in unknown]
    return obj, v.causes, warnings, unknown
