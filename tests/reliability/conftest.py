"""conftest.py - fixtures of the reliability suites ("break it on purpose,
count what survives"): the integration suite's own fixtures and support
package, reused, not copied.

tests/integration goes on sys.path (so `support` is its package) and its
conftest.py is loaded under another module name, whose fixtures and hook
this module re-exports: real Redis Clusters (`cluster`, `make_cluster`),
worker pools (`pool`), per-test SysV keys (`shm_keys`, `shm_key`), the
binaries check, and the failed-test report that prints worker logs.

What differs: the per-test deadline.  The suites run bounded in CI and for
minutes under CSHM_SOAK=1 (`make soak`), so each test module sets its own
DEADLINE (seconds); like the integration suite's, it only catches a hang
and raises in the test's own code, so teardown still runs.

Invariants the suites keep: CSHM_TEST_INSTANCE moves ports and keys as in
the integration suite; assertions are about behaviour, never wall-clock
speed (latencies are recorded, printed and written to build/reliability/,
not asserted); every wait has a deadline.
"""
import importlib.util
import os
import signal
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(os.path.dirname(HERE), "integration")
if INTEGRATION not in sys.path:
    sys.path.insert(0, INTEGRATION)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def _load_integration_conftest():
    name = "cshm_integration_conftest"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(INTEGRATION, "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_it = _load_integration_conftest()

# Re-exported: pytest finds fixtures and hooks by name in this module.
binaries = _it.binaries
cluster = _it.cluster
make_cluster = _it.make_cluster
shm_keys = _it.shm_keys
shm_key = _it.shm_key
pool = _it.pool
pytest_runtest_makereport = _it.pytest_runtest_makereport

SOAK = os.environ.get("CSHM_SOAK", "") not in ("", "0")
DEFAULT_DEADLINE = 240


@pytest.fixture(autouse=True)
def deadline(request):
    """Fails (never hangs) a test that runs past its module's DEADLINE."""
    seconds = int(getattr(request.module, "DEADLINE", DEFAULT_DEADLINE))

    def expired(signum, frame):
        raise _it.DeadlineExceeded("test ran past %d s: hung" % seconds)

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)
