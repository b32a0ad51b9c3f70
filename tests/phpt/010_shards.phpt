--TEST--
clustershm: shards() - the whole slot table in ranges, with masters, replicas, the nodes and the generation
--EXTENSIONS--
clustershm
--SKIPIF--
<?php if (!is_executable('/usr/bin/ipcrm') && !is_executable('/bin/ipcrm')) die('skip ipcrm (util-linux) is needed'); ?>
--FILE--
<?php
require __DIR__ . '/fake_cluster_start.inc';
[$port] = fake_cluster_start();
$key = 0x5c70a010;
remove_segment($key);
$url = "redis://127.0.0.1:$port";
// A 60 s tend interval: the map changes only when refresh() asks for it.
$opts = ['key' => $key, 'tend_interval' => 60, 'takeover_timeout' => 120, 'connect_timeout' => 5];

$c = new ClusterShm\Client($url, $opts);
try {
    $c->shards();
} catch (ClusterShm\Exception $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
$c->connect();

// The fake cluster: 0-8191 on itself, 8192-16383 on port+100 with itself as replica.
function show(array $s, int $port): void {
    echo 'nodes ', count($s['nodes']), ', shards ', count($s['shards']), "\n";
    foreach ($s['shards'] as $sh) {
        $name = fn(?array $o) => $o === null ? 'none'
            : ($o['port'] === $port ? 'self' : ($o['port'] === $port + 100 ? 'other' : 'unknown'))
              . ' ' . substr($o['name'], 0, 4) . ' ' . $o['host'];
        echo "{$sh['first']}-{$sh['last']}: master ", $name($sh['master']), '; replicas [',
             implode(', ', array_map($name, $sh['replicas'])), "]\n";
    }
}
$s = $c->shards();
var_dump(array_keys($s), array_keys($s['shards'][0]), array_keys($s['shards'][0]['master']));
show($s, $port);
// 'nodes' is nodes(), as read from the same snapshot.
var_dump($s['nodes'] === $c->nodes());
var_dump($s['generation'] === $c->status()['generation'], $s['generation'] >= 1);
// route() agrees with the table at both ends of every range.
foreach ($s['shards'] as $sh) {
    foreach ([$sh['first'], $sh['last']] as $slot) {
        for ($i = 0; ClusterShm\redis_slot("k$i") !== $slot; $i++);
        if ($c->route("k$i") !== [$sh['master']['host'], $sh['master']['port']]) {
            echo "route of slot $slot disagrees\n";
        }
    }
}
// The namespace is ignored for Redis.
var_dump($c->shards('whatever') == $s, $c->shards(null) == $s);

// A failover: the masters swap; the generation moves with the new map.
fake_cluster_swap($port);
var_dump($c->refresh(true, 30));
$t = $c->shards();
show($t, $port);
var_dump($t['generation'] > $s['generation'], $t['generation'] === $c->status()['generation']);

$c->close();
try {
    $c->shards();
} catch (ClusterShm\Exception $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
try {
    $c->shards([]);
} catch (TypeError $e) {
    echo get_class($e), "\n";
}
remove_segment($key);
?>
--EXPECT--
ClusterShm\Exception: ClusterShm\Client is not connected: call connect() first, or use ClusterShm\connect($url, $options)
array(3) {
  [0]=>
  string(10) "generation"
  [1]=>
  string(5) "nodes"
  [2]=>
  string(6) "shards"
}
array(4) {
  [0]=>
  string(5) "first"
  [1]=>
  string(4) "last"
  [2]=>
  string(6) "master"
  [3]=>
  string(8) "replicas"
}
array(3) {
  [0]=>
  string(4) "host"
  [1]=>
  string(4) "port"
  [2]=>
  string(4) "name"
}
nodes 2, shards 2
0-8191: master self aaaa 127.0.0.1; replicas []
8192-16383: master other bbbb 127.0.0.1; replicas [self aaaa 127.0.0.1]
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
nodes 2, shards 2
0-8191: master other bbbb 127.0.0.1; replicas [self aaaa 127.0.0.1]
8192-16383: master self aaaa 127.0.0.1; replicas []
bool(true)
bool(true)
ClusterShm\Exception: ClusterShm\Client is not connected: call connect() first, or use ClusterShm\connect($url, $options)
TypeError
