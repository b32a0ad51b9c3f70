"""test_redis_dropin.py - clustershm.redis.RedisCluster and its asyncio
twin, the drop-ins for redis-py's RedisCluster, against real Redis Clusters.

What must hold: they are redis-py's RedisCluster (isinstance; commands,
MGET on one slot, pipelines, pubsub work); a process whose host already
has a tender makes one without sending any CLUSTER * or COMMAND * to the
servers; after a slot moves (MOVED) commands keep working, and the servers
see a handful of CLUSTER SHARDS (the one tender's, debounced), no CLUSTER
SLOTS; after a master is killed, commands fail only until the failover and
work again, and the servers never see a worker ask for the topology;
`gunicorn -w 4 --preload` with the drop-in answers from every worker; the
asyncio drop-in waits for a newer map off the event loop.

Invariants: what the servers were asked is INFO commandstats summed over
the live nodes after CONFIG RESETSTAT, never the library's own account;
the session cluster is left as it was (moved slots move back); the test
that kills a master has a cluster of its own (helpers.FRESH_PORTS); every
wait has a deadline.
"""
import asyncio
import collections
import contextlib
import json
import os
import threading
import time

import pytest

redis = pytest.importorskip("redis")
import redis.asyncio.cluster  # noqa: E402
import redis.cluster  # noqa: E402

import clustershm  # noqa: E402
from clustershm.redis import RedisCluster  # noqa: E402
from clustershm.redis.asyncio import RedisCluster as AsyncRedisCluster  # noqa: E402
from helpers import FRESH_PORTS, Gunicorn, python, slot_moved  # noqa: E402
from support.cluster import RedisCluster as Servers  # noqa: E402
from support.resp import text  # noqa: E402
from support.procs import wait_for  # noqa: E402

# A 60 s tend interval: within a test, the tender tends only when asked.
SLOW = dict(tend_interval=60, takeover_timeout=120)
HANG = 60


def tender_sees(tender, key, owner):
    """Asks the tender for maps until its route of key is owner.  Not one
    refresh() and True: a tend asked for earlier (the refreshes of the
    drop-ins) may have published the change before the call."""
    wait_for(lambda: tender.refresh(timeout=0.5) or "%s:%d" % tender.route(key) == owner,
             HANG, "the tender's map to give %s to %s" % (key, owner))


# What a client asks to learn the topology and the commands.
TOPOLOGY = {"cluster|slots", "cluster|shards", "cluster|nodes", "cluster|info", "command",
            "command|docs", "command|info", "command|count", "command|list", "command|getkeys"}


def stat_name(args):
    """The INFO commandstats name of a command (CLUSTER SHARDS: cluster|shards)."""
    words = [a.decode() if isinstance(a, bytes) else str(a) for a in args[:2]]
    if words[0].upper() in ("CLUSTER", "COMMAND", "CONFIG", "CLIENT") and len(words) > 1:
        return ("%s|%s" % tuple(words)).lower()
    return words[0].lower()


@contextlib.contextmanager
def servers_asked(cluster):
    """Yields a dict, filled when the block ends, of the TOPOLOGY commands
    the live nodes served within the block (INFO commandstats after CONFIG
    RESETSTAT, summed over them), less the ones the test itself sent
    through cluster.call (its waits for a settled cluster); zero counts
    left out."""
    own = collections.Counter()
    call = cluster.call

    def counting(port, *args, **kwargs):
        own[stat_name(args)] += 1
        return call(port, *args, **kwargs)

    asked = {}
    cluster.on_every_node("CONFIG", "RESETSTAT")
    cluster.call = counting
    try:
        yield asked
        for prefix in ("cmdstat_cluster|", "cmdstat_command"):
            _, per_command = cluster.command_calls(prefix)
            for name, n in per_command.items():
                name = name[len("cmdstat_"):]
                if name in TOPOLOGY and n - own[name] > 0:
                    asked[name] = n - own[name]
    finally:
        del cluster.call


def calls(cluster, name):
    total, _ = cluster.command_calls("cmdstat_%s:" % name)
    return total


async def aclose(rc):
    # redis-py 5.0.0's asyncio client has close(); later ones aclose().
    await (rc.aclose() if hasattr(rc, "aclose") else rc.close())


# ---- the blocking drop-in --------------------------------------------------


def test_commands_pipelines_and_pubsub(cluster, redis_url, shm_keys, redis_keys, redis_truth):
    shm_key = shm_keys(0)
    with RedisCluster(redis_url, key=shm_key, decode_responses=True, **SLOW) as rc:
        assert isinstance(rc, redis.cluster.RedisCluster)
        assert isinstance(rc.clustershm, clustershm.Client)
        assert rc.clustershm.status()["role"] == "tender"
        assert rc.set("dropin:a", "1") is True
        assert rc.get("dropin:a") == "1"
        assert rc.incrby("dropin:n", 5) == 5 and rc.delete("dropin:n") == 1
        rc.hset("dropin:h", mapping={"f": "v"})
        assert rc.hgetall("dropin:h") == {"f": "v"}
        assert rc.eval("return redis.call('GET', KEYS[1])", 1, "dropin:a") == "1"
        assert rc.mset({"{dropin}x": "x", "{dropin}y": "y"}) is True
        assert rc.mget("{dropin}x", "{dropin}y") == ["x", "y"]

        # A pipeline over keys of every master.
        keys = ["dropin:p%d" % i for i in range(60)]
        pipe = rc.pipeline()
        for i, k in enumerate(keys):
            pipe.set(k, i)
        assert pipe.execute() == [True] * len(keys)
        pipe = rc.pipeline()
        for k in keys:
            pipe.get(k)
        assert pipe.execute() == [str(i) for i in range(len(keys))]

        # Pubsub through the node redis-py picks.
        ps = rc.pubsub()
        ps.subscribe("dropin-channel")
        assert wait_for(lambda: ps.get_message(timeout=0.5), 10, "the subscription")["type"] \
            == "subscribe"
        assert rc.publish("dropin-channel", "hi") >= 1
        msg = wait_for(lambda: ps.get_message(timeout=0.5), 10, "the message")
        assert (msg["type"], msg["data"]) == ("message", "hi")
        ps.close()

        # redis-py's tables are the segment's map, which is the servers'.
        assert {(n.host, n.port) for n in rc.get_nodes()} == \
            {(n["host"], n["port"]) for n in rc.clustershm.nodes()}
        assert sorted(n.port for n in rc.get_primaries()) == \
            sorted(p for p, _, _ in cluster.masters())
        for k, owner in list(zip(redis_keys, redis_truth[1]))[:300]:
            node = rc.get_node_from_key(k)
            assert "%s:%d" % (node.host, node.port) == owner

    # from_url, host/port and startup_nodes are redis-py's ways in, too
    # (other seeds are another identity: another key).
    first = cluster.live_ports[0]
    with RedisCluster.from_url(redis_url, key=shm_key, **SLOW) as rc:
        assert rc.get("dropin:a") == b"1"
    with RedisCluster(host="127.0.0.1", port=first, key=shm_keys(1), **SLOW) as rc:
        assert rc.get("dropin:a") == b"1"
    nodes = [redis.cluster.ClusterNode("127.0.0.1", p) for p in cluster.live_ports[:2]]
    with RedisCluster(startup_nodes=nodes, key=shm_keys(2), **SLOW) as rc:
        assert rc.get("dropin:a") == b"1"
    with pytest.raises(clustershm.ConfigError):
        RedisCluster("http://127.0.0.1:%d" % first, key=shm_key)
    with pytest.raises(clustershm.ConfigError):
        RedisCluster(key=shm_key)


# What a worker of a host with a tender runs: both drop-ins, a few
# commands of each.  Prints a JSON line of what it saw.
WORKER = r'''
import asyncio, json
import redis
from clustershm.redis import RedisCluster
from clustershm.redis.asyncio import RedisCluster as AsyncRedisCluster
url, key, options = %r, %r, %r
rc = RedisCluster(url, key=key, decode_responses=True, **options)
seen = {"role": rc.clustershm.status()["role"], "version": redis.__version__}
rc.set("worker:a", "1")
p = rc.pipeline(); p.set("worker:b", "2"); p.get("worker:b")
seen["sync"] = [rc.get("worker:a"), rc.mget("{worker}x", "{worker}y"), p.execute()]
rc.close()

async def main():
    a = AsyncRedisCluster(url, key=key, decode_responses=True, **options)
    await a.set("worker:c", "3")
    p = a.pipeline(); p.set("worker:d", "4"); p.get("worker:d")
    seen["async"] = [await a.get("worker:c"), await p.execute()]
    await (a.aclose() if hasattr(a, "aclose") else a.close())

asyncio.run(main())
print(json.dumps(seen))
'''


def test_a_worker_of_a_host_with_a_tender_asks_the_servers_nothing(cluster, redis_url,
                                                                   shm_key, clients):
    tender = clients(redis_url, key=shm_key, **SLOW)
    tender.connect()
    # The measure: plain redis-py asks for the topology and the commands.
    with servers_asked(cluster) as baseline:
        plain = redis.cluster.RedisCluster(host="127.0.0.1", port=cluster.live_ports[0])
        plain.get("worker:a")
        plain.close()
    assert baseline.get("cluster|slots", 0) >= 1 and baseline.get("command", 0) >= 1, baseline

    with servers_asked(cluster) as asked:
        child = python(WORKER % (redis_url, shm_key, SLOW))
        out, err = child.communicate(timeout=HANG)
        assert child.returncode == 0, err.decode()
        gets = calls(cluster, "get")
    seen = json.loads(out.decode().strip().splitlines()[-1])
    assert seen["role"] == "follower"
    assert seen["sync"] == ["1", [None, None], [True, "2"]]
    assert seen["async"] == ["3", [True, "4"]]
    print("plain redis-py %s: %s; the drop-ins: %s" % (redis.__version__, baseline, asked))
    assert asked == {}, asked
    # It did talk to the servers: the commands themselves.
    assert gets == 4


def test_moved_waits_for_the_tenders_new_map(cluster, redis_url, shm_key, clients):
    tender = clients(redis_url, key=shm_key, **SLOW)
    tender.connect()
    # No following between commands: only MOVED can bring the new map.
    rc = RedisCluster(redis_url, key=shm_key, decode_responses=True, follow_interval=3600,
                      **SLOW)
    try:
        key = "dropin:moved"
        rc.set(key, "before")
        [slot] = cluster.keyslots([key])
        generation = tender.status()["generation"]
        with slot_moved(cluster, slot) as (old, new), servers_asked(cluster) as asked:
            # The old master answers MOVED; the tender (which tends every
            # 60 s) is asked for a map, publishes it, redis-py rebuilds its
            # tables from it and retries.
            assert rc.get(key) == "before"
            assert tender.status()["generation"] > generation
            node = rc.get_node_from_key(key)
            assert "%s:%d" % (node.host, node.port) == new
            assert rc.set(key, "after") is True and rc.get(key) == "after"
        print("after one MOVED the servers saw", asked)
        # The tender's tend only (two if the first one asked saw a node
        # that had not heard of the move yet).
        assert set(asked) <= {"cluster|shards"} and asked.get("cluster|shards", 0) <= 3, asked
    finally:
        rc.close()


def test_the_tables_follow_a_newer_map_without_an_error(cluster, redis_url, shm_key, clients):
    tender = clients(redis_url, key=shm_key, **SLOW)
    tender.connect()
    rc = RedisCluster(redis_url, key=shm_key, follow_interval=0, **SLOW)
    try:
        key = "dropin:follow"
        [slot] = cluster.keyslots([key])
        with slot_moved(cluster, slot) as (old, new):
            tender_sees(tender, key, new)
            # The next command, whatever its key, rebuilds the tables first.
            node = rc.get_node_from_key(key)
            assert "%s:%d" % (node.host, node.port) == old
            rc.ping()
            node = rc.get_node_from_key(key)
            assert "%s:%d" % (node.host, node.port) == new
        tender_sees(tender, key, old)
        rc.ping()
        node = rc.get_node_from_key(key)
        assert "%s:%d" % (node.host, node.port) == old
    finally:
        rc.close()


# A worker that keeps reading keys (values set by the test) until the stop
# file appears; prints its reads and errors as a JSON line.
READER = r'''
import json, os, sys
import redis
from clustershm.redis import RedisCluster
url, key, options, stop, want = %r, %r, %r, %r, %r
rc = RedisCluster(url, key=key, decode_responses=True, follow_interval=3600, **options)
reads, wrong, errors = 0, [], []
print("ready", flush=True)
while not os.path.exists(stop):
    for k, v in want.items():
        try:
            got = rc.get(k)
        except redis.exceptions.RedisError as e:
            errors.append(repr(e))
            continue
        reads += 1
        if got != v:
            wrong.append((k, got))
rc.close()
print(json.dumps({"reads": reads, "wrong": wrong[:5], "errors": errors[:5]}))
'''


def test_a_slot_moving_under_four_workers_costs_a_handful_of_tends(cluster, redis_url,
                                                                  shm_key, clients, tmp_path):
    tender = clients(redis_url, key=shm_key, **SLOW)
    tender.connect()
    rc = RedisCluster(redis_url, key=shm_key, decode_responses=True, **SLOW)
    want = {"{movers}%d" % i: "v%d" % i for i in range(20)}
    want.update({"dropin:other%d" % i: "o%d" % i for i in range(20)})
    for k, v in want.items():
        rc.set(k, v)
    rc.close()
    [slot] = cluster.keyslots(["{movers}0"])
    stop = str(tmp_path / "stop")
    workers = [python(READER % (redis_url, shm_key, SLOW, stop, want)) for _ in range(4)]
    try:
        for w in workers:
            assert w.stdout.readline().strip() == b"ready"
        tends = tender.status()["tends"]
        start = time.monotonic()
        with servers_asked(cluster) as asked:
            with slot_moved(cluster, slot):
                time.sleep(0.5)
            # ... and back (slot_moved restores it): two moves under load.
            time.sleep(0.5)
        elapsed = time.monotonic() - start
        tends = tender.status()["tends"] - tends
    finally:
        open(stop, "w").close()
    results = []
    for w in workers:
        out, err = w.communicate(timeout=HANG)
        assert w.returncode == 0, err.decode()
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    print("4 workers, a slot moved there and back in %.1f s: the servers saw %s (%d tends); "
          "workers %s" % (elapsed, asked, tends, results))
    for r in results:
        assert r["reads"] > 0 and r["wrong"] == [] and r["errors"] == [], r
    # The workers asked the servers nothing; every CLUSTER SHARDS is one of
    # the tender's tends, which their refreshes asked for at most once per
    # min_refresh_interval (0.05 s) between them.
    assert set(asked) <= {"cluster|shards"}, asked
    assert asked.get("cluster|shards", 0) <= tends + 1, (asked, tends)
    assert tends <= 2 + elapsed / 0.05, (tends, elapsed)


# A worker that SETs and GETs keys until the stop file appears, and prints
# when each of its operations failed (CLOCK_MONOTONIC is the host's).
WRITER = r'''
import json, os, time
import redis
from clustershm.redis import RedisCluster
url, key, options, stop, keys = %r, %r, %r, %r, %r
rc = RedisCluster(url, key=key, decode_responses=True, **options)
ok, failed, kinds = [], [], set()
print("ready", flush=True)
while not os.path.exists(stop):
    for k in keys:
        t = time.monotonic()
        try:
            rc.set(k, k)
            good = rc.get(k) == k
        except redis.exceptions.RedisError as e:
            kinds.add(type(e).__name__)
            good = False
        (ok if good else failed).append(t)
rc.close()
print(json.dumps({"ok": len(ok), "last_ok": max(ok or [0]), "failed": len(failed),
                  "first_failed": min(failed or [0]), "last_failed": max(failed or [0]),
                  "kinds": sorted(kinds)}))
'''


def test_a_master_killed_fails_briefly_and_no_worker_asks_the_servers(tmp_path, shm_key,
                                                                       clients):
    with Servers(FRESH_PORTS, tmp_path / "redis", node_timeout_ms=2000) as fresh:
        options = dict(tend_interval=1.0, takeover_timeout=30)
        tender = clients(fresh.url(3), key=shm_key, **options)
        tender.connect()
        keys = ["killed:%d" % i for i in range(30)]
        victim = fresh.masters()[0][0]
        [heir] = fresh.replica_of(victim)
        owners = fresh.slot_owners()
        assert any(owners[s] == "127.0.0.1:%d" % victim for s in fresh.keyslots(keys))
        stop = str(tmp_path / "stop")
        workers = [python(WRITER % (fresh.url(3), shm_key, options, stop, keys))
                   for _ in range(4)]
        try:
            for w in workers:
                assert w.stdout.readline().strip() == b"ready"
            time.sleep(0.5)
            tends = tender.status()["tends"]
            with servers_asked(fresh) as asked:
                killed_at = time.monotonic()
                fresh.kill_node(victim)
                # The failover: the replica is master and every live node
                # says so.
                wait_for(lambda: text(fresh.call(heir, "ROLE")[0]) == "master", 60,
                         "the replica of the killed master to take over")
                fresh.wait_settled(60)
                wait_for(lambda: "127.0.0.1:%d" % victim not in fresh.slot_owners(), 60,
                         "no slot owned by the killed master")
                settled_at = time.monotonic()
                time.sleep(2.0)
                elapsed = time.monotonic() - killed_at
            tends = tender.status()["tends"] - tends
        finally:
            open(stop, "w").close()
        results = []
        for w in workers:
            out, err = w.communicate(timeout=HANG)
            assert w.returncode == 0, err.decode()
            results.append(json.loads(out.decode().strip().splitlines()[-1]))
        print("master killed, failover after %.1f s; over %.1f s the servers saw %s (%d tends); "
              "workers: %s" % (settled_at - killed_at, elapsed, asked, tends, results))
        for r in results:
            # Failures only between the kill and shortly after the failover
            # (the tender's next tend, the workers' next command); then
            # every command works again.
            if r["failed"]:
                assert r["first_failed"] >= killed_at - 0.1, r
                assert r["last_failed"] <= settled_at + 2.0, r
            assert r["last_ok"] > max(r["last_failed"], settled_at), r
        # Only the tender asked for the map: never CLUSTER SLOTS/NODES or
        # COMMAND, and its tends were at most one per min_refresh_interval
        # (0.05 s) however many workers failed and asked, besides one per
        # tend_interval (1 s).
        assert set(asked) <= {"cluster|shards"}, asked
        assert asked.get("cluster|shards", 0) <= tends + 1, (asked, tends)
        assert tends <= 2 + elapsed / 0.05 + elapsed / 1.0, (tends, elapsed)
        tender.close()          # before its cluster goes


def test_gunicorn_preload_workers_answer_set_and_get(tmp_path, cluster, redis_url, shm_key):
    g = None
    try:
        with servers_asked(cluster) as asked:
            g = Gunicorn(tmp_path, redis_url, shm_key, preload=True,
                         app="gunicorn_redis_app:app", workers=4)
            statuses = g.statuses()
            assert sorted(statuses) == g.workers()
            # The master connected first (--preload): it tends, the workers
            # follow.
            assert all(s["role"] == "follower" for s in statuses.values()), statuses
            answers = g.statuses(path="/setget")
            assert len(answers) == 4
            for pid, a in answers.items():
                assert a["ok"], (pid, a)
        tends = g.statuses()[g.workers()[0]]["tends"]
        print("gunicorn -w 4 --preload (master %d): the servers saw %s, %d tends" % (
            g.proc.pid, asked, tends))
        assert set(asked) <= {"cluster|shards"}, asked
        # Every CLUSTER SHARDS is one of the tender's tends.
        assert asked.get("cluster|shards", 0) <= tends + 1, (asked, tends)
    except BaseException:
        if g is not None:
            print(g.log())
        raise
    finally:
        rc = g.stop() if g is not None else 0
    assert rc == 0, g.log()


# ---- the asyncio drop-in ---------------------------------------------------


def test_asyncio_commands_moved_and_a_wait_off_the_loop(cluster, redis_url, shm_key, clients):
    tender = clients(redis_url, key=shm_key, **SLOW)
    tender.connect()

    async def main():
        rc = AsyncRedisCluster(redis_url, key=shm_key, decode_responses=True,
                               follow_interval=0, **SLOW)
        try:
            # Its first command initializes it: from the segment and the
            # shipped command table.
            with servers_asked(cluster) as asked:
                assert isinstance(rc, redis.asyncio.cluster.RedisCluster)
                assert await rc.set("adropin:a", "1") is True
                assert await rc.get("adropin:a") == "1"
                assert await rc.mset({"{adropin}x": "x", "{adropin}y": "y"}) is True
                assert await rc.mget("{adropin}x", "{adropin}y") == ["x", "y"]
                pipe = rc.pipeline()
                for i in range(30):
                    pipe.set("adropin:p%d" % i, i)
                assert await pipe.execute() == [True] * 30
            assert asked == {}, asked

            # redis-py rebuilding from the map it holds (as after its own
            # aclose() on an error) waits for a newer one (none comes: the
            # cluster is unchanged) in a thread, while the event loop goes on.
            await aclose(rc)
            ticks = 0
            done = asyncio.Event()

            async def ticker():
                nonlocal ticks
                while not done.is_set():
                    ticks += 1
                    await asyncio.sleep(0.01)

            task = asyncio.ensure_future(ticker())
            start = time.monotonic()
            await rc.initialize()
            waited = time.monotonic() - start
            done.set()
            await task
            assert waited >= 0.5 and ticks >= 20, (waited, ticks)

            # MOVED: redis-py's own redirect, then the tables follow the
            # tender's new map.
            key = "adropin:moved"
            await rc.set(key, "v")
            [slot] = cluster.keyslots([key])
            tends = tender.status()["tends"]
            generation = tender.status()["generation"]
            with slot_moved(cluster, slot) as (old, new), servers_asked(cluster) as asked:
                assert await rc.get(key) == "v"
                # The MOVED asked the tender (which tends every 60 s) for the
                # new map.
                wait_for(lambda: tender.status()["generation"] > generation, 10,
                         "the tender to publish the map the MOVED asked for")
                assert "%s:%d" % tender.route(key) == new
                assert await rc.set(key, "w") is True
                # The next command follows it.
                await rc.ping()
                node = rc.get_node_from_key(key)
                assert "%s:%d" % (node.host, node.port) == new
                tends = tender.status()["tends"] - tends
            assert await rc.get(key) == "w"
            print("asyncio drop-in: the servers saw", asked, "the tender tended", tends)
            # Only the tender's tend (two if the first one asked saw a node
            # that had not heard of the move yet).
            assert set(asked) <= {"cluster|shards"}, asked
            assert asked.get("cluster|shards", 0) <= min(tends + 1, 3), (asked, tends)
        finally:
            await aclose(rc)

    asyncio.run(main())


def test_asyncio_clients_of_one_process_ask_the_servers_nothing(cluster, redis_url, shm_key,
                                                                clients):
    # Four asyncio clients of one process, used concurrently.
    tender = clients(redis_url, key=shm_key, **SLOW)
    tender.connect()

    async def main():
        rcs = [AsyncRedisCluster(redis_url, key=shm_key, **SLOW) for _ in range(4)]
        try:
            with servers_asked(cluster) as asked:
                await asyncio.gather(*(rc.set("adropin:many%d" % i, i)
                                       for i, rc in enumerate(rcs)))
                got = await asyncio.gather(*(rc.get("adropin:many%d" % i)
                                             for i, rc in enumerate(rcs)))
            assert got == [str(i).encode() for i in range(4)]
            assert asked == {}, asked
        finally:
            for rc in rcs:
                await aclose(rc)

    asyncio.run(main())
