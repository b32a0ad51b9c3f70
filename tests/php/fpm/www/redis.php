<?php
/*
 * redis.php - the script of the pool tests of ClusterShm\RedisCluster (the
 * Composer package php/, loaded by its PSR-4 map as Composer would).
 *
 * GET parameters: url, opts (JSON ClusterShm options), prefix and count: it
 * SETs and GETs the keys "$prefix:0" .. "$prefix:count-1" (values naming
 * this worker) through one RedisCluster made for the request, as an
 * application does.  It answers JSON: the worker's pid, ok (every GET gave
 * what was SET), the keys that did not, its role, and the exception if any.
 * Nothing is closed: the shared map and the persistent sockets are the
 * worker's, kept across requests.
 */
require __DIR__ . '/../../autoload.php';

header('Content-Type: application/json');
$out = ['pid' => getmypid()];
try {
    $cluster = new ClusterShm\RedisCluster($_GET['url'], json_decode($_GET['opts'] ?? '{}', true));
    $bad = [];
    for ($i = 0; $i < (int)$_GET['count']; $i++) {
        $key = $_GET['prefix'] . ":$i";
        $value = "$key@" . getmypid();
        if ($cluster->set($key, $value) !== true || $cluster->get($key) !== $value) {
            $bad[] = $key;
        }
    }
    $status = $cluster->client()->status();
    $out += ['ok' => $bad === [], 'bad' => $bad, 'role' => $status['role'],
             'owner_pid' => $status['owner_pid']];
} catch (Throwable $e) {
    $out += ['ok' => false, 'error' => get_class($e) . ': ' . $e->getMessage()];
}
echo json_encode($out);
