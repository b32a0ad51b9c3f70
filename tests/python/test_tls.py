"""test_tls.py - the Python binding over rediss:// against a real TLS-only
Redis Cluster (3 masters; port 0, tls-port, tls-cluster yes; certificates
made by tests/integration/support/tls.py with the openssl CLI).

The servers are the truth (CLUSTER KEYSLOT and CLUSTER SHARDS asked over
TLS by the tests' own client); clustershm.Client and the redis-py drop-in
are what is checked.
"""
import pathlib

import pytest

import clustershm
from support.cluster import RedisCluster
from support.tls import TlsFiles

from helpers import TLS_PORTS

OPTS = dict(tend_interval=0.2, takeover_timeout=30, connect_timeout=2)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return TlsFiles(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory, tls_files):
    with RedisCluster(TLS_PORTS, tmp_path_factory.mktemp("redis-tls"), replicas=0,
                      tls=tls_files, tls_auth_clients="optional") as c:
        yield c


def test_client_routes_like_the_servers_over_rediss(tls_cluster, tls_files, clients, shm_key,
                                                    redis_keys):
    slots = tls_cluster.keyslots(redis_keys[:500])
    owners = tls_cluster.slot_owners()
    # Paths may be str or os.PathLike.
    c = clients(tls_cluster.url(), key=shm_key, tls_ca_file=pathlib.Path(tls_files.ca), **OPTS)
    c.connect()
    assert ["%s:%d" % c.route(k) for k in redis_keys[:500]] == [owners[s] for s in slots]
    assert sorted(n["port"] for n in c.nodes()) == sorted(TLS_PORTS)
    assert c.status()["identity"].startswith("rediss:")


def test_wrong_ca_is_a_cluster_error_naming_the_option(tls_cluster, tls_files, clients, shm_key):
    c = clients(tls_cluster.url(), key=shm_key, tls_ca_file=tls_files.other_ca, **OPTS)
    with pytest.raises(clustershm.ClusterError, match="certificate verify failed.*tls_ca_file"):
        c.connect()


def test_tls_options_are_checked_at_construction(tls_files, shm_key):
    with pytest.raises(clustershm.ConfigError, match="rediss://"):
        clustershm.Client("redis://127.0.0.1:7000", key=shm_key, tls_ca_file=tls_files.ca)
    with pytest.raises(clustershm.ConfigError, match="tls_server_name"):
        clustershm.Client("rediss://127.0.0.1:7000", key=shm_key, tls_server_name=3)
    with pytest.raises(clustershm.ConfigError, match="tls_key_file"):
        clustershm.Client("rediss://127.0.0.1:7000", key=shm_key, tls_key_file=tls_files.client_key)


def test_redis_py_dropin_over_rediss(tls_cluster, tls_files, shm_key):
    pytest.importorskip("redis")
    from clustershm.redis import RedisCluster as DropIn

    with DropIn(tls_cluster.url(), key=shm_key, tls_ca_file=tls_files.ca,
                tls_cert_file=tls_files.client_cert, tls_key_file=tls_files.client_key,
                decode_responses=True, **OPTS) as rc:
        for i in range(50):
            rc.set("tls:%d" % i, str(i))
        assert [rc.get("tls:%d" % i) for i in range(50)] == [str(i) for i in range(50)]
        # The writes landed where the servers say the keys live.
        owners = tls_cluster.slot_owners()
        slot = tls_cluster.keyslots(["tls:7"])[0]
        port = int(owners[slot].rsplit(":", 1)[1])
        assert tls_cluster.call(port, "GET", "tls:7") == b"7"
