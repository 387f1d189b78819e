#!/usr/bin/env bash
# "make check" entry for the end-to-end suite (tests/e2e/run.py); tests/env.sh
# finds the binaries and skips (77) only when nginx is missing.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"

# shellcheck source=tests/env.sh
. "$here/../env.sh"
exec python3 "$here/run.py" "$@"
