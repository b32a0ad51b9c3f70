"""check_package.py - package.xml must list exactly the files the PECL
package needs, so `pecl install` of the tgz builds what the repository builds.

    python3 tests/php/check_package.py          # exit 1 and the fix when not
    python3 tests/php/check_package.py --print  # the <contents> it should have
    python3 tests/php/check_package.py --write  # put that <contents> into package.xml

The files: config.m4, README.md, LICENSE, ext-php/* (sources, stub, generated
arginfo), core/src/* and core/include/* (the core is compiled into the
extension) and tests/phpt/* (run by `make test` of the phpize build).  The
version must be the core's CSHM_VERSION.
"""
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NS = "{http://pear.php.net/dtd/package-2.0}"
ROLES = [("config.m4", "src"), ("README.md", "doc"), ("LICENSE", "doc"), ("ext-php/*", "src"),
         ("core/include/*", "src"), ("core/src/*", "src"), ("tests/phpt/*", "test")]


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


def main():
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
