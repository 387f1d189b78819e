"""orchidctl refuses a data directory that holds no Orchid environment of a
format it knows (issue 13, "Operations"): a mistyped -d must not become a
new, empty environment answering success. Every command but init and
restore refuses, with one line on stderr naming the path and what was
expected, and an exit status orchidctl(8) documents: 66 for a missing
directory, a file, an empty directory or one of other files, 65 for a data
format newer than this build's; nothing is created or changed there. init
makes a new environment in a new or empty directory and refuses any other
(73), as restore does for its target. Format 1 is still accepted (and
upgraded). -h/--help prints the usage on stdout; backup, restore and verify
show a progress line on a terminal or with ORCHIDCTL_PROGRESS=1, and none
otherwise. The check also holds beside a running server under load (it
reads meta.db while orchidd writes it)."""

import os
import pty
import re
import select
import shutil
import subprocess
import tarfile
import tempfile
import threading
import unittest

from harness import ORCHIDCTL, ServerTestCase

HERE = os.path.dirname(os.path.abspath(__file__))
V1_FIXTURE = os.path.join(HERE, "fixtures", "v1-env.tar.gz")

# Every command that needs an environment, with operands that would make it
# do something there.
NEEDS_ENV = (("stats",), ("key", "list"), ("key", "create", "t1"), ("key", "revoke", "x"),
             ("tenant", "list"), ("backup", "BACKUP"), ("verify",), ("reindex",),
             ("import", "t1", "-"), ("export", "t1"))


def snapshot(path):
    """Everything at path: (relative name, kind, size, mtime_ns)."""
    if not os.path.lexists(path):
        return None
    if not os.path.isdir(path):
        st = os.stat(path)
        return [(".", "file", st.st_size, st.st_mtime_ns)]
    out = [(".", "dir", 0, os.stat(path).st_mtime_ns)]
    for root, dirs, files in os.walk(path):
        for name in sorted(dirs + files):
            full = os.path.join(root, name)
            st = os.stat(full)
            out.append((os.path.relpath(full, path), "dir" if os.path.isdir(full) else "file",
                        st.st_size, st.st_mtime_ns))
    return sorted(out)


def ctl(*args, env=None, stdin=subprocess.DEVNULL):
    return subprocess.run([ORCHIDCTL] + list(args), stdin=stdin, capture_output=True,
                          timeout=120, env=dict(os.environ, **env) if env else None)


def set_format(datadir, value):
    """Writes meta.db's format with db5.3_load (no orchidd or orchidctl
    runs there meanwhile)."""
    subprocess.run(["db5.3_load", "-T", "-t", "btree", "-h", datadir, "meta.db"],
                   input=b"format\n%s\n" % value.encode(), check=True, timeout=60)


class OrchidctlDirectoryTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="orchid-ctl-dirs-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def init(self, name):
        proc = ctl("-d", self.path(name), "init")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return self.path(name)

    def assert_refused(self, datadir, args, status, expect):
        """args refused on datadir with status and a line matching expect;
        nothing created or changed there, nothing on stdout."""
        before = snapshot(datadir)
        args = [self.path("backup") if a == "BACKUP" else a for a in args]
        proc = ctl("-d", datadir, *args)
        err = proc.stderr.decode()
        self.assertEqual(proc.returncode, status, err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertTrue(err.startswith("orchidctl: %s " % datadir), err)
        self.assertRegex(err, expect)
        self.assertEqual(proc.stdout, b"")
        self.assertEqual(snapshot(datadir), before)
        self.assertFalse(os.path.exists(self.path("backup")))

    def refusals(self, datadir, status, expect):
        for args in NEEDS_ENV:
            with self.subTest(args=args):
                self.assert_refused(datadir, args, status, expect)

    def test_missing_directory(self):
        self.refusals(self.path("typo"), 66, r"does not exist: expected an Orchid data "
                                             r"directory")

    def test_missing_parent(self):
        self.refusals(self.path("no/such/dir"), 66, r"does not exist")

    def test_a_file(self):
        with open(self.path("file"), "w") as f:
            f.write("not a directory\n")
        self.refusals(self.path("file"), 66, r"is not a directory: expected an Orchid "
                                             r"data directory")

    def test_an_empty_directory(self):
        os.mkdir(self.path("empty"))
        self.refusals(self.path("empty"), 66, r"is empty: expected an Orchid environment")

    def test_a_directory_of_other_files(self):
        d = self.path("other")
        os.makedirs(os.path.join(d, "sub"))
        with open(os.path.join(d, "notes.txt"), "w") as f:
            f.write("hello\n")
        with open(os.path.join(d, "data.db"), "wb") as f:
            f.write(os.urandom(8192))
        self.refusals(d, 66, r"holds no Orchid environment \(no meta.db of Orchid's\): "
                             r"expected an Orchid data directory")

    def test_a_meta_db_that_is_not_ours(self):
        d = self.path("fake")
        os.mkdir(d)
        with open(os.path.join(d, "meta.db"), "wb") as f:
            f.write(os.urandom(16384))
        self.refusals(d, 66, r"holds no Orchid environment")

    def test_a_newer_format(self):
        d = self.init("newer")
        set_format(d, "9")
        self.refusals(d, 65, r"holds data format 9; this orchidctl reads format 2 and "
                             r"upgrades format 1: use the release that wrote it")

    def test_format_1_is_accepted_and_upgraded(self):
        d = self.path("v1")
        os.mkdir(d)
        with tarfile.open(V1_FIXTURE) as tar:
            tar.extractall(d)
        proc = ctl("-d", d, "tenant", "list")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(b"alpha", proc.stdout)
        dump = subprocess.run(["db5.3_dump", "-p", "-h", d, "meta.db"], check=True,
                              capture_output=True, text=True).stdout
        self.assertIn("\n format\n 2\n", dump)

    def test_init(self):
        d = self.path("new")
        proc = ctl("-d", d, "init")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.decode(), "created an Orchid environment (data "
                                               "format 2) in %s\n" % d)
        self.assertEqual(ctl("-d", d, "key", "create", "t1").returncode, 0)
        proc = ctl("-d", d, "tenant", "list")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(b"t1", proc.stdout)
        # An empty directory (as systemd's StateDirectory makes it) too.
        os.mkdir(self.path("empty"))
        self.assertEqual(ctl("-d", self.path("empty"), "init").returncode, 0)
        self.assertEqual(ctl("-d", self.path("empty"), "stats").returncode, 0)

    def test_init_refuses_what_is_not_new_or_empty(self):
        existing = self.init("existing")
        with open(self.path("file"), "w") as f:
            f.write("x\n")
        os.mkdir(self.path("other"))
        with open(self.path("other/notes.txt"), "w") as f:
            f.write("x\n")
        newer = self.init("newer")
        set_format(newer, "9")
        for d, expect in ((existing, r"already holds an Orchid environment \(data format "
                                     r"2\): init needs a new or empty directory"),
                          (newer, r"already holds an Orchid environment \(data format 9\)"),
                          (self.path("file"), r"is not a directory: init needs"),
                          (self.path("other"), r"is not empty: init needs a new or empty "
                                               r"directory; nothing was changed")):
            with self.subTest(dir=d):
                self.assert_refused(d, ("init",), 73, expect)
        # A directory that cannot be made.
        proc = ctl("-d", self.path("no/parent"), "init")
        self.assertEqual(proc.returncode, 73, proc.stderr)
        self.assertRegex(proc.stderr.decode(), r"^orchidctl: cannot create %s: No such "
                                               r"file or directory\n$" % self.path("no/parent"))

    def test_restore_checks_both_directories(self):
        src = self.init("src")
        self.assertEqual(ctl("-d", src, "key", "create", "t1").returncode, 0)
        backup = self.path("bk")
        self.assertEqual(ctl("-d", src, "backup", backup).returncode, 0)
        other = self.path("other")
        os.mkdir(other)
        with open(os.path.join(other, "notes.txt"), "w") as f:
            f.write("x\n")
        # The target: an environment, other files, a file.
        for d, expect in ((src, r"already holds an Orchid environment \(data format 2\): "
                                r"restore needs a new or empty directory"),
                          (other, r"is not empty: restore needs")):
            with self.subTest(target=d):
                self.assert_refused(d, ("restore", backup), 73, expect)
        # The backup: missing, not a backup, a newer format.
        newer = self.path("bk-newer")
        shutil.copytree(backup, newer)
        set_format(newer, "9")
        target = self.path("target")
        for b, status, expect in ((self.path("nothing"), 66, r"does not exist: expected "
                                                             r"a backup made by orchidctl"),
                                  (other, 66, r"holds no Orchid backup"),
                                  (newer, 65, r"holds data format 9")):
            with self.subTest(backup=b):
                proc = ctl("-d", target, "restore", b)
                err = proc.stderr.decode()
                self.assertEqual(proc.returncode, status, err)
                self.assertEqual(err.count("\n"), 1, err)
                self.assertTrue(err.startswith("orchidctl: %s " % b), err)
                self.assertRegex(err, expect)
                self.assertFalse(os.path.exists(target))
        # And into a new directory it works.
        proc = ctl("-d", target, "restore", backup)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        proc = ctl("-d", target, "tenant", "list")
        self.assertIn(b"t1", proc.stdout)

    def test_help_and_usage(self):
        for flag in ("-h", "--help"):
            with self.subTest(flag=flag):
                proc = ctl(flag)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(proc.stderr, b"")
                self.assertTrue(proc.stdout.startswith(b"usage: orchidctl "))
                self.assertIn(b"  init ", proc.stdout)
                self.assertIn(b"exit status:", proc.stdout)
        for args in ((), ("bogus",), ("stats", "extra"), ("key",), ("-x", "stats")):
            with self.subTest(args=args):
                proc = ctl("-d", self.path("never"), *args)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertEqual(proc.stdout, b"")
                self.assertIn(b"usage: orchidctl ", proc.stderr)
                self.assertFalse(os.path.exists(self.path("never")))


PROGRESS_LINE = {
    "backup": r"backup: [0-9.]+ MB, \d+ files in [0-9.]+ s \([0-9.]+ MB/s\)",
    "restore": r"restore: [0-9.]+ MB, \d+ files in [0-9.]+ s",
    "verify": r"verify: [0-9.]+ MB, 14 files in [0-9.]+ s",
}


class OrchidctlProgressTest(unittest.TestCase):
    """backup, restore and verify: a progress line on a terminal or with
    ORCHIDCTL_PROGRESS=1; none into a pipe or with ORCHIDCTL_PROGRESS=0."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="orchid-ctl-progress-")
        self.data = os.path.join(self.tmp, "data")
        self.assertEqual(ctl("-d", self.data, "init").returncode, 0)
        self.assertEqual(ctl("-d", self.data, "key", "create", "t1").returncode, 0)
        self.n = 0

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def steps(self):
        """The three commands, each on its own new directories."""
        self.n += 1
        backup = os.path.join(self.tmp, "bk%d" % self.n)
        restored = os.path.join(self.tmp, "restored%d" % self.n)
        return (("backup", ("-d", self.data, "backup", backup)),
                ("restore", ("-d", restored, "restore", backup)),
                ("verify", ("-d", restored, "verify")))

    def run_on_pty(self, args, env=None):
        master, slave = pty.openpty()
        try:
            proc = subprocess.run([ORCHIDCTL] + list(args), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=slave, timeout=120,
                                  env=dict(os.environ, **env) if env else None)
            os.close(slave)
            slave = None
            seen = b""
            while select.select([master], [], [], 0.5)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        return proc.returncode, seen.decode()

    def test_forced_on(self):
        for what, args in self.steps():
            with self.subTest(what=what):
                proc = ctl(*args, env={"ORCHIDCTL_PROGRESS": "1"})
                self.assertEqual(proc.returncode, 0, proc.stderr)
                # Not a terminal: one line each time, no carriage return.
                self.assertRegex(proc.stderr.decode(), r"(?m)^%s" % PROGRESS_LINE[what])
                self.assertNotIn(b"\r", proc.stderr)

    def test_export_follows_it_too(self):
        proc = ctl("-d", self.data, "export", "t1", env={"ORCHIDCTL_PROGRESS": "1"})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stderr.decode(), r"^export: 0 records, [0-9.]+ MB, .* in "
                                               r"[0-9.]+ s\n$")
        proc = ctl("-d", self.data, "export", "t1")
        self.assertEqual((proc.returncode, proc.stderr), (0, b""))

    def test_quiet_into_a_pipe(self):
        for env in (None, {"ORCHIDCTL_PROGRESS": "0"}):
            for what, args in self.steps():
                with self.subTest(what=what, env=env):
                    proc = ctl(*args, env=env)
                    self.assertEqual(proc.returncode, 0, proc.stderr)
                    self.assertEqual(proc.stderr, b"")

    def test_on_a_terminal(self):
        for what, args in self.steps():
            with self.subTest(what=what):
                rc, seen = self.run_on_pty(args)
                self.assertEqual(rc, 0, seen)
                self.assertRegex(seen, r"\r%s" % PROGRESS_LINE[what])
        for what, args in self.steps():
            with self.subTest(what=what, env="ORCHIDCTL_PROGRESS=0"):
                rc, seen = self.run_on_pty(args, env={"ORCHIDCTL_PROGRESS": "0"})
                self.assertEqual(rc, 0, seen)
                self.assertEqual(seen, "")


class OrchidctlLiveTest(ServerTestCase):
    """The check reads meta.db outside the environment while orchidd writes
    it: every new collection takes its id from a counter there, and with a
    checkpoint every second its pages go back to disk all the time. Under
    that load the check must always find the environment and its format:
    `init` runs the check and nothing else (it refuses, 73, naming the
    format), so every answer is the check's."""

    server_options = {"workers": 3, "extra": {"checkpoint_interval": 1}}

    def test_the_check_beside_a_busy_server(self):
        srv = self.server
        key = srv.new_key("live")
        stop = threading.Event()
        errors = []
        want = ("orchidctl: %s already holds an Orchid environment (data format 2): "
                "init needs a new or empty directory\n" % srv.datadir).encode()

        def writer(t):
            n = 0
            while not stop.is_set():
                st = srv.request("PUT", "/v0/c%d-%d/k" % (t, n), key=key, body={"n": n})[0]
                if st != 201:
                    errors.append(st)
                n += 1

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(3)]
        for t in threads:
            t.start()
        try:
            for i in range(500):
                proc = srv.orchidctl("init", check=False)
                self.assertEqual((proc.returncode, proc.stderr), (73, want), i)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        proc = srv.orchidctl("stats")
        self.assertTrue(re.search(rb"collections.db: \d+ records", proc.stdout))


if __name__ == "__main__":
    unittest.main()
