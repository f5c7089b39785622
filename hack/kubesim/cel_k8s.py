"""Kubernetes CEL libraries for cel_lib.py: URL, IP / CIDR and quantity.

    url(s), isURL(s), u.getScheme() / getHost() / getHostname() / getPort() /
    getEscapedPath() / getQuery();
    ip(s), isIP(s), ip.family() / isUnspecified() / isLoopback() /
    isLinkLocalMulticast() / isLinkLocalUnicast() / isGlobalUnicast();
    cidr(s), isCIDR(s), c.containsIP() / containsCIDR() / ip() / prefixLength() /
    masked();
    quantity(s), isQuantity(s), q.isInteger() / asInteger() /
    asApproximateFloat() / sign() / add() / sub() / isGreaterThan() /
    isLessThan() / compareTo().
Entries of FUNCS are fn(target, args) like cel_lib's.
"""

import ipaddress
import re
from fractions import Fraction
from urllib.parse import parse_qs, urlsplit

from cel_eval import CELEvalError, INT_MIN, INT_MAX, no_overload

__all__ = ["FUNCS"]


def _arity(args, *counts):
    if len(args) not in counts:
        raise no_overload()


def _str(v):
    if type(v) is not str:
        raise no_overload()
    return v


def _bad():
    raise no_overload()


# ---- URL / IP / CIDR (Kubernetes libraries) --------------------------------

class URLValue:
    cel_type = "kubernetes.URL"

    def __init__(self, s, parts):
        self.cel_string = s
        self.parts = parts

    def __eq__(self, other):
        return isinstance(other, URLValue) and other.cel_string == self.cel_string


def _parse_url(s):
    if not s or any(c in s for c in " \t\n"):
        return None
    if s.startswith("/"):
        return urlsplit(s)
    if not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", s):
        return None
    try:
        parts = urlsplit(s)
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        return None
    return parts


def f_is_url(t, a):
    _arity(a, 1)
    return _parse_url(_str(a[0])) is not None


def f_url(t, a):
    _arity(a, 1)
    s = _str(a[0])
    p = _parse_url(s)
    if p is None:
        raise CELEvalError("URL parse error during conversion from string: %s" % s)
    return URLValue(s, p)


def _url_part(fn):
    def f(t, a):
        _arity(a, 0)
        if not isinstance(t, URLValue):
            raise no_overload()
        return fn(t.parts)
    return f


def _hostname(p):
    h = p.netloc.rpartition("@")[2]
    if h.startswith("["):
        return h[1:h.index("]")]
    return h.partition(":")[0]


class IPValue:
    cel_type = "net.IP"

    def __init__(self, ip):
        self.ip = ip
        self.cel_string = str(ip)

    def __eq__(self, other):
        return isinstance(other, IPValue) and other.ip == self.ip


class CIDRValue:
    cel_type = "net.CIDR"

    def __init__(self, ip, net):
        self.ip, self.net = ip, net
        self.cel_string = "%s/%d" % (ip, net.prefixlen)

    def __eq__(self, other):
        return isinstance(other, CIDRValue) and other.cel_string == self.cel_string


def _parse_ip(s):
    if "%" in s:
        return None
    try:
        ip = ipaddress.ip_address(s)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return None
    return ip


def _parse_cidr(s):
    ip_s, sep, _ = s.partition("/")
    ip = _parse_ip(ip_s) if sep else None
    if ip is None:
        return None
    try:
        return ip, ipaddress.ip_network(s, strict=False)
    except ValueError:
        return None


def f_is_ip(t, a):
    _arity(a, 1)
    return _parse_ip(_str(a[0])) is not None


def f_ip(t, a):
    if t is not None:   # cidr.ip()
        _arity(a, 0)
        if not isinstance(t, CIDRValue):
            raise no_overload()
        return IPValue(t.ip)
    _arity(a, 1)
    ip = _parse_ip(_str(a[0]))
    if ip is None:
        raise CELEvalError("IP Address %r parse error during conversion from string" % a[0])
    return IPValue(ip)


def f_is_cidr(t, a):
    _arity(a, 1)
    return _parse_cidr(_str(a[0])) is not None


def f_cidr(t, a):
    _arity(a, 1)
    r = _parse_cidr(_str(a[0]))
    if r is None:
        raise CELEvalError("network address parse error during conversion from string")
    return CIDRValue(*r)


def f_contains_ip(t, a):
    _arity(a, 1)
    if not isinstance(t, CIDRValue):
        raise no_overload()
    ip = a[0].ip if isinstance(a[0], IPValue) else _parse_ip(_str(a[0]))
    if ip is None:
        raise CELEvalError("IP Address parse error")
    return ip.version == t.net.version and ip in t.net


def f_contains_cidr(t, a):
    _arity(a, 1)
    other = a[0] if isinstance(a[0], CIDRValue) else f_cidr(None, a)
    if not isinstance(t, CIDRValue):
        raise no_overload()
    return other.net.version == t.net.version and other.net.subnet_of(t.net)


def _ip_method(fn):
    def f(t, a):
        _arity(a, 0)
        if not isinstance(t, IPValue):
            raise no_overload()
        return fn(t.ip)
    return f


# ---- quantity (Kubernetes library) -------------------------------------------

_QTY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|"
                  r"[eE][+-]?\d+)?")
_QTY_MUL = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50,
            "Ei": 2 ** 60, "n": Fraction(1, 10 ** 9), "u": Fraction(1, 10 ** 6),
            "m": Fraction(1, 1000), "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9,
            "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18, None: 1}


class QuantityValue:
    cel_type = "kubernetes.Quantity"

    def __init__(self, value, text=None):
        self.value = Fraction(value)
        self.cel_string = text if text is not None else str(self.value)

    def __eq__(self, other):
        return isinstance(other, QuantityValue) and other.value == self.value


def _parse_qty(s):
    m = _QTY.fullmatch(s) if isinstance(s, str) else None
    if not m:
        return None
    suffix = m.group(2)
    if suffix and suffix[0] in "eE" and len(suffix) > 1:
        mul = Fraction(10) ** int(suffix[1:])
    else:
        mul = _QTY_MUL[suffix]
    return QuantityValue(Fraction(m.group(1)) * mul, s)


def f_is_quantity(t, a):
    _arity(a, 1)
    return _parse_qty(_str(a[0])) is not None


def f_quantity(t, a):
    _arity(a, 1)
    q = _parse_qty(_str(a[0]))
    if q is None:
        raise CELEvalError("quantities must match the regular expression "
                           "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    return q


def _qty_arg(v):
    if isinstance(v, QuantityValue):
        return v.value
    if type(v) is int:
        return Fraction(v)
    raise no_overload()


def _qty_method(fn, nargs):
    def f(t, a):
        _arity(a, nargs)
        if not isinstance(t, QuantityValue):
            raise no_overload()
        return fn(t.value, *[_qty_arg(x) for x in a])
    return f


def _as_integer(v):
    if v.denominator != 1 or not (INT_MIN <= v <= INT_MAX):
        raise CELEvalError("cannot convert value to integer")
    return int(v)


FUNCS = {
    "isURL": f_is_url, "url": f_url,
    "getScheme": _url_part(lambda p: p.scheme),
    "getHost": _url_part(lambda p: p.netloc.rpartition("@")[2]),
    "getHostname": _url_part(_hostname),
    "getPort": _url_part(lambda p: p.netloc.rpartition("@")[2].rpartition("]")[2]
                         .partition(":")[2]),
    "getEscapedPath": _url_part(lambda p: p.path),
    "getQuery": _url_part(lambda p: parse_qs(p.query, keep_blank_values=True)),
    "isIP": f_is_ip, "ip": f_ip, "isCIDR": f_is_cidr, "cidr": f_cidr,
    "containsIP": f_contains_ip, "containsCIDR": f_contains_cidr,
    "family": _ip_method(lambda ip: ip.version),
    "isUnspecified": _ip_method(lambda ip: ip.is_unspecified),
    "isLoopback": _ip_method(lambda ip: ip.is_loopback),
    "isLinkLocalMulticast": _ip_method(lambda ip: ip.is_multicast and ip.is_link_local
                                       if ip.version == 6 else
                                       ip in ipaddress.ip_network("224.0.0.0/24")),
    "isLinkLocalUnicast": _ip_method(lambda ip: ip.is_link_local and not ip.is_multicast),
    "isGlobalUnicast": _ip_method(lambda ip: not (ip.is_unspecified or ip.is_loopback
                                                  or ip.is_multicast or ip.is_link_local
                                                  or ip == ipaddress.ip_address(
                                                      "255.255.255.255"))),
    "prefixLength": lambda t, a: t.net.prefixlen if isinstance(t, CIDRValue) else _bad(),
    "masked": lambda t, a: CIDRValue(t.net.network_address, t.net)
    if isinstance(t, CIDRValue) else _bad(),
    "isQuantity": f_is_quantity, "quantity": f_quantity,
    "isInteger": _qty_method(lambda v: v.denominator == 1, 0),
    "asInteger": _qty_method(_as_integer, 0),
    "asApproximateFloat": _qty_method(float, 0),
    "sign": _qty_method(lambda v: (v > 0) - (v < 0), 0),
    "add": _qty_method(lambda v, w: QuantityValue(v + w), 1),
    "sub": _qty_method(lambda v, w: QuantityValue(v - w), 1),
    "isGreaterThan": _qty_method(lambda v, w: v > w, 1),
    "isLessThan": _qty_method(lambda v, w: v < w, 1),
    "compareTo": _qty_method(lambda v, w: (v > w) - (v < w), 1),
}
