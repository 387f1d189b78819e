"""Events, line by line of docs/api.md "Events" (and the event rows of its
error table): create (POST, legacy PUT), timestamps in every format and their
range, ordinals, one event (GET, PUT, PATCH, DELETE, If-Match), lists (bounds,
limit, next/Link, paging through a growing stream), purge of the item, tenant
isolation. Every response is checked for Content-Type and the request id.

Expected milliseconds are computed here with datetime / email.utils / time,
never taken from the server.
"""

import calendar
import email.utils
import functools
import json
import re
import time
import unittest
import urllib.parse
from datetime import datetime, timedelta, timezone

from harness import UUID_RE, ServerTestCase, run_threads

ETAG_RE = re.compile(r'^"([0-9a-f]{16})"$')
LOC_RE = re.compile(r"^/v0/([^/]+)/([^/]+)/events/([^/]+)/(\d+)/(\d+)$")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ORCHID_EPOCH_MS = 1388534400000  # 2014-01-01T00:00:00Z
MAX_MS = 253402300799999         # 9999-12-31T23:59:59.999Z


def ms_of(dt):
    """Milliseconds since the epoch of an aware datetime, exactly."""
    return (dt - EPOCH) // timedelta(milliseconds=1)


def utc(*args, ms=0, offset_min=0):
    """ms of a wall-clock time written with a zone offset east of UTC."""
    tz = timezone(timedelta(minutes=offset_min))
    return ms_of(datetime(*args, microsecond=ms * 1000, tzinfo=tz))


def q(value):
    """A query-string value, percent-encoded ('+' would be a space)."""
    return urllib.parse.quote(str(value), safe="/")


def seg(value):
    """A path segment, percent-encoded."""
    return urllib.parse.quote(str(value), safe="")


class EventsTestBase(ServerTestCase):
    tenant = "events"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key(cls.tenant)
        cls.counter = 0

    @classmethod
    def fresh(cls, prefix="k"):
        """A key never used before in this class."""
        cls.counter += 1
        return "%s%d" % (prefix, cls.counter)

    # ---- requests: every response has the JSON content type and an id ----
    def req(self, method, path, key=None, **kw):
        resp = self.server.request(method, path, key=key or self.key, **kw)
        st, h, body, doc = resp
        self.assertEqual(h.get("content-type", "").split(";")[0].strip(), "application/json",
                         "%s %s -> %s" % (method, path, st))
        self.assertRegex(h.get("x-orchestrate-req-id", ""), UUID_RE)
        return resp

    def err(self, resp, status, code, param=None):
        self.assertJsonError(resp, status, code)
        if param is not None:
            details = resp[3].get("details")
            self.assertIsInstance(details, dict, resp[2])
            self.assertEqual(details.get("param"), param, resp[2])

    def post(self, c, k, typ, value, ts=None, key=None, raw_ts=False):
        path = "/v0/%s/%s/events/%s" % (c, k, typ)
        if ts is not None:
            path += "/" + (str(ts) if raw_ts else seg(ts))
        st, h, body, doc = self.req("POST", path, key=key, body=value)
        self.assertEqual(st, 201, body)
        self.assertEqual(body, b"")
        return self.check_written(h, c, k, typ)

    def check_written(self, h, c, k, typ):
        m = ETAG_RE.match(h.get("etag", ""))
        self.assertIsNotNone(m, h)
        loc = h.get("location", "")
        lm = LOC_RE.match(loc)
        self.assertIsNotNone(lm, loc)
        self.assertEqual(lm.group(1, 2, 3), (c, k, typ))
        return {"ts": int(lm.group(4)), "ord": int(lm.group(5)), "ref": m.group(1),
                "loc": loc}

    def url(self, c, k, typ, ev=None):
        path = "/v0/%s/%s/events/%s" % (c, k, typ)
        if ev is not None:
            path += "/%d/%d" % (ev["ts"], ev["ord"])
        return path

    def get_event(self, c, k, typ, ev, key=None):
        st, h, body, doc = self.req("GET", self.url(c, k, typ, ev), key=key)
        self.assertEqual(st, 200, body)
        return h, doc

    def list(self, c, k, typ, query="", key=None, status=200):
        path = self.url(c, k, typ) + (("?" + query) if query else "")
        st, h, body, doc = self.req("GET", path, key=key)
        self.assertEqual(st, status, body)
        return h, doc

    def list_positions(self, c, k, typ, query="", key=None):
        h, doc = self.list(c, k, typ, query, key=key)
        self.assertEqual(doc["count"], len(doc["results"]))
        return [(r["timestamp"], r["ordinal"]) for r in doc["results"]]

    def count(self, c, k, typ, key=None):
        return self.list(c, k, typ, "limit=100", key=key)[1]["count"]


# ---------------------------------------------------------------------------
class CreateTest(EventsTestBase):
    tenant = "ev-create"

    def test_post_without_timestamp_uses_now(self):
        k = self.fresh()
        before = int(time.time() * 1000)
        ev = self.post("c", k, "log", {"a": 1})
        after = int(time.time() * 1000)
        self.assertGreaterEqual(ev["ts"], before - 1000)
        self.assertLessEqual(ev["ts"], after + 1000)
        h, doc = self.get_event("c", k, "log", ev)
        self.assertEqual(doc["value"], {"a": 1})
        self.assertEqual(h["etag"], '"%s"' % ev["ref"])

    def test_post_with_timestamp(self):
        k = self.fresh()
        ev = self.post("c", k, "log", {"a": 2}, ts=1398365053123)
        self.assertEqual(ev["ts"], 1398365053123)
        self.assertTrue(ev["loc"].startswith("/v0/c/%s/events/log/1398365053123/" % k))
        h, doc = self.get_event("c", k, "log", ev)
        self.assertEqual(doc["value"], {"a": 2})
        self.assertEqual(doc["timestamp"], 1398365053123)

    def test_ordinal_is_decimal_from_write_time(self):
        k = self.fresh()
        before = int(time.time() * 1000)
        ev = self.post("c", k, "log", {}, ts=5)
        after = int(time.time() * 1000)
        # decimal in Location (the regex), the write time in its high bits
        t = (ev["ord"] >> 24) + ORCHID_EPOCH_MS
        self.assertGreaterEqual(t, before - 1000)
        self.assertLessEqual(t, after + 1000)
        self.assertGreaterEqual(len(str(ev["ord"])), 17)

    def test_legacy_put_without_timestamp(self):
        k = self.fresh()
        before = int(time.time() * 1000)
        st, h, body, _ = self.req("PUT", "/v0/c/%s/events/log" % k, body={"legacy": True})
        after = int(time.time() * 1000)
        self.assertEqual(st, 204, body)
        self.assertEqual(body, b"")
        ev = self.check_written(h, "c", k, "log")
        self.assertGreaterEqual(ev["ts"], before - 1000)
        self.assertLessEqual(ev["ts"], after + 1000)
        self.assertEqual(self.get_event("c", k, "log", ev)[1]["value"], {"legacy": True})

    def test_legacy_put_with_timestamp_query(self):
        k = self.fresh()
        st, h, body, _ = self.req("PUT", "/v0/c/%s/events/log?timestamp=1400000000000" % k,
                                  body={"legacy": 2})
        self.assertEqual(st, 204, body)
        ev = self.check_written(h, "c", k, "log")
        self.assertEqual(ev["ts"], 1400000000000)
        # ISO 8601 with an offset in the query: '+' must be sent as %2B
        st, h, body, _ = self.req(
            "PUT", "/v0/c/%s/events/log?timestamp=%s" % (k, q("2014-05-13T18:53:20+02:00")),
            body={"legacy": 3})
        self.assertEqual(st, 204, body)
        ev2 = self.check_written(h, "c", k, "log")
        # 1400000000000 is 2014-05-13T16:53:20Z
        self.assertEqual(ev2["ts"], 1400000000000)
        self.assertEqual(ev2["ts"], ms_of(datetime.fromisoformat("2014-05-13T18:53:20+02:00")))
        self.assertEqual(self.count("c", k, "log"), 2)

    def test_events_on_a_key_without_item(self):
        k = self.fresh()
        st, _, body, _ = self.req("GET", "/v0/c/%s" % k)
        self.assertEqual(st, 404, body)
        ev = self.post("c", k, "log", {"orphan": True}, ts=42)
        self.assertEqual(self.get_event("c", k, "log", ev)[1]["value"], {"orphan": True})
        # the item still does not exist
        self.err(self.req("GET", "/v0/c/%s" % k), 404, "items_not_found")

    def test_post_body_must_be_a_json_object(self):
        k = self.fresh()
        for raw in ("[1,2]", "3", "not json", ""):
            with self.subTest(body=raw):
                self.err(self.req("POST", "/v0/c/%s/events/log/7" % k, raw_body=raw),
                         400, "api_bad_request")
        self.assertEqual(self.count("c", k, "log"), 0)

    # ---- timestamps in every format --------------------------------------
    GOOD = [
        ("1398365053123", 1398365053123),
        ("0", 0),
        ("1", 1),
        ("253402300799999", MAX_MS),
        ("2014-04-24", utc(2014, 4, 24)),
        ("2014-04-24T18:44:13Z", utc(2014, 4, 24, 18, 44, 13)),
        ("2014-04-24T18:44:13.123Z", utc(2014, 4, 24, 18, 44, 13, ms=123)),
        ("2014-04-24T20:44:13+02:00", utc(2014, 4, 24, 20, 44, 13, offset_min=120)),
        ("2014-04-24T20:44:13.123+02:00",
         utc(2014, 4, 24, 20, 44, 13, ms=123, offset_min=120)),
        ("2014-04-24T20:44:13+0200", utc(2014, 4, 24, 20, 44, 13, offset_min=120)),
        ("2014-04-24T20:44:13+02", utc(2014, 4, 24, 20, 44, 13, offset_min=120)),
        ("1994-11-06T01:49:37-07:00", utc(1994, 11, 6, 1, 49, 37, offset_min=-420)),
        ("1970-01-01T00:00:00.000Z", 0),
        ("1970-01-01T01:00:00+01:00", 0),
        # the range is checked after applying the offset
        ("1969-12-31T23:30:00-01:00", 30 * 60 * 1000),
        # day names are checked for spelling, not against the date
        ("Mon, 24 Apr 2014 18:44:13 GMT", utc(2014, 4, 24, 18, 44, 13)),
        ("Monday, 24-Apr-14 18:44:13 GMT", utc(2014, 4, 24, 18, 44, 13)),
        ("Mon Apr 24 18:44:13 2014", utc(2014, 4, 24, 18, 44, 13)),
        ("9999-12-31T23:59:59.999Z", MAX_MS),
        ("Thu, 24 Apr 2014 18:44:13 GMT", utc(2014, 4, 24, 18, 44, 13)),
        ("Sun, 06 Nov 1994 08:49:37 GMT", utc(1994, 11, 6, 8, 49, 37)),
        ("Thursday, 24-Apr-14 18:44:13 GMT", utc(2014, 4, 24, 18, 44, 13)),
        ("Sunday, 06-Nov-94 08:49:37 GMT", utc(2094, 11, 6, 8, 49, 37)),  # 20xx
        ("Thu Apr 24 18:44:13 2014", utc(2014, 4, 24, 18, 44, 13)),
        ("Sun Nov  6 08:49:37 1994", utc(1994, 11, 6, 8, 49, 37)),
    ]

    def test_independent_expectations(self):
        """The table's expected values agree with the standard library."""
        iso = datetime.fromisoformat
        self.assertEqual(utc(2014, 4, 24, 20, 44, 13, ms=123, offset_min=120),
                         ms_of(iso("2014-04-24T20:44:13.123+02:00")))
        self.assertEqual(utc(2014, 4, 24, 18, 44, 13),
                         ms_of(email.utils.parsedate_to_datetime("Thu, 24 Apr 2014 18:44:13 GMT")))
        self.assertEqual(utc(2014, 4, 24, 18, 44, 13), 1000 * calendar.timegm(
            email.utils.parsedate("Thursday, 24-Apr-14 18:44:13 GMT")))
        self.assertEqual(utc(1994, 11, 6, 8, 49, 37), 1000 * calendar.timegm(
            time.strptime("Sun Nov  6 08:49:37 1994", "%a %b %d %H:%M:%S %Y")))
        self.assertEqual(MAX_MS, ms_of(iso("9999-12-31T23:59:59.999+00:00")))

    def test_timestamp_formats_in_path(self):
        for text, expected in self.GOOD:
            with self.subTest(ts=text):
                k = self.fresh()
                ev = self.post("c", k, "fmt", {"ts": text}, ts=text)
                self.assertEqual(ev["ts"], expected)
                h, doc = self.get_event("c", k, "fmt", ev)
                self.assertEqual(doc["timestamp"], expected)
                self.assertEqual(doc["path"]["timestamp"], expected)
                # the same text finds it again, as a path segment and as bounds
                st, _, body, doc = self.req(
                    "GET", "/v0/c/%s/events/fmt/%s/%d" % (k, seg(text), ev["ord"]))
                self.assertEqual(st, 200, body)
                self.assertEqual(doc["value"], {"ts": text})
                got = self.list_positions("c", k, "fmt", "startEvent=%s&endEvent=%s"
                                          % (q(text), q(text)))
                self.assertEqual(got, [(expected, ev["ord"])])

    def test_offsets_with_raw_plus_in_path(self):
        # in a path a '+' is a plus, not a space
        k = self.fresh()
        ev = self.post("c", k, "fmt", {}, ts="2014-04-24T20:44:13.123+02:00", raw_ts=True)
        self.assertEqual(ev["ts"], utc(2014, 4, 24, 18, 44, 13, ms=123))

    def test_timestamp_formats_in_put_query(self):
        for text, expected in self.GOOD:
            with self.subTest(ts=text):
                k = self.fresh()
                st, h, body, _ = self.req("PUT", "/v0/c/%s/events/fmt?timestamp=%s"
                                          % (k, q(text)), body={})
                self.assertEqual(st, 204, body)
                self.assertEqual(self.check_written(h, "c", k, "fmt")["ts"], expected)

    BAD = [
        "junk", "abc123", "12a", "1398365053000x", "-1", "+5", "1.5", " 1",
        "1969-12-31T23:59:59.999Z", "1969-12-31", "1970-01-01T00:30:00+01:00",
        "253402300800000", "99999999999999999999999", "10000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999-00:01",
        "2014-04-24T18:44:13Zjunk", "2014-04-24T18:44:13Z ",
        "Thu, 24 Apr 2014 18:44:13 GMT junk", "Thu Apr 24 18:44:13 2014x",
        "2014-06-30T23:59:60Z", "2014-02-30T00:00:00Z", "2014-13-01", "2014-04-24T25:00:00Z",
        "Thx, 24 Apr 2014 18:44:13 GMT", "Thu, 24 Foo 2014 18:44:13 GMT",
        "Sunday, 06-Nov-1969 08:49:37 GMT", "Wed Dec 31 23:59:59 1969",
    ]

    def test_bad_timestamps_in_path(self):
        k = self.fresh()
        for text in self.BAD:
            with self.subTest(ts=text):
                self.err(self.req("POST", "/v0/c/%s/events/bad/%s" % (k, seg(text)), body={}),
                         400, "event_param_invalid", "timestamp")
        self.assertEqual(self.count("c", k, "bad"), 0)

    def test_bad_timestamps_in_put_query(self):
        k = self.fresh()
        for text in self.BAD:
            with self.subTest(ts=text):
                self.err(self.req("PUT", "/v0/c/%s/events/bad?timestamp=%s" % (k, q(text)),
                                  body={}),
                         400, "event_param_invalid", "timestamp")
        self.assertEqual(self.count("c", k, "bad"), 0)

    def test_bad_timestamps_in_bounds_and_single_paths(self):
        k = self.fresh()
        self.post("c", k, "bad", {}, ts=10)
        for text in self.BAD:
            for name in ("startEvent", "afterEvent", "beforeEvent", "endEvent",
                         "start", "end"):
                with self.subTest(ts=text, param=name):
                    self.err(self.req("GET", "/v0/c/%s/events/bad?%s=%s" % (k, name, q(text))),
                             400, "event_param_invalid", name)
            with self.subTest(ts=text, where="single"):
                self.err(self.req("GET", "/v0/c/%s/events/bad/%s/1" % (k, seg(text))),
                         400, "event_param_invalid", "timestamp")
                self.err(self.req("GET", "/v0/c/%s/events/bad/%s" % (k, seg(text))),
                         400, "event_param_invalid", "timestamp")

    def test_bad_ordinals(self):
        k = self.fresh()
        ev = self.post("c", k, "bad", {}, ts=10)
        for o in ("abc", "-1", "1.5", "18446744073709551616", "0x10", "12a"):
            with self.subTest(ordinal=o):
                self.err(self.req("GET", "/v0/c/%s/events/bad/10/%s" % (k, seg(o))),
                         400, "event_param_invalid", "ordinal")
                self.err(self.req("GET", "/v0/c/%s/events/bad?startEvent=10/%s" % (k, q(o))),
                         400, "event_param_invalid", "startEvent")
        for b in ("10/", "/5", "10/5/6", "10//5"):
            with self.subTest(bound=b):
                self.err(self.req("GET", "/v0/c/%s/events/bad?endEvent=%s" % (k, q(b))),
                         400, "event_param_invalid", "endEvent")
        self.assertEqual(self.count("c", k, "bad"), 1)
        self.assertEqual(self.get_event("c", k, "bad", ev)[1]["ordinal"], ev["ord"])

    def test_names_are_encoded_in_location(self):
        k, typ = "a b%s" % self.fresh(), "ty/pe \u00e9"
        path = "/v0/c/%s/events/%s" % (seg(k), seg(typ))
        st, h, body, _ = self.req("POST", path + "/77", body={"x": 1})
        self.assertEqual(st, 201, body)
        loc = h["location"]
        m = re.match(r"^/v0/c/([^/]+)/events/([^/]+)/77/(\d+)$", loc)
        self.assertIsNotNone(m, loc)
        self.assertEqual(urllib.parse.unquote(m.group(1)), k)
        self.assertEqual(urllib.parse.unquote(m.group(2)), typ)
        st, _, body, doc = self.req("GET", loc)
        self.assertEqual(st, 200, body)
        self.assertEqual((doc["path"]["key"], doc["path"]["type"]), (k, typ))
        st, h, body, _ = self.req("POST", path + "/78", body={"x": 2})
        self.assertEqual(st, 201, body)
        st, h, body, doc = self.req("GET", path + "?limit=1")
        self.assertEqual(st, 200, body)
        st, h, body, doc = self.req("GET", doc["next"])
        self.assertEqual(st, 200, body)
        self.assertEqual([r["value"] for r in doc["results"]], [{"x": 1}])

    def test_nothing_stored_after_a_400(self):
        k = self.fresh()
        self.err(self.req("POST", "/v0/c/%s/events/x/junk" % k, body={"a": 1}),
                 400, "event_param_invalid", "timestamp")
        self.err(self.req("POST", "/v0/c/%s/events/x/1" % k, raw_body="[1]"),
                 400, "api_bad_request")
        self.err(self.req("PUT", "/v0/c/%s/events/x?timestamp=-5" % k, body={"a": 1}),
                 400, "event_param_invalid", "timestamp")
        self.assertEqual(self.list("c", k, "x")[1], {"count": 0, "results": []})
        ev = self.post("c", k, "x", {"ok": 1}, ts=3)
        self.assertEqual(self.list_positions("c", k, "x"), [(3, ev["ord"])])


# ---------------------------------------------------------------------------
class OrdinalTest(EventsTestBase):
    tenant = "ev-ordinal"

    def test_strictly_increasing_across_types(self):
        k = self.fresh()
        ords = []
        for i, typ in enumerate(["a", "b", "a", "c", "b", "a", "c", "c"]):
            # timestamps going backwards must not matter: ordinals are write order
            ords.append(self.post("c", k, typ, {"i": i}, ts=1000 - i)["ord"])
        for a, b in zip(ords, ords[1:]):
            self.assertLess(a, b)

    def test_fifty_in_one_millisecond(self):
        k = self.fresh()
        ts = 1398365053000
        evs = [self.post("c", k, "burst", {"i": i}, ts=ts) for i in range(50)]
        ords = [e["ord"] for e in evs]
        self.assertEqual(len(set(ords)), 50)
        self.assertEqual(ords, sorted(ords))
        h, doc = self.list("c", k, "burst", "limit=100")
        self.assertEqual(doc["count"], 50)
        self.assertNotIn("next", doc)
        self.assertEqual([r["value"]["i"] for r in doc["results"]], list(range(49, -1, -1)))
        self.assertEqual([r["ordinal"] for r in doc["results"]], ords[::-1])
        for r in doc["results"]:
            self.assertEqual(r["timestamp"], ts)
            self.assertEqual(r["path"]["ordinal_str"], "%016x" % r["ordinal"])
        # the exact millisecond lists them all too
        h, doc = self.list("c", k, "burst/%d" % ts, "limit=100")
        self.assertEqual([r["ordinal"] for r in doc["results"]], ords[::-1])
        for i, e in enumerate(evs):
            for o in (str(e["ord"]), "%016x" % e["ord"]):
                st, h, body, doc = self.req("GET", "/v0/c/%s/events/burst/%d/%s" % (k, ts, o))
                self.assertEqual(st, 200, body)
                self.assertEqual(doc["value"], {"i": i})
                self.assertEqual(doc["ordinal"], e["ord"])
                self.assertEqual(h["etag"], '"%s"' % e["ref"])

    def test_concurrent_posts_all_kept(self):
        k = self.fresh()
        ts = 77
        results = []

        def worker(n):
            for i in range(10):
                st, h, body, _ = self.server.request(
                    "POST", "/v0/c/%s/events/conc/%d" % (k, ts), key=self.key,
                    body={"t": n, "i": i})
                self.assertEqual(st, 201, body)
                results.append(int(LOC_RE.match(h["location"]).group(5)))

        run_threads([functools.partial(worker, n) for n in range(4)])
        self.assertEqual(len(set(results)), 40)
        h, doc = self.list("c", k, "conc", "limit=100")
        self.assertEqual(doc["count"], 40)
        self.assertEqual([r["ordinal"] for r in doc["results"]], sorted(results, reverse=True))
        # per thread, the insertion order is kept
        for n in range(4):
            mine = [r["value"]["i"] for r in doc["results"] if r["value"]["t"] == n]
            self.assertEqual(mine, list(range(9, -1, -1)))

    def test_hex_segment_of_16_digits_is_ordinal_str(self):
        k = self.fresh()
        ev = self.post("c", k, "hex", {"v": 1}, ts=9)
        hexo = "%016x" % ev["ord"]
        self.assertEqual(len(hexo), 16)
        st, _, body, doc = self.req("GET", "/v0/c/%s/events/hex/9/%s" % (k, hexo))
        self.assertEqual(st, 200, body)
        self.assertEqual(doc["path"]["ordinal_str"], hexo)
        self.assertEqual(doc["ordinal"], ev["ord"])
        # the hex form also works for PUT, PATCH, DELETE and bounds
        st, h, body, _ = self.req("PUT", "/v0/c/%s/events/hex/9/%s" % (k, hexo), body={"v": 2})
        self.assertEqual(st, 204, body)
        self.assertEqual(h["location"], ev["loc"])
        self.assertEqual(self.list_positions("c", k, "hex", "startEvent=9/%s" % hexo),
                         [(9, ev["ord"])])
        self.assertEqual(self.list_positions("c", k, "hex", "afterEvent=9/%s" % hexo), [])
        st, _, body, _ = self.req("DELETE", "/v0/c/%s/events/hex/9/%s?purge=true" % (k, hexo))
        self.assertEqual(st, 204, body)
        self.err(self.req("GET", ev["loc"]), 404, "items_not_found")


# ---------------------------------------------------------------------------
class OneEventTest(EventsTestBase):
    tenant = "ev-one"

    def make(self, value=None, ts=1400000000000, typ="log"):
        k = self.fresh()
        ev = self.post("c", k, typ, value if value is not None else {"herp": "derp", "n": 1},
                       ts=ts)
        ev["k"] = k
        ev["typ"] = typ
        ev["path"] = self.url("c", k, typ, ev)
        return ev

    def test_get_wrapper_shape(self):
        before = int(time.time() * 1000)
        ev = self.make()
        after = int(time.time() * 1000)
        st, h, body, doc = self.req("GET", ev["path"])
        self.assertEqual(st, 200, body)
        self.assertEqual(h["etag"], '"%s"' % ev["ref"])
        self.assertEqual(set(doc), {"path", "value", "timestamp", "ordinal", "reftime"})
        p = doc["path"]
        self.assertEqual(set(p), {"collection", "kind", "key", "type", "timestamp", "ordinal",
                                  "ordinal_str", "ref", "reftime"})
        self.assertEqual(p["collection"], "c")
        self.assertEqual(p["kind"], "event")
        self.assertEqual(p["key"], ev["k"])
        self.assertEqual(p["type"], "log")
        self.assertEqual(p["timestamp"], 1400000000000)
        self.assertEqual(p["ordinal"], ev["ord"])
        self.assertIsInstance(p["ordinal"], int)
        self.assertEqual(p["ordinal_str"], "%016x" % ev["ord"])
        self.assertEqual(p["ref"], ev["ref"])
        self.assertGreaterEqual(p["reftime"], before - 1000)
        self.assertLessEqual(p["reftime"], after + 1000)
        self.assertEqual(doc["value"], {"herp": "derp", "n": 1})
        self.assertEqual(doc["timestamp"], 1400000000000)
        self.assertEqual(doc["ordinal"], ev["ord"])
        self.assertEqual(doc["reftime"], p["reftime"])

    def test_get_missing(self):
        ev = self.make()
        self.err(self.req("GET", "/v0/c/%s/events/log/1400000000000/%d" % (ev["k"], ev["ord"] + 1)),
                 404, "items_not_found")
        self.err(self.req("GET", "/v0/c/%s/events/log/1400000000001/%d" % (ev["k"], ev["ord"])),
                 404, "items_not_found")
        self.err(self.req("GET", "/v0/c/%s/events/other/1400000000000/%d" % (ev["k"], ev["ord"])),
                 404, "items_not_found")
        self.err(self.req("GET", "/v0/c/nokey/events/log/1400000000000/%d" % ev["ord"]),
                 404, "items_not_found")

    def test_put_replaces(self):
        ev = self.make()
        st, h, body, _ = self.req("PUT", ev["path"], body={"replaced": True})
        self.assertEqual(st, 204, body)
        self.assertEqual(body, b"")
        m = ETAG_RE.match(h.get("etag", ""))
        self.assertIsNotNone(m)
        self.assertNotEqual(m.group(1), ev["ref"])
        self.assertEqual(h["location"], ev["loc"])
        h2, doc = self.get_event("c", ev["k"], "log", ev)
        self.assertEqual(doc["value"], {"replaced": True})
        self.assertEqual(h2["etag"], h["etag"])
        self.assertEqual(doc["path"]["ref"], m.group(1))
        self.assertEqual((doc["timestamp"], doc["ordinal"]), (ev["ts"], ev["ord"]))
        self.assertEqual(self.count("c", ev["k"], "log"), 1)

    def test_put_body_must_be_an_object(self):
        ev = self.make()
        self.err(self.req("PUT", ev["path"], raw_body="[1]"), 400, "api_bad_request")
        self.assertEqual(self.get_event("c", ev["k"], "log", ev)[0]["etag"], '"%s"' % ev["ref"])

    def patch(self, ev, body, ctype, headers=None):
        hdrs = {"Content-Type": ctype}
        hdrs.update(headers or {})
        return self.req("PATCH", ev["path"], raw_body=json.dumps(body), headers=hdrs)

    def check_patched(self, ev, resp, expected):
        st, h, body, _ = resp
        self.assertEqual(st, 204, body)
        self.assertEqual(body, b"")
        m = ETAG_RE.match(h.get("etag", ""))
        self.assertIsNotNone(m, h)
        self.assertEqual(h["location"], ev["loc"])
        h2, doc = self.get_event("c", ev["k"], "log", ev)
        self.assertEqual(doc["value"], expected)
        self.assertEqual(h2["etag"], h["etag"])
        return m.group(1)

    def test_patch_json_patch(self):
        ev = self.make()
        ops = [{"op": "add", "path": "/tags", "value": ["funny"]},
               {"op": "replace", "path": "/herp", "value": "flerp"},
               {"op": "inc", "path": "n", "value": 2},
               {"op": "remove", "path": "/n"},
               {"op": "add", "path": "/n", "value": 10}]
        ref = self.check_patched(ev, self.patch(ev, ops, "application/json-patch+json"),
                                 {"herp": "flerp", "tags": ["funny"], "n": 10})
        self.assertNotEqual(ref, ev["ref"])

    def test_patch_merge(self):
        ev = self.make({"a": 1, "b": {"c": 1, "d": 2}, "gone": True})
        self.check_patched(ev, self.patch(ev, {"gone": None, "b": {"d": None, "e": 3}, "f": 4},
                                          "application/merge-patch+json"),
                           {"a": 1, "b": {"c": 1, "e": 3}, "f": 4})

    def test_patch_application_json_by_shape(self):
        ev = self.make({"a": 1})
        self.check_patched(ev, self.patch(ev, [{"op": "add", "path": "b", "value": 2}],
                                          "application/json"), {"a": 1, "b": 2})
        self.check_patched(ev, self.patch(ev, {"a": None, "c": 3}, "application/json"),
                           {"b": 2, "c": 3})

    def test_patch_limits(self):
        # Issue 9: a patch is bounded like a PUT (docs/api.md "PATCH limits").
        ev = self.make({"s": "x" * 45000, "l": [], "t": 0, "n": 1})
        ct = "application/json-patch+json"
        copies = [{"op": "copy", "from": "/s", "path": "/l/-"}] * 100
        resp = self.patch(ev, copies, ct)
        self.err(resp, 413, "request_too_large")
        # The work budget: replacing copies, then a failing test, stop early.
        busy = [{"op": "copy", "from": "/s", "path": "/t"}] * 1000 + \
            [{"op": "test", "path": "/n", "value": 2}]
        resp = self.patch(ev, busy, ct)
        self.err(resp, 409, "patch_conflict")
        self.assertIn("work", resp[3]["details"]["info"])
        self.assertLess(resp[3]["details"]["opIndex"], 1000)
        # Nested deeper than max_json_depth (64): a patch conflict.
        deep = 1
        for _ in range(60):
            deep = [deep]
        resp = self.patch(ev, [{"op": "add", "path": ".".join("abcdefgh"),
                                "value": deep}], ct)
        self.err(resp, 409, "patch_conflict")
        self.assertEqual(resp[3]["details"]["opIndex"], 0)
        h, doc = self.get_event("c", ev["k"], "log", ev)
        self.assertEqual(h["etag"], '"%s"' % ev["ref"])
        # 45 copies fit in 2 MiB.
        self.assertEqual(self.patch(ev, copies[:45], ct)[0], 204)

    def test_patch_failing_op_is_409_and_changes_nothing(self):
        ev = self.make({"a": 1})
        resp = self.patch(ev, [{"op": "add", "path": "/x", "value": 1},
                               {"op": "remove", "path": "/missing"}],
                          "application/json-patch+json")
        self.err(resp, 409, "patch_conflict")
        self.assertEqual(resp[3]["details"]["opIndex"], 1)
        resp = self.patch(ev, [{"op": "test", "path": "/a", "value": 2}],
                          "application/json-patch+json")
        self.err(resp, 409, "patch_conflict")
        h, doc = self.get_event("c", ev["k"], "log", ev)
        self.assertEqual(doc["value"], {"a": 1})
        self.assertEqual(h["etag"], '"%s"' % ev["ref"])
        self.assertEqual(doc["path"]["ref"], ev["ref"])

    def test_if_match_put(self):
        ev = self.make()
        st, h, body, _ = self.req("PUT", ev["path"], body={"v": 1},
                                  headers={"If-Match": '"%s"' % ev["ref"]})
        self.assertEqual(st, 204, body)
        new = ETAG_RE.match(h["etag"]).group(1)
        # a list with the current ref matches; a weak tag never does; bare is fine
        self.err(self.req("PUT", ev["path"], body={"v": 9},
                          headers={"If-Match": 'W/"%s"' % new}), 412, "item_version_mismatch")
        st, h, body, _ = self.req("PUT", ev["path"], body={"v": 1},
                                  headers={"If-Match": '"%s", "%s"' % (ev["ref"], new)})
        self.assertEqual(st, 204, body)
        st, h, body, _ = self.req("PUT", ev["path"], body={"v": 1}, headers={"If-Match": new})
        self.assertEqual(st, 204, body)
        self.assertEqual(h["etag"], '"%s"' % new)  # same content, same ref
        # the old ref is stale now
        self.err(self.req("PUT", ev["path"], body={"v": 2},
                          headers={"If-Match": '"%s"' % ev["ref"]}),
                 412, "item_version_mismatch")
        self.err(self.req("PUT", ev["path"], body={"v": 3}, headers={"If-Match": '"nothex"'}),
                 400, "item_ref_malformed")
        h, doc = self.get_event("c", ev["k"], "log", ev)
        self.assertEqual(doc["value"], {"v": 1})
        self.assertEqual(h["etag"], '"%s"' % new)

    def test_if_match_patch(self):
        ev = self.make({"a": 1})
        ops = [{"op": "inc", "path": "a"}]
        ct = "application/json-patch+json"
        self.err(self.patch(ev, ops, ct, {"If-Match": '"%s"' % ("0" * 16)}),
                 412, "item_version_mismatch")
        self.err(self.patch(ev, ops, ct, {"If-Match": '"nothex"'}), 400, "item_ref_malformed")
        self.assertEqual(self.get_event("c", ev["k"], "log", ev)[1]["value"], {"a": 1})
        self.check_patched(ev, self.patch(ev, ops, ct, {"If-Match": '"%s"' % ev["ref"]}),
                           {"a": 2})
        self.err(self.patch(ev, ops, ct, {"If-Match": '"%s"' % ev["ref"]}),
                 412, "item_version_mismatch")
        self.assertEqual(self.get_event("c", ev["k"], "log", ev)[1]["value"], {"a": 2})

    def test_if_match_delete(self):
        ev = self.make()
        self.err(self.req("DELETE", ev["path"] + "?purge=true",
                          headers={"If-Match": '"%s"' % ("f" * 16)}),
                 412, "item_version_mismatch")
        self.err(self.req("DELETE", ev["path"] + "?purge=true",
                          headers={"If-Match": '"nothex"'}),
                 400, "item_ref_malformed")
        self.get_event("c", ev["k"], "log", ev)
        st, _, body, _ = self.req("DELETE", ev["path"] + "?purge=true",
                                  headers={"If-Match": '"%s"' % ev["ref"]})
        self.assertEqual(st, 204, body)
        self.err(self.req("GET", ev["path"]), 404, "items_not_found")
        # If-Match on an event that is gone: 412
        self.err(self.req("DELETE", ev["path"] + "?purge=true",
                          headers={"If-Match": '"%s"' % ev["ref"]}),
                 412, "item_version_mismatch")

    def test_put_patch_of_missing_event(self):
        ev = self.make()
        missing = "/v0/c/%s/events/log/%d/%d" % (ev["k"], ev["ts"], ev["ord"] + 1)
        self.err(self.req("PUT", missing, body={"a": 1}), 404, "items_not_found")
        self.err(self.req("PATCH", missing, raw_body='[{"op":"add","path":"a","value":1}]',
                          headers={"Content-Type": "application/json-patch+json"}),
                 404, "items_not_found")
        self.err(self.req("PATCH", missing, raw_body='{"a":1}',
                          headers={"Content-Type": "application/merge-patch+json"}),
                 404, "items_not_found")
        # with If-Match: the event is missing, so it cannot match
        self.err(self.req("PUT", missing, body={"a": 1},
                          headers={"If-Match": '"%s"' % ev["ref"]}),
                 412, "item_version_mismatch")
        self.err(self.req("PATCH", missing, raw_body='{"a":1}',
                          headers={"Content-Type": "application/merge-patch+json",
                                   "If-Match": '"%s"' % ev["ref"]}),
                 412, "item_version_mismatch")
        # nothing was created
        self.assertEqual(self.count("c", ev["k"], "log"), 1)
        self.err(self.req("GET", missing), 404, "items_not_found")

    def test_delete_requires_purge(self):
        ev = self.make()
        self.err(self.req("DELETE", ev["path"]), 400, "event_param_invalid", "purge")
        self.err(self.req("DELETE", ev["path"] + "?purge=false"),
                 400, "event_param_invalid", "purge")
        self.get_event("c", ev["k"], "log", ev)

    def test_delete_with_purge(self):
        ev = self.make()
        other = self.post("c", ev["k"], "log", {"keep": 1}, ts=ev["ts"])
        for _ in range(2):
            st, h, body, _ = self.req("DELETE", ev["path"] + "?purge=true")
            self.assertEqual(st, 204, body)
            self.assertEqual(body, b"")
        self.err(self.req("GET", ev["path"]), 404, "items_not_found")
        self.assertEqual(self.list_positions("c", ev["k"], "log"), [(other["ts"], other["ord"])])
        # an event that never existed: 204 as well
        st, _, body, _ = self.req("DELETE", "/v0/c/never/events/log/1/1?purge=true")
        self.assertEqual(st, 204, body)


# ---------------------------------------------------------------------------
class ListTest(EventsTestBase):
    tenant = "ev-list"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the bounds fixture: timestamps 100, 200 (three), 300, 400
        cls.bk = "bounds"
        cls.ev = []
        for i, ts in enumerate([100, 200, 200, 200, 300, 400]):
            st, h, body, _ = cls.server.request("POST", "/v0/c/%s/events/t/%d" % (cls.bk, ts),
                                                key=cls.key, body={"i": i})
            assert st == 201, body
            m = LOC_RE.match(h["location"])
            cls.ev.append((int(m.group(4)), int(m.group(5))))

    def e(self, *idx):
        return [self.ev[i] for i in idx]

    def test_default_limit_and_limits(self):
        k = self.fresh()
        evs = [self.post("c", k, "t", {"i": i}, ts=1000 + i) for i in range(12)]
        newest_first = [(e["ts"], e["ord"]) for e in reversed(evs)]
        h, doc = self.list("c", k, "t")
        self.assertEqual(doc["count"], 10)
        self.assertEqual([r["value"]["i"] for r in doc["results"]], list(range(11, 1, -1)))
        self.assertIn("next", doc)
        self.assertEqual(self.list_positions("c", k, "t", "limit=1"), newest_first[:1])
        self.assertEqual(self.list_positions("c", k, "t", "limit=100"), newest_first)
        for bad in ("0", "101", "-1", "abc", "1.5", ""):
            with self.subTest(limit=bad):
                self.err(self.req("GET", "/v0/c/%s/events/t?limit=%s" % (k, bad)),
                         400, "event_param_invalid", "limit")

    def test_bounds(self):
        E = self.e
        o2 = self.ev[2][1]  # the middle one of the three at 200
        cases = [
            ("", E(5, 4, 3, 2, 1, 0)),
            ("startEvent=200", E(5, 4, 3, 2, 1)),
            ("startEvent=200/%d" % o2, E(5, 4, 3, 2)),
            ("afterEvent=200", E(5, 4)),
            ("afterEvent=200/%d" % o2, E(5, 4, 3)),
            ("endEvent=200", E(3, 2, 1, 0)),
            ("endEvent=200/%d" % o2, E(2, 1, 0)),
            ("beforeEvent=200", E(0)),
            ("beforeEvent=200/%d" % o2, E(1, 0)),
            ("start=200", E(5, 4, 3, 2, 1)),
            ("start=200/%d" % o2, E(5, 4, 3, 2)),
            ("end=200", E(0)),
            ("end=200/%d" % o2, E(1, 0)),
            ("startEvent=200&endEvent=300", E(4, 3, 2, 1)),
            ("afterEvent=100&beforeEvent=400", E(4, 3, 2, 1)),
            ("afterEvent=200/%d&beforeEvent=300" % o2, E(3)),
            ("startEvent=200/%d&endEvent=200/%d" % (o2, o2), E(2)),
            ("afterEvent=200/%d&beforeEvent=200/%d" % (o2, o2), []),
            ("start=100&end=300", E(3, 2, 1, 0)),
            ("startEvent=101&endEvent=199", []),
            ("startEvent=400", E(5)),
            ("afterEvent=400", []),
            ("endEvent=100", E(0)),
            ("beforeEvent=100", []),
            ("startEvent=0&endEvent=%d" % MAX_MS, E(5, 4, 3, 2, 1, 0)),
            ("startEvent=200/%016x" % o2, E(5, 4, 3, 2)),
            ("startEvent=%s" % q("1970-01-01T00:00:00.200Z"), E(5, 4, 3, 2, 1)),
            ("endEvent=%s/%d" % (q("1970-01-01T00:00:00.200Z"), o2), E(2, 1, 0)),
            ("startEvent=200&limit=2", E(5, 4)),
        ]
        for query, expected in cases:
            with self.subTest(query=query):
                self.assertEqual(self.list_positions("c", self.bk, "t", query), expected)

    def test_two_bounds_on_one_side(self):
        # docs/api.md: details.param names the second of the two.
        for first, second in [("startEvent", "afterEvent"), ("startEvent", "start"),
                              ("afterEvent", "start"), ("endEvent", "beforeEvent"),
                              ("endEvent", "end"), ("beforeEvent", "end")]:
            for a, b in ((first, second), (second, first)):
                query = "%s=1&%s=2" % (a, b)
                with self.subTest(query=query):
                    self.err(self.req("GET", "/v0/c/%s/events/t?%s" % (self.bk, query)),
                             400, "event_param_invalid", b)

    def test_exact_millisecond(self):
        got = self.list_positions("c", self.bk, "t/200")
        self.assertEqual(got, self.e(3, 2, 1))
        self.assertEqual(self.list_positions("c", self.bk, "t/%s" % seg(
            "1970-01-01T00:00:00.200Z")), self.e(3, 2, 1))
        self.assertEqual(self.list_positions("c", self.bk, "t/201"), [])
        self.assertEqual(self.list_positions("c", self.bk, "t/400"), self.e(5))
        # paging inside the millisecond
        h, doc = self.list("c", self.bk, "t/200", "limit=2")
        self.assertEqual([(r["timestamp"], r["ordinal"]) for r in doc["results"]], self.e(3, 2))
        nxt = doc["next"]
        self.assertTrue(nxt.startswith("/v0/c/%s/events/t/200?" % self.bk), nxt)
        st, h, body, doc = self.req("GET", nxt)
        self.assertEqual(st, 200, body)
        self.assertEqual([(r["timestamp"], r["ordinal"]) for r in doc["results"]], self.e(1))
        self.assertNotIn("next", doc)

    def test_exact_millisecond_paging_with_formatted_paths(self):
        k = self.fresh()
        ts = utc(2014, 4, 24, 18, 44, 13)
        evs = [self.post("c", k, "t", {"i": i}, ts=ts) for i in range(5)]
        self.post("c", k, "t", {"other": 1}, ts=ts + 1)
        self.post("c", k, "t", {"other": 2}, ts=ts - 1)
        for text in ("Thu Apr 24 18:44:13 2014", "Thu, 24 Apr 2014 18:44:13 GMT",
                     "2014-04-24T20:44:13+02:00", str(ts)):
            with self.subTest(ts=text):
                seen, pages = self.page_all("/v0/c/%s/events/t/%s?limit=2" % (k, seg(text)))
                self.assertEqual(pages, [2, 2, 1])
                self.assertEqual(seen, [(ts, e["ord"]) for e in reversed(evs)])

    def check_next(self, h, doc):
        """next and Link agree; relative, under /v0/. Returns next or None."""
        if "next" not in doc:
            self.assertNotIn('rel="next"', h.get("link", ""))
            return None
        nxt = doc["next"]
        self.assertIsInstance(nxt, str)
        self.assertTrue(nxt.startswith("/v0/"), nxt)
        self.assertIn("<%s>; rel=\"next\"" % nxt, h.get("link", ""))
        return nxt

    def page_all(self, first, add_between=None):
        seen, pages, url = [], [], first
        while url is not None:
            st, h, body, doc = self.req("GET", url)
            self.assertEqual(st, 200, body)
            self.assertEqual(doc["count"], len(doc["results"]))
            pages.append(doc["count"])
            self.assertNotIn("prev", doc)  # no prev on events
            self.assertNotIn('rel="prev"', h.get("link", ""))
            seen.extend((r["timestamp"], r["ordinal"]) for r in doc["results"])
            url = self.check_next(h, doc)
            if url is not None and add_between:
                add_between(len(pages), seen[-1])
            self.assertLess(len(pages), 50, "next never ends")
        return seen, pages

    def test_next_only_when_more(self):
        k = self.fresh()
        evs = [self.post("c", k, "t", {"i": i}, ts=10 + i) for i in range(6)]
        newest_first = [(e["ts"], e["ord"]) for e in reversed(evs)]
        h, doc = self.list("c", k, "t", "limit=6")
        self.assertIsNone(self.check_next(h, doc))
        self.assertEqual([(r["timestamp"], r["ordinal"]) for r in doc["results"]], newest_first)
        h, doc = self.list("c", k, "t", "limit=3")
        nxt = self.check_next(h, doc)
        self.assertIsNotNone(nxt)
        self.assertIn("limit=3", nxt)
        self.assertIn("beforeEvent=13/", nxt)
        st, h, body, doc = self.req("GET", nxt)
        self.assertEqual(st, 200, body)
        # exactly full last page: no next
        self.assertEqual([(r["timestamp"], r["ordinal"]) for r in doc["results"]],
                         newest_first[3:])
        self.assertIsNone(self.check_next(h, doc))
        h, doc = self.list("c", k, "t", "limit=7")
        self.assertIsNone(self.check_next(h, doc))

    def test_next_keeps_limit_and_lower_bound(self):
        o2 = self.ev[2][1]
        for query, expected in [("startEvent=200&limit=2", self.e(5, 4, 3, 2, 1)),
                                ("afterEvent=200/%d&limit=1" % o2, self.e(5, 4, 3)),
                                ("start=%s&limit=2" % q("1970-01-01T00:00:00.200Z"),
                                 self.e(5, 4, 3, 2, 1)),
                                ("startEvent=%s&limit=2" % q("1970-01-01T01:00:00.200+01:00"),
                                 self.e(5, 4, 3, 2, 1)),
                                ("afterEvent=%s&limit=1" % q("Thu Jan  1 00:00:00 1970"),
                                 self.e(5, 4, 3, 2, 1, 0)),
                                ("startEvent=200&endEvent=300&limit=1", self.e(4, 3, 2, 1))]:
            with self.subTest(query=query):
                seen, pages = self.page_all("/v0/c/%s/events/t?%s" % (self.bk, query))
                self.assertEqual(seen, expected)
                limit = int(re.search(r"limit=(\d+)", query).group(1))
                self.assertTrue(all(p <= limit for p in pages))

    def test_follow_next_through_25(self):
        k = self.fresh()
        evs = []
        for i in range(25):
            # some share a millisecond
            ev = self.post("c", k, "t", {"i": i}, ts=5000 + i // 3)
            evs.append((ev["ts"], ev["ord"]))
        seen, pages = self.page_all("/v0/c/%s/events/t?limit=7" % k)
        self.assertEqual(pages, [7, 7, 7, 4])
        self.assertEqual(seen, evs[::-1])
        self.assertEqual(len(set(seen)), 25)

    def test_paging_while_the_stream_grows(self):
        k = self.fresh()
        evs = []
        for i in range(15):
            ev = self.post("c", k, "t", {"i": i}, ts=20000 + (i // 2))
            evs.append((ev["ts"], ev["ord"]))
        added = []

        def add(page, last):
            # newer timestamps, "now", and the very millisecond the page ended at
            added.append(self.post("c", k, "t", {"new": page}, ts=90000 + page))
            added.append(self.post("c", k, "t", {"new": page}))
            added.append(self.post("c", k, "t", {"new": page}, ts=last[0]))

        seen, pages = self.page_all("/v0/c/%s/events/t?limit=4" % k, add)
        self.assertEqual(pages, [4, 4, 4, 3])
        self.assertEqual(seen, evs[::-1])
        self.assertEqual(self.count("c", k, "t"), 15 + len(added))

    def test_empty_stream(self):
        for path in ["/v0/c/nothing/events/t", "/v0/c/nothing/events/t?limit=5",
                     "/v0/c/nothing/events/t?startEvent=1&endEvent=2",
                     "/v0/c/nothing/events/t/5",
                     "/v0/c/%s/events/none" % self.bk,
                     "/v0/c/%s/events/t?afterEvent=400" % self.bk]:
            with self.subTest(path=path):
                st, h, body, doc = self.req("GET", path)
                self.assertEqual(st, 200, body)
                self.assertEqual(doc, {"count": 0, "results": []})
                self.assertNotIn("link", h)

    def test_list_entries_are_wrappers(self):
        h, doc = self.list("c", self.bk, "t", "limit=1")
        r = doc["results"][0]
        self.assertEqual(set(r), {"path", "value", "timestamp", "ordinal", "reftime"})
        self.assertEqual(r["path"]["kind"], "event")
        self.assertEqual(r["path"]["key"], self.bk)
        self.assertEqual(r["path"]["type"], "t")
        self.assertEqual(r["value"], {"i": 5})
        st, h1, body, one = self.req("GET", "/v0/c/%s/events/t/%d/%d" % (self.bk, *self.ev[5]))
        self.assertEqual(one, r)


# ---------------------------------------------------------------------------
class PurgeAndTenantsTest(EventsTestBase):
    tenant = "ev-a"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key_b = cls.server.new_key("ev-b")

    def test_purge_of_the_item_removes_its_events(self):
        k, other = self.fresh(), self.fresh()
        st, _, body, _ = self.req("PUT", "/v0/c/%s" % k, body={"item": 1})
        self.assertEqual(st, 201, body)
        for typ in ("a", "b"):
            for i in range(3):
                self.post("c", k, typ, {"i": i}, ts=100 + i)
        mine = self.post("c", other, "a", {"other": 1}, ts=100)
        theirs = self.post("c", k, "a", {"tenant": "b"}, ts=100, key=self.key_b)
        st, _, body, _ = self.req("DELETE", "/v0/c/%s?purge=true" % k)
        self.assertEqual(st, 204, body)
        for typ in ("a", "b"):
            self.assertEqual(self.list("c", k, typ)[1], {"count": 0, "results": []})
        self.assertEqual(self.list_positions("c", other, "a"), [(100, mine["ord"])])
        self.assertEqual(self.list_positions("c", k, "a", key=self.key_b),
                         [(100, theirs["ord"])])
        # new events after the purge work, with ordinals still increasing per write
        again = self.post("c", k, "a", {"again": 1}, ts=100)
        self.assertEqual(self.list_positions("c", k, "a"), [(100, again["ord"])])

    def test_purge_of_an_item_that_never_existed(self):
        k = self.fresh()
        self.post("c", k, "a", {}, ts=1)
        st, _, body, _ = self.req("DELETE", "/v0/c/%s?purge=true" % k)
        self.assertEqual(st, 204, body)
        self.assertEqual(self.count("c", k, "a"), 0)

    def test_delete_without_purge_keeps_events(self):
        k = self.fresh()
        self.assertEqual(self.req("PUT", "/v0/c/%s" % k, body={"item": 1})[0], 201)
        ev = self.post("c", k, "a", {}, ts=1)
        st, _, body, _ = self.req("DELETE", "/v0/c/%s" % k)
        self.assertEqual(st, 204, body)
        self.assertEqual(self.list_positions("c", k, "a"), [(1, ev["ord"])])

    def test_tenant_isolation(self):
        k = self.fresh()
        ev = self.post("c", k, "log", {"secret": "a"}, ts=1234)
        path = self.url("c", k, "log", ev)
        b = self.key_b
        self.assertEqual(self.list("c", k, "log", key=b)[1], {"count": 0, "results": []})
        self.assertEqual(self.list("c", k, "log/1234", key=b)[1], {"count": 0, "results": []})
        self.err(self.req("GET", path, key=b), 404, "items_not_found")
        self.err(self.req("GET", "/v0/c/%s/events/log/1234/%016x" % (k, ev["ord"]), key=b),
                 404, "items_not_found")
        self.err(self.req("PUT", path, key=b, body={"secret": "b"}), 404, "items_not_found")
        self.err(self.req("PATCH", path, key=b, raw_body='{"secret":"b"}',
                          headers={"Content-Type": "application/merge-patch+json"}),
                 404, "items_not_found")
        self.err(self.req("PUT", path, key=b, body={"secret": "b"},
                          headers={"If-Match": '"%s"' % ev["ref"]}),
                 412, "item_version_mismatch")
        st, _, body, _ = self.req("DELETE", path + "?purge=true", key=b)
        self.assertEqual(st, 204, body)
        st, _, body, _ = self.req("DELETE", "/v0/c/%s?purge=true" % k, key=b)
        self.assertEqual(st, 204, body)
        # tenant a still has it, unchanged
        h, doc = self.get_event("c", k, "log", ev)
        self.assertEqual(doc["value"], {"secret": "a"})
        self.assertEqual(h["etag"], '"%s"' % ev["ref"])
        self.assertEqual(self.list_positions("c", k, "log"), [(1234, ev["ord"])])
        # b's own event on the same c/k/type lives apart
        evb = self.post("c", k, "log", {"secret": "b"}, ts=1234, key=b)
        self.assertEqual(self.list_positions("c", k, "log", key=b), [(1234, evb["ord"])])
        self.assertEqual(self.list_positions("c", k, "log"), [(1234, ev["ord"])])

    def test_errors_are_json_with_request_id(self):
        # authentication comes first, also on event routes
        st, h, body, doc = self.server.request("GET", "/v0/c/k/events/t")
        self.assertJsonError((st, h, body, doc), 401, "security_unauthorized")
        st, h, body, doc = self.req("POST", "/v0/c/k/events/t/1/2", body={})
        self.assertJsonError((st, h, body, doc), 405, "api_bad_request")
        self.assertIn("PUT", h.get("allow", ""))
        # the legacy PUT takes no timestamp segment (that is POST's form)
        st, h, body, doc = self.req("PUT", "/v0/c/k/events/t/1", body={})
        self.assertEqual(st, 405, body)
        self.assertIn("POST", h.get("allow", ""))
        self.assertEqual(self.count("c", "k", "t"), 0)


if __name__ == "__main__":
    unittest.main()
