#!/usr/bin/env bash
# run.sh SECONDS TARGET... - replay each target's regression inputs, then
# fuzz it for SECONDS from its seed corpus (what make fuzz and make
# test-fuzz run; the binaries are $FUZZ_BUILD/TARGET, built by make).
#
# libFuzzer gets two corpus directories: first $FUZZ_BUILD/new/TARGET,
# where it writes the new inputs it finds, then tests/fuzz/corpus/TARGET,
# which it only reads, so a run never changes the repository.  A crash is
# written to $FUZZ_BUILD/artifacts/TARGET/; to keep it as a regression, copy
# it to tests/fuzz/regressions/TARGET/ under a name that says what it is.
# FUZZ_JOBS targets (default 2, the cores of the CI machine) run at once.
# Every target's output is in $FUZZ_BUILD/logs/TARGET.log; one line per
# target and a closing "N passed, N failed" line are printed, and the exit
# status is non-zero when any target crashed.
set -uo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:?usage: run.sh SECONDS TARGET...}
shift
build=${FUZZ_BUILD:-build/fuzz}
jobs=${FUZZ_JOBS:-2}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

run_target() {
    local t=$1 bin=$build/$1 log=$build/logs/$1.log
    mkdir -p "$build/new/$t" "$build/artifacts/$t" "$build/logs"
    : >"$log"
    local regressions=()
    if [ -d "tests/fuzz/regressions/$t" ]; then
        mapfile -t regressions < <(find "tests/fuzz/regressions/$t" -type f ! -name '*.md' | sort)
    fi
    if [ ${#regressions[@]} -gt 0 ]; then
        # Given files, a libFuzzer binary runs each once.
        if ! "$bin" -artifact_prefix="$build/artifacts/$t/" "${regressions[@]}" >>"$log" 2>&1; then
            echo "FAIL $t: a regression input crashes again (see $log)"
            return 1
        fi
    fi
    local start=$SECONDS
    if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$t/" "$build/new/$t" "tests/fuzz/corpus/$t" \
        >>"$log" 2>&1; then
        echo "FAIL $t: crashed after $((SECONDS - start)) s; input in $build/artifacts/$t/ (see $log)"
        grep -m3 -E '^(==[0-9]+==ERROR|SUMMARY|.*invariant broken|.*runtime error)' "$log" | sed 's/^/    /'
        return 1
    fi
    local execs rate
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    echo "ok   $t: ${#regressions[@]} regression inputs replayed, ${execs:-?} executions" \
        "in $((SECONDS - start)) s (${rate:-?}/s), corpus $(ls "tests/fuzz/corpus/$t" | wc -l)" \
        "seeds + $(ls "$build/new/$t" | wc -l) found"
}

pids=() names=()
status_dir=$(mktemp -d)
trap 'rm -rf "$status_dir"' EXIT
for t in "$@"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n
    done
    ( run_target "$t"; echo $? >"$status_dir/$t" ) &
done
wait

passed=0 failed=0
for t in "$@"; do
    if [ "$(cat "$status_dir/$t" 2>/dev/null)" = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
