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

import pytest

from support import cli, shm
from support.checks import assert_routes, the_tender, wait_routes
from support.cluster import FRESH_BASES, free_block
from support.procs import wait_for
from support.worker import connect_all, statuses

from test_cli import as_int, run_cli

GROW = dict(tend_interval=0.2, takeover_timeout=30, max_nodes=4)


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
    c = make_cluster(masters=3, replicas=1)
    [hooked] = pool(1, prefix="hooked", env=dict(os.environ, CSHM_TEST_HOOK_GROWTH=stage))
    options = dict(GROW, max_nodes=8)
    assert hooked.connect(c.url(), key=shm_key, **options)["ok"]
    others = pool(2)
    connect_all(others, c.url(), key=shm_key, **options)
    assert hooked.status()["role"] == "tender"
    gen1 = shm.chain_key(shm_key, 1)

    c.add_nodes(free_block(FRESH_BASES, 3), masters=3)   # 9 nodes: more than 8
    hooked.proc.wait(timeout=30)
    assert hooked.proc.returncode == -signal.SIGKILL, hooked.log()

    on(others, gen1, 16, 9)
    wait_for(lambda: shm.info(shm_key) is None, 10, "the old segment to go")
    sts = statuses(others)
    assert sum(s["role"] == "tender" for s in sts) == 1, sts
    assert all(s["has_tender"] and not s["stale"] for s in sts), sts
    wait_routes(others, c, keyset, keyslots, tmp_path, 20)
