"""test_refresh.py - Client.refresh(wait, timeout), the min_refresh_interval
option, the segment's timing (adopted by every process of a segment) and
the status() keys that came with them, against the suite's Redis Cluster.

Invariants: where a slot lives comes from the servers (CLUSTER KEYSLOT and
CLUSTER SHARDS through support.cluster), never from clustershm; the session
cluster is left as it was (a moved slot is moved back); the only wall-clock
bound is a generous one that tells a hang from a wait.
"""
import logging
import threading
import time

import pytest

import clustershm
from helpers import slot_moved
from support.procs import wait_for

FAST = dict(tend_interval=0.2, takeover_timeout=5)
# A 60 s tend interval: within a test, only a refresh makes the tender tend.
SLOW = dict(tend_interval=60, takeover_timeout=120)
HANG = 30           # seconds: a refresh that has not returned by then is hung


def test_refresh_without_wait_asks_and_returns_false(clients, redis_url, shm_key):
    c = clients(redis_url, key=shm_key, **SLOW)
    c.connect()
    tends = c.status()["tends"]
    assert c.refresh(wait=False) is False
    assert c.refresh(False) is False
    wait_for(lambda: c.status()["tends"] > tends, 10, "a tend after refresh(wait=False)")


def test_refresh_of_an_unchanged_cluster_returns_false_at_the_timeout(clients, redis_url,
                                                                      shm_key):
    c = clients(redis_url, key=shm_key, **SLOW)
    c.connect()
    tends = c.status()["tends"]
    generation = c.status()["generation"]
    start = time.monotonic()
    assert c.refresh(timeout=0.3) is False
    assert c.refresh(True, 0.2) is False
    assert c.refresh(True, 0) is False
    assert c.refresh(wait=True, timeout=1) is False
    assert time.monotonic() - start < HANG
    # It asked (the tender tended), and the map did not change.
    s = c.status()
    assert s["tends"] > tends and s["generation"] == generation


def test_refresh_after_a_slot_moved_returns_true_and_routes_to_the_new_master(
        clients, cluster, redis_url, shm_key):
    tender = clients(redis_url, key=shm_key, **SLOW)
    tender.connect()
    follower = clients(redis_url, key=shm_key, **SLOW)
    follower.connect()
    assert follower.status()["role"] == "follower"
    key = b"refresh:moved"
    [slot] = cluster.keyslots([key])
    with slot_moved(cluster, slot) as (old, new):
        # The tender tends every 60 s: it has not seen the move yet.
        assert "%s:%d" % follower.route(key) == old
        assert follower.refresh(timeout=HANG) is True
        assert "%s:%d" % follower.route(key) == new
        assert "%s:%d" % tender.route(key) == new
    # And back, this time asked from the tender's side.
    assert tender.refresh(True, HANG) is True
    assert "%s:%d" % follower.route(key) == old


def test_refresh_never_misses_a_map_published_at_once(clients, cluster, redis_url, shm_key):
    # The tender's own refresh: its thread tends the moment it is asked.
    # The wait must have read the generation it waits past before it asks,
    # or it waits past the new map too, for its whole timeout.
    tender = clients(redis_url, key=shm_key, **SLOW)
    tender.connect()
    key = b"refresh:at-once"
    [slot] = cluster.keyslots([key])
    for _ in range(3):
        with slot_moved(cluster, slot) as (old, new):
            start = time.monotonic()
            assert tender.refresh(timeout=HANG) is True
            assert time.monotonic() - start < HANG / 2
            assert "%s:%d" % tender.route(key) == new
        start = time.monotonic()
        assert tender.refresh(timeout=HANG) is True
        assert time.monotonic() - start < HANG / 2
        assert "%s:%d" % tender.route(key) == old


def test_refresh_arguments(clients, redis_url, shm_key):
    c = clients(redis_url, key=shm_key, **FAST)
    with pytest.raises(clustershm.Error, match="not connected"):
        c.refresh()
    with pytest.raises(clustershm.Error, match="not connected"):
        c.refresh(wait=False)
    c.connect()
    for bad in (-1, -0.001, 3600.5, float("nan"), float("inf"), -float("inf"), 10 ** 400,
                -10 ** 400):
        with pytest.raises(clustershm.ConfigError, match="timeout"):
            c.refresh(timeout=bad)
    with pytest.raises(clustershm.ConfigError, match="timeout"):
        c.refresh(True, float("nan"))
    # wait is a bool: refresh(0.5) is a timeout in the wrong place.
    for bad in (0.5, 1, 0, None, "yes"):
        with pytest.raises(TypeError, match="wait"):
            c.refresh(bad)
    for bad in ("1", None, True, [1]):
        with pytest.raises(TypeError, match="timeout"):
            c.refresh(timeout=bad)
    with pytest.raises(TypeError, match="unexpected keyword argument 'time'"):
        c.refresh(time=1)
    with pytest.raises(TypeError, match="multiple values"):
        c.refresh(True, wait=True)
    with pytest.raises(TypeError, match="at most 2"):
        c.refresh(True, 1.0, 2)
    # The edges of the range are accepted; an int is seconds too.
    assert c.refresh(True, 0) in (True, False)
    assert c.refresh(timeout=1) in (True, False)
    assert c.refresh(wait=False, timeout=5) is False


def test_close_from_another_thread_waits_for_a_running_refresh(redis_url, shm_key):
    c = clustershm.connect(redis_url, key=shm_key, **SLOW)
    started = threading.Event()
    outcome = {}

    def waiter():
        started.set()
        try:
            outcome["result"] = c.refresh(timeout=2)
        except BaseException as e:  # reported below
            outcome["result"] = e

    t = threading.Thread(target=waiter)
    t.start()
    try:
        started.wait(HANG)
        time.sleep(0.3)             # the waiter is inside the core's wait by now
        # Waits for it, then frees the client: freeing it under the waiter
        # would crash this process.
        c.close()
    finally:
        t.join(HANG)
        c.close()
    assert not t.is_alive()
    assert outcome["result"] is False, outcome
    with pytest.raises(clustershm.Error, match="not connected"):
        c.refresh()


def test_refresh_from_many_threads(clients, redis_url, shm_key, redis_keys, redis_truth):
    c = clients(redis_url, key=shm_key, **FAST)
    c.connect()
    errors = []

    def refresher():
        try:
            for _ in range(5):
                assert c.refresh(timeout=0.2) in (True, False)
        except BaseException as e:  # reported below
            errors.append(e)

    def router():
        try:
            for _ in range(3):
                assert ["%s:%d" % c.route(k) for k in redis_keys] == redis_truth[1]
        except BaseException as e:
            errors.append(e)

    threads = ([threading.Thread(target=refresher) for _ in range(4)] +
               [threading.Thread(target=router) for _ in range(2)])
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


def test_refresh_wait_in_a_log_handler_works(redis_url, shm_key):
    # Log handlers run on the core's log delivery thread, never on a
    # client's own background thread, so waiting there for a tend cannot
    # wait for itself: the tender that answers keeps running.
    a = clustershm.connect(redis_url, key=shm_key, **FAST)
    b = clustershm.connect(redis_url, key=shm_key, **FAST)
    seen = []

    class Refresher(logging.Handler):
        def emit(self, record):
            if len(seen) >= 2:
                return
            try:
                seen.append(("nowait", b.refresh(wait=False)))
                seen.append(("wait", b.refresh(timeout=1)))
            except clustershm.Error as e:
                seen.append(("error", e))

    handler = Refresher()
    logger = logging.getLogger("clustershm")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        wait_for(lambda: b.status()["role"] == "follower" and a.status()["role"] == "tender",
                 10, "a to tend and b to follow")
        a.close()           # b's thread takes over and logs it
        wait_for(lambda: len(seen) >= 2, 10, "the takeover's log line")
        assert seen[0] == ("nowait", False), seen
        # The cluster did not change: the wait ends at its timeout, not newer.
        assert seen[1] == ("wait", False), seen
        assert b.status()["role"] == "tender"
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        a.close()
        b.close()


# ---- min_refresh_interval and the segment's timing ---------------------------------


def test_status_reports_the_timing_and_the_tender_counters(clients, redis_url, shm_key):
    c = clients(redis_url, key=shm_key, tend_interval=0.2, takeover_timeout=5,
                min_refresh_interval=0.02)
    c.connect()
    s = c.status()
    for name in ("handoffs", "dead_takeovers", "hung_takeovers", "step_downs",
                 "failures_in_row"):
        assert type(s[name]) is int and s[name] >= 0, name
    for name in ("tend_interval", "takeover_timeout", "min_refresh_interval"):
        assert type(s[name]) is float, name
    assert (s["tend_interval"], s["takeover_timeout"], s["min_refresh_interval"]) == \
        (0.2, 5.0, 0.02)
    assert s["failures_in_row"] == 0 and s["step_downs"] == 0
    assert s["step_down_history"] == []


def test_min_refresh_interval_defaults_to_50_ms(clients, redis_url, shm_key):
    c = clients(redis_url, key=shm_key, **FAST)
    c.connect()
    assert c.status()["min_refresh_interval"] == 0.05
    assert c.status()["tend_interval"] == 0.2


def test_a_second_client_adopts_the_segments_timing(clients, redis_url, shm_key, caplog):
    caplog.set_level(logging.WARNING, logger="clustershm")
    first = clients(redis_url, key=shm_key, tend_interval=0.2, takeover_timeout=5,
                    min_refresh_interval=0.02)
    first.connect()
    second = clients(redis_url, key=shm_key, tend_interval=0.5, takeover_timeout=10,
                     min_refresh_interval=0.1)
    second.connect()
    s = second.status()
    assert s["role"] == "follower"
    assert (s["tend_interval"], s["takeover_timeout"], s["min_refresh_interval"]) == \
        (0.2, 5.0, 0.02)

    def warned():
        return [r for r in caplog.records
                if r.name == "clustershm" and "min_refresh_interval" in r.getMessage()]

    records = wait_for(warned, 10, "the warning about the segment's timing")
    assert records[0].levelno == logging.WARNING
    # The same values again: nothing to say.
    caplog.clear()
    third = clients(redis_url, key=shm_key, tend_interval=0.2, takeover_timeout=5,
                    min_refresh_interval=0.02)
    third.connect()
    assert third.status()["min_refresh_interval"] == 0.02
    assert not warned()
