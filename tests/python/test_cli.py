"""test_cli.py - the clustershm command as pip installs it: the wheel's
`clustershm` console script and clustershm.cli() run the C command compiled
into the module, which sees this process's segment exactly as status() does
and as build/clustershm does, gives the same exit codes, and gives the
interpreter its signal handlers back after watch.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import clustershm
from helpers import CLI

FAST = dict(tend_interval=60, takeover_timeout=120)
SCRIPT = os.path.join(os.path.dirname(sys.executable), "clustershm")


def run(argv, executable=SCRIPT):
    return subprocess.run([executable] + argv, capture_output=True, text=True, timeout=60)


def test_the_console_script_is_installed_with_its_man_page():
    assert os.access(SCRIPT, os.X_OK), "pip did not install the clustershm console script"
    out = run(["--version"])
    assert out.returncode == 0
    assert out.stdout == run(["--version"], CLI).stdout          # the same command
    assert os.path.isfile(os.path.join(sys.prefix, "share", "man", "man1", "clustershm.1"))
    assert run(["check", "--help"]).stdout == run(["check", "--help"], CLI).stdout


def test_stat_of_our_own_segment_matches_status(clients, redis_url, shm_key):
    c = clients(redis_url, key=shm_key, **FAST)
    c.connect()
    s = c.status()
    out = run(["stat", "--key", "0x%x" % shm_key, "--json"])
    assert out.returncode == 0, out.stderr
    j = json.loads(out.stdout)
    assert j["schema_version"] == 1 and j["owner_pid"] == os.getpid()
    for name in ("shmid", "segment_size", "identity", "epoch", "generation", "tends",
                 "has_tender", "has_map", "max_nodes", "max_namespaces", "stale",
                 "tend_interval", "takeover_timeout", "last_error", "step_down_history"):
        assert j[name] == s[name], name
    assert (j["chain_generation"], int(j["chain_base"], 16), j["forwarded_to"]) == \
        (s["chain_generation"], s["chain_base"], s["forwarded_to"])
    assert j["attached"] == s["attached"] == 1     # the command is not counted
    assert len(j["nodes"]) == s["nodes"]
    # the same figures from build/clustershm, the same exit codes
    built = json.loads(run(["stat", "--key", "0x%x" % shm_key, "--json"], CLI).stdout)
    assert {k: v for k, v in built.items() if k != "age"} == \
        {k: v for k, v in j.items() if k != "age"}
    ok = run(["check", "--key", "0x%x" % shm_key])
    assert ok.returncode == 0 and ok.stdout.startswith("CLUSTERSHM OK - ")


def test_cli_in_process_returns_the_exit_status(capfd, shm_keys):
    missing = shm_keys(1)
    assert clustershm.cli(["check", "--key", "0x%x" % missing]) == 2
    out = capfd.readouterr().out
    assert out.startswith("CLUSTERSHM CRITICAL - ") and "no segment" in out
    assert clustershm.cli(["frobnicate"]) == 2
    assert "unknown command" in capfd.readouterr().err
    assert clustershm.cli(("--version",)) == 0
    assert capfd.readouterr().out.startswith("clustershm %s " % clustershm.__version__)
    with pytest.raises(TypeError):
        clustershm.cli(["list", 3])


def test_watch_gives_the_interpreter_its_signal_handlers_back(capfd, clients, redis_url,
                                                             shm_key):
    c = clients(redis_url, key=shm_key, **FAST)
    c.connect()
    before = signal.getsignal(signal.SIGTERM)
    assert clustershm.cli(["watch", "--key", "0x%x" % shm_key, "--interval", "0.05",
                           "--duration", "0.3"]) == 0
    out = capfd.readouterr().out
    assert "watching" in out and "tender pid %d" % os.getpid() in out
    assert "\x1b" not in out                       # stdout is not a terminal here
    assert signal.getsignal(signal.SIGTERM) is before
    # Python's own SIGINT handler is back in C too: the signal raises.
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(2)                              # interrupted by Python's handler
