"""Value grammars of `peers-*`, `replicas*` and `service*` (spec sections 3, 4).

Emitters produce exactly what a CE 8.1 server prints; parsers are their
inverses, written from the grammar, for tests and tools.

Invariants:
- peers: `<gen>,3000,[<peer>,...]`, peer `[<name>,<tls-name>,[<endpoint>,...]]`;
  the default-port field is always 3000 and an endpoint on port 3000 is
  printed without its port; IPv6 addresses are bracketed.
- replicas: `<ns>:<regime>,<n-cols>,<bitmap>...` joined by ';', exactly n-cols
  bitmaps of 684 chars each, no trailing ';'. `replicas-all` is the same
  without the regime; `replicas-master` is `<ns>:<bitmap>` entries.
"""

from . import bitmap

DEFAULT_PORT = 3000


def format_endpoint(host, port):
    text = "[%s]" % host if ":" in host else host
    # The server formats addr:port and then strips a trailing ":3000".
    return text if port == DEFAULT_PORT else "%s:%d" % (text, port)


def format_peers(generation, peers, tls_names=None):
    """peers = [(name, [(host, port), ...]), ...] in the order to print."""
    items = []
    for name, endpoints in peers:
        tls = (tls_names or {}).get(name, "")
        eps = ",".join(format_endpoint(h, p) for h, p in endpoints)
        items.append("[%s,%s,[%s]]" % (name, tls, eps))
    return "%d,%d,[%s]" % (generation, DEFAULT_PORT, ",".join(items))


def format_replicas(namespaces, max_cols=None):
    """namespaces = [(name, regime, [set-of-pids per column]), ...]."""
    entries = []
    for name, regime, columns in namespaces:
        cols = columns if max_cols is None else columns[:max_cols]
        parts = ["%s:%d" % (name, regime), str(len(cols))]
        parts.extend(bitmap.encode(c) for c in cols)
        entries.append(",".join(parts))
    return ";".join(entries)


def format_replicas_all(namespaces):
    entries = []
    for name, _regime, columns in namespaces:
        fields = [str(len(columns))] + [bitmap.encode(c) for c in columns]
        entries.append("%s:%s" % (name, ",".join(fields)))
    return ";".join(entries)


def format_replicas_master(namespaces):
    return ";".join("%s:%s" % (name, bitmap.encode(columns[0] if columns else ()))
                    for name, _regime, columns in namespaces)


def format_service(endpoints):
    """`service-*`: host:port list, port always present (the client requires it)."""
    out = []
    for host, port in endpoints:
        out.append("[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port))
    return ",".join(out)


def format_services(endpoints):
    """Deprecated `services`: host:port entries separated by ';'."""
    return ";".join("%s:%d" % (h, p) for h, p in endpoints)


# ----------------------------------------------------------------- parsers


def _parse_endpoint(text, default_port):
    if text.startswith("["):
        close = text.index("]")
        host, rest = text[1:close], text[close + 1:]
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    host, sep, port = text.rpartition(":")
    return (host, int(port)) if sep else (text, default_port)


def _split_top(text):
    """Split on commas that are not inside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_peers(value):
    """Return (generation, default_port, [(name, tls_name, [(host, port)])])."""
    gen_text, port_text, rest = value.split(",", 2)
    default_port = int(port_text) if port_text else DEFAULT_PORT
    if not (rest.startswith("[") and rest.endswith("]")):
        raise ValueError("peers list must be bracketed")
    inner = rest[1:-1]
    peers = []
    for item in (_split_top(inner) if inner else []):
        if not (item.startswith("[") and item.endswith("]")):
            raise ValueError("bad peer %r" % item)
        name, tls, eps = _split_top(item[1:-1])
        if not (eps.startswith("[") and eps.endswith("]")):
            raise ValueError("bad endpoint list %r" % eps)
        ep_inner = eps[1:-1]
        endpoints = [_parse_endpoint(e, default_port) for e in _split_top(ep_inner)] if ep_inner else []
        peers.append((name, tls, endpoints))
    return int(gen_text), default_port, peers


def parse_replicas(value):
    """Return [(ns, regime, [sorted pids per column])] from a `replicas` value."""
    out = []
    for entry in value.split(";"):
        if not entry:
            continue
        ns, _, rest = entry.partition(":")
        fields = rest.split(",")
        regime, n_cols = int(fields[0]), int(fields[1])
        maps = fields[2:]
        if len(maps) != n_cols:
            raise ValueError("%s: %d bitmaps for n-cols %d" % (ns, len(maps), n_cols))
        out.append((ns, regime, [bitmap.decode(m) for m in maps]))
    return out
