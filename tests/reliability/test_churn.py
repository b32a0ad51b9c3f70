"""test_churn.py - 64 processes connect, close, fork, exec and get killed at
random for a while; afterwards the survivors must look exactly like freshly
connected processes: one tender, no leaked thread, descriptor or segment
attachment, and the CLI agreeing with the processes.

Setup: the session Redis Cluster (real servers), one segment (tend every
100 ms), PROCESSES build/cshm-worker processes.  For DURATION seconds (30
in CI, 300 under CSHM_SOAK=1) the test keeps up to IN_FLIGHT commands
running at once, each chosen at random for an idle process:
- not connected: connect, or exec;
- connected: close, fork (the child routes a few keys, reports its role,
  closes and _exit()s; the parent answers with the child's exit), exec
  (execve of a fresh worker image without closing the client: the kernel
  ends the threads and detaches the segment), verify, status, route;
and meanwhile it SIGKILLs a random process every KILL_EVERY seconds (most
often one in the middle of a command: a connect, a close, a fork, an exec),
and the current
tender TENDER_KILL_EVERY seconds; every killed process is replaced by a
fresh one.  Every answer must be ok (a fork's child must exit 0); a process
that dies without being killed, or does not answer within ANSWER_WITHIN
(a hang catcher), fails the test.

Afterwards every survivor connects (if it is not connected) and:
- exactly one of them is tender, all agree on epoch and tender pid;
- threads: at most a main thread, the client's background thread and the
  core's log delivery thread (/proc/PID/task), as a fresh worker has;
- descriptors: the same non-socket descriptors as a freshly connected
  worker (stdin, stdout, its log), and sockets only in the tender, at most
  its one cluster connection (/proc/PID/fd);
- the segment's attach count (the kernel's) is the number of survivors;
- `clustershm stat --json` names the same tender pid and epoch and that
  attach count; `clustershm list --json` lists the segment the same way;
- after every survivor closes, no process is attached to the test's keys.
Counts go to build/reliability/churn.json.
"""
import json
import os
import random
import subprocess
import time
from collections import Counter

from chaos import SOAK, SegmentView, soak_or, write_figures
from support import keys as keyset_mod
from support import shm
from support.checks import the_tender
from support.procs import wait_for
from support.worker import CLI, WorkerError, connect_all, format_options

PROCESSES = 64
DURATION = soak_or(30.0, 300.0)
IN_FLIGHT = 24
KILL_EVERY = 0.25
TENDER_KILL_EVERY = 2.0
ANSWER_WITHIN = 60.0      # seconds: only catches a hang
DEADLINE = soak_or(300, 1200)
SEED = int(os.environ.get("CSHM_TEST_SEED", "20240601"))
OPTIONS = dict(tend_interval=0.1, takeover_timeout=2, connect_timeout=1)

CONNECTED_OPS = [("close", 10), ("fork", 12), ("exec", 12), ("verify", 22), ("status", 22),
                 ("route", 22)]
UNCONNECTED_OPS = [("connect", 85), ("exec", 15)]


def pick(rng, weighted):
    total = sum(w for _, w in weighted)
    x = rng.uniform(0, total)
    for op, w in weighted:
        x -= w
        if x <= 0:
            return op
    return weighted[-1][0]


def task_count(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def descriptors(pid):
    """(non-socket descriptor targets, socket count) of pid."""
    others, sockets = [], 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:"):
            sockets += 1
        else:
            others.append((int(fd), target.split(":")[0] if ":" in target else "file"))
    return sorted(others), sockets


def run_cli(*args):
    out = subprocess.run([CLI] + list(args), capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, (args, out.stderr)
    return json.loads(out.stdout)


class Slot:
    def __init__(self, worker):
        self.worker = worker
        self.connected = False
        self.pending = None       # (op, sent_at, extra)


def test_churn_leaves_one_tender_and_no_leaks(cluster, pool, shm_key, tmp_path):
    rng = random.Random(SEED)
    url = cluster.url()
    options = dict(OPTIONS, key=shm_key)
    connect_line = " ".join(["connect", url] + format_options(options))
    keys = keyset_mod.generate(100, SEED)
    keys_path = str(tmp_path / "keys.hex")
    keyset_mod.write(keys_path, keys)

    slots = [Slot(w) for w in pool(PROCESSES, prefix="p")]
    connect_all([s.worker for s in slots[:8]], url, **options)
    for s in slots[:8]:
        s.connected = True
    view = SegmentView(shm_key)

    ops = Counter()
    fork_exits = Counter()
    epochs = set()
    serial = [0]

    def send(slot, op):
        w = slot.worker
        extra = None
        if op == "connect":
            line = connect_line
        elif op == "fork":
            serial[0] += 1
            extra = str(tmp_path / ("fork-%d.out" % serial[0]))
            line = "fork %s %s" % (keys_path, extra)
        elif op == "route":
            line = "route %s" % rng.choice(keys).hex()
            if line == "route ":
                line = "route -"
        else:
            line = op
        w.send(line)
        slot.pending = (op, time.monotonic(), extra)

    def handle(slot, answer):
        op, _, extra = slot.pending
        slot.pending = None
        w = slot.worker
        assert answer.get("ok"), "%r: %s answered %r\n%s" % (w, op, answer, w.log())
        ops[op] += 1
        if op == "connect":
            slot.connected = True
        elif op in ("close", "exec"):
            slot.connected = False
            if op == "exec":
                assert answer.get("execed") and answer["pid"] == w.pid, answer
        elif op == "fork":
            fork_exits[answer["child_exit"]] += 1
            assert answer["child_exit"] == 0, "%r: fork child exited %r: %s" % (
                w, answer["child_exit"], open(extra).read()[-2000:])

    def replace(slot):
        slot.worker.kill()
        slot.worker.stop()  # its pipes and log file: a soak kills thousands
        [slot.worker] = pool(1, prefix="p")
        slot.connected = False
        slot.pending = None

    started = time.monotonic()
    end = started + DURATION
    next_kill = started + KILL_EVERY
    next_tender_kill = started + TENDER_KILL_EVERY
    killed = Counter()
    while time.monotonic() < end:
        now = time.monotonic()
        epochs.add(view.epoch())
        for slot in slots:
            if slot.pending is None:
                continue
            answer = slot.worker.answer_ready()
            if answer is not None:
                handle(slot, answer)
            elif now - slot.pending[1] > ANSWER_WITHIN:
                raise WorkerError("%r gave no answer to %s within %.0f s\n%s"
                                  % (slot.worker, slot.pending[0], ANSWER_WITHIN,
                                     slot.worker.log()))
        if now >= next_kill:
            next_kill = now + KILL_EVERY
            # Mostly a process in the middle of something (a connect, a
            # close, a fork, an exec), else any.
            busy = [s for s in slots if s.pending]
            slot = rng.choice(busy if busy and rng.random() < 0.7 else slots)
            killed["busy" if slot.pending else "idle"] += 1
            replace(slot)
        if now >= next_tender_kill:
            next_tender_kill = now + TENDER_KILL_EVERY
            _, pid = view.tender()
            for slot in slots:
                if slot.worker.pid == pid and slot.worker.alive():
                    killed["tender"] += 1
                    replace(slot)
                    break
        in_flight = sum(1 for s in slots if s.pending)
        idle = [s for s in slots if s.pending is None]
        rng.shuffle(idle)
        for slot in idle[:max(0, IN_FLIGHT - in_flight)]:
            send(slot, pick(rng, CONNECTED_OPS if slot.connected else UNCONNECTED_OPS))
        time.sleep(0.002)
    churn_s = time.monotonic() - started

    # Let every command finish, then connect every survivor.
    deadline = time.monotonic() + ANSWER_WITHIN
    while any(s.pending for s in slots):
        for slot in slots:
            if slot.pending:
                answer = slot.worker.answer_ready()
                if answer is not None:
                    handle(slot, answer)
        assert time.monotonic() < deadline, "commands still unanswered after the churn"
        time.sleep(0.005)
    survivors = [s.worker for s in slots]
    for s in slots:
        assert s.worker.alive(), "%r died without being killed\n%s" % (s.worker, s.worker.log())
    connect_all([s.worker for s in slots if not s.connected], url, **options)
    tender, sts = wait_for(lambda: _one_tender(survivors), 30, "one tender among the survivors")
    epochs.add(sts[0]["epoch"])

    # A freshly connected worker is the yardstick.
    [fresh] = pool(1, prefix="fresh")
    assert fresh.connect(url, **options)["ok"]
    fresh_tasks = task_count(fresh.pid)
    fresh_fds, fresh_sockets = descriptors(fresh.pid)
    assert fresh_tasks in (2, 3) and fresh_sockets == 0, (fresh_tasks, fresh_sockets)
    leaks = []
    for w in survivors:
        tasks = task_count(w.pid)
        fds, sockets = descriptors(w.pid)
        if tasks > 3:
            leaks.append("%r: %d threads (a connected client has at most 3: main, background, "
                         "log delivery)" % (w, tasks))
        if fds != fresh_fds:
            leaks.append("%r: descriptors %s, a fresh worker has %s" % (w, fds, fresh_fds))
        if sockets > (1 if w is tender else 0):
            leaks.append("%r (%s): %d sockets" % (w, "tender" if w is tender else "follower",
                                                  sockets))
    fresh.ok("close")

    # The kernel, the CLI and the processes agree (our view detached first).
    view.close()
    attached = len(survivors)
    try:
        wait_for(lambda: shm.info(shm_key)["nattch"] == attached, 10,
                 "the segment's attach count to be the %d survivors" % attached)
    except AssertionError as e:
        raise AssertionError("%s: %r" % (e, shm.info(shm_key)))
    stat = run_cli("stat", "--key", "0x%x" % shm_key, "--json")
    listed = {int(e["key"], 16): e for e in run_cli("list", "--json")["segments"]}
    final_status = tender.status()

    for w in survivors:
        w.ok("close")
    # The last one to detach removes the segment.
    wait_for(lambda: shm.info(shm_key) is None, 10, "every process to detach")
    after = {int(e["key"], 16): e for e in run_cli("list", "--json")["segments"]}

    figures = {
        "soak": SOAK, "seed": SEED, "processes": PROCESSES, "churn_s": round(churn_s, 1),
        "operations": sum(ops.values()) + sum(killed.values()),
        "by_operation": dict(ops), "kills": dict(killed), "fork_child_exits": dict(fork_exits),
        "epochs_seen": len(epochs), "survivors": len(survivors),
        "final_tender_pid": tender.pid, "fresh_worker": {"threads": fresh_tasks,
                                                         "descriptors": len(fresh_fds)},
        "leaks": leaks,
    }
    write_figures("churn", figures)

    assert not leaks, "\n".join(leaks)
    assert stat["tender_pid"] == tender.pid == final_status["owner_pid"], (stat, final_status)
    assert stat["epoch"] == final_status["epoch"], (stat, final_status)
    assert stat["attached"] == attached == final_status["attached"], (stat, final_status)
    assert stat["snapshot_ok"] is True, stat["snapshot_error"]
    assert listed[shm_key]["attached"] == attached and listed[shm_key]["tender_pid"] == tender.pid
    assert after.get(shm_key, {"attached": 0})["attached"] == 0, after.get(shm_key)
    assert shm.info(shm_key) is None
    assert killed["tender"] > 0 and ops["exec"] > 0 and ops["fork"] > 0


def _one_tender(workers):
    try:
        return the_tender(workers)
    except AssertionError:
        return None
