"""A small CEL (Common Expression Language) front end: lexer and parser.

The stand-in API server evaluates the `x-kubernetes-validations` rules of
CustomResourceDefinitions with this module and cel_eval.py.  It covers the
CEL subset that CRD rules use in practice: literals, `self` / `oldSelf`,
field selection and indexing, `has()`, the list macros (all, exists,
exists_one, map, filter), operators, the ternary, function and method calls
(the functions themselves live in cel_eval.py) and the optional syntax
`a.?b` / `a[?k]`.  There is no static type checker: type errors show up at
evaluation time as "no such overload", as they do for dynamically typed
values in the real server.

Public API:
    compile(text, variables=("self", "oldSelf")) -> Program   (cached)
    Program.evaluate(activation: dict) -> value
    Program.uses_old_self: bool
    CELError       compile (syntax / undeclared reference) error
    CELEvalError   runtime error ("no such key: x", "no such overload", ...)
"""

import re

import cel_eval
from cel_eval import CELEvalError

__all__ = ["compile", "Program", "CELError", "CELEvalError", "parse"]


class CELError(Exception):
    """A rule that does not compile (syntax error, undeclared reference)."""


_RESERVED = {"as", "break", "const", "continue", "else", "for", "function",
             "if", "import", "let", "loop", "package", "namespace", "return",
             "var", "void", "while"}

_MACROS = {"all", "exists", "exists_one", "map", "filter"}

_TOKEN = re.compile(r"""
  (?P<ws>[ \t\r\n\f]+|//[^\n]*)
| (?P<float>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?)
| (?P<hex>0[xX][0-9a-fA-F]+[uU]?)
| (?P<int>\d+[uU]?)
| (?P<strstart>(?:[rR][bB]?|[bB][rR]?)?(?:'''|\"\"\"|'|\"))
| (?P<ident>[_a-zA-Z][_a-zA-Z0-9]*)
| (?P<op>\|\||&&|==|!=|<=|>=|\.\?|\[\?|[-+*/%!<>?:.,\[\](){}])
""", re.X)

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
            "v": "\v", "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?"}


def _err(text, pos, msg):
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return CELError("ERROR: <input>:%d:%d: Syntax error: %s" % (line, col, msg))


def _unescape(text, body, start, raw, is_bytes):
    if raw:
        return body.encode("utf-8") if is_bytes else body
    out = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise _err(text, start, "invalid escape sequence")
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in "xX" and re.match(r"[0-9a-fA-F]{2}", body[i + 2:i + 4]):
            out.append(chr(int(body[i + 2:i + 4], 16)))
            i += 4
        elif e == "u" and re.match(r"[0-9a-fA-F]{4}", body[i + 2:i + 6]):
            out.append(chr(int(body[i + 2:i + 6], 16)))
            i += 6
        elif e == "U" and re.match(r"[0-9a-fA-F]{8}", body[i + 2:i + 10]):
            out.append(chr(int(body[i + 2:i + 10], 16)))
            i += 10
        elif re.match(r"[0-3][0-7][0-7]", body[i + 1:i + 4]):
            out.append(chr(int(body[i + 1:i + 4], 8)))
            i += 4
        else:
            raise _err(text, start, "invalid escape sequence")
    s = "".join(out)
    if is_bytes:
        return s.encode("latin-1", errors="ignore") if all(
            ord(ch) < 256 for ch in s) else s.encode("utf-8")
    return s


def tokenize(text):
    """Returns a list of (kind, value, pos); kinds: num, str, bytes, ident, op, eof."""
    toks = []
    pos, n = 0, len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if not m:
            raise _err(text, pos, "token recognition error at: '%s'" % text[pos])
        kind = m.lastgroup
        val = m.group(kind)
        if kind == "ws":
            pos = m.end()
            continue
        if kind == "strstart":
            prefix = val.rstrip("'\"")
            quote = val[len(prefix):]
            raw = "r" in prefix.lower()
            is_bytes = "b" in prefix.lower()
            i = m.end()
            while True:
                if i >= n:
                    raise _err(text, pos, "unterminated string literal")
                if text.startswith(quote, i):
                    break
                if text[i] == "\\" and not raw:
                    i += 2
                    continue
                if text[i] == "\n" and len(quote) == 1:
                    raise _err(text, pos, "unterminated string literal")
                i += 1
            body = text[m.end():i]
            v = _unescape(text, body, pos, raw, is_bytes)
            toks.append(("bytes" if is_bytes else "str", v, pos))
            pos = i + len(quote)
            continue
        if kind == "float":
            toks.append(("num", float(val), pos))
        elif kind in ("int", "hex"):
            unsigned = val[-1] in "uU"
            digits = val[:-1] if unsigned else val
            v = int(digits, 16) if kind == "hex" else int(digits)
            if unsigned:
                if v > 0xFFFFFFFFFFFFFFFF:
                    raise _err(text, pos, "invalid uint literal")
                v = cel_eval.UInt(v)
            toks.append(("num", v, pos))
        elif kind == "ident":
            toks.append(("ident", val, pos))
        else:
            toks.append(("op", val, pos))
        pos = m.end()
    toks.append(("eof", None, n))
    return toks


# AST nodes are tuples: (tag, ...). Tags:
#   lit v | ident name | select operand field optional | has operand field
#   index operand key optional | call name target args | list items
#   map [(k, v)] | cond c t f | and l r | or l r | not x | neg x
#   binop op l r | comp macro target var expr expr2
class _Parser:
    def __init__(self, text):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self, off=0):
        return self.toks[min(self.i + off, len(self.toks) - 1)]

    def next(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def accept(self, op):
        t = self.toks[self.i]
        if t[0] == "op" and t[1] == op:
            self.i += 1
            return True
        return False

    def expect(self, op):
        t = self.toks[self.i]
        if not (t[0] == "op" and t[1] == op):
            got = "<EOF>" if t[0] == "eof" else repr(t[1])
            raise _err(self.text, t[2], "mismatched input %s expecting '%s'"
                       % (got, op))
        self.i += 1

    def parse(self):
        e = self.expr()
        t = self.peek()
        if t[0] != "eof":
            raise _err(self.text, t[2], "extraneous input %r expecting <EOF>"
                       % (t[1],))
        return e

    def expr(self):
        self.depth += 1
        if self.depth > 250:
            raise _err(self.text, self.peek()[2], "expression recursion limit exceeded")
        c = self.cond_or()
        if self.accept("?"):
            t = self.cond_or()
            self.expect(":")
            f = self.expr()
            c = ("cond", c, t, f)
        self.depth -= 1
        return c

    def cond_or(self):
        e = self.cond_and()
        while self.accept("||"):
            e = ("or", e, self.cond_and())
        return e

    def cond_and(self):
        e = self.relation()
        while self.accept("&&"):
            e = ("and", e, self.relation())
        return e

    def relation(self):
        e = self.addition()
        while True:
            t = self.peek()
            if t[0] == "op" and t[1] in ("<", "<=", ">", ">=", "==", "!="):
                self.i += 1
                e = ("binop", t[1], e, self.addition())
            elif t[0] == "ident" and t[1] == "in":
                self.i += 1
                e = ("binop", "in", e, self.addition())
            else:
                return e

    def addition(self):
        e = self.multiplication()
        while True:
            t = self.peek()
            if t[0] == "op" and t[1] in ("+", "-"):
                self.i += 1
                e = ("binop", t[1], e, self.multiplication())
            else:
                return e

    def multiplication(self):
        e = self.unary()
        while True:
            t = self.peek()
            if t[0] == "op" and t[1] in ("*", "/", "%"):
                self.i += 1
                e = ("binop", t[1], e, self.unary())
            else:
                return e

    def unary(self):
        t = self.peek()
        if t[0] == "op" and t[1] == "!":
            self.i += 1
            return ("not", self.unary())
        if t[0] == "op" and t[1] == "-":
            self.i += 1
            nt = self.peek()
            if nt[0] == "num" and not isinstance(nt[1], cel_eval.UInt):
                # fold negative literals so that -9223372036854775808 works
                self.i += 1
                return self.member_tail(("lit", -nt[1]))
            return ("neg", self.unary())
        return self.member()

    def member(self):
        return self.member_tail(self.primary())

    def member_tail(self, e):
        while True:
            t = self.peek()
            if t[0] != "op":
                return e
            if t[1] in (".", ".?"):
                self.i += 1
                nt = self.next()
                if nt[0] != "ident":
                    raise _err(self.text, nt[2], "no viable alternative at input '.'")
                name = nt[1]
                if t[1] == "." and self.accept("("):
                    args = self.args(")")
                    e = self.method(e, name, args, nt[2])
                else:
                    e = ("select", e, name, t[1] == ".?")
            elif t[1] in ("[", "[?"):
                self.i += 1
                k = self.expr()
                self.expect("]")
                e = ("index", e, k, t[1] == "[?")
            else:
                return e

    def method(self, target, name, args, pos):
        if name in _MACROS and len(args) in (2, 3):
            var = args[0]
            if var[0] != "ident":
                raise _err(self.text, pos, "argument is not an identifier")
            if name == "map" and len(args) == 3:
                return ("comp", "map", target, var[1], args[2], args[1])
            if len(args) == 2:
                return ("comp", name, target, var[1], args[1], None)
        qual = _qualified(target)
        if qual is not None and qual in cel_eval.NAMESPACES:
            return ("call", qual + "." + name, None, args)
        return ("call", name, target, args)

    def args(self, close):
        out = []
        if self.accept(close):
            return out
        while True:
            out.append(self.expr())
            if self.accept(close):
                return out
            self.expect(",")
            if self.accept(close):  # trailing comma
                return out

    def primary(self):
        t = self.next()
        kind, val, pos = t
        if kind == "num":
            return ("lit", val)
        if kind in ("str", "bytes"):
            return ("lit", val)
        if kind == "ident":
            if val == "true":
                return ("lit", True)
            if val == "false":
                return ("lit", False)
            if val == "null":
                return ("lit", None)
            if val in _RESERVED or val == "in":
                raise _err(self.text, pos, "reserved identifier: %s" % val)
            if self.accept("("):
                args = self.args(")")
                if val == "has":
                    if len(args) != 1 or args[0][0] != "select" or args[0][3]:
                        raise _err(self.text, pos, "invalid argument to has() macro")
                    return ("has", args[0][1], args[0][2])
                return ("call", val, None, args)
            return ("ident", val)
        if kind == "op":
            if val == "(":
                e = self.expr()
                self.expect(")")
                return e
            if val == "[":
                return ("list", self.args("]"))
            if val == "{":
                return self.map_lit()
            if val == "." and self.peek()[0] == "ident":
                return self.primary()
        if kind == "eof":
            raise _err(self.text, pos, "mismatched input '<EOF>'")
        raise _err(self.text, pos, "mismatched input '%s'" % (val,))

    def map_lit(self):
        entries = []
        if self.accept("}"):
            return ("map", entries)
        while True:
            k = self.expr()
            self.expect(":")
            v = self.expr()
            entries.append((k, v))
            if self.accept("}"):
                return ("map", entries)
            self.expect(",")
            if self.accept("}"):
                return ("map", entries)


def _qualified(e):
    """'a.b' for select chains on identifiers, else None."""
    if e[0] == "ident":
        return e[1]
    if e[0] == "select" and not e[3]:
        q = _qualified(e[1])
        return None if q is None else q + "." + e[2]
    return None


def parse(text):
    """Parses `text` into an AST tuple; raises CELError."""
    if not isinstance(text, str):
        raise CELError("ERROR: <input>:1:1: Syntax error: rule is not a string")
    return _Parser(text).parse()


def _uses(ast, name):
    if isinstance(ast, tuple):
        if ast[0] == "ident" and ast[1] == name:
            return True
        return any(_uses(x, name) for x in ast[1:])
    if isinstance(ast, list):
        return any(_uses(x, name) for x in ast)
    return False


class Program:
    """A compiled expression: evaluate(activation) -> value."""

    __slots__ = ("text", "ast", "fn", "uses_old_self")

    def __init__(self, text, ast, fn):
        self.text = text
        self.ast = ast
        self.fn = fn
        self.uses_old_self = _uses(ast, "oldSelf")

    def evaluate(self, activation):
        """Returns the value; raises CELEvalError on a runtime error."""
        try:
            return self.fn(activation)
        except CELEvalError:
            raise
        except RecursionError:
            raise CELEvalError("expression too deeply nested")
        except (TypeError, ValueError, AttributeError, KeyError, IndexError,
                OverflowError, ZeroDivisionError) as e:
            raise CELEvalError("no such overload") from e


_CACHE = {}


def compile(text, variables=("self", "oldSelf")):
    """Parses and compiles `text` once per (text, variables); raises CELError."""
    key = (text, tuple(variables))
    p = _CACHE.get(key)
    if p is None:
        ast = parse(text)
        try:
            fn = cel_eval.compile_ast(ast, set(variables))
        except cel_eval.CompileError as e:
            raise CELError("ERROR: <input>:1:1: %s" % e) from None
        p = Program(text, ast, fn)
        if len(_CACHE) > 4096:
            _CACHE.clear()
        _CACHE[key] = p
    return p
