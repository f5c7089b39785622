"""A tiny YAML reader for the stand-ins (Python standard library only).

It reads the YAML this project actually feeds it: kubeconfigs written by kubectl or
by hack/kubesim, and the CRD fixtures in hack/crds/. That is block-style YAML:
mappings, sequences (also "- " items at the parent key's indentation, as kubectl
writes them), plain / single-quoted / double-quoted scalars, one-line flow
collections ([a, "b"], {k: v}, {}, []), block scalars (|, |-, |+, >, >-), comments
and "---" document separators. A document that starts with "{" or "[" is read as
JSON. Anything else (anchors, aliases, tags, multi-line plain or quoted scalars,
multi-line flow collections, complex keys) raises YamlError with the line number
instead of being misread.

Scalars resolve like the YAML 1.2 core schema: null/~ -> None, true/false -> bool,
decimal integers -> int, decimal floats -> float, everything else -> str. Quoted
scalars are always strings.
"""

import json
import re

__all__ = ["YamlError", "load", "load_all"]


class YamlError(ValueError):
    """The text is not YAML, or uses a construct this reader does not support."""

    def __init__(self, msg, lineno=None):
        if lineno is not None:
            msg = "line %d: %s" % (lineno + 1, msg)
        super().__init__(msg)


_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$|^[-+]?[0-9]+[eE][-+]?[0-9]+$")
_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v",
            "f": "\f", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
            "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"}


def _resolve_plain(s):
    if s in ("", "~", "null", "Null", "NULL"):
        return None
    if s in ("true", "True", "TRUE"):
        return True
    if s in ("false", "False", "FALSE"):
        return False
    if _INT.match(s):
        return int(s)
    if _FLOAT.match(s):
        return float(s)
    return s


def _read_double(s, pos, lineno):
    """Parse a double-quoted scalar starting at s[pos] == '"'. Returns (str, end)."""
    out = []
    i = pos + 1
    while i < len(s):
        c = s[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            i += 1
            if i >= len(s):
                break
            e = s[i]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 1
                continue
            width = {"x": 2, "u": 4, "U": 8}.get(e)
            if width is None:
                raise YamlError("unknown escape \\%s" % e, lineno)
            digits = s[i + 1:i + 1 + width]
            if len(digits) != width:
                raise YamlError("short \\%s escape" % e, lineno)
            out.append(chr(int(digits, 16)))
            i += 1 + width
            continue
        out.append(c)
        i += 1
    raise YamlError("unterminated double-quoted string (multi-line strings are not supported)", lineno)


def _read_single(s, pos, lineno):
    """Parse a single-quoted scalar starting at s[pos] == "'". Returns (str, end)."""
    out = []
    i = pos + 1
    while i < len(s):
        c = s[i]
        if c == "'":
            if s[i + 1:i + 2] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise YamlError("unterminated single-quoted string (multi-line strings are not supported)", lineno)


def _read_quoted(s, pos, lineno):
    if s[pos] == '"':
        return _read_double(s, pos, lineno)
    return _read_single(s, pos, lineno)


def _rest_is_comment(s, lineno):
    s = s.strip()
    if s and not s.startswith("#"):
        raise YamlError("unexpected text after value: %r" % s, lineno)


def _strip_plain_comment(s):
    m = re.search(r"\s#", s)
    return (s[:m.start()] if m else s).strip()


class _Flow:
    """Parser for one-line flow collections."""

    def __init__(self, s, lineno):
        self.s, self.i, self.lineno = s, 0, lineno

    def err(self, msg):
        return YamlError(msg, self.lineno)

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def value(self):
        self.ws()
        if self.i >= len(self.s):
            raise self.err("unterminated flow collection (multi-line flow is not supported)")
        c = self.s[self.i]
        if c == "[":
            return self.seq()
        if c == "{":
            return self.map()
        if c in "\"'":
            v, self.i = _read_quoted(self.s, self.i, self.lineno)
            return v
        if c in "&*!":
            raise self.err("anchors, aliases and tags are not supported")
        start = self.i
        while self.i < len(self.s) and self.s[self.i] not in ",]}":
            if self.s[self.i] == ":" and self.s[self.i + 1:self.i + 2] in (" ", ",", "]", "}", ""):
                break
            self.i += 1
        return _resolve_plain(self.s[start:self.i].strip())

    def seq(self):
        self.i += 1
        out = []
        while True:
            self.ws()
            if self.s[self.i:self.i + 1] == "]":
                self.i += 1
                return out
            out.append(self.value())
            self.ws()
            c = self.s[self.i:self.i + 1]
            if c == ",":
                self.i += 1
            elif c != "]":
                raise self.err("expected , or ] in flow sequence")

    def map(self):
        self.i += 1
        out = {}
        while True:
            self.ws()
            if self.s[self.i:self.i + 1] == "}":
                self.i += 1
                return out
            key = self.value()
            self.ws()
            val = None
            if self.s[self.i:self.i + 1] == ":":
                self.i += 1
                self.ws()
                if self.s[self.i:self.i + 1] not in (",", "}"):
                    val = self.value()
            out[_key(key, self.lineno)] = val
            self.ws()
            c = self.s[self.i:self.i + 1]
            if c == ",":
                self.i += 1
            elif c != "}":
                raise self.err("expected , or } in flow mapping")


def _key(k, lineno):
    if isinstance(k, (dict, list)):
        raise YamlError("complex mapping keys are not supported", lineno)
    if k is None:
        return ""
    if isinstance(k, bool):
        return "true" if k else "false"
    return k if isinstance(k, str) else str(k)


def _inline_value(text, lineno):
    """A value written on the same line as its key or dash (no block scalar)."""
    if not text:
        return None
    c = text[0]
    if c in "\"'":
        v, end = _read_quoted(text, 0, lineno)
        _rest_is_comment(text[end:], lineno)
        return v
    if c in "[{":
        f = _Flow(text, lineno)
        v = f.value()
        _rest_is_comment(f.s[f.i:], lineno)
        return v
    if c in "&*!%@`":
        raise YamlError("anchors, aliases, tags and directives are not supported", lineno)
    return _resolve_plain(_strip_plain_comment(text))


def _split_key(content, lineno):
    """If the line is `key: ...`, return (key, rest); else None."""
    if content[0] in "\"'":
        k, end = _read_quoted(content, 0, lineno)
        rest = content[end:].lstrip(" \t")
        if rest.startswith(":") and (len(rest) == 1 or rest[1] in " \t"):
            return k, rest[1:].strip()
        return None
    if content[0] in "[{#" or content.startswith("- ") or content == "-":
        return None
    m = re.match(r"^(.*?):(?:[ \t]+|$)", content)
    if not m or " #" in m.group(1):
        return None
    return m.group(1).rstrip(), content[m.end():]


class _Block:
    def __init__(self, lines):
        self.lines = lines  # list of (lineno, raw line)
        self.i = 0

    def peek(self):
        """Next significant line as (indent, content, lineno), skipping blanks/comments."""
        while self.i < len(self.lines):
            lineno, raw = self.lines[self.i]
            stripped = raw.lstrip(" ")
            if "\t" in raw[:len(raw) - len(stripped)]:
                raise YamlError("tab in indentation", lineno)
            if stripped.strip() == "" or stripped.startswith("#"):
                self.i += 1
                continue
            return len(raw) - len(stripped), stripped.rstrip(), lineno
        return None

    def node(self, min_indent):
        nxt = self.peek()
        if nxt is None or nxt[0] < min_indent:
            return None
        indent, content, lineno = nxt
        if content == "-" or content.startswith("- "):
            return self.seq(indent)
        if _split_key(content, lineno) is not None:
            return self.map(indent)
        self.i += 1
        v = _inline_value(content, lineno)
        after = self.peek()
        if after is not None and after[0] >= min_indent:
            raise YamlError("multi-line scalars are not supported", after[2])
        return v

    def value_after(self, indent, rest, lineno, seq_ok):
        """The value of a key (or dash) whose line continues with `rest`."""
        if rest[:1] in ("|", ">"):
            return self.block_scalar(indent, rest, lineno)
        if rest and not rest.startswith("#"):
            return _inline_value(rest, lineno)
        nxt = self.peek()
        if nxt is None:
            return None
        if nxt[0] > indent:
            return self.node(nxt[0])
        if seq_ok and nxt[0] == indent and (nxt[1] == "-" or nxt[1].startswith("- ")):
            return self.seq(indent)
        return None

    def map(self, indent):
        out = {}
        while True:
            nxt = self.peek()
            if nxt is None or nxt[0] < indent:
                return out
            ind, content, lineno = nxt
            if ind > indent:
                raise YamlError("bad indentation", lineno)
            kv = _split_key(content, lineno)
            if kv is None:
                if content == "-" or content.startswith("- "):
                    return out
                raise YamlError("expected `key: value`", lineno)
            self.i += 1
            key, rest = kv
            if key in out:
                raise YamlError("duplicate key %r" % key, lineno)
            out[key] = self.value_after(indent, rest, lineno, seq_ok=True)

    def seq(self, indent):
        out = []
        while True:
            nxt = self.peek()
            if nxt is None or nxt[0] != indent or not (nxt[1] == "-" or nxt[1].startswith("- ")):
                if nxt is not None and nxt[0] > indent:
                    raise YamlError("bad indentation", nxt[2])
                return out
            ind, content, lineno = nxt
            after = content[1:].lstrip(" ")
            col = ind + len(content) - len(after)
            if after == "" or after.startswith("#"):
                self.i += 1
                out.append(self.value_after(indent, "", lineno, seq_ok=False))
            elif after[:1] in ("|", ">"):
                self.i += 1
                out.append(self.block_scalar(indent, after, lineno))
            elif after == "-" or after.startswith("- ") or _split_key(after, lineno) is not None:
                # The item is a mapping or sequence whose first line shares the dash's line:
                # re-read that line as if it started at the item's column.
                self.lines[self.i] = (lineno, " " * col + after)
                out.append(self.node(col))
            else:
                self.i += 1
                out.append(_inline_value(after, lineno))

    def block_scalar(self, indent, header, lineno):
        m = re.match(r"^([|>])([-+]?)\s*(#.*)?$", header)
        if not m:
            raise YamlError("unsupported block scalar header %r" % header, lineno)
        style, chomp = m.group(1), m.group(2)
        body, block_indent = [], None
        while self.i < len(self.lines):
            _, raw = self.lines[self.i]
            if raw.strip() == "":
                body.append("")
                self.i += 1
                continue
            ind = len(raw) - len(raw.lstrip(" "))
            if block_indent is None:
                if ind <= indent:
                    break
                block_indent = ind
            if ind < block_indent:
                break
            body.append(raw[block_indent:].rstrip("\r"))
            self.i += 1
        trailing = 0
        while body and body[-1] == "":
            body.pop()
            trailing += 1
        if style == "|":
            text = "\n".join(body)
        else:
            text = _fold(body)
        if not body:
            return ""
        if chomp == "-":
            return text
        if chomp == "+":
            return text + "\n" * (trailing + 1)
        return text + "\n"


def _fold(lines):
    out, prev_more = "", False
    for n, line in enumerate(lines):
        more = line.startswith((" ", "\t"))
        if n == 0:
            out = line
        elif line == "":
            out += "\n"
        elif out.endswith("\n") or more or prev_more:
            out += ("" if out.endswith("\n") else "\n") + line
        else:
            out += " " + line
        prev_more = more
    return out


def _documents(text):
    docs, cur = [], []
    for lineno, raw in enumerate(text.split("\n")):
        raw = raw.rstrip("\r")
        if raw.startswith("%"):
            raise YamlError("directives are not supported", lineno)
        if raw == "---" or raw.startswith("--- ") or raw == "...":
            if raw.startswith("--- ") and raw[4:].strip() and not raw[4:].strip().startswith("#"):
                raise YamlError("content on the --- line is not supported", lineno)
            docs.append(cur)
            cur = []
            continue
        cur.append((lineno, raw))
    docs.append(cur)
    return docs


def _load_doc(lines):
    b = _Block(lines)
    first = b.peek()
    if first is None:
        return None
    if first[1][:1] in "{[":
        text = "\n".join(raw for _, raw in lines)
        try:
            return json.loads(text)
        except ValueError:
            pass  # a one-line flow collection that is not JSON
    v = b.node(0)
    rest = b.peek()
    if rest is not None:
        raise YamlError("unexpected content", rest[2])
    return v


def load_all(text):
    """Every document of `text` (str) as Python objects; empty documents are skipped."""
    if text.startswith("\ufeff"):
        text = text[1:]
    out = []
    for lines in _documents(text):
        if any(raw.strip() and not raw.lstrip().startswith("#") for _, raw in lines):
            out.append(_load_doc(lines))
    return out


def load(text):
    """The single document in `text` (None when empty). More than one document is an error."""
    docs = load_all(text)
    if len(docs) > 1:
        raise YamlError("expected one YAML document, found %d" % len(docs))
    return docs[0] if docs else None
