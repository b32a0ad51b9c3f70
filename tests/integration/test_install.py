"""test_install.py - `make install DESTDIR=... PREFIX=...` and
scripts/install-cli.sh (the PECL package's way) install exactly the files
docs/operations.md lists, the installed command runs and finds its man
page's promises kept, the header and the library build a program, and the
man page and docs/operations.md name every command, option and exit code
the command's --help names.
"""
import os
import re
import subprocess

from support.worker import CLI, ROOT

INSTALLED = {"bin/clustershm", "include/clustershm.h", "lib/libclustershm.a",
             "share/man/man1/clustershm.1"}
COMMANDS = ["list", "stat", "check", "watch", "rm"]


def files_under(root):
    out = set()
    for d, _, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


def documented_files():
    with open(os.path.join(ROOT, "docs", "operations.md")) as f:
        text = f.read()
    return {m for m in re.findall(r"`\$PREFIX/([^`]+)`", text)}


def check_tree(stage, prefix):
    root = stage + prefix
    assert files_under(stage) == {os.path.join(prefix.lstrip("/"), f) for f in INSTALLED}
    assert documented_files() == INSTALLED
    assert os.stat(os.path.join(root, "bin", "clustershm")).st_mode & 0o777 == 0o755
    out = subprocess.run([os.path.join(root, "bin", "clustershm"), "--version"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and out.stdout.startswith("clustershm ")
    return root


def test_make_install_installs_what_the_docs_say(tmp_path):
    stage = str(tmp_path / "stage")
    out = subprocess.run(["make", "-C", ROOT, "install", "DESTDIR=" + stage, "PREFIX=/opt/cshm"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    root = check_tree(stage, "/opt/cshm")
    # the header and the library are enough to build a program
    prog = tmp_path / "slot.c"
    prog.write_text('#include <clustershm.h>\n#include <stdio.h>\n'
                    'int main(void) { printf("%u\\n", (unsigned)cshm_redis_slot("123456789", 9));'
                    ' return 0; }\n')
    exe = str(tmp_path / "slot")
    cc = subprocess.run(["cc", "-std=c11", "-I" + os.path.join(root, "include"), str(prog),
                         os.path.join(root, "lib", "libclustershm.a"), "-pthread", "-o", exe],
                        capture_output=True, text=True, timeout=120)
    assert cc.returncode == 0, cc.stderr
    assert subprocess.run([exe], capture_output=True, text=True).stdout == "12739\n"
    # the man page renders without a warning
    man = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z",
                          os.path.join(root, "share", "man", "man1", "clustershm.1")],
                         capture_output=True, text=True, timeout=30)
    assert man.returncode == 0 and man.stderr == "", man.stderr
    un = subprocess.run(["make", "-C", ROOT, "uninstall", "DESTDIR=" + stage,
                         "PREFIX=/opt/cshm"], capture_output=True, text=True, timeout=60)
    assert un.returncode == 0 and files_under(stage) == set()


def test_install_cli_script_installs_the_same(tmp_path):
    stage = str(tmp_path / "stage")
    env = dict(os.environ, DESTDIR=stage, PREFIX="/usr")
    out = subprocess.run(["sh", os.path.join(ROOT, "scripts", "install-cli.sh")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    check_tree(stage, "/usr")


def test_man_page_and_operations_name_every_command_option_and_exit_code():
    with open(os.path.join(ROOT, "docs", "clustershm.1")) as f:
        man = f.read().replace("\\-", "-")
    with open(os.path.join(ROOT, "docs", "operations.md")) as f:
        ops = f.read()
    for command in COMMANDS:
        help_text = subprocess.run([CLI, command, "--help"], capture_output=True, text=True,
                                   timeout=10).stdout
        assert re.search(r"^\.B clustershm %s\b" % command, man, re.M), command
        assert "clustershm %s" % command in ops, command
        for option in set(re.findall(r"--[a-z][a-z-]+", help_text)):
            assert option in man, "man page misses %s of %s" % (option, command)
            assert "`%s" % option in ops, "operations.md misses %s of %s" % (option, command)
    for state in ("OK", "WARNING", "CRITICAL", "UNKNOWN"):
        assert state in man and state in ops
    assert ".SH EXIT STATUS" in man and "### Exit codes" in ops
