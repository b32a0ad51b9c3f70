"""test_api.py - the Python API against a real Redis Cluster: construction
and options, routes against the servers' truth, nodes, status, refresh,
close/reconnect, context managers, errors and their classes, logging.

Invariant: expected routes come from CLUSTER KEYSLOT / CLUSTER SHARDS
(conftest's redis_truth), never from clustershm; waits have deadlines.
"""
import gc
import logging
import os
import re
import socket
import sys
import threading
import weakref

import pytest

import clustershm
from helpers import DEAD_PORT, header_version
from support import shm
from support.procs import wait_for

FAST = dict(tend_interval=0.2, takeover_timeout=5)


# ---- the module ----------------------------------------------------------


def test_module_surface():
    assert clustershm.__version__ == header_version()
    for name in ("Client", "connect", "aerospike_digest", "redis_slot", "Error", "ConfigError",
                 "ClusterError", "SegmentError", "TimeoutError"):
        assert getattr(clustershm, name).__doc__, name
    for name in ("ConfigError", "ClusterError", "SegmentError", "TimeoutError"):
        assert issubclass(getattr(clustershm, name), clustershm.Error)
    assert issubclass(clustershm.Error, Exception)
    # `except TimeoutError` catches it, as for any Python timeout.
    assert issubclass(clustershm.TimeoutError, TimeoutError)
    assert str(clustershm.TimeoutError("one message")) == "one message"


def test_redis_slot_matches_cluster_keyslot(redis_keys, redis_truth):
    slots, _ = redis_truth
    assert [clustershm.redis_slot(k) for k in redis_keys] == slots
    assert clustershm.redis_slot(bytearray(b"{user1000}.x")) == clustershm.redis_slot(b"user1000")
    # str is its UTF-8, int its decimal text.
    assert clustershm.redis_slot("ünï{cödé}") == clustershm.redis_slot("ünï{cödé}".encode())
    assert clustershm.redis_slot(-42) == clustershm.redis_slot(b"-42")
    with pytest.raises(TypeError):
        clustershm.redis_slot(1.5)
    with pytest.raises(TypeError):
        clustershm.redis_slot(True)
    with pytest.raises(OverflowError):
        clustershm.redis_slot(2 ** 64)


# ---- construction ---------------------------------------------------------


BAD_OPTIONS = [
    (dict(key="0x5c"), "key"),
    (dict(key=-1), "key"),
    (dict(key=2 ** 32), "key"),
    (dict(key=0), "key"),
    (dict(shared="yes"), "shared"),
    (dict(shared=2), "shared"),
    (dict(max_nodes=0), "max_nodes"),
    (dict(max_nodes=1.5), "max_nodes"),
    (dict(max_nodes=True), "max_nodes"),
    (dict(max_namespaces=0), "max_namespaces"),
    (dict(tend_interval="1"), "tend_interval"),
    (dict(tend_interval=0), "tend_interval"),
    (dict(tend_interval=float("nan")), "tend_interval"),
    (dict(takeover_timeout=0.5, tend_interval=1.0), "takeover_timeout"),
    # At least two network steps of min(connect_timeout, 1 s) each.
    (dict(takeover_timeout=1.5, tend_interval=0.5), "takeover_timeout"),
    (dict(min_refresh_interval=0), "min_refresh_interval"),
    (dict(min_refresh_interval=61), "min_refresh_interval"),
    (dict(min_refresh_interval="0.1"), "min_refresh_interval"),
    (dict(min_refresh_interval=float("nan")), "min_refresh_interval"),
    (dict(connect_timeout=-1), "connect_timeout"),
    (dict(connect_timeout=10 ** 400), "connect_timeout"),
    (dict(mode=0o400), "mode"),
    (dict(mode="0600"), "mode"),
    (dict(cluster_name=5), "cluster_name"),
    (dict(cluster_name="x" * 64), "cluster_name"),
    (dict(cluster_name="a\0b"), "cluster_name"),
    (dict(tend_intervall=1.0), "tend_intervall"),
]


@pytest.mark.parametrize("options,name", BAD_OPTIONS,
                         ids=["%s-%d" % (n, i) for i, (o, n) in enumerate(BAD_OPTIONS)])
def test_bad_option_is_a_config_error_naming_it(redis_url, options, name):
    with pytest.raises(clustershm.ConfigError, match=re.escape(name)):
        clustershm.Client(redis_url, **options)


@pytest.mark.parametrize("url", ["http://127.0.0.1:7400", "redis://", "redis://127.0.0.1:99999",
                                 "redis://127.0.0.1:7400,", "", "redis://a\0b:1"])
def test_bad_url_is_a_config_error(url):
    with pytest.raises(clustershm.ConfigError):
        clustershm.Client(url)


def test_construction_contacts_nothing(shm_key):
    # A URL nobody listens at is fine until connect(): nothing is created.
    c = clustershm.Client("redis://127.0.0.1:%d" % DEAD_PORT, key=shm_key)
    assert shm.info(shm_key) is None
    assert "not connected" in repr(c)
    assert "%08x" % shm_key in repr(c)


def test_construction_arguments(redis_url, shm_key):
    all_options = dict(key=shm_key, shared=True, max_nodes=16, max_namespaces=2,
                       tend_interval=0.5, takeover_timeout=3, connect_timeout=2.5,
                       min_refresh_interval=0.1, mode=0o600, cluster_name="")
    clustershm.Client(redis_url, **all_options)
    clustershm.Client(url=redis_url, key=shm_key)
    # None means the default for every option.
    clustershm.Client(redis_url, **{k: None for k in all_options})
    clustershm.Client(redis_url, shared=0)
    with pytest.raises(TypeError):
        clustershm.Client()
    with pytest.raises(TypeError):
        clustershm.Client(redis_url, {"key": 1})
    with pytest.raises(clustershm.ConfigError, match="URL"):
        clustershm.Client(b"redis://127.0.0.1:7400")


def test_password_never_shown(shm_key):
    c = clustershm.Client("redis://user:s3cret@127.0.0.1:%d" % DEAD_PORT, key=shm_key)
    assert "s3cret" not in repr(c)


# ---- routing ----------------------------------------------------------------


def test_routes_match_the_servers(clients, redis_url, shm_key, redis_keys, redis_truth):
    slots, owners = redis_truth
    c = clients(redis_url, key=shm_key, **FAST)
    c.connect()
    assert ["%s:%d" % c.route(k) for k in redis_keys] == owners
    assert [c.partition(k) for k in redis_keys] == slots
    # bytearray and str (UTF-8) keys route like their bytes.
    assert [c.route(bytearray(k)) for k in redis_keys[:200]] == \
        [c.route(k) for k in redis_keys[:200]]
    text_keys = ["user:%d" % i for i in range(300)] + ["ünïcödé", "{tag}x", ""]
    assert [c.route(k) for k in text_keys] == [c.route(k.encode()) for k in text_keys]
    # An int is its decimal text, as Redis stores it.
    for i in (0, 1, -1, 2 ** 63 - 1, -2 ** 63, 1234567):
        assert c.route(i) == c.route(str(i).encode())
        assert c.partition(i) == clustershm.redis_slot(str(i))
    # Redis has no namespaces or sets: both are accepted and ignored.
    assert c.route(b"k", "ns", "set") == c.route(b"k")
    assert c.partition(key=b"k", namespace="x", set="y") == c.partition(b"k")


def test_replica_routes(clients, cluster, redis_url, shm_key, redis_keys, redis_truth):
    slots, owners = redis_truth
    c = clients(redis_url, key=shm_key, **FAST)
    c.connect()
    replicas = {}
    for shard in cluster.shards():
        master = ["%s:%d" % (n["ip"], int(n["port"])) for n in shard["nodes"]
                  if n["role"] == "master"][0]
        replicas[master] = {"%s:%d" % (n["ip"], int(n["port"])) for n in shard["nodes"]
                            if n["role"] != "master"}
    for key, owner in zip(redis_keys[:500], owners):
        assert "%s:%d" % c.route(key, replica=1) in replicas[owner]
    with pytest.raises(clustershm.ConfigError, match="replica"):
        c.route(b"k", replica=-1)
    with pytest.raises(clustershm.ConfigError, match="replica"):
        c.route(b"k", replica=10 ** 30)


def test_route_argument_errors(clients, redis_url, shm_key):
    c = clients(redis_url, key=shm_key, **FAST)
    c.connect()
    for bad in (1.5, None, [b"k"], True, object()):
        with pytest.raises(TypeError, match="key must be"):
            c.route(bad)
    with pytest.raises(OverflowError):
        c.route(2 ** 63)
    with pytest.raises(TypeError, match="namespace"):
        c.route(b"k", namespace=b"ns")
    with pytest.raises(ValueError, match="set"):
        c.route(b"k", set="a\0b")
    with pytest.raises(TypeError, match="replica"):
        c.route(b"k", replica="1")
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        c.route(b"k", nope=1)
    with pytest.raises(TypeError, match="multiple values"):
        c.route(b"k", key=b"k")
    with pytest.raises(TypeError, match="missing required argument 'key'"):
        c.route()
    with pytest.raises(TypeError, match="at most 5"):
        c.route(1, 2, 3, 4, 5, 6)
    with pytest.raises(UnicodeEncodeError):
        c.route("\udc80")
    # Still usable after all of that.
    assert c.route(b"k")


def test_route_answers_without_allocating(clients, redis_url, shm_key):
    c = clients(redis_url, key=shm_key, **FAST)
    c.connect()
    key = "user:1000"
    first = c.route(key)
    # The answer for a node is reused while that node keeps its address.
    assert c.route(key) is first
    before = sys.getallocatedblocks()
    answers = [c.route(key) for _ in range(5000)]
    grown = sys.getallocatedblocks() - before
    assert all(a is first for a in answers)
    # The list holding the answers is the only allocation (a new tuple, str
    # and int per call would be 15,000 blocks).
    assert grown < 200, grown


def test_nodes_match_the_servers(clients, cluster, redis_url, shm_key):
    c = clients(redis_url, key=shm_key, **FAST)
    c.connect()
    nodes = c.nodes()
    by_port = {n["port"]: n for n in nodes}
    assert sorted(by_port) == list(cluster.ports)
    masters = {p for p, _, _ in cluster.masters()}
    for shard in cluster.shards():
        for n in shard["nodes"]:
            mine = by_port[int(n["port"])]
            assert mine["name"] == n["id"]
            assert mine["host"] == n["ip"]
            assert mine["is_master"] == (n["role"] == "master")
            assert mine["active"] is True
    assert sum(n["partitions"] for n in nodes) == 16384
    assert {n["port"] for n in nodes if n["partitions"]} == masters
    assert sum(n["replica_partitions"] for n in nodes) == 16384
    assert set(nodes[0]) == {"name", "host", "port", "active", "is_master", "partitions",
                             "replica_partitions"}


def test_shards_match_the_servers(clients, cluster, redis_url, shm_key):
    c = clients(redis_url, key=shm_key, **FAST)
    with pytest.raises(clustershm.Error, match="not connected"):
        c.shards()
    c.connect()
    table = c.shards()
    assert set(table) == {"generation", "nodes", "shards"}
    assert table["generation"] == c.status()["generation"] >= 1
    assert table["nodes"] == c.nodes()
    # The ranges cover every slot once, in order, and agree with the servers.
    ranges = table["shards"]
    assert ranges[0]["first"] == 0 and ranges[-1]["last"] == 16383
    for a, b in zip(ranges, ranges[1:]):
        assert a["last"] + 1 == b["first"]
    owners = cluster.slot_owners()
    by_master = {}
    for shard in cluster.shards():
        master = [n for n in shard["nodes"] if n["role"] == "master"][0]
        by_master[int(master["port"])] = sorted(int(n["port"]) for n in shard["nodes"]
                                                if n["role"] != "master")
    for r in ranges:
        assert set(r) == {"first", "last", "master", "replicas"}
        m = r["master"]
        assert {owners[r["first"]], owners[r["last"]]} == {"%s:%d" % (m["host"], m["port"])}
        assert sorted(n["port"] for n in r["replicas"]) == by_master[m["port"]]
        # The master and the replicas are the dicts of the answer's nodes.
        assert any(m is n for n in table["nodes"])
        assert all(any(x is n for n in table["nodes"]) for x in r["replicas"])
    assert sum(r["last"] - r["first"] + 1 for r in ranges) == 16384
    # namespace is accepted (and ignored) for Redis; it must be a str.
    assert c.shards(namespace="x")["shards"] == ranges
    assert c.shards(None)["shards"] == ranges
    with pytest.raises(TypeError):
        c.shards(1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        c.shards(ns="x")


def test_status(clients, redis_url, shm_key):
    c = clients(redis_url, key=shm_key, **FAST)
    c.connect()
    s = c.status()
    assert set(s) == {"role", "pid", "owner_pid", "epoch", "generation", "tended_at", "age",
                      "stale", "key", "shmid", "segment_size", "nodes", "namespaces", "attached",
                      "nodes_seen", "namespaces_seen", "nodes_truncated", "namespaces_truncated",
                      "replicas_truncated", "tends", "tend_failures", "handoffs",
                      "dead_takeovers", "hung_takeovers", "step_downs", "failures_in_row",
                      "tend_interval", "takeover_timeout", "min_refresh_interval", "driver",
                      "last_error", "step_down_history", "identity", "max_nodes",
                      "max_namespaces", "has_tender", "has_map"}
    seg = shm.info(shm_key)
    assert s["role"] == "tender" and s["pid"] == s["owner_pid"] == os.getpid()
    assert s["key"] == shm_key and s["shmid"] == seg["shmid"]
    assert s["segment_size"] == seg["size"] and s["attached"] == seg["nattch"] == 1
    assert seg["perms"] & 0o777 == 0o600
    assert s["epoch"] >= 1 and s["generation"] >= 1 and s["tends"] >= 1
    assert s["tended_at"] > 0 and 0 <= s["age"] < 60
    assert s["stale"] is False and s["last_error"] == ""
    assert s["nodes"] == s["nodes_seen"] == 6
    assert s["nodes_truncated"] is False and s["replicas_truncated"] is False
    assert s["driver"] == "redis"
    assert (s["tend_interval"], s["takeover_timeout"], s["min_refresh_interval"]) == \
        (0.2, 5.0, 0.05)
    assert s["step_down_history"] == [] and s["failures_in_row"] == 0
    assert s["identity"].startswith("redis:") and s["max_nodes"] >= s["nodes"]
    assert s["max_namespaces"] >= 1 and s["has_tender"] is True and s["has_map"] is True


def test_request_refresh_makes_the_tender_tend(clients, redis_url, shm_key):
    c = clients(redis_url, key=shm_key, tend_interval=60, takeover_timeout=120)
    c.connect()
    tends = c.status()["tends"]
    c.request_refresh()
    # With a 60 s tend interval only the refresh explains a new tend.
    wait_for(lambda: c.status()["tends"] > tends, 10, "a tend after request_refresh()")


def test_private_mode(clients, redis_url, shm_key, redis_keys, redis_truth):
    c = clients(redis_url, key=shm_key, shared=False, **FAST)
    c.connect()
    s = c.status()
    assert s["role"] == "private" and s["shmid"] == -1
    assert shm.info(shm_key) is None
    assert ["%s:%d" % c.route(k) for k in redis_keys[:300]] == redis_truth[1][:300]


def test_mode_sets_the_segment_permissions(clients, redis_url, shm_key):
    clients(redis_url, key=shm_key, mode=0o640, **FAST).connect()
    assert shm.info(shm_key)["perms"] & 0o777 == 0o640


# ---- lifecycle ---------------------------------------------------------------


def test_close_is_idempotent_and_a_closed_client_reconnects(redis_url, shm_key):
    c = clustershm.Client(redis_url, key=shm_key, **FAST)
    with pytest.raises(clustershm.Error, match="not connected"):
        c.route(b"k")
    c.close()                       # never connected: nothing to do
    c.connect()
    c.connect()                     # already connected: nothing to do
    assert "connected" in repr(c) and "not connected" not in repr(c)
    c.close()
    c.close()
    for call in (lambda: c.route(b"k"), lambda: c.partition(b"k"), c.nodes, c.status,
                 c.request_refresh, c.refresh):
        with pytest.raises(clustershm.Error, match="not connected"):
            call()
    assert shm.info(shm_key)["nattch"] == 0
    c.connect()
    assert c.route(b"k")
    c.close()


def test_context_managers(redis_url, shm_key):
    with clustershm.connect(redis_url, key=shm_key, **FAST) as c:
        assert c.route(b"k")
        assert shm.info(shm_key)["nattch"] == 1
    assert shm.info(shm_key)["nattch"] == 0
    # A Client that is not connected yet connects on entering.
    with clustershm.Client(redis_url, key=shm_key, **FAST) as c:
        assert c.status()["role"] in ("tender", "follower")
    with pytest.raises(clustershm.Error):
        c.status()
    # An exception inside the block still closes, and is not swallowed.
    with pytest.raises(KeyError):
        with clustershm.connect(redis_url, key=shm_key, **FAST) as c:
            raise KeyError("x")
    assert shm.info(shm_key)["nattch"] == 0


def test_clients_in_one_process_share_one_tender(clients, redis_url, shm_key):
    a = clients(redis_url, key=shm_key, **FAST)
    b = clients(redis_url, key=shm_key, **FAST)
    a.connect()
    b.connect()
    roles = wait_for(lambda: sorted([a.status()["role"], b.status()["role"]]) ==
                     ["follower", "tender"], 10, "one tender and one follower")
    assert roles
    tender, follower = (a, b) if a.status()["role"] == "tender" else (b, a)
    epoch = tender.status()["epoch"]
    tender.close()
    wait_for(lambda: follower.status()["role"] == "tender", 10, "the follower to take over")
    assert follower.status()["epoch"] > epoch


def test_garbage_collection_closes_a_client(redis_url, shm_key):
    c = clustershm.connect(redis_url, key=shm_key, **FAST)
    ref = weakref.ref(c)
    assert shm.info(shm_key)["nattch"] == 1
    with pytest.warns(ResourceWarning, match="unclosed clustershm.Client"):
        del c
        gc.collect()
    assert ref() is None
    assert shm.info(shm_key)["nattch"] == 0


def test_threads_share_one_client(clients, redis_url, shm_key, redis_keys, redis_truth):
    c = clients(redis_url, key=shm_key, **FAST)
    c.connect()
    errors = []

    def router():
        try:
            for _ in range(5):
                assert ["%s:%d" % c.route(k) for k in redis_keys] == redis_truth[1]
        except BaseException as e:  # reported below
            errors.append(e)

    def other():
        try:
            for _ in range(50):
                c.status()
                c.nodes()
                c.request_refresh()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=router) for _ in range(6)] + [threading.Thread(target=other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


def test_subclass(redis_url, shm_key):
    class Mine(clustershm.Client):
        def where(self, key):
            return "%s:%d" % self.route(key)

    with Mine(redis_url, key=shm_key, **FAST) as m:
        assert m.where(b"k") == "%s:%d" % m.route(b"k")


# ---- errors ------------------------------------------------------------------


def test_no_seed_answers_is_a_cluster_error(shm_key):
    with pytest.raises(clustershm.ClusterError, match=str(DEAD_PORT)):
        clustershm.connect("redis://127.0.0.1:%d" % DEAD_PORT, key=shm_key, connect_timeout=2)


def test_foreign_segment_is_a_segment_error(redis_url, shm_key):
    shm.create(shm_key, b"not ours" * 512)
    with pytest.raises(clustershm.SegmentError):
        clustershm.connect(redis_url, key=shm_key, connect_timeout=2)


def test_other_cluster_at_the_key_is_a_segment_error(clients, cluster, shm_key):
    clients(cluster.url(3), key=shm_key, **FAST).connect()
    with pytest.raises(clustershm.SegmentError, match="configured for"):
        clustershm.connect(cluster.url(2), key=shm_key, **FAST)


def test_no_map_within_connect_timeout_is_a_timeout_error(redis_url, shm_key):
    # A tender stuck on a seed that accepts but never answers (a listening
    # socket nobody accepts from) has published nothing; a second client of
    # the segment gives up after its own connect_timeout.
    with socket.socket() as hang:
        hang.bind(("127.0.0.1", DEAD_PORT + 1))
        hang.listen(16)
        url = "redis://127.0.0.1:%d" % (DEAD_PORT + 1)
        first = clustershm.Client(url, key=shm_key, connect_timeout=5)
        outcome = {}

        def connect_first():
            try:
                first.connect()
                outcome["first"] = "connected"
            except clustershm.Error as e:
                outcome["first"] = e

        t = threading.Thread(target=connect_first)
        t.start()
        try:
            wait_for(lambda: shm.info(shm_key), 10, "the first client's segment")
            with pytest.raises(clustershm.TimeoutError, match="connect_timeout") as info:
                clustershm.connect(url, key=shm_key, connect_timeout=0.3)
            assert isinstance(info.value, TimeoutError)
        finally:
            t.join(30)
            first.close()
    assert isinstance(outcome.get("first"), clustershm.ClusterError), outcome


# ---- logging -----------------------------------------------------------------


def test_core_log_lines_go_to_the_clustershm_logger(clients, redis_url, shm_key, caplog):
    caplog.set_level(logging.DEBUG, logger="clustershm")
    c = clients(redis_url, key=shm_key, max_nodes=2, **FAST)
    c.connect()
    s = c.status()
    assert s["nodes_truncated"] is True and s["nodes"] == 2 and s["nodes_seen"] == 6

    def logged():
        return [r for r in caplog.records if r.name == "clustershm" and "max_nodes" in r.message]

    records = wait_for(logged, 10, "the max_nodes line on the clustershm logger")
    assert records[0].levelno >= logging.WARNING
    # Delivered on the core's log delivery thread, not this one (test_logging.py).
    assert records[0].thread != threading.get_ident()
