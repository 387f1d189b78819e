# shellcheck shell=bash
# Minimal Debian 12 roots for the tests that need a clean machine
# (tests/fresh-root/run.sh, tests/package/run.sh). Sourced, not run.
#
#   minroot_sources FILE   writes the machine's enabled Debian 12 (bookworm)
#                          "deb" sources to FILE in one-line format (or
#                          FRESH_MIRROR, a URL or a sources file, when set:
#                          then FILE is not written and its name is
#                          printed instead); prints the file to use
#   minroot_build ROOT SOURCES [MMDEBSTRAP-OPTIONS...]
#                          mmdebstrap --variant=minbase --mode=root bookworm
#                          into ROOT, with the machine's apt proxy
#                          (apt-config's Acquire::*::Proxy, which mmdebstrap
#                          also leaves in ROOT's apt.conf.d) and a
#                          policy-rc.d that forbids package scripts to start
#                          services (the root shares the machine's network)
#   minroot_etc ROOT       copies /etc/resolv.conf, /etc/hosts and the
#                          machine's extra CA certificates into ROOT
#
# Needs root, mmdebstrap and python3.

minroot_sources() {
    local out="$1"
    if [ -n "${FRESH_MIRROR:-}" ]; then
        printf '%s\n' "$FRESH_MIRROR"
        return 0
    fi
    # One-line format from sources.list and *.list; deb822 stanzas from
    # *.sources; only "deb" entries of bookworm suites (no third-party repos).
    python3 - "$out" <<'PY'
import glob, sys
out = []
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        line = line.split("#", 1)[0].strip()
        words = line.split()
        if len(words) >= 3 and words[0] == "deb" and words[-2 if words[1].startswith("[") else 2].startswith("bookworm"):
            out.append(line)
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    stanza = {}
    text = open(path).read() + "\n\n"
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if stanza and "deb" in stanza.get("Types", "").split() \
                    and stanza.get("Enabled", "yes") != "no":
                for uri in stanza.get("URIs", "").split():
                    for suite in stanza.get("Suites", "").split():
                        if suite.startswith("bookworm"):
                            out.append("deb %s %s %s" % (uri, suite,
                                       stanza.get("Components", "main")))
            stanza = {}
            continue
        if ":" in line and not line[0].isspace():
            k, v = line.split(":", 1)
            stanza[k.strip()] = v.strip()
with open(sys.argv[1], "w") as f:
    f.write("\n".join(dict.fromkeys(out)) + "\n")
if not out:
    sys.exit("minroot: no Debian 12 (bookworm) apt source on this machine; set FRESH_MIRROR")
PY
    printf '%s\n' "$out"
}

minroot_build() {
    local root="$1" sources="$2" opt
    shift 2
    local aptopts=()
    while IFS= read -r opt; do
        aptopts+=(--aptopt="$opt")
    done < <(apt-config dump 2>/dev/null | grep -E '^Acquire::[a-z]+::Proxy' || true)
    # shellcheck disable=SC2016 # $1 is mmdebstrap's, in the hook
    mmdebstrap --variant=minbase --mode=root --quiet "${aptopts[@]}" \
        --customize-hook='printf "#!/bin/sh\nexit 101\n" > "$1/usr/sbin/policy-rc.d"; chmod 755 "$1/usr/sbin/policy-rc.d"' \
        "$@" bookworm "$root" "$sources"
}

minroot_etc() {
    local root="$1"
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    cp /etc/hosts "$root/etc/hosts" 2>/dev/null || true
    mkdir -p "$root/usr/local/share/ca-certificates" "$root/etc/ssl/certs"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    fi
}
