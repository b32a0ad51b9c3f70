"""shm.py - SysV shared-memory segments seen from outside the library.

The tests create foreign segments and read segments back through libc
(ctypes), and list them through /proc/sysvipc/shm, never through the library
under test.  Invariant: `remove` only ever touches the key it is given.
"""
import ctypes
import subprocess
import os
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

LAYOUT_VERSION = 2
HEADER_SIZE = 8192
_u32, _u64 = ctypes.c_uint32, ctypes.c_uint64


class Header(ctypes.Structure):
    """The write-once part of cshm_seg_header (core/src/segment.h, layout
    version 2), written by the creator before READY and never again.  The
    control words follow at the next multiple of 64 (_Alignas(64))."""
    _fields_ = [
        # prefix
        ("magic", ctypes.c_char * 8), ("init_state", _u32), ("layout_version", _u32),
        ("header_size", _u32), ("byte_order", _u32), ("total_size", _u64),
        # layout
        ("driver_kind", _u32), ("pointer_size", _u32), ("shape", _u32 * 5),
        ("slot_count", _u32), ("owner_lock_count", _u32), ("lock_size", _u32),
        ("node_entry_size", _u32), ("record_size", _u32), ("reserved0", _u32),
        ("payload_size", _u64), ("slot_stride", _u64), ("slots_offset", _u64),
        # identity
        ("creator_uid", _u32), ("creator_pid", _u32), ("created_at_ms", _u64), ("mode", _u32),
        ("identity_len", _u32), ("identity", ctypes.c_char * 512),
        ("credentials_kind", _u32), ("credentials_iterations", _u32),
        ("credentials_salt", ctypes.c_ubyte * 16), ("credentials_fingerprint", ctypes.c_ubyte * 32),
        # timing
        ("tend_interval_us", _u64), ("takeover_timeout_us", _u64),
        ("min_refresh_interval_us", _u64), ("op_timeout_us", _u64),
    ]


WRITE_ONCE_END = (ctypes.sizeof(Header) + 63) // 64 * 64   # padding included: zeros
STATE_OFFSET = WRITE_ONCE_END            # (epoch << 32) | (lock << 8) | (slot + 1)
HEARTBEAT_OFFSET = STATE_OFFSET + 8      # the only word a healthy idle tender keeps moving
SLOT_HEAD = 64                           # cshm_slot_head: seq, epoch, reserved


class View:
    """The words of a segment copy (snapshot()) that tell who tends it and
    what is published: the write-once header, the state word and the
    published slot's seqlock counter."""

    def __init__(self, data):
        self.data = data
        self.header = Header.from_buffer_copy(data[:ctypes.sizeof(Header)])
        h = self.header
        if h.magic != b"CLSHMSEG" or h.layout_version != LAYOUT_VERSION \
                or h.header_size != HEADER_SIZE:
            raise AssertionError("not a clustershm segment of layout version %d (magic %r, "
                                 "version %d): update support/shm.py's Header"
                                 % (LAYOUT_VERSION, h.magic, h.layout_version))
        self.write_once = data[:WRITE_ONCE_END]
        self.state = int.from_bytes(data[STATE_OFFSET:STATE_OFFSET + 8], sys.byteorder)
        self.epoch = self.state >> 32
        self.slot = (self.state & 0xFF) - 1        # -1: nothing published yet
        if self.slot >= 0:
            at = HEADER_SIZE + self.slot * h.slot_stride
            self.seq = int.from_bytes(data[at:at + 8], sys.byteorder)
        else:
            self.seq = None

    def without_heartbeat(self):
        """Every byte but the heartbeat word."""
        return self.data[:HEARTBEAT_OFFSET] + self.data[HEARTBEAT_OFFSET + 8:]


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
            remove(k)
            self.used.add(k)
        return k

    def track(self, key):
        """Removes key's segment after the test too (a default key)."""
        self.used.add(key)

    def cleanup(self):
        for k in self.used:
            remove(k)
