"""test_isolation.py - a shared tender is never worse than private tending:
a tender whose tends fail while others are attached steps down to one that
can tend; alone it keeps the role; when every process fails the last map
is kept, the role rotates with backoff and nobody spins; one process's
timing options cannot make healthy tenders look hung.

Real redis-server clusters, real worker processes, real signals.  A worker
that reaches nothing runs in an empty network namespace (`unshare --net`):
it shares the host's SysV segments but its sockets get "network is
unreachable".  Wall-clock bounds here only catch hangs; what is asserted is
who tends, what the segment says and what the servers and /proc count.
"""
import os
import shutil
import time

import pytest

from support import keys as K
from support.checks import assert_routes, route_all, tenders, the_tender
from support.procs import cpu_seconds, wait_for
from support.worker import connect_all, statuses

TEND = 0.2
# A tender steps down after 3 failed tends in a row (core/src/tender.c).
STEP_DOWN_FAILURES = 3

needs_netns = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare(1) for an empty network namespace (`unshare --net`); "
           "CI runs the suite as root")


def fresh(status, since):
    return (not status["stale"] and status["tended_at"] > since and not status["last_error"])


@needs_netns
def test_tender_that_cannot_reach_the_cluster_steps_down_to_one_that_can(
        cluster, pool, shm_key, keyset, keyslots, tmp_path):
    opts = dict(key=shm_key, tend_interval=TEND, takeover_timeout=30, connect_timeout=0.5)
    [a] = pool(1, prefix="a")
    assert a.connect(cluster.url(), **opts)["ok"]
    [n] = pool(1, prefix="netns", wrap=["unshare", "--net"])
    answer = n.connect(cluster.url(), **opts)
    assert answer["ok"], "a follower needs no network to connect to a ready map: %r" % answer
    assert n.status()["role"] == "follower"
    assert n.ok("pid")["pid"] == n.pid, "unshare must exec the worker, keeping its pid"

    # A dies: N, the only process left, takes over at once, and cannot tend.
    a.kill()
    # The counters travel in the snapshots: dead_takeovers shows once N has
    # published its first tend, a moment after it took the role.
    def n_took_over():
        s = n.status()
        return s if s["role"] == "tender" and s["dead_takeovers"] >= 1 else None
    s = wait_for(n_took_over, 10, "N to take over from the killed tender and publish")
    assert s["owner_pid"] == n.pid, s

    # Alone, a failing tender keeps the role and the map, marked stale.
    def failing_alone():
        s = n.status()
        assert s["role"] == "tender" and s["owner_pid"] == n.pid, \
            "N gave up the role with nobody to give it to: %s" % s
        return s if s["stale"] and s["failures_in_row"] > STEP_DOWN_FAILURES else None
    s = wait_for(failing_alone, 10, "N's tends to fail more than %d times in a row"
                 % STEP_DOWN_FAILURES)
    assert s["step_downs"] == 0 and s["last_error"], s
    assert "unreachable" in s["last_error"].lower(), s["last_error"]
    assert s["nodes"] == 6, "the last good map must be kept: %s" % s

    # B can reach the cluster: once it is attached, N steps down and B tends.
    [b] = pool(1, prefix="b")
    joined = time.time()
    assert b.connect(cluster.url(), **opts)["ok"]

    def b_tends_fresh():
        s = b.status()
        return s if s["role"] == "tender" and fresh(s, joined) else None
    # A few tend intervals; the deadline only catches a hang.
    s = wait_for(b_tends_fresh, 5, "B to tend and the map to be fresh after N steps down")
    assert s["owner_pid"] == b.pid and s["age"] < 5 * TEND + 1, s
    assert s["step_downs"] >= 1, s
    why = s["step_down_history"][0]
    assert why["pid"] == n.pid, "newest step-down is not N's: %s" % s["step_down_history"]
    assert why["failures"] >= 1 and "unreachable" in why["reason"].lower(), why
    assert s["handoffs"] >= 1, s
    # tended_at keeps advancing under B.
    first = s["tended_at"]
    wait_for(lambda: b.status()["tended_at"] > first, 5, "B's tends to keep publishing")

    # N keeps working as a follower, routing from B's fresh map.
    s = n.status()
    assert s["role"] == "follower" and not s["stale"] and s["owner_pid"] == b.pid, s
    assert_routes([n, b], cluster, keyset, keyslots, tmp_path)


def kill_every_node(cluster, workers):
    for p in list(cluster.ports):
        cluster.kill_node(p)
    wait_for(lambda: all(s["stale"] for s in statuses(workers)), 10, "the map to turn stale")


def restart_every_node(cluster):
    """Restarts the killed nodes; returns (unix, monotonic) time at which
    every node answers with the same settled slot map again."""
    for p in list(cluster.ports):
        cluster.restart_node(p)
    cluster.wait_settled()
    return time.time(), time.monotonic()


def recovered(workers, back):
    """The statuses once exactly one worker tends and every one of them sees
    a fresh map tended after `back`, else None."""
    sts = statuses(workers)
    return sts if len(tenders(workers, sts)) == 1 and all(fresh(s, back) for s in sts) else None


def test_when_every_process_fails_the_role_rotates_with_backoff_and_nobody_spins(
        make_cluster, pool, shm_key, keyset, keyslots, tmp_path):
    c = make_cluster(masters=3, replicas=0)
    ws = pool(3)
    connect_all(ws, c.url(), key=shm_key, tend_interval=TEND, takeover_timeout=30,
                connect_timeout=0.5)
    the_tender(ws)
    expected = K.expected_routes(c, keyset[0], keyslots)
    assert not any(s["stale"] for s in statuses(ws))
    kill_every_node(c, ws)

    window = 15.0
    cpu_before = {w.pid: cpu_seconds(w.pid) for w in ws}
    start = time.monotonic()
    tends_before = max(s["tends"] for s in statuses(ws))
    step_downs = {}
    while time.monotonic() - start < window:
        sts = statuses(ws)
        if len(tenders(ws, sts)) > 1:
            # The workers answer one after the other: a handoff between two
            # answers shows the old and the new tender.  Two real tenders
            # would both still be there at once.
            sts = statuses(ws)
            assert len(tenders(ws, sts)) <= 1, "two tenders: %s" % [
                (s["pid"], s["role"], s["epoch"]) for s in sts]
        for s in sts:
            assert s["stale"] and s["last_error"], "a stale map must say why: %s" % s
            assert s["nodes"] == 3, "the last good map must be kept: %s" % s
            for d in s["step_down_history"]:
                step_downs[(d["pid"], d["epoch"])] = d
        time.sleep(0.25)
    elapsed = time.monotonic() - start
    tends = max(s["tends"] for s in statuses(ws)) - tends_before
    cpu = {w.pid: cpu_seconds(w.pid) - cpu_before[w.pid] for w in ws}

    # The last good map still routes, unchanged.
    for got in route_all(ws, keyset[1], tmp_path):
        assert not K.mismatches(got, expected, keyset[0])
    pids = {pid for pid, _ in step_downs}
    assert len(pids) >= 2, "the role must rotate: step-downs %s" % list(step_downs.values())
    assert pids <= {w.pid for w in ws}, step_downs
    for d in step_downs.values():
        assert d["reason"] and "refused" in d["reason"] and d["failures"] >= 1, d
    # One tender at a time, one tend per interval at most (a new tender
    # tends at once, hence the slack per step-down).
    bound = elapsed / TEND + len(step_downs) + 2
    assert 0 < tends <= bound, "%d tends in %.1f s (bound %.0f)" % (tends, elapsed, bound)
    # Nobody spins: a tend that fails at once costs next to nothing.
    for w in ws:
        assert cpu[w.pid] < 0.1 * elapsed, "%r used %.2f s of CPU in %.1f s" % (
            w, cpu[w.pid], elapsed)

    # The cluster comes back: some worker tends and the map is fresh again
    # (after at most the longest backoff; see the next test for how soon).
    back, _ = restart_every_node(c)
    wait_for(lambda: recovered(ws, back), 60,
             "some worker to tend a fresh map once the cluster is back")
    assert_routes(ws, c, keyset, keyslots, tmp_path)


def test_when_the_cluster_comes_back_a_worker_tends_within_a_few_intervals(
        make_cluster, pool, shm_key):
    c = make_cluster(masters=3, replicas=0)
    ws = pool(3)
    connect_all(ws, c.url(), key=shm_key, tend_interval=TEND, takeover_timeout=30,
                connect_timeout=0.5)
    kill_every_node(c, ws)

    # Let the role go round (every process steps down at least once, so
    # every one of them is in or past a backoff), then bring the cluster
    # back: whoever holds the role then, or takes back a vacant one, must
    # see it at its next tend, as a private client would.
    def went_round():
        sts = statuses(ws)
        newest = max(sts, key=lambda s: s["step_downs"])
        pids = {d["pid"] for d in newest["step_down_history"]}
        return newest if len(pids) >= len(ws) else None
    last = wait_for(went_round, 60, "every process to step down once")
    back, back_mono = restart_every_node(c)
    few = 10 * TEND + 1
    try:
        wait_for(lambda: recovered(ws, back), few,
                 "a fresh map within a few tend intervals of the cluster's return")
    except AssertionError:
        wait_for(lambda: recovered(ws, back), 60, "a fresh map at all")
        raise AssertionError(
            "the map stayed stale %.1f s after the cluster was back (tend_interval %.1f s); "
            "step-downs before the return: %s"
            % (time.monotonic() - back_mono, TEND, last["step_down_history"]))


def test_short_takeover_timeout_of_one_process_does_not_displace_a_healthy_tender(
        cluster, pool, shm_key):
    healthy = pool(3)
    connect_all(healthy, cluster.url(), key=shm_key, tend_interval=TEND, takeover_timeout=30)
    tender, sts = the_tender(healthy)
    epoch = sts[0]["epoch"]

    [late] = pool(1, prefix="late")
    answer = late.connect(cluster.url(), key=shm_key, takeover_timeout=0.05,
                          connect_timeout=0.02, tend_interval=0.01)
    assert answer["ok"], answer
    s = late.status()
    assert (s["tend_interval"], s["takeover_timeout"], s["min_refresh_interval"]) == \
        (TEND, 30, 0.05), "the segment's timing must win: %s" % s
    assert s["role"] == "follower", s
    wait_for(lambda: late.status() and "was created with tend_interval" in late.log(), 5,
             "the late process to log that it adopts the segment's timing")
    assert "takeover_timeout=30" in late.log(), late.log()

    everyone = healthy + [late]
    start = time.monotonic()
    while time.monotonic() - start < 3.0:
        for w, s in zip(everyone, statuses(everyone)):
            assert s["epoch"] == epoch and s["owner_pid"] == tender.pid, \
                "%r saw a change of tender: %s" % (w, s)
            assert s["hung_takeovers"] == 0, s
            assert s["role"] == ("tender" if w is tender else "follower"), (w, s)
        time.sleep(0.1)
    assert not late.log().count("takes over"), late.log()
