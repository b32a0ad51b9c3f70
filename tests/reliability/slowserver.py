"""slowserver.py - a fake Redis Cluster node that answers CLUSTER SHARDS
slowly, run as its own process: `python3 slowserver.py PORT DELAY`.

It stretches a tend honestly, from the outside: a tender that asks it waits
DELAY seconds for the answer, as it would for a slow node, so a SIGSTOP at
a random moment often lands in the middle of a tend.  Nothing in the
library under test is changed or hooked.

The answer (RESP2, the shape redis-server 7.0 gives) describes three shards
of a master and a replica each; the first master is this server itself, the
other nodes are ports nobody listens on (the map only names them).  Two
slot layouts alternate from one answer to the next, so every tend publishes
a changed map with a new generation.  PING answers PONG; any other command
an error.

It prints "ready" once listening, then one line per CLUSTER SHARDS:
"req <n> <t>" when a request arrives and "ans <n> <t>" when it is answered
(t: time.monotonic(), CLOCK_MONOTONIC, the tests' clock), so a test can
tell whether a tend was in flight at a given moment.  It runs until killed
(PR_SET_PDEATHSIG covers a killed run).
"""
import itertools
import socket
import sys
import threading
import time

LAYOUTS = [[(0, 5460), (5461, 10922), (10923, 16383)],
           [(0, 4999), (5000, 10999), (11000, 16383)]]

_answers = itertools.count()
_requests = itertools.count()
_print_lock = threading.Lock()


def log(kind, n):
    with _print_lock:
        print("%s %d %.6f" % (kind, n, time.monotonic()), flush=True)


def bulk(s):
    b = s.encode() if isinstance(s, str) else s
    return b"$%d\r\n%s\r\n" % (len(b), b)


def array(items):
    return b"*%d\r\n" % len(items) + b"".join(items)


def integer(n):
    return b":%d\r\n" % n


def node(index, port, role):
    return array([bulk("id"), bulk("%040x" % (0xC0FFEE00 + index)),
                  bulk("port"), integer(port),
                  bulk("ip"), bulk("127.0.0.1"),
                  bulk("endpoint"), bulk("127.0.0.1"),
                  bulk("role"), bulk(role),
                  bulk("replication-offset"), integer(1000),
                  bulk("health"), bulk("online")])


def shards_reply(own_port, n):
    shards = []
    for i, (lo, hi) in enumerate(LAYOUTS[n % 2]):
        master_port = own_port if i == 0 else own_port + 2 * i
        shards.append(array([
            bulk("slots"), array([integer(lo), integer(hi)]),
            bulk("nodes"), array([node(2 * i, master_port, "master"),
                                  node(2 * i + 1, own_port + 2 * i + 1, "replica")]),
        ]))
    return array(shards)


def read_command(f):
    """One RESP array of bulk strings, as a list of bytes; None at EOF."""
    line = f.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        return [line.strip()]
    args = []
    for _ in range(int(line[1:])):
        size = int(f.readline()[1:])
        args.append(f.read(size + 2)[:size])
    return args


def serve(conn, own_port, delay):
    with conn, conn.makefile("rb") as f:
        try:
            while True:
                args = read_command(f)
                if args is None:
                    return
                words = [a.upper() for a in args]
                if words == [b"CLUSTER", b"SHARDS"]:
                    n = next(_requests)
                    log("req", n)
                    time.sleep(delay)
                    reply = shards_reply(own_port, next(_answers))
                    conn.sendall(reply)
                    log("ans", n)
                elif words == [b"PING"]:
                    conn.sendall(b"+PONG\r\n")
                else:
                    conn.sendall(b"-ERR unknown command of a fake server\r\n")
        except (OSError, ValueError):
            return


def main():
    port, delay = int(sys.argv[1]), float(sys.argv[2])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, port, delay), daemon=True).start()


if __name__ == "__main__":
    main()
