"""users.py - other users for the permission suite: accounts made for one
test, a directory they may use, and the credentials a process runs with.

Invariants: every group and user made by an Accounts is deleted by its
`remove` (fixtures call it also when the test failed), which callers run
only after every process of those users is gone (userdel refuses a user
with running processes); names are unique per test run, so a run killed
halfway leaves at most accounts no later run reuses by mistake, and
`remove` deletes only the names it made.
"""
import grp
import itertools
import json
import os
import pwd
import shutil
import subprocess
import tempfile

_serial = itertools.count()


class Account:
    """Who a process runs as: a uid, its effective group and supplementary
    groups (what the kernel checks a SysV segment's mode against)."""

    def __init__(self, name, uid, gid, groups=()):
        self.name, self.uid, self.gid, self.groups = name, uid, gid, list(groups)

    def __repr__(self):
        return "<Account %s uid %d gid %d groups %s>" % (self.name, self.uid, self.gid, self.groups)

    def credentials(self):
        """Popen's user/group/extra_groups: set in the child before exec."""
        return {"user": self.uid, "group": self.gid, "extra_groups": self.groups}


def run_as(account, fn, *args):
    """fn(*args) in a forked child that runs as account (groups, gid, then
    uid: no way back), no exec needed; returns its JSON-able result, or
    raises what it raised, as text."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            os.setgroups(account.groups)
            os.setgid(account.gid)
            os.setuid(account.uid)
            data = json.dumps({"result": fn(*args)})
        except BaseException as e:  # everything goes back to the parent
            data, code = json.dumps({"error": repr(e)}), 1
        finally:
            with os.fdopen(w, "w") as f:
                f.write(data)
            os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        data = f.read()
    os.waitpid(pid, 0)
    answer = json.loads(data) if data else {"error": "the child wrote nothing"}
    if "error" in answer:
        raise AssertionError("as %r: %s" % (account, answer["error"]))
    return answer["result"]


def existing(name, group):
    """An account of the system, e.g. existing("nobody", "nogroup"), with
    no supplementary groups."""
    return Account(name, pwd.getpwnam(name).pw_uid, grp.getgrnam(group).gr_gid)


def _run(argv):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), out.returncode,
                                                    out.stderr.strip()))


class Accounts:
    """System groups and users (no home, no login shell) made for a test."""

    def __init__(self):
        self.prefix = "cshm%d%d" % (os.getpid(), next(_serial))
        self.users, self.groups = [], []

    def group(self):
        name = "%sg%d" % (self.prefix, len(self.groups))
        _run(["groupadd", "--system", name])
        self.groups.append(name)
        return grp.getgrnam(name).gr_gid

    def user(self, gid):
        """A user whose primary group is gid."""
        name = "%su%d" % (self.prefix, len(self.users))
        _run(["useradd", "--system", "--no-create-home", "--no-user-group",
              "--gid", str(gid), "--shell", "/usr/sbin/nologin", name])
        self.users.append(name)
        return Account(name, pwd.getpwnam(name).pw_uid, gid)

    def remove(self):
        """Deletes every user, then every group; reports what it could not."""
        errors = []
        for argv in [["userdel", u] for u in self.users] + [["groupdel", g] for g in self.groups]:
            try:
                _run(argv)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                errors.append(str(e))
        self.users, self.groups = [], []
        if errors:
            raise RuntimeError("could not remove test accounts:\n" + "\n".join(errors))


class SharedDir:
    """A directory other users can use: a copy of a program they may run
    (pytest's tmp_path is private to root), files they may read, and an
    out/ subdirectory any user may write (sticky, like /tmp)."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="cshm-users-")
        os.chmod(self.path, 0o755)
        self.out = os.path.join(self.path, "out")
        os.mkdir(self.out)
        os.chmod(self.out, 0o1777)

    def program(self, path):
        dest = os.path.join(self.path, os.path.basename(path))
        shutil.copyfile(path, dest)
        os.chmod(dest, 0o755)
        return dest

    def readable(self, path):
        dest = os.path.join(self.path, os.path.basename(path))
        shutil.copyfile(path, dest)
        os.chmod(dest, 0o644)
        return dest

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)
