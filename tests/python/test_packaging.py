"""test_packaging.py - what pip installs: the abi3 wheel under test, its
stub and marker, the redis-py drop-in beside the extension, its metadata
(the extra clustershm[redis]); and `pip install .` of the source
distribution in a fresh virtual environment.

Invariant: nothing here writes into the source tree except setuptools'
own build directory (build/py), and the fresh environment is under tmp_path.
"""
import ast
import importlib.metadata
import os
import subprocess
import sys
import tarfile
import types

import clustershm
from helpers import ROOT, header_version


def test_the_module_is_the_installed_abi3_wheel():
    path = clustershm.__file__
    assert path.endswith(os.path.join("clustershm", "__init__.abi3.so")), path
    assert not os.path.realpath(path).startswith(os.path.join(ROOT, "ext-python"))
    dist = importlib.metadata.distribution("clustershm")
    assert dist.version == header_version() == clustershm.__version__
    wheel = dist.read_text("WHEEL")
    assert "Tag: cp310-abi3-" in wheel, wheel
    assert dist.metadata["Requires-Python"] == ">=3.10"
    # redis-py is needed by clustershm.redis only: the extra clustershm[redis].
    assert dist.metadata.get_all("Requires-Dist") == ['redis<9,>=5.0; extra == "redis"']
    assert dist.metadata.get_all("Provides-Extra") == ["redis"]


def test_the_redis_drop_in_is_a_subpackage_beside_the_extension():
    here = os.path.dirname(clustershm.__file__)
    assert clustershm.__path__ == [here]
    files = sorted(os.listdir(os.path.join(here, "redis")))
    assert {"__init__.py", "_segment.py", "asyncio.py", "commands.json"} <= set(files), files
    # Importing the extension does not import the drop-in (nor redis-py).
    out = subprocess.run([sys.executable, "-c", "import sys, clustershm; "
                          "print(sorted(m for m in sys.modules if 'redis' in m))"],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out


def test_stub_and_marker_describe_the_module():
    here = os.path.dirname(clustershm.__file__)
    assert os.path.isfile(os.path.join(here, "py.typed"))
    with open(os.path.join(here, "__init__.pyi")) as f:
        tree = ast.parse(f.read())
    assert ast.get_docstring(tree)
    top = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            top[node.name] = node
        elif isinstance(node, ast.AnnAssign):
            top[node.target.id] = node
    # Submodules (clustershm.redis, once imported) are not the extension's.
    public = {n for n in dir(clustershm) if not n.startswith("_") and
              not isinstance(getattr(clustershm, n), types.ModuleType)} | {"__version__"}
    assert public <= set(top), public - set(top)
    for name in public - {"__version__"}:
        assert ast.get_docstring(top[name]), name
    methods = {n.name: n for n in top["Client"].body if isinstance(n, ast.FunctionDef)}
    runtime = {n for n in dir(clustershm.Client) if not n.startswith("_")}
    assert runtime == {n for n in methods if not n.startswith("_")}
    for name in runtime:
        assert ast.get_docstring(methods[name]), name
        assert getattr(clustershm.Client, name).__doc__


def run(argv, cwd=None, timeout=300):
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, "%s failed:\n%s\n%s" % (argv, out.stdout[-3000:],
                                                        out.stderr[-3000:])
    return out.stdout


def test_pip_install_dot_from_the_source_distribution(tmp_path):
    # The sdist carries what a build needs (MANIFEST.in); unpacked, it is
    # the source tree a user runs `pip install .` in.  A fresh environment
    # (no system site-packages) makes it, with the setuptools pyproject.toml
    # asks for, then builds and installs from it.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    py = str(venv / "bin" / "python")
    pip = [py, "-m", "pip", "--disable-pip-version-check"]
    run(pip + ["install", "--quiet", "setuptools>=70.1"])
    run([py, "setup.py", "-q", "sdist", "-d", str(tmp_path)], cwd=ROOT)
    [archive] = [p for p in os.listdir(tmp_path) if p.endswith(".tar.gz")]
    with tarfile.open(tmp_path / archive) as tar:
        tar.extractall(tmp_path / "src", filter="data")
    [src] = (tmp_path / "src").iterdir()
    run(pip + ["uninstall", "--quiet", "--yes", "setuptools"])
    run(pip + ["install", "--quiet", "."], cwd=src)
    out = run([py, "-c", "import os, clustershm; "
                         "here = os.path.dirname(clustershm.__file__); "
                         "print(clustershm.redis_slot('123456789'), clustershm.__version__, "
                         "sorted(os.listdir(here)), sorted(os.listdir(here + '/redis')))"],
              cwd=str(tmp_path))
    assert out.split()[:2] == ["12739", header_version()]
    assert "'__init__.pyi'" in out and "'py.typed'" in out and "abi3.so" in out, out
    assert "'commands.json'" in out and "'asyncio.py'" in out and "'_segment.py'" in out, out
    # Without redis-py the drop-in says what to install.
    out = subprocess.run([py, "-c", "import clustershm.redis"], capture_output=True, text=True,
                         cwd=str(tmp_path), timeout=60)
    assert out.returncode != 0 and "pip install 'clustershm[redis]'" in out.stderr, out.stderr
