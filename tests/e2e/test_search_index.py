"""The search index's life (docs/storage.md "Search: outbox, indexer and
consistency"): a write is found by the next search with no sleep, also while
the indexer is killed again and again; orchidctl reindex rebuilds a tenant's
index with orchidd running (progress lines, then the same results) and with
orchidd stopped; a deleted index directory is rebuilt (503 with Retry-After
meanwhile, never a stale or empty answer); purges and collection deletes
leave the results at once."""

import os
import shutil
import signal
import time
import urllib.parse

from harness import ServerTestCase, run_threads


def q(text, **params):
    params["query"] = text
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def wait_for(pred, limit, interval=0.05):
    deadline = time.monotonic() + limit
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class SearchIndexTest(ServerTestCase):
    server_options = {"workers": 2}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("searchidx")

    def search(self, coll, text, key=None, **params):
        st, h, body, doc = self.server.request(
            "GET", "/v0/%s?%s" % (coll, q(text, **params)), key=key or self.key)
        return st, h, doc

    def found(self, coll, text, **params):
        st, h, doc = self.search(coll, text, **params)
        self.assertEqual(st, 200, doc)
        return sorted(r["path"]["key"] for r in doc["results"]), doc["total_count"]

    def put(self, coll, key, value):
        st, h, body, doc = self.server.request("PUT", "/v0/%s/%s" % (coll, key),
                                               key=self.key, body=value)
        self.assertEqual(st, 201, body)

    def test_write_then_search_no_sleep(self):
        for i in range(60):
            self.put("nosleep", "k%d" % i, {"word": "zebra%d" % i, "n": i})
            keys, total = self.found("nosleep", "word:zebra%d" % i)
            self.assertEqual(keys, ["k%d" % i])
        keys, total = self.found("nosleep", "*", limit=0)
        self.assertEqual(total, 60)

    def test_indexer_killed_while_writing(self):
        srv = self.server
        acked = []
        tried = []
        stop = []

        def writer():
            i = 0
            while not stop:
                tried.append("w%d" % i)
                st, h, body, doc = srv.request("PUT", "/v0/killed/w%d" % i, key=self.key,
                                               body={"title": "survivor", "i": i})
                if st == 201:
                    acked.append("w%d" % i)
                i += 1

        def killer():
            for _ in range(5):
                time.sleep(0.3)
                pid = srv.orchidd_pids()["indexer"]
                if pid:
                    os.kill(pid, signal.SIGKILL)
            stop.append(True)

        run_threads([writer, killer], timeout=120)
        self.assertGreater(len(acked), 10)
        # Every acknowledged write is found: the search waits for the
        # restarted indexer (search_wait) or answers 503, never less.
        def complete():
            st, h, doc = self.search("killed", "title:survivor", limit=0)
            if st == 503 and doc.get("code") == "search_index_unavailable":
                self.assertIn("retry-after", h)
                return None
            if st in (502, 503, 504):
                return None  # a kill inside Berkeley DB: the master recovers
            self.assertEqual(st, 200, doc)
            return doc["total_count"]
        total = wait_for(complete, 30)
        # A write answered 502 (its worker killed by a recovery) may have
        # been committed or not; an acknowledged one must be there.
        self.assertIsNotNone(total)
        self.assertGreaterEqual(total, len(acked))
        keys = set()
        for off in range(0, total, 100):
            st, h, doc = self.search("killed", "title:survivor", limit=100, offset=off)
            self.assertEqual(st, 200, doc)
            keys.update(r["path"]["key"] for r in doc["results"])
        self.assertEqual(len(keys), total)
        self.assertLessEqual(set(acked), keys)
        self.assertLessEqual(keys, set(tried))

    def test_purge_and_collection_delete(self):
        self.put("gone", "a", {"t": "vanish"})
        self.put("gone", "b", {"t": "vanish"})
        self.assertEqual(self.found("gone", "t:vanish")[0], ["a", "b"])
        st = self.server.request("DELETE", "/v0/gone/a?purge=true", key=self.key)[0]
        self.assertEqual(st, 204)
        self.assertEqual(self.found("gone", "t:vanish")[0], ["b"])
        st = self.server.request("DELETE", "/v0/gone/b", key=self.key)[0]
        self.assertEqual(st, 204)
        self.assertEqual(self.found("gone", "t:vanish")[0], [])
        self.put("gone2", "c", {"t": "vanish"})
        st = self.server.request("DELETE", "/v0/gone2?force=true", key=self.key)[0]
        self.assertEqual(st, 204)
        self.assertEqual(self.found("gone2", "t:vanish")[0], [])
        # A new write to the deleted collection is found, the old one not.
        self.put("gone2", "d", {"t": "vanish"})
        self.assertEqual(self.found("gone2", "t:vanish")[0], ["d"])
        # Purge, then the key written again: only the new value.
        self.put("gone", "a", {"t": "back"})
        self.assertEqual(self.found("gone", "t:back")[0], ["a"])
        self.assertEqual(self.found("gone", "t:vanish")[0], [])

    def test_purge_of_many_events_stays_out_of_the_index(self):
        """A purge of more events than it removes at once (1000) queues the
        rest for the maintainer (docs/storage.md, "Purged items"). Until the
        maintainer removes them they are still stored, but gone for reads,
        and they must stay out of the index: neither the indexer's applying
        of the purge nor a rebuild may index them again. The maintainer is
        stopped meanwhile, so that they wait."""
        many = 1010
        self.put("pm", "k", {"t": "manyword"})
        for i in range(many):
            st, _, body, _ = self.server.request("POST", "/v0/pm/k/events/e", key=self.key,
                                                 body={"w": "manyword", "i": i})
            self.assertEqual(st, 201, body)
        query = "@path.kind:event AND w:manyword"
        self.assertEqual(self.found("pm", query, limit=0)[1], many)
        maint = self.server.orchidd_pids()["maintainer"]
        self.assertIsNotNone(maint)
        os.kill(maint, signal.SIGSTOP)
        try:
            st, _, body, _ = self.server.request("DELETE", "/v0/pm/k?purge=true", key=self.key)
            self.assertEqual(st, 204, body)
            self.assertEqual(self.found("pm", query, limit=0)[1], 0)
            # The key reused: its new event is found, the old ones are not.
            st, _, body, _ = self.server.request("POST", "/v0/pm/k/events/e", key=self.key,
                                                 body={"w": "manyword", "i": "new"})
            self.assertEqual(st, 201, body)
            self.assertEqual(self.found("pm", query, limit=0)[1], 1)
            proc = self.server.orchidctl("reindex", "searchidx", timeout=120)
            self.assertRegex(proc.stdout.decode(), r"documents indexed, ready")
            self.assertEqual(self.found("pm", query, limit=0)[1], 1)
        finally:
            os.kill(maint, signal.SIGCONT)

    def test_reindex_online(self):
        for i in range(30):
            self.put("reidx", "r%d" % i, {"color": "teal", "i": i})
        before = self.found("reidx", "color:teal", limit=100)
        proc = self.server.orchidctl("reindex", "searchidx", timeout=120)
        out = proc.stdout.decode()
        self.assertRegex(out, r"tenant \d+: \d+ documents indexed, ready")
        self.assertEqual(self.found("reidx", "color:teal", limit=100), before)
        # The old generation's directory is gone, the new one serves.
        st, h, body, doc = self.server.request("GET", "/v0/reidx/r1", key=self.key)
        self.assertEqual(st, 200)

    def test_deleted_index_is_rebuilt(self):
        for i in range(20):
            self.put("lost", "l%d" % i, {"shape": "hexagon"})
        self.assertEqual(self.found("lost", "shape:hexagon")[1], 20)
        self.server.stop_orchidd()
        shutil.rmtree(os.path.join(self.server.datadir, "index"))
        self.server.start_orchidd()
        self.server.wait_ready()
        # A write before any search must not start an empty index.
        self.put("lost", "l20", {"shape": "hexagon"})
        saw = []

        def answer():
            st, h, doc = self.search("lost", "shape:hexagon", limit=0)
            saw.append(st)
            if st == 503:
                self.assertIn("retry-after", h)
                self.assertEqual(doc["code"], "search_index_unavailable")
                return None
            self.assertEqual(st, 200, doc)
            return doc["total_count"]
        # Never a wrong count: 503 until the rebuild is done, then all 21.
        self.assertEqual(wait_for(answer, 60, 0.1), 21)
        self.assertNotIn(200, saw[:-1])


class SearchIndexOfflineTest(ServerTestCase):
    server_options = {"workers": 1}

    def test_reindex_with_orchidd_stopped(self):
        srv = self.server
        key = srv.new_key("offline")
        for i in range(10):
            st = srv.request("PUT", "/v0/off/o%d" % i, key=key, body={"v": "plum"})[0]
            self.assertEqual(st, 201)
        srv.stop_orchidd()
        shutil.rmtree(os.path.join(srv.datadir, "index"))
        proc = srv.orchidctl("reindex", timeout=120)
        out = proc.stdout.decode()
        self.assertIn("orchidd is not running: rebuilding here", out)
        self.assertRegex(out, r"tenant \d+: 10 documents indexed, ready")
        srv.start_orchidd()
        srv.wait_ready()
        st, h, body, doc = srv.request("GET", "/v0/off?query=v:plum&limit=0", key=key)
        self.assertEqual(st, 200, body)
        self.assertEqual(doc["total_count"], 10)


class SearchOffTest(ServerTestCase):
    """search = 0: writes feed no index, searches are 501; back on, the
    indexes are rebuilt from the data (writes made while off included)."""
    server_options = {"workers": 1, "extra": {"search": "0"}}

    def test_off_then_on(self):
        srv = self.server
        key = srv.new_key("switch")
        self.assertIsNone(srv.orchidd_pids()["indexer"])
        for i in range(5):
            st = srv.request("PUT", "/v0/sw/s%d" % i, key=key, body={"w": "kiwi"})[0]
            self.assertEqual(st, 201)
        st, h, body, doc = srv.request("GET", "/v0/sw?query=w:kiwi", key=key)
        self.assertEqual(st, 501, body)
        self.assertEqual(doc["code"], "api_unsupported")
        srv.stop_orchidd()
        srv.extra["search"] = "1"
        srv._write_orchidd_conf()
        srv.start_orchidd()
        srv.wait_ready()

        def answer():
            st, h, body, doc = srv.request("GET", "/v0/sw?query=w:kiwi&limit=0", key=key)
            if st == 503:
                self.assertEqual(doc["code"], "search_index_unavailable")
                return None
            self.assertEqual(st, 200, body)
            return doc["total_count"]
        self.assertEqual(wait_for(answer, 60, 0.1), 5)


class SearchNewTenantTest(ServerTestCase):
    server_options = {"workers": 1}

    def test_tenant_that_never_wrote(self):
        """No index yet: an empty answer, aggregates over nothing included."""
        srv = self.server
        key = srv.new_key("newbie")
        st, h, body, doc = srv.request(
            "GET", "/v0/none?" + q("*", aggregate="value.n:stats,value.t:top_values"), key=key)
        self.assertEqual(st, 200, body)
        self.assertEqual((doc["count"], doc["total_count"], doc["results"]), (0, 0, []))
        kinds = [a["aggregate_kind"] for a in doc["aggregates"]]
        self.assertEqual(kinds, ["stats", "top_values"])
        self.assertEqual(doc["aggregates"][0]["value_count"], 0)
        st, h, body, doc = srv.request("GET", "/v0/none?" + q("(unclosed"), key=key)
        self.assertEqual(st, 400, body)


class SearchFloodTest(ServerTestCase):
    """indexer_yield (docs/storage.md "Yielding to a write flood"): while
    bulk writes come faster than a batch, with no search waiting, the
    indexer stops indexing; a search made meanwhile still finds every write
    acknowledged before it (its waiting makes the indexer go on at full
    speed), and once the writes stop the index catches up by itself.
    indexer_yield = 0 never yields (the control)."""
    server_options = {"workers": 2, "extra": {
        "indexer_batch": "20", "search_wait": "15000", "log_level": "debug"}}
    YIELD = "writes come faster than they can be indexed"

    def log(self):
        with open(self.server.orchidd_log, errors="replace") as f:
            return f.read()

    def flood(self, key, coll, stop, counter, slow):
        """Bulk requests of 50 items, one after another, until stop is set;
        once slow is set, 25 items every 40 ms (at most 625 items/s: writes
        that keep coming, never 200 ms apart, yet slow enough for the
        indexer at full speed to overtake them, ASan build included)."""
        n = 0
        while not stop.is_set() and n < 40000:
            size = 25 if slow.is_set() else 50
            lines = "\n".join('{"kind":"item","path":{"collection":"%s","key":"f%d"},'
                              '"value":{"n":%d,"w":"flood"}}' % (coll, n + i, n + i)
                              for i in range(size))
            st, h, body, doc = self.server.request(
                "POST", "/v0", key=key, raw_body=lines.encode(),
                headers={"Content-Type": "application/json"}, timeout=60)
            self.assertEqual(st, 200, body)
            self.assertEqual(doc["success_count"], size, body)
            n += size
            counter[0] = n
            if slow.is_set():
                stop.wait(0.04)

    def run_flood(self, key, coll, during):
        """Runs during(slow) while a flood writes; returns the items written."""
        import threading
        stop, slow, counter, errors = threading.Event(), threading.Event(), [0], []

        def writer():
            try:
                self.flood(key, coll, stop, counter, slow)
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)
        th = threading.Thread(target=writer, daemon=True)
        th.start()
        try:
            during(slow)
        finally:
            stop.set()
            th.join(120)
        self.assertEqual(errors, [])
        return counter[0]

    def yielded(self, start):
        return wait_for(lambda: self.YIELD in self.log()[start:], 60, 0.05)

    def test_yield_then_catch_up(self):
        """A flood no search waits for: indexed once it stops."""
        srv = self.server
        key = srv.new_key("flood1")
        start = len(self.log())
        total = self.run_flood(key, "fa", lambda slow: self.assertTrue(
            self.yielded(start), "the indexer never yielded to the flood"))
        self.assertTrue(wait_for(lambda: "(the writes stopped)" in self.log()[start:], 30, 0.05),
                        self.log()[start:][-2000:])
        st, h, body, doc = srv.request("GET", "/v0/fa?query=w:flood&limit=0", key=key,
                                       timeout=60)
        self.assertEqual(st, 200, body)
        self.assertEqual(doc["total_count"], total)

    def test_search_during_flood(self):
        """A search made while the indexer yields finds a write acknowledged
        just before it: its waiting makes the indexer index again. Without
        that it would wait for the flood to end, and the flood goes on until
        this search has its answer (or search_wait, 15 s, has passed)."""
        srv = self.server
        key = srv.new_key("flood2")
        start = len(self.log())

        def during(slow):
            self.assertTrue(self.yielded(start), "the indexer never yielded to the flood")
            slow.set()
            st = srv.request("PUT", "/v0/marker/m1", key=key, body={"w": "needle"})[0]
            self.assertEqual(st, 201)
            st, h, body, doc = srv.request("GET", "/v0/marker?query=w:needle", key=key,
                                           timeout=60)
            self.assertEqual(st, 200, body)
            self.assertEqual([r["path"]["key"] for r in doc["results"]], ["m1"])
            self.assertIn("(a search waits)", self.log()[start:])
        total = self.run_flood(key, "fb", during)
        st, h, body, doc = srv.request("GET", "/v0/fb?query=w:flood&limit=0", key=key,
                                       timeout=60)
        self.assertEqual(st, 200, body)
        self.assertEqual(doc["total_count"], total)

    def test_no_yield_when_off(self):
        srv = self.server
        srv.stop_orchidd()
        srv.extra["indexer_yield"] = "0"
        srv._write_orchidd_conf()
        srv.start_orchidd()
        srv.wait_ready()
        try:
            key = srv.new_key("noyield")
            start = len(self.log())
            total = self.run_flood(key, "fo", lambda slow: time.sleep(3))
            st, h, body, doc = srv.request("GET", "/v0/fo?query=w:flood&limit=0", key=key,
                                           timeout=60)
            self.assertEqual(st, 200, body)
            self.assertEqual(doc["total_count"], total)
            self.assertNotIn(self.YIELD, self.log()[start:])
        finally:
            srv.stop_orchidd()
            del srv.extra["indexer_yield"]
            srv._write_orchidd_conf()
            srv.start_orchidd()
            srv.wait_ready()
