"""test_permissions.py - a segment is only as open as its mode says, with
real users and the real kernel (PRODUCT.md "Behaviour that must hold" 11,
docs/design.md section 1 Permissions).

Workers of other users run a copy of build/cshm-worker from a directory
they may read (pytest's tmp_path is root's alone); their logs are opened by
us, so they need no directory of their own.  Their uid and groups are set by
Popen (user, group, extra_groups) in the child before it execs: the same
setgroups/setregid/setreuid as `setpriv --reuid --regid --clear-groups`, but
PR_SET_PDEATHSIG is set after the change of uid (which clears it), so these
workers too die with the test run.  Raw libc probes run in a forked child
that drops to the user (users.run_as).  Accounts made for a test are
deleted after it, also when it failed.

The tender of these tests tends every 60 s: after its first publish it
writes nothing but its heartbeat word for the whole test, so "unchanged"
is checked byte for byte, not only on the write-once header.
"""
import ctypes
import errno
import os

import pytest

from support import keys as K
from support import shm, users
from support.worker import BINARY, Worker

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to run processes as other users (CI runs as root)")

SEGMENT = -3
IPC_SET, IPC_STAT = 1, 2
QUIET = {"tend_interval": 60, "takeover_timeout": 120}


@pytest.fixture
def shared_dir():
    d = users.SharedDir()
    yield d
    d.remove()


@pytest.fixture
def as_user(request, tmp_path, shm_keys, shared_dir):
    """as_user(account, name) -> a Worker running as account.  Every one is
    stopped after the test (before shm_keys removes the segments, and
    before the accounts are deleted: see `team`); logs printed on failure."""
    binary = shared_dir.program(BINARY)
    made = []

    def make(account, name):
        w = Worker(tmp_path, name, binary=binary, credentials=account.credentials())
        made.append(w)
        return w

    def stop_all():
        for w in made:
            w.stop()

    make.stop_all = stop_all
    yield make
    stop_all()
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        for w in made:
            print(w.log())


@pytest.fixture
def nobody():
    return users.existing("nobody", "nogroup")


@pytest.fixture
def team(as_user):
    """A group made for the test and two users whose primary group it is:
    (group id, user a, user b).  Deleted after the test, after their
    workers are stopped, also when the test failed."""
    accounts = users.Accounts()
    try:
        gid = accounts.group()
        yield gid, accounts.user(gid), accounts.user(gid)
    finally:
        as_user.stop_all()
        accounts.remove()


def _tender_at(pool, cluster, key, **options):
    """A root worker that created the segment at key and published its
    first map; (worker, its status, shmid, segment size)."""
    [t] = pool(1)
    a = t.connect(cluster.url(), key=key, **dict(QUIET, **options))
    assert a["ok"], a
    st = t.status()
    assert st["role"] == "tender" and st["generation"] >= 1, st
    seg = shm.info(key)
    return t, st, seg["shmid"], seg["size"]


def _assert_untouched(tender, status, shmid, size, before):
    """Nothing of the segment moved: the write-once header, the state word
    (epoch, owner lock, published slot), the published slot's seq, and in
    fact every byte but the tender's heartbeat; the tender still tends."""
    after = shm.View(shm.snapshot(shmid, size))
    assert after.write_once == before.write_once, "the write-once header changed"
    assert (after.state, after.epoch, after.slot, after.seq) == \
        (before.state, before.epoch, before.slot, before.seq), \
        "state word or published seq moved: %r -> %r" % (
            (before.state, before.seq), (after.state, after.seq))
    assert after.without_heartbeat() == before.without_heartbeat(), \
        "bytes other than the heartbeat changed"
    st = tender.status()
    assert (st["role"], st["epoch"], st["generation"], st["shmid"]) == \
        ("tender", status["epoch"], status["generation"], shmid), st


def test_nobody_cannot_attach_a_0600_segment(cluster, pool, shm_key, as_user, nobody):
    """A segment created 0600 by root: nobody's connect with the same key
    is refused with a SegmentError that names the segment's owner and mode,
    nobody's uid, and the fixes (run as the owner, or a shared group with
    mode=0660); the segment is left as it was and nobody stays detached."""
    tender, status, shmid, size = _tender_at(pool, cluster, shm_key)
    seg = shm.info(shm_key)
    assert (seg["uid"], seg["perms"] & 0o777) == (0, 0o600), seg
    before = shm.View(shm.snapshot(shmid, size))
    assert before.epoch == status["epoch"] and before.slot >= 0 and before.seq % 2 == 0

    w = as_user(nobody, "nobody")
    a = w.connect(cluster.url(), key=shm_key)
    assert a["ok"] is False and a["code"] == SEGMENT, a
    msg = a["error"]
    for words in ("permission denied", "0x%08x" % shm_key, "owner uid 0", "mode 0600",
                  "uid %d" % nobody.uid,
                  # the fixes
                  "run it as uid 0", "group", "mode=0660", "another key"):
        assert words in msg, "message %r does not say %r" % (msg, words)

    _assert_untouched(tender, status, shmid, size, before)
    seg = shm.info(shm_key)
    assert (seg["shmid"], seg["nattch"], seg["perms"] & 0o777) == (shmid, 1, 0o600), seg
    # The refused worker is still a working process, not a crashed one.
    assert w.alive() and w.ok("pid")["pid"] == w.pid


def _probe(key):
    """What a hostile local process could try by hand, with libc: the errno
    of each call (0 = it worked)."""
    libc = shm._libc
    out = {"shmid": libc.shmget(shm._as_key(key), 0, 0)}

    def errno_of(ok):
        ctypes.set_errno(0)
        return 0 if ok() else ctypes.get_errno()

    def attach(flags):
        addr = libc.shmat(out["shmid"], None, flags)
        if addr is None or addr == ctypes.c_void_p(-1).value:
            return False
        libc.shmdt(addr)
        return True

    buf = ctypes.create_string_buffer(512)   # zeros: as IPC_SET, uid 0, gid 0, mode 0
    out["shmat"] = errno_of(lambda: attach(0))
    out["shmat_rdonly"] = errno_of(lambda: attach(shm.SHM_RDONLY))
    out["ipc_stat"] = errno_of(lambda: libc.shmctl(out["shmid"], IPC_STAT, buf) == 0)
    out["ipc_set"] = errno_of(lambda: libc.shmctl(out["shmid"], IPC_SET, buf) == 0)
    out["ipc_rmid"] = errno_of(lambda: libc.shmctl(out["shmid"], shm.IPC_RMID, None) == 0)
    return out


def test_nobody_cannot_read_or_change_it_directly(cluster, pool, shm_key, nobody):
    """Past the library: as nobody, shmget finds the key (that needs no
    permission), but shmat read-write and SHM_RDONLY fail with EACCES, and so
    does IPC_STAT; IPC_SET (chmod/chown) and IPC_RMID fail with EPERM.  The
    segment is unchanged."""
    tender, status, shmid, size = _tender_at(pool, cluster, shm_key)
    before = shm.View(shm.snapshot(shmid, size))

    got = users.run_as(nobody, _probe, shm_key)
    assert got == {"shmid": shmid, "shmat": errno.EACCES, "shmat_rdonly": errno.EACCES,
                   "ipc_stat": errno.EACCES, "ipc_set": errno.EPERM,
                   "ipc_rmid": errno.EPERM}, got

    _assert_untouched(tender, status, shmid, size, before)
    seg = shm.info(shm_key)
    assert (seg["shmid"], seg["uid"], seg["gid"], seg["perms"] & 0o777) == (shmid, 0, 0, 0o600)


def test_group_mode_shares_the_segment_with_a_second_user(
        cluster, shm_key, team, as_user, shared_dir, nobody, keyset, keyslots):
    """mode=0660 and a shared group let a second user follow the tender.

    The setup an SRE would use: a SysV segment gets the effective uid and
    gid of the process that creates it, and any process of the pool may be
    the first, so every process runs with the shared group as its effective
    group (php-fpm's pool `group =`, systemd's `Group=`, gunicorn's
    `--group`) and with mode=0660.  Here: a group, and users a and b whose
    primary group it is.  (Changing the group afterwards with shmctl
    IPC_SET, which lets the owner, the creator or CAP_SYS_ADMIN set uid, gid
    and the low 9 mode bits, is not that setup: processes that connect before
    the change are refused, and a recreated segment starts with the
    creator's group again.)

    a creates the segment 0660 with the group; b with the default mode 0600
    is refused with a message naming the modes and a group mode; b with
    mode=0660 follows a and routes all 10,000 keys as the servers say;
    nobody (not in the group) is refused even with mode=0660."""
    gid, user_a, user_b = team
    wa = as_user(user_a, "a")
    a = wa.connect(cluster.url(), key=shm_key, mode=0o660)
    assert a["ok"], a
    sa = wa.status()
    assert sa["role"] == "tender", sa
    seg = shm.info(shm_key)
    assert (seg["uid"], seg["gid"], seg["perms"] & 0o777) == (user_a.uid, gid, 0o660), seg

    refused = as_user(user_b, "b-0600").connect(cluster.url(), key=shm_key)
    assert refused["ok"] is False and refused["code"] == SEGMENT, refused
    msg = refused["error"]
    for words in ("0x%08x" % shm_key, "uid %d" % user_a.uid, "uid %d" % user_b.uid,
                  "mode 0600", "mode 0660", "group mode", "mode=0660"):
        assert words in msg, "message %r does not say %r" % (msg, words)

    wb = as_user(user_b, "b")
    b = wb.connect(cluster.url(), key=shm_key, mode=0o660)
    assert b["ok"], b
    sb = wb.status()
    assert (sb["role"], sb["shmid"], sb["epoch"], sb["owner_pid"]) == \
        ("follower", seg["shmid"], sa["epoch"], wa.pid), sb

    keys, path = keyset
    readable = shared_dir.readable(path)
    out = os.path.join(shared_dir.out, "routes-b.txt")
    wb.routefile(readable, out, timeout=120)
    diff = K.mismatches(K.read_routes(out), K.expected_routes(cluster, keys, keyslots), keys)
    assert not diff, diff

    stranger = as_user(nobody, "nobody").connect(cluster.url(), key=shm_key, mode=0o660)
    assert stranger["ok"] is False and stranger["code"] == SEGMENT, stranger
    assert "permission denied" in stranger["error"] and "group %d" % gid in stranger["error"], \
        stranger["error"]
    assert wa.status()["role"] == "tender" and shm.info(shm_key)["shmid"] == seg["shmid"]
