#!/usr/bin/env python3
"""Search benchmark (issue 11), everything in one run on this machine.

Starts orchidd + nginx through tests/e2e/harness.py (4 workers, durability
sync unless BENCH_DURABILITY says otherwise) and loads ORCHID_ITEMS (100,000)
items through bulk POST /v0 (250 a request): each item has a title of words
from a 1,000-word vocabulary, a category (one of 20), a price, a date and a
location. Then it measures:
  indexing     items/s from the first bulk request until a search covers
               every item (a search waits up to search_wait, then 503: it
               asks again), and orchidctl reindex of the tenant (docs/s)
  one term     GET /v0/items?query=title:<word>   wrk -t2 -c16, p50/p99
  boolean+sort title:w1 AND category:c3 AND price:[100 TO 500]&sort=value.price:desc
  aggregate    query=* &aggregate=value.price:stats,value.category:top_values
               (every match: 100,000 documents)
  write to hit PUTs paced at BENCH_WRITE_RATE (1000/s) by 8 threads; after
               each 2xx of a sample, the time until a search returns the
               item (p50, p99): the search itself waits for the index
  PUT on/off   wrk PUT (bench/lua/put.lua, -c64) with search = 0, then
               search = 1, then indexer_yield = 0 (orchidd restarted for
               each), BENCH_ROUNDS times: the ratios, and after each run
               with search on the time the index took to catch up
BENCH_SECONDS (5) per wrk run, BENCH_ROUNDS (3) rounds of PUT on/off.
Prints a table for docs/performance.md.
Run: script/build && python3 bench/search.py
"""
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import harness  # noqa: E402

N = int(os.environ.get("ORCHID_ITEMS", "100000"))
SECS = int(os.environ.get("BENCH_SECONDS", "5"))
RATE = int(os.environ.get("BENCH_WRITE_RATE", "1000"))
DURABILITY = os.environ.get("BENCH_DURABILITY", "sync")
CT = {"Content-Type": "application/orchestrate-export-stream+json"}
rnd = random.Random(11)
WORDS = ["w%03d" % i for i in range(1000)]


def item(i):
    title = " ".join(rnd.choice(WORDS) for _ in range(6))
    return {"title": title, "category": "c%d" % (i % 20), "price": (i * 7919) % 1000,
            "date": "2016-%02d-%02d" % (i % 12 + 1, i % 28 + 1),
            "loc": {"lat": 40 + (i % 100) / 100.0, "lon": -74 + (i % 57) / 100.0}}


def bulk(srv, key, coll, start, count):
    lines = [json.dumps({"kind": "item", "path": {"collection": coll, "key": "i%d" % i},
                         "value": item(i)}) for i in range(start, start + count)]
    st, _, body, doc = srv.request("POST", "/v0", key=key, raw_body="\n".join(lines).encode(),
                                   headers=CT, timeout=120)
    if st != 200 or doc.get("status") != "success":
        sys.exit("search.py: bulk load failed: %d %s" % (st, body[:300]))


def qs(query, **extra):
    extra["query"] = query
    return urllib.parse.urlencode(extra, quote_via=urllib.parse.quote)


def wrk(srv, key, path, script="events_read.lua", conns=16, env=None):
    cmd = ["wrk", "-t%d" % min(2, conns), "-c%d" % conns, "-d%ds" % SECS, "--latency", "--timeout", "10s",
           "-s", os.path.join(HERE, "lua", script), "http://127.0.0.1:%d" % srv.port]
    e = dict(os.environ, ORCHID_KEY=key, ORCHID_URLPATH=path or "")
    e.update(env or {})
    out = subprocess.run(cmd, env=e, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat.get("50"), lat.get("99"), int(non2xx.group(1)) if non2xx else 0


def caught_up(srv, key):
    """Seconds until a search covers every write so far (each search waits
    up to search_wait, then 503: ask again)."""
    t0 = time.monotonic()
    while srv.request("GET", "/v0/items?query=*&limit=0", key=key, timeout=120)[0] != 200:
        pass
    return time.monotonic() - t0


def restart(srv, **settings):
    srv.stop_orchidd()
    srv.extra.update(settings)
    srv._write_orchidd_conf()
    srv.start_orchidd()
    srv.wait_ready()


def put_on_off(srv, key, env):
    """wrk PUT c64 with search off, on (indexer_yield 1), on (indexer_yield
    0), in BENCH_ROUNDS rounds (3): each round's figures, the time the index
    took to catch up after each run with search on, and the median ratios.
    Each run starts the same way: orchidd restarted with the index caught up
    with every earlier write. (A start with search on after one with it off
    rebuilds the index: that build is waited for, then orchidd restarted
    again. The VM's speed drifts within minutes, hence rounds.)"""
    ratios, ratios0 = [], []
    for rnd in range(int(os.environ.get("BENCH_ROUNDS", "3"))):
        res = {}
        for name, settings in (("off", {"search": "0"}),
                               ("on", {"search": "1", "indexer_yield": "1"}),
                               ("eager", {"search": "1", "indexer_yield": "0"})):
            was_off = srv.extra.get("search", "1") == "0"
            if not was_off:
                caught_up(srv, key)
            restart(srv, **settings)
            if name != "off" and was_off:
                caught_up(srv, key)
                restart(srv)
            r = wrk(srv, key, None, "put.lua", 64, env)
            lag = caught_up(srv, key) if name != "off" else 0.0
            res[name] = r + (lag,)
        on, eager, off = res["on"], res["eager"], res["off"]
        ratios.append(on[0] / off[0])
        ratios0.append(eager[0] / off[0])
        print("durable PUT c64 (%s), round %d: search off %.0f req/s (p99 %s), on %.0f req/s "
              "(p99 %s; index caught up %.1f s after), on with indexer_yield = 0 %.0f req/s "
              "(p99 %s; caught up %.1f s after): on/off %.2f, on (yield 0)/off %.2f"
              % (DURABILITY, rnd + 1, off[0], off[2], on[0], on[2], on[4], eager[0],
                 eager[2], eager[4], ratios[-1], ratios0[-1]), flush=True)
    print("median on/off %.2f, on (yield 0)/off %.2f" % (statistics.median(ratios),
                                                       statistics.median(ratios0)))


def write_to_hit(srv, key, seconds):
    """PUTs at RATE/s from 8 threads; every 10th write is then searched."""
    lat, misses, lock = [], [0], threading.Lock()
    stop = time.monotonic() + seconds
    per_thread = RATE / 8.0

    def run(t):
        n = 0
        start = time.monotonic()
        while time.monotonic() < stop:
            k = "wh%d_%d" % (t, n)
            token = "tok%dx%d" % (t, n)
            st = srv.request("PUT", "/v0/fresh/" + k, key=key, body={"t": token})[0]
            if st == 201 and n % 10 == 0:
                t0 = time.monotonic()
                st2, _, _, doc = srv.request("GET", "/v0/fresh?" + qs("t:" + token), key=key)
                dt = (time.monotonic() - t0) * 1000
                with lock:
                    if st2 == 200 and doc["count"] == 1:
                        lat.append(dt)
                    else:
                        misses[0] += 1
            n += 1
            delay = start + n / per_thread - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    lat.sort()
    p = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] if lat else float("nan")  # noqa: E731
    return len(lat), misses[0], p(0.5), p(0.99)


def main():
    srv = harness.Server(workers=4, durability=DURABILITY, extra={"cache_size": "256M"})
    srv.start()
    rows = []
    try:
        key = srv.new_key("bench")
        t0 = time.monotonic()
        for s in range(0, N, 250):
            bulk(srv, key, "items", s, min(250, N - s))
        loaded = time.monotonic() - t0
        # A search waits for the index (search_wait, 5 s), then 503: ask
        # again until one is answered; it covers every item loaded.
        while True:
            st, _, body, doc = srv.request("GET", "/v0/items?" + qs("*", limit=0), key=key,
                                           timeout=600)
            if st != 503:
                break
        indexed = time.monotonic() - t0
        assert st == 200 and doc["total_count"] == N, body[:300]
        print("bulk load of %d items: %.1f s (%.0f items/s); searchable after %.1f s "
              "(%.0f items/s end to end)" % (N, loaded, N / loaded, indexed, N / indexed))
        t1 = time.monotonic()
        out = srv.orchidctl("reindex", "bench", timeout=1800).stdout.decode()
        reidx = time.monotonic() - t1
        print("orchidctl reindex: %.1f s (%.0f documents/s); last line: %s" % (
            reidx, N / reidx, out.strip().splitlines()[-1]))
        word = WORDS[17]
        cases = [
            ("one term", "/v0/items?" + qs("title:" + word)),
            ("3-clause boolean + sort", "/v0/items?" + qs(
                "title:%s AND category:c3 AND price:[100 TO 500]" % word,
                sort="value.price:desc")),
            ("aggregate over all (stats + top_values)", "/v0/items?" + qs(
                "*", limit=0, aggregate="value.price:stats,value.category:top_values")),
        ]
        for label, path in cases:
            st, _, body, doc = srv.request("GET", path, key=key)
            assert st == 200, body[:300]
            for conns in (1, 16):
                rows.append((label, doc["total_count"], conns) + wrk(srv, key, path, conns=conns))
                time.sleep(1)
        print("| query | matches | connections | req/s | p50 | p99 | non-2xx |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            print("| %s | %d | %d | %.0f | %s | %s | %d |" % r)
        n, miss, p50, p99 = write_to_hit(srv, key, max(SECS, 10))
        print("\nwrite to first hit at %d writes/s: %d samples, %d misses, p50 %.1f ms, "
              "p99 %.1f ms" % (RATE, n, miss, p50, p99))
        env = {"ORCHID_COLLECTION": "items", "ORCHID_NKEYS": str(min(N, 10000))}
        # Keys of put.lua are k<N>: preload them so PUTs are updates.
        for s in range(0, 10000, 250):
            lines = [json.dumps({"kind": "item", "path": {"collection": "items", "key": "k%d" % i},
                                 "value": item(i)}) for i in range(s, s + 250)]
            srv.request("POST", "/v0", key=key, raw_body="\n".join(lines).encode(), headers=CT,
                        timeout=120)
        put_on_off(srv, key, env)
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
