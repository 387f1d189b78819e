"""A full disk costs a refused write, never the service (issue 14).

The data directory is on a small tmpfs of its own (mounting one needs root:
without it the test exits 77, which tests/allowed-skips lists), with
min_free_space = 64M. A reserve file takes part of it; writers then fill the
rest with 64 KB items until every write is refused. Checked:

- every refused write is 507 storage_full (JSON), never a 2xx, never 500,
  and none hangs; Berkeley DB itself never met a full disk;
- meanwhile reads, listings and pings answer 200, and no orchidd process
  died (the same workers, orchid_worker_failures_total 0, no recovery);
  orchidctl stats says writes are refused;
- once the reserve is deleted, writes succeed again by themselves;
- another program fills the disk to the last byte: writes get 507, reads
  200; orchidd killed with SIGKILL then, space freed, orchidd started again:
  every acknowledged write is there, with its value.

Last line: "N passed, N failed" (the checks above).
"""

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "e2e"))
import harness  # noqa: E402

SIZE_MB = 300
RESERVE_MB = 40
MIN_FREE = "64M"
VALUE = 64000


def log(msg):
    print("fulldisk: %s" % msg, flush=True)


class FullDiskServer(harness.Server):
    """A server whose data directory is the tmpfs mount."""

    def __init__(self, mount, **kw):
        super().__init__(**kw)
        self.mount = mount

    @property
    def datadir(self):
        return os.path.join(self.mount, "db")


def mount_tmpfs():
    """The mount point, or None when this process may not mount."""
    if os.geteuid() != 0:
        return None
    mnt = tempfile.mkdtemp(prefix="orchid-fulldisk-")
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % SIZE_MB,
                         "orchid-fulldisk", mnt], stderr=subprocess.PIPE)
    if rc.returncode != 0:
        log("mount failed: %s" % rc.stderr.decode().strip())
        os.rmdir(mnt)
        return None
    return mnt


def metric(server, name):
    return harness.metric(server, name)


def main():
    mnt = mount_tmpfs()
    if mnt is None:
        log("SKIP: needs root and a tmpfs mount (run script/test as root)")
        return 77
    results = []

    def check(ok, what):
        results.append(bool(ok))
        log("%s: %s" % ("ok" if ok else "FAIL", what))

    srv = None
    try:
        reserve = os.path.join(mnt, "reserve")
        with open(reserve, "wb") as f:
            f.write(b"\0" * (RESERVE_MB << 20))
            os.fsync(f.fileno())
        # Search off: the indexer pauses below min_free_space, but one of its
        # rounds can write up to indexer_batch documents' data into the
        # index at once, past the reserve on a disk as fast as a tmpfs
        # (docs/reliability.md, "A full disk").
        srv = FullDiskServer(mnt, workers=4, extra={"cache_size": "16M",
                                                     "min_free_space": MIN_FREE,
                                                     "search": 0})
        srv.start()
        key = srv.new_key("full")
        acked = {}          # key -> sha256 of the value acknowledged
        refused = {}        # status -> count
        bad = []            # (key, status, body) of answers that are neither
        lock = threading.Lock()
        stop = threading.Event()

        def writer(n):
            i = 0
            misses = 0
            while not stop.is_set() and misses < 20:
                k = "w%d-%d" % (n, i)
                i += 1
                value = {"n": i, "pad": hashlib.sha256(k.encode()).hexdigest() * (VALUE // 64)}
                t = time.time()
                st, _, body, doc = srv.request("PUT", "/v0/fill/" + k, key=key, body=value,
                                               timeout=20)
                if time.time() - t > 10:
                    bad.append((k, "slow: %.1f s" % (time.time() - t), b""))
                with lock:
                    if st == 201:
                        acked[k] = hashlib.sha256(repr(value).encode()).hexdigest()
                        misses = 0
                    else:
                        refused[st] = refused.get(st, 0) + 1
                        misses += 1
                        if st != 507 or not isinstance(doc, dict) or \
                                doc.get("code") != "storage_full":
                            bad.append((k, st, body[:200]))
                        time.sleep(0.05)

        before = srv.orchidd_pids()
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        stop.set()
        log("filled in %.1f s: %d writes acknowledged, refused: %s" % (
            time.time() - t0, len(acked), refused))
        check(len(acked) > 100 and refused.get(507, 0) >= 20,
              "writes were acknowledged, then refused with 507 (%d acked, %s)" % (
                  len(acked), refused))
        check(not bad, "every refused write was 507 storage_full (others: %s)" % bad[:3])
        # Reads while full.
        sample = sorted(acked)[:: max(1, len(acked) // 20)]
        statuses = [srv.request("GET", "/v0/fill/" + k, key=key)[0] for k in sample]
        check(all(s == 200 for s in statuses), "GETs while full answer 200 (%s)" %
              sorted(set(statuses)))
        st_list = srv.request("GET", "/v0/fill?limit=5", key=key)[0]
        st_ping = srv.request("HEAD", "/v0", key=key)[0]
        check(st_list == 200 and st_ping == 200, "a listing and a ping while full "
              "answer 200 (%d, %d)" % (st_list, st_ping))
        after = srv.orchidd_pids()
        failures = metric(srv, "orchid_worker_failures_total")
        recoveries = metric(srv, "orchid_recoveries_total")
        check(after["master"] == before["master"] and after["workers"] == before["workers"],
              "no orchidd process died (workers %s, then %s)" % (before["workers"],
                                                                 after["workers"]))
        check(failures == 0 and recoveries == 1, "metrics: %s worker failures, %s "
              "recoveries" % (failures, recoveries))
        stats = srv.orchidctl("stats").stdout.decode()
        check("writes refused (507 storage_full)" in stats, "orchidctl stats says writes "
              "are refused: %s" % [l for l in stats.splitlines() if l.startswith("disk:")])
        with open(srv.orchidd_log) as f:
            text = f.read()
        check("signal" not in text and "recovery failed" not in text,
              "the log has no signal death and no failed recovery")
        nospace = [l for l in text.splitlines() if "No space left" in l][:3]
        check(not nospace and "min_free_space" in text,
              "no process met the full disk (%s); the refusals are logged" % nospace)

        # Space again: writes resume by themselves.
        os.unlink(reserve)
        resumed = None
        deadline = time.time() + 60
        while time.time() < deadline:
            st = srv.request("PUT", "/v0/fill/after", key=key, body={"after": True})[0]
            if st == 201:
                resumed = time.time()
                break
            time.sleep(0.5)
        check(resumed is not None, "a write succeeds once space is freed")

        # Full again, then killed at the worst moment: every acked write stays.
        with open(os.path.join(mnt, "filler"), "wb") as f:
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
            except OSError:
                pass
        st = srv.request("PUT", "/v0/fill/later", key=key, body={"pad": "x" * VALUE})[0]
        check(st == 507, "the disk full to the last byte: a write is refused with 507 (%d)"
              % st)
        st = srv.request("GET", "/v0/fill/after", key=key)[0]
        check(st == 200, "the disk full to the last byte: a read answers 200 (%d)" % st)
        srv.kill_orchidd(signal.SIGKILL)
        srv.orchidd_proc.wait(timeout=30)
        deadline = time.time() + 30
        while srv.orchidd_pids()["workers"] and time.time() < deadline:
            time.sleep(0.1)
        os.unlink(os.path.join(mnt, "filler"))
        srv.start_orchidd()
        srv.wait_ready()
        missing, wrong = [], []
        for k in sorted(acked):
            st, _, body, doc = srv.request("GET", "/v0/fill/" + k, key=key)
            if st != 200:
                missing.append((k, st))
            elif hashlib.sha256(repr(doc).encode()).hexdigest() != acked[k]:
                wrong.append(k)
        check(not missing and not wrong, "after kill -9 and restart all %d acknowledged "
              "writes are there (missing %s, wrong %s)" % (len(acked), missing[:3], wrong[:3]))
        st = srv.request("GET", "/v0/fill/after", key=key)[0]
        check(st == 200, "the write made after the space came back is there (%d)" % st)
    except Exception as e:  # noqa: BLE001 - reported as a failed check
        check(False, "the scenario ran to its end (%r)" % e)
        if srv is not None:
            sys.stdout.write(srv.tails())
    finally:
        if srv is not None:
            srv.stop()
        subprocess.run(["umount", mnt])
        os.rmdir(mnt)
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
