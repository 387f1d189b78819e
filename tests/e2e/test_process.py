"""Process model (DESIGN.md §6): workers killed during writes, the maintainer
and the master killed, SIGTERM, SIGHUP reloads, orchidd -n.

Every scenario changes the processes, so each test runs its own Server.
Waits use deadlines, never fixed sleeps as assertions.
"""

import functools
import http.client
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import Server, run_threads


def wait_for(pred, timeout, interval=0.05):
    """Polls pred() until it returns a true value or timeout passes;
    returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class ProcessTestCase(unittest.TestCase):
    server_options = {"workers": 2}

    def setUp(self):
        self.server = Server(**self.server_options)
        self.server.start()
        self.addCleanup(self.server.stop)
        self.key = self.server.new_key("proc")

    def ping(self, timeout=5):
        try:
            return self.server.request("HEAD", "/v0", key=self.key, timeout=timeout)[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    def assertPingWithin(self, seconds):
        self.assertTrue(wait_for(self.ping, seconds, 0.1),
                        "the server did not answer a ping within %d s" % seconds)

    def get_retrying(self, path, deadline_s=30):
        """GET that retries transport errors, 502 and 503 until a deadline."""
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                resp = self.server.request("GET", path, key=self.key, timeout=10)
                if resp[0] not in (502, 503, 504):
                    return resp
            except (OSError, http.client.HTTPException):
                resp = None
            if time.monotonic() >= deadline:
                self.fail("GET %s kept failing until the deadline: %r" % (path, resp))
            time.sleep(0.1)


class WorkerKillDuringWritesTest(ProcessTestCase):
    server_options = {"workers": 4}

    THREADS = 8
    KILL_SECONDS = 3.0
    KILL_EVERY = 0.3

    def test_sigkill_workers_during_concurrent_writes(self):
        srv = self.server
        stop_writing = threading.Event()
        # per thread: list of (key, seq, value, outcome) where outcome is
        # ("ok", etag) or ("unknown", detail)
        logs = [[] for _ in range(self.THREADS)]

        def writer(t):
            seq = 0
            # Each thread owns 3 keys and writes them round-robin with values
            # unique to (thread, seq).
            while not stop_writing.is_set() or seq < 30:
                k = "t%d-k%d" % (t, seq % 3)
                value = {"thread": t, "seq": seq, "pad": "v%d.%d" % (t, seq)}
                try:
                    st, h, body, doc = srv.request("PUT", "/v0/kill/" + k, key=self.key,
                                                   body=value, timeout=40)
                except (OSError, http.client.HTTPException) as e:
                    logs[t].append((k, seq, value, ("unknown", repr(e))))
                else:
                    if st == 201:
                        logs[t].append((k, seq, value, ("ok", h.get("etag"))))
                    else:
                        self.assertIn(st, (502, 503, 504), "PUT %s: %r" % (k, body))
                        logs[t].append((k, seq, value, ("unknown", st)))
                seq += 1
                if seq > 2000:
                    return

        kills = []

        def kill_workers():
            rnd = random.Random(1234)
            end = time.monotonic() + self.KILL_SECONDS
            while time.monotonic() < end:
                time.sleep(self.KILL_EVERY)
                workers = srv.orchidd_pids()["workers"]
                if workers:
                    try:
                        os.kill(rnd.choice(workers), signal.SIGKILL)
                        kills.append(1)
                    except ProcessLookupError:
                        pass

        run_threads([], during=kill_workers, stop=stop_writing,
                    background=[functools.partial(writer, t) for t in range(self.THREADS)])
        self.assertGreater(len(kills), 0)
        self.assertIsNotNone(srv.orchidd_pids()["master"], "the master died")

        # After the kills stop, the server answers within 10 s.
        self.assertPingWithin(10)

        acked = sum(1 for log in logs for e in log if e[3][0] == "ok")
        self.assertGreater(acked, 0, "no write succeeded at all")

        # Per key, the writes in order.
        per_key = {}
        for log in logs:
            for k, seq, value, outcome in log:
                per_key.setdefault(k, []).append((seq, value, outcome))

        for k, writes in sorted(per_key.items()):
            with self.subTest(key=k):
                acked_writes = [w for w in writes if w[2][0] == "ok"]
                unknown = [w for w in writes if w[2][0] != "ok"]
                if acked_writes:
                    # The current value is the last acknowledged write, or a
                    # later write whose outcome is unknown.
                    st, h, body, doc = self.get_retrying("/v0/kill/" + k)
                    self.assertEqual(st, 200, body)
                    later = [w for w in writes if w[0] > acked_writes[-1][0]]
                    if not later:
                        self.assertEqual(doc, acked_writes[-1][1])
                        self.assertEqual(h.get("etag"), acked_writes[-1][2][1])
                    else:
                        self.assertIn(doc, [acked_writes[-1][1]] + [w[1] for w in later])
                # Every acknowledged ref is readable with exactly its value.
                for seq, value, (_, etag) in acked_writes:
                    ref = etag.strip('"')
                    st, h, body, doc = self.get_retrying("/v0/kill/%s/refs/%s" % (k, ref))
                    self.assertEqual(st, 200, body)
                    self.assertEqual(h.get("etag"), etag)
                    self.assertEqual(doc, value)
                # History: every acknowledged write, in write order (newest
                # first), no gaps; extra entries only for writes whose outcome
                # was unknown, never duplicates.
                history = []
                offset = 0
                while True:
                    st, h, body, doc = self.get_retrying(
                        "/v0/kill/%s/refs?values=true&limit=100&offset=%d" % (k, offset))
                    if not acked_writes and st == 404:
                        break
                    self.assertEqual(st, 200, body)
                    history.extend(doc["results"])
                    if "next" not in doc:
                        break
                    offset += 100
                seqs = [e["value"]["seq"] for e in reversed(history)]
                self.assertEqual(seqs, sorted(set(seqs)), "history out of order or duplicated")
                acked_seqs = [w[0] for w in acked_writes]
                unknown_seqs = {w[0] for w in unknown}
                self.assertTrue(set(acked_seqs) <= set(seqs),
                                "acknowledged writes missing from the history: %s"
                                % sorted(set(acked_seqs) - set(seqs)))
                self.assertTrue(set(seqs) - set(acked_seqs) <= unknown_seqs,
                                "history has writes that were never sent")
                if not unknown:
                    self.assertEqual(seqs, acked_seqs)
                for e in history:
                    value = e["value"]
                    self.assertEqual(e["path"]["key"], k)
                    self.assertEqual(value["pad"], "v%d.%d" % (value["thread"], value["seq"]))


class MaintainerKillTest(ProcessTestCase):
    def test_killing_the_maintainer_keeps_the_server_serving(self):
        srv = self.server
        st, h, _, _ = srv.request("PUT", "/v0/m/before", key=self.key, body={"n": 1})
        self.assertEqual(st, 201)
        etag = h["etag"]
        pids = srv.orchidd_pids()
        master, maint = pids["master"], pids["maintainer"]
        self.assertIsNotNone(maint)
        os.kill(maint, signal.SIGKILL)
        # A new maintainer appears, the master is the same process.
        new = wait_for(lambda: (lambda p: p if p["maintainer"] not in (None, maint)
                                and len(p["workers"]) == srv.workers else None)(
                                    srv.orchidd_pids()), 15)
        self.assertTrue(new, "no new maintainer: %r" % srv.orchidd_pids())
        self.assertEqual(new["master"], master)
        self.assertTrue(pid_alive(master))
        self.assertPingWithin(10)
        st, h, _, doc = self.get_retrying("/v0/m/before")
        self.assertEqual((st, h.get("etag"), doc), (200, etag, {"n": 1}))
        # and it still writes
        deadline = time.monotonic() + 15
        while True:
            st = srv.request("PUT", "/v0/m/after", key=self.key, body={"n": 2})[0]
            if st == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(st, 201)
        self.assertEqual(self.get_retrying("/v0/m/after")[3], {"n": 2})


class MasterKillTest(ProcessTestCase):
    def test_killing_the_master_stops_children_and_a_new_master_serves_old_data(self):
        srv = self.server
        st, h, _, _ = srv.request("PUT", "/v0/m/k", key=self.key, body={"gen": 1})
        self.assertEqual(st, 201)
        etag = h["etag"]
        pids = srv.orchidd_pids()
        children = [pids["maintainer"], pids["indexer"]] + pids["workers"]
        self.assertTrue(all(children))
        srv.kill_orchidd(signal.SIGKILL)
        srv.orchidd_proc.wait(10)
        gone = wait_for(lambda: not any(pid_alive(p) for p in children), 5)
        self.assertTrue(gone, "children still alive 5 s after the master was killed: %r"
                        % [p for p in children if pid_alive(p)])
        self.assertEqual(srv.orchidd_pids(), {"master": None, "maintainer": None, "indexer": None,
                                              "workers": []})
        # Same arguments, over the stale lock file and socket.
        srv.start_orchidd()
        srv.wait_ready(30)
        # One worker answering does not mean all are forked and named yet.
        wait_for(lambda: len(srv.orchidd_pids()["workers"]) == srv.workers, 15)
        new = srv.orchidd_pids()
        self.assertEqual(new["master"], srv.orchidd_proc.pid)
        self.assertEqual(len(new["workers"]), srv.workers)
        st, h, _, doc = self.get_retrying("/v0/m/k")
        self.assertEqual((st, h.get("etag"), doc), (200, etag, {"gen": 1}))
        st, _, body, doc = srv.request("GET", "/v0/m/k/refs", key=self.key)
        self.assertEqual(st, 200, body)
        self.assertEqual(doc["count"], 1)
        self.assertEqual(srv.request("PUT", "/v0/m/k", key=self.key, body={"gen": 2})[0], 201)
        self.assertEqual(srv.request("GET", "/v0/m/k/refs", key=self.key)[3]["count"], 2)


class SigtermTest(ProcessTestCase):
    def test_sigterm_exits_cleanly_and_removes_the_socket(self):
        srv = self.server
        self.assertEqual(srv.request("PUT", "/v0/m/k", key=self.key, body={"a": 1})[0], 201)
        pids = srv.orchidd_pids()
        self.assertTrue(os.path.exists(srv.socket_path))
        srv.orchidd_proc.send_signal(signal.SIGTERM)
        try:
            rc = srv.orchidd_proc.wait(30)
        except subprocess.TimeoutExpired:
            self.fail("orchidd did not exit within 30 s of SIGTERM")
        self.assertEqual(rc, 0)
        self.assertFalse(os.path.exists(srv.socket_path), "socket left behind")
        children = [pids["maintainer"], pids["indexer"]] + pids["workers"]
        self.assertTrue(wait_for(lambda: not any(pid_alive(p) for p in children), 5))
        # the data survives a clean restart
        srv.start_orchidd()
        srv.wait_ready()
        self.assertEqual(srv.request("GET", "/v0/m/k", key=self.key)[3], {"a": 1})


class SighupTest(ProcessTestCase):
    server_options = {"workers": 2}

    def set_workers(self, n):
        with open(self.server.conf_path) as f:
            text = f.read()
        text, count = re.subn(r"(?m)^workers = \d+$", "workers = %d" % n, text)
        self.assertEqual(count, 1)
        with open(self.server.conf_path, "w") as f:
            f.write(text)

    def test_sighup_changes_the_number_of_workers(self):
        srv = self.server
        master = srv.orchidd_proc.pid
        self.assertEqual(len(srv.orchidd_pids()["workers"]), 2)
        for n in (4, 1, 3):
            with self.subTest(workers=n):
                old = set(srv.orchidd_pids()["workers"])
                self.set_workers(n)
                os.kill(master, signal.SIGHUP)

                def settled():
                    # A reload restarts every worker: settled once exactly n
                    # workers run and none of them is an old one.
                    w = srv.orchidd_pids()["workers"]
                    return len(w) == n and not (set(w) & old)

                self.assertTrue(wait_for(settled, 15),
                                "workers: %r, want %d new ones" % (srv.orchidd_pids(), n))
                self.assertEqual(srv.orchidd_pids()["master"], master)
                self.assertPingWithin(10)
                self.assertEqual(srv.request("PUT", "/v0/h/k%d" % n, key=self.key,
                                             body={"n": n})[0], 201)
        self.assertEqual(len(srv.orchidd_pids()["workers"]), 3)


class ConfigCheckTest(unittest.TestCase):
    """orchidd -n needs no server."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="orchid-e2e-n-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, path):
        return subprocess.run([harness.ORCHIDD, "-n", "-c", path], capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=30)

    def test_good_config(self):
        path = self.write("good.conf", "# ok\ndatadir = %s/db\nsocket = %s/s.sock\n"
                          "workers = 3\ndurability = write\n" % (self.tmp, self.tmp))
        p = self.check(path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, b"")
        # -n does not start anything
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "s.sock")))

    def test_bad_configs_name_file_and_line(self):
        cases = [
            ("bad-value", "datadir = %s/db\n\nworkers = zz\n", 3),
            ("unknown-key", "# c\ndatadir = %s/db\nno_such_setting = 1\n", 3),
            ("no-equals", "datadir = %s/db\njust some words\n", 2),
            ("bad-durability", "durability = maybe\ndatadir = %s/db\n", 1),
        ]
        for name, text, line in cases:
            with self.subTest(name):
                path = self.write(name + ".conf", text % self.tmp if "%s" in text else text)
                p = self.check(path)
                self.assertNotEqual(p.returncode, 0)
                err = p.stderr.decode("utf-8", "replace")
                self.assertIn("%s:%d:" % (path, line), err)

    def test_missing_config_file(self):
        p = self.check(os.path.join(self.tmp, "nope.conf"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("nope.conf", p.stderr.decode())


if __name__ == "__main__":
    unittest.main()
