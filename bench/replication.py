#!/usr/bin/env python3
"""Replication benchmark: what a Berkeley DB replication group of 3 sites on
loopback (tests/e2e/test_replication.py's setup: each site an orchidd behind
its own nginx, started through tests/e2e/harness.py) costs and delivers, in
one invocation on this machine.

    script/build && python3 bench/replication.py

It measures, and prints as markdown tables with a summary:

1. Durable PUT (durability = sync) throughput and latency, wrk -t2
   -d$BENCH_SECONDS --latency --timeout 5s with bench/lua/put.lua (~200-byte
   values, updates of $BENCH_KEYS preloaded keys, as script/bench's put run),
   at each of $BENCH_CONNS connections, against
     single  one site without replication (search = 0, same workers),
     group   the master of a 3-site group, replication_ack_policy = quorum
             (a 2xx means a majority of the group has the write).
   Each is preloaded first (PUTs on 64 connections, a 503 retried and
   counted); the group's creator is preloaded alone, before the other two
   sites join and copy its data (replicated PUTs are slow on this build).
   A group is used once every site's workers have stayed the same for 3 s
   (a joining site makes the others replace their workers).
   Both run side by side during the whole phase; the runs alternate
   (single, group; the next round group, single) for $BENCH_ROUNDS rounds.
   Reported: the median of each figure over the rounds, and group / single.
2. Failover: in the same group, with 3 writer threads (HTTP PUTs of new
   keys through any live site, following the 307 to the master, retrying
   502/503/504 until acknowledged: test_replication.Writers), kill -9 the
   master's process group, and measure from the kill to
     (a) another site reporting orchid_replication_role{role="master"} 1
         in GET /metrics (each polled by a thread of its own, every 0.05 s,
         1 s timeout),
     (b) the first write acknowledged (2xx) by another site;
   then restart the killed site (it rejoins as a replica) and wait until it
   answers; the next kill comes 2 s after that. $BENCH_FAILOVERS cycles;
   min / median / max.
3. Catch-up of a new site: a fresh 3-site group gets $BENCH_CATCHUP_ITEMS
   new items (~200-byte values, PUTs on 64 concurrent connections, a 503
   retried), loaded on its creator alone before the other two join and copy
   them; once the three have the last item, a 4th site joins
   (replication_peers = the three others, replication_creator = 0, an empty
   data directory). Measured from its orchidd's start to
     ready  its orchidd answers GET /v0 through nginx with 401,
     synced it answers the last item acknowledged (GET with the group's key),
   with items/s and MB/s, where MB is the size of the new site's database
   files when synced, and of its whole data directory (with the log files,
   whose 64 MiB log.* file is allocated whole; Berkeley DB's __db.NNN
   region files are left out). On this build a joining orchidd answers only
   once its initial sync is done, so ready and synced are about the same.

Finally it prints the warn and error lines of every orchidd log (counted,
pids stripped) so that complaints are seen.

Environment:
  BENCH_SECONDS=10            length of each wrk run
  BENCH_CONNS="16 64"         connection counts of the PUT runs
  BENCH_ROUNDS=2              rounds of the PUT comparison (medians reported)
  BENCH_KEYS=10000            preloaded keys PUT picks among
  BENCH_FAILOVERS=5           kill -9 cycles
  BENCH_CATCHUP_ITEMS=20000   items in the group before the 4th site joins
  BENCH_WORKERS=              orchidd workers per site (empty: orchidd's
                              default for this machine, as orchidd.conf)
  BENCH_ACK_TIMEOUT=          replication_ack_timeout in ms (empty: default)
  BENCH_ACK_POLICY=quorum     replication_ack_policy of the groups (quorum,
                              all, one, none: to see what the ack costs)
  BENCH_PHASES="put failover catchup"   the phases to run
  BENCH_KEEP=0                1: keep the sites' temp dirs (ORCHID_KEEP)
  ORCHIDD, ORCHIDCTL, NGINX   as in tests/e2e/harness.py (default: this
                              checkout's src/ binaries)

With the defaults it takes about 3 minutes on 2 vCPUs. Python 3 standard
library only, plus wrk and nginx. Everything it started is stopped on exit.
"""

import http.client
import os
import re
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
os.environ.setdefault("abs_top_builddir", ROOT)
if os.environ.get("BENCH_KEEP", "0") not in ("", "0"):
    os.environ["ORCHID_KEEP"] = "1"
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import harness  # noqa: E402
import test_replication  # noqa: E402
from harness import _free_port  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS") or 10)
CONNS = [int(c) for c in (os.environ.get("BENCH_CONNS") or "16 64").split()]
ROUNDS = int(os.environ.get("BENCH_ROUNDS") or 2)
NKEYS = int(os.environ.get("BENCH_KEYS") or 10000)
FAILOVERS = int(os.environ.get("BENCH_FAILOVERS") or 5)
CATCHUP_ITEMS = int(os.environ.get("BENCH_CATCHUP_ITEMS") or 20000)
WORKERS = int(os.environ["BENCH_WORKERS"]) if os.environ.get("BENCH_WORKERS") else None
ACK_TIMEOUT = os.environ.get("BENCH_ACK_TIMEOUT") or None
ACK_POLICY = os.environ.get("BENCH_ACK_POLICY") or "quorum"
PHASES = (os.environ.get("BENCH_PHASES") or "put failover catchup").split()
ELECTION_BOUND_S = 60.0
COLLECTION = "bench"

ALL_SERVERS = []      # every site started, for the log report
LOG_COPIES = {}       # name -> orchidd log text, saved before a stop


def say(msg):
    sys.stderr.write("bench/replication: %s\n" % msg)
    sys.stderr.flush()


class Site(harness.Server):
    """harness.Server that can leave workers unset (orchidd's default)."""

    def __init__(self, name, workers=WORKERS, **kw):
        self.name = name
        self.default_workers = workers is None
        super().__init__(workers=workers if workers is not None else 0, **kw)
        ALL_SERVERS.append(self)

    def _write_orchidd_conf(self):
        super()._write_orchidd_conf()
        if self.default_workers:
            with open(self.conf_path) as f:
                lines = [l for l in f.read().splitlines() if not l.startswith("workers = ")]
            with open(self.conf_path, "w") as f:
                f.write("\n".join(lines) + "\n")

    def _wait_workers(self, timeout=20.0):
        if not self.default_workers:
            return super()._wait_workers(timeout)
        # Unknown count: wait until the maintainer runs and the number of
        # workers has stayed the same for a second.
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            pids = self.orchidd_pids()
            n = len(pids["workers"])
            if n != last:
                last, since = n, time.monotonic()
            elif n > 0 and pids["maintainer"] and time.monotonic() - since >= 1.0:
                return
            time.sleep(0.1)

    def save_log(self):
        if self.tmp:
            try:
                with open(self.orchidd_log, errors="replace") as f:
                    LOG_COPIES[self.name] = f.read()
            except OSError:
                pass

    def stop(self):
        self.save_log()
        super().stop()


class Group(test_replication.Group):
    """test_replication.Group with Site (default workers, durability sync),
    names, and a method to add a site that joins later."""

    def __init__(self, name, n=3, ack_policy=ACK_POLICY):
        self.name = name
        self.ack_policy = ack_policy
        self.ports = [_free_port() for _ in range(n)]
        self.rports = [_free_port() for _ in range(n)]
        self.sites = []
        for i in range(n):
            peers = ",".join("127.0.0.1:%d" % self.rports[j] for j in range(n) if j != i)
            self.sites.append(self._site(i, peers, creator=(i == 0), wait=(i == 0)))
        self.down = set()
        self.stopped = set()

    def _site(self, i, peers, creator, wait):
        extra = {
            "search": 0,
            "replication_site": "127.0.0.1:%d" % self.rports[i],
            "replication_peers": peers,
            "replication_url": "http://127.0.0.1:%d" % self.ports[i],
            "replication_creator": 1 if creator else 0,
            "replication_ack_policy": self.ack_policy,
            "replication_ack_timeout": ACK_TIMEOUT,
        }
        return Site("%s-site%d" % (self.name, i), durability="sync", extra=extra,
                    port=self.ports[i], wait_ready=wait, startup_timeout=120)

    def settle(self, quiet=3.0, timeout=90.0):
        """Waits until one site is the master and no site's set of worker
        processes has changed for quiet seconds (a site joining makes the
        others replace their workers); returns the master's index."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            live = [i for i in range(len(self.sites)) if i not in self.down]
            roles = tuple(role_of(self.sites[i]) for i in live)
            pids = tuple(tuple(self.sites[i].orchidd_pids()["workers"]) for i in live)
            state = (roles, pids)
            if state != last:
                last, since = state, time.monotonic()
            elif roles.count("master") == 1 and time.monotonic() - since >= quiet:
                return live[roles.index("master")]
            time.sleep(0.2)
        raise RuntimeError("group %s did not settle within %.0f s (roles %r)"
                           % (self.name, timeout, last[0] if last else None))

    def stop(self):
        """The replicas first, the master last: no elections at teardown
        (their warnings would be noise in the log report)."""
        for i in sorted(self.stopped):
            self.cont(i)
        masters = [s for s in self.sites if s.tmp and role_of(s) == "master"]
        for s in self.sites:
            if s not in masters:
                s.stop()
        for s in masters:
            s.stop()

    def add_site(self):
        """A new site joining through all the others; not started."""
        i = len(self.sites)
        self.ports.append(_free_port())
        self.rports.append(_free_port())
        peers = ",".join("127.0.0.1:%d" % p for p in self.rports[:i])
        site = self._site(i, peers, creator=False, wait=False)
        self.sites.append(site)
        return i


# ---- helpers ------------------------------------------------------------------

def ms(text):
    """wrk's latency (870.00us, 2.30ms, 1.02s, 2.00m) -> ms."""
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    n = float(m.group(1))
    return n * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]


def wrk_put(site, key, conns):
    cmd = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % SECONDS, "--latency", "--timeout", "5s",
           "-s", os.path.join(HERE, "lua", "put.lua"), "http://127.0.0.1:%d" % site.port]
    env = dict(os.environ, ORCHID_KEY=key, ORCHID_COLLECTION=COLLECTION,
               ORCHID_NKEYS=str(NKEYS))
    out = subprocess.run(cmd, env=env, capture_output=True, text=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    if not rps or "50" not in lat:
        say("wrk gave no result:\n" + out)
        return None
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    mx = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", out, re.M)
    return {"rps": float(rps.group(1)), "p50": ms(lat["50"]), "p99": ms(lat["99"]),
            "max": ms(mx.group(1)) if mx else 0.0, "errors": errors, "out": out}


PRELOAD_503 = {}     # site name -> 503 answers the preload retried


def preload(site, key, conc=64, collection=COLLECTION, n=None, prefix="k"):
    """PUT <collection>/<prefix>0 .. <prefix><n-1> (default: bench/k0 ..
    k<NKEYS-1>; bench/preload.py's values), conc connections; a 503 is
    retried (and counted), any other non-201 is an error. Returns a
    description; site.last_acked is the path acknowledged last."""
    n = NKEYS if n is None else n
    site.last_acked = None
    import base64
    headers = {"Authorization": "Basic " + base64.b64encode((key + ":").encode()).decode(),
               "Content-Type": "application/json"}
    errors, retried = [], [0]
    lock = threading.Lock()

    def worker(t):
        conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=60)
        for i in range(t, n, conc):
            body = ('{"name":"bench item","owner":"orchid-bench","thread":0,'
                    '"seq":%d,"rand":%d,"tags":["alpha","beta","gamma"],'
                    '"active":true,"score":%d.5,'
                    '"note":"the quick brown fox jumps over the lazy dog"}'
                    % (i, i * 7919 % 1000000007, i % 10000))
            for attempt in range(50):
                try:
                    conn.request("PUT", "/v0/%s/%s%d" % (collection, prefix, i), body, headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=60)
                    time.sleep(0.1)
                    continue
                if resp.status == 503:
                    with lock:
                        retried[0] += 1
                        if retried[0] <= 3:
                            say("preload on %s: k%d answered 503 %r; retrying"
                                % (site.name, i, data[:200]))
                    time.sleep(0.2)
                    continue
                break
            if resp.status != 201:
                with lock:
                    errors.append((i, resp.status, data[:200]))
                return
            with lock:
                site.last_acked = "/v0/%s/%s%d" % (collection, prefix, i)
        conn.close()

    t0 = time.monotonic()
    ths = [threading.Thread(target=worker, args=(t,)) for t in range(conc)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    took = time.monotonic() - t0
    PRELOAD_503[site.name] = PRELOAD_503.get(site.name, 0) + retried[0]
    if errors:
        raise RuntimeError("preload on %s failed: %r" % (site.name, errors[:3]))
    site.load_s = took
    return "%d items in %.1f s (%.0f PUT/s, %d connections), %d answers 503 retried" % (
        n, took, n / took, conc, retried[0])


def role_of(site, timeout=2):
    try:
        st, _, body, _ = site.request("GET", "/metrics", timeout=timeout)
    except (OSError, http.client.HTTPException):
        return None
    if st != 200:
        return None
    m = re.search(r'^orchid_replication_role\{role="(\w+)"\} 1$', body.decode(), re.M)
    return m.group(1) if m else None


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def dir_size(path, only=None):
    """Bytes of the files under path, Berkeley DB's __db.* regions left out;
    only="log": just the log files (log.NNNNNNNNNN), only="db": the rest."""
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            if re.match(r"__db\.\d+$", f):
                continue
            is_log = re.match(r"log\.\d+$", f) is not None
            if (only == "log" and not is_log) or (only == "db" and is_log):
                continue
            try:
                total += os.path.getsize(os.path.join(dirpath, f))
            except OSError:
                pass
    return total


# ---- phase 1: PUT, single site vs. the group's master ---------------------------

def phase_put(single, group, gkey, master):
    skey = single.new_key("bench")
    say("preloading %d keys on the single site: %s" % (NKEYS, preload(single, skey)))
    results = {}   # (kind, conns) -> [run dicts]
    for r in range(ROUNDS):
        order = [("single", single, skey), ("group", group.sites[master], gkey)]
        if r % 2:
            order.reverse()
        for c in CONNS:
            for kind, site, key in order:
                if kind == "group" and role_of(site) != "master":
                    raise RuntimeError("the group's master changed during the PUT runs")
                res = wrk_put(site, key, c)
                if res is None:
                    continue
                say("round %d %-6s c%-3d %7.0f req/s  p50 %7.2f ms  p99 %7.2f ms  max %8.2f ms"
                    "  errors %d" % (r + 1, kind, c, res["rps"], res["p50"], res["p99"],
                                     res["max"], res["errors"]))
                if res["errors"]:
                    say("wrk said:\n" + "\n".join(l for l in res["out"].splitlines()
                                                  if "Non-2xx" in l or "Socket" in l))
                results.setdefault((kind, c), []).append(res)
                time.sleep(1)
    return results


def print_put(results):
    print("## Durable PUT (durability = sync), bench/lua/put.lua, wrk -t2 -d%ds, "
          "median of %d rounds" % (SECONDS, ROUNDS))
    print()
    print("| conns | setup | req/s | p50 ms | p99 ms | max ms | errors | rounds (req/s) |")
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    for c in CONNS:
        for kind, label in (("single", "single site, no replication"),
                            ("group", "3-site group master, ack %s" % ACK_POLICY)):
            runs = results.get((kind, c), [])
            if not runs:
                continue
            print("| %d | %s | %.0f | %.2f | %.2f | %.2f | %d | %s |" % (
                c, label, med([x["rps"] for x in runs]), med([x["p50"] for x in runs]),
                med([x["p99"] for x in runs]), med([x["max"] for x in runs]),
                sum(x["errors"] for x in runs), ", ".join("%.0f" % x["rps"] for x in runs)))
    print()
    print("| conns | group / single req/s | group / single p50 | group / single p99 |")
    print("|---:|---:|---:|---:|")
    for c in CONNS:
        s, g = results.get(("single", c)), results.get(("group", c))
        if not s or not g:
            continue
        ratio = lambda f: med([x[f] for x in g]) / med([x[f] for x in s])  # noqa: E731
        print("| %d | %.2f | %.2f | %.2f |" % (c, ratio("rps"), ratio("p50"), ratio("p99")))
    print()


# ---- phase 2: failover ---------------------------------------------------------

def phase_failover(group, key):
    w = test_replication.Writers(group, key).start()
    cycles = []
    try:
        time.sleep(2)
        for cycle in range(FAILOVERS):
            m = group.wait_master(ELECTION_BOUND_S)
            n_before = len(w.acked)
            time.sleep(2.0)
            if len(w.acked) == n_before:
                say("cycle %d: no write acknowledged in the 2 s before the kill" % (cycle + 1))
            t0 = time.monotonic()
            group.kill(m)
            # (a) a new master in /metrics: every other site polled by a
            # thread of its own (one slow answer must not delay the others)
            deadline = t0 + ELECTION_BOUND_S
            others = [i for i in range(len(group.sites)) if i != m and i not in group.down]
            found = {}
            done = threading.Event()

            def poll(i):
                while not done.is_set() and time.monotonic() < deadline:
                    if role_of(group.sites[i], timeout=1) == "master":
                        found.setdefault(i, time.monotonic() - t0)
                        done.set()
                        return
                    time.sleep(0.05)
            pollers = [threading.Thread(target=poll, args=(i,), daemon=True) for i in others]
            for th in pollers:
                th.start()
            for th in pollers:
                th.join(ELECTION_BOUND_S + 5)
            elected, new = None, None
            if found:
                new = min(found, key=found.get)
                elected = found[new]
            # (b) the first write acknowledged by another site
            while w.first_ack_after(t0, m) is None and time.monotonic() < deadline:
                time.sleep(0.01)
            at = w.first_ack_after(t0, m)
            acked = at - t0 if at is not None else None
            say("cycle %d: killed site %d; new master site %s after %s s; first acknowledged "
                "write after %s s" % (cycle + 1, m, new,
                                      "%.2f" % elected if elected is not None else "-",
                                      "%.2f" % acked if acked is not None else "-"))
            t1 = time.monotonic()
            group.restart(m)
            rejoin = time.monotonic() - t1
            cycles.append({"elected": elected, "acked": acked, "rejoin": rejoin,
                           "old": m, "new": new})
            say("cycle %d: site %d restarted, answering after %.2f s, role %s"
                % (cycle + 1, m, rejoin, role_of(group.sites[m])))
    finally:
        w.finish()
    return cycles, len(w.acked), list(w.bad)


def print_failover(cycles, nacked, bad):
    print("## Failover: kill -9 of the master's process group, 3 writer threads, "
          "%d cycles" % len(cycles))
    print()
    print("| cycle | killed | new master | new master in /metrics s | first acknowledged "
          "write s | killed site answering again s |")
    print("|---:|---:|---:|---:|---:|---:|")
    fmt = lambda v: "%.2f" % v if v is not None else "none"  # noqa: E731
    for i, c in enumerate(cycles):
        print("| %d | site %d | site %s | %s | %s | %.2f |" % (
            i + 1, c["old"], c["new"], fmt(c["elected"]), fmt(c["acked"]), c["rejoin"]))
    print()
    print("| measure | min s | median s | max s |")
    print("|---|---:|---:|---:|")
    for f, label in (("elected", "kill -> new master in /metrics"),
                     ("acked", "kill -> first acknowledged write"),
                     ("rejoin", "restart -> killed site answering")):
        xs = [c[f] for c in cycles if c[f] is not None]
        if xs:
            print("| %s | %.2f | %.2f | %.2f |" % (label, min(xs), med(xs), max(xs)))
    missing = sum(1 for c in cycles if c["elected"] is None or c["acked"] is None)
    print()
    print("Writes acknowledged during the phase: %d; answers neither 2xx nor retried: %d%s; "
          "cycles without a measure: %d" % (nacked, len(bad),
                                            " (%r)" % bad[:5] if bad else "", missing))
    print()


# ---- phase 3: catch-up of a new site -------------------------------------------

def phase_catchup():
    g = Group("catchup")
    try:
        keys = {}

        def load(site):
            keys["c"] = site.new_key("catchup")
            say("catch-up: loading %d items on the group's creator, alone: %s" % (
                CATCHUP_ITEMS, preload(site, keys["c"], conc=64, collection="catchup",
                                       n=CATCHUP_ITEMS, prefix="c")))
            keys["last"] = site.last_acked
            keys["took"] = site.load_s
        g.start(load=load)
        m = g.settle()
        key, last, took = keys["c"], keys["last"], keys["took"]
        st, _, _, doc = g.sites[m].request("GET", last, key=key)
        if st != 200:
            raise RuntimeError("the last item is not on the master: %d %r" % (st, doc))
        say("catch-up: %d items loaded on the master in %.1f s (%.0f items/s)"
            % (CATCHUP_ITEMS, took, CATCHUP_ITEMS / took))
        # Every replica has it before the new site starts.
        for i in range(3):
            if g.wait_value(i, key, last, doc, timeout=120) is not None:
                raise RuntimeError("site %d lacks the last item" % i)
        master_size = dir_size(g.sites[m].datadir)
        i = g.add_site()
        new = g.sites[i]
        t0 = time.monotonic()
        new.start()
        ready = synced = None
        deadline = t0 + 600
        while time.monotonic() < deadline and ready is None:
            if new.orchidd_proc.poll() is not None:
                raise RuntimeError("the new site's orchidd exited with %s"
                                   % new.orchidd_proc.returncode)
            try:
                if new.request("GET", "/v0", timeout=5)[0] == 401:
                    ready = time.monotonic() - t0
            except (OSError, http.client.HTTPException):
                pass
            if ready is None:
                time.sleep(0.05)
        first_status = None
        while time.monotonic() < deadline and synced is None:
            try:
                st, _, _, got = new.request("GET", last, key=key, timeout=10)
                if first_status is None:
                    first_status = st
                if st == 200 and got == doc:
                    synced = time.monotonic() - t0
            except (OSError, http.client.HTTPException):
                pass
            if synced is None:
                time.sleep(0.05)
        size = dir_size(new.datadir)
        role = role_of(new)
        say("catch-up: new site ready after %s s, has the last item after %s s "
            "(first answer to its GET: %s), data dir %.1f MB, role %s" % (
                "%.2f" % ready if ready is not None else "-",
                "%.2f" % synced if synced is not None else "-", first_status,
                size / 1e6, role))
        return {"items": CATCHUP_ITEMS, "load_s": took, "ready": ready, "synced": synced,
                "size": size, "master_size": master_size, "last": last,
                "db_mb": dir_size(new.datadir, "db") / 1e6,
                "log_mb": dir_size(new.datadir, "log") / 1e6, "role": role,
                "first_status": first_status}
    finally:
        g.stop()


def print_catchup(c):
    print("## Catch-up of a 4th site joining a group holding %d items (~200-byte values)"
          % c["items"])
    print()
    print("| measure | value |")
    print("|---|---:|")
    print("| load of the items on the creator alone (PUT, 64 connections) | %.1f s (%.0f items/s) |"
          % (c["load_s"], c["items"] / c["load_s"]))
    print("| master's data directory (no __db.* regions) | %.1f MB |" % (c["master_size"] / 1e6))
    print("| new site's data directory when synced | %.1f MB (log files %.1f MB, the rest %.1f MB) |"
          % (c["size"] / 1e6, c["log_mb"], c["db_mb"]))
    print("| item polled (the last one acknowledged) | %s |" % c["last"])
    if c["ready"] is not None:
        print("| start -> ready (GET /v0 answers 401) | %.2f s |" % c["ready"])
    else:
        print("| start -> ready | not within 600 s |")
    if c["synced"] is not None:
        print("| start -> has the last item | %.2f s |" % c["synced"])
        print("| catch-up rate (items / time to the last item) | %.0f items/s |"
              % (c["items"] / c["synced"]))
        print("| catch-up rate (database files, no logs / time to the last item) | %.1f MB/s |"
              % (c["db_mb"] / c["synced"]))
        print("| catch-up rate (whole data directory / time to the last item) | %.1f MB/s |"
              % (c["size"] / 1e6 / c["synced"]))
    else:
        print("| start -> has the last item | not within 600 s |")
    print("| new site's role afterwards | %s |" % c["role"])
    print()


# ---- logs -------------------------------------------------------------------

def print_logs():
    print("## Warnings and errors in the orchidd logs")
    print()
    any_ = False
    for s in ALL_SERVERS:
        s.save_log()
        text = LOG_COPIES.get(s.name, "")
        counts = {}
        for line in text.splitlines():
            if re.search(r": (warn|error): ", line) or (line and not line.startswith("orchidd[")):
                norm = re.sub(r"^orchidd\[\d+\] ", "orchidd[PID] ", line)
                counts[norm] = counts.get(norm, 0) + 1
        if counts:
            any_ = True
            print("%s:" % s.name)
            print("```")
            for line, n in sorted(counts.items(), key=lambda kv: -kv[1])[:25]:
                print("%5d  %s" % (n, line[:300]))
            if len(counts) > 25:
                print("  ... %d more distinct lines" % (len(counts) - 25))
            print("```")
    if not any_:
        print("none")
    print()


def main():
    for tool in ("wrk",):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            say("%s is not installed" % tool)
            return 2
    t_start = time.monotonic()
    say("workers per site: %s; phases: %s" % (WORKERS or "orchidd default", " ".join(PHASES)))
    put_results = cycles = catchup = None
    nacked, bad = 0, []
    single = group = None
    try:
        if "put" in PHASES or "failover" in PHASES:
            keys = {}

            def load(site):
                keys["g"] = site.new_key("bench")
                say("preloading %d keys on the group's creator, alone: %s"
                    % (NKEYS, preload(site, keys["g"])))
            group = Group("group").start(load=load)
            master = group.settle()
            gkey = keys["g"]
            say("group up, master site %d (workers per site: %d)"
                % (master, len(group.sites[master].orchidd_pids()["workers"])))
            if "put" in PHASES:
                single = Site("single", durability="sync", extra={"search": 0}).start()
                put_results = phase_put(single, group, gkey, master)
                single.stop()
            if "failover" in PHASES:
                cycles, nacked, bad = phase_failover(group, gkey)
            group.stop()
            group = None
        if "catchup" in PHASES:
            catchup = phase_catchup()
    except BaseException:
        if single:
            single.stop()
        if group:
            group.stop()
        print_logs()
        raise
    finally:
        if single:
            single.stop()
        if group:
            group.stop()
    print("# Orchid replication benchmark (3 sites on loopback, %d CPUs, workers per site: %s, "
          "ack policy %s)" % (os.cpu_count(), WORKERS or "orchidd default", ACK_POLICY))
    print()
    if put_results:
        print_put(put_results)
    if cycles is not None:
        print_failover(cycles, nacked, bad)
    if catchup:
        print_catchup(catchup)
    if PRELOAD_503:
        print("503 answers retried while loading items: %s" % ", ".join(
            "%s %d" % kv for kv in sorted(PRELOAD_503.items())))
        print()
    print_logs()
    print("## Summary")
    print()
    if put_results:
        for c in CONNS:
            s, g = put_results.get(("single", c)), put_results.get(("group", c))
            if s and g:
                print("- PUT c%d: group master %.0f req/s (p99 %.1f ms) vs single site %.0f "
                      "req/s (p99 %.1f ms): %.2fx the throughput" % (
                          c, med([x["rps"] for x in g]), med([x["p99"] for x in g]),
                          med([x["rps"] for x in s]), med([x["p99"] for x in s]),
                          med([x["rps"] for x in g]) / med([x["rps"] for x in s])))
    if cycles:
        el = [c["elected"] for c in cycles if c["elected"] is not None]
        ac = [c["acked"] for c in cycles if c["acked"] is not None]
        if el and ac:
            print("- Failover over %d kills: new master after %.2f s median (max %.2f s); "
                  "first acknowledged write after %.2f s median (max %.2f s)"
                  % (len(cycles), med(el), max(el), med(ac), max(ac)))
    if catchup and catchup["synced"]:
        print("- A new site caught up with %d items in %.1f s (ready after %.1f s): %.0f items/s, "
              "%.1f MB/s of database files (%.1f MB), %.1f MB/s of the whole data directory "
              "(%.1f MB, of which log files %.1f MB)" % (
                  catchup["items"], catchup["synced"], catchup["ready"] or 0,
                  catchup["items"] / catchup["synced"], catchup["db_mb"] / catchup["synced"],
                  catchup["db_mb"], catchup["size"] / 1e6 / catchup["synced"],
                  catchup["size"] / 1e6, catchup["log_mb"]))
    print("- Total run time: %.0f s" % (time.monotonic() - t_start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
