#!/usr/bin/env python3
"""bench/pprofsum.py: summary of a Go CPU profile (kube-apiserver's /debug/pprof).

No Go toolchain is needed: the profile (gzipped profile.proto) is decoded
here with a minimal protobuf reader (Python standard library only).

    python3 bench/pprofsum.py apiserver.pprof                 # inclusive / self top
    python3 bench/pprofsum.py apiserver.pprof --top 40
    python3 bench/pprofsum.py apiserver.pprof --groups        # by area (apply, watch, ...)
    python3 bench/pprofsum.py apiserver.pprof --under 'fieldmanager'   # what a frame spends on

Percentages are of the CPU time in the profile (value "cpu", nanoseconds).
"""

import argparse
import gzip
import re
import sys


def _varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if c < 0x80:
            return v, i
        shift += 7


def _fields(b):
    """(field number, wire type, value) of one message; length-delimited
    values as bytes."""
    i, n = 0, len(b)
    while i < n:
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            ln, i = _varint(b, i)
            v, i = b[i:i + ln], i + ln
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield f, wt, v


def _ints(wt, v):
    """A repeated integer field: packed (bytes) or one varint."""
    if wt == 0:
        return [v]
    out, i = [], 0
    while i < len(v):
        x, i = _varint(v, i)
        out.append(x)
    return out


def load(path):
    """[(cpu_ns, [frame names, leaf first])]."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    strings, samples, locs, funcs, types = [], [], {}, {}, []
    for f, wt, v in _fields(data):
        if f == 6:
            strings.append(v.decode("utf-8", "replace"))
        elif f == 1:
            types.append({ff: vv for ff, _, vv in _fields(v)})
        elif f == 2:
            ids, vals = [], []
            for ff, w2, vv in _fields(v):
                if ff == 1:
                    ids += _ints(w2, vv)
                elif ff == 2:
                    vals += _ints(w2, vv)
            samples.append((ids, vals))
        elif f == 4:
            lid, lines = 0, []
            for ff, _, vv in _fields(v):
                if ff == 1:
                    lid = vv
                elif ff == 4:
                    lines.append(dict((a, c) for a, _, c in _fields(vv)).get(1, 0))
            locs[lid] = lines
        elif f == 5:
            d = {ff: vv for ff, _, vv in _fields(v)}
            funcs[d.get(1, 0)] = d.get(2, 0)
    vi = len(types) - 1  # the last value: cpu nanoseconds
    for k, t in enumerate(types):
        if strings[t.get(1, 0)] == "cpu":
            vi = k
    out = []
    for ids, vals in samples:
        frames = []
        for lid in ids:
            for fid in locs.get(lid, []):
                frames.append(strings[funcs.get(fid, 0)])
        out.append((vals[vi] if vi < len(vals) else 0, frames))
    return out


# Areas of kube-apiserver's work, matched on any frame of a sample (first match wins).
GROUPS = [
    ("server-side apply: field management (managedFields)", r"fieldmanager|structured-merge-diff|smd|typed\.|fieldpath"),
    ("watch: sending events to watchers", r"cacher\.\(\*cacheWatcher\)|watch\.\(\*|serveWatch|WatchServer"),
    ("watch cache: processing etcd events", r"cacher\.\(\*watchCache\)|cacher\.\(\*Cacher\)\.dispatch|processEvent"),
    ("etcd client", r"go\.etcd\.io|etcd3\.\(\*store\)"),
    ("admission and validation", r"admission|validation|Validate|cel\."),
    ("encoding responses (JSON)", r"json\.|Encode|serializer"),
    ("decoding requests", r"Decode|Unmarshal"),
    ("TLS and HTTP/2", r"crypto/|tls\.|http2"),
    ("garbage collection of Go memory", r"runtime\.gcBgMarkWorker|runtime\.gcDrain|runtime\.mallocgc"),
]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("profile")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--groups", action="store_true", help="CPU by area of the API server")
    p.add_argument("--under", help="regex: what the matching frames spend on (their callees)")
    a = p.parse_args()
    samples = load(a.profile)
    total = sum(v for v, _ in samples) or 1
    print("%.2f s of CPU in %d samples" % (total / 1e9, len(samples)))
    if a.groups:
        by = {}
        for v, frames in samples:
            text = "\n".join(frames)
            name = next((g for g, rx in GROUPS if re.search(rx, text)), "other")
            by[name] = by.get(name, 0) + v
        for name, v in sorted(by.items(), key=lambda kv: -kv[1]):
            print("  %5.1f%%  %s" % (100.0 * v / total, name))
        return 0
    if a.under:
        rx = re.compile(a.under)
        by, sub = {}, 0
        for v, frames in samples:
            idx = [i for i, f in enumerate(frames) if rx.search(f)]
            if not idx:
                continue
            sub += v
            for f in set(frames[:max(idx)]):  # the callees of the outermost match
                by[f] = by.get(f, 0) + v
        print("%s: %.1f%% of all; inclusive below it:" % (a.under, 100.0 * sub / total))
        for name, v in sorted(by.items(), key=lambda kv: -kv[1])[:a.top]:
            print("  %5.1f%% of all  %s" % (100.0 * v / total, name))
        return 0
    incl, self_ = {}, {}
    for v, frames in samples:
        for f in set(frames):
            incl[f] = incl.get(f, 0) + v
        if frames:
            self_[frames[0]] = self_.get(frames[0], 0) + v
    print("inclusive:")
    for name, v in sorted(incl.items(), key=lambda kv: -kv[1])[:a.top]:
        print("  %5.1f%%  %s" % (100.0 * v / total, name))
    print("self:")
    for name, v in sorted(self_.items(), key=lambda kv: -kv[1])[:a.top]:
        print("  %5.1f%%  %s" % (100.0 * v / total, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
