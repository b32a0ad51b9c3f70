"""test_lifecycle.py - interpreter exit with open clients, os.fork(), and
log lines from background threads in parents and children.

Invariants: every child process is bounded (communicate/wait timeouts, and
PR_SET_PDEATHSIG); a fork child always leaves through os._exit, so it never
runs pytest's own teardown; results come back through pipes as JSON.
"""
import json
import os
import signal
import subprocess
import textwrap

import pytest

import clustershm
from helpers import DEAD_PORT, python
from support import shm
from support.procs import wait_for

FAST = dict(tend_interval=0.2, takeover_timeout=5)
EXIT_TIMEOUT = 30   # a child that has not exited by then is hung


def run(code, timeout=EXIT_TIMEOUT):
    proc = python(textwrap.dedent(code))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("child hung at exit:\n%s" % err.decode(errors="replace"))
    return proc.returncode, out.decode(), err.decode(errors="replace")


def clean(err):
    """stderr of a child that must not show a crash or an ignored error."""
    for marker in ("Fatal Python error", "Exception ignored", "Traceback", "Segmentation"):
        assert marker not in err, err


# ---- interpreter exit ----------------------------------------------------------


EXIT_PROGRAMS = {
    "module-global": """
        c = clustershm.connect(URL, key=KEY, **FAST)
        c.route(b"k")
    """,
    "several-clients-and-a-cycle": """
        a = clustershm.connect(URL, key=KEY, **FAST)
        b = clustershm.connect(URL, key=KEY, **FAST)
        cycle = [clustershm.connect(URL, key=KEY + 1, **FAST)]
        cycle.append(cycle)
        del cycle
    """,
    "daemon-thread-routing": """
        import threading
        c = clustershm.connect(URL, key=KEY, **FAST)
        def loop():
            while True:
                try:
                    c.route(b"k")
                except clustershm.Error:
                    pass
        threading.Thread(target=loop, daemon=True).start()
        import time; time.sleep(0.2)
    """,
    "daemon-thread-connecting": """
        import threading, socket
        hang = socket.socket(); hang.bind(("127.0.0.1", DEAD + 2)); hang.listen(8)
        c = clustershm.Client("redis://127.0.0.1:%d" % (DEAD + 2), key=KEY + 2,
                              connect_timeout=20)
        threading.Thread(target=c.connect, daemon=True).start()
        import time; time.sleep(0.3)
    """,
    "daemon-thread-refreshing": """
        import threading
        c = clustershm.connect(URL, key=KEY, **FAST)
        def loop():
            while True:
                try:
                    c.refresh(timeout=0.5)
                except clustershm.Error:
                    pass
        threading.Thread(target=loop, daemon=True).start()
        import time; time.sleep(0.2)
    """,
    "system-exit": """
        c = clustershm.connect(URL, key=KEY, **FAST)
        raise SystemExit(3)
    """,
    "logging-at-debug": """
        import logging
        logging.basicConfig(level=logging.DEBUG)
        c = clustershm.connect(URL, key=KEY, max_nodes=2, **FAST)
    """,
}


@pytest.mark.parametrize("name", sorted(EXIT_PROGRAMS))
def test_exit_with_open_clients_neither_hangs_nor_crashes(name, redis_url, shm_keys):
    key = shm_keys(0)
    shm_keys(1), shm_keys(2)
    code = "import clustershm\nURL, KEY, DEAD, FAST = %r, %d, %d, %r\n" % (
        redis_url, key, DEAD_PORT, FAST) + textwrap.dedent(EXIT_PROGRAMS[name])
    rc, out, err = run(code)
    assert rc == (3 if name == "system-exit" else 0), err
    clean(err)
    # Every client was closed: nothing stays attached.
    for k in (key, key + 1, key + 2):
        info = shm.info(k)
        assert info is None or info["nattch"] == 0, (hex(k), info)


def test_exit_hands_the_tender_role_over(redis_url, shm_key):
    child = python(textwrap.dedent("""
        import sys, clustershm
        c = clustershm.connect(%r, key=%d, tend_interval=0.2, takeover_timeout=60)
        print(c.status()["role"], flush=True)
        sys.stdin.readline()
    """ % (redis_url, shm_key)))
    try:
        assert child.stdout.readline().strip() == b"tender"
        with clustershm.connect(redis_url, key=shm_key, tend_interval=0.2,
                                takeover_timeout=60) as me:
            assert me.status()["role"] == "follower"
            epoch = me.status()["epoch"]
            child.stdin.close()               # the child returns and exits
            assert child.wait(EXIT_TIMEOUT) == 0
            # Well before the 60 s takeover timeout: the exit handed it over.
            wait_for(lambda: me.status()["role"] == "tender", 10, "this process to take over")
            assert me.status()["epoch"] > epoch
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    clean(child.stderr.read().decode(errors="replace"))


# ---- fork ------------------------------------------------------------------------


def fork(child):
    """Runs child() in a fork child; returns what it returned (JSON) or
    raises with its exception text."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            result = {"ok": child()}
        except BaseException as e:  # reported to the parent
            result = {"error": "%s: %s" % (type(e).__name__, e)}
        try:
            os.write(w, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(w)
    try:
        with os.fdopen(r, "rb") as f:
            signal.alarm(60)
            data = f.read()
            signal.alarm(0)
    finally:
        _, status = os.waitpid(pid, 0)
    assert status == 0, status
    result = json.loads(data)
    assert "error" not in result, result["error"]
    return result["ok"]


def test_a_fork_child_uses_the_inherited_client(redis_url, shm_key, redis_keys, redis_truth):
    c = clustershm.connect(redis_url, key=shm_key, **FAST)
    try:
        assert c.status()["role"] == "tender"

        def child():
            s = c.status()
            routes = ["%s:%d" % c.route(k) for k in redis_keys]
            return {"role": s["role"], "pid": s["pid"], "owner": s["owner_pid"],
                    "routes": routes, "nodes": len(c.nodes())}

        got = fork(child)
        # The child is a follower whose routes are right; the parent stays
        # the tender and is not disturbed.
        assert got["role"] == "follower" and got["pid"] != os.getpid()
        assert got["owner"] == os.getpid()
        assert got["routes"] == redis_truth[1]
        assert got["nodes"] == 6
        s = c.status()
        assert s["role"] == "tender" and s["pid"] == os.getpid()
        assert ["%s:%d" % c.route(k) for k in redis_keys[:100]] == redis_truth[1][:100]
    finally:
        c.close()


def test_a_fork_child_refreshes_with_the_inherited_client(redis_url, shm_key):
    c = clustershm.connect(redis_url, key=shm_key, **FAST)
    try:
        def child():
            # refresh() is the child's first call: the core adopts the
            # client there (a follower with a thread of its own).
            asked = c.refresh(wait=False)
            waited = c.refresh(timeout=0.5)
            return {"asked": asked, "waited": waited, "role": c.status()["role"]}

        got = fork(child)
        assert got["asked"] is False and got["waited"] in (True, False)
        assert got["role"] == "follower"
        assert c.refresh(timeout=0.2) in (True, False)
        assert c.status()["role"] == "tender"
    finally:
        c.close()


def test_a_fork_child_takes_over_and_logs(redis_url, shm_key, tmp_path):
    log_path = str(tmp_path / "child.log")
    c = clustershm.connect(redis_url, key=shm_key, **FAST)
    r, w = os.pipe()

    def child():
        import logging
        handler = logging.FileHandler(log_path)
        logging.getLogger("clustershm").addHandler(handler)
        logging.getLogger("clustershm").setLevel(logging.DEBUG)
        c.status()                      # the first call starts the child's thread
        os.write(w, b"x")               # now the parent may close
        wait_for(lambda: c.status()["role"] == "tender", 20, "the child to take over")
        me = os.getpid()
        # The takeover is logged by the child's own background thread, which
        # enters the child's interpreter to do so.
        wait_for(lambda: "pid %d is the tender" % me in open(log_path).read(), 20,
                 "the child's log line")
        c.close()
        return c.__class__.__name__

    pid = os.fork()
    if pid == 0:
        try:
            child()
            code = 0
        except BaseException as e:
            with open(log_path, "a") as f:
                f.write("CHILD FAILED: %r\n" % e)
            code = 1
        os._exit(code)
    try:
        signal.alarm(60)
        assert os.read(r, 1) == b"x"
        signal.alarm(0)
        c.close()                       # hand the role over to the child
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(r)
        os.close(w)
    assert os.waitstatus_to_exitcode(status) == 0, open(log_path).read()


def test_fork_before_connect_and_connect_in_the_child(redis_url, shm_key):
    c = clustershm.Client(redis_url, key=shm_key, **FAST)

    def child():
        c.connect()
        try:
            return c.status()["role"]
        finally:
            c.close()

    assert fork(child) == "tender"
    assert shm.info(shm_key) is None
