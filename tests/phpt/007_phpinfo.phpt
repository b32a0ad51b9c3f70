--TEST--
clustershm: phpinfo() shows the version, the segments this process is attached to and its role
--EXTENSIONS--
clustershm
--INI--
clustershm.connect_timeout=3
--FILE--
<?php
require __DIR__ . '/fake_cluster_start.inc';
[$port] = fake_cluster_start();
$key = 0x5c70a007;
remove_segment($key);
function section(): string {
    ob_start();
    phpinfo(INFO_MODULES);
    $text = ob_get_clean();
    $start = strpos($text, "\nclustershm\n");
    return substr($text, $start, strpos($text, "\nDirective => Local Value", $start) - $start);
}
echo section(), "\n--\n";
$c = ClusterShm\connect("redis://user:s3cret@127.0.0.1:$port", ['key' => $key]);
$info = section();
echo $info, "\n";
var_dump(strpos($info, 's3cret'));
ob_start();
phpinfo(INFO_MODULES);
var_dump(strpos(ob_get_clean(), 'clustershm.connect_timeout => 3 => 3') !== false);
remove_segment($key);
?>
--EXPECTF--
clustershm

clustershm support => enabled
Version => %s
Process id => %d
Segments attached by this process => 0

--

clustershm

clustershm support => enabled
Version => %s
Process id => %d
Segments attached by this process => 1

URL => Key => shmid => Role => Tender pid => Nodes
redis://user:***@127.0.0.1:%d => 0x5c70a007 => %d => tender => %d => 2

bool(false)
bool(true)
