#!/usr/bin/env python3
"""Preload items for script/bench: PUT /v0/COLLECTION/k0 .. k<N-1>.

    preload.py URL KEY COLLECTION N [CONCURRENCY]
    preload.py --etcd URL N [CONCURRENCY]

URL is http://127.0.0.1:PORT. Each of CONCURRENCY threads keeps one
keep-alive connection to nginx and PUTs its share of the keys; every answer
must be 201. Prints the count and the rate; exits 1 on any other status.
With --etcd the same values go to the keys COLLECTION/k0 .. of the etcd peer
(etcd 3.4's JSON gateway, POST /v3/kv/put; every answer must be 200).
Python 3 standard library only.
"""

import base64
import http.client
import sys
import threading
import time
import urllib.parse


def main():
    etcd = len(sys.argv) > 1 and sys.argv[1] == "--etcd"
    if etcd and len(sys.argv) in (4, 5):
        url, key, collection, n = sys.argv[2], "", "bench", int(sys.argv[3])
        conc = int(sys.argv[4]) if len(sys.argv) == 5 else 16
    elif not etcd and len(sys.argv) in (5, 6):
        url, key, collection, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
        conc = int(sys.argv[5]) if len(sys.argv) == 6 else 16
    else:
        sys.stderr.write(__doc__)
        return 2
    u = urllib.parse.urlsplit(url)
    auth = "Basic " + base64.b64encode((key + ":").encode()).decode()
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    if etcd:
        headers = {"Content-Type": "application/json"}
    want = 200 if etcd else 201

    def b64(text):
        return base64.b64encode(text.encode()).decode()
    failures = []
    lock = threading.Lock()

    def worker(t):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        for i in range(t, n, conc):
            # ~200 bytes, like bench/lua/put.lua.
            body = ('{"name":"bench item","owner":"orchid-bench","thread":0,'
                    '"seq":%d,"rand":%d,"tags":["alpha","beta","gamma"],'
                    '"active":true,"score":%d.5,'
                    '"note":"the quick brown fox jumps over the lazy dog"}'
                    % (i, i * 7919 % 1000000007, i % 10000))
            method, path = "PUT", "/v0/%s/k%d" % (collection, i)
            if etcd:
                method, path = "POST", "/v3/kv/put"
                body = '{"key":"%s","value":"%s"}' % (b64("%s/k%d" % (collection, i)), b64(body))
            for attempt in range(2):
                try:
                    conn.request(method, path, body, headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    break
                except (http.client.HTTPException, OSError):
                    # nginx closed the keep-alive connection (keepalive_requests).
                    conn.close()
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                    if attempt == 1:
                        raise
            if resp.status != want:
                with lock:
                    failures.append((i, resp.status, data[:200]))
                    if len(failures) > 10:
                        return
        conn.close()

    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(conc)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - start
    if failures:
        for i, status, data in failures[:10]:
            sys.stderr.write("preload: k%d -> %d %r\n" % (i, status, data))
        return 1
    print("preloaded %d items in %.1f s (%.0f PUT/s, %d connections)"
          % (n, elapsed, n / elapsed, conc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
