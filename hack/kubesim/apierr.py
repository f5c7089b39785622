"""API errors as Kubernetes Status objects.

Every failure the stand-in reports is an ApiError; server.py turns it into a
`Status` body.  The helpers here reproduce the exact message, reason and
details shapes a real kube-apiserver v1.32 sends (see the reference
transcripts 06, 07, 08, 14, 15, 24), including its inconsistencies: NotFound,
AlreadyExists and stale-resourceVersion Conflict name the plural resource in
details.kind, while Invalid and precondition conflicts name the Kind.
"""


class ApiError(Exception):
    """An HTTP error carried as a Kubernetes Status."""

    def __init__(self, code, reason, message, details=None, headers=None,
                 metadata=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.metadata = metadata or {}

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": self.metadata,
              "status": "Failure"}
        if self.message is not None:
            st["message"] = self.message
        if self.reason:
            st["reason"] = self.reason
        if self.details is not None:
            st["details"] = self.details
        st["code"] = self.code
        return st


def _details(rt, name, kind=None, causes=None):
    d = {}
    if name:
        d["name"] = name
    if rt is not None and rt.group:
        d["group"] = rt.group
    d["kind"] = kind if kind is not None else (rt.plural if rt else "")
    if causes is not None:
        d["causes"] = causes
    return d


def not_found(rt, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (rt.qualified, name),
                    _details(rt, name))


def ns_not_found(name):
    return ApiError(404, "NotFound", 'namespaces "%s" not found' % name,
                    {"name": name, "kind": "namespaces"})


def already_exists(rt, name):
    return ApiError(409, "AlreadyExists",
                    '%s "%s" already exists' % (rt.qualified, name),
                    _details(rt, name))


def conflict(rt, name):
    return ApiError(409, "Conflict",
                    'Operation cannot be fulfilled on %s "%s": the object has '
                    'been modified; please apply your changes to the latest '
                    'version and try again' % (rt.qualified, name),
                    _details(rt, name))


def precondition_failed(rt, name, what, want, have):
    if what == "UID":
        tail = ("the UID in the precondition (%s) does not match the UID in "
                "record (%s). The object might have been deleted and then "
                "recreated" % (want, have))
    else:
        tail = ("the ResourceVersion in the precondition (%s) does not match "
                "the ResourceVersion in record (%s). The object might have "
                "been modified" % (want, have))
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s'
                    % (rt.kind, name, tail), _details(rt, name, kind=rt.kind))


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def cause(reason, message, field=None):
    c = {"reason": reason, "message": message}
    if field is not None:
        c["field"] = field
    return c


def join_causes(causes):
    parts = []
    for c in causes:
        f = c.get("field")
        m = "%s: %s" % (f, c["message"]) if f else c["message"]
        if m not in parts:
            parts.append(m)
    if len(parts) == 1:
        return parts[0]
    return "[" + ", ".join(parts) + "]"


def invalid(rt, name, causes, plural_kind=False, core=False):
    """422 Invalid for an object: message names Kind[.group] unless plural_kind.

    core: validation ran on the internal core type (Events): no group shown.
    """
    if plural_kind:
        qual = rt.qualified
        kind = rt.plural
    else:
        qual = rt.kind + ("." + rt.group if rt.group and not core else "")
        kind = rt.kind
    d = _details(rt, name, kind=kind, causes=causes)
    if core:
        d.pop("group", None)
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s'
                    % (qual, name or "", join_causes(causes)), d)


def invalid_options(kind, causes):
    """422 for CreateOptions/PatchOptions/ListOptions validation."""
    return ApiError(422, "Invalid", '%s.meta.k8s.io "" is invalid: %s'
                    % (kind, join_causes(causes)),
                    {"group": "meta.k8s.io", "kind": kind, "causes": causes})


def unsupported_media(accepted):
    return ApiError(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - "
                    "accepted media types include: " + ", ".join(accepted))


def not_acceptable():
    return ApiError(406, "NotAcceptable",
                    "only the following media types are accepted: "
                    "application/json, application/yaml, "
                    "application/vnd.kubernetes.protobuf")


def method_not_allowed(method=None):
    return ApiError(405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                    {})


def generic_not_found():
    return ApiError(404, "NotFound",
                    "the server could not find the requested resource", {})


def expired(message, metadata=None):
    return ApiError(410, "Expired", message, None, metadata=metadata)


def internal(message):
    return ApiError(500, "InternalError",
                    "Internal error occurred: " + message,
                    {"causes": [{"message": message}]})
