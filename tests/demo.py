#!/usr/bin/env python3
"""demo.py - `make demo`: a pool of workers sharing one tender on a local
Redis Cluster.

It starts a 6-node Redis Cluster (3 masters, 3 replicas, ports 7300-7305),
starts 8 build/cshm-worker processes on one SysV key, prints each worker's
role, routes a few keys through each and compares with CLUSTER KEYSLOT and
CLUSTER SHARDS, kills the tender (SIGKILL) and shows the takeover, prints
`build/clustershm stat --key K`, and stops everything - also on failure or
Ctrl-C (servers and workers also die with this process, PR_SET_PDEATHSIG).
Exit status 0 when every route matched and a takeover happened.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))

from support import shm  # noqa: E402
from support.cluster import RedisCluster  # noqa: E402
from support.procs import wait_for  # noqa: E402
from support.worker import CLI, Worker, connect_all, statuses  # noqa: E402

PORTS = range(7300, 7306)
POOL = 8
KEY = 0x5C5DE300
KEYS = [b"user:1000", b"{user1000}.following", b"{user1000}.followers", b"cart:42",
        b"\x00binary\xffkey", b""]


def show_roles(workers):
    for w, s in zip(workers, statuses(workers)):
        print("  worker %-4s pid %-7d %-8s epoch %d generation %d owner_pid %d"
              % (w.name, w.pid, s["role"], s["epoch"], s["generation"], s["owner_pid"]))


def check_routes(cluster, workers):
    slots = cluster.keyslots(KEYS)
    owners = cluster.slot_owners()
    bad = 0
    for key, slot in zip(KEYS, slots):
        answers = {"%s:%d" % (r["host"], r["port"]) for r in (w.route(key) for w in workers)}
        ok = answers == {owners[slot]}
        bad += not ok
        print("  %-28r slot %5d  servers: %-15s workers: %s  %s"
              % (key, slot, owners[slot], ",".join(sorted(answers)), "ok" if ok else "MISMATCH"))
    return bad


def main():
    workdir = tempfile.mkdtemp(prefix="clustershm-demo-")
    cluster = RedisCluster(PORTS, workdir)
    workers = []
    shm.remove(KEY)
    try:
        print("Starting a 6-node Redis Cluster on ports %d-%d ..." % (PORTS[0], PORTS[-1]))
        cluster.start()
        for port, node_id, slots in cluster.masters():
            print("  master 127.0.0.1:%d %s %d slots" % (port, node_id[:12], slots))

        print("\nStarting %d workers on SysV key 0x%08x ..." % (POOL, KEY))
        workers = [Worker(workdir, "w%d" % i) for i in range(POOL)]
        connect_all(workers, cluster.url(), key=KEY, tend_interval=0.5, takeover_timeout=30)
        show_roles(workers)

        print("\nRouting keys through every worker:")
        bad = check_routes(cluster, workers)

        tender = next(w for w, s in zip(workers, statuses(workers)) if s["role"] == "tender")
        old_epoch = tender.status()["epoch"]
        print("\nkill -9 %d (the tender) ..." % tender.pid)
        started = time.monotonic()
        tender.kill()
        workers.remove(tender)
        wait_for(lambda: any(s["role"] == "tender" and s["epoch"] > old_epoch
                             for s in statuses(workers)), 10, "a takeover")
        print("  a new tender in %.1f ms (takeover_timeout is 30 s):"
              % ((time.monotonic() - started) * 1000))
        show_roles(workers)
        bad += check_routes(cluster, workers)

        print("\n$ %s stat --key 0x%08x" % (os.path.relpath(CLI), KEY))
        out = subprocess.run([CLI, "stat", "--key", "0x%08x" % KEY], capture_output=True,
                             text=True, timeout=30)
        print(out.stdout + out.stderr)
        print("Every route matched the servers." if not bad else "%d keys MISMATCHED." % bad)
        return 0 if bad == 0 and out.returncode == 0 else 1
    finally:
        for w in workers:
            w.stop()
        cluster.stop()
        shm.remove(KEY)
        shutil.rmtree(workdir, ignore_errors=True)
        print("Stopped the workers and the cluster.")


if __name__ == "__main__":
    sys.exit(main())
