--TEST--
clustershm: ClusterShm\redis_slot() is CRC16/XMODEM mod 16384 with {hash tags}
--EXTENSIONS--
clustershm
--FILE--
<?php
use function ClusterShm\redis_slot;
var_dump(redis_slot('123456789'));                 // CRC16 check value 0x31C3
var_dump(redis_slot('foo'));
var_dump(redis_slot('{user1000}.following') === redis_slot('{user1000}.followers'));
var_dump(redis_slot('{user1000}.following') === redis_slot('user1000'));
var_dump(redis_slot('foo{}{bar}') === redis_slot('foo{}{bar}x'));  // empty tag: whole key
var_dump(redis_slot('foo{{bar}}zap') === redis_slot('{bar'));
var_dump(redis_slot(''));
var_dump(redis_slot("\x00\xff binary"));
?>
--EXPECTF--
int(12739)
int(12182)
bool(true)
bool(true)
bool(false)
bool(true)
int(0)
int(%d)
