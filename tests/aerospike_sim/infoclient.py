"""Minimal synchronous info-protocol client (for tests and manual probing).

    with InfoConnection(3100) as conn:
        values = conn.request("node", "peers-clear-std")   # {"node": "...", ...}

Invariants: one socket per InfoConnection, reused across requests like a
tend socket; every read has a timeout; `raw()` exposes the exact bytes
received so tests can compare framing byte for byte.
"""

import socket

from .framing import HEADER_SIZE, TYPE_INFO, decode_header, frame, parse_response


class ProtocolError(Exception):
    pass


class InfoConnection:
    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)

    def _read_exact(self, n):
        chunks = []
        while n:
            chunk = self.sock.recv(n)
            if not chunk:
                raise ConnectionError("connection closed by the node")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def raw(self, body, msg_type=TYPE_INFO):
        """Send body in one frame; return (header bytes, body bytes) received."""
        self.sock.sendall(frame(body, msg_type))
        header = self._read_exact(HEADER_SIZE)
        version, rtype, size = decode_header(header)
        if version != 2 or rtype != TYPE_INFO:
            raise ProtocolError("bad response header %s" % header.hex())
        return header, self._read_exact(size)

    def request(self, *lines):
        """Ask the given request lines; return {echo: value} as str."""
        body = "".join(line + "\n" for line in lines).encode()
        _header, data = self.raw(body)
        return {k.decode(): v.decode() for k, v in parse_response(data)}

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def info(port, *lines, host="127.0.0.1", timeout=5.0):
    """One-shot request on a fresh connection."""
    with InfoConnection(port, host, timeout) as conn:
        return conn.request(*lines)
