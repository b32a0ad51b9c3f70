"""helpers.py - constants and small tools the Python suite's files share.

Invariants: every wait has a deadline (support.procs.wait_for); child
Python processes run this interpreter (the venv's, with the installed
wheel) with PR_SET_PDEATHSIG, so they die with the test run; nothing here
decides truth from the library under test.
"""
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request

from support import procs
from support.cluster import port_is_free
from support.procs import wait_for
from support.resp import call

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CLI = os.path.join(ROOT, "build", "clustershm")
# CSHM_TEST_INSTANCE=N moves every port by 1000 * N (and the SysV keys, see
# support/shm.py), so another run of the suite on the machine never meets
# this one.
PORT_SHIFT = 1000 * int(os.environ.get("CSHM_TEST_INSTANCE", "0"))
REDIS_PORTS = range(7400 + PORT_SHIFT, 7406 + PORT_SHIFT)
# A fresh cluster of its own for a test that changes it (kills a master).
FRESH_PORTS = range(7410 + PORT_SHIFT, 7416 + PORT_SHIFT)
# A TLS-only cluster (test_tls.py).
TLS_PORTS = range(7430 + PORT_SHIFT, 7433 + PORT_SHIFT)
DEAD_PORT = 7490 + PORT_SHIFT   # nothing listens on 7490-7499 unless a test does
SIM_BASE = 3200 + PORT_SHIFT    # simulator nodes 3200.., control port 3209
RACK_SIM_BASE = 3210 + PORT_SHIFT  # the one with login and racks: 3210.., control 3219
HTTP_PORTS = range(8400 + PORT_SHIFT, 8500 + PORT_SHIFT)


def header_version():
    with open(os.path.join(ROOT, "core", "include", "clustershm.h")) as f:
        return re.search(r'#define CSHM_VERSION "([^"]+)"', f.read()).group(1)


def python(code, **kwargs):
    """A child Python (this interpreter) running code; stdio piped."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [HERE, os.path.join(ROOT, "tests", "integration"), ROOT]))
    env.update(kwargs.pop("env", {}))
    return procs.spawn([sys.executable, "-c", code], stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **kwargs)


def stat(key):
    """`clustershm stat --key KEY --json` as a dict (the CLI attaches
    read-only and does not count itself in `attached`)."""
    out = subprocess.run([CLI, "stat", "--key", "0x%08x" % key, "--json"], capture_output=True,
                         text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError("clustershm stat failed: %s" % out.stderr)
    return json.loads(out.stdout)


def http(port, path, body=None, timeout=30):
    """GET (or POST body) http://127.0.0.1:port/path -> decoded JSON."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid):
    """Pids of pid's live children."""
    out = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, task)) as f:
            out += [int(p) for p in f.read().split()]
    return [p for p in out if alive(p)]


def move_slot(cluster, slot, dst_port):
    """Moves one slot to the master on dst_port the way redis-cli's reshard
    does (IMPORTING/MIGRATING, its keys migrated, then SETSLOT NODE on the
    two masters and every other one), and waits until every node agrees."""
    owner = cluster.slot_owners()[slot]
    src_port = int(owner.rsplit(":", 1)[1])
    if src_port == dst_port:
        return
    src_id, dst_id = cluster.node_id(src_port), cluster.node_id(dst_port)
    call(dst_port, "CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    call(src_port, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    while True:
        keys = call(src_port, "CLUSTER", "GETKEYSINSLOT", slot, 100)
        if not keys:
            break
        call(src_port, "MIGRATE", "127.0.0.1", dst_port, "", 0, 5000, "KEYS", *keys)
    others = [p for p, _, _ in cluster.masters() if p not in (src_port, dst_port)]
    for port in [dst_port, src_port] + others:
        call(port, "CLUSTER", "SETSLOT", slot, "NODE", dst_id)
    cluster.wait_settled()


@contextlib.contextmanager
def slot_moved(cluster, slot):
    """Moves slot to another master and yields (old, new) "host:port" of its
    master, as CLUSTER SHARDS says; moves it back afterwards, so the session
    cluster is the same again (conftest's redis_truth stays true)."""
    old = cluster.slot_owners()[slot]
    old_port = int(old.rsplit(":", 1)[1])
    dst_port = next(p for p, _, _ in cluster.masters() if p != old_port)
    move_slot(cluster, slot, dst_port)
    try:
        new = cluster.slot_owners()[slot]
        assert new == "127.0.0.1:%d" % dst_port, (slot, old, new)
        yield old, new
    finally:
        move_slot(cluster, slot, old_port)
        assert cluster.slot_owners()[slot] == old


class Gunicorn:
    """`gunicorn -w workers` serving app (a module of this directory) on a
    free port of HTTP_PORTS, with CSHM_TEST_URL and CSHM_TEST_KEY in its
    environment."""

    WORKERS = 8

    def __init__(self, tmp_path, url, key, preload, env=None, app="gunicorn_app:app",
                 workers=WORKERS):
        import gunicorn
        self.count = workers
        self.port = next(p for p in HTTP_PORTS if port_is_free(p))
        self.log_path = str(tmp_path / "gunicorn.log")
        argv = [sys.executable, "-m", "gunicorn", "-w", str(workers),
                "-b", "127.0.0.1:%d" % self.port, "--chdir", HERE,
                "--timeout", "60", "--graceful-timeout", "10",
                "--error-logfile", self.log_path, "--log-level", "info"]
        argv += ["--preload"] if preload else []
        if gunicorn.version_info >= (27,):
            # Its control socket has one default path for every instance.
            argv += ["--no-control-socket"]
        env = dict(os.environ, CSHM_TEST_URL=url, CSHM_TEST_KEY=str(key), PYTHONPATH=HERE,
                   **(env or {}))
        # stderr into the log too: what a worker writes there itself (a
        # sanitizer's report, make test-python-asan) is kept.
        with open(self.log_path, "ab") as out:
            self.proc = procs.spawn(argv + [app], env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=out)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-5000:]
        except OSError:
            return ""

    def workers(self):
        return sorted(children(self.proc.pid))

    def statuses(self, timeout=30, path="/status"):
        """{pid: status} of every current worker: rounds of `count` concurrent
        requests that each hold their sync worker 0.5 s, so a round spreads
        over the workers; repeated until each current worker answered."""
        seen = {}

        def request(out):
            try:
                a = http(self.port, path + "?hold=0.5")
                out[a["pid"]] = a["status"]
            except OSError:
                pass            # a worker being replaced: the next round

        def complete():
            assert self.proc.poll() is None, "gunicorn exited:\n%s" % self.log()
            workers = self.workers()
            if len(workers) != self.count:
                return None
            got = {}
            threads = [threading.Thread(target=request, args=(got,)) for _ in range(self.count)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            seen.update(got)
            if all(p in seen for p in workers):
                return {p: seen[p] for p in workers}
            return None

        return wait_for(complete, timeout, "every gunicorn worker to answer")

    def routes(self, keys):
        body = "\n".join(k.hex() for k in keys).encode()
        return http(self.port, "/route", body)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError("gunicorn did not stop on SIGTERM:\n%s" % self.log())
        # UBSan reports to stderr, which is in the log (make test-python-asan).
        with open(self.log_path, errors="replace") as f:
            assert "runtime error:" not in f.read(), "UBSan reported:\n%s" % self.log()
        return self.proc.returncode
