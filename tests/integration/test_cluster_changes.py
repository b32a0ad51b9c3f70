"""test_cluster_changes.py - the map follows the cluster: a master killed
and its replica promoted, slots resharded, every node down.  Each test gets
a fresh cluster because each one breaks or reshapes it.
"""
from support import keys as K
from support.checks import route_all, the_tender, wait_routes
from support.procs import wait_for
from support.worker import connect_all, statuses

POOL = 4


def test_failover_is_followed_by_every_process(make_cluster, pool, shm_key, keyset, keyslots,
                                               tmp_path):
    c = make_cluster()
    ws = pool(POOL)
    # The first seed is the master about to die: the tender must not depend
    # on one seed.
    victim_port, victim_id, _ = c.masters()[0]
    assert c.url().startswith("redis://127.0.0.1:%d," % victim_port)
    connect_all(ws, c.url(), key=shm_key, tend_interval=0.2, takeover_timeout=30)
    [replica_port] = c.replica_of(victim_port)

    c.kill_node(victim_port)
    wait_for(lambda: replica_port in [p for p, _, _ in c.masters()], 60,
             "redis to promote %d after its master %d died" % (replica_port, victim_port))
    c.wait_settled()
    wait_routes(ws, c, keyset, keyslots, tmp_path, timeout=15,
                what="every worker to route the failed master's slots to the promoted replica")
    victim = "127.0.0.1:%d" % victim_port
    for got in route_all(ws, keyset[1], tmp_path):
        assert not any(line.startswith(victim + " ") for line in got)
    # The dead node is no longer a master with slots, and not active.
    def dead_node_retired():
        nodes = ws[0].nodes()
        mine = [n for n in nodes if n["port"] == victim_port]
        return all(not n["active"] and n["partitions"] == 0 for n in mine)
    wait_for(dead_node_retired, 10, "the dead master to be reported inactive without slots")
    promoted = [n for n in ws[0].nodes() if n["port"] == replica_port]
    assert promoted and promoted[0]["is_master"] and promoted[0]["partitions"] > 0


def test_reshard_is_followed_and_refresh_is_immediate(make_cluster, pool, shm_keys, keyset,
                                                      keyslots, tmp_path):
    c = make_cluster()
    # Group A tends every 0.2 s and follows on its own.  Group B tends
    # every 60 s, so only request_refresh() can make it follow in time.
    group_a = pool(3, prefix="a")
    group_b = pool(3, prefix="b")
    connect_all(group_a, c.url(), key=shm_keys(0), tend_interval=0.2, takeover_timeout=30)
    connect_all(group_b, c.url(), key=shm_keys(1), tend_interval=60, takeover_timeout=120)
    before = c.slot_owners()
    b_generation = statuses(group_b)[0]["generation"]

    (_, src, _), (dst_port, dst, _) = c.masters()[0], c.masters()[1]
    c.reshard(src, dst, 100)
    after = c.slot_owners()
    moved = [s for s in range(len(after)) if before[s] != after[s]]
    assert len(moved) == 100 and all(after[s] == "127.0.0.1:%d" % dst_port for s in moved)
    moved_keys = [k for k, s in zip(keyset[0], keyslots) if s in set(moved)]
    assert moved_keys, "no test key falls in the moved slots"

    wait_routes(group_a, c, keyset, keyslots, tmp_path, timeout=15,
                what="group A (tend_interval 0.2) to follow the reshard")

    tender, _ = the_tender(group_b)
    follower = next(w for w in group_b if w is not tender)
    follower.ok("refresh")
    wait_routes(group_b, c, keyset, keyslots, tmp_path, timeout=10,
                what="group B (tend_interval 60) to follow after one refresh")
    assert all(s["generation"] > b_generation for s in statuses(group_b))


def test_cluster_down_keeps_the_last_map_and_goes_stale(make_cluster, pool, shm_key, keyset,
                                                        keyslots, tmp_path):
    c = make_cluster(masters=3, replicas=0)
    ws = pool(2)
    connect_all(ws, c.url(), key=shm_key, tend_interval=0.2, takeover_timeout=30,
                connect_timeout=1)
    expected = K.expected_routes(c, keyset[0], keyslots)
    assert not any(s["stale"] for s in statuses(ws))
    for p in list(c.ports):
        c.kill_node(p)
    wait_for(lambda: all(s["stale"] for s in statuses(ws)), 15,
             "status stale once no node answers")
    sts = statuses(ws)
    assert all(s["last_error"] for s in sts), "a stale map must say why: %s" % sts
    assert all(s["tend_failures"] > 0 for s in sts)
    # The last map still routes, unchanged.
    for got in route_all(ws, keyset[1], tmp_path):
        assert not K.mismatches(got, expected, keyset[0])
    # And the tender keeps trying: failures keep growing.
    first = statuses(ws)[0]["tend_failures"]
    wait_for(lambda: statuses(ws)[0]["tend_failures"] > first, 10, "more tend attempts")
