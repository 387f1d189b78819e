"""json-patch-tests (shared/testsuites/json-patch-tests, written by others:
tests.json and spec_tests.json, the RFC 6902 examples) through PATCH of an
event.

Each case runs on its own target. Events' values must be objects, so the
case's document is wrapped as {"d": doc} and every op's path and from is
moved under /d: "" becomes "/d", "/a/b" becomes "/d/a/b". (A path without a
leading "/" is dotted in Orchestrate's dialect; it becomes "d." + path, so
that it still names the same place.) Then:

- a case with `expected`: 204 (201 for items), and the value is {"d": expected}, compared as
  JSON (true is not 1, decimals as text);
- a case with `error`: 400 api_bad_request when the patch itself is
  malformed (an unknown op, a missing or non-string path or from, a missing
  value: malformed() below, from the op table of reference 4.6), else 409
  patch_conflict (an op that cannot apply), docs/api.md "Patch"; and the
  target is unchanged, ref included;
- a case with neither: 204 (201 for items);
- a case with "disabled": true is not run, only counted.

DIALECT lists the cases where Orchestrate's dialect (reference 4.6,
docs/api.md "Patch") legitimately differs from RFC 6902, with the outcome
Orchid gives instead, which is checked like any other.

A variant for another target (items, when PATCH of items arrives) subclasses
EventPatchSuiteTest and overrides create_target, patch_target and
read_target.
"""

import sys

from harness import ServerTestCase
from suitedata import dumps_exact, exact, loads_exact, testsuites_dir

FILES = ("tests.json", "spec_tests.json")

# (file, comment) -> (why Orchid differs, the case as Orchid answers it).
DIALECT = {
    ("tests.json", "invalid JSON Pointer token"): (
        'a path without a leading "/" is dotted: "foo" is the member foo, '
        "so the add succeeds (RFC 6902 refuses the path)",
        {"expected": {"foo": "bar"}}),
    ("tests.json", "missing 'value' parameter to test"): (
        "test without value tests that the path exists (RFC 6902: 400)",
        {"expected": [None]}),
    ("tests.json", "missing value parameter to test - where undef is falsy"): (
        "test without value tests that the path exists (RFC 6902: 400)",
        {"expected": [False]}),
}

# The members each op needs besides "op" and "path" (reference 4.6).
OP_NEEDS = {
    "add": ("value",), "remove": (), "replace": ("value",), "move": ("from",),
    "copy": ("from",), "test": (), "inc": (), "init": ("value",),
    "append": ("value",), "merge": ("value",), "patch": ("value",),
}


def malformed(op):
    """True when the op is a bad request whatever the document holds."""
    needs = OP_NEEDS.get(op.get("op"))
    if needs is None or not isinstance(op.get("path"), str):
        return True
    if any(m not in op for m in needs):
        return True
    return "from" in needs and not isinstance(op["from"], str)


def under_d(path):
    """The path of the case's document moved under the member "d"."""
    if not isinstance(path, str):
        return path  # malformed on purpose; sent as is
    if path == "" or path.startswith("/"):
        return "/d" + path
    return "d." + path  # dotted


class EventPatchSuiteTest(ServerTestCase):
    tenant = "jsonpatch"
    success_status = 204   # PATCH of an event: 204; of an item: 201

    @classmethod
    def setUpClass(cls):
        cls.suites = {}
        for name in FILES:
            with open(testsuites_dir("json-patch-tests", name), "rb") as f:
                cls.suites[name] = loads_exact(f.read())
        super().setUpClass()
        cls.key = cls.server.new_key(cls.tenant)
        cls.serial = 0

    @classmethod
    def fresh(cls):
        cls.serial += 1
        return "k%d" % cls.serial

    # ---- the target: override these three for another kind of target ----
    def create_target(self, value):
        """Store value (an object) in a new target; return its handle."""
        st, h, body, doc = self.server.request(
            "POST", "/v0/c/%s/events/t" % self.fresh(), key=self.key,
            raw_body=dumps_exact(value))
        self.assertEqual(st, 201, body)
        self.assertRegex(h.get("location", ""), r"^/v0/c/k\d+/events/t/\d+/\d+$")
        return h["location"]

    def patch_target(self, handle, ops_text):
        """PATCH the target with a JSON Patch (text); request()'s tuple."""
        return self.server.request(
            "PATCH", handle, key=self.key, raw_body=ops_text,
            headers={"Content-Type": "application/json-patch+json"})

    def read_target(self, handle):
        """(value, ref) of the target now."""
        st, h, body, doc = self.server.request("GET", handle, key=self.key)
        self.assertEqual(st, 200, body)
        return loads_exact(body)["value"], h.get("etag")

    # ---- one case ------------------------------------------------------
    def run_case(self, case, counts):
        ops = []
        for op in case["patch"]:
            op = dict(op)
            for member in ("path", "from"):
                if member in op:
                    op[member] = under_d(op[member])
            ops.append(op)
        handle = self.create_target({"d": case["doc"]})
        before, ref = self.read_target(handle)
        self.assertEqual(exact(before), exact({"d": case["doc"]}))
        resp = self.patch_target(handle, dumps_exact(ops))
        st, h, body, doc = resp
        after, ref_after = self.read_target(handle)
        if "error" in case:
            if any(malformed(op) for op in case["patch"]):
                self.assertJsonError(resp, 400, "api_bad_request")
            else:
                self.assertJsonError(resp, 409, "patch_conflict")
                details = loads_exact(body).get("details", {})
                index = details.get("opIndex")
                self.assertIn(index, range(len(ops)), body)
                self.assertEqual(exact(details.get("op")), exact(ops[index]), body)
            self.assertEqual(exact(after), exact(before), "a failed patch changed the target")
            self.assertEqual(ref_after, ref)
            counts[st] = counts.get(st, 0) + 1
            return
        self.assertEqual(st, self.success_status, body)
        if "expected" in case:
            self.assertEqual(exact(after), exact({"d": case["expected"]}),
                             "got %s" % dumps_exact(after))
        counts[204] = counts.get(204, 0) + 1

    def run_file(self, name):
        counts = {"disabled": 0, "exceptions": 0}
        seen = set()
        for index, case in enumerate(self.suites[name]):
            if case.get("disabled"):
                counts["disabled"] += 1
                continue
            key = (name, case.get("comment"))
            if key in DIALECT:
                self.assertNotIn(key, seen, "comment not unique: %r" % (key,))
                seen.add(key)
                case = dict(case)
                case.pop("error", None)
                case.update(DIALECT[key][1])
                counts["exceptions"] += 1
            with self.subTest(case=index, comment=case.get("comment")):
                self.run_case(case, counts)
        stale = [k for k in DIALECT if k[0] == name and k not in seen]
        self.assertEqual(stale, [], "DIALECT entries matching no case")
        sys.stdout.write("\n    %s: %d cases; 204 %d, 400 %d, 409 %d; disabled %d; "
                         "dialect exceptions %d (run as Orchid answers) "
                         % (name, len(self.suites[name]), counts.get(204, 0),
                            counts.get(400, 0), counts.get(409, 0),
                            counts["disabled"], counts["exceptions"]))
        sys.stdout.flush()

    def test_spec_tests(self):
        self.run_file("spec_tests.json")

    def test_tests(self):
        self.run_file("tests.json")


class ItemPatchSuiteTest(EventPatchSuiteTest):
    """The same cases through PATCH of an item (201 with the new ref)."""

    tenant = "jsonpatch-items"
    success_status = 201

    def create_target(self, value):
        path = "/v0/c/%s" % self.fresh()
        st, h, body, doc = self.server.request("PUT", path, key=self.key,
                                               raw_body=dumps_exact(value))
        self.assertEqual(st, 201, body)
        return path

    def read_target(self, handle):
        st, h, body, doc = self.server.request("GET", handle, key=self.key)
        self.assertEqual(st, 200, body)
        return loads_exact(body), h.get("etag")
