"""The set of served resources: built-in kinds plus those defined by CRDs.

Lookups by group/version/plural (routing), by group (discovery) and by
storage key (controllers).  `generation` increases on every change so that
discovery and OpenAPI documents can be cached and their ETags recomputed.
"""

import threading

import builtin
from rtypes import RType, CRD_VERBS


def _version_key(v):
    """Kubernetes version priority: GA > beta > alpha, higher numbers first."""
    import re
    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", v)
    if not m:
        return (3, 0, 0, v)
    major = int(m.group(1))
    stage = {"alpha": 2, "beta": 1, None: 0}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor, v)


class Registry:
    def __init__(self):
        self.lock = threading.RLock()
        self.types = {}        # (group, version, plural) -> RType
        self.crd_types = {}    # crd name -> [RType]
        self.generation = 0
        for rt in builtin.builtin_types():
            self.types[(rt.group, rt.version, rt.plural)] = rt

    def lookup(self, group, version, plural):
        return self.types.get((group, version, plural))

    def has_gv(self, group, version):
        with self.lock:
            return any(g == group and v == version for g, v, _ in self.types)

    def has_group(self, group):
        with self.lock:
            return any(g == group for g, _, _ in self.types)

    def by_gv(self, group, version):
        with self.lock:
            return sorted((rt for (g, v, _), rt in self.types.items()
                           if g == group and v == version), key=lambda r: r.plural)

    def versions(self, group):
        """Served versions of a group, preferred first."""
        with self.lock:
            vs = {v for g, v, _ in self.types if g == group}
        return sorted(vs, key=_version_key)

    def groups(self):
        """Non-core groups: built-in order first, then CRD groups sorted."""
        with self.lock:
            present = {g for g, _, _ in self.types if g}
        order = [g for g in builtin.GROUP_ORDER if g in present]
        order += sorted(present - set(order))
        return order

    def by_store_key(self, key):
        """The storage RType for a key (built-in, or the CRD storage version)."""
        with self.lock:
            cands = [rt for rt in self.types.values() if rt.store_key == key]
        if not cands:
            return None
        for rt in cands:
            if rt.crd is not None and rt.crd_storage:
                return rt
        for rt in cands:
            if rt.group == key[0]:
                return rt
        return cands[0]

    def store_keys(self):
        with self.lock:
            return {rt.store_key for rt in self.types.values()}

    def find_kind(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        with self.lock:
            for (g, v, _), rt in self.types.items():
                if g == group and v == version and rt.kind == kind:
                    return rt
        return None

    # -- CRDs -------------------------------------------------------------
    def add_crd(self, crd):
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group = spec.get("group", "")
        name = crd["metadata"]["name"]
        storage = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")),
                       None)
        new = []
        for ver in spec.get("versions") or []:
            if not ver.get("served", True):
                continue
            subs = ver.get("subresources") or {}
            rt = RType(group, ver["name"], names.get("plural", ""), names.get("kind", ""),
                       namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                       singular=names.get("singular") or names.get("kind", "").lower(),
                       short_names=names.get("shortNames"),
                       categories=names.get("categories"), verbs=list(CRD_VERBS),
                       status="status" in subs, scale="scale" in subs, generation=True,
                       unconditional_update=False, crd=crd,
                       schema=(ver.get("schema") or {}).get("openAPIV3Schema"),
                       columns=ver.get("additionalPrinterColumns"),
                       list_kind=names.get("listKind"),
                       field_labels=[f.get("jsonPath", "").lstrip(".")
                                     for f in ver.get("selectableFields") or []])
            rt.crd_storage = ver["name"] == storage
            rt.storage_version = storage
            rt.scale_paths = subs.get("scale")
            new.append(rt)
        with self.lock:
            self._drop(name)
            for rt in new:
                self.types[(rt.group, rt.version, rt.plural)] = rt
            self.crd_types[name] = new
            self.generation += 1

    def remove_crd(self, name):
        with self.lock:
            self._drop(name)
            self.generation += 1

    def _drop(self, name):
        for rt in self.crd_types.pop(name, []):
            k = (rt.group, rt.version, rt.plural)
            if self.types.get(k) is rt:
                del self.types[k]


RType.crd_storage = False
RType.storage_version = None
RType.scale_paths = None
