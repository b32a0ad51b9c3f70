"""gunicorn_app.py - the WSGI app test_gunicorn.py serves with `gunicorn -w 8`.

One module-level client, as an application would have it: made and
connected at import, so in the master with --preload (the workers inherit
it through fork) and in each worker without.  Invariant: every answer names
the pid that made it, so the test can tell workers apart.

    GET  /status?hold=SECONDS   {"pid", "status"} after sleeping SECONDS
    POST /route  (hex keys, one per line)   {"pid", "routes": ["host:port"]}
    GET  /late?hold=SECONDS     {"pid", "status"} of a second client that each
                                worker connects at its first request (after
                                the fork), when CSHM_TEST_LATE_KEY is set

CSHM_TEST_MAX_NODES sets the client's max_nodes (test_gunicorn.py's growth
test starts the pool with a segment too small for the cluster it grows).

The late client resolves the URL's host names in the worker itself: with
--preload that is a process forked moments after the master resolved the
same names.
"""
import json
import os
import threading
import time
from urllib.parse import parse_qs

import clustershm

CLIENT = clustershm.connect(os.environ["CSHM_TEST_URL"], key=int(os.environ["CSHM_TEST_KEY"]),
                            tend_interval=0.2, takeover_timeout=1.0,
                            connect_timeout=0.5,
                            max_nodes=int(os.environ.get("CSHM_TEST_MAX_NODES", "64")))


_late = None
_late_lock = threading.Lock()


def late_client():
    global _late
    with _late_lock:
        if _late is None:
            _late = clustershm.connect(os.environ["CSHM_TEST_URL"],
                                       key=int(os.environ["CSHM_TEST_LATE_KEY"]),
                                       tend_interval=0.2, takeover_timeout=3,
                                       connect_timeout=1.5)
        return _late


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/status":
        time.sleep(float(query.get("hold", ["0"])[0]))
        answer = {"pid": os.getpid(), "status": CLIENT.status()}
    elif path == "/late":
        time.sleep(float(query.get("hold", ["0"])[0]))
        answer = {"pid": os.getpid(), "status": late_client().status()}
    elif path == "/route":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        keys = [bytes.fromhex(line) for line in body.decode().split("\n")]
        answer = {"pid": os.getpid(), "routes": ["%s:%d" % CLIENT.route(k) for k in keys]}
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]
