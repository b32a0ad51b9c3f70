"""test_cli.py - `clustershm stat --key K [--json]` describes a live segment
as the processes and the servers see it, with the figures status() gives
under the same names; `list` finds clustershm segments and only them; `rm`
removes only unused clustershm segments; every command has a complete
--help and bad usage exits 2.

stat also gives the verdict of the published snapshot's checksum
(snapshot_ok, snapshot_error).  Every JSON document is validated against
docs/schema/ (support/cli.py), undocumented keys included.  check, watch and
the metrics have files of their own (test_cli_check.py, test_cli_watch.py,
test_cli_metrics.py).
"""
import json
import re
import struct
import subprocess

from support import cli, shm
from support.checks import the_tender
from support.worker import LAYOUT, connect_all


def run_cli(*args):
    return cli.run(*args)


def as_int(value):
    return int(value, 0) if isinstance(value, str) else value


def test_stat_json_describes_the_segment(cluster, pool, shm_key):
    ws = pool(3)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=0.5)
    tender, sts = the_tender(ws)
    out = run_cli("stat", "--key", "0x%x" % shm_key, "--json")
    assert out.returncode == 0, out.stderr
    j = cli.json_of(out, "stat")
    seg = shm.info(shm_key)
    assert as_int(j["key"]) == shm_key
    assert j["shmid"] == seg["shmid"]
    assert j["size"] == seg["size"] == sts[0]["segment_size"]
    assert j["attached"] >= 3
    assert j["tender_pid"] == tender.pid
    assert j["epoch"] == sts[0]["epoch"]
    assert j["generation"] >= sts[0]["generation"]
    assert j["tended_at"] > 0 and j["age"] >= 0
    assert j["stale"] is False
    assert j["snapshot_ok"] is True and j["snapshot_error"] == "", j["snapshot_error"]
    assert j["driver"] == "redis"
    assert "127.0.0.1:%d" % cluster.ports[0] in j["identity"]
    assert not j["last_error"]
    slots = {p: n for p, _, n in cluster.masters()}
    nodes = {n["port"]: n for n in j["nodes"]}
    assert sorted(nodes) == sorted(cluster.ports)
    for port, n in nodes.items():
        assert n["host"] == "127.0.0.1" and n["active"] is True and n["name"]
        assert n["is_master"] == (port in slots)
        assert n["partitions"] == slots.get(port, 0)


def test_stat_text_and_missing_segment(cluster, pool, shm_key, shm_keys):
    ws = pool(2)
    connect_all(ws, cluster.url(), key=shm_key)
    tender, _ = the_tender(ws)
    out = run_cli("stat", "--key", "0x%x" % shm_key)
    assert out.returncode == 0, out.stderr
    assert str(tender.pid) in out.stdout
    assert str(shm.info(shm_key)["shmid"]) in out.stdout
    assert "checksum ok" in out.stdout, out.stdout
    missing = run_cli("stat", "--key", "0x%x" % shm_keys(1), "--json")
    assert missing.returncode != 0
    assert missing.stderr.strip(), "a missing segment must be reported on stderr"


def test_stat_reports_a_snapshot_that_fails_its_checksum(cluster, pool, shm_key):
    # A long tend interval keeps the scribbled slot published while we look.
    ws = pool(2)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=20, takeover_timeout=30)
    lay = json.loads(subprocess.run([LAYOUT], capture_output=True, text=True, timeout=10,
                                    check=True).stdout)
    seg = shm.info(shm_key)
    state, = struct.unpack_from("<Q", shm.read(seg["shmid"], lay["header_size"]), lay["state"])
    slot = (state & 0xFF) - 1
    stride = (seg["size"] - lay["header_size"]) // lay["slots"]
    payload = lay["header_size"] + slot * stride + lay["slot_head_size"] + lay["record_size"]
    # The first byte of node 0's name, just after the counts block: a stray
    # write that changes no route.
    where = payload + lay["counts_size"]
    before = shm.read(seg["shmid"], where + 1)[where]
    shm.write_at(seg["shmid"], where, bytes([before ^ 0x01]))
    try:
        out = run_cli("stat", "--key", "0x%x" % shm_key, "--json")
        assert out.returncode == 0, out.stderr
        j = json.loads(out.stdout)
        assert j["snapshot_ok"] is False
        assert "checksum mismatch" in j["snapshot_error"], j["snapshot_error"]
        text = run_cli("stat", "--key", "0x%x" % shm_key)
        assert "checksum mismatch" in text.stdout, text.stdout
        # check calls it CRITICAL
        crit = run_cli("check", "--key", "0x%x" % shm_key, "--json")
        assert crit.returncode == 2, crit.stdout
        problems = cli.json_of(crit, "check")["problems"]
        assert [p["check"] for p in problems] == ["snapshot"], problems
        assert "checksum mismatch" in problems[0]["message"]
        answer = ws[0].cmd("verify")
        assert answer["ok"] is False and answer["code"] == -3, answer
        assert "checksum mismatch" in answer["error"]
        # route() reads what it uses and still answers.
        assert ws[1].route(b"user:1")["port"] in cluster.ports
    finally:
        shm.write_at(seg["shmid"], where, bytes([before]))
    assert ws[0].ok("verify")
    assert json.loads(run_cli("stat", "--key", "0x%x" % shm_key, "--json").stdout)["snapshot_ok"]


def test_list_shows_our_segments_only(cluster, pool, shm_key, shm_keys):
    ws = pool(2)
    connect_all(ws, cluster.url(), key=shm_key)
    tender, sts = the_tender(ws)
    foreign = shm_keys(1)
    shm.create(foreign, b"not ours" * 100)
    out = run_cli("list", "--json")
    assert out.returncode == 0, out.stderr
    listed = {as_int(s["key"]): s for s in cli.json_of(out, "list")["segments"]}
    assert shm_key in listed
    assert foreign not in listed, "a segment of another program was listed"
    ours = listed[shm_key]
    assert ours["shmid"] == shm.info(shm_key)["shmid"]
    assert ours["attached"] >= 2 and ours["tender_pid"] == tender.pid
    assert ours["epoch"] == sts[0]["epoch"] and ours["driver"] == "redis"
    text = run_cli("list")
    assert text.returncode == 0 and ("0x%08x" % shm_key) in text.stdout


def test_rm_removes_only_unused_clustershm_segments(cluster, pool, shm_key, shm_keys):
    ws = pool(2)
    connect_all(ws, cluster.url(), key=shm_key)
    busy = run_cli("rm", "--key", "0x%x" % shm_key)
    assert busy.returncode == 1 and "attached" in busy.stderr
    assert shm.info(shm_key) is not None, "a segment in use was removed without --force"

    foreign = shm_keys(1)
    shm.create(foreign, b"\x5a" * 4096)
    refused = run_cli("rm", "--key", "0x%x" % foreign, "--force")
    assert refused.returncode == 1 and "not a clustershm segment" in refused.stderr
    assert shm.info(foreign) is not None, "a foreign segment was removed"

    # Processes killed without close leave the segment behind (the kernel
    # detaches them; nobody removes it): `rm` removes it.
    for w in ws:
        w.kill()
    assert shm.info(shm_key)["nattch"] == 0
    done = run_cli("rm", "--key", "0x%x" % shm_key)
    assert done.returncode == 0, done.stderr
    assert shm.info(shm_key) is None


# Figures that stay put while nobody tends (tend_interval 60 s): stat must
# give exactly what status() gives.  age moves with the clock.
STEADY = ["shmid", "segment_size", "attached", "driver", "identity", "owner_pid", "has_tender",
          "epoch", "generation", "has_map", "tended_at", "stale", "nodes_seen",
          "namespaces_seen", "max_nodes", "max_namespaces", "nodes_truncated",
          "namespaces_truncated", "replicas_truncated", "tends", "tend_failures", "handoffs",
          "dead_takeovers", "hung_takeovers", "step_downs", "failures_in_row", "tend_interval",
          "takeover_timeout", "min_refresh_interval", "last_error", "step_down_history"]


def test_stat_json_matches_status_of_a_live_worker(cluster, pool, shm_key):
    ws = pool(2)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=60, takeover_timeout=120)
    tender, _ = the_tender(ws)
    before = tender.status()
    j = cli.json_of(run_cli("stat", "--key", "0x%x" % shm_key, "--json"), "stat")
    after = tender.status()
    assert before == {**after, "age": before["age"]}, "the segment changed during the test"
    assert j["schema_version"] == 1
    assert as_int(j["key"]) == before["key"]
    for name in STEADY:
        assert j[name] == before[name], (name, j[name], before[name])
    assert before["age"] - 0.01 <= j["age"] <= after["age"] + 0.01
    # where stat's names of earlier versions differ, they say the same
    assert j["tender_pid"] == j["owner_pid"] and j["size"] == j["segment_size"]
    assert len(j["nodes"]) == before["nodes"] and len(j["namespaces"]) == before["namespaces"]
    assert j["publisher_epoch"] == before["epoch"]


def test_list_finds_exactly_ours(cluster, pool, shm_keys):
    a, b, foreign, unused = shm_keys(0), shm_keys(1), shm_keys(2), shm_keys(3)
    ws = pool(3)
    connect_all(ws[:2], cluster.url(), key=a)
    connect_all(ws[2:], cluster.url(), key=b, tend_interval=0.5)
    shm.create(foreign, b"CLSHMSEG" + b"\0" * 9000)    # the magic alone does not make it ours
    listed = cli.json_of(run_cli("list", "--json"), "list")["segments"]
    mine = {as_int(s["key"]): s for s in listed if as_int(s["key"]) in (a, b, foreign, unused)}
    assert sorted(mine) == sorted([a, b]), "listed %s" % sorted(mine)
    assert mine[a]["attached"] == 2 and mine[b]["attached"] == 1
    assert mine[a]["has_tender"] is True and mine[b]["has_tender"] is True
    assert all(s["error"] == "" for s in mine.values())
    # every segment listed really is one: the kernel knows its shmid
    kernel = {r["shmid"] for r in shm.rows()}
    assert {s["shmid"] for s in listed} <= kernel
    text = run_cli("list").stdout
    assert "0x%08x" % a in text and "0x%08x" % b in text and "0x%08x" % foreign not in text


COMMANDS = ["list", "stat", "check", "watch", "rm"]


def test_help_names_every_option_and_bad_usage_exits_2():
    top = run_cli("--help")
    assert top.returncode == 0
    for command in COMMANDS:
        assert "clustershm %s" % command in top.stdout
        h = run_cli(command, "--help")
        assert h.returncode == 0 and h.stdout.startswith("usage: clustershm %s" % command)
        assert run_cli("help", command).stdout == h.stdout
        for option in set(re.findall(r"--[a-z][a-z-]+", h.stdout.split("\n\n", 1)[0])):
            assert re.search(r"^  %s\b" % option, h.stdout, re.M), \
                "%s --help does not explain %s" % (command, option)
    assert run_cli().returncode == 2
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("stat").returncode == 2                     # --key is required
    assert run_cli("stat", "--key", "nonsense").returncode == 2
    assert run_cli("list", "--force").returncode == 2
    assert run_cli("watch", "--key", "1", "--interval", "0").returncode == 2
    assert run_cli("check").returncode == 3                    # UNKNOWN, as plugins must
    v = run_cli("--version")
    assert v.returncode == 0 and "schema version 1" in v.stdout
