#!/usr/bin/env bash
# Bounded coverage-guided fuzzing of ostree-guests; see fuzz/README.md.
#
#   fuzz/run.sh [SECONDS]   run every target for SECONDS (default 20) from the checked-in corpus
#
# The corpus is copied to a temporary directory first, so a run never modifies git. A crash
# fails the run; its reproducer is kept under fuzz/artifacts/TARGET/ and printed.
# Ends with "N passed, N failed" (one per target). Exit status: 0 all passed, 1 a target failed,
# 2 setup (install/build) failed.
set -uo pipefail

secs=${1:-20}
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
cd "$here" || exit 2
export PATH="$HOME/.cargo/bin:$PATH"
# cargo-fuzz passes -Z flags (sanitizer, coverage instrumentation); stable rustc accepts them
# with RUSTC_BOOTSTRAP=1. No sanitizer: the code under test is safe Rust, and panics are the
# oracle; debug assertions (overflow checks) stay on (no -O).
export RUSTC_BOOTSTRAP=1
export RUST_BACKTRACE=0
build_flags=(--sanitizer none)
targets=(config_render machine_name boot_entries booted_marker)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz (cached in ~/.cargo/bin afterwards)"
    cargo install cargo-fuzz --locked || exit 2
fi
cargo fuzz build "${build_flags[@]}" || exit 2
bindir=$here/target/x86_64-unknown-linux-gnu/release

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ostree-guests-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
for t in "${targets[@]}"; do
    mkdir -p "$tmp/corpus/$t" "$tmp/artifacts/$t"
    cp -R corpus/"$t"/. "$tmp/corpus/$t/" 2>/dev/null
    dict=()
    [ -f "$t.dict" ] && dict=(-dict="$here/$t.dict")
    [ "$t" = config_render ] && dict=(-dict="$here/config.dict")
    "$bindir/$t" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=8192 -print_final_stats=1 -artifact_prefix="$tmp/artifacts/$t/" \
        "$tmp/corpus/$t" >"$tmp/$t.log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$t.log" | tail -n1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$tmp/$t.log" | tail -n1)
    if [ "$rc" -eq 0 ]; then
        echo "PASS $t: ${execs:-?} executions, ${speed:-?} exec/s"
        passed=$((passed + 1))
    else
        echo "FAIL $t (libFuzzer exit status $rc):"
        # The panic message (with the oracle's view of the input), else libFuzzer's summary.
        grep -m1 -A20 'panicked at' "$tmp/$t.log" | grep -v '^stack backtrace' | head -n 20
        grep -E '^(==[0-9]+== ERROR|SUMMARY|Base64)' "$tmp/$t.log"
        mkdir -p "artifacts/$t"
        for a in "$tmp/artifacts/$t"/*; do
            [ -e "$a" ] || continue
            cp "$a" "artifacts/$t/"
            echo "reproducer: $here/artifacts/$t/$(basename "$a")"
            echo "  replay:   RUSTC_BOOTSTRAP=1 cargo fuzz run -s none $t $here/artifacts/$t/$(basename "$a")"
        done
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
