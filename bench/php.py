"""php.py - groups 1 and 5 from PHP: a real php-fpm pool (tests/php/fpm's
Pool: Debian's php8.2-fpm, 8 static children) serving requests that each
make a client and GET one key, with phpredis's RedisCluster (default, and
redis.clusters.cache_slots=1) and ClusterShm\\RedisCluster; then, from the
php CLI, route() per call beside a GET.

Invariants: CLUSTER* commands are counted at the servers (CONFIG RESETSTAT
before the pool starts, INFO commandstats after it stopped), so a worker's
startup and exit are counted too; our side's tender is the first worker
that connects (no outside help), and its tends are counted.
"""
import os
import subprocess
import sys
import tempfile
import time

from common import (ROOT, Report, cluster_calls, commandstats, median, only_cluster,
                    percentile, shm_key)

sys.path.insert(0, os.path.join(ROOT, "tests", "php", "fpm"))

HERE = os.path.dirname(os.path.abspath(__file__))
FPM_SCRIPT = os.path.join(HERE, "php", "fpm_get.php")
ROUTE_SCRIPT = os.path.join(HERE, "php", "route.php")


def phpredis_version():
    out = subprocess.run(["php", "-r", "echo phpversion('redis');"], capture_output=True,
                         text=True, timeout=30)
    return "phpredis " + (out.stdout.strip() or "?")


def fpm_pool(cluster, stats, ext, quick):
    os.environ["CSHM_PHP_EXT"] = ext
    import conftest   # tests/php/fpm: Pool and phpredis_extensions
    rep = Report(1, "php-fpm pool (8 children, pm.max_requests=50), requests doing one GET")
    requests = 100 if quick else 1000
    seeds = ",".join("127.0.0.1:%d" % p for p in cluster.ports[:3])
    key = shm_key(1)
    peer = phpredis_version()
    # Every pool runs with OPcache, as production php-fpm does: without it
    # each request compiles the Composer package's PHP anew (~1.3 ms here),
    # which phpredis, all C, never pays.
    opcache = ("zend_extension=opcache", "opcache.enable=1")
    variants = [("%s default" % peer, "phpredis", opcache),
                ("%s cache_slots=1" % peer, "phpredis", opcache + ("redis.clusters.cache_slots=1",)),
                ("clustershm", "clustershm", opcache)]
    out = {}
    workdir = tempfile.mkdtemp(prefix="clustershm-bench-fpm-")
    for i, (name, client, ini) in enumerate(variants):
        stats.reset()
        pool = conftest.Pool(os.path.join(workdir, str(i)), max_requests=50,
                             extensions=conftest.phpredis_extensions(), ini=ini)
        try:
            queries = [{"client": client, "seeds": seeds, "url": cluster.url(3), "key": key,
                        "k": "bench:%d" % r} for r in range(requests)]
            t0 = time.monotonic()
            answers = pool.burst(queries, script=FPM_SCRIPT)
            wall = time.monotonic() - t0
        finally:
            pool.stop()
        c = commandstats(stats.conns)
        errors = [a for a in answers if "error" in a]
        us = [a["us"] for a in answers if "us" in a]
        out[name] = {"cluster": cluster_calls(c), "detail": only_cluster(c), "errors": len(errors),
                     "first_error": errors[0]["error"] if errors else None,
                     "p50_us": median(us), "p99_us": percentile(us, 0.99),
                     "processes": len({a["pid"] for a in answers}), "wall": wall, "us": us}
    ours = out["clustershm"]
    for name, _, _ in variants[:2]:
        p = out[name]
        rep.row("CLUSTER* per %d requests" % requests, ours["cluster"], p["cluster"], "",
                name, "%d")
        rep.row("per-request median (client made + GET)", ours["p50_us"], p["p50_us"], "us",
                name, "%.0f")
    rep.note("every pool with OPcache (zend_extension=opcache); the median is timed inside "
             "the request, from the constructor to the GET's answer")
    for name, f in out.items():
        rep.note("%s: %d worker processes, errors %d%s, p99 %.0f us, commands %s"
                 % (name, f["processes"], f["errors"],
                    " (%s)" % f["first_error"] if f["first_error"] else "", f["p99_us"],
                    f["detail"]))
    rep.data = out
    return rep


def php_routing(cluster, ext, tender_start, tender_stop, quick):
    rep = Report(5, "Per-call routing from PHP (php CLI)")
    key = shm_key(6)
    tender = tender_start(cluster.url(3), key)
    seeds = ",".join("127.0.0.1:%d" % p for p in cluster.ports[:3])
    try:
        argv = ["php", "-n"]
        os.environ["CSHM_PHP_EXT"] = ext
        import conftest
        for name in conftest.phpredis_extensions() + [ext]:
            argv += ["-d", "extension=" + name]
        out = subprocess.run(argv + [ROUTE_SCRIPT, cluster.url(3), str(key), seeds,
                                     str(5000 if quick else 200000)],
                             capture_output=True, text=True, timeout=600)
    finally:
        tender_stop(tender)
    if out.returncode != 0:
        rep.note("failed: %s %s" % (out.stdout[-500:], out.stderr[-500:]))
        return rep
    import json
    res = json.loads(out.stdout)
    peer = phpredis_version()
    rep.row("route() vs a GET through ClusterShm\\RedisCluster", res["route"],
            res["get_clustershm"], "ns/call", "GET", "%.0f")
    rep.row("GET: ClusterShm\\RedisCluster vs phpredis", res["get_clustershm"],
            res["get_phpredis"], "ns/call", peer, "%.0f")
    rep.note("of which the PHP loop and closure call: %.0f ns/call; redis_slot() alone %.0f "
             "ns/call (target for route(): < 250 ns)" % (res["loop"], res["redis_slot"]))
    rep.data = res
    return rep
