"""seeds.py - rebuild the seed corpora of tests/fuzz/corpus/ from real servers.

    python3 tests/fuzz/seeds.py            (from the repository root, after make all)

Run by hand, never by make: the corpora are committed, and this script is
how they were made.  It starts, on loopback ports of its own:
  - a 6-node Redis Cluster (redis-server, tests/integration/support/cluster.py)
    and captures, byte for byte, CLUSTER SHARDS / SLOTS / NODES in RESP2 and
    RESP3 (HELLO 3) through a reshard, a hostname and an unknown-endpoint
    configuration and a failover, a node that joined no cluster, and errors
    (-MOVED, -ASK, -CROSSSLOT, -NOAUTH, -WRONGPASS, ...);
  - a standalone redis-server with the DEBUG command, for every RESP3 type
    (DEBUG PROTOCOL ...);
  - the Aerospike simulator (tests/aerospike_sim) and captures whole info
    responses (header and body) to the requests the tender makes, through a
    node kill, an initializing node, a migration, strong consistency and the
    simulator's faults;
  - build/cshm-worker processes whose SysV segments' headers are read back
    (Redis and Aerospike, other max_nodes / namespaces, with credentials).
It also writes the replies already in tests/c/redis_captures.c, and URLs for
fuzz_config (the README's and the C tests').  Each corpus directory is
emptied first.  Files are named after what they hold.
"""
import ctypes
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, ROOT)

from tests.aerospike_sim.client import SimulatorProcess  # noqa: E402
from tests.aerospike_sim.framing import frame  # noqa: E402
from tests.integration.support import procs  # noqa: E402
from tests.integration.support.cluster import RedisCluster  # noqa: E402
from tests.integration.support.resp import call, encode, text  # noqa: E402

CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
HOST = "127.0.0.1"
CLUSTER_PORTS = range(7640, 7646)
LONE_PORT = 7650          # cluster-enabled, never joined
DEBUG_PORT = 7651         # standalone, DEBUG enabled
WIDE_PORTS = range(7652, 7657)   # one shard: a master and 4 replicas
SIM_BASE = 3640
SIM_CONTROL = 3699
WORKER = os.path.join(ROOT, "build", "cshm-worker")
SEGMENT_KEYS = [0x5EED0001 + i for i in range(8)]


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    assert len(data) < 64 * 1024, (target, name, len(data))
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def reset(target):
    shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)
    os.makedirs(os.path.join(CORPUS, target))


# ---- raw exchanges -----------------------------------------------------------

def read_idle(sock, idle=0.3, limit=5.0):
    """Everything the peer sends until it is quiet for `idle` seconds."""
    chunks, end = [], time.monotonic() + limit
    sock.settimeout(idle)
    while time.monotonic() < end:
        try:
            chunk = sock.recv(1 << 16)
        except socket.timeout:
            if chunks:
                break
            continue
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def redis_raw(port, *commands):
    """Send each command on one connection; the raw bytes of each reply."""
    with socket.create_connection((HOST, port), timeout=5) as s:
        out = []
        for args in commands:
            s.sendall(encode(list(args)))
            out.append(read_idle(s))
        return out


def info_raw(port, body):
    """One info request; the raw response (header and body)."""
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(frame(body))
        return read_idle(s, idle=0.5, limit=3.0)


def info_values(response):
    """{name: value} of a well-formed info response."""
    values = {}
    for line in response[8:].split(b"\n")[:-1]:
        name, _, value = line.partition(b"\t")
        values[name.decode()] = value
    return values


# ---- Redis ---------------------------------------------------------------------

# The states whose topology replies also seed fuzz_resp (the others add
# nothing to the RESP grammar).
RESP_STATES = ("initial", "failover")


def capture_topology(port, tag, resp_seeds, topo_seeds):
    shards2, slots2, nodes2 = redis_raw(port, ("CLUSTER", "SHARDS"), ("CLUSTER", "SLOTS"),
                                        ("CLUSTER", "NODES"))
    hello, shards3, slots3 = redis_raw(port, ("HELLO", "3"), ("CLUSTER", "SHARDS"),
                                       ("CLUSTER", "SLOTS"))
    for name, data in (("shards", shards2), ("slots", slots2), ("shards-resp3", shards3),
                       ("slots-resp3", slots3)):
        topo_seeds["%s-%s" % (name, tag)] = data
        if tag in RESP_STATES:
            resp_seeds["cluster-%s-%s" % (name, tag)] = data
    if tag in RESP_STATES or tag == "hostname":
        resp_seeds["cluster-nodes-%s" % tag] = nodes2
    resp_seeds["hello3"] = hello


def redis_seeds(workdir):
    resp_seeds, topo_seeds = {}, {}
    cluster = RedisCluster(CLUSTER_PORTS, os.path.join(workdir, "cluster"), replicas=1)
    extra = []
    try:
        cluster.start()
        first = cluster.ports[0]
        capture_topology(first, "initial", resp_seeds, topo_seeds)
        (info,) = redis_raw(first, ("CLUSTER", "INFO"))
        resp_seeds["cluster-info"] = info
        (myid,) = redis_raw(first, ("CLUSTER", "MYID"))
        resp_seeds["cluster-myid"] = myid

        # Replies of every kind the tender or the tests can meet.
        slot_of_foo = call(first, "CLUSTER", "KEYSLOT", "foo")
        masters = [p for p, _id, _n in cluster.masters()]
        answers = {p: redis_raw(p, ("GET", "foo"))[0] for p in masters}
        owner = [p for p in masters if not answers[p].startswith(b"-MOVED")][0]
        other = [p for p in masters if p != owner][0]
        moved, crossslot, unknown = redis_raw(other, ("GET", "foo"), ("MGET", "foo", "bar"),
                                              ("NOSUCHCOMMAND",))
        resp_seeds["error-moved"] = moved
        resp_seeds["error-crossslot"] = crossslot
        resp_seeds["error-unknown-command"] = unknown
        ping, nil, integer, empty, setok, wrongtype = redis_raw(
            owner, ("PING",), ("GET", "foo"), ("DBSIZE",), ("KEYS", "nomatch*"),
            ("SET", "foo", "bar\r\nwith crlf"), ("LPUSH", "foo", "x"))
        resp_seeds.update({"simple-pong": ping, "null-bulk": nil, "integer": integer,
                           "empty-array": empty, "simple-ok": setok,
                           "error-wrongtype": wrongtype})
        (bulk,) = redis_raw(owner, ("GET", "foo"))
        resp_seeds["bulk-with-crlf"] = bulk
        (null_array,) = redis_raw(owner, ("BLPOP", "{foo}nolist", "0.01"))
        resp_seeds["null-array"] = null_array

        # -ASK: a slot being migrated, its key absent on the source.
        ids = {p: cluster.node_id(p) for p in cluster.ports}
        call(owner, "CLUSTER", "SETSLOT", slot_of_foo, "MIGRATING", ids[other])
        call(other, "CLUSTER", "SETSLOT", slot_of_foo, "IMPORTING", ids[owner])
        call(owner, "DEL", "foo")
        (ask,) = redis_raw(owner, ("GET", "foo"))
        resp_seeds["error-ask"] = ask
        call(owner, "CLUSTER", "SETSLOT", slot_of_foo, "STABLE")
        call(other, "CLUSTER", "SETSLOT", slot_of_foo, "STABLE")

        # A reshard into several ranges per shard.
        masters = cluster.masters()
        cluster.reshard(masters[0][1], masters[1][1], 100)
        cluster.wait_settled()
        capture_topology(first, "resharded", resp_seeds, topo_seeds)

        # Hostnames, then unknown endpoints.
        for p in cluster.ports:
            call(p, "CONFIG", "SET", "cluster-announce-hostname", "node%d.example" % p)
            call(p, "CONFIG", "SET", "cluster-preferred-endpoint-type", "hostname")
        time.sleep(2)
        capture_topology(first, "hostname", resp_seeds, topo_seeds)
        for p in cluster.ports:
            call(p, "CONFIG", "SET", "cluster-preferred-endpoint-type", "unknown-endpoint")
        time.sleep(1)
        capture_topology(first, "unknown-endpoint", resp_seeds, topo_seeds)
        for p in cluster.ports:
            call(p, "CONFIG", "SET", "cluster-preferred-endpoint-type", "ip")

        # A failover: a master dies and its replica takes over.
        victim = cluster.masters()[0][0]
        cluster.kill_node(victim)
        live = [p for p in cluster.live_ports if p != victim][0]
        procs.wait_for(lambda: victim not in [p for p, _i, _n in cluster.masters(live)] and
                       "cluster_state:ok" in text(call(live, "CLUSTER", "INFO")), 60, "failover")
        time.sleep(1)
        capture_topology(live, "failover", resp_seeds, topo_seeds)

        # Credentials: NOAUTH and WRONGPASS.
        for p in cluster.live_ports:
            call(p, "CONFIG", "SET", "requirepass", "fuzz-secret")
        noauth, wrongpass, authok = redis_raw(live, ("CLUSTER", "SHARDS"),
                                              ("AUTH", "wrong"), ("AUTH", "fuzz-secret"))
        resp_seeds.update({"error-noauth": noauth, "error-wrongpass": wrongpass,
                           "auth-ok": authok})
        topo_seeds["error-noauth"] = noauth
        for p in cluster.live_ports:
            c = socket.create_connection((HOST, p))
            c.sendall(encode(["AUTH", "fuzz-secret"]) +
                      encode(["CONFIG", "SET", "requirepass", ""]))
            read_idle(c)
            c.close()

        # A cluster-enabled node that joined nothing: no slot anywhere.
        lone = os.path.join(workdir, "lone")
        os.makedirs(lone)
        extra.append(procs.spawn(["redis-server", "--port", str(LONE_PORT), "--bind", HOST,
                                  "--cluster-enabled", "yes", "--save", "", "--dir", lone,
                                  "--appendonly", "no"], stdout=subprocess.DEVNULL))
        # A standalone server with DEBUG, for every RESP3 type.
        extra.append(procs.spawn(["redis-server", "--port", str(DEBUG_PORT), "--bind", HOST,
                                  "--save", "", "--appendonly", "no",
                                  "--enable-debug-command", "yes"],
                                 stdout=subprocess.DEVNULL))
        for port in (LONE_PORT, DEBUG_PORT):
            procs.wait_for(lambda port=port: call(port, "PING") == "PONG", 20, "redis-server")
        capture_topology(LONE_PORT, "lone-node", resp_seeds, topo_seeds)
        (disabled,) = redis_raw(DEBUG_PORT, ("CLUSTER", "SHARDS"))
        resp_seeds["error-cluster-disabled"] = disabled
        topo_seeds["error-cluster-disabled"] = disabled
        wide_shard(os.path.join(workdir, "wide"), topo_seeds)
        kinds = ["string", "integer", "double", "bignum", "null", "array", "set", "map",
                 "attrib", "push", "verbatim", "true", "false"]
        replies = redis_raw(DEBUG_PORT, ("HELLO", "3"),
                            *[("DEBUG", "PROTOCOL", k) for k in kinds])
        for k, reply in zip(kinds, replies[1:]):
            resp_seeds["resp3-" + k] = reply
        return resp_seeds, topo_seeds, cluster
    except BaseException:
        cluster.stop()
        raise
    finally:
        for p in extra:
            p.kill()
            p.wait()


def wide_shard(workdir, topo_seeds):
    """One master owning every slot, with 4 replicas: more replicas than
    the map's 3 replica columns."""
    wide = RedisCluster(WIDE_PORTS, workdir)
    try:
        for p in wide.ports:
            wide._start_server(p)
        for p in wide.ports:
            procs.wait_for(lambda p=p: call(p, "PING") == "PONG", 20, "redis-server %d" % p)
        master = wide.ports[0]
        call(master, "CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        for p in wide.ports[1:]:
            call(p, "CLUSTER", "MEET", HOST, master)
        procs.wait_for(lambda: all(len(text(call(p, "CLUSTER", "NODES")).splitlines()) == 5
                                   for p in wide.ports), 30, "the wide shard's nodes to meet")
        master_id = wide.node_id(master)
        for p in wide.ports[1:]:
            call(p, "CLUSTER", "REPLICATE", master_id)
        wide.wait_settled(60)
        capture_topology(master, "wide-shard", {}, topo_seeds)
    finally:
        wide.stop()


# Replies at the RESP parser's limits, from tests/c/test_resp.c: these need
# lengths, values or depths that mutations of small replies rarely make.
RESP_LIMITS = {
    "limit-bulk-near-8mib": b"$8388000\r\n",
    "limit-bulk-ends-past-8mib": b"*2\r\n$4\r\nabcd\r\n$8388608\r\n",
    "limit-array-of-1mi": b"*1048576\r\n:1\r\n",
    "limit-int64-min": b":-9223372036854775808\r\n",
    "limit-int64-over": b":9223372036854775808\r\n",
    "limit-depth-8": b"*1\r\n" * 8 + b":7\r\n",
    "limit-depth-9": b"%1\r\n+k\r\n" * 9 + b":7\r\n",
}


def redis_captures_c():
    """The replies in tests/c/redis_captures.c, by name."""
    text = open(os.path.join(ROOT, "tests", "c", "redis_captures.c")).read()
    out = {}
    for name, body in re.findall(r"const redis_capture (\w+) = CAPTURE\((.*?)\);", text, re.S):
        pieces = re.findall(r'"((?:[^"\\]|\\.)*)"', body)
        out[name.replace("_", "-")] = "".join(pieces).encode().decode("unicode_escape").encode(
            "latin-1")
    return out


# ---- Aerospike -------------------------------------------------------------------

REQUESTS = {
    "validate": b"node\npartition-generation\nbuild\n",
    "validate-cluster-name": b"node\npartition-generation\nbuild\ncluster-name\nservice-clear-std\n",
    "refresh": b"node\npeers-generation\npartition-generation\n",
    "refresh-cluster-name": b"node\npeers-generation\npartition-generation\ncluster-name\n",
    "peers": b"peers-clear-std\n",
    "partitions": b"partition-generation\nreplicas\n",
}


def aerospike_seeds(info_seeds, parse_seeds):
    def grab(port, tag):
        for name, body in REQUESTS.items():
            response = info_raw(port, body)
            info_seeds["%s-%s" % (name, tag)] = response
            values = info_values(response)
            for key, selector in (("peers-clear-std", 0), ("replicas", 1),
                                  ("partition-generation", 2), ("peers-generation", 2),
                                  ("build", 3), ("service-clear-std", 4), ("node", 7)):
                if key in values:
                    parse_seeds["%s-%s" % (key, tag)] = bytes([selector]) + values[key]

    with SimulatorProcess(nodes=3, base_port=SIM_BASE, namespaces="test:2,bar:1",
                          control_port=SIM_CONTROL, extra_args=["--cluster-name", "fuzz"]) as sim:
        names = sim.node_names()
        grab(SIM_BASE, "3-nodes")
        for body, tag in ((b"rack-ids\n", "enterprise-only"), (b"no-such-name\n", "unknown"),
                          (b"features\nversion\nedition\nstatus\n", "misc"),
                          (b"namespaces\nservices\nservices-alumni\n", "services")):
            info_seeds[tag] = info_raw(SIM_BASE, body)
        sim.call("set_sc", namespace="bar", enabled=True, regime=3)
        sim.call("migrate", namespace="test", to=names[1], count=64)
        grab(SIM_BASE, "sc-migrated")
        sim.call("add_node", port=SIM_BASE + 5, join=False)
        grab(SIM_BASE + 5, "initializing")
        sim.call("kill_node", name=names[2])
        grab(SIM_BASE, "node-killed")
        for kind in ("garbage", "bad_value", "truncated"):
            sim.call("set_fault", name=names[0], kind=kind, count=1)
            info_seeds["fault-" + kind] = info_raw(SIM_BASE, REQUESTS["partitions"])
            sim.call("clear_faults")
    with SimulatorProcess(nodes=1, base_port=SIM_BASE, namespaces="test:1",
                          control_port=SIM_CONTROL, extra_args=["--build", "4.9.0.2"]) as sim:
        grab(SIM_BASE, "1-node-old-build")
    # Peers, endpoints and node names from the protocol reference's examples
    # (the byte strings of tests/c/test_aerospike.c).
    for i, value in enumerate([b"12,3000,[[BB9030011AC4202,,[172.17.0.3]],[BB9040011AC4202,,"
                               b"[172.17.0.4,10.0.0.4:3100,[2001:db8::4]]]]",
                               b"12,3000,[[BB9030011AC4202,node3.example,[172.17.0.3:4333]]]",
                               b"7,4000,[[A2,,[127.0.0.1,[::1]:3002,[fe80::1%eth0]]]]",
                               b"7,,[[A2,,[]]]", b"3,3000,[]"]):
        parse_seeds["peers-spec-%d" % i] = b"\x00" + value
    for i, value in enumerate([b"127.0.0.1", b"127.0.0.1:3001", b"[::1]:3002",
                               b"[fe80::1%eth0]", b"node3.example:4333"]):
        parse_seeds["endpoint-%d" % i] = b"\x06" + value
    parse_seeds["generation-initializing"] = b"\x02-1"
    parse_seeds["u64-port"] = b"\x053000"
    parse_seeds["u64-large"] = b"\x0d18446744073709551615"
    parse_seeds["service-two"] = b"\x04127.0.0.1:3000,[::1]:3000"


# ---- segment headers -----------------------------------------------------------

def shm_size(key):
    with open("/proc/sysvipc/shm") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[0]) == key:
                return int(fields[1]), int(fields[3])
    raise KeyError(hex(key))


def read_header(key):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    libc.shmdt.argtypes = [ctypes.c_void_p]
    shmid, size = shm_size(key)
    addr = libc.shmat(shmid, None, 0o10000)  # SHM_RDONLY
    if addr in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "shmat")
    header = ctypes.string_at(addr, 8192)
    libc.shmdt(addr)
    # The target zero-pads: trailing zeros need not be stored.
    return struct.pack("<Q", size) + header.rstrip(b"\0")


def segment_seeds(seeds, redis_url, aerospike_url):
    connects = [
        ("redis-default", redis_url, ""),
        ("redis-max-nodes-3", redis_url, "max_nodes=3 mode=0660 tend_interval=0.5"),
        ("redis-password", redis_url.replace("redis://", "redis://:fuzz-secret@"), ""),
        ("redis-acl-user", redis_url.replace("redis://", "redis://app:fuzz%40secret@"),
         "takeover_timeout=5 min_refresh_interval=0.01"),
        ("aerospike-default", aerospike_url, ""),
        ("aerospike-32-namespaces", aerospike_url,
         "max_namespaces=32 max_nodes=200 cluster_name=fuzz connect_timeout=0.2"),
    ]
    for (name, url, options), key in zip(connects, SEGMENT_KEYS):
        w = subprocess.Popen([WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            w.stdin.write("connect %s key=%d %s\n" % (url, key, options))
            w.stdin.flush()
            w.stdout.readline()   # connected or not: the segment exists
            seeds[name] = read_header(key)
        finally:
            w.stdin.close()
            w.wait(timeout=10)
            subprocess.run(["ipcrm", "-M", str(key)], stderr=subprocess.DEVNULL)


# ---- URLs ------------------------------------------------------------------------

# The options prefix of fuzz_config: pass options, no key, shared, max_nodes
# 64, max_namespaces 8, tend 1 s / takeover 30 s, connect 5 s / refresh
# 0.05 s, mode 0600.
DEFAULT_OPTIONS = bytes([0x01, 0, 0, 0, 0, 64, 0, 8, 0xA7, 0x49, 0x80, 0x01])
URLS = [
    b"redis://127.0.0.1:7001,127.0.0.1:7002",
    b"aerospike://10.0.0.1:3000,10.0.0.2:3000",
    b"redis://10.0.0.1:6379,10.0.0.2:6379",
    b"aerospike://10.0.0.5:3000",
    b"redis://127.0.0.1:7002,LocalHost:7001,127.0.0.1:7002",
    b"redis://app:p%40ss%3Aword@[::1]:7001",
    b"redis://:secret@h:1",
    b"redis://h2:2,h1:1",
    b"redis://[::1:1",
    b"redis://u:%zz@h:1",
    b"redis://h:1?x=1",
    b"aerospike://u:p@h:3000",
]


def config_seeds(seeds):
    for i, url in enumerate(URLS):
        seeds["url-%02d" % i] = DEFAULT_OPTIONS + url
    seeds["defaults-null-options"] = bytes(12) + URLS[0]
    explicit_key = bytearray(DEFAULT_OPTIONS)
    explicit_key[0] = 0x03
    explicit_key[1:5] = struct.pack("<I", 0x5EED0001)
    seeds["explicit-key"] = bytes(explicit_key) + URLS[1]
    seeds["cluster-name"] = DEFAULT_OPTIONS + b"prod\n" + URLS[3]


def main():
    for t in ("fuzz_resp", "fuzz_redis_topology", "fuzz_info", "fuzz_aerospike_parse",
              "fuzz_config", "fuzz_segment_header"):
        reset(t)
    workdir = tempfile.mkdtemp(prefix="cshm-seeds-")
    resp_seeds, topo_seeds, cluster = redis_seeds(workdir)
    try:
        for name, data in redis_captures_c().items():
            topo_seeds[name] = data
        resp_seeds.update(RESP_LIMITS)
        info_seeds, parse_seeds, segment = {}, {}, {}
        aerospike_seeds(info_seeds, parse_seeds)
        with SimulatorProcess(nodes=2, base_port=SIM_BASE, namespaces="test:2",
                              control_port=SIM_CONTROL):
            segment_seeds(segment, "redis://%s:%d" % (HOST, cluster.live_ports[0]),
                          "aerospike://%s:%d" % (HOST, SIM_BASE))
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    config = {}
    config_seeds(config)
    for target, seeds in (("fuzz_resp", resp_seeds), ("fuzz_redis_topology", topo_seeds),
                          ("fuzz_info", info_seeds), ("fuzz_aerospike_parse", parse_seeds),
                          ("fuzz_config", config), ("fuzz_segment_header", segment)):
        for name, data in sorted(seeds.items()):
            if data:
                write(target, name, data)
        print("%-22s %3d seeds" % (target, len(os.listdir(os.path.join(CORPUS, target)))))


if __name__ == "__main__":
    main()
