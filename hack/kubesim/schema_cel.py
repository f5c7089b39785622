"""x-kubernetes-validations (CEL rules) for schema.py.

Walks the schema and the object together, parents before children, and
evaluates every rule on every non-null value at that node (array items,
additionalProperties values included).  `self` is the value converted to
CEL types the way Kubernetes types it (number -> double, format byte ->
bytes, duration -> duration, date / date-time -> timestamp); `oldSelf` is the
correlated old value (object properties by name, map values by key,
list-type=map items by key).  Transition rules (those using oldSelf) are
skipped when there is no correlated old value; with ratcheting, rules
without oldSelf are skipped for unchanged values.  Error causes follow
apiextensions' validation.go: the field is the node path (plus the rule's
fieldPath), the bad value is the schema type, and the detail is the message,
the messageExpression result, or "failed rule: <rule>".
"""

import base64
import binascii
import re

import cel
from cel_lib import parse_duration, parse_timestamp

__all__ = ["validate"]

_MAX_MSG = 5 * 1024


def validate(schema, obj, old, v):
    """Adds the CEL rule failures for obj (and old, on updates) to validator v."""
    _walk(schema, obj, None, old, old is not None, v)


def _child(path, name):
    return name if path is None else path + "." + name


_RULED = {}   # id(schema node) -> (node, any rule at or below it along _walk's edges)


def _ruled(s):
    """True if _walk can meet a rule at s or below (properties, map values, items)."""
    hit = _RULED.get(id(s))
    if hit is not None and hit[0] is s:
        return hit[1]
    r = bool(s.get("x-kubernetes-validations"))
    subs = list((s.get("properties") or {}).values()) if isinstance(
        s.get("properties"), dict) else []
    subs += [s.get("additionalProperties"), s.get("items")]
    for c in subs:
        if isinstance(c, dict) and _ruled(c):
            r = True
    if len(_RULED) > 100000:
        _RULED.clear()
    _RULED[id(s)] = (s, r)
    return r


def _walk(s, x, path, old, has_old, v):
    if not isinstance(s, dict) or x is None or not _ruled(s):
        return
    rules = s.get("x-kubernetes-validations")
    if rules:
        unchanged = v.ratchet and has_old and _same(x, old)
        _run_rules(s, rules, x, path, old, has_old, unchanged, v)
    if isinstance(x, dict):
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        od = old if has_old and isinstance(old, dict) else None
        for k, ps in props.items():
            if k in x:
                _walk(ps, x[k], _child(path, k), od.get(k) if od else None,
                      od is not None and k in od, v)
        if isinstance(addl, dict):
            for k, val in x.items():
                if k not in props:
                    _walk(addl, val, "%s[%s]" % (path or "", k),
                          od.get(k) if od else None, od is not None and k in od, v)
    elif isinstance(x, list):
        items = s.get("items")
        if not isinstance(items, dict):
            return
        keys = s.get("x-kubernetes-list-map-keys") if s.get(
            "x-kubernetes-list-type") == "map" else None
        olds = {}
        if keys and has_old and isinstance(old, list):
            for o in old:
                if isinstance(o, dict):
                    olds[tuple(repr(o.get(k)) for k in keys)] = o
        for i, it in enumerate(x):
            o, ho = None, False
            if keys and isinstance(it, dict):
                kk = tuple(repr(it.get(k)) for k in keys)
                if kk in olds:
                    o, ho = olds[kk], True
            _walk(items, it, "%s[%d]" % (path or "", i), o, ho, v)


def _same(a, b):
    import schema
    return schema._deep_equal(a, b)


def to_cel(x, s):
    """Converts a JSON value to the CEL value Kubernetes binds for schema s."""
    if x is None or not isinstance(s, dict):
        return x
    if isinstance(x, dict):
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        out = {}
        for k, val in x.items():
            cs = props.get(k)
            if cs is None and isinstance(addl, dict):
                cs = addl
            out[k] = to_cel(val, cs)
        return out
    if isinstance(x, list):
        items = s.get("items")
        return [to_cel(i, items) for i in x] if isinstance(items, dict) else x
    t = s.get("type")
    if t == "number" and type(x) is int:
        return float(x)
    if t == "string" and isinstance(x, str):
        fmt = s.get("format")
        if fmt == "byte":
            try:
                return base64.b64decode(x, validate=True)
            except (binascii.Error, ValueError):
                return x
        if fmt == "duration":
            d = parse_duration(x)
            return x if d is None else d
        if fmt in ("date-time", "datetime"):
            ts = parse_timestamp(x)
            return x if ts is None else ts
        if fmt == "date" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", x):
            ts = parse_timestamp(x + "T00:00:00Z")
            return x if ts is None else ts
    return x


def rule_error_string(rule):
    msg = (rule.get("message") or "").strip()
    return msg if msg else (rule.get("rule") or "").strip()


def rule_message_or_default(rule):
    msg = (rule.get("message") or "").strip()
    return msg if msg else "failed rule: %s" % rule_error_string(rule)


def _field_path(path, fp):
    """Appends a rule's fieldPath (".a.b", ".a['x.y']") to the node path."""
    if not fp:
        return path
    parts = re.findall(r"\.([^.\[]+)|\['([^']*)'\]|\[\"([^\"]*)\"\]", fp)
    names = [a or b or c for a, b, c in parts]
    if not names:
        return path
    return _child(path, ".".join(names))


def _schema_type(s):
    return s.get("type") or ""


def _run_rules(s, rules, x, path, old, has_old, unchanged, v):
    import schema as sc
    stype = _schema_type(s)
    self_val = old_val = None
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        text = rule.get("rule") or ""
        try:
            prog = cel.compile(text)
        except cel.CELError as e:
            v.add(sc.INVALID, path, stype, "rule compile error: compilation failed: %s" % e)
            continue
        if prog.uses_old_self and not has_old:
            continue
        if unchanged and not prog.uses_old_self:
            continue
        if self_val is None:
            self_val = to_cel(x, s)
        act = {"self": self_val}
        if has_old:
            if old_val is None:
                old_val = to_cel(old, s)
            act["oldSelf"] = old_val
        try:
            ok = prog.evaluate(act)
        except cel.CELEvalError as e:
            msg = str(e)
            if msg.startswith("no such overload"):
                detail = ("'%s': call arguments did not match a supported operator, "
                          "function or macro signature for rule: %s"
                          % (msg, rule_error_string(rule)))
            else:
                detail = "%s evaluating rule: %s" % (msg, rule_error_string(rule))
            v.add(sc.INVALID, path, stype, detail)
            continue
        if ok is True:
            continue
        if ok is not False:
            v.add(sc.INVALID, path, stype, "rule did not evaluate to a bool: %s"
                  % rule_error_string(rule))
            continue
        detail = _message(rule, act)
        fpath = _field_path(path, rule.get("fieldPath"))
        reason = rule.get("reason")
        if reason == sc.FORBIDDEN:
            v.add(sc.FORBIDDEN, fpath, "", detail)
        elif reason == sc.REQUIRED:
            v.add(sc.REQUIRED, fpath, "", detail)
        elif reason == sc.DUPLICATE:
            v.add(sc.DUPLICATE, fpath, stype)
        else:
            v.add(sc.INVALID, fpath, stype, detail)


def _message(rule, act):
    expr = rule.get("messageExpression")
    if expr:
        try:
            out = cel.compile(expr).evaluate(act)
        except (cel.CELError, cel.CELEvalError):
            out = None
        if isinstance(out, str):
            out = out.strip()
            if out and "\n" not in out and len(out.encode("utf-8")) <= _MAX_MSG:
                return out
    return rule_message_or_default(rule)
