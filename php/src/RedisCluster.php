<?php
/*
 * RedisCluster.php - ClusterShm\RedisCluster: Redis Cluster commands on
 * phpredis connections, routed by the slot map the clustershm extension
 * keeps in shared memory for the whole host.
 *
 * A worker never discovers the cluster itself: nothing here sends CLUSTER
 * SLOTS, SHARDS or NODES, or COMMAND.  The map is the host's tender's
 * (ClusterShm\Client::route()), and a redirect makes every worker's map
 * follow through ClusterShm\Client::refresh().
 *
 * Invariants:
 *  - One \Redis per node address per object.  With 'persistent' (the
 *    default) it is phpredis's pconnect() with a persistent_id per node (and
 *    per credentials), so a PHP-FPM worker keeps one socket per node across
 *    requests.
 *  - Every command runs on one node.  A command of several keys runs only
 *    when every key hashes to one slot; otherwise nothing is sent and a
 *    \RedisException carries the server's own CROSSSLOT text.
 *  - MOVED: unless the map already names the node the server named, the map
 *    is refreshed (waiting up to refresh_timeout for a newer one); the
 *    command is retried on the named node.  While the map still disagrees
 *    with the server about that slot, this object sends the slot's commands
 *    where the server said.  ASK: ASKING and the command on the named node,
 *    once; the map does not change.  TRYAGAIN: a short pause, the same node.
 *    At most max_redirects redirects per command.
 *  - A connection error on a node (refused, reset, timed out): its
 *    connection is dropped, the map refreshed (waiting only while it still
 *    names that node) and the command retried once on the slot's master in
 *    the map; a second connection error is thrown.  A command may thus run
 *    twice when the first connection broke after sending it.
 *  - Every other error reply is reported as phpredis reports it: false and
 *    getLastError(), or the \RedisException phpredis throws for it.
 */
// No strict_types here, on purpose: this file calls phpredis with the
// caller's arguments, and phpredis called directly (in PHP's default mode)
// takes set(12345, ...) or setex($k, "60", ...); strict calls from here
// would refuse what the same code passed to \Redis accepts.

namespace ClusterShm;

/**
 * Single-key commands (the key is the first argument), through __call() and
 * run on the master of the key's slot, with phpredis's own signatures:
 *
 * @method mixed get(string $key)
 * @method mixed set(string $key, mixed $value, mixed $options = null)
 * @method mixed setex(string $key, int $ttl, mixed $value)
 * @method mixed setnx(string $key, mixed $value)
 * @method mixed incr(string $key)
 * @method mixed incrBy(string $key, int $by)
 * @method mixed decr(string $key)
 * @method mixed expire(string $key, int $ttl)
 * @method mixed ttl(string $key)
 * @method mixed persist(string $key)
 * @method mixed hGet(string $key, string $field)
 * @method mixed hSet(string $key, string $field, mixed $value)
 * @method mixed hGetAll(string $key)
 * @method mixed hDel(string $key, string $field, string ...$fields)
 * @method mixed hIncrBy(string $key, string $field, int $by)
 * @method mixed lPush(string $key, mixed ...$values)
 * @method mixed rPush(string $key, mixed ...$values)
 * @method mixed lPop(string $key)
 * @method mixed rPop(string $key)
 * @method mixed lRange(string $key, int $start, int $end)
 * @method mixed lLen(string $key)
 * @method mixed sAdd(string $key, mixed ...$members)
 * @method mixed sRem(string $key, mixed ...$members)
 * @method mixed sMembers(string $key)
 * @method mixed sIsMember(string $key, mixed $member)
 * @method mixed zAdd(string $key, mixed ...$scoreMember)
 * @method mixed zRange(string $key, int $start, int $end, mixed $scores = null)
 * @method mixed zScore(string $key, mixed $member)
 * @method mixed zRem(string $key, mixed ...$members)
 *
 * Commands of several keys (one slot only), also through __call():
 *
 * @method mixed del(string|array $key, string ...$keys)
 * @method mixed unlink(string|array $key, string ...$keys)
 * @method mixed exists(string|array $key, string ...$keys)
 * @method mixed mGet(array $keys)
 * @method mixed mSet(array $keyValues)
 * @method mixed rename(string $from, string $to)
 * @method mixed eval(string $script, array $args = [], int $numKeys = 0)
 */
class RedisCluster
{
    /** The server's text for keys of more than one slot in one command. */
    public const CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot";

    /** $redisOptions and their defaults. */
    private const DEFAULTS = [
        'timeout' => 2.0,          // connect timeout per node, seconds
        'read_timeout' => 0.0,     // seconds; 0: phpredis's default (default_socket_timeout)
        'persistent' => true,      // pconnect: one socket per node kept by the worker
        'auth' => null,            // 'password' or [user, password]; null: the URL's
        'max_redirects' => 5,      // MOVED/ASK/TRYAGAIN followed per command
        'refresh_timeout' => 1.0,  // seconds to wait for a newer map after MOVED or a node's loss
    ];

    /** Commands whose first argument is their only key. */
    private const SINGLE_KEY = [
        'get' => 1, 'set' => 1, 'setex' => 1, 'psetex' => 1, 'setnx' => 1, 'getset' => 1,
        'getdel' => 1, 'getex' => 1, 'append' => 1, 'getrange' => 1, 'setrange' => 1,
        'strlen' => 1, 'getbit' => 1, 'setbit' => 1, 'bitcount' => 1, 'bitpos' => 1,
        'incr' => 1, 'incrby' => 1, 'incrbyfloat' => 1, 'decr' => 1, 'decrby' => 1,
        'expire' => 1, 'pexpire' => 1, 'expireat' => 1, 'pexpireat' => 1, 'expiretime' => 1,
        'pexpiretime' => 1, 'ttl' => 1, 'pttl' => 1, 'persist' => 1, 'type' => 1, 'dump' => 1,
        'restore' => 1, 'sort' => 1, 'sort_ro' => 1,
        'hget' => 1, 'hset' => 1, 'hsetnx' => 1, 'hmget' => 1, 'hmset' => 1, 'hgetall' => 1,
        'hdel' => 1, 'hexists' => 1, 'hincrby' => 1, 'hincrbyfloat' => 1, 'hkeys' => 1,
        'hvals' => 1, 'hlen' => 1, 'hstrlen' => 1, 'hrandfield' => 1,
        'lpush' => 1, 'rpush' => 1, 'lpushx' => 1, 'rpushx' => 1, 'lpop' => 1, 'rpop' => 1,
        'lrange' => 1, 'llen' => 1, 'lindex' => 1, 'lset' => 1, 'linsert' => 1, 'lrem' => 1,
        'ltrim' => 1, 'lpos' => 1,
        'sadd' => 1, 'srem' => 1, 'smembers' => 1, 'sismember' => 1, 'smismember' => 1,
        'scard' => 1, 'spop' => 1, 'srandmember' => 1,
        'zadd' => 1, 'zrange' => 1, 'zrevrange' => 1, 'zrangebyscore' => 1,
        'zrevrangebyscore' => 1, 'zrangebylex' => 1, 'zrevrangebylex' => 1, 'zscore' => 1,
        'zmscore' => 1, 'zrem' => 1, 'zcard' => 1, 'zcount' => 1, 'zlexcount' => 1,
        'zincrby' => 1, 'zrank' => 1, 'zrevrank' => 1, 'zremrangebyrank' => 1,
        'zremrangebyscore' => 1, 'zremrangebylex' => 1, 'zpopmin' => 1, 'zpopmax' => 1,
        'zrandmember' => 1,
        'pfadd' => 1,
        'geoadd' => 1, 'geopos' => 1, 'geodist' => 1, 'geohash' => 1, 'georadius' => 1,
        'georadius_ro' => 1, 'georadiusbymember' => 1, 'georadiusbymember_ro' => 1,
        'geosearch' => 1,
        'xadd' => 1, 'xlen' => 1, 'xrange' => 1, 'xrevrange' => 1, 'xdel' => 1, 'xtrim' => 1,
        'xack' => 1, 'xclaim' => 1, 'xautoclaim' => 1, 'xpending' => 1,
    ];

    /** Commands of several keys: where their keys are in the arguments. */
    private const MULTI_KEY = [
        // every argument is a key, or an array of keys
        'del' => 'all', 'unlink' => 'all', 'exists' => 'all', 'touch' => 'all',
        'sinter' => 'all', 'sunion' => 'all', 'sdiff' => 'all', 'sinterstore' => 'all',
        'sunionstore' => 'all', 'sdiffstore' => 'all', 'pfcount' => 'all',
        // an array of keys / of key => value
        'mget' => 'list', 'mset' => 'assoc', 'msetnx' => 'assoc',
        // source and destination
        'rename' => 'two', 'renamenx' => 'two', 'rpoplpush' => 'two', 'brpoplpush' => 'two',
        'smove' => 'two', 'lmove' => 'two', 'blmove' => 'two', 'copy' => 'two',
        // destination, then an array of keys
        'zinterstore' => 'dest+list', 'zunionstore' => 'dest+list', 'pfmerge' => 'dest+list',
        // keys (or an array of them), then a timeout
        'blpop' => 'blocking', 'brpop' => 'blocking', 'bzpopmin' => 'blocking',
        'bzpopmax' => 'blocking',
        // operation, destination, keys
        'bitop' => 'after-first',
        // subcommand, key
        'object' => 'second',
        // script, [keys..., args...], number of keys
        'eval' => 'script', 'evalsha' => 'script',
    ];

    private Client $shm;
    /** @var array<string, mixed> $redisOptions with the defaults */
    private array $config;
    /** Part of every persistent_id: which credentials the socket authenticated with. */
    private string $credentialsTag;
    /** @var array<string, \Redis> "host:port" => connection */
    private array $conns = [];
    /** @var array<string, true> connections READONLY was sent on (node(..., true)) */
    private array $readonly = [];
    /** @var array<int, string> slot => "host:port" a MOVED named while the map disagreed */
    private array $moved = [];
    /** @var array<int, mixed> setOption() values, given to every connection */
    private array $options = [];
    private string $prefix = '';
    private ?string $lastError = null;

    /**
     * @param string $url          redis://[user:password@]host:port[,host:port...], as ClusterShm\connect()
     * @param array  $options      ClusterShm options (key, tend_interval, ...), as ClusterShm\connect()
     * @param array  $redisOptions timeout, read_timeout, persistent, auth, max_redirects, refresh_timeout
     *
     * @throws ConfigException an unknown or bad option, a bad URL
     * @throws Exception       the shared map could not be had (see ClusterShm\connect())
     */
    public function __construct(string $url, array $options = [], array $redisOptions = [])
    {
        $this->config = self::config($url, $redisOptions);
        $auth = $this->config['auth'];
        $this->credentialsTag = $auth === null ? '' : '/' . substr(hash('sha256', serialize($auth)), 0, 16);
        // The worker's persistent core client: attaching is paid once per process.
        $this->shm = connect($url, $options);
    }

    /**
     * Single-key and multi-key commands (see the class comment), with
     * phpredis's signatures and return values.
     *
     * @throws \BadMethodCallException a command that is not one of them
     * @throws \RedisException         CROSSSLOT, connection errors, errors phpredis throws
     */
    public function __call(string $name, array $arguments): mixed
    {
        $command = strtolower($name);
        if (isset(self::SINGLE_KEY[$command])) {
            if ($arguments === []) {
                throw new \ArgumentCountError("ClusterShm\\RedisCluster::$name() needs the key as its first argument");
            }
            return $this->run($this->prefix . self::keyText($arguments[0], $name), null, $name, $arguments);
        }
        if (isset(self::MULTI_KEY[$command])) {
            return $this->run($this->slotKey(self::keysOf(self::MULTI_KEY[$command], $arguments), $name),
                              null, $name, $arguments);
        }
        throw new \BadMethodCallException(
            "ClusterShm\\RedisCluster::$name() is not a command of keys it can route: run it on one "
            . "node, \$cluster->node(\$key)->$name(...) (MULTI, pipelines, WATCH, SCAN), or on each of "
            . "\$cluster->masters() with \$cluster->node([\$host, \$port]) (INFO, FLUSHALL, ...)");
    }

    /** HSCAN of one key; $iterator as phpredis's hScan(). */
    public function hScan(string $key, ?int &$iterator, ?string $pattern = null, int $count = 0): array|false
    {
        return $this->run($this->prefix . $key, null, 'hScan', [$key, &$iterator, $pattern, $count]);
    }

    /** SSCAN of one key; $iterator as phpredis's sScan(). */
    public function sScan(string $key, ?int &$iterator, ?string $pattern = null, int $count = 0): array|false
    {
        return $this->run($this->prefix . $key, null, 'sScan', [$key, &$iterator, $pattern, $count]);
    }

    /** ZSCAN of one key; $iterator as phpredis's zScan(). */
    public function zScan(string $key, ?int &$iterator, ?string $pattern = null, int $count = 0): array|false
    {
        return $this->run($this->prefix . $key, null, 'zScan', [$key, &$iterator, $pattern, $count]);
    }

    /**
     * A command as words, on the master of $keyOrAddress's slot (routed by
     * that key as given: rawCommand() adds no prefix) or on the node
     * [host, port].  Redirects and connection errors as for every command.
     */
    public function rawCommand(string|int|array $keyOrAddress, string $command, mixed ...$arguments): mixed
    {
        if (is_array($keyOrAddress)) {
            return $this->run(null, self::address($keyOrAddress), 'rawCommand', [$command, ...$arguments]);
        }
        return $this->run((string)$keyOrAddress, null, 'rawCommand', [$command, ...$arguments]);
    }

    /**
     * The connection to the master of $keyOrAddress's slot (with the
     * OPT_PREFIX set here, as commands route), or to a replica of it with
     * $replica (READONLY sent; the master when the slot has no replica), or
     * to the node [host, port].  For MULTI/EXEC, pipelines and WATCH on one
     * slot, and per-node commands; what runs on it is not redirected.
     */
    public function node(string|int|array $keyOrAddress, bool $replica = false): \Redis
    {
        if (is_array($keyOrAddress)) {
            $addr = self::address($keyOrAddress);
        } else {
            $key = $this->prefix . $keyOrAddress;
            $addr = null;
            if ($replica) {
                try {
                    $addr = implode(':', $this->shm->route($key, null, '', 1));
                } catch (ClusterException) {
                    $replica = false;      // no replica in the map: the master
                }
            }
            $addr ??= $this->masterOf($key);
        }
        $conn = $this->conns[$addr] ?? $this->open($addr);
        if ($replica && !isset($this->readonly[$addr])) {
            $conn->rawCommand('READONLY');
            $this->readonly[$addr] = true;
        }
        return $conn;
    }

    /** @return list<array{0: string, 1: int}> [host, port] of every master that owns slots, sorted. */
    public function masters(): array
    {
        $out = [];
        foreach ($this->shm->nodes() as $n) {
            if ($n['is_master'] && $n['partitions'] > 0) {
                $out[] = [$n['host'], $n['port']];
            }
        }
        sort($out);
        return $out;
    }

    /** The worker's ClusterShm\Client behind this object (route(), shards(), status()). */
    public function client(): Client
    {
        return $this->shm;
    }

    /**
     * Sets a phpredis option (Redis::OPT_*) on every connection, now and
     * later; Redis::OPT_PREFIX also prefixes the keys commands route by.
     * Returns false when a connection refused the value.
     */
    public function setOption(int $option, mixed $value): bool
    {
        $ok = true;
        foreach ($this->conns as $conn) {
            $ok = $conn->setOption($option, $value) && $ok;
        }
        if ($ok) {
            $this->options[$option] = $value;
            if ($option === \Redis::OPT_PREFIX) {
                $this->prefix = (string)$value;
            }
        }
        return $ok;
    }

    /** An option set with setOption(), else phpredis's default (read on a master's connection). */
    public function getOption(int $option): mixed
    {
        if (array_key_exists($option, $this->options)) {
            return $this->options[$option];
        }
        $conn = reset($this->conns);
        if ($conn === false) {
            $addr = $this->masterOf(null);
            $conn = $this->open($addr);
        }
        return $conn->getOption($option);
    }

    /** The error reply of the last command that failed, as phpredis's getLastError(). */
    public function getLastError(): ?string
    {
        return $this->lastError;
    }

    public function clearLastError(): bool
    {
        $this->lastError = null;
        return true;
    }

    /**
     * Lets go of this object's connections: closes the non-persistent ones;
     * persistent ones go back to the worker's pool.  The shared map (the
     * worker's ClusterShm\Client) stays connected.
     */
    public function close(): void
    {
        if (!$this->config['persistent']) {
            foreach ($this->conns as $conn) {
                try {
                    $conn->close();
                } catch (\RedisException) {
                    // already broken: nothing to close
                }
            }
        }
        $this->conns = [];
        $this->readonly = [];
    }

    // ---- running a command ------------------------------------------------

    /**
     * $method($args) on the master of $key's slot (or on $addr when $key is
     * null), following redirects and one connection error.
     */
    private function run(?string $key, ?string $addr, string $method, array $args): mixed
    {
        $addr ??= $this->masterOf($key);
        $asking = false;
        $reconnected = false;
        $redirects = 0;
        for (;;) {
            $conn = null;
            $thrown = null;
            try {
                $conn = $this->conns[$addr] ?? $this->open($addr);
                $conn->clearLastError();
                if ($asking) {
                    $conn->rawCommand('ASKING');
                }
                $result = $conn->{$method}(...$args);
                if ($result !== false) {
                    return $result;
                }
                $error = $conn->getLastError();
                if ($error === null) {
                    return false;          // a false answer, not an error
                }
            } catch (\RedisException $e) {
                if ($conn === null || !$conn->isConnected()) {
                    // Refused, reset, timed out: the node is gone or going.
                    $this->forget($addr);
                    if ($reconnected || $key === null) {
                        throw $e;
                    }
                    $reconnected = true;
                    $asking = false;
                    $addr = $this->afterConnectionError($key, $addr);
                    continue;
                }
                $error = $e->getMessage();
                $thrown = $e;
            }
            // phpredis keeps the reply's "\r" on some errors.
            $error = rtrim($error);
            $redirect = self::redirect($error);
            if ($redirect === null || $redirects++ >= $this->config['max_redirects']) {
                $this->lastError = $error;
                if ($thrown !== null) {
                    throw $thrown;
                }
                return false;
            }
            [$kind, $slot, $target] = $redirect;
            if ($kind === 'MOVED') {
                $this->followMoved($key, $slot, $target);
                $addr = $target;
                $asking = false;
            } elseif ($kind === 'ASK') {
                $addr = $target;
                $asking = true;
            } else {
                usleep(20000 * $redirects);   // TRYAGAIN: keys of the slot are being moved
            }
        }
    }

    /** "host:port" of the master for $key: the map's, unless a MOVED said otherwise since. */
    private function masterOf(?string $key): string
    {
        if ($key === null) {
            $masters = $this->masters();
            if ($masters === []) {
                throw new ClusterException('the cluster map has no master with slots', 2);
            }
            return self::address($masters[0]);
        }
        $addr = implode(':', $this->shm->route($key));
        if ($this->moved !== []) {
            $slot = redis_slot($key);
            if (isset($this->moved[$slot])) {
                if ($this->moved[$slot] !== $addr) {
                    return $this->moved[$slot];
                }
                unset($this->moved[$slot]);   // the map caught up
            }
        }
        return $addr;
    }

    /**
     * A MOVED for $slot to $target: the map is refreshed for every worker
     * (waited for unless it already names $target); while it still names
     * another node, this object remembers what the server said.
     */
    private function followMoved(?string $key, int $slot, string $target): void
    {
        if ($key === null) {
            $this->shm->refresh(false);
            return;
        }
        if (implode(':', $this->shm->route($key)) !== $target) {
            $this->shm->refresh(true, $this->config['refresh_timeout']);
        }
        if (implode(':', $this->shm->route($key)) !== $target) {
            $this->moved[$slot] = $target;
        } else {
            unset($this->moved[$slot]);
        }
    }

    /** After a connection error on $addr: where to retry $key's command. */
    private function afterConnectionError(string $key, string $addr): string
    {
        foreach ($this->moved as $slot => $target) {
            if ($target === $addr) {
                unset($this->moved[$slot]);
            }
        }
        if (implode(':', $this->shm->route($key)) === $addr) {
            // The map still names the lost node: wait for the tender's next
            // map (a failover shows there once the cluster has promoted a replica).
            $this->shm->refresh(true, $this->config['refresh_timeout']);
        }
        return $this->masterOf($key);
    }

    private function open(string $addr): \Redis
    {
        $i = strrpos($addr, ':');
        $host = substr($addr, 0, $i);
        $port = (int)substr($addr, $i + 1);
        $c = $this->config;
        $context = $c['auth'] === null ? [] : ['auth' => $c['auth']];
        $conn = new \Redis();
        $ok = $c['persistent']
            ? $conn->pconnect($host, $port, $c['timeout'], 'clustershm:' . $addr . $this->credentialsTag, 0,
                              $c['read_timeout'], $context)
            : $conn->connect($host, $port, $c['timeout'], null, 0, $c['read_timeout'], $context);
        if (!$ok) {
            // phpredis throws for network errors; false is the server refusing us.
            throw new ClusterException(
                "connecting to $addr failed: the server refused the connection's AUTH; check "
                . "\$redisOptions['auth'] or the user and password in the URL", 2);
        }
        foreach ($this->options as $option => $value) {
            $conn->setOption($option, $value);
        }
        return $this->conns[$addr] = $conn;
    }

    private function forget(string $addr): void
    {
        unset($this->conns[$addr], $this->readonly[$addr]);
    }

    // ---- keys -----------------------------------------------------------------

    /**
     * The key to route $keys by (the first, prefixed) once every key is
     * known to hash to its slot; null for none (any master).
     */
    private function slotKey(array $keys, string $name): ?string
    {
        $first = null;
        $slot = -1;
        foreach ($keys as $k) {
            $k = $this->prefix . self::keyText($k, $name);
            $s = redis_slot($k);
            if ($first === null) {
                [$first, $slot] = [$k, $s];
            } elseif ($s !== $slot) {
                $this->lastError = self::CROSSSLOT;
                throw new \RedisException(self::CROSSSLOT);
            }
        }
        return $first;
    }

    /** The keys of a multi-key command's arguments, by MULTI_KEY's kind. */
    private static function keysOf(string $kind, array $args): array
    {
        $flat = static function (array $items): array {
            $out = [];
            foreach ($items as $item) {
                if (is_array($item)) {
                    array_push($out, ...array_values($item));
                } else {
                    $out[] = $item;
                }
            }
            return $out;
        };
        return match ($kind) {
            'all' => $flat($args),
            'list' => (array)($args[0] ?? []),
            'assoc' => array_keys((array)($args[0] ?? [])),
            'two' => array_slice($args, 0, 2),
            'dest+list' => $flat(array_slice($args, 0, 2)),
            'blocking' => is_array($args[0] ?? null) ? $args[0] : array_slice($args, 0, -1),
            'after-first' => $flat(array_slice($args, 1)),
            'second' => array_slice($args, 1, 1),
            'script' => array_slice((array)($args[1] ?? []), 0, (int)($args[2] ?? 0)),
        };
    }

    private static function keyText(mixed $key, string $name): string
    {
        if (is_string($key) || is_int($key) || is_float($key)) {
            return (string)$key;
        }
        throw new \TypeError("ClusterShm\\RedisCluster::$name(): a key must be a string or a number, "
                             . get_debug_type($key) . ' given');
    }

    /** [MOVED|ASK|TRYAGAIN, slot, "host:port"] of a redirect error, else null. */
    private static function redirect(string $error): ?array
    {
        if (preg_match('/^(MOVED|ASK) (\d+) (\S*):(\d+)$/', $error, $m)) {
            return [$m[1], (int)$m[2], $m[3] . ':' . $m[4]];
        }
        if (str_starts_with($error, 'TRYAGAIN')) {
            return ['TRYAGAIN', -1, ''];
        }
        return null;
    }

    private static function address(array $hostPort): string
    {
        if (count($hostPort) !== 2 || !is_string($hostPort[0] ?? null) || !is_int($hostPort[1] ?? null)) {
            throw new \TypeError('ClusterShm\\RedisCluster: a node address is [string $host, int $port]');
        }
        return $hostPort[0] . ':' . $hostPort[1];
    }

    // ---- options --------------------------------------------------------------

    private static function config(string $url, array $given): array
    {
        $unknown = array_diff_key($given, self::DEFAULTS);
        if ($unknown !== []) {
            throw new ConfigException(sprintf("unknown redis option '%s'; known: %s", (string)array_key_first($unknown),
                                              implode(', ', array_keys(self::DEFAULTS))), 1);
        }
        $c = $given + self::DEFAULTS;
        foreach (['timeout' => 3600, 'read_timeout' => 3600, 'refresh_timeout' => 3600] as $name => $max) {
            $v = $c[$name];
            if ((!is_int($v) && !is_float($v)) || !($v >= 0 && $v <= $max)) {
                throw new ConfigException("bad redis option $name: " . var_export($v, true)
                                          . "; use 0 to $max seconds", 1);
            }
            $c[$name] = (float)$v;
        }
        if (!is_bool($c['persistent'])) {
            throw new ConfigException('bad redis option persistent: use true or false', 1);
        }
        if (!is_int($c['max_redirects']) || $c['max_redirects'] < 0 || $c['max_redirects'] > 100) {
            throw new ConfigException('bad redis option max_redirects: use 0 to 100', 1);
        }
        $auth = $c['auth'] ?? self::urlCredentials($url);
        if (!($auth === null || is_string($auth)
              || (is_array($auth) && array_is_list($auth) && count($auth) >= 1 && count($auth) <= 2
                  && count(array_filter($auth, 'is_string')) === count($auth)))) {
            throw new ConfigException("bad redis option auth: use 'password' or ['user', 'password']", 1);
        }
        $c['auth'] = $auth;
        return $c;
    }

    /** The URL's user and password (percent-decoded), as phpredis's auth; null without. */
    private static function urlCredentials(string $url): string|array|null
    {
        $start = strpos($url, '://');
        $rest = $start === false ? $url : substr($url, $start + 3);
        $at = strrpos($rest, '@');
        if ($at === false) {
            return null;
        }
        $userinfo = substr($rest, 0, $at);
        $colon = strpos($userinfo, ':');
        if ($colon === false) {
            return null;                   // the extension rejects this URL
        }
        $user = rawurldecode(substr($userinfo, 0, $colon));
        $password = rawurldecode(substr($userinfo, $colon + 1));
        return $user === '' ? $password : [$user, $password];
    }
}
