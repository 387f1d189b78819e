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
     A share of the writes (--cas-share) goes to a few items every thread
     updates with If-Match on the ref it last saw (If-None-Match: * for the
     first version; after a 412 or an unknown outcome it GETs the current
     ref): compare-and-set registers, so writers contend, deadlock and get
     412s.
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
     - compare-and-set items: the same, except that the issue order is only
       known per thread; in addition each version must directly follow the
       version whose ref its If-Match named (If-None-Match: * only first),
       and a write answered 412 must not exist.
     - events: the list of each stream (paged with `next`) holds every
       acknowledged event with its ETag, Location and value, nothing unknown,
       nothing twice, ordinals increasing in issue order; every event
       acknowledged since the last check (at the end: every event) is read
       at its Location and must have the acknowledged ETag and value.
     - a write that was indeterminate but was read back by an earlier check
       is committed: it must not disappear later either (counted as lost).
     - a key with --max-versions writes is retired after a clean check: a
       fresh key takes its place, and the retired key's verified history is
       kept as 8 bytes per version (refs; for events a digest of timestamp,
       ordinal, ref and value id). Every --full-check-every cycles and at the
       end, each retired key must read back exactly like that (refs paged
       with values=false; events listed), so old data stays checked after
       later crashes while memory and check time stay bounded.

A lost acknowledged write is a failure (or, with --expect-loss, the wanted
outcome: the negative control). Any other anomaly (phantom, duplicate, wrong
value or ref, order, unreadable data, slow recovery) is a failure in both
modes. Worker and maintainer kills have a looser bound (--max-stall, 6 s):
orchidd's failchk can hang there until failchk_timeout and then recovers;
the run reports how often that took more than 2 s. The first failing cycle
stops the run, prints the evidence (seed, key,
acknowledgement, log tails) and keeps the server's directory (database and
logs) under --evidence-dir.

Usage (from the source tree, after make):

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
    # first cycle that loses one (in practice always the first: 26 to 865
    # lost per kill in 12 runs)
    python3 tests/crash/crash_test.py --durability none --expect-loss --cycles 5

    # replay a schedule
    python3 tests/crash/crash_test.py --seed 1234 ...

The seed fixes the nemesis schedule (kinds, moments, victims) and the
writers' choices; thread timing is not deterministic. Last line:
"crash: N cycles, N acked writes, N lost", then PASS or FAIL. Exit status
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
                 "cycle", "t_invoke", "t_done", "thread", "cond", "refused")

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
        self.thread = None      # conditional writes: the writer thread
        self.cond = None        # conditional writes: If-Match ref, or "*" for If-None-Match: *
        self.refused = False    # conditional writes: answered 412 (must not exist)

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
        self.observed = set()    # wids read back by the last check
        self.verified = []       # the last check's entries: (8-byte digest, acked)
        self.last_ref = None     # items: the newest ref at the last check

    @property
    def path(self):
        if self.kind == "item":
            return "/v0/%s/%s" % (ITEM_COLL, self.key)
        if self.kind == "cas":
            return "/v0/%s/%s" % (CAS_COLL, self.key)
        return "/v0/%s/%s/events/%s" % (EVENT_COLL, self.key, EVENT_TYPE)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked = 0
        self.indeterminate = 0
        self.refused = 0        # conditional writes answered 412
        self.unexpected = []

    def add(self, ok):
        with self.lock:
            if ok:
                self.acked += 1
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
            out.append(RetiredKey(klog, [d for d, _ in klog.verified],
                                  [1 if a else 0 for _, a in klog.verified], cycle))
            base, _, gen = klog.key.partition(".")
            self.keys[i] = KeyLog("cas", "%s.%d" % (base, int(gen or 0) + 1))
        return out


class Writer:
    def __init__(self, t, srv, key, runid, seed, items, streams, stats, cas=None,
                 cas_share=0.0):
        self.t = t
        self.srv = srv
        self.key = key
        self.runid = runid
        self.rng = random.Random("%s-writer-%d" % (seed, t))
        self.items = [KeyLog("item", "w%d-%d" % (t, i)) for i in range(items)]
        self.streams = [KeyLog("event", "w%d-%d" % (t, i)) for i in range(streams)]
        self.stats = stats
        self.cas = cas
        self.cas_share = cas_share if cas and cas.keys else 0.0
        self.cas_ref = {}       # key -> the ref this writer believes is current
        self.n = 0
        self.cycle = 0
        self.thread = None
        self.stop = threading.Event()

    def retire(self, cycle, max_versions):
        """Between cycles, after a clean check: keys with max_versions writes
        are no longer written; a fresh key takes their place. Returns them as
        RetiredKeys (the checker keeps reading them)."""
        out = []
        for keys in (self.items, self.streams):
            for i, klog in enumerate(keys):
                if len(klog.writes) < max_versions:
                    continue
                out.append(RetiredKey(klog, [d for d, _ in klog.verified],
                                      [1 if a else 0 for _, a in klog.verified], cycle))
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
                r = self.rng.random()
                if r < self.cas_share:
                    ok = self.put_cas(self.rng.choice(self.cas.keys))
                elif r < 0.7:
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
            w = Write(len(klog.writes), wid, value, self.cycle)
            w.thread = self.t
            w.cond = cur
            klog.writes.append(w)
        hdr = {"If-None-Match": "*"} if cur == "*" else {"If-Match": '"%s"' % cur}
        w.t_invoke = time.time()
        try:
            resp = self.srv.request("PUT", klog.path, key=self.key, body=w.value,
                                    headers=hdr, timeout=60)
        except (OSError, http.client.HTTPException) as e:
            resp = None
            w.outcome = "transport error %s" % type(e).__name__
        w.t_done = time.time()
        self.cas_ref[klog.key] = None
        if resp is not None and resp[0] == 412:
            w.refused = True
            w.outcome = "HTTP 412"
            with self.stats.lock:
                self.stats.refused += 1
            return True
        ok = self._classify(klog, w, resp, "PUT (If-Match)")
        if ok:
            self.cas_ref[klog.key] = w.ref
        return ok

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
    def __init__(self, srv, key, rng, kinds, max_recovery, max_stall):
        self.srv = srv
        self.key = key
        self.rng = rng
        self.kinds = kinds
        self.max_recovery = max_recovery
        self.max_stall = max_stall
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
            rec = self._wait_ping(time.monotonic(), None, self.max_stall)
            self.events.append((cycle, kind, "pid %d" % victim, rec))
            log("cycle %d: SIGKILL worker %d; ping after %.2f s" % (cycle, victim, rec or -1))
        elif kind == "maint":
            victim = pids["maintainer"]
            if not victim:
                self.events.append((cycle, kind, "no maintainer running: skipped", None))
                return
            os.kill(victim, signal.SIGKILL)
            rec = self._wait_ping(time.monotonic(), None, self.max_stall)
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
            rec = self._wait_ping(t_kill, old, self.max_recovery)
            self.events.append((cycle, kind, "master %d" % master, rec))
            log("cycle %d: SIGKILL %s (master %d); restarted, ping + old processes gone "
                "after %.2f s" % (cycle, "master" if kind == "master" else "group", master,
                                  rec if rec is not None else -1))
            if srv.orchidd_proc.poll() is not None:
                self.problems.append("cycle %d: the restarted orchidd exited with %s" % (
                    cycle, srv.orchidd_proc.returncode))

    def _wait_ping(self, t_start, old_pids, allowed):
        """Seconds from t_start until a ping is answered (and, after a
        restart, no process of the old generation is left); a problem if that
        takes longer than allowed; None if nothing answers within 60 s."""
        limit = max(allowed, 60.0)
        while True:
            elapsed = time.monotonic() - t_start
            old_alive = [p for p in (old_pids or []) if pid_alive(p)]
            if not old_alive and self.ping():
                elapsed = time.monotonic() - t_start
                if elapsed > allowed:
                    self.problems.append("no ping answered for %.2f s after a kill (limit "
                                         "%.1f s)" % (elapsed, allowed))
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


def event_digest(ts, ordinal, ref, wid):
    return hashlib.sha256(("%s/%s/%s/%s" % (ts, ordinal, ref, wid)).encode()).digest()[:8]


class RetiredKey:
    """A key no longer written: its verified history, compactly (8 bytes per
    version or event, oldest first) with a flag per entry: acknowledged or
    only observed. From then on it must read back exactly like this."""

    def __init__(self, klog, digests, acked, cycle):
        self.kind = klog.kind
        self.key = klog.key
        self.path = klog.path
        self.expected = b"".join(digests)
        self.acked = bytes(acked)
        self.count = len(digests)
        self.cycle = cycle
        self.last_ref = klog.last_ref


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
                entries.append((r.get("path", {}).get("ref"), r.get("value"),
                                bool(r.get("path", {}).get("tombstone"))))
            if not doc.get("next"):
                break
            if not results:
                return None, "refs page at offset %d is empty but has next" % offset
            offset += len(results)
            if offset > 10000000:
                return None, "refs paging does not end"
        entries.reverse()
        return entries, None

    def current(self, path, entries, anomalies):
        """GET must give the newest version, with its ref as ETag."""
        st, h, body, doc = self.read(path)
        if not entries:
            if st != 404:
                anomalies.append("%s: no history but GET answered %d %r" % (path, st, body[:200]))
            return
        if st != 200:
            anomalies.append("%s: GET answered %d %r" % (path, st, body[:200]))
            return
        ref, value, _ = entries[-1]
        etag = (h.get("etag") or "").strip('"')
        if etag != ref or (value is not None and doc != value):
            anomalies.append("%s: GET gives ETag %s %r, the newest version is %s %r" % (
                path, etag, doc, ref, value))

    def check_item(self, klog):
        lost, anomalies = [], []
        writes = list(klog.writes)
        by_wid = {w.wid: w for w in writes}
        entries, err = self.item_history(klog.path)
        if err:
            return lost, ["%s: %s" % (klog.path, err)]
        seen = set()
        last_idx = -1
        last_by_thread = {}
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
            if klog.kind == "cas":
                if w.refused:
                    anomalies.append("%s: write %s was refused with 412 but exists" % (
                        klog.path, wid))
                prev = entries[pos - 1][0] if pos > 0 else "*"
                if w.cond != prev:
                    anomalies.append("%s: write %s (If-%s %s) follows %s: compare-and-set "
                                     "violated" % (klog.path, wid,
                                                   "None-Match" if w.cond == "*" else "Match",
                                                   w.cond, prev))
                if w.idx <= last_by_thread.get(w.thread, -1):
                    anomalies.append("%s: write %s is out of order in the history" % (
                        klog.path, wid))
                last_by_thread[w.thread] = w.idx
                continue
            if w.idx <= last_idx:
                anomalies.append("%s: write %s is out of order in the history" % (klog.path, wid))
            last_idx = max(last_idx, w.idx)
        for w in writes:
            if w.ok and w.wid not in seen:
                lost.append("%s: acknowledged write %s is missing from /refs" % (
                    klog.path, w.describe()))
            elif not w.ok and w.wid in klog.observed and w.wid not in seen:
                lost.append("%s: indeterminate write %s was read back before and is gone "
                            "now" % (klog.path, w.describe()))
        self.current(klog.path, entries, anomalies)
        klog.observed = seen
        klog.verified = [(bytes.fromhex(ref), by_wid[v["w"]].ok) for ref, v, t in entries
                         if isinstance(v, dict) and v.get("w") in by_wid]
        klog.last_ref = entries[-1][0] if entries else None
        return lost, anomalies

    # -- events -----------------------------------------------------------
    def event_list(self, path):
        events = []
        page = path + "?limit=100"
        for _ in range(1000000):
            st, h, body, doc = self.read(page)
            if st != 200 or not isinstance(doc, dict):
                return None, "GET %s: HTTP %d %r" % (page, st, body[:200])
            events.extend(doc.get("results") or [])
            nxt = doc.get("next")
            if not nxt:
                events.reverse()
                return events, None
            page = nxt
        return None, "event paging does not end"

    def check_events(self, klog, final):
        lost, anomalies = [], []
        writes = list(klog.writes)
        by_wid = {w.wid: w for w in writes}
        events, err = self.event_list(klog.path)
        if err:
            return lost, ["%s: %s" % (klog.path, err)], []
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
        for w in writes:
            if w.ok and w.wid not in seen:
                lost.append("%s: acknowledged event %s is missing from the list" % (
                    klog.path, w.describe()))
            elif not w.ok and w.wid in klog.observed and w.wid not in seen:
                lost.append("%s: indeterminate event %s was read back before and is gone "
                            "now" % (klog.path, w.describe()))
        klog.observed = set(seen)
        klog.verified = []
        for ev in events:
            p = ev.get("path", {})
            wid = (ev.get("value") or {}).get("w") if isinstance(ev.get("value"), dict) else None
            if wid in by_wid:
                klog.verified.append((event_digest(p.get("timestamp"), p.get("ordinal"),
                                                   p.get("ref"), wid), by_wid[wid].ok))
        klog.last_ref = None
        # read at the Location: the events acknowledged since the last check,
        # or all of them at the end
        start = 0 if final else klog.checked_events
        to_read = [w for w in writes[start:] if w.ok and w.wid in seen]
        return lost, anomalies, to_read

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

    # -- retired keys -----------------------------------------------------
    def check_retired(self, rk):
        lost, anomalies = [], []
        if rk.kind in ("item", "cas"):
            entries, err = self.item_history(rk.path, values=False)
            if err:
                return lost, ["%s: %s" % (rk.path, err)]
            got = [bytes.fromhex(ref or "") for ref, _, _ in entries]
        else:
            events, err = self.event_list(rk.path)
            if err:
                return lost, ["%s: %s" % (rk.path, err)]
            got = []
            for ev in events:
                p = ev.get("path", {})
                v = ev.get("value")
                wid = v.get("w") if isinstance(v, dict) else None
                got.append(event_digest(p.get("timestamp"), p.get("ordinal"), p.get("ref"), wid))
        want = [rk.expected[i * 8:(i + 1) * 8] for i in range(rk.count)]
        if got != want:
            got_set, want_set = set(got), set(want)
            for i, d in enumerate(want):
                if d not in got_set:
                    lost.append("%s (retired in cycle %d): %s #%d (%s) is gone" % (
                        rk.path, rk.cycle,
                        "acknowledged write" if rk.acked[i] else "observed indeterminate write",
                        i + 1, d.hex()))
            extra = [d.hex() for d in got if d not in want_set]
            if extra:
                anomalies.append("%s (retired in cycle %d, no longer written): %d entries "
                                 "appeared: %s" % (rk.path, rk.cycle, len(extra), extra[:5]))
            if not extra and len(got) == len(want) and not lost:
                anomalies.append("%s (retired in cycle %d): the entries changed order" % (
                    rk.path, rk.cycle))
        if rk.kind in ("item", "cas"):
            self.current(rk.path, [(rk.last_ref, None, False)] if rk.count else [], anomalies)
        return lost, anomalies

    # -- everything -------------------------------------------------------
    def check_all(self, writers, retired, final, pool, cas=None):
        """Returns (lost list, anomaly list). retired: RetiredKeys to check
        too (all of them every few cycles and at the end)."""
        lost, anomalies = [], []
        items = [k for wr in writers for k in wr.items] + (list(cas.keys) if cas else [])
        streams = [k for wr in writers for k in wr.streams]

        def guard(fn, *a):
            try:
                return fn(*a)
            except Unreadable as e:
                return None, str(e)

        for res in pool.map(lambda k: guard(self.check_item, k), items):
            if res[0] is None:
                anomalies.append(res[1])
                continue
            lost.extend(res[0])
            anomalies.extend(res[1])
        reads = []
        for k, res in zip(streams, pool.map(lambda k: guard(self.check_events, k, final),
                                            streams)):
            if res[0] is None:
                anomalies.append(res[1])
                continue
            lost.extend(res[0])
            anomalies.extend(res[1])
            reads.extend((k, w) for w in res[2])
        for res in pool.map(lambda kw: guard(self.check_location, *kw), reads):
            if isinstance(res, tuple):
                anomalies.append(res[1])
            elif res is not None:
                lost.append(res)
        for res in pool.map(lambda rk: guard(self.check_retired, rk), retired):
            if res[0] is None:
                anomalies.append(res[1])
                continue
            lost.extend(res[0])
            anomalies.extend(res[1])
        for k in streams:
            k.checked_events = len(k.writes)
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
    cycles_done = 0
    report_lines = []
    try:
        key = srv.new_key("crash")
        stats = Stats()
        cas = CasKeys(args.cas_keys)
        writers = [Writer(t, srv, key, runid, args.seed, args.items_per_writer,
                          args.streams_per_writer, stats, cas, args.cas_share)
                   for t in range(args.writers)]
        nemesis = Nemesis(srv, key, rng, args.kinds, args.max_recovery, args.max_stall)
        checker = Checker(srv, key, args.read_deadline)
        retired = []
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
                nemesis._wait_ping(time.monotonic(), None, args.max_stall)
            t_check = time.monotonic()
            full = cycle == args.cycles or cycle % args.full_check_every == 0
            lost, anomalies = checker.check_all(writers, retired if full else [],
                                                cycle == args.cycles, pool, cas)
            anomalies = list(stats.unexpected) + list(nemesis.problems) + anomalies
            del stats.unexpected[:]
            del nemesis.problems[:]
            cycles_done = cycle
            total_lost += len(lost)
            log("cycle %d: %d acked writes (%d in total, %d indeterminate, %d refused "
                "with 412), %d lost, %d anomalies; checked in %.1f s%s" % (
                    cycle, stats.acked - acked_before, stats.acked, stats.indeterminate,
                    stats.refused,
                    len(lost), len(anomalies), time.monotonic() - t_check,
                    " (with %d retired keys)" % len(retired) if full and retired else ""))
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
                report_lines += ["  cycle %d %s %s, ping after %s s" % (
                    c, k, d, "%.2f" % r if r is not None else "never")
                    for c, k, d, r in nemesis.events]
                report_lines += ["LOST " + x for x in lost] + ["ANOMALY " + x for x in anomalies]
                break
            for wr in writers:
                retired.extend(wr.retire(cycle, args.max_versions))
            retired.extend(cas.retire(cycle, args.max_versions))
            if lost and args.expect_loss:
                log("negative control: cycle %d lost %d acknowledged writes, as "
                    "durability=none must under a kill of the group" % (cycle, len(lost)))
                break
        pool.shutdown()
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
    child = [r for c, k, d, r in nemesis.events if k in ("worker", "maint") and r is not None]
    slow = [r for r in child if r > 2.0]
    if slow:
        log("note: %d of %d worker/maintainer kills left orchidd unable to answer for "
            "more than 2 s (max %.2f s)" % (
                len(slow), len(child), max(slow)))
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
