"""test_cli_metrics.py - `clustershm stat --prometheus` and `--textfile`:
the exposition parses with prometheus_client's own parser, every family has
HELP and TYPE, every sample carries the labels key and cluster, the values
are those status() gives a live worker, and --textfile replaces
DIR/clustershm.prom atomically.
"""
import os
import stat as stat_mod

from support import cli
from support.checks import the_tender
from support.worker import connect_all

# metric name -> status() name (the rule: clustershm_<name>[unit][_total])
METRICS = {
    "clustershm_attached": "attached", "clustershm_owner_pid": "owner_pid",
    "clustershm_has_tender": "has_tender", "clustershm_epoch": "epoch",
    "clustershm_generation": "generation", "clustershm_has_map": "has_map",
    "clustershm_tended_at_seconds": "tended_at", "clustershm_age_seconds": "age",
    "clustershm_stale": "stale", "clustershm_tends_total": "tends",
    "clustershm_tend_failures_total": "tend_failures", "clustershm_handoffs_total": "handoffs",
    "clustershm_dead_takeovers_total": "dead_takeovers",
    "clustershm_hung_takeovers_total": "hung_takeovers",
    "clustershm_step_downs_total": "step_downs", "clustershm_failures_in_row": "failures_in_row",
    "clustershm_nodes": "nodes", "clustershm_nodes_seen": "nodes_seen",
    "clustershm_max_nodes": "max_nodes", "clustershm_namespaces": "namespaces",
    "clustershm_namespaces_seen": "namespaces_seen",
    "clustershm_max_namespaces": "max_namespaces",
    "clustershm_nodes_truncated": "nodes_truncated",
    "clustershm_namespaces_truncated": "namespaces_truncated",
    "clustershm_replicas_truncated": "replicas_truncated",
    "clustershm_tend_interval_seconds": "tend_interval",
    "clustershm_takeover_timeout_seconds": "takeover_timeout",
    "clustershm_min_refresh_interval_seconds": "min_refresh_interval",
    "clustershm_segment_size_bytes": "segment_size",
}


def check_exposition(text):
    """Every family announced once with HELP and TYPE before its samples."""
    seen_help, seen_type, current = set(), set(), None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in seen_help, "family %s written twice" % name
            seen_help.add(name)
            current = name
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name == current and kind in ("gauge", "counter")
            seen_type.add(name)
        else:
            assert line.split("{")[0].split(" ")[0] == current, "sample outside its family: %s" % line
    assert seen_help == seen_type
    return cli.metrics(text)


def test_prometheus_of_one_segment_matches_status(cluster, pool, shm_key):
    ws = pool(2)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=60, takeover_timeout=120)
    tender, _ = the_tender(ws)
    status = tender.status()
    out = cli.run("stat", "--prometheus", "--key", "0x%x" % shm_key)
    assert out.returncode == 0, out.stderr
    families = check_exposition(out.stdout)
    assert families["clustershm_segments"].samples[0].value == 1
    samples = cli.samples_for(families, shm_key)
    for metric, name in METRICS.items():
        value = samples[metric]
        if name == "age":
            assert abs(value - status["age"]) < 1.0
        elif name == "tended_at":
            assert abs(value - status["tended_at"]) < 0.002
        else:
            assert value == float(status[name]), (metric, value, status[name])
    for f in families.values():
        for s in f.samples:
            if f.name != "clustershm_segments":
                assert s.labels["key"] == "0x%08x" % shm_key
                assert s.labels["cluster"] == status["identity"]
    info = families["clustershm_info"].samples[0]
    assert info.labels["driver"] == "redis" and info.labels["shmid"] == str(status["shmid"])
    assert families["clustershm_tends"].type == "counter"       # the parser strips _total
    assert families["clustershm_epoch"].type == "gauge"


def test_prometheus_of_every_segment_lists_ours(cluster, pool, shm_keys):
    a, b = shm_keys(0), shm_keys(1)
    ws = pool(2)
    connect_all(ws[:1], cluster.url(), key=a)
    connect_all(ws[1:], cluster.url(), key=b, max_nodes=4)
    out = cli.run("stat", "--prometheus")
    assert out.returncode == 0, out.stderr
    families = check_exposition(out.stdout)
    sa, sb = cli.samples_for(families, a), cli.samples_for(families, b)
    assert sa["clustershm_nodes"] == 6 and sa["clustershm_nodes_truncated"] == 0
    assert sb["clustershm_nodes"] == 4 and sb["clustershm_nodes_truncated"] == 1
    assert families["clustershm_segments"].samples[0].value >= 2


def test_textfile_is_replaced_atomically(cluster, pool, shm_key, shm_keys, tmp_path):
    ws = pool(1)
    connect_all(ws, cluster.url(), key=shm_key)
    d = tmp_path / "textfile"
    d.mkdir()
    (d / "clustershm.prom").write_text("old\n")
    old_inode = os.stat(d / "clustershm.prom").st_ino
    out = cli.run("stat", "--textfile", str(d), "--key", "0x%x" % shm_key)
    assert out.returncode == 0, out.stderr
    assert sorted(os.listdir(d)) == ["clustershm.prom"], "a temporary file was left behind"
    st = os.stat(d / "clustershm.prom")
    assert st.st_ino != old_inode, "the file was rewritten in place, not renamed over"
    assert stat_mod.S_IMODE(st.st_mode) == 0o644
    families = check_exposition((d / "clustershm.prom").read_text())
    assert cli.samples_for(families, shm_key)["clustershm_has_tender"] == 1
    # a missing key: exit 1, and the file says so (no stale figures left)
    missing = cli.run("stat", "--prometheus", "--textfile", str(d), "--key",
                      "0x%x" % shm_keys(1))
    assert missing.returncode == 1 and "no segment" in missing.stderr
    families = check_exposition((d / "clustershm.prom").read_text())
    assert families["clustershm_segments"].samples[0].value == 0
    assert cli.samples_for(families, shm_key) == {}
    # a directory that is not there: exit 1, nothing written
    gone = cli.run("stat", "--textfile", str(tmp_path / "nowhere"))
    assert gone.returncode == 1 and "cannot write" in gone.stderr
    assert cli.run("stat", "--prometheus", "--json").returncode == 2
