"""test_aerospike_tend_steps.py - a tend step asks every node at once: the
refresh request (and so every step built the same way, driver_aerospike.c
send_ahead) reaches all nodes before any of them has answered.

Invariants: the simulator holds back each node's answer to the refresh
request (a `slow` fault, shorter than the driver's per-request deadline, so
no node fails); the test watches the simulator's request counters and
asserts an ordering - all three requests arrived while the first answer was
still held back - not a speed.  Ports shift with CSHM_TEST_INSTANCE
(support/aerospike.py).
"""
import time

import pytest

from support.aerospike import Sim

HOLD = 0.8        # seconds each node holds its refresh answer (< the 1 s step deadline)
OPTS = dict(tend_interval=0.2, takeover_timeout=30, connect_timeout=2)


@pytest.fixture
def sim():
    s = Sim(namespaces="test:2")
    yield s
    s.close()


def refresh_counts(sim):
    return {n: c["names"].get("peers-generation", 0) for n, c in sim.call("counters").items()}


def test_refresh_requests_reach_every_node_before_any_answer(sim, pool, shm_key):
    [w] = pool(1)
    assert w.connect(sim.url(), key=shm_key, **OPTS)["ok"]
    names = sorted(sim.ports())
    before = refresh_counts(sim)
    for name in names:
        sim.call("set_fault", name=name, kind="slow", delay=HOLD, only=["peers-generation"],
                 count=1)
    # Wait for the first held request, then see whether the others arrived
    # while it is still held.  Asked one after another, the second node
    # would get its request only after the first answered (HOLD later).
    deadline = time.monotonic() + 10
    while True:
        now = refresh_counts(sim)
        arrived = [n for n in names if now[n] > before[n]]
        if arrived:
            break
        assert time.monotonic() < deadline, "no refresh request reached the simulator"
        time.sleep(0.01)
    first_at = time.monotonic()
    while len(arrived) < len(names) and time.monotonic() - first_at < HOLD / 2:
        time.sleep(0.01)
        now = refresh_counts(sim)
        arrived = [n for n in names if now[n] > before[n]]
    assert arrived == names, "while one answer was held, only %s had been asked" % arrived
    # The held answers arrive within the deadline: no node failed.
    time.sleep(HOLD + 0.5)
    s = w.status()
    assert s["nodes"] == 3 and s["last_error"] == "", s
