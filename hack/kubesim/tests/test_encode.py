"""The cached JSON texts of stored objects: the same bytes as a fresh json.dumps.

Covers Store.encoded (identity check, invalidation on write and delete), the
LIST body assembled from cached item texts (server.list_text against
json.dumps of Api.list_obj) and the state file written from the cache.
"""

import json
import os
import tempfile
import unittest

import fixtures  # noqa: F401  (puts the kubesim modules on sys.path)
import rest
import server
import store as storemod
from rtypes import RType


def dumps(obj, sort=False):
    return json.dumps(obj, separators=(",", ":"), sort_keys=sort, ensure_ascii=False)


def cm(name, ns="default", rv="5", **data):
    return {"kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns, "resourceVersion": rv,
                         "labels": {"z": "1", "a": "é"}},
            "data": dict(data)}


def gs(name, ns="bench"):
    return {"apiVersion": "grace.dev/v1alpha1", "kind": "GraceService",
            "metadata": {"namespace": ns, "name": name, "uid": "u-" + name},
            "spec": {"port": 8000, "image": "x:1", "b": [{"z": 1, "a": None}]},
            "status": {"conditions": []}}


class EncodedTest(unittest.TestCase):
    def setUp(self):
        self.st = storemod.Store()

    def test_same_text_as_dumps(self):
        o = self.st.put(("", "configmaps"), "default", "a", cm("a", v="ü\u2028"), "ADDED")
        for variant, want in (("json", dumps(o)), ("sorted", dumps(o, True)),
                              ("item", dumps({k: v for k, v in o.items()
                                              if k not in ("kind", "apiVersion")}))):
            self.assertEqual(self.st.encoded(("", "configmaps"), o, variant), want)
            # second call: from the cache, still the same
            self.assertEqual(self.st.encoded(("", "configmaps"), o, variant), want)

    def test_item_text_without_leading_kind(self):
        key = ("", "configmaps")
        for o in ({"metadata": {"name": "a"}, "kind": "ConfigMap", "apiVersion": "v1"},
                  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}},
                  {"kind": "ConfigMap", "apiVersion": "v1"},
                  {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}}):
            o = self.st.put(key, "", o.get("metadata", {}).get("name", "z"), o, "ADDED") \
                if "metadata" in o else o
            want = dumps({k: v for k, v in o.items() if k not in ("kind", "apiVersion")})
            self.assertEqual(self.st.encoded(key, o, "item"), want)

    def test_cached_only_for_the_current_object(self):
        key = ("", "configmaps")
        o1 = self.st.put(key, "default", "a", cm("a", v="1"), "ADDED")
        self.st.encoded(key, o1, "json")
        self.assertIn((key, "default", "a"), self.st.enc)
        o2 = self.st.put(key, "default", "a", cm("a", v="2"), "MODIFIED")
        self.assertNotIn((key, "default", "a"), self.st.enc)
        self.assertEqual(self.st.encoded(key, o2, "json"), dumps(o2))
        # the superseded object is encoded afresh, never cached
        self.assertEqual(self.st.encoded(key, o1, "json"), dumps(o1))
        self.assertIs(self.st.enc[(key, "default", "a")][0], o2)
        # an equal but distinct dict is not the stored object
        other = json.loads(dumps(o2))
        other["data"]["v"] = "3"
        self.assertEqual(self.st.encoded(key, other, "json"), dumps(other))
        self.assertIs(self.st.enc[(key, "default", "a")][0], o2)
        self.st.remove(key, "default", "a", json.loads(dumps(o2)))
        self.assertNotIn((key, "default", "a"), self.st.enc)
        self.assertEqual(self.st.encoded(key, o2, "json"), dumps(o2))
        self.assertNotIn((key, "default", "a"), self.st.enc)


class ListTextTest(unittest.TestCase):
    def check(self, rt, items, meta):
        st = storemod.Store()
        stored = [st.put(rt.store_key, o["metadata"].get("namespace", ""),
                         o["metadata"]["name"], o, "ADDED") for o in items]
        api = rest.Api(st, None)
        want = dumps(api.list_obj(rt, stored, meta), sort=rt.is_cr)
        self.assertEqual(server.list_text(st, rt, stored, meta), want)
        # again, now from the cache
        self.assertEqual(server.list_text(st, rt, stored, meta), want)

    def test_builtin(self):
        rt = RType("", "v1", "configmaps", "ConfigMap")
        self.check(rt, [cm("a"), cm("b", ns="x")], {"resourceVersion": "9"})
        self.check(rt, [cm("a")], {"resourceVersion": "9", "continue": "tok",
                                   "remainingItemCount": 3})
        self.check(rt, [], {"resourceVersion": "9"})

    def test_cr(self):
        rt = RType("grace.dev", "v1alpha1", "graceservices", "GraceService", crd={})
        self.check(rt, [gs("a"), gs("b")], {"resourceVersion": "9"})
        self.check(rt, [gs("a")], {"resourceVersion": "9", "continue": "tok",
                                   "remainingItemCount": 1})
        self.check(rt, [], {"resourceVersion": "9"})


class StateFileTest(unittest.TestCase):
    def test_round_trip(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "state.json")
            st = storemod.Store(path)
            st.put(("", "configmaps"), "default", "a", cm("a", v="ü\ud800"), "ADDED")
            st.put(("", "configmaps"), "x", "b", cm("b", ns="x"), "ADDED")
            st.put(("grace.dev", "graceservices"), "bench", "g", gs("g"), "ADDED")
            ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}
            st.put(("", "namespaces"), "", "bench", ns, "ADDED")
            st.save()
            with open(path, encoding="utf-8") as f:
                raw = json.load(f)
            self.assertEqual(raw["rv"], st.rv)
            self.assertEqual(raw["objects"]["/configmaps"]["default"]["a"]["data"]["v"],
                             "ü\ud800")
            st2 = storemod.Store(path)
            self.assertTrue(st2.load())
            self.assertEqual(st2.rv, st.rv)
            want = {"%s/%s" % k: v for k, v in st.data.items()}
            got = {"%s/%s" % k: v for k, v in st2.data.items()}
            self.assertEqual(got, want)
            self.assertEqual(st2.by_uid("u-g")[0], (("grace.dev", "graceservices"), "bench", "g"))


if __name__ == "__main__":
    unittest.main()
