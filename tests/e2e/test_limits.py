"""Greedy and slow clients: the per-tenant rate limit (429 + Retry-After) and
nginx's buffering, which keeps slow senders and idle connections away from
the few orchidd workers."""

import socket
import time
import threading

from harness import ServerTestCase


class RateLimitTest(ServerTestCase):
    server_options = {"workers": 2, "extra": {"rate_limit": 5, "rate_burst": 5}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key_a = cls.server.new_key("greedy")
        cls.key_b = cls.server.new_key("polite")

    def test_over_the_limit_gets_429_and_others_are_unaffected(self):
        statuses = [self.server.request("HEAD", "/v0", key=self.key_a)[0] for _ in range(12)]
        self.assertEqual(statuses[:5], [200] * 5, statuses)
        self.assertIn(429, statuses[5:], statuses)
        resp = self.server.request("GET", "/v0/c/k", key=self.key_a)
        self.assertJsonError(resp, 429, "rate_limited")
        retry = int(resp[1]["retry-after"])
        self.assertGreaterEqual(retry, 1)
        # Another tenant has its own bucket.
        self.assertEqual(self.server.request("HEAD", "/v0", key=self.key_b)[0], 200)
        # A refused write stores nothing.
        st = self.server.request("PUT", "/v0/c/limited", key=self.key_a, body={"x": 1})[0]
        if st == 429:
            time.sleep(retry + 0.2)
            self.assertEqual(self.server.request("GET", "/v0/c/limited", key=self.key_a)[0], 404)
        time.sleep(retry + 0.2)
        self.assertEqual(self.server.request("HEAD", "/v0", key=self.key_a)[0], 200)

    def test_unauthenticated_requests_do_not_spend_a_tenant_budget(self):
        for _ in range(10):
            self.assertEqual(self.server.request("HEAD", "/v0", key="nope")[0], 401)


class SlowClientsTest(ServerTestCase):
    """Two workers; many idle connections and slow senders at once. nginx
    reads whole requests before it passes them on (fastcgi_request_buffering,
    client_header_timeout, client_body_timeout), so ordinary requests keep
    being answered."""

    server_options = {"workers": 2}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("slow")

    def _connect(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
        return s

    def test_slow_and_idle_clients_do_not_tie_up_workers(self):
        socks = []
        stop = threading.Event()
        try:
            for _ in range(100):  # idle: connected, nothing sent
                socks.append(self._connect())
            for _ in range(30):  # slowloris: headers never finished
                s = self._connect()
                s.sendall(b"GET /v0/c/k HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            slow_bodies = []
            for i in range(30):  # a body trickling in, one byte at a time
                s = self._connect()
                s.sendall(("PUT /v0/c/slow%d HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Content-Length: 1000\r\n\r\n{" % i).encode())
                slow_bodies.append(s)
                socks.append(s)

            def trickle():
                while not stop.is_set():
                    for s in slow_bodies:
                        try:
                            s.sendall(b" ")
                        except OSError:
                            pass
                    stop.wait(0.5)

            t = threading.Thread(target=trickle, daemon=True)
            t.start()
            # Ordinary clients are answered meanwhile (each within the
            # harness's client timeout).
            for i in range(40):
                st = self.server.request("PUT", "/v0/c/fast%d" % i, key=self.key, body={"i": i})[0]
                self.assertEqual(st, 201)
                st = self.server.request("GET", "/v0/c/fast%d" % i, key=self.key)[0]
                self.assertEqual(st, 200)
        finally:
            stop.set()
            for s in socks:
                s.close()
        # None of the slow writes reached the database.
        doc = self.server.request("GET", "/v0/c?limit=100", key=self.key)[3]
        keys = [r["path"]["key"] for r in doc["results"]]
        self.assertFalse([k for k in keys if k.startswith("slow")], keys)
