<?php

/**
 * clustershm.stub.php - the PHP API of the clustershm extension.
 *
 * Invariants: this file is the single source of the signatures; the arginfo
 * header (clustershm_arginfo.h) is generated from it by PHP's gen_stub.php
 * (`make php-stubs`) and committed.  The names follow the product's public
 * API contract (shared/PRODUCT.md), camelCase only where PHP wants it.
 *
 * @generate-class-entries
 */

namespace ClusterShm {

    /**
     * @var string
     * @cvalue PHP_CLUSTERSHM_VERSION
     */
    const VERSION = UNKNOWN;

    /** Base of every error the extension raises. */
    class Exception extends \RuntimeException {}

    /** Bad URL, option or INI setting. */
    class ConfigException extends Exception {}

    /** No seed answers, cluster name mismatch, unknown namespace. */
    class ClusterException extends Exception {}

    /** Foreign or incompatible segment, permissions, kernel limits. */
    class SegmentException extends Exception {}

    /** A wait ran past its deadline (connect_timeout). */
    class TimeoutException extends Exception {}

    /** @not-serializable */
    class Client
    {
        /**
         * $url: redis://[user:password@]host:port[,...], rediss://... (TLS) or
         * aerospike://[user:password@]host[:tls_name]:port[,...].  $options
         * (defaults from the clustershm.* INI settings): key, shared,
         * max_nodes, max_namespaces, tend_interval, takeover_timeout,
         * connect_timeout, min_refresh_interval, mode, cluster_name, user,
         * password, use_alternate_access_address, rack_id, and for TLS tls_ca_file,
         * tls_ca_dir, tls_cert_file, tls_key_file (mutual TLS),
         * tls_server_name (SNI and verification) and tls_insecure_skip_verify
         * (tests only).
         */
        public function __construct(string $url, array $options = []) {}

        public function connect(): void {}

        public function close(): void {}

        /**
         * $replica: 0 the master, 1.. a replica, or 'prefer_rack' (Aerospike):
         * the owner on rack $rackId (null: the rack_id option), master first,
         * else the master.
         * @return array{0: string, 1: int}
         */
        public function route(string|int $key, ?string $namespace = null, string $set = "", int|string $replica = 0, ?int $rackId = null): array {}

        public function partition(string|int $key, ?string $namespace = null, string $set = ""): int {}

        public function nodes(): array {}

        /**
         * The segment's state as this process sees it: role, pid, owner_pid,
         * epoch, generation, tended_at, age, stale, key, shmid, segment_size,
         * nodes, namespaces, attached, nodes_seen, namespaces_seen,
         * nodes_truncated, namespaces_truncated, replicas_truncated, tends,
         * tend_failures, handoffs, dead_takeovers, hung_takeovers, step_downs,
         * failures_in_row, tend_interval, takeover_timeout,
         * min_refresh_interval, driver, last_error, step_down_history (pid,
         * epoch, at, failures, reason; newest first), identity, max_nodes,
         * max_namespaces, has_tender, has_map, chain_generation (0 at the
         * base key; +1 each time the cluster outgrew the segment), chain_base
         * (the chain's base key) and forwarded_to (the successor's key, or
         * null while this segment is not forwarded).  The names are those of
         * `clustershm stat --json` and of the Prometheus metrics.
         *
         * @return array<string, mixed>
         */
        public function status(): array {}

        public function requestRefresh(): void {}

        /**
         * Asks the tender (this process or another) to tend now, e.g. after a
         * -MOVED reply.  With $wait = false it only asks and returns false.
         * With $wait = true it then blocks until a map newer than the one
         * published at the call is published (true), or $timeout seconds
         * (0 to 3600) pass first (false).  The tender tends at most once per
         * min_refresh_interval, however many workers ask.
         *
         * @throws ConfigException for a timeout outside 0..3600 (or NAN)
         * @throws Exception when the client is not connected
         */
        public function refresh(bool $wait = true, float $timeout = 1.0): bool {}

        /**
         * The whole slot (Redis) or partition (Aerospike) table of one
         * consistent snapshot, for clients that keep a connection per node:
         *
         *     ['generation' => int,       // +1 at every changed map
         *      'nodes' => [...],          // as nodes()
         *      'shards' => [['first' => int, 'last' => int,   // inclusive
         *                    'master' => ['host' => string, 'port' => int, 'name' => string] or null,
         *                    'replicas' => [['host', 'port', 'name'], ...]], ...]]
         *
         * Ranges are consecutive partitions with the same master and
         * replicas, in order, covering every partition (a range with no
         * master has 'master' => null).  $namespace: the Aerospike namespace
         * (required there); ignored for Redis.
         *
         * @throws ConfigException Aerospike without a namespace
         * @throws ClusterException an unknown namespace
         * @throws SegmentException a corrupt segment
         * @throws Exception when the client is not connected
         */
        public function shards(?string $namespace = null): array {}
    }

    function connect(string $url, array $options = []): Client {}

    function aerospike_digest(string $set, string|int $key): string {}

    function redis_slot(string $key): int {}
}
