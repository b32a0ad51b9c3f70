"""checks.py - assertions several test files share: who is the tender, do
the workers route like the servers, make the cluster change a little.

Invariant: every wait has a deadline (procs.wait_for) and fails with what it
last saw; nothing here decides truth from the library under test.
"""
import contextlib
import itertools

from . import keys as K
from .procs import wait_for
from .worker import WorkerError, broadcast, statuses

_files = itertools.count()


def tenders(workers, sts):
    return [w for w, s in zip(workers, sts) if s["role"] == "tender"]


def the_tender(workers):
    """(tender worker, statuses): exactly one tender, every status agreeing
    on epoch and owner."""
    sts = statuses(workers)
    t = tenders(workers, sts)
    assert len(t) == 1, "expected one tender, roles: %s" % [s["role"] for s in sts]
    assert len({s["epoch"] for s in sts}) == 1, "epochs differ: %s" % [s["epoch"] for s in sts]
    assert all(s["owner_pid"] == t[0].pid for s in sts), \
        "owner_pid %s, tender pid %d" % ([s["owner_pid"] for s in sts], t[0].pid)
    return t[0], sts


def wait_new_tender(workers, old_epoch, timeout, what="a new tender"):
    """Waits until exactly one of workers is tender and every one of them
    sees an epoch above old_epoch; never more than one tender meanwhile."""
    seen = {}

    def check():
        sts = statuses(workers)
        t = tenders(workers, sts)
        assert len(t) <= 1, "two tenders at once: %s" % t
        seen["last"] = [(s["role"], s["epoch"], s["owner_pid"]) for s in sts]
        if len(t) == 1 and all(s["epoch"] > old_epoch and s["owner_pid"] == t[0].pid for s in sts):
            return t[0], sts
        return None

    try:
        return wait_for(check, timeout, what)
    except AssertionError as e:
        raise AssertionError("%s; last (role, epoch, owner_pid): %s" % (e, seen.get("last")))


def route_all(workers, keys_path, tmp_path, replica=0):
    """Every worker routes the key file; returns each worker's lines."""
    outs = {w.pid: str(tmp_path / ("routes-%d.txt" % next(_files))) for w in workers}
    broadcast(workers, lambda w: "routefile %s %s %d" % (keys_path, outs[w.pid], replica),
              timeout=120)
    return [K.read_routes(outs[w.pid]) for w in workers]


def assert_routes(workers, cluster, keyset, keyslots, tmp_path):
    keys, path = keyset
    expected = K.expected_routes(cluster, keys, keyslots)
    for w, got in zip(workers, route_all(workers, path, tmp_path)):
        diff = K.mismatches(got, expected, keys)
        assert not diff, "%r: %s" % (w, diff)


def wait_routes(workers, cluster, keyset, keyslots, tmp_path, timeout, what="routes to follow"):
    """Waits until every worker routes every key as the servers say."""
    keys, path = keyset
    expected = K.expected_routes(cluster, keys, keyslots)
    state = {}

    def check():
        try:
            routes = route_all(workers, path, tmp_path)
        except WorkerError as e:
            # A map published mid-change may leave slots uncovered (a dead
            # master's, before its replica is promoted): route() then fails
            # for them, which is "not yet", not a wrong answer.
            state["diff"] = str(e)
            return False
        for w, got in zip(workers, routes):
            diff = K.mismatches(got, expected, keys)
            if diff:
                state["diff"] = "%r: %s" % (w, diff)
                return False
        return True

    try:
        wait_for(check, timeout, what, interval=0.1)
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, state.get("diff")))


@contextlib.contextmanager
def moved_slots(cluster, count=20):
    """Moves count slots from the first master to the second (a real
    reshard, settled on every node) and yields the moved slots; moves as
    many back afterwards so the session cluster stays balanced."""
    masters = cluster.masters()
    (_, src, _), (_, dst, _) = masters[0], masters[1]
    before = cluster.slot_owners()
    cluster.reshard(src, dst, count)
    after = cluster.slot_owners()
    moved = [s for s in range(len(before)) if before[s] != after[s]]
    assert len(moved) == count, "reshard moved %d slots, not %d" % (len(moved), count)
    try:
        yield moved
    finally:
        cluster.reshard(dst, src, count)
