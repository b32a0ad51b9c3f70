<?php
/*
 * DropInTest.php - ClusterShm\RedisCluster (the Composer package php/, on
 * phpredis) against the real Redis Cluster of tests/php/run.py: commands of
 * every type land on their slot's master (read back there on a plain
 * connection, the slot owner from the truth), one-slot multi-key commands,
 * CROSSSLOT as the server words it, node() for MULTI, pipelines and replica
 * reads, persistent connections per node, credentials, options, and the
 * cluster changing under it: MOVED after a slot migration, ASK during one,
 * a killed master.
 *
 * Invariants: a test that changes the cluster puts it back (slots migrated
 * back, the harness's "restore" after a kill), in `finally`, so the truth
 * holds for the tests and suites after it.  Redirects are counted at the
 * servers (INFO errorstats, commandstats), never inferred from timing.
 */
declare(strict_types=1);

use ClusterShm\RedisCluster;

final class DropInTest extends ClusterShmTestCase
{
    /** @var RedisCluster[] */
    private array $made = [];
    /** @var array<int, Redis> */
    private array $admins = [];

    protected function setUp(): void
    {
        if (!extension_loaded('redis')) {
            $this->fail('phpredis is not loaded: scripts/deps.sh installs php8.2-redis');
        }
    }

    protected function tearDown(): void
    {
        foreach ($this->made as $c) {
            $c->close();
            $c->client()->close();
        }
        $this->made = [];
        foreach ($this->admins as $r) {
            $r->close();
        }
        $this->admins = [];
        parent::tearDown();
    }

    private static function url(): string
    {
        return self::env()['redis']['url'];
    }

    private function cluster(array $options = [], array $redisOptions = [], ?string $url = null): RedisCluster
    {
        $c = new RedisCluster($url ?? self::url(), $options + ['key' => $this->testKey()], $redisOptions);
        $this->made[] = $c;
        return $c;
    }

    /** A plain connection to one node, for the truth and for changing the cluster. */
    private function admin(int $port): Redis
    {
        if (!isset($this->admins[$port])) {
            $r = new Redis();
            $r->connect('127.0.0.1', $port, 5.0);
            $this->admins[$port] = $r;
        }
        return $this->admins[$port];
    }

    /** The slot of $key, as a server computes it. */
    private function slotOf(string $key): int
    {
        return $this->admin(self::env()['redis']['ports'][0])->rawCommand('CLUSTER', 'KEYSLOT', $key);
    }

    /** The port of the master of $key's slot in the truth. */
    private function ownerOf(string $key): int
    {
        return self::hostPort(self::env()['redis']['slot_owners'][$this->slotOf($key)])[1];
    }

    /** A key "$prefix$i" whose slot's master (truth) is $port, or is not when $not. */
    private function keyOn(int $port, string $prefix, bool $not = false): string
    {
        for ($i = 0; ($this->ownerOf("$prefix$i") === $port) === $not; $i++);
        return "$prefix$i";
    }

    /** errorstat_$name counts (MOVED, ASK, CROSSSLOT) summed over the live nodes. */
    private function errorCount(string $name): int
    {
        $total = 0;
        foreach (self::env()['redis']['ports'] as $port) {
            try {
                $info = $this->admin($port)->info('errorstats');
            } catch (RedisException) {
                unset($this->admins[$port]);      // a killed node
                continue;
            }
            if (preg_match('/count=(\d+)/', (string)($info["errorstat_$name"] ?? ''), $m)) {
                $total += (int)$m[1];
            }
        }
        return $total;
    }

    /** calls= of one command (e.g. "asking") on one node. */
    private function calls(int $port, string $command): int
    {
        $info = $this->admin($port)->info('commandstats');
        return preg_match('/calls=(\d+)/', (string)($info["cmdstat_$command"] ?? ''), $m) ? (int)$m[1] : 0;
    }

    private function nodeId(int $port): string
    {
        return $this->admin($port)->rawCommand('CLUSTER', 'MYID');
    }

    private function masterPorts(): array
    {
        return array_values(array_unique(array_map(fn($a) => self::hostPort($a)[1],
                                                   self::env()['redis']['slot_owners'])));
    }

    /**
     * Moves $slot from master $from to master $to with CLUSTER SETSLOT and
     * MIGRATE, as redis-cli --cluster reshard does; with $finish false it
     * stops while the slot is MIGRATING/IMPORTING, its keys moved.
     */
    private function migrate(int $slot, int $from, int $to, bool $finish = true): void
    {
        $src = $this->admin($from);
        $dst = $this->admin($to);
        $this->assertTrue($dst->rawCommand('CLUSTER', 'SETSLOT', $slot, 'IMPORTING', $this->nodeId($from)));
        $this->assertTrue($src->rawCommand('CLUSTER', 'SETSLOT', $slot, 'MIGRATING', $this->nodeId($to)));
        while ($keys = $src->rawCommand('CLUSTER', 'GETKEYSINSLOT', $slot, 100)) {
            $this->assertTrue($src->rawCommand('MIGRATE', '127.0.0.1', $to, '', 0, 5000, 'KEYS', ...$keys));
        }
        if ($finish) {
            $this->assign($slot, $to);
        }
    }

    /** CLUSTER SETSLOT NODE on the new owner, then on every other master. */
    private function assign(int $slot, int $to): void
    {
        $id = $this->nodeId($to);
        $ports = $this->masterPorts();
        usort($ports, fn($a, $b) => ($b === $to) <=> ($a === $to));
        foreach ($ports as $port) {
            $this->assertTrue($this->admin($port)->rawCommand('CLUSTER', 'SETSLOT', $slot, 'NODE', $id));
        }
    }

    // ---- commands --------------------------------------------------------

    public function testCommandsOfEveryTypeLandOnTheirSlotsMaster(): void
    {
        $c = $this->cluster();
        $moved = $this->errorCount('MOVED');
        $owners = [];
        for ($i = 0; $i < 24; $i++) {
            $k = "dropin:s:$i";
            $owner = $this->admin($this->ownerOf($k));
            $owners[$this->ownerOf($k)] = true;
            // strings
            $this->assertTrue($c->set($k, "v$i"));
            $this->assertSame("v$i", $c->get($k));
            $this->assertSame("v$i", $owner->get($k), "$k is not on its slot's master");
            $this->assertTrue($c->setex("$k:ex", 100, 'x'));
            $this->assertGreaterThan(0, $c->ttl("$k:ex"));
            $this->assertTrue($c->expire($k, 50));
            $this->assertTrue($c->persist($k));
            $this->assertSame(-1, $c->ttl($k));
            $this->assertSame(1, $c->exists($k));
            $this->assertSame(1, $c->del($k));
            $this->assertSame(1, $c->unlink("$k:ex"));
            $this->assertFalse($c->get($k));
            $this->assertSame(0, $owner->exists($k));
            $this->assertSame(1, $c->incr("$k:n"));
            $this->assertSame(11, $c->incrBy("$k:n", 10));
            $this->assertSame(10, $c->decr("$k:n"));
            $this->assertSame('10', $this->admin($this->ownerOf("$k:n"))->get("$k:n"));
            // hashes
            $h = "dropin:h:$i";
            $this->assertSame(1, $c->hSet($h, 'a', '1'));
            $this->assertSame(1, $c->hSet($h, 'b', '2'));
            $this->assertSame('1', $c->hGet($h, 'a'));
            $this->assertSame(5, $c->hIncrBy($h, 'b', 3));
            $this->assertSame(['a' => '1', 'b' => '5'], $c->hGetAll($h));
            $this->assertSame(1, $c->hDel($h, 'a'));
            $this->assertSame(['b' => '5'], $this->admin($this->ownerOf($h))->hGetAll($h));
            // lists
            $l = "dropin:l:$i";
            $this->assertSame(2, $c->rPush($l, 'b', 'c'));
            $this->assertSame(3, $c->lPush($l, 'a'));
            $this->assertSame(['a', 'b', 'c'], $c->lRange($l, 0, -1));
            $this->assertSame(3, $c->lLen($l));
            $this->assertSame('a', $c->lPop($l));
            $this->assertSame('c', $c->rPop($l));
            $this->assertSame(['b'], $this->admin($this->ownerOf($l))->lRange($l, 0, -1));
            // sets
            $s = "dropin:set:$i";
            $this->assertSame(3, $c->sAdd($s, 'x', 'y', 'z'));
            $this->assertSame(1, $c->sRem($s, 'y'));
            $this->assertTrue($c->sIsMember($s, 'x'));
            $this->assertFalse($c->sIsMember($s, 'y'));
            $this->assertEqualsCanonicalizing(['x', 'z'], $c->sMembers($s));
            $this->assertEqualsCanonicalizing(['x', 'z'], $this->admin($this->ownerOf($s))->sMembers($s));
            // sorted sets
            $z = "dropin:z:$i";
            $this->assertSame(3, $c->zAdd($z, 1, 'one', 2, 'two', 3, 'three'));
            $this->assertSame(['one' => 1.0, 'two' => 2.0, 'three' => 3.0], $c->zRange($z, 0, -1, true));
            $this->assertSame(2.0, $c->zScore($z, 'two'));
            $this->assertSame(1, $c->zRem($z, 'two'));
            $this->assertSame(['one', 'three'], $this->admin($this->ownerOf($z))->zRange($z, 0, -1));
            foreach ([$h, $l, $s, $z, "$k:n"] as $key) {
                $this->assertSame(1, $c->del($key), $key);
            }
        }
        // An int key is its decimal text, as phpredis sends it.
        $this->assertTrue($c->set(12345, 'int'));
        $this->assertSame('int', $this->admin($this->ownerOf('12345'))->get('12345'));
        $this->assertSame(1, $c->del(12345));
        // The scan family takes its iterator by reference.
        $c->hSet('dropin:scan', 'f', 'v');
        $it = null;
        $this->assertSame(['f' => 'v'], $c->hScan('dropin:scan', $it));
        $this->assertSame(0, $it);
        $c->del('dropin:scan');

        $this->assertCount(3, $owners, 'the keys did not reach every master');
        // Straight to each slot's master: no command was redirected.
        $this->assertSame($moved, $this->errorCount('MOVED'));
        $this->assertNull($c->getLastError());
    }

    public function testMultiKeyCommandsOfOneSlot(): void
    {
        $c = $this->cluster();
        $a = '{dropin:u}a';
        $b = '{dropin:u}b';
        $this->assertTrue($c->mSet([$a => '1', $b => '2']));
        $this->assertSame(['1', '2'], $c->mGet([$a, $b]));
        $this->assertSame(2, $c->exists($a, $b));
        $this->assertTrue($c->rename($a, '{dropin:u}c'));
        $this->assertSame(['2', '1'], $c->mGet([$b, '{dropin:u}c']));
        $this->assertSame(1, $c->sAdd('{dropin:u}s1', 'x'));
        $this->assertSame(2, $c->sAdd('{dropin:u}s2', 'x', 'y'));
        $this->assertSame(1, $c->sInterStore('{dropin:u}s3', '{dropin:u}s1', '{dropin:u}s2'));
        $this->assertSame(['x'], $c->sMembers('{dropin:u}s3'));
        $this->assertSame(['2', '1'], $c->eval("return redis.call('MGET', KEYS[1], KEYS[2])",
                                                [$b, '{dropin:u}c'], 2));
        $this->assertSame(1, $c->rPush('{dropin:u}l', 'item'));
        $this->assertSame(['{dropin:u}l', 'item'], $c->blPop(['{dropin:u}l'], 1));
        $this->assertSame('2', $c->rawCommand($b, 'GET', $b));
        $this->assertSame(5, $c->del([$b, '{dropin:u}c', '{dropin:u}s1', '{dropin:u}s2', '{dropin:u}s3']));
        $this->assertSame(0, $this->admin($this->ownerOf($a))->exists($a, $b));
    }

    public function testCrossSlotIsRefusedWithTheServersWords(): void
    {
        $c = $this->cluster();
        $a = 'dropin:x';
        $b = $this->keyOn($this->ownerOf($a), 'dropin:y', true);   // another master: another slot
        $this->assertNotSame($this->slotOf($a), $this->slotOf($b));
        // What the server says to a multi-slot MGET (phpredis throws it here).
        $probe = $this->admin($this->ownerOf($a));
        try {
            $said = $probe->rawCommand('MGET', $a, $b) === false ? $probe->getLastError() : 'nothing';
        } catch (RedisException $e) {
            $said = $e->getMessage();
        }
        $this->assertSame(RedisCluster::CROSSSLOT, rtrim((string)$said));
        $crossslot = $this->errorCount('CROSSSLOT');

        $attempts = [
            'mGet' => fn() => $c->mGet([$a, $b]),
            'mSet' => fn() => $c->mSet([$a => '1', $b => '2']),
            'del' => fn() => $c->del($a, $b),
            'del[]' => fn() => $c->del([$a, $b]),
            'exists' => fn() => $c->exists($a, $b),
            'rename' => fn() => $c->rename($a, $b),
            'sInterStore' => fn() => $c->sInterStore($a, $b),
            'eval' => fn() => $c->eval('return 1', [$a, $b], 2),
        ];
        foreach ($attempts as $name => $attempt) {
            try {
                $attempt();
                $this->fail("$name of two slots was sent");
            } catch (RedisException $e) {
                $this->assertSame(RedisCluster::CROSSSLOT, $e->getMessage(), $name);
            }
        }
        $this->assertSame(RedisCluster::CROSSSLOT, $c->getLastError());
        // Refused before sending: no server saw any of them, and nothing was set.
        $this->assertSame($crossslot, $this->errorCount('CROSSSLOT'));
        $this->assertSame(0, $probe->exists($a));
        $this->assertTrue($c->clearLastError());
        $this->assertNull($c->getLastError());
    }

    public function testNodeGivesTheSlotsConnectionForMultiPipelinesAndReplicaReads(): void
    {
        $c = $this->cluster();
        $k = '{dropin:t}k';
        $owner = $this->ownerOf($k);
        $r = $c->node($k);
        $this->assertSame($owner, $r->getPort());
        $r->multi();
        $r->set($k, '1');
        $r->incr($k);
        $r->get($k);
        $this->assertSame([true, 2, '2'], $r->exec());
        $r->pipeline();
        $r->set('{dropin:t}p', 'x');
        $r->get('{dropin:t}p');
        $r->del($k, '{dropin:t}p');
        $this->assertSame([true, 'x', 2], $r->exec());
        // The same connection for every key of the slot's master.
        $this->assertSame($r, $c->node('{dropin:t}other'));
        $this->assertSame($r, $c->node(['127.0.0.1', $owner]));

        // A replica of the slot: READONLY was sent, reads are served there.
        $this->assertTrue($c->set($k, 'replicated'));
        $this->assertSame(1, $r->rawCommand('WAIT', 1, 5000));
        $replica = $c->node($k, true);
        $this->assertNotSame($owner, $replica->getPort());
        $info = $this->admin($replica->getPort())->info('replication');
        $this->assertSame('slave', $info['role']);
        $this->assertSame($owner, (int)$info['master_port']);
        $this->assertSame('replicated', $replica->get($k));
        $this->assertSame(1, $c->del($k));
        $masters = $this->masterPorts();
        sort($masters);
        $this->assertSame(array_map(fn($p) => ['127.0.0.1', $p], $masters), $c->masters());
    }

    public function testOneSocketPerNodeKeptAcrossObjects(): void
    {
        $k = 'dropin:p';
        $owner = $this->ownerOf($k);
        $a = $this->cluster();
        $ra = $a->node($k);
        $this->assertSame("clustershm:127.0.0.1:$owner", $ra->getPersistentID());
        $id = $ra->rawCommand('CLIENT', 'ID');
        // The next request's object (one in this process) gets the same socket.
        unset($ra);
        $a->close();
        $b = $this->cluster();
        $this->assertSame($id, $b->node($k)->rawCommand('CLIENT', 'ID'));
        // Without persistence: a socket of its own.
        $d = $this->cluster([], ['persistent' => false]);
        $rd = $d->node($k);
        $this->assertNull($rd->getPersistentID());
        $this->assertNotSame($id, $rd->rawCommand('CLIENT', 'ID'));
    }

    public function testCredentialsFromTheUrlOrTheOptions(): void
    {
        $ports = self::env()['redis']['ports'];
        foreach ($ports as $p) {
            $this->assertTrue($this->admin($p)->rawCommand('ACL', 'SETUSER', 'cshm-dropin', 'reset', 'on',
                                                           '>s3cret:%', '~*', '&*', '+@all'));
        }
        try {
            $url = str_replace('redis://', 'redis://cshm-dropin:s3cret%3A%25@', self::url());
            $c = $this->cluster(['key' => $this->testKey(1)], [], $url);
            $this->assertSame('cshm-dropin', $c->node('dropin:acl')->rawCommand('ACL', 'WHOAMI'));
            $this->assertTrue($c->set('dropin:acl', 'x'));
            $d = $this->cluster([], ['auth' => ['cshm-dropin', 's3cret:%']]);
            $rd = $d->node('dropin:acl');
            $this->assertSame('cshm-dropin', $rd->rawCommand('ACL', 'WHOAMI'));
            // Other credentials, other persistent sockets.
            $this->assertStringStartsWith('clustershm:127.0.0.1:' . $this->ownerOf('dropin:acl') . '/',
                                          $rd->getPersistentID());
            $this->assertSame('x', $d->get('dropin:acl'));
            $this->assertSame(1, $d->del('dropin:acl'));
            $e = $this->cluster([], ['auth' => ['cshm-dropin', 'wrong']]);
            try {
                $e->get('dropin:acl');
                $this->fail('a wrong password was accepted');
            } catch (ClusterShm\ClusterException $ex) {
                $this->assertStringContainsString('AUTH', $ex->getMessage());
            }
        } finally {
            foreach ($ports as $p) {
                $this->admin($p)->rawCommand('ACL', 'DELUSER', 'cshm-dropin');
            }
        }
    }

    public function testOptionsAndMisuseAreNamed(): void
    {
        foreach ([[['timeout' => -1], 'timeout'], [['read_timeout' => 'x'], 'read_timeout'],
                  [['persistent' => 1], 'persistent'], [['auth' => ['a', 'b', 'c']], 'auth'],
                  [['max_redirects' => -1], 'max_redirects'], [['refresh_timeout' => NAN], 'refresh_timeout'],
                  [['tiemout' => 1], "unknown redis option 'tiemout'"]] as [$bad, $what]) {
            try {
                new RedisCluster(self::url(), ['key' => $this->testKey()], $bad);
                $this->fail("accepted $what");
            } catch (ClusterShm\ConfigException $e) {
                $this->assertStringContainsString($what, $e->getMessage());
            }
        }
        // The extension's options are its own: the same errors as ClusterShm\connect().
        try {
            new RedisCluster(self::url(), ['tend_intervall' => 1]);
            $this->fail('accepted tend_intervall');
        } catch (ClusterShm\ConfigException $e) {
            $this->assertStringContainsString("unknown option 'tend_intervall'", $e->getMessage());
        }
        $c = $this->cluster();
        try {
            $c->multi();
            $this->fail('multi() on the cluster');
        } catch (BadMethodCallException $e) {
            $this->assertStringContainsString('->node($key)->multi(', $e->getMessage());
        }
        $this->expectException(TypeError::class);
        $c->get(['not', 'a', 'key']);
    }

    public function testPrefixOptionRoutesByThePrefixedKey(): void
    {
        $c = $this->cluster();
        $this->assertTrue($c->setOption(Redis::OPT_PREFIX, 'dropin:pre:'));
        $this->assertSame('dropin:pre:', $c->getOption(Redis::OPT_PREFIX));
        for ($i = 0; $i < 20; $i++) {
            $this->assertTrue($c->set("k$i", "v$i"));
            $this->assertSame("v$i", $this->admin($this->ownerOf("dropin:pre:k$i"))->get("dropin:pre:k$i"));
            $this->assertSame(['dropin:pre:k' . $i, "v$i"], [$c->node("k$i")->_prefix("k$i"), $c->get("k$i")]);
            $this->assertSame(1, $c->del("k$i"));
        }
        $this->assertSame(Redis::SERIALIZER_NONE, $c->getOption(Redis::OPT_SERIALIZER));
    }

    // ---- the cluster changing ----------------------------------------------

    public function testMovedAfterASlotMigrationRefreshesTheMapAndRetriesThere(): void
    {
        // A 60 s tend interval: within the test only a refresh makes the tender tend.
        $c = $this->cluster(['tend_interval' => 60, 'takeover_timeout' => 120]);
        $k = '{dropin:mv}a';
        $slot = $this->slotOf($k);
        $from = $this->ownerOf($k);
        $to = $from === $this->masterPorts()[0] ? $this->masterPorts()[1] : $this->masterPorts()[0];
        $this->assertTrue($c->set($k, 'before'));
        $generation = $c->client()->status()['generation'];
        $moved = $this->errorCount('MOVED');
        $this->migrate($slot, $from, $to);
        try {
            // The map still names $from: MOVED, a refresh, the retry on $to.
            $this->assertSame('before', $c->get($k));
            $this->assertSame(['127.0.0.1', $to], $c->client()->route($k));
            $this->assertGreaterThan($generation, $c->client()->status()['generation']);
            $this->assertSame($moved + 1, $this->errorCount('MOVED'));
            // Every later command of the slot goes straight to $to.
            $this->assertTrue($c->set('{dropin:mv}b', 'new'));
            $this->assertSame('new', $this->admin($to)->get('{dropin:mv}b'));
            $this->assertSame(2, $c->del($k, '{dropin:mv}b'));
            $this->assertTrue($c->set($k, 'again'));
            $this->assertSame($moved + 1, $this->errorCount('MOVED'));
        } finally {
            $this->migrate($slot, $to, $from);
        }
        // And back: one more MOVED, then the map names $from again.
        $this->assertSame('again', $c->get($k));
        $this->assertSame(['127.0.0.1', $from], $c->client()->route($k));
        $this->assertSame($moved + 2, $this->errorCount('MOVED'));
        $this->assertSame(1, $c->del($k));
        self::harness('settle');
    }

    public function testAskDuringAMigrationFollowsTheKeyWithoutAMapChange(): void
    {
        $c = $this->cluster(['tend_interval' => 60, 'takeover_timeout' => 120]);
        $k = '{dropin:ask}a';
        $slot = $this->slotOf($k);
        $from = $this->ownerOf($k);
        $to = $from === $this->masterPorts()[0] ? $this->masterPorts()[1] : $this->masterPorts()[0];
        $this->assertTrue($c->set($k, 'moving'));
        $status = $c->client()->status();
        $asking = $this->calls($to, 'asking');
        $ask = $this->errorCount('ASK');
        // MIGRATING on $from, IMPORTING on $to, the key already on $to.
        $this->migrate($slot, $from, $to, false);
        try {
            $this->assertSame([0, 1], [$this->admin($from)->rawCommand('CLUSTER', 'COUNTKEYSINSLOT', $slot),
                                       $this->admin($to)->rawCommand('CLUSTER', 'COUNTKEYSINSLOT', $slot)]);
            $this->assertSame('moving', $c->get($k));                   // ASK -> $to
            $this->assertTrue($c->set('{dropin:ask}b', 'created'));     // not on $from: ASK -> $to
            $this->assertSame('created', $c->get('{dropin:ask}b'));
            $this->assertSame($ask + 3, $this->errorCount('ASK'));
            $this->assertSame($asking + 3, $this->calls($to, 'asking'));
            // An ASK is not a new map: nothing was refreshed, the map still names $from.
            $this->assertSame(['127.0.0.1', $from], $c->client()->route($k));
            $after = $c->client()->status();
            $this->assertSame([$status['tends'], $status['generation']], [$after['tends'], $after['generation']]);
        } finally {
            $this->assign($slot, $to);          // finish the migration, then move the slot back
            $this->migrate($slot, $to, $from);
        }
        $this->assertSame(['moving', 'created'], $c->mGet([$k, '{dropin:ask}b']));
        $this->assertSame(2, $c->del($k, '{dropin:ask}b'));
        self::harness('settle');
    }

    public function testAKilledMasterFailsOverAndCommandsWorkAgain(): void
    {
        $c = $this->cluster(['tend_interval' => 0.5]);
        $k = '{dropin:fo}a';
        $master = $this->ownerOf($k);
        $replicas = [];
        foreach ($this->admin($master)->info('replication') as $name => $value) {
            if (preg_match('/^slave\d+$/', $name) && preg_match('/port=(\d+)/', $value, $m)) {
                $replicas[] = (int)$m[1];
            }
        }
        $this->assertNotSame([], $replicas);
        $keys = array_map(fn($i) => "dropin:fo:$i", range(0, 29));
        foreach ($keys as $key) {
            $this->assertTrue($c->set($key, 'v'));
        }
        $this->assertTrue($c->set($k, 'before'));
        $this->assertSame(1, $c->node($k)->rawCommand('WAIT', count($replicas), 5000));
        unset($this->admins[$master]);
        self::harness('kill', ['port' => $master]);
        try {
            // Until the cluster has promoted the replica (a few node timeouts),
            // commands of the killed master's slots fail; then every key works,
            // through the same object, its map followed by the refreshes.
            $errors = [];
            $deadline = microtime(true) + 60;
            for (;;) {
                try {
                    $ok = $c->get($k) === 'before';
                    foreach ($keys as $key) {
                        $ok = $ok && $c->get($key) === 'v';
                    }
                    if ($ok) {
                        break;
                    }
                    $errors[] = (string)$c->getLastError();
                } catch (RedisException $e) {
                    $errors[] = $e->getMessage();
                }
                $this->assertLessThan($deadline, microtime(true), 'no answer after a failover: '
                                      . json_encode(array_count_values($errors)));
                usleep(100000);
            }
            // A replica of the killed master is the slot's master in the map now.
            $this->assertContains($c->client()->route($k)[1], $replicas);
            foreach ($keys as $key) {
                $this->assertSame(1, $c->del($key));
            }
            $this->assertTrue($c->set($k, 'after'));
            $this->assertSame('after', $c->get($k));
            $this->assertSame(1, $c->del($k));
        } finally {
            self::harness('restore');
        }
    }
}
