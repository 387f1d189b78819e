"""Replication (docs/replication.md): three sites on loopback, each an orchidd
behind its own nginx, in one Berkeley DB replication group.

- Writes go to the master; a replica answers them 307 to the master's URL.
  A write's 2xx carries Orchid-Commit-Token; a read with Orchid-Read-After on
  a replica waits until the replica has that write.
- A 2xx means the write is on a quorum: with both replicas stopped the
  master answers 503 replication_unacknowledged.
- kill -9 of the master (its whole process group) while writers run, many
  times: a new master is elected within a bound, and every acknowledged
  write is on every site once the killed one has rejoined.
- A master stopped with SIGSTOP (a partition) is replaced, and once it runs
  again it acknowledges nothing.
- The negative control: with replication_ack_policy = none the same loss
  scenario loses acknowledged writes, so the checks can fail.

ORCHID_REPL_CYCLES sets the number of kill cycles (default 5; the long form
in docs/replication.md used 100).
"""

import json
import os
import random
import re
import signal
import sys
import threading
import time
import unittest
from urllib.parse import urlparse

import harness
from harness import Server, _free_port

CYCLES = int(os.environ.get("ORCHID_REPL_CYCLES") or 5)
ELECTION_BOUND_S = 30.0   # generous: the sanitizer builds are slow


class Group:
    """n sites; site 0 creates the group."""

    def __init__(self, n=3, ack_policy="quorum", ack_timeout=1000, workers=2):
        self.ports = [_free_port() for _ in range(n)]
        self.rports = [_free_port() for _ in range(n)]
        self.sites = []
        for i in range(n):
            peers = ",".join("127.0.0.1:%d" % self.rports[j] for j in range(n) if j != i)
            extra = {
                "search": 0,
                "replication_site": "127.0.0.1:%d" % self.rports[i],
                "replication_peers": peers,
                "replication_url": "http://127.0.0.1:%d" % self.ports[i],
                "replication_creator": 1 if i == 0 else 0,
                "replication_ack_policy": ack_policy,
                "replication_ack_timeout": ack_timeout,
            }
            self.sites.append(Server(workers=workers, extra=extra, port=self.ports[i],
                                     wait_ready=(i == 0), startup_timeout=120))
        self.down = set()      # sites killed and not restarted
        self.stopped = set()   # sites whose orchidd is SIGSTOPped

    def start(self, load=None):
        """Starts site 0 (the creator) alone, runs load(site 0) if given (a
        group of one acknowledges its own commits: bench/replication.py
        loads its data so), then the other sites, which copy its data
        (internal init) as they join."""
        self.sites[0].start()
        if load is not None:
            load(self.sites[0])
        for s in self.sites[1:]:
            s.start()
        for s in self.sites[1:]:
            s.wait_ready(120)
        self.wait_master(60)
        return self

    def stop(self):
        for i in sorted(self.stopped):
            self.cont(i)
        # Replicas first: a master stopped first would leave them to hold
        # elections while they stop.
        order = sorted(range(len(self.sites)),
                       key=lambda i: i not in self.down and self.role(i, timeout=2) == "master")
        for i in order:
            self.sites[i].stop()

    def add_site(self, peers):
        """A new site, joining through the sites peers (indexes)."""
        port, rport = _free_port(), _free_port()
        extra = dict(self.sites[0].extra)
        extra.update({
            "replication_site": "127.0.0.1:%d" % rport,
            "replication_peers": ",".join("127.0.0.1:%d" % self.rports[j] for j in peers),
            "replication_url": "http://127.0.0.1:%d" % port,
            "replication_creator": 0,
        })
        self.ports.append(port)
        self.rports.append(rport)
        s = Server(workers=2, extra=extra, port=port, startup_timeout=120)
        self.sites.append(s)
        s.start()
        return len(self.sites) - 1

    def site_by_port(self, port):
        return next(i for i, s in enumerate(self.sites) if s.port == port)

    def role(self, i, timeout=5):
        """The role site i reports in /metrics, or None."""
        try:
            st, _, body, _ = self.sites[i].request("GET", "/metrics", timeout=timeout)
        except OSError:
            return None
        if st != 200:
            return None
        for role in ("master", "replica", "unknown"):
            if re.search(r'^orchid_replication_role\{role="%s"\} 1$' % role,
                         body.decode(), re.M):
                return role
        return None

    def wait_master(self, timeout, exclude=()):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i in range(len(self.sites)):
                if i in self.down or i in self.stopped or i in exclude:
                    continue
                if self.role(i, timeout=2) == "master":
                    return i
            time.sleep(0.1)
        raise AssertionError("no master within %.0f s" % timeout)

    def kill(self, i):
        pid = self.sites[i].orchidd_proc.pid
        os.killpg(pid, signal.SIGKILL)
        self.sites[i].orchidd_proc.wait(30)
        self.down.add(i)

    def restart(self, i):
        # The killed master's children die with it (PR_SET_PDEATHSIG);
        # the new orchidd waits for the lock they held.
        self.sites[i].start_orchidd()
        self.sites[i].wait_ready(120)
        self.down.discard(i)

    def pause(self, i):
        os.killpg(self.sites[i].orchidd_proc.pid, signal.SIGSTOP)
        self.stopped.add(i)

    def cont(self, i):
        os.killpg(self.sites[i].orchidd_proc.pid, signal.SIGCONT)
        self.stopped.discard(i)

    def put(self, i, key, path, value, follow=True, timeout=30):
        """PUT through site i, following one 307; (status, headers, site)."""
        st, h, _, doc = self.sites[i].request("PUT", path, key=key, body=value,
                                              timeout=timeout)
        if st == 307 and follow:
            j = self.site_by_port(urlparse(h["location"]).port)
            st, h, _, doc = self.sites[j].request("PUT", urlparse(h["location"]).path,
                                                  key=key, body=value, timeout=timeout)
            i = j
        return st, h, i

    def wait_value(self, i, key, path, value, timeout=60):
        """Polls site i until path holds value; the last status otherwise."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                st, _, _, doc = self.sites[i].request("GET", path, key=key, timeout=10)
                last = (st, doc)
                if st == 200 and doc == value:
                    return None
            except OSError as e:
                last = repr(e)
            time.sleep(0.1)
        return last


class Writers:
    """Threads writing new keys through any live site, following redirects
    and retrying a write until it is acknowledged (or the run ends). Only
    2xx answers are recorded as acknowledged."""

    def __init__(self, group, key, threads=3):
        self.g = group
        self.key = key
        self.threads = threads
        self.acked = {}            # path -> value
        self.acked_at = []         # (monotonic time, site) of each ack
        self.bad = []              # answers that are neither 2xx nor retryable
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.workers = []

    def _run(self, t):
        n = 0
        site = 0
        while not self.stop.is_set():
            path = "/v0/repl/w%d-%d" % (t, n)
            value = {"t": t, "n": n}
            while not self.stop.is_set():
                live = [i for i in range(len(self.g.sites))
                        if i not in self.g.down and i not in self.g.stopped]
                if site not in live:
                    site = random.choice(live)
                try:
                    st, _, at = self.g.put(site, self.key, path, value, timeout=15)
                except OSError:
                    site = random.choice(live)
                    time.sleep(0.05)
                    continue
                if 200 <= st < 300:
                    with self.lock:
                        self.acked[path] = value
                        self.acked_at.append((time.monotonic(), at))
                    site = at
                    break
                if st in (502, 503, 504, 307):
                    site = random.choice(live)
                    time.sleep(0.05)
                    continue
                with self.lock:
                    self.bad.append((path, st))
                break
            n += 1

    def start(self):
        for t in range(self.threads):
            th = threading.Thread(target=self._run, args=(t,), daemon=True)
            th.start()
            self.workers.append(th)
        return self

    def finish(self):
        self.stop.set()
        for th in self.workers:
            th.join(60)

    def first_ack_after(self, t0, not_site):
        with self.lock:
            for at, site in self.acked_at:
                if at > t0 and site != not_site:
                    return at
        return None


def exported(group, i, key, collection):
    """{path: value} of the collection's live items on site i (one export)."""
    st, _, body, _ = group.sites[i].request("GET", "/v0/%s?export=true" % collection,
                                            key=key, timeout=120)
    if st != 200:
        return None
    out = {}
    for line in body.decode().splitlines():
        doc = json.loads(line)
        if doc.get("kind") == "item":
            out["/v0/%s/%s" % (collection, doc["path"]["key"])] = doc["value"]
    return out


def missing_on(group, i, key, acked, timeout=60):
    """The acknowledged writes site i lacks once it has had time to catch up
    (one export per look, the collections of the acknowledged paths)."""
    collections = sorted({p.split("/")[2] for p in acked})
    deadline = time.monotonic() + timeout
    while True:
        have = {}
        for c in collections:
            try:
                got = exported(group, i, key, c)
            except OSError:
                got = None
            have.update(got or {})
        missing = sorted(p for p, v in acked.items() if have.get(p) != v)
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(0.5)


class ReplicationTest(unittest.TestCase):

    def setUp(self):
        self.g = Group().start()
        self.master = self.g.wait_master(60)
        self.key = self.g.sites[self.master].new_key("repl")

    def tearDown(self):
        self.g.stop()

    def replicas(self):
        return [i for i in range(3) if i != self.master]

    @harness.timeout(300)
    def test_writes_reach_replicas_and_replicas_redirect(self):
        g, key, m = self.g, self.key, self.master
        st, h, _, doc = g.sites[m].request("PUT", "/v0/c/a", key=key, body={"v": 1})
        self.assertEqual(st, 201, doc)
        token = h.get("orchid-commit-token")
        self.assertRegex(token or "", r"^[0-9a-f]{40}$")
        for r in self.replicas():
            # Read-your-writes on a replica: the token makes it wait.
            st, _, _, doc = g.sites[r].request("GET", "/v0/c/a", key=key,
                                               headers={"Orchid-Read-After": token})
            self.assertEqual((st, doc), (200, {"v": 1}))
            # A write on a replica: 307 to the master, nothing written here.
            st, h, _, doc = g.sites[r].request("PUT", "/v0/c/b?x=1", key=key,
                                               body={"v": r})
            self.assertEqual(st, 307, doc)
            self.assertEqual(doc["code"], "not_master")
            self.assertEqual(h["location"], "%s/v0/c/b?x=1" % g.sites[m].url)
            st, h, at = g.put(r, key, "/v0/c/b", {"v": r})
            self.assertEqual((st, at), (201, m))
            # Other writes too: DELETE, events.
            st, h, _, doc = g.sites[r].request("DELETE", "/v0/c/b", key=key)
            self.assertEqual(st, 307, doc)
            st, h, _, doc = g.sites[r].request("POST", "/v0/c/a/events/e", key=key,
                                               body={"x": 1})
            self.assertEqual(st, 307, doc)
            # The key is checked first: no key, no redirect.
            st, h, _, doc = g.sites[r].request("PUT", "/v0/c/b", body={"v": r})
            self.assertEqual(st, 401, doc)
        # A malformed token is a 400; one of no commit here waits and 503s.
        r = self.replicas()[0]
        st, _, _, doc = g.sites[r].request("GET", "/v0/c/a", key=key,
                                           headers={"Orchid-Read-After": "xyz"})
        self.assertEqual((st, doc["code"]), (400, "bad_token"))
        future = token[:16] + "ffffffff" + token[24:]
        st, _, _, doc = g.sites[r].request("GET", "/v0/c/a", key=key,
                                           headers={"Orchid-Read-After": future})
        self.assertIn(st, (409, 503), doc)

    @harness.timeout(300)
    def test_orchidctl_group_and_metrics(self):
        g, m = self.g, self.master
        out = g.sites[m].orchidctl("group").stdout.decode()
        lines = out.splitlines()
        self.assertEqual(lines[0], "SITE\tROLE\tCONNECTED")
        rows = [l.split("\t") for l in lines[1:4]]
        self.assertEqual(sorted(r[0] for r in rows),
                         sorted("127.0.0.1:%d" % p for p in g.rports))
        self.assertEqual([r[1] for r in rows].count("master"), 1)
        self.assertIn("this site: master", out)
        r = self.replicas()[0]
        out = g.sites[r].orchidctl("group").stdout.decode()
        self.assertRegex(out, r"this site: replica; lag \d+\.\d+ s")
        st, _, body, _ = g.sites[r].request("GET", "/metrics")
        text = body.decode()
        self.assertIn('orchid_replication_role{role="replica"} 1', text)
        self.assertRegex(text, r"(?m)^orchid_replication_lag_seconds \d")
        self.assertRegex(text, r"(?m)^orchid_replication_connected_sites 3$")
        # Every replication metric docs/operations.md names is exposed.
        with open(os.path.join(harness.SRCDIR, "docs", "operations.md")) as f:
            documented = set(re.findall(r"\borchid_replication_[a-z_]+[a-z]", f.read()))
        self.assertGreaterEqual(len(documented), 8)
        for name in sorted(documented):
            self.assertRegex(text, r"(?m)^%s[ {]" % name)
        # A replica cannot write: orchidctl says so instead of pretending.
        p = g.sites[r].orchidctl("key", "create", "other", check=False)
        self.assertNotEqual(p.returncode, 0)

    @harness.timeout(300)
    def test_no_quorum_no_2xx(self):
        """Both replicas stopped: the master commits locally but cannot get
        an acknowledgement, and answers 503, never 2xx."""
        g, key, m = self.g, self.key, self.master
        st, _, _, doc = g.sites[m].request("PUT", "/v0/c/before", key=key, body={"v": 0})
        self.assertEqual(st, 201, doc)
        for r in self.replicas():
            g.pause(r)
        try:
            t0 = time.monotonic()
            st, h, _, doc = g.sites[m].request("PUT", "/v0/c/nq", key=key, body={"v": 1})
            took = time.monotonic() - t0
            self.assertEqual(st, 503, doc)
            self.assertEqual(doc["code"], "replication_unacknowledged")
            self.assertGreaterEqual(took, 0.9)   # replication_ack_timeout = 1000 ms
        finally:
            for r in self.replicas():
                g.cont(r)
        # With the replicas back, writes are acknowledged again.
        deadline = time.monotonic() + 30
        while True:
            st, _, _, doc = g.sites[m].request("PUT", "/v0/c/after", key=key, body={"v": 2})
            if st == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(st, 201, doc)

    @harness.timeout(300)
    def test_remove_a_dead_site_and_add_a_new_one(self):
        g, key, m = self.g, self.key, self.master
        for n in range(50):
            st, _, _ = g.put(m, key, "/v0/c/n%d" % n, {"n": n})
            self.assertEqual(st, 201)
        dead = self.replicas()[0]
        g.kill(dead)
        p = g.sites[m].orchidctl("group", "remove", "127.0.0.1:%d" % g.rports[dead])
        self.assertIn(b"removed", p.stdout)
        out = g.sites[m].orchidctl("group").stdout.decode()
        self.assertNotIn("127.0.0.1:%d\t" % g.rports[dead], out)
        # With two sites a quorum is both: writes go on.
        st, _, _ = g.put(m, key, "/v0/c/two", {"v": 2})
        self.assertEqual(st, 201)
        # A new site joins through the live ones and copies everything.
        live = [i for i in range(3) if i != dead]
        new = g.add_site(live)
        for n in range(50):
            self.assertIsNone(g.wait_value(new, key, "/v0/c/n%d" % n, {"n": n}))
        self.assertIsNone(g.wait_value(new, key, "/v0/c/two", {"v": 2}))
        out = g.sites[new].orchidctl("group").stdout.decode()
        self.assertEqual(len(out.splitlines()), 1 + 3 + 2, out)
        st, h, at = g.put(new, key, "/v0/c/three", {"v": 3})
        self.assertEqual((st, at), (201, m))

    @harness.timeout(60 + CYCLES * 90)
    def test_kill_master_many_times(self):
        g, key = self.g, self.key
        w = Writers(g, key).start()
        failovers = []
        try:
            for cycle in range(CYCLES):
                time.sleep(random.uniform(0.3, 1.5))
                m = g.wait_master(ELECTION_BOUND_S)
                t0 = time.monotonic()
                g.kill(m)
                new = g.wait_master(ELECTION_BOUND_S, exclude=(m,))
                # Failover as a client sees it: the first write acknowledged
                # by another site after the kill.
                deadline = t0 + ELECTION_BOUND_S
                while w.first_ack_after(t0, m) is None and time.monotonic() < deadline:
                    time.sleep(0.02)
                at = w.first_ack_after(t0, m)
                self.assertIsNotNone(at, "no write acknowledged within %.0f s of the kill"
                                     % ELECTION_BOUND_S)
                failovers.append(at - t0)
                g.restart(m)   # rejoins as a replica
                self.assertNotEqual(g.role(m), "master")
        finally:
            w.finish()
        self.assertEqual(w.bad, [])
        self.assertGreater(len(w.acked), 10 * CYCLES)
        sys.stderr.write("replication: %d cycles, %d acknowledged writes, failover "
                         "(kill to the next acknowledged write) min %.2f s, median %.2f s, "
                         "max %.2f s\n" % (CYCLES, len(w.acked), min(failovers),
                                           sorted(failovers)[len(failovers) // 2],
                                           max(failovers)))
        for i in range(3):
            self.assertEqual(missing_on(g, i, key, w.acked), [], "site %d" % i)

    @harness.timeout(300)
    def test_partitioned_master_cannot_acknowledge(self):
        g, key, m = self.g, self.key, self.master
        g.pause(m)
        t0 = time.monotonic()
        new = g.wait_master(ELECTION_BOUND_S, exclude=(m,))
        sys.stderr.write("replication: a new master %.2f s after the old one stopped\n"
                         % (time.monotonic() - t0))
        result = {}

        def put_to_old():
            try:
                result["r"] = g.sites[m].request("PUT", "/v0/c/split", key=key,
                                                 body={"v": "old"}, timeout=60)
            except OSError as e:
                result["r"] = (None, {}, b"", repr(e))

        th = threading.Thread(target=put_to_old)
        th.start()
        time.sleep(0.5)        # the request waits in the stopped site's socket
        g.cont(m)
        th.join(60)
        st = result["r"][0]
        self.assertFalse(st is not None and 200 <= st < 300,
                         "the partitioned old master acknowledged a write: %r" % (result,))
        # It rejoins as a replica, and the write is nowhere.
        deadline = time.monotonic() + 60
        while g.role(m) != "replica" and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(g.role(m), "replica")
        # The two masters meeting may hold another election: write through
        # whichever site is the master now.
        now = g.wait_master(ELECTION_BOUND_S)
        st, h, at = g.put(now, key, "/v0/c/after", {"v": 1})
        self.assertEqual((st, at), (201, now))
        for i in range(3):
            self.assertIsNone(g.wait_value(i, key, "/v0/c/after", {"v": 1}), "site %d" % i)
            st, _, _, doc = g.sites[i].request("GET", "/v0/c/split", key=key)
            self.assertEqual(st, 404, "site %d has the unacknowledged write: %r" % (i, doc))


class NegativeControlTest(unittest.TestCase):
    """replication_ack_policy = none: the master answers before any replica
    has the write. The scenario of test_no_quorum_no_2xx (both replicas
    stopped), then the master's death and the replicas' restart: with the
    quorum policy nothing was acknowledged; with none, 20 writes were, and
    the new master lacks them. If this found nothing lost, the checks of
    the tests above could not fail either."""

    @harness.timeout(300)
    def test_ack_policy_none_loses_acknowledged_writes(self):
        g = Group(ack_policy="none").start()
        try:
            m = g.wait_master(60)
            key = g.sites[m].new_key("repl")
            st, _, _, _ = g.sites[m].request("PUT", "/v0/c/before", key=key, body={"v": 0})
            self.assertEqual(st, 201)
            for i in range(3):
                self.assertIsNone(g.wait_value(i, key, "/v0/c/before", {"v": 0}))
            replicas = [i for i in range(3) if i != m]
            for r in replicas:
                g.pause(r)
            acked = {}
            for n in range(20):
                st, _, _, doc = g.sites[m].request("PUT", "/v0/c/n%d" % n, key=key,
                                                   body={"n": n})
                if 200 <= st < 300:
                    acked["/v0/c/n%d" % n] = {"n": n}
            self.assertEqual(len(acked), 20)   # no acknowledgement awaited
            # The master dies; so do the stopped replicas, and with them
            # what the master had sent into their sockets: nothing but the
            # master had those writes.
            g.kill(m)
            for r in replicas:
                g.kill(r)
                g.stopped.discard(r)
            for r in replicas:
                g.sites[r].start_orchidd()
            for r in replicas:
                g.sites[r].wait_ready(120)
                g.down.discard(r)
            new = g.wait_master(ELECTION_BOUND_S, exclude=(m,))
            # One look: the new master has what it has.
            lost = missing_on(g, new, key, acked, timeout=0)
            sys.stderr.write("negative control (ack policy none): %d of %d acknowledged "
                             "writes lost\n" % (len(lost), len(acked)))
            self.assertGreater(len(lost), 0)
        finally:
            g.stop()


if __name__ == "__main__":
    unittest.main()
