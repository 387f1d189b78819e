"""Field filtering (with_fields, without_fields) on every JSON read:
item GET, GET by ref, collection lists, refs?values=true, event GET and
event lists (docs/api.md "Field filtering")."""

import unittest
import urllib.parse

import harness

VALUE = {"name": "Classic", "sugar": 10, "profile": {"a": 1, "b": 2},
         "tags": [{"name": "x", "n": 1}, {"name": "y", "n": 2}, 3]}


def q(**params):
    return "?" + urllib.parse.urlencode(params)


class FieldsTest(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("fields")
        st, h, body, _ = cls.server.request("PUT", "/v0/f/k", key=cls.key, body=VALUE)
        assert st == 201, body
        cls.ref = h["etag"].strip('"')
        for i in range(5):
            cls.server.request("PUT", "/v0/fl/k%d" % i, key=cls.key,
                               body=dict(VALUE, i=i))
        st, h, body, _ = cls.server.request("POST", "/v0/f/k/events/t", key=cls.key,
                                            body=VALUE)
        assert st == 201, body
        cls.event = h["location"]
        for i in range(4):
            cls.server.request("POST", "/v0/f/k/events/many", key=cls.key,
                               body=dict(VALUE, i=i))

    def get(self, path):
        st, h, body, doc = self.server.request("GET", path, key=self.key)
        self.assertEqual(st, 200, body)
        return h, doc

    CASES = [
        (dict(with_fields="name"), {"name": "Classic"}),
        (dict(with_fields="value.name,value.sugar"), {"name": "Classic", "sugar": 10}),
        (dict(with_fields="profile.a"), {"profile": {"a": 1}}),
        (dict(with_fields="tags.name"), {"tags": [{"name": "x"}, {"name": "y"}]}),
        (dict(with_fields="nope"), {}),
        (dict(without_fields="profile,tags"), {"name": "Classic", "sugar": 10}),
        (dict(without_fields="value.profile.b,tags.n"),
         {"name": "Classic", "sugar": 10, "profile": {"a": 1},
          "tags": [{"name": "x"}, {"name": "y"}, 3]}),
        (dict(with_fields="profile", without_fields="profile.b"), {"profile": {"a": 1}}),
    ]

    def test_item_get_and_get_by_ref(self):
        for params, want in self.CASES:
            with self.subTest(params=params):
                h, doc = self.get("/v0/f/k" + q(**params))
                self.assertEqual(doc, want)
                # The ETag is the stored version's, filtered or not.
                self.assertEqual(h["etag"], '"%s"' % self.ref)
                h, doc = self.get("/v0/f/k/refs/%s%s" % (self.ref, q(**params)))
                self.assertEqual(doc, want)
        self.assertEqual(self.get("/v0/f/k")[1], VALUE)

    def test_collection_list_filters_value_only(self):
        h, doc = self.get("/v0/fl" + q(limit=2, with_fields="name,i"))
        self.assertEqual([e["value"] for e in doc["results"]],
                         [{"name": "Classic", "i": 0}, {"name": "Classic", "i": 1}])
        self.assertEqual([e["path"]["key"] for e in doc["results"]], ["k0", "k1"])
        # next carries the filter.
        nxt = doc["next"]
        self.assertIn("with_fields=name%2Ci", nxt)
        h, doc = self.get(nxt)
        self.assertEqual([e["value"] for e in doc["results"]],
                         [{"name": "Classic", "i": 2}, {"name": "Classic", "i": 3}])

    def test_refs_with_values(self):
        h, doc = self.get("/v0/f/k/refs" + q(values="true", without_fields="tags,profile"))
        self.assertEqual([e["value"] for e in doc["results"]], [{"name": "Classic", "sugar": 10}])
        self.assertEqual(doc["results"][0]["path"]["ref"], self.ref)

    def test_event_get_and_list(self):
        h, doc = self.get(self.event + q(with_fields="sugar"))
        self.assertEqual(doc["value"], {"sugar": 10})
        self.assertEqual(doc["path"]["type"], "t")
        h, doc = self.get("/v0/f/k/events/many" + q(limit=2, with_fields="i"))
        self.assertEqual([e["value"] for e in doc["results"]], [{"i": 3}, {"i": 2}])
        self.assertIn("with_fields=i", doc["next"])
        h, doc = self.get(doc["next"])
        self.assertEqual([e["value"] for e in doc["results"]], [{"i": 1}, {"i": 0}])

    def test_malformed_lists_are_400(self):
        for params in (dict(with_fields=""), dict(with_fields="a,,b"),
                       dict(without_fields="a..b"), dict(with_fields="value."),
                       dict(with_fields=",".join("f%d" % i for i in range(101)))):
            for path in ("/v0/f/k", "/v0/fl", "/v0/f/k/refs/%s" % self.ref,
                         "/v0/f/k/refs", self.event, "/v0/f/k/events/many"):
                with self.subTest(params=params, path=path):
                    resp = self.server.request("GET", path + q(**params), key=self.key)
                    self.assertJsonError(resp, 400, "api_bad_request")
                    self.assertIn("fields", resp[3]["details"]["info"])

    def test_writes_ignore_field_parameters(self):
        # Only reads filter; a PUT with with_fields stores its whole body.
        st, _, body, _ = self.server.request("PUT", "/v0/f/w" + q(with_fields="a"),
                                             key=self.key, body={"a": 1, "b": 2})
        self.assertEqual(st, 201, body)
        self.assertEqual(self.get("/v0/f/w")[1], {"a": 1, "b": 2})


if __name__ == "__main__":
    unittest.main()
