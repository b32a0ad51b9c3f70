--TEST--
clustershm: refresh(), the min_refresh_interval option and INI setting, and the status keys of the segment's timing and tenders
--EXTENSIONS--
clustershm
--SKIPIF--
<?php if (!is_executable('/usr/bin/ipcrm') && !is_executable('/bin/ipcrm')) die('skip ipcrm (util-linux) is needed'); ?>
--FILE--
<?php
require __DIR__ . '/fake_cluster_start.inc';
[$port] = fake_cluster_start();
$key = 0x5c70a009;
remove_segment($key);
$url = "redis://127.0.0.1:$port";
// A 60 s tend interval: only a refresh makes the tender tend in this test.
$opts = ['key' => $key, 'tend_interval' => 60, 'takeover_timeout' => 120,
         'connect_timeout' => 5, 'min_refresh_interval' => 0.02];

function attempt(callable $f): void {
    try {
        var_dump($f());
    } catch (ClusterShm\Exception $e) {
        echo get_class($e), ' (', $e->getCode(), '): ', $e->getMessage(), "\n";
    }
}

echo "-- refresh\n";
$c = new ClusterShm\Client($url, $opts);
attempt(fn() => $c->refresh());
$c->connect();
$s = $c->status();

// First, while no refresh was asked for: the fake cluster swaps its masters,
// refresh() returns true and the routes follow.
for ($i = 0; ClusterShm\redis_slot("k$i") >= 8192; $i++);
$low = "k$i";
var_dump($c->route($low) === ['127.0.0.1', $port]);
fake_cluster_swap($port);
var_dump($c->route($low) === ['127.0.0.1', $port]);   // not tended yet
var_dump($c->refresh(true, 30));
var_dump($c->route($low) === ['127.0.0.1', $port + 100]);
$s = $c->status();
var_dump($s['generation'] > 1);

// Without waiting: asks (the tender tends) and returns false.
var_dump($c->refresh(false));
$deadline = microtime(true) + 10;
while ($c->status()['tends'] <= $s['tends'] && microtime(true) < $deadline) {
    usleep(10000);
}
var_dump($c->status()['tends'] > $s['tends']);
// The cluster did not change again: false once the timeout passed.
var_dump($c->refresh(true, 0.2), $c->refresh(timeout: 0), $c->refresh(true, 0));
var_dump($c->status()['generation'] === $s['generation']);

foreach ([-1, -0.001, 3600.5, NAN, INF] as $t) {
    attempt(fn() => $c->refresh(true, $t));
}
var_dump($c->refresh(false, -1));   // the timeout is not used without waiting

echo "-- status\n";
$s = $c->status();
var_dump(array_slice(array_keys($s), 21));
var_dump($s['tend_interval'], $s['takeover_timeout'], $s['min_refresh_interval']);
foreach (['handoffs', 'dead_takeovers', 'hung_takeovers', 'step_downs', 'failures_in_row'] as $k) {
    echo $k, ': ', get_debug_type($s[$k]), ' ', $s[$k] >= 0 ? 'ok' : 'negative', "\n";
}
var_dump($s['step_down_history']);
$c->close();
attempt(fn() => $c->refresh(false));
remove_segment($key);

echo "-- options\n";
$u = 'redis://127.0.0.1:7599';
attempt(fn() => new ClusterShm\Client($u, ['min_refresh_interval' => 0]));
attempt(fn() => new ClusterShm\Client($u, ['min_refresh_interval' => 61]));
attempt(fn() => new ClusterShm\Client($u, ['min_refresh_interval' => '0.1']));
attempt(fn() => new ClusterShm\Client($u, ['min_refresh_interval' => NAN]));
attempt(fn() => get_class(new ClusterShm\Client($u, ['min_refresh_interval' => 0.001])));
attempt(fn() => get_class(new ClusterShm\Client($u, ['min_refresh_interval' => 60])));
// takeover_timeout: at least two network steps of min(connect_timeout, 1 s).
attempt(fn() => new ClusterShm\Client($u, ['tend_interval' => 0.5, 'takeover_timeout' => 1.5]));
attempt(fn() => get_class(new ClusterShm\Client($u, ['tend_interval' => 0.5, 'takeover_timeout' => 1.5,
                                                      'connect_timeout' => 0.5])));

echo "-- INI\n";
ini_set('clustershm.min_refresh_interval', 'often');
attempt(fn() => new ClusterShm\Client($u));
ini_set('clustershm.min_refresh_interval', '0');
attempt(fn() => new ClusterShm\Client($u));
ini_set('clustershm.min_refresh_interval', '0.5');
attempt(fn() => get_class(new ClusterShm\Client($u)));
attempt(fn() => new ClusterShm\Client($u, ['min_refresh_interval' => 100]));  // the array wins
ini_restore('clustershm.min_refresh_interval');
ob_start();
phpinfo(INFO_MODULES);
var_dump(str_contains(ob_get_clean(), 'clustershm.min_refresh_interval => no value => no value'));
?>
--EXPECT--
-- refresh
ClusterShm\Exception (6): ClusterShm\Client is not connected: call connect() first, or use ClusterShm\connect($url, $options)
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
bool(false)
bool(true)
bool(false)
bool(false)
bool(false)
bool(true)
ClusterShm\ConfigException (1): refresh: bad timeout -1 s; use 0 to 3600 seconds
ClusterShm\ConfigException (1): refresh: bad timeout -0.001 s; use 0 to 3600 seconds
ClusterShm\ConfigException (1): refresh: bad timeout 3600.5 s; use 0 to 3600 seconds
ClusterShm\ConfigException (1): refresh: bad timeout nan s; use 0 to 3600 seconds
ClusterShm\ConfigException (1): refresh: bad timeout inf s; use 0 to 3600 seconds
bool(false)
-- status
array(19) {
  [0]=>
  string(8) "handoffs"
  [1]=>
  string(14) "dead_takeovers"
  [2]=>
  string(14) "hung_takeovers"
  [3]=>
  string(10) "step_downs"
  [4]=>
  string(15) "failures_in_row"
  [5]=>
  string(13) "tend_interval"
  [6]=>
  string(16) "takeover_timeout"
  [7]=>
  string(20) "min_refresh_interval"
  [8]=>
  string(6) "driver"
  [9]=>
  string(10) "last_error"
  [10]=>
  string(17) "step_down_history"
  [11]=>
  string(8) "identity"
  [12]=>
  string(9) "max_nodes"
  [13]=>
  string(14) "max_namespaces"
  [14]=>
  string(10) "has_tender"
  [15]=>
  string(7) "has_map"
  [16]=>
  string(16) "chain_generation"
  [17]=>
  string(10) "chain_base"
  [18]=>
  string(12) "forwarded_to"
}
float(60)
float(120)
float(0.02)
handoffs: int ok
dead_takeovers: int ok
hung_takeovers: int ok
step_downs: int ok
failures_in_row: int ok
array(0) {
}
ClusterShm\Exception (6): ClusterShm\Client is not connected: call connect() first, or use ClusterShm\connect($url, $options)
-- options
ClusterShm\ConfigException (1): bad option min_refresh_interval: 0 s; use 0.001 to 60 seconds (the tender tends at most once per this interval on refresh requests)
ClusterShm\ConfigException (1): bad option min_refresh_interval: 61 s; use 0.001 to 60 seconds (the tender tends at most once per this interval on refresh requests)
ClusterShm\ConfigException (1): bad option min_refresh_interval: expected seconds as int or float, got string; e.g. 'min_refresh_interval' => 1.5
ClusterShm\ConfigException (1): bad option min_refresh_interval: nan s; use 0.001 to 60 seconds (the tender tends at most once per this interval on refresh requests)
string(17) "ClusterShm\Client"
string(17) "ClusterShm\Client"
ClusterShm\ConfigException (1): bad option takeover_timeout: 1.5 s is shorter than two network operations of the tender (each up to min(connect_timeout, 1 s) = 1 s), so a healthy tender waiting on one slow node would be taken over; use takeover_timeout >= 2 s, or a smaller connect_timeout
string(17) "ClusterShm\Client"
-- INI
ClusterShm\ConfigException (1): bad INI setting clustershm.min_refresh_interval = 'often': expected seconds such as 1.5; fix php.ini or ini_set()
ClusterShm\ConfigException (1): bad option min_refresh_interval: 0 s; use 0.001 to 60 seconds (the tender tends at most once per this interval on refresh requests)
string(17) "ClusterShm\Client"
ClusterShm\ConfigException (1): bad option min_refresh_interval: 100 s; use 0.001 to 60 seconds (the tender tends at most once per this interval on refresh requests)
bool(true)
