"""test_logging.py - the core's log lines in Python: the thread logging
handlers run on, closing clients from a handler, and lines at interpreter
exit.

The core hands its lines to the application on one delivery thread of its
own, never on a client's background thread (that thread registers its own
robust futex list, so application locks taken there would not be released
by the kernel if the process died; a handler could also stall the tender or
close its own client).

Invariants: every wait has a deadline (wait_for, communicate timeouts, the
conftest alarm), so a deadlock fails a test instead of hanging the run;
handlers added to the "clustershm" logger are removed, and its level
restored, whatever happens; child interpreters are bounded like
test_lifecycle's.
"""
import logging
import subprocess
import textwrap
import threading

import clustershm
from helpers import python
from support import shm
from support.procs import wait_for

FAST = dict(tend_interval=0.2, takeover_timeout=5)
EXIT_TIMEOUT = 30


class Recorder(logging.Handler):
    """Keeps (levelno, message, thread ident) of every record."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def emit(self, record):
        self.seen.append((record.levelno, record.getMessage(), threading.get_ident()))


class handler_on_clustershm:
    """Adds handler to the clustershm logger at INFO for a with block."""

    def __init__(self, handler):
        self.handler = handler
        self.logger = logging.getLogger("clustershm")

    def __enter__(self):
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.INFO)
        return self.handler

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(logging.NOTSET)
        return False


def test_handlers_get_warnings_on_the_delivery_thread(clients, redis_url, shm_keys):
    # Two clients, two background threads, each logging max_nodes: both
    # lines arrive on one thread, which is not the main thread.
    with handler_on_clustershm(Recorder()) as rec:
        for i in range(2):
            clients(redis_url, key=shm_keys(i), max_nodes=2, **FAST).connect()

        def warnings():
            found = [s for s in rec.seen if "max_nodes=2 reached" in s[1]]
            return found if len(found) == 2 else None

        found = wait_for(warnings, 10, "both max_nodes warnings")
    assert all(level == logging.WARNING for level, _, _ in found)
    idents = {ident for _, _, ident in found}
    assert len(idents) == 1, idents             # one delivery thread per process
    assert threading.main_thread().ident not in idents
    assert threading.get_ident() not in idents


def test_close_in_a_log_handler_returns(redis_url, shm_key):
    # The takeover line is logged by b's own background thread; the handler
    # closes b.  Before handlers moved to the delivery thread that would
    # have made b's thread join itself.
    a = clustershm.connect(redis_url, key=shm_key, **FAST)
    b = clustershm.connect(redis_url, key=shm_key, **FAST)
    seen = []

    class Closer(logging.Handler):
        def emit(self, record):
            if "is the tender" not in record.getMessage() or seen:
                return
            try:
                b.close()
                seen.append("closed")
            except BaseException as e:  # reported to the test below
                seen.append(e)

    try:
        with handler_on_clustershm(Closer()):
            wait_for(lambda: b.status()["role"] == "follower" and a.status()["role"] == "tender",
                     10, "a to tend and b to follow")
            a.close()           # b's thread takes over and logs it
            wait_for(lambda: seen, 10, "close() in the handler to return")
        assert seen == ["closed"], seen
        # Closed for real: detached, and close() is still idempotent.
        b.close()
        wait_for(lambda: (shm.info(shm_key) or {"nattch": 0})["nattch"] == 0, 10,
                 "every client to detach")
    finally:
        a.close()
        b.close()


def test_lines_of_closes_at_exit_reach_the_scripts_handler(redis_url, shm_keys):
    # The handler is slow, so when the script ends the max_nodes warning is
    # still being handled and the takeover line (logged by f's thread when
    # t closed) waits behind it.  The exit hook closes the clients, then
    # lets both lines reach the handler before it stops forwarding.
    code = textwrap.dedent("""
        import logging, sys, time
        import clustershm
        URL, K1, K2, FAST = %r, %d, %d, %r

        class Slow(logging.Handler):
            def emit(self, record):
                time.sleep(0.5)
                sys.stdout.write("%%s %%s\\n" %% (record.levelname, record.getMessage()))
                sys.stdout.flush()

        logger = logging.getLogger("clustershm")
        logger.addHandler(Slow())
        logger.setLevel(logging.INFO)
        t = clustershm.connect(URL, key=K2, **FAST)
        f = clustershm.connect(URL, key=K2, **FAST)
        w = clustershm.connect(URL, key=K1, max_nodes=2, **FAST)
        t.close()
        while f.status()["role"] != "tender":
            time.sleep(0.01)
        print("exiting", flush=True)
    """ % (redis_url, shm_keys(0), shm_keys(1), FAST))
    proc = python(code)
    try:
        out, err = proc.communicate(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("child hung at exit:\n%s" % err.decode(errors="replace"))
    out, err = out.decode(), err.decode(errors="replace")
    assert proc.returncode == 0, err
    for marker in ("Fatal Python error", "Exception ignored", "Traceback", "Segmentation"):
        assert marker not in err, err
    lines = out.splitlines()
    assert "exiting" in lines, out
    after = lines[lines.index("exiting"):]
    warning = [l for l in lines if l.startswith("WARNING max_nodes=2 reached")]
    takeover = [l for l in after if l.startswith("INFO ") and "is the tender (epoch 2)" in l]
    assert warning and takeover, out
