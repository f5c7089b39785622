"""Go-compatible value printing and OpenAPI string formats for schema.py.

The 422 texts of kube-apiserver are produced by Go's fmt package: %q for
strings, %v for numbers (floats in 'g' form: 1e+06), %#v for maps and lists
(`map[string]interface {}{"type":"Ready"}`), and json.Marshal for enum
values.  This module reproduces those, plus the string formats the CRD
validator checks (date-time, date, uuid, ipv4, ipv6, cidr, mac, hostname,
email, uri, byte, duration, hexcolor, rgbcolor, bsonobjectid, ...).  Formats
kube-apiserver strips (int32, int64, float, double, ...) are not checked.
"""

import base64
import binascii
import ipaddress
import json
import re

from cel_eval import go_float
from cel_lib import parse_duration

__all__ = ["go_value", "go_sharp_v", "go_quote", "go_num", "go_json", "regex",
           "check", "CHECKED"]


def go_quote(s):
    """strconv.Quote."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                        "\r": "\\r", "\t": "\\t", "\v": "\\v"}[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif o < 0x80:
            out.append("\\x%02x" % o)
        elif o < 0x10000:
            out.append("\\u%04x" % o)
        else:
            out.append("\\U%08x" % o)
    out.append('"')
    return "".join(out)


def go_num(v):
    """%v of a Go number."""
    if type(v) is float:
        return go_float(v)
    return str(v)


def go_sharp_v(v):
    """%#v of a value decoded from JSON into interface{}."""
    if v is None:
        return "interface {}(nil)"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return go_num(v)
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(go_sharp_v(x) for x in v) + "}"
    if isinstance(v, dict):
        return "map[string]interface {}{" + ", ".join(
            "%s:%s" % (go_quote(k), go_sharp_v(v[k])) for k in sorted(v)) + "}"
    return str(v)


def go_value(v):
    """How field.Error.ErrorBody prints a bad value (apimachinery 1.32)."""
    if v is None:
        return '"null"'
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return go_num(v)
    if isinstance(v, str):
        return go_quote(v)
    return go_sharp_v(v)


def _go_json_float(f):
    if f == int(f) and abs(f) < 1e21:
        return str(int(f))
    return repr(f)


def go_json(v):
    """json.Marshal (sorted keys, HTML-escaped)."""
    if isinstance(v, float) and v == v and abs(v) != float("inf"):
        return _go_json_float(v)
    s = json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_RE_CACHE = {}


class _MatchAll:
    @staticmethod
    def search(_s):
        return True


def regex(pattern):
    """An RE2 pattern as a Python regex; unsupported syntax matches anything."""
    r = _RE_CACHE.get(pattern)
    if r is None:
        try:
            r = re.compile(pattern.replace(r"\z", r"\Z"))
        except re.error:
            r = _MatchAll()
        _RE_CACHE[pattern] = r
    return r


_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                       r"(?:[Zz]|[+-]\d{2}:?\d{2})?")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-%s[0-9a-fA-F]{3}-%s[0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
_HOST_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_HOSTNAME = re.compile(r"(?=.{1,255}$)%s(?:\.%s)*\.?" % (_HOST_LABEL, _HOST_LABEL))
_MAC = re.compile(r"(?:[0-9a-fA-F]{2}([:-]))(?:[0-9a-fA-F]{2}\1){4}[0-9a-fA-F]{2}"
                  r"|(?:[0-9a-fA-F]{4}\.){2}[0-9a-fA-F]{4}")


def _valid_date(y, m, d):
    import datetime
    try:
        datetime.date(int(y), int(m), int(d))
        return True
    except ValueError:
        return False


def _date_time(s):
    m = _DATETIME.fullmatch(s)
    if not m or not _valid_date(*m.groups()[:3]):
        return False
    return int(m.group(4)) < 24 and int(m.group(5)) < 60 and int(m.group(6) or 0) < 61


def _ip(s, version):
    try:
        ip = ipaddress.ip_address(s)
    except ValueError:
        return False
    return ip.version == version or (version == 6 and ":" in s)


def _cidr(s):
    try:
        ipaddress.ip_network(s, strict=False)
        return "/" in s
    except ValueError:
        return False


def _base64(s):
    try:
        base64.b64decode(s, validate=True)
        return True
    except (binascii.Error, ValueError):
        return False


def _uri(s):
    return bool(s) and not any(c in s for c in " \t\n") and bool(
        re.match(r"[A-Za-z][A-Za-z0-9+.-]*:|/", s))


def _duration(s):
    if parse_duration(s) is not None:
        return True
    return re.fullmatch(r"\d+\s*(?:ns|us|µs|ms|s|m|h|d|w|y|[a-z]+)", s.strip()) is not None


_CHECKS = {
    "date-time": _date_time, "datetime": _date_time,
    "date": lambda s: bool(_DATE.fullmatch(s)) and _valid_date(*_DATE.fullmatch(s).groups()),
    "uuid": lambda s: re.fullmatch(_UUID % ("[0-9a-fA-F]", "[0-9a-fA-F]"), s) is not None,
    "uuid3": lambda s: re.fullmatch(_UUID % ("3", "[0-9a-fA-F]"), s) is not None,
    "uuid4": lambda s: re.fullmatch(_UUID % ("4", "[89aAbB]"), s) is not None,
    "uuid5": lambda s: re.fullmatch(_UUID % ("5", "[89aAbB]"), s) is not None,
    "ipv4": lambda s: _ip(s, 4) and "." in s,
    "ipv6": lambda s: _ip(s, 6),
    "cidr": _cidr,
    "mac": lambda s: _MAC.fullmatch(s) is not None,
    "hostname": lambda s: _HOSTNAME.fullmatch(s) is not None,
    "email": lambda s: re.fullmatch(r"[^@\s]+@[^@\s]+", s) is not None,
    "uri": _uri,
    "byte": _base64,
    "duration": _duration,
    "hexcolor": lambda s: re.fullmatch(r"#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})", s) is not None,
    "rgbcolor": lambda s: re.fullmatch(
        r"rgb\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\)", s) is not None,
    "bsonobjectid": lambda s: re.fullmatch(r"[0-9a-fA-F]{24}", s) is not None,
    "ssn": lambda s: re.fullmatch(r"\d{3}[- ]?\d{2}[- ]?\d{4}", s) is not None,
    "password": lambda s: True,
    "isbn": lambda s: True, "isbn10": lambda s: True, "isbn13": lambda s: True,
    "creditcard": lambda s: True,
}
CHECKED = frozenset(_CHECKS)


def check(fmt, s):
    """True if string s is valid for the named format (unknown formats pass)."""
    fn = _CHECKS.get(fmt)
    return True if fn is None else bool(fn(s))
