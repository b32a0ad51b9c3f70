<?php
/*
 * AerospikeTest.php - ClusterShm\Client against the Aerospike simulator
 * (3 nodes, namespaces test (rf 2) and bar (rf 1)): routes against the
 * simulator's `locate`, string and int keys, sets, replicas, namespaces,
 * and a node kill followed by requestRefresh().  The kill test restarts the
 * node it killed, so the simulator is whole again for the suites after it.
 */
declare(strict_types=1);

final class AerospikeTest extends ClusterShmTestCase
{
    private static function url(): string
    {
        return self::env()['aerospike']['url'];
    }

    /** name => [host, port] of every simulator node. */
    private static function nodePorts(): array
    {
        $out = [];
        foreach (self::sim('nodes') as $n) {
            $out[$n['name']] = ['127.0.0.1', $n['port']];
        }
        return $out;
    }

    /** Keys of every kind: strings, ints, with and without a set. */
    private static function keys(): array
    {
        $keys = [];
        for ($i = 0; $i < 150; $i++) {
            $keys[] = ["user:$i", ''];
            $keys[] = [$i * 7919 - 300, 'users'];
        }
        $keys[] = ['', ''];
        $keys[] = [PHP_INT_MIN, 's'];
        return $keys;
    }

    /** Keys whose route differs from the simulator's truth, "" when none. */
    private static function mismatches(ClusterShm\Client $c, string $ns, int $replica = 0): string
    {
        $ports = self::nodePorts();
        $bad = [];
        foreach (self::keys() as [$key, $set]) {
            $args = ['namespace' => $ns, 'key' => $key] + ($set !== '' ? ['set' => $set] : []);
            $truth = self::sim('locate', $args);
            $want = $ports[$truth['owners'][$replica]];
            try {
                $got = $c->route($key, $ns, $set, $replica);
            } catch (ClusterShm\Exception $e) {
                $got = [get_class($e), $e->getMessage()];
            }
            if ($got !== $want || $c->partition($key, $ns, $set) !== $truth['partition']) {
                $bad[] = var_export($key, true) . ' -> ' . json_encode($got) . ' want ' . json_encode($want);
            }
        }
        return implode('; ', array_slice($bad, 0, 3));
    }

    public function testRoutesMatchTheSimulator(): void
    {
        $c = $this->connect(self::url(), ['key' => $this->testKey()]);
        $this->assertSame('', self::mismatches($c, 'test'));
        $this->assertSame('', self::mismatches($c, 'bar'));
        $this->assertSame('', self::mismatches($c, 'test', 1));
    }

    public function testShardsAreTheSimulatorsPartitionTable(): void
    {
        $c = $this->connect(self::url(), ['key' => $this->testKey()]);
        foreach (['test' => 2, 'bar' => 1] as $ns => $copies) {
            $truth = self::sim('truth', ['namespace' => $ns])['namespaces'][$ns]['partitions'];
            $s = $c->shards($ns);
            $this->assertSame($c->status()['generation'], $s['generation']);
            $got = [];
            foreach ($s['shards'] as $sh) {
                $owners = array_merge([$sh['master']['name']], array_column($sh['replicas'], 'name'));
                $this->assertCount($copies, $owners, $ns);
                for ($p = $sh['first']; $p <= $sh['last']; $p++) {
                    $got[$p] = $owners;
                }
            }
            $this->assertSame(4096, count($got));
            $bad = array_keys(array_filter($got, fn($o, $p) => $o !== array_slice($truth[$p], 0, $copies),
                                           ARRAY_FILTER_USE_BOTH));
            $this->assertSame([], array_slice($bad, 0, 5), "$ns: partitions owned otherwise");
        }
        try {
            $c->shards();
            $this->fail('shards() without a namespace was accepted');
        } catch (ClusterShm\ConfigException $e) {
            $this->assertStringContainsString('namespace', $e->getMessage());
        }
        $this->expectException(ClusterShm\ClusterException::class);
        $this->expectExceptionMessage("unknown namespace 'nope'");
        $c->shards('nope');
    }

    public function testNodesAndStatus(): void
    {
        $c = $this->connect(self::url(), ['key' => $this->testKey()]);
        $nodes = $c->nodes();
        $this->assertEqualsCanonicalizing(array_keys(self::nodePorts()), array_column($nodes, 'name'));
        $s = $c->status();
        $this->assertSame('aerospike', $s['driver']);
        $this->assertSame(2, $s['namespaces']);
        $this->assertSame(3, $s['nodes']);
        $this->assertSame('tender', $s['role']);
    }

    public function testNamespaceIsRequired(): void
    {
        $c = $this->connect(self::url(), ['key' => $this->testKey()]);
        $this->expectException(ClusterShm\ConfigException::class);
        $this->expectExceptionMessage('namespace');
        $c->route('k');
    }

    public function testUnknownNamespace(): void
    {
        $c = $this->connect(self::url(), ['key' => $this->testKey()]);
        $this->expectException(ClusterShm\ClusterException::class);
        $this->expectExceptionMessage("'nope'");
        $c->route('k', 'nope');
    }

    public function testClusterNameMismatch(): void
    {
        $this->expectException(ClusterShm\ClusterException::class);
        $this->connect(self::url(), ['key' => $this->testKey(), 'cluster_name' => 'not-this-one',
                                     'connect_timeout' => 2]);
    }

    public function testKilledNodeIsFollowedAfterRequestRefresh(): void
    {
        $c = $this->connect(self::url(), ['key' => $this->testKey(), 'tend_interval' => 30,
                                          'takeover_timeout' => 60]);
        $victim = array_keys(self::nodePorts())[2];
        self::sim('kill_node', ['name' => $victim]);
        try {
            $c->requestRefresh();
            self::waitFor(fn() => self::mismatches($c, 'test') === '', 20,
                          'routes to follow the kill of ' . $victim);
            $this->assertNotContains($victim, array_column(
                array_filter($c->nodes(), fn($n) => $n['active']), 'name'));
        } finally {
            self::sim('restart_node', ['name' => $victim]);
        }
        $c->requestRefresh();
        self::waitFor(fn() => self::mismatches($c, 'test') === '', 20, 'routes after the restart');
    }
}
