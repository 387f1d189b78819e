"""The soda company of the refs seeds (shared/seeds/000, 001, 003), step by
step, with API.md's corrections: GET by ref returns the raw value, history
lists every version (no dangling refs), DELETE writes a tombstone, purge
removes everything.

The tests of one class run in order (unittest sorts them by name: step01,
step02, ...) against one server; each step builds on the earlier ones and is
skipped when a step it needs did not pass (or was not selected).
"""

import functools
import threading
import unittest

from harness import UUID_RE, ServerTestCase, run_threads

CLASSIC = "/v0/recipes/classic"
NEW_FLAVOR = "/v0/recipes/awesome-new-flavor"
BAD_FLAVOR = "/v0/recipes/clear-cola"

CLASSIC_VERSIONS = [
    {"name": "Classic", "year": 1886, "sweetener": "cane sugar",
     "ingredients": ["carbonated water", "cane sugar", "kola nut", "vanilla"]},
    {"name": "Classic", "year": 1935, "sweetener": "cane sugar",
     "ingredients": ["carbonated water", "cane sugar", "kola nut", "vanilla", "lime"]},
    {"name": "Classic", "year": 1985, "sweetener": "corn syrup",
     "ingredients": ["carbonated water", "corn syrup", "caramel color", "vanilla"],
     "cost_per_litre": 0.31},
    {"name": "Classic", "year": 2009, "sweetener": "cane sugar", "throwback": True,
     "ingredients": ["carbonated water", "cane sugar", "kola nut", "vanilla"],
     "cost_per_litre": 0.42},
]


def step(n, needs=()):
    """Marks a story step: skipped unless the steps it needs passed."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self):
            missing = [k for k in needs if k not in type(self).done]
            if missing:
                self.skipTest("needs step(s) %s, which did not pass" % missing)
            fn(self)
            type(self).done.add(n)
        return wrapper
    return deco


class SodaStoryTest(ServerTestCase):
    """State shared between the steps lives on the class."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("soda-company")
        cls.classic_refs = []      # refs in write order, one per PUT
        cls.classic_written = []   # values in write order
        cls.final_ref = None
        cls.final_value = None
        cls.done = set()

    def req(self, method, path, **kw):
        resp = self.server.request(method, path, key=self.key, **kw)
        st, h, body, doc = resp
        self.assertIn("application/json", h.get("content-type", ""))
        self.assertRegex(h.get("x-orchestrate-req-id", ""), UUID_RE)
        return resp

    def put(self, path, value, headers=None):
        st, h, body, _ = self.req("PUT", path, body=value, headers=headers)
        self.assertEqual(st, 201, body)
        ref = h["etag"].strip('"')
        self.assertEqual(h["etag"], '"%s"' % ref)
        self.assertRegex(ref, r"^[0-9a-f]{16}$")
        self.assertEqual(h["location"], "%s/refs/%s" % (path, ref))
        return ref

    def history(self, path, query=""):
        st, h, body, doc = self.req("GET", path + "/refs" + query)
        self.assertEqual(st, 200, body)
        return doc

    # -- Listing Key/Value Refs ---------------------------------------------
    @step(1)
    def test_step01_the_classic_recipe_changes_over_the_years(self):
        cls = type(self)
        for value in CLASSIC_VERSIONS:
            cls.classic_refs.append(self.put(CLASSIC, value))
            cls.classic_written.append(value)
        self.assertEqual(len(set(cls.classic_refs)), len(CLASSIC_VERSIONS))
        st, h, body, doc = self.req("GET", CLASSIC)
        self.assertEqual((st, doc), (200, CLASSIC_VERSIONS[-1]))
        self.assertEqual(h["etag"], '"%s"' % cls.classic_refs[-1])

    @step(2, needs=(1,))
    def test_step02_same_recipe_again_is_a_new_version_with_the_same_ref(self):
        cls = type(self)
        ref = self.put(CLASSIC, CLASSIC_VERSIONS[-1])
        self.assertEqual(ref, cls.classic_refs[-1])
        cls.classic_refs.append(ref)
        cls.classic_written.append(CLASSIC_VERSIONS[-1])
        doc = self.history(CLASSIC)
        self.assertEqual(doc["count"], 5)
        top, second = doc["results"][0], doc["results"][1]
        self.assertEqual(top["path"]["ref"], second["path"]["ref"])
        self.assertGreaterEqual(top["reftime"], second["reftime"])

    @step(3, needs=(2,))
    def test_step03_list_refs_without_values(self):
        cls = type(self)
        doc = self.history(CLASSIC)
        self.assertEqual(doc["count"], len(cls.classic_refs))
        self.assertEqual([e["path"]["ref"] for e in doc["results"]], cls.classic_refs[::-1])
        reftimes = [e["reftime"] for e in doc["results"]]
        self.assertEqual(reftimes, sorted(reftimes, reverse=True))
        for e in doc["results"]:
            self.assertEqual(e["path"]["collection"], "recipes")
            self.assertEqual(e["path"]["key"], "classic")
            self.assertIsInstance(e["reftime"], int)
            self.assertNotIn("value", e)
            self.assertNotIn("tombstone", e["path"])
        self.assertNotIn("next", doc)

    @step(4, needs=(2,))
    def test_step04_list_refs_with_values_to_compare_recipes(self):
        cls = type(self)
        doc = self.history(CLASSIC, "?values=true")
        self.assertEqual([e["value"] for e in doc["results"]], cls.classic_written[::-1])
        # "compare the cost of ingredients between versions"
        costs = [e["value"].get("cost_per_litre") for e in doc["results"]]
        self.assertEqual(costs, [0.42, 0.42, 0.31, None, None])
        # the seed's own URL form, with a trailing slash before the query
        st, h, body, doc2 = self.req("GET", CLASSIC + "/refs/?values=true")
        self.assertEqual(st, 200, body)
        self.assertEqual(doc2["results"], doc["results"])

    # -- Retrieve A Ref -----------------------------------------------------
    @step(5, needs=(1,))
    def test_step05_classic_throwback_from_a_past_ref(self):
        cls = type(self)
        ref = cls.classic_refs[0]
        st, h, body, doc = self.req("GET", "%s/refs/%s" % (CLASSIC, ref))
        self.assertEqual(st, 200, body)
        # the raw value (API.md), not the {path, value, reftime} wrapper
        self.assertEqual(doc, CLASSIC_VERSIONS[0])
        self.assertEqual(h["etag"], '"%s"' % ref)
        self.assertEqual(h["content-location"], "%s/refs/%s" % (CLASSIC, ref))
        # the throwback is released as a new item from the old recipe
        throwback = dict(doc, name="Classic Throwback")
        self.put("/v0/recipes/classic-throwback", throwback)
        # and the classic itself is unchanged
        self.assertEqual(self.req("GET", CLASSIC)[3], CLASSIC_VERSIONS[-1])
        self.assertEqual(self.history(CLASSIC)["count"], len(cls.classic_refs))

    # -- Managing State -----------------------------------------------------
    @step(6)
    def test_step06_conditional_put_with_stale_ref_is_refused(self):
        cls = type(self)
        ref0 = self.put(NEW_FLAVOR, {"name": "Awesome", "description": "draft",
                                     "ingredients": ["water"]})
        # Two engineers read the same version.
        st, h, _, alice_copy = self.req("GET", NEW_FLAVOR)
        alice_ref = h["etag"]
        st, h, _, bob_copy = self.req("GET", NEW_FLAVOR)
        bob_ref = h["etag"]
        self.assertEqual(alice_ref, '"%s"' % ref0)
        self.assertEqual(bob_ref, alice_ref)
        # Alice updates the recipe, conditionally: accepted.
        alice_copy["ingredients"] = alice_copy["ingredients"] + ["mango"]
        ref1 = self.put(NEW_FLAVOR, alice_copy, headers={"If-Match": alice_ref})
        # Bob updates the description with his now stale ref: refused.
        bob_copy["description"] = "tropical"
        st, h, body, doc = self.req("PUT", NEW_FLAVOR, body=bob_copy,
                                    headers={"If-Match": bob_ref})
        self.assertEqual(st, 412, body)
        self.assertEqual(doc["code"], "item_version_mismatch")
        self.assertIsInstance(doc["message"], str)
        # ... and nothing was written.
        st, h, _, current = self.req("GET", NEW_FLAVOR)
        self.assertEqual(current, alice_copy)
        self.assertEqual(h["etag"], '"%s"' % ref1)
        self.assertEqual(self.history(NEW_FLAVOR)["count"], 2)
        # Bob re-reads, merges his change and retries with the fresh ref.
        current["description"] = "tropical"
        ref2 = self.put(NEW_FLAVOR, current, headers={"If-Match": h["etag"]})
        doc = self.history(NEW_FLAVOR, "?values=true")
        self.assertEqual([e["path"]["ref"] for e in doc["results"]], [ref2, ref1, ref0])
        self.assertEqual(doc["results"][0]["value"],
                         {"name": "Awesome", "description": "tropical",
                          "ingredients": ["water", "mango"]})
        # the ref quoted as the seed shows it, and bare, both work
        self.put(NEW_FLAVOR, current, headers={"If-Match": ref2})

    @step(7)
    def test_step07_many_engineers_editing_at_once_lose_no_update(self):
        # Each engineer adds ingredients with read / modify / conditional
        # PUT, retrying on 412. Every addition must survive, and the history
        # holds exactly one version per successful PUT.
        path = "/v0/recipes/team-flavor"
        self.put(path, {"name": "Team", "ingredients": []})
        engineers, additions = 4, 5
        successes = []
        lock = threading.Lock()

        def engineer(e):
            for i in range(additions):
                for attempt in range(200):
                    st, h, body, doc = self.server.request("GET", path, key=self.key)
                    self.assertEqual(st, 200, body)
                    doc["ingredients"].append("e%d-i%d" % (e, i))
                    st, h2, body, _ = self.server.request(
                        "PUT", path, key=self.key, body=doc,
                        headers={"If-Match": h["etag"]})
                    if st == 201:
                        with lock:
                            successes.append(h2["etag"])
                        break
                    self.assertEqual(st, 412, body)
                else:
                    self.fail("engineer %d gave up on addition %d" % (e, i))

        run_threads([functools.partial(engineer, e) for e in range(engineers)])
        self.assertEqual(len(successes), engineers * additions)
        st, h, _, final = self.req("GET", path)
        self.assertEqual(sorted(final["ingredients"]),
                         sorted("e%d-i%d" % (e, i) for e in range(engineers)
                                for i in range(additions)))
        doc = self.history(path, "?limit=100&values=true")
        self.assertEqual(doc["count"], 1 + engineers * additions)
        # each version adds exactly one ingredient to the one before it
        values = [e["value"]["ingredients"] for e in reversed(doc["results"])]
        for before, after in zip(values, values[1:]):
            self.assertEqual(after[:-1], before)
        self.assertIn(h["etag"], successes)
        self.assertEqual('"%s"' % doc["results"][0]["path"]["ref"], h["etag"])
        # the successful PUTs are exactly the versions after the first
        self.assertEqual(sorted('"%s"' % e["path"]["ref"] for e in doc["results"][:-1]),
                         sorted(successes))

    # -- Restoring Values ---------------------------------------------------
    @step(8, needs=(6,))
    def test_step08_accidental_delete_then_restore(self):
        cls = type(self)
        st, h, _, final = self.req("GET", NEW_FLAVOR)
        self.assertEqual(st, 200)
        cls.final_ref, cls.final_value = h["etag"].strip('"'), final
        versions_before = self.history(NEW_FLAVOR)["count"]

        st, h, body, _ = self.req("DELETE", NEW_FLAVOR)
        self.assertEqual((st, body), (204, b""))
        st, _, body, doc = self.req("GET", NEW_FLAVOR)
        self.assertEqual(st, 404, body)
        self.assertEqual(doc["code"], "items_not_found")

        # "we can find the final recipe by performing a GET by its ref"
        st, h, body, doc = self.req("GET", "%s/refs/%s" % (NEW_FLAVOR, cls.final_ref))
        self.assertEqual((st, doc), (200, cls.final_value))
        self.assertEqual(h["etag"], '"%s"' % cls.final_ref)

        # the deletion is a version of its own: a tombstone without value
        doc = self.history(NEW_FLAVOR, "?values=true")
        self.assertEqual(doc["count"], versions_before + 1)
        self.assertIs(doc["results"][0]["path"].get("tombstone"), True)
        self.assertNotIn("value", doc["results"][0])

        # "set a limit of one and an offset of one" skips the deleted version
        doc = self.history(NEW_FLAVOR, "?values=true&limit=1&offset=1")
        self.assertEqual(doc["count"], 1)
        entry = doc["results"][0]
        self.assertEqual(entry["value"], cls.final_value)
        self.assertEqual(entry["path"]["ref"], cls.final_ref)
        self.assertNotIn("tombstone", entry["path"])
        self.assertIn("next", doc)
        self.assertIn("prev", doc)

        # put it back
        ref = self.put(NEW_FLAVOR, entry["value"])
        self.assertEqual(ref, cls.final_ref)
        st, h, _, doc = self.req("GET", NEW_FLAVOR)
        self.assertEqual((st, doc, h["etag"]), (200, cls.final_value, '"%s"' % cls.final_ref))
        doc = self.history(NEW_FLAVOR)
        self.assertEqual(doc["count"], versions_before + 2)
        self.assertEqual(doc["results"][0]["path"]["ref"], cls.final_ref)
        self.assertIs(doc["results"][1]["path"].get("tombstone"), True)

    # -- Purging Values -----------------------------------------------------
    @step(9)
    def test_step09_purge_the_flavor_nobody_likes(self):
        refs = []
        for year in (1992, 1995, 2003, 2018):
            refs.append(self.put(BAD_FLAVOR, {"name": "Clear Cola", "revived": year}))
            # every few years it is taken out of production again
            self.assertEqual(self.req("DELETE", BAD_FLAVOR)[0], 204)
        refs.append(self.put(BAD_FLAVOR, {"name": "Clear Cola", "revived": 2024}))
        self.assertEqual(self.history(BAD_FLAVOR, "?limit=100")["count"], 9)

        st, h, body, _ = self.req("DELETE", BAD_FLAVOR + "?purge=true")
        self.assertEqual((st, body), (204, b""))
        st, _, body, doc = self.req("GET", BAD_FLAVOR)
        self.assertEqual(st, 404, body)
        self.assertEqual(doc["code"], "items_not_found")
        st, _, body, doc = self.req("GET", BAD_FLAVOR + "/refs")
        self.assertEqual(st, 404, body)
        self.assertEqual(doc["code"], "items_not_found")
        st, _, body, doc = self.req("GET", BAD_FLAVOR + "/refs?values=true&limit=1&offset=1")
        self.assertEqual(st, 404, body)
        for ref in refs:
            st, _, body, doc = self.req("GET", "%s/refs/%s" % (BAD_FLAVOR, ref))
            self.assertEqual(st, 404, body)
            self.assertEqual(doc["code"], "items_not_found")
        listed = [e["path"]["key"] for e in self.req("GET", "/v0/recipes?limit=100")[3]["results"]]
        self.assertNotIn("clear-cola", listed)

    @step(10, needs=(2, 5, 7, 8, 9))
    def test_step10_the_other_recipes_are_untouched(self):
        cls = type(self)
        doc = self.history(CLASSIC, "?values=true")
        self.assertEqual([e["path"]["ref"] for e in doc["results"]], cls.classic_refs[::-1])
        self.assertEqual([e["value"] for e in doc["results"]], cls.classic_written[::-1])
        self.assertEqual(self.req("GET", NEW_FLAVOR)[3], cls.final_value)
        listed = [e["path"]["key"] for e in self.req("GET", "/v0/recipes?limit=100")[3]["results"]]
        self.assertEqual(listed, ["awesome-new-flavor", "classic", "classic-throwback",
                                  "team-flavor"])
        st, _, _, doc = self.req("GET", "/v0")
        self.assertEqual(doc, {"results": [{"collection": "recipes", "items": 4}], "count": 1})


if __name__ == "__main__":
    unittest.main()
