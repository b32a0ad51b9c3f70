#!/usr/bin/env python3
"""redis-commands.py - writes ext-python/redis/commands.json, the command
table the clustershm.redis drop-in gives redis-py's CommandsParser, so that
a new RedisCluster sends no COMMAND to the servers.

    python3 scripts/redis-commands.py            # starts a throwaway redis-server
    python3 scripts/redis-commands.py --port N   # asks the server on 127.0.0.1:N

What the parser reads is COMMAND (the COMMAND INFO of every command: name,
arity, flags, key positions, ACL categories, tips, key specifications,
subcommands); COMMAND DOCS (summaries, arguments) plays no part in finding
keys and is not stored.  The reply is stored as the server sent it in RESP2
(strings as text, integers as numbers), one command per line, sorted by
name, with the server's version; the drop-in encodes the strings the way the
client's decode_responses would and runs redis-py's own COMMAND callback on
it, so the parser gets what `COMMAND` would have given it.  Generated from
Debian's redis-server 7.0; rerun it after a server upgrade that adds
commands (commands unknown to the table still work: the parser asks the
server for them, as redis-py does).

Invariants: every socket operation has a timeout; the throwaway server lives
in a temporary directory, saves nothing, and is stopped whatever happens.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "ext-python", "redis", "commands.json")


class Resp:
    """Just enough RESP2 to read COMMAND and INFO."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.read()

    def read(self):
        line = self.file.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)[:-2]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError("unexpected RESP type %r" % kind)

    def close(self):
        self.file.close()
        self.sock.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def table(port):
    r = Resp(port)
    try:
        info = r.call("INFO", "server")
        version = [line.split(":", 1)[1].strip() for line in info.splitlines()
                   if line.startswith("redis_version:")][0]
        commands = sorted(r.call("COMMAND"), key=lambda c: c[0])
    finally:
        r.close()
    return version, commands


def write(version, commands, path):
    lines = [json.dumps(c, separators=(",", ":")) for c in commands]
    with open(path, "w") as f:
        f.write('{"generator": "scripts/redis-commands.py", "reply": "COMMAND (RESP2)",\n')
        f.write(' "redis_version": %s,\n' % json.dumps(version))
        f.write(' "commands": [\n' + ",\n".join(lines) + "\n]}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, help="ask this server instead of starting one")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    if args.port:
        version, commands = table(args.port)
    else:
        port = free_port()
        with tempfile.TemporaryDirectory() as d:
            server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                       "--save", "", "--appendonly", "no", "--dir", d],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 20
                while True:
                    try:
                        version, commands = table(port)
                        break
                    except OSError:
                        if time.monotonic() > deadline or server.poll() is not None:
                            raise
                        time.sleep(0.05)
            finally:
                server.kill()
                server.wait(10)
    write(version, commands, args.out)
    print("%s: %d commands of redis-server %s" % (os.path.relpath(args.out), len(commands),
                                                   version), file=sys.stderr)


if __name__ == "__main__":
    main()
