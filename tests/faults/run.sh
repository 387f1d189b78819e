#!/usr/bin/env bash
# "make check" entry for the fault tests (tests/faults): a full disk
# (fulldisk.py). It needs root to mount a small tmpfs, and exits 77 (skip)
# otherwise; tests/allowed-skips lists that. tests/env.sh finds the binaries
# and skips (77) when nginx is missing.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/env.sh
. "$here/../env.sh"
exec python3 "$here/fulldisk.py" "$@"
