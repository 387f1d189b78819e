# shellcheck shell=bash disable=SC2154
# Sourced by the "make check" scripts that start real nginx and orchidd
# (e2e/run.sh, client/run.sh, crash/run.sh). Exits 77, automake's SKIP, only
# when nginx is not installed: a missing orchidd is a failure, not a skip.
# Then finds the built binaries from $abs_top_builddir (or $ORCHIDD and
# $ORCHIDCTL, or the build tree the script is run from) and exports them.
# Needs $here, the directory of the sourcing script (tests/<name>).

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "SKIP: nginx is not installed (script/bootstrap installs it)"
    exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "FAIL: python3 is not installed"
    exit 1
fi

# make check runs the scripts from <builddir>/tests; in-tree that is also the
# source.
if [ -z "${abs_top_builddir:-}" ]; then
    if [ -x "$PWD/../src/orchidd" ]; then
        abs_top_builddir="$(cd "$PWD/.." && pwd)"
    else
        abs_top_builddir="$(cd "$here/../.." && pwd)"
    fi
fi
export abs_top_builddir
export ORCHIDD="${ORCHIDD:-$abs_top_builddir/src/orchidd}"
export ORCHIDCTL="${ORCHIDCTL:-$abs_top_builddir/src/orchidctl}"
if [ -z "${NGINX:-}" ] && ! command -v nginx >/dev/null 2>&1; then
    export NGINX=/usr/sbin/nginx
fi
# No __pycache__ in the source tree (read-only under "make distcheck").
export PYTHONDONTWRITEBYTECODE=1
