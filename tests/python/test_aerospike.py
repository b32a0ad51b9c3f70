"""test_aerospike.py - the Python API against the simulated Aerospike
cluster (tests/aerospike_sim): typed keys, sets, namespaces, replicas,
digests, nodes, status and the Aerospike-only errors.

Invariants: one simulator for the module (3 nodes on 3200-3202, control
port 3209, cluster name "alpha"), which no test changes; the expected
partition of a key comes from the simulator's own digest code
(tests/aerospike_sim/digest.py) and its owners from the `truth` control,
never from clustershm.
"""
import random

import pytest

import clustershm
from helpers import SIM_BASE
from tests.aerospike_sim.client import SimulatorProcess
from tests.aerospike_sim.digest import key_digest, partition_id

FAST = dict(tend_interval=0.2, takeover_timeout=5, connect_timeout=3)


@pytest.fixture(scope="module")
def sim():
    s = SimulatorProcess(nodes=3, base_port=SIM_BASE, namespaces="test:2,bar:1",
                         control_port=SIM_BASE + 9)
    try:
        s.call("set_cluster_name", cluster_name="alpha")
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def url(sim):
    return "aerospike://127.0.0.1:%d" % SIM_BASE


@pytest.fixture(scope="module")
def truth(sim):
    """{namespace: [[ "host:port" per column] per partition]} and the node names."""
    ports = {n["name"]: n["port"] for n in sim.call("nodes")}
    owners = {}
    for ns in ("test", "bar"):
        table = sim.call("truth", namespace=ns)["namespaces"][ns]["partitions"]
        owners[ns] = [["127.0.0.1:%d" % ports[name] for name in row] for row in table]
    return owners, ports


def typed_keys(seed=7):
    rng = random.Random(seed)
    strings = ["", "key1", "ünïcödé"] + ["user:%d" % rng.randrange(10 ** 9) for _ in range(300)]
    ints = [0, 1, -1, 2 ** 63 - 1, -2 ** 63] + [rng.randrange(-2 ** 63, 2 ** 63)
                                                  for _ in range(300)]
    blobs = [b"", b"\x00", bytes(range(256))] + [
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30))) for _ in range(300)]
    return strings + ints + blobs


KEYS = typed_keys()


@pytest.fixture
def client(url, shm_key):
    c = clustershm.connect(url, key=shm_key, cluster_name="alpha", **FAST)
    yield c
    c.close()


def test_digest_and_partition_are_aerospike_s():
    for set_name in ("demo", "", None):
        for k in KEYS:
            assert clustershm.aerospike_digest(set_name, k) == key_digest(set_name, k), \
                (set_name, k)
    assert clustershm.aerospike_digest(set="demo", key=bytearray(b"ab")) == \
        key_digest("demo", b"ab")
    # The spec's worked example (spec 7.1): "demo"/"key1" is partition 492.
    d = clustershm.aerospike_digest("demo", "key1")
    assert (d[0] | d[1] << 8) & 0x0FFF == 492
    with pytest.raises(TypeError):
        clustershm.aerospike_digest("demo", 1.5)
    with pytest.raises(TypeError):
        clustershm.aerospike_digest(b"demo", "k")
    with pytest.raises(TypeError):
        clustershm.aerospike_digest("demo")


@pytest.mark.parametrize("set_name", ["demo", "", None])
def test_routes_match_the_simulator(client, truth, set_name):
    owners, _ = truth
    for k in KEYS:
        p = partition_id(set_name, k)
        assert client.partition(k, "test", set_name) == p
        assert "%s:%d" % client.route(k, "test", set_name) == owners["test"][p][0], k
        assert "%s:%d" % client.route(k, "test", set_name, replica=1) == owners["test"][p][1]
        assert "%s:%d" % client.route(k, namespace="bar", set=set_name) == owners["bar"][p][0]
    # The partition does not depend on the namespace.
    assert client.partition(b"k", set="demo") == client.partition(b"k", "bar", "demo")


def test_nodes_and_status(client, truth):
    _, ports = truth
    nodes = client.nodes()
    assert sorted((n["name"], n["port"]) for n in nodes) == sorted(ports.items())
    assert all(n["active"] and n["host"] == "127.0.0.1" for n in nodes)
    # test has 2 copies, bar 1: masters own 4096 partitions per namespace.
    assert sum(n["partitions"] for n in nodes) == 2 * 4096
    assert sum(n["replica_partitions"] for n in nodes) == 4096
    s = client.status()
    assert s["driver"] == "aerospike" and s["namespaces"] == 2 and s["nodes"] == 3
    assert s["role"] == "tender" and s["stale"] is False


def test_shards_per_namespace(client, truth):
    owners, _ = truth
    with pytest.raises(clustershm.ConfigError, match="namespace"):
        client.shards()
    with pytest.raises(clustershm.ClusterError, match="unknown namespace"):
        client.shards("nosuch")
    for ns, copies in (("test", 2), ("bar", 1)):
        table = client.shards(ns)
        assert table["generation"] == client.status()["generation"]
        assert table["nodes"] == client.nodes()
        seen = []
        for r in table["shards"]:
            row = ["%s:%d" % (n["host"], n["port"]) for n in [r["master"]] + r["replicas"]]
            assert len(row) == copies
            seen += [row] * (r["last"] - r["first"] + 1)
        assert seen == owners[ns]


def test_aerospike_errors(client, url, shm_keys):
    with pytest.raises(clustershm.ConfigError, match="namespace"):
        client.route("k")
    with pytest.raises(clustershm.ClusterError, match="unknown namespace"):
        client.route("k", "nosuch")
    # bar keeps one copy: there is no replica 1.
    with pytest.raises(clustershm.ClusterError, match="replica"):
        client.route("k", "bar", replica=1)
    with pytest.raises(clustershm.ConfigError):
        client.route("k", "test", replica=-1)
    with pytest.raises(clustershm.ClusterError, match="alpha"):
        clustershm.connect(url, key=shm_keys(1), cluster_name="beta", connect_timeout=3)
    with pytest.raises(clustershm.ConfigError, match="max_namespaces"):
        clustershm.Client(url, max_namespaces=33)


def test_a_second_client_follows(client, url, shm_key):
    other = clustershm.connect(url, key=shm_key, cluster_name="alpha", **FAST)
    try:
        assert other.status()["role"] == "follower"
        assert other.route("k", "test") == client.route("k", "test")
        other.request_refresh()
        assert other.nodes() == client.nodes()
    finally:
        other.close()
