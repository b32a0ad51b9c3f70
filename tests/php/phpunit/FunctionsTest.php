<?php
/*
 * FunctionsTest.php - ClusterShm\redis_slot() and ClusterShm\aerospike_digest()
 * against the servers' own answers (CLUSTER KEYSLOT, the simulator's digest).
 */
declare(strict_types=1);

final class FunctionsTest extends ClusterShmTestCase
{
    public function testRedisSlotMatchesClusterKeyslot(): void
    {
        $bad = [];
        foreach (self::env()['redis']['keys'] as $k) {
            if (ClusterShm\redis_slot(hex2bin($k['hex'])) !== $k['slot']) {
                $bad[] = $k['hex'];
            }
        }
        foreach (self::env()['redis']['ints'] as $k) {
            if (ClusterShm\redis_slot((string)$k['int']) !== $k['slot']) {
                $bad[] = $k['int'];
            }
        }
        $this->assertSame([], array_slice($bad, 0, 5), count($bad) . ' keys in the wrong slot');
    }

    public function testAerospikeDigestGivesTheSimulatorsPartition(): void
    {
        foreach (['', 'users'] as $set) {
            foreach (['abc', 'user:1000', '', "\u{e9}t\u{e9}", 0, 5, -7, PHP_INT_MAX] as $key) {
                $d = ClusterShm\aerospike_digest($set, $key);
                $this->assertSame(20, strlen($d));
                $args = ['namespace' => 'test', 'key' => $key];
                if ($set !== '') {
                    $args['set'] = $set;
                }
                $truth = self::sim('locate', $args);
                $this->assertSame($truth['partition'], (ord($d[0]) | (ord($d[1]) << 8)) & 0x0FFF,
                                  "set '$set' key " . var_export($key, true));
            }
        }
    }

    public function testStrictTypesRejectOtherKeyTypes(): void
    {
        $this->expectException(TypeError::class);
        ClusterShm\aerospike_digest('s', 1.5);
    }
}
