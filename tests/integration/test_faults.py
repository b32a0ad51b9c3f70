"""test_faults.py - break the cluster on purpose, count what survives.

Real Redis Clusters (a fresh one per destructive test) have nodes killed,
paused past the network step, restarted, blackholed and all taken down; fake
seeds hang, answer garbage or answer a protocol error.  The Aerospike
simulator gets every fault control it has.  For each fault:

  - workers keep routing from the last good map: while a map exists, route()
    never fails;
  - nothing blocks past its deadline: every worker answers every command
    (route a whole key file, status, nodes, a bounded refresh wait) within
    ANSWER_WITHIN, which only catches hangs;
  - `stale` and `last_error` are right: a fault that some node survives
    never makes the map stale, and the tend that met the fault names the
    node (host:port, or the Aerospike node name) and the reason; when no
    node answers, the map is stale and says why;
  - recovery follows within a few tend intervals of the cluster's own
    recovery: a fresh map, not stale, routes equal to the servers' truth
    (CLUSTER KEYSLOT + CLUSTER SHARDS; the simulator's `truth`).

Two groups of workers watch each cluster, each group on its own segment:
group A tends every TEND seconds and is probed in rounds throughout; group
B tends only when asked (tend_interval 60, `refresh`), so "the tend right
after the fault" is one known tend and its last_error can be read without
racing the next one.  B's tender asks the node that answered it last
first, which is seed 0 (it answered B's first tend): the victim of a node
fault is therefore seed 0.

Every injection is counted (support/injected.py) and the totals are
printed at the end of the run.
"""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from support import injected
from support import keys as K
from support.cluster import HOST, NOWHERE_PORTS, PORT_SHIFT
from support.procs import spawn, stop_process, wait_for
from support.worker import WorkerError, broadcast, connect_all, statuses
# The simulator's key files and route helpers (test_aerospike.py puts the
# repository root on sys.path for tests.aerospike_sim).
from test_aerospike import differences, expected_lines, make_keyfiles, route_files
from tests.aerospike_sim.client import SimulatorProcess

TEND = 0.25
CONNECT_TIMEOUT = 0.5        # also the network step: one operation waits at most this
ANSWER_WITHIN = 5.0          # a command not answered by then is a hang
RECOVERY = 40 * TEND         # "a few tend intervals", generously: catches a hang, not slowness
A_OPTS = dict(tend_interval=TEND, takeover_timeout=30, connect_timeout=CONNECT_TIMEOUT)
B_OPTS = dict(tend_interval=60, takeover_timeout=120, connect_timeout=CONNECT_TIMEOUT)
FAKESERVER = os.path.join(os.path.dirname(__file__), "support", "fakeserver.py")
ENTRY = re.compile(r"(\d+\.\d+\.\d+\.\d+:\d+): ([^;]*)")


def endpoint(port):
    return "%s:%d" % (HOST, port)


def failures(last_error):
    """{"host:port": reason} of a Redis tender's last_error
    ("h:p: reason; h:p: reason; +N more")."""
    return dict(ENTRY.findall(last_error))


def assert_named(status, port, *reason_words):
    """The status's last_error names the node at port with every word."""
    named = failures(status["last_error"])
    where = endpoint(port)
    print("last_error naming %s: %r" % (where, status["last_error"]))
    assert where in named, "last_error %r does not name %s" % (status["last_error"], where)
    for word in reason_words:
        assert word in named[where], "last_error says %s: %r, not %r" % (where, named[where], word)


# ---- the watchers ---------------------------------------------------------------


class Watch:
    """Group A (tends every TEND) and group B (tends when asked) on one
    cluster, and the checks every round makes."""

    def __init__(self, pool, shm_keys, url, keyset, keyslots, tmp_path, a=3, b=2,
                 a_opts=None, b_opts=None):
        self.keys, self.keys_path = keyset
        self.keyslots = keyslots
        self.tmp_path = tmp_path
        self.a = pool(a, prefix="a")
        self.b = pool(b, prefix="b")
        connect_all(self.a, url, key=shm_keys(0), **(a_opts or A_OPTS))
        connect_all(self.b, url, key=shm_keys(1), **(b_opts or B_OPTS))
        self.rounds = 0
        self._n = 0

    def probe(self, group=None, must_be_fresh=True, refresh_wait=True):
        """One round: every worker routes every key (never failing while a
        map exists), answers status, nodes and (with refresh_wait) a
        refresh wait bounded at 0.2 s, each within ANSWER_WITHIN.  With
        must_be_fresh, no status may be stale.  Returns (statuses, routes
        per worker)."""
        ws = group or self.a
        self._n += 1
        outs = {w.pid: str(self.tmp_path / ("probe-%d-%d.txt" % (self._n, w.pid))) for w in ws}
        broadcast(ws, lambda w: "routefile %s %s" % (self.keys_path, outs[w.pid]),
                  timeout=ANSWER_WITHIN)
        sts = broadcast(ws, "status", timeout=ANSWER_WITHIN)
        broadcast(ws, "nodes", timeout=ANSWER_WITHIN)
        if refresh_wait:
            broadcast(ws[:1], "refreshwait 0.2", timeout=ANSWER_WITHIN)
        self.rounds += 1
        if must_be_fresh:
            stale = [s for s in sts if s["stale"]]
            assert not stale, "a node is still up, yet the map is stale: %s" % stale[0]
        return sts, [K.read_routes(outs[w.pid]) for w in ws]

    def probe_for(self, seconds, **kw):
        end = time.monotonic() + seconds
        sts = None
        while time.monotonic() < end:
            sts, _ = self.probe(**kw)
        return sts

    def tend_b(self):
        """One tend of group B's tender, and the status it published."""
        before = self.b[0].status()["tends"]
        self.b[-1].ok("refresh")

        def tended():
            s = self.b[0].status()
            return s if s["tends"] > before else None
        return wait_for(tended, RECOVERY, "group B's tender to tend once more")

    def recovered(self, cluster, since, what, group=None):
        """Waits until every worker of the group has a fresh map (tended
        after `since`, not stale) whose routes are the servers' truth.
        Group A gets there by its tend interval alone (no refresh is asked
        meanwhile); group B, which tends only when asked, by `refresh`."""
        ws = group or self.a
        cluster.wait_settled()
        expected = K.expected_routes(cluster, self.keys, self.keyslots)
        state = {}

        def check():
            if ws is self.b:
                ws[-1].ok("refresh")
            sts, routes = self.probe(ws, must_be_fresh=False, refresh_wait=False)
            state["last"] = [(s["stale"], s["tended_at"] - since, s["last_error"]) for s in sts]
            if any(s["stale"] or s["tended_at"] <= since for s in sts):
                return False
            for w, got in zip(ws, routes):
                diff = K.mismatches(got, expected, self.keys)
                if diff:
                    state["diff"] = "%r: %s" % (w, diff)
                    return False
            return True

        try:
            wait_for(check, RECOVERY, what, interval=0.05)
        except AssertionError as e:
            raise AssertionError("%s\nlast (stale, tended_at - since, last_error): %s\n%s"
                                 % (e, state.get("last"), state.get("diff", "")))


def node_active(worker, port):
    return [n["active"] for n in worker.nodes() if n["port"] == port]


def health(cluster, port):
    """The node's health as the live servers see it ("online", "fail"...)."""
    for shard in cluster.shards():
        for n in shard["nodes"]:
            if int(n["port"]) == port:
                return n["health"]
    return None


class FakeServer:
    def __init__(self, mode, port):
        self.port = port
        self.proc = spawn([sys.executable, FAKESERVER, str(port), mode], stdout=subprocess.PIPE)
        assert self.proc.stdout.readline().strip() == b"ready", "fakeserver %s did not start" % mode

    def stop(self):
        stop_process(self.proc)


@pytest.fixture
def fakes():
    """fakes(mode, ...) -> [FakeServer], on the ports no fixture listens on."""
    made = []
    ports = iter(NOWHERE_PORTS)

    def make(*modes):
        out = []
        for mode in modes:
            out.append(FakeServer(mode, next(ports)))
            injected.count("fake redis seed (%s)" % mode)
        made.extend(out)
        return out

    yield make
    for f in made:
        f.stop()


# ---- Redis: one node --------------------------------------------------------------


def test_master_killed_fails_over_and_returns(make_cluster, pool, shm_keys, keyset, keyslots,
                                              tmp_path):
    c = make_cluster()
    victim, _, _ = c.masters()[0]
    assert c.url().startswith("redis://%s," % endpoint(victim)), c.url()
    [replica] = c.replica_of(victim)
    watch = Watch(pool, shm_keys, c.url(), keyset, keyslots, tmp_path)
    assert watch.tend_b()["last_error"] == "", "seed 0 must answer B's tends before the fault"

    c.kill_node(victim)
    injected.count("redis master killed (SIGKILL)")
    s = watch.tend_b()
    assert_named(s, victim, "refused")
    assert not s["stale"], s
    # The failover: routes come from the last good map meanwhile, never stale.
    def promoted():
        watch.probe()
        return replica in [p for p, _, _ in c.masters()]
    wait_for(promoted, 60, "redis to promote %d after its master %d died" % (replica, victim))
    watch.recovered(c, time.time(), "routes to follow the failover")
    wait_for(lambda: node_active(watch.a[0], victim) == [False], RECOVERY,
             "the dead master to be reported inactive")

    c.restart_node(victim)
    injected.count("redis node restarted")
    back = time.time()
    wait_for(lambda: health(c, victim) == "online", 60, "the old master to rejoin")
    watch.recovered(c, back, "routes after the old master rejoined (as a replica)")
    wait_for(lambda: node_active(watch.a[0], victim) == [True], RECOVERY,
             "the restarted node to be reported active")
    watch.recovered(c, back, "group B to follow after a refresh", group=watch.b)
    print("master killed: %d probe rounds" % watch.rounds)


def test_replica_killed_and_restarted(make_cluster, pool, shm_keys, keyset, keyslots, tmp_path):
    c = make_cluster()
    master, _, _ = c.masters()[0]
    [victim] = c.replica_of(master)
    # The replica is seed 0, so B's tender asks it first.
    url = "redis://" + ",".join(endpoint(p) for p in [victim] + c.live_ports[:3])
    watch = Watch(pool, shm_keys, url, keyset, keyslots, tmp_path)
    assert watch.tend_b()["last_error"] == ""
    replica_routes_before = replica_lines(watch, "before")

    c.kill_node(victim)
    injected.count("redis replica killed (SIGKILL)")
    s = watch.tend_b()
    assert_named(s, victim, "refused")
    assert not s["stale"], s
    def marked_failed():
        watch.probe()
        return health(c, victim) not in (None, "online")
    wait_for(marked_failed, 60, "the servers to mark replica %d failed" % victim)
    watch.recovered(c, time.time(), "masters' routes while a replica is down")
    wait_for(lambda: node_active(watch.a[0], victim) == [False], RECOVERY,
             "the dead replica to be reported inactive")
    # Its master has no other replica: replica 1 still names it (offline
    # replicas are kept, after online ones), rather than failing.
    assert replica_lines(watch, "during") == replica_routes_before

    c.restart_node(victim)
    injected.count("redis node restarted")
    back = time.time()
    wait_for(lambda: health(c, victim) == "online", 60, "the replica to rejoin")
    watch.recovered(c, back, "routes after the replica rejoined")
    wait_for(lambda: node_active(watch.a[0], victim) == [True], RECOVERY,
             "the restarted replica to be reported active")


def replica_lines(watch, tag):
    """Group A's first worker routes every key to replica 1."""
    w = watch.a[0]
    out = str(watch.tmp_path / ("replica-%s-%d.txt" % (tag, w.pid)))
    w.ok("routefile %s %s 1" % (watch.keys_path, out), timeout=ANSWER_WITHIN)
    return K.read_routes(out)


def test_paused_master_past_the_network_step(make_cluster, pool, shm_keys, keyset, keyslots,
                                             tmp_path):
    """SIGSTOP: the node's port still accepts (the kernel's backlog) and
    never answers - a blackhole inside the map.  Paused for 5 network steps
    but well inside the cluster's node timeout, so the cluster itself does
    not fail over: the tender must not stall on it."""
    c = make_cluster(node_timeout_ms=15000)
    victim, _, _ = c.masters()[0]
    assert c.url().startswith("redis://%s," % endpoint(victim)), c.url()
    watch = Watch(pool, shm_keys, c.url(), keyset, keyslots, tmp_path)
    assert watch.tend_b()["last_error"] == ""
    before = statuses(watch.a)[0]

    c.kill_node(victim, signal.SIGSTOP)
    injected.count("redis master paused (SIGSTOP)")
    stopped_at = time.time()
    try:
        s = watch.tend_b()
        assert_named(s, victim, "timed out")
        assert not s["stale"], s
        # Group A's tender goes on tending (tended_at moves on) and never
        # marks the map stale; its epoch is unchanged (no takeover).
        def tends_go_on():
            sts, _ = watch.probe()
            return all(x["tended_at"] > stopped_at + 1 for x in sts)
        wait_for(tends_go_on, RECOVERY, "group A to keep tending while a node is paused")
        watch.probe_for(5 * CONNECT_TIMEOUT - (time.time() - stopped_at))
        assert all(x["epoch"] == before["epoch"] for x in statuses(watch.a))
    finally:
        c.kill_node(victim, signal.SIGCONT)
    injected.count("redis node resumed (SIGCONT)")
    back = time.time()
    watch.recovered(c, back, "routes after the paused node resumed")
    wait_for(lambda: node_active(watch.a[0], victim) == [True], RECOVERY,
             "the resumed node to be reported active")
    watch.recovered(c, back, "group B to follow after a refresh", group=watch.b)


def test_blackhole_garbage_and_error_seeds(cluster, pool, shm_keys, keyset, keyslots, tmp_path,
                                           fakes):
    """Fake nodes listed first among the seeds: one accepts and never
    answers, one answers bytes that are not RESP, one answers a RESP error.
    The first tend meets all three before a real node answers."""
    hole, garbage, error = fakes("hang", "garbage", "error")
    url = "redis://" + ",".join([endpoint(f.port) for f in (hole, garbage, error)] +
                                [endpoint(p) for p in cluster.live_ports[:3]])
    # connect_timeout above the hang's network step (1 s), so the first map
    # (after three fakes) arrives within it.
    opts = dict(A_OPTS, connect_timeout=3)
    b_opts = dict(B_OPTS, connect_timeout=3)
    watch = Watch(pool, shm_keys, url, keyset, keyslots, tmp_path, a_opts=opts, b_opts=b_opts)
    s = watch.b[0].status()
    assert not s["stale"], s
    assert_named(s, hole.port, "timed out")
    assert_named(s, garbage.port, "protocol error")
    assert_named(s, error.port, "CLUSTER SHARDS answered", "ERR")
    watch.recovered(cluster, 0, "routes despite the fake seeds")
    watch.probe_for(1.0)


# ---- Redis: every node ----------------------------------------------------------------


def test_whole_cluster_down_and_back(make_cluster, pool, shm_keys, keyset, keyslots, tmp_path,
                                     fakes):
    """Every node paused (they accept and never answer), then every node
    killed and restarted; a blackhole and a garbage seed listed too.  The
    last map keeps routing, marked stale with the reasons, and a process
    that connects meanwhile gets it at once."""
    c = make_cluster(masters=3, replicas=0, node_timeout_ms=15000)
    hole, garbage = fakes("hang", "garbage")
    url = c.url() + "," + ",".join(endpoint(f.port) for f in (hole, garbage))
    watch = Watch(pool, shm_keys, url, keyset, keyslots, tmp_path)
    expected = K.expected_routes(c, watch.keys, keyslots)
    reasons = {endpoint(hole.port): "timed out", endpoint(garbage.port): "protocol error"}

    def stale_with_reasons(what, node_reason):
        """Waits for every A worker to see the map stale; checks that
        last_error names nodes with the reason of each; routes unchanged."""
        def stale():
            sts, routes = watch.probe(must_be_fresh=False)
            for got in routes:
                assert not K.mismatches(got, expected, watch.keys), "the last map changed"
            return sts if all(s["stale"] for s in sts) else None
        sts = wait_for(stale, RECOVERY, what)
        for s in sts:
            named = failures(s["last_error"])
            assert named, "a stale map must say why: %r" % s["last_error"]
            for where, why in named.items():
                want = reasons.get(where, node_reason)
                assert want in why, "%s: %r, expected %r (%r)" % (where, why, want,
                                                                  s["last_error"])
            assert set(named) & {endpoint(p) for p in c.ports}, s["last_error"]
        s = watch.tend_b()
        assert s["stale"] and failures(s["last_error"]), s
        return sts

    # Paused: every port accepts through the kernel and nothing answers.
    for p in c.ports:
        c.kill_node(p, signal.SIGSTOP)
        injected.count("redis master paused (SIGSTOP)")
    try:
        stale_with_reasons("every worker to see the paused cluster as stale", "timed out")
        # A process connecting now gets the last map (its connect_timeout
        # covers a change of tender, whose first tend meets every paused node).
        [late] = pool(1, prefix="late")
        a = late.connect(url, key=shm_keys(0), **dict(A_OPTS, connect_timeout=10))
        assert a["ok"], a
        watch.probe(group=[late], must_be_fresh=False)
        late.stop()
    finally:
        for p in c.ports:
            c.kill_node(p, signal.SIGCONT)
            injected.count("redis node resumed (SIGCONT)")
    watch.recovered(c, time.time(), "routes after the whole cluster resumed")

    for p in c.ports:
        c.kill_node(p)
        injected.count("redis master killed (SIGKILL)")
    stale_with_reasons("every worker to see the dead cluster as stale", "refused")
    sts = statuses(watch.a)
    assert all(s["tend_failures"] > 0 and s["nodes"] == len(c.ports) for s in sts), sts
    for p in c.ports:
        c.restart_node(p)
        injected.count("redis node restarted")
    back = time.time()
    watch.recovered(c, back, "routes after the whole cluster came back")
    watch.recovered(c, back, "group B to follow after a refresh", group=watch.b)
    print("whole cluster down: %d probe rounds" % watch.rounds)


# ---- Aerospike: the simulator, with every fault control it has ------------------------
#
# Routes are checked against the simulator's truth (its `truth` control and
# its own digest code), as in test_aerospike.py, whose key files and route
# helpers are reused.  Node faults leave ownership as it was, so routes must
# equal the truth in every round while they last, not only after recovery.

SIM_BLOCKS = range(3120 + PORT_SHIFT, 3150 + PORT_SHIFT, 10)   # nodes base..+8, control +9


class Sim:
    """One simulator process on a block of ports of this suite instance."""

    def __init__(self, nodes=4, namespaces="test:2,bar:1"):
        failures = []
        for base in SIM_BLOCKS:
            try:
                self.proc = SimulatorProcess(nodes=nodes, base_port=base, namespaces=namespaces,
                                             control_port=base + 9)
            except RuntimeError as e:   # ports taken by another run: the next block
                failures.append("%d: %s" % (base, e))
                continue
            self.base = base
            return
        raise RuntimeError("cannot start a simulator: %s" % "; ".join(failures))

    def url(self):
        return "aerospike://127.0.0.1:%d" % self.base

    def call(self, op, **args):
        return self.proc.call(op, **args)

    def ports(self):
        return {n["name"]: n["port"] for n in self.call("nodes")}

    def members(self):
        return self.call("truth", partitions=False)["members"]

    def owners(self, namespace):
        return self.call("truth", namespace=namespace)["namespaces"][namespace]["partitions"]

    def close(self):
        self.proc.close()


@pytest.fixture
def sim():
    s = Sim()
    yield s
    s.close()


class AsWatch:
    """Groups A and B on one simulator, as Watch does for Redis."""

    def __init__(self, pool, shm_keys, sim, tmp_path):
        self.sim = sim
        self.tmp_path = tmp_path
        self.keyfiles = make_keyfiles(tmp_path, count=1000)
        self.a = pool(3, prefix="a")
        self.b = pool(2, prefix="b")
        connect_all(self.a, sim.url(), key=shm_keys(0), **A_OPTS)
        connect_all(self.b, sim.url(), key=shm_keys(1), **B_OPTS)
        self.rounds = 0

    def probe(self, group=None, truth=False, must_be_fresh=True, refresh_wait=True):
        """One round: every worker routes the string keys in namespace test
        (never failing), answers status, nodes and a 0.2 s refresh wait,
        each within ANSWER_WITHIN; with truth, the routes must be the
        simulator's."""
        ws = group or self.a
        kf = self.keyfiles[:1]
        got = route_files(ws, "test", kf, self.tmp_path)
        sts = broadcast(ws, "status", timeout=ANSWER_WITHIN)
        broadcast(ws, "nodes", timeout=ANSWER_WITHIN)
        if refresh_wait:
            broadcast(ws[:1], "refreshwait 0.2", timeout=ANSWER_WITHIN)
        self.rounds += 1
        if must_be_fresh:
            stale = [s for s in sts if s["stale"]]
            assert not stale, "a node still answers, yet the map is stale: %s" % stale[0]
        if truth:
            expected = expected_lines(self.sim, "test", kf)
            for w, g in zip(ws, got):
                diff = differences(g, expected, kf)
                assert not diff, "%r routes against the truth while a node is broken:\n%s" % (
                    w, diff)
        return sts

    def tend_b(self):
        before = self.b[0].status()["tends"]
        self.b[-1].ok("refresh")

        def tended():
            s = self.b[0].status()
            return s if s["tends"] > before else None
        return wait_for(tended, RECOVERY, "group B's tender to tend once more")

    def recovered(self, since, what, group=None):
        """Every worker of the group: a map tended after since, not stale,
        routes = truth for every key file, namespace and replica column."""
        ws = group or self.a
        state = {}

        def check():
            if ws is self.b:
                ws[-1].ok("refresh")
            sts = broadcast(ws, "status", timeout=ANSWER_WITHIN)
            state["last"] = [(s["stale"], s["tended_at"] - since, s["last_error"]) for s in sts]
            if any(s["stale"] or s["tended_at"] <= since for s in sts):
                return False
            for ns in ("test", "bar"):
                for replica in range(len(self.sim.owners(ns)[0])):
                    expected = expected_lines(self.sim, ns, self.keyfiles, replica)
                    for w, got in zip(ws, route_files(ws, ns, self.keyfiles, self.tmp_path,
                                                      replica)):
                        diff = differences(got, expected, self.keyfiles)
                        if diff:
                            state["diff"] = "%r ns %s replica %d:\n%s" % (w, ns, replica, diff)
                            return False
            return True

        try:
            wait_for(check, RECOVERY, what, interval=0.05)
        except (AssertionError, WorkerError) as e:
            raise AssertionError("%s\nlast (stale, tended_at - since, last_error): %s\n%s"
                                 % (e, state.get("last"), state.get("diff", "")))

    def active(self, name):
        return [n["active"] for n in self.a[0].nodes() if n["name"] == name]

    def names(self):
        return sorted(n["name"] for n in self.a[0].nodes())


def as_named(status, name, words):
    """last_error names the node and one of the reason words."""
    text = status["last_error"]
    print("last_error naming node %s: %r" % (name, text))
    assert "node %s" % name in text, "last_error %r does not name node %s" % (text, name)
    assert any(w in text for w in words), "last_error %r gives none of %s" % (text, words)


# (kind, set_fault arguments, reason words in last_error).  A counted fault
# fires for any client's requests: the count leaves room for group A's
# tends before group B's, which comes right after the fault is set.
NODE_FAULTS = [
    ("hang", {}, ["timed out"]),
    ("slow", {"delay": 3}, ["timed out"]),
    ("garbage", {}, ["not an info"]),
    ("truncated", {}, ["closed"]),
    ("drop", {}, ["closed"]),
    ("bad_value", {}, ["bad node value"]),
    ("hang", {"only": ["partition-generation"]}, ["timed out"]),
    ("garbage", {"count": 5}, ["not an info"]),
]


def test_aerospike_broken_nodes(sim, pool, shm_keys, tmp_path):
    """Every kind of broken answer, in turn on each node (the seed too):
    the node is reported inactive and named with the reason, the map is
    never stale, routes stay the truth throughout, and once the fault is
    cleared (or a counted fault is spent) the node is active again."""
    watch = AsWatch(pool, shm_keys, sim, tmp_path)
    members = sim.members()
    for i, (kind, args, words) in enumerate(NODE_FAULTS):
        victim = members[i % len(members)]
        sim.call("set_fault", name=victim, kind=kind, **args)
        injected.count("aerospike node fault: %s%s" % (kind, " " + str(args) if args else ""))
        s = watch.tend_b()
        as_named(s, victim, words)
        assert not s["stale"], s
        if "count" not in args:
            def inactive():
                watch.probe(truth=True)
                return watch.active(victim) == [False]
            wait_for(inactive, RECOVERY, "node %s (%s) to be reported inactive" % (victim, kind))
            watch.probe(truth=True)
            assert any("node %s" % victim in x["last_error"] for x in statuses(watch.a))
            sim.call("clear_faults", name=victim)
        cleared = time.time()

        def active_again():
            watch.probe(truth=True)
            return watch.active(victim) == [True]
        wait_for(active_again, RECOVERY, "node %s to be active after %s" % (victim, kind))
        watch.recovered(cleared, "routes after %s on %s" % (kind, victim))
    watch.recovered(time.time(), "group B after the faults", group=watch.b)


def test_aerospike_membership_and_partition_generations(sim, pool, shm_keys, tmp_path):
    """Nodes die with and without a rebalance, are evicted and restarted
    (their generations start again lower), leave, come up initialising
    (partition-generation -1) and join; partitions migrate; a bad replicas
    value hides one node's new claims; a node lags under strong
    consistency.  Routes never fail and follow the truth after each."""
    watch = AsWatch(pool, shm_keys, sim, tmp_path)

    def step(what, since=None):
        watch.probe()
        watch.recovered(since or time.time(), what)

    seed = sim.members()[0]
    sim.call("kill_node", name=seed)                    # the seed itself, rebalanced
    injected.count("aerospike node killed (rebalance)")
    s = watch.tend_b()
    as_named(s, seed, ["refused", "closed", "reset"])
    assert not s["stale"], s
    step("routes after the seed died")
    assert seed not in watch.names()
    sim.call("restart_node", name=seed)
    injected.count("aerospike node restarted")
    step("routes after the seed came back with lower generations")
    assert seed in watch.names()

    victim = sim.members()[1]
    sim.call("kill_node", name=victim, rebalance=False)  # still listed by its peers
    injected.count("aerospike node killed (no rebalance)")
    s = watch.tend_b()
    as_named(s, victim, ["refused", "closed", "reset"])

    def dead_inactive():
        watch.probe(truth=True)
        return watch.active(victim) == [False]
    wait_for(dead_inactive, RECOVERY, "the dead member to be reported inactive")
    sim.call("evict_node", name=victim)
    injected.count("aerospike node evicted")
    step("routes after the dead member was evicted")
    sim.call("restart_node", name=victim)
    injected.count("aerospike node restarted")
    step("routes after the evicted node rejoined")

    leaver = sim.members()[2]
    sim.call("remove_node", name=leaver)
    injected.count("aerospike node left")
    step("routes after a node left")
    added = sim.call("add_node", join=False)
    injected.count("aerospike node initialising (partition-generation -1)")
    for _ in range(4):
        watch.probe(truth=True)
    assert added["name"] not in watch.names(), "an initialising node no peer lists joined the map"
    sim.call("join_node", name=added["name"])
    injected.count("aerospike node joined")
    step("routes after the initialising node joined")
    assert added["name"] in watch.names()

    a, b = sim.members()[:2]
    moved = sim.call("migrate", namespace="test", to=b, count=500, source=a)
    sim.call("migrate", namespace="bar", to=a, count=200)
    injected.count("aerospike partition migration", 2)
    assert len(moved) == 500
    step("routes after migrations (partition-generations changed)")

    owners_before = sim.owners("test")
    sim.call("set_fault", name=b, kind="bad_value", only=["replicas"])
    injected.count("aerospike node fault: bad_value {'only': ['replicas']}")
    sim.call("migrate", namespace="test", to=b, count=100, source=a)
    injected.count("aerospike partition migration")
    s = watch.tend_b()
    as_named(s, b, ["replicas"])
    # None of B's unparsable claims applied: the moved partitions still go
    # to their last known owner.
    for _ in range(3):
        watch.probe()
    expected = expected_lines(sim, "test", watch.keyfiles, owners=owners_before)
    for w, got in zip(watch.a, route_files(watch.a, "test", watch.keyfiles, tmp_path)):
        assert not differences(got, expected, watch.keyfiles), w
    sim.call("clear_faults", name=b)
    step("routes after the replicas answer parses again")

    sim.call("set_sc", namespace="test", enabled=True, regime=5)
    step("routes after the switch to strong consistency")
    sim.call("lag", name=a)
    injected.count("aerospike node lagging (frozen replicas)")
    sim.call("migrate", namespace="test", to=b, count=200, source=a)
    injected.count("aerospike partition migration")
    for _ in range(4):
        watch.probe()
    sim.call("lag", name=a, enabled=False)
    sim.call("bump_regime", namespace="test")
    injected.count("aerospike regime bump")
    step("routes after the lagging node caught up")
    print("aerospike membership: %d probe rounds" % watch.rounds)


def test_aerospike_whole_cluster_down_and_back(sim, pool, shm_keys, tmp_path):
    """Every node hangs, then every node dies without a rebalance: the map
    is kept and stale with the reasons; after the faults clear and the
    nodes restart, a fresh map follows the truth."""
    watch = AsWatch(pool, shm_keys, sim, tmp_path)
    owners_before = sim.owners("test")
    members = sim.members()
    expected = expected_lines(sim, "test", watch.keyfiles[:1], owners=owners_before)

    def stale_everywhere(what, words):
        def stale():
            sts = watch.probe(must_be_fresh=False)
            return sts if all(s["stale"] for s in sts) else None
        sts = wait_for(stale, RECOVERY, what)
        ports = sim.ports()
        for s in sts:
            text = s["last_error"]
            # While it still holds the nodes, the tender names them; once it
            # dropped them (5 failed tends, spec 2.8), it reseeds and names
            # the addresses it tried.
            assert text.startswith(("no node answered", "no seed could be used")), text
            assert any(w in text for w in words), text
            assert any("node %s" % m in text or "127.0.0.1:%d:" % ports[m] in text
                       for m in members), text
        for w, got in zip(watch.a, route_files(watch.a, "test", watch.keyfiles[:1], tmp_path)):
            assert not differences(got, expected, watch.keyfiles[:1]), \
                "%r: the last map changed" % w
        s = watch.tend_b()
        assert s["stale"] and s["last_error"], s

    for name in members:
        sim.call("set_fault", name=name, kind="hang")
        injected.count("aerospike node fault: hang")
    stale_everywhere("every worker to see the hanging cluster as stale", ["timed out"])
    sim.call("clear_faults")
    watch.recovered(time.time(), "routes after the hangs cleared")

    for name in members:
        sim.call("kill_node", name=name, rebalance=False)
        injected.count("aerospike node killed (no rebalance)")
    stale_everywhere("every worker to see the dead cluster as stale",
                     ["refused", "closed", "reset"])
    time.sleep(1.0)   # long enough for the tender to give up the nodes and reseed
    # One node back, the others still down: the tender publishes a fresh map
    # from what it reaches, and routes still answer for the partitions of
    # the members that are down - the simulator's truth names them, as
    # nothing rebalanced (spec 2.8: entries are not cleared on removal).
    sim.call("restart_node", name=members[0])
    injected.count("aerospike node restarted")
    partial = time.time()

    def fresh_map():
        sts = watch.probe(must_be_fresh=False)
        return all(not s["stale"] and s["tended_at"] > partial for s in sts)
    wait_for(fresh_map, RECOVERY, "a fresh map with one node of %d back" % len(members))
    for _ in range(3):
        watch.probe(truth=True)
    for name in members[1:]:
        sim.call("restart_node", name=name)
        injected.count("aerospike node restarted")
    back = time.time()
    watch.recovered(back, "routes after the whole cluster came back")
    watch.recovered(back, "group B after a refresh", group=watch.b)
    print("aerospike whole cluster: %d probe rounds" % watch.rounds)
