<?php
/*
 * RedisClusterTest.php - ClusterShm\Client against a real Redis Cluster
 * (6 nodes, 3 masters, started by tests/php/run.py): routes against the
 * servers' truth, nodes(), shards(), status(), refresh(), persistence,
 * close(), and the errors.
 */
declare(strict_types=1);

final class RedisClusterTest extends ClusterShmTestCase
{
    private static function url(): string
    {
        return self::env()['redis']['url'];
    }

    public function testEveryRouteMatchesTheCluster(): void
    {
        $c = $this->connect(self::url(), ['key' => $this->testKey()]);
        $bad = [];
        foreach (self::env()['redis']['keys'] as $k) {
            $key = hex2bin($k['hex']);
            if ($c->route($key) !== self::hostPort($k['route']) || $c->partition($key) !== $k['slot']) {
                $bad[] = $k['hex'];
            }
        }
        foreach (self::env()['redis']['ints'] as $k) {
            // An int key is its decimal text, as phpredis sends it.
            if ($c->route($k['int']) !== self::hostPort($k['route']) || $c->partition($k['int']) !== $k['slot']) {
                $bad[] = $k['int'];
            }
        }
        $this->assertSame([], array_slice($bad, 0, 5), count($bad) . ' keys routed wrong');
    }

    public function testReplicaRouteIsAReplicaOfTheShard(): void
    {
        $c = $this->connect(self::url(), ['key' => $this->testKey()]);
        $env = self::env()['redis'];
        foreach (array_slice($env['keys'], 0, 200) as $k) {
            [$host, $port] = $c->route(hex2bin($k['hex']), null, '', 1);
            $this->assertSame('127.0.0.1', $host);
            $this->assertNotSame(self::hostPort($k['route'])[1], $port);
            $this->assertContains($port, $env['ports']);
        }
    }

    public function testNodesAndStatus(): void
    {
        $key = $this->testKey();
        $c = $this->connect(self::url(), ['key' => $key, 'tend_interval' => 0.5]);
        $nodes = $c->nodes();
        $this->assertCount(6, $nodes);
        $masters = array_filter($nodes, fn($n) => $n['is_master']);
        $this->assertCount(3, $masters);
        $this->assertSame(16384, array_sum(array_column($nodes, 'partitions')));
        $this->assertEqualsCanonicalizing(self::env()['redis']['ports'], array_column($nodes, 'port'));
        foreach ($nodes as $n) {
            $this->assertTrue($n['active']);
            $this->assertSame(40, strlen($n['name']));
        }

        $s = $c->status();
        $this->assertSame('tender', $s['role']);
        $this->assertSame(getmypid(), $s['pid']);
        $this->assertSame(getmypid(), $s['owner_pid']);
        $this->assertSame($key, $s['key']);
        $this->assertSame('redis', $s['driver']);
        $this->assertSame(6, $s['nodes']);
        $this->assertFalse($s['stale']);
        $this->assertFalse($s['nodes_truncated']);
        $this->assertGreaterThanOrEqual(1, $s['epoch']);
        $this->assertGreaterThanOrEqual(1, $s['generation']);
        $this->assertGreaterThan(0, $s['shmid']);
        $this->assertGreaterThan(0, $s['segment_size']);
        $this->assertStringStartsWith('redis:', $s['identity']);
        $this->assertGreaterThanOrEqual(6, $s['max_nodes']);
        $this->assertSame(1, $s['max_namespaces']);
        $this->assertTrue($s['has_tender']);
        $this->assertTrue($s['has_map']);
        $this->assertGreaterThanOrEqual(1, $s['attached']);
        $this->assertEqualsWithDelta(time(), $s['tended_at'], 60);
        $this->assertIsFloat($s['age']);
        $this->assertSame('', $s['last_error']);

        // requestRefresh() makes the tender tend now: the tend counter moves.
        $tends = $s['tends'];
        $c->requestRefresh();
        self::waitFor(fn() => $c->status()['tends'] > $tends, 10, 'a tend after requestRefresh()');
    }

    public function testRefreshReturnsABoolAndAsksForATend(): void
    {
        // A 60 s tend interval: within the test only a refresh makes the tender tend.
        $c = $this->connect(self::url(), ['key' => $this->testKey(), 'tend_interval' => 60,
                                          'takeover_timeout' => 120]);
        $s = $c->status();
        $this->assertFalse($c->refresh(false));
        self::waitFor(fn() => $c->status()['tends'] > $s['tends'], 10, 'a tend after refresh(false)');
        $start = microtime(true);
        // The cluster does not change during this test: the timeout passes first.
        $this->assertFalse($c->refresh(true, 0.3));
        $this->assertFalse($c->refresh(timeout: 0.1));
        $this->assertIsBool($c->refresh());
        $this->assertLessThan(30, microtime(true) - $start, 'refresh() hung');
        $this->assertSame($s['generation'], $c->status()['generation']);
        try {
            $c->refresh(true, NAN);
            $this->fail('a NAN timeout was accepted');
        } catch (ClusterShm\ConfigException $e) {
            $this->assertStringContainsString('timeout', $e->getMessage());
        }
    }

    public function testShardsAreTheClustersSlotTable(): void
    {
        $c = $this->connect(self::url(), ['key' => $this->testKey()]);
        $s = $c->shards();
        $this->assertSame($c->status()['generation'], $s['generation']);
        $this->assertEqualsCanonicalizing($c->nodes(), $s['nodes']);
        $owners = self::env()['redis']['slot_owners'];
        $byName = array_column($s['nodes'], null, 'name');
        $next = 0;
        foreach ($s['shards'] as $sh) {
            // Consecutive ranges, each of one owner set, covering every slot.
            $this->assertSame($next, $sh['first']);
            $this->assertGreaterThanOrEqual($sh['first'], $sh['last']);
            $next = $sh['last'] + 1;
            $m = $sh['master'];
            foreach ([$sh['first'], $sh['last']] as $slot) {
                $this->assertSame($owners[$slot], "{$m['host']}:{$m['port']}", "slot $slot");
            }
            $this->assertTrue($byName[$m['name']]['is_master']);
            $this->assertSame([$m['host'], $m['port']],
                              [$byName[$m['name']]['host'], $byName[$m['name']]['port']]);
            // One replica per master in this cluster, a replica node.
            $this->assertCount(1, $sh['replicas']);
            $this->assertFalse($byName[$sh['replicas'][0]['name']]['is_master']);
        }
        $this->assertSame(16384, $next);
        // Three masters with one range each, as redis-cli --cluster create makes them.
        $this->assertCount(3, $s['shards']);
    }

    public function testStatusShowsTheSegmentsTimingAndTheTenderCounters(): void
    {
        $key = $this->testKey();
        $c = $this->connect(self::url(), ['key' => $key, 'tend_interval' => 0.5,
                                          'takeover_timeout' => 10, 'min_refresh_interval' => 0.02]);
        $s = $c->status();
        foreach (['handoffs', 'dead_takeovers', 'hung_takeovers', 'step_downs', 'failures_in_row'] as $k) {
            $this->assertIsInt($s[$k], $k);
            $this->assertGreaterThanOrEqual(0, $s[$k], $k);
        }
        $this->assertSame(0, $s['failures_in_row']);
        $this->assertSame([0.5, 10.0, 0.02],
                          [$s['tend_interval'], $s['takeover_timeout'], $s['min_refresh_interval']]);
        $this->assertSame([], $s['step_down_history']);

        // Other timing on the same segment (another core client: other options):
        // the segment's values are used, and status() says so.
        $d = $this->connect(self::url(), ['key' => $key, 'tend_interval' => 2,
                                          'takeover_timeout' => 60, 'min_refresh_interval' => 0.5]);
        $t = $d->status();
        $this->assertSame('follower', $t['role']);
        $this->assertSame([0.5, 10.0, 0.02],
                          [$t['tend_interval'], $t['takeover_timeout'], $t['min_refresh_interval']]);

        // The default is 50 ms.
        $e = $this->connect(self::url(), ['key' => $this->testKey(1)]);
        $this->assertSame(0.05, $e->status()['min_refresh_interval']);
    }

    public function testIniSettingsAreTheDefaults(): void
    {
        $key = $this->testKey();
        ini_set('clustershm.key', sprintf('0x%08x', $key));
        ini_set('clustershm.max_nodes', '16');
        try {
            $c = $this->connect(self::url());
            $this->assertSame($key, $c->status()['key']);
            // The options array wins over INI: another key, another segment.
            $other = $this->testKey(1);
            $d = $this->connect(self::url(), ['key' => $other]);
            $this->assertSame($other, $d->status()['key']);
        } finally {
            ini_restore('clustershm.key');
            ini_restore('clustershm.max_nodes');
        }
    }

    public function testDefaultKeyIsDerivedFromTheSeeds(): void
    {
        $c = ClusterShm\connect(self::url());
        $key = $c->status()['key'];
        $c->close();
        self::removeSegment($key);
        $this->assertSame(0x43000000, $key & 0xFF000000);
        // The same seeds in another order identify the same cluster.
        $seeds = explode(',', substr(self::url(), strlen('redis://')));
        $c = ClusterShm\connect('redis://' . implode(',', array_reverse($seeds)));
        $this->assertSame($key, $c->status()['key']);
        $c->close();
        self::removeSegment($key);
    }

    public function testClientsOfOneUrlAndOptionsShareOneCoreClient(): void
    {
        $opts = ['key' => $this->testKey()];
        $a = $this->connect(self::url(), $opts);
        $b = $this->connect(self::url(), $opts);
        // One attachment per process: a second connect() is not a second attach.
        $this->assertSame(1, $a->status()['attached']);
        $this->assertSame($a->status()['shmid'], $b->status()['shmid']);
        $a->close();
        $this->expectException(ClusterShm\Exception::class);
        $this->expectExceptionMessage('closed');
        $b->status();
    }

    public function testPrivateModeTendsAlone(): void
    {
        $c = $this->connect(self::url(), ['shared' => false]);
        $s = $c->status();
        $this->assertSame('private', $s['role']);
        $this->assertSame(-1, $s['shmid']);
        $k = self::env()['redis']['keys'][0];
        $this->assertSame(self::hostPort($k['route']), $c->route(hex2bin($k['hex'])));
    }

    public function testUnknownOptionNamesIt(): void
    {
        $this->expectException(ClusterShm\ConfigException::class);
        $this->expectExceptionMessage("unknown option 'tend_intervall'");
        new ClusterShm\Client(self::url(), ['tend_intervall' => 1]);
    }

    public function testNoSeedAnswers(): void
    {
        $this->expectException(ClusterShm\ClusterException::class);
        $this->expectExceptionMessage('127.0.0.1:7599');
        $this->connect('redis://127.0.0.1:7599', ['key' => $this->testKey(), 'connect_timeout' => 2]);
    }

    public function testAnotherClustersSegmentIsRefused(): void
    {
        $key = $this->testKey();
        $this->connect(self::url(), ['key' => $key]);
        try {
            // Same key, another identity (a cluster name): named on both sides.
            $this->connect(self::url(), ['key' => $key, 'cluster_name' => 'other']);
            $this->fail('a foreign segment was accepted');
        } catch (ClusterShm\SegmentException $e) {
            $this->assertStringContainsString('other', $e->getMessage());
            $this->assertSame(3, $e->getCode());
        }
    }

    public function testStrictTypesRejectAFloatKey(): void
    {
        $c = $this->connect(self::url(), ['key' => $this->testKey()]);
        $this->expectException(TypeError::class);
        $c->route(1.5);
    }

    public function testNegativeReplicaIsAConfigError(): void
    {
        $c = $this->connect(self::url(), ['key' => $this->testKey()]);
        $this->expectException(ClusterShm\ConfigException::class);
        $c->route('k', null, '', -1);
    }
}
