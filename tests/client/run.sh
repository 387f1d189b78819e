#!/usr/bin/env bash
# Runs the official Orchestrate Node.js client (npm "orchestrate" 0.8.2,
# unchanged except for its endpoint) against a real Orchid: orchidd behind
# nginx, started by tests/client/serve.py through tests/e2e/harness.py.
#
#     tests/client/run.sh [extra node --test arguments]
#
# Exits 77 (automake's SKIP) when node, npm or nginx is missing. Installs the
# client into tests/client/node_modules (npm ci, from package-lock.json) when
# orchestrate 0.8.2 is not there yet (this needs the npm registry once). Prints node's TAP summary ("# pass N", "# fail N")
# and exits non-zero when a test fails.
#
# Environment: ORCHIDD, ORCHIDCTL (default: <build dir>/src/...),
# abs_top_builddir, NGINX, ORCHID_KEEP=1 (as tests/e2e/run.sh).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool is not installed"
        exit 77
    fi
done
# shellcheck source=tests/env.sh
. "$here/../env.sh"

# A read-only source tree (make distcheck) gets a writable copy of the client.
if [ ! -w "$here" ]; then
    copy="$(mktemp -d)"
    cp "$here"/package.json "$here"/package-lock.json "$here"/*.test.js "$here"/serve.py "$copy"/
    chmod u+w "$copy"/*
    sed -i "s|os.path.join(HERE, \"..\", \"e2e\")|\"$here/../e2e\"|" "$copy/serve.py"
    here="$copy"
fi

installed="$(cd "$here" && node -p "require('orchestrate/package.json').version" 2>/dev/null || true)"
if [ "$installed" != "0.8.2" ]; then
    echo "# installing the client into $here/node_modules"
    if [ -f "$here/package-lock.json" ]; then
        (cd "$here" && npm ci --no-audit --no-fund) >&2
    else
        (cd "$here" && npm install --no-audit --no-fund) >&2
    fi
fi

# The server runs as a coprocess: its stdout gives "PORT KEY", closing its
# stdin (or SIGTERM) stops it.
serve_pid=""
serve_in=""
node_pid=""
cleanup() {
    if [ -n "$node_pid" ]; then
        kill -TERM "$node_pid" 2>/dev/null || true
        wait "$node_pid" 2>/dev/null || true
        node_pid=""
    fi
    if [ -n "$serve_in" ]; then
        exec {serve_in}>&- || true
        serve_in=""
    fi
    if [ -n "$serve_pid" ]; then
        kill -TERM "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
        serve_pid=""
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

coproc SERVE { exec python3 "$here/serve.py"; }
serve_pid=$SERVE_PID
# Keep our own copies: bash drops the SERVE array when the coprocess exits.
exec {serve_out}<&"${SERVE[0]}" {serve_in}>&"${SERVE[1]}"
eval "exec ${SERVE[0]}<&- ${SERVE[1]}>&-"

line=""
if ! read -r -t 120 -u "$serve_out" line || [ -z "$line" ]; then
    echo "FAIL: serve.py did not start a server"
    exit 1
fi
exec {serve_out}<&-
read -r port key <<<"$line"

export ORCHID_URL="127.0.0.1:$port"
export ORCHID_KEY="$key"
echo "# Orchid at http://$ORCHID_URL"

# The TAP reporter prints "# pass N" / "# fail N" whether or not stdout is a
# terminal. The files are named, not the directory: newer Node versions read
# --test arguments as glob patterns rather than directories. node runs in the
# background so that a signal to this script is handled at once.
node --test --test-reporter=tap "$@" "$here"/*.test.js &
node_pid=$!
status=0
wait "$node_pid" || status=$?
node_pid=""
exit "$status"
