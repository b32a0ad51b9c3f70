"""Drive a simulator from tests: control client, subprocess and in-process runners.

    with SimulatorProcess(nodes=3, base_port=3100, namespaces="test:2,bar:1",
                          control_port=3199) as sim:
        sim.kill_node(name=sim.node_names()[0])
        truth = sim.truth()

Every control operation listed in control.py is a method: `sim.<op>(**args)`
returns the result or raises ControlFailed with the simulator's message.

Invariants: a runner's `close()` (also on context exit) stops everything it
started and waits for it; a subprocess runner also kills the child if it does
not exit in time, and the child exits by itself if the runner's process dies
(it watches its stdin pipe).
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading

from . import server
from .cluster import parse_namespaces

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ControlFailed(Exception):
    """The simulator answered ok=false."""


class _Ops:
    """`obj.op(**args)` -> `obj.call(op, **args)`."""

    def call(self, op, **args):
        raise NotImplementedError

    def __getattr__(self, op):
        if op.startswith("_"):
            raise AttributeError(op)
        return lambda **args: self.call(op, **args)

    def node_names(self):
        return [n["name"] for n in self.call("nodes")]


def _unwrap(response):
    if not response.get("ok"):
        raise ControlFailed(response.get("error"))
    return response.get("result")


class ControlClient(_Ops):
    """Synchronous JSON-lines client of a control port."""

    def __init__(self, port, host="127.0.0.1", timeout=30.0):
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._file = self._sock.makefile("rb")
        self._lock = threading.Lock()

    def call(self, op, **args):
        line = json.dumps(dict(args, op=op)).encode() + b"\n"
        with self._lock:
            self._sock.sendall(line)
            reply = self._file.readline()
        if not reply:
            raise ConnectionError("control connection closed")
        return _unwrap(json.loads(reply))

    def close(self):
        self._file.close()
        self._sock.close()


class SimulatorProcess(_Ops):
    """The simulator as a child process (`python3 -m tests.aerospike_sim`)."""

    def __init__(self, nodes=3, base_port=3100, namespaces="test:2", control_port=0,
                 extra_args=(), start_timeout=20.0):
        cmd = [sys.executable, "-m", "tests.aerospike_sim", "--nodes", str(nodes),
               "--base-port", str(base_port), "--namespaces", namespaces,
               "--control-port", str(control_port), "--watch-stdin", *extra_args]
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self.ready = None
        self.control = None
        try:
            self.ready = self._read_ready(start_timeout)
            self.control = ControlClient(self.ready["control_port"])
        except BaseException:
            self.close()
            raise

    def _read_ready(self, timeout):
        result = {}

        def reader():
            result["line"] = self.proc.stdout.readline()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        t.join(timeout)
        line = result.get("line")
        if not line:
            raise RuntimeError("simulator did not start (exit code %s)" % self.proc.poll())
        return json.loads(line)

    @property
    def control_port(self):
        return self.ready["control_port"]

    def call(self, op, **args):
        return self.control.call(op, **args)

    def close(self, timeout=10.0):
        if self.control is not None:
            try:
                self.control.call("shutdown")
            except (OSError, ControlFailed):
                pass
            self.control.close()
            self.control = None
        if self.proc.poll() is None:
            self.proc.stdin.close()  # the child exits on EOF too
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f and not f.closed:
                f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class InProcessSimulator(_Ops):
    """The simulator in a background thread of this process (faster to start).

    Controls go straight to the dispatcher; a control port is opened too, so
    other processes can drive this instance.
    """

    def __init__(self, nodes=3, base_port=3100, namespaces="test:2", control_port=0,
                 start_timeout=20.0, **run_args):
        self.loop = asyncio.new_event_loop()
        self.ready = None
        self._dispatcher = None
        self._ready_event = threading.Event()
        self._error = None
        spaces = parse_namespaces(namespaces) if isinstance(namespaces, str) else namespaces

        def on_ready(info):
            self.ready = info
            self._ready_event.set()

        async def main():
            self._task = asyncio.current_task()
            await server.run(nodes=nodes, base_port=base_port, namespaces=spaces,
                             control_port=control_port, on_ready=on_ready,
                             on_dispatcher=self._set_dispatcher, **run_args)

        def thread_main():
            try:
                self.loop.run_until_complete(main())
            except BaseException as exc:  # reported to the constructor or close()
                self._error = exc
            finally:
                self._ready_event.set()
                self.loop.close()

        self._thread = threading.Thread(target=thread_main, daemon=True)
        self._thread.start()
        self._ready_event.wait(start_timeout)
        if self.ready is None:
            self.close()
            raise RuntimeError("simulator did not start: %r" % (self._error,))

    def _set_dispatcher(self, dispatcher):
        self._dispatcher = dispatcher

    @property
    def control_port(self):
        return self.ready["control_port"]

    def call(self, op, **args):
        fut = asyncio.run_coroutine_threadsafe(self._dispatcher.call(op, args), self.loop)
        return _unwrap(fut.result(60))

    def with_cluster(self, fn):
        """Run fn(cluster) inside the simulator's loop; for white-box tests."""
        async def wrapper():
            return fn(self._dispatcher.cluster)
        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(60)

    def close(self):
        if self._thread.is_alive() and self._dispatcher is not None:
            try:
                self.call("shutdown")
            except Exception:
                pass
        self._thread.join(20)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


__all__ = ["ControlClient", "ControlFailed", "InProcessSimulator", "SimulatorProcess"]
