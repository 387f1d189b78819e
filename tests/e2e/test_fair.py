"""Fair sharing (issue 15): one tenant cannot hold every worker
(tenant_max_inflight), a list page examines a bounded number of records
(list_scan_budget), and nginx limits requests without credentials per client
address. Timings are generous bounds, never tight."""

import base64
import http.client
import json
import os
import signal
import socket
import threading
import time

from harness import ServerTestCase

WORKERS = 4
SHARE = 3            # the default tenant_max_inflight: 4 - max(1, 4 // 4)
ITEMS = 24           # about 24 MB to export: more than the socket buffers hold
VALUE = "x" * (1000 * 1000)
BOUND = 5.0          # seconds another tenant's request may take, at most


def _auth(key):
    return "Basic " + base64.b64encode(("%s:" % key).encode()).decode()


class TenantShareTest(ServerTestCase):
    """Tenant A starts exports of a large collection and stops reading them:
    each export holds its worker (X-Accel-Buffering: no) until nginx's
    send_timeout (10 s). A gets at most SHARE workers; tenant B is answered
    by the others."""

    # None: orchidd's default (harness.py turns the limit off otherwise).
    server_options = {"workers": WORKERS, "extra": {"tenant_max_inflight": None}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key_a = cls.server.new_key("greedy")
        cls.key_b = cls.server.new_key("other")
        for i in range(ITEMS):
            st = cls.server.request("PUT", "/v0/big/k%02d" % i, key=cls.key_a,
                                    body={"v": VALUE})[0]
            assert st == 201, st

    def hold_export(self):
        """Starts an export as tenant A and reads only its status line and
        headers. Returns (socket or None, status or None when no answer came
        within 10 s, the rest of a short answer)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", self.server.port))
        s.sendall(("GET /v0/big?export=true HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   "Authorization: %s\r\n\r\n" % _auth(self.key_a)).encode())
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = s.recv(1)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            return s, None, b""
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else None
        if status != 200:
            rest = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
            except socket.timeout:
                pass
            s.close()
            return None, status, data + rest
        return s, status, data

    def hold(self, n):
        held, statuses, refused = [], [], []
        for _ in range(n):
            s, st, data = self.hold_export()
            statuses.append(st)
            if s is not None:
                held.append(s)
            if st == 429:
                refused.append(data)
        return held, statuses, refused

    def release(self, held):
        for s in held:
            s.close()

    def hold_share(self, timeout=30):
        """Holds SHARE exports of A, waiting (up to timeout) for the workers
        that served A's earlier exports to notice their clients are gone:
        a worker blocked writing an export leaves its place only when nginx
        has closed its connection, which takes longer under the sanitizers."""
        deadline = time.monotonic() + timeout
        while True:
            held, statuses, refused = self.hold(SHARE)
            if statuses == [200] * SHARE or time.monotonic() > deadline:
                return held, statuses, refused
            self.release(held)
            time.sleep(1)

    def wait_answering(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.server.request("HEAD", "/v0", key=self.key_b, timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.fail("the server did not answer again within %d s" % timeout)

    def test_a_greedy_tenant_leaves_workers_for_the_others(self):
        srv = self.server
        held, statuses, refused = self.hold_share()
        more = self.hold(WORKERS - SHARE)
        held, statuses, refused = held + more[0], statuses + more[1], refused + more[2]
        try:
            # B is answered promptly by the worker A may not take, while
            # A's exports still hold theirs (without the limit they hold
            # every worker, and B waits for nginx's send_timeout, 10 s).
            for i in range(5):
                start = time.monotonic()
                st = srv.request("PUT", "/v0/b/k%d" % i, key=self.key_b, body={"i": i},
                                 timeout=30)[0]
                took = time.monotonic() - start
                self.assertEqual(st, 201)
                self.assertLess(took, BOUND, "B's write %d took %.1f s" % (i, took))
                start = time.monotonic()
                st = srv.request("GET", "/v0/b?limit=100", key=self.key_b, timeout=30)[0]
                took = time.monotonic() - start
                self.assertEqual(st, 200)
                self.assertLess(took, BOUND, "B's list %d took %.1f s" % (i, took))
            self.assertEqual(statuses, [200] * SHARE + [429] * (WORKERS - SHARE), statuses)
            self.assertIn(b'"code":"tenant_busy"', refused[0])
            self.assertIn(b"\r\nRetry-After: 1\r\n", refused[0])
            # A's small requests are refused too while it holds its share.
            resp = srv.request("HEAD", "/v0", key=self.key_a)
            self.assertEqual(resp[0], 429)
        finally:
            self.release(held)
        self.wait_answering()

    def test_a_killed_worker_gives_its_place_back(self):
        srv = self.server
        held, statuses, _ = self.hold_share()
        try:
            self.assertEqual(statuses, [200] * SHARE)
            # Every worker dies in the middle of its request (three of them
            # in one of A's exports); the master respawns them.
            for pid in srv.orchidd_pids()["workers"]:
                os.kill(int(pid), signal.SIGKILL)
        finally:
            self.release(held)
        self.wait_answering()
        srv._wait_workers()
        # A has nothing in flight: it gets its whole share again, at once.
        held, statuses, _ = self.hold_share()
        self.release(held)
        self.assertEqual(statuses, [200] * SHARE,
                         "A's exports after its workers were killed")
        self.wait_answering()


class ScanBudgetTest(ServerTestCase):
    """A collection of deleted items: a page stops after list_scan_budget
    records with a next link, and following next reaches the live item."""

    BUDGET = 50
    server_options = {"workers": 2, "extra": {"list_scan_budget": BUDGET}}

    def test_tombstones_end_a_page_early_with_next(self):
        srv = self.server
        key = srv.new_key("tombs")
        for i in range(3 * self.BUDGET):
            self.assertEqual(srv.request("PUT", "/v0/t/d%03d" % i, key=key, body={})[0], 201)
            self.assertEqual(srv.request("DELETE", "/v0/t/d%03d" % i, key=key)[0], 204)
        self.assertEqual(srv.request("PUT", "/v0/t/z", key=key, body={"live": 1})[0], 201)

        st, hdrs, body, doc = srv.request("GET", "/v0/t?limit=10", key=key)
        self.assertEqual(st, 200, body)
        self.assertEqual((doc["count"], doc["results"]), (0, []))
        self.assertIn("startKey=d%03d" % self.BUDGET, doc["next"])
        self.assertIn('rel="next"', hdrs["link"])

        pages, found, url = 0, [], "/v0/t?limit=10"
        while url is not None and pages < 20:
            st, _, body, doc = srv.request("GET", url, key=key)
            self.assertEqual(st, 200, body)
            self.assertEqual(doc["count"], len(doc["results"]))
            found += [r["path"]["key"] for r in doc["results"]]
            url = doc.get("next")
            pages += 1
        self.assertEqual(found, ["z"])
        self.assertEqual(pages, 4)  # 50 + 50 + 50 deleted, then d150.. z
        # A live page is unchanged: values, limit and afterKey as before.
        st, _, _, doc = srv.request("GET", "/v0/t?limit=10&startKey=z", key=key)
        self.assertEqual((doc["count"], doc["results"][0]["value"]), (1, {"live": 1}))
        self.assertNotIn("next", doc)


class AnonymousFloodTest(ServerTestCase):
    """nginx's orchid_anon zone: requests without credentials from one
    address are limited (10 a second, burst 100); requests with a key are
    not counted there and still succeed."""

    server_options = {"workers": 2}

    def test_a_flood_without_credentials_gets_429_from_nginx(self):
        srv = self.server
        key = srv.new_key("keyed")
        statuses = {}
        limited = None
        for _ in range(300):
            resp = srv.request("GET", "/v0/c/k")
            statuses[resp[0]] = statuses.get(resp[0], 0) + 1
            if resp[0] == 429:
                limited = resp
        self.assertGreater(statuses.get(429, 0), 0, statuses)
        self.assertGreater(statuses.get(401, 0), 0, statuses)
        self.assertEqual(set(statuses), {401, 429}, statuses)
        self.assertJsonError(limited, 429, "rate_limited")
        self.assertEqual(limited[1].get("retry-after"), "1")
        # With a key: answered by orchidd, during the flood's limit.
        self.assertEqual(srv.request("HEAD", "/v0", key=key)[0], 200)
        self.assertEqual(srv.request("PUT", "/v0/c/k", key=key, body={})[0], 201)


class FailedAuthFloodTest(ServerTestCase):
    """nginx's orchid_perip zone: a client guessing keys (every request with
    a key, a wrong one) is limited per address, 200 a second with a burst of
    400, before orchidd spends a worker on each 401. The shipped configs
    exempt all of 127.0.0.0/8; this server exempts 127.0.0.1 only, and the
    guesser speaks from 127.0.0.2."""

    server_options = {"workers": 2,
                      "nginx_replace": {"127.0.0.0/8 1;": "127.0.0.1/32 1;"}}

    def statuses(self, source, key, n, threads=8):
        """n requests with key from source, on `threads` kept connections at
        once (faster than 200 a second even where each 401 is slow)."""
        seen = {}
        last = {}
        lock = threading.Lock()
        token = base64.b64encode(("%s:" % key).encode()).decode()

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30,
                                              source_address=(source, 0))
            try:
                for _ in range(n // threads):
                    conn.request("GET", "/v0/c/k",
                                 headers={"Authorization": "Basic " + token})
                    resp = conn.getresponse()
                    body = resp.read()
                    with lock:
                        seen[resp.status] = seen.get(resp.status, 0) + 1
                        last[resp.status] = (resp.status, dict(
                            (k.lower(), v) for k, v in resp.getheaders()), body)
                    if resp.getheader("connection", "").lower() == "close":
                        conn.close()
            finally:
                conn.close()

        workers = [threading.Thread(target=client) for _ in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join(120)
        return seen, last

    def test_a_key_guesser_gets_429_from_nginx(self):
        srv = self.server
        key = srv.new_key("guessed")
        wrong = "00000000-0000-4000-8000-000000000000"
        seen, last = self.statuses("127.0.0.2", wrong, 1600)
        self.assertGreater(seen.get(401, 0), 0, seen)
        self.assertGreater(seen.get(429, 0), 0, "no 429 in %s" % seen)
        self.assertEqual(set(seen), {401, 429}, seen)
        status, headers, body = last[429]
        self.assertEqual(json.loads(body).get("code"), "rate_limited", body)
        self.assertEqual(headers.get("retry-after"), "1")
        # The exempt address is not limited, with the right key or not.
        seen, _ = self.statuses("127.0.0.1", wrong, 800)
        self.assertEqual(set(seen), {401}, seen)
        self.assertEqual(srv.request("HEAD", "/v0", key=key)[0], 200)
