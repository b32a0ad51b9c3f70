"""test_refresh.py - request_refresh() is debounced per host, and
refresh_wait() waits for a newer map.

The servers count the tends themselves (INFO commandstats
cmdstat_cluster|shards, summed over the nodes, after CONFIG RESETSTAT).
Workers tend every 10 s or more here, so periodic tends cannot be mistaken
for refreshes and only a refresh makes them see a change.
"""
import time

from support import keys as K
from support.checks import assert_routes
from support.cluster import CommandStats
from support.procs import wait_for
from support.worker import broadcast, connect_all

LOOP = 5.0


def refresh_storm(cluster, workers, key, **options):
    """Every worker asks for a refresh in a tight loop for LOOP seconds, all
    at once; returns (CLUSTER SHARDS calls at the servers, the window in
    seconds, requests made)."""
    connect_all(workers, cluster.url(), key=key, tend_interval=10, takeover_timeout=30,
                **options)
    with CommandStats(cluster) as stats:
        stats.reset()
        start = time.monotonic()
        answers = broadcast(workers, "refreshloop %g" % LOOP, timeout=LOOP + 30)
        shards, per_node = stats.calls("cluster|shards")
        window = time.monotonic() - start
    requests = [a["requests"] for a in answers]
    print("%d CLUSTER SHARDS for %d requests in %.1f s (%s), %s"
          % (shards, sum(requests), window, per_node, options))
    assert all(r > 0 for r in requests), requests
    return shards, window, sum(requests)


def test_refresh_requests_of_many_processes_are_debounced(cluster, pool, shm_keys):
    shards, window, requests = refresh_storm(cluster, pool(8), shm_keys(0))
    # At most one tend per min_refresh_interval (0.05 s by default) for the
    # whole host, however many processes ask (+ a periodic tend and slack).
    assert shards <= window / 0.05 + 5, (shards, window)
    # ... and the requests are answered: far more tends than tend_interval
    # alone (10 s) would make, and far fewer than requests.
    assert shards >= 5, (shards, window)
    assert requests > 10 * shards, (requests, shards)


def test_debounce_follows_min_refresh_interval(cluster, pool, shm_keys):
    shards, window, _ = refresh_storm(cluster, pool(8), shm_keys(0), min_refresh_interval=0.5)
    assert shards <= window / 0.5 + 3, (shards, window)
    assert shards >= 2, (shards, window)


def test_refresh_wait_sees_a_failover_and_times_out_on_an_unchanged_cluster(
        make_cluster, pool, shm_key, keyset, keyslots, tmp_path):
    c = make_cluster()
    ws = pool(3)
    # Tends 60 s apart: within this test only refreshes publish anything.
    connect_all(ws, c.url(), key=shm_key, tend_interval=60, takeover_timeout=120)

    # An unchanged cluster: refresh_wait tends (asking again while the
    # tends show the same map) and returns newer=false at its timeout.
    tends_before = ws[0].status()["tends"]
    start = time.monotonic()
    answer = ws[0].ok("refreshwait 1", timeout=10)
    waited = time.monotonic() - start
    assert answer["newer"] is False, answer
    assert waited >= 0.95, "refresh_wait returned after %.2f s, before its timeout" % waited
    tends = ws[0].status()["tends"] - tends_before
    assert 2 <= tends <= waited / 0.05 + 3, "%d tends during refresh_wait(1)" % tends

    # A coordinated failover in one shard.
    master_port, _, _ = c.masters()[0]
    [replica_port] = c.replica_of(master_port)
    shard_slots = set()
    for shard in c.shards():
        if any(int(n["port"]) == master_port for n in shard["nodes"]):
            for lo, hi in shard["slots"]:
                shard_slots.update(range(lo, hi + 1))
    moved = [k for k, s in zip(keyset[0], keyslots) if s in shard_slots]
    assert moved, "no test key in the failed-over shard"
    moved_path = tmp_path / "moved-keys.hex"
    K.write(moved_path, moved)
    generation = ws[0].status()["generation"]
    assert c.call(replica_port, "CLUSTER", "FAILOVER") == "OK"

    new_master = "127.0.0.1:%d" % replica_port
    out_path = str(tmp_path / "moved-routes.txt")
    newer_seen = []

    def routes_follow():
        a = ws[1].ok("refreshwait 5", timeout=15)
        newer_seen.append(a["newer"])
        if not a["newer"]:
            return False
        ws[1].routefile(str(moved_path), out_path)
        return all(line.split()[0] == new_master for line in K.read_routes(out_path))
    wait_for(routes_follow, 40, "refresh_wait to return a map naming the new master %s"
             % new_master, interval=0)
    assert ws[1].status()["generation"] > generation

    # The servers agree, and every worker routes every key as they say.
    c.wait_settled()
    owners = c.slot_owners()
    assert all(owners[s] == new_master for s in shard_slots), "the servers disagree"
    assert_routes(ws, c, keyset, keyslots, tmp_path)
    print("refresh_wait answers until the new master was seen: %s" % newer_seen)
