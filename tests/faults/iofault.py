"""Failing I/O costs a refused or unknown write, never a lie (issue 14).

tests/faults/ioshim.c, preloaded into orchidd, makes chosen fsync/fdatasync,
write or pwrite calls on chosen files fail with EIO or ENOSPC, switched on
and off while four writers PUT items (each key written once, so every
answer can be checked against what is stored). Phases:

- one log flush (fdatasync of log.*) fails with EIO; then one log write;
  then one page write of a database file; then one database file's fsync
  at a checkpoint: each time the environment is recovered (a "recovery
  complete" line) and writes succeed again by themselves;
- with the writers paused, one log flush fails: the write that met it is
  not acknowledged (Berkeley DB alone retries the fdatasync into a
  success);
- every log flush fails for 3 s: no write sent meanwhile gets a 2xx; the
  master's failing recoveries back off instead of looping; service returns
  once the flushes work again;
- one log write fails with ENOSPC: that write is answered 507 and must be
  absent afterwards;
- a log flush fails and orchidd is killed with SIGKILL at once (the worst
  moment: while it recovers), then started again without faults.

orchid_io_errors_total counts the failures. At the end, for every request: a 2xx write is there with its value (and
one version in its history); a 507 is absent; any other 5xx (500
write_outcome_unknown, 503, nginx's 502/504) is there with its value or
absent, never half there; no 4xx; every error body is JSON. The listing
matches the GETs, and `orchidctl verify` passes on the stopped data. No
process dies of SIGBUS or SIGABRT (SIGSEGV right after a panic is counted:
see the end of main).

Last line: "N passed, N failed".
"""

import errno
import mmap
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "e2e"))
import harness  # noqa: E402

SHIM_SRC = os.path.join(here, "ioshim.c")
OP_SYNC, OP_WRITE, OP_PWRITE = 1, 2, 4
CTL_FMT = "<IIiIqQQ32s"          # ioshim.c's struct ctl
CTL_MAGIC = 0x544C464F


def log(msg):
    print("iofault: %s" % msg, flush=True)


class Shim:
    """The compiled shim and its control file."""

    def __init__(self, workdir):
        cc = os.environ.get("CC") or "cc"
        self.so = os.path.join(workdir, "ioshim.so")
        proc = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", self.so, SHIM_SRC,
                               "-ldl"], capture_output=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError("cannot build the shim: %s" % proc.stderr.decode())
        self.ctl_path = os.path.join(workdir, "ioshim.ctl")
        self.log_path = os.path.join(workdir, "ioshim.log")
        with open(self.ctl_path, "wb") as f:
            f.write(struct.pack(CTL_FMT, CTL_MAGIC, 0, 0, 1, 0, 0, 0, b""))
        self.fd = os.open(self.ctl_path, os.O_RDWR)
        self.map = mmap.mmap(self.fd, struct.calcsize(CTL_FMT))

    def env(self):
        return {"LD_PRELOAD": self.so, "ORCHID_IOSHIM_CTL": self.ctl_path,
                "ORCHID_IOSHIM_LOG": self.log_path}

    def arm(self, ops, err, match, budget, every=1):
        """Fails `budget` calls (one in `every`) of kind ops on files whose
        name contains match. The budget is written last: it switches on."""
        struct.pack_into("<q", self.map, 16, 0)
        struct.pack_into("<IiI", self.map, 4, ops, err, every)
        struct.pack_into("<32s", self.map, 40, match.encode())
        struct.pack_into("<q", self.map, 16, budget)

    def disarm(self):
        struct.pack_into("<q", self.map, 16, 0)

    def failed(self):
        return struct.unpack_from("<Q", self.map, 32)[0]

    def close(self):
        self.map.close()
        os.close(self.fd)


class Writers:
    """Four threads PUTting fresh keys; every answer is kept."""

    def __init__(self, srv, key, n=4):
        self.srv, self.key, self.n = srv, key, n
        self.lock = threading.Lock()
        self.records = []   # (key, value, status, code, t_start, t_end)
        self.stop = threading.Event()
        self.go = threading.Event()
        self.go.set()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(n)]

    def run(self, w):
        i = 0
        while not self.stop.is_set():
            if not self.go.wait(timeout=0.2):
                continue
            k = "w%d-%d" % (w, i)
            i += 1
            value = {"w": w, "i": i, "pad": "v" * 120}
            t0 = time.monotonic_ns()
            try:
                st, _, body, doc = self.srv.request("PUT", "/v0/io/" + k, key=self.key,
                                                    body=value, timeout=30)
                code = doc.get("code") if isinstance(doc, dict) else None
                if st >= 400 and not isinstance(doc, dict):
                    code = "NOT-JSON: %r" % body[:80]
            except OSError as e:
                st, code = 0, "connection: %s" % e
            with self.lock:
                self.records.append((k, value, st, code, t0, time.monotonic_ns()))
            # About 100 writes a second per writer: enough to keep commits
            # in flight at every moment, few enough to check each one.
            time.sleep(0.05 if st != 201 else 0.01)

    def start(self):
        for t in self.threads:
            t.start()

    def pause(self):
        """No new requests until resume; those in flight are answered."""
        self.go.clear()
        time.sleep(1.0)

    def resume(self):
        self.go.set()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def since(self, t_ns):
        with self.lock:
            return [r for r in self.records if r[4] >= t_ns]


def log_count(srv, text):
    try:
        with open(srv.orchidd_log) as f:
            return f.read().count(text)
    except FileNotFoundError:
        return 0


def wait_writable(srv, key, timeout=90):
    """Seconds until a probe write succeeds, or None."""
    t0 = time.time()
    n = 0
    while time.time() - t0 < timeout:
        n += 1
        try:
            st = srv.request("PUT", "/v0/probe/p%d" % n, key=key, body={"n": n},
                             timeout=10)[0]
        except OSError:
            st = 0
        if st == 201:
            return time.time() - t0
        time.sleep(0.25)
    return None


def main():
    results = []

    def check(ok, what):
        results.append(bool(ok))
        log("%s: %s" % ("ok" if ok else "FAIL", what))

    work = tempfile.mkdtemp(prefix="orchid-iofault-")
    srv = None
    writers = None
    shim = None
    try:
        shim = Shim(work)
        env = shim.env()
        # A SIGSEGV inside Berkeley DB after a panic (counted below) is no
        # sanitizer report.
        env.update(harness.segv_not_reported())
        srv = harness.Server(workers=4, env=env,
                             extra={"checkpoint_interval": 1, "search": 0})
        srv.start()
        key = srv.new_key("io")
        writers = Writers(srv, key)
        writers.start()
        time.sleep(2)

        def phase(name, ops, err, match, budget=1, every=1, recovery=True):
            """One fault: armed until it has happened, then off; the
            environment must be recovered and writes work again."""
            rec0 = log_count(srv, "recovery complete")
            failed0 = shim.failed()
            t0 = time.monotonic_ns()
            shim.arm(ops, err, match, budget, every)
            deadline = time.time() + 30
            while shim.failed() - failed0 < budget and time.time() < deadline:
                time.sleep(0.02)
            shim.disarm()
            injected = shim.failed() - failed0
            back = wait_writable(srv, key)
            deadline = time.time() + 30
            while log_count(srv, "recovery complete") == rec0 and time.time() < deadline:
                time.sleep(0.1)
            recs = log_count(srv, "recovery complete") - rec0
            answers = writers.since(t0)
            codes = sorted({(r[2], r[3]) for r in answers if r[2] != 201})
            check(injected == budget and back is not None and (recs >= 1 or not recovery),
                  "%s: %d failure(s) injected, %d recovery, writes back after %s s; "
                  "other answers meanwhile: %s" % (
                      name, injected, recs, "%.1f" % back if back is not None else "never",
                      codes))
            return answers

        # Berkeley DB tries a failed write() or pwrite() again up to 100
        # times (an EIO once is absorbed, rightly: nothing was written);
        # 150 failures in a row make one give up.
        phase("a log flush fails (EIO)", OP_SYNC, errno.EIO, "log.")
        phase("a log write fails (EIO)", OP_WRITE | OP_PWRITE, errno.EIO, "log.", 150)
        phase("a page write fails (EIO)", OP_WRITE | OP_PWRITE, errno.EIO, ".db", 150)
        phase("a database file's fsync fails (EIO)", OP_SYNC, errno.EIO, ".db")

        # The write whose flush failed is not acknowledged: Berkeley DB
        # alone retries the fdatasync, and the retry's success would turn it
        # into a 201 (the negative control). Writers paused, so the failure
        # meets this write. (The next write may be answered by a worker
        # started after the recovery, which is right, so it is only kept
        # for the final check.)
        writers.pause()
        failed0 = shim.failed()
        shim.arm(OP_SYNC, errno.EIO, "log.", 1)
        w1 = srv.request("PUT", "/v0/io/solo-1", key=key, body={"solo": 1}, timeout=30)
        w2 = srv.request("PUT", "/v0/io/solo-2", key=key, body={"solo": 2}, timeout=30)
        shim.disarm()
        check(shim.failed() - failed0 == 1 and w1[0] // 100 != 2,
              "the write whose log flush failed is not acknowledged (%d %s; the next "
              "one: %d)" % (w1[0], (w1[3] or {}).get("code"), w2[0]))
        back = wait_writable(srv, key)
        writers.resume()
        for n, w in ((1, w1), (2, w2)):
            writers.records.append(("solo-%d" % n, {"solo": n}, w[0],
                                    (w[3] or {}).get("code"), 0, 0))

        # Every log flush fails for 3 s: nothing sent meanwhile is acknowledged.
        failing0 = log_count(srv, "master: error: recovery failed:")
        shim.arm(OP_SYNC, errno.EIO, "log.", 1 << 40)
        t_arm = time.monotonic_ns()
        try:
            time.sleep(3)
            try:
                st_read = srv.request("GET", "/v0/io/w0-1", key=key, timeout=5)[0]
            except OSError:
                st_read = 0     # waiting in the socket's queue: no worker runs
        finally:
            shim.disarm()
        t_off = time.monotonic_ns()
        acked_meanwhile = [r for r in writers.since(t_arm) if r[2] // 100 == 2
                           and r[4] < t_off]
        tries = log_count(srv, "master: error: recovery failed:") - failing0
        check(not acked_meanwhile, "no write sent while every log flush failed got a 2xx "
              "(%d did)" % len(acked_meanwhile))
        check(1 <= tries <= 5, "the master's recovery failed meanwhile and backed off "
              "(%d failed recoveries in 3 s)" % tries)
        check(st_read == 502, "a read meanwhile is refused at once, not held until "
              "nginx's timeout (%s)" % st_read)
        back = wait_writable(srv, key)
        check(back is not None, "writes work again after the flushes do (%s s)" % (
            "%.1f" % back if back is not None else "never"))

        # ENOSPC on a log write: 507, and that write is not stored.
        t0 = time.monotonic_ns()
        phase("a log write fails (ENOSPC)", OP_WRITE | OP_PWRITE, errno.ENOSPC, "log.",
              recovery=False)
        full = [r for r in writers.since(t0) if r[2] == 507]
        check(all(r[3] == "storage_full" for r in full),
              "writes refused for the injected ENOSPC are 507 storage_full (%d)" % len(full))

        # The operator sees them: a counter (before the kill below, which
        # starts a new master and so a new table).
        io_errors = harness.metric(srv, "orchid_io_errors_total")
        check(io_errors is not None and io_errors >= 5,
              "orchid_io_errors_total counts the failed flushes and writes (%s)" % io_errors)

        # A failing flush, then kill -9 at once, while orchidd recovers.
        failed0 = shim.failed()
        shim.arm(OP_SYNC, errno.EIO, "log.", 1)
        deadline = time.time() + 30
        while shim.failed() == failed0 and time.time() < deadline:
            time.sleep(0.005)
        srv.kill_orchidd(signal.SIGKILL)
        shim.disarm()
        srv.orchidd_proc.wait(timeout=30)
        deadline = time.time() + 30
        while srv.orchidd_pids()["workers"] and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        writers.finish()
        srv.start_orchidd()
        srv.wait_ready()

        # Every answer against what is stored.
        records = list(writers.records)
        acked = [r for r in records if r[2] // 100 == 2]
        bad_status = sorted({(r[2], r[3]) for r in records
                             if r[2] // 100 == 4 or (r[2] >= 500 and not r[3])
                             or (r[3] or "").startswith("NOT-JSON")})
        check(len(acked) > 200, "writers were acknowledged (%d of %d requests)" % (
            len(acked), len(records)))
        check(not bad_status, "no 4xx, every error a JSON body (%s)" % bad_status[:5])
        unknown = [r for r in records if r[3] == "write_outcome_unknown"]
        check(unknown and all(r[2] == 500 for r in unknown),
              "writes whose commit met an error were answered 500 write_outcome_unknown "
              "(%d such answers)" % len(unknown))
        missing, wrong, present_507, half = [], [], [], []
        present = set()
        for k, value, st, code, _, _ in records:
            g, _, _, doc = srv.request("GET", "/v0/io/" + k, key=key)
            if g == 200:
                present.add(k)
                if doc != value:
                    wrong.append((k, st))
                    continue
                h, _, _, hist = srv.request("GET", "/v0/io/%s/refs/" % k, key=key)
                if h != 200 or not isinstance(hist, dict) or hist.get("count") != 1:
                    half.append((k, h, hist.get("count") if isinstance(hist, dict) else None))
            elif g == 404:
                if st // 100 == 2:
                    missing.append(k)
            else:
                half.append((k, "GET %d" % g, None))
            if st == 507 and g == 200:
                present_507.append(k)
        unknown = [r for r in records if r[2] >= 500 or r[2] == 0]
        check(not missing and not wrong, "every acknowledged write is there with its "
              "value (%d acked; missing %s, wrong %s)" % (len(acked), missing[:3], wrong[:3]))
        check(not present_507, "no write answered 507 is there (%s)" % present_507[:3])
        check(not half, "no write is half there: each present one has its one version "
              "(%s)" % half[:3])
        log("%d answers were 5xx or lost connections; %d of them were stored" % (
            len(unknown), len([r for r in unknown if r[0] in present])))
        listed = set()
        path = "/v0/io?limit=100"
        while path:
            st, _, _, doc = srv.request("GET", path, key=key)
            if st != 200:
                break
            listed.update(r["path"]["key"] for r in doc.get("results", []))
            path = doc.get("next")
        check(listed == present, "the listing holds exactly the items a GET finds "
              "(%d listed, %d found)" % (len(listed), len(present)))
        injected = open(shim.log_path).read().splitlines() if os.path.exists(
            shim.log_path) else []
        log("faults injected: %d (%s)" % (len(injected), sorted(
            {tuple(l.split()[1:4]) for l in injected})[:8]))
        srv.stop_orchidd()
        vr = srv.orchidctl("verify", check=False)
        check(vr.returncode == 0, "orchidctl verify passes afterwards (exit %d: %s)" % (
            vr.returncode, (vr.stdout + vr.stderr).decode()[-300:]))
        with open(srv.orchidd_log) as f:
            text = f.read()
        check(re.search(r"signal (7|6)\b", text) is None,
              "no orchidd process died of SIGBUS or SIGABRT")
        # A panic can catch another process inside Berkeley DB: about once
        # in 50 panics one died of SIGSEGV right after it (its last words
        # were Berkeley DB's "DB_ENV->log_newfh: ... DB_RUNRECOVERY"). The
        # master treats that as any crash; counted here, not failed.
        log("orchidd processes that died of SIGSEGV after a panic: %d" % len(
            re.findall(r"signal 11\b", text)))
    except Exception as e:  # noqa: BLE001 - reported as a failed check
        check(False, "the scenario ran to its end (%r)" % e)
        if srv is not None:
            sys.stdout.write(srv.tails())
    finally:
        if writers is not None:
            writers.finish()
        if srv is not None:
            srv.stop()
        if shim is not None:
            shim.disarm()
            shim.close()
        shutil.rmtree(work, True)
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
