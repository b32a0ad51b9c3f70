"""The CLI process: readiness line, options, and every way it stops."""

import json
import signal
import socket
import subprocess
import sys

import pytest

from simtest import REPO_ROOT
from tests.aerospike_sim.client import SimulatorProcess
from tests.aerospike_sim.infoclient import info

BASE = 3170
CONTROL = 3197


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "tests.aerospike_sim", *args], cwd=REPO_ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_options_and_shutdown():
    with SimulatorProcess(nodes=2, base_port=BASE, namespaces="test:2,bar:1", control_port=CONTROL,
                          extra_args=["--names", "A1,B2", "--sc", "test", "--cluster-name", "c1",
                                      "--build", "8.1.0.0"]) as sim:
        assert sim.ready["control_port"] == CONTROL
        assert sim.ready["nodes"] == [{"name": "A1", "port": BASE}, {"name": "B2", "port": BASE + 1}]
        v = info(BASE, "node", "cluster-name", "build", "replicas")
        assert (v["node"], v["cluster-name"], v["build"]) == ("A1", "c1", "8.1.0.0")
        assert v["replicas"].startswith("test:1,2,") and ";bar:0,1," in v["replicas"]
        proc = sim.proc
    assert proc.returncode == 0
    assert refused(BASE) and refused(CONTROL)


def test_exits_when_stdin_closes():
    proc = start("--nodes", "1", "--base-port", str(BASE), "--control-port", str(CONTROL),
                 "--watch-stdin")
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready["ready"] and ready["nodes"][0]["port"] == BASE
        proc.stdin.close()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert refused(BASE)


def test_exits_on_sigterm():
    proc = start("--nodes", "1", "--base-port", str(BASE), "--control-port", str(CONTROL))
    try:
        json.loads(proc.stdout.readline())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
        proc.stderr.close()


def test_port_in_use_fails_to_start():
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", BASE + 1))
    blocker.listen()
    try:
        with pytest.raises(RuntimeError, match="did not start"):
            SimulatorProcess(nodes=2, base_port=BASE, control_port=CONTROL, start_timeout=10)
    finally:
        blocker.close()
    assert refused(BASE)
