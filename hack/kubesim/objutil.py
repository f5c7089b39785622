"""Small helpers on JSON objects: copying, ordering, body decoding, names.

Body decoding reproduces the apiserver's decode errors: malformed JSON,
duplicate fields (strict decoding) and YAML bodies.
"""

import json
import random
import threading
import uuid
from datetime import datetime, timezone

import apierr

META_ORDER = ["name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
              "generation", "creationTimestamp", "deletionTimestamp",
              "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
              "finalizers", "managedFields"]
KNOWN_META = set(META_ORDER)
MF_ORDER = ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1",
            "subresource"]


def clone(o):
    """Deep copy of a JSON value (faster than copy.deepcopy)."""
    if isinstance(o, dict):
        return {k: clone(v) for k, v in o.items()}
    if isinstance(o, list):
        return [clone(v) for v in o]
    return o


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid():
    return str(uuid.uuid4())


def gen_suffix():
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(random.choice(alphabet) for _ in range(5))


def order_meta(md):
    out = {k: md[k] for k in META_ORDER if k in md}
    for k, v in md.items():
        if k not in out:
            out[k] = v
    mfs = out.get("managedFields")
    if isinstance(mfs, list):
        out["managedFields"] = [order_mf(e) for e in mfs]
    return out


def order_mf(e):
    if not isinstance(e, dict):
        return e
    out = {k: e[k] for k in MF_ORDER if k in e}
    for k, v in e.items():
        if k not in out:
            out[k] = v
    return out


def order_obj(obj):
    """Go-struct-like order for built-in kinds: kind, apiVersion, metadata, rest."""
    out = {}
    for k in ("kind", "apiVersion"):
        if k in obj:
            out[k] = obj[k]
    if isinstance(obj.get("metadata"), dict):
        out["metadata"] = order_meta(obj["metadata"])
    for k, v in obj.items():
        if k not in out:
            out[k] = v
    return out


def strip_volatile(obj):
    """obj without resourceVersion and managedFields times (for no-op checks)."""
    o = dict(obj)
    md = dict(o.get("metadata") or {})
    md.pop("resourceVersion", None)
    mfs = md.get("managedFields")
    if isinstance(mfs, list):
        md["managedFields"] = [{k: v for k, v in e.items() if k != "time"}
                               if isinstance(e, dict) else e for e in mfs]
    o["metadata"] = md
    return o


def without(obj, *keys):
    return {k: v for k, v in obj.items() if k not in keys}


# ---------------------------------------------------------------------------
# body decoding

_dups = threading.local()


def _pairs_hook(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            _dups.found.append((id(d), k))
        d[k] = v
    return d


def _dup_paths(obj, found):
    want = {}
    for i, k in found:
        want.setdefault(i, []).append(k)
    out = []

    def walk(o, path):
        if isinstance(o, dict):
            for k in want.get(id(o), ()):
                out.append((path + "." if path else "") + k)
            for k, v in o.items():
                walk(v, (path + "." if path else "") + k)
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, "%s[%d]" % (path, i))
    walk(obj, "")
    return out


def decode_json(raw):
    """Parse JSON; returns (value, duplicate_field_paths). Raises ValueError."""
    _dups.found = []
    text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
    val = json.loads(text, object_pairs_hook=_pairs_hook)
    found = _dups.found
    _dups.found = []
    return val, (_dup_paths(val, found) if found else [])


def go_json_error(text, e):
    """Approximation of Go's encoding/json syntax error text."""
    pos = getattr(e, "pos", 0) or 0
    ch = text[pos:pos + 1]
    if not ch:
        return "unexpected end of JSON input"
    if getattr(e, "msg", "").startswith("Expecting property name"):
        return "invalid character '%s' looking for beginning of object key string" % ch
    return "invalid character '%s' looking for beginning of value" % ch


def decode_body(raw, ctype, kind_hint):
    """Decode a request body by Content-Type -> (obj, duplicate_paths)."""
    ct = (ctype or "application/json").split(";")[0].strip().lower()
    text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else raw
    if ct in ("application/yaml", "application/apply-patch+yaml", "text/yaml",
              "application/x-yaml"):
        stripped = text.lstrip()
        if stripped.startswith("{") or stripped.startswith("["):
            try:
                return decode_json(text)
            except ValueError:
                pass
        import yamlmini
        try:
            return yamlmini.load(text), []
        except ValueError as e:
            raise apierr.bad_request("error converting YAML to JSON: yaml: %s" % e)
    if ct == "application/vnd.kubernetes.protobuf":
        import proto
        try:
            return proto.decode(bytes(raw)), []
        except proto.ProtoError as e:
            if "not supported" in str(e):
                raise apierr.ApiError(415, "UnsupportedMediaType", str(e))
            raise apierr.bad_request("the object provided is unrecognized (must be of type "
                                     "%s): %s" % (kind_hint, e))
    if ct not in ("application/json", "*/*", ""):
        raise apierr.unsupported_media(["application/json", "application/yaml",
                                        "application/vnd.kubernetes.protobuf"])
    try:
        return decode_json(text)
    except ValueError as e:
        snippet = text if len(text) < 64 else text[:64]
        raise apierr.bad_request(
            "the object provided is unrecognized (must be of type %s): couldn't get "
            "version/kind; json parse error: %s (%s)"
            % (kind_hint, go_json_error(text, e), snippet))
