#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a fixed time each, on its
# committed corpus, and fails if any target finds a crash, a timeout or an
# out-of-memory input.
#
#   scripts/fuzz-all.sh [seconds-per-target]      (default 30)
#
# Environment:
#   FUZZ_TARGETS         space-separated subset of targets (default: all, from `cargo fuzz list`)
#   FUZZ_SANITIZER       address (default, as `cargo fuzz run`) or none (about 5x more executions)
#   FUZZ_BUILD_TIMEOUT   seconds allowed for building all targets (default 1800)
#   FUZZ_JOBS            cargo build jobs (default: cargo's own)
#
# Each target runs as
#   cargo fuzz run <t> <tmp> fuzz/corpus/<t> -- -max_total_time=S -timeout=10 -rss_limit_mb=2048 [-dict=fuzz/<t>.dict]
# with a temporary directory as the first corpus, so what libFuzzer finds
# goes there and the committed corpus is only read. A crashing input is
# written to fuzz/artifacts/<t>/ (ignored by git); see fuzz/README.md for
# reproducing and minimising it.
#
# Total time is bounded: the build (FUZZ_BUILD_TIMEOUT) plus, per target,
# S seconds and at most 120 more (start-up, the corpus's first pass) before
# the run is killed and counted as a failure.
set -euo pipefail

cd "$(dirname "$0")/.."

secs="${1:-30}"
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
    echo "usage: $0 [seconds-per-target]" >&2
    exit 2
fi
sanitizer="${FUZZ_SANITIZER:-address}"
build_timeout="${FUZZ_BUILD_TIMEOUT:-1800}"
# cargo-fuzz passes unstable -Z flags to rustc; stable rustc accepts them with this.
export RUSTC_BOOTSTRAP=1
if [ -n "${FUZZ_JOBS:-}" ]; then
    export CARGO_BUILD_JOBS="$FUZZ_JOBS"
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --version 0.13.2 --locked
fi

if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    mapfile -t targets < <(cargo fuzz list)
fi
if [ "${#targets[@]}" -eq 0 ]; then
    echo "no fuzz targets found" >&2
    exit 1
fi

echo "== fuzz targets: ${targets[*]}"
echo "== ${secs} s each, sanitizer ${sanitizer}; bound: build ${build_timeout} s + ${#targets[@]} x $((secs + 120)) s"

build_start=$SECONDS
if ! timeout --kill-after=30 "$build_timeout" cargo fuzz build --sanitizer "$sanitizer"; then
    echo "== building the fuzz targets failed (or took over ${build_timeout} s)" >&2
    exit 1
fi
echo "== built in $((SECONDS - build_start)) s"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

declare -a rows=()
failed=0
for t in "${targets[@]}"; do
    corpus="fuzz/corpus/$t"
    mkdir -p "$corpus" "fuzz/artifacts/$t"
    new="$work/$t"
    mkdir -p "$new"
    args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
    if [ -f "fuzz/$t.dict" ]; then
        args+=(-dict="fuzz/$t.dict")
    fi
    log="$work/$t.log"
    before="$(ls "fuzz/artifacts/$t" | sort)"
    seeds="$(find "$corpus" -type f | wc -l)"
    echo
    echo "== $t: ${secs} s on ${seeds} committed inputs"
    start=$SECONDS
    set +e
    timeout --kill-after=30 $((secs + 120)) \
        cargo fuzz run --sanitizer "$sanitizer" "$t" "$new" "$corpus" -- "${args[@]}" >"$log" 2>&1
    rc=$?
    set -e
    took=$((SECONDS - start))
    # The last status lines and the final stats (the whole log stays in $work until exit).
    grep -E '^ *(Compiling|Finished)|^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::|^Done [0-9]+ runs|ERROR|panicked|SUMMARY|Test unit written|^artifact_prefix' "$log" || true

    execs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)"
    if [ -z "$execs" ]; then
        execs="$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -1)"
    fi
    execs="${execs:-0}"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' "$log" | tail -1)"
    fuzzed="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)"
    cov="$(sed -n 's/^#[0-9]*[[:space:]].*cov: \([0-9]*\).*/\1/p' "$log" | tail -1)"
    after="$(ls "fuzz/artifacts/$t" | sort)"
    artifacts="$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed '/^$/d')"
    crashes="$(printf '%s' "$artifacts" | grep -c . || true)"
    status=ok
    if [ "$rc" -ne 0 ]; then
        failed=1
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            status="killed after ${took} s"
        else
            status="failed (exit $rc)"
        fi
        [ "$crashes" -eq 0 ] && crashes=1
        echo "== $t: $status; the log's tail:"
        tail -40 "$log"
        for a in $artifacts; do
            echo "== $t: input written to fuzz/artifacts/$t/$a; reproduce with:"
            echo "   RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $sanitizer $t fuzz/artifacts/$t/$a"
        done
    fi
    found="$(find "$new" -type f | wc -l)"
    rows+=("$t|${fuzzed:-?}|$took|$execs|${rate:-?}|${cov:-?}|$seeds|$found|$crashes|$status")
done

echo
echo "== summary (sanitizer ${sanitizer}, ${secs} s per target)"
# seconds: libFuzzer's own fuzzing time; wall: the whole `cargo fuzz run`
# (cargo's up-to-date check, start-up, the corpus's first pass).
printf '%-16s %7s %6s %12s %8s %6s %7s %6s %8s  %s\n' target seconds wall executions "exec/s" cov corpus "new" crashes status
for r in "${rows[@]}"; do
    IFS='|' read -r t fuzzed took execs rate cov seeds found crashes status <<<"$r"
    printf '%-16s %7s %6s %12s %8s %6s %7s %6s %8s  %s\n' "$t" "$fuzzed" "$took" "$execs" "$rate" "$cov" "$seeds" "$found" "$crashes" "$status"
done
if [ "$failed" -ne 0 ]; then
    echo "== FAILED: a target crashed, hung or ran out of memory (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "== all ${#targets[@]} targets ran clean"
