"""test_aerospike_tls.py - our driver tends the simulator over TLS: seeds
host:tls_name:port, the other nodes' TLS names from peers-tls-std, login over
the TLS connection, mutual TLS, and the failures a user meets (wrong CA,
wrong tls_name, a plain URL to a TLS-only cluster).

Invariants:
  - the simulator's nodes serve TLS only, each with a certificate that holds
    only its own tls-name (support/tls.py makes them with openssl), so a node
    verified against any other name fails: routes over three nodes prove the
    names of the discovered nodes came from peers-tls-std;
  - expected routes come from the simulator only (its digest code and its
    `truth`), never from our C;
  - every test starts its own simulator (ports shifted by CSHM_TEST_INSTANCE)
    and stops it at teardown; waits have deadlines, they measure nothing.
"""
import pytest

from support.aerospike import Sim, make_keyfiles
from support.tls import TlsFiles

CLUSTER = -2
OPTS = dict(tend_interval=0.2, takeover_timeout=30, connect_timeout=2)
NAMES = ("node-a.sim", "node-b.sim", "node-c.sim")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    files = TlsFiles(tmp_path_factory.mktemp("as-tls"))
    for name in NAMES:
        files.named(name)
    return files


def tls_sim(certs, *extra):
    pattern = certs.path("node-{tls_name}")
    return Sim(namespaces="test:2", extra_args=[
        "--edition", "enterprise", "--tls-cert", pattern + ".crt", "--tls-key", pattern + ".key",
        "--tls-names", ",".join(NAMES), *extra])


@pytest.fixture
def sim(certs):
    s = tls_sim(certs)
    yield s
    s.close()


def tls_url(sim, name=NAMES[0], credentials=""):
    return "aerospike://%s127.0.0.1:%s:%d" % (credentials, name, sim.base)


def routes(w, tmp_path, kf):
    out = str(tmp_path / ("routes-%s.txt" % w.name))
    w.ok("aroutefile test %s %s %s %s 0" % (kf.set_arg(), kf.type, kf.path, out), timeout=60)
    with open(out) as f:
        return f.read().splitlines()


def master_routes(sim, kf):
    owners, ports = sim.owners("test"), sim.ports()
    return ["127.0.0.1:%d %d" % (ports[owners[p][0]], p) for p in kf.partitions]


def test_tends_over_tls_with_the_names_from_peers_tls_std(sim, certs, pool, shm_key, tmp_path):
    [w] = pool(1)
    a = w.connect(tls_url(sim), key=shm_key, tls_ca_file=certs.ca, **OPTS)
    assert a["ok"], a
    s = w.status()
    assert s["nodes"] == 3 and not s["stale"] and s["last_error"] == "", s
    for kf in make_keyfiles(tmp_path, count=400):
        assert routes(w, tmp_path, kf) == master_routes(sim, kf)
    # The TLS variants, as the official client asks them; never the clear ones.
    names = {n: c["names"] for n, c in sim.call("counters").items()}
    assert all("peers-tls-std" in asked for asked in names.values()), names
    assert not any("peers-clear-std" in asked for asked in names.values()), names


def test_login_runs_over_tls(certs, pool, shm_key, tmp_path):
    s = tls_sim(certs, "--users", "app:s3cret")
    try:
        [w] = pool(1)
        a = w.connect(tls_url(s, credentials="app:s3cret@"), key=shm_key, tls_ca_file=certs.ca,
                      **OPTS)
        assert a["ok"], a
        assert w.status()["nodes"] == 3
        sec = s.call("security")
        assert sec["logins"] >= 3 and sec["failed_logins"] == 0, sec
        kf = make_keyfiles(tmp_path, count=200)[0]
        assert routes(w, tmp_path, kf) == master_routes(s, kf)
    finally:
        s.close()


def test_mutual_tls(certs, pool, shm_key, tmp_path):
    s = tls_sim(certs, "--tls-client-ca", certs.ca)
    try:
        [w, x] = pool(2)
        a = w.connect(tls_url(s), key=shm_key, tls_ca_file=certs.ca, **OPTS)
        assert a["ok"] is False and a["code"] == CLUSTER, a
        assert "client certificate" in a["error"], a
        a = x.connect(tls_url(s), key=shm_key, tls_ca_file=certs.ca,
                      tls_cert_file=certs.client_cert, tls_key_file=certs.client_key, **OPTS)
        assert a["ok"], a
        kf = make_keyfiles(tmp_path, count=200)[0]
        assert routes(x, tmp_path, kf) == master_routes(s, kf)
    finally:
        s.close()


def test_wrong_ca_is_a_clear_error(sim, certs, pool, shm_key):
    [w] = pool(1)
    a = w.connect(tls_url(sim), key=shm_key, tls_ca_file=certs.other_ca, **OPTS)
    assert a["ok"] is False and a["code"] == CLUSTER, a
    assert "TLS as 'node-a.sim'" in a["error"], a
    assert "certificate verify failed" in a["error"], a
    assert "set tls_ca_file (or tls_ca_dir) to the CA" in a["error"], a


def test_wrong_tls_name_is_a_clear_error(sim, certs, pool, shm_key):
    [w] = pool(1)
    # Node 0's certificate holds node-a.sim only.
    a = w.connect(tls_url(sim, name="node-b.sim"), key=shm_key, tls_ca_file=certs.ca, **OPTS)
    assert a["ok"] is False and a["code"] == CLUSTER, a
    assert "certificate is not for 'node-b.sim'" in a["error"], a
    assert "host:tls_name:port" in a["error"], a


def test_plain_url_to_a_tls_cluster_fails_clearly(sim, pool, shm_key):
    [w] = pool(1)
    a = w.connect(sim.url(), key=shm_key, **OPTS)
    assert a["ok"] is False and a["code"] == CLUSTER, a
    assert "127.0.0.1:%d: connection closed by the server" % sim.base in a["error"], a
    assert "host:tls_name:port" in a["error"], a
