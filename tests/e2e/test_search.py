"""Search answers (docs/api.md "Search"): a write is found by the next
search with no sleep; the response (count, total_count, score, next/prev
and Link, limit=0, values=false, field filtering); cross-collection search
and @path.collection; events and relationships through @path.kind; sort;
the aggregates' shapes; NEAR with distance and IN; tenants see only their
own documents and their scores never depend on another tenant; purges,
deletes and collection deletes leave the results; a refused search changes
nothing. test_search_http.py has the parameter checks."""

import math
import re
import urllib.parse

from harness import UUID_RE, ServerTestCase

PARIS = (48.8566, 2.3522)
PLACES = {
    "paris": PARIS,
    "versailles": (48.8049, 2.1204),
    "london": (51.5074, -0.1278),
    "lyon": (45.7640, 4.8357),
}
# Xapian's GreatCircleMetric default radius (metres).
EARTH_M = 6372797.6


def q(**params):
    return "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def great_circle_km(a, b):
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (math.sin((lat2 - lat1) / 2) ** 2 +
         math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_M * math.asin(math.sqrt(h)) / 1000.0


def links(headers):
    out = {}
    for m in re.finditer(r'<([^>]*)>;\s*rel="([a-z]+)"', headers.get("link", "")):
        out[m.group(2)] = m.group(1)
    return out


def query_of(url):
    """The parameters of a relative URL, in order, decoded."""
    path, _, qs = url.partition("?")
    return path, urllib.parse.parse_qsl(qs, keep_blank_values=True)


class SearchBase(ServerTestCase):
    tenant = "search"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key(cls.tenant)

    def req(self, method, path, key=None, **kw):
        resp = self.server.request(method, path, key=self.key if key is None else key, **kw)
        st, h, body, doc = resp
        ctx = "%s %s -> %d %r" % (method, path, st, body[:300])
        self.assertIn("application/json", h.get("content-type", ""), ctx)
        self.assertRegex(h.get("x-orchestrate-req-id", ""), UUID_RE, ctx)
        return resp

    def put(self, path, value, key=None):
        st, h, body, _ = self.req("PUT", path, key=key, body=value)
        self.assertEqual(st, 201, body)
        return h["etag"].strip('"')

    def search(self, path, key=None, **params):
        """GET path?params: a 200 whose shape is checked; (headers, doc)."""
        st, h, body, doc = self.req("GET", path + q(**params), key=key)
        self.assertEqual(st, 200, "%s %r -> %r" % (path, params, body[:500]))
        self.assertEqual(set(doc) - {"next", "prev", "aggregates"},
                         {"results", "count", "total_count"}, body[:500])
        self.assertEqual(doc["count"], len(doc["results"]), body[:500])
        self.assertIsInstance(doc["total_count"], int)
        self.assertGreaterEqual(doc["total_count"], doc["count"])
        for r in doc["results"]:
            self.assertIn("path", r, body[:500])
            self.assertIsInstance(r["score"], (int, float), body[:500])
            self.assertIsInstance(r["reftime"], int, body[:500])
        self.assertEqual(links(h).get("next"), doc.get("next"))
        self.assertEqual(links(h).get("prev"), doc.get("prev"))
        return h, doc

    def follow(self, url):
        """search() of a next or prev URL."""
        path, params = query_of(url)
        return self.search(path, **dict(params))

    def keys(self, doc):
        return [r["path"]["key"] for r in doc["results"]]

    def assertError(self, resp, status, code):
        st, h, body, doc = resp
        self.assertEqual(st, status, body)
        self.assertEqual((doc or {}).get("code"), code, body)


class ConsistencyTest(SearchBase):
    def test_found_right_after_each_write(self):
        for i in range(25):
            word = "fresh%dword" % i
            self.put("/v0/fresh/k%d" % i, {"title": "a %s here" % word, "i": i})
            _, doc = self.search("/v0/fresh", query=word)
            self.assertEqual(self.keys(doc), ["k%d" % i], word)
            self.assertEqual(doc["results"][0]["value"], {"title": "a %s here" % word, "i": i})
        # A replaced value: the new words only.
        self.put("/v0/fresh/k0", {"title": "replaced text"})
        self.assertEqual(self.search("/v0/fresh", query="fresh0word")[1]["total_count"], 0)
        self.assertEqual(self.keys(self.search("/v0/fresh", query="replaced")[1]), ["k0"])
        # A deleted item is not found.
        st, _, body, _ = self.req("DELETE", "/v0/fresh/k1")
        self.assertEqual(st, 204, body)
        self.assertEqual(self.search("/v0/fresh", query="fresh1word")[1]["total_count"], 0)
        # A patch is a write like any other.
        st, _, body, _ = self.req("PATCH", "/v0/fresh/k2",
                                  body=[{"op": "add", "path": "/extra", "value": "patchedword"}],
                                  headers={"Content-Type": "application/json-patch+json"})
        self.assertEqual(st, 201, body)
        self.assertEqual(self.keys(self.search("/v0/fresh", query="patchedword")[1]), ["k2"])

    def test_result_shape(self):
        ref = self.put("/v0/shape/one", {"name": "Shape Word", "n": 1})
        h, doc = self.search("/v0/shape", query="shape")
        self.assertEqual((doc["count"], doc["total_count"]), (1, 1))
        r = doc["results"][0]
        self.assertEqual(set(r), {"path", "value", "score", "reftime"})
        self.assertEqual(r["path"]["collection"], "shape")
        self.assertEqual(r["path"]["kind"], "item")
        self.assertEqual(r["path"]["key"], "one")
        self.assertEqual(r["path"]["ref"], ref)
        self.assertEqual(r["path"]["reftime"], r["reftime"])
        self.assertEqual(r["value"], {"name": "Shape Word", "n": 1})
        self.assertGreater(r["score"], 0)
        self.assertNotIn("next", doc)
        self.assertNotIn("prev", doc)
        self.assertNotIn("link", h)
        # HEAD: the same status, no body.
        st, h, body, _ = self.req("HEAD", "/v0/shape" + q(query="shape"))
        self.assertEqual((st, body), (200, b""))
        # Nothing matches: an empty page.
        _, doc = self.search("/v0/shape", query="nosuchwordanywhere")
        self.assertEqual((doc["results"], doc["count"], doc["total_count"]), ([], 0, 0))
        # A collection that does not exist: empty too.
        _, doc = self.search("/v0/neverwritten", query="*")
        self.assertEqual(doc["total_count"], 0)


class PagingTest(SearchBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for i in range(25):
            st, _, body, _ = cls.server.request("PUT", "/v0/pg/k%02d" % i, key=cls.key,
                                                body={"w": "pageword", "i": i,
                                                      "x": "y" * 50})
            assert st == 201, body

    def test_next_prev_and_link(self):
        h, doc = self.search("/v0/pg", query="pageword", limit=10)
        self.assertEqual((doc["count"], doc["total_count"]), (10, 25))
        self.assertEqual(doc["next"], "/v0/pg?limit=10&query=pageword&offset=10")
        self.assertNotIn("prev", doc)
        self.assertEqual(links(h), {"next": doc["next"]})
        seen = self.keys(doc)
        h, doc = self.follow(doc["next"])
        self.assertEqual(doc["count"], 10)
        self.assertEqual(doc["next"], "/v0/pg?limit=10&query=pageword&offset=20")
        self.assertEqual(doc["prev"], "/v0/pg?limit=10&query=pageword&offset=0")
        self.assertEqual(links(h), {"next": doc["next"], "prev": doc["prev"]})
        seen += self.keys(doc)
        h, doc = self.follow(doc["next"])
        self.assertEqual((doc["count"], doc["total_count"]), (5, 25))
        self.assertNotIn("next", doc)
        self.assertEqual(doc["prev"], "/v0/pg?limit=10&query=pageword&offset=10")
        seen += self.keys(doc)
        # Pages of one search neither repeat nor skip (ties in a stable order).
        self.assertEqual(sorted(seen), ["k%02d" % i for i in range(25)])
        # Past the end: no results, a prev, no next.
        h, doc = self.search("/v0/pg", query="pageword", limit=10, offset=40)
        self.assertEqual((doc["count"], doc["total_count"]), (0, 25))
        self.assertEqual(doc["prev"], "/v0/pg?limit=10&query=pageword&offset=30")
        self.assertNotIn("next", doc)
        # prev never goes below 0.
        _, doc = self.search("/v0/pg", query="pageword", limit=10, offset=3)
        self.assertEqual(doc["prev"], "/v0/pg?limit=10&query=pageword&offset=0")
        self.assertEqual(doc["next"], "/v0/pg?limit=10&query=pageword&offset=13")

    def test_links_carry_the_other_parameters(self):
        params = dict(query="pageword AND i:[0 TO 100]", limit="2", offset="2",
                      sort="value.i:desc", aggregate="value.i:stats", values="false",
                      with_fields="value.i", without_fields="value.x")
        _, doc = self.search("/v0/pg", **params)
        for rel, offset in (("next", "4"), ("prev", "0")):
            path, got = query_of(doc[rel])
            self.assertEqual(path, "/v0/pg")
            # The live order first: limit, query, offset.
            self.assertEqual([k for k, _ in got[:3]], ["limit", "query", "offset"], doc[rel])
            self.assertEqual(dict(got), dict(params, offset=offset), doc[rel])
        self.assertIn("query=pageword%20AND%20i:%5B0%20TO%20100%5D", doc["next"])
        self.assertEqual(self.keys(doc), ["k22", "k21"])
        _, doc2 = self.follow(doc["next"])
        self.assertEqual(self.keys(doc2), ["k20", "k19"])
        self.assertIn("aggregates", doc2)
        # The star is percent-encoded, as the live service wrote it.
        _, doc = self.search("/v0/pg", query="*", limit=1)
        self.assertEqual(doc["next"], "/v0/pg?limit=1&query=%2A&offset=1")

    def test_limit_zero_gives_the_total(self):
        h, doc = self.search("/v0/pg", query="pageword", limit=0)
        self.assertEqual(doc, {"count": 0, "total_count": 25, "results": []})
        self.assertNotIn("link", h)
        _, doc = self.search("/v0/pg", query="pageword", limit=0, offset=5,
                             aggregate="value.i:stats")
        self.assertEqual((doc["count"], doc["total_count"], doc["results"]), (0, 25, []))
        self.assertEqual(doc["aggregates"][0]["value_count"], 25)

    def test_default_limit_is_10_and_max_100(self):
        _, doc = self.search("/v0/pg", query="pageword")
        self.assertEqual(doc["count"], 10)
        _, doc = self.search("/v0/pg", query="pageword", limit=100)
        self.assertEqual(doc["count"], 25)
        self.assertNotIn("next", doc)

    def test_values_false(self):
        h, doc = self.search("/v0/pg", query="pageword", limit=3, values="false")
        self.assertEqual(doc["count"], 3)
        for r in doc["results"]:
            self.assertEqual(set(r), {"path", "score", "reftime"})
            self.assertEqual(r["path"]["kind"], "item")
        self.assertIn("values=false", doc["next"])

    def test_field_filtering(self):
        _, doc = self.search("/v0/pg", query="pageword", limit=3, with_fields="value.i")
        for r in doc["results"]:
            self.assertEqual(set(r["value"]), {"i"})
            self.assertEqual(r["path"]["collection"], "pg")
        self.assertIn("with_fields=value.i", doc["next"])
        _, doc = self.search("/v0/pg", query="pageword", limit=3, without_fields="x,w")
        for r in doc["results"]:
            self.assertEqual(set(r["value"]), {"i"})
        _, doc = self.search("/v0/pg", query="pageword", limit=3, with_fields="nope")
        self.assertEqual([r["value"] for r in doc["results"]], [{}, {}, {}])


class CrossCollectionTest(SearchBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for coll in ("xa", "xb", "xc", "x d"):
            for i in range(2):
                st, _, body, _ = cls.server.request(
                    "PUT", "/v0/%s/k%d" % (urllib.parse.quote(coll), i), key=cls.key,
                    body={"t": "crossword", "c": coll})
                assert st == 201, body

    def colls(self, doc):
        return sorted({r["path"]["collection"] for r in doc["results"]})

    def test_every_collection(self):
        _, doc = self.search("/v0", query="crossword", limit=100)
        self.assertEqual(self.colls(doc), ["x d", "xa", "xb", "xc"])
        self.assertEqual(doc["total_count"], 8)

    def test_path_collection(self):
        _, doc = self.search("/v0", query="crossword AND @path.collection:(`xa` `xb`)",
                             limit=100)
        self.assertEqual(self.colls(doc), ["xa", "xb"])
        self.assertEqual(doc["total_count"], 4)
        _, doc = self.search("/v0", query="@path.collection:`x d`", limit=100)
        self.assertEqual(self.colls(doc), ["x d"])
        _, doc = self.search("/v0/xa", query="crossword", limit=100)
        self.assertEqual(self.colls(doc), ["xa"])
        # A collection clause naming another collection inside /v0/{c}: none.
        _, doc = self.search("/v0/xa", query="@path.collection:`xb`")
        self.assertEqual(doc["total_count"], 0)

    def test_links_of_cross_collection_search(self):
        _, doc = self.search("/v0", query="crossword", limit=3)
        self.assertEqual(doc["next"], "/v0?limit=3&query=crossword&offset=3")
        _, doc = self.search("/v0/x%20d", query="crossword", limit=1)
        self.assertEqual(doc["next"], "/v0/x%20d?limit=1&query=crossword&offset=1")


class KindsTest(SearchBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        req = cls.server.request
        for path in ("/v0/kd/src", "/v0/kd/dst"):
            st, _, body, _ = req("PUT", path, key=cls.key, body={"note": "kindword item"})
            assert st == 201, body
        st, h, body, _ = req("POST", "/v0/kd/src/events/said", key=cls.key,
                             body={"note": "kindword event"})
        assert st == 201, body
        cls.event_location = h["location"]
        st, _, body, _ = req("PUT", "/v0/kd/src/relation/likes/kd/dst", key=cls.key,
                             body={"note": "kindword relation"})
        assert st == 201, body

    def kinds(self, doc):
        return sorted(r["path"]["kind"] for r in doc["results"])

    def test_items_only_by_default(self):
        _, doc = self.search("/v0/kd", query="kindword")
        self.assertEqual(self.kinds(doc), ["item", "item"])

    def test_events(self):
        _, doc = self.search("/v0/kd", query="@path.kind:event AND kindword")
        self.assertEqual(self.kinds(doc), ["event"])
        r = doc["results"][0]
        p = r["path"]
        self.assertEqual((p["collection"], p["key"], p["type"]), ("kd", "src", "said"))
        ts, ordinal = self.event_location.rsplit("/", 2)[1:]
        self.assertEqual((str(p["timestamp"]), str(p["ordinal"])), (ts, ordinal))
        self.assertEqual(r["value"], {"note": "kindword event"})
        _, doc = self.search("/v0/kd", query="@path.kind:event AND @path.type:said")
        self.assertEqual(self.kinds(doc), ["event"])

    def test_relationships(self):
        for kind in ("relationship", "relation"):
            with self.subTest(kind=kind):
                _, doc = self.search("/v0/kd", query="@path.kind:%s AND kindword" % kind)
                self.assertEqual(self.kinds(doc), ["relationship"])
                r = doc["results"][0]
                p = r["path"]
                self.assertEqual(p["relation"], "likes")
                self.assertEqual((p["source"]["collection"], p["source"]["key"]),
                                 ("kd", "src"))
                self.assertEqual((p["destination"]["collection"], p["destination"]["key"]),
                                 ("kd", "dst"))
                self.assertEqual(r["value"], {"note": "kindword relation"})
        _, doc = self.search("/v0/kd", query="@path.kind:relationship AND "
                                               "@path.destination.key:`dst`")
        self.assertEqual(self.kinds(doc), ["relationship"])

    def test_every_kind(self):
        _, doc = self.search("/v0/kd", query="@path.kind:(item event relationship) AND kindword")
        self.assertEqual(self.kinds(doc), ["event", "item", "item", "relationship"])
        _, doc = self.search("/v0", query="@path.kind:* AND kindword")
        self.assertEqual(doc["total_count"], 4)


class SortTest(SearchBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        values = {"a": {"rank": 3, "name": "banana"}, "b": {"rank": 1, "name": "Apple"},
                  "c": {"rank": 2, "name": "cherry"}, "d": {"rank": 10, "name": "date"},
                  "e": {"name": "elder"}}
        for k, v in values.items():
            st, _, body, _ = cls.server.request("PUT", "/v0/so/" + k, key=cls.key,
                                                body=dict(v, t="sortword"))
            assert st == 201, body

    def test_by_number(self):
        _, doc = self.search("/v0/so", query="sortword", sort="value.rank:asc")
        self.assertEqual(self.keys(doc), ["b", "c", "a", "d", "e"])
        _, doc = self.search("/v0/so", query="sortword", sort="value.rank:desc")
        self.assertEqual(self.keys(doc), ["d", "a", "c", "b", "e"])
        # No direction: ascending; the bare name is the same field.
        _, doc = self.search("/v0/so", query="sortword", sort="rank")
        self.assertEqual(self.keys(doc), ["b", "c", "a", "d", "e"])

    def test_by_string_and_path(self):
        _, doc = self.search("/v0/so", query="sortword", sort="value.name:asc")
        self.assertEqual(self.keys(doc), ["b", "a", "c", "d", "e"])
        _, doc = self.search("/v0/so", query="sortword", sort="@path.key:desc")
        self.assertEqual(self.keys(doc), ["e", "d", "c", "b", "a"])

    def test_paged_sort(self):
        _, doc = self.search("/v0/so", query="sortword", sort="value.rank:desc", limit=2)
        self.assertEqual(self.keys(doc), ["d", "a"])
        self.assertIn("&sort=value.rank:desc", doc["next"])
        _, doc = self.search("/v0/so", query="sortword", sort="value.rank:desc", limit=2,
                             offset=2)
        self.assertEqual(self.keys(doc), ["c", "b"])

    def test_random_with_a_seed_repeats(self):
        a = self.keys(self.search("/v0/so", query="sortword", sort="_random:7")[1])
        b = self.keys(self.search("/v0/so", query="sortword", sort="_random:7")[1])
        self.assertEqual(a, b)
        self.assertEqual(sorted(a), ["a", "b", "c", "d", "e"])


class AggregateTest(SearchBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        people = [("p1", 20, "Oslo", "2014-03-01", "paris"),
                  ("p2", 30, "Oslo", "2014-03-15", "versailles"),
                  ("p3", 40, "Rome", "2014-04-02", "london"),
                  ("p4", 50, "Bergen", "2015-01-20T13:00:00Z", "lyon")]
        for k, age, city, born, place in people:
            lat, lon = PLACES[place]
            st, _, body, _ = cls.server.request(
                "PUT", "/v0/ag/" + k, key=cls.key,
                body={"age": age, "city": city, "born": born, "place": place,
                      "loc": {"lat": lat, "lon": lon}, "t": "aggword"})
            assert st == 201, body
        st, _, body, _ = cls.server.request("PUT", "/v0/ag/other", key=cls.key,
                                            body={"t": "otherword", "age": 99})
        assert st == 201, body

    def aggs(self, spec, query="aggword", **extra):
        _, doc = self.search("/v0/ag", query=query, aggregate=spec, **extra)
        self.assertIsInstance(doc["aggregates"], list)
        for a in doc["aggregates"]:
            self.assertIn(a["aggregate_kind"], ("stats", "range", "distance", "top_values",
                                                "time_series"))
            self.assertIsInstance(a["field_name"], str)
            self.assertIsInstance(a["value_count"], int)
        return doc["aggregates"]

    def test_stats(self):
        (a,) = self.aggs("value.age:stats")
        self.assertEqual((a["aggregate_kind"], a["field_name"], a["value_count"]),
                         ("stats", "value.age", 4))
        s = a["statistics"]
        self.assertEqual((s["min"], s["max"], s["sum"]), (20, 50, 140))
        self.assertAlmostEqual(s["mean"], 35)
        self.assertAlmostEqual(s["sum_of_squares"], 5400)
        self.assertAlmostEqual(s["variance"], 125)   # population variance
        self.assertAlmostEqual(s["std_dev"], math.sqrt(125))

    def test_range(self):
        (a,) = self.aggs("value.age:range:*~30:30~45:45~*")
        self.assertEqual((a["aggregate_kind"], a["value_count"]), ("range", 4))
        b = a["buckets"]
        self.assertEqual(len(b), 3)
        self.assertNotIn("min", b[0])
        self.assertEqual((float(b[0]["max"]), b[0]["count"]), (30.0, 1))  # max exclusive
        self.assertEqual((float(b[1]["min"]), float(b[1]["max"]), b[1]["count"]),
                         (30.0, 45.0, 2))                                  # min inclusive
        self.assertNotIn("max", b[2])
        self.assertEqual((float(b[2]["min"]), b[2]["count"]), (45.0, 1))

    def test_top_values(self):
        (a,) = self.aggs("value.city:top_values")
        self.assertEqual(a["aggregate_kind"], "top_values")
        self.assertEqual((a["offset"], a["limit"]), (0, 10))
        # Most frequent first, ties by value.
        self.assertEqual([(e["value"], e["count"]) for e in a["entries"]],
                         [("oslo", 2), ("bergen", 1), ("rome", 1)]
                         if a["entries"][0]["value"] == "oslo" else
                         [("Oslo", 2), ("Bergen", 1), ("Rome", 1)])
        (a,) = self.aggs("value.city:top_values:offset:1:limit:1")
        self.assertEqual((a["offset"], a["limit"], len(a["entries"])), (1, 1, 1))
        self.assertEqual(a["entries"][0]["count"], 1)

    def test_time_series(self):
        (a,) = self.aggs("value.born:time_series:month")
        self.assertEqual((a["aggregate_kind"], a["interval"]), ("time_series", "month"))
        self.assertEqual([(b["bucket"], b["count"]) for b in a["buckets"]],
                         [("2014-03", 2), ("2014-04", 1), ("2015-01", 1)])
        (a,) = self.aggs("value.born:time_series:year")
        self.assertEqual([(b["bucket"], b["count"]) for b in a["buckets"]],
                         [("2014", 3), ("2015", 1)])
        (a,) = self.aggs("value.born:time_series:quarter")
        self.assertEqual([b["bucket"] for b in a["buckets"]], ["2014-Q1", "2014-Q2", "2015-Q1"])
        # 13:00Z is 22:00 at +0900: the same day, another hour.
        (a,) = self.aggs("value.born:time_series:hour:+0900", query="@path.key:p4")
        self.assertEqual(a["time_zone"], "+0900")
        self.assertEqual([b["bucket"] for b in a["buckets"]], ["2015-01-20T22"])
        (a,) = self.aggs("value.born:time_series:day", query="@path.key:p1")
        self.assertEqual([b["bucket"] for b in a["buckets"]], ["2014-03-01"])
        (a,) = self.aggs("value.born:time_series:week", query="@path.key:p1")
        self.assertEqual([b["bucket"] for b in a["buckets"]], ["2014-W09"])

    def test_several_and_over_all_matches(self):
        aggs = self.aggs("value.age:stats,value.city:top_values", limit=1)
        self.assertEqual([a["aggregate_kind"] for a in aggs], ["stats", "top_values"])
        # Aggregates count every match, not the page.
        self.assertEqual(aggs[0]["value_count"], 4)

    def test_distance(self):
        near = "value.loc:NEAR:{lat:%s lon:%s dist:1000km}" % PARIS
        (a,) = self.aggs("value.loc:distance:*~100:100~*", query=near)
        self.assertEqual(a["aggregate_kind"], "distance")
        self.assertEqual([b["count"] for b in a["buckets"]], [2, 2])


class GeoTest(SearchBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name, (lat, lon) in PLACES.items():
            st, _, body, _ = cls.server.request("PUT", "/v0/geo/" + name, key=cls.key,
                                                body={"loc": {"lat": lat, "lon": lon}})
            assert st == 201, body

    def test_near_with_distance(self):
        near = "value.loc:NEAR:{lat:%s lon:%s dist:50km}" % PARIS
        _, doc = self.search("/v0/geo", query=near, sort="value.loc:distance:asc")
        self.assertEqual(self.keys(doc), ["paris", "versailles"])
        for r in doc["results"]:
            want = great_circle_km(PARIS, PLACES[r["path"]["key"]])
            self.assertAlmostEqual(r["distance"], want, delta=0.01 * want + 0.01)
        near = "value.loc:NEAR:{latitude:%s longitude:%s radius:500km}" % PARIS
        _, doc = self.search("/v0/geo", query=near, sort="value.loc:distance:desc")
        self.assertEqual(self.keys(doc), ["lyon", "london", "versailles", "paris"])
        # The distance is in the unit of the query.
        near = "value.loc:NEAR:{lat:%s lon:%s dist:50mi}" % PARIS
        _, doc = self.search("/v0/geo", query=near, sort="value.loc:distance:asc")
        want = great_circle_km(PARIS, PLACES["versailles"]) / 1.609344
        self.assertAlmostEqual(doc["results"][1]["distance"], want, delta=0.01 * want)

    def test_in_box(self):
        _, doc = self.search("/v0/geo", query="value.loc:IN:{north:49 south:48 east:3 west:2}",
                             sort="@path.key")
        self.assertEqual(self.keys(doc), ["paris", "versailles"])
        for r in doc["results"]:
            self.assertNotIn("distance", r)


class TenantsTest(SearchBase):
    tenant = "search-a"

    def test_results_are_the_tenants(self):
        key_b = self.server.new_key("search-b")
        self.put("/v0/tn/only-a", {"t": "tenantword"})
        self.put("/v0/tn/only-b", {"t": "otherword"}, key=key_b)
        _, doc = self.search("/v0/tn", query="tenantword", key=key_b)
        self.assertEqual(doc["total_count"], 0)
        _, doc = self.search("/v0", query="*", key=key_b, limit=100)
        self.assertEqual(self.keys(doc), ["only-b"])
        _, doc = self.search("/v0", query="tenantword OR otherword", limit=100)
        self.assertEqual(self.keys(doc), ["only-a"])

    def test_scores_never_depend_on_another_tenant(self):
        key_b = self.server.new_key("search-c")
        doc_a = {"text": "scoreword alpha beta gamma"}
        self.put("/v0/sc/same", doc_a)
        self.put("/v0/sc/filler", {"text": "alpha beta"})
        before = self.search("/v0/sc", query="scoreword")[1]["results"][0]["score"]
        self.put("/v0/sc/same", doc_a, key=key_b)
        for i in range(60):
            self.put("/v0/sc/b%d" % i, {"text": "scoreword scoreword %d" % i}, key=key_b)
        after = self.search("/v0/sc", query="scoreword")[1]["results"][0]["score"]
        self.assertEqual(after, before)
        _, doc_b = self.search("/v0/sc", query="scoreword", key=key_b, limit=0)
        self.assertEqual(doc_b["total_count"], 61)

    def test_revoked_key_cannot_search(self):
        key = self.server.new_key("search-d")
        self.put("/v0/rv/k", {"t": "revokeword"}, key=key)
        self.assertEqual(self.search("/v0/rv", query="revokeword", key=key)[1]["count"], 1)
        self.server.orchidctl("key", "revoke", key)
        st, _, body, doc = self.server.request("GET", "/v0/rv" + q(query="revokeword"), key=key)
        self.assertEqual((st, doc["code"]), (401, "security_unauthorized"), body)


class RemovalTest(SearchBase):
    def test_purge_removes_the_item_and_its_events(self):
        self.put("/v0/pu/k", {"t": "purgeword"})
        st, _, body, _ = self.req("POST", "/v0/pu/k/events/e", body={"t": "purgeword"})
        self.assertEqual(st, 201, body)
        _, doc = self.search("/v0/pu", query="@path.kind:(item event) AND purgeword")
        self.assertEqual(doc["total_count"], 2)
        st, _, body, _ = self.req("DELETE", "/v0/pu/k?purge=true")
        self.assertEqual(st, 204, body)
        _, doc = self.search("/v0/pu", query="@path.kind:(item event) AND purgeword")
        self.assertEqual(doc["total_count"], 0)
        _, doc = self.search("/v0", query="@path.kind:* AND purgeword")
        self.assertEqual(doc["total_count"], 0)

    def test_collection_delete_removes(self):
        for i in range(5):
            self.put("/v0/gone/k%d" % i, {"t": "goneword"})
        self.put("/v0/stays/k", {"t": "goneword"})
        self.assertEqual(self.search("/v0", query="goneword")[1]["total_count"], 6)
        st, _, body, _ = self.req("DELETE", "/v0/gone?force=true")
        self.assertEqual(st, 204, body)
        self.assertEqual(self.search("/v0/gone", query="goneword")[1]["total_count"], 0)
        _, doc = self.search("/v0", query="goneword")
        self.assertEqual([(r["path"]["collection"], r["path"]["key"]) for r in doc["results"]],
                         [("stays", "k")])
        # A new collection of the same name starts empty.
        self.put("/v0/gone/new", {"t": "goneword"})
        self.assertEqual(self.keys(self.search("/v0/gone", query="goneword")[1]), ["new"])

    def test_relation_delete_removes(self):
        self.put("/v0/rd/a", {})
        self.put("/v0/rd/b", {})
        st, _, body, _ = self.req("PUT", "/v0/rd/a/relation/knows/rd/b",
                                  body={"t": "relword"})
        self.assertEqual(st, 201, body)
        query = "@path.kind:relationship AND relword"
        self.assertEqual(self.search("/v0/rd", query=query)[1]["total_count"], 1)
        st, _, body, _ = self.req("DELETE", "/v0/rd/a/relation/knows/rd/b")
        self.assertEqual(st, 204, body)
        self.assertEqual(self.search("/v0/rd", query=query)[1]["total_count"], 0)


class RefusedTest(SearchBase):
    server_options = {"extra": {"search_max_expansion": 5}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for i in range(10):
            st, _, body, _ = cls.server.request("PUT", "/v0/rf/k%d" % i, key=cls.key,
                                                body={"w": "wexp%d" % i})
            assert st == 201, body

    MALFORMED = ("a AND", "AND a", "a^", "a~1.5", "name:", "value.loc:NEAR:{lat:1}",
                 "value.loc:IN:{north:1}", "i:[1 TO ]", "(a", '"open', "a)")

    def test_malformed_queries_say_where(self):
        for text in self.MALFORMED:
            with self.subTest(query=text):
                resp = self.req("GET", "/v0/rf" + q(query=text))
                self.assertError(resp, 400, "search_query_malformed")
                self.assertRegex(resp[3]["details"]["query"], r"character \d+")

    def test_expansion_past_the_cap(self):
        resp = self.req("GET", "/v0/rf" + q(query="wexp*"))
        self.assertError(resp, 400, "search_query_malformed")
        self.assertIn("5", resp[3]["details"]["query"])
        _, doc = self.search("/v0/rf", query="wexp1*")
        self.assertEqual(self.keys(doc), ["k1"])

    def test_refused_searches_change_nothing(self):
        before = self.search("/v0/rf", query="*", sort="@path.key", limit=100)[1]
        for text in self.MALFORMED + ("wexp*",):
            self.assertEqual(self.req("GET", "/v0/rf" + q(query=text))[0], 400, text)
        for params in (dict(limit="101"), dict(sort="x:up"), dict(aggregate="x:nope"),
                       dict(sort="value.loc:distance:asc")):
            self.assertEqual(self.req("GET", "/v0/rf" + q(query="*", **params))[0], 400)
        after = self.search("/v0/rf", query="*", sort="@path.key", limit=100)[1]
        self.assertEqual(after, before)
        self.assertEqual(self.req("HEAD", "/v0")[0], 200)


if __name__ == "__main__":
    import unittest
    unittest.main()
