"""test_bad_input.py - every bad input gives its documented error code and a
message naming the problem, and nothing that is not ours is written.

Codes (clustershm.h): -1 CONFIG, -2 CLUSTER, -3 SEGMENT, -4 TIMEOUT.
Config errors use seeds on ports where nothing listens (NOWHERE_PORTS): the URL
and options must be rejected before any network or segment work.
"""
import os
import subprocess
import sys
import time

import pytest

from support import shm
from support.cluster import NOWHERE_PORTS
from support.procs import spawn, stop_process

CONFIG, CLUSTER, SEGMENT, TIMEOUT = -1, -2, -3, -4
NOWHERE = "redis://127.0.0.1:%d,127.0.0.1:%d" % (NOWHERE_PORTS[0], NOWHERE_PORTS[1])


@pytest.mark.parametrize("url, words", [
    ("-", ["empty"]),                                   # the worker's token for ""
    ("http://127.0.0.1:7190", ["scheme", "http"]),
    ("127.0.0.1:7190", ["scheme"]),
    ("redis://", ["host"]),
    ("redis://127.0.0.1", ["port"]),
    ("redis://127.0.0.1:", ["port"]),
    ("redis://127.0.0.1:0", ["port", "0"]),
    ("redis://127.0.0.1:99999", ["port", "99999"]),
    ("redis://127.0.0.1:70x", ["port"]),
    ("redis://127.0.0.1:7190,", ["host"]),
    ("redis://127.0.0.1:7190/0", ["/0"]),
    ("redis://exa$mple:7190", ["exa$mple"]),
])
def test_bad_url_is_a_config_error(pool, shm_key, url, words):
    [w] = pool(1)
    a = w.connect(url, key=shm_key)
    assert a["ok"] is False and a["code"] == CONFIG, a
    for word in words:
        assert word in a["error"], "message %r does not name %r" % (a["error"], word)
    assert shm.info(shm_key) is None, "a config error must not create a segment"


@pytest.mark.parametrize("options, name", [
    ({"tend_interval": -1}, "tend_interval"),
    ({"tend_interval": 0}, "tend_interval"),
    ({"takeover_timeout": 0}, "takeover_timeout"),
    ({"tend_interval": 5, "takeover_timeout": 2}, "takeover_timeout"),
    ({"connect_timeout": -1}, "connect_timeout"),
    ({"max_nodes": 0}, "max_nodes"),
    ({"max_namespaces": 0}, "max_namespaces"),
    ({"shared": 2}, "shared"),
    ({"mode": 0o000}, "mode"),
    ({"mode": 0o400}, "mode"),
    ({"key": 0}, "key"),
])
def test_bad_option_is_a_config_error(pool, shm_key, options, name):
    [w] = pool(1)
    options.setdefault("key", shm_key)
    a = w.connect(NOWHERE, **options)
    assert a["ok"] is False and a["code"] == CONFIG, a
    assert name in a["error"], "message %r does not name %r" % (a["error"], name)
    assert shm.info(shm_key) is None


@pytest.mark.parametrize("size", [16, 4096, 1 << 20])
def test_foreign_segment_is_refused_and_left_untouched(cluster, pool, shm_key, size):
    data = (b"NOT A CLUSTERSHM SEGMENT " + os.urandom(size))[:size]
    shmid = shm.create(shm_key, data, mode=0o600)
    [w] = pool(1)
    a = w.connect(cluster.url(), key=shm_key)
    assert a["ok"] is False and a["code"] == SEGMENT, a
    assert "0x%08x" % shm_key in a["error"].lower() or str(shm_key) in a["error"], \
        "message %r does not name the key" % a["error"]
    seg = shm.info(shm_key)
    assert seg is not None and seg["shmid"] == shmid, "the foreign segment was removed or replaced"
    assert shm.read(shmid, size) == data, "the foreign segment was written"


def test_other_cluster_identity_is_refused(cluster, pool, shm_key):
    a, b = pool(2)
    assert a.connect("redis://127.0.0.1:%d" % cluster.ports[0], key=shm_key)["ok"]
    before = a.status()
    answer = b.connect("redis://127.0.0.1:%d" % cluster.ports[1], key=shm_key)
    assert answer["ok"] is False and answer["code"] == SEGMENT, answer
    for side in ("127.0.0.1:%d" % cluster.ports[0], "127.0.0.1:%d" % cluster.ports[1]):
        assert side in answer["error"], "message %r does not name %s" % (answer["error"], side)
    after = a.status()
    assert (after["role"], after["epoch"], after["shmid"]) == \
        (before["role"], before["epoch"], before["shmid"])
    assert a.route(b"still-works")["ok"]


def test_other_cluster_name_is_refused(cluster, pool, shm_key):
    a, b = pool(2)
    assert a.connect(cluster.url(), key=shm_key, cluster_name="alpha")["ok"]
    answer = b.connect(cluster.url(), key=shm_key, cluster_name="beta")
    assert answer["ok"] is False and answer["code"] == SEGMENT, answer
    assert "alpha" in answer["error"] and "beta" in answer["error"], answer["error"]


def test_other_limits_join_the_existing_segment(cluster, pool, shm_key):
    # max_nodes/max_namespaces size a segment a process creates; an existing
    # one is used at the size it has (its tender grows it when the cluster
    # outgrows it: docs/design.md §1b), so other limits are not a conflict.
    a, b = pool(2)
    assert a.connect(cluster.url(), key=shm_key, max_nodes=64)["ok"]
    shmid = shm.info(shm_key)["shmid"]
    assert b.connect(cluster.url(), key=shm_key, max_nodes=128)["ok"]
    s = b.status()
    assert (s["shmid"], s["max_nodes"], s["role"]) == (shmid, 64, "follower"), s
    assert a.status()["role"] == "tender"


def test_no_seed_reachable_is_a_cluster_error_within_connect_timeout(pool, shm_key):
    [w] = pool(1)
    start = time.monotonic()
    a = w.connect(NOWHERE, key=shm_key, connect_timeout=1)
    elapsed = time.monotonic() - start
    assert a["ok"] is False and a["code"] == CLUSTER, a
    assert str(NOWHERE_PORTS[0]) in a["error"] or "seed" in a["error"].lower(), a["error"]
    # Bounded by connect_timeout (plus generous slack for a loaded machine).
    assert elapsed < 1 + 5, "connect took %.1f s with connect_timeout=1" % elapsed


@pytest.mark.parametrize("mode, port", [("hang", NOWHERE_PORTS[2]), ("garbage", NOWHERE_PORTS[3])])
def test_broken_server_cannot_stall_connect(pool, shm_key, mode, port):
    server = spawn([sys.executable, os.path.join(os.path.dirname(__file__), "support",
                                                 "fakeserver.py"), str(port), mode],
                   stdout=subprocess.PIPE)
    try:
        assert server.stdout.readline().strip() == b"ready"
        [w] = pool(1)
        start = time.monotonic()
        a = w.connect("redis://127.0.0.1:%d" % port, key=shm_key, connect_timeout=1)
        elapsed = time.monotonic() - start
        assert a["ok"] is False and a["code"] in (CLUSTER, TIMEOUT), a
        assert elapsed < 1 + 5, "connect took %.1f s with connect_timeout=1" % elapsed
        assert w.alive() and w.ok("pid")["pid"] == w.pid
    finally:
        stop_process(server)
