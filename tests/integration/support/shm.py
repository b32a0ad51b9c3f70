"""shm.py - SysV shared-memory segments seen from outside the library.

The tests create foreign segments and read segments back through libc
(ctypes), and list them through /proc/sysvipc/shm, never through the library
under test.  Invariant: `remove` only ever touches the key it is given.
"""
import ctypes
import json
import os
import subprocess
import sys
import zlib

IPC_CREAT = 0o1000
IPC_EXCL = 0o2000
IPC_RMID = 0
SHM_RDONLY = 0o10000

_libc = ctypes.CDLL("libc.so.6", use_errno=True)
_libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
_libc.shmget.restype = ctypes.c_int
_libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
_libc.shmat.restype = ctypes.c_void_p
_libc.shmdt.argtypes = [ctypes.c_void_p]
_libc.shmdt.restype = ctypes.c_int
_libc.shmctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
_libc.shmctl.restype = ctypes.c_int


def _as_key(key):
    # key_t is a signed int: keys >= 0x80000000 are negative there.
    return ctypes.c_int(key & 0xFFFFFFFF).value


def rows():
    """Every segment of this IPC namespace, from /proc: a list of {"key",
    "shmid", "perms", "size", "nattch", "cpid", "uid", "gid"} (several may
    have key 0: IPC_PRIVATE ones, and removed ones still attached)."""
    out = []
    with open("/proc/sysvipc/shm") as f:
        header = f.readline().split()
        for line in f:
            row = dict(zip(header, line.split()))
            out.append({
                "key": int(row["key"]) & 0xFFFFFFFF,
                "shmid": int(row["shmid"]), "perms": int(row["perms"], 8),
                "size": int(row["size"]), "nattch": int(row["nattch"]),
                "cpid": int(row["cpid"]), "uid": int(row["uid"]), "gid": int(row["gid"]),
            })
    return out


def segments():
    """{key: {"shmid", "perms", "size", "nattch", "cpid", "uid", "gid"}} from /proc."""
    return {r["key"]: {k: v for k, v in r.items() if k != "key"} for r in rows()}


def info_by_shmid(shmid):
    for row in segments().values():
        if row["shmid"] == shmid:
            return row
    return None


SHM_DEST = 0o1000


def removed(shmid):
    """True when the segment shmid is gone, or marked removed (IPC_RMID while
    still attached: the kernel shows SHM_DEST in its perms and key 0)."""
    for r in rows():
        if r["shmid"] == shmid:
            return bool(r["perms"] & SHM_DEST)
    return True


def info(key):
    return segments().get(key & 0xFFFFFFFF)


def create(key, data, mode=0o600, size=None):
    """A new segment at key holding data (zero-padded to size)."""
    size = size or len(data)
    shmid = _libc.shmget(_as_key(key), size, IPC_CREAT | IPC_EXCL | mode)
    if shmid < 0:
        raise OSError(ctypes.get_errno(), "shmget(0x%x) failed" % key)
    write(shmid, data)
    return shmid


def _attach(shmid, flags=0):
    addr = _libc.shmat(shmid, None, flags)
    if addr is None or addr == ctypes.c_void_p(-1).value:
        raise OSError(ctypes.get_errno(), "shmat(%d) failed" % shmid)
    return addr


def write(shmid, data):
    addr = _attach(shmid)
    try:
        ctypes.memmove(addr, data, len(data))
    finally:
        _libc.shmdt(addr)


def attach_readonly(shmid):
    """The address of a read-only attachment (SHM_RDONLY: it can never
    write into the segment); give it back with detach()."""
    return _attach(shmid, SHM_RDONLY)


def detach(addr):
    _libc.shmdt(addr)


def write_at(shmid, offset, data):
    """data at offset of the segment (a stray write, as any same-uid
    process could make)."""
    addr = _attach(shmid)
    try:
        ctypes.memmove(addr + offset, data, len(data))
    finally:
        _libc.shmdt(addr)


def read_at(shmid, offset, size):
    addr = _attach(shmid)
    try:
        return ctypes.string_at(addr + offset, size)
    finally:
        _libc.shmdt(addr)


def read(shmid, size):
    addr = _attach(shmid)
    try:
        return ctypes.string_at(addr, size)
    finally:
        _libc.shmdt(addr)


def snapshot(shmid, size):
    """A copy of the first size bytes, read through a read-only attach
    (SHM_RDONLY): looking can never write."""
    addr = _attach(shmid, SHM_RDONLY)
    try:
        return ctypes.string_at(addr, size)
    finally:
        _libc.shmdt(addr)


# ---- the header of a clustershm segment, seen from outside -----------------

_layout = None


def layout():
    """Offsets of the header (build/cshm-layout, from segment.h itself: the
    tests keep no copy of the layout)."""
    global _layout
    if _layout is None:
        root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
        out = subprocess.run([os.path.join(root, "build", "cshm-layout")], check=True,
                             capture_output=True, text=True).stdout
        _layout = json.loads(out)
    return _layout


def _word(data, offset):
    return int.from_bytes(data[offset:offset + 8], sys.byteorder)


class View:
    """The words of a segment copy (snapshot()) that tell who tends it and
    what is published: the write-once header, the state word and the
    published slot's seqlock counter.  The prefix (magic at 0, layout
    version at 12) means the same in every layout version."""

    def __init__(self, data):
        L = layout()
        self.data = data
        version = int.from_bytes(data[12:16], sys.byteorder)
        if data[:8] != b"CLSHMSEG" or version != L["layout_version_value"]:
            raise AssertionError("not a clustershm segment of layout version %d (magic %r, "
                                 "version %d)" % (L["layout_version_value"], data[:8], version))
        self.write_once = data[:L["control_start"]]
        self.state = _word(data, L["state"])
        self.epoch = self.state >> 32
        self.slot = (self.state & 0xFF) - 1        # -1: nothing published yet
        if self.slot >= 0:
            at = L["header_size"] + self.slot * _word(data, L["slot_stride"])
            self.seq = _word(data, at)
        else:
            self.seq = None

    def without_heartbeat(self):
        """Every byte but the heartbeat word."""
        hb = layout()["heartbeat"]
        return self.data[:hb] + self.data[hb + 8:]


def remove(key):
    """ipcrm -M key when a segment exists there; attached processes keep it
    until they detach (the kernel's rule), new attaches no longer find it."""
    if info(key) is not None:
        subprocess.run(["ipcrm", "-M", "0x%08x" % (key & 0xFFFFFFFF)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fnv1a32(data, h=0x811C9DC5):
    for byte in data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def derived_keys(identity, alternates=8):
    """The keys a cluster identity ("redis:h1:p1,h2:p2", seeds sorted) may
    use without the key option: the documented default key
    0x43000000 | (FNV-1a-32(identity) & 0xFFFFFF), then the alternates for
    other credentials, FNV-1a-32 of identity + "#i" (core/src/config.c)."""
    out = []
    for i in range(alternates):
        text = identity if i == 0 else "%s#%d" % (identity, i)
        out.append(0x43000000 | (fnv1a32(text.encode()) & 0x00FFFFFF))
    return out


CHAIN_MAX = 8


def chain_key(base, generation):
    """Where generation g of the chain at key base lives (cshm_chain_key,
    docs/design.md §1b): base itself for 0, else 0x44000000 | 24 bits of
    FNV-1a-32 over base and g as little-endian 32-bit words."""
    if generation == 0:
        return base
    h = 2166136261
    for b in base.to_bytes(4, "little") + generation.to_bytes(4, "little"):
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return 0x44000000 | (h & 0x00FFFFFF)


def chain_keys(base):
    return [chain_key(base, g) for g in range(CHAIN_MAX)]


class TestKeys:
    """SysV keys of one test: prefix | (crc32(node id) & 0xFFFF) << 4, + 0..15.
    Each key's segment is removed before its first use (left over by an
    earlier, killed run) and by cleanup() after the test."""

    __test__ = False  # not a test class, whatever pytest's name matching says

    def __init__(self, nodeid, prefix):
        # Another suite instance (CSHM_TEST_INSTANCE) hashes other keys.
        instance = os.environ.get("CSHM_TEST_INSTANCE", "0")
        name = nodeid if instance == "0" else "%s:%s" % (instance, nodeid)
        self.base = prefix | ((zlib.crc32(name.encode()) & 0xFFFF) << 4)
        self.used = set()

    def __call__(self, i=0):
        assert 0 <= i < 16
        k = self.base + i
        if k not in self.used:
            for g in chain_keys(k):  # and the successors a growth made there
                remove(g)
            self.used.add(k)
        return k

    def track(self, key):
        """Removes key's segment after the test too (a default key)."""
        self.used.add(key)

    def cleanup(self):
        for k in self.used:
            for g in chain_keys(k):
                remove(g)
