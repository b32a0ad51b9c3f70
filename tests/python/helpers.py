"""helpers.py - constants and small tools the Python suite's files share.

Invariants: every wait has a deadline (support.procs.wait_for); child
Python processes run this interpreter (the venv's, with the installed
wheel) with PR_SET_PDEATHSIG, so they die with the test run; nothing here
decides truth from the library under test.
"""
import json
import os
import re
import subprocess
import sys
import urllib.request

from support import procs

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CLI = os.path.join(ROOT, "build", "clustershm")
REDIS_PORTS = range(7400, 7406)
DEAD_PORT = 7490            # nothing listens on 7490-7499 unless a test does
SIM_BASE = 3200             # simulator nodes 3200.., control port 3209
HTTP_PORTS = range(8400, 8500)


def header_version():
    with open(os.path.join(ROOT, "core", "include", "clustershm.h")) as f:
        return re.search(r'#define CSHM_VERSION "([^"]+)"', f.read()).group(1)


def python(code, **kwargs):
    """A child Python (this interpreter) running code; stdio piped."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [HERE, os.path.join(ROOT, "tests", "integration"), ROOT]))
    env.update(kwargs.pop("env", {}))
    return procs.spawn([sys.executable, "-c", code], stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **kwargs)


def stat(key):
    """`clustershm stat --key KEY --json` as a dict (the CLI attaches
    read-only and does not count itself in `attached`)."""
    out = subprocess.run([CLI, "stat", "--key", "0x%08x" % key, "--json"], capture_output=True,
                         text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError("clustershm stat failed: %s" % out.stderr)
    return json.loads(out.stdout)


def http(port, path, body=None, timeout=30):
    """GET (or POST body) http://127.0.0.1:port/path -> decoded JSON."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid):
    """Pids of pid's live children."""
    out = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, task)) as f:
            out += [int(p) for p in f.read().split()]
    return [p for p in out if alive(p)]
