"""test_cli_check.py - `clustershm check` as a monitoring plugin: its exit
status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), its one status line with
perfdata, and its JSON (docs/schema/check.schema.json), against live
segments put in each state for real: a fresh map, a cluster that stopped
answering (stale), a tender killed with nobody to take over, a segment that
is not there, one that is not clustershm's, a map older than the
threshold, a tend error while the map is fresh, a limit reached.
"""
import ctypes
import signal
import time

from support import cli, shm
from support.checks import the_tender
from support.cluster import NOWHERE_PORTS
from support.procs import wait_for
from support.worker import connect_all

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3


def check(key, *args):
    """(exit status, state, summary, perfdata, JSON document) of one check."""
    text = cli.run("check", "--key", "0x%x" % key, *args)
    state, summary, perf = cli.plugin_line(text)
    js = cli.run("check", "--key", "0x%x" % key, "--json", *args)
    doc = cli.json_of(js, "check")
    assert js.returncode == doc["exit_code"]
    return text.returncode, state, summary, perf, doc


def test_fresh_map_is_ok_with_perfdata(cluster, pool, shm_key):
    ws = pool(2)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=0.5)
    tender, sts = the_tender(ws)
    rc, state, summary, perf, doc = check(shm_key)
    assert (rc, state) == (OK, "OK"), summary
    assert "tender pid %d" % tender.pid in summary and "6 nodes" in summary
    assert perf["nodes"] == 6 and perf["attached"] == 2 and perf["epoch"] == sts[0]["epoch"]
    assert perf["failures_in_row"] == 0 and perf["age"] < 5
    assert doc["state"] == "OK" and doc["problems"] == [] and doc["max_age"] == 5
    assert doc["status"]["owner_pid"] == tender.pid and doc["status"]["has_tender"] is True


def test_stale_map_is_critical_with_the_last_error(make_cluster, pool, shm_key):
    c = make_cluster(masters=3, replicas=0)
    [w] = pool(1)
    w.ok(w.connect_line(c.url(), key=shm_key, tend_interval=0.2, takeover_timeout=2,
                        connect_timeout=0.5))
    assert check(shm_key)[0] == OK
    c.stop()
    wait_for(lambda: w.status()["stale"], 20, "the map to go stale")
    rc, state, summary, _, doc = check(shm_key)
    assert (rc, state) == (CRITICAL, "CRITICAL"), summary
    assert "stale map" in summary
    error = w.status()["last_error"]
    assert error and error.split(":")[0] in summary, (error, summary)
    assert [p["check"] for p in doc["problems"]] == ["stale"]
    assert doc["status"]["stale"] is True and doc["status"]["last_error"]


def test_tender_killed_with_nobody_to_take_over_is_critical(cluster, pool, shm_key):
    [w] = pool(1)
    w.ok(w.connect_line(cluster.url(), key=shm_key, tend_interval=0.5))
    assert check(shm_key)[0] == OK
    w.kill()                                   # SIGKILL: the only process, nobody takes over
    rc, state, summary, _, doc = check(shm_key)
    assert (rc, state) == (CRITICAL, "CRITICAL"), summary
    assert "no tender" in summary and "no process is attached" in summary
    assert doc["status"]["has_tender"] is False and doc["status"]["attached"] == 0


def test_vacant_role_with_a_reader_attached_is_critical(cluster, pool, shm_key):
    # A process that attached without the library (it can never take the
    # role) keeps the segment attached after the tender is killed: the
    # role stays vacant, which check re-samples before it says so.
    [w] = pool(1)
    w.ok(w.connect_line(cluster.url(), key=shm_key, tend_interval=0.5))
    shmid = shm.info(shm_key)["shmid"]
    addr = shm._attach(shmid, shm.SHM_RDONLY)
    try:
        w.kill()
        started = time.monotonic()
        rc, state, summary, _, doc = check(shm_key)
        assert (rc, state) == (CRITICAL, "CRITICAL"), summary
        assert "the role stays vacant with 1 processes attached" in summary
        assert time.monotonic() - started >= 0.25, "the vacancy was not re-sampled"
    finally:
        shm._libc.shmdt(ctypes.c_void_p(addr))


def test_missing_segment_is_critical_and_foreign_unknown(shm_keys):
    missing, foreign = shm_keys(0), shm_keys(1)
    rc, state, summary, perf, doc = check(missing)
    assert (rc, state) == (CRITICAL, "CRITICAL") and "no segment at key" in summary
    assert perf == {} and doc["status"] is None and doc["max_age"] is None
    shm.create(foreign, b"\x5a" * 65536)
    rc, state, summary, _, doc = check(foreign)
    assert (rc, state) == (UNKNOWN, "UNKNOWN") and "not a clustershm segment" in summary
    assert doc["problems"][0]["check"] == "segment"


def test_age_over_the_thresholds(cluster, pool, shm_key):
    [w] = pool(1)
    w.ok(w.connect_line(cluster.url(), key=shm_key, tend_interval=60, takeover_timeout=120))
    time.sleep(0.3)                            # no tend for 60 s: the map only ages
    rc, state, summary, perf, doc = check(shm_key, "--max-age", "0.1")
    assert (rc, state) == (WARNING, "WARNING") and "warning above 0.1 s" in summary
    assert doc["max_age"] == 0.1 and doc["problems"][0]["check"] == "age"
    rc, state, summary, _, doc = check(shm_key, "--max-age", "0.1", "--critical-age", "0.2")
    assert (rc, state) == (CRITICAL, "CRITICAL") and "critical above 0.2 s" in summary
    assert check(shm_key)[0] == OK             # default: 3 x 60 s
    assert check(shm_key)[4]["max_age"] == 180


def test_tend_error_while_fresh_is_a_warning(cluster, pool, shm_key):
    # The first seed refuses; the second answers: the tend succeeds and
    # keeps the first one's error, and with tend_interval 60 s it stays.
    nowhere = NOWHERE_PORTS[0]
    [w] = pool(1)
    w.ok(w.connect_line("redis://127.0.0.1:%d,127.0.0.1:%d" % (nowhere, cluster.ports[0]),
                        key=shm_key, tend_interval=60, takeover_timeout=120))
    s = w.status()
    assert not s["stale"] and str(nowhere) in s["last_error"], s
    rc, state, summary, _, doc = check(shm_key)
    assert (rc, state) == (WARNING, "WARNING") and "tend error while the map is fresh" in summary
    assert str(nowhere) in summary and [p["check"] for p in doc["problems"]] == ["error"]


def test_limit_reached_is_a_warning(cluster, pool, shm_key):
    # A foreign segment at the successor's key: the segment cannot grow
    # (logged, retried), so the limit stays reached.
    shm.create(shm.chain_key(shm_key, 1), b"not ours" * 1000)
    ws = pool(1)
    connect_all(ws, cluster.url(), key=shm_key, max_nodes=4)
    wait_for(lambda: "it cannot grow" in ws[0].log(), 10, "the failed growth to be logged")
    rc, state, summary, perf, doc = check(shm_key)
    assert (rc, state) == (WARNING, "WARNING"), summary
    assert "the cluster has 6 nodes, max_nodes is 4" in summary
    assert perf["nodes"] == 4 and doc["status"]["nodes_truncated"] is True


def test_no_output_ever_breaks_the_line(cluster, pool, shm_key):
    # check must print exactly one line even when the segment is stopped
    # mid-way: a SIGSTOPped tender keeps its lock (the role is held) and the
    # map just ages.
    ws = pool(2)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=0.2, takeover_timeout=30)
    tender, _ = the_tender(ws)
    tender.signal(signal.SIGSTOP)
    try:
        time.sleep(0.8)
        rc, state, summary, _, _ = check(shm_key, "--max-age", "0.5")
        assert (rc, state) == (WARNING, "WARNING") and "not tending" in summary
    finally:
        tender.signal(signal.SIGCONT)
