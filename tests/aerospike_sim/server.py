"""Run a simulated cluster plus its control channel in one asyncio loop.

`run(...)` is what the CLI calls: it starts the nodes and the control port,
reports readiness (one JSON line through `on_ready`), and returns when a
`shutdown` control arrives, stdin closes (with `watch_stdin`, so a simulator
never outlives the test process that piped it), or the task is cancelled.

Invariant: on return every listener the run opened is closed.
"""

import asyncio
import os
import sys

from . import control
from .cluster import Cluster


def _watch_stdin(stop):
    """Set `stop` when stdin reaches EOF; False if stdin cannot be watched."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()

    def readable():
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            stop.set()

    try:
        # Works for pipes and sockets; a regular file or /dev/null cannot be polled.
        loop.add_reader(fd, readable)
    except (OSError, ValueError):
        return False
    return True


async def run(nodes=3, base_port=3100, namespaces=(("test", 2),), control_port=0,
              host="127.0.0.1", cluster_name=None, build=None, seed=1, sc=(),
              watch_stdin=False, on_ready=None, on_dispatcher=None, names=None,
              users=None, session_ttl=86400, edition="community", racks=None,
              alternate_host=None, tls=None):
    kwargs = {"build": build} if build else {}
    cluster = Cluster(namespaces, host=host, cluster_name=cluster_name, seed=seed,
                      base_port=base_port, users=users, session_ttl=session_ttl,
                      edition=edition, alternate_host=alternate_host, tls=tls, **kwargs)
    stop = asyncio.Event()
    ctl = None
    try:
        for ns in sc:
            cluster.namespace(ns)  # fail early on a typo
        await cluster.start(nodes, base_port, names)
        if racks:
            # Given by node index (names are known only now): [rack of node 0, ...].
            cluster._store_racks({n: racks[i % len(racks)]
                                  for i, n in enumerate(cluster.nodes)})
        for ns in sc:
            await cluster.set_sc(ns)
        dispatcher = control.Dispatcher(cluster, stop)
        if on_dispatcher:
            on_dispatcher(dispatcher)
        ctl = control.ControlServer(dispatcher)
        await ctl.start("127.0.0.1", control_port)
        ready = {
            "ready": True,
            "control_port": ctl.port,
            "nodes": [dict({"name": n.name, "port": n.port},
                           **({"tls_name": n.tls_name} if tls else {}))
                      for n in cluster.nodes.values()],
        }
        if on_ready:
            on_ready(ready)
        watching = watch_stdin and _watch_stdin(stop)
        try:
            await stop.wait()
        finally:
            if watching:
                asyncio.get_running_loop().remove_reader(sys.stdin.fileno())
    finally:
        if ctl is not None:
            await ctl.close()
        await cluster.close()
