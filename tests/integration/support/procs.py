"""procs.py - child processes that cannot outlive the test run, and waiting.

Invariants: every process started through `spawn` gets PR_SET_PDEATHSIG =
SIGKILL, so redis-servers and workers die with the pytest process even when
it is killed itself and no finalizer runs; `wait_for` is the only way tests
wait, and it always ends, with an AssertionError naming what did not happen.
"""
import ctypes
import os
import signal
import subprocess
import time

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _die_with_parent():
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def spawn(argv, **kwargs):
    # preexec_fn is safe here: pytest does not run threads of its own.
    return subprocess.Popen(argv, preexec_fn=_die_with_parent, **kwargs)


def wait_for(predicate, timeout, what, interval=0.05):
    """Polls predicate() until it returns a true value, which is returned.
    Exceptions from predicate count as "not yet" (a node being restarted
    refuses connections) but the last one is reported on timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ConnectionError, ValueError, KeyError) as e:
            last_exc = e
        if time.monotonic() >= deadline:
            detail = " (last error: %r)" % (last_exc,) if last_exc else ""
            raise AssertionError("timed out after %.1f s waiting for %s%s" % (timeout, what, detail))
        time.sleep(interval)


def stop_process(proc, grace=5.0):
    """SIGCONT (a stopped process cannot die of SIGTERM), SIGTERM, then
    SIGKILL after grace seconds; always reaps."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)
    except ProcessLookupError:
        pass


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of every thread of process pid so far, from
    /proc/PID/stat (utime and stime, fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    # The command name (field 2) may hold spaces and parentheses: the
    # fields we want come after its last ')'.
    fields = data[data.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK
