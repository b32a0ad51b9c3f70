--TEST--
clustershm: connect, route, partition, nodes, status, requestRefresh and close against a fake cluster
--EXTENSIONS--
clustershm
--SKIPIF--
<?php if (!is_executable('/usr/bin/ipcrm') && !is_executable('/bin/ipcrm')) die('skip ipcrm (util-linux) is needed'); ?>
--FILE--
<?php
require __DIR__ . '/fake_cluster_start.inc';
[$port] = fake_cluster_start();
$key = 0x5c70a005;
remove_segment($key);
$url = "redis://127.0.0.1:$port";
$opts = ['key' => $key, 'tend_interval' => 0.2, 'connect_timeout' => 5];

$c = new ClusterShm\Client($url, $opts);
var_dump($c->connect());
$slot = ClusterShm\redis_slot('user:1');
var_dump($c->partition('user:1') === $slot);
$r = $c->route('user:1');
var_dump($r === ['127.0.0.1', $slot < 8192 ? $port : $port + 100]);
var_dump($c->route('{x}a') === $c->route('{x}b'));
// An int key is routed as its decimal text.
var_dump($c->route(12345) === $c->route('12345'), $c->partition(12345) === ClusterShm\redis_slot('12345'));
// Replica 1 of the second range is the fake server itself.
var_dump($c->route('user:1', null, '', 1)[1] === $port || $slot < 8192);

$nodes = $c->nodes();
usort($nodes, fn($a, $b) => $a['port'] <=> $b['port']);
var_dump(count($nodes), $nodes[0]['port'] === $port, $nodes[0]['partitions'], $nodes[1]['partitions'], $nodes[0]['replica_partitions']);
var_dump(array_keys($nodes[0]));

$s = $c->status();
var_dump(array_keys($s));
var_dump($s['role'], $s['pid'] === getmypid(), $s['owner_pid'] === getmypid(), $s['key'] === $key,
         $s['nodes'], $s['driver'], $s['stale'], $s['epoch'] >= 1, $s['generation'] >= 1);
// A segment that never grew: generation 0 of the chain at its own key.
var_dump($s['chain_generation'], $s['chain_base'] === $key, $s['forwarded_to']);

// Persistent: a second client of the same URL and options shares the core client.
$d = ClusterShm\connect($url, $opts);
var_dump($d->status()['shmid'] === $s['shmid'], $d->status()['role']);
$c->requestRefresh();

// Different options: a separate client.  Limits are minimums, so it uses
// the segment there is (same timing: no warning about adopted values).
$e9 = ClusterShm\connect($url, $opts + ['max_nodes' => 9]);
var_dump($e9 !== $d, $e9->status()['shmid'] === $s['shmid'], $e9->status()['max_nodes'] >= 9);
$e9->close();

$c->close();
try {
    $d->route('x');
} catch (ClusterShm\Exception $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
$d->connect();
var_dump($d->route('user:1') === $r);
$d->close();
$d->close();
remove_segment($key);
?>
--EXPECT--
NULL
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
int(2)
bool(true)
int(8192)
int(8192)
int(8192)
array(7) {
  [0]=>
  string(4) "name"
  [1]=>
  string(4) "host"
  [2]=>
  string(4) "port"
  [3]=>
  string(6) "active"
  [4]=>
  string(9) "is_master"
  [5]=>
  string(10) "partitions"
  [6]=>
  string(18) "replica_partitions"
}
array(40) {
  [0]=>
  string(4) "role"
  [1]=>
  string(3) "pid"
  [2]=>
  string(9) "owner_pid"
  [3]=>
  string(5) "epoch"
  [4]=>
  string(10) "generation"
  [5]=>
  string(9) "tended_at"
  [6]=>
  string(3) "age"
  [7]=>
  string(5) "stale"
  [8]=>
  string(3) "key"
  [9]=>
  string(5) "shmid"
  [10]=>
  string(12) "segment_size"
  [11]=>
  string(5) "nodes"
  [12]=>
  string(10) "namespaces"
  [13]=>
  string(8) "attached"
  [14]=>
  string(10) "nodes_seen"
  [15]=>
  string(15) "namespaces_seen"
  [16]=>
  string(15) "nodes_truncated"
  [17]=>
  string(20) "namespaces_truncated"
  [18]=>
  string(18) "replicas_truncated"
  [19]=>
  string(5) "tends"
  [20]=>
  string(13) "tend_failures"
  [21]=>
  string(8) "handoffs"
  [22]=>
  string(14) "dead_takeovers"
  [23]=>
  string(14) "hung_takeovers"
  [24]=>
  string(10) "step_downs"
  [25]=>
  string(15) "failures_in_row"
  [26]=>
  string(13) "tend_interval"
  [27]=>
  string(16) "takeover_timeout"
  [28]=>
  string(20) "min_refresh_interval"
  [29]=>
  string(6) "driver"
  [30]=>
  string(10) "last_error"
  [31]=>
  string(17) "step_down_history"
  [32]=>
  string(8) "identity"
  [33]=>
  string(9) "max_nodes"
  [34]=>
  string(14) "max_namespaces"
  [35]=>
  string(10) "has_tender"
  [36]=>
  string(7) "has_map"
  [37]=>
  string(16) "chain_generation"
  [38]=>
  string(10) "chain_base"
  [39]=>
  string(12) "forwarded_to"
}
string(6) "tender"
bool(true)
bool(true)
bool(true)
int(2)
string(5) "redis"
bool(false)
bool(true)
bool(true)
int(0)
bool(true)
NULL
bool(true)
string(6) "tender"
bool(true)
bool(true)
bool(true)
ClusterShm\Exception: ClusterShm\Client is closed: close() was called on it or on another client of the same URL and options; call connect() again
bool(true)
