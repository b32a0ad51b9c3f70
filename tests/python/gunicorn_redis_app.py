"""gunicorn_redis_app.py - the WSGI app test_redis_dropin.py serves with
`gunicorn -w 4 --preload`: one module-level clustershm.redis.RedisCluster,
made at import, so in the master (which tends: it connected first), and
inherited by every worker through fork.

    GET /status?hold=SECONDS   {"pid", "status"} of the drop-in's clustershm client
    GET /setget?hold=SECONDS   {"pid", "status": {"role", "ok", "detail"}}: this worker
                               SETs keys across every master, GETs them back, and MGETs
                               two keys of one slot; ok when every answer is right

Invariant: every answer names the pid that made it, so the test can tell
workers apart.
"""
import json
import os
import time
from urllib.parse import parse_qs

from clustershm.redis import RedisCluster

RC = RedisCluster(os.environ["CSHM_TEST_URL"], key=int(os.environ["CSHM_TEST_KEY"]),
                  tend_interval=0.2, takeover_timeout=5, decode_responses=True)


def setget():
    pid = os.getpid()
    want = {"gunicorn:%d:%d" % (pid, i): "v%d" % i for i in range(30)}
    for k, v in want.items():
        RC.set(k, v)
    got = {k: RC.get(k) for k in want}
    RC.set("{gunicorn:%d}a" % pid, "a")
    RC.set("{gunicorn:%d}b" % pid, "b")
    pair = RC.mget("{gunicorn:%d}a" % pid, "{gunicorn:%d}b" % pid)
    ok = got == want and pair == ["a", "b"]
    return {"role": RC.clustershm.status()["role"], "ok": ok,
            "detail": None if ok else {"got": got, "pair": pair}}


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    time.sleep(float(query.get("hold", ["0"])[0]))
    if path == "/status":
        answer = {"pid": os.getpid(), "status": RC.clustershm.status()}
    elif path == "/setget":
        answer = {"pid": os.getpid(), "status": setget()}
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]
