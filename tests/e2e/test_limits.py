"""Greedy and slow clients: the per-tenant rate limit (429 + Retry-After) and
nginx's buffering, which keeps slow senders and idle connections away from
the few orchidd workers."""

import socket
import time
import threading

from harness import ServerTestCase, run_threads

RATE, BURST = 1, 5


class RateLimitTest(ServerTestCase):
    # One token a second: the refill during a test is small, so the budget
    # below is tight, and a fresh bucket holds exactly BURST tokens.
    server_options = {"workers": 2, "extra": {"rate_limit": RATE, "rate_burst": BURST}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key_a = cls.server.new_key("greedy")
        cls.key_b = cls.server.new_key("polite")
        cls.key_c = cls.server.new_key("patient")

    def test_over_the_limit_gets_429_and_others_are_unaffected(self):
        srv = self.server
        start = time.monotonic()
        admitted = []
        i = 0
        while True:
            path = "/v0/c/w%d" % i
            resp = srv.request("PUT", path, key=self.key_a, body={"i": i})
            elapsed = time.monotonic() - start
            if resp[0] != 201:
                break
            admitted.append(path)
            # Never more than the burst plus what the elapsed time refilled
            # (+1 for rounding to milliseconds): so a 429 must come.
            self.assertLessEqual(len(admitted), BURST + RATE * elapsed + 1,
                                 "%d writes admitted in %.2f s" % (len(admitted), elapsed))
            i += 1
        # A fresh bucket lets the first BURST requests through.
        self.assertGreaterEqual(len(admitted), BURST)
        self.assertJsonError(resp, 429, "rate_limited")
        # Less than one token is missing: at RATE tokens a second, 1 s.
        self.assertEqual(resp[1].get("retry-after"), "1")
        # Another tenant has its own bucket; a bad key is refused as such.
        self.assertEqual(srv.request("HEAD", "/v0", key=self.key_b)[0], 200)
        self.assertJsonError(srv.request("GET", "/v0/c/w0", key=self.key_a.upper()),
                             401, "security_unauthorized")
        # After Retry-After there is a token: the admitted writes are
        # stored, the refused one is not.
        time.sleep(int(resp[1]["retry-after"]) + 0.2)
        st, _, body, doc = srv.request("GET", "/v0/c?limit=100&values=false", key=self.key_a)
        self.assertEqual(st, 200, body)
        self.assertEqual([r["path"]["key"] for r in doc["results"]],
                         sorted(p.rsplit("/", 1)[1] for p in admitted))

    def test_unauthenticated_requests_do_not_spend_a_tenant_budget(self):
        srv = self.server
        # Keys that are not the patient tenant's key but look like it.
        for bad in ("nope", self.key_c.upper(), self.key_c[:-1], self.key_c + "0", ""):
            for _ in range(2):
                resp = srv.request("GET", "/v0", key=bad)
                self.assertJsonError(resp, 401, "security_unauthorized")
        # The patient tenant still has its whole burst (a fresh bucket
        # refills only while unused, so no timing can make this pass).
        statuses = [srv.request("HEAD", "/v0", key=self.key_c)[0] for _ in range(BURST)]
        self.assertEqual(statuses, [200] * BURST)


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

            def ordinary_clients():
                # Answered meanwhile (each within the harness's client
                # timeout).
                for i in range(40):
                    st = self.server.request("PUT", "/v0/c/fast%d" % i, key=self.key,
                                             body={"i": i})[0]
                    self.assertEqual(st, 201)
                    st, _, _, doc = self.server.request("GET", "/v0/c/fast%d" % i, key=self.key)
                    self.assertEqual((st, doc), (200, {"i": i}))

            run_threads([], during=ordinary_clients, background=[trickle], stop=stop)
        finally:
            stop.set()
            for s in socks:
                s.close()
        # Exactly the ordinary writes are stored; none of the slow ones.
        st, _, body, doc = self.server.request("GET", "/v0/c?limit=100", key=self.key)
        self.assertEqual(st, 200, body)
        self.assertEqual([(r["path"]["key"], r["value"]) for r in doc["results"]],
                         sorted(("fast%d" % i, {"i": i}) for i in range(40)))
        self.assertNotIn("next", doc)
