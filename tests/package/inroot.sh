#!/bin/bash
# Runs inside the clean Debian 12 root of tests/package/run.sh (as root, its
# own mount and PID namespaces, services not allowed to start) with the path
# of the orchid .deb: installs it as docs/operations.md says, then checks
# what the package promises, through reinstall, remove and purge. Prints
# "ok: ..." or "FAIL: ..." per check; exits non-zero when one failed.
# Checks run as bash -c 'SCRIPT' _ ARGS: the script's $1... are its own.
# shellcheck disable=SC2016
set -u
deb="$1"
conf=/etc/orchid/orchidd.conf
passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
    local what="$1"
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
# Owner, group and mode of a path, e.g. "orchid:orchid-fcgi 700".
perms() { stat -c '%U:%G %a' "$1" 2>/dev/null; }
finish() {
    echo "in the root: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

# ---- install -------------------------------------------------------------
start=$SECONDS
# nginx: recommended by the package, needed for the site check below; no
# other recommends (systemd's would bring a dozen packages for nothing here).
if apt-get install -y -q --no-install-recommends "$deb" nginx >/tmp/apt.log 2>&1; then
    ok "apt-get install ./${deb##*/} nginx resolves and installs ($((SECONDS - start)) s)"
else
    tail -n 30 /tmp/apt.log
    bad "apt-get install of the package failed"
    finish
fi

# ---- what the installation made ------------------------------------------
pw="$(getent passwd orchid || true)"
IFS=: read -r _ _ uid _ _ home shell <<<"$pw"
if [ -n "$pw" ] && [ "$uid" -lt 1000 ] && [ "$home" = /var/lib/orchid ] &&
   [ "${shell##*/}" = nologin ]; then
    ok "system user orchid (uid $uid, home $home, shell $shell)"
else
    bad "user orchid: [$pw], want a system user with home /var/lib/orchid and nologin"
fi
got="$(perms /var/lib/orchid)"
check "/var/lib/orchid is orchid:orchid-fcgi 700 as the unit's StateDirectory= makes it (got: $got)" \
    test "$got" = "orchid:orchid-fcgi 700"
# The socket's group: a system group whose one member is nginx's user; the
# orchid user is in no web group (the unit gives it orchid-fcgi).
grent="$(getent group orchid-fcgi || true)"
IFS=: read -r _ _ fcgi_gid members <<<"$grent"
check "system group orchid-fcgi with www-data its only member (got: [$grent])" \
    bash -c '[ -n "$1" ] && [ "$2" -lt 1000 ] && [ "$3" = www-data ]' _ "$grent" "${fcgi_gid:-99999}" "${members:-}"
check "the user orchid is in no group but its own (got: $(id -Gn orchid 2>&1))" \
    test "$(id -Gn orchid 2>&1)" = orchid
check "the unit runs orchidd with group orchid-fcgi" \
    grep -qx 'Group=orchid-fcgi' /lib/systemd/system/orchidd.service
out="$(orchidd -n -c "$conf" 2>&1)"
rc=$?
check "orchidd -n -c $conf: exit $rc: $out" test "$rc" -eq 0
check "the unit is installed but not enabled" \
    bash -c 'test -f /lib/systemd/system/orchidd.service &&
             ! test -e /etc/systemd/system/multi-user.target.wants/orchidd.service'
# verify: the unit against the installed programs (no man: no man-db here).
out="$(systemd-analyze verify --man=no /lib/systemd/system/orchidd.service 2>&1)"
rc=$?
check "systemd-analyze verify on the installed unit finds everything it runs (exit $rc${out:+: $out})" \
    test "$rc" -eq 0 -a -z "$out"
check "the site is in sites-available and not enabled" \
    bash -c 'test -f /etc/nginx/sites-available/orchid && ! test -e /etc/nginx/sites-enabled/orchid'

# ---- orchidctl before the first start ------------------------------------
out="$(orchidctl -c "$conf" key list 2>&1)"
rc=$?
check "orchidctl as root refuses with 77 and names the user (exit $rc)" \
    bash -c '[ "$1" -eq 77 ] && [[ "$2" == *"sudo -u orchid"* ]]' _ "$rc" "$out"
# No environment before the first start: orchidctl refuses to make one
# by accident (66), "init" makes it on purpose (orchidd's first start would).
out="$(runuser -u orchid -- orchidctl -c "$conf" key create pkgtest 2>&1)"
rc=$?
check "orchidctl key create before any start refuses the empty data directory with 66 (exit $rc: $out)" \
    bash -c '[ "$1" -eq 66 ] && [[ "$2" == *"/var/lib/orchid"* ]]' _ "$rc" "$out"
out="$(runuser -u orchid -- orchidctl -c "$conf" init 2>&1)"
rc=$?
check "runuser -u orchid -- orchidctl init makes the environment (exit $rc: $out)" test "$rc" -eq 0
key="$(runuser -u orchid -- orchidctl -c "$conf" key create pkgtest 2>/tmp/ctl.err)"
rc=$?
check "runuser -u orchid -- orchidctl key create: exit $rc, a key printed ($(tr '\n' ' ' </tmp/ctl.err))" \
    test "$rc" -eq 0 -a -n "$key"
others="$(find /var/lib/orchid ! -user orchid | head -n 3)"
check "every file orchidctl made in /var/lib/orchid is orchid's${others:+ (not: $others)}" \
    test -z "$others"

# ---- nginx ---------------------------------------------------------------
ln -s ../sites-available/orchid /etc/nginx/sites-enabled/orchid
out="$(nginx -t 2>&1)"
rc=$?
check "nginx -t with the site enabled (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || echo "$out"

# nginx's workers (user www-data, as Debian's nginx.conf says) get the group
# when they start: a master with no listener, run here by hand.
printf '%s\n' 'user www-data;' 'pid /tmp/nginx-groups.pid;' \
    'error_log /tmp/nginx-groups.log;' 'events {}' >/tmp/nginx-groups.conf
wgroups=""
if nginx -c /tmp/nginx-groups.conf 2>/tmp/nginx-groups.err; then
    for _ in $(seq 50); do
        for st in /proc/[0-9]*/status; do
            if grep -q '^Name:[[:space:]]*nginx' "$st" 2>/dev/null &&
               grep -Eq "^Uid:[[:space:]]+$(id -u www-data)[[:space:]]" "$st" 2>/dev/null; then
                wgroups="$(sed -n 's/^Groups:[[:space:]]*//p' "$st")"
            fi
        done
        [ -n "$wgroups" ] && break
        sleep 0.1
    done
    nginx -c /tmp/nginx-groups.conf -s quit 2>/dev/null || true
fi
check "an nginx worker (user www-data) has orchid-fcgi ($fcgi_gid) among its groups (got: [$wgroups]$(cat /tmp/nginx-groups.err 2>/dev/null))" \
    bash -c '[[ " $1 " == *" $2 "* ]]' _ "$wgroups" "${fcgi_gid:-none}"

# ---- reinstall: the upgrade path of the scripts --------------------------
echo "# config edited by the test" >>"$conf"
chmod 0750 /var/lib/orchid
if dpkg -i "$deb" >/tmp/dpkg.log 2>&1; then
    ok "dpkg -i over the installed package (upgrade path)"
else
    cat /tmp/dpkg.log
    bad "dpkg -i over the installed package failed"
fi
check "the edited config is kept" grep -q '^# config edited by the test' "$conf"
got="$(perms /var/lib/orchid)"
check "the postinst set /var/lib/orchid back to orchid:orchid-fcgi 700 (got: $got)" \
    test "$got" = "orchid:orchid-fcgi 700"
check "the user keeps uid $uid" test "$(id -u orchid)" = "$uid"
check "the tenant is still there (orchidctl tenant list)" \
    bash -c 'runuser -u orchid -- orchidctl -c "$1" tenant list | grep -q pkgtest' _ "$conf"

# ---- remove: programs go, configuration and data stay --------------------
dpkg --remove orchid >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; bad "dpkg --remove failed"; }
check "after remove: no /usr/sbin/orchidd" test ! -e /usr/sbin/orchidd
check "after remove: the status is config-files" \
    test "$(dpkg-query -W -f='${db:Status-Status}' orchid)" = config-files
check "after remove: $conf, the nginx files and /var/lib/orchid are kept" \
    test -f "$conf" -a -f /etc/nginx/sites-available/orchid -a -d /var/lib/orchid
check "after remove: nginx -t still passes" nginx -q -t

# ---- purge: configuration goes, data and user stay -----------------------
dpkg --purge orchid >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; bad "dpkg --purge failed"; }
status="$(dpkg-query -W -f='${db:Status-Status}' orchid 2>/dev/null || true)"
check "after purge: dpkg knows the package no more (status: ${status:-none})" \
    test -z "$status" -o "$status" = not-installed
check "after purge: /etc/orchid and the nginx conffiles are gone" \
    test ! -e /etc/orchid -a ! -e /etc/nginx/conf.d/orchid.conf -a \
         ! -e /etc/nginx/snippets/orchid-locations.conf -a ! -e /etc/nginx/sites-available/orchid -a \
         ! -e /etc/nginx/snippets/orchid-console.conf
check "after purge: the dangling sites-enabled/orchid link is removed, nginx -t passes" \
    bash -c '! test -L /etc/nginx/sites-enabled/orchid && nginx -q -t'
check "after purge: /var/lib/orchid and its data are kept, and the purge said so" \
    bash -c 'test -f /var/lib/orchid/DB_CONFIG && grep -q "kept /var/lib/orchid" /tmp/dpkg.log'
check "after purge: the user orchid is kept" bash -c 'getent passwd orchid >/dev/null'

# ---- install again: the kept data is served ------------------------------
dpkg -i "$deb" >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; bad "dpkg -i after the purge failed"; }
check "reinstalled over kept data: same uid, the tenant is still there" \
    bash -c '[ "$(id -u orchid)" = "$1" ] &&
             runuser -u orchid -- orchidctl -c "$2" tenant list | grep -q pkgtest' _ "$uid" "$conf"

# ---- purge with ORCHID_PURGE_DATA=yes ------------------------------------
ORCHID_PURGE_DATA=yes dpkg --purge orchid >/tmp/dpkg.log 2>&1 ||
    { cat /tmp/dpkg.log; bad "ORCHID_PURGE_DATA=yes dpkg --purge failed"; }
check "ORCHID_PURGE_DATA=yes dpkg --purge removes /var/lib/orchid" test ! -e /var/lib/orchid

finish
