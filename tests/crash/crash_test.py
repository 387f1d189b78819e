#!/usr/bin/env python3
"""Crash test: concurrent writers, a seeded kill -9 nemesis, and a checker
that every acknowledged write survived.

A real orchidd behind a real nginx (tests/e2e/harness.py). Per cycle:

  1. W writer threads write for S seconds. Each thread owns a few items
     (/v0/crash-items/wT-N) and rewrites them again and again, and a few
     event streams (/v0/crash-events/wT-N/events/t) it POSTs to. Every value
     is unique ({"w": "<run>.<thread>.<n>", ...}). A 201 is an
     acknowledgement: the ETag (and for events the Location) is recorded with
     the value. 502/503/504 or a transport error is "indeterminate": the
     write may or may not exist, but never twice and never with another value.
  2. Meanwhile the nemesis (random.Random(seed)) SIGKILLs, at random moments,
     one of: a random worker ("worker"), the maintainer ("maint"), the master
     ("master"), the whole process group, master + children ("group"), or the
     group and then the restarted group again 0-0.5 s later, while it
     recovers ("recovery"). After a master or group kill orchidd is
     started again with the same command line (as systemd would) and must
     answer a ping (HEAD /v0 with a key) within --max-recovery seconds, with
     no process of the old generation left; the time is reported.
  3. The writers stop and everything is checked (reads retry 502/503/504 and
     transport errors until a deadline):
     - items: /refs?values=true (limit 100, paged) oldest to newest must be a
       subsequence of the writes issued to that key, in issue order, holding
       every acknowledged write with its acknowledged ref and exact value;
       nothing else (no phantom, no duplicate). GET returns the newest entry
       (the last acknowledged value or a later indeterminate one) and its ETag.
     - events: the list of each stream (paged with `next`) holds every
       acknowledged event with its ETag, Location and value, nothing unknown,
       nothing twice, ordinals increasing in issue order; every event
       acknowledged since the last check (at the end: every event) is read
       at its Location and must have the acknowledged ETag and value.

A lost acknowledged write is a failure (or, with --expect-loss, the wanted
outcome: the negative control). Any other anomaly (phantom, duplicate, wrong
value or ref, order, unreadable data, slow recovery) is a failure in both
modes. The first failing cycle stops the run, prints the evidence (seed, key,
acknowledgement, log tails) and keeps the server's directory (database and
logs) under --evidence-dir.

Usage (from the source tree, after make):

    # short form, as tests/crash/run.sh runs it (well under a minute)
    python3 tests/crash/crash_test.py --cycles 6 --seconds-per-cycle 4

    # long form (about 20-25 minutes)
    python3 tests/crash/crash_test.py --cycles 200 --seconds-per-cycle 5 --writers 8

    # negative control: durability=none, only whole-group kills, no
    # checkpoints; must find a lost acknowledged write
    python3 tests/crash/crash_test.py --durability none --expect-loss --cycles 5

    # replay a schedule
    python3 tests/crash/crash_test.py --seed 1234 ...

The seed fixes the nemesis schedule (kinds, moments, victims) and the
writers' choices; thread timing is not deterministic. Last line:
"crash: N cycles, N acked writes, N lost". Exit status 0 on success.

Environment: as tests/e2e/harness.py (ORCHIDD, ORCHIDCTL, ORCHID_BUILDDIR,
NGINX, ORCHID_KEEP=1).
"""

import argparse
import concurrent.futures
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
EVENT_COLL = "crash-events"
EVENT_TYPE = "t"
KINDS = ("worker", "maint", "master", "group", "recovery")
INDETERMINATE_STATUSES = (502, 503, 504)


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


def proc_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


# ---------------------------------------------------------------------------
# Records of what was written


class Write:
    """One item PUT or event POST as the client saw it."""

    __slots__ = ("idx", "wid", "value", "ok", "ref", "location", "outcome",
                 "cycle", "t_invoke", "t_done")

    def __init__(self, idx, wid, value, cycle):
        self.idx = idx          # position in the key's write sequence
        self.wid = wid          # unique id, also value["w"]
        self.value = value
        self.ok = False         # acknowledged (201)
        self.ref = None         # ETag of the 201, unquoted
        self.location = None    # events: Location of the 201
        self.outcome = None     # "201" or what made it indeterminate
        self.cycle = cycle
        self.t_invoke = None    # wall clock
        self.t_done = None

    def describe(self):
        return ("%s (cycle %d, sent %s, answered %s: %s%s%s)" % (
            self.wid, self.cycle, _clock(self.t_invoke), _clock(self.t_done), self.outcome,
            ", ETag %s" % self.ref if self.ref else "",
            ", Location %s" % self.location if self.location else ""))


def _clock(t):
    if t is None:
        return "?"
    return time.strftime("%H:%M:%S", time.localtime(t)) + ".%03d" % int((t % 1) * 1000)


class KeyLog:
    """Writes of one item or one event stream, in issue order (one thread)."""

    def __init__(self, kind, key):
        self.kind = kind        # "item" or "event"
        self.key = key
        self.writes = []
        self.checked_events = 0  # events before this index were read at their Location

    @property
    def path(self):
        if self.kind == "item":
            return "/v0/%s/%s" % (ITEM_COLL, self.key)
        return "/v0/%s/%s/events/%s" % (EVENT_COLL, self.key, EVENT_TYPE)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked = 0
        self.indeterminate = 0
        self.unexpected = []

    def add(self, ok):
        with self.lock:
            if ok:
                self.acked += 1
            else:
                self.indeterminate += 1


# ---------------------------------------------------------------------------
# Writers


class Writer:
    def __init__(self, t, srv, key, runid, seed, items, streams, stats):
        self.t = t
        self.srv = srv
        self.key = key
        self.runid = runid
        self.rng = random.Random("%s-writer-%d" % (seed, t))
        self.items = [KeyLog("item", "w%d-%d" % (t, i)) for i in range(items)]
        self.streams = [KeyLog("event", "w%d-%d" % (t, i)) for i in range(streams)]
        self.stats = stats
        self.n = 0
        self.cycle = 0
        self.thread = None
        self.stop = threading.Event()

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
                if self.rng.random() < 0.7:
                    ok = self.put_item(self.rng.choice(self.items))
                else:
                    ok = self.post_event(self.rng.choice(self.streams))
                if ok is None:
                    return
                if not ok:
                    # indeterminate: the server is down or recovering
                    time.sleep(0.02 + self.rng.random() * 0.03)
        except Exception as e:  # noqa: BLE001 - reported by the checker
            self.stats.unexpected.append("writer %d crashed: %r" % (self.t, e))

    def _new_write(self, klog):
        self.n += 1
        wid = "%s.%d.%d" % (self.runid, self.t, self.n)
        pad = "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(40))
        value = {"w": wid, "k": klog.key, "n": len(klog.writes), "pad": pad,
                 "nested": {"t": self.t, "seq": self.n}}
        w = Write(len(klog.writes), wid, value, self.cycle)
        klog.writes.append(w)
        return w

    def _send(self, method, path, w):
        w.t_invoke = time.time()
        try:
            resp = self.srv.request(method, path, key=self.key, body=w.value, timeout=60)
        except (OSError, http.client.HTTPException) as e:
            w.t_done = time.time()
            w.outcome = "transport error %s" % type(e).__name__
            return None
        w.t_done = time.time()
        return resp

    def put_item(self, klog):
        w = self._new_write(klog)
        resp = self._send("PUT", klog.path, w)
        return self._classify(klog, w, resp, "PUT")

    def post_event(self, klog):
        w = self._new_write(klog)
        resp = self._send("POST", klog.path, w)
        return self._classify(klog, w, resp, "POST")

    def _classify(self, klog, w, resp, method):
        """True: acknowledged; False: indeterminate; None: protocol error."""
        if resp is None:
            self.stats.add(False)
            return False
        st, h, body = resp[0], resp[1], resp[2]
        if st in INDETERMINATE_STATUSES:
            w.outcome = "HTTP %d" % st
            self.stats.add(False)
            return False
        if st != 201 or not h.get("etag"):
            w.outcome = "HTTP %d" % st
            self.stats.unexpected.append("%s %s answered %d %r (write %s)" % (
                method, klog.path, st, body[:200], w.wid))
            return None
        w.ok = True
        w.outcome = "201"
        w.ref = h["etag"].strip('"')
        if klog.kind == "event":
            w.location = h.get("location")
            if not w.location:
                self.stats.unexpected.append("POST %s: 201 without Location" % klog.path)
                return None
        self.stats.add(True)
        return True


# ---------------------------------------------------------------------------
# Nemesis


class Nemesis:
    def __init__(self, srv, key, rng, kinds, max_recovery):
        self.srv = srv
        self.key = key
        self.rng = rng
        self.kinds = kinds
        self.max_recovery = max_recovery
        self.events = []        # (cycle, kind, detail, recovery seconds or None)
        self.problems = []
        self.restarts = 0

    def ping(self, timeout=3):
        try:
            return self.srv.request("HEAD", "/v0", key=self.key, timeout=timeout)[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    def plan(self, seconds, expect_loss):
        """Kill moments (offsets in s) and kinds for one cycle."""
        if expect_loss:
            # one kill of the group late in the cycle, after a burst of writes
            times = [seconds * self.rng.uniform(0.55, 0.9)]
        else:
            n = self.rng.choice((1, 2, 2, 3))
            times = sorted(seconds * self.rng.uniform(0.1, 0.9) for _ in range(n))
        return [(t, self.rng.choice(self.kinds), self.rng.random()) for t in times]

    def run_cycle(self, cycle, plan, t0, stop):
        for offset, kind, pick in plan:
            delay = t0 + offset - time.monotonic()
            if delay > 0 and stop.wait(delay):
                return
            self.strike(cycle, kind, pick)

    def strike(self, cycle, kind, pick):
        srv = self.srv
        pids = srv.orchidd_pids()
        master = srv.orchidd_proc.pid
        if kind == "worker":
            if not pids["workers"]:
                self.events.append((cycle, kind, "no worker running: skipped", None))
                return
            victim = pids["workers"][int(pick * len(pids["workers"]))]
            os.kill(victim, signal.SIGKILL)
            rec = self._wait_ping(time.monotonic(), None)
            self.events.append((cycle, kind, "pid %d" % victim, rec))
            log("cycle %d: SIGKILL worker %d; ping after %.2f s" % (cycle, victim, rec or -1))
        elif kind == "maint":
            victim = pids["maintainer"]
            if not victim:
                self.events.append((cycle, kind, "no maintainer running: skipped", None))
                return
            os.kill(victim, signal.SIGKILL)
            rec = self._wait_ping(time.monotonic(), None)
            self.events.append((cycle, kind, "pid %d" % victim, rec))
            log("cycle %d: SIGKILL maintainer %d; ping after %.2f s" % (cycle, victim, rec or -1))
        else:
            old = [p for p in [pids["maintainer"]] + pids["workers"] if p]
            t_kill = time.monotonic()
            if kind == "master":
                os.kill(master, signal.SIGKILL)
            else:
                os.killpg(master, signal.SIGKILL)
            srv.orchidd_proc.wait()
            # the normal way: the same command line again, at once
            srv.start_orchidd()
            self.restarts += 1
            if kind == "recovery":
                # and kill that one too, while it locks, recovers or starts
                # its children; then start once more
                time.sleep(pick * 0.5)
                second = srv.orchidd_proc.pid
                old += [p for p in [srv.orchidd_pids()["maintainer"]]
                        + srv.orchidd_pids()["workers"] if p]
                t_kill = time.monotonic()
                os.killpg(second, signal.SIGKILL)
                srv.orchidd_proc.wait()
                srv.start_orchidd()
                self.restarts += 1
                log("cycle %d: SIGKILL group (master %d), restarted, SIGKILL group again "
                    "after %.2f s (master %d), restarted" % (cycle, master, pick * 0.5, second))
            rec = self._wait_ping(t_kill, old)
            self.events.append((cycle, kind, "master %d" % master, rec))
            log("cycle %d: SIGKILL %s (master %d); restarted, ping + old processes gone "
                "after %.2f s" % (cycle, "master" if kind == "master" else "group", master,
                                  rec if rec is not None else -1))
            if srv.orchidd_proc.poll() is not None:
                self.problems.append("cycle %d: the restarted orchidd exited with %s" % (
                    cycle, srv.orchidd_proc.returncode))

    def _wait_ping(self, t_start, old_pids):
        """Seconds from t_start until a ping is answered (and, after a
        restart, no process of the old generation is left); None and a
        problem if that takes longer than max_recovery (waits up to 60 s)."""
        limit = max(self.max_recovery, 60.0)
        while True:
            elapsed = time.monotonic() - t_start
            old_alive = [p for p in (old_pids or []) if pid_alive(p)]
            if not old_alive and self.ping():
                elapsed = time.monotonic() - t_start
                if elapsed > self.max_recovery:
                    self.problems.append("recovery took %.2f s (limit %.1f s)" % (
                        elapsed, self.max_recovery))
                return elapsed
            if elapsed > limit:
                self.problems.append("no ping within %.0f s (old processes alive: %s)"
                                     % (limit, old_alive))
                return None
            time.sleep(0.02)


# ---------------------------------------------------------------------------
# Checker


class Unreadable(Exception):
    pass


class Checker:
    def __init__(self, srv, key, read_deadline):
        self.srv = srv
        self.key = key
        self.read_deadline = read_deadline

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
    def item_history(self, klog):
        """Entries oldest first: list of (ref, value); [] when 404."""
        entries = []
        offset = 0
        while True:
            st, h, body, doc = self.read("%s/refs?values=true&limit=100&offset=%d"
                                         % (klog.path, offset))
            if st == 404 and offset == 0:
                return [], None
            if st != 200 or not isinstance(doc, dict):
                return None, "GET refs offset %d: HTTP %d %r" % (offset, st, body[:200])
            results = doc.get("results") or []
            for r in results:
                entries.append((r.get("path", {}).get("ref"), r.get("value"),
                                bool(r.get("path", {}).get("tombstone"))))
            if not doc.get("next"):
                break
            if not results:
                return None, "refs page at offset %d is empty but has next" % offset
            offset += len(results)
            if offset > 1000000:
                return None, "refs paging does not end"
        entries.reverse()
        return entries, None

    def check_item(self, klog, final):
        lost, anomalies = [], []
        writes = list(klog.writes)
        by_wid = {w.wid: w for w in writes}
        entries, err = self.item_history(klog)
        if err:
            return lost, ["%s: %s" % (klog.path, err)]
        seen = set()
        last_idx = -1
        for pos, (ref, value, tomb) in enumerate(entries):
            wid = value.get("w") if isinstance(value, dict) else None
            w = by_wid.get(wid)
            if tomb or w is None:
                anomalies.append("%s: phantom version #%d ref %s value %r" % (
                    klog.path, pos + 1, ref, value))
                continue
            if wid in seen:
                anomalies.append("%s: write %s appears twice in the history" % (klog.path, wid))
                continue
            seen.add(wid)
            if value != w.value:
                anomalies.append("%s: version of %s has value %r, written %r" % (
                    klog.path, wid, value, w.value))
            if w.ok and ref != w.ref:
                anomalies.append("%s: version of %s has ref %s, acknowledged %s" % (
                    klog.path, wid, ref, w.ref))
            if w.idx <= last_idx:
                anomalies.append("%s: write %s is out of order in the history" % (klog.path, wid))
            last_idx = max(last_idx, w.idx)
        for w in writes:
            if w.ok and w.wid not in seen:
                lost.append("%s: acknowledged write %s is missing from /refs" % (
                    klog.path, w.describe()))
        # the current value
        st, h, body, doc = self.read(klog.path)
        if not entries:
            if st != 404:
                anomalies.append("%s: no history but GET answered %d %r" % (
                    klog.path, st, body[:200]))
        elif st != 200:
            anomalies.append("%s: GET answered %d %r" % (klog.path, st, body[:200]))
        else:
            ref, value, _ = entries[-1]
            etag = (h.get("etag") or "").strip('"')
            if doc != value or etag != ref:
                anomalies.append("%s: GET gives ETag %s %r, newest version is %s %r" % (
                    klog.path, etag, doc, ref, value))
        return lost, anomalies

    # -- events -----------------------------------------------------------
    def event_list(self, klog):
        events = []
        path = klog.path + "?limit=100"
        for _ in range(100000):
            st, h, body, doc = self.read(path)
            if st != 200 or not isinstance(doc, dict):
                return None, "GET %s: HTTP %d %r" % (path, st, body[:200])
            events.extend(doc.get("results") or [])
            nxt = doc.get("next")
            if not nxt:
                return events, None
            path = nxt
        return None, "event paging does not end"

    def check_events(self, klog, final):
        lost, anomalies = [], []
        writes = list(klog.writes)
        by_wid = {w.wid: w for w in writes}
        events, err = self.event_list(klog)
        if err:
            return lost, ["%s: %s" % (klog.path, err)], [], set()
        seen = {}
        for ev in events:
            value = ev.get("value")
            p = ev.get("path", {})
            wid = value.get("w") if isinstance(value, dict) else None
            w = by_wid.get(wid)
            if w is None:
                anomalies.append("%s: phantom event %s/%s ref %s value %r" % (
                    klog.path, p.get("timestamp"), p.get("ordinal"), p.get("ref"), value))
                continue
            if wid in seen:
                anomalies.append("%s: write %s appears twice among the events" % (
                    klog.path, wid))
                continue
            seen[wid] = ev
            if value != w.value:
                anomalies.append("%s: event of %s has value %r, written %r" % (
                    klog.path, wid, value, w.value))
            loc = "%s/%s/%s" % (klog.path, p.get("timestamp"), p.get("ordinal"))
            if w.ok and (p.get("ref") != w.ref or loc != w.location):
                # A lost event whose Location was given out again to a later
                # one shows up here too: count it as lost if the value moved.
                anomalies.append("%s: event of %s is %s ref %s, acknowledged %s ref %s" % (
                    klog.path, wid, loc, p.get("ref"), w.location, w.ref))
        # ordinals strictly increase in issue order
        last = None
        for w in writes:
            ev = seen.get(w.wid)
            if ev is None:
                continue
            o = ev.get("path", {}).get("ordinal")
            if last is not None and isinstance(o, int) and o <= last[1]:
                anomalies.append("%s: ordinal of %s (%s) is not above that of %s (%s)" % (
                    klog.path, w.wid, o, last[0], last[1]))
            if isinstance(o, int):
                last = (w.wid, o)
        lost_wids = set()
        for w in writes:
            if w.ok and w.wid not in seen:
                lost_wids.add(w.wid)
                lost.append("%s: acknowledged event %s is missing from the list" % (
                    klog.path, w.describe()))
        # read at the Location: the new ones, or all at the end
        start = 0 if final else klog.checked_events
        to_read = [w for w in writes[start:] if w.ok]
        return lost, anomalies, to_read, lost_wids

    def check_location(self, klog, w):
        st, h, body, doc = self.read(w.location)
        etag = (h.get("etag") or "").strip('"')
        value = doc.get("value") if isinstance(doc, dict) else None
        if st == 404:
            return "%s: acknowledged event %s answers 404 at its Location" % (
                klog.path, w.describe())
        if st != 200 or etag != w.ref or value != w.value:
            return "%s: acknowledged event %s at its Location: HTTP %d ETag %s value %r" % (
                klog.path, w.describe(), st, etag, value)
        return None

    def check_all(self, writers, final, pool):
        """Returns (lost list, anomaly list)."""
        lost, anomalies = [], []
        items = [k for wr in writers for k in wr.items]
        streams = [k for wr in writers for k in wr.streams]

        def item_job(k):
            try:
                return self.check_item(k, final)
            except Unreadable as e:
                return [], [str(e)]

        def event_job(k):
            try:
                return self.check_events(k, final)
            except Unreadable as e:
                return [], [str(e)], [], set()

        for l, a in pool.map(item_job, items):
            lost.extend(l)
            anomalies.extend(a)
        reads = []
        for k, (l, a, to_read, lost_wids) in zip(streams, pool.map(event_job, streams)):
            lost.extend(l)
            anomalies.extend(a)
            reads.extend((k, w) for w in to_read if w.wid not in lost_wids)

        def loc_job(kw):
            try:
                return self.check_location(*kw)
            except Unreadable as e:
                return "unreadable: " + str(e)

        for (k, w), problem in zip(reads, pool.map(loc_job, reads)):
            if problem is None:
                continue
            if problem.startswith("unreadable: "):
                anomalies.append(problem)
            else:
                lost.append(problem)
        for k in streams:
            k.checked_events = len(k.writes)
        # An acknowledged event whose list entry has another ref/Location is
        # reported as an anomaly above; if its Location now holds another
        # value it is also in lost.
        return lost, anomalies


# ---------------------------------------------------------------------------


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
    ap.add_argument("--max-recovery", type=float, default=5.0,
                    help="seconds from a kill until a ping is answered (default 5)")
    ap.add_argument("--read-deadline", type=float, default=30.0,
                    help="seconds a check read retries 502/503/504")
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


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
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
    cycles_done = 0
    report_lines = []
    try:
        key = srv.new_key("crash")
        stats = Stats()
        writers = [Writer(t, srv, key, runid, args.seed, args.items_per_writer,
                          args.streams_per_writer, stats) for t in range(args.writers)]
        nemesis = Nemesis(srv, key, rng, args.kinds, args.max_recovery)
        checker = Checker(srv, key, args.read_deadline)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=8)
        for cycle in range(1, args.cycles + 1):
            plan = nemesis.plan(args.seconds_per_cycle, args.expect_loss)
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
                nemesis._wait_ping(time.monotonic(), None)
            t_check = time.monotonic()
            lost, anomalies = checker.check_all(writers, cycle == args.cycles, pool)
            anomalies = list(stats.unexpected) + list(nemesis.problems) + anomalies
            del stats.unexpected[:]
            del nemesis.problems[:]
            cycles_done = cycle
            total_lost += len(lost)
            log("cycle %d: %d acked writes (%d in total, %d indeterminate), %d lost, "
                "%d anomalies; checked in %.1f s" % (
                    cycle, stats.acked - acked_before, stats.acked, stats.indeterminate,
                    len(lost), len(anomalies), time.monotonic() - t_check))
            show = 5 if args.expect_loss else 20
            for line in lost[:show]:
                log("  LOST " + line)
            if len(lost) > show:
                log("  ... and %d more lost" % (len(lost) - show))
            for line in anomalies[:20]:
                log("  ANOMALY " + line)
            if len(anomalies) > 20:
                log("  ... and %d more anomalies" % (len(anomalies) - 20))
            if anomalies or (lost and not args.expect_loss):
                failed = True
                report_lines = ["seed %d, cycle %d, durability %s, kills so far:" % (
                    args.seed, cycle, args.durability)]
                report_lines += ["  cycle %d %s %s recovery %s" % e for e in nemesis.events]
                report_lines += ["LOST " + x for x in lost] + ["ANOMALY " + x for x in anomalies]
                break
            if lost and args.expect_loss:
                log("negative control: cycle %d lost %d acknowledged writes, as "
                    "durability=none must under a kill of the group" % (cycle, len(lost)))
                break
        pool.shutdown()
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
            tails = srv.tails(60)
            report = "\n".join(report_lines) + "\n" + tails
            dest = keep_evidence(srv, args, report)
            sys.stdout.write(tails + "\n")
            log("evidence kept in %s (seed %d)" % (dest, args.seed))
        srv.stop()

    # summary
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
    print("crash: %d cycles, %d acked writes, %d lost" % (cycles_done, stats.acked, total_lost))
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
