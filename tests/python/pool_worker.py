"""pool_worker.py - what the multiprocessing pools of test_pool.py run.

Invariants: one module-level client per worker process (CLIENT), made by
the parent before the pool forks (fork start method) or by the initializer
(spawn, or a worker forked after the parent closed its own); every task
waits at a barrier as wide as the pool, so one round of tasks reaches every
worker exactly once; the barrier wait is bounded.
"""
import os
import time

import clustershm

CLIENT = None
BARRIER = None


def init(url, options, barrier):
    global CLIENT, BARRIER
    BARRIER = barrier
    if CLIENT is None:
        CLIENT = clustershm.Client(url, **options)
    CLIENT.connect()        # inherited and connected: nothing to do
    # A fork child starts its own background thread at its first call; a
    # worker without one could not take over.
    CLIENT.status()


def report(keys):
    """One worker's status and its routes of keys."""
    BARRIER.wait(60)
    return os.getpid(), CLIENT.status(), ["%s:%d" % CLIENT.route(k) for k in keys]


def hold_if_tender(seconds):
    """The tender sleeps (to be killed by the test) while holding none of
    the pool's locks; the others return their pid at once."""
    BARRIER.wait(60)
    if CLIENT.status()["role"] == "tender":
        time.sleep(seconds)
    return os.getpid()
