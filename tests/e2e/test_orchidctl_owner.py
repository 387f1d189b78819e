"""orchidctl runs only as the owner of the data directory (issue 15, point
4): run as another user (root, the easy mistake) it would create log,
region and database files that orchidd, running as its own user, could not
open. It refuses with exit status 77 and a message naming the user to run
as, and changes nothing; as the owner it works."""

import os
import shutil
import subprocess
import tempfile
import unittest

from harness import ORCHIDCTL

NOBODY = 65534


def snapshot(path):
    """Every file under path: (name, size, mtime_ns, uid)."""
    out = []
    for root, dirs, files in os.walk(path):
        for f in sorted(files):
            st = os.stat(os.path.join(root, f))
            out.append((os.path.relpath(os.path.join(root, f), path), st.st_size,
                        st.st_mtime_ns, st.st_uid))
    return sorted(out)


def ctl(datadir, *args, user=None):
    cmd = [ORCHIDCTL, "-d", datadir] + list(args)
    if user is not None:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


class OrchidctlOwnerTest(unittest.TestCase):
    """As root, the data directory is given to nobody; as any other user,
    "/" (root's) stands for another user's directory."""
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="orchid-owner-")
        os.chmod(self.tmp, 0o755)
        self.data = os.path.join(self.tmp, "data")
        os.mkdir(self.data)
        proc = ctl(self.data, "init")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        proc = ctl(self.data, "key", "create", "t1")
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def give_to_nobody(self):
        for root, dirs, files in os.walk(self.data):
            for name in dirs + files:
                os.chown(os.path.join(root, name), NOBODY, NOBODY)
        os.chown(self.data, NOBODY, NOBODY)

    def test_another_user_is_refused_and_nothing_changes(self):
        if os.geteuid() != 0:
            proc = ctl("/", "key", "create", "t2")
            self.assertEqual(proc.returncode, 77, proc.stderr)
            self.assertIn("belongs to user root", proc.stderr.decode())
            return
        self.give_to_nobody()
        before = snapshot(self.data)
        backup = os.path.join(self.tmp, "backup")
        for args in (("stats",), ("key", "list"), ("key", "create", "t2"),
                     ("backup", backup), ("verify",), ("reindex",)):
            with self.subTest(args=args):
                proc = ctl(self.data, *args)
                err = proc.stderr.decode()
                self.assertEqual(proc.returncode, 77, err)
                self.assertIn("belongs to user nobody", err)
                self.assertIn("sudo -u nobody orchidctl", err)
                self.assertEqual(proc.stdout, b"")
        self.assertEqual(snapshot(self.data), before)
        self.assertFalse(os.path.exists(backup))

    def test_the_owner_is_served(self):
        owner = None
        if os.geteuid() == 0:
            self.give_to_nobody()
            owner = NOBODY
        proc = ctl(self.data, "key", "create", "t2", user=owner)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        proc = ctl(self.data, "tenant", "list", user=owner)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(b"t2", proc.stdout)
        # Every file is still the owner's: orchidd running as it can open them.
        self.assertEqual({uid for _, _, _, uid in snapshot(self.data)},
                         {owner if owner is not None else os.geteuid()})
