"""Small helpers and constants shared by the simulator's tests.

Importing it puts the repository root on sys.path, so `tests.aerospike_sim`
imports whatever the working directory. Ports: 3100-3199 only (in-process
nodes from 3100, their control port 3198).
"""

import os
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

BASE_PORT = 3100
INPROC_CONTROL_PORT = 3198

from tests.aerospike_sim import formats  # noqa: E402
from tests.aerospike_sim.digest import N_PARTITIONS  # noqa: E402
from tests.aerospike_sim.infoclient import info  # noqa: E402


def wait_until(predicate, timeout=5.0, interval=0.02):
    """Poll until predicate() is truthy; return its value or fail the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("condition not met within %.1fs" % timeout)
        time.sleep(interval)


def node_ports(sim):
    return {n["name"]: n["port"] for n in sim.nodes()}


def gens(port):
    """(partition-generation, peers-generation, rebalance-generation) of a node."""
    v = info(port, "partition-generation", "peers-generation", "rebalance-generation")
    return int(v["partition-generation"]), int(v["peers-generation"]), int(v["rebalance-generation"])


def table_from_replicas(sim, namespace):
    """Rebuild the partition table a client would from every listening member's
    `replicas` answer: {pid: [owner per column]}; a claim seen twice is an error."""
    table = {}
    n_cols = None
    for node in sim.nodes():
        if node["role"] != "member" or not node["listening"]:
            continue
        value = info(node["port"], "replicas")["replicas"]
        for ns, _regime, columns in formats.parse_replicas(value):
            if ns != namespace:
                continue
            n_cols = len(columns) if n_cols is None else n_cols
            assert len(columns) == n_cols, "n-cols differ between nodes"
            for c, pids in enumerate(columns):
                for p in pids:
                    row = table.setdefault(p, [None] * n_cols)
                    assert row[c] is None, "partition %d column %d claimed twice" % (p, c)
                    row[c] = node["name"]
    assert len(table) == N_PARTITIONS
    return [table[p] for p in range(N_PARTITIONS)]
