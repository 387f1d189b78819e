"""Bad input: a table of malformed requests, each with the status and JSON
`code` docs/api.md promises. After every one the server still answers a ping
and a canary item (value, ETag, history, its collection) is unchanged: bad
input never stores anything and never takes a worker down.

Paths are sent as they are: http.client and the raw socket helper do not
normalise "." / ".." / "//" the way a browser would.
"""

import base64
import http.client
import json
import socket
import unittest
import urllib.parse

from harness import UUID_RE, ServerTestCase

CANARY = "/v0/canary/item"
CANARY_VALUE = {"canary": "tweet", "n": 2}
MIB = 1024 * 1024


def nested(depth, leaf="1"):
    """A JSON object whose nesting depth (objects counted) is depth; the
    innermost object holds leaf, or is {} when leaf is None."""
    if leaf is None:
        return "{\"a\":" * (depth - 1) + "{}" + "}" * (depth - 1)
    return "{\"a\":" * depth + leaf + "}" * depth


def parse_raw(data):
    """(status, {lower-case header: value}, body) of a raw HTTP/1.1 answer."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers, body


# The table. Each case: name, status, code and either
#   method, path, [body (bytes)], [headers], [key: "none" | a replacement key]
# or raw: the request head (without the final blank line) and [raw_body].
# "{auth}" in a raw head is replaced by the canary tenant's Authorization.
GOOD = b'{"canary":"overwritten"}'
CASES = [
    # --- paths --------------------------------------------------------------
    dict(name="dotdot segment", method="PUT", path="/v0/canary/../canary/item", body=GOOD,
         status=400, code="api_bad_request"),
    dict(name="dotdot at the end", method="GET", path="/v0/canary/item/..",
         status=400, code="api_bad_request"),
    dict(name="dot segment", method="PUT", path="/v0/canary/./item", body=GOOD,
         status=400, code="api_bad_request"),
    dict(name="dotdot after v0", method="GET", path="/v0/../v0/canary/item",
         status=400, code="api_bad_request"),
    dict(name="dotdot escaping v0", method="GET", path="/../v0/canary/item",
         status=400, code="api_bad_request"),
    dict(name="double slash in the middle", method="PUT", path="/v0/canary//item", body=GOOD,
         status=400, code="api_bad_request"),
    dict(name="double slash after v0", method="GET", path="/v0//canary/item",
         status=400, code="api_bad_request"),
    dict(name="two trailing slashes", method="PUT", path="/v0/canary/item//", body=GOOD,
         status=400, code="api_bad_request"),
    dict(name="%00 in key", method="PUT", path="/v0/canary/item%00", body=GOOD,
         status=400, code="api_bad_request"),
    dict(name="%00 alone", method="GET", path="/v0/canary/%00",
         status=400, code="api_bad_request"),
    dict(name="bad escape %zz", method="PUT", path="/v0/canary/it%zzem", body=GOOD,
         status=400, code="api_bad_request"),
    dict(name="truncated escape at end", method="GET", path="/v0/canary/item%4",
         status=400, code="api_bad_request"),
    dict(name="lone percent", method="GET", path="/v0/canary/%",
         status=400, code="api_bad_request"),
    dict(name="invalid UTF-8 %C3%28", method="PUT", path="/v0/canary/%C3%28", body=GOOD,
         status=400, code="api_bad_request"),
    dict(name="invalid UTF-8 %FF", method="GET", path="/v0/canary/%FF",
         status=400, code="api_bad_request"),
    dict(name="invalid UTF-8 in collection", method="PUT", path="/v0/%C0%AF/item", body=GOOD,
         status=400, code="api_bad_request"),
    dict(name="UTF-8 surrogate in key", method="PUT", path="/v0/canary/%ED%A0%80", body=GOOD,
         status=400, code="api_bad_request"),
    dict(name="1025-byte key", method="PUT", path="/v0/canary/" + "k" * 1025, body=GOOD,
         status=400, code="api_bad_request"),
    dict(name="1025-byte collection", method="GET", path="/v0/" + "c" * 1025,
         status=400, code="api_bad_request"),
    dict(name="33 path segments", method="GET", path="/v0/" + "/".join(["s"] * 33),
         status=400, code="api_bad_request"),
    dict(name="non-hex ref", method="GET", path=CANARY + "/refs/not-a-ref",
         status=400, code="item_ref_malformed"),
    # --- query strings ------------------------------------------------------
    dict(name="limit=0", method="GET", path=CANARY + "/refs?limit=0",
         status=400, code="search_param_invalid"),
    dict(name="limit=101", method="GET", path=CANARY + "/refs?limit=101",
         status=400, code="search_param_invalid"),
    dict(name="limit=-1", method="GET", path=CANARY + "/refs?limit=-1",
         status=400, code="search_param_invalid"),
    dict(name="limit=abc", method="GET", path=CANARY + "/refs?limit=abc",
         status=400, code="search_param_invalid"),
    dict(name="limit=1.0", method="GET", path="/v0/canary?limit=1.0",
         status=400, code="search_param_invalid"),
    dict(name="limit empty", method="GET", path=CANARY + "/refs?limit=",
         status=400, code="search_param_invalid"),
    dict(name="offset=-1", method="GET", path=CANARY + "/refs?offset=-1",
         status=400, code="search_param_invalid"),
    dict(name="offset=20 digits", method="GET", path=CANARY + "/refs?offset=99999999999999999999",
         status=400, code="search_param_invalid"),
    dict(name="values=maybe", method="GET", path=CANARY + "/refs?values=maybe",
         status=400, code="api_bad_request"),
    dict(name="values=TRUE on listing", method="GET", path="/v0/canary?values=TRUE",
         status=400, code="api_bad_request"),
    dict(name="purge=yes", method="DELETE", path=CANARY + "?purge=yes",
         status=400, code="api_bad_request"),
    dict(name="purge repeated with different values", method="DELETE",
         path=CANARY + "?purge=true&purge=false", status=400, code="api_bad_request"),
    dict(name="limit=1&limit=2", method="GET", path=CANARY + "/refs?limit=1&limit=2",
         status=400, code="api_bad_request"),
    dict(name="bad escape in query", method="GET", path=CANARY + "/refs?limit=%zz",
         status=400, code="api_bad_request"),
    dict(name="NUL in query", method="GET", path=CANARY + "/refs?limit=1%00",
         status=400, code="api_bad_request"),
    dict(name="invalid UTF-8 in query", method="GET", path="/v0/canary?startKey=%FF",
         status=400, code="api_bad_request"),
    dict(name="65 query parameters", method="GET",
         path=CANARY + "/refs?" + "&".join("p%d=1" % i for i in range(65)),
         status=400, code="api_bad_request"),
    dict(name="startKey and afterKey", method="GET", path="/v0/canary?startKey=a&afterKey=b",
         status=400, code="search_param_invalid"),
    dict(name="endKey and beforeKey", method="GET", path="/v0/canary?endKey=a&beforeKey=b",
         status=400, code="search_param_invalid"),
    # --- authentication -----------------------------------------------------
    dict(name="Basic !!!", method="PUT", path=CANARY, body=GOOD,
         headers={"Authorization": "Basic !!!"}, key="none",
         status=401, code="security_unauthorized"),
    dict(name="Bearer", method="PUT", path=CANARY, body=GOOD,
         headers={"Authorization": "Bearer x"}, key="none",
         status=401, code="security_unauthorized"),
    dict(name="no Authorization", method="DELETE", path=CANARY + "?purge=true", key="none",
         status=401, code="security_unauthorized"),
    dict(name="key in upper case", method="DELETE", path=CANARY, key="upper",
         status=401, code="security_unauthorized"),
    dict(name="key without padding", method="DELETE", path=CANARY, key="unpadded",
         status=401, code="security_unauthorized"),
    dict(name="129-byte key", method="GET", path=CANARY, key="k" * 129,
         status=401, code="security_unauthorized"),
    dict(name="empty user name", method="GET", path=CANARY, key="",
         status=401, code="security_unauthorized"),
    # --- content types a page on another site may send without a preflight ---
    dict(name="PUT text/plain", method="PUT", path=CANARY, body=GOOD,
         headers={"Content-Type": "text/plain"}, status=415, code="api_bad_request"),
    dict(name="PUT form-urlencoded (curl -d's default)", method="PUT", path=CANARY, body=GOOD,
         headers={"Content-Type": "application/x-www-form-urlencoded"}, status=415,
         code="api_bad_request"),
    dict(name="PUT Text/Plain with charset", method="PUT", path=CANARY, body=GOOD,
         headers={"Content-Type": " Text/Plain ; charset=utf-8"}, status=415,
         code="api_bad_request"),
    dict(name="POST item text/plain", method="POST", path="/v0/canary", body=GOOD,
         headers={"Content-Type": "text/plain;charset=UTF-8"}, status=415,
         code="api_bad_request"),
    dict(name="POST event multipart", method="POST", path=CANARY + "/events/ev", body=GOOD,
         headers={"Content-Type": "multipart/form-data; boundary=x"}, status=415,
         code="api_bad_request"),
    dict(name="PATCH text/plain", method="PATCH", path=CANARY,
         body=b'[{"op":"add","path":"/x","value":1}]',
         headers={"Content-Type": "text/plain"}, status=415, code="api_bad_request"),
    dict(name="PUT relation form-urlencoded", method="PUT",
         path=CANARY + "/relation/r/canary/item", body=b"{}",
         headers={"Content-Type": "application/x-www-form-urlencoded"}, status=415,
         code="api_bad_request"),
    # --- conditional headers ------------------------------------------------
    dict(name='If-Match "badetag"', method="PUT", path=CANARY, body=GOOD,
         headers={"If-Match": '"badetag"'}, status=400, code="item_ref_malformed"),
    dict(name='If-Match ""', method="PUT", path=CANARY, body=GOOD,
         headers={"If-Match": '""'}, status=400, code="item_ref_malformed"),
    dict(name='If-Match "abc unterminated', method="PUT", path=CANARY, body=GOOD,
         headers={"If-Match": '"abc'}, status=400, code="item_ref_malformed"),
    dict(name="If-Match 17 tags", method="PUT", path=CANARY, body=GOOD,
         headers={"If-Match": ",".join('"%016x"' % i for i in range(17))},
         status=400, code="item_ref_malformed"),
    dict(name="If-Match 65 hex digits", method="PUT", path=CANARY, body=GOOD,
         headers={"If-Match": '"%s"' % ("a" * 65)}, status=400, code="item_ref_malformed"),
    # Echoed in details.ref: the body must stay valid UTF-8 (check_case
    # decodes it), whatever bytes the header had and wherever the echo's
    # 200-byte cut falls.
    dict(name="If-Match with bytes 0xff 0xfe", method="PUT", path=CANARY, body=GOOD,
         headers={"If-Match": b'"\xff\xfe"'}, status=400, code="item_ref_malformed"),
    dict(name="If-Match cut mid-character", method="PUT", path=CANARY, body=GOOD,
         headers={"If-Match": ('"' + "\u00e9" * 150).encode()}, status=400,
         code="item_ref_malformed"),
    dict(name="If-Match trailing comma", method="PUT", path=CANARY, body=GOOD,
         headers={"If-Match": '"abcd",'}, status=400, code="item_ref_malformed"),
    dict(name="If-Match two tags without comma", method="DELETE", path=CANARY,
         headers={"If-Match": '"ab" "cd"'}, status=400, code="item_ref_malformed"),
    dict(name="If-Match bad tag on DELETE", method="DELETE", path=CANARY + "?purge=true",
         headers={"If-Match": '"xyz"'}, status=400, code="item_ref_malformed"),
    dict(name="If-Match stale on DELETE", method="DELETE", path=CANARY + "?purge=true",
         headers={"If-Match": '"0000000000000000"'}, status=412,
         code="item_version_mismatch"),
    dict(name='If-None-Match "zz"', method="PUT", path=CANARY, body=GOOD,
         headers={"If-None-Match": '"zz"'}, status=400, code="item_ref_malformed"),
    dict(name="If-None-Match * on the live canary", method="PUT", path=CANARY, body=GOOD,
         headers={"If-None-Match": "*"}, status=412, code="item_already_present"),
    # --- bodies -------------------------------------------------------------
    dict(name="invalid JSON", method="PUT", path=CANARY, body=b'{"canary":',
         status=400, code="api_bad_request"),
    dict(name="not JSON at all", method="PUT", path=CANARY, body=b"canary=1",
         status=400, code="api_bad_request"),
    dict(name="top-level array", method="PUT", path=CANARY, body=b"[1,2]",
         status=400, code="api_bad_request"),
    dict(name="top-level string", method="PUT", path=CANARY, body=b'"str"',
         status=400, code="api_bad_request"),
    dict(name="top-level null", method="PUT", path=CANARY, body=b"null",
         status=400, code="api_bad_request"),
    dict(name="empty body on PUT", method="PUT", path=CANARY, body=b"",
         status=400, code="api_bad_request"),
    dict(name="trailing garbage", method="PUT", path=CANARY, body=b'{"a":1} x',
         status=400, code="api_bad_request"),
    dict(name="two objects", method="PUT", path=CANARY, body=b'{"a":1}{"b":2}',
         status=400, code="api_bad_request"),
    dict(name="trailing comma", method="PUT", path=CANARY, body=b'{"a":1,}',
         status=400, code="api_bad_request"),
    dict(name="leading zero", method="PUT", path=CANARY, body=b'{"a":01}',
         status=400, code="api_bad_request"),
    dict(name="depth 65", method="PUT", path=CANARY, body=nested(65, None).encode(),
         status=400, code="api_bad_request"),
    dict(name="depth 65 in arrays", method="PUT", path=CANARY,
         body=b'{"a":' + b"[" * 64 + b"]" * 64 + b"}", status=400, code="api_bad_request"),
    dict(name="99999999999999999999", method="PUT", path=CANARY,
         body=b'{"n":99999999999999999999}', status=400, code="api_bad_request"),
    dict(name="2^64-1", method="PUT", path=CANARY,
         body=b'{"n":18446744073709551615}', status=400, code="api_bad_request"),
    dict(name="-2^63", method="PUT", path=CANARY,
         body=b'{"n":-9223372036854775808}', status=400, code="api_bad_request"),
    dict(name="1e400", method="PUT", path=CANARY, body=b'{"n":1e400}',
         status=400, code="api_bad_request"),
    dict(name="NaN", method="PUT", path=CANARY, body=b'{"n":NaN}',
         status=400, code="api_bad_request"),
    dict(name="Infinity", method="PUT", path=CANARY, body=b'{"n":-Infinity}',
         status=400, code="api_bad_request"),
    dict(name="3 MiB body", method="PUT", path=CANARY,
         body=b'{"a":"' + b"x" * (3 * MIB) + b'"}', status=413, code="request_too_large"),
    dict(name="NUL byte in body", method="PUT", path=CANARY, body=b'{"a":"x\x00y"}',
         status=400, code="api_bad_request"),
    dict(name="NUL byte after the object", method="PUT", path=CANARY, body=b'{"a":1}\x00',
         status=400, code="api_bad_request"),
    dict(name="invalid UTF-8 in a string", method="PUT", path=CANARY, body=b'{"a":"\xff"}',
         status=400, code="api_bad_request"),
    dict(name="invalid UTF-8 in a member name", method="PUT", path=CANARY,
         body=b'{"\xc3\x28":1}', status=400, code="api_bad_request"),
    dict(name="\\u0000 in a member name", method="PUT", path=CANARY,
         body=b'{"a\\u0000b":1}', status=400, code="api_bad_request"),
    dict(name="lone surrogate escape", method="PUT", path=CANARY, body=b'{"a":"\\ud800"}',
         status=400, code="api_bad_request"),
    dict(name="truncated UTF-8 sequence", method="PUT", path=CANARY, body=b'{"a":"\xe2\x82"}',
         status=400, code="api_bad_request"),
    dict(name="POST of an array", method="POST", path="/v0/canary", body=b"[1]",
         status=400, code="api_bad_request"),
    dict(name="POST of an empty body", method="POST", path="/v0/canary", body=b"",
         status=400, code="api_bad_request"),
    # --- methods and routes -------------------------------------------------
    dict(name="unknown method FOO", method="FOO", path=CANARY,
         status=405, code="api_bad_request", allow="GET, HEAD, PUT, PATCH, DELETE"),
    dict(name="POST to an item", method="POST", path=CANARY, body=GOOD,
         status=405, code="api_bad_request", allow="GET, HEAD, PUT, PATCH, DELETE"),
    dict(name="PUT to a ref", method="PUT", path=CANARY + "/refs/0123456789abcdef", body=GOOD,
         status=405, code="api_bad_request", allow="GET, HEAD"),
    dict(name="PATCH of an item with an unknown op", method="PATCH", path=CANARY,
         body=b'[{"op":"remove","path":"canary"},{"op":"frob","path":"canary"}]',
         status=400, code="api_bad_request"),
    dict(name="PATCH of an item whose last op fails", method="PATCH", path=CANARY,
         body=b'[{"op":"remove","path":"canary"},{"op":"remove","path":"nope"}]',
         status=409, code="patch_conflict"),
    dict(name="merge PATCH of an item, not an object", method="PATCH", path=CANARY,
         headers={"Content-Type": "application/merge-patch+json"}, body=b'[]',
         status=400, code="api_bad_request"),
    dict(name="DELETE of a collection without force=true", method="DELETE",
         path="/v0/canary", status=400, code="api_bad_request"),
    dict(name="DELETE of a collection with force=maybe", method="DELETE",
         path="/v0/canary?force=maybe", status=400, code="api_bad_request"),
    dict(name="unknown sub-resource", method="DELETE", path=CANARY + "/nope",
         status=404, code="api_bad_request"),
    # --- requests nginx refuses itself ---------------------------------------
    dict(name="space in the request line", raw="GET /v0/canary/it em HTTP/1.1",
         status=400, code="api_bad_request"),
    dict(name="URI over 16 KiB", raw="GET /v0/canary/%s HTTP/1.1" % ("x" * 17000),
         status=414, code="request_uri_too_long"),
    dict(name="header over 16 KiB", raw="GET %s HTTP/1.1\r\nX-Big: %s" % (CANARY, "y" * 17000),
         status=431, code="request_header_too_large"),
    dict(name="no Host header", raw="GET %s HTTP/1.1\r\nX-No-Host: 1" % CANARY, nohost=True,
         status=400, code="api_bad_request"),
    dict(name="Content-Length abc",
         raw="PUT %s HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: abc" % CANARY,
         raw_body=GOOD, status=400, code="api_bad_request"),
    dict(name="two Content-Lengths",
         raw="PUT %s HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
             "Content-Length: %d" % (CANARY, len(GOOD), len(GOOD) + 1),
         raw_body=GOOD, status=400, code="api_bad_request"),
    dict(name="malformed chunked body",
         raw="PUT %s HTTP/1.1\r\nContent-Type: application/json\r\n"
             "Transfer-Encoding: chunked" % CANARY,
         raw_body=b"zz\r\n" + GOOD + b"\r\n0\r\n\r\n", status=400, code="api_bad_request"),
    dict(name="unsupported transfer coding",
         raw="PUT %s HTTP/1.1\r\nContent-Type: application/json\r\n"
             "Transfer-Encoding: gzip" % CANARY,
         raw_body=GOOD, status=501, code="api_bad_request"),
]


class BadInputTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("canary")
        srv = cls.server
        # the canary: two versions, alone in its collection
        for value in ({"canary": "egg"}, CANARY_VALUE):
            st, h, body, _ = srv.request("PUT", CANARY, key=cls.key, body=value)
            assert st == 201, body
        cls.canary_etag = h["etag"]

    # ---- helpers -----------------------------------------------------------
    def auth_header(self, key):
        return "Basic " + base64.b64encode(("%s:" % key).encode()).decode()

    def canary_state(self):
        srv = self.server
        st, h, body, doc = srv.request("GET", CANARY, key=self.key)
        refs = srv.request("GET", CANARY + "/refs?values=true&limit=100", key=self.key)[3]
        listing = srv.request("GET", "/v0/canary?limit=100", key=self.key)[3]
        collections = srv.request("GET", "/v0", key=self.key)[3]
        return (st, h.get("etag"), doc, refs, listing, collections)

    def assertServerHealthy(self, before):
        # a ping on a new connection
        st = self.server.request("HEAD", "/v0", key=self.key, timeout=10)[0]
        self.assertEqual(st, 200, "ping failed")
        after = self.canary_state()
        self.assertEqual(after[:3], (200, self.canary_etag, CANARY_VALUE))
        self.assertEqual(after[3]["count"], 2, "the canary's history changed")
        self.assertEqual(after, before)

    def send_case(self, case):
        """Returns (status, headers, body bytes)."""
        if "raw" in case:
            head = case["raw"]
            if not case.get("nohost"):
                head += "\r\nHost: localhost"
            head += "\r\nAuthorization: %s\r\nConnection: close\r\n\r\n" % self.auth_header(self.key)
            data = self.server.raw(head.encode() + case.get("raw_body", b""), timeout=10)
            return parse_raw(data)
        key = case.get("key", self.key)
        headers = dict(case.get("headers", {}))
        if key == "none":
            key = None
        elif key == "upper":
            key = self.key.upper()
        elif key == "unpadded":
            key = None
            headers["Authorization"] = self.auth_header(self.key).rstrip("=")
        elif key == "":
            key = None
            headers["Authorization"] = self.auth_header("")
        body = case.get("body")
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
        try:
            st, h, payload, _ = self.server.request(case["method"], case["path"], key=key,
                                                    raw_body=body, headers=headers,
                                                    timeout=20)
        except (BrokenPipeError, ConnectionResetError) as e:
            self.fail("connection dropped instead of an answer: %r" % e)
        return st, h, payload

    # ---- the table ---------------------------------------------------------
    def test_table_is_large_enough(self):
        self.assertGreaterEqual(len(CASES), 40)
        self.assertEqual(len({c["name"] for c in CASES}), len(CASES), "duplicate names")

    def test_bad_requests(self):
        before = self.canary_state()
        self.assertEqual(before[:3], (200, self.canary_etag, CANARY_VALUE))
        for case in CASES:
            with self.subTest(case["name"]):
                try:
                    self.check_case(case)
                finally:
                    with self.subTest(case["name"] + ": server and canary afterwards"):
                        self.assertServerHealthy(before)

    def check_case(self, case):
        st, h, body = self.send_case(case)
        ctx = "%s -> %r %r" % (case["name"], st, body[:300])
        self.assertEqual(st, case["status"], ctx)
        self.assertIn("application/json", h.get("content-type", ""), ctx)
        self.assertRegex(h.get("x-orchestrate-req-id", ""), UUID_RE, ctx)
        doc = json.loads(body.decode("utf-8"))
        self.assertIsInstance(doc, dict, ctx)
        self.assertIsInstance(doc.get("message"), str, ctx)
        self.assertTrue(doc["message"], ctx)
        self.assertEqual(doc.get("code"), case["code"], ctx)
        # the methods of the route (docs/api.md: 405 with Allow)
        self.assertEqual(h.get("allow"), case.get("allow"), ctx)
        if st == 401:
            self.assertEqual(h.get("www-authenticate"), 'Basic realm="orchid"', ctx)

    # ---- connection-level --------------------------------------------------
    def test_cross_site_types_write_nothing(self):
        """A 415 for a form or text/plain write leaves no event, relation or
        item behind; the same body as JSON, or with no Content-Type, works."""
        srv = self.server
        for ctype in ("text/plain", "application/x-www-form-urlencoded"):
            st = srv.request("POST", "/v0/xs/k1/events/ev", key=self.key, raw_body=b'{"a":1}',
                             headers={"Content-Type": ctype})[0]
            self.assertEqual(st, 415)
            st = srv.request("POST", "/v0/xs", key=self.key, raw_body=b'{"a":1}',
                             headers={"Content-Type": ctype})[0]
            self.assertEqual(st, 415)
        st, h, body, doc = srv.request("GET", "/v0/xs", key=self.key)
        self.assertEqual((st, doc and doc.get("count")), (200, 0), body)
        st = srv.request("PUT", "/v0/xs/k1", key=self.key, raw_body=b'{"a":1}',
                         headers={"Content-Type": None})[0]
        self.assertEqual(st, 201)
        st = srv.request("POST", "/v0/xs/k1/events/ev", key=self.key, raw_body=b'{"a":1}',
                         headers={"Content-Type": "text/plain"})[0]
        self.assertEqual(st, 415)
        st, h, body, doc = srv.request("GET", "/v0/xs/k1/events/ev", key=self.key)
        self.assertEqual((st, doc.get("count")), (200, 0), body)
        st = srv.request("PUT", "/v0/xs/k1/relation/r/xs/k1", key=self.key, raw_body=b"{}",
                         headers={"Content-Type": "multipart/form-data; boundary=b"})[0]
        self.assertEqual(st, 415)
        st = srv.request("GET", "/v0/xs/k1/relation/r/xs/k1", key=self.key)[0]
        self.assertEqual(st, 404)
        st = srv.request("POST", "/v0/xs/k1/events/ev", key=self.key, raw_body=b'{"a":1}',
                         headers={"Content-Type": "application/json; charset=utf-8"})[0]
        self.assertEqual(st, 201)

    def test_content_length_larger_than_the_body(self):
        """The client promises more bytes than it sends and half-closes:
        nginx gives up on the request ("client prematurely closed
        connection", logged as 400) and closes without an answer, since the
        client has stopped listening; nothing is written and the server
        keeps serving."""
        before = self.canary_state()
        head = ("PUT %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n"
                "Connection: close\r\n\r\n" % (CANARY, self.auth_header(self.key), len(GOOD) + 100))
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=8) as s:
            s.sendall(head.encode() + GOOD)
            s.shutdown(socket.SHUT_WR)
            chunks = []
            try:
                while True:
                    c = s.recv(65536)
                    if not c:
                        break
                    chunks.append(c)
            except socket.timeout:
                self.fail("no answer and no close within 8 s")
        data = b"".join(chunks)
        self.assertEqual(data, b"", "nginx answered a client that half-closed")
        with open(self.server.nginx_access_log) as f:
            puts = [line for line in f if '"PUT %s HTTP/1.1"' % CANARY in line]
        self.assertRegex(puts[-1], r'" 400 0 ')
        self.assertServerHealthy(before)

    def test_many_bad_requests_on_one_connection(self):
        """Keep-alive: a bad request does not poison the connection's next
        request."""
        before = self.canary_state()
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            auth = {"Authorization": self.auth_header(self.key)}
            for path, status in ((CANARY + "/refs?limit=0", 400), ("/v0/canary/%FF", 400),
                                 (CANARY, 200), (CANARY + "/refs/zz", 400), (CANARY, 200)):
                conn.request("GET", path, headers=auth)
                resp = conn.getresponse()
                resp.read()
                self.assertEqual(resp.status, status, path)
        finally:
            conn.close()
        self.assertServerHealthy(before)

    # ---- the good side of each limit ----------------------------------------
    def test_limits_accept_their_maximum(self):
        srv = self.server
        ok = [
            ("1024-byte key", "PUT", "/v0/limits/" + "k" * 1024, nested(1)),
            ("1024-byte collection", "PUT", "/v0/" + "c" * 1024 + "/k", nested(1)),
            ("1024 bytes of 2-byte characters", "PUT",
             "/v0/limits/" + urllib.parse.quote("é" * 512), nested(1)),
            ("depth 64 (innermost empty)", "PUT", "/v0/limits/deep-empty", nested(64, None)),
            ("depth 64 in arrays", "PUT", "/v0/limits/deep-array",
             '{"a":' + "[" * 63 + "]" * 63 + "}"),
            ("2^64-2", "PUT", "/v0/limits/big", '{"n":18446744073709551614}'),
            ("-(2^63-1)", "PUT", "/v0/limits/small", '{"n":-9223372036854775807}'),
            ("body just under 2 MiB", "PUT", "/v0/limits/large",
             '{"a":"' + "x" * (2 * MIB - 100) + '"}'),
            ("If-None-Match with 64 hex digits", "PUT", "/v0/limits/inm64", nested(1)),
        ]
        for name, method, path, body in ok:
            with self.subTest(name):
                headers = {}
                if name.startswith("If-None-Match"):
                    headers["If-None-Match"] = '"%s"' % ("a" * 64)
                st, h, payload, _ = srv.request(method, path, key=self.key, raw_body=body,
                                                headers=headers)
                self.assertEqual(st, 201, payload[:300])
                st, h, payload, _ = srv.request("GET", path, key=self.key)
                self.assertEqual(st, 200)
                # stored as sent (these bodies are already compact)
                self.assertEqual(payload, body.encode())
        # 64 query parameters are fine (unknown ones are ignored), and so are
        # 32 segments (404: no such route)
        st = srv.request("GET", CANARY + "/refs?" + "&".join("p%d=1" % i for i in range(64)),
                         key=self.key)[0]
        self.assertEqual(st, 200)
        st, _, _, doc = srv.request("GET", "/v0/" + "/".join(["s"] * 32), key=self.key)
        self.assertEqual((st, doc["code"]), (404, "api_bad_request"))
        # 16 If-Match tags are fine
        tags = ",".join('"%016x"' % i for i in range(15)) + "," + self.canary_etag
        st, _, body, _ = srv.request("PUT", "/v0/limits/canary-copy", key=self.key,
                                     body=CANARY_VALUE)
        self.assertEqual(st, 201)
        st, _, body, _ = srv.request("PUT", "/v0/limits/canary-copy", key=self.key,
                                     body=CANARY_VALUE, headers={"If-Match": tags})
        self.assertEqual(st, 201, body)

    # ---- what json-c alone would let through --------------------------------
    def test_depth_64_with_a_value_in_the_innermost_object(self):
        # json-c counts the innermost scalar as a level; max_json_depth
        # counts containers (docs/api.md), so this is 64 and allowed.
        st, h, body, _ = self.server.request("PUT", "/v0/limits/deep-leaf", key=self.key,
                                             raw_body=nested(64, "1"))
        self.assertEqual(st, 201, body)

    def bad_body_is_refused(self, raw):
        # Not on the canary, so that a regression shows here and only here.
        path = "/v0/gaps/" + self.id().rsplit(".", 1)[1]
        st, h, body, doc = self.server.request("PUT", path, key=self.key, raw_body=raw)
        self.assertEqual((st, (doc or {}).get("code")), (400, "api_bad_request"), body)
        self.assertEqual(self.server.request("GET", path + "/refs", key=self.key)[0], 404)

    def test_overlong_utf8_in_body_is_refused(self):
        # json-c's VALIDATE_UTF8 checks the byte structure only.
        self.bad_body_is_refused(b'{"a":"\xc0\xaf"}')

    def test_utf8_surrogate_in_body_is_refused(self):
        # U+D800 encoded as ED A0 80.
        self.bad_body_is_refused(b'{"a":"\xed\xa0\x80"}')

    def test_code_point_above_10ffff_in_body_is_refused(self):
        # F4 90 80 80 would be U+110000.
        self.bad_body_is_refused(b'{"a":"\xf4\x90\x80\x80"}')

    def test_single_quoted_json_is_refused(self):
        # json-c 0.16 accepts single-quoted strings even with
        # JSON_TOKENER_STRICT.
        self.bad_body_is_refused(b"{'a':1}")

    def test_raw_control_character_in_string_is_refused(self):
        # RFC 8259 requires U+0000..U+001F to be escaped in strings; json-c
        # accepts a raw tab or newline.
        self.bad_body_is_refused(b'{"a":"x\ty"}')


if __name__ == "__main__":
    unittest.main()
