<?php
/*
 * TlsTest.php - ClusterShm\Client over rediss:// against a real TLS-only
 * Redis Cluster that demands client certificates (3 masters, port 0,
 * tls-port, tls-cluster yes; started with its certificates by
 * tests/php/run.py): routes against the servers' truth, the tls_* options
 * and INI settings, and the verification errors.
 */
declare(strict_types=1);

final class TlsTest extends ClusterShmTestCase
{
    private static function tls(): array
    {
        return self::env()['redis_tls'];
    }

    private static function mutual(array $more = []): array
    {
        $t = self::tls();
        return $more + ['tls_ca_file' => $t['ca'], 'tls_cert_file' => $t['cert'],
                        'tls_key_file' => $t['key'], 'connect_timeout' => 2.0];
    }

    public function testRoutesOverRedissMatchTheCluster(): void
    {
        $c = $this->connect(self::tls()['url'], self::mutual(['key' => $this->testKey()]));
        $bad = [];
        foreach (self::tls()['keys'] as $k) {
            $key = hex2bin($k['hex']);
            if ($c->route($key) !== self::hostPort($k['route']) || $c->partition($key) !== $k['slot']) {
                $bad[] = $k['hex'];
            }
        }
        $this->assertSame([], array_slice($bad, 0, 5), count($bad) . ' keys routed wrong');
        $this->assertEqualsCanonicalizing(self::tls()['ports'], array_column($c->nodes(), 'port'));
        $this->assertStringStartsWith('rediss:', $c->status()['identity']);
    }

    public function testIniSettingsGiveTheTlsDefaults(): void
    {
        $t = self::tls();
        ini_set('clustershm.tls_ca_file', $t['ca']);
        ini_set('clustershm.tls_cert_file', $t['cert']);
        ini_set('clustershm.tls_key_file', $t['key']);
        try {
            $c = $this->connect($t['url'], ['key' => $this->testKey(), 'connect_timeout' => 2.0]);
            $this->assertSame(self::hostPort($t['keys'][0]['route']), $c->route(hex2bin($t['keys'][0]['hex'])));
        } finally {
            ini_restore('clustershm.tls_ca_file');
            ini_restore('clustershm.tls_cert_file');
            ini_restore('clustershm.tls_key_file');
        }
    }

    public function testWrongCaNamesTheVerificationFailure(): void
    {
        $this->expectException(ClusterShm\ClusterException::class);
        $this->expectExceptionMessageMatches('/certificate verify failed.*tls_ca_file/');
        $this->connect(self::tls()['url'],
                       self::mutual(['key' => $this->testKey(), 'tls_ca_file' => self::tls()['other_ca']]));
    }

    public function testTlsOptionsNeedRediss(): void
    {
        $this->expectException(ClusterShm\ConfigException::class);
        $this->expectExceptionMessage('rediss://');
        new ClusterShm\Client('redis://127.0.0.1:7510', ['tls_ca_file' => self::tls()['ca']]);
    }

    public function testInsecureSwitchIsABool(): void
    {
        $this->expectException(ClusterShm\ConfigException::class);
        $this->expectExceptionMessage('tls_insecure_skip_verify');
        new ClusterShm\Client(self::tls()['url'], ['tls_insecure_skip_verify' => 'yes']);
    }
}
