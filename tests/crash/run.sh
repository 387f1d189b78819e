#!/usr/bin/env bash
# Crash test (tests/crash/crash_test.py), short form, three checks:
#   1. the checker's self-test (tests/crash/test_checker.py, no server): the
#      judging code of the crash test gets synthetic histories, clean ones
#      and ones with a lost acknowledged write, a phantom, a wrong value or
#      ref, a reordering, an undone delete or update..., and must tell them
#      apart.
#   2. durability = sync under kill -9 of workers, the maintainer, the search
#      indexer, the master, the whole process group (and again during
#      recovery), each kind at least once, while item PUT/DELETE/PATCH/purge,
#      bulk, event POST/PUT/PATCH/DELETE and compare-and-set writes go on: no
#      acknowledged write may be lost, every cycle must have acknowledged
#      writes, and after each cycle's check the search index must agree with
#      what was read (acknowledged writes found with their current ref,
#      deleted and purged ones not).
#   3. negative control: durability = none, only kills of the whole process
#      group, no checkpoints: the test must see acknowledged writes lost,
#      otherwise it could not detect loss at all.
# Extra arguments go to both runs (e.g. --seed 1234). CRASH_CYCLES and
# CRASH_SECONDS change the length of the durable run.
# Finds the binaries like tests/e2e/run.sh; exits 77 (SKIP) only when nginx
# is missing. Last line: "N passed, N failed".
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"

# shellcheck source=tests/env.sh
. "$here/../env.sh"

passed=0
failed=0

echo "== crash: self-test of the checker (synthetic histories, no server) =="
if python3 "$here/test_checker.py"; then
    passed=$((passed + 1))
else
    echo "FAIL: the checker misjudged a synthetic history (see above)"
    failed=$((failed + 1))
fi

echo "== crash: durability = sync, every kind of kill =="
if python3 "$here/crash_test.py" --cycles "${CRASH_CYCLES:-6}" \
        --seconds-per-cycle "${CRASH_SECONDS:-4}" --writers 8 --durability sync "$@"; then
    passed=$((passed + 1))
else
    echo "FAIL: acknowledged writes were lost or another anomaly was found (see above)"
    failed=$((failed + 1))
fi

# durability = write promises the same as sync for a crash of orchidd
# processes (not of the kernel): a short run proves it too.
echo "== crash: durability = write, kills of the master and the whole group =="
if python3 "$here/crash_test.py" --cycles 2 --seconds-per-cycle 3 --writers 8 \
        --durability write --kinds master,group "$@"; then
    passed=$((passed + 1))
else
    echo "FAIL: durability = write lost acknowledged writes or another anomaly was found"
    failed=$((failed + 1))
fi

echo "== crash: negative control, durability = none, kills of the whole group =="
if python3 "$here/crash_test.py" --cycles 5 --seconds-per-cycle 3 --writers 8 \
        --durability none --kinds group --checkpoint-interval 3600 --expect-loss "$@"; then
    passed=$((passed + 1))
else
    echo "FAIL: the negative control found no lost write: the crash test cannot detect loss"
    failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
