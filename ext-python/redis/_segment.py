"""_segment.py - what the blocking and the asyncio drop-ins share: their
options and URL, the host's segment as redis-py's one startup node, and the
command table for redis-py's CommandsParser.

redis-py builds its node and slot tables in NodesManager.initialize(), from
the CLUSTER SLOTS reply of a startup node, at start and whenever something
went wrong (a connection error, CLUSTERDOWN, every reinitialize_steps-th
MOVED).  The drop-ins make the segment that startup node: a stand-in that
answers CLUSTER SLOTS from Client.shards() and nothing else.  So redis-py's
own code builds its tables, with its own address_remap, connection reuse
and coverage checks, and never asks a server for the topology.

Invariants:
  - A redis-py (re)initialization from a map that its tables already hold
    means something went wrong with that map: the stand-in first asks the
    tender for a new map and waits up to refresh_timeout for one (a
    blocking wait: the asyncio drop-in runs it in a thread).  One that
    timed out is not waited for again, for the same map, within
    refresh_timeout: a burst of errors from one dead node costs one wait,
    not one per command.
  - `built` is the generation of the map last handed to redis-py; a newer
    one in the segment means its tables are behind (follow()).
  - The command table is the server's own COMMAND reply (commands.json,
    scripts/redis-commands.py), encoded as the client's decode_responses
    would have received it and passed through the client's own COMMAND
    callback, so the parser cannot tell it from the server's answer.
"""
import functools
import json
import threading
import time
import urllib.parse
from importlib import resources

import clustershm

# Client() options: every other keyword argument is redis-py's.
CLIENT_OPTIONS = frozenset({"key", "shared", "max_nodes", "max_namespaces", "tend_interval",
                            "takeover_timeout", "connect_timeout", "min_refresh_interval",
                            "mode", "cluster_name", "tls_ca_file", "tls_ca_dir",
                            "tls_cert_file", "tls_key_file", "tls_server_name",
                            "tls_insecure_skip_verify"})
# The tender's TLS settings, and the redis-py ones that give its own
# connections the same trust: one set of options for both.
_REDIS_PY_TLS = {"tls_ca_file": "ssl_ca_certs", "tls_ca_dir": "ssl_ca_path",
                 "tls_cert_file": "ssl_certfile", "tls_key_file": "ssl_keyfile"}
DEFAULT_REFRESH_TIMEOUT = 1.0
DEFAULT_FOLLOW_INTERVAL = 0.1


def split_options(kwargs):
    """(Client options, redis-py keyword arguments) of the drop-in's kwargs.
    The tls_* options go to both: redis-py's connections get the matching
    ssl_* arguments (unless given), so they trust what the tender trusts."""
    shm = {k: v for k, v in kwargs.items() if k in CLIENT_OPTIONS}
    rest = {k: v for k, v in kwargs.items() if k not in CLIENT_OPTIONS}
    for ours, theirs in _REDIS_PY_TLS.items():
        if shm.get(ours) is not None:
            rest.setdefault(theirs, str(shm[ours]))
    if shm.get("tls_insecure_skip_verify"):
        rest.setdefault("ssl_cert_reqs", "none")
        rest.setdefault("ssl_check_hostname", False)
    return shm, rest


def _netloc(host, port):
    host = str(host)
    return "[%s]:%d" % (host, int(port)) if ":" in host else "%s:%d" % (host, int(port))


def resolve_url(url, host, port, startup_nodes, redis_kwargs):
    """The clustershm URL of the drop-in's arguments, with the first seed.

    url is clustershm's redis[s]://[user:password@]host:port[,host:port...];
    without it, the seeds are host/port and startup_nodes, as redis-py takes
    them (rediss:// with ssl=True).  Credentials travel both ways: the URL's become redis-py's
    username/password (unless given), and redis-py's go into the URL, so
    the tender authenticates as the connections do.
    """
    if url is None:
        seeds = [(n.host, n.port) for n in startup_nodes or []]
        if host is not None:
            seeds.append((host, port))
        if not seeds:
            raise clustershm.ConfigError(
                "clustershm.redis.RedisCluster needs the cluster: url='redis://host:port"
                "[,host:port...]', or host and port, or startup_nodes")
        creds = ""
        if redis_kwargs.get("password") is not None:
            creds = "%s:%s@" % (urllib.parse.quote(redis_kwargs.get("username") or "", safe=""),
                                urllib.parse.quote(redis_kwargs["password"], safe=""))
        scheme = "rediss://" if redis_kwargs.get("ssl") else "redis://"
        url = scheme + creds + ",".join(_netloc(h, p) for h, p in seeds)
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://")):
        raise clustershm.ConfigError("bad URL %r: the redis-py drop-in takes "
                                     "redis[s]://[user:password@]host:port[,host:port...]"
                                     % (url if isinstance(url, str) else type(url).__name__))
    if url.startswith("rediss://"):
        # redis-py's connections speak TLS too.
        redis_kwargs.setdefault("ssl", True)
    rest = url.split("://", 1)[1]
    if "@" in rest:
        userinfo, rest = rest.rsplit("@", 1)
        user, _, password = userinfo.partition(":")
        if user:
            redis_kwargs.setdefault("username", urllib.parse.unquote(user))
        redis_kwargs.setdefault("password", urllib.parse.unquote(password))
    first = rest.split(",", 1)[0]
    if first.startswith("["):
        first_host, _, first_port = first[1:].partition("]:")
    else:
        first_host, _, first_port = first.rpartition(":")
    try:
        first_port = int(first_port)
    except ValueError:
        first_port = 6379       # Client() names the fault at connect
    return url, first_host, first_port


class Segment:
    """One drop-in's view of the host's segment: its clustershm Client and
    the generation of the map redis-py's tables were built from."""

    def __init__(self, url, options, refresh_timeout, follow_interval):
        self.client = clustershm.Client(url, **options)
        self.refresh_timeout = float(refresh_timeout)
        self.follow_interval = float(follow_interval)
        self.built = None           # generation handed to redis-py last
        self._next_check = 0.0
        self._gave_up = None        # (generation, monotonic deadline) of a wait that timed out
        self._lock = threading.Lock()
        self._closed = False
        self.client.connect()

    # -- lifecycle ------------------------------------------------------------

    def close(self):
        with self._lock:
            self._closed = True
            self.client.close()

    def _open(self):
        """A drop-in used again after close() attaches again, as redis-py's
        own pools reconnect."""
        if self._closed:
            with self._lock:
                if self._closed:
                    self.client.connect()
                    self._closed = False

    # -- what the map is -------------------------------------------------------

    def generation(self):
        self._open()
        return self.client.status()["generation"]

    def behind(self):
        """The segment holds a map newer than redis-py's tables."""
        return self.built is None or self.generation() != self.built

    def follow(self):
        """behind(), asked at most once per follow_interval (per command
        otherwise only a clock read); False before redis-py built its first
        tables (its own initialize() comes first)."""
        if self.built is None:
            return False
        now = time.monotonic()
        if now < self._next_check:
            return False
        self._next_check = now + self.follow_interval
        return self.behind()

    # -- asking the tender -----------------------------------------------------

    def need_wait(self):
        """Whether a newer map must be asked for and waited for before
        redis-py is served: its tables hold the current one, and no wait for
        that map timed out within refresh_timeout (then this only asks)."""
        if self.behind():
            return False
        gave_up = self._gave_up
        if gave_up is not None and gave_up[0] == self.built and time.monotonic() < gave_up[1]:
            self.client.refresh(wait=False)
            return False
        return True

    def wait(self):
        """Ask for a newer map and wait (blocking, the GIL released) up to
        refresh_timeout; True when one was published."""
        self._open()
        generation = self.built
        # refresh() waits for a map newer than the one published at its
        # call: one published since behind() said no counts too.
        if self.client.refresh(wait=True, timeout=self.refresh_timeout) or self.behind():
            return True
        self._gave_up = (generation, time.monotonic() + self.refresh_timeout)
        return False

    def ask(self):
        """Ask the tender for a new map without waiting (after a MOVED the
        asyncio drop-in cannot wait on); the next command checks for it."""
        self._open()
        self.client.refresh(wait=False)
        self._next_check = 0.0

    def newer(self):
        """After a MOVED reply: True when the segment has, or gets within
        refresh_timeout, a map newer than redis-py's tables."""
        if self.behind():
            return True
        return self.wait() if self.need_wait() else False

    # -- the answer ------------------------------------------------------------

    def cluster_slots(self):
        """The segment's map as a RESP2 CLUSTER SLOTS reply: [first, last,
        [host, port, id], replicas...] per range with a master; replicas
        that are not online are left out, as the servers leave them out."""
        self._open()
        table = self.client.shards()
        reply = []
        for r in table["shards"]:
            m = r["master"]
            if m is None:
                continue
            entry = [r["first"], r["last"], [m["host"], m["port"], m["name"]]]
            entry += [[n["host"], n["port"], n["name"]] for n in r["replicas"] if n["active"]]
            reply.append(entry)
        self.built = table["generation"]
        return reply

    def seed_name(self):
        """The stand-in startup node's (host, port): no server has it."""
        return "clustershm-segment-0x%08x" % self.client.status()["key"], 0


def seed_question(args):
    """What redis-py asks its startup node: "slots" (CLUSTER SLOTS) or
    "info" (INFO, whose cluster_enabled redis-py 5.0.0 to 5.0.7 check
    first).  Anything else is refused: a stand-in is not a server."""
    words = " ".join(a.decode() if isinstance(a, bytes) else str(a) for a in args).upper()
    if words == "CLUSTER SLOTS":
        return "slots"
    if words == "INFO":
        return "info"
    from redis.exceptions import RedisClusterException
    raise RedisClusterException("the clustershm segment stands in for redis-py's startup node "
                                "and answers CLUSTER SLOTS (and INFO's cluster_enabled) only, "
                                "not %r" % (args,))


# The INFO of the stand-in: the one field redis-py reads.
SEED_INFO = {"cluster_enabled": 1}


# -- the command table ---------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _commands(as_bytes):
    with resources.files(__package__).joinpath("commands.json").open("rb") as f:
        table = json.load(f)["commands"]
    if not as_bytes:
        return table

    def encode(v):
        if isinstance(v, str):
            return v.encode()
        if isinstance(v, list):
            return [encode(x) for x in v]
        return v

    return encode(table)


def command_table(callback, decode_responses):
    """What COMMAND would have given a client whose COMMAND callback is
    callback (None: the raw reply) and whose decode_responses is given."""
    reply = _commands(not decode_responses)
    return callback(reply) if callback is not None else reply
