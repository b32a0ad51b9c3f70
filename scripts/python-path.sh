#!/usr/bin/env bash
# python-path.sh MINOR - print the path of a CPython MINOR interpreter (e.g.
# 3.12): pyenv's newest installed MINOR.x where pyenv is (the CI image), else
# pythonMINOR on PATH.  Exits 1 with a message naming the fix when there is
# none.  Used by scripts/deps.sh (to install what is missing) and by
# `make test-python-matrix` (to test the one abi3 wheel on each).
set -euo pipefail
minor=$1
if command -v pyenv >/dev/null 2>&1; then
    if prefix=$(pyenv prefix "$minor" 2>/dev/null) && [ -x "$prefix/bin/python$minor" ]; then
        echo "$prefix/bin/python$minor"
        exit 0
    fi
fi
# A pyenv shim names a version that may not be active here: only a real
# interpreter counts.
if path=$(command -v "python$minor" 2>/dev/null) && "$path" -c '' >/dev/null 2>&1; then
    echo "$path"
    exit 0
fi
echo "python-path: no CPython $minor found; install it (pyenv install $minor, or apt-get install python$minor)" >&2
exit 1
