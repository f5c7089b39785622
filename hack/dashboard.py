#!/usr/bin/env python3
"""hack/dashboard.py: the Grafana dashboard and the alert rules, checked with
the real Prometheus (Python 3 standard library only).

  dashboard.py check DASHBOARD.json
      The JSON is a dashboard the Grafana versions people run load as meant:
      schemaVersion in a supported range, every query panel's datasource is
      a datasource variable of type prometheus, panel types that exist,
      unique panel ids, gridPos, a refId and an expr on every target, every
      $variable used is defined. Exit 1 naming each problem.

  dashboard.py expand [--from S --to S --scrape-interval D --max-points N]
                      [--var NAME=VALUE ...] EXPR
      Print EXPR as Grafana sends it to Prometheus.

  dashboard.py eval --prom URL --from S --to S [--scrape-interval D]
                    [--var NAME=VALUE ...] [--json OUT] DASHBOARD.json
      Every template variable query and every target of every panel (rows'
      nested panels too), expanded as Grafana does, evaluated through the
      HTTP API: instant targets with /api/v1/query at --to, the others with
      /api/v1/query_range over [--from, --to] at step $__interval. Each must
      return at least one series, and each series must carry the labels its
      legendFormat ({{label}}) or its table columns use. Prints one line per
      target; exit 1 when any returns nothing or lacks a label.

  dashboard.py alerts --prom URL [--json OUT] RULES.yaml
      Every alert's expr evaluated now (/api/v1/query), `for:` aside; prints
      the series each returns. Exit 0 (the caller decides what must fire).

Grafana's expansion (public/app/plugins/datasource/prometheus and
pkg/tsdb/prometheus): $__interval = the range divided by the panel's
maxDataPoints (default --max-points, a panel's width in pixels), rounded to
Grafana's steps, at least the panel's `interval` or the datasource's scrape
interval; $__rate_interval = max($__interval + scrape interval,
4 * scrape interval); $__range = the range in whole seconds ("21600s");
*_ms and *_s variants. A multi-value variable is formatted for a regex as
(a|b) with regex metacharacters escaped; "All" is the variable's allValue.
"""
import argparse
import json
import re
import sys
import time
import urllib.parse
import urllib.request

# schemaVersion: 27 is Grafana 8.0, 39 is 10.3/10.4, 41 is 11.x; 42 is 12.x.
SCHEMA_MIN, SCHEMA_MAX = 27, 42
# Core panel plugins of Grafana 8 to 12 (no plugin to install).
PANEL_TYPES = {
    "row", "timeseries", "stat", "gauge", "bargauge", "table", "text", "state-timeline",
    "status-history", "heatmap", "piechart", "barchart", "histogram", "logs", "nodeGraph",
    "alertlist", "dashlist", "news", "annolist", "candlestick", "trend", "xychart",
    "geomap", "canvas", "flamegraph", "traces", "datagrid",
}
# Panels that query nothing.
NO_QUERY = {"row", "text", "news", "dashlist", "alertlist", "annolist"}
GLOBALS = {
    "__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms", "__range",
    "__range_s", "__range_ms", "__dashboard", "__user", "__org", "__name", "__timeFilter",
    "__from", "__to",
}
VAR_RE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)")
LEGEND_RE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


# ---- time ----

def parse_duration(s):
    """'15s', '1m', '500ms', '1h30m' -> milliseconds."""
    units = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000, "w": 604800000,
             "y": 31536000000}
    total, pos = 0, 0
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", s):
        if m.start() != pos:
            raise ValueError("bad duration %r" % s)
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError("bad duration %r" % s)
    return int(total)


# Grafana's rangeutil.roundInterval: (upper bound, rounded value) in ms.
_ROUND = [
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
    (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000),
    (45000, 30000), (90000, 60000), (210000, 120000), (450000, 300000), (750000, 600000),
    (1050000, 900000), (1500000, 1200000), (2700000, 1800000), (5400000, 3600000),
    (9000000, 7200000), (16200000, 10800000), (32400000, 21600000), (86400000, 43200000),
    (604800000, 86400000), (1814400000, 604800000), (3628800000, 2592000000),
]


def round_interval(ms):
    for bound, value in _ROUND:
        if ms < bound:
            return value
    return 31536000000


def format_duration(ms):
    """Milliseconds as Prometheus reads them, the largest exact unit."""
    ms = int(ms)
    for unit, size in (("y", 31536000000), ("w", 604800000), ("d", 86400000), ("h", 3600000),
                       ("m", 60000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return "%d%s" % (ms // size, unit)
    return "%dms" % ms


def intervals(from_s, to_s, scrape_ms, max_points=1000, min_interval=None):
    """Grafana's interval variables for a range [from_s, to_s] (seconds)."""
    range_ms = int(round((to_s - from_s) * 1000))
    low = parse_duration(min_interval) if min_interval else scrape_ms
    interval = round_interval(range_ms / max(max_points, 1))
    if low > interval:
        interval = low
    rate = max(interval + scrape_ms, 4 * scrape_ms)
    range_s = range_ms // 1000
    return {
        "__interval": format_duration(interval), "__interval_ms": str(interval),
        "__rate_interval": format_duration(rate), "__rate_interval_ms": str(rate),
        "__range": "%ds" % range_s, "__range_s": str(range_s), "__range_ms": str(range_ms),
        "_step_s": interval / 1000.0,
    }


# ---- variables ----

def regex_escape(v):
    return re.sub(r"[\\^$*+?.()|{}\[\]/]", lambda m: "\\" + m.group(0), v)


def format_value(values, fmt, regex_context):
    """A variable's values as Grafana's Prometheus datasource formats them."""
    if fmt in ("raw", "text"):
        return ",".join(values)
    if fmt == "regex" or (fmt is None and regex_context):
        if len(values) == 1:
            return regex_escape(values[0]) if values[0] != ".*" else ".*"
        return "(" + "|".join(regex_escape(v) for v in values) + ")"
    if fmt == "pipe":
        return "|".join(values)
    if fmt == "csv":
        return ",".join(values)
    if len(values) == 1:
        return values[0]
    return "{" + ",".join(values) + "}"


def expand(expr, variables, builtins):
    """Substitute $var, ${var}, ${var:fmt}, [[var]]; variables maps a name to
    a list of values (the user's pick), builtins to a string."""
    def sub(m):
        name = m.group(1) or m.group(3) or m.group(5)
        fmt = m.group(2) or m.group(4)
        if name in builtins:
            return builtins[name]
        if name not in variables:
            raise KeyError("undefined variable $%s in %s" % (name, expr))
        # Inside a =~ or !~ matcher Grafana escapes for a regex.
        before = expr[:m.start()]
        regex_context = bool(re.search(r'[=!]~\s*"[^"]*$', before))
        return format_value(variables[name], fmt, regex_context)
    return VAR_RE.sub(sub, expr)


# ---- the dashboard ----

def all_panels(panels):
    for p in panels or []:
        yield p
        yield from all_panels(p.get("panels"))


def datasource_vars(dash):
    return {v["name"]: v for v in dash.get("templating", {}).get("list", [])
            if v.get("type") == "datasource"}


def check(dash):
    """Problems that make Grafana show a panel other than meant; [] if none."""
    problems = []
    sv = dash.get("schemaVersion")
    if not isinstance(sv, int) or not SCHEMA_MIN <= sv <= SCHEMA_MAX:
        problems.append("schemaVersion %r is outside %d..%d (Grafana 8 to 12)"
                        % (sv, SCHEMA_MIN, SCHEMA_MAX))
    for key in ("title", "uid"):
        if not dash.get(key):
            problems.append("no %s" % key)
    if dash.get("uid") and len(dash["uid"]) > 40:
        problems.append("uid longer than 40 characters")
    templ = dash.get("templating", {}).get("list", [])
    names = [v.get("name") for v in templ]
    dsv = {n: v for n, v in datasource_vars(dash).items() if v.get("query") == "prometheus"}
    if not dsv:
        problems.append("no datasource variable of type prometheus (templating: type "
                        "datasource, query prometheus)")
    defined = set(names) | GLOBALS

    def ds_ok(where, ds):
        if not isinstance(ds, dict) or ds.get("type") != "prometheus":
            problems.append("%s: datasource %r is not {type: prometheus, uid: ${var}}" % (where, ds))
            return
        m = re.fullmatch(r"\$\{(\w+)\}|\$(\w+)", str(ds.get("uid", "")))
        if not m or (m.group(1) or m.group(2)) not in dsv:
            problems.append("%s: datasource uid %r is not a prometheus datasource variable (%s)"
                            % (where, ds.get("uid"), ", ".join("${%s}" % n for n in dsv) or "none"))

    def uses(where, text):
        for m in VAR_RE.finditer(text or ""):
            name = m.group(1) or m.group(3) or m.group(5)
            if name not in defined:
                problems.append("%s: $%s is not a template variable" % (where, name))

    for v in templ:
        if v.get("type") == "query":
            ds_ok("variable %s" % v.get("name"), v.get("datasource"))
            q = v.get("query")
            uses("variable %s" % v.get("name"), q.get("query") if isinstance(q, dict) else q)
    ids = {}
    for p in all_panels(dash.get("panels")):
        where = "panel %r (id %s)" % (p.get("title"), p.get("id"))
        if p.get("type") not in PANEL_TYPES:
            problems.append("%s: type %r is not a Grafana core panel" % (where, p.get("type")))
        if not isinstance(p.get("id"), int):
            problems.append("%s: no integer id" % where)
        elif p["id"] in ids:
            problems.append("%s: id %d also used by %r" % (where, p["id"], ids[p["id"]]))
        else:
            ids[p["id"]] = p.get("title")
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in ("h", "w", "x", "y")):
            problems.append("%s: gridPos needs integer h, w, x, y" % where)
        elif g["x"] < 0 or g["w"] < 1 or g["x"] + g["w"] > 24:
            problems.append("%s: gridPos x+w exceeds the 24 columns" % where)
        if p.get("type") in NO_QUERY:
            if p.get("type") == "row" and p.get("collapsed") is False and p.get("panels"):
                problems.append("%s: an expanded row keeps its panels at the top level" % where)
            continue
        targets = p.get("targets") or []
        if not targets:
            problems.append("%s: no targets" % where)
        ds_ok(where, p.get("datasource"))
        refs = set()
        for t in targets:
            tw = "%s target %s" % (where, t.get("refId"))
            if not t.get("refId") or t["refId"] in refs:
                problems.append("%s: missing or duplicate refId" % tw)
            refs.add(t.get("refId"))
            if not (t.get("expr") or "").strip():
                problems.append("%s: empty expr" % tw)
            if "datasource" in t:
                ds_ok(tw, t["datasource"])
            uses(tw, t.get("expr"))
            uses(tw, t.get("legendFormat"))
    return problems


def strings_in(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from strings_in(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings_in(x)


def table_columns(panel):
    """Labels a table panel shows as columns (its organize transformation),
    less the fields other transformations make (calculateField aliases,
    joins, ...)."""
    cols, made = set(), set()
    for tr in panel.get("transformations") or []:
        if tr.get("id") != "organize":
            made |= set(strings_in(tr.get("options")))
            continue
        opts = tr.get("options") or {}
        excluded = {k for k, v in (opts.get("excludeByName") or {}).items() if v}
        for k in list(opts.get("indexByName") or {}) + list(opts.get("renameByName") or {}):
            if k not in excluded and k not in ("Time", "Value") and not k.startswith("Value #"):
                cols.add(k)
    return cols - made


# ---- Prometheus ----

class Prom:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def get(self, path, params):
        q = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen("%s%s?%s" % (self.url, path, q), timeout=10) as r:
            d = json.load(r)
        if d.get("status") != "success":
            raise RuntimeError("%s: %s" % (path, d))
        return d["data"]

    def instant(self, expr, at):
        d = self.get("/api/v1/query", {"query": expr, "time": "%.3f" % at})
        if d["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": d["result"]}]
        return d["result"]

    def range(self, expr, start, end, step):
        d = self.get("/api/v1/query_range", {"query": expr, "start": "%.3f" % start,
                                              "end": "%.3f" % end, "step": "%g" % step})
        return d["result"]

    def label_values(self, label, match, start, end):
        params = {"start": "%.3f" % start, "end": "%.3f" % end}
        if match:
            params["match[]"] = match
        return self.get("/api/v1/label/%s/values" % label, params)


def variable_values(prom, v, start, end, builtins, picked):
    """A query variable's options as Grafana loads them (label_values(...),
    label_values(label), query_result(...) or a plain series query)."""
    q = v.get("query")
    q = q.get("query") if isinstance(q, dict) else q
    q = expand(q or "", picked, builtins)
    m = re.fullmatch(r"\s*label_values\((?:(.*),)?\s*(\w+)\s*\)\s*", q)
    if m:
        vals = prom.label_values(m.group(2), (m.group(1) or "").strip() or None, start, end)
    else:
        m = re.fullmatch(r"\s*query_result\((.*)\)\s*", q)
        res = prom.instant(m.group(1) if m else q, end)
        vals = [json.dumps(r["metric"]) for r in res]
    if v.get("regex"):
        rx = re.compile(v["regex"].strip("/"))
        vals = [(mm.group(1) if mm.groups() else mm.group(0))
                for mm in (rx.search(x) for x in vals) if mm]
    return vals


def cmd_eval(args):
    dash = json.load(open(args.dashboard))
    prom = Prom(args.prom)
    scrape = parse_duration(args.scrape_interval)
    picked = {}
    for kv in args.var:
        name, _, val = kv.partition("=")
        picked[name] = val.split(",")
    builtins = intervals(args.start, args.end, scrape, args.max_points)
    report = {"variables": {}, "panels": []}
    failed = 0
    for v in dash.get("templating", {}).get("list", []):
        name = v.get("name")
        if v.get("type") == "datasource":
            continue
        if v.get("type") != "query":
            continue
        vals = variable_values(prom, v, args.start, args.end, builtins, picked)
        report["variables"][name] = vals
        ok = bool(vals)
        want = picked.get(name)
        if want and v.get("allValue") and want == [v["allValue"]]:
            pass  # "All"
        elif want and not set(want) <= set(vals):
            ok = False
        if name not in picked:
            picked[name] = [v["allValue"]] if v.get("includeAll") and v.get("allValue") else vals[:1]
        print("%-4s variable %-12s %s (picked: %s)" % ("ok" if ok else "FAIL", name,
                                                       ",".join(vals) or "NO VALUES",
                                                       ",".join(picked[name])))
        failed += not ok
    for p in all_panels(dash.get("panels")):
        if p.get("type") in NO_QUERY:
            continue
        b = intervals(args.start, args.end, scrape, p.get("maxDataPoints") or args.max_points,
                      p.get("interval"))
        cols = table_columns(p) if p.get("type") == "table" else set()
        for t in p.get("targets") or []:
            if t.get("hide"):
                continue
            expr = expand(t.get("expr", ""), picked, b)
            legend = set(LEGEND_RE.findall(t.get("legendFormat") or ""))
            instant = bool(t.get("instant")) and not t.get("range")
            # A table's columns may come from any of its targets (a join):
            # checked over the panel's targets together, below.
            want = legend
            if instant:
                res = prom.instant(expr, args.end)
                series = [{"labels": r["metric"], "values": [r["value"]]} for r in res]
            else:
                res = prom.range(expr, args.start, args.end, b["_step_s"])
                series = [{"labels": r["metric"], "values": r["values"]} for r in res]
            missing = sorted({lab for s in series for lab in want if not s["labels"].get(lab)})
            ok = bool(series) and not missing
            failed += not ok
            entry = {"panel": p.get("title"), "id": p.get("id"), "type": p.get("type"),
                     "refId": t.get("refId"), "expr": expr, "instant": instant,
                     "legend": sorted(legend), "columns": sorted(cols), "ok": ok,
                     "missing_labels": missing, "series": series}
            report["panels"].append(entry)
            # instant: the value; range: the largest value over the range
            last = ["%s=%s" % (summary(s["labels"], want), peak(s["values"])) for s in series[:6]]
            print("%-4s panel %-34.34s %s  %d series%s  %s" % (
                "ok" if ok else "FAIL", p.get("title"), t.get("refId"), len(series),
                " (no labels %s)" % ",".join(missing) if missing else "",
                "; ".join(last) + (" ..." if len(series) > 6 else "")))
        if cols:
            mine = [e for e in report["panels"] if e["id"] == p.get("id")]
            have = {k for e in mine for s in e["series"] for k, v in s["labels"].items() if v}
            lack = sorted(cols - have - {"__name__"})
            if lack:
                failed += 1
                for e in mine:
                    e["ok"] = False
                    e["missing_labels"] = sorted(set(e["missing_labels"]) | set(lack))
                print("FAIL panel %-34.34s table columns %s: no target returns them"
                      % (p.get("title"), ",".join(lack)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    print("%d targets, %d failed" % (len(report["panels"]), failed))
    return 1 if failed else 0


def peak(values):
    nums = [float(v[1]) for v in values if v[1] not in ("NaN", "+Inf", "-Inf")]
    return "%g" % max(nums) if nums else values[-1][1]


def summary(labels, want):
    keys = sorted(want) if want else sorted(k for k in labels if k not in ("job", "instance"))
    return "{" + ",".join("%s=%s" % (k, labels.get(k, "")) for k in keys) + "}"


# ---- alert rules (a YAML subset: the rules file's own layout) ----

def parse_rules(text):
    """[(alert, expr, for)] from a Prometheus rules file as this repository
    writes it: `- alert: NAME`, `expr:` plain or a `|`/`>-` block, `for:`."""
    rules, cur, lines = [], None, text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)- alert:\s*(\S+)\s*$", line)
        if m:
            cur = {"alert": m.group(2), "expr": None, "for": "0s"}
            rules.append(cur)
            i += 1
            continue
        m = re.match(r"^(\s*)(expr|for):\s*(.*)$", line)
        if cur is not None and m:
            key, val = m.group(2), m.group(3).strip()
            if key == "expr" and val in ("|", "|-", ">", ">-"):
                ind = len(m.group(1))
                block = []
                i += 1
                while i < len(lines) and (not lines[i].strip() or
                                          len(lines[i]) - len(lines[i].lstrip()) > ind):
                    block.append(lines[i].strip())
                    i += 1
                cur["expr"] = "\n".join(block).strip()
                continue
            cur[key] = val.strip("'\"") if key == "for" else val
        i += 1
    return rules


def cmd_alerts(args):
    prom = Prom(args.prom)
    now = time.time()
    out = []
    for r in parse_rules(open(args.rules).read()):
        res = prom.instant(r["expr"], now)
        out.append(dict(r, series=[{"labels": x["metric"], "value": x["value"][1]} for x in res]))
        print("%-32s %d series  %s" % (r["alert"], len(res), "; ".join(
            summary(x["metric"], None) + "=" + x["value"][1] for x in res[:6])))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("dashboard", nargs="+")
    for name in ("expand", "eval"):
        e = sub.add_parser(name)
        e.add_argument("--from", dest="start", type=float, default=None)
        e.add_argument("--to", dest="end", type=float, default=None)
        e.add_argument("--scrape-interval", default="15s")
        e.add_argument("--max-points", type=int, default=1000)
        e.add_argument("--var", action="append", default=[])
        e.add_argument("--json")
        if name == "eval":
            e.add_argument("--prom", required=True)
            e.add_argument("dashboard")
        else:
            e.add_argument("expr")
    a = sub.add_parser("alerts")
    a.add_argument("--prom", required=True)
    a.add_argument("--json")
    a.add_argument("rules")
    args = ap.parse_args(argv)
    if args.cmd == "check":
        bad = 0
        for path in args.dashboard:
            try:
                dash = json.load(open(path))
            except (OSError, ValueError) as e:
                print("%s: %s" % (path, e), file=sys.stderr)
                bad = 1
                continue
            problems = check(dash)
            for pr in problems:
                print("%s: %s" % (path, pr), file=sys.stderr)
            bad |= bool(problems)
            if not problems:
                print("%s: ok (schemaVersion %s, %d panels)" % (
                    path, dash["schemaVersion"], sum(1 for _ in all_panels(dash["panels"]))))
        return bad
    if args.cmd == "alerts":
        return cmd_alerts(args)
    now = time.time()
    if args.end is None:
        args.end = now
    if args.start is None:
        args.start = args.end - 6 * 3600
    if args.cmd == "eval":
        return cmd_eval(args)
    picked = {}
    for kv in args.var:
        name, _, val = kv.partition("=")
        picked[name] = val.split(",")
    print(expand(args.expr, picked, intervals(args.start, args.end,
                                              parse_duration(args.scrape_interval),
                                              args.max_points)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
