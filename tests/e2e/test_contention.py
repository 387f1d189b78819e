"""Many writers inserting new keys into one collection at once (as a bulk
loader or bench/preload.py does): Berkeley DB picks deadlock losers among
them, and every loser's retry must get through (deadlock_retries, default
20), so that every PUT is answered 201 and stored. With the pause before a
retry growing 0.2 ms a time and in step for all losers, 16 such writers saw
PUTs give up with 503 after 21 deadlocks; the pause now doubles, with a
random factor (store.c retry_pause)."""

import threading

from harness import ServerTestCase

WRITERS = 16
PER_WRITER = 150


class ConcurrentInsertTest(ServerTestCase):
    server_options = {"workers": 16}

    def test_every_concurrent_insert_is_stored(self):
        key = self.server.new_key("contention")
        failures = []
        lock = threading.Lock()

        def writer(t):
            for j in range(PER_WRITER):
                i = j * WRITERS + t
                st, _, data, _ = self.server.request(
                    "PUT", "/v0/load/k%d" % i, key=key, body={"i": i, "pad": "x" * 150},
                    timeout=60)
                if st != 201:
                    with lock:
                        failures.append((i, st, data))

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(WRITERS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertEqual(failures, [], "PUTs not answered 201 (first 5): %r" % failures[:5])
        total = 0
        path = "/v0/load?limit=100"
        while path:
            st, _, _, body = self.server.request("GET", path, key=key)
            self.assertEqual(st, 200)
            total += body["count"]
            nxt = body.get("next")
            path = nxt if nxt else None
        self.assertEqual(total, WRITERS * PER_WRITER)
