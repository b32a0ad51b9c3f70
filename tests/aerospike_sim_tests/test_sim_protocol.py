"""A live simulated node on the wire: framing and every info name (spec 1, 3, 4, 8, 9)."""

import base64
import re
import socket

import pytest

from simtest import node_ports, table_from_replicas
from tests.aerospike_sim import formats
from tests.aerospike_sim.framing import encode_header, frame
from tests.aerospike_sim.infoclient import InfoConnection, info

A, B = "BB9020011AC4202", "BB9030011AC4202"
BITMAP_A = "q" * 680 + "qqo="
BITMAP_B = "V" * 680 + "VVU="


def test_spec_7_2_replicas_response_byte_for_byte(make_sim):
    sim = make_sim(nodes=2, namespaces="test:2", names=[A, B])

    def set_generation(cluster):
        for node in cluster.nodes.values():
            node.partition_gen = 3
    sim.with_cluster(set_generation)
    ports = node_ports(sim)
    request = b"partition-generation\nreplicas\n"
    assert frame(request)[:8].hex(" ") == "02 01 00 00 00 00 00 1e"
    for name, first, second in ((A, BITMAP_A, BITMAP_B), (B, BITMAP_B, BITMAP_A)):
        with InfoConnection(ports[name]) as conn:
            header, body = conn.raw(request)
        assert header.hex(" ") == "02 01 00 00 00 00 05 83"
        assert body == ("partition-generation\t3\nreplicas\ttest:0,2,%s,%s\n" % (first, second)).encode()


def test_peers_on_the_wire(make_sim):
    sim = make_sim(nodes=2, namespaces="test:2", names=[A, B])
    ports = node_ports(sim)
    va = info(ports[A], "peers-clear-std", "peers-generation")
    gen = int(va["peers-generation"])
    assert va["peers-clear-std"] == "%d,3000,[[%s,,[127.0.0.1:%d]]]" % (gen, B, ports[B])
    vb = info(ports[B], "peers-clear-std")["peers-clear-std"]
    assert vb.endswith(",3000,[[%s,,[127.0.0.1:%d]]]" % (A, ports[A]))


def test_several_requests_per_connection_and_verbatim_echo(sim):
    port = sim.nodes()[0]["port"]
    with InfoConnection(port) as conn:
        for _ in range(3):
            _h, body = conn.raw(b"node\nreplicas:max=1\nbuild\n")
            lines = body.split(b"\n")
            assert body.endswith(b"\n") and len(lines) == 4
            assert lines[0].startswith(b"node\t")
            assert lines[1].startswith(b"replicas:max=1\ttest:0,1,")
            assert lines[2] == b"build\t8.1.2.0"


def test_unknown_and_enterprise_names(sim):
    port = sim.nodes()[0]["port"]
    v = info(port, "no-such-thing", "Node", "x" * 40, "rack-ids", "peers-tls-std", "bogus:a=b")
    assert v["no-such-thing"] == "ERROR:4:unrecognized command"
    assert v["Node"] == "ERROR:4:unrecognized command"  # names are case-sensitive
    assert v["x" * 40] == "ERROR:4:unrecognized command"
    assert v["rack-ids"] == "ERROR:25:enterprise only"
    assert v["peers-tls-std"] == "ERROR:25:enterprise only"
    assert v["bogus:a=b"] == "ERROR:4:unrecognized command"


def test_seed_validation_names_never_error(sim):
    port = sim.nodes()[0]["port"]
    v = info(port, "node", "partition-generation", "build", "cluster-name", "service-clear-std")
    assert not any(x.startswith("ERROR") for x in v.values())
    assert v["service-clear-std"] == "127.0.0.1:%d" % port
    assert v["cluster-name"] == "null"


def test_names_a_client_may_ask(sim):
    nodes = sim.nodes()
    port = nodes[0]["port"]
    v = info(port, "features", "partitions", "release", "replicas-all", "replicas-master",
             "namespaces", "services", "peers-clear-alt", "version", "edition", "status")
    for token in ("peers", "replicas", "pscans", "pquery", "batch-any", "query-show"):
        assert token in v["features"].split(";")
    assert v["partitions"] == "4096"
    assert re.fullmatch(r"edition=[^;]+;version=8\.1\.2\.0;os=[^;]+;arch=[^;]+;sha=[^;]+", v["release"])
    assert re.fullmatch(r"test:2(,[A-Za-z0-9+/=]{684}){2};bar:1,[A-Za-z0-9+/=]{684}", v["replicas-all"])
    assert re.fullmatch(r"test:[A-Za-z0-9+/=]{684};bar:[A-Za-z0-9+/=]{684}", v["replicas-master"])
    assert v["namespaces"] == "test;bar"
    assert v["services"] == ";".join("127.0.0.1:%d" % n["port"] for n in nodes[1:])
    assert formats.parse_peers(v["peers-clear-alt"])[2] == formats.parse_peers(
        info(port, "peers-clear-std")["peers-clear-std"])[2]


def test_user_agent_set_once_per_socket(sim):
    port = sim.nodes()[0]["port"]
    ua = base64.b64encode(b"1,c-7.2.0,not-set").decode()
    with InfoConnection(port) as conn:
        assert conn.request("user-agent-set:value=" + ua) == {"user-agent-set:value=" + ua: "ok"}
        again = conn.request("user-agent-set:value=" + ua)
        assert again["user-agent-set:value=" + ua] == "ERROR:4:already set"
    with InfoConnection(port) as conn:  # a new socket may set it again
        assert conn.request("user-agent-set:value=" + ua)["user-agent-set:value=" + ua] == "ok"
    assert info(port, "user-agent-set")["user-agent-set"].startswith("ERROR:4:")
    assert "1,c-7.2.0,not-set" in sim.nodes()[0]["user_agents"]


def test_empty_body_answers_summary_never_empty(sim):
    port = sim.nodes()[0]["port"]
    with InfoConnection(port) as conn:
        _h, body = conn.raw(b"")
        assert body.endswith(b"\n") and b"node\t" in body and b"build\t" in body
        _h, body = conn.raw(b"node\nbuild")  # the unterminated trailing line is ignored
        assert body.split(b"\n")[:-1] == [b"node\t" + sim.nodes()[0]["name"].encode()]


@pytest.mark.parametrize("header", [
    bytes([3, 1, 0, 0, 0, 0, 0, 5]),
    bytes([2, 9, 0, 0, 0, 0, 0, 5]),
    encode_header(200 * 1024 * 1024),
    bytes([22, 3, 1, 2, 0, 1, 0, 0]),
])
def test_bad_frames_close_the_connection(sim, header):
    port = sim.nodes()[0]["port"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(header + b"node\n")
        assert s.recv(100) == b""


def test_node_names_and_peer_lists_are_consistent(sim):
    nodes = sim.nodes()
    names = [n["name"] for n in nodes]
    assert len(set(names)) == len(names)
    for n in nodes:
        assert re.fullmatch(r"[0-9A-F]{1,16}", n["name"]) and not n["name"].startswith("0")
        v = info(n["port"], "node", "peers-clear-std", "peers-generation")
        assert v["node"] == n["name"]
        gen, default_port, peers = formats.parse_peers(v["peers-clear-std"])
        assert gen == int(v["peers-generation"]) and default_port == 3000
        assert [p[0] for p in peers] == [m for m in names if m != n["name"]]
        for name, tls, endpoints in peers:
            other = next(o for o in nodes if o["name"] == name)
            assert tls == "" and endpoints == [("127.0.0.1", other["port"])]


def test_replicas_cover_every_partition_once(sim):
    truth = sim.truth()
    for ns, rf in (("test", 2), ("bar", 1)):
        table = table_from_replicas(sim, ns)
        assert table == truth["namespaces"][ns]["partitions"]
        assert truth["namespaces"][ns]["n_cols"] == rf
        for row in table:
            assert len(set(row)) == len(row)
    masters = [row[0] for row in truth["namespaces"]["test"]["partitions"]]
    counts = sorted(masters.count(n) for n in set(masters))
    assert counts[-1] - counts[0] <= 1


def test_generations_are_large_differ_per_node_and_are_stable(sim):
    ports = [n["port"] for n in sim.nodes()]
    first = [info(p, "partition-generation", "rebalance-generation", "peers-generation") for p in ports]
    assert len({f["partition-generation"] for f in first}) == len(ports)
    assert all(int(f["partition-generation"]) > 4096 for f in first)
    assert [info(p, "partition-generation", "rebalance-generation", "peers-generation")
            for p in ports] == first


def test_single_node_cluster(make_sim):
    sim = make_sim(nodes=1, namespaces="test:2")
    port = sim.nodes()[0]["port"]
    v = info(port, "peers-clear-std", "replicas")
    assert re.fullmatch(r"\d+,3000,\[\]", v["peers-clear-std"])
    # n-cols is the effective replication factor: one node -> one column of all ones.
    assert v["replicas"] == "test:0,1," + "/" * 680 + "//8="
