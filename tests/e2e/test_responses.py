"""Whole responses, or an error: a list page ends before the entry that
would pass max_response and gives `next` (one entry always goes in whole),
and no header is ever dropped (long names in Location)."""

import json
import unittest
import urllib.parse

import harness

BIG = 1900 * 1000  # a 1.9 MB value, under max_body (2 MiB) with its wrapper


def big_value(i):
    return {"i": i, "blob": ("%02d" % i) * (BIG // 2)}


class BigListsTest(harness.ServerTestCase):
    server_options = {"workers": 2}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("responses")
        for i in range(40):
            st, _, body, _ = cls.server.request("PUT", "/v0/bigcoll/k%02d" % i, key=cls.key,
                                                body=big_value(i))
            assert st == 201, body

    def get_json(self, path):
        st, h, body, doc = self.server.request("GET", path, key=self.key, timeout=120)
        self.assertEqual(st, 200, body[:200])
        # Valid JSON of exactly the announced length.
        self.assertEqual(int(h["content-length"]), len(body))
        doc = json.loads(body)
        return h, doc

    @harness.timeout(600)
    def test_collection_list_pages_stay_whole(self):
        path = "/v0/bigcoll?limit=40&values=true"
        seen = []
        pages = 0
        while path:
            h, doc = self.get_json(path)
            pages += 1
            self.assertEqual(doc["count"], len(doc["results"]))
            self.assertGreaterEqual(doc["count"], 1)
            # 8 MiB (max_response) holds four 1.9 MB values.
            self.assertLessEqual(doc["count"], 4)
            for e in doc["results"]:
                i = int(e["path"]["key"][1:])
                self.assertEqual(e["value"], big_value(i))
                seen.append(i)
            path = doc.get("next")
            if path:
                self.assertIn('<%s>; rel="next"' % path, h.get("link", ""))
                self.assertIn("limit=40", path)
        self.assertEqual(seen, list(range(40)))
        self.assertEqual(pages, 10)

    @harness.timeout(600)
    def test_values_false_fits_one_page(self):
        h, doc = self.get_json("/v0/bigcoll?limit=40&values=false")
        self.assertEqual(doc["count"], 40)
        self.assertNotIn("next", doc)

    @harness.timeout(600)
    def test_history_pages_stay_whole(self):
        path = "/v0/bighist/k"
        for i in range(9):
            st, _, body, _ = self.server.request("PUT", path, key=self.key, body=big_value(i))
            self.assertEqual(st, 201, body)
        url = path + "/refs?values=true&limit=100"
        seen = []
        while url:
            h, doc = self.get_json(url)
            self.assertLessEqual(doc["count"], 4)
            seen += [e["value"]["i"] for e in doc["results"]]
            url = doc.get("next")
        self.assertEqual(seen, list(range(8, -1, -1)))

    @harness.timeout(600)
    def test_event_list_pages_stay_whole(self):
        path = "/v0/bigev/k/events/t"
        for i in range(9):
            st, _, body, _ = self.server.request("POST", path, key=self.key, body=big_value(i))
            self.assertEqual(st, 201, body)
        url = path + "?limit=100"
        seen = []
        while url:
            h, doc = self.get_json(url)
            self.assertLessEqual(doc["count"], 4)
            seen += [e["value"]["i"] for e in doc["results"]]
            url = doc.get("next")
        self.assertEqual(seen, list(range(8, -1, -1)))


class SmallCapTest(harness.ServerTestCase):
    """max_response is a setting: with 64 KiB, pages of 10 KB values hold
    six, and a single larger value still comes whole."""

    server_options = {"workers": 2, "extra": {"max_response": "64K"}}

    def test_cap_and_a_single_big_value(self):
        key = self.server.new_key("cap")
        for i in range(20):
            st, _, body, _ = self.server.request("PUT", "/v0/c/k%02d" % i, key=key,
                                                 body={"v": "x" * 10000, "i": i})
            self.assertEqual(st, 201, body)
        st, _, body, doc = self.server.request("GET", "/v0/c?limit=100", key=key)
        self.assertEqual(st, 200)
        self.assertEqual(doc["count"], 6)
        self.assertEqual([e["value"]["i"] for e in doc["results"]], list(range(6)))
        self.assertIn("afterKey=k05", doc["next"])
        st, _, body, _ = self.server.request("PUT", "/v0/one/k", key=key,
                                             body={"v": "y" * 500000})
        self.assertEqual(st, 201)
        st, _, body, doc = self.server.request("GET", "/v0/one?limit=10", key=key)
        self.assertEqual((st, doc["count"]), (200, 1))
        self.assertEqual(doc["results"][0]["value"], {"v": "y" * 500000})


class LongNamesTest(harness.ServerTestCase):
    """Names of max_name_length (1024) bytes, each percent-encoded to up to
    three bytes: every header is sent whole."""

    def test_location_of_long_names(self):
        key = self.server.new_key("names")
        coll = "c" * 1024
        item = "é" * 512  # 1024 bytes of UTF-8, 3072 when percent-encoded
        q = urllib.parse.quote
        path = "/v0/%s/%s" % (coll, q(item, safe=""))
        st, h, body, _ = self.server.request("PUT", path, key=key, body={"a": 1})
        self.assertEqual(st, 201, body)
        ref = h["etag"].strip('"')
        self.assertEqual(h["location"], "%s/refs/%s" % (path, ref))
        st, h, body, doc = self.server.request("GET", path, key=key)
        self.assertEqual((st, doc), (200, {"a": 1}))
        self.assertEqual(h["content-location"], "%s/refs/%s" % (path, ref))
        etype = "t" * 1024
        st, h, body, _ = self.server.request("POST", "%s/events/%s" % (path, etype), key=key,
                                             body={"e": 1})
        self.assertEqual(st, 201, body)
        self.assertTrue(h["location"].startswith("%s/events/%s/" % (path, etype)))
        st, _, body, doc = self.server.request("GET", h["location"], key=key)
        self.assertEqual((st, doc["value"]), (200, {"e": 1}))


if __name__ == "__main__":
    unittest.main()


class UnbuildableResponseTest(harness.ServerTestCase):
    """A response that cannot be built whole is a 500 and a log line, never a
    2xx with a partial body: here a value stored under a larger max_body than
    the one in force now is larger than the response buffer
    (max_response + max_body + 1 MiB)."""

    def test_500_and_a_log_line(self):
        key = self.server.new_key("unbuildable")
        value = {"v": "z" * 1500000}
        st, _, body, _ = self.server.request("PUT", "/v0/u/big", key=key, body=value)
        self.assertEqual(st, 201, body)
        st, _, body, _ = self.server.request("PUT", "/v0/u/small", key=key, body={"v": 1})
        self.assertEqual(st, 201, body)
        self.server.extra.update({"max_body": "1K", "max_response": "64K"})
        self.server._write_orchidd_conf()
        self.server.restart()
        for path in ("/v0/u/big", "/v0/u?limit=10", "/v0/u/big/refs?values=true"):
            with self.subTest(path=path):
                self.assertJsonError(self.server.request("GET", path, key=key),
                                     500, "internal_error")
        with open(self.server.orchidd_log, errors="replace") as f:
            self.assertIn("the response could not be built", f.read())
        # Everything else is served as before.
        st, _, body, doc = self.server.request("GET", "/v0/u/small", key=key)
        self.assertEqual((st, doc), (200, {"v": 1}))
        st, _, body, doc = self.server.request("GET", "/v0/u?limit=10&values=false", key=key)
        self.assertEqual((st, doc["count"]), (200, 2))
