"""miniyaml reads kubeconfigs and the CRD fixtures, and refuses what it cannot read."""

import glob
import json
import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import miniyaml  # noqa: E402

KUBECTL_STYLE = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: QUJD
    server: https://127.0.0.1:6443
  name: sim
contexts:
- context:
    cluster: sim
    namespace: default
    user: admin
  name: sim
current-context: sim
kind: Config
preferences: {}
users:
- name: admin
  user:
    token: abc.def
"""


class MiniYamlTest(unittest.TestCase):
    def test_kubectl_style_kubeconfig_reads_sequences_at_parent_indent(self):
        d = miniyaml.load(KUBECTL_STYLE)
        self.assertEqual(d["clusters"][0]["cluster"]["server"], "https://127.0.0.1:6443")
        self.assertEqual(d["clusters"][0]["name"], "sim")
        self.assertEqual(d["users"][0]["user"]["token"], "abc.def")
        self.assertEqual(d["preferences"], {})
        self.assertEqual(d["current-context"], "sim")

    def test_indented_sequences_and_nested_items(self):
        d = miniyaml.load("a:\n  - x: 1\n    y: [1, 'two', \"th\\\"ree\"]\n  - - 5\n    - 6\nb: ~\n")
        self.assertEqual(d, {"a": [{"x": 1, "y": [1, "two", 'th"ree']}, [5, 6]], "b": None})

    def test_scalars_resolve_like_the_core_schema(self):
        d = miniyaml.load('a: true\nb: "true"\nc: 012\nd: 1.5\ne: null\nf: x y # c\ng: \'it\'\'s\'\n'
                          'h: "a #b"\ni: http://x:1/y\nj: -3\n')
        self.assertEqual(d, {"a": True, "b": "true", "c": 12, "d": 1.5, "e": None, "f": "x y",
                             "g": "it's", "h": "a #b", "i": "http://x:1/y", "j": -3})

    def test_block_scalars(self):
        d = miniyaml.load("a: |\n  one\n   two\n\nb: |-\n  x\n  y\nc: >-\n  p\n  q\n\n  r\nd: end\n")
        self.assertEqual(d, {"a": "one\n two\n", "b": "x\ny", "c": "p q\nr", "d": "end"})

    def test_flow_mapping_and_empty_collections(self):
        d = miniyaml.load("a: {name: x, n: 2, e: {}}\nb: []\n")
        self.assertEqual(d, {"a": {"name": "x", "n": 2, "e": {}}, "b": []})

    def test_multiple_documents(self):
        docs = miniyaml.load_all("---\na: 1\n---\n# only a comment\n---\nb: 2\n...\n")
        self.assertEqual(docs, [{"a": 1}, {"b": 2}])

    def test_json_documents(self):
        self.assertEqual(miniyaml.load('{\n "a": [1,\n 2]\n}\n'), {"a": [1, 2]})

    def test_unsupported_constructs_raise_with_line_number(self):
        for text in ("a: &x 1\n", "a: *x\n", "a: !!str 1\n", "a: 'x\n  y'\n", "a: [1,\n 2]\n",
                     "a: one\n  two\n", "a:\n\t- 1\n", "a: 1\na: 2\n"):
            with self.assertRaises(miniyaml.YamlError, msg=text):
                miniyaml.load(text)
        with self.assertRaisesRegex(miniyaml.YamlError, "line 2"):
            miniyaml.load("a: 1\nb: &c 2\n")

    def test_two_documents_are_an_error_for_load(self):
        with self.assertRaises(miniyaml.YamlError):
            miniyaml.load("a: 1\n---\nb: 2\n")

    def test_crd_fixtures_parse_like_a_full_yaml_parser(self):
        files = sorted(glob.glob(os.path.join(HERE, "..", "..", "crds", "*.yaml")))
        self.assertGreaterEqual(len(files), 7)
        ref = shutil.which("yq")  # python-yq (PyYAML) when installed; optional
        for f in files:
            with open(f) as fh:
                doc = miniyaml.load(fh.read())
            self.assertEqual(doc["kind"], "CustomResourceDefinition", f)
            if ref:
                out = subprocess.run([ref, ".", f], capture_output=True, check=True).stdout
                self.assertEqual(doc, json.loads(out), f)


if __name__ == "__main__":
    unittest.main()
