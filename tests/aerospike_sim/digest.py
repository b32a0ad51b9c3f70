"""Aerospike key digest and partition id (protocol spec section 5).

digest = RIPEMD-160(set name bytes || key type byte || key bytes); the
namespace is not hashed. partition id = first two digest bytes read as a
little-endian uint16, masked to 12 bits.

Invariants: `key_digest` returns 20 bytes; `partition_id` is in 0..4095;
`bool` keys are rejected (Python would silently treat them as integers, the
official clients do not); integers must fit in int64.
"""

import struct

from .ripemd160 import ripemd160

N_PARTITIONS = 4096

KEY_INTEGER = 0x01
KEY_DOUBLE = 0x02
KEY_STRING = 0x03
KEY_BLOB = 0x04


def key_bytes(key):
    """Return (type byte, encoded key bytes) for a str, int, float or bytes key."""
    if isinstance(key, bool):
        raise TypeError("bool is not an Aerospike key type")
    if isinstance(key, int):
        if not -(1 << 63) <= key < (1 << 63):
            raise ValueError("integer key out of int64 range")
        return KEY_INTEGER, struct.pack(">q", key)
    if isinstance(key, float):
        return KEY_DOUBLE, struct.pack(">d", key)
    if isinstance(key, str):
        return KEY_STRING, key.encode("utf-8")
    if isinstance(key, (bytes, bytearray, memoryview)):
        return KEY_BLOB, bytes(key)
    raise TypeError("unsupported key type: %s" % type(key).__name__)


def key_digest(set_name, key):
    """20-byte digest of `key` in set `set_name` (None or "" for no set)."""
    set_part = (set_name or "").encode("utf-8") if not isinstance(set_name, bytes) else set_name
    type_byte, body = key_bytes(key)
    return ripemd160(set_part + bytes([type_byte]) + body)


def digest_partition(digest):
    """Partition id of a 20-byte digest."""
    return (digest[0] | (digest[1] << 8)) & (N_PARTITIONS - 1)


def partition_id(set_name, key):
    """Partition id of `key` in set `set_name`."""
    return digest_partition(key_digest(set_name, key))
