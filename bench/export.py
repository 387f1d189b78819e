#!/usr/bin/env python3
"""Export benchmark: how fast a collection leaves Orchid, over HTTP and
through orchidctl.

Starts orchidd + nginx through tests/e2e/harness.py, preloads ORCHID_EXPORT_ITEMS
items (default 200,000) of about ORCHID_EXPORT_SIZE bytes each (default 1000)
into /v0/bench with POST /v0 (bulk, max_bulk_ops lines a request;
durability = write while loading), plus a second version of every tenth
item, then measures, BENCH_RUNS times each (default 3), the best and median
time of:
  HTTP            GET /v0/bench?export=true through nginx, read by curl
  HTTP history    the same with history=true (every version)
  orchidctl       orchidctl export TENANT bench > /dev/null, orchidd running
  orchidctl idle  the same with orchidd stopped (orchidctl recovers first)
and prints lines/s (items, or versions with history) and MB/s (of the
stream's bytes) for each. Every run checks that the stream ended whole
(curl and orchidctl exit 0, and its last line is the end line
{"kind":"end","lines":N}) and has the expected number of lines. The
stream is read by a separate process (curl, or this script from
orchidctl's pipe), as a client would; on a 2-CPU machine the reader
competes with the worker and nginx.
Run: script/build && python3 bench/export.py
"""
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import harness  # noqa: E402

N = int(os.environ.get("ORCHID_EXPORT_ITEMS", "200000"))
SIZE = int(os.environ.get("ORCHID_EXPORT_SIZE", "1000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
CHUNK = 1000  # max_bulk_ops (the default)


def preload(srv, key):
    """POSTs N items (and a second version of every tenth) as bulk streams."""
    filler = "x" * max(0, SIZE - 40)
    ops = ['{"path":{"collection":"bench","key":"k%08d"},"value":{"i":%d,"f":"%s"}}'
           % (i, i, filler) for i in range(N)]
    ops += ['{"path":{"collection":"bench","key":"k%08d"},"value":{"i":%d,"v":2,"f":"%s"}}'
            % (i, i, filler) for i in range(0, N, 10)]
    t = time.monotonic()
    for i in range(0, len(ops), CHUNK):
        body = "\n".join(ops[i:i + CHUNK]) + "\n"
        st, _, raw, doc = srv.request("POST", "/v0", key=key, raw_body=body, timeout=300,
                                      headers={"Content-Type": "application/json"})
        if st != 200 or doc["success_count"] != len(ops[i:i + CHUNK]):
            sys.exit("export.py: preload failed: %d %s" % (st, raw[:300]))
    return len(ops), time.monotonic() - t


def count_pipe(args):
    """Runs args, reading its standard output to the end; returns (seconds,
    bytes, lines before the end line, exit status, standard error). A
    stream whose last line is not its end line, with the count of the
    lines before it, is a failure."""
    t = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    total, lines, tail = 0, 0, b""
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
        lines += chunk.count(b"\n")
        tail = (tail + chunk)[-64:]
    err = p.stderr.read()
    rc = p.wait()
    want = b'\n{"kind":"end","lines":%d}\n' % (lines - 1)
    if rc == 0 and not (tail.endswith(want) or tail == want[1:]):
        sys.exit("export.py: %s: the stream does not end with %r: %r"
                 % (args[0], want[1:], tail))
    return time.monotonic() - t, total, lines - 1, rc, err


def http_export(srv, key, query):
    """curl reads GET /v0/bench?QUERY through nginx (curl exits non-zero
    when the transfer breaks); returns (seconds, bytes, lines)."""
    secs, total, lines, rc, err = count_pipe(
        ["curl", "-sS", "--fail", "-u", key + ":", "%s/v0/bench?%s" % (srv.url, query)])
    if rc != 0:
        sys.exit("export.py: curl exited %d: %s" % (rc, err.decode()))
    return secs, total, lines


def ctl_export(srv, history):
    """orchidctl export to a pipe read here; returns (seconds, bytes, lines)."""
    args = [harness.ORCHIDCTL, "-c", srv.conf_path, "export"]
    args += ["--history"] if history else []
    secs, total, lines, rc, err = count_pipe(args + ["bench", "bench"])
    if rc != 0:
        sys.exit("export.py: orchidctl export failed: %s" % err.decode())
    return secs, total, lines


def measure(label, fn, want_lines, rows):
    times, size = [], 0
    for _ in range(RUNS):
        secs, size, lines = fn()
        if lines != want_lines:
            sys.exit("export.py: %s wrote %d lines, want %d" % (label, lines, want_lines))
        times.append(secs)
    best, med = min(times), statistics.median(times)
    rows.append((label, want_lines, size / 1e6, best, med, want_lines / best,
                 size / 1e6 / best))


def main():
    srv = harness.Server(workers=2, durability="write", extra={"cache_size": "512M"})
    srv.start()
    try:
        key = srv.new_key("bench")
        ops, secs = preload(srv, key)
        print("preloaded %d items (%d versions) of about %d bytes in %.0f s"
              % (N, ops, SIZE, secs))
        rows = []
        measure("HTTP", lambda: http_export(srv, key, "export=true"), N, rows)
        measure("HTTP history", lambda: http_export(srv, key, "export=true&history=true"),
                ops, rows)
        measure("orchidctl", lambda: ctl_export(srv, False), N, rows)
        srv.stop_orchidd()
        measure("orchidctl idle", lambda: ctl_export(srv, False), N, rows)
        print("\nbest and median of %d runs; rates from the best" % RUNS)
        print("| via | lines | MB | best s | median s | lines/s | MB/s |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            print("| %s | %d | %.1f | %.2f | %.2f | %.0f | %.1f |" % r)
        print("\nmachine: %d CPUs; %s" % (os.cpu_count(), json.dumps(
            {"items": N, "size": SIZE, "runs": RUNS})))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
