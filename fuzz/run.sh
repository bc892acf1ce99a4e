#!/usr/bin/env bash
# Runs every fuzz target of ricochet for a bounded time, one after another,
# and prints how many inputs each executed and whether it crashed.
#
# Needs the nightly toolchain (libFuzzer and the sanitizers are nightly-only
# flags): `rustup toolchain install nightly`. cargo-fuzz is installed with
# `cargo install cargo-fuzz` if missing. Never part of `cargo test` or CI.
#
# Corpora: fuzz/seeds/TARGET (committed, real inputs) is read; new inputs go
# to fuzz/corpus/TARGET and crashes to fuzz/artifacts/TARGET (both ignored
# by git). Logs of the last run are in fuzz/logs/.
set -euo pipefail

usage() {
    cat <<USAGE
usage: fuzz/run.sh [SECONDS_PER_TARGET]

Builds and runs each fuzz target (endpoint, units, line_mode, hdr_merge)
for SECONDS_PER_TARGET seconds (default 180) on the nightly toolchain, then
prints a table: target, seconds, executions, crashes. Exits 1 if any target
crashed (the reproducer is in fuzz/artifacts/TARGET/), 2 on bad usage.

Environment: TARGETS="endpoint units" runs only those; KEEP_GOING=1 keeps
fuzzing after a crash (libFuzzer's -fork=1 -ignore_crashes=1), so a known
bug does not end a target's run early; extra libFuzzer flags go in
FUZZ_FLAGS (e.g. "-rss_limit_mb=4096"); CARGO_TARGET_DIR is honoured.
USAGE
}

case "${1:-}" in
    -h|--help) usage; exit 0 ;;
esac
if [ $# -gt 1 ] || ! [[ "${1:-180}" =~ ^[1-9][0-9]*$ ]]; then
    usage >&2
    exit 2
fi
seconds="${1:-180}"
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir"
targets=(${TARGETS:-endpoint units line_mode hdr_merge})

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "run.sh: the nightly toolchain is needed: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz
fi

echo "building fuzz targets (nightly, release, AddressSanitizer)..." >&2
cargo +nightly fuzz build

flags=(-max_total_time="$seconds" -print_final_stats=1)
if [ -n "${KEEP_GOING:-}" ]; then
    flags+=(-fork=1 -ignore_crashes=1)
fi
# shellcheck disable=SC2206 # FUZZ_FLAGS is a list of flags
flags+=(${FUZZ_FLAGS:-})

crash_files() {
    find "artifacts/$1" -type f \( -name 'crash-*' -o -name 'timeout-*' \
        -o -name 'oom-*' -o -name 'leak-*' \) 2>/dev/null | sort
}

mkdir -p logs
failed=0
rows=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "seeds/$target" "artifacts/$target"
    log="logs/$target.log"
    echo "fuzzing $target for ${seconds}s (log: fuzz/$log)..." >&2
    before="$(crash_files "$target")"
    status=0
    cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        "${flags[@]}" >"$log" 2>&1 || status=$?
    # The final stats; in fork mode, the last "#EXECS: cov: ..." status line.
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    if [ -z "$execs" ]; then
        execs="$(sed -n 's/^#\([0-9][0-9]*\): cov:.*/\1/p' "$log" | tail -n 1)"
    fi
    new="$(comm -13 <(echo "$before") <(crash_files "$target") | sed '/^$/d')"
    crashes="$(printf '%s' "$new" | grep -c . || true)"
    if [ "$status" -ne 0 ] || [ "$crashes" -gt 0 ]; then
        failed=1
        result="$crashes CRASH(ES), exit $status: ${new%%$'\n'*}"
    else
        result="none"
    fi
    rows+=("$(printf '%-10s %8s %14s  %s' "$target" "$seconds" "${execs:-?}" "$result")")
done

printf '%-10s %8s %14s  %s\n' target seconds executions crashes
printf '%s\n' "${rows[@]}"
exit "$failed"
