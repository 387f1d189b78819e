"""Smoke test: the whole path client -> nginx -> FastCGI socket -> orchidd
works, and the errors nginx answers itself are JSON too."""

import unittest

from harness import UUID_RE, ServerTestCase


class SmokeTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("smoke")

    def test_key_is_uuid(self):
        self.assertRegex(self.key, UUID_RE)

    def test_ping_with_key(self):
        status, headers, body, _ = self.server.request("HEAD", "/v0", key=self.key)
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertIn("application/json", headers.get("content-type", ""))
        self.assertRegex(headers.get("x-orchestrate-req-id", ""), UUID_RE)

    def test_request_ids_differ(self):
        ids = {self.server.request("HEAD", "/v0", key=self.key)[1].get("x-orchestrate-req-id")
               for _ in range(3)}
        self.assertEqual(len(ids), 3)

    def test_no_key_is_401(self):
        self.assertJsonError(self.server.request("GET", "/v0"), 401, "security_unauthorized")

    def test_unknown_key_is_401(self):
        resp = self.server.request("GET", "/v0", key="00000000-0000-4000-8000-000000000000")
        self.assertJsonError(resp, 401, "security_unauthorized")

    def test_body_over_2mib_is_json_413_from_nginx(self):
        body = b'{"a":"' + b"x" * (3 * 1024 * 1024) + b'"}'
        resp = self.server.request("PUT", "/v0/smoke/big", key=self.key, raw_body=body)
        self.assertJsonError(resp, 413, "request_too_large")
        self.assertIn("2 MiB", resp[3]["message"])

    def test_path_outside_v0_is_json_404(self):
        self.assertJsonError(self.server.request("GET", "/nope", key=self.key),
                             404, "api_bad_request")
        self.assertJsonError(self.server.request("GET", "/"), 404, "api_bad_request")

    def test_error_pages_are_not_reachable_directly(self):
        self.assertJsonError(self.server.request("GET", "/_orchid/error/502"),
                             404, "api_bad_request")

    def test_orchidd_processes(self):
        pids = self.server.orchidd_pids()
        self.assertEqual(pids["master"], self.server.orchidd_proc.pid)
        self.assertIsNotNone(pids["maintainer"])
        self.assertEqual(len(pids["workers"]), self.server.workers)


if __name__ == "__main__":
    unittest.main()
