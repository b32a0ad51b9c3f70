"""conftest.py - real PHP-FPM pools (Debian's php8.2-fpm) loading the
extension under test, against the clusters tests/php/run.py started.

Invariants:
  - every pool is started by its test with a config of its own in a temp
    dir (pm = static, 8 children, 127.0.0.1 on a free port of 9100-9199,
    php-fpm -n so no system php.ini or conf.d is read, the extension loaded
    with -d extension=CSHM_PHP_EXT), and stopped at teardown, also on
    failure; the master dies with the test run (PR_SET_PDEATHSIG);
  - every test uses SysV keys of its own (0x5C72xxx0 + i), removed after the
    pool is gone;
  - expected routes come from the servers (run.py's truth for Redis, the
    simulator's digest code and `truth` for Aerospike), never from the
    extension;
  - CSHM_PHP_PRELOAD (make test-php-asan) is preloaded into the master
    alone: the workers are forked from it, never exec'd, so they have the
    runtime whatever clear_env does to their environment.  Leak checking is
    off in the pool: php-fpm leaves its own configuration allocated at exit
    (in every worker), in a stripped binary no suppression could name
    without also matching our frames.  The CLI suites check leaks.  A
    sanitizer's report in the pool's log fails the test.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fastcgi  # noqa: E402
from support import procs, shm  # noqa: E402  (tests/integration/support, on PYTHONPATH)
from tests.aerospike_sim.client import ControlClient  # noqa: E402
from tests.aerospike_sim.digest import partition_id  # noqa: E402

FPM = os.environ.get("CSHM_PHP_FPM", "/usr/sbin/php-fpm8.2")
CLI = os.path.join(HERE, "..", "..", "..", "build", "clustershm")
CHILDREN = 8
SCRIPT = os.path.join(HERE, "www", "route.php")


def _env():
    path = os.environ.get("CSHM_PHP_ENV")
    if not path or not os.environ.get("CSHM_PHP_EXT"):
        pytest.exit("CSHM_PHP_ENV/CSHM_PHP_EXT are not set: run via tests/php/run.py", returncode=2)
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def env():
    return _env()


def _free_port():
    for port in range(9100, 9200):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port in 9100-9199")


def _children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return {int(p) for p in f.read().split()}


def phpredis_extensions():
    """The extensions to load, in order, for phpredis under php-fpm -n (no
    conf.d): Debian's redis.so needs igbinary first (msgpack where built
    with it)."""
    for names in (["redis"], ["igbinary", "redis"], ["igbinary", "msgpack", "redis"]):
        argv = ["php", "-n"] + ["-dextension=" + n for n in names]
        out = subprocess.run(argv + ["-r", "echo class_exists('Redis') ? 'yes' : 'no';"],
                             capture_output=True, text=True, timeout=30)
        if out.stdout.strip() == "yes" and "Warning" not in out.stderr:
            return names
    pytest.fail("phpredis cannot be loaded: scripts/deps.sh installs php8.2-redis")


class Pool:
    def __init__(self, workdir, max_requests=0, extensions=(), ini=()):
        self.dir = str(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.port = _free_port()
        self.log = os.path.join(self.dir, "fpm.log")
        conf = os.path.join(self.dir, "fpm.conf")
        with open(conf, "w") as f:
            f.write(f"""[global]
error_log = {self.log}
daemonize = no
pid = {self.dir}/fpm.pid

[clustershm]
listen = 127.0.0.1:{self.port}
pm = static
pm.max_children = {CHILDREN}
pm.max_requests = {max_requests}
catch_workers_output = yes
decorate_workers_output = no
""")
        ext = os.environ["CSHM_PHP_EXT"]
        argv = [FPM, "-n", "-F", "-y", conf]
        # The extensions before ours (phpredis, for the package's scripts).
        for name in list(extensions) + [ext]:
            argv += ["-d", "extension=" + name]
        argv += ["-d", "display_errors=stderr", "-d", "log_errors=1"]
        for setting in ini:   # name=value, e.g. redis.clusters.cache_slots=1 (make bench)
            argv += ["-d", setting]
        if os.geteuid() == 0:
            argv.append("-R")
        env = dict(os.environ)
        if os.environ.get("CSHM_PHP_PRELOAD"):
            env["LD_PRELOAD"] = os.environ["CSHM_PHP_PRELOAD"]
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        self.proc = procs.spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env)
        procs.wait_for(self._listening, 20, "php-fpm to listen on %d" % self.port)
        procs.wait_for(lambda: len(self.children()) == CHILDREN, 20, "%d children" % CHILDREN)

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("php-fpm exited: %s" % self.log_text())
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def children(self):
        return _children(self.proc.pid)

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def get(self, query, timeout=30, script=SCRIPT):
        """One request to a script of www/ (route.php by default); its
        decoded JSON answer."""
        qs = urlencode(query)
        name = "/" + os.path.basename(script)
        headers, body, err = fastcgi.request(("127.0.0.1", self.port), {
            "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET",
            "SCRIPT_FILENAME": script, "SCRIPT_NAME": name,
            "REQUEST_URI": name + "?" + qs, "QUERY_STRING": qs,
            "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost",
            "REMOTE_ADDR": "127.0.0.1", "SERVER_PORT": "80",
        }, timeout=timeout)
        try:
            return json.loads(body)
        except ValueError:
            raise AssertionError("not JSON from the pool: %r %r\n%s" % (body[:500], err[:500],
                                                                       self.log_text()))

    def burst(self, queries, workers=CHILDREN, script=SCRIPT):
        """The queries sent concurrently (one connection each); answers in order."""
        with ThreadPoolExecutor(max_workers=workers) as ex:
            return list(ex.map(lambda q: self.get(q, script=script), queries))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)   # graceful: workers run MSHUTDOWN
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def pool(tmp_path, shm_keys):
    made = []

    def make(max_requests=0, extensions=()):
        p = Pool(tmp_path / ("pool%d" % len(made)), max_requests, extensions)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()
    for p in made:
        # A sanitizer's report (make test-php-asan) that went to a worker's
        # stderr: UBSan's always do.
        with open(p.log, errors="replace") as f:
            text = f.read()
        assert "runtime error:" not in text and "Sanitizer" not in text, p.log_text()


@pytest.fixture
def shm_keys(request):
    base = 0x5C720000 | ((zlib.crc32(request.node.nodeid.encode()) & 0xFFF) << 4)
    keys = [base + i for i in range(4)]
    # ... and the successors a growth made at them (docs/design.md §1b).
    every = [g for k in keys for g in shm.chain_keys(k)]
    for k in every:
        _remove(k)
    yield keys
    for k in every:
        _remove(k)


def _remove(key):
    subprocess.run(["ipcrm", "-M", "0x%08x" % key], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


class Target:
    """A cluster, a key file for route.php and the expected route of each key."""

    def __init__(self, kind, url, keys, expected, workdir):
        self.kind, self.url, self.expected = kind, url, expected
        self.keyfile = os.path.join(str(workdir), kind + "-keys.json")
        with open(self.keyfile, "w") as f:
            json.dump(keys, f)

    def query(self, key, start=0, count=None, sleep_ms=0, **options):
        opts = dict(options, key=key)
        return {"url": self.url, "opts": json.dumps(opts), "keys": self.keyfile, "from": start,
                "count": len(self.expected) if count is None else count, "sleep_ms": sleep_ms}

    def check(self, answer, start=0, count=None):
        """Fails unless the answer is ok and every route is the truth."""
        assert answer.get("ok"), answer
        want = self.expected[start:start + (len(self.expected) if count is None else count)]
        bad = [(i, g, w) for i, (g, w) in enumerate(zip(answer["routes"], want)) if g != w]
        assert len(answer["routes"]) == len(want) and not bad, bad[:5]


def redis_target(env, workdir, limit=300):
    r = env["redis"]
    keys = [["s", k["hex"], None, ""] for k in r["keys"][:limit]]
    expected = [k["route"] for k in r["keys"][:limit]]
    keys += [["i", k["int"], None, ""] for k in r["ints"]]
    expected += [k["route"] for k in r["ints"]]
    return Target("redis", r["url"], keys, expected, workdir)


def aerospike_target(env, workdir):
    a = env["aerospike"]
    control = ControlClient(a["control_port"])
    try:
        ports = {n["name"]: "127.0.0.1:%d" % n["port"] for n in control.call("nodes")}
        truth = {ns: control.call("truth", namespace=ns)["namespaces"][ns]["partitions"]
                 for ns in a["namespaces"]}
    finally:
        control.close()
    keys, expected = [], []
    for i in range(150):
        for ns in a["namespaces"]:
            for key, set_name in (("user:%d" % i, ""), (i * 7919 - 300, "users")):
                if isinstance(key, str):
                    keys.append(["s", key.encode().hex(), ns, set_name])
                else:
                    keys.append(["i", key, ns, set_name])
                expected.append(ports[truth[ns][partition_id(set_name, key)][0]])
    return Target("aerospike", a["url"], keys, expected, workdir)


def segment_stat(key):
    """`clustershm stat --json` of a segment: the counters of handoffs (clean
    close of a tender) and takeovers, seen from outside the workers."""
    out = subprocess.run([CLI, "stat", "--key", "0x%08x" % key, "--json"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def until(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)
