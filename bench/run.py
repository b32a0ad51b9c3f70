#!/usr/bin/env python3
"""run.py - `make bench` and `make bench-quick`: clustershm beside the
clients people run, every figure beside the peer's from the same run.

    python bench/run.py [--quick] [--only 1,2,...] [--php-ext PATH] [--plots]

Run with an interpreter that has the clustershm wheel, redis-py and the
official aerospike client (the Makefile's build/venv-bench).  Groups:
  1. php-fpm pool: phpredis RedisCluster (default, cache_slots=1) vs
     ClusterShm\\RedisCluster              (bench/php.py)
  2. a new Python worker's first GET      (bench/redis_py.py)
  3. load vs processes (16, 64, 256)      (bench/redis_py.py)
  4. a master SIGKILLed under 16 processes (bench/redis_py.py)
  5. per-call routing, Python and PHP     (bench/redis_py.py, bench/php.py)
  6. Aerospike on the simulator           (bench/asbench.py)
  7. the core's figures                   (bench/bench_core.c)
--quick runs each briefly (CI: none can rot); the full run takes minutes.

Invariants: one Redis Cluster (3 masters, 3 replicas, Debian's
redis-server) and one simulator for the whole run, on ports shifted by
1000 * CSHM_TEST_INSTANCE, stopped in `finally`; this run's SysV keys
(common.shm_key) removed before and after; the machine and every figure
written to build/bench/<group>.json (and results.json); plots (matplotlib)
go to docs/bench/ only with --plots (make bench), never from the quick
mode.  Nothing fails on a figure: a group that breaks is reported and the
run goes on, and the exit status says a group broke.
"""
import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402  (puts tests/integration and the root on sys.path)
from support.cluster import CommandStats, RedisCluster  # noqa: E402


def core_group(cluster, quick):
    rep = common.Report(7, "Core figures (C, bench/bench_core.c)")
    path = os.path.join(common.OUT_DIR, "core-samples.json")
    os.makedirs(common.OUT_DIR, exist_ok=True)
    out = subprocess.run([os.path.join(common.ROOT, "build", "bench-core"), cluster.url(3),
                          hex(common.shm_key(7)), "8" if quick else "1", path],
                         capture_output=True, text=True, timeout=900)
    for line in out.stdout.splitlines():
        rep.note(line)
    if out.returncode != 0:
        raise RuntimeError("bench-core failed: %s" % out.stderr[-2000:])
    with open(path) as f:
        rep.data = json.load(f)
    d = rep.data
    rep.row("connect(): follower vs private mode, p50", d["connect_follower_p50_us"],
            d["connect_private_p50_us"], "us", "private mode", "%.1f")
    rep.row("handoff p99 vs SIGKILL takeover p99", common.percentile(d["handoff_ms"], 0.99),
            common.percentile(d["takeover_ms"], 0.99), "ms", "takeover", "%.3f")
    rep.row("route(): shared vs private", d["route_shared_ns"], d["route_private_ns"],
            "ns/call", "private", "%.1f")
    return rep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="1,2,3,4,5,6,7")
    ap.add_argument("--php-ext", default=os.path.join(common.ROOT, "build", "php", "obj",
                                                      "modules", "clustershm.so"))
    ap.add_argument("--plots", action="store_true")
    args = ap.parse_args()
    groups = {int(g) for g in args.only.split(",")}
    started = time.monotonic()
    info = common.machine()
    print("clustershm benchmarks (%s mode), instance %d" % ("quick" if args.quick else "full",
                                                          common.INSTANCE))
    print("machine: %(cpu)s, %(cores)d cores, Linux %(kernel)s" % info)
    print("versions: Python %(python)s, PHP %(php)s, phpredis %(phpredis)s, %(redis_server)s, "
          "redis-py %(redis_py)s, aerospike-py %(aerospike_py)s, clustershm %(clustershm)s" % info)
    common.remove_keys()
    workdir = tempfile.mkdtemp(prefix="clustershm-bench-")
    cluster = RedisCluster(common.REDIS_PORTS, workdir, replicas=1)
    reports, broken = [], []
    sim = None
    try:
        redis_groups = groups & {1, 2, 3, 4, 5, 7}
        if redis_groups:
            cluster.start()
        # Only a started cluster can be counted (--only 6 starts none).
        with CommandStats(cluster) if redis_groups else contextlib.nullcontext() as stats:
            import redis_py
            import php

            plan = [
                (1, lambda: php.fpm_pool(cluster, stats, args.php_ext, args.quick)),
                (2, lambda: redis_py.first_get(cluster, stats, args.quick)),
                (3, lambda: redis_py.load_vs_processes(cluster, stats, args.quick)),
                (5, lambda: redis_py.routing(cluster, stats, args.quick)),
                (5, lambda: php.php_routing(cluster, args.php_ext, redis_py.start_tender,
                                            redis_py.stop_tender, args.quick)),
                (7, lambda: core_group(cluster, args.quick)),
                (4, lambda: redis_py.failover(cluster, stats, args.quick)),
            ]
            for group, run in plan:
                if group in groups:
                    try:
                        reports.append(run())
                    except Exception:  # noqa: BLE001 - reported; the other groups still run
                        traceback.print_exc()
                        broken.append(group)
        if 6 in groups:
            from tests.aerospike_sim.client import SimulatorProcess
            import asbench
            sim = SimulatorProcess(nodes=3, base_port=common.SIM_BASE, namespaces="test:2",
                                   control_port=common.SIM_CONTROL)
            try:
                reports.append(asbench.bench(sim, args.quick))
            except Exception:  # noqa: BLE001
                traceback.print_exc()
                broken.append(6)
    finally:
        if sim is not None:
            sim.close()
        cluster.stop()
        common.remove_keys()
        shutil.rmtree(workdir, ignore_errors=True)
    results = {"machine": info, "mode": "quick" if args.quick else "full",
               "seconds": time.monotonic() - started,
               "groups": [r.as_json() for r in reports], "broken": broken}
    for r in reports:
        slug = "".join(ch if ch.isalnum() else "-" for ch in r.title.lower())[:40].strip("-")
        common.write_json("group%d-%s.json" % (r.group, slug), r.as_json())
    path = common.write_json("results.json", results)
    if args.plots:
        import plots
        for p in plots.draw(results):
            print("plot: %s" % os.path.relpath(p, common.ROOT))
    print("\nresults: %s (%.0f s)%s" % (os.path.relpath(path, common.ROOT), results["seconds"],
                                        "; BROKEN groups: %s" % broken if broken else ""))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
