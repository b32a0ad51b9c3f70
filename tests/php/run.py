"""run.py - the PHP suites against real clusters: PHPUnit and the PHP-FPM
pool tests (and, with --phpt, the .phpt tests run against an installed
extension).

    python3 tests/php/run.py --ext /abs/path/clustershm.so   # a built extension
    python3 tests/php/run.py --ext clustershm --phpt         # the installed one

It starts one real Redis Cluster (Debian's redis-server, ports 7500-7505),
a TLS-only one with mutual TLS (ports 7510-7512, certificates from
tests/integration/support/tls.py) and one Aerospike simulator (nodes 3300-3302, control 3309), writes the
truth about them to a JSON file (CSHM_PHP_ENV) and runs the suites with
CSHM_PHP_EXT naming the extension to load.

Invariants:
  - the truth comes from the servers only: CLUSTER KEYSLOT and CLUSTER SHARDS
    for Redis, the simulator's own digest code and `truth` for Aerospike;
  - the servers die with this process (PR_SET_PDEATHSIG) and are stopped in
    `finally`; SysV segments of the PHP suites (keys 0x5C700000-0x5C72FFFF)
    are removed before and after, no other key is ever touched;
  - every suite runs with a deadline (SUITE_DEADLINE) so a hang fails the
    run instead of stalling CI; nothing measures speed.

The suites may change the cluster through a control socket (CSHM_PHP_ENV's
"control", one JSON line per request, served between polls of the running
suite): "kill" a node (SIGKILL), "restore" the cluster of the truth (killed
nodes restarted, every slot's first master its master again, settled) and
"settle".  The servers stay this process's children, so they still die with
it.

CSHM_PYTEST_ARGS adds arguments to the pool tests' pytest (e.g. "-k kill -s").
CSHM_PHP_PRELOAD is preloaded (LD_PRELOAD) into php and php-fpm only, not
into this script, pytest or the servers (make test-php-asan: the ASan
runtime, whose options come from the environment).  Then PHPUnit runs with
report_memleaks=0: a release PHP does not collect PHPUnit's own garbage
cycles at exit and they would read as leaks (even for a run of an empty
test); with it off PHP frees each request's memory itself at the end, as
its allocator does, and LeakSanitizer judges what outlives requests.
"""
import argparse
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, ROOT)

from support import keys as keyset  # noqa: E402
from support import procs  # noqa: E402
from support.cluster import RedisCluster  # noqa: E402
from support.resp import text  # noqa: E402
from support.tls import TlsFiles  # noqa: E402
from tests.aerospike_sim.client import SimulatorProcess  # noqa: E402

REDIS_PORTS = range(7500, 7506)
TLS_PORTS = range(7510, 7513)   # a TLS-only cluster: 3 masters
SIM_BASE, SIM_CONTROL = 3300, 3309
# The second simulator: login (users app, ops), Enterprise answers, racks 1, 2, 3.
RACK_SIM_BASE, RACK_SIM_CONTROL = 3310, 3319
RACK_SIM_USERS = {"app": "s3cret", "ops": "pässwörd-✓"}
KEY_RANGE = (0x5C700000, 0x5C72FFFF)
SUITE_DEADLINE = 240
KEY_COUNT = 2000


def remove_test_segments():
    with open("/proc/sysvipc/shm") as f:
        header = f.readline().split()
        for line in f:
            row = dict(zip(header, line.split()))
            key = int(row["key"]) & 0xFFFFFFFF
            if KEY_RANGE[0] <= key <= KEY_RANGE[1]:
                subprocess.run(["ipcrm", "-M", "0x%08x" % key],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def tls_truth(cluster, files):
    """What TlsTest.php checks rediss:// routes and options against."""
    keys = keyset.generate(200, 20240612)
    slots = cluster.keyslots(keys)
    owners = cluster.slot_owners()
    return {
        "url": cluster.url(3),
        "ports": list(cluster.ports),
        "ca": files.ca, "other_ca": files.other_ca,
        "cert": files.client_cert, "key": files.client_key,
        "keys": [{"hex": k.hex(), "slot": s, "route": owners[s]} for k, s in zip(keys, slots)],
    }


def redis_truth(cluster):
    keys = keyset.generate(KEY_COUNT, 20240611)
    slots = cluster.keyslots(keys)
    ints = list(range(-50, 50)) + [2 ** 62, -(2 ** 62)]
    int_slots = cluster.keyslots([str(i).encode() for i in ints])
    owners = cluster.slot_owners()
    replicas = {}
    for shard in cluster.shards():
        ports = [int(n["port"]) for n in shard["nodes"] if n["role"] != "master"]
        for lo, hi in shard["slots"]:
            for s in (lo, hi):
                replicas[s] = ports
    return {
        "url": cluster.url(3),
        "ports": list(cluster.ports),
        "keys": [{"hex": k.hex(), "slot": s, "route": owners[s]} for k, s in zip(keys, slots)],
        "ints": [{"int": i, "slot": s, "route": owners[s]} for i, s in zip(ints, int_slots)],
        "slot_owners": owners,
    }


class Control:
    """The suites' requests to change the cluster, on a Unix socket, one
    connection per request.  Served from the main thread only (serve()),
    so restarted servers are children of the same thread as the others."""

    def __init__(self, path, cluster, owners):
        self.path, self.cluster, self.owners = path, cluster, owners
        self.roles = self.roles_seen_by(cluster.live_ports[0])
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)

    def serve(self, timeout):
        """Answers the requests that arrive within timeout seconds."""
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(10)
            try:
                request = json.loads(conn.makefile("r").readline())
                reply = {"ok": True, "result": self.handle(request)}
            except Exception as e:  # noqa: BLE001 - reported to the suite, which fails
                reply = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
            conn.sendall((json.dumps(reply) + "\n").encode())

    def handle(self, request):
        op = request.get("op")
        if op == "kill":
            self.cluster.kill_node(int(request["port"]))
            return None
        if op == "settle":
            self.cluster.wait_settled(60)
            return None
        if op == "restore":
            self.restore()
            return None
        raise ValueError("unknown op %r" % op)

    def restore(self):
        """Killed nodes restarted; every master of the truth its slots'
        master again (CLUSTER FAILOVER on it once it is a synced replica,
        asked again while it is not master); settled with the truth's slot
        owners and every node's role as at the start, in every node's view."""
        c = self.cluster
        for port in sorted(c.dead):
            c.restart_node(port)
        for addr in sorted({a for a in self.owners if a}):
            port = int(addr.rsplit(":", 1)[1])
            asked = [0.0]

            def master_again(addr=addr, port=port, asked=asked):
                other = next(p for p in c.live_ports if p != port)
                view = c.slot_owners(other)
                if all(view[s] == addr for s, a in enumerate(self.owners) if a == addr):
                    return True
                # A restarted master first believes its old nodes.conf:
                # only a replica whose link is up can take its slots back.
                info = text(c.call(port, "INFO", "replication"))
                if ("role:slave" in info and "master_link_status:up" in info
                        and time.monotonic() - asked[0] > 10):
                    c.call(port, "CLUSTER", "FAILOVER")
                    asked[0] = time.monotonic()
                return False

            procs.wait_for(master_again, 90, "node %d to be its slots' master again" % port,
                           interval=0.2)
        procs.wait_for(lambda: c._settled() and c.slot_owners() == self.owners
                       and all(self.roles_seen_by(p) == self.roles for p in c.live_ports), 90,
                       "every node to see every slot and role as at the start", interval=0.1)

    def roles_seen_by(self, port):
        """[(port, role)] of every node in `port`'s CLUSTER SHARDS: a demoted
        master is a master with no slots there until gossip reaches it."""
        return sorted((int(n["port"]), n["role"]) for shard in self.cluster.shards(port)
                      for n in shard["nodes"])

    def close(self):
        self.sock.close()
        os.unlink(self.path)


def run_suite(argv, env, control):
    """argv to its end, serving control requests meanwhile; its exit code,
    or -1 when it ran past SUITE_DEADLINE (then it is killed)."""
    proc = subprocess.Popen(argv, env=env, cwd=ROOT)
    deadline = time.monotonic() + SUITE_DEADLINE
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            return -1
        control.serve(0.1)
    return proc.returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ext", required=True,
                    help="absolute path of clustershm.so, or 'clustershm' for the installed one")
    ap.add_argument("--phpt", action="store_true", help="also run the .phpt tests with --ext")
    ap.add_argument("--only", choices=["phpunit", "fpm"], help="run one suite")
    args = ap.parse_args()

    remove_test_segments()
    work = tempfile.mkdtemp(prefix="cshm-php-")
    cluster = RedisCluster(REDIS_PORTS, os.path.join(work, "redis"))
    tls_files = TlsFiles(os.path.join(work, "tls"))
    tls_cluster = RedisCluster(TLS_PORTS, os.path.join(work, "redis-tls"), replicas=0,
                               tls=tls_files, tls_auth_clients="yes")
    sim = None
    rack_sim = None
    control = None
    failed = []
    try:
        cluster.start()
        tls_cluster.start()
        sim = SimulatorProcess(nodes=3, base_port=SIM_BASE, namespaces="test:2,bar:1",
                               control_port=SIM_CONTROL)
        rack_sim = SimulatorProcess(nodes=3, base_port=RACK_SIM_BASE, namespaces="test:2,bar:1",
                                    control_port=RACK_SIM_CONTROL,
                                    extra_args=["--edition", "enterprise", "--racks", "1,2,3"])
        rack_sim.call("set_users", users=RACK_SIM_USERS)
        env_path = os.path.join(work, "env.json")
        truth = redis_truth(cluster)
        control = Control(os.path.join(work, "control.sock"), cluster, truth["slot_owners"])
        with open(env_path, "w") as f:
            json.dump({"redis": truth,
                       "redis_tls": tls_truth(tls_cluster, tls_files),
                       "aerospike": {"url": "aerospike://127.0.0.1:%d" % SIM_BASE,
                                     "control_port": SIM_CONTROL, "namespaces": ["test", "bar"]},
                       "aerospike_racks": {"url": "aerospike://127.0.0.1:%d" % RACK_SIM_BASE,
                                           "control_port": RACK_SIM_CONTROL,
                                           "users": RACK_SIM_USERS},
                       "control": control.path,
                       "work": work}, f)
        env = dict(os.environ, CSHM_PHP_ENV=env_path, CSHM_PHP_EXT=args.ext,
                   PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests", "integration")]))
        if args.phpt:
            env["TEST_PHP_EXECUTABLE"] = "/usr/bin/php"
        php = ["php", "-d", "extension=" + args.ext]
        preload = os.environ.get("CSHM_PHP_PRELOAD")
        php_env = env
        if preload:
            php_env = dict(env, LD_PRELOAD=preload)
            php += ["-d", "report_memleaks=0"]
        suites = []   # (name, argv, environment)
        if args.phpt:
            suites.append(("phpt", ["php", phpt_runner(), "-q", "--show-diff",
                                    "-d", "extension=" + args.ext,
                                    os.path.join(ROOT, "tests", "phpt")], php_env))
        if args.only in (None, "phpunit"):
            suites.append(("phpunit", php + ["/usr/bin/phpunit", "-c",
                                             os.path.join(HERE, "phpunit.xml")], php_env))
        if args.only in (None, "fpm"):
            suites.append(("fpm", [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider",
                                   os.path.join(HERE, "fpm")] + os.environ.get("CSHM_PYTEST_ARGS", "").split(),
                           env))
        for name, argv, suite_env in suites:
            print("== %s: %s" % (name, " ".join(argv)), flush=True)
            rc = run_suite(argv, suite_env, control)
            if rc == -1:
                print("== %s: ran past %d s: hung" % (name, SUITE_DEADLINE), flush=True)
            if rc != 0:
                failed.append(name)
    finally:
        if control is not None:
            control.close()
        if sim is not None:
            sim.close()
        if rack_sim is not None:
            rack_sim.close()
        cluster.stop()
        tls_cluster.stop()
        remove_test_segments()
    if failed:
        print("PHP suites failed: %s" % ", ".join(failed), flush=True)
        return 1
    return 0


def phpt_runner():
    """run-tests.php as Debian's php-dev ships it (phpize copies the same file)."""
    ext_dir = subprocess.run(["php-config", "--extension-dir"], capture_output=True,
                             text=True, check=True).stdout.strip()
    return os.path.join(ext_dir, "build", "run-tests.php")


if __name__ == "__main__":
    sys.exit(main())
