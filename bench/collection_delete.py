#!/usr/bin/env python3
"""Collection delete benchmark (issue 9): DELETE of a collection of
ORCHID_ITEMS items (default 1,000,000).

Starts orchidd + nginx through tests/e2e/harness.py (4 workers), loads the
big collection with wrk (durability = write while loading, to save time)
and a small one of 10,000 items that a reader keeps reading, restarts
orchidd with durability = sync, then:
  1. before: GET load on the small collection (wrk -t2 -c16, BENCH_SECONDS,
     default 10) for the baseline p50/p99;
  2. DELETE /v0/big?force=true: the time to the 204;
  3. during: the same GET load while the maintainer reclaims the big
     collection in the background, until `orchidctl stats` shows the reclaim
     queue empty (wrk is stopped then): the reclaim time and the GET
     p50/p99 during it.
Prints a table. Run: script/build && python3 bench/collection_delete.py
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import harness  # noqa: E402

N = int(os.environ.get("ORCHID_ITEMS", "1000000"))
SECS = int(os.environ.get("BENCH_SECONDS", "10"))


def parse(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat.get("50"), lat.get("99"), int(non2xx.group(1)) if non2xx else 0


def get_load(srv, key, secs=None):
    """wrk GET load on the small collection; with secs None it runs until
    stopped (returns the Popen)."""
    cmd = ["wrk", "-t2", "-c16", "--latency", "--timeout", "10s",
           "-s", os.path.join(HERE, "lua", "get.lua"),
           "-d%ds" % (secs if secs else 3600), "http://127.0.0.1:%d" % srv.port]
    env = dict(os.environ, ORCHID_KEY=key, ORCHID_COLLECTION="small", ORCHID_NKEYS="10000")
    if secs:
        return parse(subprocess.run(cmd, env=env, capture_output=True, text=True,
                                    check=True).stdout)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)


def load(srv, key, coll, n, conns):
    done = tempfile.mkdtemp(prefix="orchid-itemload-")
    env = dict(os.environ, ORCHID_KEY=key, ORCHID_ITEMS=str(n), ORCHID_COLLECTION=coll,
               ORCHID_THREADS="2", ORCHID_DONEDIR=done)
    t = time.time()
    wrk_p = subprocess.Popen(["wrk", "-t2", "-c%d" % conns, "-d3600s", "--timeout", "10s",
                              "-s", os.path.join(HERE, "lua", "items_load.lua"),
                              "http://127.0.0.1:%d" % srv.port],
                             env=env, stdout=subprocess.DEVNULL)
    try:
        while len(os.listdir(done)) < 2:
            if wrk_p.poll() is not None:
                sys.exit("collection_delete.py: wrk ended before loading %s" % coll)
            time.sleep(0.1)
        for f in os.listdir(done):
            with open(os.path.join(done, f)) as fh:
                what = fh.read()
            if not what.startswith("ok"):
                sys.exit("collection_delete.py: loading %s: %s" % (coll, what))
    finally:
        wrk_p.terminate()
        wrk_p.wait()
        shutil.rmtree(done, ignore_errors=True)
    return time.time() - t


def queued(srv):
    out = srv.orchidctl("stats").stdout.decode()
    m = re.search(r"reclaim: (\d+) dropped collections queued", out)
    if not m:
        sys.exit("collection_delete.py: no reclaim line in orchidctl stats:\n" + out)
    return int(m.group(1))


def main():
    srv = harness.Server(workers=4, durability="write", extra={"cache_size": "512M"})
    srv.start()
    try:
        key = srv.new_key("bench")
        secs = load(srv, key, "big", N, 32)
        print("loaded %d items in %.0f s (%.0f/s)" % (N, secs, N / secs))
        # The read target: every key k0 .. k9999 (items_load.lua may skip
        # the first key of a thread: wrk discards one request() per thread).
        subprocess.run([sys.executable, os.path.join(HERE, "preload.py"), srv.url, key,
                        "small", "10000", "16"], check=True, stdout=subprocess.DEVNULL)
        srv.durability = "sync"
        srv._write_orchidd_conf()
        srv.restart()
        st, _, _, doc = srv.request("GET", "/v0", key=key)
        print("collections:", doc["results"])
        before = get_load(srv, key, SECS)
        t = time.time()
        st, _, body, _ = srv.request("DELETE", "/v0/big?force=true", key=key)
        answer = time.time() - t
        assert st == 204, body
        reader = get_load(srv, key)
        t = time.time()
        while queued(srv) > 0:
            time.sleep(0.2)
        reclaim = time.time() - t
        reader.send_signal(signal.SIGINT)
        during = parse(reader.communicate()[0])
        st, _, _, doc = srv.request("GET", "/v0/big?limit=1", key=key)
        assert doc["count"] == 0, doc
        print("\nDELETE /v0/big?force=true (%d items): 204 in %.3f s; reclaimed in %.1f s"
              % (N, answer, reclaim))
        print("\n| GET load on another collection | req/s | p50 | p99 | non-2xx |")
        print("| --- | ---: | ---: | ---: | ---: |")
        print("| before the DELETE | %.0f | %s | %s | %d |" % before)
        print("| during the reclaim | %.0f | %s | %s | %d |" % during)
        verify = None
        srv.stop_orchidd()
        verify = srv.orchidctl("verify", check=False)
        print("\norchidctl verify after the reclaim: exit %d" % verify.returncode)
        print("\n".join(verify.stdout.decode().splitlines()[-5:]))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
