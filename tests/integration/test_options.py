"""test_options.py - options that shape the segment: mode, the default key
derived from the cluster's identity, and max_nodes limits that are reported,
never silently applied."""
from support import shm
from support.procs import wait_for
from support.checks import the_tender
from support.worker import connect_all, statuses

DEFAULT_KEY_BASE, DEFAULT_KEY_MASK = 0x43000000, 0xFF000000


def test_mode_sets_the_segment_permissions(cluster, pool, shm_key):
    [w] = pool(1)
    assert w.connect(cluster.url(), key=shm_key, mode=0o640)["ok"]
    assert shm.info(shm_key)["perms"] & 0o777 == 0o640


def test_default_key_comes_from_the_sorted_seeds(cluster, pool, shm_keys):
    a, b, c = pool(3)
    p0, p1, p2 = cluster.ports[:3]
    assert a.connect("redis://127.0.0.1:%d,127.0.0.1:%d" % (p0, p1))["ok"]
    key = a.status()["key"]
    shm_keys.track(key)
    assert key & DEFAULT_KEY_MASK == DEFAULT_KEY_BASE, "default key 0x%08x" % key
    # Same seeds in another order: same identity, same key, same segment.
    assert b.connect("redis://127.0.0.1:%d,127.0.0.1:%d" % (p1, p0))["ok"]
    assert b.status()["key"] == key
    the_tender([a, b])
    # Other seeds: another identity, another key.
    assert c.connect("redis://127.0.0.1:%d" % p2)["ok"]
    other = c.status()["key"]
    shm_keys.track(other)
    assert other != key and other & DEFAULT_KEY_MASK == DEFAULT_KEY_BASE
    assert c.status()["role"] == "tender"


def test_max_nodes_overflow_is_reported_and_grown(cluster, pool, shm_key):
    ws = pool(2)
    connect_all(ws, cluster.url(), key=shm_key, max_nodes=4)
    wait_for(lambda: any("max_nodes=4 reached: the cluster reports 6 nodes" in w.log()
                         for w in ws), 10, "the tender to log the max_nodes overflow")
    # ...and the segment grows online (test_growth.py has the whole story).
    wait_for(lambda: all(s["max_nodes"] == 8 and s["nodes"] == 6 and not s["nodes_truncated"]
                         for s in statuses(ws)), 10, "the processes to move to a larger segment")
