"""JSONTestSuite (shared/testsuites/JSONTestSuite/test_parsing, written by
others) through PUT of an item: every y_ case is accepted, every n_ case
refused, every i_ case accepted or cleanly refused, never a 5xx.

An item's value must be an object, so each case is the value of a member:
the body is b'{"v":' + case + b'}', sent as raw bytes. Wrapping changes two
things, both covered: whitespace around the case is then inside an object
(legal), and a UTF-8 BOM is then in the middle of the text (never legal).
So every case that is an object, or starts with a BOM, is also sent
unwrapped, as the whole body.

An accepted case must read back exactly: GET gives {"v": X} where X is the
case as Python reads it, compared as JSON (true is not 1, 1 is not 1.0) and
with decimals compared as text (docs/api.md "Values": decimals keep their
text; -0 is stored as 0, as Python's int).
"""

import os
import sys

from harness import ServerTestCase
from suitedata import exact, loads_exact, testsuites_dir

BOM = b"\xef\xbb\xbf"

# y_ cases Orchid refuses on purpose, each by a rule of docs/api.md "Values".
Y_REFUSED = {
    "y_object_escaped_null_in_key.json":
        "\\u0000 in a member name is 400: json-c would cut the name there",
}


# i_ cases (either outcome is RFC 8259 conformant) that Orchid accepts; it
# refuses every other one by a rule of docs/api.md "Values": integers out of
# the exact range, non-finite numbers, lone surrogate escapes, invalid UTF-8
# (Latin-1, UTF-16, overlong forms, encoded surrogates), nesting deeper than
# 64, and a byte order mark.
I_ACCEPTED = {
    "i_number_double_huge_neg_exp.json": "123.456e-789 underflows, but decimals keep their text",
    "i_number_real_underflow.json": "123e-10000000 underflows, but decimals keep their text",
}


def sent_unwrapped(case):
    """Cases whose meaning the wrapper could change: objects (the only
    top-level values an item may be) and cases starting with a BOM (UTF-8's or UTF-16's)."""
    return (case.lstrip(b" \t\r\n").startswith(b"{")
            or case.startswith((BOM, b"\xff\xfe", b"\xfe\xff")))


class Counts(dict):
    def add(self, wrapped, outcome):
        k = ("wrapped" if wrapped else "whole body", outcome)
        self[k] = self.get(k, 0) + 1

    def __str__(self):
        order = sorted(self.items(), key=lambda kv: (kv[0][0] != "wrapped", kv[0][1]))
        return ", ".join("%s %s %d" % (w, o, n) for (w, o), n in order)


class JSONTestSuiteTest(ServerTestCase):
    tenant = "jts"

    @classmethod
    def setUpClass(cls):
        folder = testsuites_dir("JSONTestSuite", "test_parsing")
        cls.cases = {"y": [], "n": [], "i": []}
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json") and name[:2] in ("y_", "n_", "i_"):
                with open(os.path.join(folder, name), "rb") as f:
                    cls.cases[name[0]].append((name, f.read()))
        # The suite as of shared/testsuites/README.md: 95 y, 188 n, 35 i.
        assert len(cls.cases["y"]) >= 90 and len(cls.cases["n"]) >= 180, \
            {k: len(v) for k, v in cls.cases.items()}
        super().setUpClass()
        cls.key = cls.server.new_key(cls.tenant)
        cls.serial = 0

    @classmethod
    def fresh(cls, prefix):
        cls.serial += 1
        return "/v0/jts/%s%d" % (prefix, cls.serial)

    def report(self, line):
        sys.stdout.write("\n    %s: %s " % (self._testMethodName, line))
        sys.stdout.flush()

    # ---- one case ------------------------------------------------------
    def put(self, body):
        """PUT body (bytes, as is) to a new key: (path, response)."""
        path = self.fresh("w" if body.startswith(b'{"v":') else "u")
        resp = self.server.request("PUT", path, key=self.key, raw_body=body)
        self.assertLess(resp[0], 500, resp[2])
        return path, resp

    def read_back(self, path):
        st, h, body, doc = self.server.request("GET", path, key=self.key)
        self.assertEqual(st, 200, body)
        return loads_exact(body)

    def assert_same(self, got, want):
        """JSON equality: true is not 1, 1 is not 1.0, 1.50 is not 1.5."""
        self.assertEqual(exact(got), exact(want), "read back %r, sent %r" % (got, want))

    def assert_refused(self, path, resp):
        self.assertJsonError(resp, 400, "api_bad_request")
        st, h, body, doc = self.server.request("GET", path, key=self.key)
        self.assertEqual(st, 404, body)  # nothing was stored

    def bodies(self, case):
        """(body, wrapped) pairs to send for one case."""
        out = [(b'{"v":' + case + b"}", True)]
        if sent_unwrapped(case):
            out.append((case, False))
        return out

    # ---- the suite -----------------------------------------------------
    def test_i_cases_accepted_or_cleanly_refused(self):
        counts = Counts()
        for name, case in self.cases["i"]:
            for body, wrapped in self.bodies(case):
                with self.subTest(case=name, wrapped=wrapped):
                    path, resp = self.put(body)
                    if resp[0] != 201:
                        self.assert_refused(path, resp)
                        self.assertNotIn(name, I_ACCEPTED, "documented as accepted")
                        counts.add(wrapped, "refused")
                        continue
                    self.assertIn(name, I_ACCEPTED, "docs/api.md refuses it")
                    counts.add(wrapped, "accepted")
                    got = self.read_back(path)
                    want = loads_exact(case)
                    self.assert_same(got, {"v": want} if wrapped else want)
        self.report("%d cases; %s" % (len(self.cases["i"]), counts))
        for name in I_ACCEPTED:
            self.assertIn(name, [n for n, _ in self.cases["i"]], "stale entry")
        # The server still serves after all of them.
        path, resp = self.put(b'{"v":"still here"}')
        self.assertEqual(resp[0], 201, resp[2])
        self.assertEqual(self.read_back(path), {"v": "still here"})

    def test_n_cases_refused(self):
        counts = Counts()
        for name, case in self.cases["n"]:
            for body, wrapped in self.bodies(case):
                with self.subTest(case=name, wrapped=wrapped):
                    # Our wrapper must not make the case valid JSON.
                    with self.assertRaises((ValueError, RecursionError)):
                        loads_exact(body)
                    path, resp = self.put(body)
                    self.assert_refused(path, resp)
                    counts.add(wrapped, "refused")
        self.report("%d cases; %s" % (len(self.cases["n"]), counts))

    def test_y_cases_accepted(self):
        counts = Counts()
        for name, case in self.cases["y"]:
            for body, wrapped in self.bodies(case):
                with self.subTest(case=name, wrapped=wrapped):
                    want = loads_exact(case)
                    path, resp = self.put(body)
                    if name in Y_REFUSED:
                        self.assert_refused(path, resp)
                        counts.add(wrapped, "refused")
                        continue
                    self.assertEqual(resp[0], 201, resp[2])
                    counts.add(wrapped, "accepted")
                    got = self.read_back(path)
                    self.assert_same(got, {"v": want} if wrapped else want)
        self.report("%d cases; %s (refused: documented)" % (len(self.cases["y"]), counts))
        for name in Y_REFUSED:
            self.assertIn(name, [n for n, _ in self.cases["y"]], "stale entry")
