"""Hot backup under write load, restore into a fresh data directory, verify:
every write acknowledged before the backup began is in the restored data."""

import os
import shutil
import threading

from harness import ServerTestCase


class BackupRestoreTest(ServerTestCase):
    server_options = {"workers": 3}

    def test_backup_under_load_restore_and_verify(self):
        srv = self.server
        key = srv.new_key("backup")
        acked = {}
        lock = threading.Lock()
        stop = threading.Event()

        def writer(t):
            n = 0
            while not stop.is_set():
                k = "w%d-%d" % (t, n)
                st, h, _, _ = srv.request("PUT", "/v0/bk/" + k, key=key, body={"t": t, "n": n})
                if st == 201:
                    with lock:
                        acked[k] = h["etag"]
                n += 1
                # events too
                srv.request("POST", "/v0/bk/%s/events/e" % k, key=key, body={"n": n})

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        try:
            while len(acked) < 200:
                stop.wait(0.05)
            with lock:
                before = dict(acked)
            backup = os.path.join(srv.tmp, "backup")
            proc = srv.orchidctl("backup", backup, check=False)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            # A second backup into the same directory is refused.
            self.assertNotEqual(srv.orchidctl("backup", backup, check=False).returncode, 0)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertGreater(len(acked), len(before))

        # verify and restore need the environment to themselves.
        self.assertNotEqual(srv.orchidctl("verify", check=False).returncode, 0)
        restored = os.path.join(srv.tmp, "restored")
        proc = srv.orchidctl("-d", restored, "restore", backup, check=False)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # Restoring over an existing environment is refused.
        self.assertNotEqual(srv.orchidctl("-d", restored, "restore", backup,
                                          check=False).returncode, 0)
        proc = srv.orchidctl("-d", restored, "verify", check=False)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn(b"items.db: ok", proc.stdout)

        # Serve the restored data in place of the live one.
        srv.stop_orchidd()
        shutil.move(srv.datadir, os.path.join(srv.tmp, "old-db"))
        shutil.move(restored, srv.datadir)
        srv.start_orchidd()
        srv.wait_ready()
        for k, etag in before.items():
            st, h, body, _ = srv.request("GET", "/v0/bk/" + k, key=key)
            self.assertEqual(st, 200, (k, body))
            self.assertEqual(h["etag"], etag, k)
        # The restored server takes writes.
        st = srv.request("PUT", "/v0/bk/after-restore", key=key, body={"ok": True})[0]
        self.assertEqual(st, 201)
        # verify on a stopped server's own directory works too.
        srv.stop_orchidd()
        proc = srv.orchidctl("verify", check=False)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        srv.start_orchidd()
        srv.wait_ready()
