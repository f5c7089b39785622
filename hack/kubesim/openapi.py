"""OpenAPI v3: the /openapi/v3 index and one document per group-version.

What kubectl needs from them (transcripts 05, 20, 21):
- every kind has a PATCH operation tagged x-kubernetes-group-version-kind
  whose parameters include `fieldValidation`, so kubectl validates on the
  server (`--validate=strict`) instead of needing full client-side schemas;
- built-in PATCH request bodies do not list strategic-merge-patch, so
  `kubectl apply` computes strategic patches from its compiled-in types;
- components.schemas holds each kind's schema with
  x-kubernetes-group-version-kind (CRD schemas in full) for `kubectl explain`.
Documents are cached per registry generation; the index carries their hashes.
"""

import hashlib
import json
import threading

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
API_VERSION_DESC = ("APIVersion defines the versioned schema of this representation of an "
                    "object. Servers should convert recognized schemas to the latest internal "
                    "value, and may reject unrecognized values. More info: https://git.k8s.io/"
                    "community/contributors/devel/sig-architecture/api-conventions.md#resources")
KIND_DESC = ("Kind is a string value representing the REST resource this object represents. "
             "Servers may infer this from the endpoint the client submits requests to. Cannot "
             "be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/"
             "devel/sig-architecture/api-conventions.md#types-kinds")
META_DESC = ("Standard object's metadata. More info: https://git.k8s.io/community/contributors/"
             "devel/sig-architecture/api-conventions.md#metadata")


def _ref(name):
    return {"$ref": "#/components/schemas/" + name}


def _s(typ, desc="", **kw):
    d = {"type": typ}
    if desc:
        d["description"] = desc
    d.update(kw)
    return d


def meta_schemas():
    S, O, A = (lambda d="": _s("string", d)), (lambda d="", **k: _s("object", d, **k)), \
        (lambda items, d="": _s("array", d, items=items))
    om = O("ObjectMeta is metadata that all persisted resources must have, which includes "
           "all objects users must create.", properties={
               "annotations": O("Annotations is an unstructured key value map.",
                                additionalProperties={"type": "string", "default": ""}),
               "creationTimestamp": dict(_ref(META + "Time"), description=(
                   "CreationTimestamp is a timestamp representing the server time when this "
                   "object was created.")),
               "deletionGracePeriodSeconds": _s("integer", "Number of seconds allowed for this "
                                                "object to gracefully terminate.",
                                                format="int64"),
               "deletionTimestamp": dict(_ref(META + "Time"), description=(
                   "DeletionTimestamp is RFC 3339 date and time at which this resource will "
                   "be deleted.")),
               "finalizers": A({"type": "string", "default": ""},
                               "Must be empty before the object is deleted from the registry."),
               "generateName": S("GenerateName is an optional prefix, used by the server, to "
                                 "generate a unique name ONLY IF the Name field has not been "
                                 "provided."),
               "generation": _s("integer", "A sequence number representing a specific "
                                "generation of the desired state.", format="int64"),
               "labels": O("Map of string keys and values that can be used to organize and "
                           "categorize (scope and select) objects.",
                           additionalProperties={"type": "string", "default": ""}),
               "managedFields": A(_ref(META + "ManagedFieldsEntry"),
                                  "ManagedFields maps workflow-id and version to the set of "
                                  "fields that are managed by that workflow."),
               "name": S("Name must be unique within a namespace."),
               "namespace": S("Namespace defines the space within which each name must be "
                              "unique."),
               "ownerReferences": A(_ref(META + "OwnerReference"),
                                    "List of objects depended by this object."),
               "resourceVersion": S("An opaque value that represents the internal version of "
                                    "this object."),
               "selfLink": S("Deprecated: selfLink is a legacy read-only field that is no "
                             "longer populated by the system."),
               "uid": S("UID is the unique in time and space value for this object."),
           })
    return {
        META + "ObjectMeta": om,
        META + "ListMeta": O("ListMeta describes metadata that synthetic resources must have.",
                             properties={"continue": S("continue may be set if the user set a "
                                                       "limit on the number of items returned."),
                                         "remainingItemCount": _s("integer", "", format="int64"),
                                         "resourceVersion": S("String that identifies the "
                                                              "server's internal version."),
                                         "selfLink": S("Deprecated.")}),
        META + "ManagedFieldsEntry": O("ManagedFieldsEntry is a workflow-id, a FieldSet and the "
                                       "group version of the resource that the fieldset "
                                       "applies to.", properties={
                                           "apiVersion": S("APIVersion defines the version of "
                                                           "this resource."),
                                           "fieldsType": S("FieldsType is the discriminator."),
                                           "fieldsV1": dict(_ref(META + "FieldsV1"),
                                                            description="FieldsV1 holds the "
                                                            "first JSON version format."),
                                           "manager": S("Manager is an identifier of the "
                                                        "workflow managing these fields."),
                                           "operation": S("Operation is the type of operation "
                                                          "which lead to this entry."),
                                           "subresource": S("Subresource is the name of the "
                                                            "subresource used to update."),
                                           "time": dict(_ref(META + "Time"),
                                                        description="Time is the timestamp.")}),
        META + "OwnerReference": O("OwnerReference contains enough information to let you "
                                   "identify an owning object.",
                                   required=["apiVersion", "kind", "name", "uid"], properties={
                                       "apiVersion": S("API version of the referent."),
                                       "blockOwnerDeletion": _s("boolean", "If true, the owner "
                                                                "cannot be deleted before."),
                                       "controller": _s("boolean", "If true, this reference "
                                                        "points to the managing controller."),
                                       "kind": S("Kind of the referent."),
                                       "name": S("Name of the referent."),
                                       "uid": S("UID of the referent.")},
                                   **{"x-kubernetes-map-type": "atomic"}),
        META + "Time": _s("string", "Time is a wrapper around time.Time.", format="date-time"),
        META + "MicroTime": _s("string", "MicroTime is version of Time with microsecond level "
                               "precision.", format="date-time"),
        META + "FieldsV1": O("FieldsV1 stores a set of fields in a data structure like a Trie, "
                             "in JSON format."),
        META + "Patch": O("Patch is provided to give a concrete name and type to the "
                          "Kubernetes PATCH request body."),
        META + "LabelSelector": O("A label selector.", properties={
            "matchExpressions": A(O(), "matchExpressions is a list of label selector "
                                  "requirements."),
            "matchLabels": O("matchLabels is a map of {key,value} pairs.",
                             additionalProperties={"type": "string", "default": ""})}),
    }


def schema_prefix(rt):
    if rt.is_cr:
        return ".".join(reversed(rt.group.split("."))) + "." + rt.version + "."
    if rt.group == "apiextensions.k8s.io":
        return "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions." + rt.version + "."
    g = rt.group.split(".")[0] if rt.group else "core"
    return "io.k8s.api.%s.%s." % (g, rt.version)


def _gvk(rt, kind=None):
    return {"group": rt.group, "kind": kind or rt.kind, "version": rt.version}


def kind_schema(rt):
    if rt.is_cr and rt.schema:
        sch = json.loads(json.dumps(rt.schema))
        props = sch.setdefault("properties", {})
        props["apiVersion"] = _s("string", API_VERSION_DESC)
        props["kind"] = _s("string", KIND_DESC)
        props["metadata"] = {"description": META_DESC, "allOf": [_ref(META + "ObjectMeta")]}
    else:
        props = {"apiVersion": _s("string", API_VERSION_DESC), "kind": _s("string", KIND_DESC),
                 "metadata": {"description": META_DESC, "default": {},
                              "allOf": [_ref(META + "ObjectMeta")]}}
        for f in ("spec", "status", "data", "stringData", "binaryData", "type", "rules",
                  "roleRef", "subjects", "immutable", "webhooks"):
            if f in BUILTIN_FIELDS.get(rt.kind, ("spec", "status")):
                props[f] = _builtin_field(f)
        sch = {"description": "%s (served by kubesim; fields not described)" % rt.kind,
               "type": "object", "properties": props}
    sch["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return sch


def _builtin_field(f):
    if f in ("type", "immutable"):
        return {"type": "string"}
    if f == "webhooks":
        return {"type": "array",
                "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


BUILTIN_FIELDS = {"MutatingWebhookConfiguration": ("webhooks",),
                  "ValidatingWebhookConfiguration": ("webhooks",),
                  "ConfigMap": ("data", "binaryData", "immutable"),
                  "Secret": ("data", "stringData", "type", "immutable"),
                  "Role": ("rules",), "ClusterRole": ("rules",),
                  "RoleBinding": ("roleRef", "subjects"),
                  "ClusterRoleBinding": ("roleRef", "subjects"),
                  "ServiceAccount": (), "Endpoints": ("subsets",)}


def list_schema(rt, prefix):
    return {"description": "%s is a list of %s" % (rt.list_kind, rt.kind), "type": "object",
            "required": ["items"],
            "properties": {"apiVersion": _s("string", API_VERSION_DESC),
                           "items": {"description": "List of %s." % rt.plural, "type": "array",
                                     "items": _ref(prefix + rt.kind)},
                           "kind": _s("string", KIND_DESC),
                           "metadata": {"description": "Standard list metadata.",
                                        "allOf": [_ref(META + "ListMeta")]}},
            "x-kubernetes-group-version-kind": [_gvk(rt, rt.list_kind)]}


def _param(name, desc=""):
    return {"name": name, "in": "query", "description": desc,
            "schema": {"type": "string", "uniqueItems": True}}


def _op(rt, action, verb, ref, op_id, params=(), body=None):
    op = {"tags": [rt.gv.replace("/", "_")], "description": "%s %s" % (verb, rt.kind),
          "operationId": op_id, "parameters": list(params),
          "responses": {"200": {"description": "OK", "content": {
              "application/json": {"schema": _ref(ref)},
              "application/yaml": {"schema": _ref(ref)}}},
              "401": {"description": "Unauthorized"}},
          "x-kubernetes-action": action, "x-kubernetes-group-version-kind": _gvk(rt)}
    if body:
        op["requestBody"] = {"content": {ct: {"schema": _ref(ref if ct == "*/*" else
                                                               META + "Patch")}
                                         for ct in body}, "required": True}
    return op


def paths_for(rt, prefix):
    ref = prefix + rt.kind
    lref = prefix + rt.list_kind
    camel = rt.gv.replace(".", " ").replace("/", " ").title().replace(" ", "")
    nsd = "Namespaced" if rt.namespaced else ""
    base = rt.url(ns="{namespace}") if rt.namespaced else rt.url()
    write = [_param("dryRun"), _param("fieldManager"), _param("fieldValidation")]
    patch_types = ["application/apply-patch+yaml", "application/json-patch+json",
                   "application/merge-patch+json"]
    paths = {}
    sel = [_param(p) for p in ("labelSelector", "fieldSelector", "limit", "continue",
                               "resourceVersion", "resourceVersionMatch", "watch",
                               "allowWatchBookmarks", "sendInitialEvents", "timeoutSeconds")]
    paths[base] = {
        "get": _op(rt, "list", "list", lref, "list%s%s%s" % (camel, nsd, rt.kind), sel),
        "post": _op(rt, "post", "create", ref, "create%s%s%s" % (camel, nsd, rt.kind), write,
                    ["*/*"]),
        "delete": _op(rt, "deletecollection", "delete collection of", "%sStatus" % META,
                      "deleteCollection%s%s%s" % (camel, nsd, rt.kind)),
    }
    named = {
        "get": _op(rt, "get", "read the specified", ref, "read%s%s%s" % (camel, nsd, rt.kind)),
        "put": _op(rt, "put", "replace the specified", ref,
                   "replace%s%s%s" % (camel, nsd, rt.kind), write, ["*/*"]),
        "delete": _op(rt, "delete", "delete", META + "Status",
                      "delete%s%s%s" % (camel, nsd, rt.kind)),
        "patch": _op(rt, "patch", "partially update the specified", ref,
                     "patch%s%s%s" % (camel, nsd, rt.kind), write + [_param("force")],
                     patch_types),
        "parameters": [{"name": "name", "in": "path", "description": "name of the %s" % rt.kind,
                        "required": True, "schema": {"type": "string", "uniqueItems": True}}],
    }
    paths[base + "/{name}"] = named
    if rt.status:
        paths[base + "/{name}/status"] = {
            "get": _op(rt, "get", "read status of the specified", ref,
                       "read%s%s%sStatus" % (camel, nsd, rt.kind)),
            "put": _op(rt, "put", "replace status of the specified", ref,
                       "replace%s%s%sStatus" % (camel, nsd, rt.kind), write, ["*/*"]),
            "patch": _op(rt, "patch", "partially update status of the specified", ref,
                         "patch%s%s%sStatus" % (camel, nsd, rt.kind), write + [_param("force")],
                         patch_types)}
    if rt.namespaced:
        paths[rt.url()] = {"get": _op(rt, "list", "list", lref,
                                      "list%s%sForAllNamespaces" % (camel, rt.kind), sel)}
    return paths


def _dumps(o):
    return json.dumps(o, separators=(",", ":"))


class OpenAPI:
    def __init__(self, registry):
        self.reg = registry
        self.lock = threading.Lock()
        self.gen = -1
        self.docs = {}

    def _rebuild(self):
        if self.gen == self.reg.generation:
            return
        docs = {}
        gvs = [("", "v1")] + [(g, v) for g in self.reg.groups() for v in self.reg.versions(g)]
        for g, v in gvs:
            doc = {"openapi": "3.0.0",
                   "info": {"title": "Kubernetes" if not any(r.is_cr for r in
                                                             self.reg.by_gv(g, v))
                            else "Kubernetes CRD Swagger", "version": "v1.32.13"},
                   "paths": {}, "components": {"schemas": meta_schemas()}}
            for rt in self.reg.by_gv(g, v):
                prefix = schema_prefix(rt)
                doc["paths"].update(paths_for(rt, prefix))
                doc["components"]["schemas"][prefix + rt.kind] = kind_schema(rt)
                doc["components"]["schemas"][prefix + rt.list_kind] = list_schema(rt, prefix)
            body = _dumps(doc)
            path = "api/v1" if not g else "apis/%s/%s" % (g, v)
            docs[path] = (body, hashlib.sha512(body.encode()).hexdigest().upper())
        for extra in ["api", "apis"] + ["apis/" + g for g in self.reg.groups()
                                        if not any(r.is_cr for r in self._group_types(g))]:
            body = _dumps({"openapi": "3.0.0", "info": {"title": "Kubernetes",
                                                        "version": "v1.32.13"},
                           "paths": {}, "components": {}})
            docs[extra] = (body, hashlib.sha512((extra + body).encode()).hexdigest().upper())
        self.docs = docs
        self.gen = self.reg.generation

    def _group_types(self, g):
        out = []
        for v in self.reg.versions(g):
            out.extend(self.reg.by_gv(g, v))
        return out

    def index(self):
        with self.lock:
            self._rebuild()
            paths = {p: {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (p, h)}
                     for p, (_, h) in sorted(self.docs.items())}
            return json.dumps({"paths": paths}, separators=(",", ":"))

    def doc(self, path):
        """(body, hash) or None."""
        with self.lock:
            self._rebuild()
            return self.docs.get(path)
