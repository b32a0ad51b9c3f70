--TEST--
clustershm: bad URLs, options and INI settings raise ConfigException naming the fix
--EXTENSIONS--
clustershm
--FILE--
<?php
function attempt(string $url, array $options = []): void {
    try {
        new ClusterShm\Client($url, $options);
        echo "accepted\n";
    } catch (ClusterShm\Exception $e) {
        echo get_class($e), ' (', $e->getCode(), '): ', $e->getMessage(), "\n";
    }
}
$u = 'redis://127.0.0.1:7599';
attempt('http://127.0.0.1:7599');
attempt('redis://127.0.0.1:7599/0');
attempt($u, ['max_node' => 3]);
attempt($u, [5]);
attempt($u, ['max_nodes' => '64']);
attempt($u, ['max_nodes' => 0]);
attempt($u, ['max_nodes' => -1]);
attempt($u, ['tend_interval' => 'fast']);
attempt($u, ['takeover_timeout' => 0.5, 'tend_interval' => 1]);
attempt($u, ['mode' => 0644]);
attempt($u, ['mode' => 0400]);
attempt($u, ['key' => 0]);
attempt($u, ['key' => '0x43zz']);
attempt($u, ['shared' => 'yes']);
attempt($u, ['cluster_name' => str_repeat('x', 64)]);
attempt($u, ['key' => '0x5c70ff00', 'shared' => false, 'max_nodes' => 8, 'max_namespaces' => 2,
             'tend_interval' => 0.5, 'takeover_timeout' => 10, 'connect_timeout' => 2,
             'mode' => 0600, 'cluster_name' => 'prod']);
attempt('aerospike://127.0.0.1:3000', ['max_namespaces' => 33]);
echo "-- INI\n";
ini_set('clustershm.max_nodes', 'lots');
attempt($u);
ini_set('clustershm.max_nodes', '0');
attempt($u);
ini_set('clustershm.max_nodes', '16');
attempt($u, ['max_nodes' => 0]);  // the array wins over INI
ini_set('clustershm.mode', '0999');
attempt($u);
ini_set('clustershm.mode', '0660');
attempt($u);
ini_set('clustershm.tend_interval', '2');
ini_set('clustershm.takeover_timeout', '1');
attempt($u);
?>
--EXPECT--
ClusterShm\ConfigException (1): bad URL 'http://127.0.0.1:7599': unknown scheme 'http'; use redis://, rediss:// (TLS) or aerospike://
ClusterShm\ConfigException (1): bad URL: unexpected '/0' after the host list; options go in the options argument, not in the URL
ClusterShm\ConfigException (1): unknown option 'max_node'; known options: key, shared, max_nodes, max_namespaces, tend_interval, takeover_timeout, connect_timeout, min_refresh_interval, mode, cluster_name, tls_ca_file, tls_ca_dir, tls_cert_file, tls_key_file, tls_server_name, tls_insecure_skip_verify, user, password, use_alternate_access_address, rack_id
ClusterShm\ConfigException (1): bad options: entry 0 has no name; pass ['name' => value, ...] with names among key, shared, max_nodes, max_namespaces, tend_interval, takeover_timeout, connect_timeout, min_refresh_interval, mode, cluster_name, tls_ca_file, tls_ca_dir, tls_cert_file, tls_key_file, tls_server_name, tls_insecure_skip_verify, user, password, use_alternate_access_address, rack_id
ClusterShm\ConfigException (1): bad option max_nodes: expected int, got string; e.g. 'max_nodes' => 64
ClusterShm\ConfigException (1): bad option max_nodes: 0; use 1 to 4096
ClusterShm\ConfigException (1): bad option max_nodes: -1 is out of range
ClusterShm\ConfigException (1): bad option tend_interval: expected seconds as int or float, got string; e.g. 'tend_interval' => 1.5
ClusterShm\ConfigException (1): bad option takeover_timeout: 0.5 s must be longer than tend_interval (1 s), or a healthy tender would be taken over between two tends
accepted
ClusterShm\ConfigException (1): bad option mode: 0400; use permission bits up to 0777 that include 0600 (the owner must read and write)
ClusterShm\ConfigException (1): bad option key: 0 is IPC_PRIVATE; give a non-zero SysV key or leave key unset for the default
ClusterShm\ConfigException (1): bad option key: '0x43zz' is not a SysV key; write an int such as 0x43a1b2c3, or null for the default
ClusterShm\ConfigException (1): bad option shared: expected bool, got string; e.g. 'shared' => false
ClusterShm\ConfigException (1): bad option cluster_name: longer than 63 bytes
accepted
ClusterShm\ConfigException (1): bad option max_namespaces: 33; use 1 to 32 (Aerospike's limit)
-- INI
ClusterShm\ConfigException (1): bad INI setting clustershm.max_nodes = 'lots': expected a non-negative integer; fix php.ini or ini_set()
ClusterShm\ConfigException (1): bad option max_nodes: 0; use 1 to 4096
ClusterShm\ConfigException (1): bad option max_nodes: 0; use 1 to 4096
ClusterShm\ConfigException (1): bad INI setting clustershm.mode = '0999': expected octal permission bits such as 0600; fix php.ini or ini_set()
accepted
ClusterShm\ConfigException (1): bad option takeover_timeout: 1 s must be longer than tend_interval (2 s), or a healthy tender would be taken over between two tends
