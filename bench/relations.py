#!/usr/bin/env python3
"""Relations benchmark (issue 10): one-hop traversal of an item with
ORCHID_FANOUT (100,000) relations against an item with 10.

Starts orchidd + nginx through tests/e2e/harness.py (4 workers), loads
through bulk POST /v0 (250 operations a request): the target items
t0 .. t<FANOUT-1>, then relations "link" from src/hub to every target and
from src/small to the first 10. Then measures with wrk (-t2 -c16,
BENCH_SECONDS each, default 5; bench/lua/events_read.lua GETs one path):
  first page       GET /v0/src/<item>/relations/link?limit=10
  next page        the first page's "next" link (its position token)
  deep, by offset  ?limit=10&offset=<FANOUT/2>   (walks offset relations;
                   max_traversal is raised to 2 x FANOUT for it)
  deep, by token   the "next" link of that deep page
and prints a table (req/s, p50, p99). The page cost of the hub should
match the small item's except for the offset row.
Run: script/build && python3 bench/relations.py
"""
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import harness  # noqa: E402

FANOUT = int(os.environ.get("ORCHID_FANOUT", "100000"))
SECS = int(os.environ.get("BENCH_SECONDS", "5"))
CT = {"Content-Type": "application/orchestrate-export-stream+json"}


def bulk(srv, key, lines):
    for i in range(0, len(lines), 250):
        st, _, body, doc = srv.request("POST", "/v0", key=key, raw_body="\n".join(
            lines[i:i + 250]).encode(), headers=CT, timeout=120)
        if st != 200 or doc.get("status") != "success":
            sys.exit("relations.py: bulk load failed: %d %s" % (st, body[:300]))


def wrk(srv, key, path):
    cmd = ["wrk", "-t2", "-c16", "-d%ds" % SECS, "--latency", "--timeout", "10s",
           "-s", os.path.join(HERE, "lua", "events_read.lua"), "http://127.0.0.1:%d" % srv.port]
    out = subprocess.run(cmd, env=dict(os.environ, ORCHID_KEY=key, ORCHID_URLPATH=path),
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat.get("50"), lat.get("99"), int(non2xx.group(1)) if non2xx else 0


def main():
    # max_traversal above the fan-out, so that the deep page by offset is
    # answered (its cost is what it shows); the token pages need no such room.
    srv = harness.Server(workers=4, durability="write",
                         extra={"cache_size": "256M", "max_traversal": str(2 * FANOUT)})
    srv.start()
    try:
        key = srv.new_key("bench")
        item = '{"kind":"item","path":{"collection":"%s","key":"%s"},"value":{"n":%d}}'
        rel = ('{"source":{"collection":"src","key":"%s"},"destination":{"collection":"targets",'
               '"key":"t%d"},"relation":"link","value":{"w":%d}}')
        bulk(srv, key, [item % ("src", "hub", 0), item % ("src", "small", 0)])
        bulk(srv, key, [item % ("targets", "t%d" % i, i) for i in range(FANOUT)])
        bulk(srv, key, [rel % ("hub", i, i) for i in range(FANOUT)])
        bulk(srv, key, [rel % ("small", i, i) for i in range(10)])
        rows = []
        for name, count in (("hub", FANOUT), ("small", 10)):
            base = "/v0/src/%s/relations/link" % name
            first = base + "?limit=10"
            st, _, body, doc = srv.request("GET", first, key=key)
            assert st == 200 and doc["count"] == 10, body[:300]
            cases = [("first page", first)]
            if "next" in doc:  # the small item's 10 fit on its first page
                cases.append(("next page", doc["next"]))
            if count > 20:
                deep = base + "?limit=10&offset=%d" % (count // 2)
                st, _, body, ddoc = srv.request("GET", deep, key=key)
                assert st == 200 and ddoc["count"] == 10, body[:300]
                cases += [("deep, by offset", deep), ("deep, by token", ddoc["next"])]
            for label, path in cases:
                rows.append(("%s (%d)" % (name, count), label) + wrk(srv, key, path))
                # Let requests still running after wrk stopped (the slow
                # offset pages) finish before the next measurement.
                time.sleep(3)
        print("| item (relations) | page | req/s | p50 | p99 | non-2xx |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for r in rows:
            print("| %s | %s | %.0f | %s | %s | %d |" % r)
        st, _, body, doc = srv.request("GET", "/v0/src/hub/relations/link?limit=10", key=key)
        print("\nexample next link:", json.dumps(doc.get("next")))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
