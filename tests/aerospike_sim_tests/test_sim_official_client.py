"""Fidelity: the official Aerospike client (PyPI `aerospike`, C client inside)
against the simulator running as a separate process.

If the official client rejects or misreads the simulator, the simulator is wrong.
"""

import os
import random
import threading
import time

import pytest

try:
    import aerospike
    from aerospike import exception as as_exc
except ImportError as exc:  # only an import failure skips these tests
    pytest.skip("official aerospike client not importable: %s" % exc, allow_module_level=True)

from simtest import wait_until
from tests.aerospike_sim.client import SimulatorProcess
from tests.aerospike_sim.digest import partition_id

BASE_PORT = 3150
CONTROL_PORT = 3199
TEND_MS = 250  # the client's minimum: changes show within a fraction of a second

_logs = []
_logs_lock = threading.Lock()


def _log_handler(level, func, path, line, msg):
    with _logs_lock:
        _logs.append((level, func, msg))


def client_logs():
    with _logs_lock:
        return list(_logs)


@pytest.fixture
def sim():
    with SimulatorProcess(nodes=3, base_port=BASE_PORT, namespaces="test:2,bar:1",
                          control_port=CONTROL_PORT) as s:
        yield s


@pytest.fixture
def client(sim):
    aerospike.set_log_level(aerospike.LOG_LEVEL_DEBUG)
    aerospike.set_log_handler(_log_handler)
    with _logs_lock:
        _logs.clear()
    c = aerospike.client({"hosts": [("127.0.0.1", BASE_PORT)], "tend_interval": TEND_MS}).connect()
    yield c
    c.close()


def official_names(client):
    return sorted((n["node_name"], n["address"], n["port"]) for n in client.get_node_names())


def sim_names(sim):
    return sorted((n["name"], n["host"], n["port"]) for n in sim.nodes()
                  if n["role"] == "member" and n["listening"])


def routed_masters(sim, client, namespace, keys):
    """Send a read per key with the official client; return {pid: node it reached}."""
    sim.counters(reset=True)
    for key in keys:
        with pytest.raises(as_exc.RecordNotFound):
            client.get((namespace, "s", key))
    seen = {}
    for name, c in sim.counters().items():
        for ns, pid, _read in c["data"]:
            assert ns == namespace
            seen.setdefault(pid, set()).add(name)
    return seen


def assert_routes_to_truth(sim, client, namespace, n_keys=150):
    keys = ["k%d" % i for i in range(n_keys)]
    seen = routed_masters(sim, client, namespace, keys)
    rows = sim.truth(namespace=namespace)["namespaces"][namespace]["partitions"]
    assert seen, "no read reached the simulator"
    for pid, names in seen.items():
        assert names == {rows[pid][0]}, "partition %d routed to %s, master is %s" % (
            pid, names, rows[pid][0])
    assert set(seen) == {partition_id("s", k) for k in keys}


def test_connect_and_node_list(sim, client):
    assert official_names(client) == sim_names(sim)
    assert sorted(client.get_nodes()) == sorted((h, p) for _n, h, p in sim_names(sim))
    # What the client asked: seed validation, user agent, peers, replicas, refreshes.
    counts = sim.counters()
    for c in counts.values():
        assert {"node", "partition-generation", "build", "peers-clear-std", "replicas"} <= set(c["names"])
        assert c["other_messages"] == 0
    agents = [ua for n in sim.nodes() for ua in n["user_agents"]]
    assert agents and all(ua.startswith("1,") for ua in agents)
    errors = [entry for entry in client_logs() if entry[0] <= aerospike.LOG_LEVEL_WARN]
    assert errors == []


def test_partition_ids_agree(sim, client):
    rng = random.Random(7)
    keys = ["", "s", "aaaaaaaaaa", "key1", "hello", "alice", "ünïcödé"]
    keys += ["user:%d" % rng.randrange(10 ** 9) for _ in range(700)]
    keys += [0, 1, -1, 1234567890123, (1 << 63) - 1, -(1 << 63)]
    keys += [rng.randrange(-(1 << 63), 1 << 63) for _ in range(700)]
    keys += [bytearray(rng.randbytes(rng.randrange(1, 40))) for _ in range(300)]
    checked = 0
    for set_name in ("set", "demo", "users", ""):
        for key in keys:
            ours = partition_id(set_name, bytes(key) if isinstance(key, bytearray) else key)
            assert client.get_key_partition_id("test", set_name, key) == ours, (set_name, key)
            checked += 1
    assert checked > 6000


def test_reads_route_to_the_truth_master(sim, client):
    assert_routes_to_truth(sim, client, "test")
    assert_routes_to_truth(sim, client, "bar")


def test_node_list_follows_add_remove_kill(sim, client):
    added = sim.add_node()
    wait_until(lambda: official_names(client) == sim_names(sim), timeout=5)
    assert added["name"] in [n["node_name"] for n in client.get_node_names()]
    assert_routes_to_truth(sim, client, "test")

    sim.remove_node(name=sim.nodes()[0]["name"])
    wait_until(lambda: official_names(client) == sim_names(sim), timeout=5)
    sim.kill_node(name=added["name"])
    wait_until(lambda: official_names(client) == sim_names(sim), timeout=5)
    assert len(client.get_node_names()) == 2
    wait_until(lambda: routed_ok(sim, client), timeout=5)


def routed_ok(sim, client):
    try:
        assert_routes_to_truth(sim, client, "test", n_keys=60)
        return True
    except AssertionError:
        return False


def test_routing_follows_migration(sim, client):
    nodes = sim.nodes()
    target = nodes[2]["name"]
    pids = {partition_id("s", "k%d" % i) for i in range(150)}
    moved = sim.migrate(namespace="test", to=target, partitions=sorted(pids))
    assert moved
    wait_until(lambda: routed_ok(sim, client), timeout=5)


def test_strong_consistency_stale_regime_is_ignored(sim, client):
    nodes = sim.nodes()
    lagger, target = nodes[0]["name"], nodes[1]["name"]
    sim.set_sc(namespace="test", regime=6)
    wait_until(lambda: routed_ok(sim, client), timeout=5)
    # The lagger keeps claiming its partitions with regime 6 while the cluster,
    # at regime 7, has given them to the target. The client must follow regime 7.
    sim.lag(name=lagger)
    keys = ["k%d" % i for i in range(150)]
    rows = sim.truth(namespace="test")["namespaces"]["test"]["partitions"]
    pids = sorted({partition_id("s", k) for k in keys if rows[partition_id("s", k)][0] == lagger})
    assert pids
    sim.migrate(namespace="test", to=target, partitions=pids)
    assert sim.truth(partitions=False)["namespaces"]["test"]["regime"] == 7
    wait_until(lambda: routed_ok(sim, client), timeout=5)
    # Still right a few tends later: the stale claim never wins back.
    time.sleep(4 * TEND_MS / 1000)
    assert routed_ok(sim, client)
    assert any("regime(6) < old regime(7)" in msg for _l, _f, msg in client_logs())


# ---------------------------------------------------------------- security and racks
#
# The simulator's login (security.py) and Enterprise answers (rack-ids) are
# only right if the official client accepts them: it logs in with its own
# bcrypt, authenticates its data sockets with the session token, and routes
# rack-aware reads by the racks it fetched.

USERS = {"app": "s3cret", "ops": "pässwörd-✓"}  # the second one non-ASCII (UTF-8 bytes)


@pytest.fixture
def secure_sim():
    with SimulatorProcess(nodes=3, base_port=BASE_PORT, namespaces="test:2",
                          control_port=CONTROL_PORT,
                          extra_args=("--users", "app:s3cret", "--edition", "enterprise",
                                      "--racks", "1,2,3")) as s:
        s.set_users(users=USERS)
        yield s


def official_client(user, password, **config):
    conf = {"hosts": [("127.0.0.1", BASE_PORT)], "tend_interval": TEND_MS,
            "user": user, "password": password}
    conf.update(config)
    return aerospike.client(conf)  # connects (and logs in) at once


@pytest.mark.parametrize("user", sorted(USERS))
def test_official_client_logs_in_and_reads_with_its_token(secure_sim, user):
    before = secure_sim.security()
    c = official_client(user, USERS[user])
    try:
        assert official_names(c) == sim_names(secure_sim)
        # Data sockets are new connections: each authenticates with the token.
        assert_routes_to_truth(secure_sim, c, "test", n_keys=40)
    finally:
        c.close()
    after = secure_sim.security()
    assert after["logins"] >= before["logins"] + 3  # one per node's tend socket
    assert after["authentications"] > before["authentications"]
    assert after["failed_logins"] == before["failed_logins"]


def test_official_client_wrong_password_is_invalid_credential(secure_sim):
    # Its own errors for results 65 and 60: the cluster is reachable, the
    # credentials are not accepted.
    with pytest.raises(as_exc.InvalidCredential):
        official_client("app", "wrong")
    assert secure_sim.security()["failed_logins"] >= 1
    with pytest.raises(as_exc.InvalidCredential):
        official_client("ops", USERS["app"])  # a good password of another user
    with pytest.raises(as_exc.InvalidUser):
        official_client("nobody", "s3cret")


def test_official_client_without_login_is_refused(secure_sim):
    # Every info request of an unauthenticated socket gets ERROR:80.
    with pytest.raises(as_exc.NotAuthenticated):
        aerospike.client({"hosts": [("127.0.0.1", BASE_PORT)], "tend_interval": TEND_MS})


def test_official_client_logs_in_again_after_sessions_expire(secure_sim):
    c = official_client("app", USERS["app"])
    try:
        logins = secure_sim.security()["logins"]
        secure_sim.expire_sessions()
        # The tend sockets now get ERROR:80: the client logs in again at each
        # node, and data sockets authenticate with the new tokens.  Reads in
        # between may fail (their sockets' tokens are gone), later ones not.
        wait_until(lambda: secure_sim.security()["logins"] >= logins + 3, timeout=5)

        def reads_ok():
            try:
                return routed_ok(secure_sim, c)
            except as_exc.AerospikeError as exc:
                # INVALID_CREDENTIAL, EXPIRED_SESSION, NOT_AUTHENTICATED only.
                assert exc.code in (65, 66, 80), exc
                return False

        wait_until(reads_ok, timeout=5)
    finally:
        c.close()


def rack_reads(sim, client, keys):
    """{partition: set of nodes a read of its keys reached}."""
    sim.counters(reset=True)
    for key in keys:
        with pytest.raises(as_exc.RecordNotFound):
            client.get(("test", "s", key))
    seen = {}
    for name, counts in sim.counters().items():
        for _ns, pid, _read in counts["data"]:
            seen.setdefault(pid, set()).add(name)
    return seen


def test_official_client_prefers_the_replica_on_its_rack(secure_sim):
    nodes = secure_sim.nodes()
    racks = secure_sim.truth(partitions=False)["racks"]["test"]
    assert sorted(racks.values()) == [1, 2, 3]
    mine = [n["name"] for n in nodes if racks[n["name"]] == 2][0]
    c = official_client("app", USERS["app"], rack_aware=True, rack_id=2,
                        policies={"read": {"replica": aerospike.POLICY_REPLICA_PREFER_RACK}})
    try:
        # The client asked for racks, and the simulator answered as Enterprise.
        assert any("rack-ids" in cnt["names"] for cnt in secure_sim.counters().values())
        keys = ["k%d" % i for i in range(200)]
        rows = secure_sim.truth(namespace="test")["namespaces"]["test"]["partitions"]

        def agrees():
            seen = rack_reads(secure_sim, c, keys)
            want = {pid: {mine if mine in rows[pid] else rows[pid][0]} for pid in seen}
            return seen == want

        wait_until(agrees, timeout=5)
        # Both cases occur among the keys: the local replica and the master.
        pids = {partition_id("s", k) for k in keys}
        assert any(rows[p][0] == mine for p in pids)
        assert any(rows[p][1] == mine for p in pids)
        assert any(mine not in rows[p] for p in pids)
    finally:
        c.close()


# ---- TLS: the nodes serve TLS only (Enterprise), each with a certificate that
# holds only its own tls-name; the official client connects with a CA and the
# seed's tls-name, finds the other nodes' tls-names in peers-tls-std, and
# verifies each certificate against them.

TLS_INSTANCE = int(os.environ.get("CSHM_TEST_INSTANCE", "0") or 0)
TLS_BASE_PORT = 3160 + 1000 * TLS_INSTANCE
TLS_NAMES = ("node-a.sim", "node-b.sim", "node-c.sim")


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    from tests.integration.support.tls import TlsFiles
    files = TlsFiles(tmp_path_factory.mktemp("sim-tls"))
    for name in TLS_NAMES:
        files.named(name)
    return files


@pytest.fixture
def tls_sim(tls_files):
    pattern = tls_files.path("node-{tls_name}")
    with SimulatorProcess(nodes=3, base_port=TLS_BASE_PORT, namespaces="test:2",
                          extra_args=("--edition", "enterprise",
                                      "--tls-cert", pattern + ".crt",
                                      "--tls-key", pattern + ".key",
                                      "--tls-names", ",".join(TLS_NAMES))) as s:
        yield s


def tls_client(tls_files, tls_name=TLS_NAMES[0], cafile=None):
    return aerospike.client({
        "hosts": [("127.0.0.1", TLS_BASE_PORT, tls_name)], "tend_interval": TEND_MS,
        "tls": {"enable": True, "cafile": cafile or tls_files.ca}})


def test_official_client_connects_over_tls_with_the_peers_tls_names(tls_sim, tls_files):
    ready_names = {n["name"]: n["tls_name"] for n in tls_sim.ready["nodes"]}
    assert sorted(ready_names.values()) == sorted(TLS_NAMES)
    c = tls_client(tls_files)
    try:
        assert official_names(c) == sim_names(tls_sim)
        # It discovered the peers through the TLS variant only: the clear
        # one lists no endpoints on a TLS-only node.
        for counts in tls_sim.counters().values():
            assert "peers-tls-std" in counts["names"]
            assert "peers-clear-std" not in counts["names"]
        assert_routes_to_truth(tls_sim, c, "test", n_keys=60)
    finally:
        c.close()


def test_official_client_refuses_an_untrusted_certificate(tls_sim, tls_files):
    with pytest.raises(as_exc.AerospikeError):
        tls_client(tls_files, cafile=tls_files.other_ca)


def test_official_client_refuses_a_certificate_without_the_tls_name(tls_sim, tls_files):
    # Node 0's certificate holds node-a.sim only.
    with pytest.raises(as_exc.AerospikeError):
        tls_client(tls_files, tls_name="node-b.sim")
