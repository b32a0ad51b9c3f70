"""test_fencing.py - stop the tender (SIGSTOP) at random points, in the
middle of a tend and of a publish included, for longer than
takeover_timeout; let another process take over; resume it (SIGCONT).  A
fenced tender must never publish again, and must become a follower.

The windows are widened from the outside, never by hooks in the library:
- the cluster is tests/reliability/slowserver.py, a fake node that answers
  CLUSTER SHARDS after DELAY seconds (a tend waits that long on it, and
  every answer changes the map, so every publish has a new generation);
- the map is big (max_nodes=4096, about 1.4 MiB per publish).
Small timeouts keep a round short: connect_timeout=0.3 s (the network step,
longer than DELAY), takeover_timeout=0.6 s, the smallest the library
accepts for that step (2 x min(connect_timeout, 1 s)).

Each round aims at one kind of moment, in turn:
- "publish": poll the slots' seqlock words (a read-only attachment) and stop
  the tender as soon as one is odd, i.e. while it copies a snapshot;
- "tend": stop it a random 10-100 ms after a publish, while it waits for the
  slow server's answer to its next CLUSTER SHARDS;
- "random": stop it after a random 0-300 ms.
What the stop caught is then read off honestly, after the process is seen
stopped: "publish" when a slot's seqlock is odd, "tend" when the server has
a request not answered yet, "idle" otherwise.  The test waits (bounded)
for a new epoch to publish, holds the stop a random 0-300 ms more, sends
SIGCONT and waits for the old tender's status to say follower.  ROUNDS: 30
in CI, 200 under CSHM_SOAK=1.

cshm-monitor logs every publish it sees (state epoch, published slot's
epoch, publisher pid, generation, tends).  Asserted on that log: never two
publisher pids in one epoch; published epochs never go backwards; no
resumed tender's pid appears with its old epoch after a newer epoch
published; generations never go backwards.  And from the processes: every
resumed tender is a follower, exactly one tender at the end.  The counts
and the takeover latencies (stop -> first publish by a newer epoch; it
includes takeover_timeout by design) go to build/reliability/fencing.json.
Last, a fenced tender must have let go of the cluster too: only the tender
may hold a socket (its one connection), as in test_churn.py.
"""
import os
import random
import select
import signal
import subprocess
import sys
import time

from chaos import (SOAK, Monitor, SegmentView, distribution_ms, fencing_violations,
                   first_publish_after, publishes, soak_or, wait_until, write_figures)
from support.checks import the_tender
from support.cluster import NOWHERE_PORTS
from support.procs import spawn, stop_process, wait_for
from support.worker import connect_all

ROUNDS = soak_or(30, 200)
WORKERS = 4
DELAY = 0.12
OPTIONS = dict(max_nodes=4096, tend_interval=0.05, connect_timeout=0.3, takeover_timeout=0.6)
TAKEOVER_WITHIN = 20.0    # seconds: only catches a takeover that never comes
DEADLINE = soak_or(300, 1800)
SEED = int(os.environ.get("CSHM_TEST_SEED", "20240601"))
SLOWSERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "slowserver.py")
KINDS = ("publish", "tend", "random")


class SlowServer:
    """slowserver.py on port; tracks its request/answer lines."""

    def __init__(self, port, delay):
        self.proc = spawn([sys.executable, SLOWSERVER, str(port), str(delay)],
                          stdout=subprocess.PIPE)
        assert self.proc.stdout.readline().strip() == b"ready"
        self._buf = b""
        self.requests = self.answers = 0

    def poll(self):
        fd = self.proc.stdout.fileno()
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            kind = line.split()[0]
            if kind == b"req":
                self.requests += 1
            elif kind == b"ans":
                self.answers += 1

    def in_flight(self):
        self.poll()
        return self.requests > self.answers

    def stop(self):
        stop_process(self.proc)


def stopped(pid):
    """Every thread of pid is in state T (stopped)."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
        for tid in tids:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                data = f.read()
            if data[data.rindex(")") + 2] != "T":
                return False
        return True
    except OSError:
        return False


def socket_count(pid):
    count = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            count += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except OSError:
            pass
    return count


def aim(kind, rng, view, tender, server):
    """Sleeps or polls until the moment this round stops the tender; returns
    the time of the stop."""
    if kind == "publish":
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if view.slots_being_written():
                break
    elif kind == "tend":
        _, _, slot = view.state()
        seq = view.slot_seq(slot)
        wait_until(lambda: view.state()[2] != slot or view.slot_seq(slot) != seq, 5,
                   "the next publish", interval=0.0005)
        time.sleep(rng.uniform(0.01, 0.1))
    else:
        time.sleep(rng.uniform(0, 0.3))
    t = time.monotonic()
    tender.signal(signal.SIGSTOP)
    return t


def test_a_stopped_tender_is_fenced_and_comes_back_a_follower(pool, shm_key, tmp_path):
    rng = random.Random(SEED)
    port = NOWHERE_PORTS[0]
    server = SlowServer(port, DELAY)
    url = "redis://127.0.0.1:%d" % port
    ws = pool(WORKERS)
    monitor = view = None
    rounds = []
    try:
        connect_all(ws, url, key=shm_key, **OPTIONS)
        monitor = Monitor(shm_key, tmp_path / "monitor.log")
        view = SegmentView(shm_key)
        by_pid = {w.pid: w for w in ws}
        started = time.monotonic()
        for round_no in range(ROUNDS):
            kind = KINDS[round_no % len(KINDS)]

            def settled_tender():
                epoch, pid = view.tender()
                if pid in by_pid and view.epoch() == epoch and view.published_epoch() == epoch:
                    return by_pid[pid]
                return None

            tender = wait_until(settled_tender, TAKEOVER_WITHIN,
                                "a tender that has published (round %d)" % round_no)
            old_epoch = view.epoch()
            stopped_at = aim(kind, rng, view, tender, server)
            wait_until(lambda: stopped(tender.pid), 5, "SIGSTOP to take effect")
            caught = ("publish" if view.slots_being_written()
                      else "tend" if server.in_flight() else "idle")
            try:
                wait_until(lambda: view.epoch() > old_epoch and view.published_epoch() > old_epoch,
                           TAKEOVER_WITHIN, "a takeover of the stopped tender (round %d)" % round_no,
                           interval=0.002)
                seen_at = time.monotonic()
                time.sleep(rng.uniform(0, 0.3))
            finally:
                tender.signal(signal.SIGCONT)
            resumed_at = time.monotonic()
            status = wait_for(lambda: (lambda s: s if s["role"] == "follower" else None)(
                tender.status()), 10, "the resumed tender (round %d) to be a follower" % round_no)
            assert status["epoch"] > old_epoch, status
            rounds.append({"kind": kind, "caught": caught, "epoch": old_epoch, "pid": tender.pid,
                           "stopped_at": stopped_at, "resumed_at": resumed_at,
                           "seen_by_test_s": seen_at - stopped_at})
        duration = time.monotonic() - started
        # A while longer: a resumed tender that still published would do it now.
        time.sleep(0.5)
        final, sts = the_tender(ws)
        # A fenced tender let go of the cluster too: only the tender holds a
        # connection to it.
        sockets = {w.pid: socket_count(w.pid) for w in ws}
    finally:
        if view is not None:
            view.close()
        events, end = monitor.stop() if monitor else ([], None)
        server.stop()

    problems = fencing_violations(events)
    pubs = publishes(events)
    for r in rounds:
        newer = first_publish_after(events, r["epoch"], r["stopped_at"])
        r["newer_published_at"] = newer["t"] if newer else None
        fenced_from = newer["t"] if newer else r["resumed_at"]
        for e in pubs:
            if e["t"] > fenced_from and e["pid"] == r["pid"] and e["slot_epoch"] == r["epoch"]:
                problems.append("pid %d published under its old epoch %d at t=%.6f, after it was "
                                "fenced at t=%.6f" % (r["pid"], r["epoch"], e["t"], fenced_from))
                break
    for a, b in zip(pubs, pubs[1:]):
        if b["generation"] < a["generation"]:
            problems.append("generation went back from %d to %d (epochs %d -> %d, t=%.6f)"
                            % (a["generation"], b["generation"], a["slot_epoch"],
                               b["slot_epoch"], b["t"]))
            break
    latencies = [(r["newer_published_at"] - r["stopped_at"]) if r["newer_published_at"]
                 else r["seen_by_test_s"] for r in rounds]
    caught = {k: sum(1 for r in rounds if r["caught"] == k) for k in ("publish", "tend", "idle")}
    figures = {
        "soak": SOAK, "seed": SEED, "duration_s": round(duration, 1), "rounds": len(rounds),
        "aimed": {k: sum(1 for r in rounds if r["kind"] == k) for k in KINDS},
        "stopped_mid": caught, "resumed_as_follower": len(rounds),
        "epochs_published": len({e["slot_epoch"] for e in pubs}),
        "publishes_seen": len(pubs), "monitor": end, "final_tender_pid": final.pid,
        "takeover_latency_after_stop": distribution_ms(latencies),
        "takeover_timeout_s": OPTIONS["takeover_timeout"], "server_delay_s": DELAY,
        "sockets_by_pid": {str(k): v for k, v in sockets.items()},
        "fencing_violations": problems[:20],
    }
    write_figures("fencing", figures)

    assert len(rounds) == ROUNDS
    assert not problems, problems[:10]
    assert final.pid in by_pid and sts[0]["epoch"] >= max(r["epoch"] for r in rounds) + 1
    held = {pid: n for pid, n in sockets.items() if n > (1 if pid == final.pid else 0)}
    assert not held, "sockets held (pid: count) beyond the tender's one connection: %s" % held
