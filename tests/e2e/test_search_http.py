"""The HTTP side of search (docs/api.md "Search"): which requests are a
search (GET and HEAD of /v0/{c} and /v0 with a query parameter), and every
answer given before the index is asked: 400 search_param_invalid for
limit, offset, the deepest page, sort, aggregate and an empty query
(details naming the parameter), 400 search_query_malformed for a query
that does not parse (details.query saying where), 400 api_bad_request for
values, with_fields/without_fields and export=true. A refused search
changes nothing and the server stays up. Valid parameters pass the checks
(then the index answers: 200, or 503 search_index_unavailable with
Retry-After while it cannot; test_search.py checks the answers)."""

import re
import urllib.parse

from harness import UUID_RE, ServerTestCase

PARAM = "search_param_invalid"
MALFORMED = "search_query_malformed"
BAD = "api_bad_request"


def q(**params):
    return "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


class SearchHttpTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("search-http")
        for i in range(3):
            st, _, body, _ = cls.server.request("PUT", "/v0/sh/k%d" % i, key=cls.key,
                                                body={"name": "n%d" % i, "i": i})
            assert st == 201, body

    def req(self, method, path, key=None, **kw):
        resp = self.server.request(method, path, key=self.key if key is None else key, **kw)
        st, h, body, doc = resp
        ctx = "%s %s -> %d %r" % (method, path, st, body[:300])
        self.assertIn("application/json", h.get("content-type", ""), ctx)
        self.assertRegex(h.get("x-orchestrate-req-id", ""), UUID_RE, ctx)
        return resp

    def assertRefused(self, path, status, code, method="GET"):
        resp = self.req(method, path)
        st, h, body, doc = resp
        self.assertEqual(st, status, "%s %s: %r" % (method, path, body[:300]))
        if method == "HEAD":
            self.assertEqual(body, b"")
            return None
        self.assertEqual(doc.get("code"), code, body)
        self.assertIsInstance(doc.get("message"), str, body)
        self.assertNotIn("link", h, body)
        return doc

    def snapshot(self):
        """What a refused search must not change."""
        items = self.req("GET", "/v0/sh?limit=100")[3]
        colls = self.req("GET", "/v0")[3]
        refs = self.req("GET", "/v0/sh/k0/refs")[3]
        return items, colls, refs

    def assertAccepted(self, path):
        """The checks let it through: the index answered."""
        st, h, body, doc = self.req("GET", path)
        self.assertIn(st, (200, 503), "%s: %r" % (path, body[:300]))
        if st == 503:
            self.assertEqual(doc["code"], "search_index_unavailable", body)
            self.assertRegex(h.get("retry-after", ""), r"^[1-9][0-9]*$", body)
        else:
            self.assertIsInstance(doc["total_count"], int, body)
            self.assertEqual(doc["count"], len(doc["results"]), body)

    # ---- which requests are a search -------------------------------------

    def test_listing_without_query_is_unchanged(self):
        st, _, body, doc = self.req("GET", "/v0/sh?limit=2")
        self.assertEqual(st, 200, body)
        self.assertEqual([r["path"]["key"] for r in doc["results"]], ["k0", "k1"])
        self.assertNotIn("total_count", doc)
        st, _, body, doc = self.req("GET", "/v0")
        self.assertEqual(st, 200, body)
        self.assertIn("sh", [r["collection"] for r in doc["results"]])
        self.assertEqual(self.req("HEAD", "/v0")[0], 200)
        # A parameter that only looks like it is not a search.
        st, _, body, doc = self.req("GET", "/v0/sh?Query=x&queryx=y&limit=1")
        self.assertEqual((st, len(doc["results"])), (200, 1), body)

    def test_other_methods_ignore_query(self):
        st, h, body, _ = self.req("POST", "/v0/shpost?query=(", body={"a": 1})
        self.assertEqual(st, 201, body)
        st, _, body, _ = self.req("PUT", "/v0/shpost/x?query=(", body={"a": 2})
        self.assertEqual(st, 201, body)
        st, _, body, doc = self.req("GET", "/v0/shpost/x?query=(")
        self.assertEqual((st, doc), (200, {"a": 2}), body)
        st, _, body, _ = self.req("PUT", "/v0/sh?query=a", body={"a": 1})
        self.assertEqual(st, 405, body)

    def test_unauthenticated_search_is_401(self):
        for path in ("/v0/sh?query=(", "/v0?query=a"):
            with self.subTest(path=path):
                st, h, body, doc = self.server.request("GET", path)
                self.assertEqual((st, doc["code"]), (401, "security_unauthorized"), body)
                st, h, body, doc = self.server.request("GET", path, key="nope")
                self.assertEqual((st, doc["code"]), (401, "security_unauthorized"), body)

    # ---- parameters ---------------------------------------------------------

    def test_limit(self):
        for bad in ("101", "-1", "abc", "1.5", "", "1e2", "0x10", "99999999999999999999"):
            with self.subTest(limit=bad):
                for base in ("/v0/sh", "/v0"):
                    doc = self.assertRefused(base + q(query="*", limit=bad), 400, PARAM)
                    self.assertIn("limit", doc["details"], doc)
                    self.assertIn("0 to 100", doc["details"]["limit"])

    def test_offset(self):
        for bad in ("-1", "x", "", "1.0", "99999999999999999999"):
            with self.subTest(offset=bad):
                doc = self.assertRefused("/v0/sh" + q(query="*", offset=bad), 400, PARAM)
                self.assertIn("offset", doc["details"], doc)

    def test_deepest_page(self):
        for offset, limit in ((99991, 10), (100000, 1), (100001, 0), (99901, 100)):
            with self.subTest(offset=offset, limit=limit):
                doc = self.assertRefused("/v0/sh" + q(query="*", offset=offset, limit=limit),
                                         400, PARAM)
                self.assertIn("100000", doc["details"]["offset"], doc)
        for offset, limit in ((99990, 10), (100000, 0), (99900, 100)):
            with self.subTest(offset=offset, limit=limit):
                self.assertAccepted("/v0/sh" + q(query="*", offset=offset, limit=limit))

    def test_empty_query(self):
        for text in ("", " ", "   \t", "\n"):
            with self.subTest(query=text):
                for base in ("/v0/sh", "/v0"):
                    doc = self.assertRefused(base + q(query=text), 400, PARAM)
                    self.assertEqual(doc["details"], {"query": "Query is empty."})

    def test_values_fields_and_export(self):
        for params in (dict(values="maybe"), dict(values=""), dict(values="TRUE"),
                       dict(with_fields=""), dict(with_fields="a,,b"),
                       dict(without_fields="a..b"), dict(with_fields="value."),
                       dict(export="true"), dict(export="yes"),
                       dict(export="true", history="true")):
            with self.subTest(params=params):
                for base in ("/v0/sh", "/v0"):
                    self.assertRefused(base + q(query="*", **params), 400, BAD)

    def test_sort(self):
        for sort in ("", ",", "value.name:up", "value.name:asc:more",
                     "value.name:asc,", ",value.name", ":asc"):
            with self.subTest(sort=sort):
                doc = self.assertRefused("/v0/sh" + q(query="*", sort=sort), 400, PARAM)
                self.assertIsInstance(doc["details"]["sort"], str, doc)

    def test_distance_needs_near(self):
        doc = self.assertRefused("/v0/sh" + q(query="*", sort="value.loc:distance:asc"),
                                 400, PARAM)
        self.assertIn("NEAR", doc["details"]["sort"])
        doc = self.assertRefused("/v0/sh" + q(query="name:n1",
                                               aggregate="value.loc:distance:*~1:1~*"),
                                 400, PARAM)
        self.assertIn("NEAR", doc["details"]["aggregate"])

    def test_aggregate(self):
        for agg in ("", ",", "value.i", "value.i:nope", "value.i:stats:extra",
                    "value.i:range", "value.i:time_series", ":stats",
                    "value.i:stats,"):
            with self.subTest(aggregate=agg):
                doc = self.assertRefused("/v0/sh" + q(query="*", aggregate=agg), 400, PARAM)
                self.assertIsInstance(doc["details"]["aggregate"], str, doc)

    def test_first_bad_parameter_is_named(self):
        # Paging first, then values and fields, sort, aggregate, the query.
        doc = self.assertRefused("/v0/sh" + q(query="(", limit="500", sort="x:up"), 400, PARAM)
        self.assertIn("limit", doc["details"])
        doc = self.assertRefused("/v0/sh" + q(query="(", sort="x:up"), 400, PARAM)
        self.assertIn("sort", doc["details"])
        doc = self.assertRefused("/v0/sh" + q(query="(", aggregate="x:nope"), 400, PARAM)
        self.assertIn("aggregate", doc["details"])
        self.assertRefused("/v0/sh" + q(query="(", values="no"), 400, BAD)

    # ---- the query -----------------------------------------------------------

    MALFORMED_QUERIES = ("(a", "a)", "((a) OR b", '"unterminated phrase',
                         "name:`no end", "i:[1 TO 2", "i:{1 TO 2", "a) OR (b")

    def test_malformed_query_says_where(self):
        for text in self.MALFORMED_QUERIES:
            with self.subTest(query=text):
                for base in ("/v0/sh", "/v0"):
                    doc = self.assertRefused(base + q(query=text), 400, MALFORMED)
                    self.assertEqual(list(doc["details"]), ["query"], doc)
                    self.assertRegex(doc["details"]["query"], r"character \d+", doc)
                    self.assertRegex(doc["message"], "(?i)query", doc)

    def test_head_is_refused_alike(self):
        self.assertRefused("/v0/sh" + q(query="(a"), 400, MALFORMED, method="HEAD")
        self.assertRefused("/v0" + q(query="*", limit="101"), 400, PARAM, method="HEAD")

    def test_refused_searches_change_nothing(self):
        before = self.snapshot()
        paths = ["/v0/sh" + q(query=t) for t in self.MALFORMED_QUERIES]
        paths += ["/v0/sh" + q(query="*", limit="101"), "/v0" + q(query=""),
                  "/v0/sh" + q(query="*", sort="a:b:c:d"),
                  "/v0/sh" + q(query="*", export="true")]
        for path in paths:
            st = self.req("GET", path)[0]
            self.assertEqual(st, 400, path)
        self.assertEqual(self.snapshot(), before)
        # The server is up and still answers the same key.
        self.assertEqual(self.req("HEAD", "/v0")[0], 200)
        st, _, body, doc = self.req("GET", "/v0/sh/k1")
        self.assertEqual((st, doc), (200, {"name": "n1", "i": 1}), body)

    # ---- what passes the checks ----------------------------------------------

    def test_valid_parameters_are_accepted(self):
        for params in (dict(query="*"), dict(query="*:*", limit="0"),
                       dict(query="name:n1", limit="100", offset="0"),
                       dict(query="name:n1 OR i:[0 TO 2]", sort="value.i:desc,@path.key"),
                       dict(query="*", sort="_random:42"), dict(query="*", sort="value.i"),
                       dict(query="*", aggregate="value.i:stats"),
                       dict(query="*", aggregate="value.i:range:*~1:1~*,value.name:top_values"),
                       dict(query="*", values="false"), dict(query="*", values="true"),
                       dict(query="*", with_fields="value.name"),
                       dict(query="*", without_fields="i", export="false"),
                       dict(query="@path.kind:(item event)", startKey="ignored")):
            with self.subTest(params=params):
                self.assertAccepted("/v0/sh" + q(**params))
                self.assertAccepted("/v0" + q(**params))
        # Over a collection that does not exist: not an error of the checks.
        self.assertAccepted("/v0/nosuchcollection" + q(query="*"))


if __name__ == "__main__":
    import unittest
    unittest.main()
