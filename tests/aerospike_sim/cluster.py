"""The simulated cluster: membership, ownership, generations, and the controls.

All state lives in one asyncio loop; every control is a method here, run in
that loop, and ends with `_commit`, the only place that publishes what nodes
answer. So a client never sees half of a change.

Invariants:
- members are listening or were killed without a rebalance; each member's
  peers list is every other member, in join order, as (host, port);
- ownership (see ownership.py) is recomputed over the members on every
  membership change; n-cols = min(rf, members);
- at a commit, a node's `peers-generation` grows iff its peers list changed,
  its `partition-generation` grows iff its `replicas` value changed (by the
  number of claims that changed, so it jumps like a server's), and every
  member's `rebalance-generation` grows on a rebalance or migration;
  generations never change otherwise, and never go down except when a node
  restarts (a new server process starts counting again, spec 2.5);
- in SC mode a namespace's regime grows by one at every ownership change.
"""

import logging
import random

from .digest import N_PARTITIONS, key_digest, digest_partition
from .node import SimNode
from .ownership import Namespace
from .security import Security

log = logging.getLogger("aerospike_sim.cluster")

DEFAULT_BUILD = "8.1.2.0"
DEFAULT_NAME_SALT = 0x11AC4202


class ControlError(Exception):
    """A control request that cannot be carried out (unknown node, bad args)."""


def _check_edition(edition):
    if edition not in ("community", "enterprise"):
        raise ControlError("edition is 'community' or 'enterprise', not %r" % (edition,))
    return edition


def parse_namespaces(text):
    """'test:2,bar:1' -> [('test', 2), ('bar', 1)] (rf defaults to 2)."""
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, rf = item.partition(":")
        out.append((name, int(rf) if rf else 2))
    return out


class Cluster:
    def __init__(self, namespaces=(("test", 2),), host="127.0.0.1", cluster_name=None,
                 build=DEFAULT_BUILD, seed=1, base_port=3100, name_salt=DEFAULT_NAME_SALT,
                 users=None, session_ttl=86400, edition="community", racks=None,
                 alternate_host=None, tls=None):
        self.host = host
        # TLS (tls.py): None = clear ports; else every node serves TLS only.
        self.tls = tls
        # Login (security.py): None = security disabled, as on CE.
        self.security = Security(users, session_ttl)
        # "enterprise" answers rack-ids; "community" answers ERROR:25 (spec 1.4).
        self.edition = _check_edition(edition)
        # namespace -> {node name: rack id}; a node not listed is on rack 0.
        self.racks = {}
        # Address every node also listens at and announces in *-clear-alt.
        self.alternate_host = alternate_host
        self.cluster_name = cluster_name
        self.build = build
        self.base_port = base_port
        self.name_salt = name_salt & 0xFFFFFFFF
        self.namespaces = {}
        for name, rf in namespaces:
            if name in self.namespaces:
                raise ValueError("duplicate namespace %r" % name)
            self.namespaces[name] = Namespace(name, rf)
        self.nodes = {}     # name -> SimNode, in creation order
        self.members = []   # member names in join order
        self.rng = random.Random(seed)
        if racks:
            self._store_racks(racks)

    # ----------------------------------------------------------- lifecycle

    async def start(self, n_nodes, base_port=None, names=None):
        """Start n nodes (optionally named) and form the cluster in one rebalance."""
        if base_port is not None:
            self.base_port = base_port
        names = list(names or [])
        for i in range(n_nodes):
            await self.add_node(port=self.base_port + i, name=names[i] if i < len(names) else None,
                                join=False)
        for node in self.nodes.values():
            node.role = "member"
            self.members.append(node.name)
        self._rebalance()

    async def close(self):
        for node in self.nodes.values():
            await node.stop()

    # ------------------------------------------------------------ helpers

    def node(self, name):
        node = self.nodes.get(name)
        if node is None:
            raise ControlError("unknown node %r" % (name,))
        return node

    def namespace(self, name):
        ns = self.namespaces.get(name)
        if ns is None:
            raise ControlError("unknown namespace %r" % (name,))
        return ns

    def node_name_for(self, port):
        # 15 hex digits like a real node id: a fixed prefix, the port, a salt.
        return "%X" % ((0xBB9 << 48) | ((port & 0xFFFF) << 32) | self.name_salt)

    def _free_port(self):
        used = {n.port for n in self.nodes.values()}
        port = self.base_port
        while port in used:
            port += 1
        return port

    def _fresh_generations(self, restart=False):
        if restart:
            # A restarted server counts from scratch: lower than before.
            return (self.rng.randrange(1, 4096), self.rng.randrange(1, 8), self.rng.randrange(1, 8))
        return (self.rng.randrange(10_000, 5_000_000), self.rng.randrange(100, 100_000),
                self.rng.randrange(100, 100_000))

    def _view_of(self, name):
        return [(ns.name, ns.regime, ns.partitions_of(name)) for ns in self.namespaces.values()]

    @staticmethod
    def _view_changes(old, new):
        """How many claims differ between two replicas views (0 = same value)."""
        if old is None:
            return 1
        if len(old) != len(new):
            return 1
        changes = 0
        for (ons, oreg, ocols), (nns, nreg, ncols) in zip(old, new, strict=True):
            if ons != nns or oreg != nreg or len(ocols) != len(ncols):
                changes += 1
            for a, b in zip(ocols, ncols, strict=False):
                changes += len(a ^ b)
        return changes

    def _commit(self, rebalanced):
        """Publish peers and replicas of every member; bump what changed."""
        for name in self.members:
            node = self.nodes[name]
            peers = [(o, [(self.nodes[o].host, self.nodes[o].port)])
                     for o in self.members if o != name]
            if peers != node.peers:
                node.peers = peers
                node.peers_gen += 1
            view = self._view_of(name)
            changes = self._view_changes(node.view or None, view)
            if changes:
                node.view = view
                node.partition_gen += changes
            if rebalanced:
                node.rebalance_gen += 1

    def _rebalance(self):
        for ns in self.namespaces.values():
            before = ns.snapshot()
            ns.rebalance(self.members)
            if ns.owners != before:
                ns.bump_regime()
        self._commit(rebalanced=True)

    # ----------------------------------------------------------- controls

    async def add_node(self, port=None, name=None, build=None, join=True):
        """Start a new node; with join, it becomes a member at once (rebalance)."""
        port = int(port) if port is not None else self._free_port()
        if any(n.port == port for n in self.nodes.values()):
            raise ControlError("port %d already used by a node" % port)
        name = name or self.node_name_for(port)
        if name in self.nodes:
            raise ControlError("node %r exists" % name)
        if not 1 <= len(name) <= 19 or any(ch in name for ch in ",[]\t\n:;"):
            raise ControlError("bad node name %r" % name)
        node = SimNode(self, name, self.host, port, build or self.build, self._fresh_generations())
        if self.tls:
            node.tls_name = self.tls.name_for(len(self.nodes))
        await node.start()
        node.role = "initializing"
        self.nodes[name] = node
        if join:
            self._join(node)
        return node.to_json()

    def _join(self, node):
        node.role = "member"
        node.peers, node.view = [], []
        self.members.append(node.name)
        self._rebalance()

    async def join_node(self, name):
        node = self.node(name)
        if node.role == "member":
            raise ControlError("%s is already a member" % name)
        if not node.listening:
            raise ControlError("%s is not running" % name)
        self._join(node)
        return node.to_json()

    async def remove_node(self, name, standalone=False):
        """Leave the cluster gracefully: others drop it and claim its partitions.

        Then the node stops (default), or stays up as a one-node cluster of
        its own (`standalone`), claiming everything with no peers.
        """
        node = self.node(name)
        if node.role != "member":
            raise ControlError("%s is not a member" % name)
        self.members.remove(name)
        self._rebalance()
        if standalone and node.listening:
            node.role = "standalone"
            node.standalone_view = [(ns.name, ns.regime, [set(range(N_PARTITIONS))])
                                    for ns in self.namespaces.values()]
            node.peers = []
            node.peers_gen += 1
            node.partition_gen += N_PARTITIONS
        else:
            node.role = "gone"
            await node.stop()
        return node.to_json()

    async def kill_node(self, name, rebalance=True):
        """Stop answering at once (listener and open sockets closed).

        With rebalance, the others then drop it and take over its partitions
        (what a server does after its heartbeat timeout); without, they keep
        listing it and its partitions until `evict_node` or `restart_node`.
        """
        node = self.node(name)
        if not node.listening:
            raise ControlError("%s is not running" % name)
        await node.stop()
        if node.role == "member" and rebalance:
            self.members.remove(name)
            node.role = "gone"
            self._rebalance()
        elif node.role != "member":
            node.role = "gone"
        return node.to_json()

    async def evict_node(self, name):
        """Drop a killed member from the cluster (its heartbeat timed out)."""
        node = self.node(name)
        if node.role != "member" or node.listening:
            raise ControlError("%s is not a stopped member" % name)
        self.members.remove(name)
        node.role = "gone"
        self._rebalance()
        return node.to_json()

    async def restart_node(self, name, join=True):
        """Start a stopped node again with fresh (lower) generations."""
        node = self.node(name)
        if node.listening:
            raise ControlError("%s is running" % name)
        node.partition_gen, node.peers_gen, node.rebalance_gen = self._fresh_generations(True)
        node.lagged = None
        await node.start()
        if node.role == "member":
            node.peers, node.view = [], []
            self._commit(rebalanced=True)
        else:
            node.role = "initializing"
            if join:
                self._join(node)
        return node.to_json()

    async def migrate(self, namespace, to, partitions=None, count=None, column=0, source=None):
        """Move replica `column` of some partitions to node `to`.

        `partitions` lists them; otherwise the first `count` partitions whose
        column is not on `to` (and is on `source`, if given) are taken.
        Returns the partitions that moved.
        """
        ns = self.namespace(namespace)
        if to not in self.members:
            raise ControlError("%s is not a member" % to)
        column = int(column)
        if not 0 <= column < ns.n_cols:
            raise ControlError("column %d out of range (n_cols %d)" % (column, ns.n_cols))
        if partitions is None:
            if count is None:
                raise ControlError("give partitions or count")
            picked = [p for p in range(N_PARTITIONS)
                      if ns.owners[column][p] != to and (source is None or ns.owners[column][p] == source)]
            partitions = picked[:int(count)]
        try:
            moved = ns.migrate([int(p) for p in partitions], to, column)
        except ValueError as exc:
            raise ControlError(str(exc)) from None
        if moved:
            ns.bump_regime()
            self._commit(rebalanced=True)
        return sorted(moved)

    async def rebalance(self):
        """Even out ownership over the current members (undoes migrations)."""
        self._rebalance()
        return self.truth(partitions=False)

    async def set_sc(self, namespace, enabled=True, regime=None):
        """Switch a namespace to strong consistency (regime >= 1) or back to AP."""
        ns = self.namespace(namespace)
        if enabled:
            new = int(regime) if regime is not None else max(1, ns.regime + 1)
            if new < 1:
                raise ControlError("an SC regime is >= 1")
            ns.sc, ns.regime = True, new
        else:
            ns.sc, ns.regime = False, 0
        self._commit(rebalanced=True)
        return {"namespace": ns.name, "sc": ns.sc, "regime": ns.regime}

    async def bump_regime(self, namespace, by=1):
        ns = self.namespace(namespace)
        if not ns.sc:
            raise ControlError("%s is not in strong-consistency mode" % namespace)
        ns.regime += max(1, int(by))
        self._commit(rebalanced=True)
        return {"namespace": ns.name, "sc": ns.sc, "regime": ns.regime}

    async def lag(self, name, enabled=True):
        """Freeze (or release) a node's partition-generation and replicas answers."""
        node = self.node(name)
        node.lagged = (node.partition_gen, node.replicas_view()) if enabled else None
        return node.to_json()

    async def set_fault(self, name, kind, delay=None, only=None, count=None):
        try:
            self.node(name).faults.set(kind, delay=delay, only=only, count=count)
        except ValueError as exc:
            raise ControlError(str(exc)) from None
        return self.node(name).to_json()

    async def clear_faults(self, name=None, kind=None):
        for node in ([self.node(name)] if name else self.nodes.values()):
            node.faults.clear(kind)
        return True

    async def set_cluster_name(self, cluster_name, name=None):
        """Rename the cluster, or only one node's idea of it (moved node)."""
        if name is None:
            self.cluster_name = cluster_name
        else:
            self.node(name).cluster_name = cluster_name
        return True

    def _store_racks(self, racks, namespace=None):
        """racks: {node name: rack id} for `namespace` (None: every namespace)."""
        table = {str(k): int(v) for k, v in racks.items()}
        if any(not 0 <= r <= 1000000 for r in table.values()):
            raise ControlError("rack ids are 0 to 1000000")
        for ns in ([self.namespace(namespace).name] if namespace else list(self.namespaces)):
            self.racks[ns] = dict(table)

    async def set_racks(self, racks, namespace=None):
        """Put nodes on racks; a changed layout is a rebalance (rebalance-generation grows)."""
        self._store_racks(racks, namespace)
        self._commit(rebalanced=True)
        return self.racks

    async def set_edition(self, edition):
        self.edition = _check_edition(edition)
        return self.edition

    async def set_users(self, users=None, session_ttl=None):
        """{user: password} (None: security off); open sockets keep their login."""
        if session_ttl is not None:
            self.security.session_ttl = int(session_ttl)
        self.security.set_users(users)
        return self.security.to_json()

    async def expire_sessions(self):
        """Revoke every session token; open sockets must authenticate again."""
        self.security.expire_sessions()
        return self.security.to_json()

    def security_json(self):
        return self.security.to_json()

    # -------------------------------------------------------------- views

    def nodes_json(self):
        return [n.to_json() for n in self.nodes.values()]

    def truth(self, namespace=None, partitions=True):
        names = [namespace] if namespace else list(self.namespaces)
        spaces = {}
        for n in names:
            data = self.namespace(n).to_json()
            if not partitions:
                data.pop("partitions")
            spaces[n] = data
        return {
            "cluster_name": self.cluster_name,
            "edition": self.edition,
            "racks": self.racks,
            "alternate_host": self.alternate_host,
            "tls_names": ({n: node.tls_name for n, node in self.nodes.items()}
                          if self.tls else None),
            "members": list(self.members),
            "nodes": self.nodes_json(),
            "namespaces": spaces,
        }

    def locate(self, namespace, key, set_name=""):
        """Partition id and owners (per column) of one key."""
        pid = digest_partition(key_digest(set_name, key))
        ns = self.namespace(namespace)
        return {"partition": pid, "owners": [col[pid] for col in ns.owners]}

    def counters(self, reset=False):
        out = {name: node.counters.to_json() for name, node in self.nodes.items()}
        if reset:
            for node in self.nodes.values():
                node.counters.reset()
        return out
