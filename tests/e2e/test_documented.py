"""Documented behaviours that had no test of their own (docs/api.md):

- a tombstone's ref (that of null) in the history, its reftime order, and
  GET by it;
- generated keys (POST to a collection): 16 hex digits, time-ordered, also
  when several workers write at once;
- 503 service_unavailable with Retry-After when deadlock retries run out,
  provoked with a real deadlock, and nothing of the refused write stored;
- unknown query parameters are ignored;
- nginx's own 502 and 504 are JSON.
"""

import functools
import hashlib
import http.client
import os
import re
import signal
import subprocess
import threading
import time
import unittest

import harness
from harness import UUID_RE, Server, ServerTestCase, run_threads

NULL_REF = hashlib.sha256(b"null").hexdigest()[:16]
ORCHID_EPOCH_MS = 1388534400000  # 2014-01-01T00:00:00Z
KEY_RE = re.compile(r"^/v0/gen/([0-9a-f]{16})/refs/([0-9a-f]{16})$")


def now_ms():
    return int(time.time() * 1000)


def wait_for(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class JsonErrorMixin:
    def assertJsonErrorAnswer(self, resp, status, code):
        """A JSON error as docs/api.md promises, whoever answered (orchidd or
        nginx): status, Content-Type, {"message", "code"}, request id."""
        st, h, body, doc = resp
        self.assertEqual(st, status, body)
        self.assertEqual(h.get("content-type", "").split(";")[0].strip(), "application/json")
        self.assertIsInstance(doc, dict, body)
        self.assertEqual(doc.get("code"), code, body)
        self.assertIsInstance(doc.get("message"), str, body)
        self.assertTrue(doc["message"], body)
        self.assertRegex(h.get("x-orchestrate-req-id", ""), UUID_RE)


# ---------------------------------------------------------------------------
class TombstoneRefTest(ServerTestCase, JsonErrorMixin):
    """docs/api.md "Items and refs": a tombstone's ref is that of null;
    /refs lists it newest first as path.tombstone: true without a value."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("tombstones")

    def req(self, method, path, **kw):
        return self.server.request(method, path, key=self.key, **kw)

    def put(self, path, value):
        st, h, body, _ = self.req("PUT", path, body=value)
        self.assertEqual(st, 201, body)
        return h["etag"].strip('"')

    def test_tombstone_entry_in_the_history(self):
        p = "/v0/tomb/k"
        r1 = self.put(p, {"v": 1})
        r2 = self.put(p, {"v": 2})
        before = now_ms()
        st, h, body, _ = self.req("DELETE", p)
        after = now_ms()
        self.assertEqual((st, body), (204, b""))
        st, h, body, doc = self.req("GET", p + "/refs?values=true")
        self.assertEqual(st, 200, body)
        tomb, v2, v1 = doc["results"]
        # the tombstone: its own entry, the ref of null, no value
        self.assertEqual(tomb, {"path": {"collection": "tomb", "kind": "item", "key": "k",
                                         "ref": NULL_REF, "reftime": tomb["reftime"],
                                         "tombstone": True},
                                "reftime": tomb["reftime"]})
        # written at the time of the DELETE, after the version before it
        self.assertGreaterEqual(tomb["reftime"], before)
        self.assertLessEqual(tomb["reftime"], after)
        self.assertGreaterEqual(tomb["reftime"], v2["reftime"])
        self.assertEqual([(e["path"]["ref"], e["value"]) for e in (v2, v1)],
                         [(r2, {"v": 2}), (r1, {"v": 1})])
        self.assertEqual(doc["count"], 3)
        # it pages like any version
        st, h, body, doc = self.req("GET", p + "/refs?limit=1")
        self.assertEqual([e["path"]["ref"] for e in doc["results"]], [NULL_REF])
        self.assertEqual(doc["next"], p + "/refs?offset=1&limit=1")
        # GET by the tombstone's ref: a tombstone has no value, so there is
        # no version to return (docs/api.md); the older refs still answer.
        self.assertJsonErrorAnswer(self.req("GET", "%s/refs/%s" % (p, NULL_REF)),
                                   404, "items_not_found")
        st, h, body, doc = self.req("GET", "%s/refs/%s" % (p, r2))
        self.assertEqual((st, doc, h.get("etag")), (200, {"v": 2}, '"%s"' % r2))
        # a new write goes on top; the tombstone keeps its place and ref
        r3 = self.put(p, {"v": 3})
        doc = self.req("GET", p + "/refs")[3]
        self.assertEqual([(e["path"]["ref"], e["path"].get("tombstone")) for e in doc["results"]],
                         [(r3, None), (NULL_REF, True), (r2, None), (r1, None)])
        self.assertGreaterEqual(doc["results"][0]["reftime"], doc["results"][1]["reftime"])

    def test_every_tombstone_has_the_same_ref(self):
        # same content, same ref: a tombstone is the content null
        for k in ("a", "b"):
            self.put("/v0/tomb2/" + k, {"k": k})
            self.assertEqual(self.req("DELETE", "/v0/tomb2/" + k)[0], 204)
            doc = self.req("GET", "/v0/tomb2/%s/refs" % k)[3]
            self.assertEqual(doc["results"][0]["path"]["ref"], NULL_REF)
            self.assertIs(doc["results"][0]["path"]["tombstone"], True)


# ---------------------------------------------------------------------------
class GeneratedKeysTest(ServerTestCase):
    """docs/api.md: POST answers 201 with a generated key, 16 hex digits,
    time-ordered. The top 40 bits are the milliseconds since 2014-01-01 of
    the write (DESIGN.md 4), so a key written in a later millisecond than
    another sorts after it, whichever worker wrote either."""

    server_options = {"workers": 4}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("generated")

    def post(self, value):
        """(key, ms before sending, ms after the answer)."""
        before = now_ms()
        st, h, body, _ = self.server.request("POST", "/v0/gen", key=self.key, body=value)
        after = now_ms()
        self.assertEqual((st, body), (201, b""))
        m = KEY_RE.match(h.get("location", ""))
        self.assertIsNotNone(m, h.get("location"))
        self.assertEqual('"%s"' % m.group(2), h.get("etag"))
        key = m.group(1)
        # the key holds the time of the write
        written = (int(key, 16) >> 24) + ORCHID_EPOCH_MS
        self.assertGreaterEqual(written, before, key)
        self.assertLessEqual(written, after, key)
        return key, before, after

    def test_keys_increase_in_the_order_of_the_writes(self):
        keys = []
        for i in range(20):
            key, _, after = self.post({"i": i})
            keys.append(key)
            # the next write starts in a later millisecond
            while now_ms() <= after:
                time.sleep(0.001)
        self.assertEqual(keys, sorted(set(keys)), "keys not strictly increasing")
        # the collection lists them (key order) in the order of the writes
        st, _, body, doc = self.server.request("GET", "/v0/gen?limit=100", key=self.key)
        self.assertEqual(st, 200, body)
        listed = [(r["path"]["key"], r["value"]) for r in doc["results"]]
        self.assertEqual(listed, [(k, {"i": i}) for i, k in enumerate(keys)])

    def test_time_order_holds_across_workers(self):
        # Four clients at once keep all four workers busy. Whenever one write
        # was answered in an earlier millisecond than another was sent, its
        # key is smaller.
        writes = []
        lock = threading.Lock()

        def client(c):
            for i in range(15):
                key, before, after = self.post({"c": c, "i": i})
                with lock:
                    writes.append((key, before, after))

        run_threads([functools.partial(client, c) for c in range(4)])
        self.assertEqual(len({k for k, _, _ in writes}), 60, "a key was generated twice")
        pairs = 0
        for ka, _, after_a in writes:
            for kb, before_b, _ in writes:
                if after_a < before_b:
                    pairs += 1
                    self.assertLess(ka, kb, "written earlier, sorts later")
        self.assertGreater(pairs, 0)


# ---------------------------------------------------------------------------
_db_util = harness.db_util


class DeadlockGivesUpTest(ServerTestCase, JsonErrorMixin):
    """docs/api.md: 503 service_unavailable with Retry-After: 1 when deadlock
    retries are exhausted (deadlock_retries = 0: the first deadlock).

    A real deadlock between two purges: items "a" and "z" each have three
    events on the one leaf page of events.db, while their heads and event
    counters lie on different pages of items.db and evseq.db (filler items
    with long keys sort between them), so the two purges do not wait for
    each other before they reach events.db. There each reads the page
    (shared lock) and then deletes from it (exclusive lock). An outside
    transaction, db_load into events.db, holds that page while both purges
    arrive; when it aborts, both get their shared lock, both ask for the
    exclusive one, and Berkeley DB's detector aborts one of them.

    Search is off: with it, each purge also notes its deletions in its
    worker's search outbox, and the outbox slots are subdatabases of one
    file, whose meta page a transaction write-locks when its slot needs a
    new page. Then one purge could wait for the other there, before either
    reached events.db (seen in about 1 run of 10), and the gate would never
    see both.
    """

    server_options = {"workers": 4, "extra": {"deadlock_retries": 0, "search": 0}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("deadlock")

    def req(self, method, path, **kw):
        return self.server.request(method, path, key=self.key, **kw)

    def state(self, name):
        """Everything stored for item name: head, history, events."""
        head = self.req("GET", "/v0/c/" + name)
        refs = self.req("GET", "/v0/c/%s/refs?values=true&limit=100" % name)
        events = self.req("GET", "/v0/c/%s/events/t?limit=100" % name)
        return ((head[0], head[1].get("etag"), head[3]), (refs[0], refs[3]),
                (events[0], events[3]))

    def stat(self, *args):
        proc = subprocess.run([self.db_stat, "-h", self.server.datadir] + list(args),
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout

    def waiting_on_events(self):
        return sum(1 for line in self.stat("-Co").splitlines()
                   if " WAIT " in line and "events.db" in line)

    def test_503_with_retry_after_and_nothing_stored(self):
        self.db_load, self.db_stat, db_dump = (_db_util(n) for n in ("load", "stat", "dump"))
        if not (self.db_load and self.db_stat and db_dump):
            self.skipTest("the Berkeley DB utilities (db5.3-util) are not installed")
        srv = self.server
        # a < m00... < m29... < z in key order
        for name in ("a", "z"):
            self.assertEqual(self.req("PUT", "/v0/c/" + name, body={"v": name})[0], 201)
            self.assertEqual(self.req("PUT", "/v0/c/" + name, body={"v": name + "2"})[0], 201)
        for i in range(30):
            filler = "m%02d%s" % (i, "f" * 600)
            self.assertEqual(self.req("PUT", "/v0/c/" + filler, body={"i": i})[0], 201)
            st, h, body, _ = self.req("POST", "/v0/c/%s/events/x/1000" % filler, body={})
            self.assertEqual(st, 201, body)
            # the counter stays in evseq.db; the event leaves events.db
            self.assertEqual(self.req("DELETE", h["location"] + "?purge=true")[0], 204)
        for name in ("a", "z"):
            for j in range(3):
                st, _, body, _ = self.req("POST", "/v0/c/%s/events/t/%d" % (name, 1000 + j),
                                          body={"j": j})
                self.assertEqual(st, 201, body)
        before = {name: self.state(name) for name in ("a", "z")}
        self.assertRegex(self.stat("-d", "events.db"), r"(?m)^1\tNumber of tree leaf pages$",
                         "precondition: events.db is one leaf page")

        # The gate: a key right after a's last event, on the same page.
        dump = subprocess.run([db_dump, "-h", srv.datadir, "events.db"], capture_output=True,
                              text=True, timeout=60, check=True).stdout
        data = dump.split("HEADER=END\n", 1)[1].split("DATA=END", 1)[0].split()
        keys = [bytes.fromhex(k) for k in data[0::2]]
        self.assertEqual(len(keys), 6, "precondition: the six events of a and z")
        gate = sorted(k for k in keys if b"a\x00t\x00" in k)[-1] + b"\x00"
        load, abort_load = harness.hold_page(self.db_load, srv.datadir, "events.db",
                                             gate.hex())
        self.addCleanup(abort_load)
        self.assertTrue(wait_for(lambda: load.poll() is not None or " WRITE " in "".join(
            line for line in self.stat("-Co").splitlines() if "events.db" in line), 30),
                        "db_load did not take its lock")
        self.assertIsNone(load.poll(), load.stderr.read() if load.poll() is not None else "")

        answers = {}

        def purge(name):
            answers[name] = self.req("DELETE", "/v0/c/%s?purge=true" % name, timeout=60)

        def release_when_both_wait():
            self.assertTrue(wait_for(lambda: self.waiting_on_events() >= 2, 30),
                            "the purges did not both wait for events.db:\n" + self.stat("-Co"))
            rc = abort_load()
            self.assertNotEqual(rc, 0, "db_load committed instead of aborting")

        deadlocks = int(re.search(r"(?m)^(\d+)\tNumber of deadlocks$", self.stat("-c")).group(1))
        run_threads([functools.partial(purge, n) for n in ("a", "z")],
                    during=release_when_both_wait, timeout=60)
        statuses = sorted((answers[n][0], n) for n in answers)
        self.assertEqual([st for st, _ in statuses], [204, 503], answers)
        gone, refused = statuses[0][1], statuses[1][1]
        self.assertEqual(
            int(re.search(r"(?m)^(\d+)\tNumber of deadlocks$", self.stat("-c")).group(1)),
            deadlocks + 1)

        resp = answers[refused]
        self.assertJsonErrorAnswer(resp, 503, "service_unavailable")
        self.assertEqual(resp[1].get("retry-after"), "1")
        # nothing of the refused purge happened; the other one is complete
        self.assertEqual(self.state(refused), before[refused])
        self.assertPurged(gone)
        # the refused request succeeds when sent again
        self.assertEqual(self.req("DELETE", "/v0/c/%s?purge=true" % refused)[0], 204)
        self.assertPurged(refused)

    def assertPurged(self, name):
        head, refs, events = self.state(name)
        self.assertEqual((head[0], refs[0]), (404, 404))
        self.assertEqual(events, (200, {"count": 0, "results": []}))


# ---------------------------------------------------------------------------
class UnknownParametersTest(ServerTestCase):
    """docs/api.md "Transport": unknown query parameters are ignored (clients
    send upsert=false, purge=false) on every route."""

    UNKNOWN = "upsert=false&foo=bar&x%20y=1&empty="

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("unknown-params")

    def req(self, method, path, **kw):
        return self.server.request(method, path, key=self.key, **kw)

    def with_unknown(self, path):
        return path + ("&" if "?" in path else "?") + self.UNKNOWN

    def same_answer(self, path):
        """GET path with and without the unknown parameters: same status,
        ETag and body."""
        a = self.req("GET", path)
        b = self.req("GET", self.with_unknown(path))
        self.assertEqual(a[0], 200, a[2])
        self.assertEqual((b[0], b[1].get("etag"), b[2]), (a[0], a[1].get("etag"), a[2]), path)

    def test_writes_with_unknown_parameters(self):
        st, h, body, _ = self.req("PUT", self.with_unknown("/v0/u/k"), body={"v": 1})
        self.assertEqual((st, body), (201, b""))
        ref1 = h["etag"].strip('"')
        self.assertEqual(h["location"], "/v0/u/k/refs/" + ref1)
        st, h, body, _ = self.req("POST", self.with_unknown("/v0/u"), body={"posted": 1})
        self.assertEqual(st, 201, body)
        posted = h["location"].split("/")[3]
        st, h, body, _ = self.req("POST", self.with_unknown("/v0/u/k/events/t/1000"),
                                  body={"e": 1})
        self.assertEqual(st, 201, body)
        ev = h["location"]
        st, h, body, _ = self.req("PUT", self.with_unknown(ev), body={"e": 2})
        self.assertEqual(st, 204, body)
        st, h, body, _ = self.req("PUT", self.with_unknown("/v0/u/k/events/t?timestamp=2000"),
                                  body={"e": 3})
        self.assertEqual(st, 204, body)
        # stored exactly as without them
        self.assertEqual(self.req("GET", "/v0/u/k")[3], {"v": 1})
        self.assertEqual(self.req("GET", "/v0/u/" + posted)[3], {"posted": 1})
        doc = self.req("GET", "/v0/u/k/events/t")[3]
        self.assertEqual([(r["timestamp"], r["value"]) for r in doc["results"]],
                         [(2000, {"e": 3}), (1000, {"e": 2})])
        # DELETE with purge=false among them is a plain delete (a tombstone)
        st, _, body, _ = self.req("DELETE", "/v0/u/k?purge=false&" + self.UNKNOWN)
        self.assertEqual((st, body), (204, b""))
        doc = self.req("GET", "/v0/u/k/refs")[3]
        self.assertEqual([(e["path"]["ref"], e["path"].get("tombstone")) for e in doc["results"]],
                         [(NULL_REF, True), (ref1, None)])
        # and an event DELETE still needs purge=true: unknown ones do not count
        resp = self.req("DELETE", self.with_unknown(ev))
        self.assertEqual((resp[0], resp[3]["code"]), (400, "event_param_invalid"), resp[2])
        st, _, body, _ = self.req("DELETE", ev + "?purge=true&" + self.UNKNOWN)
        self.assertEqual(st, 204, body)

    def test_reads_with_unknown_parameters(self):
        for i in range(3):
            self.assertEqual(self.req("PUT", "/v0/r/k%d" % i, body={"i": i})[0], 201)
            st, h, _, _ = self.req("POST", "/v0/r/k0/events/t/%d" % (100 + i), body={"i": i})
            self.assertEqual(st, 201)
        ev = h["location"]
        ref = self.req("GET", "/v0/r/k1")[1]["etag"].strip('"')
        for path in ("/v0/r/k1", "/v0/r/k1/refs", "/v0/r/k1/refs?values=true",
                     "/v0/r/k1/refs/" + ref, "/v0/r", "/v0/r?limit=2", "/v0",
                     "/v0/r/k0/events/t", "/v0/r/k0/events/t?limit=2", ev,
                     "/v0/r/k0/events/t/101"):
            with self.subTest(path=path):
                self.same_answer(path)
        # HEAD too
        a, b = self.req("HEAD", "/v0/r/k1"), self.req("HEAD", self.with_unknown("/v0/r/k1"))
        self.assertEqual((b[0], b[1].get("etag")), (200, a[1]["etag"]))


# ---------------------------------------------------------------------------
class NginxErrorsTest(unittest.TestCase, JsonErrorMixin):
    """docs/api.md "Errors": nginx answers 502 and 504 itself, as JSON of
    the same shape (conf/nginx/orchid-locations.conf): 502 when orchidd
    cannot be reached, 504 when a worker does not answer within
    fastcgi_read_timeout."""

    def start(self, **options):
        srv = Server(**options)
        srv.start()
        self.addCleanup(srv.stop)
        return srv, srv.new_key("nginx-errors")

    def test_502_when_orchidd_is_stopped(self):
        srv, key = self.start()
        srv.stop_orchidd()
        self.assertFalse(os.path.exists(srv.socket_path), "precondition: the socket is gone")
        for method, body in (("GET", None), ("PUT", {"a": 1})):
            with self.subTest(method=method):
                self.assertJsonErrorAnswer(srv.request(method, "/v0/c/k", key=key, body=body),
                                           502, "service_unavailable")
        srv.start_orchidd()
        srv.wait_ready()
        # the PUT never reached a worker: nothing was stored
        self.assertJsonErrorAnswer(srv.request("GET", "/v0/c/k", key=key),
                                   404, "items_not_found")

    def test_502_when_orchidd_was_killed(self):
        srv, key = self.start()
        srv.kill_orchidd(signal.SIGKILL)
        srv.orchidd_proc.wait(30)
        # the maintainer and the workers follow their master (DESIGN.md 6)
        self.assertTrue(wait_for(lambda: srv.orchidd_pids() == {
            "master": None, "maintainer": None, "indexer": None, "workers": []}, 30),
                        "children outlived the master: %r" % srv.orchidd_pids())
        self.assertTrue(os.path.exists(srv.socket_path), "precondition: a stale socket")
        self.assertJsonErrorAnswer(srv.request("GET", "/v0/c/k", key=key),
                                   502, "service_unavailable")

    @harness.timeout(120)
    def test_504_when_no_worker_answers_in_time(self):
        srv, key = self.start(nginx_settings={"fastcgi_read_timeout": "1s"})
        self.assertEqual(srv.request("PUT", "/v0/c/k", key=key, body={"v": 1})[0], 201)
        workers = srv.orchidd_pids()["workers"]
        self.assertEqual(len(workers), srv.workers)

        def resume():
            for pid in workers:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass

        self.addCleanup(resume)
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        resp = srv.request("GET", "/v0/c/k", key=key, timeout=60)
        self.assertJsonErrorAnswer(resp, 504, "operation_timed_out")
        self.assertIn("unknown", resp[3]["message"])
        resume()
        # the workers take up their queue again; the data is unchanged
        deadline = time.monotonic() + 30
        while True:
            try:
                resp = srv.request("GET", "/v0/c/k", key=key, timeout=10)
            except (OSError, http.client.HTTPException):
                resp = None
            if (resp and resp[0] == 200) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual((resp[0], resp[3]), (200, {"v": 1}))


if __name__ == "__main__":
    unittest.main()
