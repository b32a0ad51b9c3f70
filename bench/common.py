"""common.py - what the benchmark groups share: the machine they ran on,
ports and SysV keys, statistics, forked workers, the servers' command
counts, and printing a figure beside its peer's.

Invariants:
  - Ports and SysV keys move with CSHM_TEST_INSTANCE like the test suites'
    (ports + 1000 * N; keys 0x5CB0N000 + i), and no suite uses either range,
    so a benchmark can run while suites run on other instances.
  - Counts of commands come from the servers (CONFIG RESETSTAT, then INFO
    commandstats; the simulator's own counters), never from the clients.
  - Every figure is printed beside the peer's figure of the same run, with
    the ratio; nothing fails on a figure (benchmarks measure, tests assert).
  - Forked workers report through a pipe and leave with os._exit: they never
    run the parent's cleanup or its atexit handlers.
"""
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, ROOT)

from support.resp import text  # noqa: E402

INSTANCE = int(os.environ.get("CSHM_TEST_INSTANCE", "0"))
PORT_SHIFT = 1000 * INSTANCE
REDIS_PORTS = range(7600 + PORT_SHIFT, 7606 + PORT_SHIFT)   # 3 masters + 3 replicas
SIM_BASE = 3600 + PORT_SHIFT                               # simulator nodes 3600.., control 3609
SIM_CONTROL = SIM_BASE + 9
OUT_DIR = os.path.join(ROOT, "build", "bench")
PLOT_DIR = os.path.join(ROOT, "docs", "bench")


def shm_key(i):
    """The i-th SysV key of this benchmark run (0 <= i < 0x1000)."""
    assert 0 <= i < 0x1000
    return 0x5CB00000 | (INSTANCE & 0xFF) << 12 | i


def remove_keys():
    """Every segment of this run's key range removed (before and after)."""
    lo, hi = shm_key(0), shm_key(0xFFF)
    with open("/proc/sysvipc/shm") as f:
        header = f.readline().split()
        for line in f:
            row = dict(zip(header, line.split()))
            key = int(row["key"]) & 0xFFFFFFFF
            if lo <= key <= hi:
                subprocess.run(["ipcrm", "-M", "0x%08x" % key], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)


def machine():
    """CPU model, cores, kernel and the versions of what is measured."""
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break

    def version_of(argv):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "absent"

    def module_version(name):
        try:
            from importlib.metadata import version
            return version(name)
        except Exception:  # noqa: BLE001 - absent is an answer
            return "absent"

    return {
        "cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
        "python": platform.python_version(),
        "php": version_of(["php", "-r", "echo PHP_VERSION;"]),
        "phpredis": version_of(["php", "-r", "echo phpversion('redis');"]),
        "redis_server": version_of(["redis-server", "--version"]),
        "redis_py": module_version("redis"), "aerospike_py": module_version("aerospike"),
        "clustershm": module_version("clustershm"),
    }


def median(values):
    return statistics.median(values) if values else float("nan")


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]


def ratio(peer, ours):
    """'N.Nx' of peer/ours (how many times ours is lower), or '-'."""
    if not ours or peer != peer or ours != ours:
        return "-" if not peer else "inf"
    return "%.1fx" % (peer / ours)


class Report:
    """Figures of one group: printed as they come, kept for the JSON."""

    def __init__(self, group, title):
        self.group, self.title, self.rows, self.notes, self.data = group, title, [], [], {}
        print("\n== %d. %s" % (group, title), flush=True)

    def row(self, what, ours, peer, unit, peer_name, fmt="%.1f", lower_is_better=True):
        """One figure: ours beside the peer's of the same run, and the ratio
        peer/ours (how many times ours is lower: more is better when lower
        is better)."""
        r = ratio(peer, ours) if lower_is_better else ratio(ours, peer)
        line = "  %-46s ours %s %s   %s %s %s   ratio %s" % (
            what, fmt % ours, unit, peer_name, fmt % peer, unit, r)
        print(line, flush=True)
        self.rows.append({"what": what, "ours": ours, "peer": peer, "peer_name": peer_name,
                          "unit": unit, "ratio": r})

    def note(self, text_):
        print("  " + text_, flush=True)
        self.notes.append(text_)

    def as_json(self):
        return {"group": self.group, "title": self.title, "rows": self.rows,
                "notes": self.notes, "data": self.data}


def write_json(name, obj):
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, name)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    return path


# --- forked workers ------------------------------------------------------

def fork_workers(n, fn, *args, timeout=300, started=None):
    """fn(i, *args) in n forked children, started together (each waits for
    the others to be forked); its JSON-able results, in order.  A child's
    exception is its result as {"exception": text}.  started() is called
    once every child is forked and let go (e.g. to start a timer thread:
    never before forking)."""
    go_r, go_w = os.pipe()
    children = []
    for i in range(n):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(r)
            os.close(go_w)
            code = 0
            try:
                os.read(go_r, 1)
                try:
                    result = fn(i, *args)
                except Exception as e:  # noqa: BLE001 - reported, not hidden
                    result = {"exception": "%s: %s" % (type(e).__name__, e)}
                data = json.dumps(result).encode()
                view = memoryview(data)
                while view:
                    view = view[os.write(w, view):]
            except BaseException:  # noqa: BLE001 - a child must not unwind into the parent's code
                code = 1
            os._exit(code)
        os.close(w)
        children.append((pid, r))
    os.close(go_r)
    os.write(go_w, b"x" * n)
    os.close(go_w)
    if started is not None:
        started()
    results = []
    deadline = time.monotonic() + timeout
    for pid, r in children:
        chunks = []
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(r)
        while True:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)
        try:
            results.append(json.loads(b"".join(chunks)))
        except ValueError:
            results.append({"exception": "worker %d died without a result" % pid})
    return results


def failed(results):
    return [r for r in results if isinstance(r, dict) and "exception" in r]


# --- counts at the Redis servers -------------------------------------------

def commandstats(conns):
    """{command: calls} summed over the connections' servers (INFO commandstats)."""
    total = {}
    for c in conns.values():
        for line in text(c.call("INFO", "commandstats")).splitlines():
            name, sep, value = line.partition(":")
            if sep and name.startswith("cmdstat_"):
                fields = dict(f.split("=") for f in value.split(","))
                cmd = name[len("cmdstat_"):]
                total[cmd] = total.get(cmd, 0) + int(fields["calls"])
    return total


def cluster_calls(stats):
    return sum(n for name, n in stats.items() if name.startswith("cluster"))


def command_calls(stats):
    return sum(n for name, n in stats.items() if name == "command" or name.startswith("command|"))


def only_cluster(stats):
    return {k: v for k, v in sorted(stats.items()) if k.startswith("cluster") or
            k.startswith("command")}
