"""Server-side printing: meta.k8s.io/v1 Table and PartialObjectMetadata.

Custom resources get a Name column plus the CRD's additionalPrinterColumns,
evaluated with a JSONPath subset (fields, [n], [*], [?(@.a=="x")]); 'date'
columns are rendered as a relative age like kubectl's HumanDuration.
Built-in kinds get the columns kubectl users know (transcript 17).
"""

import json
import re
from datetime import datetime, timezone

NAME_DESC = ("Name must be unique within a namespace. Is required when creating "
             "resources, although some resources may allow a client to request the "
             "generation of an appropriate name automatically. Name is primarily "
             "intended for creation idempotence and configuration definition. Cannot "
             "be updated. More info: https://kubernetes.io/docs/concepts/overview/"
             "working-with-objects/names#names")
AGE_DESC = ("CreationTimestamp is a timestamp representing the server time when this "
            "object was created. It is not guaranteed to be set in happens-before order "
            "across separate operations. Clients may not set this value. It is "
            "represented in RFC3339 form and is in UTC.\n\nPopulated by the system. "
            "Read-only. Null for lists. More info: https://git.k8s.io/community/"
            "contributors/devel/sig-architecture/api-conventions.md#metadata")


def human_duration(seconds):
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm" % m if s % 60 == 0 else "%dm%ds" % (m, s % 60)
    if m < 180:
        return "%dm" % m
    h = s // 3600
    if h < 8:
        return "%dh" % h if m % 60 == 0 else "%dh%dm" % (h, m % 60)
    if h < 48:
        return "%dh" % h
    if h < 24 * 8:
        return "%dd" % (h // 24) if h % 24 == 0 else "%dd%dh" % (h // 24, h % 24)
    if h < 24 * 365 * 2:
        return "%dd" % (h // 24)
    if h < 24 * 365 * 8:
        dy = (h // 24) % 365
        return "%dy" % (h // 24 // 365) if dy == 0 else "%dy%dd" % (h // 24 // 365, dy)
    return "%dy" % (h // 24 // 365)


def age(ts):
    if not ts:
        return "<unknown>"
    try:
        t = datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return "<unknown>"
    return human_duration((datetime.now(timezone.utc) - t).total_seconds())


# ---------------------------------------------------------------------------
# JSONPath subset

_STEP = re.compile(r"""\.((?:[A-Za-z0-9_\-/$]|\\\.)+)|\[(\*|-?\d+)\]|\[\?\(@((?:\.[A-Za-z0-9_\-/]+)+)\s*(==|!=)?\s*("[^"]*"|'[^']*'|[^)\]]+)?\)\]|\['([^']+)'\]""")


def compile_path(path):
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    if p.startswith("$"):
        p = p[1:]
    steps = []
    pos = 0
    while pos < len(p):
        m = _STEP.match(p, pos)
        if not m:
            return None
        if m.group(1) is not None:
            steps.append(("f", m.group(1).replace("\\.", ".")))
        elif m.group(2) is not None:
            steps.append(("i", m.group(2)))
        elif m.group(3) is not None:
            lit = m.group(5)
            if lit is not None:
                lit = lit.strip()
                if lit[:1] in "\"'":
                    lit = lit[1:-1]
                else:
                    try:
                        lit = json.loads(lit)
                    except ValueError:
                        pass
            steps.append(("q", m.group(3)[1:].split("."), m.group(4), lit))
        else:
            steps.append(("f", m.group(6)))
        pos = m.end()
    return steps


def eval_path(steps, obj):
    cur = [obj]
    for st in steps:
        nxt = []
        for v in cur:
            if st[0] == "f":
                if isinstance(v, dict) and st[1] in v:
                    nxt.append(v[st[1]])
            elif st[0] == "i":
                if isinstance(v, list):
                    if st[1] == "*":
                        nxt.extend(v)
                    else:
                        i = int(st[1])
                        if -len(v) <= i < len(v):
                            nxt.append(v[i])
            else:
                if not isinstance(v, list):
                    continue
                for item in v:
                    x = item
                    for f in st[1]:
                        x = x.get(f) if isinstance(x, dict) else None
                    if st[2] is None:
                        ok = x is not None
                    elif st[2] == "==":
                        ok = x == st[3] or (x is not None and str(x) == str(st[3]))
                    else:
                        ok = x != st[3] and str(x) != str(st[3])
                    if ok:
                        nxt.append(item)
        cur = nxt
    return cur


def _go_print(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


# ---------------------------------------------------------------------------
# columns

def coldef(name, typ, desc, priority=0, fmt=""):
    return {"name": name, "type": typ, "format": fmt, "description": desc,
            "priority": priority}


def cr_columns(rt):
    cols = [coldef("Name", "string", NAME_DESC, fmt="name")]
    pcs = rt.columns
    if pcs is None:
        pcs = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    for pc in pcs:
        cols.append(coldef(pc["name"], pc.get("type", "string"),
                           pc.get("description") or
                           "Custom resource definition column (in JSONPath format): "
                           + pc.get("jsonPath", ""),
                           pc.get("priority", 0), pc.get("format", "")))
    return cols


def cr_cells(rt, obj):
    cells = [obj["metadata"].get("name", "")]
    pcs = rt.columns
    if pcs is None:
        pcs = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    for pc in pcs:
        steps = pc.get("_steps")
        if steps is None:
            steps = compile_path(pc.get("jsonPath", "")) or []
            pc["_steps"] = steps
        res = eval_path(steps, obj) if steps else []
        if not res or res[0] is None:
            cells.append(None)
            continue
        v = res[0]
        t = pc.get("type", "string")
        if t == "date" and isinstance(v, str):
            cells.append(age(v))
        elif t == "string":
            cells.append(_go_print(v))
        else:
            cells.append(v)
    return cells


def _ports(spec):
    out = []
    for p in spec.get("ports") or []:
        s = "%s" % p.get("port")
        if p.get("nodePort"):
            s += ":%s" % p["nodePort"]
        out.append("%s/%s" % (s, p.get("protocol", "TCP")))
    return ",".join(out) or "<none>"


def _sel(d):
    return ",".join("%s=%s" % kv for kv in sorted((d or {}).items())) or "<none>"


def _deploy_cells(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    cs = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return ["%d/%d" % (st.get("readyReplicas", 0), spec.get("replicas", 0)),
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0),
            age(o["metadata"].get("creationTimestamp")),
            ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs),
            _sel((spec.get("selector") or {}).get("matchLabels"))]


def _svc_cells(o):
    spec = o.get("spec") or {}
    lb = ((o.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ext = ",".join(i.get("ip") or i.get("hostname") or "" for i in lb)
    if not ext:
        ext = "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
    return [spec.get("type", ""), spec.get("clusterIP", ""), ext, _ports(spec),
            age(o["metadata"].get("creationTimestamp")), _sel(spec.get("selector"))]


def _ing_cells(o):
    spec = o.get("spec") or {}
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    lb = ((o.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [spec.get("ingressClassName") or "<none>", ",".join(hosts) or "*",
            ",".join(i.get("ip") or i.get("hostname") or "" for i in lb),
            "80, 443" if spec.get("tls") else "80",
            age(o["metadata"].get("creationTimestamp"))]


def _event_cells(o):
    io = o.get("involvedObject") or o.get("regarding") or {}
    last = o.get("lastTimestamp") or (o.get("series") or {}).get("lastObservedTime") \
        or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    return [age(last), o.get("type", ""), o.get("reason", ""),
            "%s/%s" % ((io.get("kind") or "").lower(), io.get("name", "")),
            io.get("fieldPath", ""),
            (o.get("source") or {}).get("component") or o.get("reportingComponent", ""),
            o.get("message") or o.get("note") or "",
            age(o.get("firstTimestamp") or o.get("eventTime")), o.get("count", 1),
            o["metadata"].get("name", "")]


S = "string"
BUILTIN_COLUMNS = {
    "ConfigMap": ([("Data", S, 0)], lambda o: [len(o.get("data") or {}) +
                                               len(o.get("binaryData") or {})]),
    "Secret": ([("Type", S, 0), ("Data", S, 0)],
               lambda o: [o.get("type", ""), len(o.get("data") or {})]),
    "Namespace": ([("Status", S, 0)], lambda o: [(o.get("status") or {}).get("phase", "")]),
    "Service": ([("Type", S, 0), ("Cluster-IP", S, 0), ("External-IP", S, 0),
                 ("Port(s)", S, 0), ("Age", S, 0), ("Selector", S, 1)], _svc_cells),
    "Deployment": ([("Ready", S, 0), ("Up-to-date", "integer", 0),
                    ("Available", "integer", 0), ("Age", S, 0), ("Containers", S, 1),
                    ("Images", S, 1), ("Selector", S, 1)], _deploy_cells),
    "Ingress": ([("Class", S, 0), ("Hosts", S, 0), ("Address", S, 0), ("Ports", S, 0),
                 ("Age", S, 0)], _ing_cells),
    "NetworkPolicy": ([("Pod-Selector", S, 0)],
                      lambda o: [_sel(((o.get("spec") or {}).get("podSelector") or {})
                                      .get("matchLabels")).replace("<none>", "<none>")]),
    "Lease": ([("Holder", S, 0)],
              lambda o: [(o.get("spec") or {}).get("holderIdentity", "")]),
    "Pod": ([("Ready", S, 0), ("Status", S, 0), ("Restarts", "integer", 0)],
            lambda o: ["0/%d" % len((o.get("spec") or {}).get("containers") or []),
                       (o.get("status") or {}).get("phase", ""), 0]),
    "CustomResourceDefinition": ([("Created At", "date", 0)],
                                 lambda o: [o["metadata"].get("creationTimestamp")]),
}
EVENT_COLS = [("Last Seen", S, 0), ("Type", S, 0), ("Reason", S, 0), ("Object", S, 0),
              ("Subobject", S, 1), ("Source", S, 1), ("Message", S, 0),
              ("First Seen", S, 1), ("Count", "integer", 1), ("Name", S, 1)]
SELF_AGE = ("Service", "Deployment", "Ingress")


def builtin_columns(rt):
    if rt.kind == "Event":
        return [coldef(n, t, n, p) for n, t, p in EVENT_COLS]
    cols = [coldef("Name", "string", NAME_DESC, fmt="name")]
    spec = BUILTIN_COLUMNS.get(rt.kind)
    if spec:
        for n, t, p in spec[0]:
            cols.append(coldef(n, t, AGE_DESC if n == "Age" else n, p))
    if rt.kind not in SELF_AGE and rt.kind != "CustomResourceDefinition":
        cols.append(coldef("Age", "string", AGE_DESC))
    return cols


def builtin_cells(rt, obj):
    if rt.kind == "Event":
        return _event_cells(obj)
    cells = [obj["metadata"].get("name", "")]
    spec = BUILTIN_COLUMNS.get(rt.kind)
    if spec:
        cells.extend(spec[1](obj))
    if rt.kind not in SELF_AGE and rt.kind != "CustomResourceDefinition":
        cells.append(age(obj["metadata"].get("creationTimestamp")))
    return cells


def partial(obj):
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {})}


def table(rt, objs, include, meta, with_columns=True):
    """A Table for objs; include is None/Metadata/Object."""
    cols = cr_columns(rt) if rt.is_cr else builtin_columns(rt)
    rows = []
    for o in objs:
        cells = cr_cells(rt, o) if rt.is_cr else builtin_cells(rt, o)
        if include == "None":
            ro = None
        elif include == "Object":
            ro = o
        else:
            ro = partial(o)
        rows.append({"cells": cells, "object": ro})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": cols if with_columns else None, "rows": rows}
