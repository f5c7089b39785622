"""Resource types served by the stand-in (built-in kinds and CRD-defined kinds).

An RType describes one group/version/resource: names, scope, verbs,
subresources and the write rules that differ between kinds (generation
tracking, create-on-update, unconditional update).  Several RTypes may share
one storage key: the two Event APIs (core/v1 and events.k8s.io/v1) and the
served versions of a CRD.
"""

import base64
import hashlib

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch",
         "update", "watch"]
CRD_VERBS = ["delete", "deletecollection", "get", "list", "patch", "create",
             "update", "watch"]


class RType:
    """One served resource (group, version, plural)."""

    def __init__(self, group, version, plural, kind, namespaced=True,
                 singular=None, short_names=None, categories=None, verbs=None,
                 status=False, scale=False, generation=False,
                 create_on_update=False, unconditional_update=True,
                 store_key=None, crd=None, schema=None, columns=None,
                 list_kind=None, field_labels=None, extra_subresources=None):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.list_kind = list_kind or kind + "List"
        self.namespaced = namespaced
        self.singular = singular if singular is not None else kind.lower()
        self.short_names = short_names or []
        self.categories = categories or []
        self.verbs = verbs or list(VERBS)
        self.status = status
        self.scale = scale
        self.generation = generation
        self.create_on_update = create_on_update
        self.unconditional_update = unconditional_update
        self.store_key = store_key or (group, plural)
        self.crd = crd
        self.schema = schema
        self.columns = columns
        self.field_labels = field_labels or []
        self.extra_subresources = extra_subresources or []
        self.is_cr = crd is not None

    @property
    def gv(self):
        return self.version if not self.group else self.group + "/" + self.version

    @property
    def api_version(self):
        return self.gv

    @property
    def qualified(self):
        return self.plural if not self.group else self.plural + "." + self.group

    @property
    def storage_hash(self):
        h = hashlib.sha256(("%s/%s/%s" % (self.group, self.version, self.kind))
                           .encode()).digest()
        return base64.b64encode(h[:8]).decode()

    def subresources(self):
        """[(name, responseKind group, version, kind, verbs)] in sorted order."""
        subs = []
        for name, grp, ver, kind, verbs in self.extra_subresources:
            subs.append((name, grp, ver, kind, verbs))
        if self.scale:
            subs.append(("scale", "autoscaling", "v1", "Scale",
                         ["get", "patch", "update"]))
        if self.status:
            subs.append(("status", "", "", self.kind, ["get", "patch", "update"]))
        subs.sort(key=lambda s: s[0])
        return subs

    def url(self, ns=None, name=None):
        base = "/api/v1" if not self.group else "/apis/" + self.gv
        if self.namespaced and ns:
            base += "/namespaces/" + ns
        base += "/" + self.plural
        if name:
            base += "/" + name
        return base

    def __repr__(self):
        return "RType(%s, %s)" % (self.gv, self.plural)
