"""test_load.py - the cluster's load grows with tend intervals, not with the
number of processes.

The servers count it themselves: INFO commandstats, every cmdstat_cluster|*
(shards, slots, nodes, info ...) summed over all nodes.  One process and
then sixteen processes tend the same cluster for the same time with
tend_interval=0.2; the window includes the connects, so discovery done per
process at connect would show too.  The test itself sends no CLUSTER command
inside a window.
"""
import time

from support.worker import broadcast, connect_all

TEND = 0.2
WINDOW = 3.0


def cluster_calls_per_second(cluster, workers, key):
    """(calls/s, calls, {command: calls}) of CLUSTER commands at the servers
    while workers connect and tend for WINDOW seconds."""
    _, before = cluster.command_calls()
    start = time.monotonic()
    connect_all(workers, cluster.url(), key=key, tend_interval=TEND, takeover_timeout=30)
    time.sleep(WINDOW)
    _, after = cluster.command_calls()
    elapsed = time.monotonic() - start
    broadcast(workers, "close")
    delta = {name: n - before.get(name, 0) for name, n in after.items() if n != before.get(name, 0)}
    calls = sum(delta.values())
    return calls / elapsed, calls, delta


def test_cluster_commands_grow_with_tends_not_processes(cluster, pool, shm_keys):
    one, one_calls, one_commands = cluster_calls_per_second(cluster, pool(1), shm_keys(0))
    many, many_calls, many_commands = cluster_calls_per_second(cluster, pool(16), shm_keys(1))
    detail = "1 process: %.1f calls/s %s; 16 processes: %.1f calls/s %s" % (
        one, one_commands, many, many_commands)
    print(detail)  # shown with -s: the measured figures, not only pass/fail
    # The tender tends: at least one CLUSTER command every other interval.
    assert one_calls >= WINDOW / TEND / 2, detail
    # ... and asks for the map (CLUSTER SHARDS, or CLUSTER SLOTS as fallback).
    map_calls = sum(one_commands.get("cmdstat_cluster|" + c, 0) for c in ("shards", "slots"))
    assert map_calls >= WINDOW / TEND / 2, detail
    # Sixteen processes cost what one does (timer jitter and one extra tend
    # at a handover are the tolerance), nowhere near sixteen times.
    assert many <= one * 1.5 + 2.0 / WINDOW, detail
    assert many >= one * 0.5, detail
