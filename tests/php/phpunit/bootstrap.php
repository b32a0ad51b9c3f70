<?php
/*
 * bootstrap.php - what every PHPUnit test of the extension shares: the
 * environment written by tests/php/run.py (URLs and the servers' truth), the
 * Aerospike simulator's control channel, the harness's control socket (which
 * kills and restores Redis nodes), the Composer package php/ (autoloaded as
 * Composer would) and SysV key hygiene.
 *
 * Invariants: a test uses only keys from testKey() (0x5C71xxxx), and every
 * segment it creates is removed in tearDown, after its clients are closed;
 * waits go through waitFor(), which always ends.
 */
declare(strict_types=1);

if (!extension_loaded('clustershm')) {
    fwrite(STDERR, "the clustershm extension is not loaded: run via tests/php/run.py\n");
    exit(2);
}
$path = getenv('CSHM_PHP_ENV');
if ($path === false || !is_file($path)) {
    fwrite(STDERR, "CSHM_PHP_ENV is not set: run via tests/php/run.py, which starts the clusters\n");
    exit(2);
}
$GLOBALS['CSHM_ENV'] = json_decode(file_get_contents($path), true, 512, JSON_THROW_ON_ERROR);
require dirname(__DIR__) . '/autoload.php';

abstract class ClusterShmTestCase extends PHPUnit\Framework\TestCase
{
    /** @var int[] */
    private array $keys = [];
    /** @var ClusterShm\Client[] */
    private array $clients = [];

    protected static function env(): array
    {
        return $GLOBALS['CSHM_ENV'];
    }

    /** A SysV key of this test's own: 0x5C71 + a hash of the test name + $i. */
    protected function testKey(int $i = 0): int
    {
        $key = 0x5C710000 | ((crc32(static::class . '::' . $this->getName()) & 0xFFF) << 4) | $i;
        if (!in_array($key, $this->keys, true)) {
            self::removeSegment($key);
            $this->keys[] = $key;
        }
        return $key;
    }

    /** Connects and remembers the client, so tearDown closes it. */
    protected function connect(string $url, array $options = []): ClusterShm\Client
    {
        $c = ClusterShm\connect($url, $options);
        $this->clients[] = $c;
        return $c;
    }

    protected function tearDown(): void
    {
        foreach ($this->clients as $c) {
            $c->close();
        }
        $this->clients = [];
        foreach ($this->keys as $k) {
            self::removeSegment($k);
        }
        $this->keys = [];
    }

    protected static function removeSegment(int $key): void
    {
        exec(sprintf('ipcrm -M 0x%08x 2>/dev/null', $key));
    }

    /** Polls $predicate until it returns true or $seconds pass (then fails with $what). */
    protected static function waitFor(callable $predicate, float $seconds, string $what): void
    {
        $deadline = microtime(true) + $seconds;
        while (!$predicate()) {
            if (microtime(true) > $deadline) {
                self::fail("timed out after {$seconds} s waiting for $what");
            }
            usleep(20000);
        }
        self::assertTrue(true);
    }

    /** One request on the simulator's control channel (JSON lines). */
    protected static function sim(string $op, array $args = []): mixed
    {
        $port = self::env()['aerospike']['control_port'];
        $s = stream_socket_client("tcp://127.0.0.1:$port", $errno, $errstr, 5);
        self::assertNotFalse($s, "simulator control port: $errstr");
        stream_set_timeout($s, 10);
        fwrite($s, json_encode(['op' => $op] + $args) . "\n");
        $line = fgets($s);
        fclose($s);
        self::assertNotFalse($line, "no answer from the simulator to $op");
        $reply = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
        self::assertTrue($reply['ok'], "simulator $op: " . ($reply['error'] ?? ''));
        return $reply['result'];
    }

    /**
     * One request to tests/php/run.py's control socket: "kill" (a node,
     * SIGKILL), "restore" (the cluster of the truth again), "settle".
     */
    protected static function harness(string $op, array $args = []): mixed
    {
        $s = stream_socket_client('unix://' . self::env()['control'], $errno, $errstr, 5);
        self::assertNotFalse($s, "the harness's control socket: $errstr");
        stream_set_timeout($s, 200);
        fwrite($s, json_encode(['op' => $op] + $args) . "\n");
        $line = fgets($s);
        fclose($s);
        self::assertNotFalse($line, "no answer from the harness to $op");
        $reply = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
        self::assertTrue($reply['ok'], "harness $op: " . ($reply['error'] ?? ''));
        return $reply['result'];
    }

    /** [host, port] per "host:port". */
    protected static function hostPort(string $addr): array
    {
        $i = strrpos($addr, ':');
        return [substr($addr, 0, $i), (int)substr($addr, $i + 1)];
    }
}
