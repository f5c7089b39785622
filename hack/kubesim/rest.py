"""REST semantics of the resource endpoints: get, list, create, update, delete.

Api implements what the apiserver's generic registry does for every kind:
system metadata (uid, creationTimestamp, resourceVersion, generation),
optimistic concurrency, status-subresource rules, dry-run, field validation,
finalizers and deletion, the namespace lifecycle checks and list semantics
(selectors, pagination with continue tokens, resourceVersion matching).
Patches and server-side apply are in patching.py, watches in watch.py.
Every method returns (code, body, warnings) or raises ApiError.
"""

import base64
import json
import time

import apierr
import builtin
import objutil
import patching
import labelsel
from apierr import ApiError, cause
from objutil import clone, order_obj

SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp",
               "deletionGracePeriodSeconds", "generation", "selfLink")
PROTECTED_NS = ("default", "kube-system", "kube-public")


class Req:
    """What a handler needs from an HTTP request."""

    def __init__(self, method, path, query, headers, body=b""):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body

    def q(self, name, default=None):
        return self.query.get(name, default)

    def flag(self, name):
        return (self.query.get(name) or "").lower() in ("true", "1")

    @property
    def ctype(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def manager(self):
        fm = self.query.get("fieldManager")
        if fm:
            return fm
        ua = self.headers.get("User-Agent")
        return ua.split("/")[0] if ua else "unknown"

    @property
    def dry_run(self):
        return self.query.get("dryRun") == "All"


class Api:
    def __init__(self, store, registry):
        self.store = store
        self.reg = registry

    # -- representation ---------------------------------------------------
    def view(self, rt, obj):
        if obj is None:
            return None
        if rt.group == "events.k8s.io":
            return builtin.event_from_core(obj)
        if rt.is_cr and obj.get("apiVersion") != rt.gv:
            o = dict(obj)
            o["apiVersion"] = rt.gv
            return o
        return obj

    def to_store(self, rt, obj):
        if rt.group == "events.k8s.io":
            return builtin.event_to_core(obj)
        if rt.kind == "Event":
            return builtin.finish_core_event(obj)
        if rt.is_cr and rt.storage_version and rt.version != rt.storage_version:
            obj["apiVersion"] = rt.group + "/" + rt.storage_version
        return obj

    def namespace_ok(self, rt, ns, name):
        if not rt.namespaced:
            return
        nsobj = self.store.get(("", "namespaces"), "", ns)
        if nsobj is None:
            raise apierr.ns_not_found(ns)
        if nsobj["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden",
                           '%s "%s" is forbidden: unable to create new content in namespace '
                           '%s because it is being terminated' % (rt.qualified, name, ns),
                           {"name": name, "kind": rt.plural,
                            "causes": [cause("NamespaceTerminating",
                                             "namespace %s is being terminated" % ns,
                                             "metadata.namespace")]})

    def field_validation(self, req, opts):
        fv = req.q("fieldValidation", "")
        if fv not in ("", "Ignore", "Strict", "Warn"):
            raise apierr.invalid_options(opts, [cause(
                "FieldValueNotSupported",
                'Unsupported value: "%s": supported values: "", "Ignore", "Strict", "Warn"' % fv,
                "fieldValidation")])
        return fv or "Warn"

    def decode(self, req, rt):
        obj, dups = objutil.decode_body(req.body, req.headers.get("Content-Type"), rt.kind)
        if not isinstance(obj, dict):
            raise apierr.bad_request("the object provided is unrecognized (must be of type "
                                     "%s): couldn't get version/kind; json parse error: "
                                     "json: cannot unmarshal %s into Go value of type "
                                     "struct" % (rt.kind, type(obj).__name__))
        kind = obj.get("kind")
        if kind and kind != rt.kind:
            if rt.is_cr:
                raise apierr.bad_request('%s in version "%s" cannot be handled as a %s: '
                                         'no kind "%s" is registered' % (kind, rt.version,
                                                                        rt.kind, kind))
            raise apierr.bad_request('%s in version "%s" cannot be handled as a %s: '
                                     'converting (%s.%s) to (core.%s): unknown conversion'
                                     % (kind, rt.version, rt.kind, rt.version, kind,
                                        rt.kind))
        obj.setdefault("apiVersion", rt.gv)
        obj.setdefault("kind", rt.kind)
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}
        return obj, dups

    # -- reads ----------------------------------------------------------------
    def get_stored(self, rt, ns, name):
        obj = self.store.get(rt.store_key, ns if rt.namespaced else "", name)
        if obj is None:
            raise apierr.not_found(rt, name)
        return obj

    def get(self, req, rt, ns, name, sub=None):
        if sub and sub != "status" or (sub == "status" and not rt.status):
            if sub == "scale" and rt.scale:
                return 200, patching.scale_of(rt, self.get_stored(rt, ns, name)), []
            raise apierr.not_found(rt, name)
        return 200, self.view(rt, self.get_stored(rt, ns, name)), []

    def list_options(self, req, watch):
        rv = req.q("resourceVersion")
        rvm = req.q("resourceVersionMatch")
        sie = req.q("sendInitialEvents")
        causes = []
        if sie is not None and sie.lower() in ("true", "1") and watch:
            if rvm != "NotOlderThan":
                causes.append(cause("FieldValueForbidden",
                                    "Forbidden: sendInitialEvents requires setting "
                                    "resourceVersionMatch to NotOlderThan",
                                    "resourceVersionMatch"))
                if rvm:
                    causes.append(cause("FieldValueNotSupported",
                                        'Unsupported value: "%s": supported values: '
                                        '"NotOlderThan"' % rvm, "resourceVersionMatch"))
        elif rvm and not rv:
            causes.append(cause("FieldValueForbidden", "Forbidden: resourceVersionMatch is "
                                "forbidden unless resourceVersion is provided",
                                "resourceVersionMatch"))
        if sie is not None and not watch:
            causes.append(cause("FieldValueForbidden",
                                "Forbidden: sendInitialEvents is forbidden for list",
                                "sendInitialEvents"))
        if rvm and rvm not in ("Exact", "NotOlderThan") and not causes:
            causes.append(cause("FieldValueNotSupported",
                                'Unsupported value: "%s": supported values: "Exact", '
                                '"NotOlderThan"' % rvm, "resourceVersionMatch"))
        if causes:
            raise apierr.invalid_options("ListOptions", causes)

    def matcher(self, req, rt):
        lsel = labelsel.parse_labels(req.q("labelSelector"))
        fsel = labelsel.parse_fields(req.q("fieldSelector"), rt)
        if rt.group == "events.k8s.io":
            return lambda o: lsel(o["metadata"].get("labels")) and fsel(o)
        return lambda o: lsel(o["metadata"].get("labels")) and fsel(o)

    def _wait_rv(self, rv):
        deadline = time.monotonic() + 3.0
        while self.store.rv < rv and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.store.rv < rv:
            raise ApiError(504, "Timeout", "Timeout: Too large resource version: %d, "
                           "current: %d" % (rv, self.store.rv),
                           {"causes": [{"reason": "ResourceVersionTooLarge",
                                        "message": "Too large resource version"}],
                            "retryAfterSeconds": 1}, headers={"Retry-After": "1"})

    def list(self, req, rt, ns):
        """Returns (list_obj, items, meta) with items in the requested version."""
        self.list_options(req, False)
        match = self.matcher(req, rt)
        key, nsk = rt.store_key, (ns if rt.namespaced else None)
        rvs, rvm, cont = req.q("resourceVersion"), req.q("resourceVersionMatch"), req.q("continue")
        limit = _int(req.q("limit"), 0)
        start = None
        if cont:
            crv, start = decode_continue(cont)
            if crv < self.store.oldest():
                tok = encode_continue(-1, start)
                raise apierr.expired(
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter, or use "
                    "the continue token in this response to retrieve the remainder of the "
                    "results. Continuing with the provided token results in an inconsistent "
                    "list - objects that were created, modified, or deleted between the time "
                    "the first chunk was returned and now may show up in the list.",
                    metadata={"continue": tok})
            with self.store.lock:
                list_rv = crv if crv > 0 else self.store.rv
                objs = self.store.snapshot(key, nsk, list_rv) if crv > 0 else \
                    self.store.items(key, nsk)
        else:
            rv = _int(rvs, None) if rvs else None
            if rvs and rv is None:
                raise apierr.bad_request('invalid resource version "%s"' % rvs)
            if rv is not None and rv > 0 and rvm != "Exact":
                self._wait_rv(rv)
            with self.store.lock:
                if rvm == "Exact" and rv is not None and rv != self.store.rv:
                    if rv < self.store.oldest():
                        raise apierr.expired("The resourceVersion for the provided list is "
                                             "too old.")
                    if rv > self.store.rv:
                        self._wait_rv(rv)
                    list_rv = rv
                    objs = self.store.snapshot(key, nsk, rv)
                else:
                    list_rv = self.store.rv
                    objs = self.store.items(key, nsk)
            if rv == 0 and rvm != "Exact":
                limit = 0
        items = [o for o in (self.view(rt, x) for x in objs) if match(o)]
        if start is not None:
            items = [o for o in items if _list_key(o, nsk) > start]
        meta = {"resourceVersion": str(list_rv)}
        if limit and len(items) > limit:
            rest = len(items) - limit
            items = items[:limit]
            meta["continue"] = encode_continue(list_rv, _list_key(items[-1], nsk))
            meta["remainingItemCount"] = rest
        return items, meta

    def list_obj(self, rt, items, meta):
        if rt.is_cr:
            md = {"continue": meta.get("continue", "")}
            md.update(meta)
            return {"apiVersion": rt.gv, "items": items, "kind": rt.list_kind, "metadata": md}
        return {"kind": rt.list_kind, "apiVersion": rt.gv, "metadata": meta,
                "items": [objutil.without(o, "kind", "apiVersion") for o in items]}

    # -- create -------------------------------------------------------------
    def create(self, req, rt, ns, obj=None, dups=(), managed=None, code=201):
        fv = self.field_validation(req, "CreateOptions")
        if obj is None:
            obj, dups = self.decode(req, rt)
        md = obj["metadata"]
        if rt.namespaced:
            if md.get("namespace") and md["namespace"] != ns:
                raise apierr.bad_request("the namespace of the provided object does not "
                                         "match the namespace sent on the request")
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        if not md.get("name"):
            if md.get("generateName"):
                md["name"] = md["generateName"] + objutil.gen_suffix()
            else:
                raise apierr.invalid(rt, "", [builtin.required(
                    "metadata.name", "name or generateName is required")])
        name = md["name"]
        with self.store.lock:
            self.namespace_ok(rt, ns, name)
            obj, warnings = self.prepare_create(req, rt, obj, dups, fv, managed)
            if self.store.get(rt.store_key, md.get("namespace", ""), name) is not None:
                raise apierr.already_exists(rt, name)
            if req.dry_run:
                obj["metadata"].pop("resourceVersion", None)
                return code, self.view(rt, obj), warnings
            self.store.put(rt.store_key, obj["metadata"].get("namespace", ""), name, obj,
                           "ADDED")
            return code, self.view(rt, obj), warnings

    def prepare_create(self, req, rt, obj, dups, fv, managed):
        md = obj["metadata"]
        for f in SYSTEM_META + ("resourceVersion", "managedFields"):
            md.pop(f, None)
        md["uid"] = objutil.new_uid()
        md["resourceVersion"] = ""
        md["creationTimestamp"] = objutil.now()
        if rt.generation or rt.is_cr:
            md["generation"] = 1
        obj = self.to_store(rt, obj)
        if rt.status and "status" in obj and rt.kind != "Namespace":
            if rt.is_cr and fv == "Strict":
                self.check_schema(req, rt, obj, None, fv, dups, only_unknown=True)
            obj.pop("status", None)
        obj, warnings = self.admit(req, rt, obj, None, fv, dups)
        if managed is not None:
            obj["metadata"]["managedFields"] = managed
        else:
            obj = self.manage(rt, None, obj, req.manager, "Update", None)
        if not rt.is_cr:
            obj = order_obj(obj)
        else:
            obj["metadata"] = objutil.order_meta(obj["metadata"])
        return obj, warnings

    # -- defaults + validation --------------------------------------------
    def check_schema(self, req, rt, obj, old, fv, dups, only_unknown=False):
        """Schema defaulting/validation for CRs -> (obj, causes, unknown, warnings)."""
        mod = patching.module("schema")
        if mod is None or rt.schema is None:
            return obj, [], [], []
        nobj, errs, warns, unknown = mod.validate_and_default(rt.schema, obj, old, rt.kind,
                                                              fv == "Strict")
        if only_unknown:
            self.unknown_fields(rt, fv, list(unknown), [])
        warns = [w for w in warns or [] if not w.startswith("unknown field")]
        return (nobj if nobj is not None else obj), list(errs), list(unknown), warns

    def unknown_fields(self, rt, fv, unknown, dups):
        msgs = ['unknown field "%s"' % u for u in sorted(set(unknown))]
        msgs += ['duplicate field "%s"' % d for d in dups]
        if not msgs:
            return []
        if fv == "Strict":
            raise apierr.bad_request('%s in version "%s" cannot be handled as a %s: strict '
                                     'decoding error: %s' % (rt.kind, rt.version, rt.kind,
                                                             ", ".join(msgs)))
        if fv == "Warn":
            return msgs
        return []

    def admit(self, req, rt, obj, old, fv, dups):
        """Defaults and validation for a create (old None) or update."""
        causes, warnings, unknown = [], [], []
        check_meta_types(rt, obj)
        normalize(rt, obj)
        if rt.is_cr and rt.schema is not None and patching.module("schema") is not None:
            obj, causes, unknown, warnings = self.check_schema(req, rt, obj, old, fv, dups)
        else:
            md = obj["metadata"]
            unknown = ["metadata." + k for k in list(md) if k not in objutil.KNOWN_META]
            for k in unknown:
                md.pop(k[len("metadata."):], None)
            if not rt.is_cr:
                if not rt.group == "events.k8s.io":
                    unknown += builtin.unknown_fields(rt, obj)
                builtin.apply_defaults(rt, obj, old)
        warnings = self.unknown_fields(rt, fv, unknown, list(dups)) + warnings
        if old is None:
            causes = builtin.validate_name(rt, obj["metadata"].get("name", "")) + causes
        causes += validate_meta(obj, old)
        if not rt.is_cr:
            causes += builtin.validate_kind(rt, obj, old)
            if rt.group == "events.k8s.io":
                causes += builtin.validate_event(rt, obj, old)
        if causes:
            raise apierr.invalid(rt, obj["metadata"].get("name", ""), causes,
                                 core=rt.store_key == ("", "events"))
        return obj, warnings

    def manage(self, rt, old, new, manager, op, sub):
        """managedFields for an Update, computed on the version the client wrote."""
        if rt.group != "events.k8s.io":
            return patching.managed_update(old, new, manager, op, sub, rt)
        def trim(o):
            return {k: v for k, v in o.items()
                    if v is not None and not (k == "deprecatedSource" and not v)}
        res = patching.managed_update(trim(self.view(rt, old)) if old else None,
                                      trim(self.view(rt, new)), manager, op, sub, rt)
        mfs = res["metadata"].get("managedFields")
        new["metadata"] = dict(new["metadata"])
        if mfs:
            new["metadata"]["managedFields"] = mfs
        else:
            new["metadata"].pop("managedFields", None)
        return new

    # -- update -------------------------------------------------------------
    def update(self, req, rt, ns, name, sub=None):
        if sub and (sub != "status" or not rt.status) and not \
                (sub == "finalize" and rt.kind == "Namespace"):
            if sub == "scale" and rt.scale:
                return patching.update_scale(self, req, rt, ns, name)
            raise apierr.not_found(rt, name)
        fv = self.field_validation(req, "UpdateOptions")
        obj, dups = self.decode(req, rt)
        md = obj["metadata"]
        if md.get("name") and md["name"] != name:
            raise apierr.bad_request("the name of the object (%s) does not match the name on "
                                     "the URL (%s)" % (md["name"], name))
        if rt.namespaced and md.get("namespace") and md["namespace"] != ns:
            raise apierr.bad_request("the namespace of the provided object does not match "
                                     "the namespace sent on the request")
        md["name"] = name
        with self.store.lock:
            old = self.store.get(rt.store_key, ns if rt.namespaced else "", name)
            if old is None:
                if rt.create_on_update and not sub:
                    md.pop("resourceVersion", None)
                    return self.create(req, rt, ns, obj, dups)
                raise apierr.not_found(rt, name)
            rv = md.get("resourceVersion")
            if not rv:
                if not rt.unconditional_update:
                    raise apierr.invalid(rt, name, [cause(
                        "FieldValueInvalid", "Invalid value: 0x0: must be specified for an "
                        "update", "metadata.resourceVersion")], plural_kind=True)
            elif rv != old["metadata"]["resourceVersion"]:
                raise apierr.conflict(rt, name)
            obj = self.to_store(rt, obj)
            return self.write_update(req, rt, old, obj, sub, req.manager, "Update", fv, dups)

    def merge_for_sub(self, rt, old, new, sub):
        """Apply status-subresource rules: what part of `new` a write may change."""
        if sub == "status":
            out = clone(old)
            if "status" in new:
                out["status"] = new["status"]
            else:
                out.pop("status", None)
            out["metadata"]["managedFields"] = new["metadata"].get("managedFields",
                                                                   old["metadata"].get("managedFields"))
            return out
        if sub == "finalize":
            out = clone(old)
            out.setdefault("spec", {})["finalizers"] = (new.get("spec") or {}).get("finalizers") or []
            return out
        if rt.status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if rt.kind == "Namespace":
            new["spec"] = clone(old.get("spec") or {})
        return new

    def write_update(self, req, rt, old, new, sub, manager, op, fv, dups=(), managed=None):
        """Common tail of PUT, PATCH and apply; store.lock is held."""
        omd = old["metadata"]
        md = new["metadata"]
        for f in SYSTEM_META + ("namespace", "name"):
            if f in omd:
                md[f] = omd[f]
            else:
                md.pop(f, None)
        md["resourceVersion"] = omd["resourceVersion"]
        if managed is not None:
            md["managedFields"] = managed
        elif "managedFields" not in md and omd.get("managedFields"):
            md["managedFields"] = omd["managedFields"]
        new = self.merge_for_sub(rt, old, new, sub)
        new, warnings = self.admit(req, rt, new, old, fv, dups)
        if omd.get("deletionTimestamp"):
            added = [f for f in new["metadata"].get("finalizers") or []
                     if f not in (omd.get("finalizers") or [])]
            if added:
                c = cause("FieldValueForbidden", "Forbidden: no new finalizers can be added if "
                          "the object is being deleted, found new finalizers []string{%s}"
                          % ", ".join(json.dumps(a) for a in added), "metadata.finalizers")
                raise apierr.invalid(rt, omd["name"], [c, c])
        if (rt.generation or rt.is_cr) and _spec_changed(rt, old, new):
            new["metadata"]["generation"] = omd.get("generation", 1) + 1
        if managed is None:
            new = self.manage(rt, old, new, manager, op, sub if sub == "status" else None)
        new = order_obj(new) if not rt.is_cr else new
        if rt.is_cr:
            new["metadata"] = objutil.order_meta(new["metadata"])
        if objutil.strip_volatile(new) == objutil.strip_volatile(old):
            return 200, self.view(rt, old), warnings
        ns, name = omd.get("namespace", ""), omd["name"]
        if req is not None and req.dry_run:
            return 200, self.view(rt, new), warnings
        if omd.get("deletionTimestamp") and not new["metadata"].get("finalizers") and \
                not (rt.kind == "Namespace" and (new.get("spec") or {}).get("finalizers")):
            self.store.remove(rt.store_key, ns, name, clone(old))
            return 200, self.view(rt, new), warnings
        self.store.put(rt.store_key, ns, name, new, "MODIFIED")
        return 200, self.view(rt, new), warnings

    # -- delete -------------------------------------------------------------
    def delete_options(self, req):
        opts = {}
        if req.body and req.body.strip():
            try:
                opts, _ = objutil.decode_json(req.body)
            except ValueError:
                raise apierr.bad_request("the object provided is unrecognized (must be of "
                                         "type DeleteOptions)")
            if not isinstance(opts, dict):
                opts = {}
        if req.q("propagationPolicy"):
            opts["propagationPolicy"] = req.q("propagationPolicy")
        if req.q("orphanDependents") is not None and "propagationPolicy" not in opts:
            if req.flag("orphanDependents"):
                opts["propagationPolicy"] = "Orphan"
        if req.dry_run or opts.get("dryRun") == ["All"]:
            opts["dryRun"] = True
        else:
            opts["dryRun"] = False
        pol = opts.get("propagationPolicy")
        if pol and pol not in ("Background", "Foreground", "Orphan"):
            raise apierr.invalid_options("DeleteOptions", [cause(
                "FieldValueNotSupported", 'Unsupported value: "%s": supported values: '
                '"Foreground", "Background", "Orphan", "nil"' % pol, "propagationPolicy")])
        return opts

    def delete(self, req, rt, ns, name, opts=None):
        opts = opts if opts is not None else self.delete_options(req)
        if rt.kind == "Namespace" and name in PROTECTED_NS:
            raise ApiError(403, "Forbidden", 'namespaces "%s" is forbidden: this namespace '
                           'may not be deleted' % name, {"name": name, "kind": "namespaces"})
        with self.store.lock:
            old = self.get_stored(rt, ns, name)
            pre = opts.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
                raise apierr.precondition_failed(rt, name, "UID", pre["uid"],
                                                 old["metadata"].get("uid"))
            if pre.get("resourceVersion") and \
                    pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise apierr.precondition_failed(rt, name, "RV", pre["resourceVersion"],
                                                 old["metadata"]["resourceVersion"])
            return self.delete_locked(rt, old, opts)

    def delete_locked(self, rt, old, opts):
        omd = old["metadata"]
        ns, name = omd.get("namespace", ""), omd["name"]
        fins = list(omd.get("finalizers") or [])
        pol = opts.get("propagationPolicy")
        if pol == "Foreground" and "foregroundDeletion" not in fins:
            fins.append("foregroundDeletion")
        if pol == "Orphan" and "orphan" not in fins:
            fins.append("orphan")
        if rt.kind == "CustomResourceDefinition":
            fins.append("customresourcecleanup.apiextensions.k8s.io") \
                if "customresourcecleanup.apiextensions.k8s.io" not in fins else None
        is_ns = rt.kind == "Namespace"
        if fins or is_ns:
            if omd.get("deletionTimestamp") and fins == list(omd.get("finalizers") or []):
                return 200, self.view(rt, old), []
            new = clone(old)
            md = new["metadata"]
            if not md.get("deletionTimestamp"):
                md["deletionTimestamp"] = objutil.now()
                md["deletionGracePeriodSeconds"] = 0
                if md.get("generation"):
                    md["generation"] += 1
            if fins:
                md["finalizers"] = fins
            if is_ns:
                new.setdefault("status", {})["phase"] = "Terminating"
            new["metadata"] = objutil.order_meta(md)
            if opts.get("dryRun"):
                return 200, self.view(rt, new), []
            self.store.put(rt.store_key, ns, name, new, "MODIFIED")
            return 200, self.view(rt, new), []
        if not opts.get("dryRun"):
            self.store.remove(rt.store_key, ns, name, clone(old))
        details = {"name": name}
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.plural
        details["uid"] = omd.get("uid")
        return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                     "status": "Success", "details": details}, []

    def deletecollection(self, req, rt, ns):
        opts = self.delete_options(req)
        match = self.matcher(req, rt)
        deleted = []
        with self.store.lock:
            for o in self.store.items(rt.store_key, ns if rt.namespaced else None):
                v = self.view(rt, o)
                if not match(v):
                    continue
                code, body, _ = self.delete_locked(rt, o, opts)
                deleted.append(v if body.get("kind") == "Status" else body)
            meta = {"resourceVersion": str(self.store.rv)}
        return 200, self.list_obj(rt, deleted, meta), []


# ---------------------------------------------------------------------------

def _int(s, default):
    try:
        return int(s)
    except (TypeError, ValueError):
        return default


def _list_key(o, ns):
    md = o["metadata"]
    if ns is None and md.get("namespace"):
        return md["namespace"] + "/" + md["name"]
    return md["name"]


def encode_continue(rv, start):
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\x00"},
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(tok):
    try:
        raw = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4))
        d = json.loads(raw)
        start = d["start"]
        if start.endswith("\x00"):
            start = start[:-1]
        return int(d["rv"]), start.lstrip("/")
    except Exception as e:  # noqa: BLE001 - any decoding failure is a 400
        msg = "invalid character 'o' in literal null (expecting 'u')" \
            if isinstance(e, ValueError) else str(e)
        raise apierr.bad_request("invalid continue token: continue key is not valid: " + msg)


def _spec_changed(rt, old, new):
    if rt.is_cr:
        skip = ("metadata", "status") if rt.status else ("metadata",)
        a = {k: v for k, v in old.items() if k not in skip + ("apiVersion", "kind")}
        b = {k: v for k, v in new.items() if k not in skip + ("apiVersion", "kind")}
        return a != b
    return old.get("spec") != new.get("spec")


def normalize(rt, obj):
    """Drop what Go's omitempty drops: empty metadata maps/lists, empty data maps."""
    md = obj["metadata"]
    for k in ("labels", "annotations", "finalizers", "ownerReferences", "managedFields",
              "generateName"):
        if k in md and not md[k]:
            del md[k]
    if not rt.is_cr:
        for k in ("data", "binaryData", "stringData"):
            if k in obj and not obj[k] and isinstance(obj[k], (dict, type(None))):
                del obj[k]


LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric "
                   "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                   "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                   "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def check_meta_types(rt, obj):
    """Go decoding errors for wrongly typed metadata maps and lists (400)."""
    md = obj["metadata"]
    for field in ("labels", "annotations"):
        v = md.get(field)
        if v is None:
            continue
        bad = None
        if not isinstance(v, dict):
            bad = "cannot unmarshal %s into Go struct field ObjectMeta.metadata.%s of type " \
                  "map[string]string" % (_gotype(v), field)
        else:
            for x in v.values():
                if not isinstance(x, str):
                    bad = "cannot unmarshal %s into Go struct field ObjectMeta.metadata.%s " \
                          "of type string" % (_gotype(x), field)
                    break
        if bad:
            raise apierr.bad_request('%s in version "%s" cannot be handled as a %s: json: %s'
                                     % (rt.kind, rt.version, rt.kind, bad))


def _gotype(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "string"


def validate_labels(md):
    causes = []
    for k, v in (md.get("labels") or {}).items():
        name = k.rsplit("/", 1)[-1]
        if not name or len(name) > 63 or not builtin.QNAME_RE.match(name):
            causes.append(builtin.invalid_value("metadata.labels", k, builtin.QNAME_MSG))
        if v and (len(v) > 63 or not builtin.QNAME_RE.match(v)):
            causes.append(builtin.invalid_value("metadata.labels", v, LABEL_VALUE_MSG))
    return causes


def validate_meta(obj, old):
    causes = validate_labels(obj["metadata"])
    refs = obj["metadata"].get("ownerReferences") or []
    ctrl = [r for r in refs if isinstance(r, dict) and r.get("controller")]
    if len(ctrl) > 1:
        def gofmt(r):
            return ('v1.OwnerReference{APIVersion:"%s", Kind:"%s", Name:"%s", UID:"%s", '
                    'Controller:(*bool)(0xc00330adb0), BlockOwnerDeletion:(*bool)'
                    '(0xc00330adb1)}' % (r.get("apiVersion", ""), r.get("kind", ""),
                                        r.get("name", ""), r.get("uid", "")))
        val = "[]v1.OwnerReference{%s}" % ", ".join(gofmt(r) for r in refs)
        causes.append(cause("FieldValueInvalid", "Invalid value: %s: Only one reference can "
                            "have Controller set to true. Found \"true\" in references for %s"
                            % (val, " and ".join("%s/%s" % (r.get("kind"), r.get("name"))
                                                 for r in ctrl)),
                            "metadata.ownerReferences"))
    for i, r in enumerate(refs):
        if not isinstance(r, dict):
            continue
        for f in ("apiVersion", "kind", "name", "uid"):
            if not r.get(f):
                causes.append(builtin.required("metadata.ownerReferences[%d].%s" % (i, f)))
    return causes
