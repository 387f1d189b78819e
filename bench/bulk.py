#!/usr/bin/env python3
"""Bulk import benchmark (issue 10): items/s through POST /v0 against single
PUTs, and through `orchidctl import`, in one run on this machine.

Starts orchidd + nginx through tests/e2e/harness.py (4 workers, durability
sync: every acknowledged write is on disk), preloads ORCHID_NKEYS (10,000)
items for put.lua, then runs with wrk (BENCH_SECONDS each, default 10):
  single PUT   bench/lua/put.lua, -t2 -c64: one item per request
  bulk         bench/lua/bulk.lua, -t2 -c4: ORCHID_BULK_OPS (250) new items
               per request, one log flush per request
and prints items/s for both and their ratio (the issue's goal: >= 5x). Then
writes an export-stream file of ORCHID_IMPORT_ITEMS (200,000) item
operations and times `orchidctl import` of it into a new tenant while the
server runs. Run: script/build && python3 bench/bulk.py
"""
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import harness  # noqa: E402

SECS = int(os.environ.get("BENCH_SECONDS", "10"))
OPS = int(os.environ.get("ORCHID_BULK_OPS", "250"))
NKEYS = int(os.environ.get("ORCHID_NKEYS", "10000"))
IMPORT_ITEMS = int(os.environ.get("ORCHID_IMPORT_ITEMS", "200000"))


def wrk(script, srv, env, threads, conns):
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % SECS, "--latency",
           "--timeout", "30s", "-s", os.path.join(HERE, "lua", script),
           "http://127.0.0.1:%d" % srv.port]
    out = subprocess.run(cmd, env=dict(os.environ, **env), capture_output=True, text=True,
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = re.search(r"bulk requests not fully successful: (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (int(bad.group(1)) if bad else 0)
    return rps, lat.get("50"), lat.get("99"), errors


def write_import_file(path, n):
    value = ('{"name":"bench item","owner":"orchid-bench","seq":%d,"tags":["alpha","beta",'
             '"gamma"],"active":true,"note":"the quick brown fox jumps over the lazy dog"}')
    with open(path, "w") as f:
        for i in range(n):
            f.write('{"kind":"item","path":{"collection":"imported","key":"i%d","kind":"item"},'
                    '"value":%s}\n' % (i, value % i))
        # As an export ends: orchidctl import checks the count.
        f.write('{"kind":"end","lines":%d}\n' % n)
    return os.path.getsize(path)


def main():
    srv = harness.Server(workers=4, durability="sync", extra={"cache_size": "256M"})
    srv.start()
    try:
        key = srv.new_key("bench")
        subprocess.run([sys.executable, os.path.join(HERE, "preload.py"), srv.url, key,
                        "bench", str(NKEYS), "16"], check=True, stdout=subprocess.DEVNULL)
        env = {"ORCHID_KEY": key, "ORCHID_COLLECTION": "bench", "ORCHID_NKEYS": str(NKEYS)}
        put = wrk("put.lua", srv, env, 2, 64)
        env_b = dict(env, ORCHID_COLLECTION="bulk", ORCHID_BULK_OPS=str(OPS))
        bulk = wrk("bulk.lua", srv, env_b, 2, 4)
        print("| run | requests/s | items/s | p50 | p99 | errors |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        print("| single PUT, c64 | %.0f | %.0f | %s | %s | %d |"
              % (put[0], put[0], put[1], put[2], put[3]))
        print("| bulk POST /v0, %d ops, c4 | %.1f | %.0f | %s | %s | %d |"
              % (OPS, bulk[0], bulk[0] * OPS, bulk[1], bulk[2], bulk[3]))
        print("bulk / single PUT (items/s): %.1f" % (bulk[0] * OPS / put[0]))

        with tempfile.TemporaryDirectory(prefix="orchid-bulkbench-") as tmp:
            path = os.path.join(tmp, "import.jsonl")
            size = write_import_file(path, IMPORT_ITEMS)
            srv.orchidctl("key", "create", "imported")
            t = time.monotonic()
            r = srv.orchidctl("import", "imported", path, timeout=3600)
            secs = time.monotonic() - t
            print("orchidctl import: %d items (%.1f MB) in %.1f s: %.0f items/s, %.1f MB/s"
                  % (IMPORT_ITEMS, size / 1e6, secs, IMPORT_ITEMS / secs, size / 1e6 / secs))
            print(r.stdout.decode().strip().splitlines()[-1] if r.stdout else "")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
