#!/usr/bin/env bash
# Debian package check: builds the orchid package from a copy of this tree
# and proves what docs/operations.md "Install (Debian package)" promises.
#
#   tests/package/run.sh        (as root; script/test's "Debian package" stage)
#
# 1. copies the tree (tracked and untracked-but-not-ignored files, as they
#    are in the work tree, uncommitted changes included) to a temporary
#    directory and runs "dpkg-buildpackage -us -uc -b" there (nocheck: the
#    tests run in script/test's other stages), while a minimal Debian 12 root
#    is made beside it (tests/fresh-root/minroot.sh);
# 2. lintian on the .changes: any error fails (warnings are printed; each
#    one the package keeps is overridden with its reason in
#    debian/orchid.lintian-overrides);
# 3. the .deb's contents: every path the package must ship (the man pages:
#    every one of the top Makefile.am's dist_man_MANS), nothing it must not
#    (an enabled nginx site, /usr/local, the data directory), the exact
#    conffiles, every program the unit's Exec lines run, and the service
#    handling of the maintainer scripts (never started; try-restarted after
#    an upgrade; stopped on removal), which the root cannot show;
# 4. in the root (its own mount and PID namespaces; package scripts may not
#    start services there): "apt-get install ./orchid_*.deb" (with nginx,
#    which the package recommends), then tests/package/inroot.sh checks the
#    user, the data directory, the config, the unit, orchidctl, the nginx
#    site, reinstall, remove, purge and ORCHID_PURGE_DATA=yes.
#
# PKG_KEEP=1 keeps the work directory (its path is printed). Needs root,
# dpkg-dev, debhelper, lintian, mmdebstrap, git and python3 (script/bootstrap
# installs them) and the Debian mirror; anything missing fails the check,
# it is never skipped. Last line: "N passed, N failed".
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
summary() {
    echo "package: $((SECONDS)) s"
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
die() {
    bad "$*"
    summary || exit 1
}

if [ "$(id -u)" -ne 0 ]; then
    die "must run as root (chroot, mounts, the package's users)"
fi
for cmd in dpkg-buildpackage dh lintian mmdebstrap git python3; do
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd is missing (script/bootstrap installs it)"
done
cd "$top"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    die "$top is not a git work tree (the copy takes git's list of files)"

work="$(mktemp -d /var/tmp/orchid-package.XXXXXX)"
root="$work/root"
mmpid=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    if [ -n "$mmpid" ]; then
        kill "$mmpid" 2>/dev/null || true
        wait "$mmpid" 2>/dev/null || true
    fi
    if [ -n "${PKG_KEEP:-}" ]; then
        echo "package: kept $work"
    elif grep -qF " $work/" /proc/self/mountinfo; then
        # Never rm -rf across a mount (the root's /dev is the machine's).
        echo "package: something is still mounted under $work; not removing it" >&2
    else
        rm -rf --one-file-system "$work"
    fi
}
trap cleanup EXIT

# ---- the root, made while the package builds -----------------------------
# shellcheck source=tests/fresh-root/minroot.sh
. "$top/tests/fresh-root/minroot.sh"
mirror="$(minroot_sources "$work/sources.list")"
# The package lists stay in the root, so apt-get needs no update there.
minroot_build "$root" "$mirror" --skip=cleanup/apt/lists >"$work/mmdebstrap.log" 2>&1 &
mmpid=$!

# ---- 1. build ------------------------------------------------------------
version="$(dpkg-parsechangelog -l debian/changelog -S Version)"
upstream="${version%-*}"
src="$work/orchid-$upstream"
mkdir -p "$src"
git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
    if [ -f "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
done | tar --null -T - -cf - | tar -xpf - -C "$src"
start=$SECONDS
if (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=${MAKE_JOBS:-2}" \
        dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
    ok "dpkg-buildpackage -us -uc -b ($((SECONDS - start)) s)"
else
    tail -n 40 "$work/build.log"
    die "dpkg-buildpackage failed (its last lines above)"
fi
arch="$(dpkg --print-architecture)"
deb="$work/orchid_${version}_$arch.deb"
changes="$work/orchid_${version}_$arch.changes"
[ -f "$deb" ] || die "no $deb after the build"

# ---- 2. lintian ----------------------------------------------------------
start=$SECONDS
lint_rc=0
lintian --fail-on error --display-info "$changes" >"$work/lintian.log" 2>&1 || lint_rc=$?
sed 's/^/  lintian: /' "$work/lintian.log"
if [ "$lint_rc" -eq 0 ] && ! grep -q '^E: ' "$work/lintian.log"; then
    ok "lintian: no errors ($(grep -c '^W: ' "$work/lintian.log" || true) warnings, $((SECONDS - start)) s)"
else
    bad "lintian reported errors (exit $lint_rc)"
fi

# ---- 3. contents ---------------------------------------------------------
dpkg-deb -c "$deb" | awk '{ p = $6; sub(/^\./, "", p); print p }' | sed 's:/$::' >"$work/contents"
expect=(
    /usr/sbin/orchidd /usr/sbin/orchidctl
    /etc/orchid/orchidd.conf
    /lib/systemd/system/orchidd.service
    /usr/lib/sysusers.d/orchid.conf
    /etc/nginx/conf.d/orchid.conf
    /etc/nginx/snippets/orchid-locations.conf
    /etc/nginx/snippets/orchid-console.conf
    /etc/nginx/sites-available/orchid
    /usr/share/orchid/console/index.html
    /usr/share/orchid/console/console.js
    /usr/share/orchid/console/console.css
    /usr/share/doc/orchid/copyright
    /usr/share/doc/orchid/README.Debian
    /usr/share/doc/orchid/operations.md
)
# Every man page "make install" installs, whatever the list is today.
read -ra mans <<<"$(sed -n 's/^dist_man_MANS *= *//p' Makefile.am)"
for m in "${mans[@]}"; do
    m="${m##*/}"
    expect+=("/usr/share/man/man${m##*.}/$m.gz")
done
missing=()
# dh_compress may compress a document (over 4 KiB), so either name will do.
for p in "${expect[@]}"; do
    grep -qxF -e "$p" -e "$p.gz" "$work/contents" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    ok "the .deb has all ${#expect[@]} expected paths"
else
    bad "missing from the .deb: ${missing[*]}"
fi
unwanted="$(grep -E '^/usr/local|^/var/lib/orchid|^/etc/nginx/sites-enabled|^/etc/nginx/fastcgi_params|^/usr/share/doc/orchid/COPYING' "$work/contents" || true)"
if [ -z "$unwanted" ]; then
    ok "nothing in /usr/local, /var/lib/orchid, sites-enabled; no fastcgi_params, no COPYING"
else
    bad "the .deb ships what it must not: $(echo "$unwanted" | tr '\n' ' ')"
fi
mkdir -p "$work/control"
dpkg-deb -e "$deb" "$work/control"
want_conffiles="$(printf '%s\n' /etc/nginx/conf.d/orchid.conf /etc/nginx/sites-available/orchid \
    /etc/nginx/snippets/orchid-console.conf /etc/nginx/snippets/orchid-locations.conf \
    /etc/orchid/orchidd.conf)"
got_conffiles="$(sort "$work/control/conffiles" 2>/dev/null || true)"
if [ "$got_conffiles" = "$want_conffiles" ]; then
    ok "conffiles: $(echo "$got_conffiles" | tr '\n' ' ')"
else
    bad "conffiles are [$(echo "$got_conffiles" | tr '\n' ' ')], want [$(echo "$want_conffiles" | tr '\n' ' ')]"
fi
# What the root cannot show (no systemd runs there): the service is started
# by nothing, try-restarted after an upgrade, stopped on removal.
c="$work/control"
if grep -q "deb-systemd-invoke try-restart 'orchidd.service'" "$c/postinst" &&
   ! grep -Eq 'deb-systemd-invoke (start|restart) ' "$c/postinst" &&
   grep -q 'deb-systemd-invoke stop orchidd.service' "$c/prerm"; then
    ok "maintainer scripts: no start, try-restart after an upgrade, stop on removal"
else
    bad "maintainer scripts: want try-restart (not start) in postinst and stop in prerm"
fi
# Every absolute program of the unit's Exec lines, orchidd's path above all.
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./lib/systemd/system/orchidd.service >"$work/unit"
execs="$(sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\(\/[^ ]*\).*/\1/p' "$work/unit" | sort -u)"
bad_exec=()
for e in $execs; do
    case "$e" in
    /bin/kill) ;;
    *) grep -qxF "$e" "$work/contents" || bad_exec+=("$e") ;;
    esac
done
if [ -n "$execs" ] && [ "${#bad_exec[@]}" -eq 0 ]; then
    ok "the unit's Exec programs are in the package or the base system: $(echo "$execs" | tr '\n' ' ')"
else
    bad "the unit runs programs the package does not ship: ${bad_exec[*]:-none found}"
fi

# ---- 4. install in a clean root ------------------------------------------
start=$SECONDS
mm_rc=0
wait "$mmpid" || mm_rc=$?
mmpid=""
if [ "$mm_rc" -ne 0 ]; then
    tail -n 30 "$work/mmdebstrap.log"
    die "mmdebstrap failed (exit $mm_rc)"
fi
echo "package: root ready $((SECONDS - start)) s after the build and checks"
minroot_etc "$root"
cp "$deb" "$root/tmp/"
cp "$here/inroot.sh" "$root/tmp/inroot.sh"
rc=0
# A mount namespace of its own, so the mounts vanish with it, made private
# so that they do not show outside. Inside a chroot (CI runs this in the
# fresh root) "/" is no mount point and unshare cannot change its
# propagation: there the namespace is the chroot's own (fresh-root made it
# private) and the mounts are also undone by hand.
prop=private
mountpoint -q / || prop=unchanged
# shellcheck disable=SC2016 # the inner shell's own variables
unshare --mount --pid --fork --kill-child --propagation "$prop" -- bash -c '
    set -e
    root="$1"; debfile="$2"; shift 2
    mount --rbind /dev "$root/dev"
    mount --make-rslave "$root/dev"
    mount -t proc proc "$root/proc"
    mount -t sysfs -o ro sysfs "$root/sys"
    rc=0
    chroot "$root" /usr/bin/env -i "$@" /bin/bash /tmp/inroot.sh "$debfile" || rc=$?
    umount -R "$root/sys" "$root/proc" "$root/dev"
    exit "$rc"
' package "$root" "/tmp/${deb##*/}" HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive >"$work/inroot.log" 2>&1 || rc=$?
cat "$work/inroot.log"
# The inner script's verdicts join ours; its own summary line is dropped.
passed=$((passed + $(grep -c '^ok: ' "$work/inroot.log" || true)))
failed=$((failed + $(grep -c '^FAIL: ' "$work/inroot.log" || true)))
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL: ' "$work/inroot.log"; then
    bad "the checks in the root exited $rc without a verdict"
fi
summary
