"""redis_py.py - groups 2 to 5 from Python: clustershm.redis.RedisCluster
beside redis-py's own redis.cluster.RedisCluster, on one real Redis
Cluster (3 masters, 3 replicas).

  2. a new worker's first GET (constructor to answer) and what it sends;
  3. N processes doing steady GETs: cluster commands at the servers vs N;
  4. a master SIGKILLed under 16 processes of GETs: cluster commands at the
     servers and errors that reach the application;
  5. per-call routing: keyslot + get_node_from_slot vs route().

Invariants: workers are forked from this process (as a pre-fork server
forks them: redis-py and clustershm already imported), never while it has
a clustershm client; our side's host has its tender in a process of its own
started before the counts are reset (a worker host with a tender already
running), and its tends are counted with everything else.
"""
import random
import subprocess
import sys
import threading
import time

import clustershm
import redis
from redis.cluster import RedisCluster as PeerCluster

import clustershm.redis as dropin
from common import (Report, cluster_calls, command_calls, commandstats, failed, fork_workers,
                    median, only_cluster, shm_key)

PEER = "redis-py %s" % redis.__version__
KEYS = ["bench:%d" % i for i in range(1000)]


def start_tender(url, key, **options):
    """A process holding a connected clustershm.Client (the host's tender);
    stopped by closing its stdin."""
    code = ("import clustershm, sys\n"
            "c = clustershm.connect(sys.argv[1], key=int(sys.argv[2]), **eval(sys.argv[3]))\n"
            "print('ready', flush=True)\nsys.stdin.read()\nc.close()\n")
    p = subprocess.Popen([sys.executable, "-c", code, url, str(key), repr(options)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "ready":
        raise RuntimeError("the tender process did not connect")
    return p


def stop_tender(p):
    p.stdin.close()
    p.wait(timeout=30)


class Side:
    """One client under test: how a worker makes it."""

    def __init__(self, name, make):
        self.name, self.make = name, make


def sides(cluster, key, **options):
    """The peer and ours; options are clustershm's (the tender's timing)."""
    host, port = "127.0.0.1", cluster.ports[0]
    url = cluster.url(3)
    peer = Side(PEER, lambda: PeerCluster(host=host, port=port))
    ours = Side("clustershm", lambda: dropin.RedisCluster(url, key=key, **options))
    return peer, ours


def _first_get(i, make):
    t0 = time.perf_counter()
    rc = make()
    rc.get(KEYS[i % len(KEYS)])
    elapsed = time.perf_counter() - t0
    rc.close()
    return {"seconds": elapsed}


def _plain_get(i, port):
    t0 = time.perf_counter()
    r = redis.Redis(host="127.0.0.1", port=port)
    try:
        r.get(KEYS[0])
    except redis.ResponseError:
        pass   # MOVED: the round trip is what is timed
    elapsed = time.perf_counter() - t0
    r.close()
    return {"seconds": elapsed}


def first_get(cluster, stats, quick):
    rep = Report(2, "A new Python worker's first GET (constructor to answer), ready segment")
    rounds = 3 if quick else 40
    key = shm_key(2)
    # tend_interval 60: the tender's tends do not fall into the window, so
    # what is counted is what the new workers send.
    timing = {"tend_interval": 60, "takeover_timeout": 120}
    tender = start_tender(cluster.url(3), key, **timing)
    peer, ours = sides(cluster, key, **timing)
    figures = {}
    try:
        for side in (peer, ours):
            times, counts = [], {}
            for r in range(rounds):   # one new process at a time, as a pool recycles them
                stats_before = commandstats(stats.conns)
                res = fork_workers(1, _first_get, side.make)
                after = commandstats(stats.conns)
                if failed(res):
                    rep.note("%s failed: %s" % (side.name, failed(res)[0]))
                    break
                times.append(res[0]["seconds"])
                for k, v in after.items():
                    counts[k] = counts.get(k, 0) + v - stats_before.get(k, 0)
            figures[side.name] = {"times": times, "counts": counts, "rounds": rounds}
        plain = [fork_workers(1, _plain_get, cluster.ports[0])[0]["seconds"] for _ in range(rounds)]
    finally:
        stop_tender(tender)
    p, o = figures[PEER], figures["clustershm"]
    rep.row("constructor -> first GET answered, median", median(o["times"]) * 1e3,
            median(p["times"]) * 1e3, "ms", PEER, "%.2f")
    per = {n: {k: v / rounds for k, v in f["counts"].items()} for n, f in figures.items()}
    rep.row("CLUSTER* commands per new process", cluster_calls(per["clustershm"]),
            cluster_calls(per[PEER]), "", PEER, "%.2f")
    rep.row("COMMAND per new process", command_calls(per["clustershm"]),
            command_calls(per[PEER]), "", PEER, "%.2f")
    rep.note("baseline: a plain redis.Redis connection's first GET, median %.2f ms"
             % (median(plain) * 1e3))
    rep.note("commands per new process (%d rounds): ours %s; %s %s"
             % (rounds, only_cluster(per["clustershm"]), PEER, only_cluster(per[PEER])))
    rep.data = {"figures": figures, "plain": plain}
    return rep


def _steady(i, make, seconds, pause):
    rc = make()
    rng = random.Random(i)
    n = errors = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            rc.get(KEYS[rng.randrange(len(KEYS))])
            n += 1
        except Exception:  # noqa: BLE001 - an error reaching the application is the figure
            errors += 1
        time.sleep(pause)
    rc.close()
    return {"gets": n, "errors": errors}


def load_vs_processes(cluster, stats, quick):
    rep = Report(3, "Processes doing steady GETs: cluster commands at the servers vs processes")
    counts = (4, 8) if quick else (16, 64, 256)
    seconds = 1.0 if quick else 6.0
    key = shm_key(3)
    tender = start_tender(cluster.url(3), key)
    peer, ours = sides(cluster, key)
    table = []
    try:
        for n in counts:
            row = {"processes": n}
            for side in (peer, ours):
                stats.reset()
                t0 = time.monotonic()
                res = fork_workers(n, _steady, side.make, seconds, 0.05)
                wall = time.monotonic() - t0
                c = commandstats(stats.conns)
                row[side.name] = {"cluster": cluster_calls(c), "command": command_calls(c),
                                  "gets": sum(r.get("gets", 0) for r in res),
                                  "errors": sum(r.get("errors", 0) for r in res),
                                  "failed": len(failed(res)), "seconds": wall,
                                  "detail": only_cluster(c)}
            table.append(row)
            p, o = row[PEER], row["clustershm"]
            rep.row("%3d processes: CLUSTER* at the servers" % n, o["cluster"], p["cluster"], "",
                    PEER, "%d")
            rep.row("%3d processes: COMMAND at the servers" % n, o["command"], p["command"], "",
                    PEER, "%d")
            rep.note("%3d processes, %.1f s each: GETs ours %d (errors %d), %s %d (errors %d)"
                     % (n, seconds, o["gets"], o["errors"], PEER, p["gets"], p["errors"]))
    finally:
        stop_tender(tender)
    rep.note("ours: every CLUSTER command is the host's one tender (tend_interval 1 s); "
             "the peer's grow with the processes")
    rep.data = {"table": table, "seconds": seconds, "peer": PEER}
    return rep


def _failover_worker(i, make, seconds):
    rc = make()
    rng = random.Random(i)
    n = errors = 0
    kinds = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            rc.get(KEYS[rng.randrange(len(KEYS))])
            n += 1
        except Exception as e:  # noqa: BLE001 - what reaches the application is the figure
            errors += 1
            kinds[type(e).__name__] = kinds.get(type(e).__name__, 0) + 1
            time.sleep(0.01)
        time.sleep(0.005)
    try:
        rc.close()
    except Exception:  # noqa: BLE001 - a client of a broken cluster may fail to close
        pass
    return {"gets": n, "errors": errors, "kinds": kinds}


def failover(cluster, stats, quick):
    rep = Report(4, "A master SIGKILLed while 16 processes run GETs")
    seconds = 5.0 if quick else 8.0
    kill_at = 1.0
    processes = 16
    key = shm_key(4)
    out = {}
    for name in (PEER, "clustershm"):
        victim = cluster.slot_owners()[0]
        victim_port = int(victim.rsplit(":", 1)[1])
        tender = start_tender(cluster.url(3), key) if name == "clustershm" else None
        try:
            peer, ours = sides(cluster, key)
            side = peer if name == PEER else ours
            stats_ports = [p for p in stats.conns if p != victim_port]
            stats.reset()
            killer = threading.Timer(kill_at, cluster.kill_node, (victim_port,))
            res = fork_workers(processes, _failover_worker, side.make, seconds,
                               started=killer.start)
            killer.join()
            c = commandstats({p: stats.conns[p] for p in stats_ports})
        finally:
            if tender:
                stop_tender(tender)
        kinds = {}
        for r in res:
            for k, v in r.get("kinds", {}).items():
                kinds[k] = kinds.get(k, 0) + v
        out[name] = {"cluster": cluster_calls(c), "detail": only_cluster(c),
                     "errors": sum(r.get("errors", 0) for r in res),
                     "gets": sum(r.get("gets", 0) for r in res), "kinds": kinds,
                     "failed": len(failed(res)), "victim": victim_port}
        # The killed master comes back as a replica; the next run kills the
        # master of slot 0 then.
        cluster.restart_node(victim_port)
        cluster.wait_settled(90)
        stats.conns[victim_port] = cluster.connection(victim_port)
    p, o = out[PEER], out["clustershm"]
    rep.row("CLUSTER* at the surviving servers", o["cluster"], p["cluster"], "", PEER, "%d")
    rep.row("errors reaching the application", o["errors"], p["errors"], "", PEER, "%d")
    rep.note("%d processes, %.0f s, master of slot 0 SIGKILLed at %.0f s (cluster-node-timeout "
             "%d ms): GETs ours %d, %s %d; error kinds ours %s, %s %s"
             % (processes, seconds, kill_at, cluster.node_timeout_ms, o["gets"], PEER, p["gets"],
                o["kinds"], PEER, p["kinds"]))
    rep.data = out
    return rep


def _routing(i, url, key, port, n):
    keys = [("user:%d" % (j * 7919)).encode() for j in range(n)]
    peer = PeerCluster(host="127.0.0.1", port=port)
    c = clustershm.connect(url, key=key)
    out = {}
    try:
        keyslot, from_slot = peer.keyslot, peer.nodes_manager.get_node_from_slot
        for name, fn in (("peer", lambda k: from_slot(keyslot(k))), ("ours", c.route)):
            batches = []
            for _ in range(7):
                t0 = time.perf_counter()
                for k in keys:
                    fn(k)
                batches.append((time.perf_counter() - t0) / n)
            out[name] = median(batches)
        batches = []
        slot = clustershm.redis_slot
        for _ in range(7):
            t0 = time.perf_counter()
            for k in keys:
                slot(k)
            batches.append((time.perf_counter() - t0) / n)
        out["redis_slot"] = median(batches)
        batches = []
        for _ in range(7):
            t0 = time.perf_counter()
            for k in keys:
                pass
            batches.append((time.perf_counter() - t0) / n)
        out["loop"] = median(batches)
    finally:
        c.close()
        peer.close()
    return out


def routing(cluster, stats, quick):
    rep = Report(5, "Per-call routing from Python")
    key = shm_key(5)
    tender = start_tender(cluster.url(3), key)
    try:
        res = fork_workers(1, _routing, cluster.url(3), key, cluster.ports[0],
                           5000 if quick else 200000)[0]
    finally:
        stop_tender(tender)
    if "exception" in res:
        rep.note("failed: %s" % res["exception"])
        return rep
    rep.row("route() vs keyslot()+get_node_from_slot()", res["ours"] * 1e9, res["peer"] * 1e9,
            "ns/call", PEER, "%.0f")
    rep.note("of which the Python for-loop itself: %.0f ns/call; clustershm.redis_slot() alone "
             "%.0f ns/call (target for route(): < 250 ns)" % (res["loop"] * 1e9,
                                                            res["redis_slot"] * 1e9))
    rep.data = res
    return rep

