"""Bulk import, line by line of docs/api.md "Bulk": POST /v0 (and /v0/) with
an export stream; statuses and success_count; results in operation order
with refs, reftimes and ordinals; what is stored afterwards (items, their
history, events at the ordinals given and new ones after them, relations);
hostile streams (truncated and malformed operations, a value over
max_body, more operations than max_bulk_ops, other content types,
non-object operations, deep nesting) with nothing stored beyond the
reported successes; an export's end line (a success that writes nothing);
the body limits of nginx and orchidd; orchidctl import of a file and of
standard input, with orchidd running and stopped, and its checks of the
end line (its count, nothing after it, a warning when there is none).

Refs are computed here (SHA-256 of the canonical value), never taken from
the server.
"""

import hashlib
import json
import os
import re
import subprocess
import tempfile
import urllib.parse

import harness
from harness import UUID_RE, ServerTestCase

STREAM = "application/orchestrate-export-stream+json"
# orchidctl import's warning about a stream without an end line.
NO_END = ("orchidctl: no end line: the stream may be truncated; an Orchid export always "
          "ends with one\n")


def canon(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def ref_of(value):
    return hashlib.sha256(canon(value).encode()).hexdigest()[:16]


def seg(s):
    """A path segment; dots encoded too ("." and ".." are names here)."""
    return urllib.parse.quote(s, safe="").replace(".", "%2E")


def item_op(coll, key, value, **extra):
    op = {"path": {"collection": coll, "key": key, "kind": "item"}, "value": value}
    op.update(extra)
    return op


def event_op(coll, key, typ, value, **path):
    p = {"collection": coll, "key": key, "kind": "event", "type": typ}
    p.update(path)
    return {"path": p, "value": value}


def rel_op(c1, k1, kind, c2, k2, value=None):
    op = {"source": {"collection": c1, "key": k1},
          "destination": {"collection": c2, "key": k2}, "relation": kind}
    if value is not None:
        op["value"] = value
    return op


def lines(ops):
    return "\n".join(o if isinstance(o, str) else json.dumps(o) for o in ops) + "\n"


class BulkBase(ServerTestCase):
    tenant = "bulk"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key(cls.tenant)

    def req(self, method, path, **kw):
        resp = self.server.request(method, path, key=kw.pop("key", self.key), **kw)
        self.assertIn("application/json", resp[1].get("content-type", ""))
        self.assertRegex(resp[1].get("x-orchestrate-req-id", ""), UUID_RE)
        return resp

    def bulk(self, body, ctype=STREAM, path="/v0", status=200):
        """POST body (a list of operations, or bytes/str as is); the parsed
        answer, checked for its shape."""
        if isinstance(body, list):
            body = lines(body)
        resp = self.req("POST", path, raw_body=body, headers={"Content-Type": ctype})
        self.assertEqual(resp[0], status, resp[2][:500])
        doc = resp[3]
        if status != 200:
            return resp
        self.assertEqual(set(doc), {"status", "success_count", "results"}, doc)
        results = doc["results"]
        self.assertEqual([r["operation_index"] for r in results], list(range(len(results))))
        ok = sum(r["status"] == "success" for r in results)
        self.assertEqual(doc["success_count"], ok)
        self.assertEqual(doc["status"], "success" if ok == len(results) else
                         "failure" if ok == 0 else "partial")
        for r in results:
            if r["status"] == "failure":
                self.assertEqual(set(r), {"operation_index", "status", "error"}, r)
                self.assertIsInstance(r["error"]["message"], str)
                self.assertIsInstance(r["error"]["code"], str)
        return doc

    def failure(self, result, code, info=None):
        self.assertEqual(result["status"], "failure", result)
        self.assertEqual(result["error"]["code"], code, result)
        if info is not None:
            self.assertIn(info, result["error"]["details"]["info"], result)

    def get(self, coll, key):
        return self.req("GET", "/v0/%s/%s" % (seg(coll), seg(key)))

    def absent(self, coll, key):
        self.assertEqual(self.get(coll, key)[0], 404, "%s/%s must not exist" % (coll, key))


class BulkTest(BulkBase):
    def test_success_results_in_order(self):
        t = 1411421154598
        ops = [
            item_op("people", "ana", {"n": 1}),
            item_op("people", "bo", {"n": 2}, reftime=t),
            {"kind": "item", "path": {"collection": "people", "key": "cy", "reftime": t + 1},
             "value": {"n": 3}},
            event_op("people", "ana", "login", {"ip": "a"}, timestamp=1400000000000,
                     ordinal=1000),
            event_op("people", "ana", "login", {"ip": "b"}, timestamp="2014-05-13T16:53:20Z"),
        ]
        doc = self.bulk(ops)
        self.assertEqual(doc["status"], "success")
        self.assertEqual(doc["success_count"], 5)
        r = doc["results"]
        for i, key in enumerate(["ana", "bo", "cy"]):
            p = r[i]["item"]["path"]
            self.assertEqual(p, {"collection": "people", "key": key, "kind": "item",
                                 "ref": ref_of(ops[i]["value"]), "reftime": p["reftime"]})
            st, h, body, value = self.get("people", key)
            self.assertEqual((st, value), (200, ops[i]["value"]))
            self.assertEqual(h["etag"], '"%s"' % p["ref"])
        self.assertEqual(r[1]["item"]["path"]["reftime"], t)
        self.assertEqual(r[2]["item"]["path"]["reftime"], t + 1)
        e = r[3]["item"]["path"]
        self.assertEqual(e, {"collection": "people", "key": "ana", "kind": "event",
                             "type": "login", "timestamp": 1400000000000, "ordinal": 1000,
                             "ordinal_str": "00000000000003e8", "ref": ref_of({"ip": "a"}),
                             "reftime": e["reftime"]})
        e2 = r[4]["item"]["path"]
        self.assertEqual(e2["timestamp"], 1400000000000)
        self.assertGreater(e2["ordinal"], 1000)
        self.assertEqual(e2["ordinal_str"], "%016x" % e2["ordinal"])

    def test_slash_and_json_content_type(self):
        doc = self.bulk([item_op("slash", "a", {"x": 1})], path="/v0/")
        self.assertEqual(doc["status"], "success")
        doc = self.bulk([item_op("slash", "b", {"x": 2})], ctype="application/json; charset=utf-8")
        self.assertEqual(doc["status"], "success")
        doc = self.bulk([item_op("slash", "c", {"x": 3})], ctype=STREAM.upper())
        self.assertEqual(doc["status"], "success")

    def test_back_to_back_and_any_whitespace(self):
        body = ('{"path":{"collection":"b2b","key":"1"},"value":{"a":1}}'
                '{"path":{"collection":"b2b","key":"2"},"value":{"a":2}}'
                ' \t\r\n {"path":{"collection":"b2b","key":"3"},"value":{"a":3}}')
        doc = self.bulk(body)
        self.assertEqual(doc["success_count"], 3)
        for k in "123":
            self.assertEqual(self.get("b2b", k)[3], {"a": int(k)})

    def test_partial_and_failure(self):
        ops = [item_op("part", "ok1", {"a": 1}), "{}", item_op("part", "ok2", {"a": 2}),
               '{"path":{"collection":"part","key":"bad"},"value":[1]}',
               '{"path":{"collection":"part","key":"trunc"},"value":{"a":']
        doc = self.bulk(ops)
        self.assertEqual(doc["status"], "partial")
        self.assertEqual(doc["success_count"], 2)
        r = doc["results"]
        self.failure(r[1], "api_bad_request", "Can't read bulk operation from malformed JSON")
        self.assertEqual(r[1]["error"]["message"], "The API request is malformed.")
        self.failure(r[3], "api_bad_request", "value must be a JSON object")
        self.failure(r[4], "api_bad_request", "stream ends inside the operation")
        self.absent("part", "bad")
        self.absent("part", "trunc")
        doc = self.bulk(["{}", "[1]", '"x"'])
        self.assertEqual((doc["status"], doc["success_count"], len(doc["results"])),
                         ("failure", 0, 2))  # "[1]" resyncs at the next line: "x" is in it

    def test_end_line(self):
        """An export's end line is a marker: a success of its own, wherever it
        comes; what follows it in the request is applied as usual."""
        ops = [item_op("endc", "a", {"a": 1}), {"kind": "end", "lines": 1},
               item_op("endc", "b", {"b": 2}), '{"lines":0,"kind":"end","x":[1]}',
               '{"kind":"end","lines":-1}', '{"kind":"end"}', '{"kind":"end","lines":"2"}']
        doc = self.bulk(ops)
        self.assertEqual((doc["status"], doc["success_count"]), ("partial", 4))
        r = doc["results"]
        self.assertEqual(r[1], {"operation_index": 1, "status": "success", "end": {"lines": 1}})
        self.assertEqual(r[3], {"operation_index": 3, "status": "success", "end": {"lines": 0}})
        for i in (4, 5, 6):
            self.failure(r[i], "api_bad_request",
                         "lines (of an end line) must be a non-negative integer")
        self.assertEqual(self.get("endc", "a")[3], {"a": 1})
        self.assertEqual(self.get("endc", "b")[3], {"b": 2})
        # The last request of a stream cut in parts may be its end line alone;
        # the count is not checked (the parts before it came in other requests).
        doc = self.bulk([{"kind": "end", "lines": 123456}])
        self.assertEqual(doc, {"status": "success", "success_count": 1, "results": [
            {"operation_index": 0, "status": "success", "end": {"lines": 123456}}]})
        # "end" is a kind only at the top level.
        doc = self.bulk(['{"path":{"collection":"endc","key":"c","kind":"end"},"value":{}}'])
        self.failure(doc["results"][0], "api_bad_request", '(or "end" at the top level)')
        self.absent("endc", "c")

    def test_empty_stream(self):
        for body in ("", " \n\r\n"):
            doc = self.bulk(body)
            self.assertEqual(doc, {"status": "success", "success_count": 0, "results": []})

    def test_history_with_tombstones(self):
        """An export of history: versions oldest first, a tombstone between."""
        t = 1400000000000
        ops = [
            {"kind": "item", "path": {"collection": "hist", "key": "h", "kind": "item",
                                      "reftime": t}, "value": {"v": 1}, "reftime": t},
            {"kind": "item", "path": {"collection": "hist", "key": "h", "kind": "item",
                                      "tombstone": True, "reftime": t + 5}, "reftime": t + 5},
            {"kind": "item", "path": {"collection": "hist", "key": "h", "kind": "item",
                                      "reftime": t + 9}, "value": {"v": 2}, "reftime": t + 9},
        ]
        doc = self.bulk(ops)
        self.assertEqual(doc["success_count"], 3)
        self.assertEqual(doc["results"][1]["item"],
                         {"path": {"collection": "hist", "key": "h", "kind": "item"},
                          "tombstone": True})
        refs = self.req("GET", "/v0/hist/h/refs?values=true")[3]["results"]
        got = [(e["path"]["reftime"], e["path"].get("tombstone", False), e.get("value"))
               for e in refs]
        self.assertEqual(got, [(t + 9, False, {"v": 2}), (t + 5, True, None),
                               (t, False, {"v": 1})])

    def test_events_at_given_ordinals(self):
        ops = [event_op("ev", "k", "t", {"i": i}, timestamp=1000 + i,
                        ordinal_str="%016x" % (0x0500000000000000 + i), reftime=77 + i)
               for i in range(3)]
        doc = self.bulk(ops)
        self.assertEqual(doc["success_count"], 3)
        for i in range(3):
            st, h, body, ev = self.req("GET", "/v0/ev/k/events/t/%d/%016x"
                                       % (1000 + i, 0x0500000000000000 + i))
            self.assertEqual(st, 200, body)
            self.assertEqual(ev["value"], {"i": i})
            self.assertEqual(ev["path"]["reftime"], 77 + i)
            self.assertEqual(ev["path"]["ordinal"], 0x0500000000000000 + i)
        # the same position again replaces the event
        self.bulk([event_op("ev", "k", "t", {"i": "new"}, timestamp=1000,
                            ordinal=0x0500000000000000)])
        lst = self.req("GET", "/v0/ev/k/events/t?limit=100")[3]
        self.assertEqual(lst["count"], 3)
        # a new event of the item gets a larger ordinal than any given
        st, h, body, _ = self.req("POST", "/v0/ev/k/events/other/5", body={"n": 1})
        self.assertEqual(st, 201, body)
        self.assertGreater(int(h["location"].rsplit("/", 1)[1]), 0x0500000000000002)

    def test_relationships(self):
        self.bulk([item_op("users", "u1", {}), item_op("posts", "p1", {})])
        ops = [rel_op("users", "u1", "wrote", "posts", "p1", {"on": 1}),
               rel_op("users", "u1", "likes", "posts", "none"),
               rel_op("users", "nobody", "likes", "posts", "p1"),
               dict(rel_op("users", "u1", "likes", "posts", "p1"), kind="relationship",
                    reftime=1400000000000)]
        doc = self.bulk(ops)
        r = doc["results"]
        self.assertEqual(doc["status"], "partial")
        self.assertNotIn("item", r[0])
        self.assertEqual(r[0]["relationship"], {
            "source": {"collection": "users", "key": "u1"},
            "destination": {"collection": "posts", "key": "p1"}, "relation": "wrote",
            "ref": ref_of({"on": 1}), "reftime": r[0]["relationship"]["reftime"]})
        self.failure(r[1], "items_not_found")
        self.assertEqual(r[1]["error"]["details"], {"items": [{"collection": "posts",
                                                               "key": "none"}]})
        self.assertEqual(r[2]["error"]["details"], {"items": [{"collection": "users",
                                                               "key": "nobody"}]})
        self.assertEqual(r[3]["relationship"]["reftime"], 1400000000000)
        st, h, body, props = self.req("GET", "/v0/users/u1/relation/wrote/posts/p1")
        self.assertEqual((st, props, h.get("etag")), (200, {"on": 1}, '"%s"' % ref_of({"on": 1})))
        st, h, body, doc = self.req("GET", "/v0/users/u1/relations/likes")
        self.assertEqual([e["path"]["key"] for e in doc["results"]], ["p1"])
        # a tombstoned endpoint is not live
        self.req("DELETE", "/v0/posts/p1")
        doc = self.bulk([rel_op("users", "u1", "again", "posts", "p1")])
        self.failure(doc["results"][0], "items_not_found")

    def test_unicode_names(self):
        # (".." is a name too; nginx refuses a path with two of them)
        names = [("caf\u00e9", "caf\u00e9"), ("\U0001F600 smile", "\U0001F600"),
                 ("a/b%2F?#", "a/b%2F?#"), ("..", "dots"), ("dots", ".")]
        doc = self.bulk([item_op(c, k, {"n": k}) for c, k in names])
        self.assertEqual(doc["success_count"], len(names))
        for (c, k), res in zip(names, doc["results"]):
            self.assertEqual((res["item"]["path"]["collection"], res["item"]["path"]["key"]),
                             (c, k))
            self.assertEqual(self.get(c, k)[3], {"n": k})

    def test_names_refused_as_the_router_does(self):
        long = "x" * 1025
        ops = [item_op("", "k", {}), item_op("c", long, {}), item_op("c", "a\u0000b", {}),
               {"path": {"collection": "c", "key": 5}, "value": {}}]
        doc = self.bulk(ops)
        self.assertEqual(doc["status"], "failure")
        for r, info in zip(doc["results"], ["path.collection is empty", "path.key is longer",
                                            "path.key contains a NUL",
                                            "path.key must be a string"]):
            self.failure(r, "api_bad_request", info)

    def test_wrong_content_type(self):
        body = lines([item_op("ctype", "k", {})])
        for ctype in ("text/plain", "application/x-ndjson", None,
                      "application/orchestrate-export-stream+jsonx"):
            with self.subTest(ctype=ctype):
                resp = self.req("POST", "/v0", raw_body=body, headers={"Content-Type": ctype})
                self.assertJsonError(resp, 415, "api_bad_request")
        self.absent("ctype", "k")

    def test_without_key(self):
        resp = self.server.request("POST", "/v0", raw_body=lines([item_op("nokey", "k", {})]),
                                   headers={"Content-Type": STREAM})
        self.assertJsonError(resp, 401, "security_unauthorized")
        self.absent("nokey", "k")

    def test_hostile_streams(self):
        deep = '{"path":{"collection":"host","key":"deep"},"value":%s1%s}' % (
            '{"a":' * 65, "}" * 65)
        ops = [
            item_op("host", "ok1", {"a": 1}),
            "[1,2,3]", item_op("host", "okA", {}),
            "42", item_op("host", "okB", {}),
            "null", item_op("host", "okC", {}),
            '"str"', item_op("host", "okD", {}),
            '{"path":{"collection":"host","key":"t1"},"value":{"a":',        # truncated
            deep,                                                          # 65 levels
            '{"path":{"collection":"host","key":"deep2"},"value":%s' % ("[" * 100000),
            '{"path":{"collection":"host","key":"num"},"value":{"n":1e999}}',
            '{"path":{"collection":"host","key":"dot"},"value":{"n":1.}}',
            '{"path":{"collection":"host","key":"ctl"},"value":{"n":"\u0001\x01"}}',
            item_op("host", "ok2", {"a": 2}),
        ]
        doc = self.bulk(ops)
        r = doc["results"]
        self.assertEqual(len(r), 16, r)
        self.assertEqual(doc["success_count"], 6)
        self.assertEqual([r[i]["status"] for i in (0, 2, 4, 6, 8, 15)], ["success"] * 6)
        for i in (1, 3, 5, 7):
            self.failure(r[i], "api_bad_request", "must be a JSON object")
        self.failure(r[9], "api_bad_request", "cut short by a line")
        self.failure(r[10], "api_bad_request", "nested deeper than max_json_depth")
        self.failure(r[11], "api_bad_request", "nested deeper than max_json_depth")
        self.failure(r[12], "api_bad_request", "not finite")
        self.failure(r[13], "api_bad_request", "not valid JSON")
        self.failure(r[14], "api_bad_request", "raw control character")
        for k in ("t1", "deep", "deep2", "num", "dot", "ctl"):
            self.absent("host", k)

    def test_value_over_max_body(self):
        # just over max_body as stored (the reader refuses it), and longer
        # than an operation may be at all (the splitter skips it unkept)
        over = {"p": "x" * (2 << 20)}
        huge = {"p": "x" * ((2 << 20) + 100000)}
        ops = [item_op("huge", "over", over), item_op("huge", "after", {"a": 1}),
               item_op("huge", "huge", huge), item_op("huge", "small", {"p": "y" * 1000})]
        doc = self.bulk(ops)
        r = doc["results"]
        self.assertEqual(doc["status"], "partial")
        self.failure(r[0], "request_too_large", "value is longer than max_body")
        self.failure(r[2], "request_too_large", "is longer than")
        self.assertEqual([r[1]["status"], r[3]["status"]], ["success", "success"])
        self.absent("huge", "over")
        self.absent("huge", "huge")
        # back to back, the operation too long to keep is skipped to its end
        body = (json.dumps(item_op("huge", "huge2", huge)) +
                json.dumps(item_op("huge", "after2", {"a": 2})))
        doc = self.bulk(body)
        self.assertEqual([x["status"] for x in doc["results"]], ["failure", "success"])
        self.absent("huge", "huge2")
        self.assertEqual(self.get("huge", "after2")[3], {"a": 2})

    def test_over_max_bulk_ops_stores_nothing(self):
        ops = ['{"path":{"collection":"many","key":"k%d"},"value":{}}' % i
               for i in range(100000)]
        resp = self.bulk(ops, status=413)
        self.assertJsonError(resp, 413, "request_too_large")
        self.assertEqual(resp[3]["details"], {"max_bulk_ops": 1000})
        for k in ("k0", "k999", "k1000", "k99999"):
            self.absent("many", k)
        self.assertNotIn("many", [c["collection"] for c in self.req("GET", "/v0")[3]["results"]])
        # exactly max_bulk_ops is fine (with one unreadable: still counted)
        doc = self.bulk(ops[:999] + ["{}"])
        self.assertEqual((doc["status"], doc["success_count"]), ("partial", 999))
        self.assertEqual(self.req("GET", "/v0/many?limit=1")[0], 200)

    def test_body_limits(self):
        """nginx: 16 MiB for POST /v0 (more than max_body); over it, its JSON
        413 before orchidd reads a byte."""
        ops = [item_op("limits", "k%d" % i, {"p": "z" * 100000}) for i in range(30)]
        body = lines(ops)
        self.assertGreater(len(body), 2 << 20)
        doc = self.bulk(body)
        self.assertEqual(doc["success_count"], 30)
        resp = self.req("POST", "/v0", raw_body=b"x" * ((16 << 20) + 1),
                        headers={"Content-Type": STREAM})
        self.assertJsonError(resp, 413, "request_too_large")
        self.assertIn("16 MiB", resp[3]["message"])
        # other routes keep max_body
        resp = self.req("PUT", "/v0/limits/big", raw_body='{"p":"%s"}' % ("q" * (3 << 20)))
        self.assertJsonError(resp, 413, "request_too_large")


class BulkLimitsTest(BulkBase):
    """Smaller limits in orchidd than in nginx: orchidd's own 413s."""

    server_options = {"extra": {"max_bulk_ops": 5, "max_bulk_body": "64k"}}

    def test_max_bulk_ops(self):
        ops = [item_op("lim", "k%d" % i, {}) for i in range(6)]
        resp = self.bulk(ops, status=413)
        self.assertEqual(resp[3]["details"], {"max_bulk_ops": 5})
        self.absent("lim", "k0")
        self.assertEqual(self.bulk(ops[:5])["success_count"], 5)

    def test_max_bulk_body(self):
        ops = [item_op("lim", "b%d" % i, {"p": "x" * 20000}) for i in range(4)]
        resp = self.bulk(ops, status=413)
        self.assertJsonError(resp, 413, "request_too_large")
        self.absent("lim", "b0")


class ImportTest(BulkBase):
    tenant = "imp"

    def write_stream(self, ops):
        fd, path = tempfile.mkstemp(prefix="orchid-import-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            f.write(lines(ops))
        self.addCleanup(os.unlink, path)
        return path

    def ctl(self, *args, stdin=None):
        return subprocess.run([harness.ORCHIDCTL, "-c", self.server.conf_path] + list(args),
                              input=stdin, capture_output=True, timeout=120)

    def test_import_file_while_running(self):
        ops = [item_op("imp", "k%d" % i, {"i": i}, reftime=1400000000000 + i)
               for i in range(2500)]
        ops += [event_op("imp", "k1", "t", {"e": 1}, timestamp=5, ordinal=9),
                rel_op("imp", "k1", "next", "imp", "k2"),
                '{"path":{"collection":"imp","key":"broken"},"value":{',
                item_op("imp", "last", {"z": 1})]
        proc = self.ctl("import", self.tenant, self.write_stream(ops))
        out = proc.stdout.decode()
        self.assertEqual(proc.returncode, 1, out + proc.stderr.decode())
        self.assertIn("import: 2504 operations, 2503 succeeded, 1 failed", out)
        self.assertIn('"operation_index":2502', out)
        # Not a terminal: no progress line. A stream made by hand has no end
        # line: a warning, which alone would not fail the import.
        self.assertEqual(proc.stderr.decode(), NO_END)
        st, h, body, v = self.get("imp", "k7")
        self.assertEqual((st, v), (200, {"i": 7}))
        self.assertEqual(self.req("GET", "/v0/imp/k7/refs")[3]["results"][0]["path"]["reftime"],
                         1400000000007)
        self.assertEqual(self.req("GET", "/v0/imp/k1/events/t/5/9")[0], 200)
        self.assertEqual(self.req("GET", "/v0/imp/k1/relation/next/imp/k2")[0], 200)
        self.assertEqual(self.get("imp", "last")[3], {"z": 1})
        self.absent("imp", "broken")

    def test_import_stdin_all_good(self):
        proc = self.ctl("import", self.tenant, "-",
                        stdin=lines([item_op("stdin", "a", {"a": 1})]).encode())
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn(b"1 operations, 1 succeeded, 0 failed", proc.stdout)
        self.assertEqual(proc.stderr.decode(), NO_END)
        self.assertEqual(self.get("stdin", "a")[3], {"a": 1})
        # The tenant by its id too (as orchidctl export takes it).
        listing = self.ctl("tenant", "list").stdout.decode()
        tid = re.search(r"^(\d+)\t%s$" % re.escape(self.tenant), listing, re.M).group(1)
        proc = self.ctl("import", tid, "-",
                        stdin=lines([item_op("stdin", "byid", {"b": 1})]).encode())
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(self.get("stdin", "byid")[3], {"b": 1})
        proc = self.ctl("import", self.tenant, "-", stdin=b"")
        self.assertEqual((proc.returncode, proc.stderr.decode()), (0, NO_END))

    def test_import_checks_the_end_line(self):
        two = [item_op("ends", "a", {"a": 1}), item_op("ends", "b", {"b": 1})]
        # Right: after exactly its count of operations, then only whitespace.
        proc = self.ctl("import", self.tenant, "-",
                        stdin=(lines(two + [{"kind": "end", "lines": 2}]) + " \n\n").encode())
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(proc.stderr, b"")
        self.assertIn(b"import: 3 operations, 3 succeeded, 0 failed", proc.stdout)
        self.assertIn(b"the stream is whole: its end line counts 2 lines, as read", proc.stdout)
        # A failed operation is one of the operations read before it.
        proc = self.ctl("import", self.tenant, "-", stdin=lines(
            [two[0], '{"path":', {"kind": "end", "lines": 2}]).encode())
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"3 operations, 2 succeeded, 1 failed", proc.stdout)
        self.assertEqual(proc.stderr, b"")
        # Wrong: what came before it is applied, and the import fails.
        proc = self.ctl("import", self.tenant, "-", stdin=lines(
            [item_op("ends", "c", {"c": 1}), {"kind": "end", "lines": 5}]).encode())
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(proc.stderr.decode(),
                         "orchidctl: the export's end line says 5 lines, 1 were read\n")
        self.assertNotIn(b"whole", proc.stdout)
        self.assertEqual(self.get("ends", "c")[3], {"c": 1})
        # Data after it: not applied, and the import fails.
        body = lines(two + [{"kind": "end", "lines": 2}, item_op("ends", "after", {"x": 1}),
                            item_op("ends", "after2", {"x": 2})])
        offset = body.index('{"path": {"collection": "ends", "key": "after"')
        proc = self.ctl("import", self.tenant, "-", stdin=body.encode())
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn(b"import: 3 operations, 3 succeeded, 0 failed", proc.stdout)
        self.assertEqual(proc.stderr.decode(), "orchidctl: data follows the end line (at byte "
                         "%d): an export ends with its end line; nothing after it was "
                         "applied\n" % offset)
        self.absent("ends", "after")
        self.absent("ends", "after2")
        # Anything but whitespace follows it: a stray byte, a cut operation.
        for tail in ("x", '{"path":'):
            proc = self.ctl("import", self.tenant, "-", stdin=(lines(
                [{"kind": "end", "lines": 0}]) + tail).encode())
            self.assertEqual(proc.returncode, 1, tail)
            self.assertIn(b"data follows the end line", proc.stderr)
        # A refused end line is a failed operation; the stream has no end line.
        proc = self.ctl("import", self.tenant, "-", stdin=lines(
            [two[0], {"kind": "end", "lines": -1}]).encode())
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"lines (of an end line) must be a non-negative integer", proc.stdout)
        self.assertEqual(proc.stderr.decode(), NO_END)

    def test_import_errors(self):
        proc = self.ctl("import", "no-such-tenant", "-", stdin=b"")
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"no tenant no-such-tenant", proc.stderr)
        proc = self.ctl("import", self.tenant, "/nonexistent/file")
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"/nonexistent/file", proc.stderr)

    def test_import_with_orchidd_stopped(self):
        path = self.write_stream([item_op("offline", "k", {"o": 1})])
        self.server.stop_orchidd()
        try:
            proc = self.ctl("import", self.tenant, path)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        finally:
            self.server.start_orchidd()
            self.server.wait_ready()
        self.assertEqual(self.get("offline", "k")[3], {"o": 1})


if __name__ == "__main__":
    import unittest
    unittest.main()
