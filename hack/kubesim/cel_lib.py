"""The CEL function library used by cel_eval.py.

Standard CEL functions (size, contains, startsWith, endsWith, matches, type
conversions, timestamp / duration), the Kubernetes extension libraries that
CRD rules use (strings: lowerAscii, upperAscii, trim, replace, split, join,
substring, charAt, indexOf, lastIndexOf, reverse, format; lists: isSorted,
sum, min, max, indexOf, lastIndexOf; regex: find, findAll; sets.*) and the
optional helpers; URL, IP / CIDR and quantity come from cel_k8s.py.  Every entry of FUNCS
is fn(target, args): target is None for a global call.  Regular expressions
are RE2 mapped onto Python `re` (partial match, like RE2 PartialMatch).
"""

import re
from datetime import datetime, timedelta, timezone

import cel_k8s
from cel_eval import (CELEvalError, UInt, CelType, Optional, NONE, equals,
                      compare, type_name, go_float, check_int, check_uint,
                      no_overload, is_num, INT_MIN)

_RE_CACHE = {}


def regex(pattern):
    """Compiles an RE2 pattern as a Python regex (cached); CELEvalError if bad."""
    r = _RE_CACHE.get(pattern)
    if r is None:
        py = pattern.replace(r"\z", r"\Z")
        try:
            r = re.compile(py)
        except re.error as e:
            raise CELEvalError("error parsing regexp: %s: `%s`" % (e.msg, pattern))
        if len(_RE_CACHE) > 2048:
            _RE_CACHE.clear()
        _RE_CACHE[pattern] = r
    return r


def _arity(args, *counts):
    if len(args) not in counts:
        raise no_overload()


def _str(v):
    if type(v) is not str:
        raise no_overload()
    return v


def _int(v):
    if type(v) is not int:
        raise no_overload()
    return v


def _this(target, args, n):
    """Method or global form: returns (receiver, remaining args)."""
    if target is not None:
        _arity(args, *n)
        return target, args
    if not args:
        raise no_overload()
    _arity(args[1:], *n)
    return args[0], args[1:]


def f_size(t, a):
    v, _ = _this(t, a, (0,))
    if type(v) in (str, bytes, list, dict):
        return len(v)
    raise no_overload()


def f_contains(t, a):
    _arity(a, 1)
    return _str(a[0]) in _str(t)


def f_starts(t, a):
    _arity(a, 1)
    return _str(t).startswith(_str(a[0]))


def f_ends(t, a):
    _arity(a, 1)
    return _str(t).endswith(_str(a[0]))


def f_matches(t, a):
    s, rest = _this(t, a, (1,))
    return regex(_str(rest[0])).search(_str(s)) is not None


def f_find(t, a):
    _arity(a, 1)
    m = regex(_str(a[0])).search(_str(t))
    return m.group(0) if m else ""


def f_find_all(t, a):
    _arity(a, 1, 2)
    n = _int(a[1]) if len(a) == 2 else -1
    out = [m.group(0) for m in regex(_str(a[0])).finditer(_str(t))]
    return out if n < 0 else out[:n]


def _ascii(s, up):
    return "".join(chr(ord(c) - 32) if up and "a" <= c <= "z" else
                   chr(ord(c) + 32) if not up and "A" <= c <= "Z" else c
                   for c in _str(s))


def f_lower(t, a):
    _arity(a, 0)
    return _ascii(t, False)


def f_upper(t, a):
    _arity(a, 0)
    return _ascii(t, True)


def f_trim(t, a):
    _arity(a, 0)
    return _str(t).strip(" \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003"
                         "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028"
                         "\u2029\u202f\u205f\u3000")


def f_replace(t, a):
    _arity(a, 2, 3)
    n = _int(a[2]) if len(a) == 3 else -1
    return _str(t).replace(_str(a[0]), _str(a[1]), n)


def f_split(t, a):
    _arity(a, 1, 2)
    s, sep = _str(t), _str(a[0])
    n = _int(a[1]) if len(a) == 2 else -1
    if n == 0:
        return []
    if sep == "":
        chars = list(s)
        if 0 < n < len(chars):
            chars = chars[:n - 1] + ["".join(chars[n - 1:])]
        return chars
    return s.split(sep) if n < 0 else s.split(sep, n - 1)


def f_join(t, a):
    _arity(a, 0, 1)
    if type(t) is not list or any(type(x) is not str for x in t):
        raise no_overload()
    return (_str(a[0]) if a else "").join(t)


def f_substring(t, a):
    _arity(a, 1, 2)
    s = _str(t)
    start = _int(a[0])
    end = _int(a[1]) if len(a) == 2 else len(s)
    if start < 0 or start > len(s):
        raise CELEvalError("index out of range: %d" % start)
    if end < 0 or end > len(s):
        raise CELEvalError("index out of range: %d" % end)
    if start > end:
        raise CELEvalError("invalid substring range. start: %d, end: %d" % (start, end))
    return s[start:end]


def f_char_at(t, a):
    _arity(a, 1)
    s, i = _str(t), _int(a[0])
    if i < 0 or i > len(s):
        raise CELEvalError("index out of range: %d" % i)
    return s[i:i + 1]


def f_index_of(t, a):
    _arity(a, 1, 2)
    if type(t) is list:
        for i, x in enumerate(t):
            if equals(x, a[0]):
                return i
        return -1
    s, sub = _str(t), _str(a[0])
    off = _int(a[1]) if len(a) == 2 else 0
    if off < 0 or off > len(s):
        raise CELEvalError("index out of range: %d" % off)
    return s.find(sub, off)


def f_last_index_of(t, a):
    _arity(a, 1, 2)
    if type(t) is list:
        for i in range(len(t) - 1, -1, -1):
            if equals(t[i], a[0]):
                return i
        return -1
    s, sub = _str(t), _str(a[0])
    off = _int(a[1]) if len(a) == 2 else len(s)
    if off < 0 or off > len(s):
        raise CELEvalError("index out of range: %d" % off)
    return s.rfind(sub, 0, off + len(sub))


def f_reverse(t, a):
    _arity(a, 0)
    if type(t) is list:
        return list(reversed(t))
    return _str(t)[::-1]


def f_quote(t, a):
    _arity(a, 1)
    s = _str(a[0])
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace(
        "\n", "\\n").replace("\t", "\\t").replace("\r", "\\r") + '"'


_FMT = re.compile(r"%(?:\.(\d+))?([sdfeExXobv%])")


def _fmt_s(v):
    if type(v) is list:
        return "[" + ", ".join(_fmt_s(x) for x in v) + "]"
    if type(v) is dict:
        return "{" + ", ".join("%s:%s" % (_fmt_s(k), _fmt_s(x)) for k, x in v.items()) + "}"
    if v is None:
        return "null"
    return f_string(None, [v])


def f_format(t, a):
    """strings.format: %s %d %f %e %x %X %o %b with optional .precision."""
    _arity(a, 1)
    s, args = _str(t), _list(a[0])
    out, pos, i = [], 0, 0
    for m in _FMT.finditer(s):
        out.append(s[pos:m.start()])
        pos = m.end()
        prec, verb = m.group(1), m.group(2)
        if verb == "%":
            out.append("%")
            continue
        if i >= len(args):
            raise CELEvalError("index %d out of range" % i)
        v = args[i]
        i += 1
        if verb in "sv":
            out.append(_fmt_s(v))
        elif verb == "d" and type(v) in (int, UInt):
            out.append(str(int(v)))
        elif verb in "fe" and is_num(v) and type(v) is not bool:
            out.append(("%." + (prec or "6") + verb) % float(v))
        elif verb in "xXob" and type(v) in (int, UInt, str, bytes):
            if type(v) in (str, bytes):
                b = v.encode("utf-8") if type(v) is str else v
                h = b.hex()
                out.append(h.upper() if verb == "X" else h)
            else:
                out.append(format(int(v), {"x": "x", "X": "X", "o": "o", "b": "b"}[verb]))
        else:
            raise CELEvalError("error during formatting: unsupported value for %" + verb)
    out.append(s[pos:])
    return "".join(out)


def _list(v):
    if type(v) is not list:
        raise no_overload()
    return v


def f_is_sorted(t, a):
    _arity(a, 0)
    lst = _list(t)
    return all(compare(lst[i], lst[i + 1]) <= 0 for i in range(len(lst) - 1))


def f_sum(t, a):
    _arity(a, 0)
    lst = _list(t)
    total = 0
    for x in lst:
        if not is_num(x) or type(x) is bool:
            raise no_overload()
        total = total + x
    if type(total) is int:
        return check_int(total)
    return total


def _minmax(t, a, sign):
    _arity(a, 0)
    lst = _list(t)
    if not lst:
        raise CELEvalError("%s called on empty list" % ("min" if sign < 0 else "max"))
    best = lst[0]
    for x in lst[1:]:
        if compare(x, best) * sign > 0:
            best = x
    return best


def f_sets_contains(t, a):
    _arity(a, 2)
    return all(any(equals(y, x) for x in _list(a[0])) for y in _list(a[1]))


def f_sets_equivalent(t, a):
    return f_sets_contains(t, a) and f_sets_contains(t, [a[1], a[0]])


def f_sets_intersects(t, a):
    _arity(a, 2)
    return any(any(equals(y, x) for x in _list(a[0])) for y in _list(a[1]))


# ---- conversions ----------------------------------------------------------

def f_int(t, a):
    _arity(a, 1)
    v = a[0]
    tv = type(v)
    if tv is int:
        return v
    if tv is UInt:
        return check_int(int(v))
    if tv is float:
        if v != v or not (INT_MIN <= v < 2.0 ** 63):
            raise CELEvalError("double out of int range")
        return int(v)
    if tv is str:
        try:
            return check_int(int(v, 10))
        except ValueError:
            raise CELEvalError("type conversion error from 'string' to 'int'")
    if tv is datetime:
        return int(v.timestamp())
    raise no_overload()


def f_uint(t, a):
    _arity(a, 1)
    v = a[0]
    tv = type(v)
    if tv is UInt:
        return v
    if tv is int:
        return check_uint(v)
    if tv is float:
        if v != v or not (0 <= v < 2.0 ** 64):
            raise CELEvalError("double out of uint range")
        return UInt(int(v))
    if tv is str:
        try:
            return check_uint(int(v, 10))
        except ValueError:
            raise CELEvalError("type conversion error from 'string' to 'uint'")
    raise no_overload()


def f_double(t, a):
    _arity(a, 1)
    v = a[0]
    if is_num(v) and type(v) is not bool:
        return float(v)
    if type(v) is str:
        try:
            return float(v)
        except ValueError:
            raise CELEvalError("type conversion error from 'string' to 'double'")
    raise no_overload()


def fmt_duration(d):
    total = d.days * 86400 + d.seconds + d.microseconds / 1e6
    if total == int(total):
        return "%ds" % int(total)
    return ("%.9f" % total).rstrip("0") + "s"


def fmt_timestamp(ts):
    s = ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if ts.microsecond:
        s += ("." + "%06d" % ts.microsecond).rstrip("0")
    return s + "Z"


def f_string(t, a):
    _arity(a, 1)
    v = a[0]
    tv = type(v)
    if tv is str:
        return v
    if tv is bool:
        return "true" if v else "false"
    if tv is int or tv is UInt:
        return str(int(v))
    if tv is float:
        return go_float(v)
    if tv is bytes:
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            raise CELEvalError("invalid UTF-8 in bytes, cannot convert to string")
    if tv is datetime:
        return fmt_timestamp(v)
    if tv is timedelta:
        return fmt_duration(v)
    s = getattr(v, "cel_string", None)
    if s is not None:
        return s
    raise no_overload()


def f_bytes(t, a):
    _arity(a, 1)
    v = a[0]
    if type(v) is bytes:
        return v
    return _str(v).encode("utf-8")


def f_bool(t, a):
    _arity(a, 1)
    v = a[0]
    if type(v) is bool:
        return v
    table = {"1": True, "t": True, "true": True, "TRUE": True, "True": True,
             "0": False, "f": False, "false": False, "FALSE": False, "False": False}
    if type(v) is str and v in table:
        return table[v]
    raise CELEvalError("type conversion error from 'string' to 'bool'")


def f_dyn(t, a):
    _arity(a, 1)
    return a[0]


def f_type(t, a):
    _arity(a, 1)
    return CelType(type_name(a[0]))


_DUR = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DUR_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0,
              "m": 60.0, "h": 3600.0}


def parse_duration(s):
    """Go time.ParseDuration; returns a timedelta or None."""
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return timedelta(0)
    pos, total = 0, 0.0
    if not s:
        return None
    while pos < len(s):
        m = _DUR.match(s, pos)
        if not m:
            return None
        total += float(m.group(1)) * _DUR_UNITS[m.group(2)]
        pos = m.end()
    return timedelta(seconds=sign * total)


def parse_timestamp(s):
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})"
                     r"(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", s)
    if not m:
        return None
    y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
    frac = m.group(7) or ""
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    tz = m.group(8)
    if tz in ("Z", "z"):
        off = timezone.utc
    else:
        sign = -1 if tz[0] == "-" else 1
        off = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    try:
        return datetime(y, mo, d, h, mi, sec, micro, tzinfo=off).astimezone(timezone.utc)
    except ValueError:
        return None


def f_duration(t, a):
    _arity(a, 1)
    if type(a[0]) is timedelta:
        return a[0]
    d = parse_duration(_str(a[0]))
    if d is None:
        raise CELEvalError("type conversion error from 'string' to 'google.protobuf.Duration'")
    return d


def f_timestamp(t, a):
    _arity(a, 1)
    if type(a[0]) is datetime:
        return a[0]
    if type(a[0]) is int:
        return datetime.fromtimestamp(a[0], timezone.utc)
    ts = parse_timestamp(_str(a[0]))
    if ts is None:
        raise CELEvalError("type conversion error from 'string' to 'google.protobuf.Timestamp'")
    return ts


def _tz(ts, a):
    if not a:
        return ts
    name = _str(a[0])
    m = re.fullmatch(r"([+-]?)(\d{1,2}):(\d{2})", name)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return ts.astimezone(timezone(sign * timedelta(hours=int(m.group(2)),
                                                       minutes=int(m.group(3)))))
    try:
        from zoneinfo import ZoneInfo
        return ts.astimezone(ZoneInfo(name))
    except Exception:
        raise CELEvalError("unknown time zone %s" % name)


def _getter(ts_fn, dur_fn=None):
    def f(t, a):
        if type(t) is datetime:
            _arity(a, 0, 1)
            return ts_fn(_tz(t, a))
        if type(t) is timedelta and dur_fn is not None:
            _arity(a, 0)
            return dur_fn(t)
        raise no_overload()
    return f


def _dur_total(d):
    return d.days * 86400 + d.seconds + d.microseconds / 1e6


# ---- optionals -----------------------------------------------------------

def f_opt_of(t, a):
    _arity(a, 1)
    return Optional(True, a[0])


def f_opt_none(t, a):
    _arity(a, 0)
    return NONE


def f_opt_nonzero(t, a):
    _arity(a, 1)
    v = a[0]
    zero = v is None or v is False or (is_num(v) and v == 0) or (
        type(v) in (str, bytes, list, dict) and len(v) == 0)
    return NONE if zero else Optional(True, v)


def _opt(t):
    if type(t) is not Optional:
        raise no_overload()
    return t


def f_has_value(t, a):
    _arity(a, 0)
    return _opt(t).present


def f_value(t, a):
    _arity(a, 0)
    o = _opt(t)
    if not o.present:
        raise CELEvalError("optional.none() dereference")
    return o.value


def f_or_value(t, a):
    _arity(a, 1)
    o = _opt(t)
    return o.value if o.present else a[0]


def f_or(t, a):
    _arity(a, 1)
    o = _opt(t)
    return o if o.present else _opt(a[0])


def f_math_minmax(sign):
    def f(t, a):
        vals = a[0] if len(a) == 1 and type(a[0]) is list else a
        if not vals:
            raise no_overload()
        best = vals[0]
        for x in vals[1:]:
            if compare(x, best) * sign > 0:
                best = x
        return best
    return f


FUNCS = {
    "size": f_size, "contains": f_contains, "startsWith": f_starts,
    "endsWith": f_ends, "matches": f_matches, "find": f_find,
    "findAll": f_find_all, "lowerAscii": f_lower, "upperAscii": f_upper,
    "trim": f_trim, "replace": f_replace, "split": f_split, "join": f_join,
    "substring": f_substring, "charAt": f_char_at, "indexOf": f_index_of,
    "lastIndexOf": f_last_index_of, "reverse": f_reverse,
    "strings.quote": f_quote, "format": f_format,
    "isSorted": f_is_sorted, "sum": f_sum,
    "min": lambda t, a: _minmax(t, a, -1), "max": lambda t, a: _minmax(t, a, 1),
    "sets.contains": f_sets_contains, "sets.equivalent": f_sets_equivalent,
    "sets.intersects": f_sets_intersects,
    "math.greatest": f_math_minmax(1), "math.least": f_math_minmax(-1),
    "int": f_int, "uint": f_uint, "double": f_double, "string": f_string,
    "bytes": f_bytes, "bool": f_bool, "dyn": f_dyn, "type": f_type,
    "duration": f_duration, "timestamp": f_timestamp,
    "getFullYear": _getter(lambda d: d.year),
    "getMonth": _getter(lambda d: d.month - 1),
    "getDate": _getter(lambda d: d.day),
    "getDayOfMonth": _getter(lambda d: d.day - 1),
    "getDayOfWeek": _getter(lambda d: (d.weekday() + 1) % 7),
    "getDayOfYear": _getter(lambda d: d.timetuple().tm_yday - 1),
    "getHours": _getter(lambda d: d.hour, lambda d: int(_dur_total(d) // 3600)),
    "getMinutes": _getter(lambda d: d.minute, lambda d: int(_dur_total(d) // 60)),
    "getSeconds": _getter(lambda d: d.second, lambda d: int(_dur_total(d))),
    "getMilliseconds": _getter(lambda d: d.microsecond // 1000,
                               lambda d: d.microseconds // 1000),
    "optional.of": f_opt_of, "optional.none": f_opt_none,
    "optional.ofNonZeroValue": f_opt_nonzero,
    "hasValue": f_has_value, "value": f_value, "orValue": f_or_value, "or": f_or,
}

FUNCS.update(cel_k8s.FUNCS)
