"""Decoding of Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf).

client-go's typed clientsets send built-in objects as protobuf, so
`kubectl create namespace|secret|configmap|deployment|service|job|...` does.
The body is "k8s\\0" + runtime.Unknown{typeMeta, raw}; raw is the object's
message.  This module knows the field numbers of the messages those commands
write (from k8s.io/api generated.proto) and turns them into the JSON form.
Unknown fields are skipped.  Responses are always JSON (clients also accept
it), so no encoder is needed.
"""

import base64
import struct
from datetime import datetime, timezone

MAGIC = b"k8s\x00"

S, B, I, BOOL = "string", "bytes", "int", "bool"
T, MT, IOS, Q, RAW = "time", "microtime", "intorstr", "quantity", "rawjson"

# message -> {field number: (json name, type, repeated)}
# type: S/B/I/BOOL/T/MT/IOS/Q/RAW, "m:<Message>", "map:<valuetype>", "inline:<Message>"
M = {
    "ObjectMeta": {1: ("name", S), 2: ("generateName", S), 3: ("namespace", S),
                   4: ("selfLink", S), 5: ("uid", S), 6: ("resourceVersion", S),
                   7: ("generation", I), 8: ("creationTimestamp", T),
                   9: ("deletionTimestamp", T), 10: ("deletionGracePeriodSeconds", I),
                   11: ("labels", "map:" + S), 12: ("annotations", "map:" + S),
                   13: ("ownerReferences", "m:OwnerReference", True),
                   14: ("finalizers", S, True),
                   17: ("managedFields", "m:ManagedFieldsEntry", True)},
    "OwnerReference": {1: ("kind", S), 3: ("name", S), 4: ("uid", S), 5: ("apiVersion", S),
                       6: ("controller", BOOL), 7: ("blockOwnerDeletion", BOOL)},
    "ManagedFieldsEntry": {1: ("manager", S), 2: ("operation", S), 3: ("apiVersion", S),
                           4: ("time", T), 6: ("fieldsType", S), 7: ("fieldsV1", RAW),
                           8: ("subresource", S)},
    "LabelSelector": {1: ("matchLabels", "map:" + S),
                      2: ("matchExpressions", "m:LabelSelectorRequirement", True)},
    "LabelSelectorRequirement": {1: ("key", S), 2: ("operator", S), 3: ("values", S, True)},
    "Namespace": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:NamespaceSpec"),
                  3: ("status", "m:NamespaceStatus")},
    "NamespaceSpec": {1: ("finalizers", S, True)},
    "NamespaceStatus": {1: ("phase", S)},
    "ConfigMap": {1: ("metadata", "m:ObjectMeta"), 2: ("data", "map:" + S),
                  3: ("binaryData", "map:" + B), 4: ("immutable", BOOL)},
    "Secret": {1: ("metadata", "m:ObjectMeta"), 2: ("data", "map:" + B), 3: ("type", S),
               4: ("stringData", "map:" + S), 5: ("immutable", BOOL)},
    "ServiceAccount": {1: ("metadata", "m:ObjectMeta"),
                       2: ("secrets", "m:ObjectReference", True),
                       3: ("imagePullSecrets", "m:LocalObjectReference", True),
                       4: ("automountServiceAccountToken", BOOL)},
    "ObjectReference": {1: ("kind", S), 2: ("namespace", S), 3: ("name", S), 4: ("uid", S),
                        5: ("apiVersion", S), 6: ("resourceVersion", S), 7: ("fieldPath", S)},
    "LocalObjectReference": {1: ("name", S)},
    "Service": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:ServiceSpec"),
                3: ("status", "m:Empty")},
    "ServiceSpec": {1: ("ports", "m:ServicePort", True), 2: ("selector", "map:" + S),
                    3: ("clusterIP", S), 4: ("type", S), 5: ("externalIPs", S, True),
                    7: ("sessionAffinity", S), 8: ("loadBalancerIP", S),
                    9: ("loadBalancerSourceRanges", S, True), 10: ("externalName", S),
                    11: ("externalTrafficPolicy", S), 12: ("healthCheckNodePort", I),
                    13: ("publishNotReadyAddresses", BOOL), 17: ("ipFamilyPolicy", S),
                    18: ("clusterIPs", S, True), 19: ("ipFamilies", S, True),
                    20: ("allocateLoadBalancerNodePorts", BOOL), 21: ("loadBalancerClass", S),
                    22: ("internalTrafficPolicy", S)},
    "ServicePort": {1: ("name", S), 2: ("protocol", S), 3: ("port", I), 4: ("targetPort", IOS),
                    5: ("nodePort", I), 6: ("appProtocol", S)},
    "Deployment": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:DeploymentSpec"),
                   3: ("status", "m:Empty")},
    "DeploymentSpec": {1: ("replicas", I), 2: ("selector", "m:LabelSelector"),
                       3: ("template", "m:PodTemplateSpec"), 4: ("strategy", "m:Strategy"),
                       5: ("minReadySeconds", I), 6: ("revisionHistoryLimit", I),
                       7: ("paused", BOOL), 9: ("progressDeadlineSeconds", I)},
    "Strategy": {1: ("type", S), 2: ("rollingUpdate", "m:RollingUpdate")},
    "RollingUpdate": {1: ("maxUnavailable", IOS), 2: ("maxSurge", IOS)},
    "PodTemplateSpec": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:PodSpec")},
    "Pod": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:PodSpec"), 3: ("status", "m:Empty")},
    "PodSpec": {2: ("containers", "m:Container", True), 3: ("restartPolicy", S),
                4: ("terminationGracePeriodSeconds", I), 5: ("activeDeadlineSeconds", I),
                6: ("dnsPolicy", S), 7: ("nodeSelector", "map:" + S),
                8: ("serviceAccountName", S), 9: ("serviceAccount", S), 10: ("nodeName", S),
                11: ("hostNetwork", BOOL), 15: ("imagePullSecrets", "m:LocalObjectReference",
                                                True),
                16: ("hostname", S), 17: ("subdomain", S), 19: ("schedulerName", S),
                20: ("initContainers", "m:Container", True),
                21: ("automountServiceAccountToken", BOOL), 24: ("priorityClassName", S)},
    "Container": {1: ("name", S), 2: ("image", S), 3: ("command", S, True),
                  4: ("args", S, True), 5: ("workingDir", S),
                  6: ("ports", "m:ContainerPort", True), 7: ("env", "m:EnvVar", True),
                  8: ("resources", "m:ResourceRequirements"),
                  9: ("volumeMounts", "m:VolumeMount", True), 13: ("terminationMessagePath", S),
                  14: ("imagePullPolicy", S), 16: ("stdin", BOOL), 17: ("stdinOnce", BOOL),
                  18: ("tty", BOOL), 20: ("terminationMessagePolicy", S)},
    "ContainerPort": {1: ("name", S), 2: ("hostPort", I), 3: ("containerPort", I),
                      4: ("protocol", S), 5: ("hostIP", S)},
    "EnvVar": {1: ("name", S), 2: ("value", S)},
    "VolumeMount": {1: ("name", S), 2: ("readOnly", BOOL), 3: ("mountPath", S),
                    4: ("subPath", S)},
    "ResourceRequirements": {1: ("limits", "map:" + Q), 2: ("requests", "map:" + Q)},
    "Job": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:JobSpec"), 3: ("status", "m:Empty")},
    "JobSpec": {1: ("parallelism", I), 2: ("completions", I), 3: ("activeDeadlineSeconds", I),
                4: ("selector", "m:LabelSelector"), 5: ("manualSelector", BOOL),
                6: ("template", "m:PodTemplateSpec"), 7: ("backoffLimit", I),
                8: ("ttlSecondsAfterFinished", I), 9: ("completionMode", S), 10: ("suspend", BOOL)},
    "CronJob": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:CronJobSpec"),
                3: ("status", "m:Empty")},
    "CronJobSpec": {1: ("schedule", S), 2: ("startingDeadlineSeconds", I),
                    3: ("concurrencyPolicy", S), 4: ("suspend", BOOL),
                    5: ("jobTemplate", "m:JobTemplateSpec"),
                    6: ("successfulJobsHistoryLimit", I), 7: ("failedJobsHistoryLimit", I),
                    8: ("timeZone", S)},
    "JobTemplateSpec": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:JobSpec")},
    "Role": {1: ("metadata", "m:ObjectMeta"), 2: ("rules", "m:PolicyRule", True)},
    "ClusterRole": {1: ("metadata", "m:ObjectMeta"), 2: ("rules", "m:PolicyRule", True),
                    3: ("aggregationRule", "m:AggregationRule")},
    "AggregationRule": {1: ("clusterRoleSelectors", "m:LabelSelector", True)},
    "PolicyRule": {1: ("verbs", S, True), 2: ("apiGroups", S, True), 3: ("resources", S, True),
                   4: ("resourceNames", S, True), 5: ("nonResourceURLs", S, True)},
    "RoleBinding": {1: ("metadata", "m:ObjectMeta"), 2: ("subjects", "m:Subject", True),
                    3: ("roleRef", "m:RoleRef")},
    "Subject": {1: ("kind", S), 2: ("apiGroup", S), 3: ("name", S), 4: ("namespace", S)},
    "RoleRef": {1: ("apiGroup", S), 2: ("kind", S), 3: ("name", S)},
    "Ingress": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:IngressSpec"),
                3: ("status", "m:Empty")},
    "IngressSpec": {1: ("defaultBackend", "m:IngressBackend"), 2: ("tls", "m:IngressTLS", True),
                    3: ("rules", "m:IngressRule", True), 4: ("ingressClassName", S)},
    "IngressTLS": {1: ("hosts", S, True), 2: ("secretName", S)},
    "IngressRule": {1: ("host", S), 2: ("", "inline:IngressRuleValue")},
    "IngressRuleValue": {1: ("http", "m:HTTPIngressRuleValue")},
    "HTTPIngressRuleValue": {1: ("paths", "m:HTTPIngressPath", True)},
    "HTTPIngressPath": {1: ("path", S), 2: ("backend", "m:IngressBackend"), 3: ("pathType", S)},
    "IngressBackend": {4: ("service", "m:IngressServiceBackend")},
    "IngressServiceBackend": {1: ("name", S), 2: ("port", "m:ServiceBackendPort")},
    "ServiceBackendPort": {1: ("name", S), 2: ("number", I)},
    "PodDisruptionBudget": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:PDBSpec"),
                            3: ("status", "m:Empty")},
    "PDBSpec": {1: ("minAvailable", IOS), 2: ("selector", "m:LabelSelector"),
                3: ("maxUnavailable", IOS), 4: ("unhealthyPodEvictionPolicy", S)},
    "Lease": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:LeaseSpec")},
    "LeaseSpec": {1: ("holderIdentity", S), 2: ("leaseDurationSeconds", I),
                  3: ("acquireTime", MT), 4: ("renewTime", MT), 5: ("leaseTransitions", I)},
    "SelfSubjectAccessReview": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:SSARSpec")},
    "SubjectAccessReview": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:SARSpec")},
    "SSARSpec": {1: ("resourceAttributes", "m:ResourceAttributes"),
                 2: ("nonResourceAttributes", "m:NonResourceAttributes")},
    "SARSpec": {1: ("resourceAttributes", "m:ResourceAttributes"),
                2: ("nonResourceAttributes", "m:NonResourceAttributes"), 3: ("user", S),
                4: ("groups", S, True), 6: ("uid", S)},
    "ResourceAttributes": {1: ("namespace", S), 2: ("verb", S), 3: ("group", S),
                           4: ("version", S), 5: ("resource", S), 6: ("subresource", S),
                           7: ("name", S)},
    "NonResourceAttributes": {1: ("path", S), 2: ("verb", S)},
    "SelfSubjectRulesReview": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:SSRRSpec")},
    "SSRRSpec": {1: ("namespace", S)},
    "SelfSubjectReview": {1: ("metadata", "m:ObjectMeta")},
    "Empty": {},
}
KINDS = {"Namespace", "ConfigMap", "Secret", "ServiceAccount", "Service", "Deployment", "Pod",
         "Job", "CronJob", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
         "Ingress", "PodDisruptionBudget", "Lease", "SelfSubjectAccessReview",
         "SubjectAccessReview", "SelfSubjectRulesReview", "SelfSubjectReview"}
ALIASES = {"ClusterRoleBinding": "RoleBinding"}
KEEP_ZERO = {"replicas", "terminationGracePeriodSeconds", "revisionHistoryLimit",
             "progressDeadlineSeconds", "automountServiceAccountToken", "immutable",
             "backoffLimit", "parallelism", "completions", "suspend", "leaseDurationSeconds",
             "leaseTransitions", "controller", "blockOwnerDeletion", "readOnly", "number",
             "port", "containerPort"}


class ProtoError(ValueError):
    pass


def _varint(buf, i):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ProtoError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def fields(buf):
    """Yield (field number, wire type, value) of one message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v = struct.unpack("<q", buf[i:i + 8])[0]
            i += 8
        elif wt == 2:
            n, i = _varint(buf, i)
            v = buf[i:i + n]
            if len(v) != n:
                raise ProtoError("truncated field")
            i += n
        elif wt == 5:
            v = struct.unpack("<i", buf[i:i + 4])[0]
            i += 4
        else:
            raise ProtoError("unsupported wire type %d" % wt)
        yield num, wt, v


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _time(buf, micro):
    secs = nanos = 0
    for num, _, v in fields(buf):
        if num == 1:
            secs = _signed(v)
        elif num == 2:
            nanos = v
    if secs == 0 and nanos == 0:
        return None
    dt = datetime.fromtimestamp(secs, timezone.utc)
    if micro:
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (nanos // 1000)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(typ, v):
    if typ == S:
        return bytes(v).decode("utf-8")
    if typ == B:
        return base64.b64encode(bytes(v)).decode()
    if typ == I:
        return _signed(v)
    if typ == BOOL:
        return bool(v)
    if typ in (T, MT):
        return _time(v, typ == MT)
    if typ == IOS:
        kind = ival = 0
        sval = ""
        for num, _, x in fields(v):
            if num == 1:
                kind = x
            elif num == 2:
                ival = _signed(x)
            elif num == 3:
                sval = bytes(x).decode()
        return sval if kind == 1 else ival
    if typ == Q:
        for num, _, x in fields(v):
            if num == 1:
                return bytes(x).decode()
        return "0"
    if typ == RAW:
        import json
        for num, _, x in fields(v):
            if num == 1:
                return json.loads(bytes(x).decode() or "{}")
        return {}
    raise ProtoError("bad type " + typ)


def _value(typ, v):
    if typ.startswith("m:"):
        return message(typ[2:], v)
    return _scalar(typ, v)


def _empty(name, val):
    if name in KEEP_ZERO:
        return val is None
    return val in (None, "", 0, False) or val == [] or val == {}


def message(name, buf):
    """Decode message `name` from bytes into a JSON-ready dict."""
    spec = M[ALIASES.get(name, name)]
    out = {}
    for num, wt, v in fields(buf):
        f = spec.get(num)
        if f is None:
            continue
        jname, typ = f[0], f[1]
        repeated = len(f) > 2 and f[2]
        if typ.startswith("inline:"):
            out.update(message(typ[7:], v))
            continue
        if typ.startswith("map:"):
            k = val = None
            for n2, _, x in fields(v):
                if n2 == 1:
                    k = bytes(x).decode()
                elif n2 == 2:
                    val = _value(typ[4:], x)
            if val is None:
                val = "" if typ[4:] in (S, B) else val
            out.setdefault(jname, {})[k] = val
            continue
        if repeated and typ in (I, BOOL) and wt == 2:
            vals, i = [], 0
            while i < len(v):
                x, i = _varint(v, i)
                vals.append(_scalar(typ, x))
            out.setdefault(jname, []).extend(vals)
            continue
        val = _value(typ, v)
        if repeated:
            out.setdefault(jname, []).append(val)
        else:
            out[jname] = val
    return {k: v for k, v in out.items() if not _empty(k, v)}


def decode(body):
    """k8s protobuf envelope -> JSON-ready object. Raises ProtoError."""
    if not body.startswith(MAGIC):
        raise ProtoError("missing k8s protobuf magic")
    api_version = kind = ""
    raw = b""
    for num, _, v in fields(memoryview(body)[4:].tobytes()):
        if num == 1:
            for n2, _, x in fields(v):
                if n2 == 1:
                    api_version = bytes(x).decode()
                elif n2 == 2:
                    kind = bytes(x).decode()
        elif num == 2:
            raw = v
    if kind not in KINDS:
        raise ProtoError("protobuf decoding of %s is not supported by kubesim" % (kind or "?"))
    obj = {"apiVersion": api_version, "kind": kind}
    obj.update(message(kind, raw))
    obj.setdefault("metadata", {})
    return obj
