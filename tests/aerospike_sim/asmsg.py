"""Minimal AS_MSG (proto type 3) data path: enough to see where clients route.

Tending never needs it (the official client connects and lists nodes without
one). What it gives: a client's single-record command reaches some node, the
node records (namespace, partition id of the digest field) and answers, so a
test can check that a client routed a key to the node our truth says owns it.
No data is stored: reads answer KEY_NOT_FOUND (2); everything else answers
UNSUPPORTED_FEATURE (16), so a client never believes a write succeeded.

Message = 22-byte header | fields | ops, after the 8-byte proto header:
  0 header size (22) | 1 info1 | 2 info2 | 3 info3 | 4 unused | 5 result code
  6..9 generation | 10..13 record ttl | 14..17 transaction ttl
  18..19 n_fields | 20..21 n_ops (big-endian)
Field = 4-byte big-endian size (type byte + data) | type | data; type 0 is
the namespace, 4 the 20-byte digest.

Invariants: `parse` never raises on short or malformed input (returns None);
`reply` is always a complete type-3 frame with a 22-byte header.
"""

import struct

from .digest import digest_partition
from .framing import TYPE_MSG, frame

HEADER_SIZE = 22
INFO1_READ = 0x01
INFO3_LAST = 0x01
FIELD_NAMESPACE = 0
FIELD_DIGEST = 4

RESULT_KEY_NOT_FOUND = 2
RESULT_UNSUPPORTED = 16


def parse(body):
    """Return {"read", "namespace", "partition"} of one message, or None."""
    if len(body) < HEADER_SIZE or body[0] != HEADER_SIZE:
        return None
    info1 = body[1]
    n_fields = struct.unpack_from(">H", body, 18)[0]
    pos = HEADER_SIZE
    namespace, partition = None, None
    for _ in range(n_fields):
        if pos + 5 > len(body):
            return None
        size = struct.unpack_from(">I", body, pos)[0]
        if size < 1 or pos + 4 + size > len(body):
            return None
        ftype, data = body[pos + 4], body[pos + 5:pos + 4 + size]
        if ftype == FIELD_NAMESPACE:
            namespace = data.decode("utf-8", "replace")
        elif ftype == FIELD_DIGEST and len(data) == 20:
            partition = digest_partition(data)
        pos += 4 + size
    return {"read": bool(info1 & INFO1_READ), "namespace": namespace, "partition": partition}


def reply(result_code):
    """A bodiless answer carrying only a result code."""
    header = bytes([HEADER_SIZE, 0, 0, INFO3_LAST, 0, result_code]) + bytes(16)
    return frame(header, TYPE_MSG)


def answer(body):
    """(parsed request or None, reply frame or None to hang up)."""
    request = parse(body)
    if request is None:
        return None, None
    code = RESULT_KEY_NOT_FOUND if request["read"] else RESULT_UNSUPPORTED
    return request, reply(code)
