"""One simulated Aerospike node: its listener, connections, answers and faults.

The node serves proto frames on host:port (spec section 1): several requests
per connection, one response per request, info (type 1) answered line by line
through `info.answer`. What it answers about the cluster (peers, replicas,
generations) is set by the Cluster at each commit; the node never changes it
on its own.

Roles: `initializing` (listening, partition-generation -1, one all-zero
column, no peers: a server before its first rebalance), `member`,
`standalone` (left the cluster but still up: a one-node cluster of its own),
`gone`. `listening` is separate: a member killed without a rebalance is a
member that does not listen.

Invariants:
- a framing error (bad version/type/size, TLS hello) closes the connection,
  as the server does; nothing is answered to it;
- every response has a non-empty body ending in a newline, unless a fault
  deliberately breaks that;
- `stop()` closes the listener and aborts every open connection, so a killed
  node stops answering at once, also on sockets opened before the kill.
"""

import asyncio
import logging

from . import asmsg, info, security
from .counters import Counters
from .faults import BAD_VALUE, GARBAGE, OUTPUT_KINDS, Faults
from .framing import (TYPE_ADMIN, TYPE_INFO, TYPE_MSG, FramingError, build_response,
                      check_header, command_name, frame, split_request)

log = logging.getLogger("aerospike_sim.node")

SUMMARY_NAME = "(summary)"


class SimNode:
    def __init__(self, cluster, name, host, port, build, generations):
        self.cluster = cluster
        self.name = name
        self.host = host
        self.port = port
        self.build = build
        self.partition_gen, self.peers_gen, self.rebalance_gen = generations
        self.role = "gone"
        self.listening = False
        self.cluster_name = None  # per-node override of the cluster's name
        self.tls_name = ""        # its TLS name when the cluster serves TLS (tls.py)
        self.peers = []           # [(name, [(host, port)])], set at commit
        self.view = []            # [(ns, regime, [set of pids per column])], set at commit
        self.standalone_view = None
        self.lagged = None        # (partition generation, view) frozen by `lag`
        self.faults = Faults()
        self.counters = Counters()
        self.user_agents = []
        self._server = None
        self._writers = set()
        self._tasks = set()
        self._stopped = None

    # ------------------------------------------------------------ answers

    def peers_view(self, alt=False, tls=False):
        peers = self.peers if self.role == "member" else []
        if bool(tls) != bool(self.cluster.tls):
            # Only the service a node runs has endpoints (a TLS-only node
            # lists its peers without clear addresses, and vice versa).
            return [(name, []) for name, _eps in peers]
        if not alt or not self.cluster.alternate_host:
            return peers
        return [(name, [(self.cluster.alternate_host, port) for _h, port in eps])
                for name, eps in peers]

    def access_host(self, alt=False):
        """The address this node announces (service-clear-std / -alt)."""
        return self.cluster.alternate_host if alt and self.cluster.alternate_host else self.host

    def rack_of(self, namespace):
        """This node's rack in a namespace (0, a server's default, when not set)."""
        return self.cluster.racks.get(namespace, {}).get(self.name, 0)

    def replicas_view(self):
        if self.lagged is not None:
            return self.lagged[1]
        if self.role == "initializing":
            return [(ns, 0, [set()]) for ns in self.cluster.namespaces]
        if self.role == "standalone":
            return self.standalone_view
        return self.view

    def partition_generation_text(self):
        if self.role == "initializing":
            return "-1"
        if self.lagged is not None:
            return str(self.lagged[0])
        return str(self.partition_gen)

    def cluster_name_text(self):
        return self.cluster_name or self.cluster.cluster_name or "null"

    def to_json(self):
        return {
            "name": self.name,
            "host": self.host,
            "port": self.port,
            "role": self.role,
            "listening": self.listening,
            "build": self.build,
            "cluster_name": self.cluster_name_text(),
            "partition_generation": self.partition_gen,
            "peers_generation": self.peers_gen,
            "rebalance_generation": self.rebalance_gen,
            "lagging": self.lagged is not None,
            "faults": self.faults.to_json(),
            "tls_name": self.tls_name,
            "peers": [p for p, _eps in self.peers_view(tls=bool(self.cluster.tls))],
            "user_agents": list(self.user_agents),
        }

    # ------------------------------------------------------------ network

    async def start(self):
        self._stopped = asyncio.Event()
        # With an alternate access address the node also listens there (the
        # address a client behind NAT would reach it at).
        hosts = [self.host] + ([self.cluster.alternate_host] if self.cluster.alternate_host else [])
        tls = self.cluster.tls
        self._server = await asyncio.start_server(
            self._serve, hosts, self.port, reuse_address=True,
            ssl=tls.context(self.tls_name) if tls else None)
        self.listening = True

    async def stop(self):
        self.listening = False
        if self._stopped is not None:
            self._stopped.set()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        # Handlers see EOF (also a hanging one) and end; wait so none is left behind.
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        self._server = None

    async def _serve(self, reader, writer):
        task = asyncio.current_task()
        self._tasks.add(task)
        self.counters.connections += 1
        self._writers.add(writer)
        conn = info.ConnState()
        try:
            while True:
                try:
                    header = await reader.readexactly(8)
                    msg_type, size = check_header(header)
                    body = await reader.readexactly(size)
                except FramingError as exc:
                    log.info("%s: closing connection: %s", self.name, exc)
                    break
                sec = self.cluster.security
                if msg_type == TYPE_INFO and not sec.authenticated(conn):
                    self.counters.count_request(["(not authenticated)"])
                    writer.write(frame((security.NOT_AUTHENTICATED_INFO + "\n").encode()))
                    await writer.drain()
                    keep = True
                elif msg_type == TYPE_INFO:
                    keep = await self._answer_info(conn, body, reader, writer)
                elif msg_type == TYPE_MSG and not sec.authenticated(conn):
                    self.counters.other_messages += 1
                    writer.write(asmsg.reply(security.NOT_AUTHENTICATED))
                    await writer.drain()
                    keep = True
                elif msg_type == TYPE_MSG:
                    keep = await self._answer_msg(body, writer)
                elif msg_type == TYPE_ADMIN:
                    reply = sec.handle(conn, body)
                    self.counters.count_request(["(admin)"])
                    if reply is None:
                        keep = False
                    else:
                        writer.write(frame(reply, TYPE_ADMIN))
                        await writer.drain()
                        keep = True
                else:
                    # Compressed messages and XDR are not simulated.
                    self.counters.other_messages += 1
                    log.info("%s: proto type %d not simulated, closing", self.name, msg_type)
                    keep = False
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception:
            # A simulator bug must show up in the log, not kill the node.
            log.exception("%s: error while serving a connection", self.name)
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()

    async def _answer_info(self, conn, body, reader, writer):
        lines = split_request(body)
        names = [command_name(line).decode("utf-8", "replace") for line in lines]
        self.counters.count_request(names or [SUMMARY_NAME])

        slow = self.faults.match("slow", names)
        if slow is not None:
            self.faults.consume("slow")
            # Sleep, but wake at once if the node is stopped meanwhile.
            try:
                await asyncio.wait_for(self._stopped.wait(), slow["delay"])
            except asyncio.TimeoutError:
                pass
            if writer.is_closing():
                return False
        for kind in OUTPUT_KINDS:
            spec = self.faults.match(kind, names)
            if spec is not None:
                self.faults.consume(kind)
                return await self._misbehave(kind, spec, conn, lines, reader, writer)

        if lines:
            pairs = [(line, info.answer(self, conn, line)) for line in lines]
        else:
            # Empty body, or no complete line: the deprecated summary.
            pairs = info.summary(self, conn)
        writer.write(frame(build_response(pairs)))
        await writer.drain()
        return True

    async def _answer_msg(self, body, writer):
        request, reply = asmsg.answer(body)
        if request is None:
            self.counters.other_messages += 1
            return False
        self.counters.count_data(request["namespace"], request["partition"], request["read"])
        writer.write(reply)
        await writer.drain()
        return True

    async def _misbehave(self, kind, spec, conn, lines, reader, writer):
        if kind == "hang":
            # Keep the socket open and swallow whatever comes until the peer leaves.
            while await reader.read(65536):
                pass
            return False
        if kind == "drop":
            return False
        if kind == "garbage":
            writer.write(GARBAGE)
            await writer.drain()
            return True
        if kind == "bad_value":
            only = set(spec["only"] or ())
            pairs = [(line, BAD_VALUE if not only or command_name(line).decode("utf-8", "replace") in only
                      else info.answer(self, conn, line)) for line in lines]
            writer.write(frame(build_response(pairs or info.summary(self, conn))))
            await writer.drain()
            return True
        # truncated: announce the full body, send half of it, then hang up.
        pairs = [(line, info.answer(self, conn, line)) for line in lines] or info.summary(self, conn)
        body = build_response(pairs)
        writer.write(frame(body)[:8 + len(body) // 2])
        await writer.drain()
        return False
