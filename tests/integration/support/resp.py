"""resp.py - a tiny RESP2 client: the tests' own view of Redis, independent
of the library under test.

Invariants: every argument goes out as a bulk string (so binary keys travel
byte for byte); every socket operation has a timeout; an error reply is
returned as a RespError value (not raised) by `pipeline`, and raised by
`call`, so a pipeline of many commands never loses its place in the stream;
a connection made with `auth` (a password, or (user, password)) sends AUTH
first and raises when the server refuses it; one made with `tls` (an
ssl.SSLContext) speaks TLS, verifying the server.
"""
import socket


class RespError(Exception):
    """An error reply (-ERR ...) from the server."""


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def auth_args(auth):
    """AUTH's arguments for a password or a (user, password) pair."""
    if isinstance(auth, (tuple, list)):
        return ("AUTH",) + tuple(auth)
    return ("AUTH", auth)


class Connection:
    def __init__(self, host, port, timeout=10.0, auth=None, tls=None):
        """tls: an ssl.SSLContext for a TLS port (verifying host)."""
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=host)
        self.sock.settimeout(timeout)
        self.buf = bytearray()
        self.pos = 0
        if auth is not None:
            try:
                self.call(*auth_args(auth))
            except BaseException:
                self.close()
                raise

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        # Drop what was consumed so the buffer does not grow forever.
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos : i])
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n + 2
        return data

    def read_reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read_reply() for _ in range(n)]
        raise ConnectionError("unexpected RESP type %r" % line[:40])

    def pipeline(self, commands):
        """Sends every command, then reads every reply, in order."""
        self.sock.sendall(b"".join(encode(c) for c in commands))
        return [self.read_reply() for _ in commands]

    def call(self, *args):
        reply = self.pipeline([args])[0]
        if isinstance(reply, RespError):
            raise reply
        return reply


def call(port, *args, host="127.0.0.1", timeout=10.0, auth=None, tls=None):
    """One command on a short-lived connection."""
    with Connection(host, port, timeout, auth=auth, tls=tls) as c:
        return c.call(*args)


def pairs(flat):
    """A RESP2 flat [k1, v1, k2, v2...] map as a dict with str keys."""
    out = {}
    for i in range(0, len(flat) - 1, 2):
        k = flat[i]
        out[k.decode() if isinstance(k, bytes) else k] = flat[i + 1]
    return out


def text(value):
    return value.decode() if isinstance(value, bytes) else value
