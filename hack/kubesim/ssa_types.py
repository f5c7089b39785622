"""List and map types for server-side apply (which lists merge, by which keys).

Server-side apply and managedFields need to know, for every list, whether it
is atomic (replaced as a whole, owned as one field), a set (items owned by
value, `v:"x"`) or a map keyed by some fields (items owned by key,
`k:{"type":"Ready"}`); and for every map whether it is atomic.  The
resolvers here answer that for a path of field names with list positions
left out ("spec.template.spec.containers", "status.conditions").

A resolver returns one of:
    None                      default: atomic list / granular map
    "atomic"                  atomic list or map
    "set"                     list of scalars merged by value
    {"keys": [...], "defaults": {...}, "atomic_items": bool}
                              list-map (key defaults, e.g. protocol TCP; items
                              owned whole when atomic_items, e.g. ownerReferences)

    builtin_list_types(kind) -> resolver     the built-in kinds' Go markers
    schema_list_types(openapi_schema) -> resolver   a CRD version's schema
    make_resolver(list_map_keys, kind) -> resolver  accepts None, a dict
        {path: spec}, a callable(path) -> spec, or a list of keys as spec
"""

__all__ = ["builtin_list_types", "schema_list_types", "make_resolver",
           "normalize_spec"]

_META = {"metadata.finalizers": "set",
         "metadata.ownerReferences": {"keys": ["uid"], "defaults": {},
                                      "atomic_items": True}}


def _map(*keys, **defaults):
    return {"keys": list(keys), "defaults": defaults}


def _atomic_map(*keys):
    return {"keys": list(keys), "defaults": {}, "atomic_items": True}


_POD_SPEC = {
    "containers": _map("name"), "initContainers": _map("name"),
    "ephemeralContainers": _map("name"), "volumes": _map("name"),
    "imagePullSecrets": _atomic_map("name"), "hostAliases": _map("ip"),
    "topologySpreadConstraints": _map("topologyKey", "whenUnsatisfiable"),
    "resourceClaims": _map("name"), "schedulingGates": _map("name"),
    "nodeSelector": "atomic",
}
_CONTAINER = {
    "ports": _map("containerPort", "protocol", protocol="TCP"),
    "env": _map("name"), "volumeMounts": _map("mountPath"),
    "volumeDevices": _map("devicePath"),
}
_POD_SPEC_AT = {
    "Pod": "spec", "PodTemplate": "template.spec",
    "Deployment": "spec.template.spec", "ReplicaSet": "spec.template.spec",
    "StatefulSet": "spec.template.spec", "DaemonSet": "spec.template.spec",
    "Job": "spec.template.spec", "ReplicationController": "spec.template.spec",
    "CronJob": "spec.jobTemplate.spec.template.spec",
}
_KIND_PATHS = {
    "Service": {"spec.ports": _map("port", "protocol", protocol="TCP"),
                "spec.selector": "atomic"},
    "Deployment": {"spec.selector": "atomic"},
    "ReplicaSet": {"spec.selector": "atomic"},
    "StatefulSet": {"spec.selector": "atomic"},
    "DaemonSet": {"spec.selector": "atomic"},
    "Job": {"spec.selector": "atomic"},
    "NetworkPolicy": {"spec.podSelector": "atomic"},
    "Node": {"status.addresses": _map("type")},
    "EndpointSlice": {"endpoints": "atomic", "ports": "atomic"},
}
# fields whose Go struct is +structType=atomic wherever they appear
_SELECTOR_NAMES = {"labelSelector", "namespaceSelector", "podSelector",
                   "secretKeyRef", "configMapKeyRef", "fieldRef", "resourceFieldRef",
                   "involvedObject", "regarding", "related"}


def builtin_list_types(kind):
    """Resolver for a built-in kind (Deployment, Service, Pod, ...)."""
    at = _POD_SPEC_AT.get(kind)
    extra = _KIND_PATHS.get(kind, {})

    def resolve(path):
        if path in _META or path.endswith(".metadata.finalizers") or \
                path.endswith(".metadata.ownerReferences"):
            return _META["metadata." + path.rsplit(".", 1)[1]]
        if path in extra:
            return extra[path]
        if path == "status.conditions":
            return _map("type")
        if at and path.startswith(at + "."):
            rel = path[len(at) + 1:].split(".")
            if len(rel) == 1 and rel[0] in _POD_SPEC:
                return _POD_SPEC[rel[0]]
            if len(rel) == 2 and rel[0] in ("containers", "initContainers",
                                            "ephemeralContainers") and rel[1] in _CONTAINER:
                return _CONTAINER[rel[1]]
        if path.rsplit(".", 1)[-1] in _SELECTOR_NAMES:
            return "atomic"
        return None
    return resolve


def _schema_at(schema, names):
    s = schema
    for name in names:
        while isinstance(s, dict) and s.get("type") == "array":
            s = s.get("items")
        if not isinstance(s, dict):
            return None
        props = s.get("properties") or {}
        if name in props:
            s = props[name]
        elif isinstance(s.get("additionalProperties"), dict):
            s = s["additionalProperties"]
        else:
            return None
    return s


def schema_list_types(schema):
    """Resolver for a CRD version's openAPIV3Schema."""
    cache = {}

    def resolve(path):
        if path in cache:
            return cache[path]
        if path in _META:
            r = _META[path]
        else:
            r = _from_schema(_schema_at(schema, path.split(".")))
        cache[path] = r
        return r
    return resolve


def _from_schema(s):
    if not isinstance(s, dict):
        return None
    if s.get("type") == "array" or "items" in s:
        lt = s.get("x-kubernetes-list-type")
        if lt == "set":
            return "set"
        if lt == "map":
            keys = list(s.get("x-kubernetes-list-map-keys") or [])
            props = (s.get("items") or {}).get("properties") or {}
            defaults = {k: props[k]["default"] for k in keys
                        if isinstance(props.get(k), dict) and "default" in props[k]}
            atomic = (s.get("items") or {}).get("x-kubernetes-map-type") == "atomic"
            return {"keys": keys, "defaults": defaults, "atomic_items": atomic}
        return "atomic"
    if s.get("x-kubernetes-map-type") == "atomic":
        return "atomic"
    return None


def normalize_spec(spec):
    if spec is None or spec == "granular":
        return None
    if spec in ("atomic", "set"):
        return spec
    if isinstance(spec, dict) and "keys" in spec:
        return {"keys": list(spec["keys"]), "defaults": dict(spec.get("defaults") or {}),
                "atomic_items": bool(spec.get("atomic_items"))}
    if isinstance(spec, (list, tuple)):
        return {"keys": list(spec), "defaults": {}}
    return None


def make_resolver(list_map_keys, kind=None):
    """A memoizing resolver from the forms apply() accepts."""
    base = builtin_list_types(kind or "")
    if list_map_keys is None:
        fn = base
    elif callable(list_map_keys):
        def fn(path):
            r = list_map_keys(path)
            return base(path) if r is None and path in _META else r
    elif isinstance(list_map_keys, dict):
        def fn(path):
            if path in list_map_keys:
                return list_map_keys[path]
            return _META.get(path)
    else:
        raise TypeError("list_map_keys must be None, a dict or a callable")
    cache = {}

    def resolve(names):
        key = ".".join(names)
        if key not in cache:
            cache[key] = normalize_spec(fn(key))
        return cache[key]
    return resolve


# What a zero-valued Go object of each built-in kind serializes to.  A create
# is compared against it, so fields that exist even in an empty object (non-
# pointer structs, lists without omitempty) are not "added" by the create:
# a created Service owns `f:spec` without ".", a Deployment's containers
# list has no "." either (transcript 25).
_EMPTY = {
    "Service": {"spec": {}, "status": {"loadBalancer": {}}},
    "Ingress": {"spec": {}, "status": {"loadBalancer": {}}},
    "Deployment": {"spec": {"selector": None, "template": {
        "metadata": {}, "spec": {"containers": None}}, "strategy": {}}, "status": {}},
    "ReplicaSet": {"spec": {"selector": None, "template": {
        "metadata": {}, "spec": {"containers": None}}}, "status": {"replicas": 0}},
    "StatefulSet": {"spec": {"selector": None, "template": {
        "metadata": {}, "spec": {"containers": None}}, "serviceName": "",
        "updateStrategy": {}}, "status": {"replicas": 0, "availableReplicas": 0}},
    "DaemonSet": {"spec": {"selector": None, "template": {
        "metadata": {}, "spec": {"containers": None}}, "updateStrategy": {}},
        "status": {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                   "desiredNumberScheduled": 0, "numberReady": 0}},
    "Pod": {"spec": {"containers": None}, "status": {}},
    "Job": {"spec": {"template": {"metadata": {}, "spec": {"containers": None}}},
            "status": {}},
    "NetworkPolicy": {"spec": {"podSelector": {}}},
    "Lease": {"spec": {}},
    "Namespace": {"spec": {}, "status": {}},
    "PersistentVolumeClaim": {"spec": {"resources": {}}, "status": {}},
    "Event": {"involvedObject": {}, "source": {}, "firstTimestamp": None,
              "lastTimestamp": None, "eventTime": None, "reportingComponent": "",
              "reportingInstance": ""},
}


def empty_object(kind):
    """The zero-valued object of a built-in kind ({} for others)."""
    import copy
    return copy.deepcopy(_EMPTY.get(kind, {}))
