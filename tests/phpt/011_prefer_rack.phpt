--TEST--
clustershm: login options, route(..., 'prefer_rack', $rackId) against the simulator's racks, the new options' checks, phpinfo hides the password
--EXTENSIONS--
clustershm
--SKIPIF--
<?php
if (getenv('CSHM_PHP_ENV') === false) die('skip needs the simulators of tests/php/run.py (make test-php)');
if (!is_executable('/usr/bin/ipcrm') && !is_executable('/bin/ipcrm')) die('skip ipcrm (util-linux) is needed');
?>
--FILE--
<?php
$env = json_decode(file_get_contents(getenv('CSHM_PHP_ENV')), true)['aerospike_racks'];
$url = $env['url'];
$password = $env['users']['ops'];   // not ASCII

// The simulator's own answers (its digest code and ownership), over its control port.
$control = stream_socket_client('tcp://127.0.0.1:' . $env['control_port'], $errno, $errstr, 10);
function sim(array $request) {
    global $control;
    fwrite($control, json_encode($request) . "\n");
    $answer = json_decode(fgets($control), true);
    if (!$answer['ok']) throw new RuntimeException($answer['error']);
    return $answer['result'];
}
$ports = [];
foreach (sim(['op' => 'nodes']) as $n) $ports[$n['name']] = $n['port'];
$racks = sim(['op' => 'truth', 'partitions' => false])['racks'];

$key = 0x5c70b011;
require __DIR__ . '/fake_cluster_start.inc';   // remove_segment()
foreach (range(0, 3) as $i) remove_segment($key + $i);
register_shutdown_function(function () use ($key) {
    foreach (range(0, 3) as $i) remove_segment($key + $i);
});
$opts = ['key' => $key, 'tend_interval' => 0.2, 'takeover_timeout' => 5, 'connect_timeout' => 3,
         'user' => 'ops', 'password' => $password, 'rack_id' => 2];
$c = ClusterShm\connect($url, $opts);
echo "nodes: ", count($c->nodes()), "\n";

foreach (['test', 'bar'] as $ns) {
    foreach ([1, 2, 3, null] as $rack) {
        $agree = 0; $onReplica = 0; $total = 200;
        for ($i = 0; $i < $total; $i++) {
            $k = "user:$i";
            $owners = sim(['op' => 'locate', 'namespace' => $ns, 'key' => $k, 'set' => 'demo'])['owners'];
            $want = $owners[0];
            foreach ($owners as $o) {
                if ($o !== null && $racks[$ns][$o] === ($rack ?? 2)) { $want = $o; break; }
            }
            $got = $c->route($k, $ns, 'demo', 'prefer_rack', $rack);
            if ($got === ['127.0.0.1', $ports[$want]]) $agree++;
            if ($want !== $owners[0]) $onReplica++;
        }
        printf("%s rack %s: %s, %s\n", $ns, $rack ?? 'option', $agree === $total ? 'all agree' : "$agree of $total agree",
               $onReplica > 0 ? 'some on a replica' : 'all on masters');
    }
}

function attempt(callable $f): void {
    try {
        $r = $f();
        echo "ok ", json_encode($r), "\n";
    } catch (ClusterShm\Exception $e) {
        echo get_class($e), ' (', $e->getCode(), '): ', $e->getMessage(), "\n";
    } catch (TypeError $e) {
        echo 'TypeError: ', $e->getMessage(), "\n";
    }
}
attempt(fn() => $c->route('k', 'test', 'demo', 'nearest'));
attempt(fn() => $c->route('k', 'test', 'demo', 1, 2));
attempt(fn() => $c->route('k', 'test', 'demo', 'prefer_rack', -1));
attempt(fn() => $c->route('k', 'test', 'demo', 'prefer_rack', 1000001));
$noRack = ClusterShm\connect($url, ['key' => $key + 1, 'user' => 'ops', 'password' => $password,
                                    'connect_timeout' => 3]);
attempt(fn() => $noRack->route('k', 'test', 'demo', 'prefer_rack'));
attempt(fn() => new ClusterShm\Client($url, ['user' => 'app']));
attempt(fn() => new ClusterShm\Client($url, ['password' => 'x']));
attempt(fn() => new ClusterShm\Client('aerospike://a:b@127.0.0.1:3000', ['user' => 'a', 'password' => 'b']));
attempt(fn() => new ClusterShm\Client($url, ['user' => 5, 'password' => 'x']));
attempt(fn() => new ClusterShm\Client($url, ['user' => "a\0b", 'password' => 'x']));
attempt(fn() => new ClusterShm\Client($url, ['rack_id' => '2']));
attempt(fn() => new ClusterShm\Client($url, ['rack_id' => -2]));
attempt(fn() => new ClusterShm\Client('redis://127.0.0.1:7599', ['rack_id' => 1]));
attempt(fn() => new ClusterShm\Client($url, ['use_alternate_access_address' => 'yes']));
attempt(fn() => new ClusterShm\Client($url, ['use_alternate_access_address' => 2]));
attempt(fn() => new ClusterShm\Client('redis://127.0.0.1:7599', ['use_alternate_access_address' => true]));
attempt(fn() => get_class(new ClusterShm\Client($url, ['user' => 'a', 'password' => 'b', 'rack_id' => null,
                                                       'use_alternate_access_address' => true])));

// The INI entries; the password is never shown by phpinfo().
ini_set('clustershm.rack_id', 'two');
attempt(fn() => new ClusterShm\Client($url));
ini_set('clustershm.rack_id', '3');
ini_set('clustershm.user', 'ops');
ini_set('clustershm.password', $password);
$viaIni = ClusterShm\connect($url, ['key' => $key + 3, 'connect_timeout' => 3]);
$k = 'user:7';
$owners = sim(['op' => 'locate', 'namespace' => 'test', 'key' => $k, 'set' => 'demo'])['owners'];
$want = $racks['test'][$owners[1]] === 3 ? $owners[1] : $owners[0];
var_dump($viaIni->route($k, 'test', 'demo', 'prefer_rack') === ['127.0.0.1', $ports[$want]]);
ob_start();
phpinfo(INFO_MODULES);
$info = ob_get_clean();
var_dump(str_contains($info, 'clustershm.password => ******** => no value'),
         str_contains($info, $password),
         str_contains($info, 'clustershm.rack_id => 3'),
         str_contains($info, 'clustershm.use_alternate_access_address => Off'));
foreach ([$c, $noRack, $viaIni] as $client) $client->close();
// Last: the failed tend also logs a line on stderr, at a moment of the log
// thread's choosing, which the expectation below leaves open.
attempt(fn() => ClusterShm\connect($url, ['key' => $key + 2, 'user' => 'app', 'password' => 'wrong',
                                           'connect_timeout' => 3]));
?>
--EXPECTF--
nodes: 3
test rack 1: all agree, some on a replica
test rack 2: all agree, some on a replica
test rack 3: all agree, some on a replica
test rack option: all agree, some on a replica
bar rack 1: all agree, all on masters
bar rack 2: all agree, all on masters
bar rack 3: all agree, all on masters
bar rack option: all agree, all on masters
ClusterShm\ConfigException (1): replica 'nearest': use an int (0 for the master, 1.. for replicas) or 'prefer_rack'
ClusterShm\ConfigException (1): rackId is for replica 'prefer_rack'; give both or neither
ClusterShm\ConfigException (1): replica prefer_rack needs a rack id 0 to 1000000: pass rack_id or set the rack_id option
ClusterShm\ConfigException (1): replica prefer_rack needs a rack id 0 to 1000000: pass rack_id or set the rack_id option
ClusterShm\ConfigException (1): replica prefer_rack needs a rack id 0 to 1000000: pass rack_id or set the rack_id option
ClusterShm\ConfigException (1): bad option user: given without a password; set the password option too
ClusterShm\ConfigException (1): Aerospike authentication needs a user with the password: write aerospike://USER:PASSWORD@host:port or set the user option
ClusterShm\ConfigException (1): credentials given twice: in the URL and in the user/password options; give them in one place
ClusterShm\ConfigException (1): bad option user: expected string or null, got int; e.g. 'user' => 'app'
ClusterShm\ConfigException (1): bad option user: contains a NUL byte
ClusterShm\ConfigException (1): bad option rack_id: expected int or null, got string; e.g. 'rack_id' => 2
ClusterShm\ConfigException (1): bad option rack_id: -2; use 0 to 1000000 (Aerospike rack ids), or -1 for none
ClusterShm\ConfigException (1): bad option rack_id: Aerospike only; Redis has no racks
ClusterShm\ConfigException (1): bad option use_alternate_access_address: expected bool, got string; e.g. 'use_alternate_access_address' => true
ClusterShm\ConfigException (1): bad option use_alternate_access_address: 2; use true or false
ClusterShm\ConfigException (1): bad option use_alternate_access_address: Aerospike only; Redis nodes announce one address
ok "ClusterShm\\Client"
ClusterShm\ConfigException (1): bad INI setting clustershm.rack_id = 'two': expected an integer such as 2; fix php.ini or ini_set()
bool(true)
bool(true)
bool(false)
bool(true)
bool(true)
%AClusterShm\ClusterException (2): no node of aerospike:127.0.0.1:3310 answered: no seed could be used: 127.0.0.1:3310: login as user 'app' refused: INVALID_CREDENTIAL (result 65); check the user and password (aerospike://USER:PASSWORD@host:port, percent-encoded, or the user and password options). Check the URL, the credentials, and that the cluster is up and reachable from this host%A
