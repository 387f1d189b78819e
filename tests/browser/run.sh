#!/usr/bin/env bash
# The browser console (docs/console.md) in a real headless Chromium, driven
# by Selenium through chromedriver, against a real orchidd behind nginx:
# tests/browser/test_console.py.
#
#     tests/browser/run.sh          (make check)
#     CONSOLE_SCREENSHOT=docs/console.png tests/browser/run.sh
#
# Exits 77 (automake's SKIP) only when the browser cannot be had: chromium,
# chromium-driver or python3-selenium missing (script/bootstrap installs
# them; a skip fails script/test). Environment: as tests/e2e/run.sh, plus
# CHROMIUM, CHROMEDRIVER and CONSOLE_SCREENSHOT (test_console.py).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"

chromium="${CHROMIUM:-/usr/bin/chromium}"
driver="${CHROMEDRIVER:-/usr/bin/chromedriver}"
for f in "$chromium" "$driver"; do
    if [ ! -x "$f" ]; then
        echo "SKIP: $f is missing (Debian: apt-get install chromium chromium-driver; script/bootstrap does)"
        exit 77
    fi
done
# Debian's python3-selenium is for Debian's python3, which a python3 earlier
# on PATH (pyenv, a venv) may not see.
py=""
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import selenium' 2>/dev/null; then
        py="$p"
        break
    fi
done
if [ -z "$py" ]; then
    echo "SKIP: no python3 with selenium (Debian: apt-get install python3-selenium; script/bootstrap does)"
    exit 77
fi

# shellcheck source=tests/env.sh
. "$here/../env.sh"
# chromium's crash reporter and caches stay out of $HOME.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export HOME="$tmp" XDG_CONFIG_HOME="$tmp" XDG_CACHE_HOME="$tmp"
exec "$py" "$here/test_console.py" "$@"
