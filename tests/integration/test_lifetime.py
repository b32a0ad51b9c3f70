"""test_lifetime.py - the segment's lifetime (docs/design.md, "Segment
lifetime"): the last process to detach removes it; a close while others are
attached does not; a process that attaches while the last one leaves never
ends on the removed segment; a process killed without close leaves the
segment behind (the next process uses it, `clustershm rm` removes it).
"""
from support import cli, shm
from support.checks import the_tender
from support.worker import connect_all

from test_cli import as_int, run_cli

FAST = dict(tend_interval=0.2, takeover_timeout=30)
RACES = 25


def listed_keys():
    return {as_int(s["key"]) for s in cli.json_of(run_cli("list", "--json"), "list")["segments"]}


def test_last_close_removes_the_segment_and_list_forgets_it(cluster, pool, shm_key):
    ws = pool(3)
    connect_all(ws, cluster.url(), key=shm_key, **FAST)
    shmid = shm.info(shm_key)["shmid"]
    assert shm_key in listed_keys()
    ws[0].ok("close")
    ws[1].ok("close")
    # One process is still attached: the segment stays, and it still routes.
    seg = shm.info(shm_key)
    assert seg is not None and seg["shmid"] == shmid and seg["nattch"] == 1, seg
    assert ws[2].route(b"user:1")["port"] in cluster.ports
    assert shm_key in listed_keys()
    ws[2].ok("close")
    assert shm.info(shm_key) is None, "the last close left the segment behind"
    assert shmid not in {r["shmid"] for r in shm.rows()}
    assert shm_key not in listed_keys()


def test_killed_processes_leave_it_and_the_next_one_uses_it(cluster, pool, shm_key):
    ws = pool(2)
    connect_all(ws, cluster.url(), key=shm_key, **FAST)
    the_tender(ws)
    for w in ws:
        w.kill()
    seg = shm.info(shm_key)
    assert seg is not None and seg["nattch"] == 0, seg
    [late] = pool(1, prefix="late")
    assert late.connect(cluster.url(), key=shm_key, **FAST)["ok"]
    assert late.status()["shmid"] == seg["shmid"]
    late.ok("close")
    assert shm.info(shm_key) is None


def test_an_attach_racing_the_last_detach_never_ends_on_a_removed_segment(cluster, pool,
                                                                         shm_key):
    """Round after round, the segment's only process closes while another
    connects: the newcomer either joined in time (the leaver saw it and kept
    the segment) or found the segment gone or marked removed and made or
    found the one at the key.  Either way it ends on the segment at the key,
    never on a removed one that nobody else can find."""
    a, b = pool(2)
    assert a.connect(cluster.url(), key=shm_key, **FAST)["ok"]
    leaver, joiner = a, b
    kept = recreated = 0
    for _ in range(RACES):
        old = shm.info(shm_key)["shmid"]
        leaver.send("close")
        joiner.send(joiner.connect_line(cluster.url(), key=shm_key, **FAST))
        assert leaver.recv()["ok"]
        answer = joiner.recv()
        assert answer["ok"], answer
        s = joiner.status()
        seg = shm.info(shm_key)
        assert seg is not None and seg["shmid"] == s["shmid"], (s["shmid"], seg)
        assert not shm.removed(s["shmid"]), "the joiner ended on a removed segment"
        assert seg["nattch"] == 1, seg
        if s["shmid"] == old:
            kept += 1
        else:
            recreated += 1
        leaver, joiner = joiner, leaver
    print("%d rounds: the segment was kept %d times, made anew %d times"
          % (RACES, kept, recreated))
    leaver.ok("close")
    assert shm.info(shm_key) is None
