#!/usr/bin/env python3
"""bench/perfsum.py: summarise a `perf record --call-graph dwarf` profile.

    perf script -i op.perf -F tid,time,ip,sym,dso > op.txt
    python3 bench/perfsum.py op.txt                 # inclusive and self, top 40
    python3 bench/perfsum.py op.txt --callers json_loadb   # who calls it
    python3 bench/perfsum.py op.txt --under gs_reconcile   # what it spends on

Inclusive: share of samples whose stack contains the function (once per
sample). Self: share of samples where it is the leaf. Frames without a
symbol are named after their library ("libcurl.so.4.8.0:?"). --callers and
--under report the nearest frame of the operator binary (bench's notion of
"our code") above or below the named function.
"""

import argparse
import collections
import os
import sys


def _time(header):
    """The sample time (seconds) from a header line, if `-F time` was used."""
    for tok in header.split():
        if tok.endswith(":"):
            try:
                return float(tok[:-1])
            except ValueError:
                pass
    return None


def samples(path, until=None):
    """Yield stacks (leaf first) of (symbol, dso) from `perf script` text; with
    `until`, only samples in the first `until` seconds (needs -F time)."""
    stack, t0, keep = [], None, True
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if stack and keep:
                    yield stack
                stack = []
                continue
            if line[0] != "\t":   # a sample header (frames start with a tab)
                if stack and keep:
                    yield stack
                stack = []
                t = _time(line) if until is not None else None
                if t is not None:
                    t0 = t if t0 is None else t0
                    keep = t - t0 <= until
                continue
            parts = line.strip().split(None, 1)
            if len(parts) < 2:
                continue
            rest = parts[1]
            dso = ""
            if rest.endswith(")") and " (" in rest:
                rest, dso = rest.rsplit(" (", 1)
                dso = os.path.basename(dso[:-1])
            sym = rest.replace(" (inlined)", "")
            if sym == "[unknown]" or not sym:
                sym = (dso or "?") + ":?"
            stack.append((sym, dso))
    if stack and keep:
        yield stack


def is_ours(dso, binary):
    return dso == binary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("script")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--binary", default="grace-operator")
    ap.add_argument("--callers", help="nearest operator frames calling this function")
    ap.add_argument("--under", help="nearest operator frames (or libraries) below this function")
    ap.add_argument("--until", type=float,
                    help="only the first SECONDS after the first sample (perf script -F time,...)")
    a = ap.parse_args()
    incl, self_, total = collections.Counter(), collections.Counter(), 0
    near = collections.Counter()
    for st in samples(a.script, a.until):
        total += 1
        self_[st[0][0]] += 1
        for s in {s for s, _ in st}:
            incl[s] += 1
        if a.callers and any(s == a.callers for s, _ in st):
            i = next(i for i, (s, _) in enumerate(st) if s == a.callers)
            caller = next((s for s, d in st[i + 1:] if is_ours(d, a.binary)), "?")
            near[caller] += 1
        if a.under and any(s == a.under for s, _ in st):
            i = next(i for i, (s, _) in enumerate(st) if s == a.under)
            below = st[:i]
            # the frame right below `under` that belongs to us, else the leaf's library
            ours = [s for s, d in below if is_ours(d, a.binary)]
            near[ours[-1] if ours else "(self) " + (st[0][1] or st[0][0])] += 1
    if not total:
        print("no samples", file=sys.stderr)
        return 1
    print("%d samples" % total)
    if a.callers or a.under:
        what = a.callers or a.under
        n = sum(near.values())
        print("%s: %.1f%% of all samples; %s:" % (
            what, 100.0 * n / total, "callers" if a.callers else "spent under"))
        for s, c in near.most_common(a.top):
            print("  %5.1f%% of all  %5.1f%% of it  %s" % (100.0 * c / total, 100.0 * c / n, s))
        return 0
    print("inclusive:")
    for s, c in incl.most_common(a.top):
        print("  %5.1f%%  %s" % (100.0 * c / total, s))
    print("self:")
    for s, c in self_.most_common(a.top):
        print("  %5.1f%%  %s" % (100.0 * c / total, s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
