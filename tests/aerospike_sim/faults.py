"""Fault injection settings of one node.

Kinds (at most one of each per node):
- `slow`      wait `delay` seconds before answering;
- `hang`      never answer (the socket stays open until the peer closes it);
- `drop`      close the connection instead of answering;
- `truncated` send a correct header but only half the body, then close;
- `garbage`   send 64 bytes that are not a proto frame (version byte 0xFF),
              then keep serving;
- `bad_value` keep the framing and echoes but replace each value with text no
              grammar accepts (`node` then looks renamed, numbers do not parse,
              `replicas`/`peers` do not parse).

Each fault may be limited to requests that contain one of the names in `only`
and to the next `count` matching requests (None = until cleared).

Invariants: `match(names)` never changes state; `consume(kind)` decrements a
counted fault and removes it at zero, so a fault fires at most `count` times.
"""

KINDS = ("slow", "hang", "drop", "truncated", "garbage", "bad_value")
# Faults that replace the normal answer; at most one of them acts per request.
OUTPUT_KINDS = ("hang", "drop", "truncated", "garbage", "bad_value")

GARBAGE = b"\xff" + bytes((i * 37 + 11) & 0xFF for i in range(63))
BAD_VALUE = "#garbage,[not;a:value"


class Faults:
    def __init__(self):
        self._active = {}

    def set(self, kind, delay=None, only=None, count=None):
        if kind not in KINDS:
            raise ValueError("unknown fault %r (one of %s)" % (kind, ", ".join(KINDS)))
        if kind == "slow" and (delay is None or float(delay) < 0):
            raise ValueError("slow needs delay >= 0 (seconds)")
        if count is not None and int(count) < 1:
            raise ValueError("count must be >= 1")
        self._active[kind] = {
            "delay": float(delay) if delay is not None else None,
            "only": sorted(only) if only else None,
            "count": int(count) if count is not None else None,
        }

    def clear(self, kind=None):
        if kind is None:
            self._active.clear()
        else:
            self._active.pop(kind, None)

    def match(self, kind, names):
        """Settings of fault `kind` if it applies to a request with `names`."""
        spec = self._active.get(kind)
        if spec is None:
            return None
        if spec["only"] and not set(spec["only"]) & set(names):
            return None
        return spec

    def consume(self, kind):
        spec = self._active.get(kind)
        if spec is not None and spec["count"] is not None:
            spec["count"] -= 1
            if spec["count"] <= 0:
                del self._active[kind]

    def to_json(self):
        return {k: dict(v) for k, v in self._active.items()}
