"""bench/opproc.py: run the operator binary and read what it costs.

Operator starts bin/grace-operator with health and metrics on free loopback
ports, times process start to /readyz 200, scrapes /metrics (Prometheus text)
and reads /proc/PID/status and /proc/PID/stat. Its pid is written to a file so
that bench/run.sh can stop it even when this process dies.

Also here: proc_cpu(pid) and proc_mem(pid) for any process (the API server
stand-in, the dependency stand-ins), and quiesce(), which waits until the
operator's work queue has drained.
"""

import http.client
import os
import re
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

_SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def free_port():
    """An ephemeral loopback port that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_cpu(pid):
    """utime + stime of a process in seconds (None when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_mem(pid):
    """VmRSS, VmHWM, RssAnon, RssFile (bytes) and Threads from /proc/PID/status."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, val = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    out[key] = int(val.split()[0]) * 1024
                elif key == "Threads":
                    out[key] = int(val)
    except OSError:
        return None
    return out


def proc_maps_rss(pid, top=12):
    """Resident bytes by mapping (library path, [heap], [anon], [stack]...)."""
    by, name = {}, None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):
                    parts = line.split()
                    name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
                elif first == "Rss:" and name is not None:
                    by[name] = by.get(name, 0) + int(line.split()[1]) * 1024
    except OSError:
        return None
    return dict(sorted(by.items(), key=lambda kv: -kv[1])[:top])


def parse_metrics(text):
    """Prometheus text -> list of (name, {labels}, value)."""
    out = []
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        out.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), value))
    return out


def msum(samples, name, **want):
    """Sum of every sample of `name` whose labels include `want`."""
    return sum(v for n, lab, v in samples if n == name
               and all(lab.get(k) == w for k, w in want.items()))


def by_label(samples, name, key):
    """Samples of `name` summed by one label."""
    out = {}
    for n, lab, v in samples:
        if n == name:
            k = lab.get(key, "?")
            out[k] = out.get(k, 0) + v
    return out


def requests_by(samples, key="method"):
    """rest_client_requests_total summed by one label (method or code)."""
    return by_label(samples, "rest_client_requests_total", key)


def requests_by_method_code(samples):
    out = {}
    for n, lab, v in samples:
        if n == "rest_client_requests_total":
            k = "%s %s" % (lab.get("method", "?"), lab.get("code", "?"))
            out[k] = out.get(k, 0) + v
    return out


def diff(after, before):
    keys = set(after) | set(before)
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(keys)
            if after.get(k, 0) - before.get(k, 0)}


def writes(by_method):
    return sum(v for k, v in by_method.items() if k in WRITE_METHODS)


def _get(port, path, timeout=2.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class Operator:
    """One operator process at a time (start, wait ready, stop, start again)."""

    def __init__(self, binary, kubeconfig, config, logdir, pidfile, log_level="warn", wrap=()):
        self.binary = binary
        self.argv = list(wrap) + [binary, "--kubeconfig", kubeconfig, "--config", config,
                                  "--webhook-addr", "off", "--log-level", log_level]
        self.logdir = logdir
        self.pidfile = pidfile
        self.proc = None
        self.t_start = None
        self.runs = 0
        self.health_port = self.metrics_port = None

    def set_binary(self, binary):
        """The binary the next start() runs (same arguments)."""
        self.argv[self.argv.index(self.binary)] = binary
        self.binary = binary

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, gated=False):
        """Start the operator. gated: the process (same pid) waits in a shell until
        release() lets it exec the operator, so a profiler can attach first."""
        self.health_port, self.metrics_port = free_port(), free_port()
        argv = self.argv + ["--health-addr", "127.0.0.1:%d" % self.health_port,
                            "--metrics-addr", "127.0.0.1:%d" % self.metrics_port]
        self.gate = None
        if gated:
            self.gate = os.path.join(self.logdir, "operator.gate")
            if not os.path.exists(self.gate):
                os.mkfifo(self.gate, 0o600)
            argv = ["sh", "-c", 'read _ <"$0"; exec "$@"', self.gate] + argv
        self.runs += 1
        log = open(os.path.join(self.logdir, "operator-%d.log" % self.runs), "wb")
        self.t_start = time.monotonic()
        # The environment the container image sets (Containerfile: GnuTLS,
        # linked only through Debian's libcurl/libldap, not initialised).
        env = dict(os.environ, GNUTLS_NO_IMPLICIT_INIT="1")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     env=env)
        log.close()
        with open(self.pidfile, "w") as f:
            f.write("%d\n" % self.proc.pid)

    def release(self):
        """Let a gated start exec the operator; the clock starts now."""
        with open(self.gate, "w") as f:
            f.write("go\n")
        self.t_start = time.monotonic()

    def wait_ready(self, timeout=120.0):
        """Seconds from process start to the first /readyz 200."""
        end = self.t_start + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("operator exited with %d (see %s)" % (
                    self.proc.returncode, self.logdir))
            try:
                status, _ = _get(self.health_port, "/readyz", 1.0)
                if status == 200:
                    return time.monotonic() - self.t_start
            except OSError:
                pass
            time.sleep(0.005)
        raise RuntimeError("operator not ready after %.0f s" % timeout)

    def metrics(self):
        status, body = _get(self.metrics_port, "/metrics", 10.0)
        if status != 200:
            raise RuntimeError("/metrics: HTTP %d" % status)
        return parse_metrics(body.decode("utf-8", "replace"))

    def cpu(self):
        return proc_cpu(self.proc.pid)

    def mem(self):
        """proc_mem, and the heap the operator reports (grace_heap_bytes: HeapInUse,
        HeapFree) when its metrics answer."""
        out = proc_mem(self.proc.pid)
        try:
            s = self.metrics()
        except (OSError, RuntimeError, http.client.HTTPException):
            return out
        if out is not None:
            out["HeapInUse"] = int(msum(s, "grace_heap_bytes", state="in_use"))
            out["HeapFree"] = int(msum(s, "grace_heap_bytes", state="free"))
        return out

    def stop(self, timeout=30.0):
        """SIGTERM, wait; SIGKILL after timeout. Returns seconds to exit."""
        if not self.proc or self.proc.poll() is not None:
            return None
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        try:
            os.unlink(self.pidfile)
        except OSError:
            pass
        return time.monotonic() - t0


def perf_attach(pid, out, settle=0.5):
    """Start `perf record` (call graphs from DWARF) on a running process."""
    freq = os.environ.get("BENCH_PERF_FREQ", "499")   # samples per second
    p = subprocess.Popen(["perf", "record", "-F", freq, "--call-graph", "dwarf,16384",
                          "-p", str(pid), "-o", out], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    time.sleep(settle)
    return p


def perf_detach(p):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def reconciles(samples):
    return msum(samples, "controller_runtime_reconcile_total")


def quiesce(op, min_reconciles=0, still=2.0, timeout=600.0, poll=0.5):
    """Wait until the queue is empty, no worker is busy, and neither the reconcile
    count nor the request count moved for `still` seconds (and at least
    min_reconciles reconciles happened). Returns (metrics, seconds waited)."""
    t0 = time.monotonic()
    last_key, since = None, time.monotonic()
    while True:
        s = op.metrics()
        busy = (msum(s, "workqueue_depth") > 0
                or msum(s, "controller_runtime_active_workers") > 0)
        key = (reconciles(s), msum(s, "rest_client_requests_total"))
        now = time.monotonic()
        if key != last_key or busy or key[0] < min_reconciles:
            last_key, since = key, now
        elif now - since >= still:
            return s, now - t0 - still
        if now - t0 > timeout:
            return s, None
        time.sleep(poll)
