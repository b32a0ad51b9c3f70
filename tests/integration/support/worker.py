"""worker.py - drive one build/cshm-worker process (one "worker" of a pool).

Invariants: every command is one line out and exactly one JSON line back;
reading an answer has a deadline, so a hung or crashed worker fails the test
with its stderr log instead of hanging it; a Worker is always reaped by
`stop` (the pool fixture calls it for every worker, also on failure).
"""
import json
import os
import select
import signal
import subprocess
import time

from . import procs

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BINARY = os.environ.get("CSHM_WORKER", os.path.join(ROOT, "build", "cshm-worker"))
CLI = os.environ.get("CSHM_CLI", os.path.join(ROOT, "build", "clustershm"))
LAYOUT = os.path.join(ROOT, "build", "cshm-layout")

DEFAULT_TIMEOUT = 30.0


def format_options(options):
    """connect options as name=value tokens in the worker's syntax."""
    out = []
    for name, value in options.items():
        if name == "key" and isinstance(value, int):
            value = "0x%x" % value
        elif name == "mode" and isinstance(value, int):
            value = "0%o" % value
        elif isinstance(value, bool):
            value = int(value)
        out.append("%s=%s" % (name, value))
    return out


class WorkerError(AssertionError):
    pass


class Worker:
    def __init__(self, logdir, name, env=None, wrap=None, binary=None, credentials=None):
        """wrap: argv run in front of the worker binary, which it must exec
        (so the process keeps the pid we see), e.g. ["unshare", "--net"];
        binary: another copy of the worker (one that another user may
        execute); credentials: Popen's user, group and extra_groups, set in
        the child before it execs (PR_SET_PDEATHSIG is set after them, so
        it survives the change of uid).  The log is opened here, by us."""
        self.name = name
        self.log_path = os.path.join(str(logdir), "%s.log" % name)
        self._log = open(self.log_path, "wb")
        self.proc = procs.spawn(list(wrap or []) + [binary or BINARY], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=self._log, env=env,
                                **(credentials or {}))
        self.pid = self.proc.pid
        self._buf = b""

    def __repr__(self):
        return "<Worker %s pid %d>" % (self.name, self.pid)

    # ---- protocol --------------------------------------------------------

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def recv(self, timeout=DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerError("%r gave no answer within %.1f s\n%s" % (self, timeout, self.log()))
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise WorkerError("%r closed stdout (exit status %r)\n%s"
                                  % (self, self.proc.poll(), self.log()))
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError:
            raise WorkerError("%r answered a line that is not JSON: %r" % (self, line))

    def answer_ready(self):
        """The next answer if it has arrived whole, else None, without
        waiting (for commands that run long, such as verifyloop).  A worker
        that closed its stdout raises, as recv() does."""
        if b"\n" not in self._buf:
            fd = self.proc.stdout.fileno()
            ready, _, _ = select.select([fd], [], [], 0)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise WorkerError("%r closed stdout (exit status %r)\n%s"
                                      % (self, self.proc.poll(), self.log()))
                self._buf += chunk
        if b"\n" not in self._buf:
            return None
        return self.recv(0)

    def cmd(self, line, timeout=DEFAULT_TIMEOUT):
        self.send(line)
        return self.recv(timeout)

    def ok(self, line, timeout=DEFAULT_TIMEOUT):
        """Runs a command that must succeed; returns its answer."""
        answer = self.cmd(line, timeout)
        if not answer.get("ok"):
            raise WorkerError("%r: %r failed: %r\n%s" % (self, line, answer, self.log()))
        return answer

    def connect_line(self, url, **options):
        return " ".join(["connect", url] + format_options(options))

    def connect(self, url, timeout=DEFAULT_TIMEOUT, **options):
        """Returns the answer (ok or not): callers assert on it."""
        return self.cmd(self.connect_line(url, **options), timeout)

    def status(self):
        return self.ok("status")

    def route(self, key, replica=0):
        return self.ok("route %s %d" % (key.hex() or "-", replica))

    def routefile(self, in_path, out_path, replica=0, timeout=DEFAULT_TIMEOUT):
        return self.ok("routefile %s %s %d" % (in_path, out_path, replica), timeout)

    def nodes(self):
        return self.ok("nodes")["nodes"]

    # ---- process ---------------------------------------------------------

    def signal(self, sig):
        os.kill(self.pid, sig)

    def kill(self):
        """SIGKILL and reap: the tender's crash."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """exit if it answers, SIGKILL otherwise; always reaped."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGCONT)
                self.send("exit")
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=10)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self._log.close()

    def log(self, limit=4000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        text = data[-limit:].decode(errors="replace")
        return "--- stderr of %s ---\n%s" % (self.name, text) if text else ""


def connect_all(workers, url, timeout=DEFAULT_TIMEOUT, **options):
    """Sends connect to every worker first, then reads every answer, so the
    connects really race each other (that is the point of a pool)."""
    for w in workers:
        w.send(w.connect_line(url, **options))
    answers = [w.recv(timeout) for w in workers]
    for w, a in zip(workers, answers):
        if not a.get("ok"):
            raise WorkerError("%r: connect failed: %r\n%s" % (w, a, w.log()))
    return answers


def broadcast(workers, line, timeout=DEFAULT_TIMEOUT):
    """The same command to every worker, in parallel; answers must be ok."""
    for w in workers:
        w.send(line(w) if callable(line) else line)
    # Every answer is read before any failure is raised, so no worker is
    # left with an unread answer that the next command would take for its own.
    out = [w.recv(timeout) for w in workers]
    for w, a in zip(workers, out):
        if not a.get("ok"):
            raise WorkerError("%r: %r" % (w, a))
    return out


def statuses(workers):
    return broadcast(workers, "status")
