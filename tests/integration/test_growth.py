"""test_growth.py - online growth (docs/design.md §1b): a cluster outgrows
its segment, the tender creates the next generation of the segment's chain
and publishes a forward pointer in the old one, every process follows it
without a gap or an error, and the old segment goes with the last process
that still had it attached.

Real redis-server clusters grown with `redis-cli --cluster add-node` and
resharded; the truth about routes is CLUSTER SLOTS (support.keys).
"""
import os
import signal
import threading

import pytest

from support import cli, shm
from support import keys as K
from support.checks import assert_routes, the_tender, wait_routes
from support.cluster import FRESH_BASES, free_block
from support.monitor import Monitor, fencing_violations, publishes
from support.procs import wait_for
from support.worker import connect_all, statuses

from test_cli import as_int, run_cli

GROW = dict(tend_interval=0.2, takeover_timeout=30, max_nodes=4)
FORK_KEYS = 300   # keys each forked child routes


def small_cluster_outgrowing(make_cluster):
    """3 masters, no replica: fits max_nodes=4.  grow() adds 2 replicas with
    `redis-cli --cluster add-node` (5 nodes: more than 4, so the segment
    grows to 8) and moves no slot, so the routes stay the same throughout
    and any wrong one is the library's."""
    c = make_cluster(masters=3, replicas=0)
    return c, lambda: c.add_nodes(free_block(FRESH_BASES, 2), masters=0)


def sysv_maps(pid):
    """[(shmid, key)] of every SysV mapping of process pid, from
    /proc/PID/maps (one entry per mapping: a segment attached twice shows
    twice)."""
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5].startswith("/SYSV"):
                out.append((int(parts[4]), int(parts[5][5:], 16)))
    return sorted(out)


def process_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def stat(key):
    return cli.json_of(run_cli("stat", "--key", "0x%x" % key, "--json"), "stat")


def on(workers, key, max_nodes, nodes):
    """Every worker reads the segment at key, of max_nodes, with all nodes."""
    def check():
        sts = statuses(workers)
        return sts if all(s["key"] == key and s["max_nodes"] == max_nodes and
                          s["nodes"] == nodes and not s["nodes_truncated"] and s["has_map"]
                          for s in sts) else None
    return wait_for(check, 20, "every process on 0x%08x with %d nodes" % (key, nodes))


def test_redis_cluster_outgrows_the_segment_twice(make_cluster, pool, shm_key, keyset, keyslots,
                                                 tmp_path):
    c = make_cluster(masters=3, replicas=1)
    ws = pool(3)
    gen1, gen2 = shm.chain_key(shm_key, 1), shm.chain_key(shm_key, 2)
    try:
        # 6 nodes, max_nodes=4: reported, then grown to 8 (the double).
        connect_all(ws, c.url(), key=shm_key, **GROW)
        on(ws, gen1, 8, 6)
        assert any("max_nodes=4 reached" in w.log() for w in ws)
        wait_for(lambda: shm.info(shm_key) is None, 10,
                 "the old segment to go with the last process that left it")
        assert_routes(ws, c, keyset, keyslots, tmp_path)
        s = stat(gen1)
        assert (s["chain_generation"], as_int(s["chain_base"]), s["forwarded_to"]) == \
            (1, shm_key, None), s
        # status() shows the chain of the segment each process reads, as stat does.
        assert all((st["chain_generation"], st["chain_base"], st["forwarded_to"]) ==
                   (1, shm_key, None) for st in statuses(ws)), statuses(ws)

        # A process started with the old, smaller options joins generation 1.
        [late] = pool(1, prefix="late")
        assert late.connect(c.url(), key=shm_key, **GROW)["ok"]
        assert late.status()["key"] == gen1 and late.status()["max_nodes"] == 8
        ws.append(late)

        # An old reader: a stopped follower keeps generation 1 attached.
        tender, _ = the_tender(ws)
        old = next(w for w in ws if w is not tender)
        running = [w for w in ws if w is not old]
        reader = running[-1]
        old.signal(signal.SIGSTOP)
        try:
            # 12 nodes: more than 8, grown to 16; a reader reads throughout.
            reader.send("verifyloop 8")
            c.add_nodes(free_block(FRESH_BASES, 6), masters=3)
            done = reader.recv(60)
            assert done["ok"] and done["invalid"] == 0 and not done["errors"], done
            on(running, gen2, 16, 12)
            s = stat(gen1)
            assert s["forwarded_to"] is not None and as_int(s["forwarded_to"]["key"]) == gen2, s
            assert shm.info(gen1)["nattch"] >= 1
            chain = stat(gen2)
            assert (chain["chain_generation"], as_int(chain["chain_base"])) == (2, shm_key), chain
            text = run_cli("stat", "--key", "0x%x" % gen1).stdout
            assert "forwarded to 0x%08x" % gen2 in text, text
        finally:
            old.signal(signal.SIGCONT)
        # The old reader follows at its next check; generation 1 goes with it.
        on(ws, gen2, 16, 12)
        wait_for(lambda: shm.info(gen1) is None, 10, "generation 1 to go with its last reader")
        wait_routes(ws, c, keyset, keyslots, tmp_path, 20)
        for w in ws:
            assert "error:" not in w.log(), w.log()
    finally:
        for w in ws:
            w.stop()


@pytest.mark.parametrize("stage", ["created", "forwarded"])
def test_tender_killed_in_the_middle_of_growth(make_cluster, pool, shm_key, keyset, keyslots,
                                               tmp_path, stage):
    """The tender dies (SIGKILL, through the CSHM_TEST_HOOK_GROWTH hook of
    core/src/growth.c) right after creating the successor, or right after
    publishing the forward pointer.  The others take over and complete the
    growth: everyone ends on the successor, with the whole cluster, and no
    process stays on a segment nobody tends."""
    c, grow = small_cluster_outgrowing(make_cluster)
    [hooked] = pool(1, prefix="hooked", env=dict(os.environ, CSHM_TEST_HOOK_GROWTH=stage))
    assert hooked.connect(c.url(), key=shm_key, **GROW)["ok"]
    others = pool(2)
    connect_all(others, c.url(), key=shm_key, **GROW)
    assert hooked.status()["role"] == "tender"
    gen1 = shm.chain_key(shm_key, 1)

    grow()
    hooked.proc.wait(timeout=30)
    assert hooked.proc.returncode == -signal.SIGKILL, hooked.log()

    on(others, gen1, 8, 5)
    wait_for(lambda: shm.info(shm_key) is None, 10, "the old segment to go")
    sts = statuses(others)
    assert sum(s["role"] == "tender" for s in sts) == 1, sts
    assert all(s["has_tender"] and not s["stale"] for s in sts), sts
    wait_routes(others, c, keyset, keyslots, tmp_path, 20)


def test_fork_during_growth(make_cluster, pool, shm_key, keyset, keyslots, tmp_path):
    """The tender and a follower fork nonstop (worker command forkmaps) from
    before the cluster outgrows the segment until after the old segment is
    gone, so children are forked at every stage of the growth.  Every child
    routes right and exits cleanly, and after its close it has no segment
    left mapped but, at most, the successor its parent's thread had just
    attached and not yet recorded (docs/design.md §1b, "fork() during
    growth": released at the child's exit).  The parents end mapping the
    successor alone; the old segment is gone, not left attached.

    The cluster is 3 masters with a replica each and max_nodes=6, grown by
    one replica: the map cut at 6 nodes leaves out the last node CLUSTER
    SHARDS lists, a replica here, so every slot keeps its master in the
    truncated map that stays readable until the successor is complete.
    (With a master left out, its slots have no node for that moment: the
    driver adds nodes in the servers' order, not masters first.)"""
    c = make_cluster(masters=3, replicas=1)
    ws = pool(2)
    options = dict(GROW, max_nodes=6)
    connect_all(ws, c.url(), key=shm_key, **options)
    the_tender(ws)
    old_shmid = shm.info(shm_key)["shmid"]
    gen1 = shm.chain_key(shm_key, 1)
    keys = keyset[0][:FORK_KEYS]
    path = tmp_path / "fork-keys.hex"
    K.write(path, keys)
    expected = K.expected_routes(c, keys, keyslots[:FORK_KEYS])

    stop = threading.Event()
    results = {w.pid: [] for w in ws}
    failures = []

    def forker(w):
        out = tmp_path / ("child-of-%d.txt" % w.pid)
        try:
            while not stop.is_set():
                if out.exists():
                    out.unlink()
                a = w.ok("forkmaps %s %s" % (path, out), timeout=60)
                results[w.pid].append((a, K.read_routes(out)))
        except Exception as e:  # noqa: BLE001 - reported by the test below
            failures.append(e)

    threads = [threading.Thread(target=forker, args=(w,)) for w in ws]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: failures or all(len(r) >= 3 for r in results.values()), 30,
                 "forks before the growth")
        c.add_nodes(free_block(FRESH_BASES, 1), masters=0)   # 7 nodes: more than 6
        wait_for(lambda: failures or shm.info(shm_key) is None, 30, "the old segment to go")
        counts = {pid: len(r) for pid, r in results.items()}
        wait_for(lambda: failures or all(len(r) >= counts[pid] + 3 for pid, r in results.items()),
                 30, "forks after the growth")
    finally:
        stop.set()
        for t in threads:
            t.join(90)
    assert not failures, failures

    generations, roles, kept = {}, {}, 0
    for w in ws:
        for a, lines in results[w.pid]:
            assert a["child_exit"] == 0, (a, lines[-3:])
            routes, status, segment, left = lines[:-3], lines[-3], lines[-2], lines[-1]
            role, pid = status.split()[1:]
            assert status.startswith("STATUS ") and int(pid) == a["child_pid"], status
            roles[role] = roles.get(role, 0) + 1
            diff = K.mismatches(routes, expected, keys)
            assert not diff, "child %d of %r: %s" % (a["child_pid"], w, diff)
            _, key, _, generation, _ = segment.split()
            assert (int(key), int(generation)) in ((shm_key, 0), (gen1, 1)), segment
            generations[int(generation)] = generations.get(int(generation), 0) + 1
            mapped = left.split()[1:]
            if mapped != ["-"]:
                assert all(int(m.split(":")[1], 16) == gen1 for m in mapped) and \
                    len(mapped) == 1, "child %d kept %s after close" % (a["child_pid"], left)
                kept += 1
    print("%d forks; children read generation 0: %d, generation 1: %d; roles %s; %d kept "
          "the just-attached successor until exit" % (sum(generations.values()),
                                                      generations.get(0, 0),
                                                      generations.get(1, 0), roles, kept))
    assert set(generations) == {0, 1}, generations   # the forks spanned the growth
    assert set(roles) <= {"follower", "tender"}, roles

    on(ws, gen1, 12, 7)
    gen1_shmid = shm.info(gen1)["shmid"]
    assert shm.info_by_shmid(old_shmid) is None, "the old segment is still there"
    for w in ws:
        wait_for(lambda w=w: sysv_maps(w.pid) == [(gen1_shmid, gen1)], 10,
                 "%r to map generation 1 alone (maps %s)" % (w, sysv_maps(w.pid)))
    wait_for(lambda: shm.info(gen1)["nattch"] == 2, 10, "the children to be gone from it")
    assert_routes(ws, c, keyset, keyslots, tmp_path)
    for w in ws:
        assert "error:" not in w.log(), w.log()


def test_a_grower_stopped_past_takeover_is_fenced(make_cluster, pool, shm_key, tmp_path):
    """Two tenders in successive epochs during growth: the tender stops
    (SIGSTOP, hook created:stop) right after creating the successor, before
    it forwards; after takeover_timeout another process takes the role (a
    newer epoch), grows into the same successor and forwards.  The stopped
    one, resumed, must publish nothing under its old epoch (its forward
    loses the compare-and-swap on the state word): cshm-monitor watches
    both segments' publishes.  It then follows like everyone else and keeps
    no second mapping of the successor it had created."""
    c, grow = small_cluster_outgrowing(make_cluster)
    options = dict(GROW, takeover_timeout=3)
    [grower] = pool(1, prefix="grower",
                    env=dict(os.environ, CSHM_TEST_HOOK_GROWTH="created:stop"))
    assert grower.connect(c.url(), key=shm_key, **options)["ok"]
    others = pool(2)
    connect_all(others, c.url(), key=shm_key, **options)
    tender, sts = the_tender([grower] + others)
    assert tender is grower
    old_epoch = sts[0]["epoch"]
    gen1 = shm.chain_key(shm_key, 1)
    monitors = [Monitor(shm_key, tmp_path / "gen0.log")]
    # add_nodes goes on (gossip, settling) for longer than takeover_timeout
    # after the node that overflows the segment joined: run it beside, so the
    # stop is seen before anyone takes over.
    grown = []
    growing = threading.Thread(target=lambda: grown.append(grow()))
    growing.start()
    try:
        wait_for(lambda: process_state(grower.pid) == "T", 60,
                 "the grower to stop right after creating the successor")
        assert shm.info(gen1) is not None and stat(shm_key)["forwarded_to"] is None
        monitors.append(Monitor(gen1, tmp_path / "gen1.log"))
        growing.join(120)
        assert grown, "add_nodes failed"

        on(others, gen1, 8, 5)
        s = stat(shm_key)
        assert as_int(s["forwarded_to"]["key"]) == gen1, s
        assert s["publisher_epoch"] > old_epoch and s["hung_takeovers"] >= 1, s
        assert process_state(grower.pid) == "T"

        grower.signal(signal.SIGCONT)
        on([grower] + others, gen1, 8, 5)
        gen1_shmid = shm.info(gen1)["shmid"]
        wait_for(lambda: sysv_maps(grower.pid) == [(gen1_shmid, gen1)], 10,
                 "the resumed grower to map generation 1 alone")
        the_tender([grower] + others)
    finally:
        growing.join(120)
        logs = [m.stop() for m in monitors]
    gen0_events = logs[0][0]
    for events, _ in logs:
        assert not fencing_violations(events), fencing_violations(events)
    newer = [e for e in publishes(gen0_events) if e["slot_epoch"] > old_epoch]
    assert newer, "the monitor saw no publish of the new tender in the old segment"
    after = [e for e in publishes(gen0_events) if e["t"] >= newer[0]["t"]]
    assert all(e["slot_epoch"] > old_epoch and e["pid"] != grower.pid for e in after), after
    stale = stat(shm_key)
    assert stale["publisher_epoch"] == s["publisher_epoch"], (stale, s)
    assert as_int(stale["forwarded_to"]["key"]) == gen1
    for w in [grower] + others:
        assert "error:" not in w.log(), w.log()
