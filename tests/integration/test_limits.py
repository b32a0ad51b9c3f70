"""test_limits.py - the kernel's SysV limits, really lowered: each one gives
a SegmentError that names that sysctl alone, with the value a segment of
this size needs and the command that sets it, and that command works
(PRODUCT.md "Errors": size over the kernel's limit, with the sysctl to
raise it).

kernel.shmmax is in bytes (one segment), kernel.shmall in pages (all
segments together), kernel.shmmni a count of segments.  They belong to the
IPC namespace, that is to the whole host here: a limit is lowered only
around one connect and put back at once (`lowered`), and the `sysctls`
fixture puts all three back after the test even when it failed.  Other
programs may create or remove segments meanwhile; a value derived from the
host's segments is then wrong, so such an attempt is run again.
"""
import contextlib
import os
import re

import pytest

from support import shm

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to change the kernel.shm* sysctls (CI runs as root)")

SEGMENT = -3
SYSCTLS = ("shmmax", "shmall", "shmmni")
PAGE = os.sysconf("SC_PAGE_SIZE")
TRIES = 5


def _path(name):
    return "/proc/sys/kernel/" + name


def _read(name):
    with open(_path(name)) as f:
        return f.read().strip()


def _write(name, value):
    with open(_path(name), "w") as f:
        f.write(str(value))


@pytest.fixture
def sysctls():
    saved = {name: _read(name) for name in SYSCTLS}
    yield saved
    for name, value in saved.items():
        if _read(name) != value:
            _write(name, value)
    assert {name: _read(name) for name in SYSCTLS} == saved


@contextlib.contextmanager
def lowered(name, value):
    """kernel.<name> = value for the block only."""
    old = _read(name)
    _write(name, value)
    try:
        yield
    finally:
        _write(name, old)


def _pages(size):
    return (size + PAGE - 1) // PAGE


class Usage:
    """The host's segments, but those at the test's own key: how many, and
    how many pages they count against kernel.shmall."""

    def __init__(self, own_key):
        rows = [r for r in shm.rows() if r["key"] != own_key]
        self.shmids = sorted(r["shmid"] for r in rows)
        self.count = len(rows)
        self.pages = sum(_pages(r["size"]) for r in rows)

    def __eq__(self, other):
        return self.shmids == other.shmids


def _command(message, name):
    """The value of the `sysctl -w kernel.<name>=N` the message gives."""
    found = re.findall(r"`sysctl -w kernel\.(\w+)=(\d+)`", message)
    assert [n for n, _ in found] == [name], \
        "message %r gives not exactly one command for kernel.%s" % (message, name)
    return int(found[0][1])


def refused_then_fixed(worker, cluster, key, name, limit):
    """Connects worker at key with kernel.<name> = limit(usage), expecting a
    refusal; then with kernel.<name> set by the command the message gives,
    expecting success.  Returns (refusal, usage, the command's value,
    success).  Reruns when other programs changed the host's segments
    meanwhile."""
    for _ in range(TRIES):
        usage = Usage(key)
        with lowered(name, limit(usage)):
            refusal = worker.connect(cluster.url(), key=key)
        if Usage(key) != usage:
            if refusal["ok"]:
                worker.ok("close")
            shm.remove(key)
            continue
        assert refusal["ok"] is False and refusal["code"] == SEGMENT, refusal
        assert shm.info(key) is None, "a refused create left a segment"
        value = _command(refusal["error"], name)
        with lowered(name, value):
            fixed = worker.connect(cluster.url(), key=key)
        if not fixed["ok"] and Usage(key) != usage:
            continue
        return refusal, usage, value, fixed
    raise AssertionError("other programs kept creating or removing segments; tried %d times"
                         % TRIES)


def _names_only(message, name):
    for other in SYSCTLS:
        if other != name:
            assert "kernel.%s" % other not in message, \
                "message %r names kernel.%s too: one message per cause" % (message, other)


def test_shmmax_names_the_segment_size_in_bytes(sysctls, cluster, pool, shm_key):
    """kernel.shmmax below the segment's size (one header page is surely
    below): the message names kernel.shmmax, its value, and the segment's
    size in bytes; `sysctl -w kernel.shmmax=<size>` lets it be created, and
    the segment really has that size."""
    [w] = pool(1)
    refusal, _, value, fixed = refused_then_fixed(w, cluster, shm_key, "shmmax",
                                                  lambda usage: shm.layout()["header_size"])
    msg = refusal["error"]
    assert fixed["ok"], fixed
    size = shm.info(shm_key)["size"]
    assert value == size > shm.layout()["header_size"], (value, size)
    for words in ("0x%08x" % shm_key, "%d-byte segment" % size,
                  "kernel.shmmax = %d bytes" % shm.layout()["header_size"], "at least %d bytes" % size):
        assert words in msg, "message %r does not say %r" % (msg, words)
    _names_only(msg, "shmmax")


def test_shmall_names_the_pages_needed(sysctls, cluster, pool, shm_keys):
    """kernel.shmall one page short of the pages in use plus this segment's:
    the message names kernel.shmall in pages, the pages in use and the
    segment's pages, and the exact total; that command lets it be created."""
    ref, w = pool(2)
    assert ref.connect(cluster.url(), key=shm_keys(1))["ok"]
    size = shm.info(shm_keys(1))["size"]      # same options, same size
    need = _pages(size)
    key = shm_keys(0)
    refusal, usage, value, fixed = refused_then_fixed(
        w, cluster, key, "shmall", lambda usage: usage.pages + need - 1)
    msg = refusal["error"]
    assert fixed["ok"], fixed
    assert value == usage.pages + need, (value, usage.pages, need)
    assert shm.info(key)["size"] == size
    for words in ("0x%08x" % key, "%d pages of %d bytes" % (need, PAGE),
                  "kernel.shmall = %d pages, %d in use" % (usage.pages + need - 1, usage.pages),
                  "at least %d pages" % value):
        assert words in msg, "message %r does not say %r" % (msg, words)
    _names_only(msg, "shmall")


def test_shmmni_names_the_count_needed(sysctls, cluster, pool, shm_keys):
    """kernel.shmmni lowered to the number of segments present (one of this
    test's among them), so the table is full: the message names
    kernel.shmmni, the count in use, and one more; that command lets the
    segment be created."""
    ref, w = pool(2)
    assert ref.connect(cluster.url(), key=shm_keys(1))["ok"]
    key = shm_keys(0)
    refusal, usage, value, fixed = refused_then_fixed(w, cluster, key, "shmmni",
                                                      lambda usage: usage.count)
    msg = refusal["error"]
    assert fixed["ok"], fixed
    assert usage.count >= 1 and value == usage.count + 1, (value, usage.count)
    assert shm.info(key) is not None
    for words in ("0x%08x" % key,
                  "kernel.shmmni = %d, %d in use" % (usage.count, usage.count),
                  "at least %d" % value):
        assert words in msg, "message %r does not say %r" % (msg, words)
    _names_only(msg, "shmmni")
