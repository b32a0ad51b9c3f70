--TEST--
clustershm: a client connected before pcntl_fork() works in the child, which is a follower
--EXTENSIONS--
clustershm
pcntl
--FILE--
<?php
require __DIR__ . '/fake_cluster_start.inc';
[$port] = fake_cluster_start();
$key = 0x5c70a006;
remove_segment($key);
$c = ClusterShm\connect("redis://127.0.0.1:$port", ['key' => $key, 'tend_interval' => 0.2]);
$before = $c->route('k1');
echo $c->status()['role'], "\n";

$pid = pcntl_fork();
if ($pid === 0) {
    $s = $c->status();
    $ok = $s['role'] === 'follower' && $s['pid'] === getmypid() && $c->route('k1') === $before;
    // The child's own thread serves requestRefresh() and reads as usual.
    $c->requestRefresh();
    exit($ok && $c->route('k2') !== null ? 0 : 1);
}
pcntl_waitpid($pid, $status);
echo "child exit ", pcntl_wexitstatus($status), "\n";
// The parent is unaffected and still the tender.
echo $c->status()['role'], "\n";
var_dump($c->route('k1') === $before);

// The tender forks, then closes: the child (still attached) takes over.
$pid = pcntl_fork();
if ($pid === 0) {
    $c->status();                          // starts the child's thread
    $deadline = microtime(true) + 10;
    while (microtime(true) < $deadline && $c->status()['role'] !== 'tender') {
        usleep(10000);
    }
    exit($c->status()['role'] === 'tender' ? 0 : 1);
}
usleep(200000);
$c->close();
pcntl_waitpid($pid, $status);
echo "child took over: ", pcntl_wexitstatus($status) === 0 ? "yes" : "no", "\n";
remove_segment($key);
?>
--EXPECT--
tender
child exit 0
tender
bool(true)
child took over: yes
