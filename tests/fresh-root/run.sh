#!/usr/bin/env bash
# Fresh-root check: proves that the README's two commands work on a truly
# fresh Debian 12 machine, i.e. that script/bootstrap installs everything
# that building, serving and every test stage need.
#
#   tests/fresh-root/run.sh            (as root; it is what .ci/run runs)
#
# 1. builds a minimal Debian 12 root with mmdebstrap --variant=minbase (no
#    compiler, no git, no python, no nginx: only Essential packages and apt);
# 2. copies the checkout in (tracked and untracked-but-not-ignored files and
#    .git, as a fresh clone would have them) to /src/orchid, and ../shared
#    beside it to /src/shared when it exists (the suites written by others);
# 3. inside the root (its own mount and PID namespaces; the host's loopback),
#    as a newcomer would: "script/server" until it prints "API key: ...",
#    then a PUT and a GET with that key; then "script/test", which must pass.
#
# What is passed from the machine into the root, and nothing else:
#   - the package mirror: the machine's enabled Debian 12 (bookworm) apt
#     sources, or FRESH_MIRROR (a URL or a sources file) to choose another;
#     any apt proxy the machine's apt uses (apt-config's Acquire::*::Proxy);
#   - certificates: the machine's extra CAs in /usr/local/share/ca-certificates
#     and its bundle /etc/ssl/certs/ca-certificates.crt (a TLS-inspecting
#     proxy's CA, needed by npm); the CA-file variables of the environment
#     (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, ...) when they name that bundle;
#   - /etc/resolv.conf and /etc/hosts.
# Services are not started by package scripts in the root (policy-rc.d says
# no, as in any container): the root shares the machine's network, and
# script/server starts its own nginx. PORT: script/server's port in the root
# (default 8080, or a free one when 8080 is taken on this machine).
#
# FRESH_KEEP=1 keeps the root (its path is printed); FRESH_DIR sets where it
# is made (default: a new directory under /var/tmp). Needs about 3 GB.
# Last line: "N passed, N failed" (the two steps: server, test).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
shared="$(cd "$top/.." && pwd)/shared"

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/fresh-root/run.sh: must run as root (mmdebstrap, chroot, mounts)" >&2
    exit 1
fi
if ! command -v mmdebstrap >/dev/null 2>&1; then
    echo "fresh-root: installing mmdebstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

work="${FRESH_DIR:-$(mktemp -d /var/tmp/orchid-fresh.XXXXXX)}"
mkdir -p "$work"
root="$work/root"
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    if [ -n "${FRESH_KEEP:-}" ]; then
        echo "fresh-root: kept $root"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# ---- the mirror and the root (tests/fresh-root/minroot.sh) ----------------
# shellcheck source=tests/fresh-root/minroot.sh
. "$here/minroot.sh"
mirror="$(minroot_sources "$work/sources.list")"
if [ -z "${FRESH_MIRROR:-}" ]; then
    echo "fresh-root: mirror from this machine's apt sources:"
    sed 's/^/  /' "$mirror"
fi

echo "fresh-root: building a minimal Debian 12 root in $root"
start=$SECONDS
minroot_build "$root" "$mirror"
echo "fresh-root: root built in $((SECONDS - start)) s"
minroot_etc "$root"

# The environment of a newcomer's login shell, plus the CA-file variables
# that name the bundle copied above.
envs=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
      LANG=C.UTF-8 TERM=dumb CI="${CI:-}")
for v in NODE_EXTRA_CA_CERTS SSL_CERT_FILE CURL_CA_BUNDLE REQUESTS_CA_BUNDLE GIT_SSL_CAINFO; do
    if [ "${!v:-}" = /etc/ssl/certs/ca-certificates.crt ]; then
        envs+=("$v=${!v}")
    fi
done
# script/server's port: 8080 unless something here already listens there.
port="${PORT:-8080}"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    echo "fresh-root: 8080 is taken on this machine; script/server uses $port"
fi
envs+=(PORT="$port")

# ---- the checkout, as a clone would have it ------------------------------
mkdir -p "$root/src/orchid"
(cd "$top" && { git ls-files -z -co --exclude-standard; printf '.git\0'; } |
    tar --null -T - -cf -) | tar -xpf - -C "$root/src/orchid"
if [ -d "$shared" ]; then
    cp -a "$shared" "$root/src/shared"
fi

# ---- inside: the README's two commands -----------------------------------
cat >"$root/src/fresh-inner.sh" <<'INNER'
#!/bin/bash
# Runs inside the fresh root (its own mount and PID namespaces).
set -u
cd /src/orchid
passed=0
failed=0
log=/src/server.log
echo "== fresh-root: script/server =="
start=$SECONDS
script/server >"$log" 2>&1 &
server=$!
key=""
while kill -0 "$server" 2>/dev/null && [ $((SECONDS - start)) -lt 1800 ]; do
    key="$(sed -n 's/^API key: *\([^[:space:]]*\).*/\1/p' "$log" | head -n 1)"
    [ -n "$key" ] && break
    sleep 1
done
ok=0
if [ -n "$key" ]; then
    echo "fresh-root: script/server printed the API key after $((SECONDS - start)) s"
    u="http://127.0.0.1:$PORT/v0/fresh/k1"
    put="$(curl -s -o /dev/null -w '%{http_code}' -u "$key:" -X PUT \
        -H 'Content-Type: application/json' -d '{"fresh":true}' "$u")"
    get="$(curl -s -u "$key:" "$u")"
    echo "fresh-root: PUT $put, GET $get"
    # Run as root, script/server runs neither orchidd nor nginx's workers
    # as root (issue 15): orchidd as orchid, the workers as nobody.
    as_root=""
    for d in /proc/[0-9]*; do
        cmd="$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null || true)"
        uid="$(awk '/^Uid:/ {print $2}' "$d/status" 2>/dev/null || true)"
        case "$cmd" in
            */orchidd\ *|"nginx: worker"*)
                [ "$uid" = 0 ] && as_root="$as_root [${d#/proc/} $cmd]" ;;
        esac
    done
    echo "fresh-root: orchidd and nginx worker processes running as root:${as_root:- none}"
    if [ "$put" = 201 ] && [ "$get" = '{"fresh":true}' ] && [ -z "$as_root" ]; then
        ok=1
    fi
fi
if [ "$ok" = 1 ]; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    echo "FAIL: script/server did not serve a PUT and a GET, or ran orchidd or nginx's" \
        "workers as root; its output:"
    tail -n 60 "$log"
fi
kill -TERM "$server" 2>/dev/null
for _ in $(seq 1 30); do
    kill -0 "$server" 2>/dev/null || break
    sleep 1
done
kill -KILL "$server" 2>/dev/null
wait "$server" 2>/dev/null

echo "== fresh-root: script/test =="
start=$SECONDS
# Every stage runs, as on a newcomer's machine, the fuzz smoke run for its
# full 10 s a target: this is CI's only run of script/test (.ci/run).
if script/test; then
    passed=$((passed + 1))
    echo "fresh-root: script/test passed in $((SECONDS - start)) s"
else
    failed=$((failed + 1))
    echo "FAIL: script/test failed in the fresh root"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
INNER
chmod 755 "$root/src/fresh-inner.sh"

# A private mount namespace (the mounts vanish with it) and PID namespace
# (every process started inside dies with it).
rc=0
# shellcheck disable=SC2016 # the inner script's own variables
unshare --mount --pid --fork --kill-child --propagation private -- bash -c '
    set -e
    root="$1"; shift
    mount --rbind /dev "$root/dev"
    mount --make-rslave "$root/dev"
    mount -t proc proc "$root/proc"
    mount -t sysfs -o ro sysfs "$root/sys"
    exec chroot "$root" /usr/bin/env -i "$@" /bin/bash /src/fresh-inner.sh
' fresh "$root" "${envs[@]}" || rc=$?
exit "$rc"
