#!/usr/bin/env bash
# deps.sh - install what the build and the tests need on Debian 12.
#
# Idempotent: every tool is looked for first and only what is missing is
# installed, so on a ready machine this is a fast no-op printing one line.
# apt-get update runs only when an apt package has to be installed (it is the
# slow, network-bound step).  pytest is installed with `python3 -m pip` for
# the python3 on PATH (a pyenv interpreter on the CI image), because that is
# the interpreter `make test-integration` runs.
set -euo pipefail

PYTHON=${PYTHON:-python3}
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

missing=()
# need COMMAND PACKAGE: PACKAGE provides COMMAND on Debian 12.
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }

need redis-server redis-server
need redis-cli redis-tools
need gcc build-essential
need make build-essential
need valgrind valgrind
need ipcs util-linux
need ipcrm util-linux
need "$PYTHON" python3
# OpenSSL's headers and libraries: TLS to the cluster (core/src/tls.c); the
# openssl CLI makes the test certificates (tests/integration/support/tls.py).
[ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
need openssl openssl
# The PHP extension (make php, make test-php): Debian's PHP 8.2, phpize, pecl,
# phpunit, php-fpm for the pool tests and cgi-fcgi to drive it.  The package
# starts a php8.2-fpm service where systemd runs; the tests start pools of
# their own and never use it.
need php php8.2-cli
need phpize php8.2-dev
need pecl php-pear
need phpunit phpunit
need cgi-fcgi libfcgi-bin
# tmux runs `clustershm watch` in a real terminal for the integration tests
# (send-keys, capture-pane).
need tmux tmux
[ -x /usr/sbin/php-fpm8.2 ] || missing+=(php8.2-fpm)
# phpredis, which ClusterShm\RedisCluster (php/) is built on; apt brings its
# igbinary along.  Looked for as the CLI loads it (Debian enables it for
# every SAPI); the pool tests load it themselves (php-fpm -n).
php -r 'exit(extension_loaded("redis") ? 0 : 1);' >/dev/null 2>&1 || missing+=(php8.2-redis)
# The fuzz targets (make fuzz, make test-fuzz): clang 14 and its runtime
# libraries, where libFuzzer and the sanitizers' clang runtimes live.
need clang-14 clang-14
compgen -G "/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a" >/dev/null \
    || missing+=(libclang-rt-14-dev)
# libcrypt's header (the core hashes Aerospike passwords with bcrypt through it).
[ -f /usr/include/crypt.h ] || missing+=(libcrypt-dev)
# pip only matters when pytest has to be installed.
if ! "$PYTHON" -c 'import pytest' >/dev/null 2>&1 \
    && ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    missing+=(python3-pip)
fi

# make python builds a wheel with pip (which fetches setuptools into its
# isolated build environment); make test-python makes a venv (ensurepip).
"$PYTHON" -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
"$PYTHON" -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)

if [ ${#missing[@]} -gt 0 ]; then
    mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')
    echo "deps: installing with apt-get: ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -q
    "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${pkgs[@]}"
    # Debian's package starts a redis-server on 6379 under systemd where
    # systemd runs; the tests never use it (they start their own servers on
    # ports of their own), so it is left alone.
fi

# Python packages, by importable module: pytest runs the suites; aerospike
# (the official client, whose wheel carries the official C client) checks
# the Aerospike simulator's fidelity.
py_missing=()
need_py() { "$PYTHON" -c "import $1" >/dev/null 2>&1 || py_missing+=("$2"); }
need_py pytest pytest
need_py aerospike aerospike
# gunicorn serves the Python extension's pre-fork tests (make test-python).
need_py gunicorn gunicorn
# matplotlib draws the benchmarks' plots (make bench, docs/bench/*.png).
need_py matplotlib matplotlib
# redis-py is not installed here: the drop-in clustershm.redis is tested
# with several releases of it, which the Makefile installs from PyPI into a
# venv each (REDIS_PY_VERSIONS), never into the base interpreter.
# The CLI's tests validate its JSON against docs/schema/ and parse its
# Prometheus exposition with the reference parser.
need_py jsonschema jsonschema
need_py prometheus_client prometheus-client

# pip_install PYTHON PACKAGE...: Debian's own python3 refuses system-wide pip
# installs (PEP 668, EXTERNALLY-MANAGED); pyenv's interpreters have no such
# marker.
pip_install() {
    local python=$1
    shift
    local pip_args=(install --quiet "$@")
    if compgen -G "$("$python" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')/EXTERNALLY-MANAGED" >/dev/null; then
        pip_args+=(--break-system-packages)
    fi
    "$python" -m pip "${pip_args[@]}"
}

if [ ${#py_missing[@]} -gt 0 ]; then
    echo "deps: installing with $PYTHON -m pip: ${py_missing[*]}"
    pip_install "$PYTHON" "${py_missing[@]}"
fi

# `make test-python-matrix` tests the one abi3 wheel on every CPython it
# claims (3.10 and later): each needs pytest and gunicorn.  pyenv (the CI
# image's) installs a missing version; without pyenv the interpreters must
# be on PATH.
for minor in ${PYTHON_VERSIONS:-3.10 3.11 3.12 3.13}; do
    if ! "$(dirname "$0")/python-path.sh" "$minor" >/dev/null 2>&1 && command -v pyenv >/dev/null 2>&1; then
        echo "deps: installing CPython $minor with pyenv"
        pyenv install --skip-existing "$minor"
    fi
    interpreter=$("$(dirname "$0")/python-path.sh" "$minor")
    matrix_missing=()
    "$interpreter" -c 'import pytest' >/dev/null 2>&1 || matrix_missing+=(pytest)
    "$interpreter" -c 'import gunicorn' >/dev/null 2>&1 || matrix_missing+=(gunicorn)
    if [ ${#matrix_missing[@]} -gt 0 ]; then
        echo "deps: installing with $interpreter -m pip: ${matrix_missing[*]}"
        pip_install "$interpreter" "${matrix_missing[@]}"
    fi
done

echo "deps: all present: redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')," \
    "gcc $(gcc -dumpfullversion), $(clang-14 --version | head -1)," \
    "$("$PYTHON" -m pytest --version 2>&1 | head -1)"
