<?php
/*
 * route.php - benchmark group 5 from PHP (php CLI): ClusterShm\Client's
 * route() per call, beside a GET per call through ClusterShm\RedisCluster
 * and through phpredis's RedisCluster, and redis_slot() alone.
 *
 *   php route.php URL KEY SEEDS N
 *
 * Prints one JSON object of nanoseconds per call (median of 7 batches).
 */
require __DIR__ . '/../../tests/php/autoload.php';

[$url, $key, $seeds, $n] = [$argv[1], (int)$argv[2], explode(',', $argv[3]), (int)$argv[4]];
$keys = [];
for ($i = 0; $i < $n; $i++) {
    $keys[] = 'user:' . ($i * 7919);
}

function per_call(callable $fn, array $keys): float
{
    $batches = [];
    for ($b = 0; $b < 7; $b++) {
        $t0 = hrtime(true);
        foreach ($keys as $k) {
            $fn($k);
        }
        $batches[] = (hrtime(true) - $t0) / count($keys);
    }
    sort($batches);
    return $batches[3];
}

$client = ClusterShm\connect($url, ['key' => $key]);
$out = [];
$out['route'] = per_call(fn($k) => $client->route($k), $keys);
$out['redis_slot'] = per_call(fn($k) => ClusterShm\redis_slot($k), $keys);
$out['loop'] = per_call(fn($k) => null, $keys);
// GETs are round trips: a tenth of the keys.
$few = array_slice($keys, 0, max(100, intdiv($n, 20)));
$ours = new ClusterShm\RedisCluster($url, ['key' => $key]);
$out['get_clustershm'] = per_call(fn($k) => $ours->get($k), $few);
$peer = new RedisCluster(null, $seeds, 1.5, 1.5, true);
$out['get_phpredis'] = per_call(fn($k) => $peer->get($k), $few);
$client->close();
echo json_encode($out), "\n";
