#!/usr/bin/env python3
"""Self-test of the crash test's checker: no server, no kills.

The judges of tests/crash/crash_test.py (judge_item, judge_item_get,
judge_events, judge_event_read, judge_retired) are the code the real run
uses; here they get synthetic write logs and server answers. Every rule is
shown both ways: a correct history (with "maybe" writes applied or not) is
clean, and each kind of damage is reported, as a loss where an acknowledged
write is missing and as an anomaly otherwise:

  - items: lost acknowledged PUT (also one of a bulk request, where an
    operation reported failed must not exist); lost acknowledged DELETE
    (the item live again); phantom version; phantom tombstone; wrong value
    under the acknowledged ref; wrong ref for the right value; versions out
    of order; a version twice; a version verified by an earlier check gone; a "maybe"
    write resolved by an earlier check appearing later; GET disagreeing
    with the history (a deleted item answering 200); the model of item
    PATCH (add /w, inc /n).
  - compare-and-set items: clean chain; If-Match chain broken; a 412 that
    exists; a lost acknowledged write.
  - events: lost acknowledged POST; phantom event; an acknowledged PUT
    undone; an acknowledged PATCH applied twice; an acknowledged DELETE
    undone; wrong value, wrong ref, wrong Location; ordinals against POST
    order; the list out of order; 404 to a PUT of an event that must exist;
    a read at the Location disagreeing with the list; a state that changed
    between checks without a write.
  - purged items: PUTs and purges, "maybe" purges either way; an
    acknowledged purge undone (also across checks), an acknowledged PUT
    after a purge missing, verified versions gone without a purge, the
    history changed, phantom, order, value, tombstone.
  - retired keys: unchanged is clean; a version gone is lost; a new one an
    anomaly.
  - search (judge_search): clean; a missing hit (the negative control: an
    acknowledged write the index lacks), a stale ref, a wrong value, a
    purged item or deleted event found, unknown and duplicate hits, a
    wrong total_count. And the whole search check (search_probes,
    Checker.check_search) against FakeOrchid's index: clean, with what it
    probes and its budget, with retired keys; an index missing an item,
    holding an old version, a purged item or a deleted event is caught; a
    503 for a while is retried, for longer than the deadline (or without
    Retry-After) is a failure.
  - the nemesis plan: every requested kind of kill is planned within the
    run (for 1 to 6 cycles, 300 seeds); a worker or maintainer kill that
    found none running is owed again; a kind that never happened is
    reported missing (crash_test.py then fails the run).
  - the whole Checker (paging, parsing, check_all) and the real Writer
    against an in-memory server (FakeOrchid) that implements the routes the
    test uses (search with a perfect index of its store, which tests damage) and answers 502 at random before or after applying a write:
    clean when it is correct; a rollback to an earlier state (what
    durability=none does under a crash), with writing going on afterwards,
    is reported as loss and nothing else; damage to its store is caught.

Run: python3 tests/crash/test_checker.py (tests/crash/run.sh runs it first).
"""

import copy
import hashlib
import json
import os
import random
import sys
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import crash_test as ct  # noqa: E402


# ---------------------------------------------------------------------------
# Building write logs by hand, as Writer records them


class Log:
    """A KeyLog and helpers to append writes with an outcome: "ok"
    (acknowledged), "maybe" (no answer or 502), "refused" (412) or
    "absent" (404 to an event PUT or PATCH)."""

    n = 0

    def __init__(self, kind="item", key="k"):
        self.klog = ct.KeyLog(kind, key)
        self.path = self.klog.path

    def _write(self, op, outcome, value=None, ev=None, patch=None):
        Log.n += 1
        wid = "run.0.%d" % Log.n
        if value is True:
            value = {"w": wid, "k": self.klog.key, "n": len(self.klog.writes)}
            if self.klog.kind == "event":
                value["ev"] = ev or wid
        w = ct.Write(len(self.klog.writes), op, wid, value, 1, patch=patch, ev=ev)
        w.ok = outcome == "ok"
        w.refused = outcome == "refused"
        w.absent = outcome == "absent"
        w.outcome = {"ok": "HTTP 2xx", "maybe": "HTTP 502", "refused": "HTTP 412",
                     "absent": "HTTP 404"}[outcome]
        self.klog.writes.append(w)
        return w

    # items
    def put(self, outcome="ok"):
        w = self._write("put", outcome, value=True)
        if w.ok:
            w.ref = ct.value_ref(w.value)
        return w

    def delete(self, outcome="ok"):
        return self._write("delete", outcome)

    def bulk(self, outcome="ok"):
        """An item PUT inside a bulk request; "refused": reported failed."""
        w = self._write("bulk", outcome, value=True)
        if w.ok:
            w.ref = ct.value_ref(w.value)
        return w

    def patch(self, base, outcome="ok"):
        """Item PATCH; base: the value it
        applies to, for the acknowledged ETag."""
        w = self._write("patch", outcome, patch=[{"op": "inc", "path": "/n", "value": 1},
                                                 {"op": "add", "path": "/w", "value": None}])
        w.patch[1]["value"] = w.wid
        if w.ok:
            w.ref = ct.value_ref(ct.apply_patch(base, w.patch))
        return w

    def cas(self, thread, cond, outcome="ok"):
        w = self._write("cas", outcome, value=True)
        w.value["if"] = cond
        w.thread = thread
        w.cond = cond
        if w.ok:
            w.ref = ct.value_ref(w.value)
        return w

    # events: positions are handed out in POST order
    def post(self, outcome="ok"):
        w = self._write("post", outcome, value=True)
        w.ev = w.wid
        w.location = "%s/%d/%d" % (self.path, 1000 + w.idx, 100 + w.idx)
        model = ct.EventModel()
        if w.ok:
            w.ref = ct.value_ref(w.value)
            model.location = w.location
            model.acked = True
        self.klog.events[w.wid] = model
        return w

    def ev_put(self, post, outcome="ok"):
        w = self._write("event-put", outcome, value=True, ev=post.wid)
        if w.ok:
            w.ref = ct.value_ref(w.value)
        return w

    def ev_patch(self, post, base, outcome="ok"):
        """base: the value it applies to (for the acknowledged ETag)."""
        w = self._write("event-patch", outcome, ev=post.wid)
        w.patch = [{"op": "inc", "path": "/n", "value": 1},
                   {"op": "add", "path": "/p", "value": w.wid}]
        if w.ok:
            w.ref = ct.value_ref(ct.apply_patch(base, w.patch))
        return w

    def ev_delete(self, post, outcome="ok"):
        return self._write("event-delete", outcome, ev=post.wid)

    # items that are PUT and purged
    def purge_put(self, outcome="ok"):
        w = self._write("purge-put", outcome, value=True)
        if w.ok:
            w.ref = ct.value_ref(w.value)
        return w

    def purge(self, outcome="ok"):
        return self._write("purge", outcome)


def version(w, value=None, ref=None):
    """A history entry (ref, value, tombstone) for the write w."""
    value = w.value if value is None else value
    return (ref or ct.value_ref(value), value, False)


TOMB = (ct.TOMBSTONE_REF, None, True)


def listed(post, value, ts=None, ordinal=None, ref=None):
    """An event as the list shows it, at post's position."""
    loc = post.location.rsplit("/", 2)
    ts = int(loc[1]) if ts is None else ts
    ordinal = int(loc[2]) if ordinal is None else ordinal
    return {"path": {"timestamp": ts, "ordinal": ordinal,
                     "ref": ref or ct.value_ref(value)},
            "value": value, "timestamp": ts, "ordinal": ordinal}


def newest_first(entries):
    return sorted(entries, key=lambda e: (e["path"]["timestamp"], e["path"]["ordinal"]),
                  reverse=True)


def patched(value, w):
    return ct.apply_patch(value, w.patch)


def get_resp(status, value=None, ref=None):
    """A GET answer as harness.Server.request returns it."""
    body = json.dumps(value).encode() if value is not None else b'{"code":"items_not_found"}'
    h = {"etag": '"%s"' % ref} if ref else {}
    return status, h, body, value


class JudgeCase(unittest.TestCase):
    def judge_item(self, log, entries, accept=True):
        v = ct.judge_item(log.klog, entries)
        if accept:
            log.klog.accept(v)
        return v

    def judge_events(self, log, entries, final=True, accept=True):
        v = ct.judge_events(log.klog, newest_first(entries), final)
        if accept:
            log.klog.accept(v)
        return v

    def clean(self, v, extra=()):
        self.assertEqual((v.lost, v.anomalies + list(extra)), ([], []),
                         "got lost/anomalies, want a clean verdict")

    def lost(self, v, *words):
        """Lost, no anomaly; each of words in some loss."""
        self.assertTrue(v.lost, "got no loss, want one")
        self.assertEqual(v.anomalies, [], "got anomalies, want a loss only")
        for word in words:
            self.assertTrue(any(word in x for x in v.lost), "got %r, want %r" % (v.lost, word))

    def anomaly(self, v, *words, lost_too=False):
        self.assertTrue(v.anomalies, "got no anomaly, want one (lost: %r)" % v.lost)
        if not lost_too:
            self.assertEqual(v.lost, [], "got a loss, want an anomaly only")
        for word in words:
            self.assertTrue(any(word in x for x in v.anomalies),
                            "got %r, want %r" % (v.anomalies, word))


# ---------------------------------------------------------------------------
# Items


class ItemTest(JudgeCase):
    def test_clean_history(self):
        k = Log()
        a, b = k.put(), k.put()
        d = k.delete()
        d2 = k.delete()             # a no-op: already deleted
        c = k.put()
        self.clean(self.judge_item(k, [version(a), version(b), TOMB, version(c)]))
        self.assertEqual((d.ok, d2.ok), (True, True))
        self.assertEqual(ct.judge_item_get(k.path, [version(c)], get_resp(200, c.value, c.ref)),
                         [])

    def test_delete_of_absent_item_writes_nothing(self):
        k = Log()
        k.delete()
        a = k.put()
        self.clean(self.judge_item(k, [version(a)]))
        k2 = Log()
        k2.delete()
        self.clean(self.judge_item(k2, []))
        self.assertEqual(ct.judge_item_get(k2.path, [], get_resp(404)), [])

    def test_maybe_writes_either_way(self):
        for applied in (0, 1, 2, 3):
            k = Log()
            a = k.put()
            m = k.put("maybe")
            d = k.delete("maybe")
            hist = [version(a)] + ([version(m)] if applied & 1 else []) + (
                [TOMB] if applied & 2 else [])
            self.clean(self.judge_item(k, hist))
            self.assertFalse(d.ok)

    def test_lost_acknowledged_put(self):
        k = Log()
        a, b, c = k.put(), k.put(), k.put()
        self.lost(self.judge_item(k, [version(a), version(c)]), b.wid)
        k = Log()
        a, b = k.put(), k.put()
        self.lost(self.judge_item(k, [version(a)]), b.wid)
        k = Log()
        a = k.put()
        self.lost(self.judge_item(k, []), a.wid)

    def test_bulk_writes(self):
        """Bulk item PUTs are PUTs: acknowledged ones must be there; maybe
        ones either way; one reported failed must not exist."""
        k = Log()
        a, b, m, f, c = k.put(), k.bulk(), k.bulk("maybe"), k.bulk("refused"), k.bulk()
        self.clean(self.judge_item(k, [version(a), version(b), version(m), version(c)]))
        k = Log()
        a, b, m, f, c = k.put(), k.bulk(), k.bulk("maybe"), k.bulk("refused"), k.bulk()
        self.clean(self.judge_item(k, [version(a), version(b), version(c)]))
        k = Log()
        a, b, c = k.bulk(), k.bulk(), k.bulk()
        self.lost(self.judge_item(k, [version(a), version(c)]), b.wid)
        k = Log()
        a, f, c = k.bulk(), k.bulk("refused"), k.bulk()
        self.anomaly(self.judge_item(k, [version(a), version(f), version(c)]),
                     "reported failed")

    def test_lost_acknowledged_delete(self):
        k = Log()
        a = k.put()
        d = k.delete()
        self.lost(self.judge_item(k, [version(a)]), d.wid, "DELETE")
        # a later maybe PUT could have recreated it, but then its version
        # would follow a tombstone
        k = Log()
        a = k.put()
        d = k.delete()
        m = k.put("maybe")
        self.lost(self.judge_item(k, [version(a), version(m)]), d.wid)
        # recreated by a later acknowledged PUT: fine
        k = Log()
        a = k.put()
        k.delete()
        b = k.put()
        self.clean(self.judge_item(k, [version(a), TOMB, version(b)]))

    def test_deleted_item_must_answer_404(self):
        k = Log()
        a = k.put()
        k.delete()
        hist = [version(a), TOMB]
        self.clean(self.judge_item(k, hist))
        self.assertEqual(ct.judge_item_get(k.path, hist, get_resp(404)), [])
        got = ct.judge_item_get(k.path, hist, get_resp(200, a.value, a.ref))
        self.assertTrue(got and "tombstone" in got[0], got)

    def test_get_disagrees_with_history(self):
        k = Log()
        a, b = k.put(), k.put()
        hist = [version(a), version(b)]
        self.assertTrue(ct.judge_item_get(k.path, hist, get_resp(200, a.value, a.ref)))
        self.assertTrue(ct.judge_item_get(k.path, hist, get_resp(404)))
        self.assertTrue(ct.judge_item_get(k.path, [], get_resp(200, a.value, a.ref)))

    def test_phantom_version(self):
        k = Log()
        a = k.put()
        ghost = {"w": "run.9.999", "k": "k", "n": 7}
        self.anomaly(self.judge_item(k, [version(a), (ct.value_ref(ghost), ghost, False)]),
                     "phantom")

    def test_phantom_tombstone(self):
        k = Log()
        a, b = k.put(), k.put()
        self.anomaly(self.judge_item(k, [version(a), TOMB, version(b)]), "phantom tombstone")
        k = Log()
        k.delete()
        a = k.put()
        self.anomaly(self.judge_item(k, [TOMB, version(a)]), "phantom tombstone")
        k = Log()
        a = k.put()
        k.delete()
        k.delete()
        self.anomaly(self.judge_item(k, [version(a), TOMB, TOMB]), "phantom tombstone")

    def test_wrong_value_under_right_ref(self):
        k = Log()
        a = k.put()
        bad = dict(a.value, n=99)
        self.anomaly(self.judge_item(k, [(a.ref, bad, False)]), "has value")

    def test_wrong_ref(self):
        k = Log()
        a = k.put()
        self.anomaly(self.judge_item(k, [(a.ref[::-1], a.value, False)]), "ref")
        # a "maybe" write has no acknowledged ref: the ref must still be that
        # of its value (of null for a tombstone)
        k = Log()
        m = k.put("maybe")
        self.anomaly(self.judge_item(k, [version(m, ref="fedcba9876543210")]),
                     "but the ref of its value")
        k = Log()
        a = k.put()
        k.delete()
        self.anomaly(self.judge_item(k, [version(a), ("fedcba9876543210", None, True)]),
                     "but the ref of its tombstone")
        # the stored ref is that of the value, but not the acknowledged one
        k = Log()
        a = k.put()
        a.ref = "0123456789abcdef"
        self.anomaly(self.judge_item(k, [version(a)]), "acknowledged 0123456789abcdef")

    def test_versions_out_of_order(self):
        k = Log()
        a, b, c = k.put(), k.put(), k.put()
        self.anomaly(self.judge_item(k, [version(a), version(c), version(b)]), "out of order")
        k = Log()
        a, m = k.put(), k.put("maybe")
        self.anomaly(self.judge_item(k, [version(m), version(a)]), "out of order")

    def test_version_twice(self):
        k = Log()
        a, b = k.put(), k.put()
        self.anomaly(self.judge_item(k, [version(a), version(b), version(b)]), "twice")

    def test_verified_version_gone_later(self):
        k = Log()
        a = k.put()
        m = k.put("maybe")
        self.clean(self.judge_item(k, [version(a), version(m)]))
        b = k.put()
        self.lost(self.judge_item(k, [version(a), version(b)]), m.wid, "earlier check")
        # the acknowledged one gone too
        k = Log()
        a = k.put()
        self.clean(self.judge_item(k, [version(a)]))
        self.lost(self.judge_item(k, []), a.wid)

    def test_maybe_write_resolved_earlier_appears_later(self):
        k = Log()
        a = k.put()
        m = k.put("maybe")
        self.clean(self.judge_item(k, [version(a)]))   # m did not happen
        self.anomaly(self.judge_item(k, [version(a), version(m)]), "earlier check")

    def test_history_rewritten(self):
        k = Log()
        a, b = k.put(), k.put()
        self.clean(self.judge_item(k, [version(a), version(b)]))
        self.anomaly(self.judge_item(k, [version(b), version(a)]), "changed")

    def test_item_patch_model(self):
        # the checker's side of item PATCH
        k = Log()
        a = k.put()
        p = k.patch(a.value)
        after = patched(a.value, p)
        self.clean(self.judge_item(k, [version(a), (p.ref, after, False)]))
        k = Log()
        a = k.put()
        p = k.patch(a.value)
        twice = patched(patched(a.value, p), p)
        self.anomaly(self.judge_item(k, [version(a), (ct.value_ref(twice), twice, False)]),
                     "has value", lost_too=True)
        k = Log()
        a = k.put()
        k.delete()
        p = k.patch(a.value, "maybe")
        after = patched(a.value, p)
        self.anomaly(self.judge_item(k, [version(a), TOMB,
                                         (ct.value_ref(after), after, False)]),
                     "deleted item")


# ---------------------------------------------------------------------------
# Items that are PUT and purged


class PurgeItemTest(JudgeCase):
    def judge_purge(self, log, entries, accept=True):
        v = ct.judge_purge_item(log.klog, entries)
        if accept:
            log.klog.accept(v)
        return v

    def test_clean(self):
        log = Log("purge")
        a, b = log.purge_put(), log.purge_put()
        v = self.judge_purge(log, [version(a), version(b)])
        self.clean(v)
        self.assertEqual(log.klog.current, (b.ref, b.value))
        log.purge()
        c = log.purge_put()
        v = self.judge_purge(log, [version(c)])
        self.clean(v)
        self.assertEqual(log.klog.current, (c.ref, c.value))
        log.purge()
        self.clean(self.judge_purge(log, []))
        self.assertIsNone(log.klog.current)

    def test_maybe_purge_either_way(self):
        for applied in (False, True):
            log = Log("purge")
            a = log.purge_put()
            log.purge("maybe")
            b = log.purge_put()
            self.clean(self.judge_purge(log, [version(b)] if applied
                                        else [version(a), version(b)]))

    def test_maybe_put_before_a_purge(self):
        log = Log("purge")
        log.purge_put("maybe")
        log.purge()
        self.clean(self.judge_purge(log, []))

    def test_acknowledged_purge_undone(self):
        log = Log("purge")
        a = log.purge_put()
        log.purge()
        b = log.purge_put()
        self.lost(self.judge_purge(log, [version(a), version(b)]), "undone")

    def test_acknowledged_purge_undone_across_checks(self):
        log = Log("purge")
        a = log.purge_put()
        self.clean(self.judge_purge(log, [version(a)]))
        log.purge()
        self.lost(self.judge_purge(log, [version(a)]), "undone")

    def test_acknowledged_put_after_a_purge_lost(self):
        log = Log("purge")
        log.purge_put()
        log.purge()
        log.purge_put()
        self.lost(self.judge_purge(log, []), "missing")

    def test_verified_versions_gone_without_a_purge(self):
        log = Log("purge")
        a = log.purge_put()
        self.clean(self.judge_purge(log, [version(a)]))
        b = log.purge_put()
        self.lost(self.judge_purge(log, [version(b)]), "gone")

    def test_verified_versions_gone_after_a_purge(self):
        log = Log("purge")
        a = log.purge_put()
        self.clean(self.judge_purge(log, [version(a)]))
        log.purge("maybe")
        b = log.purge_put()
        self.clean(self.judge_purge(log, [version(b)]))

    def test_history_changed(self):
        log = Log("purge")
        a, b = log.purge_put(), log.purge_put()
        self.clean(self.judge_purge(log, [version(a), version(b)]))
        log.purge("maybe")
        self.anomaly(self.judge_purge(log, [version(b)]), "changed")

    def test_phantom_order_value_tombstone(self):
        log = Log("purge")
        a, b = log.purge_put(), log.purge_put()
        ghost = {"w": "run.0.999999", "k": "k", "n": 9}
        self.anomaly(self.judge_purge(log, [version(a), (ct.value_ref(ghost), ghost, False),
                                            version(b)], accept=False), "phantom")
        self.anomaly(self.judge_purge(log, [version(b), version(a)], accept=False),
                     "out of order")
        bad = dict(a.value, n=-1)
        self.anomaly(self.judge_purge(log, [version(a, value=bad, ref=a.ref), version(b)],
                                      accept=False), "has ref")
        self.anomaly(self.judge_purge(log, [version(a), TOMB, version(b)], accept=False),
                     "tombstone")


class CasTest(JudgeCase):
    def test_clean_chain(self):
        k = Log("cas")
        a = k.cas(0, "*")
        r1 = k.cas(1, "*", "refused")
        b = k.cas(1, a.ref)
        m = k.cas(0, a.ref, "maybe")      # lost the race: did not happen
        c = k.cas(0, b.ref)
        self.clean(self.judge_item(k, [version(a), version(b), version(c)]))
        self.assertTrue(r1.refused and not m.ok)

    def test_chain_broken(self):
        k = Log("cas")
        a = k.cas(0, "*")
        b = k.cas(1, a.ref)
        c = k.cas(0, a.ref)               # both named a: one must have failed
        self.anomaly(self.judge_item(k, [version(a), version(b), version(c)]),
                     "compare-and-set violated")

    def test_refused_write_exists(self):
        k = Log("cas")
        a = k.cas(0, "*")
        b = k.cas(1, a.ref, "refused")
        self.anomaly(self.judge_item(k, [version(a), version(b)]), "refused with 412")

    def test_lost(self):
        k = Log("cas")
        a = k.cas(0, "*")
        b = k.cas(1, a.ref)
        self.lost(self.judge_item(k, [version(a)]), b.wid)

    def test_out_of_order_within_a_thread(self):
        k = Log("cas")
        a = k.cas(0, "*", "maybe")
        b = k.cas(0, "*", "maybe")
        # synthetic: a names b, which thread 0 sent after a
        a.cond = ct.value_ref(b.value)
        self.anomaly(self.judge_item(k, [version(b), version(a)]), "out of order")


# ---------------------------------------------------------------------------
# Events


class EventTest(JudgeCase):
    def full_story(self):
        s = Log("event")
        e1, e2, e3 = s.post(), s.post(), s.post()
        u = s.ev_put(e1)
        p = s.ev_patch(e1, u.value)
        d = s.ev_delete(e2)
        p3 = s.ev_patch(e3, e3.value)
        return s, e1, e2, e3, u, p, d, p3

    def test_clean(self):
        s, e1, e2, e3, u, p, d, p3 = self.full_story()
        lst = [listed(e1, patched(u.value, p)), listed(e3, patched(e3.value, p3))]
        v = self.judge_events(s, lst)
        self.clean(v)
        # reads at the Location: all three (final), e2 is gone
        self.assertEqual(sorted(x[0] for x in v.to_read), sorted([e1.wid, e2.wid, e3.wid]))
        for evw, loc, got in v.to_read:
            if got is None:
                resp = get_resp(404)
            else:
                resp = get_resp(200, {"path": {"timestamp": got.ts, "ordinal": got.ordinal,
                                               "ref": got.ref}, "value": got.value}, got.ref)
            self.assertEqual(ct.judge_event_read(s.path, evw, loc, got, resp), ([], []))

    def test_maybe_writes_either_way(self):
        for applied in range(8):
            s = Log("event")
            e1, e2 = s.post(), s.post()
            em = s.post("maybe")
            u = s.ev_put(e1, "maybe")
            d = s.ev_delete(e2, "maybe")
            v1 = u.value if applied & 1 else e1.value
            lst = [listed(e1, v1)]
            if not applied & 2:
                lst.append(listed(e2, e2.value))
            if applied & 4:
                lst.append(listed(em, em.value))
            self.clean(self.judge_events(s, lst))
            self.assertFalse(d.ok)

    def test_maybe_patch_then_acknowledged_patch(self):
        for applied in (False, True):
            s = Log("event")
            e = s.post()
            m = s.ev_patch(e, e.value, "maybe")
            base = patched(e.value, m) if applied else e.value
            p = s.ev_patch(e, base)
            self.clean(self.judge_events(s, [listed(e, patched(base, p))]))

    def test_lost_acknowledged_post(self):
        s = Log("event")
        e1, e2 = s.post(), s.post()
        self.lost(self.judge_events(s, [listed(e1, e1.value)]), e2.wid, "gone")

    def test_phantom_event(self):
        s = Log("event")
        e1 = s.post()
        ghost = {"w": "run.9.999", "ev": "run.9.999", "n": 0}
        fake = listed(e1, ghost, ts=5000, ordinal=5000)
        self.anomaly(self.judge_events(s, [listed(e1, e1.value), fake]), "phantom")

    def test_acknowledged_put_undone(self):
        s = Log("event")
        e = s.post()
        u = s.ev_put(e)
        self.lost(self.judge_events(s, [listed(e, e.value)]), e.wid, u.wid)

    def test_acknowledged_patch_twice(self):
        s = Log("event")
        e = s.post()
        p = s.ev_patch(e, e.value)
        twice = patched(patched(e.value, p), p)
        self.anomaly(self.judge_events(s, [listed(e, twice)]), "cannot give")

    def test_acknowledged_patch_lost(self):
        s = Log("event")
        e = s.post()
        p = s.ev_patch(e, e.value)
        self.lost(self.judge_events(s, [listed(e, e.value)]), p.wid)

    def test_acknowledged_delete_undone(self):
        s = Log("event")
        e = s.post()
        d = s.ev_delete(e)
        self.lost(self.judge_events(s, [listed(e, e.value)]), d.wid)

    def test_wrong_value(self):
        s = Log("event")
        e = s.post()
        bad = dict(e.value, n=42)
        self.anomaly(self.judge_events(s, [listed(e, bad, ref=e.ref)]), "cannot give")

    def test_wrong_ref(self):
        s = Log("event")
        e = s.post()
        self.anomaly(self.judge_events(s, [listed(e, e.value, ref="00000000deadbeef")]),
                     "ref 00000000deadbeef")
        # right ref for the value, but not the acknowledged one
        s = Log("event")
        e = s.post()
        e.ref = "0123456789abcdef"
        self.anomaly(self.judge_events(s, [listed(e, e.value)]), "cannot give")

    def test_wrong_location(self):
        s = Log("event")
        e = s.post()
        self.anomaly(self.judge_events(s, [listed(e, e.value, ordinal=7)]), "acknowledged at")

    def test_ordinals_against_post_order(self):
        s = Log("event")
        e1, e2 = s.post("maybe"), s.post("maybe")
        # both unacknowledged (no known Location): e2 below e1 anyway
        self.anomaly(self.judge_events(s, [listed(e1, e1.value, ts=10, ordinal=20),
                                           listed(e2, e2.value, ts=11, ordinal=19)]),
                     "is not above")

    def test_list_out_of_order(self):
        s = Log("event")
        e1, e2 = s.post(), s.post()
        lst = [listed(e1, e1.value), listed(e2, e2.value)]     # oldest first: wrong
        v = ct.judge_events(s.klog, lst, True)
        self.anomaly(v, "out of order")

    def test_event_twice(self):
        s = Log("event")
        e = s.post("maybe")
        self.anomaly(self.judge_events(s, [listed(e, e.value, ts=1, ordinal=1),
                                           listed(e, e.value, ts=2, ordinal=2)]), "twice")

    def test_put_answered_404_for_an_event_that_must_exist(self):
        s = Log("event")
        e = s.post()
        s.ev_put(e, "absent")
        self.lost(self.judge_events(s, []), e.wid)
        # and back later: no write can give that
        s = Log("event")
        e = s.post()
        s.ev_put(e, "absent")
        self.anomaly(self.judge_events(s, [listed(e, e.value)]), "cannot give")
        # after a maybe DELETE, a 404 is fine
        s = Log("event")
        e = s.post()
        s.ev_delete(e, "maybe")
        s.ev_put(e, "absent")
        self.clean(self.judge_events(s, []))

    def test_read_at_location(self):
        s = Log("event")
        e = s.post()
        v = self.judge_events(s, [listed(e, e.value)])
        self.clean(v)
        evw, loc, got = v.to_read[0]
        ok = {"path": {"timestamp": got.ts, "ordinal": got.ordinal, "ref": got.ref},
              "value": got.value}
        self.assertEqual(ct.judge_event_read(s.path, evw, loc, got, get_resp(200, ok, got.ref)),
                         ([], []))
        lost, anomalies = ct.judge_event_read(s.path, evw, loc, got, get_resp(404))
        self.assertTrue(lost and not anomalies)
        other = dict(ok, value=dict(e.value, n=5))
        lost, anomalies = ct.judge_event_read(s.path, evw, loc, got,
                                              get_resp(200, other, got.ref))
        self.assertTrue(anomalies and not lost)
        lost, anomalies = ct.judge_event_read(s.path, evw, loc, None, get_resp(200, ok, got.ref))
        self.assertTrue(anomalies and not lost)

    def test_state_carried_between_checks(self):
        s = Log("event")
        e1, e2 = s.post(), s.post()
        u = s.ev_put(e1, "maybe")
        self.clean(self.judge_events(s, [listed(e1, u.value), listed(e2, e2.value)]))
        # no write since: the maybe PUT was seen, so it must stay
        self.anomaly(self.judge_events(s, [listed(e1, e1.value), listed(e2, e2.value)],
                                       accept=False), "cannot give")
        self.lost(self.judge_events(s, [listed(e1, u.value)], accept=False), e2.wid)
        v = self.judge_events(s, [listed(e1, u.value), listed(e2, e2.value)], final=False)
        self.clean(v)
        self.assertEqual(v.to_read, [])   # nothing written since: nothing to read

    def test_rollback_is_loss_only(self):
        # what durability=none does: the last writes are gone, nothing else
        s, e1, e2, e3, u, p, d, p3 = self.full_story()
        self.lost(self.judge_events(s, [listed(e1, e1.value), listed(e2, e2.value)]))


class RetiredTest(JudgeCase):
    def retire(self, kind, entries=None, lst=None):
        log = Log(kind)
        if kind == "event":
            for i, e in enumerate(lst):
                log.klog.events[e["value"]["ev"]] = ct.EventModel(acked=True)
            v = ct.judge_events(log.klog, newest_first(lst), True)
        else:
            v = ct.judge_item(log.klog, entries)
        log.klog.verified = v.verified
        return ct.RetiredKey(log.klog, 3)

    def test_items(self):
        k = Log()
        a, b = k.put(), k.put()
        hist = [version(a), version(b), TOMB]
        k.klog.accept(ct.judge_item(k.klog, hist))
        rk = ct.RetiredKey(k.klog, 3)
        got = ct.retired_digests("item", entries=hist)
        self.assertEqual(ct.judge_retired(rk, got, get_resp(404)), ([], []))
        lost, anomalies = ct.judge_retired(rk, got, get_resp(200, b.value, b.ref))
        self.assertTrue(anomalies and not lost)
        lost, anomalies = ct.judge_retired(rk, ct.retired_digests("item", entries=hist[1:]),
                                           get_resp(404))
        self.assertTrue(lost and not anomalies)
        c = Log().put()
        lost, anomalies = ct.judge_retired(
            rk, ct.retired_digests("item", entries=hist + [version(c)]), get_resp(404))
        self.assertTrue(anomalies)

    def test_events(self):
        s = Log("event")
        e1, e2 = s.post(), s.post()
        lst = newest_first([listed(e1, e1.value), listed(e2, e2.value)])
        s.klog.accept(ct.judge_events(s.klog, lst, True))
        rk = ct.RetiredKey(s.klog, 3)
        self.assertEqual(ct.judge_retired(rk, ct.retired_digests("event", listed=lst)),
                         ([], []))
        lost, anomalies = ct.judge_retired(rk, ct.retired_digests("event", listed=lst[1:]))
        self.assertTrue(lost and not anomalies)
        changed = [dict(lst[0], path=dict(lst[0]["path"], ref="00ff00ff00ff00ff"))] + lst[1:]
        lost, anomalies = ct.judge_retired(rk, ct.retired_digests("event", listed=changed))
        self.assertTrue(lost and anomalies)


# ---------------------------------------------------------------------------
# The nemesis plan: every requested kind of kill in every run


class NemesisPlanTest(unittest.TestCase):
    def setUp(self):
        self.saved_log = ct.log
        ct.log = lambda msg: None

    def tearDown(self):
        ct.log = self.saved_log

    def run_plans(self, seed, cycles, kinds=ct.KINDS, fails=lambda kind, n: False):
        """Plans every cycle and carries the kills out on paper: worker,
        maintainer and indexer kills through Nemesis.strike (which may find
        none running: fails(kind, attempt)), the others as done."""
        nem = ct.Nemesis(None, None, random.Random(seed), kinds, 5.0, 6.0, cycles)
        attempts = {}
        nem._wait_ping = lambda *a: 0.1
        for cycle in range(1, cycles + 1):
            plan = nem.plan(cycle, 4.0, False)
            self.assertTrue(1 <= len(plan) <= max(3, len(kinds)), plan)
            for _, kind, pick in plan:
                if kind in ("worker", "maint", "indexer"):
                    attempts[kind] = attempts.get(kind, 0) + 1
                    fail = fails(kind, attempts[kind])
                    nem._kill_child = lambda role, pick, fail=fail: None if fail else 4242
                    nem.strike(cycle, kind, pick)
                else:
                    nem._done(cycle, kind, "on paper", 0.1)
        return nem

    def test_every_kind_in_every_run(self):
        for seed in range(300):
            for cycles in (1, 2, 3, 6):
                nem = self.run_plans(seed, cycles)
                self.assertEqual(nem.missing(), [], "seed %d, %d cycles" % (seed, cycles))

    def test_first_kills_go_through_the_kinds(self):
        for seed in range(50):
            nem = self.run_plans(seed, 6)
            first = [k for _, k, _, _ in nem.events[:len(ct.KINDS)]]
            self.assertEqual(sorted(first), sorted(ct.KINDS), "seed %d" % seed)
            self.assertLessEqual(nem.events[len(ct.KINDS) - 1][0], 3)   # by cycle 3

    def test_a_kill_not_done_is_owed_again(self):
        nem = self.run_plans(9, 6, fails=lambda kind, n: kind == "worker" and n == 1)
        self.assertEqual(nem.missing(), [])
        self.assertEqual([k for _, k, _ in nem.skipped], ["worker"])

    def test_a_kind_never_done_is_missing(self):
        nem = self.run_plans(9, 6, fails=lambda kind, n: kind == "maint")
        self.assertEqual(nem.missing(), ["maint"])
        self.assertTrue(nem.skipped)

    def test_negative_control_plan(self):
        nem = ct.Nemesis(None, None, random.Random(1), ["group"], 5.0, 6.0, 5)
        plan = nem.plan(1, 3.0, True)
        self.assertEqual([k for _, k, _ in plan], ["group"])


# ---------------------------------------------------------------------------
# The whole Checker and the real Writer against an in-memory server


def _ref(value):
    # written out again rather than taken from crash_test: the fake server
    # must not share the checker's code
    return hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()[:16]


class FakeOrchid:
    """The routes the crash test uses, in memory, as docs/api.md describes
    them. chaos: share of writes answered 502, half of them after applying
    (the worker died after its commit), half before."""

    def __init__(self, seed=1, chaos=0.0):
        self.items = {}     # path -> [(ref, value, tombstone)] oldest first
        self.events = {}    # stream path -> {(ts, ordinal): (ref, value)}
        self.rng = random.Random(seed)
        self.chaos = chaos
        self.clock = 1000
        self.ordinal = 10 ** 17
        self.index_damage = None    # fn(collection, docs) -> the docs the index has
        self.unavailable = 0        # searches still to answer 503
        self.no_retry_after = False

    def snapshot(self):
        return copy.deepcopy((self.items, self.events))

    def restore(self, snap):
        self.items, self.events = copy.deepcopy(snap)

    @staticmethod
    def answer(status, doc=None, headers=None):
        body = json.dumps(doc, separators=(",", ":")).encode() if doc is not None else b""
        return status, dict(headers or {}), body, doc

    def request(self, method, path, key=None, body=None, raw_body=None, headers=None,
                timeout=None):
        url = urllib.parse.urlsplit(path)
        q = dict(urllib.parse.parse_qsl(url.query))
        parts = url.path.split("/")[2:]          # after /v0
        bulk = method == "POST" and parts == []
        if raw_body is not None and not bulk:
            body = json.loads(raw_body)
        hdr = {k.lower(): v for k, v in (headers or {}).items()}
        if method == "HEAD" and parts == []:
            return self.answer(200)
        fail = method != "GET" and self.rng.random() < self.chaos
        if fail and self.rng.random() < 0.5:
            return self.answer(502)
        if bulk:
            resp = self.bulk(raw_body)
        elif len(parts) == 2:
            resp = self.item(method, "/v0/%s/%s" % tuple(parts), body, hdr, q)
        elif len(parts) == 3 and parts[2] == "refs":
            resp = self.refs("/v0/%s/%s" % tuple(parts[:2]), q)
        elif len(parts) == 4 and parts[2] == "events":
            resp = self.stream(method, url.path, body, q)
        elif len(parts) == 6 and parts[2] == "events":
            resp = self.event(method, "/v0/%s/%s/events/%s" % (parts[0], parts[1], parts[3]),
                              (int(parts[4]), int(parts[5])), body, q)
        elif len(parts) == 1 and method == "GET" and "query" in q:
            resp = self.search(parts[0], q)
        else:
            resp = self.answer(404)
        return self.answer(502) if fail else resp

    def item(self, method, path, body, hdr, q=None):
        hist = self.items.get(path, [])
        live = bool(hist) and not hist[-1][2]
        if method == "GET":
            if not live:
                return self.answer(404)
            return self.answer(200, hist[-1][1], {"etag": '"%s"' % hist[-1][0]})
        if method == "DELETE" and (q or {}).get("purge") == "true":
            self.items.pop(path, None)
            return self.answer(204)
        if method == "DELETE":
            if live:
                hist.append((_ref(None), None, True))
            return self.answer(204)
        if method == "PUT":
            if "if-match" in hdr and not (live and hdr["if-match"].strip('"') == hist[-1][0]):
                return self.answer(412)
            if hdr.get("if-none-match") == "*" and live:
                return self.answer(412)
            ref = _ref(body)
            self.items.setdefault(path, hist).append((ref, body, False))
            return self.answer(201, None, {"etag": '"%s"' % ref})
        if method == "PATCH":
            if not live:
                return self.answer(404)
            value = ct.apply_patch(hist[-1][1], body)
            if value is None:
                return self.answer(409)
            ref = _ref(value)
            hist.append((ref, value, False))
            return self.answer(201, None, {"etag": '"%s"' % ref,
                                           "location": "%s/refs/%s" % (path, ref)})
        return self.answer(405)

    def bulk(self, stream):
        """POST /v0 of item PUTs: each applied in order, or now and then
        reported failed (service_unavailable) and not applied."""
        results = []
        for i, line in enumerate(stream.splitlines()):
            op = json.loads(line)
            p = op["path"]
            if self.rng.random() < 0.05:
                results.append({"operation_index": i, "status": "failure", "error": {
                    "message": "busy", "code": "service_unavailable"}})
                continue
            path = "/v0/%s/%s" % (p["collection"], p["key"])
            ref = self.item("PUT", path, op["value"], {})[1]["etag"].strip('"')
            results.append({"operation_index": i, "status": "success", "item": {"path": {
                "collection": p["collection"], "key": p["key"], "kind": "item", "ref": ref,
                "reftime": self.clock}}})
        ok = sum(r["status"] == "success" for r in results)
        return self.answer(200, {"status": "success" if ok == len(results) else "partial",
                                 "success_count": ok, "results": results})

    def refs(self, path, q):
        hist = self.items.get(path)
        if not hist:
            return self.answer(404)
        limit, offset = int(q.get("limit", 10)), int(q.get("offset", 0))
        newest = list(reversed(hist))
        page = []
        for ref, value, tomb in newest[offset:offset + limit]:
            e = {"path": {"ref": ref}}
            if tomb:
                e["path"]["tombstone"] = True
            elif q.get("values") == "true":
                e["value"] = value
            page.append(e)
        doc = {"results": page, "count": len(page)}
        if offset + limit < len(newest):
            doc["next"] = "%s/refs?offset=%d&limit=%d" % (path, offset + limit, limit)
        return self.answer(200, doc)

    def stream(self, method, path, body, q):
        evs = self.events.setdefault(path, {})
        if method == "POST":
            self.clock += 1
            self.ordinal += 1
            pos = (self.clock, self.ordinal)
            ref = _ref(body)
            evs[pos] = (ref, body)
            return self.answer(201, None, {"etag": '"%s"' % ref,
                                           "location": "%s/%d/%d" % ((path,) + pos)})
        limit = int(q.get("limit", 10))
        order = sorted(evs, reverse=True)
        if "beforeEvent" in q:
            ts, o = (int(x) for x in q["beforeEvent"].split("/"))
            order = [p for p in order if p < (ts, o)]
        page = order[:limit]
        doc = {"results": [self.wrap(p, evs[p]) for p in page], "count": len(page)}
        if len(order) > limit:
            doc["next"] = "%s?limit=%d&beforeEvent=%d/%d" % ((path, limit) + page[-1])
        return self.answer(200, doc)

    # -- search: a perfect index of the store, which tests then damage ------
    def index_docs(self, coll):
        """The documents the index should hold for coll, as search results."""
        docs = []
        for path, hist in sorted(self.items.items()):
            c, key = path.split("/")[2:4]
            if c == coll and hist and not hist[-1][2]:
                docs.append({"path": {"collection": c, "kind": "item", "key": key,
                                      "ref": hist[-1][0]}, "value": hist[-1][1]})
        for stream, evs in sorted(self.events.items()):
            c, key, _, etype = stream.split("/")[2:6]
            if c != coll:
                continue
            for pos, (ref, value) in sorted(evs.items()):
                docs.append({"path": {"collection": c, "kind": "event", "key": key,
                                      "type": etype, "timestamp": pos[0],
                                      "ordinal": pos[1], "ref": ref}, "value": value})
        return docs

    @staticmethod
    def matches(doc, clause):
        p, value = doc["path"], doc["value"]
        if clause == "*":
            return True
        if ":" not in clause:
            # a bare word: some string of the value (the pads are one word)
            return any(isinstance(v, str) and v.lower() == clause.lower()
                       for v in value.values())
        field, _, want = clause.partition(":")
        if not (want.startswith("`") and want.endswith("`")):
            raise ValueError("FakeOrchid search: no backticks in %r" % clause)
        want = want[1:-1]
        if field == "@path.key":
            return p["key"] == want
        return value.get(field) == want

    def search(self, coll, q):
        if self.unavailable:
            self.unavailable -= 1
            return self.answer(503, {"message": "rebuilding", "code": "search_index_unavailable"},
                               {} if self.no_retry_after else {"retry-after": "1"})
        clauses = q["query"].split(" AND ")
        kind = "item"
        if clauses[0] == "@path.kind:event":
            kind = "event"
            clauses = clauses[1:] or ["*"]
        docs = self.index_docs(coll)
        if self.index_damage:
            docs = self.index_damage(coll, docs)
        found = [d for d in docs
                 if d["path"]["kind"] == kind and all(self.matches(d, c) for c in clauses)]
        limit, offset = int(q.get("limit", 10)), int(q.get("offset", 0))
        page = found[offset:offset + limit]
        return self.answer(200, {"count": len(page), "total_count": len(found),
                                 "results": page})

    @staticmethod
    def wrap(pos, ev):
        return {"path": {"timestamp": pos[0], "ordinal": pos[1], "ref": ev[0]},
                "value": ev[1], "timestamp": pos[0], "ordinal": pos[1]}

    def event(self, method, stream, pos, body, q):
        evs = self.events.setdefault(stream, {})
        loc = "%s/%d/%d" % ((stream,) + pos)
        if method == "DELETE":
            if q.get("purge") != "true":
                return self.answer(400)
            evs.pop(pos, None)
            return self.answer(204)
        if pos not in evs:
            return self.answer(404)
        if method == "GET":
            return self.answer(200, self.wrap(pos, evs[pos]), {"etag": '"%s"' % evs[pos][0]})
        if method == "PUT":
            value = body
        elif method == "PATCH":
            value = dict(evs[pos][1])
            for op in body:
                name = op["path"].lstrip("/")
                if op["op"] == "inc":
                    value[name] += op.get("value", 1)
                elif op["op"] == "add":
                    value[name] = op["value"]
                else:
                    return self.answer(409)
        else:
            return self.answer(405)
        ref = _ref(value)
        evs[pos] = (ref, value)
        return self.answer(204, None, {"etag": '"%s"' % ref, "location": loc})


class _Pool:
    """ThreadPoolExecutor.map without threads."""

    @staticmethod
    def map(fn, it):
        return [fn(x) for x in it]


class WholeCheckerTest(unittest.TestCase):
    """The real Writer writes to FakeOrchid; the real Checker reads it."""

    def setUp(self):
        self.srv = FakeOrchid(seed=7, chaos=0.05)
        self.stats = ct.Stats()
        self.cas = ct.CasKeys(2)
        self.writers = [ct.Writer(t, self.srv, "key", "run", 7, 3, 2, self.stats, self.cas, 0.15)
                        for t in range(3)]
        self.checker = ct.Checker(self.srv, "key", 1.0)

    def write(self, steps, cycle=1):
        for wr in self.writers:
            wr.cycle = cycle
        for _ in range(steps):
            for wr in self.writers:
                self.assertIsNotNone(wr.step(), self.stats.unexpected)

    def check(self, final=True):
        return self.checker.check_all(self.writers, [], final, _Pool, self.cas)

    def assertClean(self, result):
        self.assertEqual(result, ([], []), "got lost/anomalies, want none")

    def test_clean_across_checks(self):
        self.write(300)
        self.assertClean(self.check(final=False))
        self.write(300, cycle=2)
        self.assertClean(self.check())
        # every kind of write was acknowledged and some were "maybe"
        for op, share in ct.WRITE_MIX:
            if share:
                self.assertTrue(self.stats.acked_by_op.get(op), op)
        self.assertTrue(self.stats.acked_by_op.get("cas"))
        self.assertGreater(self.stats.indeterminate, 10)

    def test_paging(self):
        # one item and one stream per writer: more than 100 versions each
        self.writers = [ct.Writer(t, self.srv, "key", "run", 7, 1, 1, self.stats, self.cas,
                                  0.15) for t in range(2)]
        self.write(1000)
        self.assertGreater(max(len(h) for h in self.srv.items.values()), 100)
        self.assertGreater(max(len(e) for e in self.srv.events.values()), 100)
        self.assertClean(self.check())

    def test_rollback_then_more_writes_is_loss_only(self):
        self.write(200)
        self.assertClean(self.check(final=False))
        snap = self.srv.snapshot()
        self.write(150, cycle=2)
        self.srv.restore(snap)       # the crash of durability=none
        self.write(100, cycle=2)     # the writers go on after the restart
        lost, anomalies = self.check()
        self.assertTrue(lost)
        self.assertEqual(anomalies, [])
        self.assertTrue(any("event" in x for x in lost))
        self.assertTrue(any("item PUT" in x for x in lost))

    def damage(self, fn):
        """fn(server) damages the store after the writes; the check must
        not be clean."""
        self.write(200)
        fn(self.srv)
        return self.check()

    def item_with(self, pred):
        for path, hist in sorted(self.srv.items.items()):
            if "crash-items" in path and pred(hist):
                return hist
        self.fail("no such item")

    def stream_with(self, pred):
        for path, evs in sorted(self.srv.events.items()):
            if pred(evs):
                return evs
        self.fail("no such stream")

    def acked_version(self):
        """(history, index) of a version whose item PUT was acknowledged."""
        for wr in self.writers:
            for klog in wr.items:
                hist = self.srv.items.get(klog.path, [])
                acked = {w.wid for w in klog.writes if w.ok}
                for i, (ref, value, tomb) in enumerate(hist):
                    if i and not tomb and value["w"] in acked:
                        return hist, i
        self.fail("no acknowledged version")

    def acked_event(self):
        """(stream, position) of an event whose POST was acknowledged and
        that no DELETE (acknowledged or "maybe") was sent for."""
        for wr in self.writers:
            for klog in wr.streams:
                evs = self.srv.events.get(klog.path, {})
                deleted = {w.ev for w in klog.writes if w.op == "event-delete"}
                for pos, (ref, value) in sorted(evs.items()):
                    if (klog.events[value["ev"]].acked and pos != max(evs)
                            and value["ev"] not in deleted):
                        return evs, pos
        self.fail("no acknowledged event")

    def test_damage_lost_version(self):
        def f(srv):
            hist, i = self.acked_version()
            del hist[i]
        lost, anomalies = self.damage(f)
        self.assertTrue(any("missing" in x for x in lost), lost)

    def test_damage_phantom_version(self):
        def f(srv):
            hist = self.item_with(lambda h: len(h) > 1)
            ghost = {"w": "run.0.999999", "k": "x", "n": 0}
            hist.insert(1, (_ref(ghost), ghost, False))
        self.assertTrue(any("phantom" in x for x in self.damage(f)[1]))

    def test_damage_value(self):
        def f(srv):
            hist = self.item_with(lambda h: len(h) > 1 and not h[0][2])
            ref, value, tomb = hist[0]
            hist[0] = (ref, dict(value, n=-1), tomb)
        self.assertTrue(self.damage(f)[1])

    def test_damage_ref(self):
        def f(srv):
            hist = self.item_with(lambda h: len(h) > 1 and not h[0][2])
            ref, value, tomb = hist[0]
            hist[0] = ("f" * 16, value, tomb)
        self.assertTrue(self.damage(f)[1])

    def test_damage_order(self):
        def f(srv):
            hist = self.item_with(lambda h: len(h) > 3 and not h[1][2] and not h[2][2])
            hist[1], hist[2] = hist[2], hist[1]
        self.assertTrue(any("out of order" in x for x in self.damage(f)[1]))

    def test_damage_event_value(self):
        def f(srv):
            evs = self.stream_with(lambda e: len(e) > 2)
            pos = sorted(evs)[1]
            ref, value = evs[pos]
            evs[pos] = (_ref(dict(value, n=value["n"] + 1)), dict(value, n=value["n"] + 1))
        self.assertTrue(self.damage(f)[1])

    def test_damage_event_order(self):
        def f(srv):
            evs = self.stream_with(lambda e: len(e) > 2)
            a, b = sorted(evs)[:2]
            evs[a], evs[b] = evs[b], evs[a]
        self.assertTrue(any("is at" in x or "not above" in x for x in self.damage(f)[1]))

    def test_damage_event_gone(self):
        def f(srv):
            evs, pos = self.acked_event()
            del evs[pos]
        lost, anomalies = self.damage(f)
        self.assertTrue(any("gone" in x for x in lost), lost)


# ---------------------------------------------------------------------------
# Search: judge_search, and the whole search check against FakeOrchid


def item_hit(coll, key, ref, value):
    return {"path": {"collection": coll, "kind": "item", "key": key, "ref": ref},
            "value": value}


class SearchJudgeTest(unittest.TestCase):
    A = {"w": "run.1.1", "pad": "abc"}
    B = {"w": "run.1.2", "pad": "def"}

    def probe(self, gone=None):
        return ct.Probe("test", "c", "*", {("c", "a"): (ct.value_ref(self.A), self.A, "write a"),
                                           ("c", "b"): (ct.value_ref(self.B), None, "write b")},
                        gone or {})

    def hits(self):
        return [item_hit("c", "a", ct.value_ref(self.A), self.A),
                item_hit("c", "b", ct.value_ref(self.B), self.B)]

    def test_clean(self):
        self.assertEqual(ct.judge_search(self.probe(), self.hits(), 2), [])
        self.assertEqual(self.probe({("c", "x"): "it was purged"}).checks(), 4)

    def test_missing_hit(self):
        # the negative control: an acknowledged write the index does not have
        problems = ct.judge_search(self.probe(), self.hits()[1:], 1)
        self.assertTrue(any("item c/a is not found" in p for p in problems), problems)
        self.assertTrue(any("total_count 1, the model has 2" in p for p in problems), problems)

    def test_stale_ref(self):
        hits = self.hits()
        hits[0]["path"]["ref"] = "0123456789abcdef"
        problems = ct.judge_search(self.probe(), hits, 2)
        self.assertTrue(any("found with ref 0123456789abcdef, but its current version" in p
                            for p in problems), problems)

    def test_wrong_value(self):
        hits = self.hits()
        hits[0]["value"] = self.B
        self.assertTrue(any("value" in p for p in ct.judge_search(self.probe(), hits, 2)))

    def test_purged_item_found(self):
        hits = self.hits() + [item_hit("c", "x", "00ff00ff00ff00ff", {"w": "old"})]
        problems = ct.judge_search(self.probe({("c", "x"): "it was purged"}), hits, 3)
        self.assertTrue(any("item c/x is found (ref 00ff00ff00ff00ff), but it was purged" in p
                            for p in problems), problems)

    def test_unknown_and_duplicate_hits(self):
        hits = self.hits() + [item_hit("c", "y", "1", {})]
        self.assertTrue(any("does not have" in p
                            for p in ct.judge_search(self.probe(), hits, 3)))
        hits = self.hits() + self.hits()[:1]
        self.assertTrue(any("twice" in p for p in ct.judge_search(self.probe(), hits, 2)))
        hits = self.hits() + [{"path": {"kind": "relationship"}}]
        self.assertTrue(any("no item or event" in p
                            for p in ct.judge_search(self.probe(), hits, 2)))

    def test_count_probe(self):
        probe = ct.Probe("count", "c", "@path.kind:event", count=5)
        self.assertEqual(probe.checks(), 1)
        self.assertEqual(ct.judge_search(probe, None, 5), [])
        self.assertTrue(ct.judge_search(probe, None, 4))

    def test_event_ids(self):
        hit = {"path": {"collection": "e", "kind": "event", "key": "k", "type": ct.EVENT_TYPE,
                        "timestamp": 5, "ordinal": 7, "ref": "r"}, "value": {}}
        self.assertEqual(ct.hit_id(hit), ("e", "k", 5, 7))
        probe = ct.Probe("ev", "e", "q", {}, {("e", "k", 5, 7): "it was deleted"})
        self.assertTrue(any("it was deleted" in p for p in ct.judge_search(probe, [hit], 1)))


class WholeSearchTest(unittest.TestCase):
    """The real Writer writes to FakeOrchid, the real Checker checks it,
    then search_probes and Checker.check_search check its index."""

    def setUp(self):
        self.srv = FakeOrchid(seed=11, chaos=0.05)
        self.stats = ct.Stats()
        self.cas = ct.CasKeys(2)
        self.writers = [ct.Writer(t, self.srv, "key", "run", 11, 3, 2, self.stats, self.cas,
                                  0.15) for t in range(3)]
        self.checker = ct.Checker(self.srv, "key", 1.0, search_deadline=2.0)
        self.retired = []
        self.cycle = 0

    def cycle_of_writes(self, steps=200):
        self.cycle += 1
        for wr in self.writers:
            wr.cycle = self.cycle
        for _ in range(steps):
            for wr in self.writers:
                self.assertIsNotNone(wr.step(), self.stats.unexpected)
        self.assertEqual(self.checker.check_all(self.writers, self.retired, True, _Pool,
                                                self.cas), ([], []))

    def search(self, budget=1000):
        probes = ct.search_probes(self.writers, self.cas, self.retired, self.cycle, budget,
                                  random.Random(self.cycle))
        return probes, self.checker.check_search(probes, _Pool)

    def test_clean_and_what_is_probed(self):
        self.cycle_of_writes()
        probes, (checks, problems) = self.search()
        self.assertEqual(problems, [])
        self.assertGreater(checks, 100)
        labels = " ".join(p.label for p in probes)
        for word in ("of every item", "of every event", "of the events of", "by key",
                     "by its write id", "by its pad word", "by an old write id", "of event"):
            self.assertIn(word, labels)
        gone = " ".join(why for p in probes for why in p.gone.values())
        for word in ("tombstone", "purged", "deleted", "no longer its current version"):
            self.assertIn(word, gone)
        everything = [p for p in probes if p.query == "*"]
        self.assertEqual(sorted(p.coll for p in everything),
                         sorted([ct.ITEM_COLL, ct.CAS_COLL, ct.PURGE_COLL]))

    def test_budget(self):
        self.cycle_of_writes()
        probes, (checks, problems) = self.search(budget=10)
        mandatory = [p for p in probes if p.label.startswith("of every")
                     or p.label.startswith("of the events")]
        self.assertEqual(len(probes), max(10, len(mandatory)))
        self.assertEqual(problems, [])

    def test_retired_keys_across_cycles(self):
        self.cycle_of_writes()
        for wr in self.writers:
            self.retired.extend(wr.retire(1, 1))
        self.retired.extend(self.cas.retire(1, 1))
        self.assertTrue(self.retired)
        self.cycle_of_writes()
        probes, (checks, problems) = self.search()
        self.assertEqual(problems, [])
        want = {i for p in probes if p.query == "*" for i in p.want}
        self.assertTrue(any(i[1] == rk.key for rk in self.retired for i in want))

    def damaged(self, make_damage):
        """make_damage(), after the writes and the check, gives the damage
        to the index; returns the search check's problems."""
        self.cycle_of_writes()
        self.srv.index_damage = make_damage()
        return self.search()[1][1]

    def live_item(self, coll=ct.ITEM_COLL):
        for wr in self.writers:
            for klog in wr.items + wr.purge_keys:
                if klog.collection == coll and klog.current is not None:
                    return klog
        self.fail("no live item")

    def test_missing_hit_fails(self):
        # the negative control: the index lost an acknowledged write
        gone = []

        def damage():
            gone.append(self.live_item().key)
            return lambda coll, docs: [d for d in docs
                                       if d["path"]["key"] != gone[0] or coll != ct.ITEM_COLL]
        problems = self.damaged(damage)
        self.assertTrue(any("item %s/%s is not found" % (ct.ITEM_COLL, gone[0]) in p
                            for p in problems), problems)

    def test_stale_version_fails(self):
        stale = []

        def damage():
            klog = self.live_item()
            old = next(w for w in reversed(klog.writes)
                       if w.op == "put" and w.ok and w.wid != klog.current[1]["w"])
            stale.append(old)

            def f(coll, docs):
                for d in docs:
                    if coll == ct.ITEM_COLL and d["path"]["key"] == klog.key:
                        d["path"]["ref"], d["value"] = old.ref, old.value
                return docs
            return f
        problems = self.damaged(damage)
        self.assertTrue(any("found with ref %s, but its current version" % stale[0].ref in p
                            for p in problems), problems)
        self.assertTrue(any("not found" in p for p in problems), problems)

    def test_purged_item_found_fails(self):
        self.cycle_of_writes()
        purged = [(k, w) for wr in self.writers for k in wr.purge_keys if k.current is None
                  for w in k.writes if w.op == "purge-put" and w.ok]
        self.assertTrue(purged)
        klog, w = purged[-1]
        ghost = {"path": {"collection": ct.PURGE_COLL, "kind": "item", "key": klog.key,
                          "ref": w.ref}, "value": w.value}
        self.srv.index_damage = lambda coll, docs: docs + (
            [ghost] if coll == ct.PURGE_COLL else [])
        problems = self.search()[1][1]
        self.assertTrue(any("%s is found (ref %s), but it was purged" % (klog.key, w.ref) in p
                            for p in problems), problems)

    def test_deleted_event_found_fails(self):
        self.cycle_of_writes()
        gone = None
        for wr in self.writers:
            for klog in wr.streams:
                for w in klog.writes:
                    if w.op == "event-delete" and w.ok and klog.events[w.ev].location:
                        gone = (klog, w)
        self.assertIsNotNone(gone)
        klog, w = gone
        ts, o = (int(x) for x in klog.events[w.ev].location.rsplit("/", 2)[1:])
        ghost = {"path": {"collection": ct.EVENT_COLL, "kind": "event", "key": klog.key,
                          "type": ct.EVENT_TYPE, "timestamp": ts, "ordinal": o, "ref": "0"},
                 "value": {"ev": w.ev, "w": w.ev}}
        self.srv.index_damage = lambda coll, docs: docs + (
            [ghost] if coll == ct.EVENT_COLL else [])
        problems = self.search()[1][1]
        self.assertTrue(any("but it was deleted" in p for p in problems), problems)
        self.assertTrue(any("of every event" in p and "total_count" in p for p in problems),
                        problems)

    def test_unavailable_for_a_while_is_retried(self):
        self.cycle_of_writes()
        self.srv.unavailable = 3
        probes, (checks, problems) = self.search()
        self.assertEqual(problems, [])
        self.assertEqual(self.checker.unavailable, 3)

    def test_unavailable_too_long_fails(self):
        self.cycle_of_writes()
        self.checker.search_deadline = 0.15
        self.srv.unavailable = 10 ** 6
        problems = self.search(budget=5)[1][1]
        self.assertTrue(problems)
        self.assertTrue(all("kept failing" in p for p in problems), problems)

    def test_unavailable_without_retry_after_fails(self):
        self.cycle_of_writes()
        self.srv.unavailable = 1
        self.srv.no_retry_after = True
        problems = self.search(budget=5)[1][1]
        self.assertTrue(any("without Retry-After" in p for p in problems), problems)


if __name__ == "__main__":
    unittest.main(verbosity=1)
