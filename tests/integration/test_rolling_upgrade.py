"""test_rolling_upgrade.py - a pool moves to a new key while its old workers
drain (docs/operations.md, "Rolling upgrades").

What an upgrade looks like on a host: the old workers run on key K1; the
new ones, deployed with other options or another release, start on key K2;
both segments serve side by side, each with its own tender; the old
workers finish their requests and exit one by one, and the last one to
close removes K1's segment (or an operator removes it at once with
`clustershm rm --force`, and the old workers finish on the removed
segment).  A release with another segment layout deployed WITHOUT a new
key is refused, in both directions, with the error the operations guide
quotes.

The "next release" is build/next-layout/cshm-worker: the same code built
with another segment layout version (make next-layout-worker), so the
refusal is the real one two releases give each other, not a header we
forge.
"""
import os
import re

import pytest

from support import cli, shm
from support.checks import assert_routes, the_tender
from support.worker import ROOT, Worker, connect_all, statuses

from test_cli import as_int, run_cli

SEGMENT = -3
OLD = dict(tend_interval=0.2, takeover_timeout=30, max_nodes=64)
NEW = dict(tend_interval=0.3, takeover_timeout=20, max_nodes=128)
NEXT_RELEASE = os.path.join(ROOT, "build", "next-layout", "cshm-worker")
NEXT_LAYOUT_VERSION = 250
GUIDE = os.path.join(ROOT, "docs", "operations.md")


def listed():
    """{key: row} of `clustershm list --json`."""
    doc = cli.json_of(run_cli("list", "--json"), "list")
    return {as_int(s["key"]): s for s in doc["segments"]}


@pytest.fixture
def next_release(request, tmp_path):
    """next_release(n) -> n workers of the next release (stopped after the test)."""
    if not os.access(NEXT_RELEASE, os.X_OK):
        pytest.fail("%s is missing: run `make next-layout-worker` (make test-integration "
                    "builds it)" % NEXT_RELEASE)
    made = []

    def make(n):
        out = [Worker(tmp_path, "next%02d" % (len(made) + i), binary=NEXT_RELEASE)
               for i in range(n)]
        made.extend(out)
        return out

    yield make
    for w in made:
        w.stop()


def test_a_pool_moves_to_a_new_key_while_the_old_workers_drain(cluster, pool, shm_keys, keyset,
                                                              keyslots, tmp_path):
    k_old, k_new = shm_keys(0), shm_keys(1)
    old = pool(3, prefix="old")
    connect_all(old, cluster.url(), key=k_old, **OLD)
    old_tender, _ = the_tender(old)

    # The deploy: new workers with new options on a new key, beside the old.
    new = pool(3, prefix="new")
    connect_all(new, cluster.url(), key=k_new, **NEW)
    new_tender, new_sts = the_tender(new)
    rows = listed()
    assert rows[k_old]["attached"] == 3 and rows[k_new]["attached"] == 3, rows
    assert as_int(rows[k_old]["owner_pid"]) == old_tender.pid
    assert as_int(rows[k_new]["owner_pid"]) == new_tender.pid
    assert {s["max_nodes"] for s in statuses(old)} == {64}
    assert {s["max_nodes"] for s in new_sts} == {128}
    # Both serve every key as the servers say, side by side.
    assert_routes(old + new, cluster, keyset, keyslots, tmp_path)

    # The old workers drain, the tender last: the role moves among those
    # left, the segment stays while one of them is attached.
    old_shmid = shm.info(k_old)["shmid"]
    draining = sorted(old, key=lambda w: w is old_tender)
    for i, w in enumerate(draining[:-1]):
        w.ok("close")
        seg = shm.info(k_old)
        assert seg is not None and seg["shmid"] == old_shmid, seg
        assert seg["nattch"] == len(old) - 1 - i, seg
        assert draining[-1].route(b"user:1000")["port"] in cluster.ports
    draining[-1].ok("close")
    assert shm.info(k_old) is None, "the last old worker's close left its segment behind"
    assert k_old not in listed()

    # The new pool never noticed: same tender, same epoch, still fresh.
    after = statuses(new)
    assert {s["owner_pid"] for s in after} == {new_tender.pid}
    assert {s["epoch"] for s in after} == {new_sts[0]["epoch"]}
    assert not any(s["stale"] for s in after), after
    assert listed()[k_new]["attached"] == 3
    assert_routes(new, cluster, keyset, keyslots, tmp_path)


def test_rm_retires_the_old_segment_while_its_workers_finish(cluster, pool, shm_keys):
    k_old = shm_keys(0)
    old = pool(2, prefix="old")
    connect_all(old, cluster.url(), key=k_old, **OLD)
    old_shmid = shm.info(k_old)["shmid"]

    # Without --force rm refuses a segment in use; with it the key is free
    # at once while the old workers keep their (removed) segment.
    assert run_cli("rm", "--key", "0x%x" % k_old).returncode == 1
    done = run_cli("rm", "--key", "0x%x" % k_old, "--force")
    assert done.returncode == 0, done.stderr
    assert shm.info(k_old) is None and shm.removed(old_shmid)
    for w in old:
        assert w.route(b"user:1000")["port"] in cluster.ports
        assert w.status()["shmid"] == old_shmid

    # A worker started now at the same key gets a segment of its own.
    [late] = pool(1, prefix="late")
    assert late.connect(cluster.url(), key=k_old, **NEW)["ok"]
    assert late.status()["shmid"] != old_shmid
    assert late.status()["role"] == "tender"

    for w in old:
        w.ok("close")
    assert old_shmid not in {r["shmid"] for r in shm.rows()}, "the removed segment outlived " \
        "its last process"
    assert shm.info(k_old)["shmid"] == late.status()["shmid"]


def refusal_pattern():
    """The layout refusal as docs/operations.md quotes it, as a regex over
    the real message (placeholders <...> match anything)."""
    with open(GUIDE, encoding="utf-8") as f:
        guide = " ".join(f.read().split())
    quoted = re.findall(r"``\s*(<segment> has segment layout version .*?)\s*``", guide)
    assert quoted, "docs/operations.md no longer quotes the layout refusal"
    parts = re.split(r"<[^>]*>|\b\d+\b", quoted[0])
    return re.compile(r".+?".join(re.escape(p) for p in parts), re.S)


def test_another_layout_without_a_new_key_is_refused_as_documented(cluster, pool, shm_keys,
                                                                   next_release):
    k_old, k_new = shm_keys(0), shm_keys(1)
    pattern = refusal_pattern()
    old = pool(2, prefix="old")
    connect_all(old, cluster.url(), key=k_old, **OLD)
    old_tender, _ = the_tender(old)

    # The next release deployed on the old key: refused, old segment untouched.
    [stray] = next_release(1)
    answer = stray.connect(cluster.url(), key=k_old, **OLD)
    assert answer["ok"] is False and answer["code"] == SEGMENT, answer
    assert pattern.search(answer["error"]), answer["error"]
    assert "uses layout version %d" % NEXT_LAYOUT_VERSION in answer["error"], answer
    assert "0x%08x" % k_old in answer["error"] and "key" in answer["error"], answer
    assert shm.info(k_old)["nattch"] == 2
    assert {s["owner_pid"] for s in statuses(old)} == {old_tender.pid}

    # On its own key it runs beside the old release.
    nxt = next_release(2)
    connect_all(nxt, cluster.url(), key=k_new, **NEW)
    nxt_tender, _ = the_tender(nxt)
    for w in old + nxt:
        assert w.route(b"user:1000")["port"] in cluster.ports

    # And the old release refuses the new release's segment the same way.
    [late] = pool(1, prefix="late")
    answer = late.connect(cluster.url(), key=k_new, **NEW)
    assert answer["ok"] is False and answer["code"] == SEGMENT, answer
    assert pattern.search(answer["error"]), answer["error"]
    assert "has segment layout version %d" % NEXT_LAYOUT_VERSION in answer["error"], answer
    assert {s["owner_pid"] for s in statuses(nxt)} == {nxt_tender.pid}
