"""test_fork.py - a client connected before fork() works in the child, which
is a follower, and the parent (tender or follower) goes on unaffected.

The worker's `fork` command: the child routes the key file, appends
"STATUS <role> <pid>", closes its client and _exit()s; the parent waits.
"""
import time

from support import keys as K
from support import shm
from support.checks import assert_routes, the_tender
from support.procs import wait_for
from support.worker import connect_all, statuses


def test_forked_children_are_followers_and_route(cluster, pool, shm_key, keyset, keyslots,
                                                tmp_path):
    keys, path = keyset
    ws = pool(2)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=0.2, takeover_timeout=30)
    tender, before = the_tender(ws)
    expected = K.expected_routes(cluster, keys, keyslots)

    for w in ws:  # the tender first, then the follower
        out = tmp_path / ("child-of-%d.txt" % w.pid)
        a = w.ok("fork %s %s" % (path, out), timeout=120)
        assert a["child_exit"] == 0, a
        lines = K.read_routes(out)
        assert lines[-1] == "STATUS follower %d" % a["child_pid"], lines[-1]
        assert a["child_pid"] != w.pid
        diff = K.mismatches(lines[:-1], expected, keys)
        assert not diff, "child of %r: %s" % (w, diff)

    # The parents are unaffected: same roles, same epoch (no child ever took
    # over), the tender still tends, every route still right.
    forked_at = time.time()
    after = statuses(ws)
    for b, s in zip(before, after):
        assert (s["role"], s["epoch"], s["pid"]) == (b["role"], b["epoch"], b["pid"])
    wait_for(lambda: all(s["tended_at"] > forked_at for s in statuses(ws)), 10,
             "the parent tender to keep tending after its children")
    assert_routes(ws, cluster, keyset, keyslots, tmp_path)
    # The children closed and left: only the two parents are attached.
    wait_for(lambda: shm.info(shm_key)["nattch"] == 2, 10, "the children to detach")
    assert tender.status()["role"] == "tender"
