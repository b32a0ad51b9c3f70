"""clustershm.redis - redis-py's RedisCluster with its topology from the
host's clustershm segment.

    from clustershm.redis import RedisCluster
    rc = RedisCluster("redis://127.0.0.1:7000,127.0.0.1:7001", decode_responses=True)
    rc.set("user:1", "x"); rc.get("user:1"); rc.pipeline(); rc.pubsub()

RedisCluster is a subclass of redis.cluster.RedisCluster (pip install
clustershm[redis]; redis-py 5.0 to 8.x): every command, pipeline and pubsub
of redis-py works as it does there.  What differs is where the topology
comes from: the first process of the host tends the cluster and publishes
its map in shared memory, and every RedisCluster of every process builds
redis-py's node table from that map.  A new RedisCluster in a worker whose
host already has a tender sends nothing to the servers to start: no
CLUSTER SLOTS/SHARDS/NODES, and no COMMAND (the command table redis-py's
key extraction needs ships with the package).

What it changes of redis-py, and why:
  - Its one startup node is the segment (a stand-in redis.Redis answering
    CLUSTER SLOTS from Client.shards(); dynamic_startup_nodes is off so it
    stays the only one).  Every table redis-py builds - at start, after a
    connection error, CLUSTERDOWN, in pipelines - comes from the segment;
    when redis-py rebuilds from the map it already has (something went
    wrong with it), the tender is asked for a new map first, and waited for
    up to refresh_timeout.  One tender polls the servers for the whole host.
  - _should_reinitialized(), which redis-py asks at every MOVED reply: the
    answer is "the tender has published a newer map" (asked for and waited
    for up to refresh_timeout, debounced in the core).  Yes: redis-py
    rebuilds its tables from it and retries.  No: redis-py's own handling
    moves that one slot and retries.
  - execute_command() first follows the segment: when the tender published
    a newer map (checked at most every follow_interval), the tables are
    rebuilt from it, so a failover or a reshard reaches every worker without
    each meeting an error first.
  - command(), only while redis-py's constructor asks it for the
    CommandsParser: the shipped table, through redis-py's own COMMAND
    callback.  Afterwards command() asks the server as usual, and so does
    the parser for a command the table lacks (a module's).

Options (keyword arguments): those of clustershm.Client (key, shared,
max_nodes, tend_interval, takeover_timeout, connect_timeout,
min_refresh_interval, mode, ...), refresh_timeout (seconds a MOVED reply or
a connection error waits for a newer map, default 1.0) and follow_interval
(seconds between two checks for a newer map, default 0.1; 0 checks at every
command).  Every other keyword argument is redis-py's.  The URL is
clustershm's (several seeds, credentials); host/port and startup_nodes work
as in redis-py.  The clustershm client is `rc.clustershm`; close() closes it
too (a closed RedisCluster used again attaches again).
"""
import weakref

try:
    import redis
    from redis.cluster import RedisCluster as _RedisCluster
    from redis.cluster import ClusterNode
except ImportError as e:  # pragma: no cover - the message is the point
    raise ImportError("clustershm.redis needs redis-py: pip install 'clustershm[redis]' "
                      "(%s)" % e) from e

from . import _segment

__all__ = ["RedisCluster"]


class _SegmentSeed(redis.Redis):
    """redis-py's startup node that is the host's segment: it answers
    CLUSTER SLOTS from the tender's map (and INFO's cluster_enabled, which
    redis-py 5.0.0 to 5.0.7 check first) and nothing else.  It never
    connects anywhere (a redis.Redis connects at its first command, and
    every command is answered here)."""

    def __init__(self, segment):
        super().__init__()
        self._cshm_segment = segment

    def execute_command(self, *args, **options):
        if _segment.seed_question(args) == "info":
            return dict(_segment.SEED_INFO)
        segment = self._cshm_segment
        if segment.need_wait():
            segment.wait()
        return segment.cluster_slots()


class RedisCluster(_RedisCluster):
    """redis.cluster.RedisCluster whose topology comes from the host's
    clustershm segment: see the module's documentation."""

    def __init__(self, url=None, *, host=None, port=6379, startup_nodes=None,
                 refresh_timeout=_segment.DEFAULT_REFRESH_TIMEOUT,
                 follow_interval=_segment.DEFAULT_FOLLOW_INTERVAL, **kwargs):
        shm_options, kwargs = _segment.split_options(kwargs)
        url, _, _ = _segment.resolve_url(url, host, port, startup_nodes, kwargs)
        segment = _segment.Segment(url, shm_options, refresh_timeout, follow_interval)
        self._cshm_segment = segment
        # The client closes when this object goes, without a ResourceWarning.
        self._cshm_finalizer = weakref.finalize(self, segment.close)
        seed_host, seed_port = segment.seed_name()
        seed = ClusterNode(seed_host, seed_port, redis_connection=_SegmentSeed(segment))
        kwargs["dynamic_startup_nodes"] = False
        self._cshm_constructing = True
        try:
            super().__init__(startup_nodes=[seed], **kwargs)
        except BaseException:
            self._cshm_finalizer()
            raise
        finally:
            self._cshm_constructing = False

    @property
    def clustershm(self):
        """The clustershm.Client this RedisCluster reads the map with."""
        return self._cshm_segment.client

    def command(self, **kwargs):
        # redis-py's constructor builds its CommandsParser from COMMAND: the
        # shipped table stands in for it, in the shape this client's own
        # COMMAND callback gives.
        if getattr(self, "_cshm_constructing", False):
            node = self.nodes_manager.default_node.redis_connection
            return _segment.command_table(node.response_callbacks.get("COMMAND"),
                                          self.encoder.decode_responses)
        return super().command(**kwargs)

    def _should_reinitialized(self):
        # Asked by redis-py at every MOVED reply.
        if self.reinitialize_steps == 0:
            return False
        return self._cshm_segment.newer()

    def execute_command(self, *args, **kwargs):
        if self._cshm_segment.follow():
            self.nodes_manager.initialize()
        return super().execute_command(*args, **kwargs)

    def close(self):
        try:
            super().close()
        finally:
            segment = getattr(self, "_cshm_segment", None)
            if segment is not None:
                segment.close()
