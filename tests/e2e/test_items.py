"""Items and refs: every endpoint and header of docs/api.md "Items and refs"
(and the transport rules they rely on), through nginx."""

import email.utils
import functools
import hashlib
import json
import re
import unittest
import urllib.parse

from harness import UUID_RE, ServerTestCase, run_threads

REF_RE = re.compile(r"^[0-9a-f]{16}$")
# docs/api.md: a tombstone's ref is that of null.
NULL_REF = hashlib.sha256(b"null").hexdigest()[:16]
ETAG_RE = re.compile(r'^"([0-9a-f]{16})"$')


def enc(name):
    """A path segment as Orchid encodes it in Location: unreserved
    characters, ':' and '@' stay, everything else is %XX (upper case)."""
    return urllib.parse.quote(name, safe=":@")


def exact(payload):
    """Parses JSON keeping every number's text, so 1.50 != 1.5."""
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8")
    return json.loads(payload, parse_float=lambda s: ("num", s),
                      parse_int=lambda s: ("num", s))


def links(headers):
    """{"next": url, "prev": url} from the Link header(s)."""
    out = {}
    for m in re.finditer(r'<([^>]*)>;\s*rel="([a-z]+)"', headers.get("link", "")):
        out[m.group(2)] = m.group(1)
    return out


class ItemsTestBase(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("items")

    def req(self, method, path, key=None, **kw):
        """request() plus the checks every response must pass."""
        resp = self.server.request(method, path, key=self.key if key is None else key, **kw)
        st, h, body, doc = resp
        ctx = "%s %s -> %d %r" % (method, path, st, body[:200])
        self.assertIn("application/json", h.get("content-type", ""), ctx)
        self.assertRegex(h.get("x-orchestrate-req-id", ""), UUID_RE, ctx)
        self.assertIn("content-length", h, ctx)
        if st >= 400 and method != "HEAD":
            self.assertIsInstance(doc, dict, ctx)
            self.assertIsInstance(doc.get("message"), str, ctx)
            self.assertIsInstance(doc.get("code"), str, ctx)
        return resp

    def put(self, path, value, headers=None, status=201):
        st, h, body, doc = self.req("PUT", path, body=value, headers=headers)
        self.assertEqual(st, status, body)
        return h

    def ref_of(self, headers):
        m = ETAG_RE.match(headers.get("etag", ""))
        self.assertIsNotNone(m, "not a strong 16-hex ETag: %r" % headers.get("etag"))
        return m.group(1)

    def refs(self, path, query=""):
        st, h, body, doc = self.req("GET", path + "/refs" + query)
        self.assertEqual(st, 200, body)
        self.assertEqual(doc["count"], len(doc["results"]))
        return doc

    def assertError(self, resp, status, code):
        st, h, body, doc = resp
        self.assertEqual(st, status, body)
        self.assertEqual(doc.get("code"), code, body)


class PutGetTest(ItemsTestBase):
    def test_put_answers_201_with_etag_and_location(self):
        st, h, body, doc = self.req("PUT", "/v0/pg/one", body={"name": "one"})
        self.assertEqual(st, 201)
        self.assertEqual(body, b"")
        ref = self.ref_of(h)
        self.assertEqual(h.get("location"), "/v0/pg/one/refs/" + ref)
        self.assertEqual(h.get("content-length"), "0")

    def test_get_returns_raw_value_and_headers(self):
        h = self.put("/v0/pg/two", {"name": "two", "n": [1, 2, {"x": None}]})
        ref = self.ref_of(h)
        st, gh, body, doc = self.req("GET", "/v0/pg/two")
        self.assertEqual(st, 200)
        self.assertEqual(doc, {"name": "two", "n": [1, 2, {"x": None}]})
        self.assertEqual(gh.get("etag"), '"%s"' % ref)
        self.assertEqual(gh.get("content-location"), "/v0/pg/two/refs/" + ref)
        # Last-Modified is the reftime (to the second) of the current version.
        lm = email.utils.parsedate_to_datetime(gh["last-modified"])
        self.assertTrue(gh["last-modified"].endswith(" GMT"))
        reftime = self.refs("/v0/pg/two")["results"][0]["reftime"]
        self.assertEqual(int(lm.timestamp()), reftime // 1000)

    def test_head_item(self):
        h = self.put("/v0/pg/head", {"h": 1})
        st, hh, body, _ = self.req("HEAD", "/v0/pg/head")
        self.assertEqual(st, 200)
        self.assertEqual(body, b"")
        self.assertEqual(hh.get("etag"), h.get("etag"))
        self.assertEqual(hh.get("content-location"), h.get("location"))
        self.assertIn("last-modified", hh)
        st, _, body, _ = self.req("HEAD", "/v0/pg/head-missing")
        self.assertEqual(st, 404)
        self.assertEqual(body, b"")

    def test_get_missing_is_404_items_not_found(self):
        resp = self.req("GET", "/v0/pg/never-written")
        self.assertError(resp, 404, "items_not_found")
        self.assertEqual(resp[3].get("details"),
                         {"items": [{"collection": "pg", "key": "never-written"}]})

    def test_same_content_same_ref_anywhere(self):
        r1 = self.ref_of(self.put("/v0/pg/same1", {"same": True, "n": 1}))
        r2 = self.ref_of(self.put("/v0/pg2/same2", {"same": True, "n": 1}))
        r3 = self.ref_of(self.put("/v0/pg/same3", {"same": True, "n": 2}))
        self.assertEqual(r1, self.ref_of(self.put("/v0/pg/same1", {"same": True, "n": 1})))
        self.assertEqual(r1, self.ref_of(self.put("/v0/pg/other", {"same": True, "n": 1})))
        self.assertEqual(r1, r2)
        self.assertNotEqual(r1, r3)
        # whitespace is not part of the stored value
        st, h, body, _ = self.req("PUT", "/v0/pg/spaced", raw_body=b'{ "same" : true ,\n "n" : 1 }')
        self.assertEqual(self.ref_of(h), r1)
        self.assertEqual(self.req("GET", "/v0/pg2/same2/refs/" + r1)[3], {"same": True, "n": 1})

    def test_get_by_ref(self):
        r1 = self.ref_of(self.put("/v0/pg/byref", {"v": 1}))
        r2 = self.ref_of(self.put("/v0/pg/byref", {"v": 2}))
        for ref, value in ((r1, {"v": 1}), (r2, {"v": 2})):
            st, h, body, doc = self.req("GET", "/v0/pg/byref/refs/" + ref)
            self.assertEqual(st, 200, body)
            self.assertEqual(doc, value)
            self.assertEqual(h.get("etag"), '"%s"' % ref)
            self.assertEqual(h.get("content-location"), "/v0/pg/byref/refs/" + ref)
        st, h, body, _ = self.req("HEAD", "/v0/pg/byref/refs/" + r1)
        self.assertEqual((st, body, h.get("etag")), (200, b"", '"%s"' % r1))
        # not hex: 400; hex of another length or unknown: 404
        self.assertError(self.req("GET", "/v0/pg/byref/refs/zzzz"), 400, "item_ref_malformed")
        self.assertError(self.req("GET", "/v0/pg/byref/refs/abcd"), 404, "items_not_found")
        self.assertError(self.req("GET", "/v0/pg/byref/refs/" + "0" * 16), 404,
                         "items_not_found")
        self.assertError(self.req("GET", "/v0/pg/byref/refs/" + r1 + "00"), 404,
                         "items_not_found")
        # a ref of another key is not this key's
        self.assertError(self.req("GET", "/v0/pg/nokey/refs/" + r1), 404, "items_not_found")


class PostTest(ItemsTestBase):
    def test_post_generates_a_key(self):
        keys = []
        for i in range(3):
            st, h, body, _ = self.req("POST", "/v0/posted", body={"i": i})
            self.assertEqual(st, 201, body)
            self.assertEqual(body, b"")
            ref = self.ref_of(h)
            parts = h["location"].split("/")
            self.assertEqual(len(parts), 6, h["location"])
            self.assertEqual(parts[:3], ["", "v0", "posted"])
            self.assertEqual(parts[4:], ["refs", ref])
            gen = parts[3]
            self.assertRegex(gen, r"^[0-9a-f]{16}$")
            keys.append(gen)
            st, gh, _, doc = self.req("GET", "/v0/posted/" + gen)
            self.assertEqual((st, doc, gh.get("etag")), (200, {"i": i}, h["etag"]))
        self.assertEqual(len(set(keys)), 3)
        listed = [e["path"]["key"] for e in self.req("GET", "/v0/posted")[3]["results"]]
        self.assertEqual(sorted(listed), sorted(keys))

    def test_post_bad_body_writes_nothing(self):
        self.assertError(self.req("POST", "/v0/posted-bad", raw_body=b"[1]"), 400,
                         "api_bad_request")
        self.assertEqual(self.req("GET", "/v0/posted-bad")[3]["count"], 0)


class ConditionalTest(ItemsTestBase):
    def setUp(self):
        self.path = "/v0/cond/" + self.id().rsplit(".", 1)[1]
        self.ref = self.ref_of(self.put(self.path, {"v": "base"}))

    def history(self):
        """Every version, newest first, with values: compared whole, so that
        "nothing written" also means "nothing changed"."""
        doc = self.refs(self.path, "?values=true&limit=100")
        self.assertNotIn("next", doc)
        return doc["results"]

    def test_if_match_forms_that_match(self):
        before = self.history()
        forms = ['"%s"' % self.ref, self.ref, '"0000000000000000", "%s"' % self.ref,
                 '"%s",0000000000000000' % self.ref, "*", '"*"',
                 '"%s"' % self.ref.upper()]
        for i, im in enumerate(forms):
            with self.subTest(if_match=im):
                st, h, body, _ = self.req("PUT", self.path, body={"v": "base"},
                                          headers={"If-Match": im})
                self.assertEqual(st, 201, body)
                self.assertEqual(self.ref_of(h), self.ref)
        after = self.history()
        self.assertEqual(after[len(forms):], before)
        self.assertEqual([(e["path"]["ref"], e["value"]) for e in after[:len(forms)]],
                         [(self.ref, {"v": "base"})] * len(forms))

    def test_if_match_mismatch_is_412_and_writes_nothing(self):
        before = self.history()
        for im in ['"0000000000000000"', '0000000000000000', 'W/"%s"' % self.ref,
                   '"%s"' % self.ref[:8], '"00", "11"']:
            with self.subTest(if_match=im):
                self.assertError(self.req("PUT", self.path, body={"v": "other"},
                                          headers={"If-Match": im}),
                                 412, "item_version_mismatch")
        self.assertEqual(self.history(), before)
        self.assertEqual(self.req("GET", self.path)[3], {"v": "base"})

    def test_if_match_on_missing_item_is_412(self):
        for im in ['"%s"' % self.ref, "*"]:
            with self.subTest(if_match=im):
                self.assertError(self.req("PUT", self.path + "-missing", body={"v": 1},
                                          headers={"If-Match": im}),
                                 412, "item_version_mismatch")
        self.assertError(self.req("GET", self.path + "-missing"), 404, "items_not_found")
        self.assertError(self.req("GET", self.path + "-missing/refs"), 404, "items_not_found")

    def test_if_match_on_tombstoned_item_is_412(self):
        self.assertEqual(self.req("DELETE", self.path)[0], 204)
        before = self.history()
        for im in ['"%s"' % self.ref, "*"]:
            with self.subTest(if_match=im):
                self.assertError(self.req("PUT", self.path, body={"v": 1},
                                          headers={"If-Match": im}),
                                 412, "item_version_mismatch")
        self.assertEqual(self.history(), before)

    def test_if_match_malformed_is_400(self):
        for im in ['"xyz"', '""', '"abc', "W/" + self.ref]:
            with self.subTest(if_match=im):
                self.assertError(self.req("PUT", self.path, body={"v": 1},
                                          headers={"If-Match": im}),
                                 400, "item_ref_malformed")

    def test_if_none_match_star_on_live_item_is_412(self):
        before = self.history()
        for inm in ["*", '"*"']:
            with self.subTest(if_none_match=inm):
                self.assertError(self.req("PUT", self.path, body={"v": "new"},
                                          headers={"If-None-Match": inm}),
                                 412, "item_already_present")
        self.assertEqual(self.history(), before)
        self.assertEqual(self.req("GET", self.path)[3], {"v": "base"})

    def test_if_none_match_star_creates_a_missing_item(self):
        for i, inm in enumerate(["*", '"*"']):
            with self.subTest(if_none_match=inm):
                path = "%s-new%d" % (self.path, i)
                st, h, body, _ = self.req("PUT", path, body={"v": i},
                                          headers={"If-None-Match": inm})
                self.assertEqual(st, 201, body)
                self.assertEqual(self.req("GET", path)[3], {"v": i})

    def test_if_none_match_star_on_tombstoned_item_is_201(self):
        self.assertEqual(self.req("DELETE", self.path)[0], 204)
        for inm in ["*", '"*"']:
            with self.subTest(if_none_match=inm):
                st, h, body, _ = self.req("PUT", self.path, body={"v": "back"},
                                          headers={"If-None-Match": inm})
                self.assertEqual(st, 201, body)
                self.assertEqual(self.req("DELETE", self.path)[0], 204)

    def test_if_none_match_list_of_refs(self):
        self.assertError(self.req("PUT", self.path, body={"v": 2},
                                  headers={"If-None-Match": '"1111111111111111", "%s"'
                                           % self.ref}),
                         412, "item_already_present")
        st, h, body, _ = self.req("PUT", self.path, body={"v": 2},
                                  headers={"If-None-Match": '"1111111111111111"'})
        self.assertEqual(st, 201, body)

    def test_if_none_match_compares_weakly(self):
        # RFC 9110: If-None-Match uses the weak comparison, so W/"<ref>" of
        # the current version fails the PUT; If-Match's strong comparison
        # never matches a weak tag.
        before = self.history()
        self.assertError(self.req("PUT", self.path, body={"v": 2},
                                  headers={"If-None-Match": 'W/"%s"' % self.ref}),
                         412, "item_already_present")
        self.assertError(self.req("PUT", self.path, body={"v": 2},
                                  headers={"If-Match": 'W/"%s"' % self.ref}),
                         412, "item_version_mismatch")
        self.assertEqual(self.history(), before)

    def test_delete_with_if_match(self):
        before = self.history()
        self.assertError(self.req("DELETE", self.path,
                                  headers={"If-Match": '"0000000000000000"'}),
                         412, "item_version_mismatch")
        self.assertEqual(self.req("GET", self.path)[0], 200)
        self.assertEqual(self.history(), before)
        st, h, body, _ = self.req("DELETE", self.path, headers={"If-Match": '"%s"' % self.ref})
        self.assertEqual((st, body), (204, b""))
        self.assertError(self.req("GET", self.path), 404, "items_not_found")
        after = self.history()
        self.assertEqual(after[1:], before)
        self.assertEqual((after[0]["path"]["ref"], after[0]["path"].get("tombstone")),
                         (NULL_REF, True))
        # deleted: If-Match cannot match any more
        self.assertError(self.req("DELETE", self.path, headers={"If-Match": "*"}),
                         412, "item_version_mismatch")

    def test_delete_with_if_match_on_missing_item_is_412(self):
        for im in ['"%s"' % self.ref, "*"]:
            with self.subTest(if_match=im):
                self.assertError(self.req("DELETE", self.path + "-never",
                                          headers={"If-Match": im}),
                                 412, "item_version_mismatch")
        self.assertError(self.req("GET", self.path + "-never/refs"), 404, "items_not_found")


class DeleteTest(ItemsTestBase):
    def test_delete_writes_a_tombstone(self):
        p = "/v0/del/tomb"
        r1 = self.ref_of(self.put(p, {"v": 1}))
        r2 = self.ref_of(self.put(p, {"v": 2}))
        st, h, body, _ = self.req("DELETE", p)
        self.assertEqual((st, body), (204, b""))
        self.assertError(self.req("GET", p), 404, "items_not_found")
        self.assertEqual(self.req("HEAD", p)[0], 404)
        # old refs stay readable
        self.assertEqual(self.req("GET", p + "/refs/" + r1)[3], {"v": 1})
        self.assertEqual(self.req("GET", p + "/refs/" + r2)[3], {"v": 2})
        doc = self.refs(p, "?values=true")
        self.assertEqual(doc["count"], 3)
        top = doc["results"][0]
        self.assertIs(top["path"].get("tombstone"), True)
        self.assertNotIn("value", top)
        self.assertEqual([e["path"]["ref"] for e in doc["results"][1:]], [r2, r1])
        self.assertEqual([e["value"] for e in doc["results"][1:]], [{"v": 2}, {"v": 1}])
        for e in doc["results"][1:]:
            self.assertNotIn("tombstone", e["path"])
        # deleting again: 204, nothing written
        self.assertEqual(self.req("DELETE", p)[0], 204)
        self.assertEqual(self.refs(p, "?values=true"), doc)
        # and it is gone from the listing
        keys = [e["path"]["key"] for e in self.req("GET", "/v0/del")[3]["results"]]
        self.assertNotIn("tomb", keys)
        # writing again revives it with a longer history
        r3 = self.ref_of(self.put(p, {"v": 3}))
        self.assertEqual(self.req("GET", p)[3], {"v": 3})
        self.assertEqual([e["path"]["ref"] for e in self.refs(p)["results"]],
                         [r3, NULL_REF, r2, r1])

    def test_delete_of_never_written_key(self):
        st, h, body, _ = self.req("DELETE", "/v0/del/never")
        self.assertEqual((st, body), (204, b""))
        self.assertError(self.req("GET", "/v0/del/never/refs"), 404, "items_not_found")
        self.assertError(self.req("GET", "/v0/del/never"), 404, "items_not_found")
        st, _, body, _ = self.req("DELETE", "/v0/del/never?purge=true")
        self.assertEqual((st, body), (204, b""))
        self.assertError(self.req("GET", "/v0/del/never/refs"), 404, "items_not_found")

    def test_purge_removes_history(self):
        p = "/v0/del/purged"
        r1 = self.ref_of(self.put(p, {"v": 1}))
        r2 = self.ref_of(self.put(p, {"v": 2}))
        self.assertEqual(self.req("DELETE", p)[0], 204)
        self.put("/v0/del/neighbour", {"v": 1})
        st, h, body, _ = self.req("DELETE", p + "?purge=true")
        self.assertEqual((st, body), (204, b""))
        self.assertError(self.req("GET", p), 404, "items_not_found")
        self.assertError(self.req("GET", p + "/refs"), 404, "items_not_found")
        for ref in (r1, r2):
            self.assertError(self.req("GET", p + "/refs/" + ref), 404, "items_not_found")
        # the neighbour with the same content keeps its ref
        self.assertEqual(self.req("GET", "/v0/del/neighbour/refs/" + r1)[3], {"v": 1})
        # a new write starts a new history
        r9 = self.ref_of(self.put(p, {"v": 9}))
        doc = self.refs(p)
        self.assertEqual([e["path"]["ref"] for e in doc["results"]], [r9])

    def test_purge_of_live_item(self):
        p = "/v0/del/purge-live"
        r1 = self.ref_of(self.put(p, {"live": 1}))
        self.assertEqual(self.req("DELETE", p + "?purge=true")[0], 204)
        self.assertError(self.req("GET", p), 404, "items_not_found")
        self.assertError(self.req("GET", p + "/refs/" + r1), 404, "items_not_found")
        self.assertError(self.req("GET", p + "/refs"), 404, "items_not_found")

    def test_purge_false_is_a_plain_delete(self):
        p = "/v0/del/purge-false"
        r1 = self.ref_of(self.put(p, {"pf": 1}))
        self.assertEqual(self.req("DELETE", p + "?purge=false")[0], 204)
        self.assertEqual(self.req("GET", p + "/refs/" + r1)[3], {"pf": 1})
        self.assertEqual([(e["path"]["ref"], e["path"].get("tombstone"))
                          for e in self.refs(p)["results"]],
                         [(NULL_REF, True), (r1, None)])


class RefsPagingTest(ItemsTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.p5 = "/v0/paging/five"
        cls.refs5 = []
        for i in range(5):
            st, h, body, _ = cls.server.request("PUT", cls.p5, key=cls.key, body={"i": i})
            assert st == 201, body
            cls.refs5.append(h["etag"].strip('"'))
        cls.p4 = "/v0/paging/four"
        cls.refs4 = []
        for i in range(4):
            st, h, body, _ = cls.server.request("PUT", cls.p4, key=cls.key, body={"i": i})
            assert st == 201, body
            cls.refs4.append(h["etag"].strip('"'))

    def test_default_lists_every_version_newest_first(self):
        doc = self.refs(self.p5)
        self.assertEqual(doc["count"], 5)
        self.assertEqual([e["path"]["ref"] for e in doc["results"]], self.refs5[::-1])
        times = [e["reftime"] for e in doc["results"]]
        self.assertEqual(times, sorted(times, reverse=True))
        for e in doc["results"]:
            self.assertNotIn("value", e)
            self.assertEqual(e["path"]["collection"], "paging")
            self.assertEqual(e["path"]["key"], "five")
            self.assertEqual(e["path"]["reftime"], e["reftime"])
        self.assertNotIn("next", doc)
        self.assertNotIn("prev", doc)

    def test_values_true(self):
        doc = self.refs(self.p5, "?values=true")
        self.assertEqual([e["value"] for e in doc["results"]], [{"i": i} for i in range(4, -1, -1)])
        doc = self.refs(self.p5, "?values=false")
        self.assertFalse(any("value" in e for e in doc["results"]))

    def test_pages_with_next_prev_and_link(self):
        base = self.p5 + "/refs"
        st, h, body, doc = self.req("GET", base + "?limit=2")
        self.assertEqual(st, 200)
        self.assertEqual([e["path"]["ref"] for e in doc["results"]], self.refs5[4:2:-1])
        self.assertEqual(doc["next"], base + "?offset=2&limit=2")
        self.assertNotIn("prev", doc)
        self.assertEqual(links(h), {"next": doc["next"]})

        st, h, body, doc = self.req("GET", doc["next"])
        self.assertEqual([e["path"]["ref"] for e in doc["results"]], self.refs5[2:0:-1])
        self.assertEqual(doc["next"], base + "?offset=4&limit=2")
        self.assertEqual(doc["prev"], base + "?offset=0&limit=2")
        self.assertEqual(links(h), {"next": doc["next"], "prev": doc["prev"]})

        st, h, body, doc = self.req("GET", doc["next"])
        self.assertEqual(doc["count"], 1)
        self.assertEqual(doc["results"][0]["path"]["ref"], self.refs5[0])
        self.assertNotIn("next", doc)
        self.assertEqual(doc["prev"], base + "?offset=2&limit=2")
        self.assertEqual(links(h), {"prev": doc["prev"]})

        # following prev from offset 2 gives the first page again
        st, h, body, doc = self.req("GET", doc["prev"])
        self.assertEqual([e["path"]["ref"] for e in doc["results"]], self.refs5[2:0:-1])

    def test_next_keeps_values(self):
        st, h, body, doc = self.req("GET", self.p5 + "/refs?limit=2&values=true")
        self.assertIn("values=true", doc["next"])
        st, h, body, doc = self.req("GET", doc["next"])
        self.assertEqual([e["value"] for e in doc["results"]], [{"i": 2}, {"i": 1}])
        self.assertIn("values=true", doc["prev"])

    def test_no_next_when_last_page_is_exactly_full(self):
        st, h, body, doc = self.req("GET", self.p4 + "/refs?limit=2&offset=2")
        self.assertEqual([e["path"]["ref"] for e in doc["results"]], self.refs4[1::-1])
        self.assertNotIn("next", doc)
        self.assertNotIn("next", links(h))
        st, h, body, doc = self.req("GET", self.p4 + "/refs?limit=4")
        self.assertEqual([e["path"]["ref"] for e in doc["results"]], self.refs4[::-1])
        self.assertNotIn("next", doc)
        self.assertEqual(links(h), {})

    def test_offset_beyond_end(self):
        for q in ("?offset=5", "?offset=6&limit=3", "?offset=1000000"):
            with self.subTest(q=q):
                doc = self.refs(self.p5, q)
                self.assertEqual(doc["count"], 0)
                self.assertEqual(doc["results"], [])
                self.assertNotIn("next", doc)

    def test_limit_bounds(self):
        self.assertEqual([e["path"]["ref"] for e in self.refs(self.p5, "?limit=1")["results"]],
                         self.refs5[-1:])
        self.assertEqual([e["path"]["ref"] for e in self.refs(self.p5, "?limit=100")["results"]],
                         self.refs5[::-1])
        for q in ("?limit=0", "?limit=101", "?limit=-1", "?limit=abc", "?offset=-1",
                  "?offset=x"):
            with self.subTest(q=q):
                self.assertError(self.req("GET", self.p5 + "/refs" + q), 400,
                                 "search_param_invalid")
        self.assertError(self.req("GET", self.p5 + "/refs?values=yes"), 400, "api_bad_request")

    def test_default_limit_is_10(self):
        p = "/v0/paging/twelve"
        refs = [self.ref_of(self.put(p, {"i": i})) for i in range(12)]
        doc = self.refs(p)
        self.assertEqual([e["path"]["ref"] for e in doc["results"]], refs[:1:-1])
        self.assertEqual(doc["next"], p + "/refs?offset=10&limit=10")
        self.assertEqual([e["path"]["ref"] for e in self.refs(p, "?offset=10")["results"]],
                         refs[1::-1])

    def test_same_value_twice_is_a_new_version_with_the_same_ref(self):
        p = "/v0/paging/twice"
        r1 = self.ref_of(self.put(p, {"same": 1}))
        r2 = self.ref_of(self.put(p, {"same": 1}))
        self.assertEqual(r1, r2)
        doc = self.refs(p)
        self.assertEqual(doc["count"], 2)
        self.assertEqual([e["path"]["ref"] for e in doc["results"]], [r1, r1])
        self.assertGreaterEqual(doc["results"][0]["reftime"], doc["results"][1]["reftime"])

    def test_many_quick_writes_all_appear_in_write_order(self):
        p = "/v0/paging/quick"
        n = 40
        for i in range(n):
            self.put(p, {"seq": i})
        doc = self.refs(p, "?values=true&limit=100")
        self.assertEqual(doc["count"], n)
        self.assertEqual([e["value"]["seq"] for e in doc["results"]], list(range(n - 1, -1, -1)))
        refs = [e["path"]["ref"] for e in doc["results"]]
        self.assertEqual(len(set(refs)), n)
        # every one of them is readable by ref (no dangling refs)
        for e in doc["results"][:10]:
            self.assertEqual(self.req("GET", p + "/refs/" + e["path"]["ref"])[3], e["value"])

    def test_concurrent_writes_all_appear(self):
        p = "/v0/paging/concurrent"
        threads, per = 4, 10
        acked = {}

        def run(t):
            for i in range(per):
                value = {"t": t, "i": i}
                st, h, body, _ = self.server.request("PUT", p, key=self.key, body=value)
                self.assertEqual(st, 201, body)
                acked[(t, i)] = (self.ref_of(h), value)

        run_threads([functools.partial(run, t) for t in range(threads)])
        doc = self.refs(p, "?values=true&limit=100")
        self.assertEqual(doc["count"], threads * per)
        # exactly the acknowledged versions, each with its ref and value
        self.assertEqual(sorted((e["path"]["ref"], json.dumps(e["value"], sort_keys=True))
                                for e in doc["results"]),
                         sorted((ref, json.dumps(v, sort_keys=True)) for ref, v in acked.values()))
        seen = [(e["value"]["t"], e["value"]["i"]) for e in reversed(doc["results"])]
        for t in range(threads):
            # each thread's writes were sequential: they appear in its order
            self.assertEqual([i for (tt, i) in seen if tt == t], list(range(per)))

    def test_reftimes_never_go_back_in_history(self):
        # The reftime is taken when the write holds the item, and never
        # before the previous version's: a write that waited (a large body,
        # a lock, a deadlock retry) must not get an older reftime than the
        # version stored before it, so "newest first" is reftime order.
        p = "/v0/paging/reftimes"
        big = "x" * 1000000

        def run(t):
            for i in range(20):
                body = {"t": t, "i": i, "big": big} if t % 2 == 0 else {"t": t, "i": i}
                st, _, payload, _ = self.server.request("PUT", p, key=self.key, body=body)
                self.assertEqual(st, 201, payload)

        run_threads([functools.partial(run, t) for t in range(4)])
        times = []
        for offset in (0, 50):
            doc = self.refs(p, "?limit=50&offset=%d" % offset)
            times += [e["reftime"] for e in doc["results"]]
        self.assertEqual(len(times), 80)
        back = [(i, times[i], times[i + 1]) for i in range(len(times) - 1)
                if times[i] < times[i + 1]]
        self.assertEqual(back, [], "a newer version has an older reftime")


class NamesTest(ItemsTestBase):
    NAMES = ["a/b", "with space", "unicodé-ключ-鍵", "a:b@c", "%2E%2E", "...", ".x",
             "plus+sign", "q?x=1", "hash#x", "semi;colon", "quote\"s", "tilde~_-."]

    def test_names_round_trip(self):
        for name in self.NAMES:
            with self.subTest(name=name):
                path = "/v0/names/" + urllib.parse.quote(name, safe="")
                st, h, body, _ = self.req("PUT", path, body={"name": name})
                self.assertEqual(st, 201, body)
                ref = self.ref_of(h)
                self.assertEqual(h["location"], "/v0/names/%s/refs/%s" % (enc(name), ref))
                st, gh, _, doc = self.req("GET", path)
                self.assertEqual((st, doc), (200, {"name": name}))
                self.assertEqual(gh["content-location"], h["location"])
                # the Location is a working URL
                self.assertEqual(self.req("GET", h["location"])[3], {"name": name})
                doc = self.refs(path)
                self.assertEqual(doc["results"][0]["path"]["key"], name)

    def test_dot_names(self):
        # A percent-encoded dot is an ordinary name (API.md "Paths").
        for name, sent in ((".", "%2E"), ("..", "%2E%2E"), ("..", "%2e."), (".", "%2e")):
            with self.subTest(name=name, sent=sent):
                st, h, body, _ = self.req("PUT", "/v0/dots/" + sent, body={"name": name})
                self.assertEqual(st, 201, body)
                self.assertEqual(self.req("GET", "/v0/dots/" + sent)[3], {"name": name})
        keys = [e["path"]["key"] for e in self.req("GET", "/v0/dots")[3]["results"]]
        self.assertEqual(keys, [".", ".."])
        self.assertEqual([e["value"] for e in self.refs("/v0/dots/%2E%2E", "?values=true")["results"]],
                         [{"name": ".."}, {"name": ".."}])

    def test_dot_names_location_is_usable(self):
        for name, sent in ((".", "%2E"), ("..", "%2E%2E")):
            with self.subTest(name=name):
                st, h, body, _ = self.req("PUT", "/v0/dotloc/" + sent, body={"name": name})
                self.assertEqual(st, 201, body)
                # A raw "." or ".." segment is not a usable relative path (a
                # client removes dot segments, Orchid answers 400): the name
                # must be sent back percent-encoded.
                self.assertNotIn("/%s/" % name, h["location"])
                st, _, body, doc = self.req("GET", h["location"])
                self.assertEqual((st, doc), (200, {"name": name}), body)
                st, gh, _, _ = self.req("GET", "/v0/dotloc/" + sent)
                self.assertNotIn("/%s/" % name, gh["content-location"])

    def test_encoding_in_location(self):
        h = self.put("/v0/names/a%2Fb%20c", {"x": 1})
        self.assertTrue(h["location"].startswith("/v0/names/a%2Fb%20c/refs/"), h["location"])
        h = self.put("/v0/names/a:b@c", {"x": 1})
        self.assertTrue(h["location"].startswith("/v0/names/a:b@c/refs/"), h["location"])
        h = self.put("/v0/names/%C3%A9", {"x": 1})
        self.assertTrue(h["location"].startswith("/v0/names/%C3%A9/refs/"), h["location"])
        # a literal '+' in a path is a plus, not a space
        h = self.put("/v0/names/x+y", {"x": 1})
        self.assertTrue(h["location"].startswith("/v0/names/x%2By/refs/"), h["location"])
        self.assertError(self.req("GET", "/v0/names/x%20y"), 404, "items_not_found")

    def test_collection_names_are_encoded_too(self):
        h = self.put("/v0/my%20coll%2Fx/k%40", {"x": 1})
        self.assertTrue(h["location"].startswith("/v0/my%20coll%2Fx/k@/refs/"), h["location"])
        doc = self.req("GET", "/v0/my%20coll%2Fx")[3]
        self.assertEqual(doc["results"][0]["path"]["collection"], "my coll/x")
        self.assertEqual(doc["results"][0]["path"]["key"], "k@")

    def test_listing_shows_decoded_names(self):
        for name in ("x/1", "x 2"):
            self.put("/v0/names-list/" + urllib.parse.quote(name, safe=""), {"n": name})
        doc = self.req("GET", "/v0/names-list")[3]
        self.assertEqual([e["path"]["key"] for e in doc["results"]], ["x 2", "x/1"])

    def test_name_length_limit(self):
        ok = "k" * 1024
        st, h, body, _ = self.req("PUT", "/v0/names/" + ok, body={"long": True})
        self.assertEqual(st, 201, body)
        self.assertEqual(self.req("GET", "/v0/names/" + ok)[3], {"long": True})
        self.assertError(self.req("PUT", "/v0/names/" + ok + "k", body={"long": True}),
                         400, "api_bad_request")
        # bytes, not characters: 512 two-byte characters fit, 513 do not
        two = urllib.parse.quote("é" * 512)
        self.assertEqual(self.req("PUT", "/v0/names/" + two, body={"x": 1})[0], 201)
        self.assertError(self.req("PUT", "/v0/names/" + two + "%C3%A9", body={"x": 1}),
                         400, "api_bad_request")


class NumbersTest(ItemsTestBase):
    def test_numbers_round_trip_exactly(self):
        raw = (b'{"a":1.50,"b":1e5,"c":18446744073709551614,"d":-9223372036854775807,'
               b'"e":0.1,"f":-1.5e-7,"g":100,"h":1E+2,"i":0.000001,'
               b'"j":9223372036854775807,"k":123456789012345678901234567890.5}')
        st, h, body, _ = self.req("PUT", "/v0/nums/n", raw_body=raw)
        self.assertEqual(st, 201, body)
        ref = self.ref_of(h)
        want = exact(raw)
        st, _, body, _ = self.req("GET", "/v0/nums/n")
        self.assertEqual(exact(body), want)
        self.assertEqual(exact(self.req("GET", "/v0/nums/n/refs/" + ref)[2]), want)
        entry = exact(self.req("GET", "/v0/nums/n/refs?values=true")[2])["results"][0]
        self.assertEqual(entry["value"], want)
        listed = exact(self.req("GET", "/v0/nums")[2])["results"][0]
        self.assertEqual(listed["value"], want)

    def test_nested_numbers_round_trip(self):
        raw = b'{"list":[1.50,[0.1,{"deep":1e5}]],"o":{"x":-9223372036854775807}}'
        self.assertEqual(self.req("PUT", "/v0/nums/nested", raw_body=raw)[0], 201)
        self.assertEqual(exact(self.req("GET", "/v0/nums/nested")[2]), exact(raw))

    def test_out_of_range_numbers_are_refused(self):
        ref = self.ref_of(self.put("/v0/nums/range", {"ok": 1}))
        for num in (b"18446744073709551615", b"-9223372036854775808",
                    b"99999999999999999999", b"-99999999999999999999", b"1e400",
                    b"-1e400", b"[1e999]"):
            with self.subTest(num=num):
                self.assertError(self.req("PUT", "/v0/nums/range",
                                          raw_body=b'{"x":' + num + b"}"),
                                 400, "api_bad_request")
        self.assertEqual([e["path"]["ref"] for e in self.refs("/v0/nums/range")["results"]], [ref])
        self.assertEqual(self.req("GET", "/v0/nums/range")[3], {"ok": 1})


class StringsAndNamesInBodiesTest(ItemsTestBase):
    def test_duplicate_member_names_keep_the_last_value(self):
        raw = b'{"a":1,"a":2,"b":{"x":1,"x":[3]}}'
        st, h, body, _ = self.req("PUT", "/v0/dups/d", raw_body=raw)
        self.assertEqual(st, 201, body)
        self.assertEqual(self.req("GET", "/v0/dups/d")[2], b'{"a":2,"b":{"x":[3]}}')

    def test_nul_and_escapes_in_string_values_round_trip(self):
        value = {"s": "x\u0000y", "t": "tab\tquote\"back\\slash", "u": "\u00e9\U0001f600"}
        st, _, body, _ = self.req("PUT", "/v0/strs/s", body=value)
        self.assertEqual(st, 201, body)
        self.assertEqual(self.req("GET", "/v0/strs/s")[3], value)


class CollectionListTest(ItemsTestBase):
    # byte order: upper case before lower case, UTF-8 after ASCII
    KEYS = ["A", "Z", "a", "b", "b0", "ba", "c", "d", "é"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for k in cls.KEYS + ["dead"]:
            st = cls.server.request("PUT", "/v0/list/" + urllib.parse.quote(k), key=cls.key,
                                    body={"k": k})[0]
            assert st == 201
        assert cls.server.request("DELETE", "/v0/list/dead", key=cls.key)[0] == 204
        # another collection whose name starts with the same bytes
        assert cls.server.request("PUT", "/v0/list2/a", key=cls.key, body={"o": 1})[0] == 201
        assert cls.server.request("PUT", "/v0/lis/a", key=cls.key, body={"o": 1})[0] == 201

    def keys(self, query=""):
        st, h, body, doc = self.req("GET", "/v0/list" + query)
        self.assertEqual(st, 200, body)
        self.assertEqual(doc["count"], len(doc["results"]))
        return [e["path"]["key"] for e in doc["results"]]

    def test_key_order_and_tombstones_skipped(self):
        st, h, body, doc = self.req("GET", "/v0/list?limit=100")
        self.assertEqual([e["path"]["key"] for e in doc["results"]], self.KEYS)
        for e in doc["results"]:
            self.assertEqual(e["value"], {"k": e["path"]["key"]})
            self.assertEqual(e["path"]["collection"], "list")
            self.assertRegex(e["path"]["ref"], REF_RE)
            self.assertIsInstance(e["reftime"], int)
        self.assertNotIn("next", doc)

    def test_values_false(self):
        st, h, body, doc = self.req("GET", "/v0/list?values=false&limit=3")
        self.assertEqual(doc["count"], 3)
        self.assertFalse(any("value" in e for e in doc["results"]))
        self.assertIn("values=false", doc["next"])
        st, h, body, doc = self.req("GET", doc["next"])
        self.assertEqual([e["path"]["key"] for e in doc["results"]], self.KEYS[3:6])
        self.assertFalse(any("value" in e for e in doc["results"]))

    def test_bounds(self):
        self.assertEqual(self.keys("?startKey=b"), ["b", "b0", "ba", "c", "d", "é"])
        self.assertEqual(self.keys("?afterKey=b"), ["b0", "ba", "c", "d", "é"])
        self.assertEqual(self.keys("?endKey=b"), ["A", "Z", "a", "b"])
        self.assertEqual(self.keys("?beforeKey=b"), ["A", "Z", "a"])
        self.assertEqual(self.keys("?startKey=a&endKey=c"), ["a", "b", "b0", "ba", "c"])
        self.assertEqual(self.keys("?afterKey=a&beforeKey=c"), ["b", "b0", "ba"])
        self.assertEqual(self.keys("?startKey=bb&endKey=bz"), [])
        self.assertEqual(self.keys("?startKey=b1"), ["ba", "c", "d", "é"])
        self.assertEqual(self.keys("?startKey=%C3%A9"), ["é"])
        self.assertEqual(self.keys("?afterKey=dead"), ["é"])
        self.assertEqual(self.keys("?startKey=zz"), ["é"])
        self.assertEqual(self.keys("?startKey=%EF%BF%BF"), [])
        for q in ("?startKey=a&afterKey=b", "?endKey=a&beforeKey=b"):
            with self.subTest(q=q):
                self.assertError(self.req("GET", "/v0/list" + q), 400, "search_param_invalid")

    def test_paging_with_next(self):
        got = []
        url = "/v0/list?limit=2"
        pages = 0
        while url:
            st, h, body, doc = self.req("GET", url)
            self.assertEqual(st, 200, body)
            got += [e["path"]["key"] for e in doc["results"]]
            url = doc.get("next")
            if url:
                self.assertTrue(url.startswith("/v0/list?"), url)
                self.assertIn("afterKey=", url)
                self.assertEqual(links(h), {"next": url})
            else:
                self.assertNotIn("next", links(h))
            pages += 1
            self.assertLess(pages, 20)
        self.assertEqual(got, self.KEYS)
        self.assertEqual(pages, 5)

    def test_next_carries_the_end_bound(self):
        st, h, body, doc = self.req("GET", "/v0/list?limit=2&endKey=ba")
        self.assertIn("endKey=ba", doc["next"])
        got = [e["path"]["key"] for e in doc["results"]]
        while "next" in doc:
            doc = self.req("GET", doc["next"])[3]
            got += [e["path"]["key"] for e in doc["results"]]
        self.assertEqual(got, ["A", "Z", "a", "b", "b0", "ba"])
        st, h, body, doc = self.req("GET", "/v0/list?limit=2&beforeKey=b0")
        self.assertIn("beforeKey=b0", doc["next"])

    def test_no_next_when_exactly_full(self):
        st, h, body, doc = self.req("GET", "/v0/list?afterKey=b0&limit=4")
        self.assertEqual([e["path"]["key"] for e in doc["results"]], ["ba", "c", "d", "é"])
        self.assertNotIn("next", doc)
        self.assertEqual(links(h), {})

    def test_next_with_unicode_key(self):
        st, h, body, doc = self.req("GET", "/v0/list?startKey=d&limit=1")
        self.assertEqual(self.req("GET", doc["next"])[3]["results"][0]["path"]["key"], "é")

    def test_empty_and_missing_collection(self):
        st, h, body, doc = self.req("GET", "/v0/no-such-collection")
        self.assertEqual(st, 200, body)
        self.assertEqual(doc["count"], 0)
        self.assertEqual(doc["results"], [])

    def test_limits(self):
        self.assertEqual(self.keys("?limit=1"), self.KEYS[:1])
        self.assertEqual(self.keys("?limit=100"), self.KEYS)
        for q in ("?limit=0", "?limit=101", "?limit=x"):
            with self.subTest(q=q):
                self.assertError(self.req("GET", "/v0/list" + q), 400, "search_param_invalid")
        self.assertError(self.req("GET", "/v0/list?values=1"), 400, "api_bad_request")


class CollectionCountsTest(ItemsTestBase):
    def test_get_v0_counts_live_items_per_collection(self):
        key = self.server.new_key("items-counts")
        for k in ("1", "2", "3"):
            self.assertEqual(self.req("PUT", "/v0/alpha/" + k, key=key, body={"k": k})[0], 201)
        self.assertEqual(self.req("PUT", "/v0/alpha/1", key=key, body={"k": "again"})[0], 201)
        self.assertEqual(self.req("PUT", "/v0/beta/x", key=key, body={"x": 1})[0], 201)
        self.assertEqual(self.req("PUT", "/v0/alpha%2Fz/x", key=key, body={"x": 1})[0], 201)
        st, h, body, doc = self.req("GET", "/v0", key=key)
        self.assertEqual(st, 200, body)
        self.assertEqual(doc, {"results": [{"collection": "alpha", "items": 3},
                                           {"collection": "alpha/z", "items": 1},
                                           {"collection": "beta", "items": 1}],
                               "count": 3})
        self.assertEqual(self.req("DELETE", "/v0/alpha/2", key=key)[0], 204)
        self.assertEqual(self.req("DELETE", "/v0/alpha/3?purge=true", key=key)[0], 204)
        doc = self.req("GET", "/v0", key=key)[3]
        self.assertEqual(doc["results"][0], {"collection": "alpha", "items": 1})
        self.assertEqual(doc["count"], 3)

    def test_get_v0_of_an_empty_tenant(self):
        key = self.server.new_key("items-empty")
        st, h, body, doc = self.req("GET", "/v0", key=key)
        self.assertEqual((st, doc), (200, {"results": [], "count": 0}))
        st, h, body, _ = self.req("HEAD", "/v0", key=key)
        self.assertEqual((st, body), (200, b""))


class RoutesTest(ItemsTestBase):
    def test_405_with_allow(self):
        cases = [
            ("POST", "/v0/r/k", {"GET", "HEAD", "PUT", "PATCH", "DELETE"}),
            ("PUT", "/v0/r/k/refs", {"GET", "HEAD"}),
            ("DELETE", "/v0/r/k/refs/0123456789abcdef", {"GET", "HEAD"}),
            ("PUT", "/v0/r", {"GET", "HEAD", "POST", "DELETE"}),
            ("PUT", "/v0", {"GET", "HEAD", "POST"}),
        ]
        for method, path, allow in cases:
            with self.subTest(method=method, path=path):
                resp = self.req(method, path, body={"x": 1})
                self.assertEqual(resp[0], 405, resp[2])
                got = {m.strip() for m in resp[1].get("allow", "").split(",")}
                self.assertEqual(got, allow)
                self.assertNotIn(method, got)
        self.assertError(self.req("GET", "/v0/r/k"), 404, "items_not_found")

    def test_404_for_unknown_routes(self):
        for path in ("/v0/r/k/nope", "/v0/r/k/refs/0123456789abcdef/x", "/v0foo",
                     "/v0/r/k/nope/deeper", "/v1/r/k", "/nope"):
            with self.subTest(path=path):
                self.assertError(self.req("GET", path), 404, "api_bad_request")

    def test_delete_collection_without_force_changes_nothing(self):
        # Search (GET /v0/r?query=, once 501 here) is test_search*.py's.
        ref = self.ref_of(self.put("/v0/r/patched", {"a": 1}))
        # Collection delete is implemented (test_collections.py); without
        # force=true it is refused and changes nothing.
        self.assertError(self.req("DELETE", "/v0/r"), 400, "api_bad_request")
        self.assertEqual(self.req("GET", "/v0/r/patched")[3], {"a": 1})
        self.assertEqual([e["path"]["ref"] for e in self.refs("/v0/r/patched")["results"]], [ref])

    def test_trailing_and_leading_slash_tolerated(self):
        self.put("/v0/r/slash", {"s": 1})
        self.assertEqual(self.req("GET", "/v0/r/slash/")[3], {"s": 1})
        self.assertEqual(self.req("GET", "//v0/r/slash")[3], {"s": 1})
        self.assertEqual(self.req("GET", "/v0/")[0], 200)

    def test_unauthenticated_learns_nothing_about_routes(self):
        for method, path in (("GET", "/v0/r/k/nope"), ("POST", "/v0/r/k"), ("PATCH", "/v0/r/k"),
                             ("GET", "/v0/r/k"), ("GET", "/v0/r/../k")):
            with self.subTest(method=method, path=path):
                resp = self.server.request(method, path)
                self.assertJsonError(resp, 401, "security_unauthorized")
                self.assertEqual(resp[1].get("www-authenticate"), 'Basic realm="orchid"')

    def test_headers_on_every_kind_of_response(self):
        # req() checks Content-Type, X-ORCHESTRATE-REQ-ID and Content-Length.
        h = self.put("/v0/r/hdr", {"h": 1})
        ref = self.ref_of(h)
        ids = set()
        for method, path, status in (
                ("GET", "/v0/r/hdr", 200), ("HEAD", "/v0/r/hdr", 200),
                ("GET", "/v0/r/hdr/refs", 200), ("GET", "/v0/r/hdr/refs/" + ref, 200),
                ("GET", "/v0/r", 200), ("GET", "/v0", 200), ("HEAD", "/v0", 200),
                ("PUT", "/v0/r/hdr", 201), ("POST", "/v0/r", 201),
                ("DELETE", "/v0/r/hdr", 204), ("DELETE", "/v0/r/hdr", 204),
                ("GET", "/v0/r/hdr", 404), ("POST", "/v0/r/hdr", 405),
                ("PATCH", "/v0/r/hdr", 404), ("GET", "/v0/r/hdr/refs/xx", 400)):
            with self.subTest(method=method, path=path):
                body = {"h": 2} if method in ("PUT", "POST", "PATCH") else None
                st, hh, _, _ = self.req(method, path, body=body)
                self.assertEqual(st, status)
                self.assertEqual(hh["content-type"].split(";")[0].strip(), "application/json")
                ids.add(hh["x-orchestrate-req-id"])
        self.assertEqual(len(ids), 15)


if __name__ == "__main__":
    unittest.main()
