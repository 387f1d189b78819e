#!/usr/bin/env bash
# "make check" entry for the fault tests (tests/faults): a corrupt page
# (corrupt.py, any user), failing I/O (iofault.py, any user: an LD_PRELOAD
# shim), then a full disk (fulldisk.py). The full-disk test needs root to
# mount a small tmpfs and exits 77 (skip) otherwise. All run whatever the
# others did: a failure of any fails this script; otherwise a skipped
# full-disk test makes it exit 77 (tests/allowed-skips lists it), the other
# tests' results staying in the log. tests/env.sh finds the binaries and
# skips (77) when nginx is missing.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/env.sh
. "$here/../env.sh"

corrupt=0
python3 "$here/corrupt.py" "$@" || corrupt=$?
iofault=0
python3 "$here/iofault.py" "$@" || iofault=$?
fulldisk=0
python3 "$here/fulldisk.py" "$@" || fulldisk=$?
echo "faults: corrupt.py exit $corrupt, iofault.py exit $iofault, fulldisk.py exit $fulldisk"
if [ "$corrupt" -ne 0 ] || [ "$iofault" -ne 0 ]; then
    exit 1
fi
if [ "$fulldisk" -eq 77 ]; then
    exit 77
fi
[ "$fulldisk" -eq 0 ] || exit 1
