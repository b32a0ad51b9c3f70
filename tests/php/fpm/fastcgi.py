"""fastcgi.py - the smallest FastCGI client the pool tests need.

One request per connection (FCGI_KEEP_CONN unset, as nginx does by default),
role RESPONDER, GET with an empty body.  Invariant: every socket operation has
a timeout, so a stuck pool fails the test instead of hanging it.
"""
import socket
import struct

VERSION = 1
BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7
RESPONDER = 1


def _record(kind, content, request_id=1):
    return struct.pack(">BBHHBx", VERSION, kind, request_id, len(content), 0) + content


def _length(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def _params(params):
    body = b"".join(_length(len(k)) + _length(len(v)) + k + v
                    for k, v in ((k.encode(), str(v).encode()) for k, v in params.items()))
    out = b""
    for i in range(0, len(body), 65535):
        out += _record(PARAMS, body[i:i + 65535])
    return out + _record(PARAMS, b"")


def _read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("FastCGI server closed the connection mid-record")
        data += chunk
    return data


def request(address, params, timeout=30.0):
    """(headers dict, body bytes, stderr bytes) of one request to (host, port)."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(_record(BEGIN_REQUEST, struct.pack(">HB5x", RESPONDER, 0))
                     + _params(params) + _record(STDIN, b""))
        out, err = b"", b""
        while True:
            _, kind, _, length, padding = struct.unpack(">BBHHB", _read_exact(sock, 8)[:7])
            content = _read_exact(sock, length + padding)[:length]
            if kind == STDOUT:
                out += content
            elif kind == STDERR:
                err += content
            elif kind == END_REQUEST:
                break
    head, _, body = out.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers, body, err
