#!/usr/bin/env bash
# test-python-matrix.sh - the Python suite against one abi3 wheel on several
# CPythons at once (make test-python-matrix).
#
#   scripts/test-python-matrix.sh BUILD REDIS_PY_VERSION PYTHON_VERSION...
#
# Each version gets a fresh venv ($BUILD/venv-pyX.Y) with the wheel of
# $BUILD/wheel and redis-py REDIS_PY_VERSION, and runs tests/python with a
# CSHM_TEST_INSTANCE of its own (MATRIX_INSTANCE_BASE + its index, default
# 10 + index), so the runs share the machine without sharing a port or a
# SysV key.  They run at the same time because the suite mostly waits (on
# servers, takeovers, worker processes): on two cores the four versions take
# little longer than one.  Each run's output is kept in
# $BUILD/python-matrix/X.Y.log and printed whole, in order, once all are
# done; the exit status is 1 if any version failed.
set -u
build=$1 redis_py=$2
shift 2
base=${MATRIX_INSTANCE_BASE:-10}
here=$(cd "$(dirname "$0")/.." && pwd)
logs=$build/python-matrix
rm -rf "$logs"
mkdir -p "$logs"

run_one() {
    local version=$1 instance=$2 venv=$build/venv-py$1 interpreter
    interpreter=$("$here/scripts/python-path.sh" "$version") || return 1
    echo "== the wheel on CPython $version ($interpreter), CSHM_TEST_INSTANCE=$instance"
    rm -rf "$venv"
    "$interpreter" -m venv --system-site-packages "$venv" &&
        "$venv/bin/python" -m pip install --quiet --no-deps --no-index "$build"/wheel/clustershm-*.whl &&
        "$venv/bin/python" -m pip --disable-pip-version-check install --quiet "redis==$redis_py" &&
        CSHM_TEST_INSTANCE=$instance "$venv/bin/python" -m pytest -v tests/python
}

pids=()
index=0
for version in "$@"; do
    run_one "$version" $((base + index)) >"$logs/$version.log" 2>&1 &
    pids+=($!)
    index=$((index + 1))
done

failed=()
index=0
for version in "$@"; do
    if ! wait "${pids[$index]}"; then
        failed+=("$version")
    fi
    cat "$logs/$version.log"
    index=$((index + 1))
done
echo "== python matrix: $(( $# - ${#failed[@]} )) of $# CPython versions passed${failed:+; failed: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]
