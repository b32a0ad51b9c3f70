"""conftest.py - fixtures of the integration suite: real Redis Clusters,
pools of build/cshm-worker processes, SysV keys of their own per test.

Invariants:
  - servers and workers die with the test run (PR_SET_PDEATHSIG) and are
    stopped by fixture teardown, also when a test fails;
  - the session cluster (ports 7100-7105) is only changed by tests that
    leave it healthy with every slot covered (they move a few slots away
    and as many back), so tests read its truth afresh and never assume a
    slot layout; destructive tests (failover, reshard, all nodes down) get
    fresh clusters on ports 7110-7189;
  - ports 7190-7199 are never listened on by the fixtures: tests use them
    for "nothing there" seeds and for fake servers of their own;
  - CSHM_TEST_INSTANCE=N moves every port by 1000 * N and hashes other keys,
    so two runs on one machine never meet;
  - every test gets SysV keys of its own (0x5C5xxxx0 + i, from its node id)
    and every segment at those keys is removed before and after the test,
    after its workers are gone.
"""
import os
import signal

import pytest

from support import injected
from support import keys as keyset_mod
from support import shm
from support.cluster import FRESH_BASES, SESSION_PORTS, RedisCluster, free_block
from support.worker import BINARY, CLI, LAYOUT, Worker

KEYSET_SIZE = 10000
KEYSET_SEED = int(os.environ.get("CSHM_TEST_SEED", "20240601"))
TEST_DEADLINE = 180  # seconds: a test running longer is hung, not slow


class DeadlineExceeded(Exception):
    pass


def _deadline(signum, frame):
    raise DeadlineExceeded("test ran past %d s: hung" % TEST_DEADLINE)


@pytest.fixture(autouse=True)
def deadline():
    """Fails (never hangs) a test that runs past TEST_DEADLINE: SIGALRM
    raises in the test's own code, and teardown still runs."""
    old = signal.signal(signal.SIGALRM, _deadline)
    signal.alarm(TEST_DEADLINE)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see whether the test failed, to print worker logs then.
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


def pytest_terminal_summary(terminalreporter):
    """What the fault and hostile-segment tests injected (support/injected.py)."""
    if not injected.COUNTS:
        return
    terminalreporter.section("faults injected")
    for kind, n in sorted(injected.COUNTS.items()):
        terminalreporter.write_line("%9d  %s" % (n, kind))


@pytest.fixture(scope="session", autouse=True)
def binaries():
    for path in (BINARY, CLI, LAYOUT):
        if not os.access(path, os.X_OK):
            pytest.exit("%s is missing: run `make all` first (make test-integration does)" % path,
                        returncode=2)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """The shared 6-node cluster: 3 masters, 3 replicas."""
    with RedisCluster(SESSION_PORTS, tmp_path_factory.mktemp("cluster-session")) as c:
        yield c


@pytest.fixture
def make_cluster(tmp_path):
    """Factory of fresh clusters for destructive tests; all stopped after."""
    started = []

    def make(masters=3, replicas=1, password=None, node_timeout_ms=2000):
        ports = free_block(FRESH_BASES, masters * (1 + replicas))
        c = RedisCluster(ports, tmp_path / ("cluster-%d" % ports[0]), replicas=replicas,
                         password=password, node_timeout_ms=node_timeout_ms)
        started.append(c)
        return c.start()

    yield make
    for c in started:
        c.stop()


@pytest.fixture
def shm_keys(request):
    k = shm.TestKeys(request.node.nodeid, 0x5C500000)
    yield k
    k.cleanup()


@pytest.fixture
def shm_key(shm_keys):
    return shm_keys(0)


@pytest.fixture
def pool(request, tmp_path, shm_keys):
    """pool(n) -> n fresh workers; every worker is stopped after the test
    (before shm_keys removes the segments), and their logs are printed when
    the test failed."""
    made = []

    def make(n, env=None, prefix="w", wrap=None):
        out = []
        for _ in range(n):
            w = Worker(tmp_path, "%s%02d" % (prefix, len(made)), env=env, wrap=wrap)
            made.append(w)
            out.append(w)
        return out

    yield make
    failed = _failed(request)
    for w in made:
        w.stop()
    if failed:
        for w in made:
            text = w.log()
            if text:
                print(text)


@pytest.fixture(scope="session")
def keyset(tmp_path_factory):
    """10,000 keys (binary ones included) and the file the workers read."""
    keys = keyset_mod.generate(KEYSET_SIZE, KEYSET_SEED)
    path = tmp_path_factory.mktemp("keys") / "keys.hex"
    keyset_mod.write(path, keys)
    return keys, str(path)


@pytest.fixture(scope="session")
def keyslots(cluster, keyset):
    """CLUSTER KEYSLOT of every key of keyset (the servers' answer; a slot
    does not depend on the cluster, so one answer serves every test)."""
    return cluster.keyslots(keyset[0])
