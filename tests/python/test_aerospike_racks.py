"""test_aerospike_racks.py - the Python API's rack-aware route and the
options user, password, use_alternate_access_address and rack_id, against a
simulator with login (users app and ops), Enterprise answers and racks
1, 2, 3 on its three nodes.

Invariants: one simulator for the module (helpers.RACK_SIM_BASE), which no
test changes; the expected owner of a key comes from the simulator's digest
code and its `truth` (owners and racks), never from clustershm.
"""
import random

import pytest

import clustershm
from helpers import RACK_SIM_BASE
from tests.aerospike_sim.client import SimulatorProcess
from tests.aerospike_sim.digest import partition_id

FAST = dict(tend_interval=0.2, takeover_timeout=5, connect_timeout=3)
PASSWORD = "pässwörd-✓"


@pytest.fixture(scope="module")
def sim():
    s = SimulatorProcess(nodes=3, base_port=RACK_SIM_BASE, namespaces="test:2,bar:1",
                         control_port=RACK_SIM_BASE + 9,
                         extra_args=["--edition", "enterprise", "--racks", "1,2,3"])
    try:
        s.call("set_users", users={"app": PASSWORD, "ops": "other"})
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def url(sim):
    return "aerospike://127.0.0.1:%d" % RACK_SIM_BASE


@pytest.fixture
def client(url, shm_key):
    c = clustershm.connect(url, key=shm_key, user="app", password=PASSWORD, rack_id=2, **FAST)
    yield c
    c.close()


def rack_truth(sim, namespace, rack, keys, set_name="demo"):
    """[(host, port)] per key: the first owner on rack, master first, else the master."""
    truth = sim.call("truth", namespace=namespace)
    owners = truth["namespaces"][namespace]["partitions"]
    racks = truth["racks"][namespace]
    ports = {n["name"]: n["port"] for n in sim.call("nodes")}
    out = []
    for k in keys:
        row = owners[partition_id(set_name, k)]
        on_rack = [n for n in row if racks[n] == rack]
        out.append(("127.0.0.1", ports[(on_rack or row)[0]]))
    return out


_rng = random.Random(3)
KEYS = ["user:%d" % _rng.randrange(10 ** 9) for _ in range(600)] + ["", "ünïcödé"]


@pytest.mark.parametrize("namespace", ["test", "bar"])
def test_prefer_rack_matches_the_simulator(client, sim, namespace):
    masters = [client.route(k, namespace, "demo") for k in KEYS]
    for rack in (1, 2, 3):
        want = rack_truth(sim, namespace, rack, KEYS)
        assert [client.route(k, namespace, "demo", replica="prefer_rack", rack_id=rack)
                for k in KEYS] == want, rack
        assert len(set(want)) == 3   # the keys cover every node
        if namespace == "test":   # replication factor 2: some keys leave the master
            assert want != masters
        else:                     # replication factor 1: the master is the only owner
            assert want == masters
    # Without rack_id in the call: the rack_id option (2).
    assert [client.route(k, namespace, "demo", replica="prefer_rack") for k in KEYS] == \
        rack_truth(sim, namespace, 2, KEYS)
    # A rack no node is on: the master.
    assert [client.route(k, namespace, "demo", replica="prefer_rack", rack_id=9)
            for k in KEYS] == masters


def test_prefer_rack_argument_errors(client, url, shm_keys):
    with pytest.raises(TypeError, match="replica must be an int .* or \"prefer_rack\""):
        client.route("k", "test", replica="nearest")
    with pytest.raises(clustershm.ConfigError, match="rack_id is for replica"):
        client.route("k", "test", replica=1, rack_id=2)
    with pytest.raises(clustershm.ConfigError, match="use 0 to 1000000"):
        client.route("k", "test", replica="prefer_rack", rack_id=-1)
    with pytest.raises(clustershm.ConfigError, match="rack id 0 to 1000000"):
        client.route("k", "test", replica="prefer_rack", rack_id=1000001)
    with pytest.raises(TypeError, match="rack_id must be an int"):
        client.route("k", "test", replica="prefer_rack", rack_id="2")
    with pytest.raises(TypeError, match="rack_id must be an int"):
        client.route("k", "test", replica="prefer_rack", rack_id=True)
    # No rack in the call and none in the options.
    with clustershm.connect(url, key=shm_keys(1), user="app", password=PASSWORD, **FAST) as c:
        with pytest.raises(clustershm.ConfigError, match="pass rack_id or set the rack_id option"):
            c.route("k", "test", replica="prefer_rack")
        assert c.route("k", "test", replica="prefer_rack", rack_id=1)


def test_login_options_and_url(sim, url, shm_keys):
    from urllib.parse import quote
    encoded = "aerospike://app:%s@127.0.0.1:%d" % (quote(PASSWORD, safe=""), RACK_SIM_BASE)
    with clustershm.connect(encoded, key=shm_keys(0), **FAST) as c:
        assert c.status()["nodes"] == 3 and not c.status()["stale"]
    with pytest.raises(clustershm.ClusterError,
                       match=r"login as user 'app' refused: INVALID_CREDENTIAL") as info:
        clustershm.connect(url, key=shm_keys(1), user="app", password="wrong-one", **FAST)
    assert "wrong-one" not in str(info.value)
    with pytest.raises(clustershm.ClusterError, match="INVALID_USER"):
        clustershm.connect(url, key=shm_keys(2), user="nobody", password="x", **FAST)
    # Credentials are part of the identity: other ones, another segment.
    with clustershm.connect(url, user="app", password=PASSWORD, **FAST) as a, \
            clustershm.connect(url, user="ops", password="other", **FAST) as b:
        assert a.status()["key"] != b.status()["key"]


def test_option_checks(url):
    redis = "redis://127.0.0.1:1"
    cases = [
        (url, dict(user=1, password="x"), clustershm.ConfigError, "expected a str"),
        (url, dict(user="u", password="x" * 256), clustershm.ConfigError, "longer than 255"),
        (url, dict(user="u\0", password="x"), clustershm.ConfigError, "contains NUL"),
        (url, dict(user="u"), clustershm.ConfigError, "without a password"),
        (url, dict(password="p"), clustershm.ConfigError, "needs a user"),
        ("aerospike://u:p@127.0.0.1:1", dict(user="u", password="p"), clustershm.ConfigError,
         "given twice"),
        (url, dict(rack_id="2"), clustershm.ConfigError, "expected an int"),
        (url, dict(rack_id=True), clustershm.ConfigError, "expected an int"),
        (url, dict(rack_id=-2), clustershm.ConfigError, "use 0 to 1000000"),
        (url, dict(rack_id=1000001), clustershm.ConfigError, "bad option rack_id"),
        (redis, dict(rack_id=1), clustershm.ConfigError, "Aerospike only"),
        (url, dict(use_alternate_access_address=2), clustershm.ConfigError, "True or False"),
        (redis, dict(use_alternate_access_address=True), clustershm.ConfigError,
         "Aerospike only"),
    ]
    for u, opts, exc, text in cases:
        with pytest.raises(exc, match=text):
            clustershm.Client(u, **opts)
    # The password never appears in a message.
    with pytest.raises(clustershm.ConfigError) as info:
        clustershm.Client(url, user="u", password="s3cr3t-" + "x" * 300)
    assert "s3cr3t" not in str(info.value)
    # Valid values pass (no I/O in Client()).
    clustershm.Client(url, user="u", password="p", rack_id=0, use_alternate_access_address=True)
    clustershm.Client(url, rack_id=None, user=None, password=None)
