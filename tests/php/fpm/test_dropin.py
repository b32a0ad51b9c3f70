"""test_dropin.py - a PHP-FPM pool (8 children, pm.max_requests = 50) whose
requests GET and SET through ClusterShm\\RedisCluster, counted at the
servers: every command reaches its slot's master at once, and no request
discovers the cluster - the only CLUSTER requests the servers see are the
tender's tends (counted by the segment itself), and no COMMAND at all.

Invariants: the counts come from the servers (CONFIG RESETSTAT before the
requests, INFO commandstats/errorstats/stats after, on connections opened
before the reset) and from the segment (`clustershm stat`), never from the
workers; nothing is timed.
"""
import json
import os

from conftest import CHILDREN, HERE, phpredis_extensions, segment_stat
from support.cluster import CommandStats, RedisCluster
from support.resp import text

SCRIPT = os.path.join(HERE, "www", "redis.php")
REQUESTS = 800
KEYS_PER_REQUEST = 5


def info_sum(stats, section, field_of, ports=None):
    """Sum over the nodes (of ports, default all) of field_of(name, value) of
    each INFO section line (a dict per line)."""
    total = {}
    for port, c in stats.conns.items():
        if ports is not None and port not in ports:
            continue
        for line in text(c.call("INFO", section)).splitlines():
            name, sep, value = line.partition(":")
            if sep and not line.startswith("#"):
                for key, n in field_of(name, value).items():
                    total[key] = total.get(key, 0) + n
    return total


def calls_of(name, value):
    if not name.startswith("cmdstat_"):
        return {}
    fields = dict(f.split("=") for f in value.split(","))
    return {name[len("cmdstat_"):]: int(fields["calls"])}


def test_requests_send_no_cluster_discovery(pool, shm_keys, env, tmp_path):
    r = env["redis"]
    p = pool(max_requests=50, extensions=phpredis_extensions())
    opts = json.dumps({"key": shm_keys[0], "tend_interval": 0.5})
    queries = [{"url": r["url"], "opts": opts, "prefix": "fpm:%d" % i, "count": KEYS_PER_REQUEST}
               for i in range(REQUESTS)]
    with CommandStats(RedisCluster(r["ports"], str(tmp_path))) as stats:
        stats.reset()
        answers = p.burst(queries, script=SCRIPT)
        calls = info_sum(stats, "commandstats", calls_of)
        # Replicas count what they replicate: the application's commands at the masters.
        masters = {int(a.rsplit(":", 1)[1]) for a in r["slot_owners"]}
        master_calls = info_sum(stats, "commandstats", calls_of, masters)
        errors = info_sum(stats, "errorstats", lambda n, v: {n: int(v.split("=")[1])}
                          if n.startswith("errorstat_") else {})
        connections = info_sum(stats, "stats", lambda n, v: {n: int(v)}
                               if n == "total_connections_received" else {})
        stat = segment_stat(shm_keys[0])

    bad = [a for a in answers if not a.get("ok")]
    assert not bad, bad[:3]
    pids = {a["pid"] for a in answers}
    cluster = sum(n for name, n in calls.items() if name.startswith("cluster"))
    command = sum(n for name, n in calls.items() if name == "command" or name.startswith("command|"))
    summary = ("%d requests from %d worker processes: SET %d, GET %d; CLUSTER %d (%s) for %d tends "
               "+ %d failed; COMMAND %d; connections %d; handoffs %d; errors %s; ECHO %d (phpredis's "
               "liveness check of a reused persistent socket)"
               % (REQUESTS, len(pids), master_calls.get("set", 0), master_calls.get("get", 0), cluster,
                  {k: v for k, v in calls.items() if k.startswith("cluster")}, stat["tends"],
                  stat["tend_failures"], command, connections.get("total_connections_received", 0),
                  stat["handoffs"], errors, calls.get("echo", 0)))
    print("\n" + summary)
    # pm.max_requests recycled the children: many processes, each attached
    # once and each a possible tender.
    assert len(pids) > CHILDREN, summary
    # Every command straight to its slot's master: exactly the application's
    # commands, no redirect, no error.
    assert master_calls.get("set") == REQUESTS * KEYS_PER_REQUEST, summary
    assert master_calls.get("get") == REQUESTS * KEYS_PER_REQUEST, summary
    assert errors == {}, summary
    # No discovery per request or per process: no COMMAND, and no CLUSTER
    # request but the tenders' (one CLUSTER SHARDS per tend; a tend may be
    # in flight while the segment is read).
    assert command == 0, summary
    assert cluster <= stat["tends"] + stat["tend_failures"] + 1, summary
    assert cluster < REQUESTS / 10, summary
    # One socket per node per worker (pconnect), kept across its requests:
    # at most 3 masters per process, plus the tenders' own.
    assert connections.get("total_connections_received", 0) <= 3 * len(pids) + stat["handoffs"] + 4, summary
