"""test_pool.py - multiprocessing pools of 16 workers (fork and spawn) that
share one tender: exactly one tender, every worker routes like the servers,
and when the tender worker is killed another process takes over.

Invariants: a round of 16 tasks reaches each of the 16 workers once (the
tasks meet at a barrier); the tender worker is killed while it runs a task,
never while idle (an idle worker may hold the pool's queue lock); the pool
is terminated at teardown, also on failure; the truth comes from CLUSTER
KEYSLOT / SHARDS.
"""
import multiprocessing
import os
import signal
import threading

import pytest

import clustershm
import pool_worker
from support.procs import wait_for

WORKERS = 16
OPTIONS = dict(tend_interval=0.2, takeover_timeout=30)


def one_round(pool, keys):
    """[(pid, status, routes)] of every worker."""
    answers = pool.map(pool_worker.report, [keys] * WORKERS, chunksize=1)
    assert len({pid for pid, _, _ in answers}) == WORKERS
    return answers


def tenders(answers):
    return [(pid, s) for pid, s, _ in answers if s["role"] == "tender"]


def settled(pool, keys, extra=()):
    """A round in which exactly one process is the tender and every worker
    agrees on its pid and epoch; extra: statuses of other processes."""
    answers = one_round(pool, keys)
    statuses = [s for _, s, _ in answers] + list(extra)
    roles = [s["role"] for s in statuses]
    assert roles.count("tender") <= 1, "two tenders: %s" % roles
    owners = {(s["owner_pid"], s["epoch"]) for s in statuses}
    if roles.count("tender") == 1 and len(owners) == 1:
        return answers
    return None


def shutdown(pool):
    """terminate() blocks for ever on the queue lock if a worker died holding
    it: bounded here, and the workers are killed if it does not return."""
    t = threading.Thread(target=pool.terminate, daemon=True)
    t.start()
    t.join(30)
    for child in multiprocessing.active_children():
        child.kill()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_of_sixteen_shares_one_tender(method, redis_url, shm_key, redis_keys, redis_truth):
    keys = redis_keys[:500]
    truth = redis_truth[1][:500]
    ctx = multiprocessing.get_context(method)
    options = dict(OPTIONS, key=shm_key)
    parent = None
    if method == "fork":
        # Connected before the pool forks: every worker inherits it.
        parent = clustershm.connect(redis_url, **options)
        pool_worker.CLIENT = parent
    barrier = ctx.Barrier(WORKERS)
    pool = ctx.Pool(WORKERS, initializer=pool_worker.init, initargs=(redis_url, options, barrier))
    try:
        if parent is not None:
            # The parent connected first, so it tends; its close hands the
            # role to a worker.
            answers = wait_for(lambda: settled(pool, keys, [parent.status()]), 30,
                               "one tender among the parent and its workers")
            assert parent.status()["role"] == "tender"
            assert all(s["role"] == "follower" for _, s, _ in answers)
            parent.close()
        answers = wait_for(lambda: settled(pool, keys), 30, "one tender among the workers")
        for pid, s, routes in answers:
            assert routes == truth, "worker %d routes differ from the servers" % pid
            assert s["pid"] == pid and s["key"] == shm_key
        [(tender, before)] = tenders(answers)

        # Killed inside a task: an idle worker may hold the pool's task-queue
        # lock, and killing it then would wedge the pool (not ours to test).
        held = [pool.apply_async(pool_worker.hold_if_tender, (120,)) for _ in range(WORKERS)]
        wait_for(lambda: sum(r.ready() for r in held) == WORKERS - 1, 60,
                 "every worker but the tender to return")
        assert tender not in [r.get() for r in held if r.ready()]
        os.kill(tender, signal.SIGKILL)
        # The pool replaces the dead worker; one of the others (or the new
        # one) takes over at once (the kernel released the dead one's lock).

        def new_tender():
            a = settled(pool, keys)
            if a is None:
                return None
            [(pid, s)] = tenders(a)
            return a if pid != tender and s["epoch"] > before["epoch"] else None

        answers = wait_for(new_tender, 30, "another worker to take over from %d" % tender)
        assert tender not in [pid for pid, _, _ in answers]
        for pid, s, routes in answers:
            assert routes == truth, "worker %d routes differ after the takeover" % pid
    finally:
        shutdown(pool)
        pool_worker.CLIENT = None
        if parent is not None:
            parent.close()
