"""Control channel: JSON lines over TCP on 127.0.0.1, one request per line.

Request:  {"op": "<name>", ...arguments}\\n
Response: {"ok": true, "result": <json>}\\n  or  {"ok": false, "error": "<text>"}\\n

Operations (arguments in brackets are optional):
  ping                                  -> "pong"
  nodes                                 -> [node, ...]
  truth [namespace] [partitions=true]   -> {members, nodes, namespaces: {ns: {rf, n_cols,
                                           sc, regime, partitions: [[master, prole..] x 4096]}}}
  locate namespace key [set]            -> {partition, owners}
  counters [reset=false]                -> {node name: {requests, connections,
                                           other_messages, names: {info name: count}}}
  add_node [port] [name] [build] [join=true]
  join_node name
  remove_node name [standalone=false]
  kill_node name [rebalance=true]
  evict_node name
  restart_node name [join=true]
  migrate namespace to [partitions] [count] [column=0] [source]   -> moved pids
  rebalance
  set_sc namespace [enabled=true] [regime]
  bump_regime namespace [by=1]
  lag name [enabled=true]
  set_fault name kind [delay] [only] [count]   kind: slow hang drop truncated garbage bad_value
  clear_faults [name] [kind]
  set_cluster_name cluster_name [name]
  shutdown                              -> stops the simulator after answering

Invariants: requests on one connection are answered in order; a bad request
gets ok=false and never stops the simulator; every operation runs in the
cluster's loop, so it is atomic with respect to the nodes' answers.
"""

import asyncio
import inspect
import json
import logging

from .cluster import ControlError

log = logging.getLogger("aerospike_sim.control")


def _ops(cluster, stop_event):
    async def shutdown():
        stop_event.set()
        return True

    return {
        "ping": lambda: "pong",
        "nodes": cluster.nodes_json,
        "truth": cluster.truth,
        "locate": lambda namespace, key, set="": cluster.locate(namespace, key, set),
        "counters": cluster.counters,
        "add_node": cluster.add_node,
        "join_node": cluster.join_node,
        "remove_node": cluster.remove_node,
        "kill_node": cluster.kill_node,
        "evict_node": cluster.evict_node,
        "restart_node": cluster.restart_node,
        "migrate": cluster.migrate,
        "rebalance": cluster.rebalance,
        "set_sc": cluster.set_sc,
        "bump_regime": cluster.bump_regime,
        "lag": cluster.lag,
        "set_fault": cluster.set_fault,
        "clear_faults": cluster.clear_faults,
        "set_cluster_name": cluster.set_cluster_name,
        "set_racks": cluster.set_racks,
        "set_edition": cluster.set_edition,
        "set_users": cluster.set_users,
        "expire_sessions": cluster.expire_sessions,
        "security": cluster.security_json,
        "shutdown": shutdown,
    }


class Dispatcher:
    def __init__(self, cluster, stop_event):
        self.cluster = cluster
        self.ops = _ops(cluster, stop_event)

    async def call(self, op, args):
        """Run one operation; return the response dict (never raises)."""
        fn = self.ops.get(op)
        if fn is None:
            return {"ok": False, "error": "unknown op %r" % (op,)}
        try:
            result = fn(**args)
            if inspect.isawaitable(result):
                result = await result
            return {"ok": True, "result": result}
        except (ControlError, TypeError, ValueError, KeyError) as exc:
            return {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        except OSError as exc:
            # e.g. a port already taken when starting a node.
            return {"ok": False, "error": "OSError: %s" % exc}


class ControlServer:
    """The listening control port and its open connections."""

    def __init__(self, dispatcher):
        self.dispatcher = dispatcher
        self.server = None
        self._tasks = set()
        self._writers = set()

    @property
    def port(self):
        return self.server.sockets[0].getsockname()[1]

    async def start(self, host, port):
        # The stream limit must hold a request line of any size we accept.
        self.server = await asyncio.start_server(self._handle, host, port,
                                                 reuse_address=True, limit=1 << 24)

    async def close(self):
        if self.server is not None:
            self.server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        # Let the handlers see EOF and finish, so nothing is cancelled mid-way.
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    async def _handle(self, reader, writer):
        task = asyncio.current_task()
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    request = json.loads(line)
                    op = request.pop("op")
                    response = await self.dispatcher.call(op, request)
                except (ValueError, KeyError, AttributeError, TypeError) as exc:
                    response = {"ok": False, "error": "bad request: %s" % exc}
                writer.write(json.dumps(response).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()
