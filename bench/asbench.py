"""asbench.py - group 6: Aerospike, on the simulator (tests/aerospike_sim,
3 nodes, namespace test with 2 replicas), the official `aerospike` client
from PyPI in its private and shared-memory (shm) modes beside clustershm
private and shared.

  - connect -> first key's partition known, in a new process;
  - a follower's connect when the host's map is ready (official: shm mode,
    a second process; ours: a follower of the segment);
  - info requests per second at the servers with 1, 9 and 64 processes;
  - per-call partition lookup.

Invariants: counts are the simulator's (`counters`, reset first); each
measured process is forked fresh (the parent never connects a client, so
no client thread is forked); the official client's shm segments use this
run's SysV keys.
"""
import time

import aerospike
import clustershm

from common import (SIM_BASE, Report, failed, fork_workers, median, shm_key)

NS = "test"
PEER = "aerospike-py"


def _official(shm_key_=None, **extra):
    config = {"hosts": [("127.0.0.1", SIM_BASE)]}
    if shm_key_ is not None:
        config["shm"] = {"shm_key": shm_key_}
    config.update(extra)
    return aerospike.client(config)


def _connect_first_partition(i, side, key):
    t0 = time.perf_counter()
    if side.startswith("official"):
        c = _official(key if side == "official-shm" else None).connect()
        c.get_key_partition_id(NS, "", "user:1")
        elapsed = time.perf_counter() - t0
        c.close()
    else:
        c = clustershm.Client("aerospike://127.0.0.1:%d" % SIM_BASE, key=key,
                              shared=side == "clustershm-shared")
        c.connect()
        c.route("user:1", NS)
        elapsed = time.perf_counter() - t0
        c.close()
    return {"seconds": elapsed}


def _hold(i, side, key, seconds, go_at):
    """Connect, then stay connected until go_at + seconds (the window the
    servers' counters measure)."""
    if side.startswith("official"):
        c = _official(key if side == "official-shm" else None).connect()
    else:
        c = clustershm.connect("aerospike://127.0.0.1:%d" % SIM_BASE, key=key,
                               shared=side == "clustershm-shared")
    time.sleep(max(0.0, go_at + seconds - time.time()))
    c.close()
    return {}


def _lookup(i, key, n):
    keys = ["user:%d" % (j * 7919) for j in range(n)]
    official = _official().connect()
    ours = clustershm.connect("aerospike://127.0.0.1:%d" % SIM_BASE, key=key)
    out = {}
    try:
        fns = {"official": lambda k: official.get_key_partition_id(NS, "", k),
               "partition": lambda k: ours.partition(k, NS),
               "route": lambda k: ours.route(k, NS)}
        for name, fn in fns.items():
            batches = []
            for _ in range(7):
                t0 = time.perf_counter()
                for k in keys:
                    fn(k)
                batches.append((time.perf_counter() - t0) / n)
            out[name] = median(batches)
    finally:
        official.close()
        ours.close()
    return out


def bench(sim, quick):
    rep = Report(6, "Aerospike (simulator, 3 nodes): official client beside clustershm")
    peer_version = "aerospike-py %s" % _version()
    rounds = 3 if quick else 30
    data = {}

    # connect -> first partition, each in a new process, nothing shared yet.
    first = {}
    for j, side in enumerate(("official", "official-shm", "clustershm-private",
                              "clustershm-shared")):
        times = []
        for r in range(rounds):
            key = shm_key(0x600 + j * 0x40 + r)   # a fresh segment every time
            res = fork_workers(1, _connect_first_partition, side, key)
            if failed(res):
                rep.note("%s failed: %s" % (side, failed(res)[0]))
                break
            times.append(res[0]["seconds"])
        first[side] = times
    rep.row("private: connect -> first partition, median", median(first["clustershm-private"]) * 1e3,
            median(first["official"]) * 1e3, "ms", peer_version + " private", "%.2f")
    rep.row("shared: first process connect -> partition", median(first["clustershm-shared"]) * 1e3,
            median(first["official-shm"]) * 1e3, "ms", peer_version + " shm", "%.2f")
    data["first"] = first

    # A follower: a segment already tended by another process.
    follower = {}
    for side, key in (("official-shm", shm_key(0x5F0)), ("clustershm-shared", shm_key(0x5F1))):
        holder = _Holder(side, key)
        if side == "official-shm":
            data["shm_support"] = ("used (its segment 0x%08x exists)" % key if segment_exists(key)
                                   else "NOT used: no segment was created")
        try:
            times = []
            for r in range(rounds * 2):
                res = fork_workers(1, _connect_first_partition, side, key)
                if failed(res):
                    rep.note("%s follower failed: %s" % (side, failed(res)[0]))
                    break
                times.append(res[0]["seconds"])
            follower[side] = times
        finally:
            holder.stop()
    rep.row("follower connect -> partition (ready map)",
            median(follower["clustershm-shared"]) * 1e6, median(follower["official-shm"]) * 1e6,
            "us", peer_version + " shm", "%.0f")
    data["follower"] = follower

    # Info requests per second at the servers.
    counts = (1, 9) if quick else (1, 9, 64)
    seconds = 1.0 if quick else 6.0
    load = []
    for n in counts:
        row = {"processes": n}
        for j, side in enumerate(("official", "official-shm", "clustershm-private",
                                  "clustershm-shared")):
            key = shm_key(0x5E0 + j + 4 * counts.index(n))
            # Connected first; the window starts once all are (go_at).
            go_at = time.time() + 2.0 + n * 0.05
            sim.counters(reset=True)

            def reset_at_go(go_at=go_at):
                time.sleep(max(0.0, go_at - time.time()))
                sim.counters(reset=True)
            res = fork_workers(n, _hold, side, key, seconds, go_at, started=reset_at_go)
            c = sim.counters()
            requests = sum(node["requests"] for node in c.values())
            row[side] = {"requests": requests, "per_second": requests / seconds,
                         "failed": len(failed(res))}
            if failed(res):
                rep.note("%s x%d: %s" % (side, n, failed(res)[0]))
        load.append(row)
        rep.row("%2d processes, info requests/s: private" % n,
                row["clustershm-private"]["per_second"], row["official"]["per_second"], "/s",
                peer_version + " private", "%.1f")
        rep.row("%2d processes, info requests/s: shared" % n,
                row["clustershm-shared"]["per_second"], row["official-shm"]["per_second"], "/s",
                peer_version + " shm", "%.1f")
    data["load"] = load

    res = fork_workers(1, _lookup, shm_key(0x5F2), 5000 if quick else 200000)[0]
    if "exception" in res:
        rep.note("lookup failed: %s" % res["exception"])
    else:
        rep.row("per-call partition id", res["partition"] * 1e9, res["official"] * 1e9,
                "ns/call", peer_version, "%.0f")
        rep.note("route() (partition and node) %.0f ns/call" % (res["route"] * 1e9))
        data["lookup"] = res
    rep.note("both clients tend once a second (tend_interval 1 s / 1000 ms); the official "
             "client's shm mode is %s in this PyPI build" % data.get("shm_support", "used"))
    rep.data = data
    return rep


class _Holder:
    """A forked process keeping a client connected (the shm segment's or
    our segment's tender) until stop()."""

    def __init__(self, side, key):
        import os
        self.r, w = os.pipe()
        ready_r, ready_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            code = 0
            try:
                os.close(w)
                os.close(ready_r)
                if side.startswith("official"):
                    c = _official(key).connect()
                else:
                    c = clustershm.connect("aerospike://127.0.0.1:%d" % SIM_BASE, key=key)
                os.write(ready_w, b"y")
                os.read(self.r, 1)   # EOF when the parent closes its end
                c.close()
            except BaseException:  # noqa: BLE001 - never unwind into the parent's code
                code = 1
            os._exit(code)
        os.close(ready_w)
        os.close(self.r)
        self.w = w
        if os.read(ready_r, 1) != b"y":
            raise RuntimeError("the %s holder did not connect" % side)
        os.close(ready_r)

    def stop(self):
        import os
        os.close(self.w)
        os.waitpid(self.pid, 0)


def segment_exists(key):
    with open("/proc/sysvipc/shm") as f:
        f.readline()
        return any(int(line.split()[0]) & 0xFFFFFFFF == key for line in f)


def _version():
    try:
        from importlib.metadata import version
        return version("aerospike")
    except Exception:  # noqa: BLE001
        return "?"
