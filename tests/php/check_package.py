"""check_package.py - package.xml must list exactly the files the PECL
package needs, so `pecl install` of the tgz builds what the repository builds.

    python3 tests/php/check_package.py          # exit 1 and the fix when not
    python3 tests/php/check_package.py --print  # the <contents> it should have
    python3 tests/php/check_package.py --write  # put that <contents> into package.xml
    python3 tests/php/check_package.py --tgz build/php/clustershm-V.tgz
                                                # the tgz installs the command

The files: config.m4, README.md, LICENSE, ext-php/* (sources, stub, generated
arginfo), core/src/* and core/include/* (the core is compiled into the
extension), tests/phpt/* (run by `make test` of the phpize build), and the
clustershm command: core/cli/*, scripts/install-cli.sh (which builds and
installs it from the unpacked tgz), its man page and docs/operations.md.
The version must be the core's CSHM_VERSION.  --tgz unpacks a package,
runs its scripts/install-cli.sh with DESTDIR and checks the four files it
installs and that the command runs.
"""
import glob
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NS = "{http://pear.php.net/dtd/package-2.0}"
ROLES = [("config.m4", "src"), ("README.md", "doc"), ("LICENSE", "doc"), ("ext-php/*", "src"),
         ("core/include/*", "src"), ("core/src/*", "src"), ("tests/phpt/*", "test"),
         ("core/cli/*", "src"), ("scripts/install-cli.sh", "src"),
         ("docs/clustershm.1", "doc"), ("docs/operations.md", "doc")]
INSTALLED = {"usr/bin/clustershm", "usr/include/clustershm.h", "usr/lib/libclustershm.a",
             "usr/share/man/man1/clustershm.1"}


def wanted():
    out = {}
    for pattern, role in ROLES:
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            if os.path.isfile(path):
                out[os.path.relpath(path, ROOT)] = role
    return out


def listed(tree):
    out = {}

    def walk(node, prefix):
        for child in node:
            if child.tag == NS + "dir":
                name = child.get("name")
                walk(child, prefix if name == "/" else os.path.join(prefix, name))
            elif child.tag == NS + "file":
                out[os.path.join(prefix, child.get("name"))] = child.get("role")

    walk(tree.find(NS + "contents"), "")
    return out


def contents_xml(files):
    lines = ['  <contents>', '    <dir name="/">']
    for path, role in files.items():
        lines.append('      <file name="%s" role="%s"/>' % (path, role))
    lines += ['    </dir>', '  </contents>']
    return "\n".join(lines)


def write_contents(files):
    """Replaces package.xml's <contents> element (the real one, after the
    header comment that mentions it) with the wanted one."""
    path = os.path.join(ROOT, "package.xml")
    with open(path) as f:
        text = f.read()
    start = text.index("\n  <contents>") + 1
    end = text.index("</contents>", start) + len("</contents>")
    with open(path, "w") as f:
        f.write(text[:start] + contents_xml(files) + text[end:])


def check_tgz(path):
    """The unpacked package installs the command the way docs/operations.md says."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(path) as tar:
            tar.extractall(tmp, filter="data")
        [top] = [d for d in os.listdir(tmp) if d.startswith("clustershm-")]
        stage = os.path.join(tmp, "stage")
        env = dict(os.environ, DESTDIR=stage, PREFIX="/usr")
        out = subprocess.run(["sh", os.path.join(tmp, top, "scripts", "install-cli.sh")],
                             env=env, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            print("scripts/install-cli.sh of %s failed:\n%s" % (path, out.stderr))
            return 1
        got = {os.path.relpath(os.path.join(d, n), stage)
               for d, _, names in os.walk(stage) for n in names}
        if got != INSTALLED:
            print("the tgz's install-cli.sh installed %s, not %s" % (sorted(got), sorted(INSTALLED)))
            return 1
        run = subprocess.run([os.path.join(stage, "usr", "bin", "clustershm"), "--version"],
                             capture_output=True, text=True, timeout=10)
        if run.returncode != 0 or not run.stdout.startswith("clustershm "):
            print("the installed command does not run: %r" % (run,))
            return 1
    print("%s installs the clustershm command (%d files)" % (os.path.basename(path), len(got)))
    return 0


def main():
    if "--tgz" in sys.argv:
        return check_tgz(sys.argv[sys.argv.index("--tgz") + 1])
    files = wanted()
    if "--print" in sys.argv:
        print(contents_xml(files))
        return 0
    if "--write" in sys.argv:
        write_contents(files)
    tree = ET.parse(os.path.join(ROOT, "package.xml")).getroot()
    have = listed(tree)
    problems = []
    for path in sorted(set(files) - set(have)):
        problems.append("package.xml misses %s" % path)
    for path in sorted(set(have) - set(files)):
        problems.append("package.xml lists %s, which does not exist" % path)
    for path in sorted(set(files) & set(have)):
        if files[path] != have[path]:
            problems.append("%s has role %s, want %s" % (path, have[path], files[path]))
    with open(os.path.join(ROOT, "core", "include", "clustershm.h")) as f:
        version = re.search(r'#define CSHM_VERSION "([^"]+)"', f.read()).group(1)
    release = tree.find(NS + "version").find(NS + "release").text
    if release != version:
        problems.append("package.xml version %s differs from CSHM_VERSION %s" % (release, version))
    if problems:
        print("\n".join(problems))
        print("fix: `python3 tests/php/check_package.py --write` rewrites package.xml's "
              "<contents>; keep <version> equal to CSHM_VERSION")
        return 1
    print("package.xml lists all %d files" % len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
