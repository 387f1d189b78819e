"""A worker gives back the memory of a large answer (issue 15, point 6): it
does not keep a 20 MB response buffer, or the heap pages of the request
that built it, for the rest of its life."""

import json
import os

from harness import ServerTestCase

# script/test's sanitizer stage sets ASAN_OPTIONS for the whole run. ASan's
# allocator keeps freed memory in its quarantine (by design), so RssAnon
# says nothing there: that build checks the release path for memory errors
# and the answers, the normal build checks RssAnon as well.
SANITIZED = "ASAN_OPTIONS" in os.environ


def rss_anon_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon for %d" % pid)


class MemoryTest(ServerTestCase):
    server_options = {"workers": 1, "extra": {"max_response": "64M"}}

    def test_large_answer_memory_is_released(self):
        srv = self.server
        key = srv.new_key("memory")
        value = {"blob": "x" * (1024 * 1024)}
        for i in range(20):
            st = srv.request("PUT", "/v0/big/k%02d" % i, key=key, body=value, timeout=60)[0]
            self.assertEqual(st, 201)
        worker = srv.orchidd_pids()["workers"][0]
        st, h, body, doc = srv.request("GET", "/v0/big?limit=5", key=key, timeout=60)
        self.assertEqual(st, 200)
        before = rss_anon_kib(worker)
        # About 20 MiB of JSON in one response (a list of 20 items, 1 MiB each),
        # then a small request on the same (only) worker.
        st, h, body, doc = srv.request("GET", "/v0/big?limit=20", key=key, timeout=60)
        self.assertEqual(st, 200)
        self.assertGreater(len(body), 20 * 1024 * 1024)
        self.assertEqual(len(json.loads(body)["results"]), 20)
        st = srv.request("GET", "/v0/big/k00", key=key, timeout=60)[0]
        self.assertEqual(st, 200)
        self.assertEqual(srv.orchidd_pids()["workers"], [worker])
        after = rss_anon_kib(worker)
        if SANITIZED:
            return
        # A worker that kept the buffer holds 20+ MiB more; allow 8 MiB of noise.
        self.assertLess(after - before, 8 * 1024,
                        "RssAnon of the worker: %d KiB before, %d KiB after a 20 MiB answer"
                        % (before, after))
