"""setup.py - builds the clustershm extension module (pip install . / pip wheel .).

One extension module, clustershm, compiled from the binding (ext-python/*.c)
together with the C core (core/src/*.c): no shared library to install beside
it.  Invariants:
  - Stable ABI: the binding defines Py_LIMITED_API 3.10 (ext-python/binding.h)
    and the wheel is tagged cp310-abi3, so one wheel serves CPython 3.10+.
    The two must change together.
  - The module is the package `clustershm` whose __init__ is the extension
    (clustershm/__init__.abi3.so), so the stub (clustershm/__init__.pyi) and
    py.typed sit inside a package as PEP 561 wants, and type checkers find
    them; `import clustershm` is still the extension itself (its heap types
    and exceptions keep the names clustershm.*).  Being a package, it has
    a pure-Python subpackage beside the extension: clustershm.redis (from
    ext-python/redis, with its command table commands.json), the redis-py
    drop-in, which needs the optional redis-py (the extra clustershm[redis])
    and is imported only by who uses it.
  - The version is the core's CSHM_VERSION: one number for C, PHP and Python.
  - Build products stay under build/py (never beside the sources).
  - CSHM_WERROR=1 turns compiler warnings into errors (make python sets it).
  - The clustershm command (core/cli/*.c but its main.c) is compiled into the
    module too: clustershm.cli() runs it, and the wheel's `clustershm`
    console script (pyproject.toml) calls that, so pip users get the same C
    command as `make install`, from the same core, in the one abi3 binary.
  - CSHM_SANITIZE=1 builds with ASan+UBSan (make test-python-asan) under
    build/asan/py, so its objects never mix with the normal build's; such a
    module loads only with the ASan runtime preloaded into the interpreter.
"""
import os
import re
import shutil
from glob import glob

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
SANITIZE = os.environ.get("CSHM_SANITIZE") == "1"
BUILD_BASE = os.path.join("build", "asan", "py") if SANITIZE else os.path.join("build", "py")


def read_version():
    with open(os.path.join(ROOT, "core", "include", "clustershm.h")) as f:
        match = re.search(r'#define CSHM_VERSION "([^"]+)"', f.read())
    if not match:
        raise RuntimeError("CSHM_VERSION not found in core/include/clustershm.h")
    return match.group(1)


class build_ext_with_stub(build_ext):
    """Also puts ext-python/clustershm.pyi beside the extension as
    clustershm/__init__.pyi, with the py.typed marker: build_py copies only
    the subpackage clustershm.redis, since `clustershm` itself has no
    Python source."""

    STUB_FILES = {"__init__.pyi": "clustershm.pyi", "py.typed": "py.typed"}

    def run(self):
        super().run()
        target = os.path.dirname(self.get_ext_fullpath("clustershm.__init__"))
        os.makedirs(target, exist_ok=True)
        for name, source in self.STUB_FILES.items():
            shutil.copyfile(os.path.join("ext-python", source), os.path.join(target, name))

    def get_outputs(self):
        target = os.path.dirname(self.get_ext_fullpath("clustershm.__init__"))
        return super().get_outputs() + [os.path.join(target, n) for n in self.STUB_FILES]


compile_args = ["-std=c11", "-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes",
                # Only PyInit_clustershm is exported: the core's cshm_*
                # symbols cannot clash with another copy in the process.
                "-fvisibility=hidden", "-pthread"]
link_args = ["-pthread"]
if os.environ.get("CSHM_WERROR") == "1":
    compile_args.append("-Werror")
if SANITIZE:
    compile_args += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                     "-fno-sanitize-recover=undefined"]
    link_args += ["-fsanitize=address,undefined"]

extension = Extension(
    "clustershm.__init__",
    sources=sorted(glob("ext-python/*.c")) + sorted(glob("core/src/*.c")) +
    sorted(f for f in glob("core/cli/*.c") if os.path.basename(f) != "main.c"),
    depends=sorted(glob("ext-python/*.h") + glob("core/src/*.h") + glob("core/include/*.h") +
                   glob("core/cli/*.h")),
    include_dirs=["core/include", "core/src", "core/cli"],
    # OpenSSL for TLS (core/src/tls.c), linked dynamically against the
    # system's libssl3/libcrypto3 (Debian: libssl-dev to build): the wheel is
    # a plain linux wheel for this distribution, not a manylinux one that
    # would bundle a copy of OpenSSL that security updates never reach.
    libraries=["ssl", "crypto", "m", "crypt"],  # libcrypt: bcrypt of Aerospike credentials
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=compile_args,
    extra_link_args=link_args,
    py_limited_api=True,
)

os.makedirs(os.path.join(ROOT, BUILD_BASE), exist_ok=True)
setup(
    version=read_version(),
    # No automatic package discovery: it would ship core/ as data.  The
    # package directory holds the extension, the stub, py.typed and the
    # subpackage clustershm.redis.
    packages=["clustershm.redis"],
    package_dir={"clustershm.redis": "ext-python/redis"},
    package_data={"clustershm.redis": ["commands.json"]},
    py_modules=[],
    ext_modules=[extension],
    # `man clustershm` for the console script: man finds share/man beside
    # the bin/ directory on PATH (a virtualenv's, or ~/.local's).
    data_files=[("share/man/man1", ["docs/clustershm.1"])],
    cmdclass={"build_ext": build_ext_with_stub},
    options={
        "bdist_wheel": {"py_limited_api": "cp310"},
        "build": {"build_base": BUILD_BASE},
        "egg_info": {"egg_base": BUILD_BASE},
    },
)
