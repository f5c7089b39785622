"""In-process controllers: CRD establishment, garbage collector, namespaces.

- CRDs: a new CRD gets NamesAccepted, then Established (False, Installing),
  then Established True, a few milliseconds apart (transcript 04); its
  resources are served from the moment it is Established.  Deleting a CRD
  deletes its custom resources first (customresourcecleanup finalizer).
- Garbage collector: dependents whose owners (by uid, same namespace) are all
  gone are deleted; dangling references next to live ones are removed;
  Foreground and Orphan deletion through the foregroundDeletion and orphan
  finalizers (transcript 16).  It reacts within a few milliseconds.
- Namespaces: a terminating namespace has its contents deleted, then its
  `kubernetes` finalizer removed (transcript 24).
Store listeners only enqueue work; the threads do the writes.
"""

import threading
import time

import objutil
from objutil import clone

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NS_KEY = ("", "namespaces")
CLEANUP = "customresourcecleanup.apiextensions.k8s.io"
MANAGER = "kube-controller-manager"


class WorkQueue:
    def __init__(self):
        self.cond = threading.Condition()
        self.items = {}   # item -> not-before (monotonic)

    def add(self, item, delay=0.0):
        with self.cond:
            t = time.monotonic() + delay
            if item not in self.items or self.items[item] > t:
                self.items[item] = t
            self.cond.notify()

    def take(self, stop):
        """Items that are due, waiting until at least one is."""
        with self.cond:
            while not stop.is_set():
                now = time.monotonic()
                due = [i for i, t in self.items.items() if t <= now]
                if due:
                    for i in due:
                        del self.items[i]
                    return due
                wait = min((t - now for t in self.items.values()), default=0.5)
                self.cond.wait(max(0.001, min(wait, 0.5)))
            return []


class Controllers:
    def __init__(self, api):
        self.api = api
        self.store = api.store
        self.reg = api.reg
        self.stop = threading.Event()
        self.crdq = WorkQueue()
        self.gcq = WorkQueue()
        self.nsq = WorkQueue()
        self.owners = {}       # owner uid -> set((key, ns, name))
        self.threads = []

    # -- wiring ---------------------------------------------------------------
    def start(self):
        with self.store.lock:
            for key, byns in self.store.data.items():
                for ns, d in byns.items():
                    for name, o in d.items():
                        self._index(key, ns, name, None, o)
                        if o["metadata"].get("ownerReferences"):
                            self.gcq.add(("dep", key, ns, name))
                        if o["metadata"].get("deletionTimestamp"):
                            self.gcq.add(("owner", key, ns, name))
            for crd in self.store.items(CRD_KEY):
                if _established(crd):
                    self.reg.add_crd(crd)
                self.crdq.add(crd["metadata"]["name"])
            for nso in self.store.items(NS_KEY):
                if nso["metadata"].get("deletionTimestamp"):
                    self.nsq.add(nso["metadata"]["name"])
            self.store.listeners.append(self._on_event)
        for name, fn in (("crd-controller", self._crd_loop), ("garbage-collector", self._gc_loop),
                         ("namespace-controller", self._ns_loop)):
            t = threading.Thread(target=fn, name=name, daemon=True)
            t.start()
            self.threads.append(t)

    def shutdown(self):
        self.stop.set()
        for q in (self.crdq, self.gcq, self.nsq):
            with q.cond:
                q.cond.notify_all()

    def _index(self, key, ns, name, prev, obj):
        loc = (key, ns, name)
        for o in (prev,):
            for r in ((o or {}).get("metadata", {}).get("ownerReferences") or []):
                s = self.owners.get(r.get("uid"))
                if s:
                    s.discard(loc)
                    if not s:
                        del self.owners[r.get("uid")]
        for r in ((obj or {}).get("metadata", {}).get("ownerReferences") or []):
            if isinstance(r, dict) and r.get("uid"):
                self.owners.setdefault(r["uid"], set()).add(loc)

    def _on_event(self, ev):
        """Store listener (runs under the store lock): index and enqueue only."""
        md = ev.obj["metadata"]
        name = md["name"]
        if ev.type == "DELETED":
            self._index(ev.key, ev.ns, name, ev.prev, None)
            for loc in list(self.owners.get(md.get("uid"), ())):
                self.gcq.add(("dep",) + loc)
            for r in md.get("ownerReferences") or []:
                loc = self.store.uids.get(r.get("uid"))
                if loc:
                    self.gcq.add(("owner",) + loc)
        else:
            self._index(ev.key, ev.ns, name, ev.prev, ev.obj)
            if md.get("ownerReferences"):
                self.gcq.add(("dep", ev.key, ev.ns, name))
            if md.get("deletionTimestamp"):
                self.gcq.add(("owner", ev.key, ev.ns, name))
        if ev.key == CRD_KEY:
            self.crdq.add(name)
        if ev.key == NS_KEY and md.get("deletionTimestamp") and ev.type != "DELETED":
            self.nsq.add(name)
        elif ev.ns and ev.type == "DELETED":
            nso = self.store.get(NS_KEY, "", ev.ns)
            if nso is not None and nso["metadata"].get("deletionTimestamp"):
                self.nsq.add(ev.ns)

    def _loop(self, q, fn):
        while not self.stop.is_set():
            for item in q.take(self.stop):
                try:
                    fn(item)
                except Exception as e:  # noqa: BLE001 - a controller must keep running
                    import sys
                    print("kubesim: controller error on %r: %r" % (item, e), file=sys.stderr)
                    q.add(item, 0.5)

    # -- helpers --------------------------------------------------------------
    def update(self, key, ns, name, fn, sub=None, manager=MANAGER):
        rt = self.reg.by_store_key(key)
        with self.store.lock:
            old = self.store.get(key, ns, name)
            if old is None or rt is None:
                return None
            new = clone(old)
            fn(new)
            if new == old:
                return old
            return self.api.write_update(None, rt, old, new, sub, manager, "Update", "Ignore")

    def delete(self, key, obj, policy="Background"):
        rt = self.reg.by_store_key(key)
        if rt is None:
            return
        with self.store.lock:
            cur = self.store.get(key, obj["metadata"].get("namespace", ""),
                                 obj["metadata"]["name"])
            if cur is None or cur["metadata"].get("uid") != obj["metadata"].get("uid"):
                return
            if cur["metadata"].get("deletionTimestamp") and policy == "Background":
                return
            self.api.delete_locked(rt, cur, {"propagationPolicy": policy})

    def record_event(self, ns, involved, reason, message, etype="Warning"):
        with self.store.lock:
            nso = self.store.get(NS_KEY, "", ns)
            if nso is None or nso["metadata"].get("deletionTimestamp"):
                return
            md = involved["metadata"]
            name = "%s.%x" % (md["name"], int(time.time() * 1e9))
            now = objutil.now()
            ev = {"kind": "Event", "apiVersion": "v1",
                  "metadata": {"name": name, "namespace": ns, "uid": objutil.new_uid(),
                               "resourceVersion": "", "creationTimestamp": now},
                  "involvedObject": {"kind": involved.get("kind"), "namespace": ns,
                                     "name": md["name"], "uid": md.get("uid"),
                                     "apiVersion": involved.get("apiVersion")},
                  "reason": reason, "message": message,
                  "source": {"component": "garbage-collector-controller"},
                  "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": etype,
                  "eventTime": None, "reportingComponent": "garbage-collector-controller",
                  "reportingInstance": ""}
            self.store.put(("", "events"), ns, name, ev, "ADDED")

    # -- CRDs -----------------------------------------------------------------
    def _crd_loop(self):
        self._loop(self.crdq, self._crd)

    def _crd(self, name):
        crd = self.store.get(CRD_KEY, "", name)
        if crd is None:
            self.reg.remove_crd(name)
            return
        if crd["metadata"].get("deletionTimestamp"):
            self._crd_cleanup(crd)
            return
        if _established(crd):
            rts = self.reg.crd_types.get(name)
            if not rts or rts[0].crd is not crd:
                self.reg.add_crd(crd)
            return
        names = dict(crd["spec"].get("names") or {})
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", names.get("kind", "") + "List")
        t = objutil.now()

        def accept(o):
            st = o.setdefault("status", {})
            st["conditions"] = [
                _cond("NamesAccepted", "True", "NoConflicts", "no conflicts found", t),
                _cond("Established", "False", "Installing",
                      "the initial names have been accepted", t)]
            st["acceptedNames"] = _ordered_names(names)
        time.sleep(0.008)
        self.update(CRD_KEY, "", name, accept, sub="status", manager="kube-apiserver")
        time.sleep(0.008)
        crd = self.store.get(CRD_KEY, "", name)
        if crd is None:
            return
        self.reg.add_crd(crd)

        def establish(o):
            for c in o["status"]["conditions"]:
                if c["type"] == "Established":
                    c.update(_cond("Established", "True", "InitialNamesAccepted",
                                   "the initial names have been accepted", t))
        self.update(CRD_KEY, "", name, establish, sub="status", manager="kube-apiserver")
        crd = self.store.get(CRD_KEY, "", name)
        if crd is not None:
            self.reg.add_crd(crd)

    def _crd_cleanup(self, crd):
        spec = crd.get("spec") or {}
        key = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        remaining = self.store.items(key)
        for o in remaining:
            self.delete(key, o)
        if self.store.count(key):
            self.crdq.add(crd["metadata"]["name"], 0.1)
            return

        def drop(o):
            o["metadata"]["finalizers"] = [f for f in o["metadata"].get("finalizers") or []
                                           if f != CLEANUP]
        self.update(CRD_KEY, "", crd["metadata"]["name"], drop, manager="kube-apiserver")

    # -- garbage collector ------------------------------------------------------
    def _gc_loop(self):
        self._loop(self.gcq, self._gc)

    def _gc(self, item):
        what, key, ns, name = item
        obj = self.store.get(key, ns, name)
        if obj is None:
            return
        if what == "dep":
            self._gc_dependent(key, ns, obj)
        else:
            self._gc_owner(key, ns, obj)

    def _owner_state(self, dep_ns, ref):
        loc, owner = self.store.by_uid(ref.get("uid"))
        if owner is None:
            return None, None
        if loc[1] and loc[1] != dep_ns:
            return None, "crossns"
        return owner, None

    def _gc_dependent(self, key, ns, obj):
        refs = [r for r in obj["metadata"].get("ownerReferences") or [] if isinstance(r, dict)]
        if not refs:
            return
        dangling, foreground = [], False
        for r in refs:
            owner, why = self._owner_state(ns, r)
            if owner is None:
                dangling.append(r.get("uid"))
                if why == "crossns":
                    self.record_event(ns, obj, "OwnerRefInvalidNamespace",
                                      'ownerRef [%s/%s, namespace: %s, name: %s, uid: %s] does '
                                      'not exist in namespace "%s"'
                                      % (r.get("apiVersion"), r.get("kind"), ns, r.get("name"),
                                         r.get("uid"), ns))
            elif owner["metadata"].get("deletionTimestamp") and \
                    "foregroundDeletion" in (owner["metadata"].get("finalizers") or []):
                foreground = True
        if len(dangling) == len(refs) or foreground:
            policy = "Foreground" if self.owners.get(obj["metadata"].get("uid")) else "Background"
            self.delete(key, obj, policy if foreground else "Background")
        elif dangling:
            def strip(o):
                o["metadata"]["ownerReferences"] = [
                    r for r in o["metadata"].get("ownerReferences") or []
                    if r.get("uid") not in dangling]
            self.update(key, ns, obj["metadata"]["name"], strip)

    def _gc_owner(self, key, ns, obj):
        md = obj["metadata"]
        fins = md.get("finalizers") or []
        uid = md.get("uid")
        deps = [d for d in (self.store.get(*loc) for loc in list(self.owners.get(uid, ())))
                if d is not None]
        if "orphan" in fins:
            for d in deps:
                dmd = d["metadata"]

                def strip(o):
                    refs = [r for r in o["metadata"].get("ownerReferences") or []
                            if r.get("uid") != uid]
                    if refs:
                        o["metadata"]["ownerReferences"] = refs
                    else:
                        o["metadata"].pop("ownerReferences", None)
                self.update(_key_of(self.store, d), dmd.get("namespace", ""), dmd["name"], strip)
            self._drop_finalizer(key, ns, md["name"], "orphan")
        elif "foregroundDeletion" in fins:
            blocking = []
            for d in deps:
                dkey = _key_of(self.store, d)
                if not d["metadata"].get("deletionTimestamp"):
                    self.delete(dkey, d, "Foreground" if self.owners.get(
                        d["metadata"].get("uid")) else "Background")
                if any(r.get("uid") == uid and r.get("blockOwnerDeletion")
                       for r in d["metadata"].get("ownerReferences") or []):
                    if self.store.get(dkey, d["metadata"].get("namespace", ""),
                                      d["metadata"]["name"]) is not None:
                        blocking.append(d)
            if not blocking:
                self._drop_finalizer(key, ns, md["name"], "foregroundDeletion")

    def _drop_finalizer(self, key, ns, name, fin):
        def drop(o):
            o["metadata"]["finalizers"] = [f for f in o["metadata"].get("finalizers") or []
                                           if f != fin]
            if not o["metadata"]["finalizers"]:
                o["metadata"].pop("finalizers")
        self.update(key, ns, name, drop)

    # -- namespaces -------------------------------------------------------------
    def _ns_loop(self):
        self._loop(self.nsq, self._ns)

    def _ns(self, name):
        nso = self.store.get(NS_KEY, "", name)
        if nso is None or not nso["metadata"].get("deletionTimestamp"):
            return
        remaining = 0
        fins = {}
        for key in self.store.namespaces_with(name):
            for o in self.store.items(key, name):
                remaining += 1
                if not o["metadata"].get("deletionTimestamp"):
                    self.delete(key, o)
                for f in o["metadata"].get("finalizers") or []:
                    fins[f] = fins.get(f, 0) + 1
        left = sum(self.store.count(k, name) for k in self.store.namespaces_with(name))
        if left:
            if fins:
                self._ns_conditions(name, fins)
            self.nsq.add(name, 0.2)
            return

        def finalize(o):
            o.setdefault("spec", {})["finalizers"] = [
                f for f in (o.get("spec") or {}).get("finalizers") or [] if f != "kubernetes"]
        self.update(NS_KEY, "", name, finalize, sub="finalize")

    def _ns_conditions(self, name, fins):
        t = objutil.now()
        msg = ", ".join("%s in %d resource instances" % kv for kv in sorted(fins.items()))

        def setc(o):
            conds = [_cond("NamespaceContentRemaining", "True", "SomeResourcesRemain",
                           "Some resources are remaining", t),
                     _cond("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
                           "Some content in the namespace has finalizers remaining: " + msg, t)]
            old = {c["type"]: c for c in (o.get("status") or {}).get("conditions") or []}
            if all(old.get(c["type"], {}).get("message") == c["message"] for c in conds):
                return
            o.setdefault("status", {})["conditions"] = conds
        self.update(NS_KEY, "", name, setc, sub="status")


def _key_of(store, obj):
    loc = store.uids.get(obj["metadata"].get("uid"))
    return loc[0] if loc else None


def _cond(t, s, reason, msg, ts):
    return {"type": t, "status": s, "lastTransitionTime": ts, "reason": reason, "message": msg}


def _ordered_names(n):
    order = ["plural", "singular", "shortNames", "kind", "listKind", "categories"]
    return {k: n[k] for k in order if k in n}


def _established(crd):
    for c in (crd.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Established" and c.get("status") == "True":
            return True
    return False
