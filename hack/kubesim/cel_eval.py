"""CEL evaluation: compiles the AST from cel.py into Python closures.

Values are plain Python/JSON values: bool, int (CEL int, 64-bit checked),
UInt (CEL uint), float (double), str, bytes, None (null), list, dict (map),
datetime (timestamp), timedelta (duration), plus CelType, Optional and the
URL / IP / CIDR wrappers of the Kubernetes CEL libraries.  Runtime errors
are CELEvalError with the cel-go texts ("no such key: x", "no such
overload", "division by zero", ...).  Logical && / || absorb errors the way
CEL does (false && error == false).  Numbers mix leniently (int + double is
a double) because JSON does not tell 1 from 1.0.  The function library
lives in cel_lib.py.
"""

from datetime import datetime, timedelta

__all__ = ["compile_ast", "CELEvalError", "CompileError", "UInt", "CelType",
           "Optional", "NAMESPACES", "equals", "type_name", "go_float"]


class CELEvalError(Exception):
    """A runtime evaluation error; str(e) is the cel-go message."""


class CompileError(Exception):
    """Undeclared reference or unknown function found while compiling."""


class UInt(int):
    """A CEL uint (a Python int tagged as unsigned)."""


class CelType:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __eq__(self, other):
        return isinstance(other, CelType) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return self.name


class Optional:
    __slots__ = ("present", "value")

    def __init__(self, present, value=None):
        self.present = present
        self.value = value

    def __eq__(self, other):
        return (isinstance(other, Optional) and self.present == other.present
                and (not self.present or equals(self.value, other.value)))


NONE = Optional(False)
INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1
UINT_MAX = (1 << 64) - 1
TYPE_NAMES = {"int", "uint", "double", "string", "bool", "bytes", "list",
              "map", "null_type", "type"}
NAMESPACES = {"sets", "optional", "math", "strings"}


def no_overload():
    return CELEvalError("no such overload")


def go_float(v):
    """Formats a float like Go's %v / strconv 'g' with shortest precision."""
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if str(v).startswith("-") else "0"
    r = repr(float(v))
    sign = "-" if r.startswith("-") else ""
    r = r.lstrip("-")
    mant, _, exp = r.partition("e")
    e = int(exp) if exp else 0
    ip, _, fp = mant.partition(".")
    if fp == "0":
        fp = ""
    digits = (ip + fp).lstrip("0")
    lead = len(ip + fp) - len((ip + fp).lstrip("0"))
    dp = len(ip) + e - lead          # decimal point position in `digits`
    digits = digits.rstrip("0") or "0"
    x = dp - 1
    if x < -4 or x >= 6:
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (sign, m, "-" if x < 0 else "+", abs(x))
    if dp <= 0:
        return sign + "0." + "0" * (-dp) + digits
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return sign + digits[:dp] + "." + digits[dp:]


def type_name(v):
    t = type(v)
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if t is UInt:
        return "uint"
    if t is float:
        return "double"
    if t is str:
        return "string"
    if t is bytes:
        return "bytes"
    if v is None:
        return "null_type"
    if t is list:
        return "list"
    if t is dict:
        return "map"
    if t is datetime:
        return "google.protobuf.Timestamp"
    if t is timedelta:
        return "google.protobuf.Duration"
    if t is CelType:
        return "type"
    if t is Optional:
        return "optional_type"
    return getattr(v, "cel_type", t.__name__)


def is_num(v):
    t = type(v)
    return t is int or t is float or t is UInt


def check_int(v):
    if v < INT_MIN or v > INT_MAX:
        raise CELEvalError("integer overflow")
    return v


def check_uint(v):
    if v < 0 or v > UINT_MAX:
        raise CELEvalError("unsigned integer overflow")
    return UInt(v)


def equals(a, b):
    """CEL heterogeneous equality."""
    if a is None or b is None:
        return a is None and b is None
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if is_num(a) and is_num(b):
        return a == b
    if ta is list and tb is list:
        return len(a) == len(b) and all(equals(x, y) for x, y in zip(a, b))
    if ta is dict and tb is dict:
        if len(a) != len(b):
            return False
        for k, v in a.items():
            if k not in b or not equals(v, b[k]):
                return False
        return True
    if ta is not tb:
        return False
    return a == b


def compare(a, b):
    """-1/0/1 for ordered CEL types; raises no such overload otherwise."""
    ta, tb = type(a), type(b)
    if is_num(a) and is_num(b) and ta is not bool and tb is not bool:
        pass
    elif ta is not tb or ta not in (str, bytes, bool, datetime, timedelta):
        raise no_overload()
    return (a > b) - (a < b)


def _div_int(a, b):
    if b == 0:
        raise CELEvalError("division by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def arith(op, a, b):
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        if op == "+":
            return check_int(a + b)
        if op == "-":
            return check_int(a - b)
        if op == "*":
            return check_int(a * b)
        if op == "/":
            return check_int(_div_int(a, b))
        if b == 0:
            raise CELEvalError("modulus by zero")
        return a - b * _div_int(a, b)
    if ta is UInt and tb is UInt:
        if op == "/" or op == "%":
            if b == 0:
                raise CELEvalError("division by zero" if op == "/" else "modulus by zero")
            return UInt(a // b if op == "/" else a % b)
        return check_uint({"+": a + b, "-": a - b, "*": a * b}[op])
    if (ta is float or tb is float) and is_num(a) and is_num(b):
        a, b = float(a), float(b)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            if b == 0:
                return float("nan") if a == 0 else float("inf") * (1 if a > 0 else -1)
            return a / b
        raise no_overload()
    if op == "+":
        if (ta is str and tb is str) or (ta is bytes and tb is bytes) or (
                ta is list and tb is list):
            return a + b
        if ta is timedelta and tb in (timedelta, datetime):
            return b + a
        if ta is datetime and tb is timedelta:
            return a + b
    if op == "-":
        if ta is datetime and tb in (datetime, timedelta):
            return a - b
        if ta is timedelta and tb is timedelta:
            return a - b
    raise no_overload()


def contains(container, item):
    t = type(container)
    if t is list:
        return any(equals(item, x) for x in container)
    if t is dict:
        if type(item) is str:
            return item in container
        return any(equals(item, k) for k in container)
    raise no_overload()


_KEYWORDS = {"true", "false", "null", "in", "as", "break", "const", "continue",
             "else", "for", "function", "if", "import", "let", "loop",
             "package", "namespace", "return", "var", "void", "while"}


def unescape_field(name):
    """Kubernetes CEL property-name escaping (__dash__, __dot__, ...)."""
    if name.startswith("__") and name.endswith("__") and name[2:-2] in _KEYWORDS:
        return name[2:-2]
    if "__" not in name:
        return name
    out, i = [], 0
    table = (("__underscores__", "__"), ("__dot__", "."), ("__dash__", "-"),
             ("__slash__", "/"))
    while i < len(name):
        for esc, raw in table:
            if name.startswith(esc, i):
                out.append(raw)
                i += len(esc)
                break
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def select(v, field):
    t = type(v)
    if t is dict:
        if field in v:
            return v[field]
        alt = unescape_field(field)
        if alt in v:
            return v[alt]
        raise CELEvalError("no such key: %s" % field)
    if t is Optional:
        if not v.present:
            return NONE
        try:
            return Optional(True, select(v.value, field))
        except CELEvalError:
            return NONE
    attr = getattr(v, "cel_fields", None)
    if attr is not None and field in attr:
        return attr[field]
    raise no_overload()


def has_field(v, field):
    t = type(v)
    if t is dict:
        return field in v or unescape_field(field) in v
    if t is Optional:
        return v.present and has_field(v.value, field)
    raise no_overload()


def index(v, k):
    t = type(v)
    if t is list:
        tk = type(k)
        if tk is float and k == int(k):
            k = int(k)
        elif tk is not int and tk is not UInt:
            raise no_overload()
        if k < 0 or k >= len(v):
            raise CELEvalError("index '%d' out of range in list size '%d'" % (k, len(v)))
        return v[k]
    if t is dict:
        if type(k) is str or type(k) is bool:
            if k in v:
                return v[k]
        else:
            for kk, vv in v.items():
                if equals(kk, k):
                    return vv
        raise CELEvalError("no such key: %s" % (k if type(k) is not bool else str(k).lower()))
    if t is Optional:
        if not v.present:
            return NONE
        try:
            return Optional(True, index(v.value, k))
        except CELEvalError:
            return NONE
    raise no_overload()


# ---- closure compiler -------------------------------------------------

def compile_ast(ast, scope):
    import cel_lib  # late import: cel_lib imports this module
    return _Compiler(cel_lib.FUNCS).comp(ast, frozenset(scope))


def _as_bool(v):
    if v is True or v is False:
        return v
    raise no_overload()


class _Compiler:
    def __init__(self, funcs):
        self.funcs = funcs

    def comp(self, n, scope):
        return getattr(self, "c_" + n[0])(n, scope)

    def c_lit(self, n, scope):
        v = n[1]
        return lambda env: v

    def c_ident(self, n, scope):
        name = n[1]
        if name in scope:
            return lambda env: env[name]
        if name in TYPE_NAMES:
            t = CelType(name)
            return lambda env: t
        raise CompileError("undeclared reference to '%s' (in container '')" % name)

    def c_select(self, n, scope):
        operand = self.comp(n[1], scope)
        field = n[2]
        if n[3]:
            def opt_select(env):
                v = operand(env)
                if type(v) is Optional:
                    if not v.present:
                        return NONE
                    v = v.value
                if type(v) is dict and has_field(v, field):
                    return Optional(True, select(v, field))
                if type(v) is not dict:
                    raise no_overload()
                return NONE
            return opt_select
        return lambda env: select(operand(env), field)

    def c_has(self, n, scope):
        operand = self.comp(n[1], scope)
        field = n[2]
        return lambda env: has_field(operand(env), field)

    def c_index(self, n, scope):
        operand = self.comp(n[1], scope)
        key = self.comp(n[2], scope)
        if n[3]:
            def opt_index(env):
                v, k = operand(env), key(env)
                if type(v) is Optional:
                    if not v.present:
                        return NONE
                    v = v.value
                try:
                    return Optional(True, index(v, k))
                except CELEvalError:
                    return NONE
            return opt_index
        return lambda env: index(operand(env), key(env))

    def c_list(self, n, scope):
        items = [self.comp(x, scope) for x in n[1]]
        return lambda env: [f(env) for f in items]

    def c_map(self, n, scope):
        entries = [(self.comp(k, scope), self.comp(v, scope)) for k, v in n[1]]

        def build(env):
            out = {}
            for kf, vf in entries:
                k = kf(env)
                if type(k) not in (str, int, UInt, bool):
                    raise CELEvalError("unsupported key type")
                if k in out:
                    raise CELEvalError("Failed with repeated key")
                out[k] = vf(env)
            return out
        return build

    def c_cond(self, n, scope):
        c, t, f = (self.comp(x, scope) for x in n[1:])
        return lambda env: t(env) if _as_bool(c(env)) else f(env)

    def c_and(self, n, scope):
        return self._logic(n, scope, False)

    def c_or(self, n, scope):
        return self._logic(n, scope, True)

    def _logic(self, n, scope, short):
        left, right = self.comp(n[1], scope), self.comp(n[2], scope)

        def f(env):
            try:
                a = left(env)
            except CELEvalError as e:
                a = e
            if a is short:
                return short
            try:
                b = right(env)
            except CELEvalError as e:
                b = e
            if b is short:
                return short
            for x in (a, b):
                if isinstance(x, CELEvalError):
                    raise x
            if (a is True or a is False) and (b is True or b is False):
                return not short
            raise no_overload()
        return f

    def c_not(self, n, scope):
        x = self.comp(n[1], scope)
        return lambda env: not _as_bool(x(env))

    def c_neg(self, n, scope):
        x = self.comp(n[1], scope)

        def neg(env):
            v = x(env)
            t = type(v)
            if t is int:
                return check_int(-v)
            if t is float:
                return -v
            if t is timedelta:
                return -v
            raise no_overload()
        return neg

    def c_binop(self, n, scope):
        op = n[1]
        a, b = self.comp(n[2], scope), self.comp(n[3], scope)
        if op == "==":
            return lambda env: equals(a(env), b(env))
        if op == "!=":
            return lambda env: not equals(a(env), b(env))
        if op == "<":
            return lambda env: compare(a(env), b(env)) < 0
        if op == "<=":
            return lambda env: compare(a(env), b(env)) <= 0
        if op == ">":
            return lambda env: compare(a(env), b(env)) > 0
        if op == ">=":
            return lambda env: compare(a(env), b(env)) >= 0
        if op == "in":
            return lambda env: contains(b(env), a(env))
        return lambda env: arith(op, a(env), b(env))

    def c_call(self, n, scope):
        name, target, args = n[1], n[2], n[3]
        fn = self.funcs.get(name)
        if fn is None:
            raise CompileError("undeclared reference to '%s' (in container '')" % name)
        argf = [self.comp(x, scope) for x in args]
        if target is None:
            return lambda env: fn(None, [f(env) for f in argf])
        tf = self.comp(target, scope)
        return lambda env: fn(tf(env), [f(env) for f in argf])

    def c_comp(self, n, scope):
        macro, target, var = n[1], n[2], n[3]
        tf = self.comp(target, scope)
        inner = scope | {var}
        body = self.comp(n[4], inner)
        pred = self.comp(n[5], inner) if n[5] is not None else None
        run = getattr(self, "m_" + macro)

        def f(env):
            coll = tf(env)
            if type(coll) is dict:
                items = list(coll.keys())
            elif type(coll) is list:
                items = coll
            else:
                raise no_overload()
            env2 = dict(env)
            return run(items, env2, var, body, pred)
        return f

    @staticmethod
    def m_all(items, env, var, body, pred):
        err = None
        for it in items:
            env[var] = it
            try:
                r = body(env)
            except CELEvalError as e:
                err = err or e
                continue
            if r is False:
                return False
            if r is not True:
                err = err or no_overload()
        if err:
            raise err
        return True

    @staticmethod
    def m_exists(items, env, var, body, pred):
        err = None
        for it in items:
            env[var] = it
            try:
                r = body(env)
            except CELEvalError as e:
                err = err or e
                continue
            if r is True:
                return True
            if r is not False:
                err = err or no_overload()
        if err:
            raise err
        return False

    @staticmethod
    def m_exists_one(items, env, var, body, pred):
        count = 0
        for it in items:
            env[var] = it
            if _as_bool(body(env)):
                count += 1
        return count == 1

    @staticmethod
    def m_map(items, env, var, body, pred):
        out = []
        for it in items:
            env[var] = it
            if pred is not None and not _as_bool(pred(env)):
                continue
            out.append(body(env))
        return out

    @staticmethod
    def m_filter(items, env, var, body, pred):
        out = []
        for it in items:
            env[var] = it
            if _as_bool(body(env)):
                out.append(it)
        return out
