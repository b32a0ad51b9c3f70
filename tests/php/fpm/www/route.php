<?php
/*
 * route.php - the script the pool tests send to PHP-FPM workers.
 *
 * GET parameters: url, opts (JSON options), keys (path of a JSON key file:
 * [[type "s"|"i", key (hex for "s"), namespace|null, set], ...]), from and
 * count (the slice of keys to route), sleep_ms (hold the worker, so that
 * concurrent requests reach every child).  It answers JSON: the worker's pid,
 * status() and "host:port" per key, or the exception.  It never calls
 * close(): the client is the worker's persistent one, as in production.
 */
header('Content-Type: application/json');
$out = ['pid' => getmypid()];
try {
    $c = ClusterShm\connect($_GET['url'], json_decode($_GET['opts'] ?? '{}', true));
    $keys = json_decode(file_get_contents($_GET['keys']), true);
    $from = (int)($_GET['from'] ?? 0);
    $routes = [];
    foreach (array_slice($keys, $from, (int)($_GET['count'] ?? count($keys))) as [$type, $key, $ns, $set]) {
        $key = $type === 's' ? hex2bin($key) : (int)$key;
        [$host, $port] = $c->route($key, $ns, $set);
        $routes[] = "$host:$port";
    }
    if (!empty($_GET['sleep_ms'])) {
        usleep((int)$_GET['sleep_ms'] * 1000);
    }
    $out += ['ok' => true, 'status' => $c->status(), 'routes' => $routes];
} catch (Throwable $e) {
    $out += ['ok' => false, 'error' => get_class($e) . ': ' . $e->getMessage()];
}
echo json_encode($out);
