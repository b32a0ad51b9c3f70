"""test_aerospike.py - the Aerospike driver against the simulated cluster
(tests/aerospike_sim): shared tending, routes against the simulator's
truth, cluster changes, faults, cluster names, change of tender.

Invariants:
  - every test starts its own simulator (a child process, nodes on ports
    3120-3149 + 1000 * CSHM_TEST_INSTANCE, its control port next to them;
    support/aerospike.py) and stops it at teardown;
  - the expected route of a key comes only from the simulator: its own
    digest code (tests/aerospike_sim/digest.py, not our C) gives the
    partition, its `truth` control gives the owners;
  - waits have deadlines of several tend intervals; they stop a hung test,
    they do not measure speed (bench/ does).
"""
import os
import signal
import time

import pytest

from support import shm
from support.aerospike import PORT_SHIFT, Sim, make_keyfiles, port_free
from support.checks import the_tender, wait_new_tender
from support.procs import wait_for
from support.worker import broadcast, connect_all, statuses

FAST = dict(tend_interval=0.25, takeover_timeout=30, connect_timeout=1)
SLOW = dict(tend_interval=60, takeover_timeout=120, connect_timeout=1)


@pytest.fixture
def sim():
    s = Sim()
    yield s
    s.close()


# ---- keys ---------------------------------------------------------------


@pytest.fixture
def keyfiles(tmp_path):
    return make_keyfiles(tmp_path)


_outputs = iter(range(10 ** 9))


def route_files(workers, namespace, keyfiles, tmp_path, replica=0):
    """Every worker routes every key file; [[lines per file] per worker]."""
    results = [[] for _ in workers]
    for kf in keyfiles:
        outs = {w.pid: str(tmp_path / ("aroutes-%d.txt" % next(_outputs))) for w in workers}
        broadcast(workers, lambda w: "aroutefile %s %s %s %s %s %d" % (
            namespace, kf.set_arg(), kf.type, kf.path, outs[w.pid], replica), timeout=120)
        for i, w in enumerate(workers):
            with open(outs[w.pid]) as f:
                results[i].append(f.read().splitlines())
    return results


def expected_lines(sim, namespace, keyfiles, replica=0, owners=None):
    owners = owners if owners is not None else sim.owners(namespace)
    ports = sim.ports()
    return [["127.0.0.1:%d %d" % (ports[owners[p][replica]], p) for p in kf.partitions]
            for kf in keyfiles]


def differences(got, expected, keyfiles, limit=4):
    out = []
    for kf, g, e in zip(keyfiles, got, expected):
        if len(g) != len(e):
            out.append("%s: %d routes for %d keys" % (kf.path, len(g), len(e)))
            continue
        bad = [(k, x, y) for k, x, y in zip(kf.keys, g, e) if x != y]
        if bad:
            out.append("%s (%s keys, set %r): %d of %d differ, e.g. %s" % (
                os.path.basename(kf.path), kf.type, kf.set, len(bad), len(e),
                "; ".join("%r: got %r, truth %r" % b for b in bad[:limit])))
    return "\n".join(out)


def assert_routes(workers, sim, namespace, keyfiles, tmp_path, replica=0):
    expected = expected_lines(sim, namespace, keyfiles, replica)
    for w, got in zip(workers, route_files(workers, namespace, keyfiles, tmp_path, replica)):
        diff = differences(got, expected, keyfiles)
        assert not diff, "%r, namespace %s, replica %d:\n%s" % (w, namespace, replica, diff)


def wait_routes(workers, sim, keyfiles, tmp_path, timeout, what, namespaces=("test", "bar"),
                masters_only=False):
    """Waits until every worker routes every key of every namespace as the
    simulator's truth says (master and, where there is one, replica 1)."""
    state = {}

    def check():
        for ns in namespaces:
            replicas = range(1 if masters_only else len(sim.owners(ns)[0]))
            for replica in replicas:
                expected = expected_lines(sim, ns, keyfiles, replica)
                got_all = route_files(workers, ns, keyfiles, tmp_path, replica)
                for w, got in zip(workers, got_all):
                    diff = differences(got, expected, keyfiles)
                    if diff:
                        state["diff"] = "%r ns %s replica %d:\n%s" % (w, ns, replica, diff)
                        return False
        return True

    try:
        wait_for(check, timeout, what, interval=0.1)
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, state.get("diff")))


def node_names(worker):
    return sorted(n["name"] for n in worker.nodes())


def wait_nodes(worker, names, timeout, what):
    wait_for(lambda: node_names(worker) == sorted(names), timeout,
             "%s (want %s)" % (what, sorted(names)))


def start(pool, sim, key, n=4, **options):
    ws = pool(n)
    connect_all(ws, sim.url(), key=key, **(options or FAST))
    return ws


# ---- sharing and routing ----------------------------------------------------


def test_sixteen_workers_share_one_tender_and_route_like_the_truth(sim, pool, shm_key, keyfiles,
                                                                  tmp_path):
    ws = start(pool, sim, shm_key, n=16, tend_interval=0.2, takeover_timeout=30)
    tender, sts = the_tender(ws)
    assert len({s["shmid"] for s in sts}) == 1
    assert all(s["driver"] == "aerospike" and s["nodes"] == 3 and s["namespaces"] == 2 and
               not s["stale"] for s in sts), sts[0]
    assert node_names(ws[0]) == sorted(sim.ports())

    # 10,000 keys of three types in three sets, both namespaces, master and
    # replica, in every worker.
    assert_routes(ws, sim, "test", keyfiles, tmp_path, replica=0)
    assert_routes(ws, sim, "test", keyfiles, tmp_path, replica=1)
    assert_routes(ws, sim, "bar", keyfiles, tmp_path, replica=0)
    # bar has one copy: there is no replica 1 to route to.
    a = ws[0].cmd("aroute bar demo string 6b657931 1")
    assert a["ok"] is False and a["code"] == -2 and "replica" in a["error"], a
    a = ws[0].cmd("aroute nosuch demo string 6b657931")
    assert a["ok"] is False and a["code"] == -2 and "unknown namespace" in a["error"], a
    # partition() is the spec's: "demo"/"key1" is 492 (spec 7.1).
    assert ws[1].ok("apartition demo string 6b657931")["partition"] == 492
    assert ws[1].ok("apartition - integer 1")["partition"] == 932

    # The load on the cluster follows the tend interval, not the 16
    # processes: one refresh per node per tend (0.2 s) in steady state.
    sim.call("counters", reset=True)
    time.sleep(2.0)
    counters = sim.call("counters")
    for name, c in counters.items():
        assert 3 <= c["requests"] <= 2 * 10 + 5, (name, c["requests"], c["names"])
        assert c["names"].get("replicas", 0) <= 1, (name, c["names"])


def test_limits_are_reported_never_silent(sim, pool, shm_key):
    [w] = pool(1)
    a = w.connect(sim.url(), key=shm_key, max_nodes=2, max_namespaces=1, **FAST)
    assert a["ok"], a
    wait_for(lambda: "max_nodes=2 reached" in w.log() and "max_namespaces=1 reached" in w.log(),
             5, "both limits to be reported")
    # ...and then grown online (test_growth.py, and the test below).
    wait_for(lambda: (lambda s: s["nodes"] == 3 and s["namespaces"] == 2 and
                      not s["nodes_truncated"] and not s["namespaces_truncated"] and
                      (s["max_nodes"], s["max_namespaces"]) == (4, 2))(w.status()),
             10, "the segment to grow")


def test_nodes_and_namespaces_past_the_limits_grow_online(sim, pool, shm_key, keyfiles,
                                                          tmp_path):
    """max_namespaces=1 against 2 namespaces, then nodes added past
    max_nodes=4: the segment grows twice (namespaces 1 -> 2, nodes 4 -> 8),
    every process follows, routes stay the simulator's truth, and the old
    segments go with their last processes."""
    ws = pool(3)
    connect_all(ws, sim.url(), key=shm_key, max_nodes=4, max_namespaces=1, **FAST)
    gen1, gen2 = shm.chain_key(shm_key, 1), shm.chain_key(shm_key, 2)
    wait_for(lambda: all(s["key"] == gen1 and s["namespaces"] == 2 and s["max_namespaces"] == 2
                         for s in statuses(ws)), 10, "the namespaces to grow")
    wait_routes(ws, sim, keyfiles, tmp_path, 10, "routes in both namespaces")
    reader = ws[-1]
    # verifyloop verifies the snapshot nonstop (its routes have no
    # namespace: a CONFIG error each, -1, for Aerospike, so only they may
    # fail); wait_routes below checks the routes.
    reader.send("verifyloop 3")
    sim.call("add_node")
    sim.call("add_node")
    done = reader.recv(30)
    assert done["ok"] and done["invalid"] == 0 and set(done["errors"]) <= {"-1"}, done
    wait_for(lambda: all(s["key"] == gen2 and s["nodes"] == 5 and s["max_nodes"] == 8 and
                         not s["nodes_truncated"] for s in statuses(ws)), 10, "the nodes to grow")
    wait_routes(ws, sim, keyfiles, tmp_path, 10, "routes with the added nodes")
    wait_for(lambda: shm.info(shm_key) is None and shm.info(gen1) is None, 10,
             "the old generations to go")


def test_connect_fails_clearly_when_no_seed_answers(pool, shm_key):
    [w] = pool(1)
    port = next(p for p in range(3190 + PORT_SHIFT, 3199 + PORT_SHIFT) if port_free(p))
    a = w.connect("aerospike://127.0.0.1:%d" % port, key=shm_key, connect_timeout=2)
    assert a["ok"] is False and a["code"] == -2, a
    assert "127.0.0.1:%d" % port in a["error"] and "refused" in a["error"], a


# ---- cluster changes: within a tend interval, and at once after refresh -------


@pytest.fixture(params=["interval", "refresh"])
def follow(request, pool, shm_keys):
    """(workers, nudge): in "interval" mode the workers tend every 0.25 s and
    nudge() does nothing; in "refresh" mode they tend every 60 s and nudge()
    asks a follower for request_refresh(), the only way they can follow."""
    mode = request.param

    def setup(sim):
        ws = pool(3)
        connect_all(ws, sim.url(), key=shm_keys(0), **(FAST if mode == "interval" else SLOW))
        tender, _ = the_tender(ws)
        follower = next(w for w in ws if w is not tender)

        def nudge():
            if mode == "refresh":
                follower.ok("refresh")
        return ws, nudge
    return setup


def test_node_added_is_followed(sim, follow, keyfiles, tmp_path):
    ws, nudge = follow(sim)
    before = statuses(ws)[0]["generation"]
    added = sim.call("add_node")
    nudge()
    wait_nodes(ws[0], list(sim.ports()), 5, "the added node in the map")
    wait_routes(ws, sim, keyfiles, tmp_path, 5, "routes to include the added node")
    assert statuses(ws)[0]["generation"] > before
    assert any(n["name"] == added["name"] and n["partitions"] > 0 for n in ws[1].nodes())


def test_node_removed_is_followed(sim, follow, keyfiles, tmp_path):
    ws, nudge = follow(sim)
    victim = sim.members()[1]
    sim.call("remove_node", name=victim)
    nudge()
    wait_nodes(ws[0], sim.members(), 5, "the removed node out of the map")
    wait_routes(ws, sim, keyfiles, tmp_path, 5, "routes to avoid the removed node")


def test_node_killed_is_followed(sim, follow, keyfiles, tmp_path):
    ws, nudge = follow(sim)
    victim = sim.members()[0]   # the seed itself
    sim.call("kill_node", name=victim)
    nudge()
    wait_nodes(ws[0], sim.members(), 5, "the killed node out of the map")
    wait_routes(ws, sim, keyfiles, tmp_path, 5, "routes to avoid the killed node")


def test_migration_is_followed(sim, follow, keyfiles, tmp_path):
    ws, nudge = follow(sim)
    a, b = sim.members()[:2]
    moved = sim.call("migrate", namespace="test", to=b, count=300, source=a)
    assert len(moved) == 300
    moved_bar = sim.call("migrate", namespace="bar", to=a, count=100)
    assert len(moved_bar) == 100
    nudge()
    wait_routes(ws, sim, keyfiles, tmp_path, 5, "routes to follow the migrated partitions")


def test_regime_rule_keeps_a_stale_claim_out(sim, pool, shm_key, keyfiles, tmp_path):
    """SC: a node whose answers are frozen (lagging) keeps claiming
    partitions under an old regime; the newer regime wins for good."""
    ws = start(pool, sim, shm_key, n=2)
    sc = sim.call("set_sc", namespace="test", enabled=True, regime=5)
    assert sc["regime"] == 5
    wait_routes(ws, sim, keyfiles, tmp_path, 5, "routes after the switch to SC",
                namespaces=("test",))
    a, b = sim.members()[:2]
    sim.call("lag", name=a)
    moved = sim.call("migrate", namespace="test", to=b, count=200, source=a)
    assert len(moved) == 200
    # Masters only: where the migration swapped master and replica, only
    # the lagging node itself could tell that it became the replica.
    wait_routes(ws, sim, keyfiles, tmp_path, 5, "routes to follow the SC migration",
                namespaces=("test",), masters_only=True)
    # The displaced node is asked again each time it loses a cell; under
    # the regime rule its stale claims never win back.
    for _ in range(6):
        time.sleep(FAST["tend_interval"])
        assert_routes(ws, sim, "test", keyfiles, tmp_path)
    sim.call("lag", name=a, enabled=False)
    sim.call("bump_regime", namespace="test")
    wait_routes(ws, sim, keyfiles, tmp_path, 5, "routes after the lagging node caught up",
                namespaces=("test",))


# ---- faults -------------------------------------------------------------------


def node_state(worker, name):
    return next(n for n in worker.nodes() if n["name"] == name)


def wait_inactive(worker, name, active, what):
    wait_for(lambda: node_state(worker, name)["active"] == active, 10, what)


@pytest.mark.parametrize("kind,expect", [("slow", "timed out"), ("garbage", "not an info"),
                                         ("truncated", "closed"), ("drop", "closed"),
                                         ("hang", "timed out")])
def test_broken_node_keeps_the_last_map_and_recovers(sim, pool, shm_key, keyfiles, tmp_path,
                                                      kind, expect):
    ws = start(pool, sim, shm_key, n=3, tend_interval=0.25, takeover_timeout=3,
               connect_timeout=1)
    tender, sts = the_tender(ws)
    epoch = sts[0]["epoch"]
    victim = sim.members()[1]
    args = {"delay": 3} if kind == "slow" else {}
    sim.call("set_fault", name=victim, kind=kind, **args)
    wait_inactive(ws[0], victim, False, "the broken node to be reported inactive")
    s = statuses(ws)
    assert expect in s[0]["last_error"] and victim in s[0]["last_error"], s[0]["last_error"]
    # The tender is not stalled: it keeps tending (and keeps its place,
    # even with takeover_timeout=3 and a 1 s timeout per request).
    t0 = s[0]["tended_at"]
    wait_for(lambda: statuses(ws)[0]["tended_at"] > t0 + 1, 10, "tends to go on")
    assert all(x["epoch"] == epoch and not x["stale"] for x in statuses(ws))
    assert_routes(ws, sim, "test", keyfiles, tmp_path)
    sim.call("clear_faults", name=victim)
    wait_inactive(ws[0], victim, True, "the node to be active again")
    wait_routes(ws, sim, keyfiles, tmp_path, 5, "routes after recovery")
    assert tender.status()["role"] == "tender"


def test_bad_replicas_value_keeps_the_last_good_map(sim, pool, shm_key, keyfiles, tmp_path):
    ws = start(pool, sim, shm_key, n=2)
    a, b = sim.members()[:2]
    owners_before = sim.owners("test")
    sim.call("set_fault", name=b, kind="bad_value", only=["replicas"])
    moved = sim.call("migrate", namespace="test", to=b, count=100, source=a)
    assert len(moved) == 100
    wait_for(lambda: "replicas" in statuses(ws)[0]["last_error"], 10,
             "the replicas parse error to be reported")
    # B's unparsable claims were not applied, not even in part: the moved
    # partitions still route to their last known owner.
    time.sleep(0.5)
    expected = expected_lines(sim, "test", keyfiles, owners=owners_before)
    for w, got in zip(ws, route_files(ws, "test", keyfiles, tmp_path)):
        diff = differences(got, expected, keyfiles)
        assert not diff, diff
    sim.call("clear_faults", name=b)
    wait_routes(ws, sim, keyfiles, tmp_path, 5, "routes after the node answers well again")


def test_all_nodes_down_marks_stale_keeps_the_map_and_recovers(sim, pool, shm_key, keyfiles,
                                                              tmp_path):
    ws = start(pool, sim, shm_key, n=3)
    owners_before = sim.owners("test")
    members = sim.members()
    for name in members:
        sim.call("kill_node", name=name, rebalance=False)
    wait_for(lambda: all(s["stale"] for s in statuses(ws)), 10, "every worker to see stale")
    s = statuses(ws)[0]
    assert "no node answered" in s["last_error"] or "no seed" in s["last_error"], s["last_error"]
    expected = expected_lines(sim, "test", keyfiles, owners=owners_before)
    for w, got in zip(ws, route_files(ws, "test", keyfiles, tmp_path)):
        assert not differences(got, expected, keyfiles)
    # Long enough for the tender to drop every node and reseed (2.8 rule 2).
    time.sleep(2.0)
    for name in members:
        sim.call("restart_node", name=name)
    wait_for(lambda: not any(s["stale"] for s in statuses(ws)), 10, "stale to clear")
    wait_nodes(ws[0], members, 5, "every node back in the map")
    wait_routes(ws, sim, keyfiles, tmp_path, 5, "routes after the cluster came back")


# ---- cluster names --------------------------------------------------------------


def test_cluster_name_mismatch_is_a_clear_error(sim, pool, shm_keys):
    sim.call("set_cluster_name", cluster_name="alpha")
    [w, v] = pool(2)
    a = w.connect(sim.url(), key=shm_keys(0), cluster_name="beta", connect_timeout=3)
    assert a["ok"] is False and a["code"] == -2, a
    assert "'alpha'" in a["error"] and "'beta'" in a["error"] and "mismatch" in a["error"], a
    ok = v.connect(sim.url(), key=shm_keys(1), cluster_name="alpha", connect_timeout=3)
    assert ok["ok"], ok
    assert len(v.nodes()) == 3


def test_node_moved_to_another_cluster_is_dropped(sim, pool, shm_key):
    sim.call("set_cluster_name", cluster_name="alpha")
    ws = pool(2)
    connect_all(ws, sim.url(), key=shm_key, cluster_name="alpha", **FAST)
    moved = sim.members()[2]
    sim.call("set_cluster_name", cluster_name="elsewhere", name=moved)
    wait_for(lambda: moved not in node_names(ws[0]), 5, "the moved node to leave the map")
    assert len(ws[1].nodes()) == 2


# ---- change of tender -------------------------------------------------------------


def test_sigkill_of_the_tender_hands_over(sim, pool, shm_key, keyfiles, tmp_path):
    ws = start(pool, sim, shm_key, n=4)
    tender, sts = the_tender(ws)
    tender.kill()
    rest = [w for w in ws if w is not tender]
    wait_new_tender(rest, sts[0]["epoch"], timeout=10, what="a takeover after SIGKILL")
    a, b = sim.members()[:2]
    sim.call("migrate", namespace="bar", to=b, count=50, source=a)
    wait_routes(rest, sim, keyfiles, tmp_path, 5, "the new tender to publish a migration")


def test_stopped_tender_is_replaced(sim, pool, shm_key, keyfiles, tmp_path):
    ws = start(pool, sim, shm_key, n=3, tend_interval=0.2, takeover_timeout=1.5,
               connect_timeout=0.5)
    tender, sts = the_tender(ws)
    rest = [w for w in ws if w is not tender]
    tender.signal(signal.SIGSTOP)
    try:
        new, sts = wait_new_tender(rest, sts[0]["epoch"], timeout=20,
                                   what="a takeover of the stopped tender")
        sim.call("add_node")
        wait_routes(rest, sim, keyfiles, tmp_path, 5, "the new tender to follow a new node")
    finally:
        tender.signal(signal.SIGCONT)
    wait_for(lambda: tender.status()["role"] == "follower", 10, "the old tender to step down")
    wait_routes(ws, sim, keyfiles, tmp_path, 5, "every worker, the old tender too, to agree")


def test_close_of_the_tender_hands_over(sim, pool, shm_key, keyfiles, tmp_path):
    ws = start(pool, sim, shm_key, n=3)
    tender, sts = the_tender(ws)
    tender.ok("close")
    rest = [w for w in ws if w is not tender]
    wait_new_tender(rest, sts[0]["epoch"], timeout=10, what="a handoff at close")
    sim.call("remove_node", name=sim.members()[0])
    wait_routes(rest, sim, keyfiles, tmp_path, 5, "the new tender to follow a removed node")


def test_forked_children_are_followers_and_route(sim, pool, shm_key, keyfiles, tmp_path):
    ws = start(pool, sim, shm_key, n=2)
    tender, before = the_tender(ws)
    kf = keyfiles[0]
    expected = expected_lines(sim, "test", [kf])[0]
    for w in ws:  # the tender first, then the follower
        out = tmp_path / ("child-of-%d.txt" % w.pid)
        a = w.ok("afork test %s %s %s %s" % (kf.set_arg(), kf.type, kf.path, out), timeout=120)
        assert a["child_exit"] == 0, a
        with open(str(out)) as f:
            lines = f.read().splitlines()
        assert lines[-1] == "STATUS follower %d" % a["child_pid"], lines[-1]
        assert lines[:-1] == expected, "child of %r routes differently" % w
    after = statuses(ws)
    for b, s in zip(before, after):
        assert (s["role"], s["epoch"], s["pid"]) == (b["role"], b["epoch"], b["pid"])
    assert tender.status()["role"] == "tender"
