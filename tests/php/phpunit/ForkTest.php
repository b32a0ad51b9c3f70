<?php
/*
 * ForkTest.php - pcntl_fork() children of a connected process: each child
 * is a follower that routes right, and the parent stays the tender.
 */
declare(strict_types=1);

final class ForkTest extends ClusterShmTestCase
{
    public function testChildrenAreFollowersThatRouteRight(): void
    {
        if (!function_exists('pcntl_fork')) {
            $this->markTestSkipped('pcntl is not loaded');
        }
        $env = self::env()['redis'];
        $c = $this->connect($env['url'], ['key' => $this->testKey()]);
        $this->assertSame('tender', $c->status()['role']);
        $children = [];
        for ($i = 0; $i < 4; $i++) {
            $pid = pcntl_fork();
            if ($pid === 0) {
                $ok = $c->status()['role'] === 'follower';
                foreach (array_slice($env['keys'], $i * 100, 100) as $k) {
                    $ok = $ok && $c->route(hex2bin($k['hex'])) === self::hostPort($k['route']);
                }
                // Leave without PHPUnit's shutdown (it would print a report).
                posix_kill(getmypid(), $ok ? SIGUSR1 : SIGUSR2);
            }
            $children[] = $pid;
        }
        foreach ($children as $pid) {
            pcntl_waitpid($pid, $status);
            $this->assertTrue(pcntl_wifsignaled($status));
            $this->assertSame(SIGUSR1, pcntl_wtermsig($status), 'a child routed wrong');
        }
        $s = $c->status();
        $this->assertSame('tender', $s['role']);
        $this->assertSame(getmypid(), $s['owner_pid']);
    }
}
