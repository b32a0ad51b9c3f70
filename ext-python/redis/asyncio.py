"""clustershm.redis.asyncio - redis.asyncio's RedisCluster with its topology
from the host's clustershm segment.

    from clustershm.redis.asyncio import RedisCluster
    rc = RedisCluster("redis://127.0.0.1:7000,127.0.0.1:7001")
    await rc.set("k", "v"); await rc.get("k"); await rc.aclose()

The same as clustershm.redis.RedisCluster (see its documentation), for
redis.asyncio.cluster.RedisCluster, of which it is a subclass.  A wait for a
newer map blocks, so it runs in a thread (asyncio.to_thread), never on the
event loop.

What it changes of redis-py, and why:
  - Its one startup node is the segment (a stand-in ClusterNode answering
    CLUSTER SLOTS from Client.shards()), set again before each
    initialize(): redis-py's asyncio client (re)builds its tables there, at
    the first command and after connection errors, CLUSTERDOWN and every
    reinitialize_steps-th MOVED.  A rebuild from the map it already has
    first asks the tender for a new one and waits up to refresh_timeout.
  - Its CommandsParser takes the shipped command table where redis-py
    would send COMMAND to a node at every initialize(); a command the table
    lacks is asked of the server, as redis-py does.
  - execute_command() initializes the client before redis-py chooses the
    target of its first command (redis-py chooses first, without a table,
    and a MOVED follows), then follows the segment (a newer map, checked at
    most every follow_interval, rebuilds the tables).
  - reinitialize_counter, in which redis-py counts MOVED replies (for
    reinitialize_steps): at each one the tender is asked for a new map,
    without waiting (redis-py's asyncio client has no hook like the
    blocking one's _should_reinitialized, where the drop-in waits).
    redis-py's own handling redirects the one command (it moves the slot),
    and the next command after the tender published follows the new map.
  - aclose() is also what redis-py calls internally before it rebuilds its
    tables, so it leaves the clustershm client open; that closes when the
    RedisCluster is garbage collected, or at exit.
"""
import asyncio
import weakref

try:
    from redis.asyncio.cluster import ClusterNode
    from redis.asyncio.cluster import RedisCluster as _RedisCluster
    from redis._parsers import AsyncCommandsParser
except ImportError as e:  # pragma: no cover - the message is the point
    raise ImportError("clustershm.redis.asyncio needs redis-py: pip install "
                      "'clustershm[redis]' (%s)" % e) from e

from . import _segment

__all__ = ["RedisCluster"]


class _SegmentSeedNode(ClusterNode):
    """redis-py's startup node that is the host's segment: it answers
    CLUSTER SLOTS from the tender's map (and INFO's cluster_enabled, which
    redis-py 5.0.0 to 5.0.7 check first) and nothing else, and never opens
    a connection."""

    __slots__ = ("_cshm_segment",)

    def __init__(self, segment):
        host, port = segment.seed_name()
        super().__init__(host, port)
        self._cshm_segment = segment

    async def execute_command(self, *args, **kwargs):
        if _segment.seed_question(args) == "info":
            return dict(_segment.SEED_INFO)
        segment = self._cshm_segment
        if segment.need_wait():
            await asyncio.to_thread(segment.wait)
        return segment.cluster_slots()


class _TableCommandsParser(AsyncCommandsParser):
    """redis-py's parser, whose table comes from the package at every
    initialize(node) instead of a COMMAND to that node."""

    __slots__ = ("_cshm_decode",)

    def __init__(self, decode_responses):
        super().__init__()
        self._cshm_decode = decode_responses

    async def initialize(self, node=None):
        if node is None:
            # A command the table lacks: the server knows it (a module's).
            return await super().initialize()
        self.node = node
        commands = _segment.command_table(node.response_callbacks.get("COMMAND"),
                                          self._cshm_decode)
        self.commands = {name.lower(): command for name, command in commands.items()}


class RedisCluster(_RedisCluster):
    """redis.asyncio.cluster.RedisCluster whose topology comes from the
    host's clustershm segment: see the module's documentation."""

    def __init__(self, url=None, *, host=None, port=6379, startup_nodes=None,
                 refresh_timeout=_segment.DEFAULT_REFRESH_TIMEOUT,
                 follow_interval=_segment.DEFAULT_FOLLOW_INTERVAL, **kwargs):
        shm_options, kwargs = _segment.split_options(kwargs)
        url, first_host, first_port = _segment.resolve_url(url, host, port, startup_nodes,
                                                           kwargs)
        segment = _segment.Segment(url, shm_options, refresh_timeout, follow_interval)
        self._cshm_segment = segment
        self._cshm_finalizer = weakref.finalize(self, segment.close)
        try:
            self._cshm_seed = _SegmentSeedNode(segment)
            try:
                # redis-py >= 6 keeps the startup nodes as given; 5.x replaces
                # them after each initialize, which sets the seed again.
                super().__init__(host=first_host, port=first_port, dynamic_startup_nodes=False,
                                 **kwargs)
            except TypeError as e:
                if "dynamic_startup_nodes" not in str(e):
                    raise
                super().__init__(host=first_host, port=first_port, **kwargs)
            self.commands_parser = _TableCommandsParser(self.encoder.decode_responses)
            self._cshm_use_seed()
        except BaseException:
            self._cshm_finalizer()
            raise

    @property
    def clustershm(self):
        """The clustershm.Client this RedisCluster reads the map with."""
        return self._cshm_segment.client

    def _cshm_use_seed(self):
        startup = self.nodes_manager.startup_nodes
        if len(startup) != 1 or startup.get(self._cshm_seed.name) is not self._cshm_seed:
            self.nodes_manager.startup_nodes = {self._cshm_seed.name: self._cshm_seed}

    async def initialize(self, *args, **kwargs):
        self._cshm_use_seed()
        return await super().initialize(*args, **kwargs)

    @property
    def reinitialize_counter(self):
        return self.__dict__.get("_cshm_moved", 0)

    @reinitialize_counter.setter
    def reinitialize_counter(self, value):
        # redis-py adds one at every MOVED reply (and resets it to 0).
        if value > self.__dict__.get("_cshm_moved", 0):
            self._cshm_segment.ask()
        self.__dict__["_cshm_moved"] = value

    async def execute_command(self, *args, **kwargs):
        # Initialized first (it costs nothing, from the segment): redis-py
        # picks the target of a first command before it initializes, so
        # without a table yet it sends that command to any node, and it
        # comes back MOVED.
        await self.initialize()
        if self._cshm_segment.follow():
            self._cshm_use_seed()
            await self.nodes_manager.initialize()
        return await super().execute_command(*args, **kwargs)
