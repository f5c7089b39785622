"""Label and field selectors with the apiserver's syntax and error messages.

Label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`,
`!a`, `a gt 3`, `a lt 3`; comma means AND.  Field selectors: `f=v`, `f==v`,
`f!=v` over metadata.name, metadata.namespace and the kind's field labels.
Parsers return a predicate `match(obj) -> bool`; errors raise ApiError 400.
"""

import apierr

OPS = ("in", "notin", "=", "==", "!=", "gt", "lt")


def _tokens(s):
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c.isspace():
            i += 1
        elif c in "(),":
            out.append(c)
            i += 1
        elif c == "!":
            if s[i + 1:i + 2] == "=":
                out.append("!=")
                i += 2
            else:
                out.append("!")
                i += 1
        elif c == "=":
            if s[i + 1:i + 2] == "=":
                out.append("==")
                i += 2
            else:
                out.append("=")
                i += 1
        else:
            j = i
            while j < len(s) and not s[j].isspace() and s[j] not in "(),!=":
                j += 1
            out.append(("id", s[i:j]))
            i = j
    return out


def _word(t):
    return t[1] if isinstance(t, tuple) else None


def parse_labels(sel):
    """Parse a label selector; returns a predicate over a labels dict."""
    if sel is None or not sel.strip():
        return lambda labels: True
    toks = _tokens(sel)
    reqs = []
    i = 0

    def err(msg):
        raise apierr.bad_request("unable to parse requirement: " + msg)

    while i < len(toks):
        t = toks[i]
        if t == "!":
            key = _word(toks[i + 1]) if i + 1 < len(toks) else None
            if key is None:
                err("found '', expected: identifier")
            reqs.append(("!", key, None))
            i += 2
        else:
            key = _word(t)
            if key is None:
                err("found '%s', expected: !, identifier, or 'end of string'" % t)
            i += 1
            if i >= len(toks) or toks[i] == ",":
                reqs.append(("exists", key, None))
            else:
                op = toks[i]
                opw = _word(op) if isinstance(op, tuple) else op
                if opw not in OPS:
                    err("found '%s', expected: in, notin, =, ==, !=, gt, lt" % opw)
                i += 1
                if opw in ("in", "notin"):
                    if i >= len(toks) or toks[i] != "(":
                        err("found '%s', expected: '('" % (_word(toks[i]) if i < len(toks) else ""))
                    i += 1
                    vals = set()
                    while i < len(toks) and toks[i] != ")":
                        if toks[i] != ",":
                            vals.add(_word(toks[i]) or "")
                        i += 1
                    if i >= len(toks):
                        err("found '', expected: ')'")
                    i += 1
                    reqs.append((opw, key, vals))
                else:
                    val = ""
                    if i < len(toks) and isinstance(toks[i], tuple):
                        val = toks[i][1]
                        i += 1
                    if opw in ("gt", "lt"):
                        try:
                            val = int(val)
                        except ValueError:
                            err("for 'gt', 'lt' operators, exactly one value is required")
                    reqs.append((opw, key, val))
        if i < len(toks):
            if toks[i] != ",":
                err("found '%s', expected: ',' or 'end of string'" % (_word(toks[i]) or toks[i]))
            i += 1

    def match(labels):
        labels = labels or {}
        for op, key, val in reqs:
            has = key in labels
            v = labels.get(key)
            if op == "exists" and not has:
                return False
            if op == "!" and has:
                return False
            if op in ("=", "==") and (not has or v != val):
                return False
            if op == "!=" and has and v == val:
                return False
            if op == "in" and (not has or v not in val):
                return False
            if op == "notin" and has and v in val:
                return False
            if op in ("gt", "lt"):
                try:
                    n = int(v)
                except (TypeError, ValueError):
                    return False
                if (op == "gt" and not n > val) or (op == "lt" and not n < val):
                    return False
        return True
    return match


def field_value(obj, field):
    if field == "metadata.name":
        return obj["metadata"].get("name", "")
    if field == "metadata.namespace":
        return obj["metadata"].get("namespace", "")
    if field == "source":
        return ((obj.get("source") or {}).get("component")) or ""
    cur = obj
    for p in field.split("."):
        cur = cur.get(p) if isinstance(cur, dict) else None
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_fields(sel, rt):
    """Parse a field selector against rt's supported field labels."""
    if sel is None or not sel.strip():
        return lambda obj: True
    reqs = []
    for part in _split_fields(sel):
        if "!=" in part:
            k, v = part.split("!=", 1)
            op = "!="
        elif "==" in part:
            k, v = part.split("==", 1)
            op = "="
        elif "=" in part:
            k, v = part.split("=", 1)
            op = "="
        else:
            raise apierr.bad_request("invalid selector: '%s'; can't understand '%s'"
                                     % (sel, part))
        k = k.strip()
        supported = ["metadata.name", "metadata.namespace"] + list(rt.field_labels)
        if k not in supported:
            if rt.is_cr:
                raise apierr.bad_request("field label not supported: %s" % k)
            raise apierr.bad_request('"%s" is not a known field selector: only %s'
                                     % (k, ", ".join('"%s"' % s for s in supported)))
        reqs.append((k, op, v))

    def match(obj):
        for k, op, v in reqs:
            have = field_value(obj, k)
            if (op == "=") != (have == v):
                return False
        return True
    match.reqs = reqs
    return match


def _split_fields(sel):
    parts, cur, esc = [], "", False
    for ch in sel:
        if esc:
            cur += ch
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == ",":
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p.strip()]
