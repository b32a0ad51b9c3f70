"""Every control of the simulator, observed on the wire as a client would see it."""

import socket
import time

import pytest

from simtest import INPROC_CONTROL_PORT, gens, table_from_replicas
from tests.aerospike_sim import formats
from tests.aerospike_sim.client import ControlClient, ControlFailed
from tests.aerospike_sim.digest import partition_id
from tests.aerospike_sim.framing import HEADER_SIZE, decode_header, frame
from tests.aerospike_sim.infoclient import InfoConnection, info


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def peers_names(port):
    return [p[0] for p in formats.parse_peers(info(port, "peers-clear-std")["peers-clear-std"])[2]]


def replicas(port):
    return {ns: (regime, cols) for ns, regime, cols in
            formats.parse_replicas(info(port, "replicas")["replicas"])}


# --------------------------------------------------------------- membership

def test_add_node(sim):
    before = {n["name"]: gens(n["port"]) for n in sim.nodes()}
    new = sim.add_node()
    assert new["role"] == "member" and new["port"] == 3103
    names = sim.node_names()
    for n in sim.nodes():
        assert peers_names(n["port"]) == [m for m in names if m != n["name"]]
        if n["name"] in before:
            pg, peg, rg = gens(n["port"])
            # Membership changed: peers generation moves; everybody lost a share.
            assert peg > before[n["name"]][1] and pg > before[n["name"]][0]
            assert rg > before[n["name"]][2]
    truth = sim.truth()
    for ns in ("test", "bar"):
        assert table_from_replicas(sim, ns) == truth["namespaces"][ns]["partitions"]
    masters = [row[0] for row in truth["namespaces"]["test"]["partitions"]]
    assert masters.count(new["name"]) == 1024


def test_add_node_initializing_then_join(sim):
    before = {n["name"]: gens(n["port"]) for n in sim.nodes()}
    new = sim.add_node(join=False)
    assert new["role"] == "initializing"
    v = info(new["port"], "node", "partition-generation", "peers-clear-std", "replicas")
    assert v["node"] == new["name"]
    assert v["partition-generation"] == "-1"
    assert v["peers-clear-std"].endswith(",3000,[]")
    zeros = "A" * 680 + "AAA="
    assert v["replicas"] == "test:0,1,%s;bar:0,1,%s" % (zeros, zeros)
    for n in sim.nodes()[:3]:  # nothing changed for the members
        assert gens(n["port"]) == before[n["name"]]
        assert new["name"] not in peers_names(n["port"])
    sim.join_node(name=new["name"])
    assert new["name"] in peers_names(sim.nodes()[0]["port"])
    assert int(info(new["port"], "partition-generation")["partition-generation"]) > 0


def test_remove_node_gracefully(sim):
    truth = sim.truth()["namespaces"]["test"]["partitions"]
    victim = sim.nodes()[1]
    sim.remove_node(name=victim["name"])
    assert refused(victim["port"])
    after = sim.truth()
    assert victim["name"] not in after["members"]
    rows = after["namespaces"]["test"]["partitions"]
    assert after["namespaces"]["test"]["n_cols"] == 2
    not_promoted = 0
    for old, new in zip(truth, rows, strict=True):
        assert victim["name"] not in new
        if old[0] == victim["name"]:
            not_promoted += new[0] != old[1]
        elif old[1] != victim["name"]:
            assert new == old  # untouched partitions did not move
    # The prole takes over, except the few moves that keep masters even.
    assert not_promoted <= 4
    for ns in ("test", "bar"):
        assert table_from_replicas(sim, ns) == after["namespaces"][ns]["partitions"]
    for n in sim.nodes():
        if n["role"] == "member":
            assert victim["name"] not in peers_names(n["port"])


def test_remove_node_standalone(sim):
    victim = sim.nodes()[0]
    sim.remove_node(name=victim["name"], standalone=True)
    v = info(victim["port"], "node", "peers-clear-std", "replicas")
    assert v["node"] == victim["name"]
    assert v["peers-clear-std"].endswith(",3000,[]")
    ones = "/" * 680 + "//8="
    assert v["replicas"] == "test:0,1,%s;bar:0,1,%s" % (ones, ones)
    for n in sim.nodes()[1:]:
        assert peers_names(n["port"]) == [m["name"] for m in sim.nodes()[1:] if m is not n
                                          and m["name"] != n["name"]]


def test_effective_columns_follow_member_count(make_sim):
    sim = make_sim(nodes=2, namespaces="test:3")
    assert replicas(sim.nodes()[0]["port"])["test"][1].__len__() == 2
    sim.add_node()
    assert len(replicas(sim.nodes()[0]["port"])["test"][1]) == 3
    sim.remove_node(name=sim.nodes()[2]["name"])
    sim.remove_node(name=sim.nodes()[1]["name"])
    cols = replicas(sim.nodes()[0]["port"])["test"][1]
    assert len(cols) == 1 and len(cols[0]) == 4096


def test_kill_node_closes_open_sockets(sim):
    victim = sim.nodes()[2]
    conn = InfoConnection(victim["port"], timeout=2)
    assert conn.request("node")["node"] == victim["name"]
    sim.kill_node(name=victim["name"])
    with pytest.raises((ConnectionError, OSError)):
        conn.request("node")
    conn.close()
    assert refused(victim["port"])
    assert victim["name"] not in sim.truth()["members"]
    assert table_from_replicas(sim, "test") == sim.truth()["namespaces"]["test"]["partitions"]


def test_kill_without_rebalance_then_evict_or_restart(sim):
    victim = sim.nodes()[0]
    old_peers_gen = gens(victim["port"])[1]
    sim.kill_node(name=victim["name"], rebalance=False)
    assert refused(victim["port"])
    other = sim.nodes()[1]["port"]
    assert victim["name"] in peers_names(other)  # heartbeat not yet timed out
    assert victim["name"] in sim.truth()["members"]
    # Restart: same name and port, a new process whose generations start low.
    sim.restart_node(name=victim["name"])
    v = info(victim["port"], "node", "peers-generation")
    assert v["node"] == victim["name"] and int(v["peers-generation"]) < old_peers_gen
    assert table_from_replicas(sim, "test") == sim.truth()["namespaces"]["test"]["partitions"]
    # Kill again and let the heartbeat time out.
    sim.kill_node(name=victim["name"], rebalance=False)
    sim.evict_node(name=victim["name"])
    assert victim["name"] not in peers_names(other)
    assert victim["name"] not in sim.truth()["members"]
    with pytest.raises(ControlFailed):
        sim.evict_node(name=victim["name"])


def test_restart_of_removed_node_rejoins(sim):
    victim = sim.nodes()[0]
    sim.remove_node(name=victim["name"])
    sim.restart_node(name=victim["name"])
    assert victim["name"] in sim.truth()["members"]
    assert victim["name"] in peers_names(sim.nodes()[1]["port"])


# ------------------------------------------------------------ ownership

def test_migrate_bumps_only_affected_nodes(sim):
    nodes = sim.nodes()
    x, s, t = nodes[0]["name"], nodes[1]["name"], nodes[2]["name"]
    rows = sim.truth()["namespaces"]["test"]["partitions"]
    # Partitions held only by s (master) and x (prole): t is not involved.
    pids = [p for p, row in enumerate(rows) if row == [s, x]][:10]
    assert len(pids) == 10
    before = {n["name"]: gens(n["port"]) for n in nodes}
    moved = sim.migrate(namespace="test", to=x, partitions=pids)
    assert moved == sorted(pids)
    after_rows = sim.truth()["namespaces"]["test"]["partitions"]
    for p in pids:
        assert after_rows[p] == [x, s]  # swapped, never twice on one node
    after = {n["name"]: gens(n["port"]) for n in nodes}
    assert after[x][0] > before[x][0] and after[s][0] > before[s][0]
    assert after[t][0] == before[t][0]
    assert all(after[n][1] == before[n][1] for n in after)  # membership unchanged
    assert table_from_replicas(sim, "test") == after_rows
    # Moving to the current owner is a no-op and bumps nothing.
    assert sim.migrate(namespace="test", to=x, partitions=pids) == []
    assert {n["name"]: gens(n["port"]) for n in nodes} == after


def test_migrate_by_count_and_source(sim):
    nodes = sim.nodes()
    moved = sim.migrate(namespace="bar", to=nodes[0]["name"], count=100, source=nodes[1]["name"])
    assert len(moved) == 100
    rows = sim.truth()["namespaces"]["bar"]["partitions"]
    assert all(rows[p] == [nodes[0]["name"]] for p in moved)
    assert table_from_replicas(sim, "bar") == rows
    sim.rebalance()
    masters = [r[0] for r in sim.truth()["namespaces"]["bar"]["partitions"]]
    assert max(masters.count(n["name"]) for n in nodes) == 1366


def test_strong_consistency_regimes_grow(sim):
    nodes = sim.nodes()
    port = nodes[0]["port"]
    assert sim.set_sc(namespace="test")["regime"] == 1
    assert replicas(port)["test"][0] == 1 and replicas(port)["bar"][0] == 0
    assert all(replicas(n["port"])["test"][0] == 1 for n in nodes)
    sim.migrate(namespace="test", to=nodes[1]["name"], count=5)
    assert replicas(port)["test"][0] == 2
    sim.remove_node(name=nodes[2]["name"])
    assert replicas(port)["test"][0] == 3
    assert sim.bump_regime(namespace="test", by=4)["regime"] == 7
    assert sim.truth()["namespaces"]["test"]["regime"] == 7
    assert replicas(port)["test"][0] == 7 and replicas(port)["bar"][0] == 0
    with pytest.raises(ControlFailed):
        sim.bump_regime(namespace="bar")
    sim.set_sc(namespace="test", enabled=False)
    assert replicas(port)["test"][0] == 0


def test_lagging_node_keeps_its_old_answers(sim):
    nodes = sim.nodes()
    lagger = nodes[0]
    sim.set_sc(namespace="test", regime=6)
    old = info(lagger["port"], "partition-generation", "replicas")
    sim.lag(name=lagger["name"])
    moved = sim.migrate(namespace="test", to=nodes[1]["name"], count=50, source=lagger["name"])
    assert info(lagger["port"], "partition-generation", "replicas") == old
    assert replicas(nodes[1]["port"])["test"][0] == 7  # the others moved on
    assert replicas(lagger["port"])["test"][0] == 6    # a stale claim, older regime
    assert set(moved) <= set(replicas(lagger["port"])["test"][1][0])
    sim.lag(name=lagger["name"], enabled=False)
    now = info(lagger["port"], "partition-generation", "replicas")
    assert now["partition-generation"] != old["partition-generation"]
    assert not set(moved) & set(replicas(lagger["port"])["test"][1][0])


# ---------------------------------------------------------------- faults

def timed_request(port, *names, timeout=5.0):
    t = time.monotonic()
    v = info(port, *names, timeout=timeout)
    return v, time.monotonic() - t


def test_slow_node(sim):
    a, b = sim.nodes()[0], sim.nodes()[1]
    sim.set_fault(name=a["name"], kind="slow", delay=0.3)
    v, took = timed_request(a["port"], "node")
    assert v["node"] == a["name"] and took >= 0.28
    _v, took = timed_request(b["port"], "node")
    assert took < 0.2
    # `only` limits the fault to requests naming replicas; `count` to one request.
    sim.set_fault(name=a["name"], kind="slow", delay=0.3, only=["replicas"], count=1)
    assert timed_request(a["port"], "node")[1] < 0.2
    assert timed_request(a["port"], "replicas")[1] >= 0.28
    assert timed_request(a["port"], "replicas")[1] < 0.2


def test_slow_node_is_interrupted_by_kill(sim):
    a = sim.nodes()[0]
    sim.set_fault(name=a["name"], kind="slow", delay=30)
    conn = InfoConnection(a["port"], timeout=5)
    conn.sock.sendall(frame(b"node\n"))
    time.sleep(0.05)
    t = time.monotonic()
    sim.kill_node(name=a["name"])
    assert time.monotonic() - t < 2
    assert conn.sock.recv(10) == b""
    conn.close()


def test_hang(sim):
    a, b = sim.nodes()[0], sim.nodes()[1]
    sim.set_fault(name=a["name"], kind="hang")
    with pytest.raises(socket.timeout):
        info(a["port"], "node", timeout=0.3)
    assert info(b["port"], "node")["node"] == b["name"]
    sim.clear_faults(name=a["name"])
    assert info(a["port"], "node")["node"] == a["name"]


def test_drop(sim):
    a = sim.nodes()[0]
    sim.set_fault(name=a["name"], kind="drop", count=1)
    with socket.create_connection(("127.0.0.1", a["port"]), timeout=2) as s:
        s.sendall(frame(b"node\n"))
        assert s.recv(100) == b""
    assert info(a["port"], "node")["node"] == a["name"]  # count exhausted


def test_truncated(sim):
    a = sim.nodes()[0]
    sim.set_fault(name=a["name"], kind="truncated", only=["replicas"])
    assert info(a["port"], "node")["node"] == a["name"]
    with socket.create_connection(("127.0.0.1", a["port"]), timeout=2) as s:
        s.sendall(frame(b"partition-generation\nreplicas\n"))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    _v, _t, size = decode_header(data[:HEADER_SIZE])
    assert 0 < len(data) - HEADER_SIZE < size


def test_garbage(sim):
    a = sim.nodes()[0]
    sim.set_fault(name=a["name"], kind="garbage", count=1)
    with socket.create_connection(("127.0.0.1", a["port"]), timeout=2) as s:
        s.sendall(frame(b"node\n"))
        data = b""
        while len(data) < 64:
            data += s.recv(64 - len(data))
        assert data[0] == 0xFF  # not a proto version
        # The node keeps serving on the same socket.
        s.sendall(frame(b"node\n"))
        assert s.recv(8)[:2] == b"\x02\x01"


def test_bad_value(sim):
    a = sim.nodes()[0]
    sim.set_fault(name=a["name"], kind="bad_value", only=["replicas"])
    v = info(a["port"], "node", "replicas")
    assert v["node"] == a["name"]
    with pytest.raises(ValueError):
        formats.parse_replicas(v["replicas"])
    sim.set_fault(name=a["name"], kind="bad_value")
    v = info(a["port"], "node", "peers-generation")
    assert v["node"] != a["name"] and not v["peers-generation"].isdigit()
    sim.clear_faults()
    assert info(a["port"], "node")["node"] == a["name"]


def test_fault_validation(sim):
    name = sim.nodes()[0]["name"]
    with pytest.raises(ControlFailed):
        sim.set_fault(name=name, kind="explode")
    with pytest.raises(ControlFailed):
        sim.set_fault(name=name, kind="slow")
    with pytest.raises(ControlFailed):
        sim.set_fault(name="NOPE", kind="drop")


# ------------------------------------------------------------ observation

def test_counters_by_name(sim):
    a = sim.nodes()[0]
    sim.counters(reset=True)
    with InfoConnection(a["port"]) as conn:
        conn.request("node", "peers-generation", "partition-generation")
        conn.request("node", "peers-generation", "partition-generation")
        conn.request("replicas:max=1")
    c = sim.counters()[a["name"]]
    assert c["requests"] == 3 and c["connections"] == 1
    assert c["names"] == {"node": 2, "peers-generation": 2, "partition-generation": 2, "replicas": 1}
    assert all(v["requests"] == 0 for k, v in sim.counters().items() if k != a["name"])
    assert sim.counters(reset=True)[a["name"]]["requests"] == 3
    assert sim.counters()[a["name"]]["requests"] == 0


def test_locate_matches_digest_and_truth(sim):
    rows = sim.truth()["namespaces"]["test"]["partitions"]
    for key in ("alice", 12345, ""):
        loc = sim.locate(namespace="test", key=key, set="users")
        assert loc["partition"] == partition_id("users", key)
        assert loc["owners"] == rows[loc["partition"]]


def test_cluster_name(sim):
    nodes = sim.nodes()
    sim.set_cluster_name(cluster_name="prod")
    assert all(info(n["port"], "cluster-name")["cluster-name"] == "prod" for n in nodes)
    sim.set_cluster_name(cluster_name="other", name=nodes[0]["name"])
    assert info(nodes[0]["port"], "cluster-name")["cluster-name"] == "other"
    assert info(nodes[1]["port"], "cluster-name")["cluster-name"] == "prod"


def test_truth_without_partitions(sim):
    t = sim.truth(partitions=False)
    assert t["namespaces"]["test"] == {"rf": 2, "n_cols": 2, "sc": False, "regime": 0}
    assert len(t["members"]) == 3 and len(t["nodes"]) == 3


def test_control_port_from_another_connection(sim):
    client = ControlClient(INPROC_CONTROL_PORT)
    try:
        assert client.ping() == "pong"
        assert client.node_names() == sim.node_names()
        with pytest.raises(ControlFailed, match="unknown op"):
            client.call("fly")
        with pytest.raises(ControlFailed):
            client.kill_node(nme="x")  # bad argument name
        with pytest.raises(ControlFailed):
            client.kill_node(name="NOPE")
        client._sock.sendall(b"this is not json\n")
        assert b'"ok": false' in client._file.readline()
        assert client.ping() == "pong"
    finally:
        client.close()
