#!/usr/bin/env bash
# "make check" entry for the fault tests (tests/faults): a corrupt page
# (corrupt.py, any user), then a full disk (fulldisk.py). The full-disk test
# needs root to mount a small tmpfs and exits 77 (skip) otherwise. Both run
# whatever the other did: a failure of either fails this script; otherwise
# a skipped full-disk test makes it exit 77 (tests/allowed-skips lists it),
# the corrupt-page test's result staying in its log. tests/env.sh finds the
# binaries and skips (77) when nginx is missing.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/env.sh
. "$here/../env.sh"

corrupt=0
python3 "$here/corrupt.py" "$@" || corrupt=$?
fulldisk=0
python3 "$here/fulldisk.py" "$@" || fulldisk=$?
echo "faults: corrupt.py exit $corrupt, fulldisk.py exit $fulldisk"
if [ "$corrupt" -ne 0 ]; then
    exit 1
fi
if [ "$fulldisk" -eq 77 ]; then
    exit 77
fi
[ "$fulldisk" -eq 0 ] || exit 1
