"""run.py - the PHP suites against real clusters: PHPUnit and the PHP-FPM
pool tests (and, with --phpt, the .phpt tests run against an installed
extension).

    python3 tests/php/run.py --ext /abs/path/clustershm.so   # a built extension
    python3 tests/php/run.py --ext clustershm --phpt         # the installed one

It starts one real Redis Cluster (Debian's redis-server, ports 7500-7505)
and one Aerospike simulator (nodes 3300-3302, control 3309), writes the
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
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, ROOT)

from support import keys as keyset  # noqa: E402
from support.cluster import RedisCluster  # noqa: E402
from tests.aerospike_sim.client import SimulatorProcess  # noqa: E402

REDIS_PORTS = range(7500, 7506)
SIM_BASE, SIM_CONTROL = 3300, 3309
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
    sim = None
    failed = []
    try:
        cluster.start()
        sim = SimulatorProcess(nodes=3, base_port=SIM_BASE, namespaces="test:2,bar:1",
                               control_port=SIM_CONTROL)
        env_path = os.path.join(work, "env.json")
        with open(env_path, "w") as f:
            json.dump({"redis": redis_truth(cluster),
                       "aerospike": {"url": "aerospike://127.0.0.1:%d" % SIM_BASE,
                                     "control_port": SIM_CONTROL, "namespaces": ["test", "bar"]},
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
            try:
                rc = subprocess.run(argv, env=suite_env, cwd=ROOT, timeout=SUITE_DEADLINE).returncode
            except subprocess.TimeoutExpired:
                print("== %s: ran past %d s: hung" % (name, SUITE_DEADLINE), flush=True)
                rc = -1
            if rc != 0:
                failed.append(name)
    finally:
        if sim is not None:
            sim.close()
        cluster.stop()
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
