"""Hot backup under write load, restore into a fresh data directory, verify:
every write acknowledged before the backup began is in the restored data,
items and events alike, with the value and ref that were acknowledged."""

import functools
import os
import shutil
import threading

from harness import ServerTestCase, run_threads


class BackupRestoreTest(ServerTestCase):
    server_options = {"workers": 3}

    def test_backup_under_load_restore_and_verify(self):
        srv = self.server
        key = srv.new_key("backup")
        acked = {}    # item key -> (ETag, value)
        events = {}   # event Location -> (ETag, value)
        lock = threading.Lock()
        stop = threading.Event()

        def writer(t):
            n = 0
            while not stop.is_set():
                k = "w%d-%d" % (t, n)
                value = {"t": t, "n": n}
                st, h, body, _ = srv.request("PUT", "/v0/bk/" + k, key=key, body=value)
                self.assertEqual(st, 201, body)
                with lock:
                    acked[k] = (h["etag"], value)
                n += 1
                # events too
                value = {"n": n}
                st, h, body, _ = srv.request("POST", "/v0/bk/%s/events/e" % k, key=key,
                                             body=value)
                self.assertEqual(st, 201, body)
                with lock:
                    events[h["location"]] = (h["etag"], value)

        state = {}

        def backup_meanwhile():
            while not stop.is_set():
                with lock:
                    if len(acked) >= 200 and len(events) >= 200:
                        break
                stop.wait(0.05)
            with lock:
                state["items"] = dict(acked)
                state["events"] = dict(events)
            backup = os.path.join(srv.tmp, "backup")
            proc = srv.orchidctl("backup", backup, check=False)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            # A second backup into the same directory is refused.
            self.assertNotEqual(srv.orchidctl("backup", backup, check=False).returncode, 0)
            state["backup"] = backup

        run_threads([], during=backup_meanwhile, stop=stop,
                    background=[functools.partial(writer, t) for t in range(4)])
        before, events_before, backup = state["items"], state["events"], state["backup"]
        self.assertGreaterEqual(len(before), 200)
        self.assertGreaterEqual(len(events_before), 200)
        # The writers went on while the backup ran.
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
        for k, (etag, value) in sorted(before.items()):
            st, h, body, doc = srv.request("GET", "/v0/bk/" + k, key=key)
            self.assertEqual(st, 200, (k, body))
            self.assertEqual((h["etag"], doc), (etag, value), k)
        for loc, (etag, value) in sorted(events_before.items()):
            st, h, body, doc = srv.request("GET", loc, key=key)
            self.assertEqual(st, 200, (loc, body))
            self.assertEqual((h["etag"], doc["value"]), (etag, value), loc)
        # The restored server takes writes.
        st = srv.request("PUT", "/v0/bk/after-restore", key=key, body={"ok": True})[0]
        self.assertEqual(st, 201)
        # verify on a stopped server's own directory works too.
        srv.stop_orchidd()
        proc = srv.orchidctl("verify", check=False)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        srv.start_orchidd()
        srv.wait_ready()
