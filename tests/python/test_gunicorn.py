"""test_gunicorn.py - a real `gunicorn -w 8` serving gunicorn_app.py, whose
one module-level client routes keys, with and without --preload.

What must hold: HTTP answers carry the servers' routes; `clustershm stat`
shows one tender and every process attached (8 workers, plus the master
with --preload); killing the tender worker (gunicorn replaces it) leaves
every worker answering, with one tender.  With --preload the master is the
tender (it connected before forking), so it is stopped (SIGSTOP) for longer
than takeover_timeout first: a worker takes over, and the master, resumed,
follows.

With --preload and seeds given by host name (localhost), every worker's
second client connects after the fork and resolves the name in the worker,
moments after the master resolved it: glibc's getaddrinfo_a state copied by
fork() used to leave such a child unable to resolve anything, so the pool's
tender timed out "resolving 'localhost'".

Invariants: gunicorn runs this interpreter (the venv's) on a free port of
8400-8499 and is stopped at teardown; every wait has a deadline.
"""
import os
import random
import signal
import threading
import time

import pytest

from helpers import Gunicorn, alive, stat
from support import shm
from support.cluster import FRESH_BASES, RedisCluster, free_block
from support.procs import wait_for

WORKERS = Gunicorn.WORKERS


def settled(g, key, master=None):
    """The tender's pid once every current worker answered, the segment names
    one tender that is the master (preload) or the one worker saying
    "tender", and every process is attached; None before."""
    statuses = g.statuses()
    s = stat(key)
    tenders = [pid for pid, st in statuses.items() if st["role"] == "tender"]
    expected = [] if s["tender_pid"] == master else [s["tender_pid"]]
    if tenders != expected or s["attached"] < WORKERS + (1 if master else 0):
        return None
    return s["tender_pid"]


def check_routes(g, keys, truth):
    # Several requests at once reach several workers.
    answers = {}

    def ask():
        a = g.routes(keys)
        answers[a["pid"]] = a["routes"]

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers
    for pid, routes in answers.items():
        assert routes == truth, "worker %d routes differ from the servers" % pid


@pytest.mark.parametrize("preload", [False, True], ids=["no-preload", "preload"])
def test_gunicorn_workers_share_one_tender(preload, tmp_path, redis_url, shm_key, redis_keys,
                                           redis_truth):
    keys, truth = redis_keys[:400], redis_truth[1][:400]
    g = Gunicorn(tmp_path, redis_url, shm_key, preload)
    try:
        master = g.proc.pid if preload else None
        tender = wait_for(lambda: settled(g, shm_key, master), 30, "one tender in the pool")
        check_routes(g, keys, truth)
        if preload:
            # The master connected before forking: it tends, and its forked
            # workers follow.
            assert tender == master
            os.kill(master, signal.SIGSTOP)
            try:
                tender = wait_for(lambda: stat(shm_key)["tender_pid"] in g.workers() and
                                  stat(shm_key)["tender_pid"], 30,
                                  "a worker to take over from the stopped master")
            finally:
                os.kill(master, signal.SIGCONT)
            follows = wait_for(lambda: settled(g, shm_key, master), 30,
                               "the resumed master to follow")
            assert follows == tender
        assert tender in g.workers()

        os.kill(tender, signal.SIGKILL)
        wait_for(lambda: tender not in g.workers() and len(g.workers()) == WORKERS, 30,
                 "gunicorn to replace the killed worker")
        # Every worker answers (the new one included) and one process tends.
        new = wait_for(lambda: settled(g, shm_key, master), 30, "a new tender")
        assert new != tender and alive(new) and new in g.workers() + [master]
        check_routes(g, keys, truth)
    except BaseException:
        print(g.log())
        raise
    finally:
        rc = g.stop()
    assert rc == 0, g.log()
    # The workers' and the master's exits closed their clients, and the last
    # one to detach removed the segment.
    assert shm.info(shm_key) is None


def fresh(status):
    return not status["stale"] and status["age"] < 5 and not status["last_error"]


def all_fresh(g, path="/status"):
    """{pid: status} when every current worker's client at path is fresh."""
    sts = g.statuses(path=path)
    return sts if all(fresh(st) for st in sts.values()) else None


def test_gunicorn_preload_resolves_host_names_after_fork(tmp_path, redis_url, shm_keys):
    url = redis_url.replace("127.0.0.1", "localhost")
    assert "localhost" in url
    key, late_key = shm_keys(0), shm_keys(1)
    g = Gunicorn(tmp_path, url, key, preload=True, env={"CSHM_TEST_LATE_KEY": str(late_key)})
    try:
        master = g.proc.pid
        wait_for(lambda: settled(g, key, master), 30, "one tender in the pool")
        # Each worker connects its late client now, resolving localhost in a
        # process forked right after the master resolved it.
        late = g.statuses(path="/late")
        assert all(fresh(st) for st in late.values()), late
        assert sorted(st["role"] for st in late.values()).count("tender") == 1, late
        # Whoever holds the role is killed at random times; gunicorn forks a
        # replacement each time, and every worker's map stays fresh.
        rng = random.Random(8)
        for _ in range(4):
            time.sleep(rng.uniform(0, 1))
            tender = stat(late_key)["tender_pid"]
            assert tender in g.workers()
            os.kill(tender, signal.SIGKILL)
            wait_for(lambda: tender not in g.workers() and len(g.workers()) == WORKERS, 30,
                     "gunicorn to replace the killed worker")
            wait_for(lambda: all_fresh(g, "/late"), 30,
                     "every worker's late client to be fresh again")
            new = stat(late_key)["tender_pid"]
            assert new != tender and new in g.workers(), (new, tender)
        # The preloaded client too: its role moves off the master to a worker
        # (which tends with its own resolver) and the map stays fresh.
        os.kill(master, signal.SIGSTOP)
        try:
            wait_for(lambda: stat(key)["tender_pid"] in g.workers(), 30,
                     "a worker to take over from the stopped master")
        finally:
            os.kill(master, signal.SIGCONT)
        sts = wait_for(lambda: all_fresh(g), 30, "every worker's preloaded client to be fresh")
        assert len(sts) == WORKERS
    except BaseException:
        print(g.log())
        raise
    finally:
        rc = g.stop()
    assert rc == 0, g.log()


def test_gunicorn_pool_grows_without_restart_or_failed_request(tmp_path, shm_key, redis_keys):
    """A pool whose segment (max_nodes=8) is outgrown by a cluster grown from
    6 to 9 nodes with `redis-cli --cluster add-node` and a reshard, while
    requests keep coming: every worker moves to the grown segment (16)
    without a restart (same pids), no request fails, and the routes are the
    servers'."""
    c = RedisCluster(free_block(FRESH_BASES, 6), tmp_path / "cluster", replicas=1).start()
    g = None
    try:
        keys = redis_keys[:300]
        g = Gunicorn(tmp_path, c.url(), shm_key, False, env={"CSHM_TEST_MAX_NODES": "8"})
        wait_for(lambda: settled(g, shm_key), 30, "one tender in the pool")
        pids = g.workers()
        failures, served = [], [0]
        stop = threading.Event()

        def hammer():
            while not stop.is_set():
                try:
                    g.routes(keys[:20])
                    served[0] += 1
                except Exception as e:  # noqa: BLE001 - every failure counts
                    failures.append(repr(e))

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            c.add_nodes(free_block(FRESH_BASES, 3), masters=3)
            grown = shm.chain_key(shm_key, 1)

            def moved():
                sts = g.statuses()
                return len(sts) >= WORKERS and all(
                    s["key"] == grown and s["max_nodes"] == 16 and s["nodes"] == 9
                    for s in sts.values())
            wait_for(moved, 30, "every worker on the grown segment")
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        assert not failures, failures[:5]
        assert served[0] > 0
        assert g.workers() == pids, "workers were restarted"
        wait_for(lambda: shm.info(shm_key) is None, 10, "the old segment to go")
        slots = c.keyslots(keys)
        owners = c.slot_owners()
        check_routes(g, keys, [owners[s] for s in slots])
    except BaseException:
        if g is not None:
            print(g.log())
        raise
    finally:
        if g is not None:
            g.stop()
        c.stop()
