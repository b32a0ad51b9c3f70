"""cluster.py - real Redis Clusters from Debian's redis-server, and the
truth about them.

A RedisCluster owns its redis-server processes (daemonize no, started with
PR_SET_PDEATHSIG) and a directory of its own.  `start` returns only when
every live node says cluster_state:ok and every live node describes the
same slot -> master map with every shard member online, so a test that reads
the truth right after start reads a settled cluster.

The truth comes from the servers, never from the library under test:
CLUSTER KEYSLOT for key -> slot, CLUSTER SHARDS for slot -> master.

A cluster made with `password` runs every node with requirepass and
masterauth; every query of the tests (and redis-cli) then authenticates as
the default user, so truth queries keep working whatever ACL users a test
adds or breaks.
"""
import os
import signal
import socket
import subprocess
import time


from . import procs
from .resp import Connection, RespError, call as resp_call, pairs, text

SLOTS = 16384
HOST = "127.0.0.1"
# Fresh clusters of destructive tests start at one of these ports (their
# bus ports are +10000); see conftest.py for the whole port plan.
# CSHM_TEST_INSTANCE=N (default 0) moves every port of the suite by
# 1000 * N, so several runs (worktrees, CI jobs) can share a machine.
PORT_SHIFT = 1000 * int(os.environ.get("CSHM_TEST_INSTANCE", "0"))
SESSION_PORTS = range(7100 + PORT_SHIFT, 7106 + PORT_SHIFT)
FRESH_BASES = range(7110 + PORT_SHIFT, 7190 + PORT_SHIFT, 10)
# Never listened on by the fixtures: for "nothing there" seeds and fakes.
NOWHERE_PORTS = range(7190 + PORT_SHIFT, 7200 + PORT_SHIFT)


def node_port(node):
    """The port a CLUSTER SHARDS node is reached on: its plain port, or its
    tls-port when it listens for TLS only."""
    return int(node.get("port") or node["tls-port"])


def port_is_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
            return True
        except OSError:
            return False


def free_block(bases, size):
    """The first ports base..base+size-1 of bases whose ports and cluster
    bus ports (+10000) are all free."""
    for base in bases:
        ports = range(base, base + size)
        if all(port_is_free(p) and port_is_free(p + 10000) for p in ports):
            return ports
    raise RuntimeError("no free block of %d ports in %s" % (size, bases))


class RedisCluster:
    def __init__(self, ports, workdir, replicas=1, node_timeout_ms=2000, password=None,
                 tls=None, tls_auth_clients="no", extra_args=()):
        """tls: a support.tls.TlsFiles; then every node listens for TLS only
        (port 0, tls-port, tls-cluster yes, tls-replication yes) and every
        query of the tests speaks TLS with the client certificate.
        extra_args: more redis-server arguments for every node."""
        self.tls = tls
        self.tls_auth_clients = tls_auth_clients
        self.extra_args = list(extra_args)
        self._tls_context = tls.client_context() if tls is not None else None
        self.ports = list(ports)
        self.workdir = str(workdir)
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.password = password
        self.procs = {}
        self.dead = set()

    def call(self, port, *args, timeout=10.0):
        """One command on node `port`, authenticated when the cluster has a
        password."""
        return resp_call(port, *args, timeout=timeout, auth=self.password, tls=self._tls_context)

    def connection(self, port, timeout=10.0):
        return Connection(HOST, port, timeout, auth=self.password, tls=self._tls_context)

    def on_every_node(self, *args):
        """The same command on every live node; their answers by port."""
        return {p: self.call(p, *args) for p in self.live_ports}

    def _cli_auth(self):
        tls = self.tls.cli_args() if self.tls is not None else []
        return tls + (["-a", self.password, "--no-auth-warning"] if self.password else [])

    # ---- lifecycle -------------------------------------------------------

    def start(self, timeout=90):
        # A cluster port is port + 10000: both must be free.  Ports of the
        # ephemeral range (CSHM_TEST_INSTANCE >= 2) may be held for up to a
        # minute by another program's closed connection (TIME_WAIT), so a
        # busy port is waited for before it is called taken.
        def busy():
            return [q for p in self.ports for q in (p, p + 10000) if not port_is_free(q)]

        deadline = time.monotonic() + 75
        while busy():
            if time.monotonic() > deadline:
                raise RuntimeError("ports %s are in use; another test run?" % busy())
            time.sleep(0.2)
        for p in self.ports:
            self._start_server(p)
        for p in self.ports:
            procs.wait_for(lambda p=p: self.call(p, "PING") == "PONG", 20,
                           "redis-server on port %d" % p)
        argv = ["redis-cli"] + self._cli_auth() + ["--cluster", "create"]
        argv += ["%s:%d" % (HOST, p) for p in self.ports]
        argv += ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if out.returncode != 0 or "[OK] All 16384 slots covered" not in out.stdout:
            raise RuntimeError("redis-cli --cluster create failed:\n%s\n%s" % (out.stdout, out.stderr))
        self.wait_settled(timeout)
        return self

    def _start_server(self, port):
        d = os.path.join(self.workdir, str(port))
        os.makedirs(d, exist_ok=True)
        if self.tls is not None:
            listen = ["--port", "0", "--tls-port", str(port), "--tls-cluster", "yes",
                      "--tls-replication", "yes"] + self.tls.redis_args(self.tls_auth_clients)
        else:
            listen = ["--port", str(port)]
        argv = ["redis-server"] + listen + [
            "--bind", HOST,
            "--protected-mode", "no",
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--save", "",
            "--appendonly", "no",
            # Replicas report health "loading" until their first sync; the
            # default 5 s diskless-sync delay would add 5 s to every start.
            "--repl-diskless-sync-delay", "0",
            # CLUSTER SHARDS says "loading" for a replica whose offset is 0,
            # and the offset moves with the master's pings to replicas:
            # 10 s apart by default.
            "--repl-ping-replica-period", "1",
            "--daemonize", "no",
            "--dir", d,
            "--logfile", os.path.join(d, "redis.log"),
        ] + self.extra_args
        if self.password:
            argv += ["--requirepass", self.password, "--masterauth", self.password]
        self.procs[port] = procs.spawn(argv, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self):
        """`with RedisCluster(...) as c:` starts it and always stops it."""
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def kill_node(self, port, sig=signal.SIGKILL):
        self.procs[port].send_signal(sig)
        if sig == signal.SIGKILL:
            self.procs[port].wait(timeout=10)
            self.dead.add(port)

    def restart_node(self, port):
        """Starts a killed node again on its directory: it reloads its
        nodes.conf and rejoins the cluster with the same id and slots."""
        assert port in self.dead, "node %d is not down" % port
        wait_port_closed(port)
        wait_port_closed(port + 10000)
        self._start_server(port)
        self.dead.discard(port)
        procs.wait_for(lambda: self.call(port, "PING") == "PONG", 20,
                       "redis-server on port %d to restart" % port)

    @property
    def live_ports(self):
        return [p for p in self.ports if p not in self.dead]

    def url(self, count=3, user=None, password=None):
        """redis://[user:password@]seeds; user and password must need no
        %-encoding (the tests choose them)."""
        creds = ""
        if password is not None:
            creds = "%s:%s@" % (user or "", password)
        scheme = "rediss://" if self.tls is not None else "redis://"
        return scheme + creds + ",".join("%s:%d" % (HOST, p) for p in self.live_ports[:count])

    # ---- truth -----------------------------------------------------------

    def shards(self, port=None):
        """CLUSTER SHARDS as a list of {"slots": [(lo, hi)], "nodes": [dict]}."""
        port = port or self.live_ports[0]
        out = []
        for shard in self.call(port, "CLUSTER", "SHARDS"):
            s = pairs(shard)
            flat = s["slots"]
            nodes = []
            for n in s["nodes"]:
                d = {k: text(v) for k, v in pairs(n).items()}
                nodes.append(d)
            out.append({"slots": [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)],
                        "nodes": nodes})
        return out

    def slot_owners(self, port=None):
        """[16384] of "host:port" of each slot's master (None when uncovered)."""
        owners = [None] * SLOTS
        for shard in self.shards(port):
            masters = [n for n in shard["nodes"] if n["role"] == "master"]
            if len(masters) != 1:
                continue
            m = masters[0]
            addr = "%s:%d" % (m.get("endpoint") or m["ip"], node_port(m))
            for lo, hi in shard["slots"]:
                for slot in range(lo, hi + 1):
                    owners[slot] = addr
        return owners

    def node_id(self, port):
        return text(self.call(port, "CLUSTER", "MYID"))

    def masters(self, port=None):
        """[(port, id, slot_count)] of every master that owns slots."""
        out = []
        for shard in self.shards(port):
            count = sum(hi - lo + 1 for lo, hi in shard["slots"])
            for n in shard["nodes"]:
                if n["role"] == "master" and count:
                    out.append((node_port(n), n["id"], count))
        return sorted(out)

    def replica_of(self, master_port, port=None):
        """Ports of the replicas in master_port's shard."""
        for shard in self.shards(port):
            ports = {node_port(n): n for n in shard["nodes"]}
            if master_port in ports and ports[master_port]["role"] == "master":
                return [p for p, n in ports.items() if n["role"] != "master"]
        return []

    def keyslots(self, keys):
        """CLUSTER KEYSLOT of every key, in one pipeline."""
        with self.connection(self.live_ports[0], timeout=30) as c:
            replies = c.pipeline([("CLUSTER", "KEYSLOT", k) for k in keys])
        for r in replies:
            if isinstance(r, RespError):
                raise r
        return replies

    def _settled(self):
        views = []
        for p in self.live_ports:
            info = text(self.call(p, "CLUSTER", "INFO", timeout=3))
            if "cluster_state:ok" not in info:
                return False
            shards = self.shards(p)
            for shard in shards:
                for n in shard["nodes"]:
                    if node_port(n) in self.dead:
                        continue
                    if n["health"] != "online":
                        return False
            views.append(self.slot_owners(p))
        return all(v == views[0] for v in views) and None not in views[0]

    def wait_settled(self, timeout=60):
        """Every live node: state ok, live members online, one slot map."""
        procs.wait_for(self._settled, timeout, "cluster on ports %s to settle" % self.live_ports,
                       interval=0.1)

    def reshard(self, from_id, to_id, slots, timeout=120):
        argv = ["redis-cli"] + self._cli_auth() + [
                "--cluster", "reshard", "%s:%d" % (HOST, self.live_ports[0]),
                "--cluster-from", from_id, "--cluster-to", to_id,
                "--cluster-slots", str(slots), "--cluster-yes"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError("reshard failed:\n%s\n%s" % (out.stdout[-3000:], out.stderr))
        self.wait_settled()

    def add_nodes(self, ports, masters, slots_each=300, timeout=120):
        """Grow the cluster with `redis-cli --cluster add-node`: the first
        `masters` of ports join as masters, each with slots_each slots
        resharded to it from the others, the rest as their replicas in turn.
        With masters=0 every port joins as a replica of the masters there
        are, in turn: the cluster grows and no slot moves.
        Returns when the cluster has settled."""
        ports = list(ports)
        for p in ports:
            self._start_server(p)
        for p in ports:
            procs.wait_for(lambda p=p: self.call(p, "PING") == "PONG", 20,
                           "redis-server on port %d" % p)
        existing = "%s:%d" % (HOST, self.live_ports[0])

        def add(p, *extra):
            argv = ["redis-cli"] + self._cli_auth() + [
                "--cluster", "add-node", "%s:%d" % (HOST, p), existing] + list(extra)
            out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
            if out.returncode != 0:
                raise RuntimeError("add-node %d failed:\n%s\n%s"
                                   % (p, out.stdout[-3000:], out.stderr))

        # redis-cli checks that every node agrees before it adds one: each
        # addition waits for the gossip about the one before.
        members = list(self.live_ports)

        def known():
            return all(len(text(self.call(q, "CLUSTER", "NODES")).strip().splitlines())
                       == len(members) for q in members)

        new_masters = ports[:masters]
        replica_of = new_masters or [port for port, _, _ in self.masters()]
        for i, p in enumerate(ports):
            if i < masters:
                add(p)
            else:
                add(p, "--cluster-slave", "--cluster-master-id",
                    self.node_id(replica_of[(i - masters) % len(replica_of)]))
            members.append(p)
            procs.wait_for(known, 30, "node %d to be known to every node" % p, interval=0.1)
        self.ports += ports
        self.wait_settled(timeout)
        for p in new_masters:
            argv = ["redis-cli"] + self._cli_auth() + [
                "--cluster", "reshard", existing, "--cluster-from", "all",
                "--cluster-to", self.node_id(p), "--cluster-slots", str(slots_each),
                "--cluster-yes"]
            # redis-cli refuses to start while the nodes' views of the last
            # move differ ("Nodes don't agree"): settle, and try again.
            for attempt in range(4):
                self.wait_settled(timeout)
                out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
                if out.returncode == 0:
                    break
                if attempt == 3 or "agree" not in out.stdout + out.stderr:
                    raise RuntimeError("reshard to %d failed:\n%s\n%s"
                                       % (p, out.stdout[-3000:], out.stderr))
                time.sleep(0.5)
        self.wait_settled(timeout)

    def command_calls(self, prefix="cmdstat_cluster|"):
        """Sum over live nodes of INFO commandstats calls= of commands whose
        stat name starts with prefix (cluster|shards, cluster|slots, ...)."""
        total = 0
        per_command = {}
        for p in self.live_ports:
            for line in text(self.call(p, "INFO", "commandstats")).splitlines():
                if not line.startswith(prefix):
                    continue
                name, _, fields = line.partition(":")
                calls = int(dict(f.split("=") for f in fields.split(","))["calls"])
                total += calls
                per_command[name] = per_command.get(name, 0) + calls
        return total, per_command


class CommandStats:
    """INFO commandstats of every live node, read on connections opened (and
    authenticated) before `reset`, so the test's own queries add nothing
    but the INFO calls themselves."""

    def __init__(self, cluster):
        self.conns = {p: cluster.connection(p) for p in cluster.live_ports}

    def reset(self):
        for c in self.conns.values():
            c.call("CONFIG", "RESETSTAT")

    def calls(self, name):
        """calls= of cmdstat_<name> (e.g. "auth", "cluster|shards") summed
        over the nodes, and per port."""
        per_port = {}
        for p, c in self.conns.items():
            per_port[p] = 0
            for line in text(c.call("INFO", "commandstats")).splitlines():
                stat, _, fields = line.partition(":")
                if stat == "cmdstat_" + name:
                    per_port[p] = int(dict(f.split("=") for f in fields.split(","))["calls"])
        return sum(per_port.values()), per_port

    def close(self):
        for c in self.conns.values():
            c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def wait_port_closed(port, timeout=10):
    procs.wait_for(lambda: port_is_free(port), timeout, "port %d to close" % port)


