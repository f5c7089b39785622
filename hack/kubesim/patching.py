"""PATCH (merge, JSON, strategic), server-side apply, managedFields, /scale.

Thin adapters over the pure modules another helper provides (patch.py,
ssa.py, schema.py), imported lazily so the server runs before they land.
Until then a minimal merge patch and a rough managedFields fallback are used.
"""

import importlib
import json

import apierr
import objutil
from apierr import ApiError, cause
from objutil import clone

_mods = {}
APPLY = "application/apply-patch+yaml"
JSONP = "application/json-patch+json"
MERGE = "application/merge-patch+json"
SMP = "application/strategic-merge-patch+json"


def module(name):
    """The helper module `name` or None while it does not exist yet."""
    if name not in _mods or _mods[name] is None:
        try:
            _mods[name] = importlib.import_module(name)
        except ImportError:
            _mods[name] = None
    return _mods[name]


# ---------------------------------------------------------------------------
# patch algorithms

def merge_patch(target, patch):
    mod = module("patch")
    if mod is not None:
        return mod.json_merge_patch(target, patch)
    if not isinstance(patch, dict):
        return clone(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def kind_info(rt, sub=None):
    return {"group": rt.group, "version": rt.version, "kind": rt.kind,
            "apiVersion": rt.gv, "builtin": not rt.is_cr, "schema": rt.schema,
            "namespaced": rt.namespaced, "status_subresource": rt.status,
            "subresource": sub}


def _fields_of(obj, old):
    """Fallback fieldsV1: leaves of obj that differ from old."""
    out = {}
    if not isinstance(obj, dict):
        return out
    for k, v in obj.items():
        if k in ("apiVersion", "kind") or (k == "metadata" and not isinstance(v, dict)):
            continue
        ov = old.get(k) if isinstance(old, dict) else None
        if k == "metadata":
            sub = {}
            for mk in ("labels", "annotations"):
                if isinstance(v.get(mk), dict):
                    f = {("f:" + x): {} for x, xv in v[mk].items()
                         if not isinstance(ov, dict) or (ov.get(mk) or {}).get(x) != xv}
                    if f:
                        sub["f:" + mk] = dict({".": {}}, **f)
            if sub:
                out["f:metadata"] = sub
            continue
        if v == ov:
            continue
        if isinstance(v, dict) and v:
            inner = _fields_of(v, ov if isinstance(ov, dict) else {})
            out["f:" + k] = dict({".": {}}, **inner)
        else:
            out["f:" + k] = {}
    return out


def list_types(rt):
    """list_map_keys argument for ssa: the CRD schema's, or None (built-in tables)."""
    if rt.is_cr and rt.schema is not None:
        st = module("ssa_types")
        if st is not None:
            rs = getattr(rt, "_ssa_resolver", None)
            if rs is None:
                rs = st.schema_list_types(rt.schema)
                rt._ssa_resolver = rs
            return rs
    return None


SERVER_SET = {"Namespace": ["spec", "status"],
              "Service": ["spec.clusterIP", "spec.clusterIPs", "spec.ipFamilies",
                          "spec.ipFamilyPolicy", "status"]}


def ignore_paths(rt, sub, obj, for_apply=False):
    """Top-level (or dotted) fields the endpoint resets or the server sets."""
    if sub == "status":
        return [k for k in (obj or {}) if k not in ("apiVersion", "kind", "metadata", "status")]
    out = ["status"] if rt.status else []
    if not for_apply and not rt.is_cr:
        out = sorted(set(out) | set(SERVER_SET.get(rt.kind, [])))
    return out


def managed_update(old, new, manager, operation, subresource, rt):
    """Record `manager`'s Update ownership of what changed; returns the object."""
    mod = module("ssa")
    if mod is not None and hasattr(mod, "update_managed_fields"):
        return mod.update_managed_fields(old, new, manager, operation, subresource, rt.gv,
                                         None, list_types(rt),
                                         ignore_paths(rt, subresource, new))
    md = new["metadata"]
    mfs = [dict(e) for e in (old or {}).get("metadata", {}).get("managedFields") or []]
    fields = _fields_of(new, old or {})
    if not fields:
        if old is not None:
            md["managedFields"] = mfs
        return new
    for e in mfs:
        if e.get("manager") == manager and e.get("operation") == operation and \
                e.get("subresource") == subresource:
            e["fieldsV1"] = _merge_fields(e.get("fieldsV1") or {}, fields)
            e["time"] = objutil.now()
            break
    else:
        e = {"manager": manager, "operation": operation, "apiVersion": rt.gv,
             "time": objutil.now(), "fieldsType": "FieldsV1", "fieldsV1": fields}
        if subresource:
            e["subresource"] = subresource
        mfs.append(e)
    md["managedFields"] = mfs
    return new


def _merge_fields(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge_fields(out.get(k) or {}, v) if v else (out.get(k) or {})
    return out


# ---------------------------------------------------------------------------
# PATCH

def patch(api, req, rt, ns, name, sub):
    ct = req.ctype
    if ct == APPLY:
        return apply(api, req, rt, ns, name, sub)
    allowed = [JSONP, MERGE] + ([] if rt.is_cr else [SMP])
    if ct not in allowed:
        raise apierr.unsupported_media(allowed[:2] + ([SMP] if not rt.is_cr else []) + [APPLY])
    if sub and not (sub == "status" and rt.status):
        if sub == "scale" and rt.scale:
            return patch_scale(api, req, rt, ns, name)
        raise apierr.not_found(rt, name)
    fv = api.field_validation(req, "PatchOptions")
    try:
        body, dups = objutil.decode_json(req.body)
    except ValueError as e:
        raise apierr.bad_request("error decoding patch: %s" % e)
    with api.store.lock:
        old = api.get_stored(rt, ns, name)
        cur = clone(api.view(rt, old))
        try:
            if ct == MERGE:
                if not isinstance(body, dict):
                    raise apierr.bad_request("json: cannot unmarshal %s into Go value of type "
                                             "map[string]interface {}" % type(body).__name__)
                new = merge_patch(cur, body)
            elif ct == JSONP:
                new = _json_patch(cur, body)
            else:
                new = _strategic(cur, body, rt)
        except ApiError:
            raise
        except Exception:  # noqa: BLE001 - any patch failure is the generic 422
            raise ApiError(422, "Invalid",
                           "the server rejected our request due to an error in our request",
                           {})
        if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
            raise ApiError(422, "Invalid", "the server rejected our request due to an error "
                           "in our request", {})
        rv = new["metadata"].get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise apierr.conflict(rt, name)
        new["apiVersion"], new["kind"] = cur.get("apiVersion"), cur.get("kind")
        new = api.to_store(rt, new)
        return api.write_update(req, rt, old, new, sub, req.manager, "Update", fv, dups)


def _json_patch(cur, ops):
    mod = module("patch")
    if mod is None:
        raise ApiError(415, "UnsupportedMediaType", "json patch support not loaded")
    if not isinstance(ops, list):
        raise ValueError("json patch must be a list")
    return mod.json_patch(cur, ops)


def _strategic(cur, body, rt):
    mod = module("patch")
    if mod is None:
        return merge_patch(cur, body)
    return mod.strategic_merge_patch(cur, body, rt.kind)


# ---------------------------------------------------------------------------
# server-side apply

def conflict_error(conflicts):
    """409 for FieldManagerConflict causes (as returned by ssa.apply)."""
    mod = module("ssa")
    if mod is not None and hasattr(mod, "format_conflict_message"):
        msg = mod.format_conflict_message(conflicts)
    else:
        msg = "Apply failed with %d conflict(s)" % len(conflicts)
    return ApiError(409, "Conflict", msg, {"causes": conflicts})


def apply(api, req, rt, ns, name, sub):
    fm = req.q("fieldManager")
    if not fm:
        raise apierr.invalid_options("PatchOptions", [cause(
            "FieldValueRequired", "Required value: is required for apply patch",
            "fieldManager")])
    if sub and not (sub == "status" and rt.status):
        raise apierr.not_found(rt, name)
    fv = api.field_validation(req, "PatchOptions")
    applied, dups = objutil.decode_body(req.body, "application/yaml", rt.kind)
    if not isinstance(applied, dict) or not applied.get("apiVersion") or \
            not applied.get("kind"):
        av = (applied or {}).get("apiVersion", "") if isinstance(applied, dict) else ""
        raise apierr.bad_request("invalid object type: %s, Kind=%s"
                                 % (av or "/", (applied or {}).get("kind", "")
                                    if isinstance(applied, dict) else ""))
    if applied.get("kind") != rt.kind or applied.get("apiVersion") != rt.gv:
        raise apierr.bad_request('%s in version "%s" cannot be handled as a %s'
                                 % (applied.get("kind"), applied.get("apiVersion"), rt.kind))
    md = applied.setdefault("metadata", {}) if isinstance(applied.get("metadata"), dict) \
        else applied.setdefault("metadata", {})
    if md.get("name") and md["name"] != name:
        raise apierr.bad_request("the name of the object (%s) does not match the name on "
                                 "the URL (%s)" % (md["name"], name))
    md["name"] = name
    if rt.namespaced:
        if md.get("namespace") and md["namespace"] != ns:
            raise apierr.bad_request("the namespace of the provided object does not match "
                                     "the namespace sent on the request")
        md["namespace"] = ns
    if rt.status and sub != "status":
        applied.pop("status", None)
    elif sub == "status":
        applied = {k: v for k, v in applied.items()
                   if k in ("apiVersion", "kind", "metadata", "status")}
    force = req.flag("force")
    with api.store.lock:
        old = api.store.get(rt.store_key, ns if rt.namespaced else "", name)
        if old is None and sub:
            raise apierr.not_found(rt, name)
        live = api.view(rt, old) if old is not None else None
        new, conflicts = _ssa_apply(live, applied, fm, force, rt, sub)
        if conflicts:
            raise conflict_error(conflicts)
        managed = new["metadata"].get("managedFields")
        if old is None:
            new = api.to_store(rt, new)
            return api.create(req, rt, ns, new, dups, managed=managed, code=201)
        rv = applied["metadata"].get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise apierr.conflict(rt, name)
        new = api.to_store(rt, new)
        return api.write_update(req, rt, old, new, sub, fm, "Apply", fv, dups, managed=managed)


def _ssa_apply(live, applied, manager, force, rt, sub):
    mod = module("ssa")
    if mod is not None and hasattr(mod, "apply"):
        new, conflicts = mod.apply(live, applied, manager, force, list_types(rt),
                                   subresource=sub, api_version=rt.gv,
                                   ignore_paths=ignore_paths(rt, sub, live or applied, True))
        return new, conflicts or []
    base = clone(live) if live is not None else {}
    new = merge_patch(base, applied)
    mfs = [e for e in (base.get("metadata") or {}).get("managedFields") or []
           if not (e.get("manager") == manager and e.get("operation") == "Apply")]
    e = {"manager": manager, "operation": "Apply", "apiVersion": rt.gv,
         "time": objutil.now(), "fieldsType": "FieldsV1", "fieldsV1": _fields_of(applied, {})}
    if sub:
        e["subresource"] = sub
    new["metadata"]["managedFields"] = mfs + [e]
    return new, []


# ---------------------------------------------------------------------------
# /scale

def scale_of(rt, obj):
    md = obj["metadata"]
    spec = obj.get("spec") or {}
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": md["name"], "namespace": md.get("namespace"),
                         "uid": md.get("uid"), "resourceVersion": md["resourceVersion"],
                         "creationTimestamp": md.get("creationTimestamp")},
            "spec": {"replicas": spec.get("replicas", 0)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": ",".join("%s=%s" % kv for kv in sorted(sel.items()))}}


def _set_replicas(api, req, rt, old, replicas):
    new = clone(old)
    new.setdefault("spec", {})["replicas"] = replicas
    code, obj, warns = api.write_update(req, rt, old, new, None, req.manager, "Update",
                                        "Ignore")
    cur = api.store.get(rt.store_key, old["metadata"].get("namespace", ""),
                        old["metadata"]["name"]) or obj
    return code, scale_of(rt, cur), warns


def update_scale(api, req, rt, ns, name):
    body, _ = objutil.decode_json(req.body)
    with api.store.lock:
        old = api.get_stored(rt, ns, name)
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise apierr.conflict(rt, name)
        return _set_replicas(api, req, rt, old, (body.get("spec") or {}).get("replicas", 0))


def patch_scale(api, req, rt, ns, name):
    body, _ = objutil.decode_json(req.body)
    with api.store.lock:
        old = api.get_stored(rt, ns, name)
        cur = scale_of(rt, old)
        new = merge_patch(cur, body) if req.ctype != JSONP else _json_patch(cur, body)
        return _set_replicas(api, req, rt, old, (new.get("spec") or {}).get("replicas", 0))


def dumps(o):
    return json.dumps(o, separators=(",", ":"))
