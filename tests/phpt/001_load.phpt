--TEST--
clustershm: extension, classes, functions and constant are registered
--EXTENSIONS--
clustershm
--FILE--
<?php
var_dump(extension_loaded('clustershm'));
var_dump(ClusterShm\VERSION === phpversion('clustershm'));
foreach (['ConfigException', 'ClusterException', 'SegmentException', 'TimeoutException'] as $c) {
    echo $c, ': ', get_parent_class("ClusterShm\\$c"), "\n";
}
echo get_parent_class('ClusterShm\Exception'), "\n";
foreach (['connect', 'aerospike_digest', 'redis_slot'] as $f) {
    echo (new ReflectionFunction("ClusterShm\\$f")), "";
}
foreach (['route', 'refresh', 'shards'] as $name) {
    $m = new ReflectionMethod('ClusterShm\Client', $name);
    foreach ($m->getParameters() as $p) {
        echo $p->getType(), ' $', $p->getName(), $p->isOptional() ? ' = ' . var_export($p->getDefaultValue(), true) : '', "\n";
    }
    echo $m->getReturnType(), "\n";
}
var_dump(get_class_methods('ClusterShm\Client'));
try {
    serialize(new ClusterShm\Client('redis://127.0.0.1:7599'));
} catch (Exception $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
try {
    clone new ClusterShm\Client('redis://127.0.0.1:7599');
} catch (Error $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
?>
--EXPECTF--
bool(true)
bool(true)
ConfigException: ClusterShm\Exception
ClusterException: ClusterShm\Exception
SegmentException: ClusterShm\Exception
TimeoutException: ClusterShm\Exception
RuntimeException
Function [ <internal:clustershm> function ClusterShm\connect ] {

  - Parameters [2] {
    Parameter #0 [ <required> string $url ]
    Parameter #1 [ <optional> array $options = [] ]
  }
  - Return [ ClusterShm\Client ]
}
Function [ <internal:clustershm> function ClusterShm\aerospike_digest ] {

  - Parameters [2] {
    Parameter #0 [ <required> string $set ]
    Parameter #1 [ <required> string|int $key ]
  }
  - Return [ string ]
}
Function [ <internal:clustershm> function ClusterShm\redis_slot ] {

  - Parameters [1] {
    Parameter #0 [ <required> string $key ]
  }
  - Return [ int ]
}
string|int $key
?string $namespace = NULL
string $set = ''
string|int $replica = 0
?int $rackId = NULL
array
bool $wait = true
float $timeout = 1.0
bool
?string $namespace = NULL
array
array(10) {
  [0]=>
  string(11) "__construct"
  [1]=>
  string(7) "connect"
  [2]=>
  string(5) "close"
  [3]=>
  string(5) "route"
  [4]=>
  string(9) "partition"
  [5]=>
  string(5) "nodes"
  [6]=>
  string(6) "status"
  [7]=>
  string(14) "requestRefresh"
  [8]=>
  string(7) "refresh"
  [9]=>
  string(6) "shards"
}
Exception: Serialization of 'ClusterShm\Client' is not allowed
Error: Trying to clone an uncloneable object of class ClusterShm\Client
