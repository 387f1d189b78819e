"""Tenants and API keys: isolation between tenants, a second key of the same
tenant, revocation (by key and by id), orchidctl's lists, and keys never
stored in plain text."""

import base64
import os
import re
import unittest

from harness import UUID_RE, ServerTestCase


def parse_table(text):
    """orchidctl's tab-separated output without its header line."""
    lines = [l for l in text.splitlines() if l.strip()]
    return [l.split("\t") for l in lines[1:]]


class TenantsTestBase(ServerTestCase):
    def req(self, key, method, path, **kw):
        resp = self.server.request(method, path, key=key, **kw)
        st, h, body, doc = resp
        self.assertIn("application/json", h.get("content-type", ""))
        self.assertRegex(h.get("x-orchestrate-req-id", ""), UUID_RE)
        return resp

    def key_ids(self):
        out = self.server.orchidctl("key", "list").stdout.decode()
        return {row[0]: row for row in parse_table(out)}

    def tenant_ids(self):
        out = self.server.orchidctl("tenant", "list").stdout.decode()
        return {row[1]: row[0] for row in parse_table(out)}

    def new_key_with_id(self, tenant):
        before = set(self.key_ids())
        key = self.server.new_key(tenant)
        after = self.key_ids()
        new = set(after) - before
        self.assertEqual(len(new), 1, "key list did not show exactly one new key")
        kid = new.pop()
        return key, kid, after[kid]


class IsolationTest(TenantsTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key_a = cls.server.new_key("acme")
        cls.key_b = cls.server.new_key("bravo")

    def setUp(self):
        # acme's item with a short history; bravo has the same names elsewhere.
        name = self.id().rsplit(".", 1)[1]
        self.coll = "shared-" + name[:40]
        self.path = "/v0/%s/item" % self.coll
        self.refs_a = []
        for v in (1, 2):
            st, h, body, _ = self.req(self.key_a, "PUT", self.path, body={"owner": "acme", "v": v})
            self.assertEqual(st, 201, body)
            self.refs_a.append(h["etag"].strip('"'))

    def snapshot_a(self):
        st, h, body, doc = self.req(self.key_a, "GET", self.path)
        self.assertEqual(st, 200, body)
        refs = self.req(self.key_a, "GET", self.path + "/refs?values=true")[3]
        return h["etag"], doc, refs

    def assertLikeMissing(self, resp, other_resp):
        """resp (to the other tenant's item) is exactly what the same request
        gets for an item that does not exist at all (other_resp), apart from
        the names in details."""
        st, h, body, doc = resp
        st2, h2, body2, doc2 = other_resp
        self.assertEqual(st, st2, body)
        if doc2 is None:
            self.assertEqual(body, body2)
        else:
            self.assertEqual({k: v for k, v in doc.items() if k != "details"},
                             {k: v for k, v in doc2.items() if k != "details"})
        for name in ("etag", "location", "content-location", "last-modified", "link"):
            self.assertNotIn(name, h)

    def history(self, key):
        st, h, body, doc = self.req(key, "GET", self.path + "/refs?values=true")
        self.assertEqual(st, 200, body)
        return [(e["path"]["ref"], e.get("value")) for e in doc["results"]]

    def test_same_names_are_independent(self):
        acme = [(self.refs_a[1], {"owner": "acme", "v": 2}),
                (self.refs_a[0], {"owner": "acme", "v": 1})]
        st, h, body, _ = self.req(self.key_b, "PUT", self.path, body={"owner": "bravo"})
        self.assertEqual(st, 201, body)
        bravo_ref = h["etag"].strip('"')
        self.assertEqual(self.req(self.key_a, "GET", self.path)[3], {"owner": "acme", "v": 2})
        self.assertEqual(self.req(self.key_b, "GET", self.path)[3], {"owner": "bravo"})
        self.assertEqual(self.history(self.key_a), acme)
        self.assertEqual(self.history(self.key_b), [(bravo_ref, {"owner": "bravo"})])
        # bravo's delete and purge leave acme's item alone
        self.assertEqual(self.req(self.key_b, "DELETE", self.path)[0], 204)
        self.assertEqual(self.req(self.key_b, "DELETE", self.path + "?purge=true")[0], 204)
        self.assertEqual(self.req(self.key_a, "GET", self.path)[3], {"owner": "acme", "v": 2})
        self.assertEqual(self.history(self.key_a), acme)
        # same content: same ref in both tenants, still independent
        st, h, _, _ = self.req(self.key_b, "PUT", self.path, body={"owner": "acme", "v": 2})
        self.assertEqual(h["etag"].strip('"'), self.refs_a[-1])
        self.assertEqual(self.history(self.key_b), acme[:1])
        self.assertEqual(self.history(self.key_a), acme)

    def test_cannot_read(self):
        before = self.snapshot_a()
        missing = "/v0/%s/never-item" % self.coll
        self.assertLikeMissing(self.req(self.key_b, "GET", self.path),
                               self.req(self.key_b, "GET", missing))
        self.assertEqual(self.req(self.key_b, "GET", self.path)[3]["details"],
                         {"items": [{"collection": self.coll, "key": "item"}]})
        self.assertLikeMissing(self.req(self.key_b, "HEAD", self.path),
                               self.req(self.key_b, "HEAD", missing))
        self.assertEqual(self.snapshot_a(), before)

    def test_cannot_list_collection(self):
        st, h, body, doc = self.req(self.key_b, "GET", "/v0/" + self.coll)
        self.assertEqual((st, doc), (200, {"results": [], "count": 0}))
        st, h, body, doc = self.req(self.key_b, "GET", "/v0/%s?startKey=a&limit=100" % self.coll)
        self.assertEqual((st, doc), (200, {"results": [], "count": 0}))
        doc = self.req(self.key_a, "GET", "/v0/" + self.coll)[3]
        self.assertEqual([(r["path"]["key"], r["value"]) for r in doc["results"]],
                         [("item", {"owner": "acme", "v": 2})])

    def test_cannot_list_refs(self):
        self.assertLikeMissing(self.req(self.key_b, "GET", self.path + "/refs"),
                               self.req(self.key_b, "GET", "/v0/%s/never/refs" % self.coll))
        resp = self.req(self.key_b, "GET", self.path + "/refs?values=true&limit=1&offset=1")
        self.assertEqual(resp[0], 404)
        self.assertEqual(resp[3]["code"], "items_not_found")

    def test_cannot_get_by_ref(self):
        for ref in self.refs_a:
            with self.subTest(ref=ref):
                resp = self.req(self.key_b, "GET", "%s/refs/%s" % (self.path, ref))
                self.assertLikeMissing(resp, self.req(self.key_b, "GET", "%s/refs/%s"
                                                      % (self.path, "0" * 16)))
                self.assertEqual(resp[3]["code"], "items_not_found")

    def test_cannot_delete(self):
        before = self.snapshot_a()
        st, h, body, _ = self.req(self.key_b, "DELETE", self.path)
        self.assertEqual((st, body), (204, b""))
        self.assertEqual(self.snapshot_a(), before)
        # nothing written in bravo either
        self.assertEqual(self.req(self.key_b, "GET", self.path + "/refs")[0], 404)
        # with If-Match of acme's current ref: as for a missing item, 412
        resp = self.req(self.key_b, "DELETE", self.path,
                        headers={"If-Match": '"%s"' % self.refs_a[-1]})
        self.assertLikeMissing(resp, self.req(self.key_b, "DELETE", "/v0/%s/never" % self.coll,
                                              headers={"If-Match": '"%s"' % self.refs_a[-1]}))
        self.assertEqual(resp[3]["code"], "item_version_mismatch")
        self.assertEqual(self.snapshot_a(), before)

    def test_cannot_purge(self):
        before = self.snapshot_a()
        st, h, body, _ = self.req(self.key_b, "DELETE", self.path + "?purge=true")
        self.assertEqual((st, body), (204, b""))
        self.assertEqual(self.snapshot_a(), before)
        for ref in self.refs_a:
            self.assertEqual(self.req(self.key_a, "GET", "%s/refs/%s" % (self.path, ref))[0], 200)

    def test_cannot_write_conditionally_over(self):
        before = self.snapshot_a()
        resp = self.req(self.key_b, "PUT", self.path, body={"x": 1},
                        headers={"If-Match": '"%s"' % self.refs_a[-1]})
        self.assertEqual(resp[0], 412)
        self.assertEqual(resp[3]["code"], "item_version_mismatch")
        # If-None-Match: * succeeds for bravo: the item does not exist there
        st, h, body, _ = self.req(self.key_b, "PUT", self.path, body={"x": 1},
                                  headers={"If-None-Match": "*"})
        self.assertEqual(st, 201, body)
        self.assertEqual(self.snapshot_a(), before)

    def test_get_v0_shows_only_own_collections(self):
        key_c = self.server.new_key("charlie")
        self.assertEqual(self.req(key_c, "PUT", "/v0/charlie-only/x", body={"c": 1})[0], 201)
        self.assertEqual(self.req(key_c, "PUT", "/v0/%s/x" % self.coll, body={"c": 1})[0], 201)
        st, h, body, doc = self.req(key_c, "GET", "/v0")
        self.assertEqual(st, 200, body)
        self.assertEqual(doc, {"results": [{"collection": "charlie-only", "items": 1},
                                           {"collection": self.coll, "items": 1}],
                               "count": 2})
        names_a = [r["collection"] for r in self.req(self.key_a, "GET", "/v0")[3]["results"]]
        self.assertNotIn("charlie-only", names_a)
        self.assertIn(self.coll, names_a)
        for r in self.req(self.key_a, "GET", "/v0")[3]["results"]:
            if r["collection"] == self.coll:
                self.assertEqual(r["items"], 1)


class KeysTest(TenantsTestBase):
    def test_second_key_of_a_tenant_sees_the_same_data(self):
        key1 = self.server.new_key("delta")
        key2 = self.server.new_key("delta")
        self.assertNotEqual(key1, key2)
        st, h, _, _ = self.req(key1, "PUT", "/v0/d/k", body={"by": "key1"})
        self.assertEqual(st, 201)
        st, h2, _, doc = self.req(key2, "GET", "/v0/d/k")
        self.assertEqual((st, doc, h2["etag"]), (200, {"by": "key1"}, h["etag"]))
        self.assertEqual(self.req(key2, "PUT", "/v0/d/k", body={"by": "key2"})[0], 201)
        self.assertEqual([e["value"] for e in
                          self.req(key1, "GET", "/v0/d/k/refs?values=true")[3]["results"]],
                         [{"by": "key2"}, {"by": "key1"}])
        self.assertEqual(self.req(key1, "GET", "/v0")[3], self.req(key2, "GET", "/v0")[3])
        # one tenant only
        self.assertEqual(list(self.tenant_ids()).count("delta"), 1)

    def test_lists_show_tenant_and_keys(self):
        key, kid, row = self.new_key_with_id("echo")
        tenants = self.tenant_ids()
        self.assertIn("echo", tenants)
        self.assertRegex(kid, r"^[0-9a-f]{16}$")
        self.assertEqual(row[1], tenants["echo"])
        # the key itself is never printed again
        listing = self.server.orchidctl("key", "list").stdout.decode()
        self.assertNotIn(key, listing)
        self.assertNotIn(key.replace("-", ""), listing)
        self.assertTrue(listing.startswith("ID\tTENANT\tCREATED"), listing)
        tl = self.server.orchidctl("tenant", "list").stdout.decode()
        self.assertTrue(tl.startswith("ID\tNAME"), tl)
        self.assertRegex(tl, r"(?m)^%s\techo$" % re.escape(tenants["echo"]))
        # two keys of one tenant: two rows with the same tenant id
        key2, kid2, row2 = self.new_key_with_id("echo")
        self.assertNotEqual(kid, kid2)
        self.assertEqual(row2[1], tenants["echo"])

    def test_bad_tenant_names_are_refused(self):
        for name in ("", "has space", "slash/x", "x" * 300):
            with self.subTest(name=name):
                p = self.server.orchidctl("key", "create", name, check=False)
                self.assertNotEqual(p.returncode, 0)
                self.assertEqual(p.stdout.strip(), b"")

    def test_revoke_by_key(self):
        key = self.server.new_key("foxtrot")
        other = self.server.new_key("foxtrot")
        self.assertEqual(self.req(key, "PUT", "/v0/f/k", body={"f": 1})[0], 201)
        self.assertEqual(self.req(key, "GET", "/v0/f/k")[0], 200)
        p = self.server.orchidctl("key", "revoke", key)
        self.assertEqual(p.returncode, 0)
        # the very next request is refused
        resp = self.req(key, "GET", "/v0/f/k")
        self.assertJsonError(resp, 401, "security_unauthorized")
        self.assertJsonError(self.req(key, "PUT", "/v0/f/k", body={"f": 2}), 401,
                             "security_unauthorized")
        self.assertEqual(self.req(key, "HEAD", "/v0")[0], 401)
        # the tenant's data and its other key are untouched
        st, _, _, doc = self.req(other, "GET", "/v0/f/k")
        self.assertEqual((st, doc), (200, {"f": 1}))
        self.assertEqual([e["value"] for e in
                          self.req(other, "GET", "/v0/f/k/refs?values=true")[3]["results"]],
                         [{"f": 1}])
        # revoking again: no such key
        p = self.server.orchidctl("key", "revoke", key, check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_revoke_by_id(self):
        key, kid, _ = self.new_key_with_id("golf")
        keep, keep_id, _ = self.new_key_with_id("golf")
        self.assertEqual(self.req(key, "HEAD", "/v0")[0], 200)
        p = self.server.orchidctl("key", "revoke", kid)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(self.req(key, "GET", "/v0")[0], 401)
        ids = self.key_ids()
        self.assertNotIn(kid, ids)
        self.assertIn(keep_id, ids)
        self.assertEqual(self.req(keep, "GET", "/v0")[0], 200)

    def test_revoke_unknown(self):
        for what in ("0000000000000000", "00000000-0000-4000-8000-000000000000", "nope"):
            with self.subTest(what=what):
                p = self.server.orchidctl("key", "revoke", what, check=False)
                self.assertNotEqual(p.returncode, 0)

    def test_key_variants_are_refused(self):
        key = self.server.new_key("hotel")
        self.assertEqual(self.req(key, "GET", "/v0")[0], 200)
        variants = [key.upper(), key.replace("-", ""), key + " ", " " + key, key[:-1],
                    key + "0"]
        for v in variants:
            with self.subTest(variant=v):
                self.assertJsonError(self.req(v, "GET", "/v0"), 401, "security_unauthorized")
        # the password is ignored, the scheme is case-insensitive
        token = base64.b64encode(("%s:whatever" % key).encode()).decode()
        self.assertEqual(self.server.request("GET", "/v0",
                                             headers={"Authorization": "Basic " + token})[0], 200)
        token = base64.b64encode(("%s:" % key).encode()).decode()
        self.assertEqual(self.server.request("GET", "/v0",
                                             headers={"Authorization": "basic " + token})[0], 200)


class KeyStorageTest(TenantsTestBase):
    def test_api_key_is_not_stored_in_plain_text(self):
        key = self.server.new_key("india")
        self.assertEqual(self.req(key, "PUT", "/v0/i/k", body={"i": 1})[0], 201)
        self.assertEqual(self.req(key, "GET", "/v0/i/k")[0], 200)
        # force the data out of the cache and the log buffer into files
        self.server.restart()
        self.assertEqual(self.req(key, "GET", "/v0/i/k")[0], 200)
        needles = [key.encode(), key.upper().encode(), key.replace("-", "").encode(),
                   key.encode("utf-16-le"), base64.b64encode(("%s:" % key).encode())]
        files = 0
        for root, dirs, names in os.walk(self.server.datadir):
            for name in names:
                path = os.path.join(root, name)
                if not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    data = f.read()
                files += 1
                for n in needles:
                    self.assertNotIn(n, data, "the API key is in %s" % path)
        self.assertGreater(files, 0)
        # the digest is what is stored (sanity check that the grep can see
        # what is there: the tenant name is stored in plain text)
        found_tenant = False
        for root, dirs, names in os.walk(self.server.datadir):
            for name in names:
                with open(os.path.join(root, name), "rb") as f:
                    if b"india" in f.read():
                        found_tenant = True
        self.assertTrue(found_tenant, "the grep does not see stored data at all")
        # nor in the logs
        for path in (self.server.orchidd_log, self.server.nginx_access_log,
                     self.server.nginx_error_log):
            if os.path.exists(path):
                with open(path, "rb") as f:
                    self.assertNotIn(key.encode(), f.read(), path)


if __name__ == "__main__":
    unittest.main()
