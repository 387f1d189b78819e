"""GET /metrics: the Prometheus exposition, read with the real parser
(Debian's python3-prometheus-client), through the shipped nginx locations.
Counters are checked by their change across requests this test makes, so the
other tests of a class's server cannot disturb them."""

import os
import re
import signal
import socket
import sys
import time
import unittest

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's package, when python3 is not Debian's own (pyenv and the like).
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

from harness import ServerTestCase

ITEM = "/v0/{collection}/{key}"


def parse(text):
    """{(sample name, frozenset of labels): value} and {family name: type}."""
    samples, types = {}, {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            if key in samples:
                raise AssertionError("sample %s %s repeated" % (s.name, s.labels))
            samples[key] = s.value
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


class MetricsTest(ServerTestCase):
    server_options = {"workers": 2}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("metricsco")

    def scrape(self):
        st, headers, body, _ = self.server.request("GET", "/metrics")
        self.assertEqual(st, 200, body)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"),
                        headers["content-type"])
        return parse(body.decode())

    def test_families_and_types(self):
        self.server.request("GET", "/v0", key=self.key)
        samples, types = self.scrape()
        expect = {
            "orchid_http_requests": "counter",
            "orchid_http_request_duration_seconds": "histogram",
            "orchid_rate_limited_requests": "counter",
            "orchid_deadlock_retries": "counter",
            "orchid_worker_starts": "counter",
            "orchid_worker_failures": "counter",
            "orchid_recoveries": "counter",
            "orchid_start_time_seconds": "gauge",
            "orchid_tenant_requests": "counter",
            "orchid_tenant_stored_bytes": "counter",
            "orchid_workers": "gauge",
            "orchid_db_commits": "counter",
            "orchid_db_aborts": "counter",
            "orchid_db_active_transactions": "gauge",
            "orchid_db_log_flushes": "counter",
            "orchid_db_log_written_bytes": "counter",
            "orchid_db_checkpoint_age_seconds": "gauge",
            "orchid_db_cache_hits": "counter",
            "orchid_db_cache_misses": "counter",
            "orchid_db_lock_waits": "counter",
            "orchid_db_deadlocks": "counter",
            "orchid_db_file_bytes": "gauge",
        }
        for name, kind in expect.items():
            self.assertEqual(types.get(name), kind, name)
        self.assertEqual(value(samples, "orchid_workers"), 2)
        self.assertGreaterEqual(value(samples, "orchid_recoveries_total"), 1)
        # Two workers, the indexer.
        self.assertGreaterEqual(value(samples, "orchid_worker_starts_total"), 3)
        self.assertGreater(value(samples, "orchid_db_file_bytes", file="items.db"), 0)
        self.assertGreater(value(samples, "orchid_db_file_bytes", file="log"), 0)
        self.assertGreaterEqual(value(samples, "orchid_db_checkpoint_age_seconds"), 0)

    def test_documented_metrics_exist(self):
        """Every orchid_* name docs/operations.md mentions (its table and
        its alert rules) is in a scrape, and every family of a scrape is
        documented."""
        doc_path = os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                                "operations.md")
        with open(doc_path) as f:
            doc = f.read()
        self.server.request("GET", "/v0", key=self.key)
        _, types = self.scrape()

        def family(name):
            for suffix in ("_bucket", "_sum", "_count", "_total"):
                if name.endswith(suffix) and name[:-len(suffix)] in types:
                    return name[:-len(suffix)]
            return name

        mentioned = {family(n) for n in re.findall(r"\borchid_[a-z_]+", doc)
                     if not n.endswith("_")}
        # The replication metrics exist only on a replicated site
        # (test_replication.py checks them there).
        mentioned_here = {n for n in mentioned if not n.startswith("orchid_replication_")}
        self.assertEqual(sorted(mentioned_here - set(types)), [], "documented, not exposed")
        self.assertEqual(sorted(set(types) - mentioned), [], "exposed, not documented")

    def test_requests_latency_and_tenant_counters(self):
        before, _ = self.scrape()
        body = b'{"name":"' + b"x" * 100 + b'"}'
        for i in range(3):
            st = self.server.request("PUT", "/v0/mcoll/k%d" % i, key=self.key,
                                     raw_body=body)[0]
            self.assertEqual(st, 201)
        for i in range(2):
            self.assertEqual(self.server.request("GET", "/v0/mcoll/k0", key=self.key)[0], 200)
        self.assertEqual(self.server.request("GET", "/v0/mcoll/none", key=self.key)[0], 404)
        self.assertEqual(self.server.request("GET", "/v0/mcoll/k0")[0], 401)
        self.assertEqual(self.server.request("GET", "/elsewhere")[0], 404)
        after, _ = self.scrape()

        def delta(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        req = "orchid_http_requests_total"
        self.assertEqual(delta(req, route=ITEM, method="PUT", status="201"), 3)
        self.assertEqual(delta(req, route=ITEM, method="GET", status="200"), 2)
        self.assertEqual(delta(req, route=ITEM, method="GET", status="404"), 1)
        self.assertEqual(delta(req, route=ITEM, method="GET", status="401"), 1)
        # A path outside /v0 never reaches orchidd: nginx answers it.
        hist = "orchid_http_request_duration_seconds"
        self.assertEqual(delta(hist + "_count", route=ITEM, method="PUT"), 3)
        self.assertEqual(delta(hist + "_bucket", route=ITEM, method="PUT", le="+Inf"), 3)
        self.assertGreater(delta(hist + "_sum", route=ITEM, method="PUT"), 0)
        # Buckets are cumulative.
        les = sorted((float(dict(k[1])["le"]), v) for k, v in after.items()
                     if k[0] == hist + "_bucket" and dict(k[1]).get("route") == ITEM
                     and dict(k[1]).get("method") == "GET")
        self.assertEqual([v for _, v in les], sorted(v for _, v in les))
        # The tenant: 3 PUTs, 3 GETs with its key; the 401 has no tenant.
        self.assertEqual(delta("orchid_tenant_requests_total", tenant="metricsco"), 6)
        self.assertEqual(delta("orchid_tenant_stored_bytes_total", tenant="metricsco"),
                         3 * len(body))
        self.assertGreaterEqual(delta("orchid_db_commits_total"), 3)
        self.assertGreaterEqual(delta("orchid_db_log_flushes_total"), 1)
        self.assertGreater(delta("orchid_db_log_written_bytes_total"), 3 * len(body))

    def test_scrape_is_counted_and_needs_no_key(self):
        before, _ = self.scrape()
        after, _ = self.scrape()
        self.assertEqual(value(after, "orchid_http_requests_total", route="/metrics",
                               method="GET", status="200")
                         - value(before, "orchid_http_requests_total", route="/metrics",
                                 method="GET", status="200"), 1)

    def test_head_and_other_methods(self):
        st, headers, body, _ = self.server.request("HEAD", "/metrics")
        self.assertEqual((st, body), (200, b""))
        resp = self.server.request("POST", "/metrics", raw_body=b"{}")
        self.assertJsonError(resp, 405, "api_bad_request")
        self.assertEqual(resp[1].get("allow"), "GET, HEAD")
        # Only the exact path.
        self.assertJsonError(self.server.request("GET", "/metrics/x"), 404, "api_bad_request")
        # /v0/metrics is a collection of the tenant, like any other name.
        st, _, body, doc = self.server.request("GET", "/v0/metrics", key=self.key)
        self.assertEqual((st, doc.get("count")), (200, 0), body)
        self.assertNotIn(b"orchid_", body)

    def test_other_address_is_refused_by_nginx(self):
        """The shipped location allows loopback only: 127.0.0.2 is another
        address (the whole 127/8 reaches the 127.0.0.1 listener)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.bind(("127.0.0.2", 0))
            s.connect(("127.0.0.1", self.server.port))
            s.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 403"), head)
        self.assertIn(b'"code":"forbidden"', body)
        self.assertNotIn(b"orchid_", body)

    def test_worker_failure_is_counted(self):
        before, _ = self.scrape()
        victim = self.server.orchidd_pids()["workers"][0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.time() + 20
        while time.time() < deadline:
            pids = self.server.orchidd_pids()["workers"]
            if victim not in pids and len(pids) == 2:
                break
            time.sleep(0.1)
        self.server.wait_ready()
        after, _ = self.scrape()
        self.assertEqual(value(after, "orchid_worker_failures_total")
                         - value(before, "orchid_worker_failures_total"), 1)
        self.assertGreaterEqual(value(after, "orchid_worker_starts_total")
                                - value(before, "orchid_worker_starts_total"), 1)
        # The dead worker's counters stay: its slot lives in the master.
        for name, v in before.items():
            if name[0] == "orchid_http_requests_total":
                self.assertGreaterEqual(after.get(name, 0), v, name)


class MetricsRateLimitTest(ServerTestCase):
    server_options = {"workers": 2, "extra": {"rate_limit": 1, "rate_burst": 1}}

    def test_rate_limited_requests_are_counted(self):
        key = self.server.new_key("limited")
        statuses = [self.server.request("GET", "/v0", key=key)[0] for _ in range(4)]
        self.assertIn(429, statuses)
        st, _, body, _ = self.server.request("GET", "/metrics")
        self.assertEqual(st, 200)
        samples, _ = parse(body.decode())
        self.assertEqual(value(samples, "orchid_rate_limited_requests_total"),
                         statuses.count(429))
        self.assertEqual(value(samples, "orchid_http_requests_total", route="/v0",
                               method="GET", status="429"), statuses.count(429))


class MetricsOffTest(ServerTestCase):
    server_options = {"workers": 2, "extra": {"metrics": 0}}

    def test_off_is_404(self):
        self.assertJsonError(self.server.request("GET", "/metrics"), 404, "api_bad_request")


if __name__ == "__main__":
    unittest.main()
