"""test_cli_watch.py - `clustershm watch` shows a takeover as it happens:
as plain lines when stdout is not a terminal, as JSON lines that validate
against docs/schema/watch.schema.json, and in a real terminal (tmux:
send-keys, capture-pane), where q, Ctrl-C and SIGTERM all quit and leave
the terminal exactly as it was (stty -a before and after, alternate screen
left).

Invariants: every wait has a deadline; the tmux server runs on a socket of
the test's own and is killed by it; the watch processes are reaped.
"""
import json
import os
import select
import signal
import subprocess
import time

from support import cli
from support.checks import the_tender, wait_new_tender
from support.procs import spawn, wait_for
from support.worker import CLI, connect_all


class Lines:
    """The stdout of a running watch, line by line, with deadlines."""

    def __init__(self, *args):
        self.proc = spawn([CLI, "watch"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
        self.buf = b""
        self.lines = []

    def until(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if predicate(line):
                    return line
            left = deadline - time.monotonic()
            assert left > 0, "no %s within %.0f s; got:\n%s" % (what, timeout, "\n".join(self.lines))
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, "watch exited (%r): %s" % (self.proc.poll(), self.proc.stderr.read())
                self.buf += chunk
                *done, self.buf = self.buf.split(b"\n")
                self.lines += [d.decode() for d in done]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=10)
        rest = self.proc.stdout.read().decode()
        self.lines += [line for line in (self.buf.decode() + rest).split("\n") if line]
        return rc


def test_plain_lines_show_a_takeover_after_death(cluster, pool, shm_key):
    ws = pool(3)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=0.2)
    tender, sts = the_tender(ws)
    watch = Lines("--key", "0x%x" % shm_key, "--interval", "0.1")
    try:
        first = watch.until(lambda l: "watching" in l, 10, "first line")
        assert "tender pid %d" % tender.pid in first and "0x%08x" % shm_key in first
        tender.kill()
        rest = [w for w in ws if w is not tender]
        new, _ = wait_new_tender(rest, sts[0]["epoch"], 10)
        line = watch.until(lambda l: "took over after death" in l, 10, "the takeover")
        assert "pid %d took over after death (of pid %d)" % (new.pid, tender.pid) in line
        assert "epoch %d" % sts[0]["epoch"] in line
        watch.until(lambda l: "attached 3" in l, 10, "the dead worker's detach")
    finally:
        rc = watch.stop()
    assert rc == 0
    assert not any("\x1b" in l for l in watch.lines), "escapes without a terminal"


def test_json_lines_validate_and_carry_the_status(cluster, pool, shm_key):
    ws = pool(2)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=0.2)
    tender, sts = the_tender(ws)
    watch = Lines("--key", "0x%x" % shm_key, "--interval", "0.1", "--json", "--duration", "30")
    try:
        watch.until(lambda l: '"start"' in l, 10, "the start event")
        tender.kill()
        watch.until(lambda l: '"took over after death' in l or "took over after death" in l, 10,
                    "the takeover event")
    finally:
        watch.stop()
    events = [cli.validate(json.loads(l), "watch") for l in watch.lines]
    assert events[0]["event"] == "start" and events[0]["status"]["owner_pid"] == tender.pid
    [takeover] = [e for e in events if e["event"] == "tender"]
    assert takeover["status"]["epoch"] == sts[0]["epoch"] + 1
    assert takeover["status"]["dead_takeovers"] == events[0]["status"]["dead_takeovers"] + 1
    assert takeover["status"]["owner_pid"] != tender.pid
    assert all(e["key"] == "0x%08x" % shm_key for e in events)


def test_watch_waits_for_a_missing_segment(cluster, pool, shm_key):
    watch = Lines("--key", "0x%x" % shm_key, "--interval", "0.1")
    try:
        watch.until(lambda l: "waiting for one" in l, 10, "the wait")
        [w] = pool(1)
        w.ok(w.connect_line(cluster.url(), key=shm_key))
        line = watch.until(lambda l: "segment appeared" in l, 10, "the new segment")
        assert "tender pid %d" % w.pid in line, line
    finally:
        watch.stop()


# ---- a real terminal ---------------------------------------------------------


class Tmux:
    def __init__(self, tmp_path):
        self.sock = str(tmp_path / "tmux.sock")
        self.tmp = tmp_path
        self("new-session", "-d", "-s", "t", "-x", "150", "-y", "40",
             "env PS1='$ ' bash --norc --noprofile")

    def __call__(self, *args):
        out = subprocess.run(["tmux", "-S", self.sock] + list(args), capture_output=True,
                             text=True, timeout=10)
        assert out.returncode == 0, "tmux %s: %s" % (args, out.stderr)
        return out.stdout

    def type(self, text):
        self("send-keys", "-t", "t", "-l", text)
        self("send-keys", "-t", "t", "Enter")

    def screen(self):
        return self("capture-pane", "-p", "-t", "t")

    def wait_screen(self, text, timeout=15):
        return wait_for(lambda: text in self.screen() and self.screen(), timeout,
                        "%r on the screen" % text)

    def alternate(self):
        return self("display", "-p", "-t", "t", "#{alternate_on}").strip() == "1"

    def watch_pid(self):
        shell = int(self("display", "-p", "-t", "t", "#{pane_pid}").strip())
        with open("/proc/%d/task/%d/children" % (shell, shell)) as f:
            children = f.read().split()
        assert len(children) == 1, children
        return int(children[0])

    def kill(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, timeout=10)


def test_watch_in_a_terminal(cluster, pool, shm_key, tmp_path):
    ws = pool(3)
    connect_all(ws, cluster.url(), key=shm_key, tend_interval=0.2)
    tender, sts = the_tender(ws)
    term = Tmux(tmp_path)
    try:
        term.type("stty -a > %s/before.txt" % tmp_path)
        run = 0

        def start_watch():
            nonlocal run
            run += 1
            marker = tmp_path / ("after-%d.txt" % run)
            term.type("%s watch --key 0x%x --interval 0.2; stty -a > %s; echo EXITED-%d"
                      % (CLI, shm_key, marker, run))
            term.wait_screen("clustershm watch 0x%08x" % shm_key)
            assert term.alternate(), "watch did not take the alternate screen"
            return marker

        def assert_restored(marker):
            wait_for(lambda: marker.exists() and marker.stat().st_size > 0, 15,
                     "the shell to run again after watch")
            term.wait_screen("EXITED-%d" % run)
            assert not term.alternate(), "the alternate screen was left on"
            assert marker.read_text() == (tmp_path / "before.txt").read_text(), \
                "the terminal modes differ after watch"

        # 1. the status block, a takeover as it happens, and q
        marker = start_watch()
        screen = term.wait_screen("tender   pid %d, epoch %d" % (tender.pid, sts[0]["epoch"]))
        assert "attached 3" in screen and "map      generation" in screen
        tender.kill()
        rest = [w for w in ws if w is not tender]
        new, _ = wait_new_tender(rest, sts[0]["epoch"], 10)
        screen = term.wait_screen("took over after death")
        assert "pid %d took over after death (of pid %d)" % (new.pid, tender.pid) in screen
        term.wait_screen("tender   pid %d, epoch %d" % (new.pid, sts[0]["epoch"] + 1))
        term("send-keys", "-t", "t", "q")
        assert_restored(marker)

        # 2. Ctrl-C
        marker = start_watch()
        term("send-keys", "-t", "t", "C-c")
        assert_restored(marker)

        # 3. SIGTERM from elsewhere
        marker = start_watch()
        os.kill(term.watch_pid(), signal.SIGTERM)
        assert_restored(marker)
    finally:
        term.kill()
