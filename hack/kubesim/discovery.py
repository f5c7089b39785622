"""Discovery documents: legacy (/api, /api/v1, /apis, /apis/<g>, /apis/<g>/<v>)
and aggregated (apidiscovery.k8s.io/v2 and v2beta1 APIGroupDiscoveryList).

Documents are rebuilt only when the registry generation changes; the
aggregated ones carry an ETag (uppercase hex SHA-512 of the body) for
If-None-Match / 304 (transcript 03).
"""

import hashlib
import json
import threading


def _res_entry(rt):
    e = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
         "kind": rt.kind, "verbs": list(rt.verbs)}
    if rt.short_names:
        e["shortNames"] = list(rt.short_names)
    if rt.categories:
        e["categories"] = list(rt.categories)
    e["storageVersionHash"] = rt.storage_hash
    out = [e]
    for name, grp, ver, kind, verbs in rt.subresources():
        s = {"name": rt.plural + "/" + name, "singularName": "", "namespaced": rt.namespaced}
        if grp:
            s["group"] = grp
            s["version"] = ver
        s["kind"] = kind
        s["verbs"] = list(verbs)
        out.append(s)
    return out


def _agg_resource(rt):
    rk = {"group": rt.group if rt.is_cr else "", "version": rt.version if rt.is_cr else "",
          "kind": rt.kind}
    e = {"resource": rt.plural, "responseKind": rk,
         "scope": "Namespaced" if rt.namespaced else "Cluster",
         "singularResource": rt.singular, "verbs": list(rt.verbs)}
    if rt.short_names:
        e["shortNames"] = list(rt.short_names)
    if rt.categories:
        e["categories"] = list(rt.categories)
    subs = []
    for name, grp, ver, kind, verbs in rt.subresources():
        if not grp and rt.is_cr:
            grp, ver = rt.group, rt.version
        subs.append({"subresource": name,
                     "responseKind": {"group": grp, "version": ver, "kind": kind},
                     "verbs": list(verbs)})
    if subs:
        e["subresources"] = subs
    return e


def _dumps(o):
    return json.dumps(o, separators=(",", ":")) + "\n"


class Discovery:
    def __init__(self, registry, server_address):
        self.reg = registry
        self.addr = server_address
        self.lock = threading.Lock()
        self.gen = -1
        self.cache = {}

    def _check(self):
        if self.gen != self.reg.generation:
            self.cache = {}
            self.gen = self.reg.generation

    def api_versions(self):
        return _dumps({"kind": "APIVersions", "versions": ["v1"],
                       "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                       "serverAddress": self.addr}]})

    def resource_list(self, group, version):
        with self.lock:
            self._check()
            k = ("rl", group, version)
            if k not in self.cache:
                res = []
                for rt in self.reg.by_gv(group, version):
                    res.extend(_res_entry(rt))
                if group:
                    doc = {"kind": "APIResourceList", "apiVersion": "v1",
                           "groupVersion": group + "/" + version, "resources": res}
                else:
                    doc = {"kind": "APIResourceList", "groupVersion": "v1", "resources": res}
                self.cache[k] = _dumps(doc)
            return self.cache[k]

    def _group(self, g):
        vs = self.reg.versions(g)
        return {"name": g, "versions": [{"groupVersion": g + "/" + v, "version": v} for v in vs],
                "preferredVersion": {"groupVersion": g + "/" + vs[0], "version": vs[0]}}

    def group_list(self):
        with self.lock:
            self._check()
            if "gl" not in self.cache:
                self.cache["gl"] = _dumps({"kind": "APIGroupList", "apiVersion": "v1",
                                           "groups": [self._group(g)
                                                      for g in self.reg.groups()]})
            return self.cache["gl"]

    def group(self, g):
        d = self._group(g)
        return _dumps({"kind": "APIGroup", "apiVersion": "v1", "name": d["name"],
                       "versions": d["versions"], "preferredVersion": d["preferredVersion"]})

    def aggregated(self, core, version):
        """(body, etag) of the APIGroupDiscoveryList for /api (core) or /apis."""
        with self.lock:
            self._check()
            k = ("agg", core, version)
            if k not in self.cache:
                items = []
                groups = [""] if core else self.reg.groups()
                for g in groups:
                    vers = []
                    for v in self.reg.versions(g):
                        vers.append({"version": v,
                                     "resources": [_agg_resource(rt)
                                                   for rt in self.reg.by_gv(g, v)],
                                     "freshness": "Current"})
                    md = {"creationTimestamp": None} if not g else \
                        {"name": g, "creationTimestamp": None}
                    items.append({"metadata": md, "versions": vers})
                body = _dumps({"kind": "APIGroupDiscoveryList",
                               "apiVersion": "apidiscovery.k8s.io/" + version,
                               "metadata": {}, "items": items})
                etag = '"%s"' % hashlib.sha512(body.encode()).hexdigest().upper()
                self.cache[k] = (body, etag)
            return self.cache[k]
