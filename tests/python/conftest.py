"""conftest.py - fixtures of the Python extension's suite: the installed
wheel, a real Redis Cluster, the Aerospike simulator, SysV keys per test.

Invariants:
  - clustershm is the installed wheel, never the source tree: the session
    stops at once otherwise (`make test-python` makes the venv);
  - servers and child processes die with the run (PR_SET_PDEATHSIG through
    support.procs) and are stopped by fixture teardown, also on failure;
  - ports: Redis 7400-7405 (+10000 for the cluster bus), a fresh cluster for
    a test that changes it 7410-7415 (helpers.FRESH_PORTS), nothing listens on
    7490-7499 (tests use them for dead seeds and fake servers), the
    simulators 3200-3209 and 3210-3219, gunicorn 8400-8499 (all + 1000 * N with
    CSHM_TEST_INSTANCE=N, whose keys differ too: two runs can share a host);
  - every test gets SysV keys of its own (0x5C6xxxx0 + i, from its node id),
    removed before and after it;
  - the truth about routes comes from the servers (CLUSTER KEYSLOT, CLUSTER
    SHARDS) or the simulator (its own digest code and `truth`), never from
    the library under test.
"""
import os
import signal
import sys
import sysconfig

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
# support/ (Redis clusters, shm, procs) is the integration suite's; the
# simulator is imported as tests.aerospike_sim from the repository root.
for path in (os.path.join(ROOT, "tests", "integration"), ROOT):
    if path not in sys.path:
        sys.path.append(path)

import clustershm  # noqa: E402
from support import keys as keyset_mod  # noqa: E402
from support import shm  # noqa: E402
from support.cluster import RedisCluster  # noqa: E402

from helpers import REDIS_PORTS  # noqa: E402

TEST_DEADLINE = 180         # seconds: a test running longer is hung, not slow


def pytest_sessionstart(session):
    installed = os.path.realpath(clustershm.__file__)
    site = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
    if not any(installed.startswith(s + os.sep) for s in site):
        pytest.exit("clustershm comes from %s, not from this interpreter's site-packages: "
                    "run `make test-python` (it installs the wheel in build/venv-py)" % installed,
                    returncode=2)


def pytest_report_header(config):
    return "clustershm %s from %s" % (clustershm.__version__, clustershm.__file__)


class DeadlineExceeded(Exception):
    pass


def _deadline(signum, frame):
    raise DeadlineExceeded("test ran past %d s: hung" % TEST_DEADLINE)


@pytest.fixture(autouse=True)
def deadline():
    """Fails (never hangs) a test that runs past TEST_DEADLINE."""
    old = signal.signal(signal.SIGALRM, _deadline)
    signal.alarm(TEST_DEADLINE)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """A 6-node Redis Cluster (3 masters, 3 replicas) the tests never change."""
    with RedisCluster(REDIS_PORTS, tmp_path_factory.mktemp("redis")) as c:
        yield c


@pytest.fixture(scope="session")
def redis_url(cluster):
    return cluster.url(3)


@pytest.fixture
def shm_keys(request):
    k = shm.TestKeys(request.node.nodeid, 0x5C600000)
    yield k
    k.cleanup()


@pytest.fixture
def shm_key(shm_keys):
    return shm_keys(0)


@pytest.fixture
def clients():
    """Factory of clients that are closed after the test, whatever happens."""
    made = []

    def make(url, **options):
        c = clustershm.Client(url, **options)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture(scope="session")
def redis_keys():
    """2,000 keys, binary ones included (support/keys.py)."""
    return keyset_mod.generate(2000, 20240601)


@pytest.fixture(scope="session")
def redis_truth(cluster, redis_keys):
    """["host:port"] of each key's master, from CLUSTER KEYSLOT and SHARDS;
    the session cluster never changes, so one answer serves every test."""
    slots = cluster.keyslots(redis_keys)
    owners = cluster.slot_owners()
    return slots, [owners[s] for s in slots]
