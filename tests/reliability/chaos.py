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
import signal
import subprocess
import time

from support import shm
from support.procs import spawn, stop_process
from support.worker import LAYOUT, ROOT

SOAK = os.environ.get("CSHM_SOAK", "") not in ("", "0")
MONITOR = os.path.join(ROOT, "build", "cshm-monitor")
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


class Monitor:
    """build/cshm-monitor on key, logging to path; see its header comment
    for the lines."""

    def __init__(self, key, path, seconds=24 * 3600):
        self.path = str(path)
        self._out = open(self.path, "w")
        self.proc = spawn([MONITOR, "0x%x" % key, str(seconds)], stdout=self._out,
                          stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            with open(self.path) as f:
                if f.readline().startswith("ready"):
                    break
            assert self.proc.poll() is None, "cshm-monitor exited: %s" % open(self.path).read()
            assert time.monotonic() < deadline, "cshm-monitor did not attach"
            time.sleep(0.01)

    def stop(self):
        """SIGTERM, reap; returns (events, end counters)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop_process(self.proc)
        self._out.close()
        return parse_monitor(self.path)


def parse_monitor(path):
    """The monitor's 'p' lines as dicts, and its 'end' counters."""
    events, end = [], None
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "p" and len(parts) == 11:
                events.append({
                    "t": float(parts[1]), "state_epoch": int(parts[2]), "slot": int(parts[3]),
                    "slot_epoch": int(parts[4]), "pid": int(parts[5]),
                    "generation": int(parts[6]), "tends": int(parts[7]),
                    "tender_epoch": int(parts[8]), "tender_pid": int(parts[9]),
                    "checksum": parts[10],
                })
            elif parts[0] == "end":
                end = {"observations": int(parts[1]), "lines": int(parts[2]),
                       "torn_retries": int(parts[3])}
    return events, end


def publishes(events):
    """Events that show a publish (a slot is published), in order."""
    return [e for e in events if e["slot"] >= 0]


def fencing_violations(events):
    """What the monitor's log says against the fencing rules:
    - two publisher pids in one epoch;
    - a published epoch lower than one published before it;
    - a pid publishing under an epoch after a newer epoch was published.
    Returns a list of readable strings (empty when none)."""
    problems = []
    pid_of_epoch = {}
    highest = None
    for e in publishes(events):
        ep, pid = e["slot_epoch"], e["pid"]
        if ep in pid_of_epoch and pid_of_epoch[ep] != pid:
            problems.append("epoch %d published by pids %d and %d (t=%.6f)"
                            % (ep, pid_of_epoch[ep], pid, e["t"]))
        pid_of_epoch.setdefault(ep, pid)
        if highest is not None and ep < highest:
            problems.append("epoch %d published by pid %d at t=%.6f after epoch %d"
                            % (ep, pid, e["t"], highest))
        highest = ep if highest is None else max(highest, ep)
    return problems


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
