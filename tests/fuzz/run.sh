#!/usr/bin/env bash
# Builds every libFuzzer target of tests/fuzz (fuzz_<name>.c) with clang and
# ASan + UBSan, and runs each for SECONDS (default 10) on a temporary copy of
# its seed corpus tests/fuzz/corpus/<name>/, so the tree stays clean.
#
#   tests/fuzz/run.sh [SECONDS] [NAME...]     e.g. tests/fuzz/run.sh 60 json route
#
# A target that crashes, leaks, trips a sanitizer or an invariant fails; its
# input is kept in $FUZZ_OUT (default: a new directory under ${TMPDIR:-/tmp},
# kept only when something failed) together with the log, and the command to
# reproduce it is printed. Add the input to the target's corpus as a
# regression seed once the bug is fixed. FUZZ_JOBS targets run at a time
# (default: the number of CPUs). The last line is "N passed, N failed"; the
# exit status is 1 when a target failed, 77 (automake's SKIP) when clang
# cannot build libFuzzer targets (script/test fails then). script/fuzz runs this for 600 s per target.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
seconds="${1:-10}"
shift || true
case "$seconds" in
'' | *[!0-9]*) echo "usage: $0 [SECONDS] [NAME...]" >&2; exit 2 ;;
esac
CC_FUZZ="${CC_FUZZ:-clang}"
jobs="${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}"

# The src/ modules each target links; keep in step with the headers they use.
declare -A sources=(
    [route]="route.c mem.c buf.c util.c"
    [query]="query.c route.c mem.c buf.c util.c"
    [etag]="http.c auth.c ids.c json.c route.c mem.c buf.c util.c"
    [json]="json.c buf.c util.c"
    [request]="reqparse.c route.c query.c http.c auth.c ids.c json.c config.c log.c mem.c buf.c util.c"
    [timefmt]="timefmt.c"
    [evpos]="evpos.c timefmt.c ids.c util.c"
    [patch]="patch.c"
    [fields]="fields.c util.c"
    [bulk]="bulk.c json.c evpos.c timefmt.c ids.c mem.c buf.c util.c"
    [lucene]="lucene.c search_spec.c mem.c buf.c util.c"
)

work="$(mktemp -d "${TMPDIR:-/tmp}/orchid-fuzz.XXXXXX")"
out="${FUZZ_OUT:-}"
cleanup() {
    rm -rf "$work"
}
trap cleanup EXIT

# Skip (77) unless clang can build and run a libFuzzer + ASan + UBSan binary.
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
    >"$work/probe.c"
# script/test counts that 77 as a failure: there every stage must run.
if ! command -v "$CC_FUZZ" >/dev/null 2>&1; then
    echo "SKIP: $CC_FUZZ is not installed (script/bootstrap installs clang and libclang-rt-14-dev)"
    exit 77
fi
if ! "$CC_FUZZ" -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" \
        >"$work/probe.log" 2>&1 ||
    ! "$work/probe" -runs=1 >>"$work/probe.log" 2>&1; then
    tail -n 20 "$work/probe.log"
    echo "SKIP: $CC_FUZZ cannot build libFuzzer targets (script/bootstrap installs clang and libclang-rt-14-dev)"
    exit 77
fi
if ! pkg-config --exists json-c libcrypto; then
    echo "FAIL: pkg-config cannot find json-c and libcrypto" >&2
    exit 1
fi

if [ "$#" -gt 0 ]; then
    names=("$@")
else
    names=()
    for f in "$here"/fuzz_*.c; do
        n="${f##*/fuzz_}"
        names+=("${n%.c}")
    done
fi
for n in "${names[@]}"; do
    if [ -z "${sources[$n]:-}" ] || [ ! -f "$here/fuzz_$n.c" ]; then
        echo "FAIL: no fuzz target $n (add its sources to tests/fuzz/run.sh)" >&2
        exit 1
    fi
done

# Word splitting of the pkg-config output is intended.
# shellcheck disable=SC2207
libs=($(pkg-config --cflags --libs json-c libcrypto) -lm)
# The commas are clang's.
# shellcheck disable=SC2054
# FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (the libFuzzer convention) turns
# on the extra invariant checks some modules have (patch.c: its size
# accounting against json-c's printer).
cflags=(-g -O1 -std=c11 -D_GNU_SOURCE -fno-omit-frame-pointer
    -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
    -I"$top/src" -I"$here")

# Builds one target into $work/fuzz_NAME; the compiler output goes to a log.
build() {
    local n="$1" srcs=()

    for s in ${sources[$n]}; do
        srcs+=("$top/src/$s")
    done
    "$CC_FUZZ" "${cflags[@]}" "$here/fuzz_$n.c" "${srcs[@]}" "${libs[@]}" \
        -o "$work/fuzz_$n" >"$work/build-$n.log" 2>&1
}

# Runs one built target on a copy of its corpus; artifacts go to $work/art-NAME.
fuzz() {
    local n="$1"

    mkdir -p "$work/corpus-$n" "$work/art-$n"
    if [ -d "$here/corpus/$n" ]; then
        cp -R "$here/corpus/$n/." "$work/corpus-$n/"
    fi
    # halt_on_error: a UBSan report must fail the run, not scroll by.
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
        "$work/fuzz_$n" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/art-$n/" \
        "$work/corpus-$n" >"$work/run-$n.log" 2>&1
}

# Runs "$1 NAME" for every name, $jobs at a time; records failures. Each job
# leaves its status in a file: "wait PID" after "wait -n" is not reliable.
declare -A failed_step=()
run_all() {
    local step="$1" n

    for n in "${names[@]}"; do
        if [ -n "${failed_step[$n]:-}" ]; then
            continue
        fi
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
            wait -n || true
        done
        (if "$step" "$n"; then echo 0; else echo 1; fi >"$work/status-$step-$n") &
    done
    wait || true
    for n in "${names[@]}"; do
        if [ -z "${failed_step[$n]:-}" ] &&
            [ "$(cat "$work/status-$step-$n" 2>/dev/null)" != 0 ]; then
            failed_step[$n]="$step"
        fi
    done
}

started=$SECONDS
run_all build
echo "fuzz: built ${#names[@]} targets in $((SECONDS - started)) s"
run_all fuzz

passed=0
failed=0
for n in "${names[@]}"; do
    step="${failed_step[$n]:-}"
    if [ -z "$step" ]; then
        passed=$((passed + 1))
        # "stat::number_of_executed_units: N" from -print_final_stats.
        execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/run-$n.log")"
        corp="$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$work/run-$n.log" | tail -1)"
        echo "PASS: fuzz_$n: ${execs:-?} runs in ${seconds} s, ${corp:-corp: ?}"
        continue
    fi
    failed=$((failed + 1))
    if [ -z "$out" ]; then
        out="$(mktemp -d "${TMPDIR:-/tmp}/orchid-fuzz-failed.XXXXXX")"
    fi
    mkdir -p "$out/$n"
    if [ "$step" = build ]; then
        cp "$work/build-$n.log" "$out/$n/"
        echo "FAIL: fuzz_$n does not build ($out/$n/build-$n.log):"
        tail -n 30 "$work/build-$n.log"
        continue
    fi
    cp "$work/run-$n.log" "$out/$n/"
    cp "$work/fuzz_$n" "$out/$n/"
    cp -R "$work/art-$n/." "$out/$n/" 2>/dev/null || true
    echo "FAIL: fuzz_$n (log $out/$n/run-$n.log):"
    # The report from its first line to SUMMARY (no shadow bytes), at most 40.
    awk '/==ERROR|runtime error|deadly signal|ERROR: libFuzzer/ { on = 1 }
        on { print; if (++k == 40 || /^SUMMARY/) exit }' "$work/run-$n.log"
    if ! grep -q -E '==ERROR|runtime error|deadly signal|ERROR: libFuzzer' "$work/run-$n.log"; then
        tail -n 40 "$work/run-$n.log"
    fi
    for a in "$out/$n"/crash-* "$out/$n"/leak-* "$out/$n"/timeout-* "$out/$n"/oom-*; do
        if [ -f "$a" ]; then
            echo "  input: $a"
            echo "  reproduce: $out/$n/fuzz_$n $a"
        fi
    done
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
