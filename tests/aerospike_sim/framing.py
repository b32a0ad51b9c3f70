"""Aerospike proto framing and info bodies (protocol spec section 1).

Header: 8 bytes, big-endian (version << 56) | (type << 48) | size, where size
is the body length (48 bits) and never counts the header itself.

Invariants:
- `encode_header`/`decode_header` are exact inverses for version and type in
  0..255 and size in 0..2^48-1.
- `check_header` applies the server's acceptance rules: version 2 (0 only for
  type 2), type 1..5, size <= 128 MiB, and no TLS ClientHello; anything else
  is a framing error after which the server closes the socket.
- `split_request` keeps request lines verbatim and drops an unterminated
  trailing line, as the server only executes text up to the last newline.
- `build_response` emits one `<echo>\\t<value>\\n` line per request line, in
  order; every line, the last included, ends with a newline.
"""

import struct

PROTO_VERSION = 2
TYPE_INFO = 1
TYPE_ADMIN = 2
TYPE_MSG = 3
TYPE_COMPRESSED = 4
TYPE_XDR = 5

HEADER_SIZE = 8
PROTO_SIZE_MAX = 128 * 1024 * 1024
SIZE_MASK = (1 << 48) - 1


class FramingError(Exception):
    """A header the server would reject by closing the connection."""


def encode_header(size, msg_type=TYPE_INFO, version=PROTO_VERSION):
    if not 0 <= size <= SIZE_MASK:
        raise ValueError("proto size out of 48-bit range")
    return struct.pack(">Q", (version << 56) | (msg_type << 48) | size)


def decode_header(header):
    """Return (version, type, size) of an 8-byte header."""
    if len(header) != HEADER_SIZE:
        raise ValueError("proto header must be 8 bytes")
    (word,) = struct.unpack(">Q", header)
    return word >> 56, (word >> 48) & 0xFF, word & SIZE_MASK


def looks_like_tls_hello(header):
    # A TLS record header: handshake (22), major version 3, then a ClientHello (1).
    return header[0] == 22 and header[1] == 3 and header[5] == 1


def check_header(header):
    """Validate a received header; return (type, size) or raise FramingError."""
    if looks_like_tls_hello(header):
        raise FramingError("TLS ClientHello on a clear port")
    version, msg_type, size = decode_header(header)
    if not 1 <= msg_type <= 5:
        raise FramingError("bad proto type %d" % msg_type)
    if version != PROTO_VERSION and not (version == 0 and msg_type == TYPE_ADMIN):
        raise FramingError("bad proto version %d" % version)
    if size > PROTO_SIZE_MAX:
        raise FramingError("proto size %d over limit" % size)
    return msg_type, size


def frame(body, msg_type=TYPE_INFO):
    """Header + body."""
    return encode_header(len(body), msg_type) + body


def split_request(body):
    """Request lines (bytes, without '\\n'), up to the last newline only."""
    end = body.rfind(b"\n")
    if end < 0:
        return []
    return body[:end].split(b"\n")


def command_name(line):
    """Name part of a request line: text before the first '/', ':' or ';'."""
    cut = len(line)
    for sep in (b"/", b":", b";"):
        pos = line.find(sep)
        if 0 <= pos < cut:
            cut = pos
    return line[:cut]


def command_params(line):
    """`key=value` parameters after ':' as a dict of str (empty when none)."""
    pos = line.find(b":")
    params = {}
    if pos < 0:
        return params
    for item in line[pos + 1:].split(b";"):
        if not item:
            continue
        key, _, value = item.partition(b"=")
        params[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return params


def build_response(pairs):
    """Body for [(echo bytes, value str/bytes), ...]; values must hold no tab/newline."""
    out = []
    for echo, value in pairs:
        if isinstance(value, str):
            value = value.encode("utf-8")
        if b"\n" in value or b"\t" in value:
            raise ValueError("info value contains a tab or newline")
        out.append(echo + b"\t" + value + b"\n")
    return b"".join(out)


def parse_response(body):
    """Client-side view of a response body: list of (name bytes, value bytes).

    A line without a tab is a name with an empty value, as the C client does.
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    pairs = []
    for line in body.split(b"\n")[:-1] if body.endswith(b"\n") else body.split(b"\n"):
        name, _, value = line.partition(b"\t")
        pairs.append((name, value))
    return pairs
