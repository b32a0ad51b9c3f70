"""test_hostile.py - a same-uid process scribbling a live segment can cause
a wrong map, never a crash or a hang.

Four workers route and read status in a loop while support/scribbler.py
writes words into the header's control words and locks (and, less often,
anywhere in the header after its prefix) for SCRIBBLE seconds.  Offsets come
from build/cshm-layout (offsetof on core/src/segment.h).  Every command must
be answered within a bound, every answer must be ok or a library error
(a code and a message), no worker may die, and afterwards every worker
still answers status and closes.  Recovery of the map is not required:
a scribbled lock area may need `clustershm rm`.
"""
import json
import os
import subprocess
import sys
import time
from collections import Counter

from support import shm
from support.procs import spawn, stop_process
from support.worker import CLI, LAYOUT, connect_all

SCRIBBLE = 5.0
ANSWER_WITHIN = 10.0  # seconds: only catches a hang
LIBRARY_CODES = {-1, -2, -3, -4, -5, -6}
SCRIBBLER = os.path.join(os.path.dirname(__file__), "support", "scribbler.py")
SEED = os.environ.get("CSHM_TEST_SEED", "20240601")  # the suite's seed: a failure replays


def layout():
    out = subprocess.run([LAYOUT], capture_output=True, text=True, timeout=10, check=True)
    return json.loads(out.stdout)


def check_answer(w, line, answer, seen):
    if answer.get("ok"):
        seen["ok"] += 1
        return
    assert answer.get("code") in LIBRARY_CODES and not answer.get("worker"), \
        "%r: %r gave %r: not a clean library error" % (w, line, answer)
    assert answer.get("error"), "%r: %r: error without a message: %r" % (w, line, answer)
    seen[answer["code"]] += 1


def test_scribbled_header_never_crashes_or_hangs_a_process(cluster, pool, shm_key, keyset,
                                                           tmp_path):
    ws = pool(4)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=0.1, takeover_timeout=1,
                connect_timeout=0.2)
    lay = layout()
    assert lay["prefix_size"] == 32 and lay["control_start"] < lay["locks_end"] <= 8192, lay
    seg = shm.info(shm_key)
    keys_path = keyset[1]
    outs = {w.pid: str(tmp_path / ("routes-%d.txt" % w.pid)) for w in ws}
    commands = [lambda w: "routefile %s %s" % (keys_path, outs[w.pid]),
                lambda w: "status",
                lambda w: "route 757365723a31",
                lambda w: "nodes",
                lambda w: "refresh"]

    scribbler = spawn([sys.executable, SCRIBBLER, str(seg["shmid"]), str(SCRIBBLE), SEED,
                       str(lay["control_start"]), str(lay["locks_end"])],
                      stdout=subprocess.PIPE)
    seen = Counter()
    rounds = 0
    try:
        after = None
        while after is None or time.monotonic() < after:
            line_of = commands[rounds % len(commands)]
            lines = {w.pid: line_of(w) for w in ws}
            for w in ws:
                w.send(lines[w.pid])
            for w in ws:
                # recv fails the test, with the worker's log, when a worker
                # dies (stdout closed) or gives no answer in time.
                check_answer(w, lines[w.pid], w.recv(ANSWER_WITHIN), seen)
            rounds += 1
            if after is None and scribbler.poll() is not None:
                after = time.monotonic() + 1.0  # a little more, once it stopped
        writes = int(scribbler.stdout.read().split()[0])
    finally:
        stop_process(scribbler)
    print("seed %s: %d writes, %d rounds of commands, answers %s"
          % (SEED, writes, rounds, dict(seen)))
    assert writes > 1000, "the scribbler hardly wrote (%d writes)" % writes
    assert scribbler.returncode == 0

    for w in ws:
        assert w.alive(), "%r died\n%s" % (w, w.log())
        a = w.cmd("status", ANSWER_WITHIN)
        check_answer(w, "status", a, seen)
    # The CLI reads the scribbled segment without dying of a signal.
    out = subprocess.run([CLI, "stat", "--key", "0x%x" % shm_key, "--json"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode in (0, 1), (out.returncode, out.stderr)
    # And every process can still leave (close stops its thread).
    for w in ws:
        assert w.cmd("close", ANSWER_WITHIN)["ok"], w
        assert w.alive()
