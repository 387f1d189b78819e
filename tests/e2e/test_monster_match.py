"""Monster Match, the sample app of the events seed (shared/seeds/002,
"New Release: Updated Orchestrate Events API"), step by step with API.md's
corrections: Bigfoot's profile lives at profiles/bigfoot; every edit of it is
recorded as a "changes" event (audit history), his activity stream is the
"activities" type, profile views are "profile_viewed". Two events in one
millisecond are both kept in insertion order; an event is tagged with PUT, the
login event is deleted with purge=true; the stream is paged with `next`.

The tests of the class run in order (step01, step02, ...) against one server;
each step builds on earlier ones and is skipped when a step it needs did not
pass (or was not selected).
"""

import functools
import re
import time
import unittest
import urllib.parse
from datetime import datetime, timedelta, timezone

from harness import UUID_RE, ServerTestCase

PROFILE = "/v0/profiles/bigfoot"
CHANGES = PROFILE + "/events/changes"
ACTIVITIES = PROFILE + "/events/activities"
VIEWED = PROFILE + "/events/profile_viewed"

ETAG_RE = re.compile(r'^"([0-9a-f]{16})"$')
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def ms_of(dt):
    return (dt - EPOCH) // timedelta(milliseconds=1)


# Bigfoot's morning (the seed gives wall-clock times; the day is the post's)
T1000 = ms_of(datetime(2014, 4, 24, 10, 0, tzinfo=timezone.utc))
T1001 = ms_of(datetime(2014, 4, 24, 10, 1, tzinfo=timezone.utc))
T1002 = ms_of(datetime(2014, 4, 24, 10, 2, tzinfo=timezone.utc))
# the seed's RFC 2616 examples: Sun, 06 Nov 1994 08:49:37 GMT
T1994 = ms_of(datetime(1994, 11, 6, 8, 49, 37, tzinfo=timezone.utc))


def seg(value):
    return urllib.parse.quote(str(value), safe="")


def q(value):
    return urllib.parse.quote(str(value), safe="/")


def step(n, needs=()):
    """Marks a story step: skipped unless the steps it needs passed."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self):
            missing = [k for k in needs if k not in type(self).done]
            if missing:
                self.skipTest("needs step(s) %s, which did not pass" % missing)
            fn(self)
            type(self).done.add(n)
        return wrapper
    return deco


class MonsterMatchTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("monster-match")
        cls.done = set()
        cls.profile_refs = []   # item refs, in write order
        cls.changes = []        # change values, in write order
        cls.act = {}            # name -> {"ts","ord","ref","loc"}
        cls.views = []

    # ---- helpers ----------------------------------------------------------
    def req(self, method, path, **kw):
        resp = self.server.request(method, path, key=self.key, **kw)
        st, h, body, doc = resp
        self.assertEqual(h.get("content-type", "").split(";")[0], "application/json",
                         "%s %s" % (method, path))
        self.assertRegex(h.get("x-orchestrate-req-id", ""), UUID_RE)
        return resp

    def written(self, h, base):
        """ETag and Location of a created or changed event."""
        m = ETAG_RE.match(h.get("etag", ""))
        self.assertIsNotNone(m, h)
        loc = h.get("location", "")
        lm = re.match(r"^%s/(\d+)/(\d+)$" % re.escape(base), loc)
        self.assertIsNotNone(lm, loc)
        return {"ts": int(lm.group(1)), "ord": int(lm.group(2)), "ref": m.group(1), "loc": loc}

    def post(self, base, value, ts=None):
        path = base if ts is None else "%s/%s" % (base, seg(ts))
        st, h, body, _ = self.req("POST", path, body=value)
        self.assertEqual(st, 201, body)
        self.assertEqual(body, b"")
        return self.written(h, base)

    def listing(self, path):
        st, h, body, doc = self.req("GET", path)
        self.assertEqual(st, 200, body)
        self.assertEqual(doc["count"], len(doc["results"]))
        return h, doc

    def values(self, path):
        return [r["value"] for r in self.listing(path)[1]["results"]]

    def positions(self, path):
        return [(r["timestamp"], r["ordinal"]) for r in self.listing(path)[1]["results"]]

    def pos(self, *names):
        return [(self.act[n]["ts"], self.act[n]["ord"]) for n in names]

    def edit_profile(self, profile, change):
        """PUT the profile (conditional on the last ref), then record the change."""
        headers = {"If-Match": '"%s"' % self.profile_refs[-1]} if self.profile_refs else None
        st, h, body, _ = self.req("PUT", PROFILE, body=profile, headers=headers)
        self.assertEqual(st, 201, body)
        ref = ETAG_RE.match(h["etag"]).group(1)
        type(self).profile_refs.append(ref)
        change = dict(change, ref=ref)
        ev = self.post(CHANGES, change)
        type(self).changes.append((change, ev))

    # ---- audit history ----------------------------------------------------
    @step(1)
    def test_step01_bigfoot_profile_created(self):
        self.edit_profile({"name": "Bigfoot", "home": "Pacific Northwest", "likes": []},
                          {"by": "bigfoot", "field": "*", "action": "created"})

    @step(2, needs=[1])
    def test_step02_every_edit_recorded_as_a_change(self):
        self.edit_profile({"name": "Bigfoot", "home": "Pacific Northwest",
                           "likes": ["long walks"]},
                          {"by": "bigfoot", "field": "likes", "from": [], "to": ["long walks"]})
        self.edit_profile({"name": "Bigfoot", "home": "Pacific Northwest",
                           "likes": ["long walks"], "photo": "blurry.jpg"},
                          {"by": "bigfoot", "field": "photo", "from": None, "to": "blurry.jpg"})
        self.edit_profile({"name": "Bigfoot", "home": "Pacific Northwest",
                           "likes": ["long walks"], "photo": "less-blurry.jpg"},
                          {"by": "moderator", "field": "photo", "from": "blurry.jpg",
                           "to": "less-blurry.jpg"})
        ords = [ev["ord"] for _, ev in self.changes]
        self.assertEqual(ords, sorted(ords))
        self.assertEqual(len(set(ords)), 4)

    @step(3, needs=[2])
    def test_step03_history_screen_most_recent_first(self):
        h, doc = self.listing(CHANGES)
        self.assertEqual(doc["count"], 4)
        self.assertNotIn("next", doc)
        self.assertEqual([r["value"] for r in doc["results"]],
                         [c for c, _ in reversed(self.changes)])
        for r in doc["results"]:
            self.assertEqual(r["path"]["collection"], "profiles")
            self.assertEqual(r["path"]["key"], "bigfoot")
            self.assertEqual(r["path"]["type"], "changes")
            self.assertEqual(r["path"]["kind"], "event")
        # the audit trail matches the item's own version history
        st, h, body, refs = self.req("GET", PROFILE + "/refs")
        self.assertEqual(st, 200, body)
        self.assertEqual([r["path"]["ref"] for r in refs["results"]],
                         [r["value"]["ref"] for r in doc["results"]])
        # the profile itself is the last edit
        st, h, body, profile = self.req("GET", PROFILE)
        self.assertEqual(st, 200, body)
        self.assertEqual(profile["photo"], "less-blurry.jpg")

    # ---- activity stream ------------------------------------------------
    @step(4)
    def test_step04_activity_stream(self):
        # 10:00 logged in, 10:01 check Monster Match profile, 10:02 check Nessie's
        # profile, 10:02 call Nessie: timestamps in several of the seed's formats
        for name, ts, value in [
                ("login", str(T1000), {"activity": "logged in to Monster Match"}),
                ("mm", "2014-04-24T10:01:00Z", {"activity": "check Monster Match Profile"}),
                ("nessie_profile", "Thu, 24 Apr 2014 10:02:00 GMT",
                 {"activity": "check Nessie's Profile"}),
                ("call", "2014-04-24T10:02:00.000Z", {"activity": "call Nessie"})]:
            type(self).act[name] = self.post(ACTIVITIES, value, ts)
        self.assertEqual([self.act[n]["ts"] for n in ("login", "mm", "nessie_profile", "call")],
                         [T1000, T1001, T1002, T1002])
        self.assertLess(self.act["nessie_profile"]["ord"], self.act["call"]["ord"])
        self.assertEqual(self.values(ACTIVITIES), [
            {"activity": "call Nessie"},
            {"activity": "check Nessie's Profile"},
            {"activity": "check Monster Match Profile"},
            {"activity": "logged in to Monster Match"}])

    @step(5)
    def test_step05_nessie_and_zargon_view_in_the_same_millisecond(self):
        ts = T1002 + 123
        before = self.post(VIEWED, {"viewer": "Mothman"}, ts - 1)
        nessie = self.post(VIEWED, {"viewer": "Nessie"}, ts)
        zargon = self.post(VIEWED, {"viewer": "Capt. Zargon"}, ts)
        after = self.post(VIEWED, {"viewer": "Chupacabra"}, ts + 1)
        type(self).views = [before, nessie, zargon, after]
        self.assertEqual((nessie["ts"], zargon["ts"]), (ts, ts))
        self.assertNotEqual(nessie["ord"], zargon["ord"])
        self.assertLess(nessie["ord"], zargon["ord"])
        # both kept, newest (last inserted) first
        self.assertEqual(self.values(VIEWED), [{"viewer": "Chupacabra"},
                                               {"viewer": "Capt. Zargon"},
                                               {"viewer": "Nessie"},
                                               {"viewer": "Mothman"}])
        # GET .../profile_viewed/$timestamp: exactly that millisecond
        h, doc = self.listing("%s/%d" % (VIEWED, ts))
        self.assertEqual([(r["value"]["viewer"], r["ordinal"]) for r in doc["results"]],
                         [("Capt. Zargon", zargon["ord"]), ("Nessie", nessie["ord"])])
        # the same millisecond written as ISO 8601 with milliseconds
        iso = datetime.fromtimestamp(ts / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
        iso = iso[:-3] + "Z"
        self.assertEqual(self.positions("%s/%s" % (VIEWED, seg(iso))),
                         [(ts, zargon["ord"]), (ts, nessie["ord"])])
        for ev, who in ((nessie, "Nessie"), (zargon, "Capt. Zargon")):
            st, h, body, doc = self.req("GET", ev["loc"])
            self.assertEqual(st, 200, body)
            self.assertEqual(doc["value"], {"viewer": who})

    @step(6, needs=[4])
    def test_step06_get_an_individual_event(self):
        call = self.act["call"]
        path = "%s/%d/%d" % (ACTIVITIES, T1002, call["ord"])
        self.assertEqual(path, call["loc"])
        st, h, body, doc = self.req("GET", path)
        self.assertEqual(st, 200, body)
        self.assertEqual(h["etag"], '"%s"' % call["ref"])
        self.assertEqual(doc["value"], {"activity": "call Nessie"})
        self.assertEqual(doc["path"]["ref"], call["ref"])
        self.assertEqual(doc["path"]["kind"], "event")
        self.assertEqual((doc["timestamp"], doc["ordinal"]), (T1002, call["ord"]))
        self.assertEqual(doc["path"]["ordinal_str"], "%016x" % call["ord"])
        # clients send ordinal_str back: the same event
        st, h, body, doc2 = self.req("GET", "%s/%d/%s" % (ACTIVITIES, T1002,
                                                          doc["path"]["ordinal_str"]))
        self.assertEqual(st, 200, body)
        self.assertEqual(doc2, doc)

    @step(7, needs=[6])
    def test_step07_tag_call_nessie_funny_with_put(self):
        call = self.act["call"]
        tagged = {"activity": "call Nessie", "tags": ["funny"]}
        st, h, body, _ = self.req("PUT", call["loc"], body=tagged,
                                  headers={"If-Match": '"%s"' % call["ref"]})
        self.assertEqual(st, 204, body)
        new = self.written(h, ACTIVITIES)
        self.assertEqual(new["loc"], call["loc"])
        self.assertNotEqual(new["ref"], call["ref"])
        # someone else's update with the old ref is refused
        self.assertJsonError(self.req("PUT", call["loc"], body={"activity": "call Nessie"},
                                      headers={"If-Match": '"%s"' % call["ref"]}),
                             412, "item_version_mismatch")
        st, h, body, doc = self.req("GET", call["loc"])
        self.assertEqual(doc["value"], tagged)
        self.assertEqual(h["etag"], '"%s"' % new["ref"])
        self.assertEqual(doc["path"]["ref"], new["ref"])
        call["ref"] = new["ref"]
        # still in the same place in the stream
        self.assertEqual(self.values(ACTIVITIES)[0], tagged)

    @step(8, needs=[4])
    def test_step08_delete_the_login_event_with_purge(self):
        login = self.act["login"]
        # events keep no history: purge=true is required
        resp = self.req("DELETE", login["loc"])
        self.assertJsonError(resp, 400, "event_param_invalid")
        self.assertEqual(resp[3]["details"]["param"], "purge")
        self.assertJsonError(self.req("DELETE", login["loc"] + "?purge=true",
                                      headers={"If-Match": '"%s"' % ("0" * 16)}),
                             412, "item_version_mismatch")
        self.assertEqual(self.req("GET", login["loc"])[0], 200)
        st, h, body, _ = self.req("DELETE", login["loc"] + "?purge=true",
                                  headers={"If-Match": '"%s"' % login["ref"]})
        self.assertEqual(st, 204, body)
        self.assertJsonError(self.req("GET", login["loc"]), 404, "items_not_found")
        st, h, body, _ = self.req("DELETE", login["loc"] + "?purge=true")
        self.assertEqual(st, 204, body)
        self.assertEqual([v["activity"] for v in self.values(ACTIVITIES)],
                         ["call Nessie", "check Nessie's Profile",
                          "check Monster Match Profile"])

    @step(9, needs=[8])
    def test_step09_range_queries(self):
        np = self.act["nessie_profile"]
        cases = [
            # ?startEvent=$timestamp/$ordinal and ?startEvent=$timestamp
            ("startEvent=%d/%d" % (T1002, np["ord"]), ["call", "nessie_profile"]),
            ("startEvent=%d/%d" % (T1002, self.act["call"]["ord"]), ["call"]),
            ("startEvent=%d" % T1002, ["call", "nessie_profile"]),
            ("startEvent=%d" % T1001, ["call", "nessie_profile", "mm"]),
            ("afterEvent=%d" % T1001, ["call", "nessie_profile"]),
            ("afterEvent=%d/%d" % (T1002, np["ord"]), ["call"]),
            ("beforeEvent=%d" % T1002, ["mm"]),
            ("beforeEvent=%d/%d" % (T1002, self.act["call"]["ord"]), ["nessie_profile", "mm"]),
            # endEvent is inclusive: the first result is that exact event
            ("endEvent=%d/%d" % (T1002, np["ord"]), ["nessie_profile", "mm"]),
            ("endEvent=%d" % T1002, ["call", "nessie_profile", "mm"]),
            # the former 'end' was not inclusive; 'start' was
            ("end=%d" % T1002, ["mm"]),
            ("start=%d" % T1002, ["call", "nessie_profile"]),
            # any supported timestamp format
            ("startEvent=%s" % q("2014-04-24T10:02:00Z"), ["call", "nessie_profile"]),
            ("startEvent=%s/%d" % (q("Thu, 24 Apr 2014 10:02:00 GMT"), np["ord"]),
             ["call", "nessie_profile"]),
            ("endEvent=%s" % q("Thursday, 24-Apr-14 10:01:00 GMT"), ["mm"]),
            ("afterEvent=%s" % q("Thu Apr 24 10:01:00 2014"), ["call", "nessie_profile"]),
            ("startEvent=%s&endEvent=%s" % (q("2014-04-24T12:01:00+02:00"),
                                           q("2014-04-24T12:01:59.999+02:00")), ["mm"]),
        ]
        for query, names in cases:
            with self.subTest(query=query):
                self.assertEqual(self.positions(ACTIVITIES + "?" + query), self.pos(*names))
        # GET .../activities/$timestamp: only that exact millisecond
        self.assertEqual(self.positions("%s/%d" % (ACTIVITIES, T1002)),
                         self.pos("call", "nessie_profile"))
        self.assertEqual(self.positions("%s/%d" % (ACTIVITIES, T1002 + 1)), [])
        self.assertEqual(self.positions("%s/%d" % (ACTIVITIES, T1000)), [])

    @step(10)
    def test_step10_timestamp_formats_of_the_seed(self):
        base = PROFILE + "/events/formats"
        formats = [
            str(T1994),                          # a Long: milliseconds since epoch
            "1994-11-06T08:49:37Z",              # ISO 8601 without milliseconds
            "1994-11-06T08:49:37.000Z",          # ISO 8601 with milliseconds
            "1994-11-06T01:49:37-07:00",         # ISO 8601 with an offset
            "Sun, 06 Nov 1994 08:49:37 GMT",     # RFC 1123
            "Sunday, 06-Nov-1994 08:49:37 GMT",  # RFC 1036, as the seed writes it
            "Sun Nov  6 08:49:37 1994",          # ASCTIME (GMT enforced)
        ]
        evs = []
        for text in formats:
            with self.subTest(ts=text):
                ev = self.post(base, {"format": text}, text)
                self.assertEqual(ev["ts"], T1994)
                evs.append(ev)
        # RFC 1036 with a 2-digit year starts at 2000
        ev = self.post(base, {"format": "2-digit"}, "Sunday, 06-Nov-14 08:49:37 GMT")
        self.assertEqual(ev["ts"], ms_of(datetime(2014, 11, 6, 8, 49, 37, tzinfo=timezone.utc)))
        h, doc = self.listing("%s/%s" % (base, seg("Sun, 06 Nov 1994 08:49:37 GMT")))
        self.assertEqual([r["value"]["format"] for r in doc["results"]], formats[::-1])
        self.assertEqual([r["ordinal"] for r in doc["results"]], [e["ord"] for e in evs][::-1])

    @step(11, needs=[9])
    def test_step11_post_without_timestamp_is_now(self):
        before = int(time.time() * 1000)
        ev = self.post(ACTIVITIES, {"activity": "shared a link", "url": "http://nessie.example"})
        after = int(time.time() * 1000)
        self.assertGreaterEqual(ev["ts"], before - 1000)
        self.assertLessEqual(ev["ts"], after + 1000)
        type(self).act["share"] = ev
        self.assertEqual(self.values(ACTIVITIES)[0]["activity"], "shared a link")
        # the deprecated PUT still adds an event (204)
        st, h, body, _ = self.req("PUT", ACTIVITIES + "?timestamp=%d" % (T1001 + 30000),
                                  body={"activity": "status update", "text": "Rawr"})
        self.assertEqual(st, 204, body)
        ev = self.written(h, ACTIVITIES)
        self.assertEqual(ev["ts"], T1001 + 30000)
        type(self).act["status"] = ev

    @step(12, needs=[11])
    def test_step12_paging_through_the_stream_with_next(self):
        # other monsters interact with Bigfoot's profile all afternoon
        for i in range(30):
            ts = T1002 + (i + 1) * 60000
            self.post(ACTIVITIES, {"activity": "liked by", "who": "monster %d" % i}, ts)
        h, everything = self.listing(ACTIVITIES + "?limit=100")
        self.assertEqual(everything["count"], 35)
        self.assertNotIn("next", everything)
        self.assertNotIn("link", h)
        expected = [(r["timestamp"], r["ordinal"]) for r in everything["results"]]
        self.assertEqual(expected, sorted(expected, reverse=True))
        # by default only the first 10 come back; follow next to the end
        seen, pages, url = [], [], ACTIVITIES
        while url:
            h, doc = self.listing(url)
            pages.append(doc["count"])
            seen.extend((r["timestamp"], r["ordinal"]) for r in doc["results"])
            url = doc.get("next")
            if url:
                self.assertTrue(url.startswith(ACTIVITIES + "?"), url)
                self.assertIn("<%s>; rel=\"next\"" % url, h.get("link", ""))
            else:
                self.assertNotIn("link", h)
            self.assertLess(len(pages), 10)
        self.assertEqual(pages, [10, 10, 10, 5])
        self.assertEqual(seen, expected)
        # larger pages: up to 100
        h, doc = self.listing(ACTIVITIES + "?limit=20")
        self.assertEqual([(r["timestamp"], r["ordinal"]) for r in doc["results"]], expected[:20])
        st, h, body, doc = self.req("GET", doc["next"])
        self.assertEqual([(r["timestamp"], r["ordinal"]) for r in doc["results"]], expected[20:])
        self.assertNotIn("next", doc)
        resp = self.req("GET", ACTIVITIES + "?limit=101")
        self.assertJsonError(resp, 400, "event_param_invalid")
        self.assertEqual(resp[3]["details"]["param"], "limit")

    @step(13, needs=[3, 12])
    def test_step13_bigfoot_leaves_purge_removes_everything(self):
        st, h, body, _ = self.req("DELETE", PROFILE + "?purge=true")
        self.assertEqual(st, 204, body)
        for base in (CHANGES, ACTIVITIES, VIEWED, PROFILE + "/events/formats"):
            with self.subTest(stream=base):
                h, doc = self.listing(base)
                self.assertEqual(doc, {"count": 0, "results": []})
        self.assertJsonError(self.req("GET", self.act["call"]["loc"]), 404, "items_not_found")
        self.assertJsonError(self.req("GET", PROFILE), 404, "items_not_found")


if __name__ == "__main__":
    unittest.main()
