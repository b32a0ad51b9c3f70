"""test_growth.py - a PHP-FPM pool whose cluster outgrows the segment
(online growth, docs/design.md §1b): the pool keeps serving, no request
fails, no child restarts, and every child moves to the successor.

The cluster is a fresh one of this test (3 masters with a replica each,
ports from 7520), grown with `redis-cli --cluster add-node` by one replica
past max_nodes=6: the segment grows to 12.  The map cut at 6 nodes leaves
out the last node CLUSTER SHARDS lists, a replica here, so every slot keeps
its master while the successor is being made.  Requests run throughout:
route.php (routes checked against the servers' truth; no slot moves) and
redis.php (SET and GET through ClusterShm\\RedisCluster).  Waits have
deadlines; nothing is timed.
"""
import json
import os
import threading

from conftest import CHILDREN, HERE, Target, phpredis_extensions, segment_stat, until
from support import keys as keyset
from support import shm
from support.cluster import RedisCluster, free_block

REDIS_SCRIPT = os.path.join(HERE, "www", "redis.php")
PORT_BASES = range(7520, 7590, 10)   # beside run.py's clusters (7500-7512)
OPTIONS = dict(tend_interval=0.2, max_nodes=6)


def test_the_pool_grows_without_a_restart_or_a_failed_request(pool, shm_keys, env, tmp_path):
    c = RedisCluster(free_block(PORT_BASES, 6), tmp_path / "cluster", replicas=1)
    try:
        c.start()
        keys = keyset.generate(200, 20240613)
        owners = c.slot_owners()
        target = Target("grow", c.url(3), [["s", k.hex(), None, ""] for k in keys],
                        [owners[s] for s in c.keyslots(keys)], tmp_path)
        key, gen1 = shm_keys[0], shm.chain_key(shm_keys[0], 1)
        p = pool(max_requests=100000, extensions=phpredis_extensions())
        children = p.children()
        route_query = target.query(key, **OPTIONS)
        redis_query = {"url": c.url(3), "opts": json.dumps(dict(OPTIONS, key=key)), "count": 3}

        answers, stop, failures = [], threading.Event(), []

        def serve():
            i = 0
            try:
                while not stop.is_set():
                    batch = [route_query] * (CHILDREN // 2)
                    got = p.burst(batch)
                    got += p.burst([dict(redis_query, prefix="grow:%d:%d" % (i, j))
                                    for j in range(CHILDREN // 2)], script=REDIS_SCRIPT)
                    answers.extend(got)
                    i += 1
            except Exception as e:  # noqa: BLE001 - reported by the test below
                failures.append(e)

        # Every child serves (and attaches) before the growth.
        until(lambda: {a["pid"] for a in p.burst([target.query(key, sleep_ms=100, **OPTIONS)]
                                                   * CHILDREN)} == children, 60,
              "every child to answer")
        assert shm.info(key) is not None
        thread = threading.Thread(target=serve)
        thread.start()
        try:
            c.add_nodes(free_block(PORT_BASES, 1), masters=0)   # 7 nodes: more than 6
            until(lambda: failures or shm.info(key) is None, 60,
                  "the old segment to go with the last child that left it")
            served = len(answers)
            until(lambda: failures or len(answers) >= served + 2 * CHILDREN, 60,
                  "requests after the growth")
        finally:
            stop.set()
            thread.join(120)
        assert not failures, failures

        routed = [a for a in answers if "routes" in a]
        bad = [a for a in answers if not a.get("ok")]
        assert not bad, bad[:3]
        for a in routed:
            target.check(a)
        # No child restarted: the same processes served from first to last.
        assert {a["pid"] for a in answers} <= children and p.children() == children
        # Every child moved: generation 1 of the chain, with every node.
        seen = {}
        until(lambda: seen.update({a["pid"]: a for a in p.burst(
            [target.query(key, sleep_ms=100, **OPTIONS)] * CHILDREN)}) or set(seen) == children,
              60, "every child to answer after the growth")
        for a in seen.values():
            target.check(a)
            s = a["status"]
            assert (s["key"], s["chain_generation"], s["chain_base"], s["max_nodes"],
                    s["nodes"], s["nodes_truncated"]) == (gen1, 1, key, 12, 7, False), s
        st = segment_stat(gen1)
        assert (st["chain_generation"], int(st["chain_base"], 16), st["forwarded_to"]) == \
            (1, key, None), st
        assert st["attached"] == CHILDREN, st
        print("\n%d requests during the growth, from %d children, none failed"
              % (len(answers), len({a["pid"] for a in answers})))
    finally:
        c.stop()
