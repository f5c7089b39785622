"""Unit tests of hack/dashboard.py (stdlib unittest), and the check of the
shipped dashboard: python3 -m unittest discover -s hack/tests (make pytests)."""
import json
import os
import sys
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "hack"))
import dashboard as d  # noqa: E402

DASH = os.path.join(ROOT, "charts", "grafana-dashboard.json")
RULES = os.path.join(ROOT, "charts", "grace-operator", "files", "prometheus-rules.yaml")


class Intervals(unittest.TestCase):
    def test_default_range(self):
        # 6 h over 1000 points = 21.6 s -> 20 s; rate: max(20+15, 4*15) s.
        b = d.intervals(0, 6 * 3600, 15000, 1000)
        self.assertEqual(b["__interval"], "20s")
        self.assertEqual(b["__rate_interval"], "1m")
        self.assertEqual(b["__range"], "21600s")
        self.assertEqual(b["__range_ms"], "21600000")

    def test_short_range_clamps_to_scrape_interval(self):
        b = d.intervals(0, 60, 1000, 1000)
        self.assertEqual(b["__interval"], "1s")
        self.assertEqual(b["__rate_interval"], "4s")
        b = d.intervals(0, 3600, 15000, 1000)
        self.assertEqual(b["__interval"], "15s")
        self.assertEqual(b["__rate_interval"], "1m")

    def test_long_range(self):
        b = d.intervals(0, 7 * 86400, 15000, 1000)  # 604.8 s -> 10m
        self.assertEqual(b["__interval"], "10m")
        self.assertEqual(b["__rate_interval"], "615s")

    def test_panel_min_interval(self):
        self.assertEqual(d.intervals(0, 60, 1000, 1000, "30s")["__interval"], "30s")

    def test_round_interval(self):
        self.assertEqual(d.round_interval(21600), 20000)
        self.assertEqual(d.round_interval(44999), 30000)
        self.assertEqual(d.round_interval(10 ** 12), 31536000000)

    def test_durations(self):
        self.assertEqual(d.parse_duration("1m30s"), 90000)
        self.assertEqual(d.parse_duration("500ms"), 500)
        self.assertEqual(d.format_duration(90000), "90s")
        self.assertEqual(d.format_duration(1500), "1500ms")
        with self.assertRaises(ValueError):
            d.parse_duration("5x")


class Expand(unittest.TestCase):
    B = d.intervals(0, 3600, 15000, 1000)

    def test_forms(self):
        v = {"ns": ["a"], "c": ["x", "y.z"]}
        self.assertEqual(d.expand('m{n=~"$ns"}', v, self.B), 'm{n=~"a"}')
        self.assertEqual(d.expand('m{n=~"${c}"}', v, self.B), 'm{n=~"(x|y\\.z)"}')
        self.assertEqual(d.expand('m{n=~"[[c]]"}', v, self.B), 'm{n=~"(x|y\\.z)"}')
        self.assertEqual(d.expand('m{n="${c:pipe}"}', v, self.B), 'm{n="x|y.z"}')
        self.assertEqual(d.expand("rate(m[$__rate_interval])", v, self.B), "rate(m[1m])")
        self.assertEqual(d.expand("m offset $__range", v, self.B), "m offset 3600s")

    def test_all_value(self):
        self.assertEqual(d.expand('m{n=~"$ns"}', {"ns": [".*"]}, self.B), 'm{n=~".*"}')

    def test_undefined(self):
        with self.assertRaises(KeyError):
            d.expand("m{n=~\"$nope\"}", {}, self.B)


class Check(unittest.TestCase):
    def test_shipped_dashboard(self):
        with open(DASH) as f:
            self.assertEqual(d.check(json.load(f)), [])

    def test_copies_identical(self):
        src = open(DASH, "rb").read()
        for copy in ("charts/grace-operator/files/grafana-dashboard.json",
                     "deploy/kustomize/components/monitoring/grafana-dashboard.json"):
            self.assertEqual(open(os.path.join(ROOT, copy), "rb").read(), src, copy)

    def broken(self, mutate):
        with open(DASH) as f:
            dash = json.load(f)
        mutate(dash)
        return "\n".join(d.check(dash))

    def first_query_panel(self, dash):
        return next(p for p in d.all_panels(dash["panels"]) if p["type"] not in d.NO_QUERY)

    def test_finds_problems(self):
        self.assertIn("schemaVersion", self.broken(lambda x: x.update(schemaVersion=16)))
        self.assertIn("not a Grafana core panel",
                      self.broken(lambda x: self.first_query_panel(x).update(type="graph")))
        self.assertIn("not a prometheus datasource variable", self.broken(
            lambda x: self.first_query_panel(x).update(
                datasource={"type": "prometheus", "uid": "P1809F7CD0C75ACF3"})))
        self.assertIn("is not a template variable", self.broken(
            lambda x: self.first_query_panel(x)["targets"][0].update(expr="up{a=~\"$nope\"}")))
        self.assertIn("empty expr", self.broken(
            lambda x: self.first_query_panel(x)["targets"][0].update(expr="")))
        self.assertIn("also used by", self.broken(
            lambda x: x["panels"].append(dict(self.first_query_panel(x)))))
        self.assertIn("no datasource variable", self.broken(
            lambda x: x["templating"].update(list=[v for v in x["templating"]["list"]
                                                   if v["type"] != "datasource"])))


class Rules(unittest.TestCase):
    def test_parse(self):
        with open(RULES) as f:
            rules = d.parse_rules(f.read())
        self.assertGreaterEqual(len(rules), 3)
        for r in rules:
            self.assertTrue(r["expr"], r)
        names = [r["alert"] for r in rules]
        self.assertIn("GraceServiceNotReady", names)
        multi = [r for r in rules if r["alert"] == "GraceOperatorNoLeader"][0]
        self.assertIn("absent(", multi["expr"])
        self.assertEqual(multi["for"], "5m")


if __name__ == "__main__":
    unittest.main()
