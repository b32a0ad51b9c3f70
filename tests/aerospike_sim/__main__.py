"""CLI: run a simulated Aerospike cluster until told to stop.

    python3 -m tests.aerospike_sim --nodes 3 --base-port 3100 \\
        --namespaces test:2,bar:1 --control-port 3199

Prints one JSON line on stdout when every node listens:
    {"ready": true, "control_port": 3199, "nodes": [{"name": ..., "port": ...}]}
then serves until a `shutdown` control, SIGINT/SIGTERM, or (with
--watch-stdin) EOF on stdin. Logs go to stderr.
"""

import argparse
import asyncio
import json
import logging
import signal
import sys

from . import server
from .tls import TlsConfig
from .cluster import DEFAULT_BUILD, parse_namespaces


def _users(text):
    """'alice:pw1,bob:pw2' -> {'alice': 'pw1', 'bob': 'pw2'}; '' -> None (security off)."""
    if not text:
        return None
    return dict(item.split(":", 1) for item in text.split(",") if item)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m tests.aerospike_sim", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=3, help="nodes at start (default 3)")
    ap.add_argument("--base-port", type=int, default=3100, help="port of the first node")
    ap.add_argument("--namespaces", default="test:2",
                    help="name:replication-factor list, e.g. test:2,bar:1")
    ap.add_argument("--control-port", type=int, default=0,
                    help="JSON-lines control port on 127.0.0.1 (0 = any free port)")
    ap.add_argument("--host", default="127.0.0.1", help="address the nodes listen on")
    ap.add_argument("--names", default="", help="node names of the first nodes, comma list")
    ap.add_argument("--cluster-name", default=None, help="answer of `cluster-name`")
    ap.add_argument("--build", default=DEFAULT_BUILD, help="answer of `build`")
    ap.add_argument("--sc", default="", help="namespaces in strong-consistency mode, comma list")
    ap.add_argument("--seed", type=int, default=1, help="seed of the generation numbers")
    ap.add_argument("--users", default="",
                    help="security on, with these users: user:password comma list")
    ap.add_argument("--session-ttl", type=int, default=86400,
                    help="seconds a login's session token lives (default 86400)")
    ap.add_argument("--edition", default="community", choices=("community", "enterprise"),
                    help="enterprise answers rack-ids; community answers ERROR:25")
    ap.add_argument("--racks", default="",
                    help="rack id of node 0, 1, ... (comma list, repeated over the nodes)")
    ap.add_argument("--alternate-host", default=None,
                    help="nodes also listen here and announce it in peers/service-clear-alt")
    ap.add_argument("--tls-cert", default=None,
                    help="serve TLS only, with this PEM certificate ({tls_name} is replaced "
                         "by the node's TLS name)")
    ap.add_argument("--tls-key", default=None, help="its private key (same placeholder)")
    ap.add_argument("--tls-names", default="sim.tls",
                    help="TLS name of node 0, 1, ... (comma list, repeated over the nodes)")
    ap.add_argument("--tls-client-ca", default=None,
                    help="require client certificates signed by this CA (mutual TLS)")
    ap.add_argument("--watch-stdin", action="store_true", help="exit when stdin closes")
    ap.add_argument("--log-level", default="WARNING")
    args = ap.parse_args(argv)

    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    def on_ready(info):
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()

    tls = None
    if args.tls_cert:
        tls = TlsConfig(args.tls_cert, args.tls_key or args.tls_cert,
                        [n for n in args.tls_names.split(",") if n], args.tls_client_ca)

    async def amain():
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await server.run(nodes=args.nodes, base_port=args.base_port,
                             namespaces=parse_namespaces(args.namespaces),
                             control_port=args.control_port, host=args.host,
                             cluster_name=args.cluster_name, build=args.build, seed=args.seed,
                             sc=[s for s in args.sc.split(",") if s],
                             watch_stdin=args.watch_stdin, on_ready=on_ready,
                             names=[n for n in args.names.split(",") if n],
                             users=_users(args.users), session_ttl=args.session_ttl,
                             edition=args.edition,
                             racks=[int(r) for r in args.racks.split(",") if r],
                             alternate_host=args.alternate_host, tls=tls)
        except asyncio.CancelledError:
            pass

    try:
        asyncio.run(amain())
    except OSError as exc:
        # Typically a port already in use: say so plainly, no traceback.
        sys.stderr.write("aerospike_sim: cannot start: %s\n" % exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
