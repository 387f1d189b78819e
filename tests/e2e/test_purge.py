"""Issue 15: a purge of an item with many events is bounded, and a key is
revoked without waiting for the writes in progress.

docs/api.md ("Purging an item") and docs/storage.md ("Purged items"): a
purge removes at most PURGE_EVENTS_MAX (1000) events in its own transaction
and leaves the rest to the maintainer, whose steps are bounded
transactions. The item is gone for reads at once; a new item under the same
key starts fresh.
"""
import json
import re
import subprocess
import sys
import threading
import time
import unittest

from harness import ServerTestCase, db_util, hold_page

EVENTS = 120000      # by hand: 10^6, see docs/storage.md
CHUNK = 12000        # bulk operations per request (under nginx's 2m)
VERSIONS = 3000      # of one item: more than a purge removes at once


_db_util = db_util


def wait_for(cond, timeout, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


class PurgeManyEventsTest(ServerTestCase):
    """A purge of an item with EVENTS events answers, holds few locks, and
    does not hold up another tenant; the events go in the background."""

    server_options = {"workers": 3, "durability": "none",
                      "extra": {"max_bulk_ops": CHUNK, "search": 0}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("purger")
        cls.other = cls.server.new_key("bystander")

    def req(self, method, path, key=None, **kw):
        return self.server.request(method, path, key=key or self.key, **kw)

    def stat_locks(self, db_stat, clear=False):
        """The lock table's high-water mark since the last clear."""
        args = [db_stat, "-h", self.server.datadir, "-c"] + (["-Z"] if clear else [])
        out = subprocess.run(args, capture_output=True, text=True, timeout=60,
                             check=True).stdout
        return int(re.search(r"(?m)^(\d+)\tMaximum number of locks at any one time$",
                             out).group(1))

    def count_events(self, db_dump):
        out = subprocess.run([db_dump, "-h", self.server.datadir, "events.db"],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        data = out.split("HEADER=END\n", 1)[1].split("DATA=END", 1)[0].split()
        return len(data) // 2

    def test_purge_is_bounded_and_others_go_on(self):
        db_stat, db_dump = _db_util("stat"), _db_util("dump")
        if not (db_stat and db_dump):
            self.skipTest("the Berkeley DB utilities (db5.3-util) are not installed")
        self.assertEqual(self.req("PUT", "/v0/c/big", body={"v": 1})[0], 201)
        for start in range(0, EVENTS, CHUNK):
            body = "".join(json.dumps({"path": {"collection": "c", "key": "big",
                                                "kind": "event", "type": "t",
                                                "timestamp": 1000 + i},
                                       "value": {"i": i}}) + "\n"
                           for i in range(start, start + CHUNK))
            st, _, text, doc = self.req("POST", "/v0", raw_body=body, timeout=120,
                                        headers={"Content-Type": "application/orchestrate-export-stream+json"})
            self.assertEqual((st, doc and doc.get("success_count")), (200, CHUNK), text[:300])
        self.assertEqual(self.count_events(db_dump), EVENTS)

        # Another tenant reads and writes all along.
        stop = threading.Event()
        lat, bad = [], []

        def bystander():
            i = 0
            while not stop.is_set():
                t0 = time.monotonic()
                st = self.req("PUT", "/v0/o/k%d" % (i % 50), key=self.other,
                              body={"i": i}, timeout=60)[0]
                st2 = self.req("GET", "/v0/o/k%d" % (i % 50), key=self.other, timeout=60)[0]
                lat.append(time.monotonic() - t0)
                if (st, st2) != (201, 200):
                    bad.append((st, st2))
                i += 1

        self.stat_locks(db_stat, clear=True)
        th = threading.Thread(target=bystander, daemon=True)
        th.start()
        try:
            time.sleep(0.5)
            t0 = time.monotonic()
            st, _, text, _ = self.req("DELETE", "/v0/c/big?purge=true", timeout=120)
            took = time.monotonic() - t0
            self.assertEqual(st, 204, text)
            # Gone for reads at once; the key starts fresh.
            self.assertEqual(self.req("GET", "/v0/c/big")[0], 404)
            st, _, _, doc = self.req("GET", "/v0/c/big/events/t?limit=10")
            self.assertEqual((st, doc), (200, {"count": 0, "results": []}))
            self.assertEqual(self.req("PUT", "/v0/c/big", body={"v": 2})[0], 201)
            st, h, text, _ = self.req("POST", "/v0/c/big/events/t/1500", body={"new": 1})
            self.assertEqual(st, 201, text)
            # The maintainer removes the rest; the new event stays.
            self.assertTrue(wait_for(lambda: self.count_events(db_dump) == 1, 120, 1.0),
                            "the purged events were not all removed")
        finally:
            stop.set()
            th.join(60)
        high = self.stat_locks(db_stat)
        print("purge of %d events: answered in %.2f s; bystander: %d rounds, max %.2f s; "
              "lock table high-water %d" % (EVENTS, took, len(lat), max(lat), high),
              file=sys.stderr)
        self.assertEqual(bad, [])
        self.assertGreater(len(lat), 0)
        # Generous: the machine is noisy; a blocked bystander waits for the
        # whole purge (seconds to minutes at 10^6 events).
        self.assertLess(max(lat), 10.0, "bystander latencies: max %.2f s" % max(lat))
        # An unbounded purge locks every page of the item's events at once
        # (about 1 per 50 events here); a bounded one a few hundred.
        self.assertLess(high, EVENTS // 100, "lock table high-water: %d" % high)

        st, _, _, doc = self.req("GET", "/v0/c/big/events/t?limit=10")
        self.assertEqual(st, 200)
        self.assertEqual([r["value"] for r in doc["results"]], [{"new": 1}])
        self.assertEqual(self.req("GET", "/v0/c/big")[3], {"v": 2})
        self.server.stop_orchidd()
        self.server.orchidctl("verify")
        self.server.start_orchidd()
        self.server.wait_ready()


    def count_records(self, db_dump, db, key):
        """The records of db whose key holds key and its 0x00."""
        out = subprocess.run([db_dump, "-h", self.server.datadir, db],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        data = out.split("HEADER=END\n", 1)[1].split("DATA=END", 1)[0].split()
        want = (key.encode() + b"\0").hex()
        return sum(1 for k in data[0::2] if want in k)

    def test_purge_of_many_versions(self):
        """VERSIONS versions (more than the 1000 a purge removes at once):
        gone at once, the key reused starts above them, an old ref is 404,
        a reused ref works, the maintainer removes every old version and
        ref, and verify accepts the store meanwhile and after."""
        db_dump = _db_util("dump")
        if not db_dump:
            self.skipTest("the Berkeley DB utilities (db5.3-util) are not installed")
        body = "".join(json.dumps({"path": {"collection": "v", "key": "purgelong",
                                            "kind": "item"}, "value": {"i": i}}) + "\n"
                       for i in range(VERSIONS))
        st, _, text, doc = self.req("POST", "/v0", raw_body=body, timeout=120,
                                    headers={"Content-Type": "application/orchestrate-export-stream+json"})
        self.assertEqual((st, doc and doc.get("success_count")), (200, VERSIONS), text[:300])
        st, _, _, doc = self.req("GET", "/v0/v/purgelong/refs?limit=100")
        self.assertEqual(st, 200)
        old = {r["path"]["ref"]: r for r in doc["results"]}
        oldest = doc["results"][-1]["path"]["ref"]
        st, h, _, _ = self.req("GET", "/v0/v/purgelong/refs/" + oldest)
        self.assertEqual(st, 200)
        self.assertEqual(self.req("DELETE", "/v0/v/purgelong?purge=true", timeout=120)[0], 204)
        self.assertEqual(self.req("GET", "/v0/v/purgelong")[0], 404)
        self.assertEqual(self.req("GET", "/v0/v/purgelong/refs")[0], 404)
        self.assertEqual(self.req("GET", "/v0/v/purgelong/refs/" + oldest)[0], 404)
        # The key reused: the new versions only; the same content as an
        # old version has its ref, which answers with the new version.
        st, h, _, _ = self.req("PUT", "/v0/v/purgelong", body={"new": 1})
        self.assertEqual(st, 201)
        st, h, _, _ = self.req("PUT", "/v0/v/purgelong", body={"i": VERSIONS - 1})
        self.assertEqual(st, 201)
        reused = h["etag"].strip('"')
        self.assertIn(reused, old)
        st, _, _, doc = self.req("GET", "/v0/v/purgelong/refs?values=true&limit=100")
        self.assertEqual([r["value"] for r in doc["results"]], [{"i": VERSIONS - 1}, {"new": 1}])
        self.assertEqual(self.req("GET", "/v0/v/purgelong/refs/" + oldest)[0], 404)
        # An export with history holds only the new versions.
        st, _, body, _ = self.req("GET", "/v0/v?export=true&history=true", timeout=120)
        self.assertEqual(st, 200)
        got = [json.loads(x) for x in body.splitlines() if x.strip()]
        got = [x.get("value") for x in got if x.get("kind") == "item" and
               x["path"]["key"] == "purgelong"]
        self.assertEqual(got, [{"new": 1}, {"i": VERSIONS - 1}])
        self.assertTrue(wait_for(lambda: self.count_records(db_dump, "versions.db",
                                                           "purgelong") == 2, 120, 1.0),
                        "the purged versions were not all removed")
        # The two new refs and the floor (I | 0x00, the key's own prefix).
        self.assertTrue(wait_for(lambda: self.count_records(db_dump, "refs.db",
                                                           "purgelong") == 3, 60, 1.0),
                        "the purged refs were not all removed")
        st, _, _, doc = self.req("GET", "/v0/v/purgelong/refs/" + reused)
        self.assertEqual((st, doc), (200, {"i": VERSIONS - 1}))
        self.assertEqual(self.req("GET", "/v0/v/purgelong/refs/" + oldest)[0], 404)
        self.server.stop_orchidd()
        self.server.orchidctl("verify")
        self.server.start_orchidd()
        self.server.wait_ready()


class RevokeDuringWriteTest(ServerTestCase):
    """A key is revoked while a write that authenticated with it waits for
    a lock (another transaction holds the page of items.db it needs): the
    revocation does not wait for that write, and the next request with the
    key is refused."""

    server_options = {"workers": 2, "extra": {"search": 0}}

    def test_revoke_does_not_wait_for_a_write(self):
        db_load, db_stat = _db_util("load"), _db_util("stat")
        if not (db_load and db_stat):
            self.skipTest("the Berkeley DB utilities (db5.3-util) are not installed")
        srv = self.server
        key = srv.new_key("revokee")
        self.assertEqual(srv.request("PUT", "/v0/c/a", key=key, body={"v": 1})[0], 201)
        # An outside transaction holds items.db's only leaf page.
        load, abort_load = hold_page(db_load, srv.datadir, "items.db", "00")
        self.addCleanup(abort_load)

        def locks(what):
            out = subprocess.run([db_stat, "-h", srv.datadir, "-Co"], capture_output=True,
                                 text=True, timeout=60).stdout
            return sum(1 for line in out.splitlines() if what in line and "items.db" in line)

        self.assertTrue(wait_for(lambda: load.poll() is not None or locks(" WRITE ") > 0, 30),
                        "db_load did not take its lock")
        self.assertIsNone(load.poll())
        answer = {}

        def put():
            answer["put"] = srv.request("PUT", "/v0/c/a", key=key, body={"v": 2}, timeout=120)

        th = threading.Thread(target=put, daemon=True)
        th.start()
        self.assertTrue(wait_for(lambda: locks(" WAIT ") > 0, 30),
                        "the PUT did not wait for items.db")
        # Generous (a noisy machine); without the fix it waits for ever.
        try:
            proc = srv.orchidctl("key", "revoke", key, check=False, timeout=30)
        except subprocess.TimeoutExpired:
            self.fail("key revoke waited 30 s for the write in progress")
        still_waiting = th.is_alive()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(still_waiting, "the PUT finished before the revocation")
        self.assertNotEqual(abort_load(), 0)
        th.join(60)
        self.assertIn(answer["put"][0], (201, 401))
        self.assertEqual(srv.request("GET", "/v0/c/a", key=key)[0], 401)


if __name__ == "__main__":
    unittest.main()
