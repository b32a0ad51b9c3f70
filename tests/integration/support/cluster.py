"""cluster.py - real Redis Clusters from Debian's redis-server, and the
truth about them.

A RedisCluster owns its redis-server processes (daemonize no, started with
PR_SET_PDEATHSIG) and a directory of its own.  `start` returns only when
every live node says cluster_state:ok and every live node describes the
same slot -> master map with every shard member online, so a test that reads
the truth right after start reads a settled cluster.

The truth comes from the servers, never from the library under test:
CLUSTER KEYSLOT for key -> slot, CLUSTER SHARDS for slot -> master.
"""
import os
import signal
import socket
import subprocess


from . import procs
from .resp import Connection, RespError, call, pairs, text

SLOTS = 16384
HOST = "127.0.0.1"


def port_is_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
            return True
        except OSError:
            return False


class RedisCluster:
    def __init__(self, ports, workdir, replicas=1, node_timeout_ms=2000):
        self.ports = list(ports)
        self.workdir = str(workdir)
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.procs = {}
        self.dead = set()

    # ---- lifecycle -------------------------------------------------------

    def start(self, timeout=90):
        for p in self.ports:
            # A cluster port is port + 10000: both must be free.
            if not (port_is_free(p) and port_is_free(p + 10000)):
                raise RuntimeError("port %d or %d is in use; another test run?" % (p, p + 10000))
        for p in self.ports:
            self._start_server(p)
        for p in self.ports:
            procs.wait_for(lambda p=p: call(p, "PING") == "PONG", 20, "redis-server on port %d" % p)
        argv = ["redis-cli", "--cluster", "create"] + ["%s:%d" % (HOST, p) for p in self.ports]
        argv += ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if out.returncode != 0 or "[OK] All 16384 slots covered" not in out.stdout:
            raise RuntimeError("redis-cli --cluster create failed:\n%s\n%s" % (out.stdout, out.stderr))
        self.wait_settled(timeout)
        return self

    def _start_server(self, port):
        d = os.path.join(self.workdir, str(port))
        os.makedirs(d, exist_ok=True)
        argv = [
            "redis-server",
            "--port", str(port),
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
        ]
        self.procs[port] = procs.spawn(argv, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

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

    @property
    def live_ports(self):
        return [p for p in self.ports if p not in self.dead]

    def url(self, count=3):
        return "redis://" + ",".join("%s:%d" % (HOST, p) for p in self.live_ports[:count])

    # ---- truth -----------------------------------------------------------

    def shards(self, port=None):
        """CLUSTER SHARDS as a list of {"slots": [(lo, hi)], "nodes": [dict]}."""
        port = port or self.live_ports[0]
        out = []
        for shard in call(port, "CLUSTER", "SHARDS"):
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
            addr = "%s:%d" % (m.get("endpoint") or m["ip"], int(m["port"]))
            for lo, hi in shard["slots"]:
                for slot in range(lo, hi + 1):
                    owners[slot] = addr
        return owners

    def node_id(self, port):
        return text(call(port, "CLUSTER", "MYID"))

    def masters(self, port=None):
        """[(port, id, slot_count)] of every master that owns slots."""
        out = []
        for shard in self.shards(port):
            count = sum(hi - lo + 1 for lo, hi in shard["slots"])
            for n in shard["nodes"]:
                if n["role"] == "master" and count:
                    out.append((int(n["port"]), n["id"], count))
        return sorted(out)

    def replica_of(self, master_port, port=None):
        """Ports of the replicas in master_port's shard."""
        for shard in self.shards(port):
            ports = {int(n["port"]): n for n in shard["nodes"]}
            if master_port in ports and ports[master_port]["role"] == "master":
                return [p for p, n in ports.items() if n["role"] != "master"]
        return []

    def keyslots(self, keys):
        """CLUSTER KEYSLOT of every key, in one pipeline."""
        with Connection(HOST, self.live_ports[0], timeout=30) as c:
            replies = c.pipeline([("CLUSTER", "KEYSLOT", k) for k in keys])
        for r in replies:
            if isinstance(r, RespError):
                raise r
        return replies

    def _settled(self):
        views = []
        for p in self.live_ports:
            info = text(call(p, "CLUSTER", "INFO", timeout=3))
            if "cluster_state:ok" not in info:
                return False
            shards = self.shards(p)
            for shard in shards:
                for n in shard["nodes"]:
                    if int(n["port"]) in self.dead:
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
        argv = ["redis-cli", "--cluster", "reshard", "%s:%d" % (HOST, self.live_ports[0]),
                "--cluster-from", from_id, "--cluster-to", to_id,
                "--cluster-slots", str(slots), "--cluster-yes"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError("reshard failed:\n%s\n%s" % (out.stdout[-3000:], out.stderr))
        self.wait_settled()

    def command_calls(self, prefix="cmdstat_cluster|"):
        """Sum over live nodes of INFO commandstats calls= of commands whose
        stat name starts with prefix (cluster|shards, cluster|slots, ...)."""
        total = 0
        per_command = {}
        for p in self.live_ports:
            for line in text(call(p, "INFO", "commandstats")).splitlines():
                if not line.startswith(prefix):
                    continue
                name, _, fields = line.partition(":")
                calls = int(dict(f.split("=") for f in fields.split(","))["calls"])
                total += calls
                per_command[name] = per_command.get(name, 0) + calls
        return total, per_command


def wait_port_closed(port, timeout=10):
    procs.wait_for(lambda: port_is_free(port), timeout, "port %d to close" % port)


