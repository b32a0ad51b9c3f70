"""test_aerospike_security.py - our driver against the simulator with
security, racks and alternate addresses: login and its failures, session
expiry, password rotation, prefer_rack routing, Community Edition without
racks, use_alternate_access_address.

Invariants:
  - every test starts its own simulator (support/aerospike.py: ports shifted
    by CSHM_TEST_INSTANCE) and stops it at teardown;
  - expected routes come from the simulator only: its digest code gives the
    partition, its `truth` control gives the owners and each node's rack,
    its `security` control counts logins;
  - waits have deadlines of several tend intervals; they stop a hung test,
    they do not measure speed.
"""
import subprocess
import time

import pytest

from support import shm
from support.aerospike import Sim, make_keyfiles
from support.procs import cpu_seconds, wait_for
from support.worker import CLI, connect_all, statuses

CLUSTER, SEGMENT, CONFIG = -2, -3, -1
TEND = 0.2
OPTS = dict(tend_interval=TEND, takeover_timeout=30, connect_timeout=2)
USERS = "app:s3cret,ops:pässwörd-✓"      # the second password is not ASCII
NO_RACK = "no rack information"


@pytest.fixture
def secure():
    s = Sim(namespaces="test:2", extra_args=["--users", USERS])
    yield s
    s.close()


def url_of(sim, user=None, password=None):
    from urllib.parse import quote
    if user is None:
        return sim.url()
    return "aerospike://%s:%s@127.0.0.1:%d" % (quote(user, safe=""), quote(password, safe=""),
                                               sim.base)


def fresh(status, since):
    return not status["stale"] and status["tended_at"] > since and not status["last_error"]


def master_ports(sim, namespace, partitions):
    owners, ports = sim.owners(namespace), sim.ports()
    return ["127.0.0.1:%d %d" % (ports[owners[p][0]], p) for p in partitions]


def route_lines(w, tmp_path, namespace, kf, replica="0"):
    out = str(tmp_path / ("routes-%s-%s.txt" % (w.name, time.monotonic_ns())))
    w.ok("aroutefile %s %s %s %s %s %s" % (namespace, kf.set_arg(), kf.type, kf.path, out,
                                           replica), timeout=60)
    with open(out) as f:
        return f.read().splitlines()


# ---- login ----------------------------------------------------------------


@pytest.mark.parametrize("how", ["url", "options"])
def test_login_routes_and_authenticates_every_node(secure, pool, shm_key, tmp_path, how):
    [w] = pool(1)
    if how == "url":   # percent-encoded non-ASCII password in the URL
        a = w.connect(url_of(secure, "ops", "pässwörd-✓"), key=shm_key, **OPTS)
    else:
        a = w.connect(secure.url(), key=shm_key, user="app", password="s3cret", **OPTS)
    assert a["ok"], a
    s = w.status()
    assert s["nodes"] == 3 and not s["stale"] and s["last_error"] == "", s
    sec = secure.call("security")
    assert sec["logins"] >= 3 and sec["failed_logins"] == 0, sec
    kf = make_keyfiles(tmp_path, count=300)[0]
    assert route_lines(w, tmp_path, "test", kf) == master_ports(secure, "test", kf.partitions)


def test_wrong_password_is_a_clear_error_and_never_spins(secure, pool, shm_key):
    [w, x] = pool(2)
    started = time.monotonic()
    a = w.connect(url_of(secure, "app", "wrong"), key=shm_key, **dict(OPTS, connect_timeout=10))
    took = time.monotonic() - started
    assert a["ok"] is False and a["code"] == CLUSTER, a
    assert "login as user 'app' refused: INVALID_CREDENTIAL" in a["error"], a
    assert "check the user and password" in a["error"], a
    assert took < 5, "a connect whose own login failed took %.1f s" % took

    # A password that stops working: the map goes stale, the tender keeps
    # trying at its tend interval, never faster, and barely uses the CPU.
    assert x.connect(url_of(secure, "app", "s3cret"), key=shm_key, **OPTS)["ok"]
    secure.call("set_users", users={"app": "rotated"})
    secure.call("expire_sessions")

    def stale():
        s = x.status()
        return s if s["stale"] and "INVALID_CREDENTIAL" in s["last_error"] else None
    wait_for(stale, 10, "the map to turn stale with the login error")
    failed0, cpu0, t0 = secure.call("security")["failed_logins"], cpu_seconds(x.pid), \
        time.monotonic()
    time.sleep(2.0)
    failed = secure.call("security")["failed_logins"] - failed0
    elapsed, cpu = time.monotonic() - t0, cpu_seconds(x.pid) - cpu0
    s = x.status()
    assert s["stale"] and s["role"] == "tender", s
    print("%d failed logins, %.2f s CPU in %.1f s" % (failed, cpu, elapsed))
    assert failed > 0, "the tender stopped trying"
    # Per tend at most one login per node of the map and per seed.
    bound = (elapsed / TEND + 2) * (3 + 1)
    assert failed <= bound, "%d failed logins in %.1f s (bound %.0f)" % (failed, elapsed, bound)
    assert cpu < 0.1 * elapsed, "%.2f s of CPU in %.1f s" % (cpu, elapsed)


def test_expired_sessions_log_in_again_and_the_map_stays_fresh(secure, pool, shm_key, tmp_path):
    [w] = pool(1)
    assert w.connect(url_of(secure, "app", "s3cret"), key=shm_key, **OPTS)["ok"]
    before = w.status()
    logins = secure.call("security")["logins"]
    for _ in range(2):
        secure.call("expire_sessions")
        time.sleep(3 * TEND)
    wait_for(lambda: secure.call("security")["logins"] >= logins + 3, 5,
             "the tender to log in again at every node")
    since = time.time()
    s = wait_for(lambda: (lambda s: s if fresh(s, since) else None)(w.status()), 5,
                 "a fresh map after the sessions expired")
    # The re-login happens inside the request that was refused: no tend failed.
    assert s["tend_failures"] == before["tend_failures"], (before, s)
    assert "session no longer accepted; logging in again" in w.log()
    kf = make_keyfiles(tmp_path, count=200)[0]
    assert route_lines(w, tmp_path, "test", kf) == master_ports(secure, "test", kf.partitions)


def test_password_rotation_gives_each_credential_its_own_tender(secure, pool, shm_keys):
    identity = "aerospike:127.0.0.1:%d" % secure.base
    derived = shm.derived_keys(identity)
    for k in derived:
        shm.remove(k)
        shm_keys.track(k)
    old, new = pool(2, prefix="old"), pool(2, prefix="new")
    connect_all(old, secure.url(), user="app", password="s3cret", **OPTS)
    # The password changes: sessions already open stay valid until they
    # expire (as on a server), so the old group keeps working meanwhile.
    secure.call("set_users", users={"app": "s3cret-2", "ops": "x"})
    connect_all(new, secure.url(), user="app", password="s3cret-2", **OPTS)
    old_keys, new_keys = {s["key"] for s in statuses(old)}, {s["key"] for s in statuses(new)}
    assert old_keys == {derived[0]} and new_keys == {derived[1]}, (old_keys, new_keys)
    since = time.time()
    for group in (old, new):
        wait_for(lambda group=group: all(fresh(s, since) for s in statuses(group)), 5,
                 "both segments to be tended")
        assert sum(s["role"] == "tender" for s in statuses(group)) == 1

    # An explicit key never mixes credentials either.
    [odd] = pool(1, prefix="odd")
    a = odd.connect(secure.url(), key=derived[1], user="app", password="s3cret", **OPTS)
    assert a["ok"] is False and a["code"] == SEGMENT and "credentials" in a["error"], a

    # The old group goes; the new one stays fresh.
    for w in old:
        w.stop()
    # The last detach removes the segment (main's lifecycle).
    wait_for(lambda: shm.info(derived[0]) is None, 5, "the old processes' segment to go")
    since = time.time()
    wait_for(lambda: all(fresh(s, since) for s in statuses(new)), 5,
             "the new segment to stay fresh")


# ---- racks ------------------------------------------------------------------


def rack_truth(sim, namespace, partitions, rack):
    """Per partition: the first owner (master first) on `rack` by the
    simulator's racks, else the master, as "host:port partition"."""
    truth = sim.call("truth", namespace=namespace)
    owners = truth["namespaces"][namespace]["partitions"]
    racks = truth["racks"].get(namespace, {})
    ports = sim.ports()
    out = []
    for p in partitions:
        on_rack = [n for n in owners[p] if n is not None and racks.get(n, 0) == rack]
        out.append("127.0.0.1:%d %d" % (ports[(on_rack or owners[p])[0]], p))
    return out


def test_prefer_rack_routes_to_the_callers_rack_else_the_master(pool, shm_key, tmp_path):
    sim = Sim(extra_args=["--edition", "enterprise", "--racks", "1,2,3"])
    try:
        [w, x] = pool(2)
        assert w.connect(sim.url(), key=shm_key, rack_id=2, **OPTS)["ok"]
        assert x.connect(sim.url(), key=shm_key, **OPTS)["ok"]
        files = make_keyfiles(tmp_path, count=1000)
        for ns in ("test", "bar"):
            for kf in files:
                got = route_lines(w, tmp_path, ns, kf, "rack")   # the rack_id option
                assert got == rack_truth(sim, ns, kf.partitions, 2), (ns, kf.path)
                assert route_lines(x, tmp_path, ns, kf, "rack:3") == \
                    rack_truth(sim, ns, kf.partitions, 3), (ns, kf.path)
        # Both cases occur: the replica on the rack, and the master.
        owners, racks = sim.owners("test"), sim.call("truth", partitions=False)["racks"]["test"]
        parts = {p for kf in files for p in kf.partitions}
        assert any(racks[owners[p][1]] == 2 for p in parts)
        assert any(2 not in (racks[owners[p][0]], racks[owners[p][1]]) for p in parts)

        # A new rack layout (a rebalance) is followed within a few tends.
        names = [n["name"] for n in sim.call("nodes")]
        sim.call("set_racks", racks={names[0]: 2, names[1]: 1, names[2]: 1})
        kf = files[0]
        wait_for(lambda: route_lines(w, tmp_path, "test", kf, "rack") ==
                 rack_truth(sim, "test", kf.partitions, 2), 5, "routes by the new racks")

        # Neither a rack nor an option: the error says how to give one.
        a = x.cmd("aroute test - string 6b6579 rack")
        assert a["ok"] is False and a["code"] == CONFIG and "rack_id" in a["error"], a
        assert x.status()["tend_failures"] == 0 and NO_RACK not in w.log() + x.log()
    finally:
        sim.close()


def no_rack_lines(w):
    return [line for line in w.log(limit=1 << 20).splitlines() if NO_RACK in line]


def test_community_edition_says_once_per_tender_and_routes_to_masters(sim_ce, pool, shm_key,
                                                                     tmp_path):
    sim = sim_ce
    [a, b] = pool(2)
    assert a.connect(sim.url(), key=shm_key, **OPTS)["ok"]
    assert b.connect(sim.url(), key=shm_key, rack_id=1, **OPTS)["ok"]
    assert a.status()["role"] == "tender"
    time.sleep(10 * TEND)
    s = a.status()
    assert s["tends"] >= 5 and s["tend_failures"] == 0 and s["last_error"] == "", s
    # Nobody routes prefer_rack in A: an info line, once.
    lines = no_rack_lines(a)
    assert len(lines) == 1 and "] info: " in lines[0], lines
    assert "Community Edition" in lines[0] and "routes to masters" in lines[0]
    kf = make_keyfiles(tmp_path, count=300)[0]
    assert route_lines(b, tmp_path, "test", kf, "rack") == \
        master_ports(sim, "test", kf.partitions)

    # A new tender says it again, once; B configured a rack, so a warning.
    a.kill()
    wait_for(lambda: b.status()["role"] == "tender", 5, "B to take over")
    time.sleep(10 * TEND)
    s = b.status()
    assert s["tend_failures"] == 0 and not s["stale"], s
    lines = no_rack_lines(b)
    assert len(lines) == 1 and "] warning: " in lines[0], lines


@pytest.fixture
def sim_ce():
    s = Sim()   # the simulator's default edition: community
    yield s
    s.close()


# ---- alternate addresses ------------------------------------------------------


def test_use_alternate_access_address_routes_to_the_alternate_addresses(pool, shm_keys,
                                                                       tmp_path):
    sim = Sim(namespaces="test:2", extra_args=["--alternate-host", "127.0.0.2"])
    try:
        [std, alt] = pool(2)
        assert std.connect(sim.url(), key=shm_keys(0), **OPTS)["ok"]
        assert alt.connect(sim.url(), key=shm_keys(1), use_alternate_access_address=1,
                           **OPTS)["ok"]
        ports = sim.ports()
        seed_port = sim.base
        # The peers are found at their alternate addresses; the seed keeps the
        # address it was given, since a loopback seed is never taken for a
        # load balancer (spec 2.2, as the official client does).
        alt_host = {p: "127.0.0.1" if p == seed_port else "127.0.0.2" for p in ports.values()}
        assert sorted((n["host"], n["port"]) for n in std.nodes()) == \
            sorted(("127.0.0.1", p) for p in ports.values())
        assert sorted((n["host"], n["port"]) for n in alt.nodes()) == \
            sorted((alt_host[p], p) for p in ports.values())
        kf = make_keyfiles(tmp_path, count=300)[0]
        masters = master_ports(sim, "test", kf.partitions)
        assert route_lines(std, tmp_path, "test", kf) == masters
        via_alt = [m.replace("127.0.0.1:", alt_host[int(m.split(":")[1].split()[0])] + ":")
                   for m in masters]
        assert route_lines(alt, tmp_path, "test", kf) == via_alt
        assert any(m.startswith("127.0.0.2:") for m in via_alt)
        # The alternate peers list is what the tender asked for (service-*
        # is asked of non-loopback seeds only).
        names = set()
        for c in sim.call("counters").values():
            names |= set(c["names"])
        assert "peers-clear-alt" in names, names
        # The segment's view in the command agrees.
        out = subprocess.run([CLI, "stat", "--key", "0x%x" % shm_keys(1)], capture_output=True,
                             text=True, timeout=30)
        assert out.returncode == 0 and "127.0.0.2" in out.stdout, out.stdout + out.stderr
    finally:
        sim.close()


def test_options_are_checked_before_any_io(pool):
    [w] = pool(1)
    for url, opts, text in [
            ("aerospike://127.0.0.1:1", dict(rack_id=-2), "bad option rack_id: -2"),
            ("redis://127.0.0.1:1", dict(rack_id=1), "Aerospike only"),
            ("redis://127.0.0.1:1", dict(use_alternate_access_address=1), "Aerospike only"),
            ("aerospike://127.0.0.1:1", dict(use_alternate_access_address=2), "true or false"),
            ("aerospike://u:p@127.0.0.1:1", dict(user="u", password="p"), "given twice"),
            ("aerospike://127.0.0.1:1", dict(password="p"), "needs a user"),
            ("aerospike://127.0.0.1:1", dict(user="u"), "without a password")]:
        a = w.connect(url, **opts)
        assert a["ok"] is False and a["code"] == CONFIG and text in a["error"], (url, opts, a)
    assert w.ok("pid")["ok"]  # the worker is alive: nothing was attempted
