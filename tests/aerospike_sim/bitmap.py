"""Partition bitmaps of the `replicas` value (protocol spec section 4.1).

4096 partitions -> 512 bytes -> 684 base64 characters (standard alphabet,
'=' padding). Partition p lives in byte p >> 3 under mask 0x80 >> (p & 7):
the most significant bit holds the lowest partition id.

Invariants: `encode` always returns exactly 684 characters; `decode` is its
inverse and rejects any other length.
"""

import base64

from .digest import N_PARTITIONS

BITMAP_BYTES = N_PARTITIONS // 8
BITMAP_CHARS = 684


def to_bytes(partitions):
    """512-byte bitmap with the bits of the given partition ids set."""
    raw = bytearray(BITMAP_BYTES)
    for p in partitions:
        if not 0 <= p < N_PARTITIONS:
            raise ValueError("partition id %r out of range" % (p,))
        raw[p >> 3] |= 0x80 >> (p & 7)
    return bytes(raw)


def encode(partitions):
    """684-char base64 bitmap of the given partition ids."""
    text = base64.b64encode(to_bytes(partitions)).decode("ascii")
    assert len(text) == BITMAP_CHARS
    return text


def decode(text):
    """Sorted list of partition ids set in a 684-char bitmap."""
    if len(text) != BITMAP_CHARS:
        raise ValueError("bitmap must be %d chars, got %d" % (BITMAP_CHARS, len(text)))
    raw = base64.b64decode(text, validate=True)
    return [p for p in range(N_PARTITIONS) if raw[p >> 3] & (0x80 >> (p & 7))]
