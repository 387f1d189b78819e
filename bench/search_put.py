#!/usr/bin/env python3
"""Durable PUT with search on against off, on a small index (issue 11).

4 workers, durability sync, 10,000 items preloaded (bench/search.py's
documents under keys k0..k9999), then wrk PUT (bench/lua/put.lua, -c64,
BENCH_SECONDS) with search = 1, then orchidd restarted with indexer_yield =
0 and the same again, then with search = 0; prints the three, the ratios
and how long the index took to catch up (bench/search.py put_on_off). bench/search.py measures the same
with 110,000 documents in the index.
Run: script/build && python3 bench/search_put.py
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import search as B  # noqa: E402


def main():
    srv = harness.Server(workers=4, durability="sync", extra={"cache_size": "256M"})
    srv.start()
    try:
        key = srv.new_key("bench")
        for s in range(0, 10000, 250):
            lines = [json.dumps({"kind": "item", "path": {"collection": "items", "key": "k%d" % i},
                                 "value": B.item(i)}) for i in range(s, s + 250)]
            srv.request("POST", "/v0", key=key, raw_body="\n".join(lines).encode(),
                        headers=B.CT, timeout=120)
        more = int(os.environ.get("ORCHID_ITEMS", "0"))
        for s in range(0, more, 250):
            B.bulk(srv, key, "items", s, min(250, more - s))
        B.put_on_off(srv, key, {"ORCHID_COLLECTION": "items", "ORCHID_NKEYS": "10000"})
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
