"""Graph relations through nginx (docs/api.md "Relations"): one relation
(PUT, GET, HEAD, DELETE with their conditions and errors), traversals of one
and several hops (order, distinct items, paging with offset, limit and the
after and before tokens, Link headers, field filtering, max_hops and
max_traversal), and what item deletes, purges and collection deletes do to
relations."""

import hashlib
import json
import re
import time
import urllib.parse

from harness import UUID_RE, ServerTestCase

NO_RELATION = "The requested graph relationship could not be found."


def ref(value):
    """The ref Orchid gives a value: SHA-256 of its compact JSON, 8 bytes."""
    text = json.dumps(value, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def enc(name):
    return urllib.parse.quote(name, safe=":@")


def links(headers):
    out = {}
    for m in re.finditer(r'<([^>]*)>;\s*rel="([a-z]+)"', headers.get("link", "")):
        out[m.group(2)] = m.group(1)
    return out


def wait_for(pred, limit, interval=0.1):
    deadline = time.monotonic() + limit
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class RelationsBase(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("graph")

    def req(self, method, path, key=None, **kw):
        """request() plus the checks every response must pass."""
        resp = self.server.request(method, path, key=self.key if key is None else key, **kw)
        st, h, body, doc = resp
        ctx = "%s %s -> %d %r" % (method, path, st, body[:300])
        self.assertIn("application/json", h.get("content-type", ""), ctx)
        self.assertRegex(h.get("x-orchestrate-req-id", ""), UUID_RE, ctx)
        if st >= 400 and method != "HEAD":
            self.assertIsInstance(doc, dict, ctx)
            self.assertIsInstance(doc.get("message"), str, ctx)
        return resp

    def item(self, path, value=None):
        st, _, body, _ = self.req("PUT", path, body=value if value is not None else {"p": path})
        self.assertEqual(st, 201, body)

    def relate(self, src, kind, dst, props=None, headers=None, status=201):
        """PUT /v0/SRC/relation/KIND/DST (src and dst are "c/k", encoded)."""
        st, h, body, doc = self.req("PUT", "/v0/%s/relation/%s/%s" % (src, kind, dst),
                                    body=props, headers=headers)
        self.assertEqual(st, status, body)
        return h, doc

    def rel_get(self, src, kind, dst):
        return self.req("GET", "/v0/%s/relation/%s/%s" % (src, kind, dst))

    def trav(self, src, kinds, query="", status=200):
        st, h, body, doc = self.req("GET", "/v0/%s/relations/%s%s" % (src, kinds, query))
        self.assertEqual(st, status, body)
        if status == 200:
            self.assertEqual(doc["count"], len(doc["results"]), body)
        return h, doc

    def keys(self, doc):
        return ["%s/%s" % (r["path"]["collection"], r["path"]["key"]) for r in doc["results"]]

    def assertError(self, resp, status, code, message=None):
        st, h, body, doc = resp
        self.assertEqual(st, status, body)
        self.assertEqual((doc or {}).get("code"), code, body)
        if message is not None:
            self.assertEqual(doc.get("message"), message, body)


class OneRelationTest(RelationsBase):
    def test_put_get_replace_delete(self):
        self.item("/v0/r1/a")
        self.item("/v0/r1b/b")
        st, h, body, _ = self.req("PUT", "/v0/r1/a/relation/likes/r1b/b")
        self.assertEqual((st, body), (201, b""))
        self.assertEqual(h["etag"], '"%s"' % ref({}))
        self.assertEqual(h["location"], "/v0/r1/a/relation/likes/r1b/b")
        st, h, body, doc = self.rel_get("r1/a", "likes", "r1b/b")
        self.assertEqual((st, doc, h["etag"]), (200, {}, '"%s"' % ref({})))
        # An empty object is the same as no body.
        h, _ = self.relate("r1/a", "likes", "r1b/b", props={})
        self.assertEqual(h["etag"], '"%s"' % ref({}))
        # A second PUT replaces the properties.
        props = {"since": 2014, "tags": ["x", "y"], "w": 1.5}
        h, _ = self.relate("r1/a", "likes", "r1b/b", props=props)
        self.assertEqual(h["etag"], '"%s"' % ref(props))
        st, h, body, doc = self.rel_get("r1/a", "likes", "r1b/b")
        self.assertEqual((st, doc, h["etag"]), (200, props, '"%s"' % ref(props)))
        st, h, body, _ = self.req("HEAD", "/v0/r1/a/relation/likes/r1b/b")
        self.assertEqual((st, body, h["etag"]), (200, b"", '"%s"' % ref(props)))
        # Filtered like an item GET.
        st, _, body, doc = self.req("GET", "/v0/r1/a/relation/likes/r1b/b?with_fields=value.since")
        self.assertEqual((st, doc), (200, {"since": 2014}), body)
        # Direction and kind are part of the relation.
        self.assertError(self.rel_get("r1b/b", "likes", "r1/a"), 404, "relation_not_found",
                         NO_RELATION)
        self.assertError(self.rel_get("r1/a", "Likes", "r1b/b"), 404, "relation_not_found")
        st, _, body, _ = self.req("DELETE", "/v0/r1/a/relation/likes/r1b/b?purge=true")
        self.assertEqual((st, body), (204, b""))
        resp = self.rel_get("r1/a", "likes", "r1b/b")
        self.assertError(resp, 404, "relation_not_found", NO_RELATION)
        self.assertEqual(resp[3]["details"], {
            "source": {"collection": "r1", "key": "a"}, "relation": "likes",
            "destination": {"collection": "r1b", "key": "b"}})
        st, _, body, _ = self.req("HEAD", "/v0/r1/a/relation/likes/r1b/b")
        self.assertEqual((st, body), (404, b""))
        # Deleting what is not there: 204, also without purge.
        for query in ("?purge=true", "", "?purge=false"):
            st, _, body, _ = self.req("DELETE", "/v0/r1/a/relation/likes/r1b/b" + query)
            self.assertEqual((st, body), (204, b""), query)

    def test_delete_without_purge_deletes(self):
        self.item("/v0/r2/a")
        self.item("/v0/r2/b")
        self.relate("r2/a", "k", "r2/b", props={"x": 1})
        st, _, body, _ = self.req("DELETE", "/v0/r2/a/relation/k/r2/b")
        self.assertEqual(st, 204, body)
        self.assertError(self.rel_get("r2/a", "k", "r2/b"), 404, "relation_not_found")
        self.assertEqual(self.trav("r2/a", "k")[1]["results"], [])

    def test_conditions(self):
        self.item("/v0/r3/a")
        self.item("/v0/r3/b")
        path = "/v0/r3/a/relation/k/r3/b"
        # If-Match on nothing: 412, nothing stored.
        self.assertError(self.req("PUT", path, body={"v": 1}, headers={"If-Match": '"%s"' % ref({})}),
                         412, "item_version_mismatch")
        self.assertError(self.rel_get("r3/a", "k", "r3/b"), 404, "relation_not_found")
        # If-None-Match "*" on nothing creates.
        self.relate("r3/a", "k", "r3/b", props={"v": 1}, headers={"If-None-Match": '"*"'})
        # ... and on something is 412.
        self.assertError(self.req("PUT", path, body={"v": 2}, headers={"If-None-Match": '"*"'}),
                         412, "item_already_present")
        self.assertError(self.req("PUT", path, body={"v": 2}, headers={"If-None-Match": "*"}),
                         412, "item_already_present")
        # A stale ref is 412; the current one works.
        self.assertError(self.req("PUT", path, body={"v": 2}, headers={"If-Match": '"%s"' % ref({"v": 9})}),
                         412, "item_version_mismatch")
        self.assertEqual(self.rel_get("r3/a", "k", "r3/b")[3], {"v": 1})
        h, _ = self.relate("r3/a", "k", "r3/b", props={"v": 2},
                           headers={"If-Match": '"%s"' % ref({"v": 1})})
        self.assertEqual(h["etag"], '"%s"' % ref({"v": 2}))
        # A malformed ref is 400.
        self.assertError(self.req("PUT", path, body={"v": 3}, headers={"If-Match": '"badetag"'}),
                         400, "item_ref_malformed")
        self.assertError(self.req("DELETE", path + "?purge=true", headers={"If-Match": "nothex!"}),
                         400, "item_ref_malformed")
        # DELETE with If-Match: stale 412 (kept), current 204, absent 412.
        self.assertError(self.req("DELETE", path + "?purge=true",
                                  headers={"If-Match": '"%s"' % ref({"v": 1})}),
                         412, "item_version_mismatch")
        self.assertEqual(self.rel_get("r3/a", "k", "r3/b")[3], {"v": 2})
        st, _, body, _ = self.req("DELETE", path + "?purge=true",
                                  headers={"If-Match": '"%s"' % ref({"v": 2})})
        self.assertEqual(st, 204, body)
        self.assertError(self.req("DELETE", path + "?purge=true",
                                  headers={"If-Match": '"%s"' % ref({"v": 2})}),
                         412, "item_version_mismatch")

    def test_missing_endpoints(self):
        self.item("/v0/r4/a")
        self.item("/v0/r4/b")
        self.item("/v0/r4/dead")
        self.assertEqual(self.req("DELETE", "/v0/r4/dead")[0], 204)
        cases = [
            ("r4/nobody", "r4/b", {"collection": "r4", "key": "nobody"}),
            ("r4nocoll/a", "r4/b", {"collection": "r4nocoll", "key": "a"}),
            ("r4/a", "r4/nobody", {"collection": "r4", "key": "nobody"}),
            ("r4/a", "r4nocoll/b", {"collection": "r4nocoll", "key": "b"}),
            ("r4/dead", "r4/b", {"collection": "r4", "key": "dead"}),
            ("r4/a", "r4/dead", {"collection": "r4", "key": "dead"}),
            ("r4/nobody", "r4/dead", {"collection": "r4", "key": "nobody"}),
        ]
        for src, dst, missing in cases:
            with self.subTest(src=src, dst=dst):
                resp = self.req("PUT", "/v0/%s/relation/k/%s" % (src, dst), body={"x": 1})
                self.assertError(resp, 404, "items_not_found")
                self.assertEqual(resp[3]["details"], {"items": [missing]})
                resp = self.rel_get(src, "k", dst)
                self.assertError(resp, 404, "items_not_found")
                self.assertEqual(resp[3]["details"], {"items": [missing]})
        # Nothing was stored: no collection appeared, no relation exists.
        st, _, _, doc = self.req("GET", "/v0")
        self.assertNotIn("r4nocoll", [c["collection"] for c in doc["results"]])
        self.assertEqual(self.trav("r4/a", "k")[1]["results"], [])
        # DELETE: a missing source is 404; a missing destination is not.
        resp = self.req("DELETE", "/v0/r4/nobody/relation/k/r4/b?purge=true")
        self.assertError(resp, 404, "items_not_found")
        self.assertEqual(resp[3]["details"], {"items": [{"collection": "r4", "key": "nobody"}]})
        st, _, body, _ = self.req("DELETE", "/v0/r4/a/relation/k/r4nocoll/b?purge=true")
        self.assertEqual(st, 204, body)

    def test_bad_bodies_store_nothing(self):
        self.item("/v0/r5/a")
        self.item("/v0/r5/b")
        path = "/v0/r5/a/relation/k/r5/b"
        for raw in (b"[]", b"null", b"1", b'"x"', b"{", b'{"a":1}x', b" ", b"\xff"):
            with self.subTest(raw=raw):
                self.assertError(self.req("PUT", path, raw_body=raw), 400, "api_bad_request")
        self.assertError(self.rel_get("r5/a", "k", "r5/b"), 404, "relation_not_found")
        self.assertError(self.req("DELETE", path + "?purge=maybe"), 400, "api_bad_request")
        # Properties are limited like item values.
        deep = {}
        node = deep
        for _ in range(80):
            node["d"] = {}
            node = node["d"]
        self.assertError(self.req("PUT", path, body=deep), 400, "api_bad_request")
        self.assertError(self.rel_get("r5/a", "k", "r5/b"), 404, "relation_not_found")

    def test_paths_and_methods(self):
        self.item("/v0/r6/a")
        for method, path in (("GET", "/v0/r6/a/relation"), ("GET", "/v0/r6/a/relation/k"),
                             ("PUT", "/v0/r6/a/relation/k/r6"),
                             ("PUT", "/v0/r6/a/relation/k/r6/a/extra"),
                             ("GET", "/v0/r6/a/relationx/k/r6/a")):
            with self.subTest(method=method, path=path):
                self.assertError(self.req(method, path), 404, "api_bad_request")
        for method, path, allow in (("POST", "/v0/r6/a/relation/k/r6/a", "GET, HEAD, PUT, DELETE"),
                                    ("PATCH", "/v0/r6/a/relation/k/r6/a", "GET, HEAD, PUT, DELETE"),
                                    ("PUT", "/v0/r6/a/relations/k", "GET, HEAD"),
                                    ("DELETE", "/v0/r6/a/relations/k/j", "GET, HEAD")):
            with self.subTest(method=method, path=path):
                resp = self.req(method, path, body={"x": 1})
                self.assertEqual(resp[0], 405, resp[2])
                self.assertEqual(resp[1].get("allow"), allow)
        for path in ("/v0/r6/a/relation/k%00/r6/a", "/v0/r6/a/relation/k//a",
                     "/v0/r6/a/relation/%zz/r6/a", "/v0/r6/a/relation/k/r6/%ff"):
            with self.subTest(path=path):
                self.assertError(self.req("PUT", path), 400, "api_bad_request")
        self.assertEqual(self.trav("r6/a", "k")[1]["results"], [])

    def test_names_are_encoded(self):
        kind = "kind é/x"
        self.item("/v0/%s/%s" % (enc("c 1"), enc("k/1")))
        self.item("/v0/%s/%s" % (enc("c:2"), enc("k@2")))
        path = "/v0/%s/%s/relation/%s/%s/%s" % (enc("c 1"), enc("k/1"), enc(kind), enc("c:2"),
                                                enc("k@2"))
        st, h, body, _ = self.req("PUT", path, body={"n": 1})
        self.assertEqual(st, 201, body)
        self.assertEqual(h["location"], "/v0/c%201/k%2F1/relation/kind%20%C3%A9%2Fx/c:2/k@2")
        self.assertEqual(self.req("GET", h["location"])[3], {"n": 1})
        _, doc = self.trav("%s/%s" % (enc("c 1"), enc("k/1")), enc(kind))
        self.assertEqual([(r["path"]["collection"], r["path"]["key"]) for r in doc["results"]],
                         [("c:2", "k@2")])


class TraversalTest(RelationsBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        srv, key = cls.server, cls.key

        def put(path, value):
            st, _, body, _ = srv.request("PUT", path, key=key, body=value)
            assert st == 201, body

        # Collections created in this order: tu (first cid), tz, ta.
        for k in ("alice", "bob", "carol", "dave"):
            put("/v0/tu/" + k, {"name": k, "n": len(k)})
        put("/v0/tz/y", {"name": "y"})
        put("/v0/ta/x", {"name": "x"})
        put("/v0/ta/w", {"name": "w"})
        rels = [("tu/alice", "friend", "tu/carol"), ("tu/alice", "friend", "tu/bob"),
                ("tu/alice", "friend", "tu/dave"), ("tu/alice", "owns", "ta/x"),
                ("tu/alice", "owns", "tz/y"), ("tu/alice", "owns", "ta/w"),
                ("tu/bob", "friend", "tu/alice"), ("tu/bob", "friend", "tu/carol"),
                ("tu/carol", "friend", "tu/bob"), ("tu/bob", "owns", "ta/x"),
                ("tu/carol", "owns", "ta/x"), ("tu/carol", "owns", "tz/y"),
                ("tu/dave", "owns", "ta/w")]
        for s, k, d in rels:
            st, _, body, _ = srv.request("PUT", "/v0/%s/relation/%s/%s" % (s, k, d), key=key)
            assert st == 201, body
        st, _, body, _ = srv.request("DELETE", "/v0/tu/dave", key=key)
        assert st == 204, body

    def test_one_hop_order_and_shape(self):
        h, doc = self.trav("tu/alice", "owns")
        # By collection (in the order collections were created), then key.
        self.assertEqual(self.keys(doc), ["tz/y", "ta/w", "ta/x"])
        st, ih, _, item = self.req("GET", "/v0/ta/w")
        first = doc["results"][1]
        self.assertEqual(first["value"], item)
        self.assertEqual(first["path"]["ref"], ih["etag"].strip('"'))
        self.assertEqual(first["path"]["kind"], "item")
        self.assertEqual(first["reftime"], first["path"]["reftime"])
        self.assertEqual(set(first["path"]), {"collection", "kind", "key", "ref", "reftime"})
        self.assertNotIn("next", doc)
        self.assertNotIn("prev", doc)
        self.assertNotIn("link", h)
        # Deleted items are left out.
        self.assertEqual(self.keys(self.trav("tu/alice", "friend")[1]), ["tu/bob", "tu/carol"])
        self.assertEqual(self.trav("tu/alice", "nothing")[1], {"results": [], "count": 0})

    def test_several_hops_are_distinct(self):
        self.assertEqual(self.keys(self.trav("tu/alice", "friend/owns")[1]), ["tz/y", "ta/x"])
        self.assertEqual(self.keys(self.trav("tu/alice", "friend/friend")[1]),
                         ["tu/alice", "tu/bob", "tu/carol"])
        self.assertEqual(self.keys(self.trav("tu/alice", "friend/friend/owns")[1]),
                         ["tz/y", "ta/w", "ta/x"])
        self.assertEqual(self.trav("tu/alice", "owns/friend")[1]["results"], [])
        _, doc = self.trav("tu/alice", "friend/friend", "?offset=1&limit=1")
        self.assertEqual(self.keys(doc), ["tu/bob"])
        self.assertEqual(doc["next"], "/v0/tu/alice/relations/friend/friend?offset=2&limit=1")
        self.assertEqual(doc["prev"], "/v0/tu/alice/relations/friend/friend?offset=0&limit=1")

    def test_head_and_fields(self):
        st, h, body, _ = self.req("HEAD", "/v0/tu/alice/relations/owns")
        self.assertEqual((st, body), (200, b""))
        _, doc = self.trav("tu/alice", "friend", "?with_fields=value.name")
        self.assertEqual([r["value"] for r in doc["results"]], [{"name": "bob"}, {"name": "carol"}])
        _, doc = self.trav("tu/alice", "friend", "?without_fields=value.name&limit=1")
        self.assertEqual(doc["results"][0]["value"], {"n": 3})
        self.assertIn("without_fields=value.name", doc["next"])
        _, doc = self.trav("tu/alice", "friend", "?without_fields=value.name&limit=1&offset=1")
        self.assertIn("without_fields=value.name", doc["prev"])
        self.assertError(self.req("GET", "/v0/tu/alice/relations/friend?with_fields="), 400,
                         "api_bad_request")

    def test_start_must_be_live(self):
        for path in ("tu/dave", "tu/nobody", "tnone/alice"):
            with self.subTest(path=path):
                resp = self.req("GET", "/v0/%s/relations/owns" % path)
                self.assertError(resp, 404, "items_not_found")
                c, k = path.split("/")
                self.assertEqual(resp[3]["details"], {"items": [{"collection": c, "key": k}]})

    def test_parameters(self):
        for query, param in (("?limit=0", "limit"), ("?limit=101", "limit"), ("?limit=x", "limit"),
                             ("?offset=-1", "offset"), ("?offset=1.5", "offset"),
                             ("?after=zz", "after"), ("?after=0000000000000001", "after"),
                             ("?after=00000000000000016", "after"), ("?after=", "after"),
                             ("?before=zz", "before"), ("?before=00000000000000016", "before"),
                             ("?before=", "before")):
            with self.subTest(query=query):
                resp = self.req("GET", "/v0/tu/alice/relations/owns" + query)
                self.assertError(resp, 400, "graph_param_invalid")
                self.assertEqual(resp[3]["details"]["param"], param)
        resp = self.req("GET", "/v0/tu/alice/relations/a/b/c/d")
        self.assertError(resp, 400, "graph_param_invalid")
        self.assertIn("max_hops (3)", resp[3]["details"]["info"])
        resp = self.req("GET", "/v0/tu/alice/relations")
        self.assertError(resp, 400, "graph_param_invalid")
        self.assertIn("at least one relation kind", resp[3]["details"]["info"])
        for query in ("?after=00000000000000016b", "?before=00000000000000016b"):
            with self.subTest(query=query):
                resp = self.req("GET", "/v0/tu/alice/relations/a/b" + query)
                self.assertError(resp, 400, "graph_param_invalid")
                self.assertIn("one-hop", resp[3]["details"]["info"])
        resp = self.req("GET", "/v0/tu/alice/relations/owns?after=00000000000000016b"
                               "&before=00000000000000016b")
        self.assertError(resp, 400, "graph_param_invalid")
        self.assertIn("do not go together", resp[3]["details"]["info"])


class PagingTest(RelationsBase):
    N = 25

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        srv, key = cls.server, cls.key
        for path in ["/v0/pu/hub"] + ["/v0/pt/k%02d" % i for i in range(cls.N)]:
            st, _, body, _ = srv.request("PUT", path, key=key, body={"p": path})
            assert st == 201, body
        for i in reversed(range(cls.N)):
            st, _, body, _ = srv.request("PUT", "/v0/pu/hub/relation/has/pt/k%02d" % i, key=key)
            assert st == 201, body

    def test_next_prev_and_after(self):
        want = ["pt/k%02d" % i for i in range(self.N)]
        got, path, pages = [], "/v0/pu/hub/relations/has?limit=10", 0
        while path:
            st, h, body, doc = self.req("GET", path)
            self.assertEqual(st, 200, body)
            got += self.keys(doc)
            lk = links(h)
            self.assertEqual(lk.get("next"), doc.get("next"))
            self.assertEqual(lk.get("prev"), doc.get("prev"))
            if pages > 0:
                self.assertRegex(doc["prev"], r"^/v0/pu/hub/relations/has\?offset=%d&limit=10"
                                 r"&before=[0-9a-f]+$" % ((pages - 1) * 10))
            else:
                self.assertNotIn("prev", doc)
            if "next" in doc:
                self.assertRegex(doc["next"], r"^/v0/pu/hub/relations/has\?offset=%d&limit=10"
                                 r"&after=[0-9a-f]+$" % ((pages + 1) * 10))
            path = doc.get("next")
            pages += 1
        self.assertEqual((got, pages), (want, 3))

    def test_offset_alone(self):
        _, doc = self.trav("pu/hub", "has", "?offset=20&limit=10")
        self.assertEqual(self.keys(doc), ["pt/k%02d" % i for i in range(20, 25)])
        self.assertNotIn("next", doc)
        self.assertRegex(doc["prev"], r"^/v0/pu/hub/relations/has\?offset=10&limit=10"
                                      r"&before=[0-9a-f]+$")
        st, _, body, prev = self.req("GET", doc["prev"])
        self.assertEqual(st, 200, body)
        self.assertEqual(self.keys(prev), ["pt/k%02d" % i for i in range(10, 20)])
        _, doc = self.trav("pu/hub", "has", "?offset=30")
        self.assertEqual(doc["results"], [])

    def test_after_survives_changes(self):
        """The next page starts after the last item returned, whatever was
        deleted or added before it meanwhile."""
        self.item("/v0/pu/hub2")
        for i in range(6):
            self.item("/v0/pt/m%d" % i)
            self.relate("pu/hub2", "has", "pt/m%d" % i)
        _, doc = self.trav("pu/hub2", "has", "?limit=3")
        self.assertEqual(self.keys(doc), ["pt/m0", "pt/m1", "pt/m2"])
        nxt = doc["next"]
        st, _, body, _ = self.req("DELETE", "/v0/pu/hub2/relation/has/pt/m0?purge=true")
        self.assertEqual(st, 204, body)
        self.assertEqual(self.req("DELETE", "/v0/pt/m2")[0], 204)
        st, _, body, doc = self.req("GET", nxt)
        self.assertEqual(st, 200, body)
        self.assertEqual(self.keys(doc), ["pt/m3", "pt/m4", "pt/m5"])
        self.assertNotIn("next", doc)


class LimitsTest(RelationsBase):
    server_options = {"extra": {"max_traversal": 12, "max_hops": 2, "max_response": "64K"}}

    def test_page_ends_at_max_response(self):
        """Items of 30 KB: a page of 64 KiB holds two; next (with after)
        and then its own next give the rest, each once."""
        self.item("/v0/mu/hub")
        for i in range(5):
            self.item("/v0/mt/k%d" % i, {"pad": "x" * 30000, "i": i})
            self.relate("mu/hub", "big", "mt/k%d" % i)
        got, path, pages = [], "/v0/mu/hub/relations/big?limit=5", 0
        while path:
            st, _, body, doc = self.req("GET", path)
            self.assertEqual(st, 200, body[:200])
            self.assertLessEqual(len(body), 64 * 1024 + 31000)
            got += [r["value"]["i"] for r in doc["results"]]
            path = doc.get("next")
            if path:
                self.assertIn("&after=", path)
            pages += 1
        self.assertEqual(got, list(range(5)))
        self.assertEqual(pages, 3)
        # Two hops end early the same way, with offset.
        self.item("/v0/mu/top")
        self.relate("mu/top", "to", "mu/hub")
        _, doc = self.trav("mu/top", "to/big", "?limit=5")
        self.assertEqual([r["value"]["i"] for r in doc["results"]], [0, 1])
        self.assertEqual(doc["next"], "/v0/mu/top/relations/to/big?offset=2&limit=5")

    def test_max_traversal(self):
        self.item("/v0/lu/hub")
        for i in range(20):
            self.item("/v0/lt/k%02d" % i)
            self.relate("lu/hub", "has", "lt/k%02d" % i)
            self.relate("lt/k%02d" % i, "back", "lu/hub")
        # Paging one hop by its next links costs each page alone.
        got, path = [], "/v0/lu/hub/relations/has?limit=5"
        while path:
            st, _, body, doc = self.req("GET", path)
            self.assertEqual(st, 200, body)
            got += self.keys(doc)
            path = doc.get("next")
        self.assertEqual(got, ["lt/k%02d" % i for i in range(20)])
        # A large offset, a page larger than the limit, or two hops that
        # follow 40 relations are refused.
        for query in ("?offset=15&limit=5", "?limit=20"):
            with self.subTest(query=query):
                resp = self.req("GET", "/v0/lu/hub/relations/has" + query)
                self.assertError(resp, 400, "graph_param_invalid")
                self.assertIn("max_traversal (12)", resp[3]["details"]["info"])
        resp = self.req("GET", "/v0/lu/hub/relations/has/back")
        self.assertError(resp, 400, "graph_param_invalid")
        self.assertIn("max_traversal (12)", resp[3]["details"]["info"])
        resp = self.req("GET", "/v0/lu/hub/relations/has/back/has")
        self.assertError(resp, 400, "graph_param_invalid")
        self.assertIn("max_hops (2)", resp[3]["details"]["info"])

    def get_page(self, path):
        """A traversal page whose Link headers match its next and prev."""
        st, h, body, doc = self.req("GET", path)
        self.assertEqual(st, 200, body)
        lk = links(h)
        self.assertEqual((lk.get("next"), lk.get("prev")), (doc.get("next"), doc.get("prev")))
        return doc

    def test_prev_links_seek(self):
        """prev links carry before= (the page's first item): paging back
        from the last page by them costs each page alone, however deep,
        and gives the pages paging forward gave, deleted items left out."""
        self.item("/v0/bu/hub")
        for i in range(30):
            self.item("/v0/bt/k%02d" % i)
            self.relate("bu/hub", "has", "bt/k%02d" % i)
        for i in range(3, 30, 7):
            self.assertEqual(self.req("DELETE", "/v0/bt/k%02d" % i)[0], 204)
        live = ["bt/k%02d" % i for i in range(30) if i % 7 != 3]
        fwd, path = [], "/v0/bu/hub/relations/has?limit=4"
        while path:
            doc = self.get_page(path)
            fwd.append(doc)
            path = doc.get("next")
        self.assertEqual(sum((self.keys(d) for d in fwd), []), live)
        self.assertEqual(len(fwd), 7)
        # The last page's prev offset alone is past max_traversal (12).
        self.assertRegex(fwd[-1]["prev"], r"^/v0/bu/hub/relations/has\?offset=20&limit=4"
                                          r"&before=[0-9a-f]+$")
        resp = self.req("GET", "/v0/bu/hub/relations/has?offset=20&limit=4")
        self.assertError(resp, 400, "graph_param_invalid")
        self.assertIn("max_traversal (12)", resp[3]["details"]["info"])
        # Back by prev links to the first page.
        back, path = [], fwd[-1]["prev"]
        while path:
            n = len(fwd) - 2 - len(back)
            self.assertRegex(path, r"^/v0/bu/hub/relations/has\?offset=%d&limit=4"
                                   r"&before=[0-9a-f]+$" % (4 * n))
            doc = self.get_page(path)
            back.append(self.keys(doc))
            self.assertEqual(self.keys(doc), self.keys(fwd[n]), path)
            # Its next (after= its last item) is the page after it.
            self.assertRegex(doc["next"], r"^/v0/bu/hub/relations/has\?offset=%d&limit=4"
                                          r"&after=[0-9a-f]+$" % (4 * n + 4))
            self.assertEqual(self.keys(self.get_page(doc["next"])), self.keys(fwd[n + 1]))
            path = doc.get("prev")
        self.assertEqual(len(back), len(fwd) - 1)
        # Before the first item: nothing before it, and a next to the first page.
        first = re.search(r"&after=([0-9a-f]+)$",
                          self.get_page("/v0/bu/hub/relations/has?limit=1")["next"]).group(1)
        doc = self.get_page("/v0/bu/hub/relations/has?limit=4&before=" + first)
        self.assertEqual((doc["results"], doc["count"]), ([], 0))
        self.assertNotIn("prev", doc)
        self.assertEqual(doc["next"], "/v0/bu/hub/relations/has?offset=0&limit=4")
        self.assertEqual(self.keys(self.get_page(doc["next"])), self.keys(fwd[0]))


class LifecycleTest(RelationsBase):
    def test_delete_keeps_relations_and_purge_removes_them(self):
        for k in ("a", "b", "c"):
            self.item("/v0/lc/" + k)
        self.relate("lc/a", "k", "lc/b", props={"ab": 1})
        self.relate("lc/b", "k", "lc/a")
        self.relate("lc/c", "k", "lc/b")
        self.relate("lc/b", "self", "lc/b")
        # DELETE without purge: b leaves traversals, its relations stay.
        self.assertEqual(self.req("DELETE", "/v0/lc/b")[0], 204)
        self.assertEqual(self.trav("lc/a", "k")[1]["results"], [])
        self.assertError(self.req("GET", "/v0/lc/b/relations/k"), 404, "items_not_found")
        resp = self.rel_get("lc/a", "k", "lc/b")
        self.assertError(resp, 404, "items_not_found")
        self.assertEqual(resp[3]["details"], {"items": [{"collection": "lc", "key": "b"}]})
        # A new PUT of b brings them back.
        self.item("/v0/lc/b", {"back": True})
        _, doc = self.trav("lc/a", "k")
        self.assertEqual(self.keys(doc), ["lc/b"])
        self.assertEqual(doc["results"][0]["value"], {"back": True})
        self.assertEqual(self.rel_get("lc/a", "k", "lc/b")[3], {"ab": 1})
        self.assertEqual(self.keys(self.trav("lc/b", "k")[1]), ["lc/a"])
        # Purge: gone in both directions, also for a new b.
        self.assertEqual(self.req("DELETE", "/v0/lc/b?purge=true")[0], 204)
        self.item("/v0/lc/b")
        self.assertEqual(self.trav("lc/a", "k")[1]["results"], [])
        self.assertEqual(self.trav("lc/c", "k")[1]["results"], [])
        self.assertEqual(self.trav("lc/b", "k")[1]["results"], [])
        self.assertEqual(self.trav("lc/b", "self")[1]["results"], [])
        self.assertError(self.rel_get("lc/a", "k", "lc/b"), 404, "relation_not_found")

    def test_collection_delete_and_reclaim(self):
        self.item("/v0/keep/a")
        self.item("/v0/keep/z")
        self.item("/v0/gone/g")
        self.item("/v0/gone/h")
        self.relate("keep/a", "k", "gone/g")
        self.relate("keep/a", "k", "keep/z")
        self.relate("gone/h", "k", "keep/a")
        self.relate("gone/g", "k", "gone/h")
        self.assertEqual(self.req("DELETE", "/v0/gone?force=true")[0], 204)
        # Gone at once, whatever the reclaim has done yet.
        self.assertEqual(self.keys(self.trav("keep/a", "k")[1]), ["keep/z"])
        self.assertError(self.req("GET", "/v0/gone/h/relations/k"), 404, "items_not_found")
        # A new collection of that name sees none of them.
        self.item("/v0/gone/g")
        self.item("/v0/gone/h")
        self.assertEqual(self.keys(self.trav("keep/a", "k")[1]), ["keep/z"])
        self.assertEqual(self.trav("gone/h", "k")[1]["results"], [])
        self.assertError(self.rel_get("keep/a", "k", "gone/g"), 404, "relation_not_found")

        def queued():
            out = self.server.orchidctl("stats").stdout.decode()
            m = re.search(r"(?m)^reclaim: (\d+) dropped collections queued, \d+ purged items. entries queued$", out)
            return m is not None and int(m.group(1)) == 0
        self.assertTrue(wait_for(queued, 60), "the reclaim queue did not empty")
        self.assertEqual(self.keys(self.trav("keep/a", "k")[1]), ["keep/z"])
        # No relation lost its mirror, none points at a forgotten cid.
        self.assertEqual(self.server.stop_orchidd(), 0)
        try:
            proc = self.server.orchidctl("verify", check=False)
            out = proc.stdout.decode()
            self.assertEqual(proc.returncode, 0, out + proc.stderr.decode())
            self.assertRegex(out, r"\(0 of dropped collections\), 0 orphans, 0 of format 1, "
                                  r"0 malformed, 0 wrong counts, 0 relations without their mirror")
        finally:
            self.server.start_orchidd()
            self.server.wait_ready()
        self.assertEqual(self.keys(self.trav("keep/a", "k")[1]), ["keep/z"])
