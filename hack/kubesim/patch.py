"""PATCH bodies: JSON merge patch, JSON patch and strategic merge patch.

Pure functions on JSON values; inputs are never modified.

    json_merge_patch(target, patch) -> new     RFC 7386 (null deletes a key)
    json_patch(target, ops) -> new             RFC 6902 (add, remove, replace,
                                               move, copy, test); PatchError
    strategic_merge_patch(target, patch, kind) -> new
                                               Kubernetes SMP for built-in kinds
    smp_list_strategy(kind, path) -> (strategy, key) for one list field

Strategic merge patch follows k8s.io/apimachinery/pkg/util/strategicpatch:
maps merge recursively (null deletes); lists whose Go field carries
patchStrategy=merge merge their items by patchMergeKey (containers, env,
volumes, imagePullSecrets by name; ports by containerPort / port;
volumeMounts by mountPath; conditions by type; ownerReferences by uid) or,
for lists of scalars (finalizers), as a set union; every other list is
replaced.  Directives: `$patch: delete|replace` on maps and list items,
`$patch: replace` inside a list, `$setElementOrder/<field>`,
`$deleteFromPrimitiveList/<field>` and `$retainKeys`.  Unknown kinds get the
same treatment with every list replaced.
"""

__all__ = ["PatchError", "json_merge_patch", "json_patch",
           "strategic_merge_patch", "smp_list_strategy"]


def _clone(v):
    t = type(v)
    if t is dict:
        return {k: _clone(x) for k, x in v.items()}
    if t is list:
        return [_clone(x) for x in v]
    return v


class PatchError(Exception):
    """The patch cannot be applied (bad op, missing path, failed test...)."""


# ---- RFC 7386 -----------------------------------------------------------

def json_merge_patch(target, patch):
    """Returns target merged with patch per RFC 7386."""
    if not isinstance(patch, dict):
        return _clone(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = json_merge_patch(out.get(k), v)
    return out


# ---- RFC 6902 -----------------------------------------------------------

def _pointer(path):
    if not isinstance(path, str):
        raise PatchError("path must be a string")
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError("invalid JSON pointer: %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(token, n, allow_end):
    if token == "-" and allow_end:
        return n
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise PatchError("invalid array index: %r" % token)
    i = int(token)
    if i > n or (i == n and not allow_end):
        raise PatchError("array index out of bounds: %d" % i)
    return i


def _parent(doc, tokens):
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError("doc is missing path: %s" % t)
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(t, len(cur), False)]
        else:
            raise PatchError("path traverses a scalar at %s" % t)
    return cur


def _get(doc, tokens):
    if not tokens:
        return doc
    p = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(p, dict):
        if last not in p:
            raise PatchError("doc is missing key: %s" % last)
        return p[last]
    if isinstance(p, list):
        return p[_index(last, len(p), False)]
    raise PatchError("path traverses a scalar")


def _add(doc, tokens, value):
    if not tokens:
        return value
    p = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(p, dict):
        p[last] = value
    elif isinstance(p, list):
        p.insert(_index(last, len(p), True), value)
    else:
        raise PatchError("add: parent is not a container")
    return doc


def _remove(doc, tokens):
    if not tokens:
        raise PatchError("remove: cannot remove the whole document")
    p = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(p, dict):
        if last not in p:
            raise PatchError("remove operation does not apply: doc is missing path: %s" % last)
        return p.pop(last)
    if isinstance(p, list):
        return p.pop(_index(last, len(p), False))
    raise PatchError("remove: parent is not a container")


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


def json_patch(target, ops):
    """Applies RFC 6902 operations to a deep copy of target; raises PatchError."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = _clone(target)
    for op in ops:
        if not isinstance(op, dict):
            raise PatchError("operation is not an object")
        kind = op.get("op")
        tokens = _pointer(op.get("path"))
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError("%s operation has no value" % kind)
        if kind == "add":
            doc = _add(doc, tokens, _clone(op["value"]))
        elif kind == "remove":
            _remove(doc, tokens)
        elif kind == "replace":
            if not tokens:
                doc = _clone(op["value"])
                continue
            _get(doc, tokens)
            p = _parent(doc, tokens)
            if isinstance(p, dict):
                p[tokens[-1]] = _clone(op["value"])
            else:
                p[_index(tokens[-1], len(p), False)] = _clone(op["value"])
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from"))
            if kind == "move" and tokens[:len(src)] == src and len(tokens) > len(src):
                raise PatchError("move: cannot move a value into itself")
            val = _get(doc, src)
            if kind == "move":
                _remove(doc, src)
            doc = _add(doc, tokens, _clone(val))
        elif kind == "test":
            if not _json_equal(_get(doc, tokens), op["value"]):
                raise PatchError("testing value %s failed: test failed" % op.get("path"))
        else:
            raise PatchError("unexpected operation %r" % (kind,))
    return doc


# ---- strategic merge patch ---------------------------------------------------

_POD_SPEC = {
    "containers": ("merge", "name"), "initContainers": ("merge", "name"),
    "ephemeralContainers": ("merge", "name"), "volumes": ("merge", "name"),
    "imagePullSecrets": ("merge", "name"), "hostAliases": ("merge", "ip"),
    "topologySpreadConstraints": ("merge", "topologyKey"),
    "resourceClaims": ("merge", "name"), "schedulingGates": ("merge", "name"),
}
_CONTAINER = {"ports": ("merge", "containerPort"), "env": ("merge", "name"),
              "volumeMounts": ("merge", "mountPath"),
              "volumeDevices": ("merge", "devicePath")}
_META = {"finalizers": ("merge", None), "ownerReferences": ("merge", "uid")}
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

_POD_SPEC_AT = {
    "Pod": ("spec",), "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_OTHER = {
    ("Service", ("spec", "ports")): ("merge", "port"),
    ("Endpoints", ("subsets",)): (None, None),
    ("Node", ("status", "addresses")): ("merge", "type"),
}
_CONDITION_KINDS = {"Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet",
                    "Job", "ReplicationController", "Node", "Namespace",
                    "PersistentVolumeClaim", "Service", "CustomResourceDefinition"}


def smp_list_strategy(kind, path):
    """(strategy, mergeKey) for the list at `path` (a tuple of field names,
    list positions left out) of `kind`; strategy is "merge" or None."""
    path = tuple(path)
    if len(path) >= 2 and path[-2] == "metadata" and path[-1] in _META:
        return _META[path[-1]]
    if path == ("status", "conditions") and kind in _CONDITION_KINDS:
        return ("merge", "type")
    if (kind, path) in _OTHER:
        return _OTHER[(kind, path)]
    at = _POD_SPEC_AT.get(kind)
    if at and path[:len(at)] == at:
        rel = path[len(at):]
        if len(rel) == 1 and rel[0] in _POD_SPEC:
            return _POD_SPEC[rel[0]]
        if len(rel) == 2 and rel[0] in _CONTAINER_LISTS and rel[1] in _CONTAINER:
            return _CONTAINER[rel[1]]
    return (None, None)


_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


def strategic_merge_patch(target, patch, kind):
    """Applies a strategic merge patch for `kind`; raises PatchError."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be an object")
    base = _clone(target) if isinstance(target, dict) else {}
    out = _merge_map(base, _clone(patch), kind, ())
    return {} if out is None else out


def _merge_map(orig, patch, kind, path):
    directive = patch.pop("$patch", None)
    if directive == "replace":
        _strip_directives(patch)
        return patch
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise PatchError("unknown patch type: %s" % directive)
    retain = patch.pop("$retainKeys", None)
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchError("$retainKeys must be a list")
        for k in list(orig):
            if k not in retain:
                del orig[k]
    orders = {}
    for k in list(patch):
        if k.startswith(_ORDER):
            orders[k[len(_ORDER):]] = patch.pop(k)
        elif k.startswith(_DELETE_PRIMITIVE):
            field = k[len(_DELETE_PRIMITIVE):]
            values = patch.pop(k)
            if isinstance(orig.get(field), list) and isinstance(values, list):
                orig[field] = [x for x in orig[field]
                               if not any(_json_equal(x, v) for v in values)]
    for k, pv in patch.items():
        cpath = path + (k,)
        if pv is None:
            orig.pop(k, None)
            continue
        ov = orig.get(k)
        if isinstance(pv, dict):
            merged = _merge_map(ov if isinstance(ov, dict) else {}, pv, kind, cpath)
            if merged is None:
                orig.pop(k, None)
            else:
                orig[k] = merged
        elif isinstance(pv, list):
            orig[k] = _merge_list(ov if isinstance(ov, list) else [], pv, kind, cpath,
                                  orders.pop(k, None))
        else:
            orig[k] = pv
    for k, order in orders.items():   # order given for a list not in the patch
        if isinstance(orig.get(k), list) and isinstance(order, list):
            strategy, key = smp_list_strategy(kind, path + (k,))
            if strategy == "merge":
                orig[k] = _apply_order(orig[k], [], order, orig[k], key)
    return orig


def _strip_directives(v):
    if isinstance(v, dict):
        for k in list(v):
            if k.startswith("$"):
                del v[k]
            else:
                _strip_directives(v[k])
    elif isinstance(v, list):
        for x in v:
            _strip_directives(x)


def _item_key(item, key):
    if key is None:
        return ("v", repr(item))
    if isinstance(item, dict):
        return ("k", repr(item.get(key)))
    return ("v", repr(item))


def _merge_list(orig, patch, kind, path, order):
    strategy, key = smp_list_strategy(kind, path)
    if strategy != "merge":
        if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
            patch = [x for x in patch if not (isinstance(x, dict) and "$patch" in x)]
        _strip_directives(patch)
        return patch
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        items = [x for x in patch if not (isinstance(x, dict) and "$patch" in x)]
        _strip_directives(items)
        return items
    server_order = list(orig)
    result = list(orig)
    if key is None or not all(isinstance(x, dict) for x in patch):
        for x in patch:
            if not any(_json_equal(x, y) for y in result):
                result.append(x)
    else:
        for item in patch:
            if key not in item:
                raise PatchError("map: %s does not contain declared merge key: %s"
                                 % (item, key))
            ik = _item_key(item, key)
            directive = item.get("$patch")
            idx = next((i for i, o in enumerate(result) if _item_key(o, key) == ik), None)
            if directive == "delete":
                result = [o for o in result if _item_key(o, key) != ik]
                continue
            if idx is None:
                item = dict(item)
                item.pop("$patch", None)
                _strip_directives(item)
                result.append(item)
            else:
                merged = _merge_map(_clone(result[idx]), dict(item), kind, path)
                if merged is None:
                    del result[idx]
                else:
                    result[idx] = merged
    if isinstance(order, list):
        result = _apply_order(result, patch, order, server_order, key)
    return result


def _apply_order(result, patch, order, server_order, key):
    """normalizeElementOrder + mergeSortedSlice of strategicpatch."""
    okeys = [_item_key(o, key) for o in order]
    in_order = [x for x in result if _item_key(x, key) in okeys]
    server_only = [x for x in result if _item_key(x, key) not in okeys]
    in_order.sort(key=lambda x: okeys.index(_item_key(x, key)))
    skeys = [_item_key(x, key) for x in server_order]

    def pos(x):
        k = _item_key(x, key)
        return skeys.index(k) if k in skeys else -1

    out, i, j = [], 0, 0
    while i < len(server_only) or j < len(in_order):
        if i >= len(server_only):
            out.append(in_order[j])
            j += 1
        elif j >= len(in_order):
            out.append(server_only[i])
            i += 1
        else:
            li, ri = pos(server_only[i]), pos(in_order[j])
            if li >= 0 and ri >= 0 and li < ri:
                out.append(server_only[i])
                i += 1
            else:
                out.append(in_order[j])
                j += 1
    return out
