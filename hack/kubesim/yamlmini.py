"""A small YAML subset: enough for Kubernetes manifests sent as request bodies.

Supported: block mappings and sequences (including `- key: value` items),
flow collections (`{a: b}`, `[x, y]`), plain / single- / double-quoted
scalars, `|` and `>` block scalars, comments, a leading `---`.  Anchors,
tags and multi-document streams are not supported (ValueError).
`dump()` writes the block style the apiserver uses for application/yaml.
"""

import json
import re

_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


def _scalar(tok):
    t = tok.strip()
    if t == "" or t in ("~", "null", "Null", "NULL"):
        return None
    if t in ("true", "True", "TRUE"):
        return True
    if t in ("false", "False", "FALSE"):
        return False
    if t[0] == '"':
        return json.loads(t)
    if t[0] == "'":
        return t[1:-1].replace("''", "'")
    if _INT.match(t):
        return int(t)
    if _FLOAT.match(t) and any(c.isdigit() for c in t):
        return float(t)
    return t


def _strip_comment(line):
    out, q = [], None
    for i, ch in enumerate(line):
        if q:
            if ch == q:
                q = None
        elif ch in "\"'" and (i == 0 or line[i - 1] in " \t:[{,-"):
            q = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        out.append(ch)
    return "".join(out).rstrip()


class _Flow:
    def __init__(self, s):
        self.s, self.i = s, 0

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t\n":
            self.i += 1

    def value(self):
        self.ws()
        c = self.s[self.i:self.i + 1]
        if c == "{":
            self.i += 1
            d = {}
            while True:
                self.ws()
                if self.s[self.i:self.i + 1] == "}":
                    self.i += 1
                    return d
                k = self.atom(":")
                self.ws()
                if self.s[self.i:self.i + 1] != ":":
                    raise ValueError("expected ':' in flow mapping")
                self.i += 1
                d[k] = self.value()
                self.ws()
                if self.s[self.i:self.i + 1] == ",":
                    self.i += 1
        if c == "[":
            self.i += 1
            lst = []
            while True:
                self.ws()
                if self.s[self.i:self.i + 1] == "]":
                    self.i += 1
                    return lst
                lst.append(self.value())
                self.ws()
                if self.s[self.i:self.i + 1] == ",":
                    self.i += 1
        return self.atom(",]}")

    def atom(self, stops):
        self.ws()
        c = self.s[self.i:self.i + 1]
        if c in ("'", '"'):
            j = self.i + 1
            while j < len(self.s):
                if self.s[j] == "\\" and c == '"':
                    j += 2
                    continue
                if self.s[j] == c:
                    if c == "'" and self.s[j + 1:j + 2] == "'":
                        j += 2
                        continue
                    break
                j += 1
            tok = self.s[self.i:j + 1]
            self.i = j + 1
            return _scalar(tok)
        j = self.i
        while j < len(self.s) and self.s[j] not in stops:
            if stops == ":" and self.s[j] == ":" and self.s[j + 1:j + 2] in (" ", "", ",", "}"):
                break
            if stops == ":" and self.s[j] in ",}":
                break
            j += 1
        tok = self.s[self.i:j]
        self.i = j
        return _scalar(tok)


def _flow(text):
    f = _Flow(text)
    v = f.value()
    f.ws()
    if f.i != len(f.s):
        raise ValueError("trailing characters in flow value")
    return v


def _split_key(s):
    """'key: rest' -> (key, rest) or None when s is not a mapping entry."""
    if s[:1] in ("'", '"'):
        q = s[0]
        j = s.find(q, 1)
        while q == "'" and j >= 0 and s[j + 1:j + 2] == "'":
            j = s.find(q, j + 2)
        if j > 0 and s[j + 1:j + 2] == ":" and s[j + 2:j + 3] in ("", " "):
            return _scalar(s[:j + 1]), s[j + 2:].strip()
        return None
    m = re.match(r"^([^\s{\[][^:#]*?|[^:]*?)\s*:(\s|$)", s)
    if not m or s.startswith("- ") or s.startswith("{") or s.startswith("["):
        return None
    return m.group(1).strip(), s[m.end():].strip()


class _Parser:
    def __init__(self, text):
        self.lines = []
        raw = text.split("\n")
        self.raw = raw
        for n, line in enumerate(raw):
            if line.strip() in ("---", "...") or not _strip_comment(line).strip():
                self.lines.append(None)
                continue
            if "\t" in line[:len(line) - len(line.lstrip())]:
                raise ValueError("found character that cannot start any token")
            self.lines.append(line)
        self.i = 0

    def peek(self):
        while self.i < len(self.lines) and self.lines[self.i] is None:
            self.i += 1
        if self.i >= len(self.lines):
            return None, None
        line = self.lines[self.i]
        return len(line) - len(line.lstrip(" ")), _strip_comment(line).strip()

    def parse(self, indent):
        ind, text = self.peek()
        if text is None:
            return None
        if text.startswith("- ") or text == "-":
            return self.seq(ind)
        return self.mapping(ind)

    def value_after(self, rest, indent):
        """The value of a key or item whose inline text is rest."""
        if rest in ("|", "|-", "|+", ">", ">-", ">+"):
            return self.block_scalar(rest, indent)
        if rest == "":
            ind, text = self.peek()
            if text is None or ind < indent or (ind == indent and not text.startswith("-")):
                return None
            return self.parse(ind)
        if rest[0] in "{[":
            return _flow(self.gather(rest, indent))
        if rest[0] in "&*!":
            raise ValueError("anchors, aliases and tags are not supported")
        return _scalar(rest)

    def gather(self, rest, indent):
        text = rest
        depth = sum(text.count(c) for c in "{[") - sum(text.count(c) for c in "}]")
        while depth > 0:
            ind, nxt = self.peek()
            if nxt is None:
                raise ValueError("unterminated flow collection")
            self.i += 1
            text += " " + nxt
            depth = sum(text.count(c) for c in "{[") - sum(text.count(c) for c in "}]")
        return text

    def block_scalar(self, style, indent):
        lines = []
        block_ind = None
        while self.i < len(self.raw):
            line = self.raw[self.i]
            if line.strip() == "":
                lines.append("")
                self.i += 1
                continue
            ind = len(line) - len(line.lstrip(" "))
            if ind <= indent:
                break
            if block_ind is None:
                block_ind = ind
            lines.append(line[block_ind:])
            self.i += 1
        while lines and lines[-1] == "":
            lines.pop()
        if style.startswith("|"):
            s = "\n".join(lines)
        else:
            s = " ".join(l for l in lines)
        if not style.endswith("-"):
            s += "\n"
        return s

    def mapping(self, indent):
        d = {}
        while True:
            ind, text = self.peek()
            if text is None or ind < indent:
                return d
            if ind > indent:
                raise ValueError("bad indentation of a mapping entry")
            kv = _split_key(text)
            if kv is None:
                if text.startswith("- "):
                    return d
                raise ValueError("could not find expected ':'")
            self.i += 1
            k, rest = kv
            d[k] = self.value_after(rest, indent)

    def seq(self, indent):
        lst = []
        while True:
            ind, text = self.peek()
            if text is None or ind < indent or not (text.startswith("- ") or text == "-"):
                return lst
            if ind > indent:
                raise ValueError("bad indentation of a sequence entry")
            rest = text[1:].strip()
            nested = rest.startswith("- ") or rest == "-"
            kv = _split_key(rest) if rest and rest[0] not in "{[" else None
            if kv is not None or nested:
                item_ind = ind + (len(text) - len(rest))
                self.lines[self.i] = " " * item_ind + rest
                lst.append(self.parse(item_ind))
            else:
                self.i += 1
                lst.append(self.value_after(rest, indent))


def load(text):
    p = _Parser(text)
    ind, first = p.peek()
    if first is None:
        return None
    if first[0] in "{[":
        return _flow(p.gather(first, ind))
    v = p.parse(ind)
    ind, rest = p.peek()
    if rest is not None:
        raise ValueError("did not find expected key (line %d)" % (p.i + 1))
    return v


# ---------------------------------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./\- ]*$")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def _dump_scalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    s = str(v)
    if s and _PLAIN.match(s) and s.lower() not in _RESERVED and not s.endswith(" "):
        return s
    return json.dumps(s)


def dump(v, indent=0):
    pad = " " * indent
    out = []
    if isinstance(v, dict):
        if not v:
            return pad + "{}\n"
        for k in sorted(v):
            x = v[k]
            key = _dump_scalar(k)
            if isinstance(x, dict) and x:
                out.append("%s%s:\n%s" % (pad, key, dump(x, indent + 2)))
            elif isinstance(x, list) and x:
                out.append("%s%s:\n%s" % (pad, key, dump(x, indent)))
            elif isinstance(x, dict):
                out.append("%s%s: {}\n" % (pad, key))
            elif isinstance(x, list):
                out.append("%s%s: []\n" % (pad, key))
            else:
                out.append("%s%s: %s\n" % (pad, key, _dump_scalar(x)))
        return "".join(out)
    if isinstance(v, list):
        for x in v:
            if isinstance(x, (dict, list)) and x:
                inner = dump(x, indent + 2)
                out.append(pad + "- " + inner[indent + 2:])
            else:
                out.append(pad + "- " + (_dump_scalar(x) if not isinstance(x, (dict, list))
                                         else ("{}" if isinstance(x, dict) else "[]")) + "\n")
        return "".join(out)
    return pad + _dump_scalar(v) + "\n"
