"""Object storage, the global resourceVersion, watch history and persistence.

The Store holds every object in dicts indexed by storage key, namespace and
name, so a read or a write is O(1) and a namespaced list only walks that
namespace.  Stored objects are never mutated: a write stores a fresh dict, so
readers may serialise what they got without holding the lock.

Every write gets the next global resourceVersion and is appended to a bounded
history (the stand-in's "watch cache"); watchers registered for a storage key
receive the events under the same lock that assigns the resourceVersion, so a
watcher that sees an empty queue knows it is current.  `compact()` empties the
history, which makes older resourceVersions answer 410.

State is written to DIR/state.json (debounced, atomic rename) by a background
thread; `load()` restores it, keeping the resourceVersion counter.

Serialised forms of the current objects are cached (`encoded()`), keyed by
location and checked by identity: since a stored object never changes, its
JSON text is computed once per resourceVersion and shared by GET, LIST, watch
events, write responses and the state file.
"""

import json
import os
import threading
import time
from collections import deque

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


def dumps(obj, sort=False):
    """Compact JSON text as the apiserver writes it (UTF-8, no escaping)."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=sort, ensure_ascii=False)


ENCODERS = {
    "json": lambda o: dumps(o),
    "sorted": lambda o: dumps(o, True),
    # a built-in list item: Go's list types drop kind and apiVersion
    "item": lambda o: dumps({k: v for k, v in o.items() if k not in ("kind", "apiVersion")}),
}


def _item_text(obj, txt):
    """The "item" text cut from the "json" one when kind and apiVersion lead (else None)."""
    it = iter(obj)
    if next(it, None) != "kind" or next(it, None) != "apiVersion":
        return None
    prefix = '{"kind":%s,"apiVersion":%s' % (dumps(obj["kind"]), dumps(obj["apiVersion"]))
    if not txt.startswith(prefix):
        return None
    rest = txt[len(prefix):]
    if rest.startswith(","):
        return "{" + rest[1:]
    return "{" + rest if rest == "}" else None


class Event:
    __slots__ = ("rv", "key", "ns", "type", "obj", "prev", "cache")

    def __init__(self, rv, key, ns, etype, obj, prev):
        self.rv = rv
        self.key = key
        self.ns = ns
        self.type = etype
        self.obj = obj
        self.prev = prev
        self.cache = {}


class Watcher:
    """A queue of events for one storage key (optionally one namespace)."""

    def __init__(self, key, ns):
        self.key = key
        self.ns = ns
        self.q = deque()
        self.cond = threading.Condition()
        self.closed = False

    def push(self, ev):
        with self.cond:
            self.q.append(ev)
            self.cond.notify()

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify()

    def get(self, timeout):
        """Next event, None on timeout; raises EOFError once closed."""
        with self.cond:
            if not self.q and not self.closed:
                self.cond.wait(timeout)
            if self.closed:
                raise EOFError()
            if self.q:
                return self.q.popleft()
            return None

    def empty(self):
        with self.cond:
            return not self.q


class Store:
    def __init__(self, path=None, history_max=10000):
        self.lock = threading.RLock()
        self.path = path
        self.rv = 1
        self.data = {}        # key -> {ns: {name: obj}}
        self.uids = {}        # uid -> (key, ns, name)
        self.history = deque()
        self.history_max = history_max
        self.floor = 1        # every event with rv > floor is in history
        self.watchers = {}    # key -> set(Watcher)
        self.listeners = []   # callables(ev) run under the lock (GC, CRD controller)
        self.enc = {}         # (key, ns, name) -> (obj, {variant: JSON text})
        self.dirty = False
        self.last_change = 0.0
        self._stop = threading.Event()
        self._writer = None
        self._save_lock = threading.Lock()

    # -- reads ------------------------------------------------------------
    def get(self, key, ns, name):
        return self.data.get(key, {}).get(ns or "", {}).get(name)

    def items(self, key, ns=None):
        """Objects of a key (one namespace or all), sorted by namespace/name."""
        with self.lock:
            byns = self.data.get(key, {})
            if ns is not None:
                d = byns.get(ns, {})
                return [d[n] for n in sorted(d)]
            out = []
            for n in sorted(byns):
                d = byns[n]
                out.extend(d[m] for m in sorted(d))
            return out

    def count(self, key, ns=None):
        byns = self.data.get(key, {})
        if ns is not None:
            return len(byns.get(ns, {}))
        return sum(len(d) for d in byns.values())

    def by_uid(self, uid):
        loc = self.uids.get(uid)
        if loc is None:
            return None, None
        return loc, self.get(*loc)

    def encoded(self, key, obj, variant):
        """JSON text of obj in `variant` (see ENCODERS); cached while obj is current."""
        if variant == "item":
            txt = _item_text(obj, self.encoded(key, obj, "json"))
            return txt if txt is not None else ENCODERS["item"](obj)
        md = obj.get("metadata")
        if not isinstance(md, dict):
            return ENCODERS[variant](obj)
        loc = (key, md.get("namespace") or "", md.get("name"))
        ent = self.enc.get(loc)
        if ent is not None and ent[0] is obj:
            txt = ent[1].get(variant)
            if txt is None:
                txt = ent[1][variant] = ENCODERS[variant](obj)
            return txt
        txt = ENCODERS[variant](obj)
        with self.lock:
            if self.get(*loc) is obj:
                ent = self.enc.get(loc)
                if ent is None or ent[0] is not obj:
                    ent = self.enc[loc] = (obj, {})
                ent[1][variant] = txt
        return txt

    def namespaces_with(self, ns):
        """Storage keys that hold at least one object in namespace ns."""
        return [k for k, byns in self.data.items() if byns.get(ns)]

    # -- writes (callers hold self.lock) ------------------------------------
    def next_rv(self):
        self.rv += 1
        return self.rv

    def put(self, key, ns, name, obj, etype):
        """Store obj (fresh dict) with the next resourceVersion; emit etype."""
        with self.lock:
            rv = self.next_rv()
            obj["metadata"]["resourceVersion"] = str(rv)
            d = self.data.setdefault(key, {}).setdefault(ns or "", {})
            prev = d.get(name)
            d[name] = obj
            self.enc.pop((key, ns or "", name), None)
            uid = obj["metadata"].get("uid")
            if uid:
                self.uids[uid] = (key, ns or "", name)
            self._emit(Event(rv, key, ns or "", etype, obj, prev))
            return obj

    def remove(self, key, ns, name, last):
        """Delete; `last` (a fresh copy of the stored state) gets the new RV."""
        with self.lock:
            d = self.data.get(key, {}).get(ns or "", {})
            prev = d.pop(name, None)
            if prev is None:
                return None
            self.enc.pop((key, ns or "", name), None)
            if not d:
                self.data[key].pop(ns or "", None)
            rv = self.next_rv()
            last["metadata"]["resourceVersion"] = str(rv)
            self.uids.pop(prev["metadata"].get("uid"), None)
            self._emit(Event(rv, key, ns or "", DELETED, last, prev))
            return last

    def _emit(self, ev):
        if len(self.history) >= self.history_max:
            self.floor = self.history.popleft().rv
        self.history.append(ev)
        for w in self.watchers.get(ev.key, ()):
            if w.ns is None or w.ns == ev.ns:
                w.push(ev)
        for fn in self.listeners:
            fn(ev)
        self.dirty = True
        self.last_change = time.monotonic()

    # -- watch support -------------------------------------------------------
    def oldest(self):
        """Oldest resourceVersion a watch may start from."""
        return self.floor

    def compact(self):
        with self.lock:
            self.history.clear()
            self.floor = self.rv

    def subscribe(self, key, ns, since_rv):
        """Register a watcher; replay history after since_rv (None = none)."""
        with self.lock:
            w = Watcher(key, ns)
            if since_rv is not None:
                for ev in self.history:
                    if ev.rv > since_rv and ev.key == key and (ns is None or ev.ns == ns):
                        w.q.append(ev)
            self.watchers.setdefault(key, set()).add(w)
            return w

    def unsubscribe(self, w):
        with self.lock:
            s = self.watchers.get(w.key)
            if s:
                s.discard(w)

    def all_watchers(self):
        with self.lock:
            return [w for s in self.watchers.values() for w in s]

    def snapshot(self, key, ns, rv):
        """Objects of key as of resourceVersion rv (rv >= floor), sorted."""
        with self.lock:
            cur = {}
            byns = self.data.get(key, {})
            spaces = [ns] if ns is not None else list(byns)
            for n in spaces:
                for name, o in byns.get(n, {}).items():
                    cur[(n, name)] = o
            for ev in reversed(self.history):
                if ev.rv <= rv:
                    break
                if ev.key != key or (ns is not None and ev.ns != ns):
                    continue
                name = ev.obj["metadata"]["name"]
                if ev.prev is None:
                    cur.pop((ev.ns, name), None)
                else:
                    cur[(ev.ns, name)] = ev.prev
            return [cur[k] for k in sorted(cur)]

    # -- persistence ---------------------------------------------------------
    def load(self):
        if not self.path or not os.path.exists(self.path):
            return False
        with open(self.path, encoding="utf-8") as f:
            st = json.load(f)
        with self.lock:
            self.rv = int(st["rv"])
            self.floor = self.rv
            for ks, byns in st["objects"].items():
                g, plural = ks.split("/", 1)
                key = (g, plural)
                self.data[key] = byns
                for ns, d in byns.items():
                    for name, o in d.items():
                        uid = o["metadata"].get("uid")
                        if uid:
                            self.uids[uid] = (key, ns, name)
        return True

    def save(self):
        if not self.path:
            return
        with self._save_lock:
            self._save()

    def _save(self):
        with self.lock:
            snap = [(k, [(ns, list(d.items())) for ns, d in byns.items()])
                    for k, byns in self.data.items()]
            rv = self.rv
            self.dirty = False
        # {"rv":N,"objects":{"g/plural":{ns:{name:obj}}}}, each object's text
        # from the cache (the C encoder; json.dump to a file would use the
        # pure-Python one).
        out = ['{"rv":%d,"objects":{' % rv]
        for i, (k, spaces) in enumerate(snap):
            out.append('%s%s:{' % ("," if i else "", dumps("%s/%s" % k)))
            for j, (ns, objs) in enumerate(spaces):
                out.append('%s%s:{' % ("," if j else "", dumps(ns)))
                out.append(",".join("%s:%s" % (dumps(n), self.encoded(k, o, "json"))
                                    for n, o in objs))
                out.append("}")
            out.append("}")
        out.append("}}")
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write("".join(out))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def start_writer(self, debounce=0.3):
        """Save ~debounce s after the last change; while changes go on, every
        2 s, or 10x the last save's duration when that is longer (a big state
        written every 2 s would cost more than the requests)."""
        def run():
            last_save = time.monotonic()
            busy_every = 2.0
            while not self._stop.is_set():
                self._stop.wait(0.1)
                now = time.monotonic()
                if self.dirty and (now - self.last_change >= debounce
                                   or now - last_save >= busy_every):
                    try:
                        self.save()
                    except OSError:
                        pass
                    last_save = time.monotonic()
                    busy_every = max(2.0, 10 * (last_save - now))
        self._writer = threading.Thread(target=run, name="state-writer", daemon=True)
        self._writer.start()

    def stop(self):
        self._stop.set()
        if self._writer:
            self._writer.join(2)
        self.save()
