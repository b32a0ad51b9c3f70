#!/usr/bin/env python3
"""run.py - `make bench`: start a local Redis Cluster, run the benchmarks,
print every figure beside its baseline, stop the cluster.

The cluster is 3 masters without replicas on ports 7600-7602 (started with the
integration suite's own helpers, so it is a real Debian redis-server cluster),
and the benchmark's SysV key is 0x5C5BE000.  Benchmarks print; they never
fail on a figure (tests assert behaviour, benchmarks measure).
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from support import shm  # noqa: E402
from support.cluster import RedisCluster  # noqa: E402

PORTS = range(7600, 7603)
KEY = 0x5C5BE000


def main():
    workdir = tempfile.mkdtemp(prefix="clustershm-bench-")
    cluster = RedisCluster(PORTS, workdir, replicas=0)
    shm.remove(KEY)
    try:
        cluster.start()
        url = "redis://" + ",".join("127.0.0.1:%d" % p for p in PORTS)
        result = subprocess.run([os.path.join(ROOT, "build", "bench-core"), url, hex(KEY)],
                                timeout=600)
        return result.returncode
    finally:
        cluster.stop()
        shm.remove(KEY)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
