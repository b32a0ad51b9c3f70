--TEST--
clustershm: calls in the wrong state and clusters that do not answer raise the right exception
--EXTENSIONS--
clustershm
--CAPTURE_STDIO--
STDIN STDOUT
--FILE--
<?php
$c = new ClusterShm\Client('redis://127.0.0.1:7599', ['key' => 0x5c70a008, 'connect_timeout' => 1]);
foreach (['route' => ['k'], 'partition' => ['k'], 'nodes' => [], 'status' => [], 'requestRefresh' => []] as $m => $args) {
    try {
        $c->$m(...$args);
    } catch (ClusterShm\Exception $e) {
        echo $m, ': ', get_class($e), ': ', $e->getMessage(), "\n";
    }
}
// Nothing listens on 7599: no seed answers.
try {
    $c->connect();
} catch (ClusterShm\ClusterException $e) {
    echo "ClusterException: ", str_contains($e->getMessage(), '127.0.0.1:7599') ? 'names the seed' : $e->getMessage(), "\n";
}
exec('ipcrm -M 0x5c70a008 2>/dev/null');
class Mine extends ClusterShm\Client { public function __construct() {} }
try {
    (new Mine)->connect();
} catch (ClusterShm\Exception $e) {
    echo $e->getMessage(), "\n";
}
try {
    ClusterShm\redis_slot([]);
} catch (TypeError $e) {
    echo $e->getMessage(), "\n";
}
?>
--EXPECT--
route: ClusterShm\Exception: ClusterShm\Client is not connected: call connect() first, or use ClusterShm\connect($url, $options)
partition: ClusterShm\Exception: ClusterShm\Client is not connected: call connect() first, or use ClusterShm\connect($url, $options)
nodes: ClusterShm\Exception: ClusterShm\Client is not connected: call connect() first, or use ClusterShm\connect($url, $options)
status: ClusterShm\Exception: ClusterShm\Client is not connected: call connect() first, or use ClusterShm\connect($url, $options)
requestRefresh: ClusterShm\Exception: ClusterShm\Client is not connected: call connect() first, or use ClusterShm\connect($url, $options)
ClusterException: names the seed
ClusterShm\Client is not initialized: a subclass constructor must call parent::__construct($url, $options)
ClusterShm\redis_slot(): Argument #1 ($key) must be of type string, array given
