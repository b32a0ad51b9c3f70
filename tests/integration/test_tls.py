"""test_tls.py - rediss:// against real TLS-only Redis Clusters, and the
announced endpoints of cluster-preferred-endpoint-type.

Clusters here (Debian's redis-server, built with TLS) listen for TLS only:
port 0, tls-port, tls-cluster yes, tls-replication yes, certificates made
by support/tls.py with the openssl CLI.  The servers are the truth (the
tests' own TLS client asks CLUSTER SHARDS / CLUSTER KEYSLOT); the library
under test runs in build/cshm-worker processes.  Code numbers are
clustershm.h's: -1 CONFIG, -2 CLUSTER.
"""
import time

import pytest

from support import shm
from support.checks import assert_routes, route_all, wait_routes
from support.cluster import FRESH_BASES, RedisCluster, free_block
from support.tls import TlsFiles

CONFIG, CLUSTER = -1, -2
OPTS = dict(tend_interval=0.2, takeover_timeout=30, connect_timeout=2)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return TlsFiles(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def mtls_cluster(tmp_path_factory, tls_files):
    """3 masters + 3 replicas, TLS only, client certificates required."""
    ports = free_block(FRESH_BASES, 6)
    with RedisCluster(ports, tmp_path_factory.mktemp("cluster-tls"), replicas=1,
                      tls=tls_files, tls_auth_clients="yes") as c:
        yield c


def mtls_options(files, **more):
    return dict(OPTS, tls_ca_file=files.ca, tls_cert_file=files.client_cert,
                tls_key_file=files.client_key, **more)


def test_rediss_routes_every_key_like_the_servers(mtls_cluster, tls_files, pool, shm_key,
                                                  keyset, keyslots, tmp_path):
    workers = pool(2)
    for w in workers:
        w.ok(w.connect_line(mtls_cluster.url(), key=shm_key, **mtls_options(tls_files)))
    # The nodes are listed with their TLS ports, which is all they listen on.
    nodes = workers[0].nodes()
    assert sorted(n["port"] for n in nodes) == sorted(mtls_cluster.ports), nodes
    assert_routes(workers, mtls_cluster, keyset, keyslots, tmp_path)
    # Replicas too: every range's replica is a node of the cluster.
    replica_routes = route_all(workers[:1], keyset[1], tmp_path, replica=1)[0]
    assert {int(r.split()[0].rsplit(":", 1)[1]) for r in replica_routes if r} \
        <= set(mtls_cluster.ports)


def test_without_a_client_certificate_the_error_names_the_fix(mtls_cluster, tls_files, pool,
                                                             shm_key):
    w, = pool(1)
    answer = w.connect(mtls_cluster.url(), key=shm_key, tls_ca_file=tls_files.ca, **OPTS)
    assert answer["ok"] is False and answer["code"] == CLUSTER, answer
    assert "tls_cert_file" in answer["error"], answer


def test_a_wrong_ca_is_a_clear_verification_error(mtls_cluster, tls_files, pool, shm_key):
    w, = pool(1)
    options = mtls_options(tls_files)
    options["tls_ca_file"] = tls_files.other_ca
    answer = w.connect(mtls_cluster.url(), key=shm_key, **options)
    assert answer["ok"] is False and answer["code"] == CLUSTER, answer
    assert "certificate verify failed" in answer["error"], answer
    assert "tls_ca_file" in answer["error"], answer


def test_a_server_name_mismatch_names_tls_server_name(mtls_cluster, tls_files, pool, shm_key):
    w, = pool(1)
    answer = w.connect(mtls_cluster.url(), key=shm_key,
                       **mtls_options(tls_files, tls_server_name="wrong.example"))
    assert answer["ok"] is False and answer["code"] == CLUSTER, answer
    assert "wrong.example" in answer["error"] and "tls_server_name" in answer["error"], answer
    # The right name passes, from an address the certificate does not name
    # by itself being checked against it.
    w2, = pool(1)
    w2.ok(w2.connect_line(mtls_cluster.url(), key=shm_key + 1,
                          **mtls_options(tls_files, tls_server_name="localhost")))


def test_insecure_skip_verify_accepts_an_unknown_ca(mtls_cluster, tls_files, pool, shm_key,
                                                    keyset, keyslots, tmp_path):
    w, = pool(1)
    w.ok(w.connect_line(mtls_cluster.url(), key=shm_key, tls_insecure_skip_verify=1,
                        tls_cert_file=tls_files.client_cert, tls_key_file=tls_files.client_key,
                        **OPTS))
    assert_routes([w], mtls_cluster, keyset, keyslots, tmp_path)


def test_a_plain_url_against_a_tls_only_cluster_fails_clearly_and_fast(mtls_cluster, pool,
                                                                       shm_key):
    w, = pool(1)
    started = time.monotonic()
    answer = w.connect(mtls_cluster.url().replace("rediss://", "redis://"), key=shm_key, **OPTS)
    elapsed = time.monotonic() - started
    assert answer["ok"] is False and answer["code"] == CLUSTER, answer
    assert "rediss://" in answer["error"], answer
    # Bounded by connect_timeout (2 s) and the per-node steps, never a hang.
    assert elapsed < 30, elapsed


def test_tls_options_need_a_tls_url_and_readable_files(tls_files, pool, shm_key, tmp_path):
    w, = pool(1)
    answer = w.connect("redis://127.0.0.1:7191", key=shm_key, tls_ca_file=tls_files.ca, **OPTS)
    assert answer["ok"] is False and answer["code"] == CONFIG, answer
    assert "rediss://" in answer["error"], answer
    missing = str(tmp_path / "no-such-ca.pem")
    answer = w.connect("rediss://127.0.0.1:7191", key=shm_key, tls_ca_file=missing, **OPTS)
    assert answer["ok"] is False and answer["code"] == CONFIG, answer
    assert missing in answer["error"] and "tls_ca_file" in answer["error"], answer


def test_tls_settings_are_part_of_the_identity_and_never_in_the_segment(
        mtls_cluster, tls_files, pool, shm_keys):
    a, b = pool(2)
    a.ok(a.connect_line(mtls_cluster.url(), **mtls_options(tls_files)))
    b.ok(b.connect_line(mtls_cluster.url(), tls_insecure_skip_verify=1,
                        tls_cert_file=tls_files.client_cert, tls_key_file=tls_files.client_key,
                        **OPTS))
    sa, sb = a.status(), b.status()
    for s in (sa, sb):
        shm_keys.track(s["key"])
    # Other TLS settings never share the tender silently: another segment.
    assert sa["key"] != sb["key"] and sa["shmid"] != sb["shmid"], (sa, sb)
    assert sa["identity"].startswith("rediss:"), sa
    # Neither the paths nor the server name are stored in the segment.
    data = shm.read(sa["shmid"], sa["segment_size"])
    for secret in (tls_files.ca, tls_files.client_cert, tls_files.client_key):
        assert secret.encode() not in data


@pytest.fixture(scope="module")
def hostname_cluster(tmp_path_factory, tls_files):
    """3 masters, TLS only (client certificates optional), every node
    announcing the hostname "localhost" and preferring hostnames."""
    ports = free_block(FRESH_BASES, 3)
    with RedisCluster(ports, tmp_path_factory.mktemp("cluster-hostname"), replicas=0,
                      tls=tls_files, tls_auth_clients="optional",
                      extra_args=["--cluster-announce-hostname", "localhost",
                                  "--cluster-preferred-endpoint-type", "hostname"]) as c:
        yield c


def test_announced_hostnames_are_routed_and_verified(hostname_cluster, tls_files, pool, shm_key,
                                                     keyset, keyslots, tmp_path):
    shards = hostname_cluster.shards()
    assert all(n["endpoint"] == "localhost" for s in shards for n in s["nodes"]), shards
    w, = pool(1)
    # Seeds by address, nodes by their announced name: the certificate is
    # checked against each (IP:127.0.0.1 for the seed, DNS:localhost after).
    w.ok(w.connect_line(hostname_cluster.url(), key=shm_key, tls_ca_file=tls_files.ca, **OPTS))
    assert {n["host"] for n in w.nodes()} == {"localhost"}
    assert_routes([w], hostname_cluster, keyset, keyslots, tmp_path)
    # The endpoint type changes live: the map follows at the next tend.
    try:
        hostname_cluster.on_every_node("CONFIG", "SET", "cluster-preferred-endpoint-type", "ip")
        wait_routes([w], hostname_cluster, keyset, keyslots, tmp_path, timeout=20,
                    what="routes to follow the ip endpoints")
        assert {n["host"] for n in w.nodes()} == {"127.0.0.1"}
    finally:
        hostname_cluster.on_every_node("CONFIG", "SET", "cluster-preferred-endpoint-type",
                                       "hostname")
