"""bench/objsize.py: what the operator holds in its caches, and what it costs.

The operator caches every GraceService and, per child kind, every object
labelled app.kubernetes.io/managed-by=grace-operator (operator/manager.c). This
lists the same objects and sums the size of each as minified JSON with
metadata.managedFields stripped (the "raw" size), then sets the operator's
resident-memory growth over idle next to it.
"""

import json

import kube

SELECTOR = "app.kubernetes.io/managed-by=grace-operator"

# (kind, list paths to try in order) - the child kinds of controllers/childkinds.c
KINDS = [
    ("GraceService", ["/apis/grace.dev/v1alpha1/graceservices"], False),
    ("Deployment", ["/apis/apps/v1/deployments"], True),
    ("Service", ["/api/v1/services"], True),
    ("Secret", ["/api/v1/secrets"], True),
    ("NetworkPolicy", ["/apis/networking.k8s.io/v1/networkpolicies"], True),
    ("Ingress", ["/apis/networking.k8s.io/v1/ingresses"], True),
    ("IngressRoute", ["/apis/traefik.io/v1alpha1/ingressroutes"], True),
    ("Certificate", ["/apis/cert-manager.io/v1/certificates"], True),
    ("KafkaTopic", ["/apis/kafka.strimzi.io/v1/kafkatopics",
                    "/apis/kafka.strimzi.io/v1beta2/kafkatopics"], True),
    ("KafkaUser", ["/apis/kafka.strimzi.io/v1/kafkausers",
                   "/apis/kafka.strimzi.io/v1beta2/kafkausers"], True),
    ("Schedule", ["/apis/velero.io/v1/schedules"], True),
]


def raw_size(obj):
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())


def count_objects(client, timing=None):
    """{kind: {"count": n, "bytes": raw bytes}} for every served kind (timing:
    see kube.list_all)."""
    out = {}
    for kind, paths, labelled in KINDS:
        for path in paths:
            try:
                items, _, _ = kube.list_all(client, path, SELECTOR if labelled else None,
                                              timing=timing)
            except kube.ApiError as e:
                if e.status == 404:
                    continue
                raise
            out[kind] = {"count": len(items), "bytes": sum(raw_size(o) for o in items)}
            break
    return out


def served_paths(client):
    """[(list path, label selector)] of every cached kind this server serves."""
    out = []
    for _, paths, labelled in KINDS:
        for path in paths:
            status, _ = client.raw("GET", path + "?limit=1")
            if status == 200:
                out.append((path, SELECTOR if labelled else None))
                break
    return out


def measure(client, idle_mem, mem, kinds=None):
    """Objects held vs resident memory above idle (prev kinds reused when given)."""
    kinds = kinds["kinds"] if kinds else count_objects(client)
    count = sum(k["count"] for k in kinds.values())
    raw = sum(k["bytes"] for k in kinds.values())
    out = {"kinds": kinds, "objects": count, "raw_bytes": raw,
           "raw_bytes_per_object": round(raw / count) if count else None,
           "rss_growth_bytes": mem["VmRSS"] - idle_mem["VmRSS"],
           "anon_growth_bytes": mem["RssAnon"] - idle_mem["RssAnon"]}
    if count:
        out["rss_per_object_bytes"] = round(out["rss_growth_bytes"] / count)
        out["anon_per_object_bytes"] = round(out["anon_growth_bytes"] / count)
        if raw:
            out["anon_per_object_x_raw"] = round(out["anon_growth_bytes"] / raw, 2)
    return out


def report(c, say):
    say("cached: %d objects, raw JSON %.2f MB (%s B each); RSS growth over idle %.1f MiB "
        "(anon %.1f MiB) = %s B/object anon, %sx the raw JSON" % (
            c["objects"], c["raw_bytes"] / 1e6, c["raw_bytes_per_object"],
            c["rss_growth_bytes"] / 2**20, c["anon_growth_bytes"] / 2**20,
            c.get("anon_per_object_bytes"), c.get("anon_per_object_x_raw")))
