<?php
/*
 * autoload.php - loads the Composer package php/ (ClusterShm\RedisCluster)
 * the way Composer's PSR-4 autoloader would, from its own composer.json, so
 * the tests need no `composer install`: the PHPUnit bootstrap and the pool
 * scripts require this file.
 */
(static function (): void {
    $root = dirname(__DIR__, 2) . '/php';
    $composer = json_decode(file_get_contents("$root/composer.json"), true, 512, JSON_THROW_ON_ERROR);
    foreach ($composer['autoload']['psr-4'] as $prefix => $dir) {
        spl_autoload_register(static function (string $class) use ($prefix, $root, $dir): void {
            if (str_starts_with($class, $prefix)) {
                $file = "$root/$dir" . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
                if (is_file($file)) {
                    require $file;
                }
            }
        });
    }
})();
