"""chaos.py - what the reliability suites share: a read-only view of a live
segment, the monitor's log, answers read without blocking, and figures.

Invariants: nothing here writes into a segment (the view is attached
SHM_RDONLY); offsets come from build/cshm-layout (offsetof on the core's
headers), never from a copy of the layout; every wait has a deadline;
figures are recorded and printed, never asserted against a clock.
"""
import ctypes
import json
import os
import subprocess
import time

from support import shm
from support.monitor import MONITOR, Monitor, fencing_violations, parse_monitor, publishes  # noqa: F401 (re-exported)
from support.worker import LAYOUT, ROOT

SOAK = os.environ.get("CSHM_SOAK", "") not in ("", "0")
FIGURES_DIR = os.path.join(ROOT, "build", "reliability")


def soak_or(ci, soak):
    """The CI figure, or the soak figure under CSHM_SOAK=1 (make soak)."""
    return soak if SOAK else ci


_layout = None


def layout():
    global _layout
    if _layout is None:
        out = subprocess.run([LAYOUT], capture_output=True, text=True, timeout=10, check=True)
        _layout = json.loads(out.stdout)
    return _layout


class SegmentView:
    """A read-only attachment of the segment at key: the state word, the
    tender word and the slots' seqlock words, read with aligned 8-byte
    loads (atomic on the machines we run on)."""

    def __init__(self, key):
        info = shm.info(key)
        assert info is not None, "no segment at key 0x%x" % key
        self.key = key
        self.shmid = info["shmid"]
        self.size = info["size"]
        self.lay = layout()
        self.addr = shm.attach_readonly(self.shmid)
        self.stride = (self.size - self.lay["header_size"]) // self.lay["slots"]

    def close(self):
        if self.addr is not None:
            shm.detach(self.addr)
            self.addr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def u64(self, offset):
        return ctypes.c_uint64.from_address(self.addr + offset).value

    def u32(self, offset):
        return ctypes.c_uint32.from_address(self.addr + offset).value

    def state(self):
        """(epoch, owner lock index, published slot or -1)."""
        s = self.u64(self.lay["state"])
        return s >> 32, (s >> 8) & 0xFF, (s & 0xFF) - 1

    def epoch(self):
        return self.state()[0]

    def tender(self):
        """(epoch, pid) of the tender word: each tender installs its own."""
        t = self.u64(self.lay["tender"])
        return t >> 32, t & 0xFFFFFFFF

    def slot_offset(self, i):
        return self.lay["header_size"] + i * self.stride

    def slot_seq(self, i):
        return self.u64(self.slot_offset(i) + self.lay["slot_seq"])

    def slot_epoch(self, i):
        return self.u64(self.slot_offset(i) + self.lay["slot_epoch"])

    def published_epoch(self):
        """Epoch of the published slot's writer, or -1."""
        _, _, slot = self.state()
        if not 0 <= slot < self.lay["slots"]:
            return -1
        return self.slot_epoch(slot)

    def slots_being_written(self):
        """Slots whose seqlock is odd: a publish in progress, or one a
        killed or stopped tender left half written."""
        return [i for i in range(self.lay["slots"]) if self.slot_seq(i) & 1]


def first_publish_after(events, epoch, t):
    """The first event at or after t that shows a publish by an epoch above
    epoch, or None."""
    for e in events:
        if e["t"] >= t and e["slot"] >= 0 and e["slot_epoch"] > epoch:
            return e
    return None


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, int(round(p / 100.0 * len(ordered) + 0.499999)))
    return ordered[min(rank, len(ordered)) - 1]


def distribution_ms(seconds):
    """p50/p99/max (and count) of latencies given in seconds, in ms."""
    if not seconds:
        return {"count": 0}
    ms = [s * 1000.0 for s in seconds]
    return {"count": len(ms), "p50_ms": round(percentile(ms, 50), 3),
            "p99_ms": round(percentile(ms, 99), 3), "max_ms": round(max(ms), 3)}


def write_figures(name, figures):
    """build/reliability/<name>.json, and the same figures printed."""
    os.makedirs(FIGURES_DIR, exist_ok=True)
    path = os.path.join(FIGURES_DIR, name + ".json")
    with open(path, "w") as f:
        json.dump(figures, f, indent=2, sort_keys=True)
        f.write("\n")
    summary = {k: v for k, v in figures.items() if not isinstance(v, list)}
    print("\n%s: %s\n(written to %s)" % (name, json.dumps(summary, sort_keys=True), path))
    return path


def wait_until(predicate, timeout, what, interval=0.001):
    """predicate() until true; the value, or AssertionError after timeout.
    A tight interval: used to time takeovers, which take milliseconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)
