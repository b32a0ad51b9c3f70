"""One cluster tender per host, shared by every worker process.

The first process of a host to connect to a cluster (Redis Cluster or
Aerospike) becomes the *tender*: it polls the cluster and publishes whole
snapshots of the cluster map in a SysV shared-memory segment.  Every other
process attached to that segment routes keys from the map without talking to
the cluster.  When the tender closes, crashes or hangs, another attached
process takes over.

    import clustershm
    with clustershm.connect("redis://127.0.0.1:7001,127.0.0.1:7002") as c:
        host, port = c.route("user:1000")

Log lines (takeover, stale map, limits reached) go to the logging logger
"clustershm", from one background thread of the library that is never a
client's own, so a logging handler may close clients.  At interpreter exit
the lines logged by the closing clients still reach the handlers.  A client connected before os.fork() keeps working in the
child (gunicorn --preload, multiprocessing with fork): the child is a
follower and starts its own background thread at its first call.

This stub mirrors the C extension (installed as clustershm/__init__.pyi).
"""

import builtins
import os
from collections.abc import Sequence
from types import TracebackType
from typing import Literal, TypedDict, Union

__version__: str

# _Key, _Node, _Shard, _Shards, _StepDown and _Status exist for type checkers only,
# not at run time.

_Key = Union[str, bytes, bytearray, int]
"""A key: str (UTF-8), bytes/bytearray, or int (64-bit signed).

Aerospike: str is a string key, bytes a blob key, int an integer key.
Redis: str and bytes are the key's bytes, an int is its decimal text."""

class _Node(TypedDict):
    """One node of the current cluster map, as Client.nodes() returns it."""

    name: str
    """Aerospike node name, or Redis node id."""
    host: str
    port: int
    active: bool
    """The node answered at the last tend."""
    is_master: bool
    """Redis: the node's role is master.  Aerospike: always True."""
    partitions: int
    """Partitions (Redis slots) this node masters."""
    replica_partitions: int
    """Partitions (slots) it holds as a replica."""

class _Shard(TypedDict):
    """One range of Client.shards(): consecutive partitions (Redis slots)
    with the same master and replicas."""

    first: int
    """First partition (slot) of the range."""
    last: int
    """Last partition (slot) of the range, inclusive."""
    master: _Node | None
    """The master's dict (the same object as in the answer's nodes), or None
    for partitions without a master."""
    replicas: list[_Node]
    """The replicas' dicts (the same objects as in nodes), in map order."""

class _Shards(TypedDict):
    """What Client.shards() returns: the whole map of one snapshot."""

    generation: int
    """The map's generation (status()["generation"] of the same snapshot):
    +1 at every changed map, so a copy can tell whether it is current."""
    nodes: list[_Node]
    """The nodes of the map, as Client.nodes() returns them."""
    shards: list[_Shard]
    """Every range, in partition order."""

class _StepDown(TypedDict):
    """A tender that gave the role up after failing (Client.status()["step_down_history"])."""

    pid: int
    """The tender that stepped down, as it saw itself."""
    epoch: int
    """Its epoch."""
    at: float
    """Unix time of the step-down."""
    failures: int
    """Its failed tends in a row."""
    reason: str
    """Its last tend error."""

class _Status(TypedDict):
    """What Client.status() returns."""

    role: Literal["tender", "follower", "private"]
    """This process's role; "private" when the client was made with shared=False."""
    pid: int
    owner_pid: int
    """Pid of the tender, as the tender saw it."""
    epoch: int
    """+1 at every change of tender."""
    generation: int
    """+1 at every publish of a changed map."""
    tended_at: float
    """Unix time of the last successful tend, 0.0 if none yet."""
    age: float
    """Seconds since tended_at."""
    stale: bool
    """The tender could not reach the cluster at its last tend."""
    key: int
    """SysV key of the segment."""
    shmid: int
    """SysV id of the segment; -1 in private mode."""
    segment_size: int
    nodes: int
    namespaces: int
    attached: int
    """Processes attached to the segment."""
    nodes_seen: int
    """Nodes the cluster reported; above nodes when max_nodes was reached."""
    namespaces_seen: int
    nodes_truncated: bool
    namespaces_truncated: bool
    replicas_truncated: bool
    tends: int
    """Tend attempts by every tender of this segment."""
    tend_failures: int
    handoffs: int
    """A tender closed or stepped down and another took over."""
    dead_takeovers: int
    """The tender died and another took over at once."""
    hung_takeovers: int
    """The tender was silent for takeover_timeout and was replaced."""
    step_downs: int
    """Tenders that gave the role up after failing while others could try."""
    failures_in_row: int
    """The current tender's failed tends in a row."""
    tend_interval: float
    """The segment's tend interval in seconds, which every process uses."""
    takeover_timeout: float
    """The segment's takeover timeout in seconds."""
    min_refresh_interval: float
    """The segment's minimum seconds between tends asked for by refresh requests."""
    driver: Literal["redis", "aerospike"]
    last_error: str
    """The tender's last tend error, "" if none."""
    step_down_history: list[_StepDown]
    """The last tenders that stepped down (up to 4), newest first."""
    identity: str
    """The cluster identity the segment records: driver and cluster name or sorted seeds."""
    max_nodes: int
    """The segment's node limit (nodes_truncated when the cluster has more)."""
    max_namespaces: int
    """The segment's namespace limit."""
    has_tender: bool
    """A live process holds the tender role; False while it is vacant (a dead
    tender nobody took over yet)."""
    has_map: bool
    """A map from a successful tend is published; False while every tend so far failed."""
    chain_generation: int
    """The segment's generation in its chain: 0 at the base key, +1 each time the
    cluster outgrew the segment and the map moved to a larger one (online growth)."""
    chain_base: int
    """The chain's base key (the key option or the derived key)."""
    forwarded_to: int | None
    """The key of the successor this segment forwards to; None while it is not
    forwarded (the process moves there once the successor holds a complete map)."""

class Error(Exception):
    """Base class of every clustershm error."""

class ConfigError(Error):
    """A bad URL or option; the message names it and the accepted values."""

class ClusterError(Error):
    """No seed answered, the cluster name differs, or a namespace is unknown."""

class SegmentError(Error):
    """The segment is foreign, incompatible, not ours to use, or over a kernel
    limit (the message gives the sysctl to raise it)."""

class TimeoutError(Error, builtins.TimeoutError):
    """A wait ran past its deadline (e.g. no map within connect_timeout).
    Also a builtin TimeoutError."""

class Client:
    """A client of one cluster whose map is shared by every process of the host.

    url is ``redis://[user:password@]host:port[,host:port...]`` or
    ``aerospike://host:port[,host:port...]``.  URL and options are checked
    here (ConfigError naming the option); nothing is contacted before
    connect().  Options (None means the default):

    - key: SysV key of the segment (default: derived from the cluster's identity)
    - shared: True (default) shares one tender per host; False tends privately
    - max_nodes: nodes the map holds (default 64)
    - max_namespaces: Aerospike namespaces the map holds (default 8)
    - tend_interval: seconds between tends (default 1.0)
    - takeover_timeout: seconds of silence before a hung tender is replaced (default 30)
    - connect_timeout: seconds connect() waits for a map (default 5)
    - min_refresh_interval: refresh requests make the tender tend at most this
      often, for the whole host (seconds, default 0.05)
    - mode: segment permissions (default 0o600)
    - cluster_name: expected Aerospike cluster name, part of the identity
    - tls_ca_file / tls_ca_dir: CA certificates (PEM file / hashed directory)
      that verify the servers (default: the system's); rediss:// or Aerospike
      seeds with a tls_name (host:tls_name:port) only
    - tls_cert_file / tls_key_file: client certificate and key (mutual TLS;
      the key defaults to tls_cert_file)
    - tls_server_name: the name sent (SNI) and verified (default: the host
      connected to, a node's announced hostname when it prefers hostnames)
    - tls_insecure_skip_verify: TESTS ONLY, accept any certificate
    - user, password: credentials instead of in the URL (not both); Aerospike
      logs in with them (session tokens), Redis sends AUTH
    - use_alternate_access_address: Aerospike, use the nodes' alternate
      addresses (peers-clear-alt / service-clear-alt), e.g. behind NAT
    - rack_id: Aerospike, this process's rack for route(replica="prefer_rack")

    tend_interval, takeover_timeout and min_refresh_interval are the
    segment's: the first process to create it sets them for every process
    of the host, and a process asking for others uses the segment's (and
    logs a warning; status() shows the values in effect).  takeover_timeout
    must be at least twice min(connect_timeout, 1 s).  Redis credentials
    are part of the cluster's identity (as a salted fingerprint, never
    stored): clients with other credentials never share a segment silently;
    the same holds for the tls_* settings.

    Usable from several threads (calls are serialised by the GIL).  Garbage
    collection of a connected client closes it, with a ResourceWarning;
    interpreter exit closes every connected client.
    """

    def __new__(
        cls,
        url: str,
        *,
        key: int | None = ...,
        shared: bool | None = ...,
        max_nodes: int | None = ...,
        max_namespaces: int | None = ...,
        tend_interval: float | None = ...,
        takeover_timeout: float | None = ...,
        connect_timeout: float | None = ...,
        min_refresh_interval: float | None = ...,
        mode: int | None = ...,
        cluster_name: str | None = ...,
        tls_ca_file: str | os.PathLike[str] | None = ...,
        tls_ca_dir: str | os.PathLike[str] | None = ...,
        tls_cert_file: str | os.PathLike[str] | None = ...,
        tls_key_file: str | os.PathLike[str] | None = ...,
        tls_server_name: str | None = ...,
        tls_insecure_skip_verify: bool | None = ...,
        user: str | None = ...,
        password: str | None = ...,
        use_alternate_access_address: bool | None = ...,
        rack_id: int | None = ...,
    ) -> Client: ...
    def connect(self) -> None:
        """Attach to the host's segment for this cluster (creating it if needed)
        and wait, up to connect_timeout, for a cluster map.  The first process
        becomes the tender.  Does nothing if already connected; a closed client
        connects again.

        Raises ClusterError (no seed answers), SegmentError, TimeoutError."""
    def close(self) -> None:
        """Stop this process's background thread (a tender hands its role over
        at once) and detach.  Idempotent; may run in any thread, a logging
        handler of clustershm's lines included."""
    def route(
        self,
        key: _Key,
        namespace: str | None = None,
        set: str | None = "",
        replica: int | Literal["prefer_rack"] = 0,
        rack_id: int | None = None,
    ) -> tuple[str, int]:
        """(host, port) of the node serving key: the master for replica=0, the
        replica of that rank otherwise.  Aerospike replica="prefer_rack": the
        node holding the partition on rack rack_id (or the rack_id option),
        master first, else the master (a cluster without racks, e.g.
        Community Edition, routes to masters).  Aerospike needs namespace (and set, if
        the record has one); Redis ignores both.  Never blocks on the tender.

        Raises Error when not connected, ConfigError for a bad replica or a
        missing namespace, ClusterError for an unknown namespace or a partition
        without a node."""
    def partition(self, key: _Key, namespace: str | None = None, set: str | None = "") -> int:
        """The Aerospike partition id (0-4095) or Redis slot (0-16383) of key."""
    def nodes(self) -> list[_Node]:
        """The nodes of the current map."""
    def shards(self, namespace: str | None = None) -> _Shards:
        """The whole map of one consistent snapshot: its generation, its nodes
        and the ranges of partitions (Redis slots) with their master and
        replicas, for clients that keep a connection per node (the
        clustershm.redis drop-in rebuilds redis-py's node table from it).

        master and replicas are the same dict objects as in nodes.  Aerospike
        maps are per namespace: namespace is required there (ConfigError
        without it, ClusterError for an unknown one); Redis ignores it.  A
        segment with no map yet gives generation 0 and empty lists.  Never
        blocks on the tender.

        Raises Error when not connected."""
    def status(self) -> _Status:
        """This process's view of the segment and of the current map."""
    def request_refresh(self) -> None:
        """Ask the tender (this process or another) to tend now, e.g. after a
        MOVED reply; every worker sees the new map when it is published."""
    def refresh(self, wait: bool = True, timeout: float = 1.0) -> bool:
        """Ask the tender (this process or another) to tend now, e.g. after a
        MOVED reply, like request_refresh().

        wait=False only asks, and returns False.  wait=True then waits (with
        the GIL released) until a map newer than the one published at the
        call is published, and returns True, or until timeout seconds pass
        first, and returns False (the cluster did not change, or not yet).
        The tender tends at most once per min_refresh_interval, however many
        processes ask.

        wait must be a bool (TypeError otherwise, so that refresh(0.5) is not
        taken for a wait); timeout is seconds as a float or int (TypeError
        otherwise), from 0 to 3600 when waiting (ConfigError otherwise, NaN
        included); without waiting its value is not used.  A close() from
        another thread waits for a running refresh() to return.

        Raises Error when not connected.  May run in any thread, a logging
        handler of clustershm's own lines included."""
    def __enter__(self) -> Client:
        """Connect if not connected; return the client."""
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> Literal[False]:
        """Close the client."""

def connect(
    url: str,
    *,
    key: int | None = ...,
    shared: bool | None = ...,
    max_nodes: int | None = ...,
    max_namespaces: int | None = ...,
    tend_interval: float | None = ...,
    takeover_timeout: float | None = ...,
    connect_timeout: float | None = ...,
    min_refresh_interval: float | None = ...,
    mode: int | None = ...,
    cluster_name: str | None = ...,
    tls_ca_file: str | os.PathLike[str] | None = ...,
    tls_ca_dir: str | os.PathLike[str] | None = ...,
    tls_cert_file: str | os.PathLike[str] | None = ...,
    tls_key_file: str | os.PathLike[str] | None = ...,
    tls_server_name: str | None = ...,
    tls_insecure_skip_verify: bool | None = ...,
    user: str | None = ...,
    password: str | None = ...,
    use_alternate_access_address: bool | None = ...,
    rack_id: int | None = ...,
) -> Client:
    """Client(url, **options), connected."""

def aerospike_digest(set: str | None, key: _Key) -> bytes:
    """The 20-byte RIPEMD-160 digest Aerospike gives key in set (None or "" for
    no set); the partition id is (d[0] | d[1] << 8) & 0x0FFF."""

def redis_slot(key: _Key, /) -> int:
    """The Redis Cluster slot of key: CRC16/XMODEM of the key, or of its
    {hash tag}, mod 16384."""

def cli(argv: Sequence[str] | None = None) -> int:
    """Run the clustershm command (list, stat, check, watch, rm) in this
    process with argv (default: sys.argv[1:]) and return its exit status: the
    C command of `make install`, compiled into this module.  The wheel's
    `clustershm` console script is this function."""
