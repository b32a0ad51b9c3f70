"""test_fpm.py - PHP-FPM pools sharing one tender through the extension.

Every route a worker returns is checked against the servers' truth; the
roles come from each worker's status().  Waits have deadlines; nothing is
timed.
"""
import json
import os
import signal
import subprocess
from urllib.parse import urlencode

import pytest

from conftest import CHILDREN, SCRIPT, aerospike_target, redis_target, segment_stat, until

OPTIONS = dict(tend_interval=0.5)


def reach_every_child(pool, target, key, **options):
    """Concurrent requests that hold their worker a little, until every child
    has answered; {pid: latest answer}."""
    seen = {}
    children = pool.children()

    def all_seen():
        for a in pool.burst([target.query(key, sleep_ms=150, **options)] * CHILDREN):
            target.check(a)
            seen[a["pid"]] = a
        return children <= set(seen)

    until(all_seen, 60, "every child of the pool to answer")
    return seen


@pytest.mark.parametrize("kind", ["redis", "aerospike"])
def test_every_route_is_the_truth_and_one_child_tends(pool, shm_keys, env, tmp_path, kind):
    target = (redis_target if kind == "redis" else aerospike_target)(env, tmp_path)
    p = pool()
    seen = reach_every_child(p, target, shm_keys[0], **OPTIONS)
    # Roles settle within a tend: read them again from every child.
    seen = reach_every_child(p, target, shm_keys[0], **OPTIONS)
    tenders = [pid for pid, a in seen.items() if a["status"]["role"] == "tender"]
    assert len(tenders) == 1, {pid: a["status"]["role"] for pid, a in seen.items()}
    assert tenders[0] in p.children()
    assert {a["status"]["owner_pid"] for a in seen.values()} == set(tenders)
    # One segment, every child attached to it once.
    shmids = {a["status"]["shmid"] for a in seen.values()}
    assert len(shmids) == 1
    assert all(a["status"]["attached"] >= CHILDREN for a in seen.values())


def test_kill_9_of_the_tender_child(pool, shm_keys, env, tmp_path):
    target = redis_target(env, tmp_path)
    p = pool()
    seen = reach_every_child(p, target, shm_keys[0], **OPTIONS)
    tender = next(pid for pid, a in seen.items() if a["status"]["role"] == "tender")
    epoch = max(a["status"]["epoch"] for a in seen.values())
    before = p.children()

    os.kill(tender, signal.SIGKILL)
    # FPM replaces the child; another child takes over at once (robust lock).
    until(lambda: len(p.children() - before) == 1 and tender not in p.children(), 30,
          "FPM to replace the killed child")
    replacement = (p.children() - before).pop()

    answers = {}

    def replacement_answered():
        for a in p.burst([target.query(shm_keys[0], sleep_ms=150, **OPTIONS)] * CHILDREN):
            target.check(a)
            answers[a["pid"]] = a
        return replacement in answers and len(answers) >= CHILDREN

    until(replacement_answered, 60, "the replacement child to answer")
    new_owner = answers[replacement]["status"]["owner_pid"]
    assert answers[replacement]["status"]["role"] == "follower"
    assert new_owner != tender and new_owner in before
    assert answers[replacement]["status"]["epoch"] > epoch
    if new_owner in answers:
        assert answers[new_owner]["status"]["role"] == "tender"
    assert segment_stat(shm_keys[0])["dead_takeovers"] >= 1


@pytest.mark.parametrize("kind", ["redis", "aerospike"])
def test_recycling_never_fails_a_route_and_moves_the_tender(pool, shm_keys, env, tmp_path, kind):
    target = (redis_target if kind == "redis" else aerospike_target)(env, tmp_path)
    p = pool(max_requests=50)
    total, per_request = 2000, 20
    n = len(target.expected)
    queries = [target.query(shm_keys[0], start=(i * per_request) % (n - per_request),
                            count=per_request, **OPTIONS) for i in range(total)]
    answers = p.burst(queries)
    for q, a in zip(queries, answers):
        target.check(a, q["from"], per_request)
    owners = [a["status"]["owner_pid"] for a in answers]
    epochs = [a["status"]["epoch"] for a in answers]
    pids = {a["pid"] for a in answers}
    # 2,000 requests at 50 per child: about 40 children served, and each
    # tender that was recycled handed the role on.
    assert len(pids) >= total // 50 - CHILDREN
    assert len(set(owners)) >= 2
    assert max(epochs) > min(epochs)
    # A recycled child shuts down (GSHUTDOWN closes its client): every change
    # of tender was a clean handoff, none waited for a dead or hung tender.
    stat = segment_stat(shm_keys[0])
    assert stat["handoffs"] >= 1
    assert stat["dead_takeovers"] == 0 and stat["hung_takeovers"] == 0


def test_cgi_fcgi_drives_the_pool(pool, shm_keys, env, tmp_path):
    """The same script through libfcgi's cgi-fcgi, as an operator would."""
    target = redis_target(env, tmp_path, limit=20)
    p = pool()
    query = target.query(shm_keys[0], **OPTIONS)
    out = subprocess.run(["cgi-fcgi", "-bind", "-connect", "127.0.0.1:%d" % p.port],
                         env=dict(os.environ, REQUEST_METHOD="GET", SCRIPT_FILENAME=SCRIPT,
                                  QUERY_STRING=urlencode(query)),
                         capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    body = out.stdout.split(b"\r\n\r\n", 1)[1]
    target.check(json.loads(body))
