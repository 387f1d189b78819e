#!/usr/bin/env python3
"""Crash test: concurrent writers, a seeded kill -9 nemesis, and a checker
that every acknowledged write survived.

A real orchidd behind a real nginx (tests/e2e/harness.py). Per cycle:

  1. W writer threads write for S seconds. Each thread owns a few items
     (/v0/crash-items/wT-N) and a few event streams
     (/v0/crash-events/wT-N/events/t), so the writes to one key or stream
     are issued by one thread, in an order the checker knows. The mix
     (WRITE_MIX): item PUT (each value unique: {"w": "<run>.<thread>.<n>",
     ...}), item DELETE (a tombstone version), item PATCH (JSON Patch: `add`
     /w, the write's own id, and `inc` /n; 404 when the item is not live, a
     definite "nothing happened"), bulk item PUTs (POST /v0 with 2 to 5
     item operations on the thread's items, in order; each operation the
     200 reports "success" is acknowledged with its ref, one reported
     failed did not happen, and no answer leaves them all "maybe"), PUT
     and purge (DELETE ?purge=true: the item and its whole history gone)
     of items of their own collection (/v0/crash-purge/wT-N), event POST,
     and on events of its own
     whose POST was acknowledged: event PUT (a new value), event PATCH (JSON
     Patch: `inc` /n and `add` /p, so a patch applied twice or not at all
     shows) and event DELETE with purge=true. A 201/204 is an
     acknowledgement: the ETag (and for a POST the Location) is recorded
     with the write. 502/503/504 or a transport error is "maybe": the write
     may or may not have happened, but never twice and never with another
     value. A 404 to an event PUT or PATCH is a definite "the event was not
     there". A share of the writes (--cas-share) goes to a few items every
     thread updates with If-Match on the ref it last saw (If-None-Match: *
     for the first version; after a 412 or an unknown outcome it GETs the
     current ref): compare-and-set registers, so writers contend, deadlock
     and get 412s.
  2. Meanwhile the nemesis (random.Random(seed)) SIGKILLs, at random moments,
     one of: a random worker ("worker"), the maintainer ("maint"), the
     search indexer ("indexer", orchidd-index; the kill counts as recovered
     when a new one runs and a ping is answered), the master
     ("master"), the whole process group, master + children ("group"), or the
     group and then the restarted group again 0-0.5 s later, while it
     recovers ("recovery"). Every requested kind happens in every run: the
     first kills of a run go through the kinds not done yet (in a seeded
     order, at least two kills per cycle while some are owed), the rest are
     random; a worker or maintainer kill waits for one to be running, and a
     kind that still could not be done is owed again. A run in which a
     requested kind never happened fails. After a master or group kill
     orchidd is started again with the same command line (as systemd would)
     and must answer a ping (HEAD /v0 with a key) within --max-recovery
     seconds, with no process of the old generation left; the time is
     reported.
  3. The writers stop and everything is checked (reads retry 502/503/504 and
     transport errors until a deadline). The judging is pure functions of
     the write log and what the server returned (judge_* below), so
     tests/crash/test_checker.py feeds them synthetic histories without a
     server; the Checker class only reads and hands over.
     - items: /refs?values=true (limit 100, paged), oldest first. Every
       version's ref is the SHA-256 ref of its value (of null for a
       tombstone). The history seen by the last check is still its prefix,
       unchanged. The versions after it are explained by the writes issued
       since, in issue order: each value version is one PUT with its exact
       value (and its acknowledged ref), each tombstone a DELETE issued
       while the item was live; an acknowledged PUT must be there, an
       acknowledged DELETE after which the item is live again without a
       later PUT is lost, a "maybe" write may be there or not; nothing
       else (no phantom, no duplicate, no write resolved by an earlier
       check). GET gives the newest version and its ETag, or 404 when that
       is a tombstone.
     - compare-and-set items: the same, except that the issue order is only
       known per thread; in addition each version must directly follow the
       version whose ref its If-Match named (If-None-Match: * only first),
       and a write answered 412 must not exist.
     - events: the list of each stream (paged with `next`) is newest first,
       each event once, at the Location its POST was acknowledged with (or
       where an earlier check saw it), ordinals increasing in the order of
       the POSTs. Each event's value (or absence) must be a state its
       writes can produce: starting from what the last check saw, every
       acknowledged POST, PUT, PATCH, DELETE applied in issue order, each
       "maybe" one applied or not, an acknowledged ETag matching the
       result; a 404 to a PUT or PATCH means it was absent then. A state
       reachable only by dropping an acknowledged write is a loss (a deleted
       event back, an update undone, an event gone); any other state is an
       anomaly. Every event written since the last check (at the end: every
       event with a known Location) is read at its Location and must agree
       with the list (404 when deleted).
     - a key with --max-versions writes is retired after a clean check: a
       fresh key takes its place, and the retired key's verified history is
       kept as 8 bytes per version (refs; for events a digest of timestamp,
       ordinal, ref and value id). Every --full-check-every cycles and at the
       end, each retired key must read back exactly like that (refs paged
       with values=false; events listed), so old data stays checked after
       later crashes while memory and check time stay bounded.
     - purged items (/v0/crash-purge): the history must be the versions of
       the PUTs after the last purge that happened, in issue order; an
       acknowledged purge after which a version written before it is still
       there is lost, and so is an acknowledged PUT no purge can explain
       away (judge_purge_item).
     - every cycle must have acknowledged writes (a cycle without any
       proves nothing), and by the end every kind of write in the mix must
       have been acknowledged at least once.
  4. The search index, after a clean check (which makes the model exact:
     the newest version of every item, every event of every stream), with
     searches (GET /v0/{collection}?query=...) that must return exactly the
     model's documents, with the current ref and value (search_probes,
     judge_search): every cycle each item collection listed with `*` (its
     live items, current and retired; total_count the number the model
     has; no deleted or purged item), the total of @path.kind:event, and
     each stream written in the cycle (@path.kind:event AND
     @path.key:`key`, its events exactly, none deleted); then, up to
     --search-budget searches, a seeded sample of: an item by @path.key
     (or no hit when deleted or purged), by its current write id (w:`id`),
     by its random pad word (the analysed text), an overwritten, deleted or
     purged write id of the cycle (no hit), an event by its POST id
     (ev:`id`, no hit when deleted). A 503 (search_index_unavailable while
     the indexer restarts, rebuilds or catches up) is retried for
     --search-deadline s (30), then it is a failure. Not with durability
     none (the index may keep writes the database lost in a crash).

A lost acknowledged write is a failure (or, with --expect-loss, the wanted
outcome: the negative control). Any other anomaly (phantom, duplicate, wrong
value or ref, order, unreadable data, slow recovery, a kill kind that never
happened, a cycle without acknowledged writes, an unexpected status such as
500, a wrong search answer) is a failure in both modes. Worker and maintainer kills have a looser
bound (--max-stall, 6 s): orchidd's failchk can hang there until
failchk_timeout and then recovers; the run reports how often that took more
than 2 s. The first failing cycle stops the run, prints the evidence (seed,
key, acknowledgement, log tails) and keeps the server's directory (database
and logs) under --evidence-dir.

The checker assumes a write to a key takes effect (if at all) before the
writer's next write to it: true for 502 (the worker is dead) and transport
errors after orchidd died; a 504 (nginx's fastcgi_read_timeout, 30 s) could
in principle commit later, which no run has shown.

Usage (from the source tree, after make):

    # the checker's self-test (no server; tests/crash/run.sh runs it first)
    python3 tests/crash/test_checker.py

    # short form, as tests/crash/run.sh runs it (well under a minute)
    python3 tests/crash/crash_test.py --cycles 6 --seconds-per-cycle 4

    # long form (about 25 minutes here: ~1 million acked writes, ~400 kills)
    python3 tests/crash/crash_test.py --cycles 200 --seconds-per-cycle 5 --writers 8

    # only some kinds of kill, more orchidd workers
    python3 tests/crash/crash_test.py --kinds worker,maint --workers 8 --cycles 30

    # negative control: durability=none, only whole-group kills (default
    # with --expect-loss), checkpoint_interval 3600 (likewise), so the commits
    # still in the 1 MiB log buffer in shared memory are discarded by
    # recovery; passes only if an acknowledged write was lost, stops at the
    # first cycle that loses one (in practice always the first)
    python3 tests/crash/crash_test.py --durability none --expect-loss --cycles 5

    # replay a schedule
    python3 tests/crash/crash_test.py --seed 1234 ...

The seed fixes the nemesis schedule (kinds, moments, victims) and the
writers' choices; thread timing is not deterministic. Last line:
"crash: N cycles, N acked writes, N lost, N search checks, N wrong", then
PASS or FAIL (a search check: one document a search must or must not find,
or one total_count). Exit status
0 on success (with --expect-loss: only if something was lost).

Environment: as tests/e2e/harness.py (ORCHIDD, ORCHIDCTL, ORCHID_BUILDDIR,
NGINX, ORCHID_KEEP=1).
"""

import argparse
import concurrent.futures
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import harness  # noqa: E402

ITEM_COLL = "crash-items"
CAS_COLL = "crash-cas"
EVENT_COLL = "crash-events"
PURGE_COLL = "crash-purge"
EVENT_TYPE = "t"
KINDS = ("worker", "maint", "indexer", "master", "group", "recovery")
INDETERMINATE_STATUSES = (502, 503, 504)
BULK_TYPE = "application/orchestrate-export-stream+json"

# What the writers send, as shares of the writes that are not compare-and-set
# (those are --cas-share of all). Event PUT, PATCH and DELETE go to an event
# of the stream whose POST was acknowledged; a stream without one gets a POST.
WRITE_MIX = (
    ("put", 0.32),            # item PUT, a unique value
    ("bulk", 0.06),           # POST /v0: 2 to 5 item PUTs, unique values
    ("delete", 0.08),         # item DELETE: a tombstone if the item is live
    ("patch", 0.08),          # item PATCH: add /w (its own id), inc /n
    ("post", 0.26),           # event POST
    ("event-put", 0.08),      # event PUT at its Location: a new value
    ("event-patch", 0.08),    # event PATCH: inc /n, add /p
    ("event-delete", 0.04),   # event DELETE ?purge=true
    ("purge-put", 0.05),      # item PUT of a key that is purged now and then
    ("purge", 0.03),          # item DELETE ?purge=true: the item and its history gone
)

OP_LABEL = {
    "put": "item PUT", "delete": "item DELETE", "patch": "item PATCH",
    "bulk": "bulk item PUT (POST /v0)",
    "cas": "item PUT (If-Match)", "post": "event POST", "event-put": "event PUT",
    "event-patch": "event PATCH", "event-delete": "event DELETE",
    "purge-put": "item PUT (purged key)", "purge": "item DELETE ?purge=true",
}


def log(msg):
    sys.stdout.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stdout.flush()


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


# ---------------------------------------------------------------------------
# Records of what was written


class Write:
    """One write as the client saw it. ok: acknowledged; refused: answered
    412, or reported failed in a bulk answer (did not happen); absent: an
    event PUT or PATCH answered 404 (the event was not there; did not
    happen); otherwise "maybe"."""

    __slots__ = ("idx", "op", "wid", "value", "patch", "ev", "ok", "ref", "location",
                 "outcome", "absent", "cycle", "t_invoke", "t_done", "thread", "cond",
                 "refused")

    def __init__(self, idx, op, wid, value=None, cycle=0, patch=None, ev=None):
        self.idx = idx          # position in the key's write sequence
        self.op = op            # a key of OP_LABEL
        self.wid = wid          # unique id; value["w"] of a PUT or POST
        self.value = value      # PUT, POST: the body
        self.patch = patch      # PATCH: the operations
        self.ev = ev            # event writes: the wid of the event's POST
        self.ok = False         # acknowledged (201, 204)
        self.ref = None         # ETag of the acknowledgement, unquoted
        self.location = None    # event POST: Location of the 201
        self.outcome = None     # the status, or what made the write "maybe"
        self.absent = False     # event PUT/PATCH answered 404
        self.cycle = cycle
        self.t_invoke = None    # wall clock
        self.t_done = None
        self.thread = None      # conditional writes: the writer thread
        self.cond = None        # conditional writes: If-Match ref, or "*" for If-None-Match: *
        self.refused = False    # conditional writes: answered 412; bulk: reported failed
                                # (must not exist either way)

    @property
    def maybe(self):
        return not (self.ok or self.refused or self.absent)

    def describe(self):
        return ("%s %s (cycle %d, sent %s, answered %s: %s%s%s)" % (
            OP_LABEL.get(self.op, self.op), self.wid, self.cycle, _clock(self.t_invoke),
            _clock(self.t_done), self.outcome or "no answer",
            ", ETag %s" % self.ref if self.ref else "",
            ", Location %s" % self.location if self.location else ""))


def _clock(t):
    if t is None:
        return "?"
    return time.strftime("%H:%M:%S", time.localtime(t)) + ".%03d" % int((t % 1) * 1000)


class EventModel:
    """What the checker knows of one event: where it is (the acknowledged
    Location, or where a check saw it) and the states it may be in as of
    the last check (a set of canonical values, ABSENT for none)."""

    __slots__ = ("location", "states", "acked")

    def __init__(self, location=None, states=None, acked=False):
        self.location = location
        self.states = frozenset([ABSENT]) if states is None else frozenset(states)
        self.acked = acked      # its POST was acknowledged


class KeyLog:
    """Writes of one item or one event stream, in issue order, and what the
    last check verified."""

    def __init__(self, kind, key):
        self.kind = kind        # "item", "cas", "purge" or "event"
        self.key = key
        self.writes = []
        self.checked = 0        # writes before this index were judged by a check
        # items: the history at the last check, [(ref, wid or None, acked)];
        # events: the list at the last check, oldest first, [(8-byte digest, acked)]
        self.verified = []
        self.events = {}        # events: POST wid -> EventModel, in POST order
        self.live = []          # events: POST wids the writer may update or delete
        # what the last check read, for the search checks: items, the
        # newest version (ref, value) or None when there is none or it is a
        # tombstone; events, POST wid -> Listed of the events in the list
        self.current = None if kind != "event" else {}

    @property
    def collection(self):
        return {"item": ITEM_COLL, "cas": CAS_COLL, "purge": PURGE_COLL,
                "event": EVENT_COLL}[self.kind]

    @property
    def path(self):
        if self.kind == "event":
            return "/v0/%s/%s/events/%s" % (EVENT_COLL, self.key, EVENT_TYPE)
        return "/v0/%s/%s" % (self.collection, self.key)

    def accept(self, verdict):
        """Take a check's verdict as the new base of the next check."""
        self.checked = verdict.upto
        self.verified = verdict.verified
        self.current = verdict.current
        if verdict.events is not None:
            self.events = verdict.events


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked = 0
        self.acked_by_op = {}
        self.indeterminate = 0
        self.refused = 0        # conditional writes answered 412, bulk operations failed
        self.absent = 0         # event PUT/PATCH answered 404
        self.unexpected = []

    def add(self, op, ok):
        with self.lock:
            if ok:
                self.acked += 1
                self.acked_by_op[op] = self.acked_by_op.get(op, 0) + 1
            else:
                self.indeterminate += 1


# ---------------------------------------------------------------------------
# Writers


class CasKeys:
    """Items every writer updates with If-Match (a compare-and-set register
    each): deadlocks and 412s under contention, and a chain to check."""

    def __init__(self, n):
        self.keys = [KeyLog("cas", "c%d" % i) for i in range(n)]
        self.lock = threading.Lock()

    def retire(self, cycle, max_versions):
        out = []
        for i, klog in enumerate(self.keys):
            if len(klog.writes) < max_versions:
                continue
            out.append(RetiredKey(klog, cycle))
            base, _, gen = klog.key.partition(".")
            self.keys[i] = KeyLog("cas", "%s.%d" % (base, int(gen or 0) + 1))
        return out


JSON_PATCH = "application/json-patch+json"


class Writer:
    def __init__(self, t, srv, key, runid, seed, items, streams, stats, cas=None,
                 cas_share=0.0, mix=WRITE_MIX, purge_keys=2):
        self.t = t
        self.srv = srv
        self.key = key
        self.runid = runid
        self.rng = random.Random("%s-writer-%d" % (seed, t))
        self.items = [KeyLog("item", "w%d-%d" % (t, i)) for i in range(items)]
        self.streams = [KeyLog("event", "w%d-%d" % (t, i)) for i in range(streams)]
        # items that are PUT and purged (DELETE ?purge=true), in their own
        # collection: a purge takes the whole history away
        self.purge_keys = [KeyLog("purge", "w%d-%d" % (t, i)) for i in range(purge_keys)]
        if not self.purge_keys:
            mix = [(op, share) for op, share in mix if op not in ("purge-put", "purge")]
        self.stats = stats
        self.cas = cas
        self.cas_share = cas_share if cas and cas.keys else 0.0
        self.cas_ref = {}       # key -> the ref this writer believes is current
        total = sum(share for _, share in mix)
        self.mix = []           # (cumulative share, op)
        acc = 0.0
        for op, share in mix:
            if share > 0:
                acc += share / total
                self.mix.append((acc, op))
        self.n = 0
        self.cycle = 0
        self.thread = None
        self.stop = threading.Event()

    def retire(self, cycle, max_versions):
        """Between cycles, after a clean check: keys with max_versions writes
        are no longer written; a fresh key takes their place. Returns them as
        RetiredKeys (the checker keeps reading them)."""
        out = []
        for keys in (self.items, self.streams, self.purge_keys):
            for i, klog in enumerate(keys):
                if len(klog.writes) < max_versions:
                    continue
                out.append(RetiredKey(klog, cycle))
                base, _, gen = klog.key.partition(".")
                keys[i] = KeyLog(klog.kind, "%s.%d" % (base, int(gen or 0) + 1))
        return out

    def start(self, cycle):
        self.cycle = cycle
        self.stop.clear()
        self.thread = threading.Thread(target=self.run, name="writer-%d" % self.t, daemon=True)
        self.thread.start()

    def join(self):
        self.stop.set()
        self.thread.join()

    def run(self):
        try:
            while not self.stop.is_set():
                ok = self.step()
                if ok is None:
                    return
                if not ok:
                    # indeterminate: the server is down or recovering
                    time.sleep(0.02 + self.rng.random() * 0.03)
        except Exception as e:  # noqa: BLE001 - reported by the checker
            self.stats.unexpected.append("writer %d crashed: %r" % (self.t, e))

    def step(self):
        """One write. True: answered (acknowledged, 412 or 404); False:
        "maybe"; None: an unexpected answer (recorded; the thread stops)."""
        if self.rng.random() < self.cas_share:
            return self.put_cas(self.rng.choice(self.cas.keys))
        r = self.rng.random()
        op = next((op for acc, op in self.mix if r < acc), self.mix[-1][1])
        if op == "put":
            return self.put_item(self.rng.choice(self.items))
        if op == "delete":
            return self.delete_item(self.rng.choice(self.items))
        if op == "patch":
            return self.patch_item(self.rng.choice(self.items))
        if op == "bulk":
            return self.bulk_items()
        if op == "purge-put":
            return self.put_item(self.rng.choice(self.purge_keys), "purge-put")
        if op == "purge":
            return self.purge_item(self.rng.choice(self.purge_keys))
        klog = self.rng.choice(self.streams)
        if op == "post" or not klog.live:
            return self.post_event(klog)
        return self.update_event(klog, op, self.rng.choice(klog.live))

    def _new_write(self, klog, op, value=True, ev=None):
        self.n += 1
        wid = "%s.%d.%d" % (self.runid, self.t, self.n)
        body = None
        if value:
            pad = "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(40))
            body = {"w": wid, "k": klog.key, "n": len(klog.writes), "pad": pad,
                    "nested": {"t": self.t, "seq": self.n}}
            if klog.kind == "event":
                body["ev"] = ev or wid
        w = Write(len(klog.writes), op, wid, body, self.cycle, ev=ev)
        klog.writes.append(w)
        return w

    def _send(self, method, path, w, body=None, raw_body=None, headers=None):
        w.t_invoke = time.time()
        try:
            resp = self.srv.request(method, path, key=self.key, body=body,
                                    raw_body=raw_body, headers=headers, timeout=60)
        except (OSError, http.client.HTTPException) as e:
            w.t_done = time.time()
            w.outcome = "transport error %s" % type(e).__name__
            return None
        w.t_done = time.time()
        return resp

    def put_item(self, klog, op="put"):
        w = self._new_write(klog, op)
        resp = self._send("PUT", klog.path, w, body=w.value)
        return self._classify(klog, w, resp, 201, etag=True)

    def delete_item(self, klog):
        w = self._new_write(klog, "delete", value=False)
        resp = self._send("DELETE", klog.path, w)
        return self._classify(klog, w, resp, 204)

    def purge_item(self, klog):
        """DELETE ?purge=true: the item and its whole history are gone (204
        also when there is nothing to purge)."""
        w = self._new_write(klog, "purge", value=False)
        resp = self._send("DELETE", klog.path + "?purge=true", w)
        return self._classify(klog, w, resp, 204)

    def patch_item(self, klog):
        """JSON Patch of the item: add /w (this write's id, so the checker
        finds the version by it) and inc /n; 201 with the ETag. A 404 (the
        item is not live) is a definite "nothing happened"."""
        w = self._new_write(klog, "patch", value=False)
        w.patch = [{"op": "add", "path": "/w", "value": w.wid},
                   {"op": "inc", "path": "/n", "value": 1}]
        resp = self._send("PATCH", klog.path, w, raw_body=json.dumps(w.patch),
                          headers={"Content-Type": JSON_PATCH})
        if resp is not None and resp[0] == 404:
            w.absent = True
            w.outcome = "HTTP 404"
            with self.stats.lock:
                self.stats.absent += 1
            return True
        return self._classify(klog, w, resp, 201, etag=True)

    def bulk_items(self):
        """POST /v0 with 2 to 5 item PUTs on this thread's items (an item may
        come twice: the operations apply in order). Acknowledged: each
        operation a 200 reports "success", with the ref it reports. One
        reported failed did not happen (refused); the operations are valid,
        so only service_unavailable (deadlocks past the retries) may fail.
        No answer, or 502/503/504: all "maybe"."""
        ops = [(klog, self._new_write(klog, "bulk"))
               for klog in (self.rng.choice(self.items)
                            for _ in range(self.rng.randint(2, 5)))]
        body = "".join(json.dumps({"path": {"collection": ITEM_COLL, "key": klog.key},
                                   "value": w.value}, separators=(",", ":")) + "\n"
                       for klog, w in ops)
        t0 = time.time()
        try:
            resp = self.srv.request("POST", "/v0", key=self.key, raw_body=body,
                                    headers={"Content-Type": BULK_TYPE}, timeout=60)
            outcome = "HTTP %d" % resp[0]
        except (OSError, http.client.HTTPException) as e:
            resp, outcome = None, "transport error %s" % type(e).__name__
        for _, w in ops:
            w.t_invoke, w.t_done, w.outcome = t0, time.time(), outcome
        if resp is None or resp[0] in INDETERMINATE_STATUSES:
            for _ in ops:
                self.stats.add("bulk", False)
            return False
        st, h, raw, doc = resp
        results = doc.get("results") if st == 200 and isinstance(doc, dict) else None
        if not isinstance(results, list) or len(results) != len(ops):
            self.stats.unexpected.append("bulk POST /v0 of %d operations answered %d %r" % (
                len(ops), st, raw[:200]))
            return None
        for (klog, w), r in zip(ops, results):
            w.outcome = "HTTP 200, %s" % r.get("status")
            ref = (r.get("item") or {}).get("path", {}).get("ref")
            if r.get("status") == "success" and ref:
                w.ok = True
                w.ref = ref
                self.stats.add("bulk", True)
            elif (r.get("error") or {}).get("code") == "service_unavailable":
                w.refused = True
                with self.stats.lock:
                    self.stats.refused += 1
            else:
                self.stats.unexpected.append("bulk POST /v0: operation %r answered %r "
                                             "(write %s)" % (klog.key, r, w.wid))
                return None
        return True

    def put_cas(self, klog):
        """If-Match PUT with the ref last seen; on 412 or an unknown outcome
        the next attempt reads the current ref first."""
        cur = self.cas_ref.get(klog.key)
        if cur is None:
            try:
                st, h, body, doc = self.srv.request("GET", klog.path, key=self.key, timeout=60)
            except (OSError, http.client.HTTPException):
                return False
            if st == 404:
                cur = "*"
            elif st == 200 and h.get("etag"):
                cur = h["etag"].strip('"')
            elif st in INDETERMINATE_STATUSES:
                return False
            else:
                self.stats.unexpected.append("GET %s answered %d %r" % (klog.path, st, body[:200]))
                return None
        with self.cas.lock:
            self.n += 1
            wid = "%s.%d.%d" % (self.runid, self.t, self.n)
            value = {"w": wid, "k": klog.key, "t": self.t, "if": cur,
                     "pad": "".join(self.rng.choice("abcdefghij") for _ in range(20))}
            w = Write(len(klog.writes), "cas", wid, value, self.cycle)
            w.thread = self.t
            w.cond = cur
            klog.writes.append(w)
        hdr = {"If-None-Match": "*"} if cur == "*" else {"If-Match": '"%s"' % cur}
        resp = self._send("PUT", klog.path, w, body=w.value, headers=hdr)
        self.cas_ref[klog.key] = None
        if resp is not None and resp[0] == 412:
            w.refused = True
            w.outcome = "HTTP 412"
            with self.stats.lock:
                self.stats.refused += 1
            return True
        ok = self._classify(klog, w, resp, 201, etag=True)
        if ok:
            self.cas_ref[klog.key] = w.ref
        return ok

    def post_event(self, klog):
        w = self._new_write(klog, "post")
        w.ev = w.wid
        klog.events[w.wid] = EventModel()
        resp = self._send("POST", klog.path, w, body=w.value)
        ok = self._classify(klog, w, resp, 201, etag=True, location=True)
        if ok:
            klog.events[w.wid].location = w.location
            klog.events[w.wid].acked = True
            klog.live.append(w.wid)
        return ok

    def update_event(self, klog, op, ev):
        """PUT, PATCH or DELETE of the event whose POST was ev."""
        loc = klog.events[ev].location
        if op == "event-put":
            w = self._new_write(klog, op, ev=ev)
            resp = self._send("PUT", loc, w, body=w.value)
        elif op == "event-patch":
            w = self._new_write(klog, op, value=False, ev=ev)
            w.patch = [{"op": "inc", "path": "/n", "value": 1},
                       {"op": "add", "path": "/p", "value": w.wid}]
            resp = self._send("PATCH", loc, w, raw_body=json.dumps(w.patch),
                              headers={"Content-Type": JSON_PATCH})
        else:
            w = self._new_write(klog, op, value=False, ev=ev)
            resp = self._send("DELETE", loc + "?purge=true", w)
            klog.live.remove(ev)
            return self._classify(klog, w, resp, 204)
        if resp is not None and resp[0] == 404:
            # the event is not there: a definite answer (the checker decides
            # whether it may be gone); leave it alone from now on
            w.absent = True
            w.outcome = "HTTP 404"
            klog.live.remove(ev)
            with self.stats.lock:
                self.stats.absent += 1
            return True
        return self._classify(klog, w, resp, 204, etag=True)

    def _classify(self, klog, w, resp, want, etag=False, location=False):
        """True: acknowledged; False: indeterminate; None: protocol error."""
        if resp is None:
            self.stats.add(w.op, False)
            return False
        st, h, body = resp[0], resp[1], resp[2]
        if st in INDETERMINATE_STATUSES:
            w.outcome = "HTTP %d" % st
            self.stats.add(w.op, False)
            return False
        w.outcome = "HTTP %d" % st
        if st != want or (etag and not h.get("etag")) or (location and not h.get("location")):
            self.stats.unexpected.append(
                "%s %s answered %d (ETag %s, Location %s) %r (write %s)" % (
                    OP_LABEL[w.op], klog.path, st, h.get("etag"), h.get("location"),
                    body[:200], w.wid))
            return None
        w.ok = True
        if etag:
            w.ref = h["etag"].strip('"')
        if location:
            w.location = h["location"]
        self.stats.add(w.op, True)
        return True


# ---------------------------------------------------------------------------
# Nemesis


class Nemesis:
    def __init__(self, srv, key, rng, kinds, max_recovery, max_stall, cycles=1):
        self.srv = srv
        self.key = key
        self.rng = rng
        self.kinds = list(kinds)
        self.max_recovery = max_recovery
        self.max_stall = max_stall
        self.cycles = cycles
        # kinds not done yet: the first kills of the run go through them
        self.owed = list(self.kinds)
        rng.shuffle(self.owed)
        self.done = {}          # kind -> kills done
        self.events = []        # (cycle, kind, detail, recovery seconds or None), kills done
        self.skipped = []       # (cycle, kind, why): planned, could not be done
        self.problems = []
        self.restarts = 0

    def ping(self, timeout=3):
        try:
            return self.srv.request("HEAD", "/v0", key=self.key, timeout=timeout)[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    def plan(self, cycle, seconds, expect_loss):
        """Kill moments (offsets in s), kinds and a random pick for one
        cycle. While kinds are owed, at least two kills (more if the cycles
        left would not suffice) and the owed kinds first."""
        if expect_loss:
            # one kill of the group late in the cycle, after a burst of writes
            times = [seconds * self.rng.uniform(0.55, 0.9)]
        else:
            n = self.rng.choice((1, 2, 2, 3))
            if self.owed:
                left = max(1, self.cycles - cycle + 1)
                need = -(-len(self.owed) // left)
                n = max(n, need, min(2, len(self.owed)))
            times = sorted(seconds * self.rng.uniform(0.1, 0.9) for _ in range(n))
        owed = list(self.owed)
        return [(t, owed.pop(0) if owed else self.rng.choice(self.kinds), self.rng.random())
                for t in times]

    def missing(self):
        """Requested kinds that have not happened (yet)."""
        return [k for k in self.kinds if not self.done.get(k)]

    def run_cycle(self, cycle, plan, t0, stop):
        for offset, kind, pick in plan:
            delay = t0 + offset - time.monotonic()
            if delay > 0 and stop.wait(delay):
                return
            self.strike(cycle, kind, pick)

    def _done(self, cycle, kind, detail, rec):
        self.events.append((cycle, kind, detail, rec))
        self.done[kind] = self.done.get(kind, 0) + 1
        if kind in self.owed:
            self.owed.remove(kind)

    def _kill_child(self, role, pick):
        """SIGKILL a running worker (role "workers"), the maintainer or the
        indexer; waits up to max_stall for one to be running (after a
        restart they come up a moment after the master). Returns its pid or
        None."""
        deadline = time.monotonic() + self.max_stall
        while True:
            found = self.srv.orchidd_pids()[role]
            victims = found if role == "workers" else [found] if found else []
            if victims:
                victim = victims[int(pick * len(victims))]
                try:
                    os.kill(victim, signal.SIGKILL)
                    return victim
                except ProcessLookupError:
                    pass        # it exited meanwhile: look again
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    def strike(self, cycle, kind, pick):
        srv = self.srv
        if kind in ("worker", "maint", "indexer"):
            role, name = {"worker": ("workers", "worker"), "maint": ("maintainer", "maintainer"),
                          "indexer": ("indexer", "indexer")}[kind]
            victim = self._kill_child(role, pick)
            if victim is None:
                why = "no %s running for %.0f s" % (name, self.max_stall)
                self.skipped.append((cycle, kind, why))
                if kind not in self.owed:
                    self.owed.append(kind)
                log("cycle %d: %s kill not done (%s); owed to a later kill" % (cycle, kind, why))
                return
            if kind == "indexer":
                # the master starts another one (after failchk): until it
                # has, searches wait or answer 503
                rec = self._wait_ping(time.monotonic(), [victim], self.max_stall, "indexer")
            else:
                rec = self._wait_ping(time.monotonic(), None, self.max_stall)
            self._done(cycle, kind, "pid %d" % victim, rec)
            log("cycle %d: SIGKILL %s %d; ping%s after %.2f s" % (
                cycle, name, victim, " and a new indexer" if kind == "indexer" else "",
                rec or -1))
            return
        pids = srv.orchidd_pids()
        master = srv.orchidd_proc.pid
        old = [p for p in [pids["maintainer"], pids["indexer"]] + pids["workers"] if p]
        t_kill = time.monotonic()
        if kind == "master":
            os.kill(master, signal.SIGKILL)
        else:
            os.killpg(master, signal.SIGKILL)
        srv.orchidd_proc.wait()
        # the normal way: the same command line again, at once
        srv.start_orchidd()
        self.restarts += 1
        detail = "master %d" % master
        if kind == "recovery":
            # and kill that one too, while it locks, recovers or starts
            # its children; then start once more
            time.sleep(pick * 0.5)
            second = srv.orchidd_proc.pid
            pids = srv.orchidd_pids()
            old += [p for p in [pids["maintainer"], pids["indexer"]] + pids["workers"] if p]
            t_kill = time.monotonic()
            os.killpg(second, signal.SIGKILL)
            srv.orchidd_proc.wait()
            srv.start_orchidd()
            self.restarts += 1
            detail = "master %d, then master %d after %.2f s" % (master, second, pick * 0.5)
        rec = self._wait_ping(t_kill, old, self.max_recovery)
        self._done(cycle, kind, detail, rec)
        log("cycle %d: SIGKILL %s (%s); restarted, ping + old processes gone after %.2f s" % (
            cycle, {"master": "master", "group": "group",
                    "recovery": "group, again during recovery"}[kind], detail,
            rec if rec is not None else -1))
        if srv.orchidd_proc.poll() is not None:
            self.problems.append("cycle %d: the restarted orchidd exited with %s" % (
                cycle, srv.orchidd_proc.returncode))

    def _wait_ping(self, t_start, old_pids, allowed, role=None):
        """Seconds from t_start until a ping is answered (and, after a
        restart, no process of the old generation is left; with role, a
        process of that role of orchidd_pids() is running again); a problem
        if that takes longer than allowed; None if nothing answers within
        60 s."""
        limit = max(allowed, 60.0)
        while True:
            elapsed = time.monotonic() - t_start
            old_alive = [p for p in (old_pids or []) if pid_alive(p)]
            back = role is None or self.srv.orchidd_pids()[role]
            if not old_alive and back and self.ping():
                elapsed = time.monotonic() - t_start
                if elapsed > allowed:
                    self.problems.append("no ping answered%s for %.2f s after a kill (limit "
                                         "%.1f s)" % ("" if role is None else " or no %s "
                                                      "running" % role, elapsed, allowed))
                return elapsed
            if elapsed > limit:
                self.problems.append("no ping within %.0f s (old processes alive: %s%s)" % (
                    limit, old_alive, "" if back else "; no %s running" % role))
                return None
            time.sleep(0.02)


# ---------------------------------------------------------------------------
# The model and the judges: pure functions of the write log (KeyLog, Write)
# and what the server returned. No I/O here: tests/crash/test_checker.py
# drives exactly these functions with synthetic histories.

ABSENT = None           # the state of an event that does not exist
_NO = object()          # a write that cannot apply to a state


def canon(value):
    """The compact JSON text of a value as orchidd stores it (json-c keeps
    member order; the values of this test are ASCII without '/', which
    json-c would escape)."""
    return json.dumps(value, separators=(",", ":"))


def text_ref(text):
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def value_ref(value):
    """docs/api.md: the ref is the first 8 bytes of SHA-256 of the stored
    value; a tombstone's is that of null."""
    return text_ref(canon(value))


TOMBSTONE_REF = value_ref(None)


def apply_patch(value, ops):
    """value after the JSON Patch ops, as orchidd applies them, for the
    operations this test sends (add, replace, remove, inc of top-level
    members); None when one cannot apply (orchidd answers 409 and changes
    nothing)."""
    if not isinstance(value, dict):
        return None
    out = dict(value)
    for op in ops:
        name = op["path"][1:] if op["path"].startswith("/") else op["path"]
        if "/" in name or "." in name:
            raise ValueError("apply_patch models top-level members only: %r" % op)
        kind = op["op"]
        if kind == "add":
            out[name] = op["value"]
        elif kind in ("replace", "remove"):
            if name not in out:
                return None
            if kind == "remove":
                del out[name]
            else:
                out[name] = op["value"]
        elif kind == "inc":
            cur = out.get(name)
            if not isinstance(cur, int) or isinstance(cur, bool):
                return None
            out[name] = cur + op.get("value", 1)
        else:
            raise ValueError("apply_patch does not model %r" % kind)
    return out


def event_digest(ts, ordinal, ref, wid):
    return hashlib.sha256(("%s/%s/%s/%s" % (ts, ordinal, ref, wid)).encode()).digest()[:8]


def _ref_bytes(ref):
    try:
        return bytes.fromhex(ref or "")
    except ValueError:
        return hashlib.sha256(str(ref).encode()).digest()[:8]


def _wid(value):
    return value.get("w") if isinstance(value, dict) else None


class Verdict:
    """A judge's result: what was lost, other anomalies, and the new base
    for the next check (KeyLog.accept)."""

    def __init__(self, upto):
        self.upto = upto        # writes judged (all there were)
        self.lost = []
        self.anomalies = []
        self.verified = []
        self.events = None
        self.to_read = []       # events: (POST wid, Location, the listed entry or None)
        self.current = None     # KeyLog.current after this check


# -- items ------------------------------------------------------------------

def judge_item(klog, entries):
    """The history of an item or compare-and-set item, read after the
    writers stopped: entries oldest first, (ref, value, tombstone)."""
    v = Verdict(len(klog.writes))
    path = klog.path
    writes = klog.writes[:v.upto]
    for pos, (ref, value, tomb) in enumerate(entries):
        want = TOMBSTONE_REF if tomb else value_ref(value)
        if ref != want:
            v.anomalies.append("%s: version #%d has ref %s, but the ref of its %s is %s" % (
                path, pos + 1, ref, "tombstone" if tomb else "value %r" % (value,), want))
    # what the last check verified is still there, unchanged
    prev = klog.verified
    cur = [(ref, None if tomb else _wid(value)) for ref, value, tomb in entries]
    if [(r, w) for r, w, _ in prev] != cur[:len(prev)]:
        now = set(cur)
        gone = [(n, r, w, a) for n, (r, w, a) in enumerate(prev) if (r, w) not in now]
        for n, r, w, a in gone:
            v.lost.append("%s: version #%d (%s, ref %s, %s) was read back by an earlier "
                          "check and is gone now" % (
                              path, n + 1, "write %s" % w if w else "tombstone", r,
                              "acknowledged" if a else "a \"maybe\" write"))
        if not gone:
            v.anomalies.append("%s: the history verified by the last check (%d versions) "
                               "changed: now %r" % (path, len(prev), cur[:len(prev) + 3]))
        v.verified = prev
        return v
    new = entries[len(prev):]
    if klog.kind == "cas":
        acked = _judge_cas(path, writes, klog.checked, entries[:len(prev)], new, v)
    else:
        live = bool(prev) and prev[-1][1] is not None
        last_value = entries[len(prev) - 1][1] if live else None
        acked = _judge_sequence(path, writes, klog.checked, live, last_value, len(prev),
                                new, v)
    v.verified = list(prev) + [(ref, None if tomb else _wid(value), a)
                               for (ref, value, tomb), a in zip(new, acked)]
    v.current = _current(entries)
    return v


def _current(entries):
    """The newest version (ref, value) of an item's history, or None when
    there is none or it is a tombstone."""
    if not entries or entries[-1][2]:
        return None
    return (entries[-1][0], entries[-1][1])


def _judge_sequence(path, writes, start, live, last_value, npos, new, v):
    """Versions after the verified prefix against the writes issued since
    the last check (writes[start:]), one thread's, in issue order. live: the
    item had a live version (last_value) at the end of the prefix. Returns
    per new version whether its write was acknowledged."""
    by_wid = {w.wid: w for w in writes[start:] if w.op in ("put", "bulk", "patch")}
    old = {w.wid for w in writes[:start]}
    in_history = {_wid(value) for _, value, tomb in new if not tomb}
    acked = []
    used = set()
    i = start

    def skip(segment, live):
        # writes that did not happen: each must be a "maybe" one or a no-op
        for w in segment:
            if w.op == "delete":
                if w.ok and live:
                    v.lost.append("%s: acknowledged %s is missing: the item was live "
                                  "before it and no tombstone follows" % (path, w.describe()))
            elif w.ok and w.wid not in in_history:
                v.lost.append("%s: acknowledged %s is missing from /refs" % (
                    path, w.describe()))

    for n, (ref, value, tomb) in enumerate(new):
        pos = npos + n + 1
        if tomb:
            j = next((k for k in range(i, len(writes)) if writes[k].op == "delete"), None)
            if not live or j is None:
                v.anomalies.append("%s: phantom tombstone #%d: %s" % (
                    path, pos, "the item was not live before it" if not live
                    else "no DELETE was sent after the version before it"))
                acked.append(False)
                continue
            skip(writes[i:j], live)
            acked.append(writes[j].ok)
            i = j + 1
            live, last_value = False, None
            continue
        wid = _wid(value)
        w = by_wid.get(wid)
        acked.append(bool(w and w.ok))
        if w is None:
            v.anomalies.append("%s: %s version #%d ref %s value %r" % (
                path, "a write resolved by an earlier check appears in" if wid in old
                else "phantom", pos, ref, value))
            continue
        if wid in used:
            v.anomalies.append("%s: write %s appears twice in the history" % (path, wid))
            continue
        used.add(wid)
        if w.refused:
            v.anomalies.append("%s: %s was reported failed but is in the history" % (
                path, w.describe()))
        if w.idx < i:
            v.anomalies.append("%s: write %s is out of order in the history (version #%d)" % (
                path, wid, pos))
        else:
            skip(writes[i:w.idx], live)
            i = w.idx + 1
        want = w.value if w.op in ("put", "bulk") else (
            apply_patch(last_value, w.patch) if live else None)
        if want is None:
            v.anomalies.append("%s: %s (version #%d) applied to a deleted item" % (
                path, w.describe(), pos))
        elif value != want:
            v.anomalies.append("%s: version of %s has value %r, written %r" % (
                path, wid, value, want))
        if w.ok and ref != w.ref:
            v.anomalies.append("%s: version of %s has ref %s, acknowledged %s" % (
                path, wid, ref, w.ref))
        live, last_value = True, value
    skip(writes[i:], live)
    return acked


def _judge_cas(path, writes, start, prefix, new, v):
    """Compare-and-set items: issue order is known per thread only; each
    version follows the one its If-Match named; a 412 did not happen."""
    by_wid = {w.wid: w for w in writes}
    old = {w.wid for w in writes[:start]}
    last_by_thread = {}
    for _, value, _ in prefix:
        w = by_wid.get(_wid(value))
        if w is not None:
            last_by_thread[w.thread] = max(last_by_thread.get(w.thread, -1), w.idx)
    prev_ref = prefix[-1][0] if prefix else "*"
    seen = set()
    acked = []
    for n, (ref, value, tomb) in enumerate(new):
        pos = len(prefix) + n + 1
        wid = _wid(value)
        w = by_wid.get(wid)
        acked.append(bool(w and w.ok))
        if tomb or w is None or wid in old:
            v.anomalies.append("%s: %s version #%d ref %s value %r" % (
                path, "a write resolved by an earlier check appears in" if wid in old
                else "phantom", pos, ref, value))
            prev_ref = ref
            continue
        if wid in seen:
            v.anomalies.append("%s: write %s appears twice in the history" % (path, wid))
            continue
        seen.add(wid)
        if value != w.value:
            v.anomalies.append("%s: version of %s has value %r, written %r" % (
                path, wid, value, w.value))
        if w.ok and ref != w.ref:
            v.anomalies.append("%s: version of %s has ref %s, acknowledged %s" % (
                path, wid, ref, w.ref))
        if w.refused:
            v.anomalies.append("%s: write %s was refused with 412 but exists" % (path, wid))
        if w.cond != prev_ref:
            v.anomalies.append("%s: write %s (If-%s %s) follows %s: compare-and-set "
                               "violated" % (path, wid,
                                             "None-Match" if w.cond == "*" else "Match",
                                             w.cond, prev_ref))
        if w.idx <= last_by_thread.get(w.thread, -1):
            v.anomalies.append("%s: write %s is out of order in the history" % (path, wid))
        last_by_thread[w.thread] = w.idx
        prev_ref = ref
    for w in writes[start:]:
        if w.ok and w.wid not in seen:
            v.lost.append("%s: acknowledged %s is missing from /refs" % (path, w.describe()))
    return acked


def judge_purge_item(klog, entries):
    """The history of an item that is only PUT ("purge-put") and purged
    (DELETE ?purge=true, which removes every version): entries oldest first,
    (ref, value, tombstone). What is there must be the versions of the PUTs
    after the last purge that happened, in issue order, each with its exact
    value and acknowledged ref. So: no purge issued after the first version
    there happened (an acknowledged one is lost: the versions before it must
    be gone); an acknowledged PUT is there unless a purge issued after it and
    before the first version there may have removed it; the versions the last
    check read are all still there, or all gone after a purge issued since."""
    v = Verdict(len(klog.writes))
    path = klog.path
    writes = klog.writes[:v.upto]
    start = klog.checked
    by_wid = {w.wid: w for w in writes if w.op == "purge-put"}
    purges = [w for w in writes[start:] if w.op == "purge"]
    for pos, (ref, value, tomb) in enumerate(entries):
        if tomb:
            v.anomalies.append("%s: version #%d is a tombstone, but no DELETE without purge "
                               "was sent" % (path, pos + 1))
        elif ref != value_ref(value):
            v.anomalies.append("%s: version #%d has ref %s, but the ref of its value %r is %s"
                               % (path, pos + 1, ref, value, value_ref(value)))
    prev = klog.verified
    cur = [(ref, None if tomb else _wid(value)) for ref, value, tomb in entries]
    prev_pairs = [(r, w) for r, w, _ in prev]
    kept = bool(prev) and cur[:len(prev)] == prev_pairs
    if prev and not kept:
        if set(cur) & set(prev_pairs):
            v.anomalies.append("%s: the history verified by the last check (%d versions) "
                               "changed: now %r" % (path, len(prev), cur[:len(prev) + 3]))
            v.verified = prev
            v.current = klog.current
            return v
    new = entries[len(prev):] if kept else entries
    # the write of the oldest version there: no purge after it happened
    if kept:
        first = by_wid[prev[0][1]].idx if prev[0][1] in by_wid else -1
    else:
        first = None
    acked = []
    last_idx = -1
    used = set()
    for n, (ref, value, tomb) in enumerate(new):
        pos = len(entries) - len(new) + n + 1
        wid = _wid(value)
        w = by_wid.get(wid)
        acked.append(bool(w and w.ok))
        if tomb:
            continue
        if w is None or w.idx < start:
            v.anomalies.append("%s: %s version #%d ref %s value %r" % (
                path, "a write resolved by an earlier check appears in" if w else "phantom",
                pos, ref, value))
            continue
        if wid in used:
            v.anomalies.append("%s: write %s appears twice in the history" % (path, wid))
            continue
        used.add(wid)
        if first is None:
            first = w.idx
        if w.idx < last_idx:
            v.anomalies.append("%s: write %s is out of order in the history (version #%d)" % (
                path, wid, pos))
        last_idx = max(last_idx, w.idx)
        if value != w.value:
            v.anomalies.append("%s: version of %s has value %r, written %r" % (
                path, wid, value, w.value))
        if w.ok and ref != w.ref:
            v.anomalies.append("%s: version of %s has ref %s, acknowledged %s" % (
                path, wid, ref, w.ref))
    if first is None:
        first = len(writes)     # nothing there: any purge may have happened
    if prev and not kept and not any(p.idx < first for p in purges):
        for n, (r, w, a) in enumerate(prev):
            v.lost.append("%s: version #%d (write %s, ref %s, %s) was read back by an "
                          "earlier check and is gone, but no purge was sent since that "
                          "could have removed it" % (
                              path, n + 1, w, r, "acknowledged" if a else "a \"maybe\" write"))
    for p in purges:
        if p.ok and p.idx > first:
            v.lost.append("%s: acknowledged %s is undone: the version of %s, written before "
                          "it, is still there" % (path, p.describe(), writes[first].wid))
    for w in writes[start:]:
        if w.op == "purge-put" and w.ok and w.wid not in used and not any(
                w.idx < p.idx < first for p in purges):
            v.lost.append("%s: acknowledged %s is missing from /refs (no purge was sent "
                          "between it and %s)" % (
                              path, w.describe(), "the end" if first == len(writes)
                              else "version %s" % writes[first].wid))
    v.verified = (list(prev) if kept else []) + [
        (ref, None if tomb else _wid(value), a) for (ref, value, tomb), a in zip(new, acked)]
    v.current = _current(entries)
    return v


def judge_item_get(path, entries, resp):
    """GET of the item: the newest version with its ref as ETag, or 404
    when there is none or it is a tombstone. entries as judge_item's (a
    value of None is not compared)."""
    st, h, body, doc = resp
    if not entries or entries[-1][2]:
        if st != 404:
            return ["%s: %s, but GET answered %d %r" % (
                path, "the newest version is a tombstone" if entries else "no history",
                st, body[:200])]
        return []
    if st != 200:
        return ["%s: GET answered %d %r, the newest version is %s" % (
            path, st, body[:200], entries[-1][0])]
    ref, value, _ = entries[-1]
    etag = (h.get("etag") or "").strip('"')
    if etag != ref or (value is not None and doc != value):
        return ["%s: GET gives ETag %s %r, the newest version is %s %r" % (
            path, etag, doc, ref, value)]
    return []


# -- events -----------------------------------------------------------------

def _event_effect(state, w):
    """The state after write w applied to state, or _NO."""
    if w.op == "post":
        return canon(w.value) if state is ABSENT else _NO
    if w.op == "event-delete":
        return ABSENT
    if state is ABSENT:
        return _NO              # PUT or PATCH of a missing event: 404
    if w.op == "event-put":
        return canon(w.value)
    if w.op == "event-patch":
        out = apply_patch(json.loads(state), w.patch)
        return _NO if out is None else canon(out)
    raise ValueError("not an event write: %r" % w.op)


def event_states(start, ops, strict=True):
    """The states an event can be in after ops (its writes in issue order)
    from any of start. strict: acknowledged writes happened (their ETag
    naming the result); otherwise every write may or may not have happened,
    which is what a loss of acknowledged writes could leave."""
    states = set(start)
    for w in ops:
        if w.absent:            # answered 404: it was not there then
            states = {s for s in states if s is ABSENT} if strict else {ABSENT}
            continue
        if w.refused:
            continue
        after = set()
        for s in states:
            r = _event_effect(s, w)
            if r is _NO:
                continue
            if w.ok and w.ref is not None and (r is ABSENT or text_ref(r) != w.ref):
                continue        # the acknowledgement names another result
            after.add(r)
        states = after if (w.ok and strict) else states | after
    return states


class Listed:
    """One event as the list showed it."""

    __slots__ = ("location", "ts", "ordinal", "ref", "value")

    def __init__(self, location, ts, ordinal, ref, value):
        self.location = location
        self.ts = ts
        self.ordinal = ordinal
        self.ref = ref
        self.value = value


def _show_state(s):
    return "absent" if s is ABSENT else s


def judge_events(klog, listed, final):
    """The list of an event stream (newest first, as the server pages it)
    against the writes. Returns a Verdict whose to_read names the events to
    read at their Location (written since the last check; all when final)."""
    v = Verdict(len(klog.writes))
    path = klog.path
    ops = {}
    for w in klog.writes[klog.checked:v.upto]:
        ops.setdefault(w.ev, []).append(w)
    seen = {}
    prev_pos = None
    for e in listed:
        p = e.get("path") if isinstance(e, dict) and isinstance(e.get("path"), dict) else {}
        ts, o, ref = p.get("timestamp"), p.get("ordinal"), p.get("ref")
        value = e.get("value") if isinstance(e, dict) else None
        loc = "%s/%s/%s" % (path, ts, o)
        if not (isinstance(ts, int) and isinstance(o, int)):
            v.anomalies.append("%s: listed event without a timestamp and ordinal: %r" % (path, e))
            continue
        if prev_pos is not None and (ts, o) >= prev_pos:
            v.anomalies.append("%s: the list is out of order: %s/%s after %s/%s (newest "
                               "first)" % (path, ts, o, prev_pos[0], prev_pos[1]))
        prev_pos = (ts, o)
        evw = value.get("ev") if isinstance(value, dict) else None
        model = klog.events.get(evw)
        if model is None:
            v.anomalies.append("%s: phantom event %s ref %s value %r" % (path, loc, ref, value))
            continue
        if evw in seen:
            v.anomalies.append("%s: event %s appears twice in the list (%s and %s)" % (
                path, evw, seen[evw].location, loc))
            continue
        if ref != value_ref(value):
            v.anomalies.append("%s: event %s has ref %s, but the ref of its value %r is %s" % (
                path, loc, ref, value, value_ref(value)))
        if model.location and loc != model.location:
            v.anomalies.append("%s: event %s is at %s, %s %s" % (
                path, evw, loc, "acknowledged at" if model.acked else "was at",
                model.location))
        seen[evw] = Listed(loc, ts, o, ref, value)
    # each event's state, and the ordinals in the order of the POSTs
    events = {}
    last = None
    for evw, model in klog.events.items():
        got = seen.get(evw)
        obs = canon(got.value) if got else ABSENT
        wops = ops.get(evw, [])
        if obs not in event_states(model.states, wops):
            history = "; ".join(w.describe() for w in wops) or "no write since"
            if not any(w.op == "post" for w in wops):
                history += "; the last check saw it %s" % " or ".join(
                    sorted(_show_state(s) for s in model.states))
            if obs in event_states(model.states, wops, strict=False) or obs is ABSENT:
                v.lost.append("%s: event %s is %s after: %s" % (
                    path, evw, "gone" if obs is ABSENT else "%s with %s" % (got.location, obs),
                    history))
            else:
                v.anomalies.append("%s: event %s is %s with %s, which its writes cannot "
                                   "give: %s" % (path, evw, got.location, obs, history))
        if got:
            if last is not None and got.ordinal <= last[1]:
                v.anomalies.append("%s: ordinal of %s (%s) is not above that of %s (%s), "
                                   "POSTed before it" % (path, evw, got.ordinal, last[0],
                                                         last[1]))
            last = (evw, got.ordinal)
        loc = got.location if got else model.location
        events[evw] = EventModel(loc, [obs], model.acked)
        if loc and (final or wops):
            v.to_read.append((evw, loc, got))
    v.events = events
    v.current = dict(seen)
    v.verified = []
    for got in sorted(seen.values(), key=lambda g: (g.ts, g.ordinal)):
        v.verified.append((event_digest(got.ts, got.ordinal, got.ref, _wid(got.value)),
                           klog.events[got.value["ev"]].acked))
    return v


def judge_event_read(path, evw, loc, listed, resp):
    """GET at an event's Location after the list: the same event (ETag,
    ref, value), or 404 when the list does not have it. Returns (lost,
    anomalies)."""
    st, h, body, doc = resp
    if listed is None:
        if st != 404:
            return [], ["%s: event %s is not in the list, but %s answers %d %r" % (
                path, evw, loc, st, body[:200])]
        return [], []
    if st == 404:
        return ["%s: event %s is in the list, but %s answers 404" % (path, evw, loc)], []
    etag = (h.get("etag") or "").strip('"')
    p = doc.get("path") if isinstance(doc, dict) and isinstance(doc.get("path"), dict) else {}
    value = doc.get("value") if isinstance(doc, dict) else None
    if (st != 200 or etag != listed.ref or p.get("ref") != listed.ref or value != listed.value
            or (p.get("timestamp"), p.get("ordinal")) != (listed.ts, listed.ordinal)):
        return [], ["%s: event %s at %s: HTTP %d ETag %s %r; the list has ref %s value %r" % (
            path, evw, loc, st, etag, doc, listed.ref, listed.value)]
    return [], []


# -- retired keys -------------------------------------------------------------

class RetiredKey:
    """A key no longer written: its verified history, compactly (8 bytes per
    version or event, oldest first) with a flag per entry: acknowledged or
    only observed. From then on it must read back exactly like this."""

    def __init__(self, klog, cycle):
        self.kind = klog.kind
        self.key = klog.key
        self.path = klog.path
        self.collection = klog.collection
        if klog.kind == "event":
            digests = [d for d, _ in klog.verified]
            acked = [a for _, a in klog.verified]
        else:
            digests = [_ref_bytes(r) for r, _, _ in klog.verified]
            acked = [a for _, _, a in klog.verified]
        self.expected = b"".join(digests)
        self.acked = bytes(1 if a else 0 for a in acked)
        self.count = len(digests)
        self.cycle = cycle
        last = klog.verified[-1] if klog.verified and klog.kind != "event" else None
        self.last = (last[0], None, last[1] is None) if last else None


def retired_digests(kind, entries=None, listed=None):
    """What judge_retired compares: items from (ref, value, tombstone)
    entries oldest first, events from the list newest first."""
    if kind != "event":
        return [_ref_bytes(ref) for ref, _, _ in entries]
    got = []
    for ev in reversed(listed):
        p = ev.get("path", {}) if isinstance(ev, dict) else {}
        got.append(event_digest(p.get("timestamp"), p.get("ordinal"), p.get("ref"),
                                _wid(ev.get("value") if isinstance(ev, dict) else None)))
    return got


def judge_retired(rk, got, resp=None):
    """A retired key against its digests; resp: GET of an item."""
    lost, anomalies = [], []
    want = [rk.expected[i * 8:(i + 1) * 8] for i in range(rk.count)]
    if got != want:
        got_set, want_set = set(got), set(want)
        for i, d in enumerate(want):
            if d not in got_set:
                lost.append("%s (retired in cycle %d): %s #%d (%s) is gone" % (
                    rk.path, rk.cycle,
                    "acknowledged write" if rk.acked[i] else "observed \"maybe\" write",
                    i + 1, d.hex()))
        extra = [d.hex() for d in got if d not in want_set]
        if extra:
            anomalies.append("%s (retired in cycle %d, no longer written): %d entries "
                             "appeared: %s" % (rk.path, rk.cycle, len(extra), extra[:5]))
        if not extra and not lost:
            anomalies.append("%s (retired in cycle %d): the entries changed order or "
                             "count" % (rk.path, rk.cycle))
    if rk.kind != "event" and resp is not None:
        anomalies += judge_item_get(rk.path, [rk.last] if rk.last else [], resp)
    return lost, anomalies


# -- search ------------------------------------------------------------------
#
# After a clean check the model knows, for every key, what the server holds
# now (the writers have stopped): an item's newest version (ref, value) or
# that it has none (tombstone, purged), and every event of every current
# stream. The index must agree exactly (docs/storage.md "Search: outbox,
# indexer and consistency": a write whose 2xx arrived before the search was
# sent is found; deleted and purged ones are not). search_probes() turns the
# model into searches, each with the documents it must find (and their ref
# and value) and the documents it must not; judge_search() compares one
# answer with that.

class Probe:
    """One search and what it must return. want: id -> (ref, value or None,
    what) for the documents it must find, and nothing else (total_count =
    len(want)); gone: id -> why, documents that would be stale or purged
    hits (named in the report). count: only total_count is compared, with
    this number (limit=0). Ids: items (collection, key), events
    (collection, key, timestamp, ordinal)."""

    __slots__ = ("label", "coll", "query", "want", "gone", "count")

    def __init__(self, label, coll, query, want=None, gone=None, count=None):
        self.label = label
        self.coll = coll
        self.query = query
        self.want = want or {}
        self.gone = gone or {}
        self.count = count

    def checks(self):
        """How many search checks this probe makes: one per document that
        must or must not be found, one for total_count."""
        return 1 if self.count is not None else len(self.want) + len(self.gone) + 1


def hit_id(hit):
    """The id of a search result (see Probe), or None when its path is not
    one of an item or an event."""
    p = hit.get("path") if isinstance(hit, dict) and isinstance(hit.get("path"), dict) else {}
    if p.get("kind") == "item":
        return (p.get("collection"), p.get("key"))
    if p.get("kind") == "event" and p.get("type") == EVENT_TYPE:
        return (p.get("collection"), p.get("key"), p.get("timestamp"), p.get("ordinal"))
    return None


def _show_id(ident):
    if len(ident) == 2:
        return "item %s/%s" % ident
    return "event %s/%s/events/%s/%s/%s" % (ident[0], ident[1], EVENT_TYPE, ident[2], ident[3])


def judge_search(probe, hits, total):
    """An answer to probe: hits (all pages; None for a count probe) and
    total_count. Returns the problems (strings)."""
    where = "search %s (GET /v0/%s?query=%s)" % (probe.label, probe.coll, probe.query)
    out = []
    if probe.count is not None:
        if total != probe.count:
            out.append("%s: total_count %r, the model has %d" % (where, total, probe.count))
        return out
    seen = {}
    for hit in hits:
        ident = hit_id(hit)
        if ident is None:
            out.append("%s: a result that is no item or event of this test: %r" % (
                where, hit))
            continue
        p = hit["path"]
        if ident in seen:
            out.append("%s: %s is found twice" % (where, _show_id(ident)))
            continue
        seen[ident] = hit
        if ident in probe.want:
            ref, value, what = probe.want[ident]
            if p.get("ref") != ref:
                out.append("%s: %s is found with ref %s, but its current version is %s (%s)"
                           % (where, _show_id(ident), p.get("ref"), ref, what))
            elif value is not None and hit.get("value") != value:
                out.append("%s: %s is found with ref %s and value %r, but that version's "
                           "value is %r" % (where, _show_id(ident), ref, hit.get("value"),
                                            value))
        elif ident in probe.gone:
            out.append("%s: %s is found (ref %s), but %s" % (
                where, _show_id(ident), p.get("ref"), probe.gone[ident]))
        else:
            out.append("%s: %s is found (ref %s), which the model does not have" % (
                where, _show_id(ident), p.get("ref")))
    for ident, (ref, value, what) in sorted(probe.want.items(), key=lambda kv: str(kv[0])):
        if ident not in seen:
            out.append("%s: %s is not found; its current version is %s (%s)" % (
                where, _show_id(ident), ref, what))
    if total != len(probe.want):
        out.append("%s: total_count %r, the model has %d" % (where, total, len(probe.want)))
    return out


def backticked(text):
    return "`%s`" % text


def _item_state(klog):
    """(want entry or None, why it is gone or None) of an item key."""
    if klog.current is not None:
        ref, value = klog.current
        last = klog.verified[-1] if klog.verified else (ref, _wid(value), False)
        return (ref, value, "%s write %s" % (
            "acknowledged" if last[2] else "\"maybe\"", last[1])), None
    if klog.verified:
        return None, "its newest version is a tombstone"
    if any(w.op == "purge" for w in klog.writes):
        return None, "it was purged"
    if klog.writes:
        return None, "it has no version"
    return None, None


def search_probes(writers, cas, retired, cycle, budget, rng):
    """The searches of one check: the model (KeyLogs after a clean check,
    retired keys) as Probes. Every cycle: each item collection listed with
    `*` (all its live items, each with its current ref and value, nothing
    deleted or purged), the number of events, and each stream written this
    cycle with @path.kind:event AND @path.key (its events exactly). Then, up
    to budget in all, a seeded sample of: an item key by @path.key
    (found with its current ref, or not at all when deleted or purged), by
    its current write id (w:`id`), by its random pad word (the analysed
    text); a write id of this cycle that is no longer current (overwritten,
    deleted or purged: no hit); an event written this cycle by its POST id
    (ev:`id`; none when it was deleted)."""
    items = [k for wr in writers for k in wr.items + wr.purge_keys] + list(cas.keys if cas else [])
    streams = [k for wr in writers for k in wr.streams]
    probes = []
    for coll in (ITEM_COLL, CAS_COLL, PURGE_COLL):
        want, gone = {}, {}
        for klog in items:
            if klog.collection != coll:
                continue
            entry, why = _item_state(klog)
            if entry:
                want[(coll, klog.key)] = entry
            elif why:
                gone[(coll, klog.key)] = why
        for rk in retired:
            if rk.kind == "event" or rk.collection != coll:
                continue
            if rk.last and not rk.last[2]:
                want[(coll, rk.key)] = (rk.last[0], None, "retired in cycle %d" % rk.cycle)
            elif rk.count or rk.kind == "purge":
                gone[(coll, rk.key)] = "it was %s when retired in cycle %d" % (
                    "deleted" if rk.count else "purged", rk.cycle)
        if want or gone:
            probes.append(Probe("of every item", coll, "*", want, gone))
    nevents = sum(len(k.current) for k in streams) + sum(
        rk.count for rk in retired if rk.kind == "event")
    probes.append(Probe("of every event", EVENT_COLL, "@path.kind:event", count=nevents))

    def event_id(klog, got):
        return (EVENT_COLL, klog.key, got.ts, got.ordinal)

    def event_entry(klog, evw, got):
        return (got.ref, got.value, "event POSTed by %s write %s" % (
            "acknowledged" if klog.events[evw].acked else "\"maybe\"", evw))

    def deleted_events(klog):
        """Events of the stream deleted this cycle, with a known position."""
        out = {}
        for w in klog.writes:
            if w.cycle != cycle or w.op != "event-delete" or w.ev in klog.current:
                continue
            loc = klog.events[w.ev].location
            if loc:
                ts, o = loc.rsplit("/", 2)[1:]
                out[w.ev] = ((EVENT_COLL, klog.key, int(ts), int(o)),
                             "it was deleted (%s)" % w.describe())
        return out

    for klog in streams:
        if not any(w.cycle == cycle for w in klog.writes):
            continue
        want = {event_id(klog, got): event_entry(klog, evw, got)
                for evw, got in klog.current.items()}
        gone = dict(deleted_events(klog).values())
        probes.append(Probe("of the events of %s" % klog.key, EVENT_COLL,
                            "@path.kind:event AND @path.key:%s" % backticked(klog.key),
                            want, gone))
    optional = []
    for klog in items:
        if not klog.writes:
            continue
        coll, ident = klog.collection, (klog.collection, klog.key)
        entry, why = _item_state(klog)
        want = {ident: entry} if entry else {}
        gone = {ident: why} if why else {}
        optional.append(Probe("of item %s by key" % klog.key, coll,
                              "@path.key:%s" % backticked(klog.key), want, gone))
        if entry:
            value = entry[1]
            optional.append(Probe("of item %s by its write id" % klog.key, coll,
                                  "w:%s" % backticked(value["w"]), want))
            if isinstance(value.get("pad"), str) and value["pad"].isalpha():
                optional.append(Probe("of item %s by its pad word" % klog.key, coll,
                                      value["pad"], want))
        cur_wid = entry[1]["w"] if entry else None
        dead = [w for w in klog.writes if w.cycle == cycle and w.wid != cur_wid
                and w.op in ("put", "bulk", "patch", "cas", "purge-put")]
        for w in rng.sample(dead, min(2, len(dead))):
            optional.append(Probe("of item %s by an old write id" % klog.key, coll,
                                  "w:%s" % backticked(w.wid), {},
                                  {ident: "write %s is no longer its current version "
                                   "(%s)" % (w.wid, w.describe())}))
    for klog in streams:
        deleted = deleted_events(klog)
        for evw in sorted({w.ev for w in klog.writes if w.cycle == cycle}):
            query = "@path.kind:event AND ev:%s" % backticked(evw)
            got = klog.current.get(evw)
            if got:
                optional.append(Probe("of event %s" % evw, EVENT_COLL, query,
                                      {event_id(klog, got): event_entry(klog, evw, got)}))
            elif evw in deleted:
                optional.append(Probe("of event %s" % evw, EVENT_COLL, query, {},
                                      dict([deleted[evw]])))
    room = max(0, budget - len(probes))
    if len(optional) > room:
        optional = rng.sample(optional, room)
    return probes + optional


# ---------------------------------------------------------------------------
# Checker: reads what the server has and hands it to the judges


class Unreadable(Exception):
    pass


class SearchFailed(Exception):
    pass


class Checker:
    def __init__(self, srv, key, read_deadline, search_deadline=30.0):
        self.srv = srv
        self.key = key
        self.read_deadline = read_deadline
        self.search_deadline = search_deadline
        self.lock = threading.Lock()
        self.searches = 0       # searches answered 200
        self.unavailable = 0    # answers 503 (retried)
        self.search_wait = 0.0  # the longest wait for a search's 200, in s

    def read(self, path):
        """GET with retries of 502/503/504 and transport errors."""
        deadline = time.monotonic() + self.read_deadline
        last = None
        while True:
            try:
                resp = self.srv.request("GET", path, key=self.key, timeout=30)
                if resp[0] not in INDETERMINATE_STATUSES:
                    return resp
                last = "HTTP %d" % resp[0]
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            if time.monotonic() >= deadline:
                raise Unreadable("GET %s kept failing for %.0f s: %s" % (
                    path, self.read_deadline, last))
            time.sleep(0.1)

    # -- items ------------------------------------------------------------
    def item_history(self, path, values=True):
        """Versions oldest first: list of (ref, value, tombstone); [] on 404."""
        entries = []
        offset = 0
        while True:
            st, h, body, doc = self.read("%s/refs?values=%s&limit=100&offset=%d" % (
                path, "true" if values else "false", offset))
            if st == 404 and offset == 0:
                return [], None
            if st != 200 or not isinstance(doc, dict):
                return None, "GET refs offset %d: HTTP %d %r" % (offset, st, body[:200])
            results = doc.get("results") or []
            for r in results:
                p = r.get("path") if isinstance(r, dict) and isinstance(r.get("path"), dict) else {}
                entries.append((p.get("ref"), r.get("value") if isinstance(r, dict) else None,
                                bool(p.get("tombstone"))))
            if not doc.get("next"):
                break
            if not results:
                return None, "refs page at offset %d is empty but has next" % offset
            offset += len(results)
            if offset > 10000000:
                return None, "refs paging does not end"
        entries.reverse()
        return entries, None

    def check_item(self, klog):
        entries, err = self.item_history(klog.path)
        if err:
            return [], ["%s: %s" % (klog.path, err)]
        resp = self.read(klog.path)
        verdict = (judge_purge_item if klog.kind == "purge" else judge_item)(klog, entries)
        verdict.anomalies += judge_item_get(klog.path, entries, resp)
        klog.accept(verdict)
        return verdict.lost, verdict.anomalies

    # -- events -----------------------------------------------------------
    def event_list(self, path):
        """The stream's events as listed, newest first."""
        events = []
        page = path + "?limit=100"
        for _ in range(1000000):
            st, h, body, doc = self.read(page)
            if st != 200 or not isinstance(doc, dict):
                return None, "GET %s: HTTP %d %r" % (page, st, body[:200])
            events.extend(doc.get("results") or [])
            nxt = doc.get("next")
            if not nxt:
                return events, None
            page = nxt
        return None, "event paging does not end"

    def check_events(self, klog, final):
        listed, err = self.event_list(klog.path)
        if err:
            return [], ["%s: %s" % (klog.path, err)], []
        verdict = judge_events(klog, listed, final)
        klog.accept(verdict)
        return verdict.lost, verdict.anomalies, verdict.to_read

    def check_location(self, klog, evw, loc, listed):
        return judge_event_read(klog.path, evw, loc, listed, self.read(loc))

    # -- retired keys -----------------------------------------------------
    def check_retired(self, rk):
        if rk.kind != "event":
            entries, err = self.item_history(rk.path, values=False)
            if err:
                return [], ["%s: %s" % (rk.path, err)]
            return judge_retired(rk, retired_digests(rk.kind, entries=entries),
                                 self.read(rk.path))
        listed, err = self.event_list(rk.path)
        if err:
            return [], ["%s: %s" % (rk.path, err)]
        return judge_retired(rk, retired_digests(rk.kind, listed=listed))

    # -- search -----------------------------------------------------------
    def search(self, coll, query, limit, offset=0):
        """GET /v0/{coll}?query=...: the answer document. 503 (the index is
        not available: search_index_unavailable while the indexer restarts,
        rebuilds or catches up past search_wait), 502, 504 and transport
        errors are retried for search_deadline s; then, or on any other
        answer, SearchFailed."""
        path = "/v0/%s?query=%s&limit=%d&offset=%d" % (
            coll, urllib.parse.quote(query, safe=""), limit, offset)
        t0 = time.monotonic()
        last = None
        while True:
            try:
                st, h, body, doc = self.srv.request("GET", path, key=self.key, timeout=60)
            except (OSError, http.client.HTTPException) as e:
                st, last = None, repr(e)
            if st == 200 and isinstance(doc, dict):
                with self.lock:
                    self.searches += 1
                    self.search_wait = max(self.search_wait, time.monotonic() - t0)
                return doc
            if st == 503:
                code = doc.get("code") if isinstance(doc, dict) else None
                last = "HTTP 503 %s" % code
                with self.lock:
                    self.unavailable += 1
                if code == "search_index_unavailable" and "retry-after" not in h:
                    raise SearchFailed("GET %s answered 503 search_index_unavailable "
                                       "without Retry-After" % path)
            elif st in (502, 504):
                last = "HTTP %d" % st
            elif st is not None:
                raise SearchFailed("GET %s answered %d %r" % (path, st, body[:300]))
            if time.monotonic() - t0 >= self.search_deadline:
                raise SearchFailed("GET %s kept failing for %.0f s: %s" % (
                    path, self.search_deadline, last))
            time.sleep(0.1)

    def run_probe(self, probe):
        """A probe's searches (every page) and the judge's problems."""
        if probe.count is not None:
            doc = self.search(probe.coll, probe.query, 0)
            return judge_search(probe, None, doc.get("total_count"))
        hits = []
        total = None
        for _ in range(10000):
            doc = self.search(probe.coll, probe.query, 100, len(hits))
            results = doc.get("results")
            if not isinstance(results, list):
                raise SearchFailed("search %s: no results list in %r" % (
                    probe.query, str(doc)[:300]))
            if total is not None and doc.get("total_count") != total:
                return ["search %s (GET /v0/%s?query=%s): total_count changed from %r to "
                        "%r while paging, with no write going on" % (
                            probe.label, probe.coll, probe.query, total,
                            doc.get("total_count"))]
            total = doc.get("total_count")
            hits.extend(results)
            if not results or not isinstance(total, int) or len(hits) >= total:
                break
        return judge_search(probe, hits, total)

    def check_search(self, probes, pool):
        """Returns (search checks, problems)."""
        def guard(probe):
            try:
                return self.run_probe(probe)
            except SearchFailed as e:
                return ["search %s: %s" % (probe.label, e)]
        problems = []
        for res in pool.map(guard, probes):
            problems.extend(res)
        return sum(p.checks() for p in probes), problems

    # -- everything -------------------------------------------------------
    def check_all(self, writers, retired, final, pool, cas=None):
        """Returns (lost list, anomaly list). retired: RetiredKeys to check
        too (all of them every few cycles and at the end)."""
        lost, anomalies = [], []
        items = [k for wr in writers for k in wr.items + wr.purge_keys] + (
            list(cas.keys) if cas else [])
        streams = [k for wr in writers for k in wr.streams]

        def guard(fn, *a):
            try:
                return fn(*a)
            except Unreadable as e:
                return [], [str(e)], []

        for res in pool.map(lambda k: guard(self.check_item, k), items):
            lost.extend(res[0])
            anomalies.extend(res[1])
        reads = []
        for k, res in zip(streams, pool.map(lambda k: guard(self.check_events, k, final),
                                            streams)):
            lost.extend(res[0])
            anomalies.extend(res[1])
            reads.extend((k,) + r for r in res[2])
        for res in pool.map(lambda r: guard(self.check_location, *r), reads):
            lost.extend(res[0])
            anomalies.extend(res[1])
        for res in pool.map(lambda rk: guard(self.check_retired, rk), retired):
            lost.extend(res[0])
            anomalies.extend(res[1])
        return lost, anomalies


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="kill -9 crash test of orchidd: acknowledged writes must survive",
        epilog="See the header of this file for the long form and the negative control.")
    ap.add_argument("--cycles", type=int, default=6)
    ap.add_argument("--seconds-per-cycle", type=float, default=4.0)
    ap.add_argument("--writers", type=int, default=8, help="writer threads")
    ap.add_argument("--workers", type=int, default=4, help="orchidd workers")
    ap.add_argument("--durability", choices=("sync", "write", "none"), default="sync")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--expect-loss", action="store_true",
                    help="negative control: pass only if an acknowledged write was lost; "
                         "stops at the first cycle that loses one")
    ap.add_argument("--kinds", default=None,
                    help="comma-separated kills to use from %s (default: all; with "
                         "--expect-loss: group)" % ",".join(KINDS))
    ap.add_argument("--checkpoint-interval", type=int, default=None,
                    help="orchidd checkpoint_interval (default 2 s, so kills also hit "
                         "checkpoints; 3600 with --expect-loss)")
    ap.add_argument("--items-per-writer", type=int, default=3)
    ap.add_argument("--streams-per-writer", type=int, default=2)
    ap.add_argument("--purge-keys-per-writer", type=int, default=2,
                    help="items each writer PUTs and purges (DELETE ?purge=true)")
    ap.add_argument("--cas-keys", type=int, default=2,
                    help="items all writers update with If-Match (0: none)")
    ap.add_argument("--cas-share", type=float, default=0.15,
                    help="share of the writes that go to those items")
    ap.add_argument("--max-recovery", type=float, default=5.0,
                    help="seconds from a kill of the master or the group until the "
                         "restarted orchidd answers a ping (default 5)")
    ap.add_argument("--max-stall", type=float, default=6.0,
                    help="seconds from a kill of a worker or the maintainer until a ping "
                         "is answered (default 6: failchk_timeout 2 + recovery; "
                         "failchk can hang after a worker kill, see the header)")
    ap.add_argument("--read-deadline", type=float, default=30.0,
                    help="seconds a check read retries 502/503/504")
    ap.add_argument("--search-budget", type=int, default=200,
                    help="searches per cycle's check of the index, besides the listings "
                         "of every item and of the streams written (default 200)")
    ap.add_argument("--search-deadline", type=float, default=30.0,
                    help="seconds a search retries 503 (index not available) and "
                         "502/504 before it is a failure")
    ap.add_argument("--no-search", action="store_true",
                    help="do not check the search index (off anyway with durability "
                         "none: the index may keep writes the database lost)")
    ap.add_argument("--max-versions", type=int, default=1000,
                    help="writes per key before it is retired (no longer written, "
                         "still checked) and a fresh key takes its place")
    ap.add_argument("--full-check-every", type=int, default=10,
                    help="check retired keys every N cycles (and at the end)")
    ap.add_argument("--evidence-dir", default=None,
                    help="where a failing run keeps the server directory "
                         "(default: a new /tmp/orchid-crash-evidence-*)")
    args = ap.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2 ** 31)
    if args.kinds is None:
        args.kinds = ["group"] if args.expect_loss else list(KINDS)
    else:
        args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
        for k in args.kinds:
            if k not in KINDS:
                ap.error("unknown kill kind %r" % k)
    if args.durability == "none":
        args.no_search = True
    if args.checkpoint_interval is None:
        args.checkpoint_interval = 3600 if args.expect_loss else 2
    if args.cycles < 1 or args.writers < 1 or args.seconds_per_cycle <= 0:
        ap.error("cycles, writers and seconds-per-cycle must be positive")
    return args


def keep_evidence(srv, args, report):
    import tempfile
    dest = args.evidence_dir or tempfile.mkdtemp(prefix="orchid-crash-evidence-", dir="/tmp")
    os.makedirs(dest, exist_ok=True)
    target = os.path.join(dest, "server")
    try:
        shutil.copytree(srv.tmp, target, symlinks=True,
                        ignore=shutil.ignore_patterns("*.sock"), dirs_exist_ok=True)
    except (OSError, shutil.Error) as e:
        log("could not copy %s: %s" % (srv.tmp, e))
    with open(os.path.join(dest, "report.txt"), "w") as f:
        f.write(report + "\n")
    return dest


def log_summary(path, top=12):
    """orchidd's warnings and errors, counted with pids and numbers blanked."""
    import re
    counts = {}
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    for line in lines:
        if not re.search(r"(warn|error|fatal|BDB\d+)", line) or "BDB2053" in line:
            continue
        norm = re.sub(r"(?<![A-Z0-9])\d+", "N", line)
        counts[norm] = counts.get(norm, 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])[:top]


def _interrupt(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # stop the servers on SIGTERM and on SIGINT even when started in the
    # background (where SIGINT is ignored)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    rng = random.Random(args.seed)
    runid = "%x" % rng.getrandbits(32)
    mode = "negative control (expects loss)" if args.expect_loss else "durability test"
    log("crash: %s, seed %d (replay with --seed %d), durability %s, kills %s, "
        "checkpoint_interval %d, %d cycles x %.1f s, %d writers, %d workers" % (
            mode, args.seed, args.seed, args.durability, ",".join(args.kinds),
            args.checkpoint_interval, args.cycles, args.seconds_per_cycle, args.writers,
            args.workers))
    if args.expect_loss and args.durability != "none":
        log("warning: --expect-loss with durability %s: a kill -9 test should not "
            "lose anything there" % args.durability)

    srv = harness.Server(workers=args.workers, durability=args.durability,
                         extra={"checkpoint_interval": args.checkpoint_interval,
                                "deadlock_retries": 50})
    srv.start()
    t_run = time.monotonic()
    failed = False
    total_lost = 0
    search_checks = search_wrong = 0
    cycles_done = 0
    report_lines = []
    try:
        key = srv.new_key("crash")
        stats = Stats()
        cas = CasKeys(args.cas_keys)
        writers = [Writer(t, srv, key, runid, args.seed, args.items_per_writer,
                          args.streams_per_writer, stats, cas, args.cas_share,
                          purge_keys=args.purge_keys_per_writer)
                   for t in range(args.writers)]
        nemesis = Nemesis(srv, key, rng, args.kinds, args.max_recovery, args.max_stall,
                          args.cycles)
        checker = Checker(srv, key, args.read_deadline, args.search_deadline)
        retired = []
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=8)
        for cycle in range(1, args.cycles + 1):
            plan = nemesis.plan(cycle, args.seconds_per_cycle, args.expect_loss)
            stop = threading.Event()
            acked_before = stats.acked
            t0 = time.monotonic()
            for wr in writers:
                wr.start(cycle)
            nem = threading.Thread(target=nemesis.run_cycle,
                                   args=(cycle, plan, t0, stop), daemon=True)
            nem.start()
            time.sleep(max(0.0, t0 + args.seconds_per_cycle - time.monotonic()))
            nem.join()  # a restart in progress finishes first
            for wr in writers:
                wr.join()
            stop.set()
            if not nemesis.ping():
                nemesis._wait_ping(time.monotonic(), None, args.max_stall)
            t_check = time.monotonic()
            full = cycle == args.cycles or cycle % args.full_check_every == 0
            lost, anomalies = checker.check_all(writers, retired if full else [],
                                                cycle == args.cycles, pool, cas)
            anomalies = list(stats.unexpected) + list(nemesis.problems) + anomalies
            if stats.acked == acked_before:
                anomalies.append("cycle %d: no write was acknowledged, so the cycle proves "
                                 "nothing" % cycle)
            del stats.unexpected[:]
            del nemesis.problems[:]
            cycles_done = cycle
            total_lost += len(lost)
            t_checked = time.monotonic()
            # the index against the model: only after a clean check, which
            # makes the model exact
            wrong = []
            search_note = ""
            if not args.no_search and not lost and not anomalies:
                n0, u0, checker.search_wait = checker.searches, checker.unavailable, 0.0
                probes = search_probes(writers, cas, retired, cycle, args.search_budget,
                                       random.Random("%d-search-%d" % (args.seed, cycle)))
                n, wrong = checker.check_search(probes, pool)
                search_checks += n
                search_wrong += len(wrong)
                search_note = ("; search: %d checks (%d searches, %d answers 503 retried, "
                               "longest wait %.2f s), %d wrong, in %.1f s" % (
                                   n, checker.searches - n0, checker.unavailable - u0,
                                   checker.search_wait, len(wrong),
                                   time.monotonic() - t_checked))
            log("cycle %d: %d acked writes (%d in total, %d indeterminate, %d refused "
                "with 412 or a bulk failure, %d event updates answered 404), %d lost, "
                "%d anomalies; "
                "checked in %.1f s%s%s" % (
                    cycle, stats.acked - acked_before, stats.acked, stats.indeterminate,
                    stats.refused, stats.absent,
                    len(lost), len(anomalies), t_checked - t_check,
                    " (with %d retired keys)" % len(retired) if full and retired else "",
                    search_note))
            show = 5 if args.expect_loss else 20
            for line in lost[:show]:
                log("  LOST " + line)
            if len(lost) > show:
                log("  ... and %d more lost" % (len(lost) - show))
            for line in anomalies[:20]:
                log("  ANOMALY " + line)
            if len(anomalies) > 20:
                log("  ... and %d more anomalies" % (len(anomalies) - 20))
            for line in wrong[:20]:
                log("  SEARCH " + line)
            if len(wrong) > 20:
                log("  ... and %d more wrong search answers" % (len(wrong) - 20))
            if anomalies or wrong or (lost and not args.expect_loss):
                failed = True
                report_lines = ["seed %d, cycle %d, durability %s, kills so far:" % (
                    args.seed, cycle, args.durability)]
                report_lines += ["  cycle %d %s %s, ping after %s s" % (
                    c, k, d, "%.2f" % r if r is not None else "never")
                    for c, k, d, r in nemesis.events]
                report_lines += ["LOST " + x for x in lost] + ["ANOMALY " + x for x in anomalies]
                report_lines += ["SEARCH " + x for x in wrong]
                break
            for wr in writers:
                retired.extend(wr.retire(cycle, args.max_versions))
            retired.extend(cas.retire(cycle, args.max_versions))
            if lost and args.expect_loss:
                log("negative control: cycle %d lost %d acknowledged writes, as "
                    "durability=none must under a kill of the group" % (cycle, len(lost)))
                break
        pool.shutdown()
        if not failed:
            # the run as a whole: every requested kill and every kind of write
            problems = ["kill kind %s was requested but never happened (%s)" % (
                k, "; ".join("cycle %d: %s" % (c, why) for c, kk, why in nemesis.skipped
                             if kk == k) or "never planned") for k in nemesis.missing()]
            problems += ["no %s was acknowledged in the whole run" % OP_LABEL[op]
                         for op, share in WRITE_MIX
                         if share > 0 and not stats.acked_by_op.get(op)]
            if args.cas_keys and args.cas_share > 0 and not stats.acked_by_op.get("cas"):
                problems.append("no %s was acknowledged in the whole run" % OP_LABEL["cas"])
            # what survived the kills is also consistent: no orphan record,
            # every collection's live-item counters equal to its items
            # (orchidctl verify; orchidd stopped, as it requires)
            srv.stop_orchidd()
            ver = srv.orchidctl("verify", check=False, timeout=300)
            if ver.returncode != 0:
                problems.append("orchidctl verify after the run failed (%d): %s" % (
                    ver.returncode, (ver.stdout + ver.stderr).decode("utf-8", "replace")[-2000:]))
            else:
                log("orchidctl verify: %s" % ver.stdout.decode().strip().splitlines()[-1])
            for line in problems:
                log("  ANOMALY " + line)
            if problems:
                failed = True
                report_lines = ["seed %d, durability %s, after %d cycles:" % (
                    args.seed, args.durability, cycles_done)]
                report_lines += ["ANOMALY " + x for x in problems]
    except KeyboardInterrupt:
        log("interrupted (seed %d)" % args.seed)
        srv.stop()
        return 130
    except BaseException as e:
        failed = True
        report_lines = ["seed %d: the test itself failed: %r" % (args.seed, e)]
        raise
    finally:
        if failed:
            # a crash-consistent copy: stop everything the way a crash would
            try:
                os.killpg(srv.orchidd_proc.pid, signal.SIGKILL)
                srv.orchidd_proc.wait(10)
            except (OSError, AttributeError, subprocess.TimeoutExpired):
                pass
            tails = srv.tails(200)
            report = "\n".join(report_lines) + "\n" + tails
            dest = keep_evidence(srv, args, report)
            sys.stdout.write("---- orchidd log (last 60 lines) ----\n%s\n"
                             "---- nginx error.log (last 10 lines) ----\n%s\n" % (
                                 harness._tail(srv.orchidd_log, 60),
                                 harness._tail(srv.nginx_error_log, 10)))
            log("evidence kept in %s (seed %d)" % (dest, args.seed))
        orchidd_log_summary = log_summary(srv.orchidd_log)
        srv.stop()

    # summary
    if orchidd_log_summary:
        log("orchidd warnings and errors (numbers as N):")
        for line, n in orchidd_log_summary:
            log("  %5d x %s" % (n, line))
    by_kind = {}
    for cycle, kind, detail, rec in nemesis.events:
        by_kind.setdefault(kind, []).append(rec)
    parts = []
    for kind in KINDS:
        recs = by_kind.get(kind)
        if not recs:
            continue
        done = [r for r in recs if r is not None]
        parts.append("%s x%d (ping after max %.2f s, mean %.2f s)" % (
            kind, len(recs), max(done) if done else -1,
            sum(done) / len(done) if done else -1))
    log("kills: %s; %d restarts; %.0f s in all" % (
        ", ".join(parts) or "none", nemesis.restarts, time.monotonic() - t_run))
    if nemesis.skipped:
        log("kills not done when planned (owed to a later kill): %s" % ", ".join(
            "cycle %d %s" % (c, k) for c, k, _ in nemesis.skipped))
    log("acked writes by kind: %s; %d \"maybe\" (no answer or 502/503/504), %d refused "
        "with 412 or a bulk failure, %d event updates answered 404" % (
            ", ".join("%s %d" % (OP_LABEL[op], stats.acked_by_op[op])
                      for op in list(OP_LABEL) if stats.acked_by_op.get(op)) or "none",
            stats.indeterminate, stats.refused, stats.absent))
    child = [r for c, k, d, r in nemesis.events if k in ("worker", "maint") and r is not None]
    slow = [r for r in child if r > 2.0]
    if slow:
        log("note: %d of %d worker/maintainer kills left orchidd unable to answer for "
            "more than 2 s (max %.2f s)" % (
                len(slow), len(child), max(slow)))
    if args.no_search:
        log("search: not checked (%s)" % ("durability none" if args.durability == "none"
                                          else "--no-search"))
    else:
        log("search: %d searches answered, %d answers 503 retried" % (
            checker.searches, checker.unavailable))
    print("crash: %d cycles, %d acked writes, %d lost, %d search checks, %d wrong" % (
        cycles_done, stats.acked, total_lost, search_checks, search_wrong))
    if failed:
        print("FAIL (seed %d)" % args.seed)
        return 1
    if args.expect_loss:
        if total_lost == 0:
            print("FAIL: no acknowledged write was lost with durability=%s and kills of "
                  "the whole process group: the test cannot detect loss" % args.durability)
            return 1
        print("PASS: the test detects lost acknowledged writes")
        return 0
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
