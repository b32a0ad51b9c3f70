"""test_credentials.py - credentials are part of a segment's identity.

A process with other credentials never shares a segment silently: with a
derived key it gets a segment of its own at an alternate key (so a wrong
password fails its own connect, fast, and leaves the good segment alone);
with an explicit key it gets a SegmentError while the other credentials'
processes are attached, and an unused leftover is reclaimed.  A process
whose password stops working keeps its last map, marked stale, and retries
at its tend interval, never faster.  A password rotation runs old and new
credentials side by side.

Every test here runs against one cluster with a password (requirepass and
masterauth on every node, 3 masters); its servers are the truth, and the
test's own queries authenticate as the default user, whatever ACL users the
tests add (each test uses a user of its own and deletes it).  Code numbers
are clustershm.h's: -2 CLUSTER, -3 SEGMENT.
"""
import json
import subprocess
import time

import pytest

from support import shm
from support.cluster import FRESH_BASES, CommandStats, RedisCluster, free_block
from support.procs import cpu_seconds, wait_for
from support.worker import CLI, connect_all, statuses

CLUSTER, SEGMENT = -2, -3
ADMIN = "admin-secret"
TEND = 0.2
OPTS = dict(tend_interval=TEND, takeover_timeout=30, connect_timeout=2)


@pytest.fixture(scope="module")
def auth_cluster(tmp_path_factory):
    ports = free_block(FRESH_BASES, 3)
    with RedisCluster(ports, tmp_path_factory.mktemp("cluster-auth"), replicas=0,
                      password=ADMIN) as c:
        yield c


@pytest.fixture
def acl_user(auth_cluster):
    """acl_user(*rules) -> a user name of this test's own, created with
    those rules on every node and deleted after the test."""
    made = []

    def make(*rules):
        name = "app-%d" % len(made)
        auth_cluster.on_every_node("ACL", "SETUSER", name, "reset", *rules)
        made.append(name)
        return name

    yield make
    for name in made:
        auth_cluster.on_every_node("ACL", "DELUSER", name)


def identity_of(cluster, count=3):
    seeds = sorted("127.0.0.1:%d" % p for p in cluster.live_ports[:count])
    return "redis:" + ",".join(seeds)


@pytest.fixture
def derived(auth_cluster, shm_keys):
    """The keys derived for the cluster's identity (default, then the
    alternates), cleared before the test and removed after it."""
    keys = shm.derived_keys(identity_of(auth_cluster))
    for k in keys:
        shm.remove(k)
        shm_keys.track(k)
    return keys


def cli_segments(identity):
    """`clustershm list --json` entries of one cluster identity, by key."""
    out = subprocess.run([CLI, "list", "--json"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return {int(e["key"], 16): e for e in json.loads(out.stdout)["segments"]
            if e["identity"] == identity}


def fresh(status, since):
    return not status["stale"] and status["tended_at"] > since and not status["last_error"]


def test_wrong_password_with_derived_key_fails_fast_on_a_segment_of_its_own(
        auth_cluster, pool, derived):
    c = auth_cluster
    identity = identity_of(c)
    a, w, b = pool(1, prefix="a") + pool(1, prefix="wrong") + pool(1, prefix="b")
    assert a.connect(c.url(password=ADMIN), **OPTS)["ok"]
    before = a.status()
    assert before["key"] == derived[0], "A must use the documented default key"
    assert before["role"] == "tender" and not before["stale"], before

    started = time.monotonic()
    answer = w.connect(c.url(password="not-the-password"), **dict(OPTS, connect_timeout=10))
    took = time.monotonic() - started
    assert answer["ok"] is False and answer["code"] == CLUSTER, answer
    assert "WRONGPASS" in answer["error"] or "authentication" in answer["error"].lower(), answer
    # Its own tend failed: it does not wait for connect_timeout (10 s).
    assert took < 5, "a connect whose own tend failed took %.1f s" % took

    # W got a segment of its own (its tender's warning names it) and, as
    # its only process, removed it when its connect gave up; A's is
    # untouched.
    wait_for(lambda: "segment 0x%08x: cannot reach the cluster" % derived[1] in w.log(), 5,
             "W's log line naming its own segment")
    segs = cli_segments(identity)
    assert set(segs) == {derived[0]}, segs
    assert segs[derived[0]]["attached"] == 1, segs
    after = a.status()
    assert (after["epoch"], after["owner_pid"], after["role"], after["stale"],
            after["last_error"], after["attached"]) == \
        (before["epoch"], a.pid, "tender", False, "", 1), after

    # B, with the right password, joins A's segment as a follower.
    assert b.connect(c.url(password=ADMIN), **OPTS)["ok"]
    s = b.status()
    assert s["key"] == derived[0] and s["role"] == "follower" and s["owner_pid"] == a.pid, s

    killed = time.time()
    a.kill()

    def b_fresh():
        s = b.status()
        return s if s["role"] == "tender" and fresh(s, killed) else None
    s = wait_for(b_fresh, 5, "B to take over and publish a fresh map")
    assert s["age"] < 5 * TEND + 1 and s["dead_takeovers"] >= 1, s
    wait_for(lambda: b.status()["tended_at"] > s["tended_at"], 5, "B's tends to keep coming")


def test_wrong_password_with_explicit_key_is_refused_and_its_leftover_reclaimed(
        auth_cluster, pool, shm_keys, acl_user):
    c = auth_cluster
    good, wrong = c.url(password=ADMIN), c.url(password="not-the-password")

    # Other credentials at a key in use: a SegmentError naming them.
    k1 = shm_keys(0)
    a, w = pool(2)
    assert a.connect(good, key=k1, **OPTS)["ok"]
    before = a.status()
    answer = w.connect(wrong, key=k1, **OPTS)
    assert answer["ok"] is False and answer["code"] == SEGMENT, answer
    assert "credentials" in answer["error"] and "0x%08x" % k1 in answer["error"], answer
    after = a.status()
    assert (after["epoch"], after["role"], after["stale"], after["attached"]) == \
        (before["epoch"], "tender", False, 1), after
    assert shm.info(k1)["shmid"] == before["shmid"]

    # The wrong one first: its own tend fails, and as the segment's last
    # process it removes the segment when its connect gives up.
    k2 = shm_keys(1)
    w2, a2, gone = pool(3)
    answer = w2.connect(wrong, key=k2, **OPTS)
    assert answer["ok"] is False and answer["code"] == CLUSTER, answer
    assert "WRONGPASS" in answer["error"], answer
    assert shm.info(k2) is None, "a failed connect left its segment behind"

    # A process of other credentials killed without close leaves its
    # segment behind; the next process reclaims the key.
    user = acl_user("on", ">first", "~*", "&*", "+@all")
    assert gone.connect(c.url(user=user, password="first"), key=k2, **OPTS)["ok"]
    gone.kill()
    leftover = shm.info(k2)
    assert leftover is not None and leftover["nattch"] == 0, leftover
    assert a2.connect(good, key=k2, **OPTS)["ok"]
    s = a2.status()
    assert s["role"] == "tender" and not s["stale"] and s["key"] == k2, s
    assert s["shmid"] != leftover["shmid"], "the leftover of other credentials was reused"
    assert shm.info(k2)["shmid"] == s["shmid"] and shm.info(k2)["nattch"] == 1


def test_a_password_that_stops_working_goes_stale_and_never_spins(auth_cluster, pool, shm_key,
                                                                  acl_user):
    c = auth_cluster
    user = acl_user("on", ">first", "~*", "&*", "+@all")
    [w] = pool(1)
    assert w.connect(c.url(user=user, password="first"), key=shm_key,
                     **dict(OPTS, connect_timeout=0.5))["ok"]
    assert not w.status()["stale"]

    # The password changes at every server, and the tender's connection
    # is dropped, so its next tend has to authenticate again.
    c.on_every_node("ACL", "SETUSER", user, "resetpass", ">second")
    c.on_every_node("CLIENT", "KILL", "USER", user)

    def stale():
        s = w.status()
        return s if s["stale"] and "WRONGPASS" in s["last_error"] else None
    wait_for(stale, 10, "the map to turn stale with the authentication error")

    with CommandStats(c) as stats:
        stats.reset()
        cpu0, t0 = cpu_seconds(w.pid), time.monotonic()
        time.sleep(3.0)
        auths, per_node = stats.calls("auth")
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(w.pid) - cpu0
    s = w.status()
    print("%d AUTH at the servers %s and %.2f s of CPU in %.1f s" % (auths, per_node, cpu, elapsed))
    assert s["stale"] and "WRONGPASS" in s["last_error"], s
    # Alone, it keeps the role (and keeps trying).
    assert s["role"] == "tender" and s["step_downs"] == 0, s
    assert auths > 0, "the tender stopped trying: %s" % per_node
    # Each tend tries each candidate node once: the last node that
    # answered, up to 8 nodes of the map and the seeds, without duplicates
    # (here the 3 nodes are the seeds).
    candidates = min(1 + 8 + 3, len(c.ports))
    bound = (elapsed / TEND + 2) * candidates
    assert auths <= bound, "%d AUTH in %.1f s (bound %.0f): %s" % (auths, elapsed, bound, per_node)
    assert cpu < 0.1 * elapsed, "%.2f s of CPU in %.1f s" % (cpu, elapsed)


def test_password_rotation_runs_old_and_new_side_by_side(auth_cluster, pool, derived, acl_user):
    c = auth_cluster
    identity = identity_of(c)
    user = acl_user("on", ">old", ">new", "~*", "&*", "+@all")
    old = pool(2, prefix="old")
    new = pool(2, prefix="new")
    connect_all(old, c.url(user=user, password="old"), **OPTS)
    connect_all(new, c.url(user=user, password="new"), **OPTS)
    old_key = {s["key"] for s in statuses(old)}
    new_key = {s["key"] for s in statuses(new)}
    assert len(old_key) == 1 and len(new_key) == 1, (old_key, new_key)
    (old_key,), (new_key,) = old_key, new_key
    assert old_key == derived[0] and new_key == derived[1], (hex(old_key), hex(new_key))
    segs = cli_segments(identity)
    assert set(segs) == {old_key, new_key}, segs
    assert segs[old_key]["attached"] == 2 and segs[new_key]["attached"] == 2, segs

    # Both groups have a tender of their own and a fresh map.
    since = time.time()
    for group in (old, new):
        wait_for(lambda group=group: all(fresh(s, since) for s in statuses(group)), 5,
                 "both segments to be tended")
        assert sum(s["role"] == "tender" for s in statuses(group)) == 1
    old_shmid = segs[old_key]["shmid"]

    # The old processes go; the new ones stay fresh.
    for w in old:
        w.stop()
    # The last of them to detach removes the old segment.
    wait_for(lambda: shm.info(old_key) is None, 5, "the old processes to detach")
    since = time.time()
    wait_for(lambda: all(fresh(s, since) for s in statuses(new)), 5,
             "the new segment to stay fresh")

    # The next rotation: the old key is free again and is used, not a third.
    c.on_every_node("ACL", "SETUSER", user, ">newest", "<old")
    [newest] = pool(1, prefix="newest")
    assert newest.connect(c.url(user=user, password="newest"), **OPTS)["ok"]
    s = newest.status()
    assert s["role"] == "tender" and not s["stale"], s
    assert s["key"] == old_key and s["shmid"] != old_shmid, s
    segs = cli_segments(identity)
    assert set(segs) == {old_key, new_key}, segs
    assert segs[old_key]["shmid"] == s["shmid"] and segs[new_key]["attached"] == 2, segs
    since = time.time()
    wait_for(lambda: all(fresh(s, since) for s in statuses(new + [newest])), 5,
             "both generations to stay fresh")
