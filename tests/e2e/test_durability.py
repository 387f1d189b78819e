"""durability = sync is proven, not assumed.

kill -9 cannot tell `sync` from `write`: both survive the death of a process,
only a power cut tells them apart. So these tests watch the flushes instead.
tests/durability/fsyncshim.c, preloaded into orchidd, records every completed
fdatasync/fsync with the file it flushed. One client sends one write at a time
and counts the completed flushes of Berkeley DB's log files (log.NNNNNNNNNN)
between sending the request and reading its answer:

- durability = sync (and the default, which must be sync): every acknowledged
  write of every kind is covered by at least one completed flush of the log
  that happened before its 2xx;
- the control, durability = write: the same writes are answered with no flush
  (the detector can see a missing flush, so the first test can fail).

Checkpoints are pushed out to an hour so that the maintainer's flushes do not
fall inside a request's window by chance.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM_SRC = os.path.join(HERE, "..", "durability", "fsyncshim.c")
LOG_FILE_RE = re.compile(r"^log\.\d{10}$")


def build_shim(outdir):
    """Compiles the shim with the C compiler of the build ($CC, else cc)."""
    cc = os.environ.get("CC") or "cc"
    out = os.path.join(outdir, "fsyncshim.so")
    proc = subprocess.run(
        [cc, "-shared", "-fPIC", "-O2", "-o", out, SHIM_SRC, "-ldl"],
        capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError("cannot build %s: %s" % (SHIM_SRC, proc.stderr.decode()))
    return out


class FlushLog:
    """The shim's output file: one line per completed flush."""

    def __init__(self, path):
        self.path = path

    def lines(self):
        try:
            with open(self.path) as f:
                return [line.split() for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def log_flushes(self):
        return sum(1 for parts in self.lines()
                   if len(parts) == 3 and LOG_FILE_RE.match(parts[1]))


class DurabilityCase(harness.ServerTestCase):
    """Base: a server with the shim preloaded and the given durability."""

    durability = None  # None: no durability line, i.e. the default

    @classmethod
    def setUpClass(cls):
        cls.shim_dir = tempfile.mkdtemp(prefix="orchid-shim-")
        cls.addClassCleanup(shutil.rmtree, cls.shim_dir, True)
        shim = build_shim(cls.shim_dir)
        cls.flushes = FlushLog(os.path.join(cls.shim_dir, "flushes.log"))
        cls.server_options = {
            "workers": 2,
            "durability": cls.durability,
            "extra": {"checkpoint_interval": 3600},
            "env": {"LD_PRELOAD": shim, "ORCHID_FSYNC_LOG": cls.flushes.path},
        }
        super().setUpClass()
        cls.key = cls.server.new_key("durability")

    def send(self, method, path, expect, **kw):
        """One write; returns (flushes of the log during it, response)."""
        before = self.flushes.log_flushes()
        resp = self.server.request(method, path, key=self.key, **kw)
        after = self.flushes.log_flushes()
        self.assertEqual(resp[0], expect, "%s %s: %r" % (method, path, resp[2]))
        return after - before, resp

    def writes(self):
        """Every kind of write the API has, one at a time, as
        (description, flushes during it)."""
        out = []

        def w(desc, method, path, expect, **kw):
            n, resp = self.send(method, path, expect, **kw)
            out.append((desc, n))
            return resp

        for i in range(8):
            w("PUT item %d" % i, "PUT", "/v0/dur/k%d" % i, 201, body={"i": i})
        w("POST item", "POST", "/v0/dur", 201, body={"generated": True})
        etag = self.server.request("GET", "/v0/dur/k0", key=self.key)[1]["etag"]
        w("PUT If-Match", "PUT", "/v0/dur/k0", 201, body={"i": 100},
          headers={"If-Match": etag})
        w("PUT If-None-Match", "PUT", "/v0/dur/fresh", 201, body={"new": 1},
          headers={"If-None-Match": '"*"'})
        w("DELETE item", "DELETE", "/v0/dur/k1", 204)
        w("DELETE purge", "DELETE", "/v0/dur/k2?purge=true", 204)
        resp = w("POST event", "POST", "/v0/dur/k3/events/log", 201, body={"n": 1})
        loc = resp[1]["location"]
        m = re.search(r"/events/log/(\d+)/(\d+)$", loc)
        self.assertIsNotNone(m, loc)
        ev = "/v0/dur/k3/events/log/%s/%s" % m.groups()
        w("PUT event", "PUT", ev, 204, body={"n": 2})
        w("PATCH event", "PATCH", ev, 204,
          raw_body='[{"op":"inc","path":"n","value":5}]',
          headers={"Content-Type": "application/json-patch+json"})
        w("DELETE event", "DELETE", ev + "?purge=true", 204)
        return out


class TestSyncFlushesBeforeAnswer(DurabilityCase):
    durability = "sync"

    def test_every_write_is_flushed_before_its_2xx(self):
        results = self.writes()
        self.assertGreaterEqual(len(results), 16)
        unflushed = [d for d, n in results if n < 1]
        self.assertEqual(unflushed, [],
                         "acknowledged without a completed flush of the log: %s"
                         % unflushed)

    def test_reads_do_not_flush(self):
        # The counter counts writes' flushes, not any request's.
        self.send("PUT", "/v0/dur/r", 201, body={"r": 1})
        n, _ = self.send("GET", "/v0/dur/r", 200)
        self.assertEqual(n, 0)


class TestDefaultIsSync(DurabilityCase):
    durability = None

    def test_default_flushes_every_write(self):
        results = self.writes()
        unflushed = [d for d, n in results if n < 1]
        self.assertEqual(unflushed, [],
                         "the default durability acknowledged without a flush: %s"
                         % unflushed)


class TestWriteControl(DurabilityCase):
    """Negative control: under durability = write the detector must see the
    missing flushes, or the sync tests above could not fail."""

    durability = "write"

    def test_write_durability_answers_without_flush(self):
        results = self.writes()
        flushed = [d for d, n in results if n >= 1]
        # No commit flushes under `write`; allow a stray one (a log file
        # switch syncs the old file) but never most of them.
        self.assertLessEqual(len(flushed), 2,
                             "durability = write flushed: %s" % flushed)
        # The shim works in this server too: the final checkpoint of a
        # graceful stop flushes the log.
        before = self.flushes.log_flushes()
        self.server.restart()
        self.assertGreater(self.flushes.log_flushes(), before)


if __name__ == "__main__":
    unittest.main()
