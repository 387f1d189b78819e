"""Collections: DELETE /v0/{c}?force=true and the item counts of GET /v0
(docs/api.md, docs/storage.md).

A delete is instant and atomic for clients (404s, an empty listing, a fresh
collection on the next write) while the records go in the background in
bounded transactions; the reclaim survives a kill -9 of the maintainer and
orchidctl verify then finds no orphan record and exact counts. Counts stay
exact under concurrent writers of every kind.
"""

import functools
import os
import random
import re
import signal
import threading
import time

from harness import ServerTestCase, run_threads, timeout


def wait_for(pred, limit, interval=0.1):
    deadline = time.monotonic() + limit
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class CollectionsBase(ServerTestCase):
    def req(self, method, path, key=None, **kw):
        return self.server.request(method, path, key=key or self.key, **kw)

    def put(self, path, body, key=None):
        st, h, raw, _ = self.req("PUT", path, key=key, body=body)
        self.assertEqual(st, 201, raw)
        return h["etag"].strip('"')

    def counts(self, key=None):
        """GET /v0 as {collection: items}."""
        st, _, raw, doc = self.req("GET", "/v0", key=key)
        self.assertEqual(st, 200, raw)
        self.assertEqual(doc["count"], len(doc["results"]), raw)
        return {r["collection"]: r["items"] for r in doc["results"]}

    def listing(self, coll, key=None):
        """Every key of the collection listing, following next links."""
        keys, path = [], "/v0/%s?limit=100&values=false" % coll
        while path:
            st, _, raw, doc = self.req("GET", path, key=key)
            self.assertEqual(st, 200, raw)
            keys += [r["path"]["key"] for r in doc["results"]]
            path = doc.get("next")
        return keys

    def history(self, path, key=None):
        st, _, raw, doc = self.req("GET", path + "/refs?limit=100", key=key)
        self.assertEqual(st, 200, raw)
        return [r["path"]["ref"] for r in doc["results"]]

    def queued(self):
        out = self.server.orchidctl("stats").stdout.decode()
        m = re.search(r"(?m)^reclaim: (\d+) dropped collections queued, \d+ purged items. entries queued$", out)
        self.assertIsNotNone(m, out)
        return int(m.group(1))

    def assertError(self, resp, status, code):
        st, _, raw, doc = resp
        self.assertEqual(st, status, raw)
        self.assertEqual((doc or {}).get("code"), code, raw)


class DeleteTest(CollectionsBase):
    server_options = {"workers": 2}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("coll")
        cls.other = cls.server.new_key("coll-other")

    def test_force_is_required(self):
        ref = self.put("/v0/keep/k", {"a": 1})
        for query in ("", "?force=false", "?force=yes", "?force="):
            with self.subTest(query=query):
                st, _, raw, doc = self.req("DELETE", "/v0/keep" + query)
                self.assertEqual(st, 400, raw)
                self.assertEqual(doc["code"], "api_bad_request", raw)
                self.assertIn("force", raw.decode())
        st, h, _, doc = self.req("GET", "/v0/keep/k")
        self.assertEqual((st, h["etag"].strip('"'), doc), (200, ref, {"a": 1}))

    def test_delete_of_nothing(self):
        st, h, raw, _ = self.req("DELETE", "/v0/never-written?force=true")
        self.assertEqual((st, raw), (204, b""))
        self.assertNotIn("never-written", self.counts())

    def test_delete_is_instant_and_isolated(self):
        for i in range(30):
            self.put("/v0/gone/k%02d" % i, {"i": i})
            self.put("/v0/gone/k%02d" % i, {"i": i, "v": 2})
            self.put("/v0/stays/k%02d" % i, {"i": i})
            self.put("/v0/gone/k%02d" % i, {"t": i}, key=self.other)
        st, h, raw, _ = self.req("POST", "/v0/gone/k00/events/ev", body={"e": 1})
        self.assertEqual(st, 201, raw)
        self.assertEqual(self.counts()["gone"], 30)

        st, _, raw, _ = self.req("DELETE", "/v0/gone?force=true")
        self.assertEqual((st, raw), (204, b""))
        # Gone at once, whatever the reclaim has done yet.
        self.assertError(self.req("GET", "/v0/gone/k01"), 404, "items_not_found")
        self.assertError(self.req("GET", "/v0/gone/k01/refs"), 404, "items_not_found")
        st, _, raw, doc = self.req("GET", "/v0/gone")
        self.assertEqual((st, doc["results"], doc["count"]), (200, [], 0), raw)
        st, _, raw, doc = self.req("GET", "/v0/gone/k00/events/ev")
        self.assertEqual((st, doc["results"]), (200, []), raw)
        self.assertNotIn("gone", self.counts())
        # Nothing else moved: another collection, another tenant's "gone".
        self.assertEqual(len(self.listing("stays")), 30)
        self.assertEqual(self.counts()["stays"], 30)
        self.assertEqual(self.counts(key=self.other), {"gone": 30})
        self.assertEqual(self.req("GET", "/v0/gone/k05", key=self.other)[3], {"t": 5})

        # A new write starts a fresh collection: one version of history.
        ref = self.put("/v0/gone/k01", {"fresh": True})
        self.assertEqual(self.history("/v0/gone/k01"), [ref])
        self.assertEqual(self.listing("gone"), ["k01"])
        self.assertEqual(self.counts()["gone"], 1)
        self.assertError(self.req("GET", "/v0/gone/k02"), 404, "items_not_found")

        # The maintainer reclaims it in the background.
        self.assertTrue(wait_for(lambda: self.queued() == 0, 60),
                        "the reclaim queue did not empty")
        self.assertEqual(self.req("GET", "/v0/gone/k01")[3], {"fresh": True})

    def test_delete_twice_and_recreate_repeatedly(self):
        for round_ in range(3):
            self.put("/v0/again/k", {"round": round_})
            self.assertEqual(self.counts()["again"], 1)
            self.assertEqual(self.req("DELETE", "/v0/again?force=true")[0], 204)
            self.assertEqual(self.req("DELETE", "/v0/again?force=true")[0], 204)
            self.assertNotIn("again", self.counts())
            self.assertError(self.req("GET", "/v0/again/k"), 404, "items_not_found")

    def test_unauthenticated_delete(self):
        self.put("/v0/guarded/k", {"a": 1})
        st = self.server.request("DELETE", "/v0/guarded?force=true")[0]
        self.assertEqual(st, 401)
        self.assertEqual(self.counts()["guarded"], 1)


class CountsTest(CollectionsBase):
    """GET /v0 counts come from counters kept in each write's transaction:
    after concurrent writers of every kind they equal the listing."""

    server_options = {"workers": 4}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("counts")

    def test_counts_after_concurrent_writers(self):
        keys = ["k%02d" % i for i in range(40)]

        def writer(seed):
            rnd = random.Random(seed)
            for _ in range(150):
                k = rnd.choice(keys)
                op = rnd.randrange(6)
                path = "/v0/cnt/" + k
                if op == 0:
                    resp = self.req("PUT", path, body={"s": seed})
                    self.assertEqual(resp[0], 201, resp[2])
                elif op == 1:
                    self.assertEqual(self.req("DELETE", path)[0], 204)
                elif op == 2:
                    self.assertEqual(self.req("DELETE", path + "?purge=true")[0], 204)
                elif op == 3:
                    resp = self.req("PATCH", path + "?upsert=true", body={"p": seed},
                                    headers={"Content-Type": "application/merge-patch+json"})
                    self.assertEqual(resp[0], 201, resp[2])
                elif op == 4:
                    resp = self.req("PATCH", path, body=[{"op": "add", "path": "q", "value": 1}])
                    self.assertIn(resp[0], (201, 404), resp[2])
                else:
                    resp = self.req("POST", "/v0/cnt", body={"s": seed})
                    self.assertEqual(resp[0], 201, resp[2])

        run_threads([functools.partial(writer, s) for s in range(8)], timeout=240)
        listed = self.listing("cnt")
        self.assertGreater(len(listed), 0)
        self.assertEqual(self.counts().get("cnt"), len(listed))
        # And after deleting everything listed, the collection is not shown.
        for k in listed:
            self.assertEqual(self.req("DELETE", "/v0/cnt/" + k)[0], 204)
        self.assertNotIn("cnt", self.counts())


@timeout(900)
class ReclaimKillTest(CollectionsBase):
    """A collection of 20,000 items is deleted; the maintainer, removing its
    records 50 per transaction, is killed with SIGKILL midway. After the
    restart the reclaim finishes, and orchidctl verify (orchidd stopped)
    finds no orphan record and exact counts. Other tenants are served
    meanwhile."""

    ITEMS = 20000
    server_options = {"workers": 2, "durability": "write",
                      "extra": {"reclaim_batch": 50}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("big")
        cls.other = cls.server.new_key("bystander")

    def load(self):
        def loader(part):
            for i in range(part, self.ITEMS, 8):
                resp = self.req("PUT", "/v0/big/k%05d" % i, body={"i": i})
                self.assertEqual(resp[0], 201, resp[2])

        run_threads([functools.partial(loader, p) for p in range(8)], timeout=600)
        for i in range(50):
            self.put("/v0/small/k%02d" % i, {"i": i})
            self.put("/v0/big/k%02d" % i, {"i": i}, key=self.other)
        self.assertEqual(self.counts(), {"big": self.ITEMS, "small": 50})

    def test_kill_maintainer_during_reclaim(self):
        srv = self.server
        self.load()
        self.assertEqual(self.req("DELETE", "/v0/big?force=true")[0], 204)
        self.assertEqual(self.counts(), {"small": 50})
        ref = self.put("/v0/big/new", {"after": True})
        self.assertEqual(self.history("/v0/big/new"), [ref])

        # Other tenants are served while the reclaim runs.
        slowest = 0.0
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            t0 = time.monotonic()
            st = self.req("GET", "/v0/big/k07", key=self.other)[0]
            slowest = max(slowest, time.monotonic() - t0)
            self.assertEqual(st, 200)
        self.assertLess(slowest, 2.0, "a bystander's request waited %.2f s" % slowest)

        maint = srv.orchidd_pids()["maintainer"]
        self.assertIsNotNone(maint)
        os.kill(maint, signal.SIGKILL)
        # The master recovers and starts a new maintainer, which resumes.
        self.assertTrue(wait_for(lambda: srv.orchidd_pids()["maintainer"] not in (None, maint),
                                 60), "no new maintainer")
        srv.wait_ready()
        self.assertTrue(wait_for(lambda: self.queued() == 0, 600, interval=1.0),
                        "the reclaim did not finish")
        with open(srv.orchidd_log, encoding="utf-8", errors="replace") as f:
            log = f.read()
        started = [m.start() for m in re.finditer(
            r'reclaim: removing the records of dropped collection "big"', log)]
        done = [m.start() for m in re.finditer(
            r'reclaim: dropped collection "big" of tenant \d+ \(cid \d+\) is gone', log)]
        self.assertEqual(len(done), 1, log[-3000:])
        self.assertGreaterEqual(len(started), 2,
                                "the kill did not hit the reclaim midway:\n" + log[-3000:])
        self.assertGreater(done[0], started[-1])

        # Nothing moved for the others; the new collection is whole.
        self.assertEqual(self.counts(), {"big": 1, "small": 50})
        self.assertEqual(self.counts(key=self.other), {"big": 50})
        self.assertEqual(self.req("GET", "/v0/big/new")[3], {"after": True})
        self.assertEqual(srv.stop_orchidd(), 0)
        proc = srv.orchidctl("verify", check=False)
        out = proc.stdout.decode()
        self.assertEqual(proc.returncode, 0, out + proc.stderr.decode())
        self.assertRegex(out, r"0 waiting for reclaim; \d+ records \(0 of dropped "
                              r"collections\), 0 orphans, 0 of format 1, 0 malformed, "
                              r"0 wrong counts")
