#!/usr/bin/env python3
"""The documentation agrees with the code (make check: docs/check_docs.py).

1. orchidctl: every command `orchidctl --help` lists is in man/orchidctl.8's
   COMMANDS section and every command there is in --help; the same for the
   exit statuses (--help's "exit status:" and the man page's EXIT STATUS)
   and the environment variables (ENVIRONMENT).
2. orchidd.conf: every setting of src/config.c's settings[] table is in
   man/orchidd.conf.5's SETTINGS section and in conf/orchidd.conf (set, or
   commented out as "# name = value"), and every setting there is in the
   table; the range and default the man page states are the table's bounds
   and config_defaults()'s values, and every value conf/orchidd.conf sets is
   that default.

Prints one line per disagreement and exits 1, or exits 0. Sources are found
from this file's place (tests/docs/ in the source tree); orchidctl from
$ORCHIDCTL, else $abs_top_builddir/src/orchidctl, else the source tree's.
"""

import os
import re
import subprocess
import sys

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(rel):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return f.read()


def orchidctl_path():
    if os.environ.get("ORCHIDCTL"):
        return os.environ["ORCHIDCTL"]
    build = os.environ.get("abs_top_builddir") or SRC
    return os.path.join(build, "src", "orchidctl")


# ---- roff --------------------------------------------------------------------

def section(man, name):
    """The lines of the .SH section name (up to the next .SH)."""
    out, inside = [], False
    for line in man.splitlines():
        if line.startswith(".SH "):
            inside = line[4:].strip().strip('"') == name
            continue
        if inside:
            out.append(line)
    return out


def macro_args(rest):
    """The arguments of a macro line: words, or "quoted words"."""
    return [a[1:-1] if a.startswith('"') else a
            for a in re.findall(r'"[^"]*"|\S+', rest)]


def runs(line):
    """The text of a line as (font, text) runs: the font macros (.B, .BI,
    .BR, .I, .IR, .IB, .RB, .RI) and the inline \\fB \\fI \\fR \\fP."""
    fonts = {"B": "B", "I": "I", "R": "R"}
    m = re.match(r"\.(B|I|R|BI|BR|IB|IR|RB|RI)\s+(.*)$", line)
    pieces = []
    if m and len(m.group(1)) == 1:
        pieces = [(fonts[m.group(1)], " ".join(macro_args(m.group(2))))]
    elif m:
        pair = m.group(1)
        for i, a in enumerate(macro_args(m.group(2))):
            pieces.append((fonts[pair[i % 2]], a))
    elif not line.startswith("."):
        pieces = [("R", line)]
    out = []
    for font, text in pieces:
        for part in re.split(r"(\\f[BIRP])", text):
            if re.fullmatch(r"\\f[BIRP]", part):
                font = "R" if part[2] == "P" else part[2]
            elif part:
                out.append((font, part.replace("\\-", "-")))
    return out


def tagged(lines):
    """The tag lines of the .TP paragraphs of lines."""
    return [lines[i + 1] for i, l in enumerate(lines[:-1]) if l.strip() == ".TP"]


def man_command(tag):
    """A command named by a .TP tag: its leading bold words ("key create",
    "export")."""
    words = []
    for font, text in runs(tag):
        if font != "B":
            break
        for w in text.split():
            if not re.fullmatch(r"[a-z]+", w):
                return " ".join(words)
            words.append(w)
    return " ".join(words)


# ---- orchidctl --------------------------------------------------------------

def usage_sections(text):
    """--help's sections: {"commands": [lines], "exit status": [...], ...}."""
    out, name = {}, None
    for line in text.splitlines():
        m = re.fullmatch(r"([a-z ]+):", line)
        if m:
            name = m.group(1)
            out[name] = []
        elif name is not None and line.startswith("  "):
            out[name].append(line)
        else:
            name = None
    return out


def usage_commands(lines):
    """The commands of --help's "commands:" lines: the lowercase words that
    begin a line indented by two spaces."""
    cmds = []
    for line in lines:
        if line.startswith("   "):
            continue  # a description's continuation
        words = []
        # The command column ends where two spaces begin the description.
        for w in re.split(r"\s{2,}", line.strip())[0].split():
            if not re.fullmatch(r"[a-z]+", w):
                break
            words.append(w)
        if words:
            cmds.append(" ".join(words))
    return cmds


def check_orchidctl(errors):
    proc = subprocess.run([orchidctl_path(), "--help"], capture_output=True, timeout=60)
    if proc.returncode != 0 or proc.stderr:
        errors.append("orchidctl --help: exit %d, stderr %r (want 0 and nothing)"
                      % (proc.returncode, proc.stderr))
        return
    sec = usage_sections(proc.stdout.decode())
    man = read("man/orchidctl.8")

    helped = usage_commands(sec.get("commands", []))
    documented = [man_command(t) for t in tagged(section(man, "COMMANDS"))]
    compare(errors, "command", helped, "orchidctl --help", documented,
            "man/orchidctl.8 COMMANDS")

    helped = [l.split()[0] for l in sec.get("exit status", [])
              if re.match(r"  \d+ ", l)]
    documented = [t.split()[-1] for t in tagged(section(man, "EXIT STATUS"))]
    compare(errors, "exit status", helped, "orchidctl --help", documented,
            "man/orchidctl.8 EXIT STATUS")

    helped = sorted(set(re.findall(r"\b([A-Z][A-Z_]+)=", "\n".join(sec.get("environment", [])))))
    documented = [t.split()[-1] for t in tagged(section(man, "ENVIRONMENT"))]
    compare(errors, "environment variable", helped, "orchidctl --help", documented,
            "man/orchidctl.8 ENVIRONMENT")


# ---- orchidd.conf ------------------------------------------------------------

SUFFIX = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def c_number(expr):
    """A C integer expression of the table ("(int64_t)64 << 30",
    "INT32_MAX", "0777")."""
    expr = expr.replace("(int64_t)", "").strip()
    if expr == "INT32_MAX":
        return 2 ** 31 - 1
    m = re.fullmatch(r"(\d+)\s*<<\s*(\d+)", expr)
    if m:
        return int(m.group(1)) << int(m.group(2))
    if re.fullmatch(r"0[0-7]+", expr):
        return int(expr, 8)
    return int(expr)


def doc_number(text, kind):
    """A value as the man page or the sample config writes it."""
    if kind == "K_MODE":
        return int(text, 8)
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", text)
    if not m:
        return text
    return int(m.group(1)) * SUFFIX.get(m.group(2).lower(), 1)


def table_settings():
    """src/config.c's settings[]: {name: (kind, min, max)}."""
    src = read("src/config.c")
    body = src[src.index("settings[] = {"):]
    body = body[:body.index("};")]
    out = {}
    for m in re.finditer(r'\{\s*"([a-z_]+)",\s*(STR\(\w+\)|(K_\w+),\s*OFF\(\w+\),\s*'
                         r'[^,]+,\s*([^,]+),\s*([^}]+?))\s*\}', body):
        if m.group(2).startswith("STR("):
            out[m.group(1)] = ("K_STRING", None, None)
        else:
            out[m.group(1)] = (m.group(3), c_number(m.group(4)), c_number(m.group(5)))
    return out


def code_defaults():
    """config_defaults(): {name: value} (ints, or strings for the rest; a
    setting it leaves as memset made it, "" or 0, is absent; a computed
    one is None)."""
    src = read("src/config.c")
    body = src[src.index("config_defaults(struct config *c)"):]
    body = body[:body.index("\n}\n")]
    out = {}
    for m in re.finditer(r'snprintf\(c->(\w+), sizeof\(c->\w+\), "([^"]*)"\)', body):
        out[m.group(1)] = m.group(2)
    for m in re.finditer(r"c->(\w+) = ([^;]+);", body):
        name, expr = m.group(1), m.group(2).strip()
        if re.fullmatch(r"(DURABILITY|LOG_LEVEL)_(\w+)", expr):
            value = expr.split("_")[-1].lower()
            out[name] = "error" if value == "err" else value
        elif "(" in expr.replace("(int64_t)", ""):
            out[name] = None  # computed (config_default_workers)
        else:
            out[name] = c_number(expr)
    return out


def man_settings():
    """man/orchidd.conf.5's SETTINGS: {name: first line of its paragraph}."""
    lines = section(read("man/orchidd.conf.5"), "SETTINGS")
    out = {}
    for i, line in enumerate(lines[:-2]):
        if line.strip() == ".TP":
            m = re.fullmatch(r"\.B (\w+)", lines[i + 1])
            if m:
                # The type, range and default: up to the paragraph's first
                # full stop at a line's end.
                text = []
                for l in lines[i + 2:]:
                    text.append("".join(t for _, t in runs(l)))
                    if l.rstrip().endswith(".") and not l.startswith("."):
                        break
                out[m.group(1)] = " ".join(text)
            else:
                out.setdefault("?", []).append(lines[i + 1])
    return out


def conf_settings():
    """conf/orchidd.conf: {name: (value, commented)} for the lines that are
    a whole "name = value" or "# name = value"."""
    out = {}
    for line in read("conf/orchidd.conf").splitlines():
        m = re.fullmatch(r"(# )?([a-z_]+) = (\S+)", line)
        if m:
            out[m.group(2)] = (m.group(3), m.group(1) is not None)
    return out


def check_settings(errors):
    table = table_settings()
    defaults = code_defaults()
    man = man_settings()
    conf = conf_settings()
    for bad in man.pop("?", []):
        errors.append("man/orchidd.conf.5 SETTINGS: a tag that is not \".B name\": %s" % bad)
    compare(errors, "setting", list(table), "src/config.c settings[]", list(man),
            "man/orchidd.conf.5 SETTINGS")
    compare(errors, "setting", list(table), "src/config.c settings[]", list(conf),
            "conf/orchidd.conf")
    for name, (kind, lo, hi) in table.items():
        text = man.get(name)
        if text is None:
            continue
        # The range: "LO to HI" for numbers; a flag is 0 or 1.
        if kind in ("K_INT", "K_SIZE") and not (lo, hi) == (0, 1) and "flag" not in text:
            m = re.search(r"(\w+) to (\w+), default", text)
            got = (doc_number(m.group(1), kind), doc_number(m.group(2), kind)) if m else None
            if got != (lo, hi):
                errors.append("man/orchidd.conf.5: %s: range %s, want %d to %d "
                              "(src/config.c)" % (name, m.group(0) if m else "missing", lo, hi))
        if kind == "K_INT" and (lo, hi) == (0, 1) and not text.startswith("flag,"):
            errors.append("man/orchidd.conf.5: %s: want the type \"flag\" (0 or 1)" % name)
        # The default.
        # Absent: left as memset made it ("" or 0).
        want = defaults.get(name, "" if kind == "K_STRING" else 0)
        m = re.search(r"default (\S+?)[.,]?(?:\s|$)", text)
        if m is None:
            errors.append("man/orchidd.conf.5: %s: no default stated" % name)
        elif want is None:
            pass  # computed: the man page explains it
        elif want == "" and m.group(1) != "none":
            errors.append("man/orchidd.conf.5: %s: default %s, want none" % (name, m.group(1)))
        elif want != "" and doc_number(m.group(1), kind) != want:
            errors.append("man/orchidd.conf.5: %s: default %s, want %r (config_defaults)"
                          % (name, m.group(1), want))
        value, commented = conf.get(name, (None, True))
        if value is not None and not commented and want is not None and \
                doc_number(value, kind) != want:
            errors.append("conf/orchidd.conf: %s = %s, want the default %r "
                          "(config_defaults)" % (name, value, want))


def compare(errors, what, a, a_name, b, b_name):
    for x in a:
        if x not in b:
            errors.append("%s %r is in %s but not in %s" % (what, x, a_name, b_name))
    for x in b:
        if x not in a:
            errors.append("%s %r is in %s but not in %s" % (what, x, b_name, a_name))
    if not a:
        errors.append("no %s found in %s" % (what, a_name))


def main():
    errors = []
    check_orchidctl(errors)
    check_settings(errors)
    for e in errors:
        print("FAIL: " + e)
    if not errors:
        print("ok: orchidctl --help and man/orchidctl.8; src/config.c, "
              "man/orchidd.conf.5 and conf/orchidd.conf agree")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
