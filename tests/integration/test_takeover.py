"""test_takeover.py - change of tender: crash (SIGKILL), clean close, hang
(SIGSTOP past takeover_timeout, then SIGCONT), each followed by a change of
the cluster that the new tender must publish to every process.

Deadlines are generous and only stop a hung test; with takeover_timeout=30
a takeover within 10 s can only come from crash detection, not the timeout.
"""
import signal
import time

from support import shm
from support.checks import (assert_routes, moved_slots, the_tender, wait_new_tender,
                            wait_routes)
from support.procs import wait_for
from support.worker import connect_all, statuses

POOL = 4


def start_pool(cluster, pool, key, **options):
    ws = pool(POOL)
    connect_all(ws, cluster.url(), key=key, **options)
    return ws


def assert_publishes_change(cluster, ws, keyset, keyslots, tmp_path, epoch, owner):
    """A reshard after the change of tender reaches every worker, with a
    generation above the one before and the new tender's epoch."""
    before = {w.pid: s["generation"] for w, s in zip(ws, statuses(ws))}
    with moved_slots(cluster):
        wait_routes(ws, cluster, keyset, keyslots, tmp_path, timeout=15,
                    what="every worker to route the moved slots to their new master")
        for w, s in zip(ws, statuses(ws)):
            assert s["generation"] > before[w.pid], "%r: generation did not move" % w
            assert s["epoch"] == epoch and s["owner_pid"] == owner.pid, (w, s)
    wait_routes(ws, cluster, keyset, keyslots, tmp_path, timeout=15,
                what="every worker to route the slots moved back")


def test_sigkill_of_the_tender_hands_over_without_the_timeout(cluster, pool, shm_key, keyset,
                                                              keyslots, tmp_path):
    ws = start_pool(cluster, pool, shm_key, tend_interval=0.2, takeover_timeout=30)
    tender, sts = the_tender(ws)
    old_epoch = sts[0]["epoch"]
    killed_at = time.time()
    tender.kill()
    rest = [w for w in ws if w is not tender]
    new, sts = wait_new_tender(rest, old_epoch, timeout=10,
                               what="a takeover after SIGKILL (takeover_timeout is 30 s)")
    # The new tender tends: tended_at moves past the crash.
    wait_for(lambda: all(s["tended_at"] > killed_at for s in statuses(rest)), 10,
             "tended_at to move past the crash")
    assert_publishes_change(cluster, rest, keyset, keyslots, tmp_path, sts[0]["epoch"], new)


def test_close_of_the_tender_hands_over(cluster, pool, shm_key, keyset, keyslots, tmp_path):
    ws = start_pool(cluster, pool, shm_key, tend_interval=0.2, takeover_timeout=30)
    tender, sts = the_tender(ws)
    old_epoch = sts[0]["epoch"]
    tender.ok("close")
    rest = [w for w in ws if w is not tender]
    new, sts = wait_new_tender(rest, old_epoch, timeout=10, what="a handoff at close")
    # The closed client is gone from the segment and from the worker.
    assert tender.cmd("status")["ok"] is False
    wait_for(lambda: shm.info(shm_key)["nattch"] == POOL - 1, 10, "the closed client to detach")
    assert_publishes_change(cluster, rest, keyset, keyslots, tmp_path, sts[0]["epoch"], new)


def test_stopped_tender_is_replaced_and_fenced(cluster, pool, shm_key, keyset, keyslots,
                                               tmp_path):
    takeover_timeout = 1.5
    ws = start_pool(cluster, pool, shm_key, tend_interval=0.2, takeover_timeout=takeover_timeout,
                    connect_timeout=0.5)
    tender, sts = the_tender(ws)
    old_epoch = sts[0]["epoch"]
    rest = [w for w in ws if w is not tender]
    tender.signal(signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        new, sts = wait_new_tender(rest, old_epoch, timeout=20,
                                   what="a takeover of the stopped tender")
        waited = time.monotonic() - stopped_at
        # A live tender must keep its place until takeover_timeout has run
        # out; its last heartbeat may predate SIGSTOP by up to one interval.
        assert waited >= takeover_timeout - 0.2 - 0.3, \
            "taken over after %.2f s, before takeover_timeout (%.1f s)" % (waited, takeover_timeout)
    finally:
        tender.signal(signal.SIGCONT)
    new_epoch = sts[0]["epoch"]

    wait_for(lambda: tender.status()["role"] == "follower", 10,
             "the resumed old tender to see it lost and become a follower")
    # For 10 tend intervals every process, the old tender included, sees
    # only the new tender's publishes: a write by the old one would carry
    # old_epoch and its own pid.
    highest = {}
    for _ in range(10):
        for w, s in zip(ws, statuses(ws)):
            assert s["epoch"] == new_epoch, "%r saw epoch %d after the takeover (new %d, old %d)" % (
                w, s["epoch"], new_epoch, old_epoch)
            assert s["owner_pid"] == new.pid, (w, s)
            assert s["role"] == ("tender" if w is new else "follower"), (w, s)
            assert s["generation"] >= highest.get(w.pid, 0), "generation went back"
            highest[w.pid] = s["generation"]
        time.sleep(0.2)
    assert_publishes_change(cluster, ws, keyset, keyslots, tmp_path, new_epoch, new)
    assert_routes(ws, cluster, keyset, keyslots, tmp_path)


def test_successive_crashes_each_hand_over(cluster, pool, shm_key, keyset, keyslots, tmp_path):
    ws = pool(5)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=0.2, takeover_timeout=30)
    tender, sts = the_tender(ws)
    epochs = [sts[0]["epoch"]]
    while len(ws) > 1:
        tender.kill()
        ws.remove(tender)
        tender, sts = wait_new_tender(ws, epochs[-1], timeout=10,
                                      what="a takeover with %d processes left" % len(ws))
        epochs.append(sts[0]["epoch"])
    assert epochs == sorted(set(epochs)), "epochs must strictly increase: %s" % epochs
    assert_routes(ws, cluster, keyset, keyslots, tmp_path)


def test_segment_left_by_killed_processes_is_reused(cluster, pool, shm_key, keyset, keyslots,
                                                   tmp_path):
    ws = pool(3)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=0.2, takeover_timeout=30)
    _, sts = the_tender(ws)
    for w in ws:
        w.kill()
    seg = shm.info(shm_key)
    assert seg is not None and seg["nattch"] == 0, seg
    [late] = pool(1, prefix="late")
    assert late.connect(cluster.url(), key=shm_key, tend_interval=0.2, takeover_timeout=30)["ok"]
    s = late.status()
    assert s["role"] == "tender" and s["epoch"] > sts[0]["epoch"], s
    assert s["shmid"] == seg["shmid"], "the segment was recreated instead of reused"
    assert_routes([late], cluster, keyset, keyslots, tmp_path)
