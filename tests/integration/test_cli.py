"""test_cli.py - `clustershm stat --key K [--json]` describes a live segment
as the processes and the servers see it; `list` finds clustershm segments
and only them; `rm` removes only unused clustershm segments.

JSON fields: key, shmid, size, attached, tender_pid, epoch, generation,
tended_at, age, stale, snapshot_ok, snapshot_error, nodes (name, host, port,
active, is_master, partitions), namespaces, driver, identity, last_error.
"""
import json
import struct
import subprocess

from support import shm
from support.checks import the_tender
from support.worker import CLI, LAYOUT, connect_all


def run_cli(*args):
    return subprocess.run([CLI] + list(args), capture_output=True, text=True, timeout=30)


def as_int(value):
    return int(value, 0) if isinstance(value, str) else value


def test_stat_json_describes_the_segment(cluster, pool, shm_key):
    ws = pool(3)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=0.5)
    tender, sts = the_tender(ws)
    out = run_cli("stat", "--key", "0x%x" % shm_key, "--json")
    assert out.returncode == 0, out.stderr
    j = json.loads(out.stdout)
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
    listed = {as_int(s["key"]): s for s in json.loads(out.stdout)}
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

    for w in ws:
        w.ok("close")
    done = run_cli("rm", "--key", "0x%x" % shm_key)
    assert done.returncode == 0, done.stderr
    assert shm.info(shm_key) is None
