--TEST--
clustershm: ClusterShm\aerospike_digest() matches the Aerospike digest (string and int keys)
--EXTENSIONS--
clustershm
--FILE--
<?php
use function ClusterShm\aerospike_digest;
// Expected values come from the simulator's own RIPEMD-160 (tests/aerospike_sim/digest.py).
$cases = [
    ['', 'key', 'c4a24d9f0ef5584b4278994e75637f54dc564283'],
    ['set', 1, '82d7213b469812947c109a6d341e3b5b1dedec1f'],
    ['demo', 'user:1000', '5e66a2d32957161ae7f000e452d1f4a2ff1a74f9'],
    ['', -1, 'd943ab3514038a3c02fd973a50aa7133e3f400f0'],
    ['users', "\u{e9}", '92bf5666b27b7ed1f25802aedff1947763558f8a'],
];
foreach ($cases as [$set, $key, $hex]) {
    $d = aerospike_digest($set, $key);
    var_dump(strlen($d) === 20 && bin2hex($d) === $hex);
}
// An int and its decimal string are different Aerospike keys.
var_dump(aerospike_digest('s', 7) !== aerospike_digest('s', '7'));
try {
    aerospike_digest("a\0b", 'k');
} catch (ValueError $e) {
    echo $e->getMessage(), "\n";
}
?>
--EXPECT--
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
ClusterShm\aerospike_digest(): Argument #1 ($set) must not contain any null bytes
