#!/usr/bin/env python3
"""Events benchmark: one key holding a million events (issue: the cost of a
page must not grow with the stream).

Starts orchidd + nginx through tests/e2e/harness.py, loads ORCHID_EVENTS
(default 1,000,000) events into /v0/bench/big/events/e with wrk (durability
= write while loading, to save time; reads do not depend on it), loads 1,000
into /v0/bench/small/events/e, then measures with wrk (-t2 -c16, BENCH_SECONDS
each, default 5) on both keys:
  first page     GET .../events/e?limit=10
  deep page      GET .../events/e?limit=10&beforeEvent=<ts near the oldest>
  narrow range   GET .../events/e?startEvent=<ts>&endEvent=<ts+50>
  single event   GET .../events/e/<ts>/<ordinal>
and prints a table (req/s, p50, p99). Run: script/build && python3 bench/events.py
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import harness  # noqa: E402

TS0 = 1500000000000
N = int(os.environ.get("ORCHID_EVENTS", "1000000"))
SECS = int(os.environ.get("BENCH_SECONDS", "5"))


def wrk(script, port, env, conns=16, secs=SECS, threads=2):
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "--latency", "--timeout", "10s",
           "-s", os.path.join(HERE, "lua", script)]
    cmd += ["-d%ds" % secs]
    cmd.append("http://127.0.0.1:%d" % port)
    out = subprocess.run(cmd, env=dict(os.environ, **env), capture_output=True,
                         text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat.get("50"), lat.get("99"), int(non2xx.group(1)) if non2xx else 0, out


def load(srv, key, path, n, conns):
    """POSTs n events (a few more: requests in flight when a thread has its
    share) with events_load.lua; returns the seconds taken."""
    done = tempfile.mkdtemp(prefix="orchid-evload-")
    env = dict(os.environ, ORCHID_KEY=key, ORCHID_EVENTS=str(n), ORCHID_EVPATH=path,
               ORCHID_TS0=str(TS0), ORCHID_THREADS="2", ORCHID_DONEDIR=done)
    t = time.time()
    wrk_p = subprocess.Popen(["wrk", "-t2", "-c%d" % conns, "-d3600s", "--timeout", "10s",
                              "-s", os.path.join(HERE, "lua", "events_load.lua"),
                              "http://127.0.0.1:%d" % srv.port],
                             env=env, stdout=subprocess.DEVNULL)
    try:
        while len(os.listdir(done)) < 2:
            if wrk_p.poll() is not None:
                sys.exit("events.py: wrk ended before loading %s" % path)
            time.sleep(0.05)
        secs = time.time() - t
        for f in os.listdir(done):
            with open(os.path.join(done, f)) as fh:
                what = fh.read()
            if not what.startswith("ok"):
                sys.exit("events.py: loading %s: %s" % (path, what))
    finally:
        wrk_p.terminate()
        wrk_p.wait()
        shutil.rmtree(done, ignore_errors=True)
    return secs


def main():
    srv = harness.Server(workers=4, durability="write", extra={"cache_size": "512M"})
    srv.start()
    try:
        key = srv.new_key("bench")
        secs = load(srv, key, "/v0/bench/big/events/e", N, 32)
        st, _, _, doc = srv.request("GET", "/v0/bench/big/events/e?limit=1", key=key)
        newest = doc["results"][0]
        print("loaded %d events in %.0f s (%.0f/s)" % (N, secs, N / secs))
        load(srv, key, "/v0/bench/small/events/e", 1000, 8)
        stats = srv.orchidctl("stats").stdout.decode()
        print("\n".join(l for l in stats.splitlines() if l.startswith(("events.db", "cache"))))
        rows = []
        for name, big in (("big (%d)" % N, True), ("small (1000)", False)):
            base = "/v0/bench/%s/events/e" % ("big" if big else "small")
            count = N if big else 1000
            deep_ts = TS0 + count // 100  # 1% from the oldest end
            mid = TS0 + count // 2
            one = srv.request("GET", base + "?limit=1&endEvent=%d" % mid, key=key)[3]["results"][0]
            cases = [
                ("first page", base + "?limit=10"),
                ("deep page", base + "?limit=10&beforeEvent=%d" % deep_ts),
                ("narrow range", base + "?startEvent=%d&endEvent=%d" % (mid, mid + 50)),
                ("single event", "%s/%d/%d" % (base, one["timestamp"], one["ordinal"])),
            ]
            for label, path in cases:
                st, _, body, doc = srv.request("GET", path, key=key)
                assert st == 200, body
                rps, p50, p99, bad, _ = wrk("events_read.lua", srv.port,
                                            {"ORCHID_KEY": key, "ORCHID_URLPATH": path})
                rows.append((name, label, rps, p50, p99, bad))
        print("\n| stream | query | req/s | p50 | p99 | non-2xx |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for r in rows:
            print("| %s | %s | %.0f | %s | %s | %d |" % r)
        print("\nnewest event:", json.dumps(newest["path"]))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
