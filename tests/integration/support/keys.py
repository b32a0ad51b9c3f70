"""keys.py - test keys, their files, and routes checked against the servers.

Keys are bytes: printable, hash-tagged, empty, and random binary (NUL, CR,
LF, braces included), so a route file exercises every rule of the slot
function.  Files carry one hex key per line (empty line = empty key), the
format build/cshm-worker's routefile reads.  Invariant: the expected route of
a key is computed only from CLUSTER KEYSLOT and CLUSTER SHARDS answers.
"""
import random

# Keys whose slot depends on the exact hash-tag rules.
EDGE_KEYS = [
    b"", b"{", b"}", b"{}", b"}{", b"{}{x}", b"foo{}{bar}", b"foo{{bar}}zap", b"foo{bar}{zap}",
    b"{user1000}.following", b"{user1000}.followers", b"123456789", b"\x00", b"\x00{\x00}\x00",
    b"a{b", b"\r\n", b"{\n}", bytes(range(256)),
]


def generate(count, seed):
    rng = random.Random(seed)
    keys = list(EDGE_KEYS)
    while len(keys) < count:
        kind = rng.randrange(4)
        if kind == 0:
            keys.append(b"user:%d" % rng.randrange(10 ** 9))
        elif kind == 1:
            tag = b"%x" % rng.randrange(1 << 20)
            keys.append(b"pre{" + tag + b"}post:%d" % rng.randrange(1000))
        else:
            # biased towards the bytes that matter to the parser
            alphabet = b"{}\x00\r\n" + bytes(range(256))
            n = rng.randrange(1, 40)
            keys.append(bytes(rng.choice(alphabet) for _ in range(n)))
    return keys[:count]


def write(path, keys):
    with open(path, "w") as f:
        for k in keys:
            f.write(k.hex() + "\n")


def read_routes(path):
    with open(path) as f:
        return f.read().splitlines()


def expected_routes(cluster, keys, slots=None):
    """["host:port slot"] of every key's master, from the servers."""
    slots = slots if slots is not None else cluster.keyslots(keys)
    owners = cluster.slot_owners()
    return ["%s %d" % (owners[s], s) for s in slots]


def mismatches(got, expected, keys, limit=5):
    """A readable description of the first differences, "" when equal."""
    if len(got) != len(expected):
        return "%d routes for %d keys" % (len(got), len(expected))
    bad = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    if not bad:
        return ""
    lines = ["%d of %d routes differ from CLUSTER KEYSLOT + CLUSTER SHARDS, e.g.:"
             % (len(bad), len(expected))]
    for i, g, e in bad[:limit]:
        lines.append("  key %s: got %r, servers say %r" % (keys[i].hex() or "(empty)", g, e))
    return "\n".join(lines)
