<?php
/*
 * fpm_get.php - the request of benchmark group 1, served by a php-fpm pool:
 * one client made for the request, as an application does, and one GET.
 *
 * GET parameters: client ("phpredis" for phpredis's RedisCluster from its
 * seeds, "clustershm" for ClusterShm\RedisCluster), seeds (comma-separated
 * host:port), url and key (clustershm's), k (the key to GET).  Answers JSON:
 * the worker's pid and the microseconds from the constructor to the GET's
 * answer, or the exception.  Nothing is closed: the persistent sockets and
 * the shared map are the worker's, kept across requests.
 */
require __DIR__ . '/../../tests/php/autoload.php';

header('Content-Type: application/json');
$out = ['pid' => getmypid()];
try {
    $t0 = hrtime(true);
    if ($_GET['client'] === 'phpredis') {
        $c = new RedisCluster(null, explode(',', $_GET['seeds']), 1.5, 1.5, true);
    } else {
        $c = new ClusterShm\RedisCluster($_GET['url'], ['key' => (int)$_GET['key']]);
    }
    $c->get($_GET['k']);
    $out['us'] = (hrtime(true) - $t0) / 1e3;
} catch (Throwable $e) {
    $out['error'] = get_class($e) . ': ' . $e->getMessage();
}
echo json_encode($out);
