"""test_routing.py - a pool of 16 processes on the session cluster: one
tender, 15 followers, and every route equal to what the servers say
(CLUSTER KEYSLOT + CLUSTER SHARDS) for 10,000 keys, binary ones included."""
from collections import Counter

from support import keys as K
from support import shm
from support.checks import assert_routes, route_all, the_tender
from support.worker import connect_all, statuses

POOL = 16


def test_sixteen_processes_share_one_tender(cluster, pool, shm_key):
    ws = pool(POOL)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=0.5)
    sts = statuses(ws)
    assert Counter(s["role"] for s in sts) == {"tender": 1, "follower": POOL - 1}
    tender, sts = the_tender(ws)
    seg = shm.info(shm_key)
    assert seg is not None, "no segment at key 0x%x" % shm_key
    assert seg["perms"] & 0o777 == 0o600, "default mode must be 0600, is 0%o" % seg["perms"]
    assert seg["nattch"] >= POOL
    for w, s in zip(ws, sts):
        assert s["pid"] == w.pid
        assert s["key"] == shm_key
        assert s["shmid"] == seg["shmid"]
        assert s["segment_size"] == seg["size"]
        assert s["attached"] >= POOL
        assert s["epoch"] >= 1 and s["generation"] >= 1
        assert s["driver"] == "redis"
        assert s["nodes"] == 6 and s["nodes_seen"] == 6
        assert not s["stale"] and not s["nodes_truncated"]
        assert s["tended_at"] > 0


def test_every_process_routes_like_the_servers(cluster, pool, shm_key, keyset, keyslots, tmp_path):
    ws = pool(POOL)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=0.5)
    assert_routes(ws, cluster, keyset, keyslots, tmp_path)


def test_single_routes_and_partitions(cluster, pool, shm_key):
    [w] = pool(1)
    assert w.connect(cluster.url(count=1), key=shm_key)["ok"]
    owners = cluster.slot_owners()
    for key in K.EDGE_KEYS:
        slot = cluster.keyslots([key])[0]
        r = w.route(key)
        assert (r["partition"], "%s:%d" % (r["host"], r["port"])) == (slot, owners[slot]), key
        assert w.ok("partition %s" % (key.hex() or "-"))["partition"] == slot


def test_replica_routes_name_the_shards_replica(cluster, pool, shm_key, keyset, keyslots,
                                                tmp_path):
    keys, path = keyset
    [w] = pool(1)
    assert w.connect(cluster.url(), key=shm_key)["ok"]
    replica_of_slot = {}
    for shard in cluster.shards():
        replicas = [n for n in shard["nodes"] if n["role"] != "master"]
        assert len(replicas) == 1
        addr = "%s:%s" % (replicas[0]["endpoint"] or replicas[0]["ip"], replicas[0]["port"])
        for lo, hi in shard["slots"]:
            for slot in range(lo, hi + 1):
                replica_of_slot[slot] = addr
    expected = ["%s %d" % (replica_of_slot[s], s) for s in keyslots]
    [got] = route_all([w], path, tmp_path, replica=1)
    diff = K.mismatches(got, expected, keys)
    assert not diff, diff


def test_nodes_match_cluster_shards(cluster, pool, shm_key):
    [w] = pool(1)
    assert w.connect(cluster.url(), key=shm_key)["ok"]
    nodes = {n["port"]: n for n in w.nodes()}
    assert sorted(nodes) == sorted(cluster.ports)
    for shard in cluster.shards():
        count = sum(hi - lo + 1 for lo, hi in shard["slots"])
        for n in shard["nodes"]:
            got = nodes[int(n["port"])]
            assert got["name"] == n["id"]
            assert got["host"] == "127.0.0.1"
            assert got["active"] is True
            if n["role"] == "master":
                assert got["is_master"] is True and got["partitions"] == count
            else:
                assert got["is_master"] is False and got["replica_partitions"] == count
                assert got["partitions"] == 0
    assert sum(n["partitions"] for n in nodes.values()) == 16384


def test_private_mode_tends_alone_without_a_segment(cluster, pool, shm_key, keyset, keyslots,
                                                    tmp_path):
    ws = pool(2)
    connect_all(ws, cluster.url(), key=shm_key, shared=0)
    for s in statuses(ws):
        assert s["role"] == "private"
        assert s["shmid"] == -1
    assert shm.info(shm_key) is None, "private mode created a segment"
    assert_routes(ws, cluster, keyset, keyslots, tmp_path)
