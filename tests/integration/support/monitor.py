"""monitor.py - build/cshm-monitor, the read-only observer of one live
segment (tests/tools/cshm-monitor.c), and what its log says about fencing.
Shared by the reliability suites (tests/reliability/chaos.py re-exports it)
and the growth tests.

Invariants: the monitor attaches read-only and never writes a byte of the
segment; every wait has a deadline; the verdicts are computed from its log
alone, never from the library under test.
"""
import os
import signal
import subprocess
import time

from .procs import spawn, stop_process
from .worker import ROOT

MONITOR = os.path.join(ROOT, "build", "cshm-monitor")


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
