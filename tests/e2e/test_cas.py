"""Conditional-write correctness: 16 clients doing read-modify-write with
If-Match on one item and on one event. Every success is a new version, no two
successes share a predecessor, nothing is lost, also while workers are being
killed."""

import functools
import os
import random
import signal
import threading
import time

from harness import ServerTestCase, run_threads

CLIENTS = 16
ROUNDS = 8   # successful increments each client aims for


def _retry(fn, deadline=20.0):
    end = time.time() + deadline
    while True:
        resp = fn()
        if resp[0] not in (502, 503, 504) or time.time() > end:
            return resp
        time.sleep(0.05)


class CasTest(ServerTestCase):
    server_options = {"workers": 4}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("cas")

    def _run_item_clients(self, path, kill=False):
        srv, key = self.server, self.key
        st = srv.request("PUT", path, key=self.key, body={"n": 0, "by": -1, "prev": None})[0]
        self.assertEqual(st, 201)
        wins, unknown, lock = [], [], threading.Lock()

        def client(cid):
            done = 0
            tries = 0
            while done < ROUNDS and tries < 2000:
                tries += 1
                try:
                    st, h, body, doc = srv.request("GET", path, key=key, timeout=10)
                except OSError:
                    st = None
                if st != 200:
                    # Only a killed worker excuses a failed read.
                    self.assertTrue(kill and st in (None, 502, 503, 504), (st, body))
                    continue
                prev = h["etag"].strip('"')
                new = {"n": doc["n"] + 1, "by": cid, "prev": prev, "try": tries}
                try:
                    st, h, body, _ = srv.request("PUT", path, key=key, body=new,
                                                 headers={"If-Match": '"%s"' % prev}, timeout=10)
                except OSError:
                    st, h, body = None, {}, b""
                with lock:
                    if st == 201:
                        wins.append((prev, h["etag"].strip('"'), new))
                        done += 1
                    elif st != 412:
                        # Outcome unknown: allowed only while workers die.
                        self.assertTrue(kill and st in (None, 502, 503, 504), (st, body))
                        unknown.append(new)
            self.assertEqual(done, ROUNDS, "client %d gave up after %d tries" % (cid, tries))

        stop = threading.Event()

        def nemesis():
            rnd = random.Random(7)
            while not stop.wait(0.3):
                workers = srv.orchidd_pids()["workers"]
                if workers:
                    try:
                        os.kill(rnd.choice(workers), signal.SIGKILL)
                    except ProcessLookupError:
                        pass

        run_threads([functools.partial(client, c) for c in range(CLIENTS)],
                    background=[nemesis] if kill else [], stop=stop)

        # No two successes share a predecessor.
        preds = [p for p, _, _ in wins]
        self.assertEqual(len(preds), len(set(preds)))
        # The history is one chain: each version names the one before it.
        hist, off = [], 0
        while True:
            st, _, body, doc = _retry(lambda: srv.request(
                "GET", "%s/refs?values=true&limit=100&offset=%d" % (path, off), key=key))
            self.assertEqual(st, 200, body)
            hist.extend(doc["results"])
            if "next" not in doc:
                break
            off += 100
        hist.reverse()  # oldest first
        for older, newer in zip(hist, hist[1:]):
            self.assertEqual(newer["value"]["prev"], older["path"]["ref"])
            self.assertEqual(newer["value"]["n"], older["value"]["n"] + 1)
        # Every acknowledged success is in it with its ref and value; nothing
        # else but writes whose outcome is unknown. (Values are unique: each
        # names its client, try and predecessor.)
        self.assertEqual(hist[0]["value"], {"n": 0, "by": -1, "prev": None})
        stored = {e["path"]["ref"]: e["value"] for e in hist[1:]}
        self.assertEqual(len(stored), len(hist) - 1, "a ref appears twice in the history")
        self.assertEqual({ref: new for _, ref, new in wins if ref in stored},
                         {ref: new for _, ref, new in wins}, "acknowledged writes missing")
        for ref, value in stored.items():
            if ref in {r for _, r, _ in wins}:
                continue
            self.assertIn(value, unknown, "a stored version nobody wrote or saw fail")
        if not kill:
            self.assertEqual(len(wins), CLIENTS * ROUNDS)
            self.assertEqual(stored, {ref: new for _, ref, new in wins})
        return wins, unknown

    def test_item_read_modify_write(self):
        self._run_item_clients("/v0/cas/counter")

    def test_item_read_modify_write_while_workers_are_killed(self):
        wins, _ = self._run_item_clients("/v0/cas/counter-killed", kill=True)
        self.assertGreater(len(wins), 0)

    def test_event_read_modify_write(self):
        srv, key = self.server, self.key
        st, h, _, _ = srv.request("POST", "/v0/cas/ev/events/count/1000", key=key, body={"n": 0})
        self.assertEqual(st, 201)
        url = h["location"]
        wins, lock = [], threading.Lock()

        def client(cid):
            done = 0
            while done < ROUNDS:
                st, h, _, doc = srv.request("GET", url, key=key)
                self.assertEqual(st, 200)
                prev = h["etag"]
                new = {"n": doc["value"]["n"] + 1, "by": cid}
                st, h, body, _ = srv.request("PUT", url, key=key, body=new,
                                             headers={"If-Match": prev})
                if st == 204:
                    with lock:
                        wins.append(prev)
                    done += 1
                else:
                    self.assertEqual(st, 412, body)

        run_threads([functools.partial(client, c) for c in range(CLIENTS)])
        self.assertEqual(len(wins), len(set(wins)))
        doc = srv.request("GET", url, key=key)[3]
        self.assertEqual(doc["value"]["n"], CLIENTS * ROUNDS)
