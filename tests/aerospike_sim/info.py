"""Info command dispatcher of one simulated node (spec sections 1.2-1.4, 8.2, 9).

`answer(node, conn, line)` returns the value for one request line; the caller
frames it as `<echo>\\t<value>\\n`. Names are matched exactly (case-sensitive,
split at the first '/', ':' or ';'), as a CE 8.1.2.0 server does.

Invariants:
- values never contain a tab or newline and every name gets some value;
- unknown names answer `ERROR:4:unrecognized command`; enterprise-only names
  (`rack-ids`, `peers-tls-*`, `service-tls-*`) answer `ERROR:25:enterprise only`
  (the TLS ones only when the nodes serve no TLS, tls.py);
- none of the names the C client's seed validation asks (`node`,
  `partition-generation`, `build`, `cluster-name`, `service-clear-*`)
  ever answers `ERROR:` while the node is serving;
- `user-agent-set` answers `ok` once per connection, then `ERROR:4:already set`.
"""

import base64
import binascii

from . import formats
from .digest import N_PARTITIONS
from .framing import command_name, command_params

EDITION = "Aerospike Community Edition"
EE_EDITION = "Aerospike Enterprise Edition"

# What a CE 8.1 server lists; old clients derive feature bits from it.
FEATURES = ("batch-any;batch-index;blob-bits;cdt-list;cdt-map;cluster-stable;float;geo;"
            "sindex-exists;peers;pipelining;pquery;pscans;query-show;relaxed-sc;replicas;"
            "replicas-all;replicas-master;replicas-max;truncate-namespace;udf")

UNRECOGNIZED = "ERROR:4:unrecognized command"
ENTERPRISE_ONLY = "ERROR:25:enterprise only"

# Names answered by the deprecated empty-body "summary" request.
SUMMARY_NAMES = ("features", "node", "edition", "build", "version",
                 "partition-generation", "services")


class ConnState:
    """Per-socket state a server keeps across requests."""

    def __init__(self):
        self.user_agent = None
        self.auth_user = None        # set by a successful login/authenticate (security.py)
        self.auth_revocation = 0


def _user_agent_set(node, conn, line):
    value = command_params(line).get("value")
    if value is None:
        return "ERROR:4:missing value"
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "ERROR:4:bad value"
    if conn.user_agent is not None:
        return "ERROR:4:already set"
    conn.user_agent = decoded.decode("utf-8", "replace")
    node.user_agents.append(conn.user_agent)
    return "ok"


def _replicas(node, conn, line):
    max_cols = command_params(line).get("max")
    cap = int(max_cols) if max_cols and max_cols.isdigit() else None
    return formats.format_replicas(node.replicas_view(), cap)


def _edition(node):
    return EE_EDITION if node.cluster.edition == "enterprise" else EDITION


def _rack_ids(node, conn, line):
    # Enterprise only; a CE server (the default) answers the error every time.
    if node.cluster.edition != "enterprise":
        return ENTERPRISE_ONLY
    return ";".join("%s:%d" % (ns, node.rack_of(ns)) for ns in node.cluster.namespaces)


def _release(node, conn, line):
    return "edition=%s;version=%s;os=linux;arch=x86_64;sha=0000000" % (_edition(node), node.build)


def _peers_tls(node, alt):
    # TLS is an Enterprise feature: a node without it answers as CE does.
    if not node.cluster.tls:
        return ENTERPRISE_ONLY
    peers = node.peers_view(alt=alt, tls=True)
    names = {name: node.cluster.nodes[name].tls_name for name, _eps in peers
             if name in node.cluster.nodes}
    return formats.format_peers(node.peers_gen, peers, tls_names=names)


def _service_tls(node, alt):
    if not node.cluster.tls:
        return ENTERPRISE_ONLY
    return formats.format_service([(node.access_host(alt=alt), node.port)])


def _service_clear(node, alt):
    # A TLS-only node has no clear service to list.
    if node.cluster.tls:
        return ""
    return formats.format_service([(node.access_host(alt=alt), node.port)])


_HANDLERS = {
    "node": lambda n, *_: n.name,
    "build": lambda n, *_: n.build,
    "version": lambda n, *_: "%s build %s" % (_edition(n), n.build),
    "edition": lambda n, *_: _edition(n),
    "release": _release,
    "features": lambda n, *_: FEATURES,
    "status": lambda n, *_: "ok",
    "cluster-name": lambda n, *_: n.cluster_name_text(),
    "partition-generation": lambda n, *_: n.partition_generation_text(),
    "peers-generation": lambda n, *_: str(n.peers_gen),
    "rebalance-generation": lambda n, *_: str(n.rebalance_gen),
    "peers-clear-std": lambda n, *_: formats.format_peers(n.peers_gen, n.peers_view()),
    "peers-clear-alt": lambda n, *_: formats.format_peers(n.peers_gen, n.peers_view(alt=True)),
    "service-clear-std": lambda n, *_: _service_clear(n, alt=False),
    "service-clear-alt": lambda n, *_: _service_clear(n, alt=True),
    "services": lambda n, *_: formats.format_services(
        [ep for _name, eps in n.peers_view() for ep in eps]),
    "services-alumni": lambda n, *_: formats.format_services(
        [ep for _name, eps in n.peers_view() for ep in eps]),
    "replicas": _replicas,
    "replicas-all": lambda n, *_: formats.format_replicas_all(n.replicas_view()),
    "replicas-master": lambda n, *_: formats.format_replicas_master(n.replicas_view()),
    "partitions": lambda n, *_: str(N_PARTITIONS),
    "namespaces": lambda n, *_: ";".join(n.cluster.namespaces),
    "user-agent-set": _user_agent_set,
    "rack-ids": _rack_ids,
    "peers-tls-std": lambda n, *_: _peers_tls(n, alt=False),
    "peers-tls-alt": lambda n, *_: _peers_tls(n, alt=True),
    "service-tls-std": lambda n, *_: _service_tls(n, alt=False),
    "service-tls-alt": lambda n, *_: _service_tls(n, alt=True),
}


def answer(node, conn, line):
    """Value (str) for one request line (bytes, without its newline)."""
    name = command_name(line)
    if len(name) >= 32:
        return UNRECOGNIZED
    handler = _HANDLERS.get(name.decode("utf-8", "replace"))
    if handler is None:
        return UNRECOGNIZED
    return handler(node, conn, line)


def summary(node, conn):
    """[(name bytes, value)] for an empty-body request."""
    return [(n.encode(), _HANDLERS[n](node, conn, n.encode())) for n in SUMMARY_NAMES]
