"""aerospike.py - the simulated Aerospike cluster (tests/aerospike_sim) as the
integration tests start it, and key files whose partitions come from the
simulator's own digest code (never our C).

Invariants: a Sim is a child process on a block of ten free ports (nodes
base..base+8, control base+9), shifted by 1000 * CSHM_TEST_INSTANCE like
every port of the suite; close() stops it.
"""
import os
import random
import socket
import sys

from .cluster import PORT_SHIFT

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.aerospike_sim.client import SimulatorProcess  # noqa: E402
from tests.aerospike_sim.digest import partition_id  # noqa: E402

NAMESPACES = "test:2,bar:1"
KEYS_PER_FILE = 3334                   # three files: ~10,000 keys
# Nodes base..base+8, control port base+9.  The simulator's own suite uses
# 3100-3110, 3150-3152, 3170 and 3197-3199.
PORT_BLOCKS = range(3120 + PORT_SHIFT, 3150 + PORT_SHIFT, 10)


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Sim:
    """One simulator process and what tests ask of it."""

    def __init__(self, nodes=3, namespaces=NAMESPACES, extra_args=()):
        failures = []
        for base in PORT_BLOCKS:
            if not all(port_free(p) for p in range(base, base + 10)):
                failures.append("%d: ports in use" % base)
                continue
            try:
                # Another suite may take a port between our check and the bind.
                self.proc = SimulatorProcess(nodes=nodes, base_port=base, namespaces=namespaces,
                                             control_port=base + 9, extra_args=list(extra_args))
            except RuntimeError as e:
                failures.append("%d: %s" % (base, e))
                continue
            self.base = base
            return
        raise RuntimeError("cannot start a simulator: %s" % "; ".join(failures))

    def url(self):
        return "aerospike://127.0.0.1:%d" % self.base

    def call(self, op, **args):
        return self.proc.call(op, **args)

    def ports(self):
        return {n["name"]: n["port"] for n in self.call("nodes")}

    def members(self):
        return self.call("truth", partitions=False)["members"]

    def owners(self, namespace):
        """[[name per column] per partition] of a namespace."""
        return self.call("truth", namespace=namespace)["namespaces"][namespace]["partitions"]

    def close(self):
        self.proc.close()


class KeyFile:
    """Keys of one type in one set, the file the workers read, and each
    key's partition according to the simulator's digest code."""

    def __init__(self, path, key_type, set_name, keys):
        self.path = str(path)
        self.type = key_type
        self.set = set_name
        self.keys = keys
        self.partitions = [partition_id(set_name, k) for k in keys]
        with open(self.path, "w") as f:
            for k in keys:
                if key_type == "integer":
                    f.write("%d\n" % k)
                elif key_type == "string":
                    f.write(k.encode().hex() + "\n")
                else:
                    f.write(k.hex() + "\n")

    def set_arg(self):
        return self.set or "-"


def make_keyfiles(tmp_path, seed=20240601, count=KEYS_PER_FILE):
    rng = random.Random(seed)
    strings = ["", "s", "key1", "hello", "ünïcödé"] + [
        "user:%d" % rng.randrange(10 ** 9) for _ in range(count - 5)]
    integers = [0, 1, -1, 2 ** 63 - 1, -2 ** 63, 1234567890123] + [
        rng.randrange(-2 ** 63, 2 ** 63) for _ in range(count - 6)]
    blobs = [b"", b"\x00", b"\x01\x02\x03", bytes(range(256))] + [
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) for _ in range(count - 4)]
    return [KeyFile(tmp_path / "strings.keys", "string", "demo", strings),
            KeyFile(tmp_path / "integers.keys", "integer", None, integers),
            KeyFile(tmp_path / "blobs.keys", "bytes", "users", blobs)]
