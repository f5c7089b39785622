"""Server-side apply and managedFields, after structured-merge-diff v4.

Field sets are Python sets of paths; a path is a tuple of fieldsV1 path
elements: "f:<name>", 'k:{"type":"Ready"}' (list-map item), 'v:"x"' (set
item), "i:<n>" (index).  They are stored in metadata.managedFields as
fieldsV1 trees (a member that has children carries ".").

    apply(live, applied, manager, force, list_map_keys=None, *,
          subresource=None, api_version=None, time=None, ignore_paths=())
        -> (new_obj, conflicts)
    update_managed_fields(old, new, manager, operation, subresource,
          api_version, time, list_map_keys=None, ignore_paths=())
        -> new_obj_with_managedFields   (old None: a create, compared with
           the kind's zero-valued object, see ssa_types.empty_object)
    format_conflict_message(conflicts) -> str
    field_set(obj, list_map_keys=None, kind=None) -> set of paths
    to_fields_v1(paths) -> dict;   from_fields_v1(dict) -> set of paths

Semantics (as kube-apiserver 1.32): the applier owns exactly the fields of
its configuration (leaves, list items, atomic lists/maps); fields it owned
in its previous apply and no longer sends are removed unless another entry
owns them; a change to a field owned by another entry is a conflict
(FieldManagerConflict causes, 409) unless force, which moves ownership;
an Update (PUT, merge / JSON / strategic patch) takes every field it adds or
changes, even from other owners, and fields that disappear are released
by everybody.  An Apply entry and an Update entry of the same manager are
different owners; Update entries are also per apiVersion.  Entry times
change only when the object's values change (a first apply that changes
nothing gets an entry without a time).  apiVersion, kind and the
server-owned metadata fields (name, namespace, uid, resourceVersion,
generation, creationTimestamp, managedFields, selfLink) are never owned.
"""

import datetime
import json

import ssa_types

__all__ = ["apply", "update_managed_fields", "format_conflict_message",
           "field_set", "to_fields_v1", "from_fields_v1"]

_STRIP_EXACT = {("f:metadata",)}
_STRIP_TREE = {("f:apiVersion",), ("f:kind",)} | {
    ("f:metadata", "f:" + n) for n in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid",
        "clusterName", "generation", "managedFields", "resourceVersion")}


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_enc_str = json.encoder.encode_basestring


def _kjson(v):
    """Go json.Marshal of a key value / key map (sorted keys, HTML-escaped)."""
    t = type(v)
    if t is str:
        s = _enc_str(v)
    elif t is dict and all(type(x) in (str, int) for x in v.values()):
        s = "{" + ",".join(_enc_str(k) + ":" + (_enc_str(x) if type(x) is str else str(x))
                           for k, x in sorted(v.items())) + "}"
    else:
        s = json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if "<" in s or ">" in s or "&" in s:
        s = s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return s


def _clone(v):
    """Deep copy of a JSON value (much faster than copy.deepcopy)."""
    t = type(v)
    if t is dict:
        return {k: _clone(x) for k, x in v.items()}
    if t is list:
        return [_clone(x) for x in v]
    return v


def _names(path):
    return tuple(pe[2:] for pe in path if pe.startswith("f:"))


def _item_pe(item, spec):
    if spec == "set":
        return "v:" + _kjson(item)
    key = {}
    if isinstance(item, dict):
        for k in spec["keys"]:
            if k in item:
                key[k] = item[k]
            elif k in spec["defaults"]:
                key[k] = spec["defaults"][k]
    return "k:" + _kjson(key)


def _is_map_spec(spec):
    return isinstance(spec, dict)


# ---- field sets ------------------------------------------------------------

def _walk_set(v, names, pp, out, lt, with_nodes):
    """ToFieldSet (with_nodes=False) or 'everything added' (with_nodes=True)."""
    if with_nodes and pp:
        out.add(pp)
    if isinstance(v, dict):
        if names and lt(names) == "atomic":
            out.add(pp)
            return
        for k, cv in v.items():
            _walk_set(cv, names + (k,), pp + ("f:" + k,), out, lt, with_nodes)
    elif isinstance(v, list):
        spec = lt(names)
        if _is_map_spec(spec):
            for item in v:
                ipp = pp + (_item_pe(item, spec),)
                out.add(ipp)
                if isinstance(item, dict) and not spec.get("atomic_items"):
                    for k, cv in item.items():
                        _walk_set(cv, names + (k,), ipp + ("f:" + k,), out, lt, with_nodes)
        elif spec == "set":
            for item in v:
                out.add(pp + (_item_pe(item, "set"),))
        else:
            out.add(pp)
    else:
        out.add(pp)


def _strip(paths, ignore):
    out = set()
    for p in paths:
        if not p or p in _STRIP_EXACT:
            continue
        if p[:1] in _STRIP_TREE or p[:2] in _STRIP_TREE:  # its entries are 1 or 2 long
            continue
        if any(p[:len(t)] == t for t in ignore):
            continue
        out.add(p)
    return out


def _ignore_tuples(ignore_paths):
    out = []
    for p in ignore_paths or ():
        parts = p.split(".") if isinstance(p, str) else list(p)
        out.append(tuple("f:" + x for x in parts))
    return out


def field_set(obj, list_map_keys=None, kind=None):
    """The set of paths an apply configuration `obj` would own."""
    lt = ssa_types.make_resolver(list_map_keys, kind or (obj or {}).get("kind"))
    out = set()
    _walk_set(obj or {}, (), (), out, lt, False)
    return _strip(out, [])


# ---- fieldsV1 encoding -----------------------------------------------------

def _pe_order(pe):
    rank = {"f": 0, "k": 1, "v": 2, "i": 3}.get(pe[0], 4)
    if pe[0] == "i":
        return (rank, int(pe[2:]), "")
    return (rank, 0, pe)


def to_fields_v1(paths):
    """Encodes a set of paths as a fieldsV1 tree."""
    root = {}
    members = set()
    for p in paths:
        node = root
        for pe in p:
            node = node.setdefault(pe, {})
        members.add(p)

    def enc(node, prefix):
        out = {}
        if node and prefix in members:
            out["."] = {}
        for pe in sorted(node, key=_pe_order):
            out[pe] = enc(node[pe], prefix + (pe,))
        return out
    return enc(root, ())


def from_fields_v1(tree):
    """Decodes a fieldsV1 tree into a set of paths."""
    out = set()

    def dec(node, prefix):
        if not isinstance(node, dict):
            return
        for pe, child in node.items():
            if pe == ".":
                out.add(prefix)
                continue
            p = prefix + (pe,)
            if not child:
                out.add(p)
            else:
                dec(child, p)
    dec(tree or {}, ())
    out.discard(())
    return out


# Every write decodes and re-encodes each managedFields entry, most of them
# unchanged: decoded sets are cached by the identity of the stored fieldsV1
# tree (the tree is kept alive by the cache, so an id is never reused while
# cached), encoded trees by their path set (a copy is returned: callers own it).
_DECODED = {}   # id(tree) -> (tree, frozenset of paths)
_ENCODED = {}   # frozenset of paths -> fieldsV1 tree
_CACHE_MAX = 50000


def _paths_of(tree):
    hit = _DECODED.get(id(tree))
    if hit is not None and hit[0] is tree:
        return hit[1]
    paths = frozenset(from_fields_v1(tree))
    if isinstance(tree, dict):
        if len(_DECODED) >= _CACHE_MAX:
            _DECODED.clear()
        _DECODED[id(tree)] = (tree, paths)
    return paths


def _tree_of(paths):
    key = paths if isinstance(paths, frozenset) else frozenset(paths)
    tree = _ENCODED.get(key)
    if tree is None:
        tree = to_fields_v1(key)
        if len(_ENCODED) >= _CACHE_MAX:
            _ENCODED.clear()
        _ENCODED[key] = tree
    return _clone(tree)


# ---- managedFields entries -------------------------------------------------

class _Entry:
    __slots__ = ("manager", "operation", "api_version", "time", "subresource",
                 "fields")

    def __init__(self, manager, operation, api_version, time, subresource, fields):
        self.manager, self.operation = manager, operation
        self.api_version, self.time = api_version, time
        self.subresource, self.fields = subresource or "", fields

    def ident(self):
        return (self.manager, self.operation, self.subresource,
                self.api_version if self.operation == "Update" else "")

    def printed(self):
        s = '"%s"' % self.manager
        if self.subresource:
            s += ' with subresource "%s"' % self.subresource
        if self.operation == "Update":
            s += " using %s" % self.api_version
        return s

    def encode(self):
        e = {"manager": self.manager, "operation": self.operation,
             "apiVersion": self.api_version}
        if self.time:
            e["time"] = self.time
        e["fieldsType"] = "FieldsV1"
        e["fieldsV1"] = _tree_of(self.fields)
        if self.subresource:
            e["subresource"] = self.subresource
        return e


def _decode(obj):
    entries = []
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    mf = meta.get("managedFields") if isinstance(meta, dict) else None
    for e in mf if isinstance(mf, list) else ():
        if not isinstance(e, dict):
            continue
        entries.append(_Entry(e.get("manager", ""), e.get("operation", "Update"),
                              e.get("apiVersion", ""), e.get("time"),
                              e.get("subresource"), _paths_of(e.get("fieldsV1"))))
    return entries


def _epoch(t):
    if not t:
        return 0
    try:
        return int(datetime.datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc).timestamp())
    except ValueError:
        return 0


def _encode_into(obj, entries):
    entries = [e for e in entries if e.fields]
    entries.sort(key=lambda e: (e.operation, _epoch(e.time), e.manager,
                                e.subresource, e.api_version))
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    if entries:
        meta["managedFields"] = [e.encode() for e in entries]
    else:
        meta.pop("managedFields", None)
    return obj


def _without_mf(obj):
    o = _clone(obj) if obj else {}
    if isinstance(o.get("metadata"), dict):
        o["metadata"].pop("managedFields", None)
    return o


def _without_mf_shallow(obj):
    """obj without managedFields, sharing everything but the top and metadata dicts."""
    o = dict(obj) if obj else {}
    if isinstance(o.get("metadata"), dict):
        o["metadata"] = dict(o["metadata"])
        o["metadata"].pop("managedFields", None)
    return o


# ---- comparison --------------------------------------------------------------

def _json_equal(a, b):
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _granular(v, names, lt):
    if isinstance(v, dict):
        return not (names and lt(names) == "atomic")
    if isinstance(v, list):
        spec = lt(names)
        return _is_map_spec(spec) or spec == "set"
    return False


def _same(a, b):
    """_json_equal(a, b), at C speed when a and b are equal (the common case).

    == differs from _json_equal only for a bool against a number (True == 1),
    which the sorted JSON texts tell apart; 1 against 1.0 falls back.
    """
    if a is b:
        return True
    if a != b:
        return False
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) or \
        _json_equal(a, b)


def _compare(o, n, names, pp, lt, res):
    if _same(o, n):
        return            # equal subtrees add, modify and remove nothing
    added, modified, removed = res
    if o is None and _granular(n, names, lt):
        o = type(n)()     # present but null: the node itself is not added
    elif n is None and _granular(o, names, lt):
        n = type(o)()
    if isinstance(o, dict) and isinstance(n, dict) and not (
            names and lt(names) == "atomic"):
        for k in list(o) + [k for k in n if k not in o]:
            cn, cp = names + (k,), pp + ("f:" + k,)
            if k not in n:
                _walk_set(o[k], cn, cp, removed, lt, True)
            elif k not in o:
                _walk_set(n[k], cn, cp, added, lt, True)
            else:
                _compare(o[k], n[k], cn, cp, lt, res)
        return
    spec = lt(names) if isinstance(o, list) and isinstance(n, list) else None
    if _is_map_spec(spec) or spec == "set":
        oi = {_item_pe(x, spec): x for x in o}
        ni = {_item_pe(x, spec): x for x in n}
        for pe in list(oi) + [pe for pe in ni if pe not in oi]:
            ipp = pp + (pe,)
            if pe not in ni:
                _item_all(oi[pe], names, ipp, removed, lt, spec)
            elif pe not in oi:
                _item_all(ni[pe], names, ipp, added, lt, spec)
            elif isinstance(oi[pe], dict) and isinstance(ni[pe], dict) and not (
                    _is_map_spec(spec) and spec.get("atomic_items")):
                _compare_item(oi[pe], ni[pe], names, ipp, lt, res)
            elif not _json_equal(oi[pe], ni[pe]):
                modified.add(ipp)
        return
    if not _json_equal(o, n):
        modified.add(pp)
        if isinstance(n, (dict, list)) and type(o) is not type(n):
            sub = set()
            _walk_set(n, names, pp, sub, lt, True)
            added.update(sub - {pp})


def _item_all(item, names, ipp, out, lt, spec):
    out.add(ipp)
    if isinstance(item, dict) and not (_is_map_spec(spec) and spec.get("atomic_items")):
        for k, cv in item.items():
            _walk_set(cv, names + (k,), ipp + ("f:" + k,), out, lt, True)


def _compare_item(o, n, names, ipp, lt, res):
    added, _, removed = res
    for k in list(o) + [k for k in n if k not in o]:
        cn, cp = names + (k,), ipp + ("f:" + k,)
        if k not in n:
            _walk_set(o[k], cn, cp, removed, lt, True)
        elif k not in o:
            _walk_set(n[k], cn, cp, added, lt, True)
        else:
            _compare(o[k], n[k], cn, cp, lt, res)


def compare(old, new, lt, ignore=()):
    """(added, modified, removed) path sets between two objects."""
    res = (set(), set(), set())
    _compare(old or {}, new or {}, (), (), lt, res)
    return tuple(_strip(s, ignore) for s in res)


# ---- merge and prune ---------------------------------------------------------

def _merge(l, r, names, lt):
    if isinstance(l, dict) and isinstance(r, dict) and not (
            names and lt(names) == "atomic"):
        out = dict(l)
        for k, rv in r.items():
            out[k] = _merge(l[k], rv, names + (k,), lt) if k in l else _clone(rv)
        return out
    if isinstance(l, list) and isinstance(r, list):
        spec = lt(names)
        if _is_map_spec(spec) or spec == "set":
            return _merge_list(l, r, names, spec, lt)
    return _clone(r)


def _merge_item(l, r, names, lt, spec):
    if isinstance(l, dict) and isinstance(r, dict) and not (
            _is_map_spec(spec) and spec.get("atomic_items")):
        out = dict(l)
        for k, rv in r.items():
            out[k] = _merge(l[k], rv, names + (k,), lt) if k in l else _clone(rv)
        return out
    return _clone(r)


def _merge_list(lhs, rhs, names, spec, lt):
    """structured-merge-diff's associative list merge (order preserving)."""
    lpe = [_item_pe(x, spec) for x in lhs]
    rpe = [_item_pe(x, spec) for x in rhs]
    lmap = dict(zip(lpe, lhs))
    rmap = dict(zip(rpe, rhs))
    shared = [pe for pe in rpe if pe in lmap]
    nxt = shared.pop(0) if shared else None
    out, done = [], set()
    li = ri = 0
    while li < len(lpe) or ri < len(rpe):
        if li < len(lpe) and ri < len(rpe):
            pe = lpe[li]
            if pe == rpe[ri]:
                done.add(pe)
                out.append(_merge_item(lmap[pe], rmap[pe], names, lt, spec))
                li += 1
                ri += 1
                nxt = shared.pop(0) if shared else None
                continue
            if pe in rmap and nxt is not None and nxt != pe:
                li += 1
                continue
        if li < len(lpe):
            pe = lpe[li]
            if pe not in rmap:
                out.append(_clone(lmap[pe]))
                li += 1
                continue
            if pe in done:
                li += 1
                continue
        if ri < len(rpe):
            pe = rpe[ri]
            done.add(pe)
            out.append(_merge_item(lmap[pe], rmap[pe], names, lt, spec) if pe in lmap
                       else _clone(rmap[pe]))
            ri += 1
            if nxt is not None and nxt == pe:
                nxt = shared.pop(0) if shared else None
    return out


def _remove_path(obj, path, lt):
    cur, names = obj, ()
    for i, pe in enumerate(path):
        last = i == len(path) - 1
        if pe.startswith("f:"):
            if not isinstance(cur, dict) or pe[2:] not in cur:
                return
            if last:
                del cur[pe[2:]]
                return
            names += (pe[2:],)
            cur = cur[pe[2:]]
        elif isinstance(cur, list):
            spec = lt(names)
            if pe.startswith("i:"):
                idx = int(pe[2:])
                match = [idx] if idx < len(cur) else []
            else:
                match = [j for j, x in enumerate(cur)
                         if (_is_map_spec(spec) or spec == "set") and _item_pe(x, spec) == pe]
            if not match:
                return
            if last:
                del cur[match[0]]
                return
            cur = cur[match[0]]
        else:
            return


def _strip_ignored(obj, ignore):
    o = _clone(obj)
    for t in ignore:
        cur = o
        for pe in t[:-1]:
            cur = cur.get(pe[2:]) if isinstance(cur, dict) else None
        if isinstance(cur, dict):
            cur.pop(t[-1][2:], None)
    return o


def _restore_ignored(merged, live, ignore):
    for t in ignore:
        src, dst = live, merged
        for pe in t[:-1]:
            src = src.get(pe[2:]) if isinstance(src, dict) else None
            dst = dst.setdefault(pe[2:], {}) if isinstance(dst, dict) else None
        if not isinstance(dst, dict):
            continue
        k = t[-1][2:]
        if isinstance(src, dict) and k in src:
            dst[k] = _clone(src[k])
        else:
            dst.pop(k, None)


def _conflict_causes(conflicts):
    out = []
    for e, paths in sorted(conflicts, key=lambda c: c[0].printed()):
        for p in sorted(paths, key=lambda p: [_pe_order(x) for x in p]):
            out.append({"reason": "FieldManagerConflict",
                        "message": "conflict with %s" % e.printed(),
                        "field": path_string(p)})
    return out


def path_string(path):
    """fieldpath.Path.String(): .spec.replicas, .status.conditions[type="Ready"]."""
    out = []
    for pe in path:
        kind, body = pe[0], pe[2:]
        if kind == "f":
            out.append("." + body)
        elif kind == "k":
            kv = json.loads(body)
            out.append("[" + ",".join("%s=%s" % (k, _value_string(kv[k]))
                                      for k in sorted(kv)) + "]")
        elif kind == "v":
            out.append("[=%s]" % _value_string(json.loads(body)))
        else:
            out.append("[%s]" % body)
    return "".join(out)


def _value_string(v):
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return _kjson(v)


def format_conflict_message(conflicts):
    """The 409 Status message for a list of FieldManagerConflict causes."""
    if len(conflicts) == 1:
        c = conflicts[0]
        return "Apply failed with 1 conflict: %s: %s" % (c["message"], c["field"])
    groups = {}
    for c in conflicts:
        who = c["message"][len("conflict with "):]
        groups.setdefault(who, []).append(c["field"])
    lines = []
    for who in sorted(groups):
        lines.append("conflicts with %s:" % who)
        lines.extend("- %s" % f for f in groups[who])
    return "Apply failed with %d conflicts: %s" % (len(conflicts), "\n".join(lines))


# ---- public operations -------------------------------------------------------

def apply(live, applied, manager, force, list_map_keys=None, *, subresource=None,
          api_version=None, time=None, ignore_paths=()):
    """Server-side apply of configuration `applied` by `manager`.

    live: the stored object (with metadata.managedFields) or None to create.
    list_map_keys: None (built-in tables for applied["kind"]), a dict
    {"status.conditions": ["type"], ...} or a callable(path) -> spec (see
    ssa_types; schema_list_types(schema) for CRDs).  ignore_paths: top-level
    fields the endpoint resets, e.g. ["status"] on a main resource with a
    status subresource, ["spec"] on /status; they are neither merged nor
    owned.  Returns (new_obj, []) where new_obj carries the updated
    managedFields (equal to live when nothing changes), or (None, conflicts)
    with FieldManagerConflict causes when force is false.
    """
    lt = ssa_types.make_resolver(list_map_keys, applied.get("kind") or
                                 (live or {}).get("kind"))
    ignore = _ignore_tuples(ignore_paths)
    live_obj = _without_mf(live)
    entries = _decode(live)
    version = api_version or applied.get("apiVersion") or (live or {}).get("apiVersion", "")
    config = _strip_ignored(applied, ignore)
    if isinstance(config.get("metadata"), dict):
        config["metadata"].pop("managedFields", None)
    new_set = set()
    _walk_set(config, (), (), new_set, lt, False)
    new_set = _strip(new_set, ignore)
    me = _Entry(manager, "Apply", version, None, subresource, set())
    mine = next((e for e in entries if e.ident() == me.ident()), None)
    last_set = mine.fields if mine else set()
    others = [e for e in entries if e is not mine]
    owned = set().union(*(e.fields for e in others)) if others else set()
    merged = _merge(live_obj, config, (), lt)
    for p in sorted(last_set - new_set - owned, key=len):
        if not any(len(q) > len(p) and q[:len(p)] == p for q in owned):
            _remove_path(merged, p, lt)
    _restore_ignored(merged, live_obj, ignore)
    added, modified, removed = compare(live_obj, merged, lt, ignore)
    changed = added | modified
    conflicts = [(e, e.fields & changed) for e in others if e.fields & changed]
    if conflicts and not force:
        return None, _conflict_causes(conflicts)
    for e, paths in conflicts:
        e.fields = e.fields - paths
    for e in others:
        e.fields = e.fields - removed
    if mine is None:
        mine = me
        entries.append(mine)
    mine.fields, mine.api_version = new_set, version
    if not _json_equal(live_obj, merged) or live is None:
        mine.time = time or _now()
    return _encode_into(merged, entries), []


def update_managed_fields(old, new, manager, operation, subresource, api_version,
                          time, list_map_keys=None, ignore_paths=()):
    """Records the ownership change of a non-apply write (PUT, PATCH, create).

    old: the stored object (None on create); new: the object about to be
    stored.  The managedFields of `new` are used when it carries some (and
    this is not a subresource write), else those of `old`.  `manager` takes
    every field the write added or changed (also from other owners);
    removed fields are released by every owner.  Returns a copy of new (its
    top level and metadata; deeper values are shared, so new should not be
    changed afterwards) with metadata.managedFields set.  Neither old nor new
    is modified.  operation "Apply" returns new unchanged:
    apply() records apply ownership itself.
    """
    if operation == "Apply":
        return new
    lt = ssa_types.make_resolver(list_map_keys, (new or {}).get("kind"))
    ignore = _ignore_tuples(ignore_paths)
    src = new if (((new or {}).get("metadata") or {}).get("managedFields")
                  and not subresource) else old
    entries = _decode(src)
    # compare() only reads and _encode_into() only sets metadata.managedFields:
    # no deep copies needed (the result shares new's subtrees, as new is replaced)
    old_obj, new_obj = _without_mf_shallow(old), _without_mf_shallow(new)
    if old is None:
        old_obj = ssa_types.empty_object((new or {}).get("kind"))
    added, modified, removed = compare(old_obj, new_obj, lt, ignore)
    taken = added | modified
    for e in entries:
        e.fields = (e.fields - taken) - removed
    if taken:
        me = _Entry(manager, "Update", api_version, time or _now(), subresource, set())
        mine = next((e for e in entries if e.ident() == me.ident()), None)
        if mine is None:
            mine = me
            entries.append(mine)
        mine.fields = mine.fields | taken
        mine.time = time or _now()
    return _encode_into(new_obj, entries)
