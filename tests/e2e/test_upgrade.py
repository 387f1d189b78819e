"""The upgrade from data format 1 on a real environment (docs/storage.md).

fixtures/v1-env.tar.gz is an environment written by the orchidd of format 1
(fixtures/make_v1_env.py built it with that release's binaries), and
fixtures/v1-env.json what that orchidd answered about it. This orchidd
starts on a copy, upgrades it in place before it serves, and must answer
every one of those reads the same: every item, version, ref, event and
count. Then writes go on, a second start does not upgrade again, and
orchidctl verify finds the data sound.
"""

import json
import os
import re
import shutil
import tarfile

from harness import ServerTestCase

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "v1-env.tar.gz")
MANIFEST = os.path.join(HERE, "fixtures", "v1-env.json")


class UpgradeTest(ServerTestCase):
    server_options = {"workers": 2}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        srv = cls.server
        assert srv.stop_orchidd() == 0
        shutil.rmtree(srv.datadir)
        os.makedirs(srv.datadir)
        with tarfile.open(FIXTURE) as tar:
            tar.extractall(srv.datadir)
        with open(MANIFEST) as f:
            cls.manifest = json.load(f)
        srv.start_orchidd()
        srv.wait_ready()

    def log(self):
        with open(self.server.orchidd_log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def test_1_every_read_answers_as_before(self):
        log = self.log()
        self.assertIn("upgrade: converting", log)
        self.assertRegex(log, r"upgrade: done: \d+ records converted in this run; data "
                              r"format is now 2")
        keys = self.manifest["keys"]
        for r in self.manifest["reads"]:
            with self.subTest(tenant=r["tenant"], path=r["path"]):
                st, h, raw, doc = self.server.request("GET", r["path"], key=keys[r["tenant"]])
                self.assertEqual(st, r["status"], raw)
                self.assertEqual(h.get("etag"), r["etag"])
                if st == 200:
                    self.assertEqual(doc, r["body"])
                else:
                    self.assertEqual(doc["code"], r["body"]["code"])

    def test_2_writes_and_deletes_go_on(self):
        keys = self.manifest["keys"]
        srv = self.server
        before = srv.request("GET", "/v0", key=keys["alpha"])[3]
        users = {c["collection"]: c["items"] for c in before["results"]}["users"]
        st = srv.request("PUT", "/v0/users/new-after-upgrade", key=keys["alpha"],
                         body={"n": 1})[0]
        self.assertEqual(st, 201)
        st, _, raw, doc = srv.request("GET", "/v0/users/u00/refs?limit=100",
                                      key=keys["alpha"])
        self.assertEqual(st, 200, raw)
        self.assertEqual(srv.request("PUT", "/v0/users/u00", key=keys["alpha"],
                                     body={"v": "next"})[0], 201)
        st, _, raw, doc2 = srv.request("GET", "/v0/users/u00/refs?limit=100",
                                       key=keys["alpha"])
        self.assertEqual(doc2["count"], doc["count"] + 1, raw)
        after = srv.request("GET", "/v0", key=keys["alpha"])[3]
        self.assertEqual({c["collection"]: c["items"] for c in after["results"]}["users"],
                         users + 1)
        # An upgraded collection can be deleted; the other tenant's stays.
        self.assertEqual(srv.request("DELETE", "/v0/users?force=true",
                                     key=keys["alpha"])[0], 204)
        self.assertEqual(srv.request("GET", "/v0/users/u00", key=keys["alpha"])[0], 404)
        self.assertEqual(srv.request("GET", "/v0/users/b1", key=keys["beta"])[3], {"b": 1})

    def test_3_restart_does_not_upgrade_again_and_verify_is_clean(self):
        srv = self.server
        srv.restart()
        self.assertEqual(len(re.findall(r"upgrade: converting", self.log())), 1)
        keys = self.manifest["keys"]
        self.assertEqual(srv.request("GET", "/v0/users/b1", key=keys["beta"])[3], {"b": 1})
        self.assertEqual(srv.stop_orchidd(), 0)
        proc = srv.orchidctl("verify", check=False)
        out = proc.stdout.decode()
        self.assertEqual(proc.returncode, 0, out + proc.stderr.decode())
        self.assertRegex(out, r"0 orphans, 0 of format 1, 0 malformed, 0 wrong counts")
        srv.start_orchidd()
        srv.wait_ready()
