"""Kept upstream connections (issue 12): nginx keeps its connections to
orchidd (fastcgi_keep_conn on, keepalive in the upstream), a worker waits on
all of its kept connections at once instead of being pinned to one, and a
worker that exits (max_requests, a reload) hands its idle connections to
the others: no request nginx sends on them is lost. That a worker busy with
a long request hands its idle connections on is test_fair's greedy-tenant
test (another tenant's requests answered while exports hold workers) and
check_fcgi's test_keep_handoff_busy."""

import base64
import http.client
import json
import os
import signal
import threading
import time

from harness import ServerTestCase, run_threads

THREADS = 6
REQUESTS = 120      # per thread: PUTs and GETs, alternately
MAX_REQUESTS = 40   # per worker: about 18 replacements in the run


def connected_on(socket_path):
    """Connected stream sockets bound to orchidd's socket path: the
    connections orchidd's workers accepted and still hold (/proc/net/unix;
    an accepted socket carries the listener's path)."""
    n = 0
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            # Num RefCount Protocol Flags Type St Inode Path
            if len(parts) >= 8 and parts[7] == socket_path and parts[5] == "03":
                n += 1
    return n


class KeptConnectionsTest(ServerTestCase):
    server_options = {"workers": 3}

    def test_nginx_reuses_its_connections(self):
        key = self.server.new_key("kept")
        for i in range(20):
            st = self.server.request("PUT", "/v0/k/i%d" % i, key=key, body={"i": i})[0]
            self.assertEqual(st, 201)
        # Idle now: nginx caches its connections, and orchidd's workers hold
        # them open for the next request.
        self.assertGreater(connected_on(self.server.socket_path), 0,
                           "no connection to orchidd stays open between requests")


class NoKeptConnectionsTest(ServerTestCase):
    """The control: with fastcgi_keep_conn off every connection is closed
    after its request, so what the test above counts is the keeping."""
    server_options = {"workers": 3, "nginx_settings": {"fastcgi_keep_conn": "off"}}

    def test_connections_are_closed(self):
        key = self.server.new_key("closed")
        for i in range(20):
            st = self.server.request("PUT", "/v0/k/i%d" % i, key=key, body={"i": i})[0]
            self.assertEqual(st, 201)
        deadline = time.monotonic() + 5
        while connected_on(self.server.socket_path) > 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(connected_on(self.server.socket_path), 0)


class ReplacedWorkersTest(ServerTestCase):
    """Workers replaced under load, by max_requests and by reloads: every
    request gets its answer (no 502 from a connection closed under nginx)."""
    server_options = {"workers": 3, "extra": {"max_requests": MAX_REQUESTS}}

    def test_no_request_is_lost_to_a_departing_worker(self):
        srv = self.server
        key = srv.new_key("load")
        auth = "Basic " + base64.b64encode(("%s:" % key).encode()).decode()
        bad = []
        lock = threading.Lock()
        before = set(srv.orchidd_pids()["workers"])
        seen = set(before)

        def client(n):
            def run():
                # One client connection each, kept alive: nginx's upstream
                # connections are reused across all of them.
                conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
                try:
                    for i in range(REQUESTS):
                        path = "/v0/load/t%d-%d" % (n, i // 2)
                        if i % 2 == 0:
                            body = json.dumps({"n": n, "i": i}).encode()
                            conn.request("PUT", path, body=body, headers={
                                "Authorization": auth, "Content-Type": "application/json"})
                        else:
                            conn.request("GET", path, headers={"Authorization": auth})
                        resp = conn.getresponse()
                        payload = resp.read()
                        if resp.status not in (200, 201):
                            with lock:
                                bad.append((path, resp.status, payload[:200]))
                finally:
                    conn.close()
            return run

        def reloads():
            for _ in range(3):
                time.sleep(0.7)
                seen.update(srv.orchidd_pids()["workers"])
                os.kill(srv.orchidd_proc.pid, signal.SIGHUP)

        run_threads([client(n) for n in range(THREADS)], timeout=240, during=reloads)
        seen.update(srv.orchidd_pids()["workers"])
        self.assertEqual(bad, [], "requests that got no answer of their own")
        # The scenario happened: workers were replaced during the run.
        self.assertGreaterEqual(len(seen - before), 6, "workers seen: %r" % sorted(seen))
