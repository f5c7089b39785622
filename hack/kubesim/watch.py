"""Watch streams: initial events, resume from a resourceVersion, bookmarks.

prepare() validates the request and subscribes (it may raise ApiError, which
the server sends as a normal error response); stream() then writes one JSON
line per event through `write(bytes)` until timeoutSeconds, a client
disconnect, or the dropWatches fault (Dropped).  A resourceVersion older
than the history window yields HTTP 200 with one ERROR event (transcript 11).
"""

import base64
import json
import time

import tables
from apierr import ApiError

DEFAULT_TIMEOUT = 1800
BOOKMARK_EVERY = 1.0


class Dropped(Exception):
    """The watch was closed by the dropWatches fault."""


def dumps(obj, sort=False):
    return json.dumps(obj, separators=(",", ":"), sort_keys=sort, ensure_ascii=False)


class WatchState:
    def __init__(self):
        self.initial = []
        self.watcher = None
        self.error = None
        self.sie_end_rv = None
        self.bookmarks = False
        self.timeout = DEFAULT_TIMEOUT


def prepare(api, req, rt, ns):
    api.list_options(req, True)
    match = api.matcher(req, rt)
    st = WatchState()
    st.match = match
    st.bookmarks = req.flag("allowWatchBookmarks")
    try:
        st.timeout = int(req.q("timeoutSeconds") or DEFAULT_TIMEOUT)
    except ValueError:
        raise ApiError(400, "BadRequest", "invalid timeoutSeconds")
    rvs = req.q("resourceVersion")
    sie = req.q("sendInitialEvents")
    sie_on = (sie or "").lower() in ("true", "1")
    try:
        rv = int(rvs) if rvs else None
    except ValueError:
        raise ApiError(400, "BadRequest", 'invalid resource version "%s"' % rvs)
    store = api.store
    key, nsk = rt.store_key, (ns if rt.namespaced else None)
    with store.lock:
        if rv is None or rv == 0 or sie_on:
            if sie is not None and not sie_on:
                st.watcher = store.subscribe(key, nsk, None)
                return st
            objs = store.items(key, nsk)
            st.initial = [o for o in (api.view(rt, x) for x in objs) if match(o)]
            st.watcher = store.subscribe(key, nsk, None)
            if sie_on:
                st.sie_end_rv = store.rv
            return st
        if rv < store.oldest():
            st.error = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Failure",
                        "message": "too old resource version: %d (%d)" % (rv, store.oldest()),
                        "reason": "Expired", "code": 410}
            return st
        st.watcher = store.subscribe(key, nsk, rv)
        return st


def _blueprint(rt):
    if rt.is_cr:
        txt = dumps({"apiVersion": rt.gv, "items": [], "kind": rt.list_kind}, sort=True)
    else:
        txt = dumps({"kind": rt.list_kind, "apiVersion": rt.gv, "metadata": {},
                     "items": None})
    return base64.b64encode((txt + "\n").encode()).decode()


def bookmark(rt, rv, initial_end=False):
    md = {"resourceVersion": str(rv)}
    if not rt.is_cr:
        md["creationTimestamp"] = None
    if initial_end:
        md["annotations"] = {"k8s.io/initial-events-end": "true",
                             "kubernetes.io/initial-events-list-blueprint": _blueprint(rt)}
    if rt.is_cr:
        return {"apiVersion": rt.gv, "kind": rt.kind, "metadata": md}
    return {"kind": rt.kind, "apiVersion": rt.gv, "metadata": md}


class Encoder:
    """Turns (type, object) into one watch line in the negotiated form."""

    def __init__(self, rt, mode, include, store=None):
        self.rt = rt
        self.mode = mode          # json | table | partial
        self.include = include
        self.first = True
        self.store = store        # for the stored objects' cached JSON text

    def line(self, etype, obj, ev=None):
        rt = self.rt
        if etype in ("BOOKMARK", "ERROR") or self.mode == "json":
            ck = ("line", rt.gv, etype)
            if ev is not None:
                data = ev.cache.get(ck)
                if data is not None:
                    return data
            sort = rt.is_cr and etype != "ERROR"
            if self.store is not None and etype in ("ADDED", "MODIFIED", "DELETED"):
                txt = self.store.encoded(rt.store_key, obj, "sorted" if sort else "json")
            else:
                txt = dumps(obj, sort=sort)
            data = ('{"type":"%s","object":%s}\n' % (etype, txt)).encode()
            if ev is not None:
                ev.cache[ck] = data
            return data
        if self.mode == "partial":
            return ('{"type":"%s","object":%s}\n' % (etype, dumps(tables.partial(obj)))).encode()
        t = tables.table(rt, [obj], self.include,
                         {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                         with_columns=self.first)
        self.first = False
        return ('{"type":"%s","object":%s}\n' % (etype, dumps(t))).encode()


def stream(api, rt, st, write, enc, alive=None):
    """Write events until the timeout; raises Dropped or OSError.

    alive() is polled about once a second while idle; False ends the watch
    (the client went away).
    """
    store = api.store
    if st.error is not None:
        write(enc.line("ERROR", st.error))
        return
    w = st.watcher
    try:
        for o in st.initial:
            write(enc.line("ADDED", o))
        if st.sie_end_rv is not None and st.bookmarks:
            write(enc.line("BOOKMARK", bookmark(rt, st.sie_end_rv, True)))
        deadline = time.monotonic() + st.timeout
        last_bm = time.monotonic()
        while True:
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                break
            wait = min(left, BOOKMARK_EVERY)
            if st.bookmarks:
                wait = max(0.01, min(wait, BOOKMARK_EVERY - (now - last_bm)))
            try:
                ev = w.get(wait)
            except EOFError:
                raise Dropped()
            if ev is None:
                if alive is not None and not alive():
                    return
                if st.bookmarks and time.monotonic() - last_bm >= BOOKMARK_EVERY - 0.01:
                    _send_bookmark(store, rt, w, write, enc)
                    last_bm = time.monotonic()
                continue
            _deliver(api, rt, st, ev, write, enc)
        if st.bookmarks:
            _send_bookmark(store, rt, w, write, enc)
    finally:
        store.unsubscribe(w)


def _send_bookmark(store, rt, w, write, enc):
    with store.lock:
        if not w.empty():
            return
        rv = store.rv
    write(enc.line("BOOKMARK", bookmark(rt, rv)))


def _deliver(api, rt, st, ev, write, enc):
    new = api.view(rt, ev.obj)
    now_match = st.match(new)
    if ev.type == "ADDED":
        if now_match:
            write(enc.line("ADDED", new, ev))
        return
    old = api.view(rt, ev.prev) if ev.prev is not None else None
    was_match = old is not None and st.match(old)
    if ev.type == "DELETED":
        if now_match or was_match:
            write(enc.line("DELETED", new, ev))
        return
    if now_match and was_match:
        write(enc.line("MODIFIED", new, ev))
    elif now_match:
        write(enc.line("ADDED", new))
    elif was_match:
        write(enc.line("DELETED", new))
