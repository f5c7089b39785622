"""Built-in kinds: the registry, their defaults, and their validation.

What a real kube-apiserver v1.32 does on write for the kinds an operator
touches (transcripts 06, 14, 18, 19, 24, 25): Namespace labels and finalizer,
Secret stringData merged into base64 data, Service clusterIP allocation and
defaults, Deployment and pod-template defaults, NetworkPolicy policyTypes,
Lease and Event MicroTime parsing, Event validation with core/v1 field names.
Table columns for these kinds live in tables.py.
"""

import base64
import binascii
import random
import re
from datetime import datetime, timezone, timedelta

import apierr
from apierr import cause
from rtypes import RType

SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
QNAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
CONFIG_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric "
                 "character (e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric "
             "characters or '-', and must start and end with an alphanumeric character "
             "(e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or "
               "'-', start with an alphabetic character, and end with an alphanumeric "
               "character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
               "'[a-z]([-a-z0-9]*[a-z0-9])?')")
CONFIG_KEY_MSG = ("a valid config key must consist of alphanumeric characters, '-', '_' "
                  "or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used "
                  "for validation is '[-._a-zA-Z0-9]+')")
QNAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and "
             "must start and end with an alphanumeric character (e.g. 'MyName',  or "
             "'my.name',  or '123-abc', regex used for validation is "
             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def gostr(v):
    """Go's %q-ish rendering of a value in field-error messages."""
    import json
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    return json.dumps(v)


def invalid_value(field, value, msg):
    return cause("FieldValueInvalid", "Invalid value: %s: %s" % (gostr(value), msg), field)


def required(field, detail=None):
    return cause("FieldValueRequired",
                 "Required value" + (": " + detail if detail else ""), field)


# ---------------------------------------------------------------------------
# registry

def _ev_fields():
    return ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
            "involvedObject.uid", "involvedObject.apiVersion",
            "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
            "reportingComponent", "source", "type"]


def builtin_types():
    """All built-in RTypes, in discovery order per group-version."""
    T = RType
    ns_sub = [("finalize", "", "", "Namespace", ["update"])]
    return [
        T("", "v1", "configmaps", "ConfigMap", short_names=["cm"]),
        T("", "v1", "endpoints", "Endpoints", singular="endpoints", short_names=["ep"]),
        T("", "v1", "events", "Event", short_names=["ev"], create_on_update=True,
          field_labels=_ev_fields()),
        T("", "v1", "namespaces", "Namespace", namespaced=False, short_names=["ns"],
          status=True, extra_subresources=ns_sub,
          verbs=["create", "delete", "get", "list", "patch", "update", "watch"],
          field_labels=["status.phase"]),
        T("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim",
          short_names=["pvc"], status=True),
        T("", "v1", "pods", "Pod", short_names=["po"], categories=["all"], status=True,
          field_labels=["spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                        "spec.serviceAccountName", "status.phase", "status.podIP",
                        "status.nominatedNodeName"]),
        T("", "v1", "secrets", "Secret", field_labels=["type"]),
        T("", "v1", "serviceaccounts", "ServiceAccount", short_names=["sa"]),
        T("", "v1", "services", "Service", short_names=["svc"], categories=["all"],
          status=True),
        T("apps", "v1", "daemonsets", "DaemonSet", short_names=["ds"],
          categories=["all"], status=True, generation=True),
        T("apps", "v1", "deployments", "Deployment", short_names=["deploy"],
          categories=["all"], status=True, scale=True, generation=True),
        T("apps", "v1", "replicasets", "ReplicaSet", short_names=["rs"],
          categories=["all"], status=True, scale=True, generation=True),
        T("apps", "v1", "statefulsets", "StatefulSet", short_names=["sts"],
          categories=["all"], status=True, scale=True, generation=True),
        T("events.k8s.io", "v1", "events", "Event", short_names=["ev"],
          create_on_update=True, store_key=("", "events"),
          field_labels=_ev_fields()),
        T("batch", "v1", "cronjobs", "CronJob", short_names=["cj"],
          categories=["all"], status=True, generation=True),
        T("batch", "v1", "jobs", "Job", categories=["all"], status=True,
          generation=True),
        T("networking.k8s.io", "v1", "ingresses", "Ingress", short_names=["ing"],
          status=True, generation=True),
        T("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy",
          short_names=["netpol"], generation=True),
        T("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget",
          short_names=["pdb"], status=True, generation=True),
        T("rbac.authorization.k8s.io", "v1", "clusterrolebindings",
          "ClusterRoleBinding", namespaced=False),
        T("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole",
          namespaced=False),
        T("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
        T("rbac.authorization.k8s.io", "v1", "roles", "Role"),
        T("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
          "MutatingWebhookConfiguration", namespaced=False, categories=["api-extensions"],
          generation=True),
        T("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
          "ValidatingWebhookConfiguration", namespaced=False, categories=["api-extensions"],
          generation=True),
        T("apiextensions.k8s.io", "v1", "customresourcedefinitions",
          "CustomResourceDefinition", namespaced=False, short_names=["crd", "crds"],
          categories=["api-extensions"], status=True, generation=True,
          unconditional_update=False),
        T("coordination.k8s.io", "v1", "leases", "Lease", create_on_update=True,
          unconditional_update=False),
        review("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview"),
        review("authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview",
               namespaced=True),
        review("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview"),
        review("authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview"),
    ]


def review(group, plural, kind, namespaced=False):
    """A create-only review resource; the answer is computed, nothing stored."""
    rt = RType(group, "v1", plural, kind, namespaced=namespaced, verbs=["create"])
    rt.virtual = True
    return rt


RType.virtual = False
ADMIN_GROUPS = ["system:masters", "system:authenticated"]


def review_status(obj):
    """Every authenticated user is an admin: allowed, all rules, who am I."""
    kind = obj.get("kind")
    out = {"kind": kind, "apiVersion": obj.get("apiVersion"),
           "metadata": {"creationTimestamp": None}}
    if "spec" in obj:
        out["spec"] = obj["spec"]
    if kind == "SelfSubjectRulesReview":
        out["status"] = {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"],
                                            "resources": ["*"]}],
                         "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                         "incomplete": False}
    elif kind == "SelfSubjectReview":
        out["status"] = {"userInfo": {"username": "kubesim-admin", "groups": ADMIN_GROUPS}}
    else:
        out["status"] = {"allowed": True,
                         "reason": "kubesim: every authenticated user is an admin"}
    return out


# group order of the real server's /apis (built-in groups only)
GROUP_ORDER = ["apiregistration.k8s.io", "apps", "events.k8s.io",
               "authentication.k8s.io", "authorization.k8s.io", "autoscaling", "batch",
               "certificates.k8s.io", "networking.k8s.io", "policy",
               "rbac.authorization.k8s.io", "storage.k8s.io",
               "admissionregistration.k8s.io", "apiextensions.k8s.io",
               "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io",
               "discovery.k8s.io", "flowcontrol.apiserver.k8s.io"]


# ---------------------------------------------------------------------------
# time formats

TIME_LAYOUT = [("2006", r"\d{4}"), ("-", "-"), ("01", r"\d{2}"), ("-", "-"),
               ("02", r"\d{2}"), ("T", "T"), ("15", r"\d{2}"), (":", ":"),
               ("04", r"\d{2}"), (":", ":"), ("05", r"\d{2}"),
               (".000000", r"\.\d{6}"), ("Z07:00", r"(Z|[+-]\d{2}:\d{2})")]
MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"


def parse_microtime(value):
    """Parse a MicroTime like Go does; return the UTC form or raise (message)."""
    if not isinstance(value, str):
        raise ValueError("invalid type")
    rest = value
    for elem, rx in TIME_LAYOUT:
        m = re.match(rx, rest)
        if not m:
            raise ValueError('parsing time %s as "%s": cannot parse %s as "%s"'
                             % (gostr(value), MICRO_LAYOUT, gostr(rest), elem))
        rest = rest[m.end():]
    if rest:
        raise ValueError('parsing time %s: extra text: %s' % (gostr(value), gostr(rest)))
    base, frac_tz = value[:19], value[19:]
    frac, tz = frac_tz[1:7], frac_tz[7:]
    dt = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S")
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        dt -= sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + "." + frac + "Z"


def now_rfc3339():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _decode_error(rt, msg):
    return apierr.bad_request('%s in version "%s" cannot be handled as a %s: %s'
                              % (rt.kind, rt.version, rt.kind, msg))


def normalize_microtimes(rt, obj, paths):
    for path in paths:
        cur = obj
        for p in path[:-1]:
            cur = cur.get(p) if isinstance(cur, dict) else None
        if isinstance(cur, dict) and cur.get(path[-1]) is not None:
            try:
                cur[path[-1]] = parse_microtime(cur[path[-1]])
            except ValueError as e:
                raise _decode_error(rt, str(e))


# ---------------------------------------------------------------------------
# defaults (mutate obj in place; called on every create/update of the kind)

def _image_pull_policy(image):
    name = image.split("@")[0] if isinstance(image, str) else ""
    last = name.rsplit("/", 1)[-1]
    if "@" in (image or "") or (":" in last and not last.endswith(":latest")):
        return "IfNotPresent"
    return "Always"


def _default_probe(p):
    if not isinstance(p, dict):
        return
    if isinstance(p.get("httpGet"), dict):
        p["httpGet"].setdefault("scheme", "HTTP")
    p.setdefault("timeoutSeconds", 1)
    p.setdefault("periodSeconds", 10)
    p.setdefault("successThreshold", 1)
    p.setdefault("failureThreshold", 3)


def _default_container(c):
    if not isinstance(c, dict):
        return
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for e in c.get("env") or []:
        vf = e.get("valueFrom") if isinstance(e, dict) else None
        if isinstance(vf, dict) and isinstance(vf.get("fieldRef"), dict):
            vf["fieldRef"].setdefault("apiVersion", "v1")
    c.setdefault("resources", {})
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("imagePullPolicy", _image_pull_policy(c.get("image")))
    for k in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(k))


def default_pod_spec(spec):
    if not isinstance(spec, dict):
        return
    for k in ("initContainers", "containers"):
        for c in spec.get(k) or []:
            _default_container(c)
    for v in spec.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        for src in ("secret", "configMap"):
            if isinstance(v.get(src), dict):
                v[src].setdefault("defaultMode", 420)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def _default_template(spec):
    tpl = spec.get("template")
    if isinstance(tpl, dict):
        md = tpl.setdefault("metadata", {})
        if isinstance(md, dict):
            md.setdefault("creationTimestamp", None)
        default_pod_spec(tpl.get("spec"))


def default_deployment(obj):
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    _default_template(spec)
    st = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if isinstance(st, dict):
        st.setdefault("type", "RollingUpdate")
        if st["type"] == "RollingUpdate":
            ru = st.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", "25%")
            ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    obj.setdefault("status", {})


def default_workload(obj):
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict):
        if obj.get("kind") in ("StatefulSet", "ReplicaSet"):
            spec.setdefault("replicas", 1)
        _default_template(spec)
        jt = spec.get("jobTemplate")
        if isinstance(jt, dict) and isinstance(jt.get("spec"), dict):
            _default_template(jt["spec"])
    obj.setdefault("status", {})


def default_networkpolicy(obj):
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("podSelector", {})
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for p in (rule or {}).get("ports") or []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


def default_secret(rt, obj):
    data = obj.get("data")
    if data is None:
        data = {}
    for k, v in list(data.items()):
        try:
            base64.b64decode(v, validate=True)
        except (binascii.Error, TypeError, ValueError):
            pos = 0
            for i, ch in enumerate(str(v)):
                if not (ch.isalnum() or ch in "+/="):
                    pos = i
                    break
            raise _decode_error(rt, "illegal base64 data at input byte %d" % pos)
    sd = obj.pop("stringData", None)
    if isinstance(sd, dict):
        for k, v in sd.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
    if data:
        obj["data"] = dict(sorted(data.items()))
    if not obj.get("type"):
        obj["type"] = "Opaque"


def default_namespace(obj):
    md = obj["metadata"]
    md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md.get("name", "")
    spec = obj.setdefault("spec", {})
    if "finalizers" not in spec:
        spec["finalizers"] = ["kubernetes"]
    st = obj.setdefault("status", {})
    st.setdefault("phase", "Active")


class ServiceIPs:
    """ClusterIP allocator over 10.96.0.0/16."""

    def __init__(self):
        self.used = set()

    def allocate(self):
        for _ in range(100000):
            ip = "10.96.%d.%d" % (random.randint(0, 255), random.randint(1, 254))
            if ip not in self.used and ip != "10.96.0.1":
                self.used.add(ip)
                return ip
        raise apierr.internal("no more cluster IPs")


SERVICE_IPS = ServiceIPs()


def default_service(obj, old):
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    for p in spec.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
            if "port" in p:
                p.setdefault("targetPort", p["port"])
    ospec = (old or {}).get("spec") or {}
    if spec["type"] != "ExternalName":
        if not spec.get("clusterIP") and ospec.get("clusterIP"):
            spec["clusterIP"] = ospec["clusterIP"]
        if not spec.get("clusterIP"):
            spec["clusterIP"] = SERVICE_IPS.allocate()
        spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
        for p in spec.get("ports") or []:
            if isinstance(p, dict) and "nodePort" not in p:
                p["nodePort"] = random.randint(30000, 32767)
    obj.setdefault("status", {"loadBalancer": {}})


def apply_defaults(rt, obj, old):
    """Built-in defaulting for a create (old None) or an update."""
    kind = rt.kind
    if kind == "Namespace":
        default_namespace(obj)
    elif kind == "Secret":
        default_secret(rt, obj)
    elif kind == "Service":
        default_service(obj, old)
    elif kind == "Deployment":
        default_deployment(obj)
    elif kind in ("StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"):
        default_workload(obj)
    elif kind == "Pod":
        default_pod_spec(obj.setdefault("spec", {}))
        obj.setdefault("status", {"phase": "Pending"})
    elif kind == "NetworkPolicy":
        default_networkpolicy(obj)
    elif kind == "Ingress":
        obj.setdefault("status", {"loadBalancer": {}})
    elif kind == "Lease":
        normalize_microtimes(rt, obj, [("spec", "acquireTime"), ("spec", "renewTime")])
    elif kind == "Event":
        normalize_microtimes(rt, obj, [("eventTime",), ("series", "lastObservedTime")])
    elif kind == "CustomResourceDefinition":
        default_crd(obj, old)


def default_crd(obj, old):
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("conversion", {"strategy": "None"})
    for v in spec.get("versions") or []:
        if isinstance(v, dict):
            v.setdefault("served", True)
            v.setdefault("storage", False)
    if old is None:
        storage = [v.get("name") for v in spec.get("versions") or []
                   if isinstance(v, dict) and v.get("storage")]
        obj["status"] = {"conditions": None, "acceptedNames": {"plural": "", "kind": ""},
                         "storedVersions": storage}


# ---------------------------------------------------------------------------
# validation (returns a list of causes)

def validate_name(rt, name):
    if rt.kind == "Namespace":
        rx, msg, maxlen = LABEL_RE, LABEL_MSG, 63
    elif rt.kind == "Service":
        rx, msg, maxlen = DNS1035_RE, DNS1035_MSG, 63
    else:
        rx, msg, maxlen = SUBDOMAIN_RE, SUBDOMAIN_MSG, 253
    if len(name) > maxlen:
        return [invalid_value("metadata.name", name,
                              "must be no more than %d characters" % maxlen)]
    if not rx.match(name):
        return [invalid_value("metadata.name", name, msg)]
    return []


def validate_kind(rt, obj, old):
    causes = []
    kind = rt.kind
    if kind in ("ConfigMap", "Secret"):
        for field in ("data", "binaryData"):
            for k in (obj.get(field) or {}):
                if not CONFIG_KEY_RE.match(k) or len(k) > 253:
                    causes.append(invalid_value("%s[%s]" % (field, k), k, CONFIG_KEY_MSG))
    elif kind == "Service" and old is not None:
        nip = (obj.get("spec") or {}).get("clusterIP")
        oip = (old.get("spec") or {}).get("clusterIP")
        if oip and nip and nip != oip:
            causes.append(cause("FieldValueInvalid",
                                'Invalid value: []string{"%s"}: may not change once set' % nip,
                                "spec.clusterIPs[0]"))
    elif kind == "Lease":
        d = (obj.get("spec") or {}).get("leaseDurationSeconds")
        if d is not None and isinstance(d, int) and d <= 0:
            causes.append(invalid_value("spec.leaseDurationSeconds", d,
                                        "must be greater than 0"))
    elif kind == "CustomResourceDefinition":
        causes += validate_crd(obj)
    elif kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        causes += validate_webhooks(obj)
    elif kind == "Deployment":
        spec = obj.get("spec") or {}
        if not spec.get("selector"):
            causes.append(required("spec.selector"))
        if not ((spec.get("template") or {}).get("spec") or {}).get("containers"):
            causes.append(required("spec.template.spec.containers"))
    return causes


def validate_crd(obj):
    causes = []
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    if not group:
        causes.append(required("spec.group"))
    for f in ("plural", "kind"):
        if not names.get(f):
            causes.append(required("spec.names." + f))
    name = obj["metadata"].get("name", "")
    if names.get("plural") and group and name != names["plural"] + "." + group:
        causes.append(invalid_value("metadata.name", name,
                                    'must be spec.names.plural+"."+spec.group'))
    vers = [v for v in spec.get("versions") or [] if isinstance(v, dict)]
    if not vers:
        causes.append(required("spec.versions", "must have exactly one version marked as "
                               "storage version"))
    elif sum(1 for v in vers if v.get("storage")) != 1:
        causes.append(invalid_value("spec.versions", "", "must have exactly one version "
                                    "marked as storage version"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(cause("FieldValueNotSupported", 'Unsupported value: %s: supported '
                            'values: "Cluster", "Namespaced"' % gostr(spec.get("scope", "")),
                            "spec.scope"))
    causes += validate_crd_schemas(vers)
    return causes


def validate_crd_schemas(vers):
    """The structural-schema rules of apiextensions' validation, for each version's schema.
    Like the real server, identical schemas are reported once under
    spec.validation.openAPIV3Schema (the internal form's single schema)."""
    schemas = [((v.get("schema") or {}).get("openAPIV3Schema"), i) for i, v in enumerate(vers)]
    schemas = [(s, i) for s, i in schemas if isinstance(s, dict)]
    if not schemas:
        return []
    if all(s == schemas[0][0] for s, _ in schemas) and len(schemas) == len(vers):
        return validate_root_schema(schemas[0][0], "spec.validation.openAPIV3Schema")
    causes = []
    for s, i in schemas:
        causes += validate_root_schema(s, "spec.versions[%d].schema.openAPIV3Schema" % i)
    return causes


def validate_root_schema(schema, path):
    causes = []
    meta = (schema.get("properties") or {}).get("metadata")
    if isinstance(meta, dict):
        mpath = path + ".properties[metadata]"
        if meta.get("type", "object") != "object":
            causes.append(invalid_value(mpath + ".type", meta.get("type"), "must be object"))
        elif set(meta) - {"type", "properties"} or \
                set(meta.get("properties") or {}) - {"name", "generateName"}:
            causes.append(cause("FieldValueForbidden", "Forbidden: must not specify anything "
                                "other than name and generateName, but metadata is implicitly "
                                "specified", mpath))
    causes += structural_types(schema, path)
    return causes


def structural_types(node, path):
    """Every specified field has a type, unless it is int-or-string or keeps unknown
    fields (then it may be empty)."""
    causes = []
    for name, sub in (node.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        spath = "%s.properties[%s]" % (path, name)
        if not sub.get("type") and not sub.get("x-kubernetes-int-or-string") \
                and not sub.get("x-kubernetes-preserve-unknown-fields"):
            causes.append(required(spath + ".type", "must not be empty for specified object fields"))
        causes += structural_types(sub, spath)
    items = node.get("items")
    if isinstance(items, dict):
        ipath = path + ".items"
        if not items.get("type") and not items.get("x-kubernetes-int-or-string") \
                and not items.get("x-kubernetes-preserve-unknown-fields"):
            causes.append(required(ipath + ".type", "must not be empty for specified array items"))
        causes += structural_types(items, ipath)
    addl = node.get("additionalProperties")
    if isinstance(addl, dict):
        causes += structural_types(addl, path + ".additionalProperties")
    return causes


def validate_webhooks(obj):
    """admissionregistration/v1: the fields v1 requires of every webhook."""
    causes = []
    for i, w in enumerate(obj.get("webhooks") or []):
        if not isinstance(w, dict):
            continue
        path = "webhooks[%d]" % i
        if w.get("sideEffects") not in ("None", "NoneOnDryRun"):
            if w.get("sideEffects") is None:
                causes.append(required(path + ".sideEffects",
                                       "must specify one of None, NoneOnDryRun"))
            else:
                causes.append(cause("FieldValueNotSupported", 'Unsupported value: %s: '
                                    'supported values: "None", "NoneOnDryRun"'
                                    % gostr(w.get("sideEffects")), path + ".sideEffects"))
        if not w.get("admissionReviewVersions"):
            causes.append(required(path + ".admissionReviewVersions",
                                   "must specify one of v1, v1beta1"))
    return causes


def validate_event(rt, obj, old):
    """events.k8s.io/v1 strictness (the error field names are core/v1's)."""
    causes = []
    if old is None:
        if not obj.get("eventTime"):
            causes.append(required("eventTime"))
        rc = obj.get("reportingComponent") or ""
        if not rc:
            causes.append(required("reportingController"))
            causes.append(invalid_value("reportingController", "", "name part must be non-empty"))
            causes.append(invalid_value("reportingController", "", QNAME_MSG))
        if not obj.get("reportingInstance"):
            causes.append(required("reportingInstance"))
        if not obj.get("action"):
            causes.append(required("action"))
        if not obj.get("reason"):
            causes.append(required("reason"))
    t = obj.get("type")
    if t not in ("Normal", "Warning"):
        causes.append(invalid_value("type", "", "has invalid value: %s" % (t or "")))
    if len(obj.get("message") or "") > 1024:
        causes.append(invalid_value("message", "", "can have at most 1024 characters"))
    if old is not None:
        for f in ("involvedObject", "reason", "message", "type", "action",
                  "reportingComponent", "reportingInstance", "eventTime", "related"):
            if obj.get(f) != old.get(f):
                causes.append(invalid_value(f, obj.get(f) if isinstance(obj.get(f), str) else "",
                                            "field is immutable"))
    return causes


# ---------------------------------------------------------------------------
# events: core/v1 (stored form) <-> events.k8s.io/v1

EV_MAP = [("involvedObject", "regarding"), ("message", "note"),
          ("reportingComponent", "reportingController"), ("source", "deprecatedSource"),
          ("firstTimestamp", "deprecatedFirstTimestamp"),
          ("lastTimestamp", "deprecatedLastTimestamp"), ("count", "deprecatedCount")]
CORE_ORDER = ["kind", "apiVersion", "metadata", "involvedObject", "reason", "message",
              "source", "firstTimestamp", "lastTimestamp", "count", "type", "eventTime",
              "series", "action", "related", "reportingComponent", "reportingInstance"]
EXT_ORDER = ["kind", "apiVersion", "metadata", "eventTime", "series", "reportingController",
             "reportingInstance", "action", "reason", "regarding", "related", "note", "type",
             "deprecatedSource", "deprecatedFirstTimestamp", "deprecatedLastTimestamp",
             "deprecatedCount"]
REF_ORDER = ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"]


def _ordered(obj, order):
    out = {k: obj[k] for k in order if k in obj}
    for k, v in obj.items():
        if k not in out:
            out[k] = v
    return out


def _order_ref(ref):
    return _ordered(ref, REF_ORDER) if isinstance(ref, dict) else ref


def event_to_core(obj):
    """events.k8s.io/v1 body -> stored core/v1 form."""
    out = dict(obj)
    for core, ext in EV_MAP:
        if ext in out:
            out[core] = out.pop(ext)
    out["apiVersion"] = "v1"
    out["kind"] = "Event"
    return finish_core_event(out)


def finish_core_event(out):
    out.setdefault("involvedObject", {})
    out["involvedObject"] = _order_ref(out["involvedObject"])
    out.setdefault("source", {})
    out.setdefault("firstTimestamp", None)
    out.setdefault("lastTimestamp", None)
    if not out.get("count"):
        out.pop("count", None)
    return _ordered(out, CORE_ORDER)


def event_from_core(obj):
    """stored core/v1 form -> events.k8s.io/v1 view."""
    out = dict(obj)
    for core, ext in EV_MAP:
        if core in out:
            out[ext] = out.pop(core)
    out["apiVersion"] = "events.k8s.io/v1"
    if "regarding" in out:
        out["regarding"] = _order_ref(out["regarding"])
    out.setdefault("deprecatedSource", {})
    return _ordered(out, EXT_ORDER)


# ---------------------------------------------------------------------------
# known fields of built-in kinds (for fieldValidation Strict/Warn)

_BASE = {"apiVersion", "kind", "metadata"}
_TOP = {"ConfigMap": {"data", "binaryData", "immutable"},
        "Secret": {"data", "stringData", "type", "immutable"},
        "ServiceAccount": {"secrets", "imagePullSecrets", "automountServiceAccountToken"},
        "Role": {"rules"}, "ClusterRole": {"rules", "aggregationRule"},
        "RoleBinding": {"subjects", "roleRef"}, "ClusterRoleBinding": {"subjects", "roleRef"},
        "Endpoints": {"subsets"},
        "MutatingWebhookConfiguration": {"webhooks"},
        "ValidatingWebhookConfiguration": {"webhooks"},
        "Event": {"involvedObject", "reason", "message", "source", "firstTimestamp",
                  "lastTimestamp", "count", "type", "eventTime", "series", "action",
                  "related", "reportingComponent", "reportingInstance"}}
_SPEC = {
    "Deployment": {"replicas", "selector", "template", "strategy", "minReadySeconds",
                   "revisionHistoryLimit", "paused", "progressDeadlineSeconds"},
    "Service": {"ports", "selector", "clusterIP", "clusterIPs", "type", "externalIPs",
                "sessionAffinity", "loadBalancerIP", "loadBalancerSourceRanges",
                "externalName", "externalTrafficPolicy", "healthCheckNodePort",
                "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies",
                "ipFamilyPolicy", "allocateLoadBalancerNodePorts", "loadBalancerClass",
                "internalTrafficPolicy", "trafficDistribution"},
    "NetworkPolicy": {"podSelector", "ingress", "egress", "policyTypes"},
    "Ingress": {"defaultBackend", "ingressClassName", "tls", "rules"},
    "Lease": {"holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime",
              "leaseTransitions", "strategy", "preferredHolder"},
    "Namespace": {"finalizers"},
}
_POD = {"volumes", "initContainers", "containers", "ephemeralContainers", "restartPolicy",
        "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy", "nodeSelector",
        "serviceAccountName", "serviceAccount", "automountServiceAccountToken", "nodeName",
        "hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace", "securityContext",
        "imagePullSecrets", "hostname", "subdomain", "affinity", "schedulerName",
        "tolerations", "hostAliases", "priorityClassName", "priority", "dnsConfig",
        "readinessGates", "runtimeClassName", "enableServiceLinks", "preemptionPolicy",
        "overhead", "topologySpreadConstraints", "setHostnameAsFQDN", "os", "hostUsers",
        "schedulingGates", "resourceClaims", "resources"}
_CONTAINER = {"name", "image", "command", "args", "workingDir", "ports", "envFrom", "env",
              "resources", "resizePolicy", "restartPolicy", "volumeMounts", "volumeDevices",
              "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
              "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
              "securityContext", "stdin", "stdinOnce", "tty"}


def _prune_keys(d, allowed, path, out):
    if not isinstance(d, dict):
        return
    for k in list(d):
        if k not in allowed:
            out.append(path + k)
            del d[k]


def _prune_pod(spec, path, out):
    _prune_keys(spec, _POD, path, out)
    if not isinstance(spec, dict):
        return
    for field in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(field) or []):
            _prune_keys(c, _CONTAINER, "%s%s[%d]." % (path, field, i), out)


def unknown_fields(rt, obj):
    """Drop unknown fields of a built-in object; returns their paths."""
    out = []
    kind = rt.kind
    top = _TOP.get(kind, {"spec", "status"}) | _BASE
    _prune_keys(obj, top, "", out)
    spec = obj.get("spec")
    if kind in _SPEC:
        _prune_keys(spec, _SPEC[kind], "spec.", out)
    if isinstance(spec, dict):
        if kind == "Pod":
            _prune_pod(spec, "spec.", out)
        tpl = spec.get("template")
        if isinstance(tpl, dict) and kind in ("Deployment", "ReplicaSet", "StatefulSet",
                                              "DaemonSet", "Job"):
            _prune_keys(tpl, {"metadata", "spec"}, "spec.template.", out)
            _prune_pod(tpl.get("spec"), "spec.template.spec.", out)
    return out
