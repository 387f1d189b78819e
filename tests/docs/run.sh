#!/usr/bin/env bash
# "make check" entry for tests/docs/check_docs.py (orchidctl --help and its
# man page, config.c's settings, orchidd.conf(5) and conf/orchidd.conf agree).
# A wrapper, not a .py test of its own: automake picks a test's log rule by
# suffix, and with ".py" in TEST_EXTENSIONS e2e/run.log would be made from
# e2e/run.py (beside e2e/run.sh) under the wrong time limit.
set -euo pipefail
exec python3 "$(cd "$(dirname "$0")" && pwd)/check_docs.py" "$@"
