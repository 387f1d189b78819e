#!/usr/bin/env python3
"""The browser console (console/, docs/console.md) in a real headless
Chromium, driven by Selenium through chromedriver, against a real orchidd
behind the nginx of conf/nginx/orchid-dev.conf.in (tests/e2e/harness.py),
which serves the console's files from the source tree at /console/.

Every write the console claims to make is checked through the API, and
every refusal (401, 412) is checked to have written nothing.

    tests/browser/run.sh            (make check; exits 77 without a browser)

Environment: as tests/e2e/harness.py, plus CONSOLE_SCREENSHOT=path.png to
save a screenshot of an item's page (the one in docs/console.png and the
README was taken so), CHROMIUM and CHROMEDRIVER (default /usr/bin/...).
"""

import json
import os
import shutil
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import harness  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException, StaleElementReferenceException, TimeoutException)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("CHROMEDRIVER") or "/usr/bin/chromedriver"
WAIT = 15  # seconds for any one thing to appear (the ASan build is slow)
T0 = 1700000000000  # first event's timestamp (2023-11-14T22:13:20Z)


def start_browser(profile):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1000",
                "--user-data-dir=" + profile):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The explicit driver path: Selenium must never look for (or download)
    # a driver of its own.
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


class ConsoleTest(unittest.TestCase):
    """One server, one browser; the tests run in name order and build on
    each other (signed in after test_02)."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server().start()
        cls.addClassCleanup(cls.server.stop)
        cls.key = cls.server.new_key("console")
        cls.seed()
        cls.profile = tempfile.mkdtemp(prefix="orchid-chromium-")
        cls.addClassCleanup(shutil.rmtree, cls.profile, True)
        cls.driver = start_browser(cls.profile)
        cls.addClassCleanup(cls.driver.quit)
        cls.base = cls.server.url + "/console/"

    @classmethod
    def api(cls, method, path, body=None, headers=None, key=None):
        return cls.server.request(method, path, key=key or cls.key, body=body, headers=headers)

    @classmethod
    def seed(cls):
        # 25 items: more than two pages of 10.
        for i in range(25):
            st = cls.api("PUT", "/v0/people/p%02d" % i,
                         {"name": "person %d" % i, "n": i, "team": "red" if i % 3 else "blue"})[0]
            assert st == 201, st
        cls.api("PUT", "/v0/notes/a", {"t": 1})
        cls.api("PUT", "/v0/notes/b", {"t": 2})
        # p03 gets three versions: London, Paris, Paris + age.
        cls.versions = []
        for v in ({"name": "Ada", "city": "London"}, {"name": "Ada", "city": "Paris"},
                  {"name": "Ada", "city": "Paris", "age": 36}):
            st, hd, _, _ = cls.api("PUT", "/v0/people/p03", v)
            assert st == 201, st
            cls.versions.append((hd["etag"].strip('"'), v))
        # 12 login events, a minute apart.
        for i in range(12):
            st = cls.api("POST", "/v0/people/p03/events/login?timestamp=%d" % (T0 + i * 60000),
                         {"seq": i})[0]
            assert st == 201, st
        for k in ("p04", "p05"):
            assert cls.api("PUT", "/v0/people/p03/relation/friend/people/" + k)[0] == 201

    # ---- helpers ----------------------------------------------------------
    def wait(self, cond, what):
        try:
            # The console re-renders a part as it loads: an element found a
            # moment ago may be gone; try again until the deadline.
            return WebDriverWait(self.driver, WAIT, ignored_exceptions=(
                NoSuchElementException, StaleElementReferenceException)).until(lambda d: cond())
        except TimeoutException:
            if callable(what):
                what = what()
            self.fail("timed out waiting for %s; status: %r" % (what, self.status_text()))

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def present(self, css):
        return self.wait(lambda: (self.finds(css) or [None])[0], css)

    def status_text(self):
        try:
            return self.find("#status").text
        except Exception:  # noqa: BLE001 (only for a failure message)
            return None

    def wait_status(self, *words):
        self.wait(lambda: all(w in (self.status_text() or "") for w in words),
                  "the status to say %r" % (words,))
        return self.status_text()

    def texts(self, css):
        return [e.text for e in self.finds(css)]

    def wait_texts(self, css, want):
        # The message is made only on failure: the elements read now may be
        # replaced a moment later.
        self.wait(lambda: self.texts(css) == want, lambda: "%s to be %r (is %r)" % (
            css, want, self.texts(css)))

    def set_value(self, css, text):
        el = self.present(css)
        el.clear()
        el.send_keys(text)
        return el

    def refs(self, path):
        st, _, _, doc = self.api("GET", path + "/refs?values=true&limit=100")
        self.assertEqual(st, 200)
        return doc["results"]

    def open_item(self, coll, key):
        self.driver.get(self.base + "#/i/%s/%s" % (coll, key))
        self.present("#history li")

    def login(self, key):
        self.driver.get(self.base)
        self.set_value("#key", key)
        self.find("#signin").click()

    # ---- the tests --------------------------------------------------------
    def test_00_served_with_strict_csp(self):
        st, hd, body, _ = self.server.request("GET", "/console/")
        self.assertEqual(st, 200)
        self.assertIn("text/html", hd["content-type"])
        csp = hd.get("content-security-policy", "")
        for part in ("default-src 'none'", "script-src 'self'", "style-src 'self'",
                     "connect-src 'self'", "frame-ancestors 'none'", "form-action 'none'"):
            self.assertIn(part, csp)
        self.assertEqual(hd.get("x-content-type-options"), "nosniff")
        self.assertEqual(hd.get("referrer-policy"), "no-referrer")
        # Nothing inline for the policy to block.
        self.assertNotIn(b"<script>", body)
        self.assertNotIn(b"style=", body)
        st, hd, _, _ = self.server.request("GET", "/console/console.js")
        self.assertEqual(st, 200)
        self.assertIn("javascript", hd["content-type"])
        # Static files: any other method is the JSON 405.
        self.assertEqual(self.server.request("POST", "/console/index.html")[0], 405)

    def test_01_wrong_key_shows_401(self):
        self.login("not-a-key")
        text = self.wait_status("401", "security_unauthorized")
        self.assertIn("Valid credentials are required", text)
        self.assertIsNone(self.driver.execute_script(
            "return sessionStorage.getItem('orchid.console.key')"))
        self.assertTrue(self.find("#key").is_displayed())

    def test_02_login_lists_collections_with_counts(self):
        self.login(self.key)
        self.present("#collections")
        rows = [r.text.split() for r in self.finds("#collections tbody tr")]
        self.assertEqual(rows, [["notes", "2"], ["people", "25"]])
        d = self.driver
        # The key: in session storage only, never in the URL or a cookie.
        self.assertEqual(d.execute_script("return sessionStorage.getItem('orchid.console.key')"),
                         self.key)
        self.assertEqual(d.execute_script("return document.cookie"), "")
        self.assertEqual(d.execute_script("return localStorage.length"), 0)
        self.assertNotIn(self.key, d.current_url)
        with open(self.server.nginx_access_log) as f:
            self.assertNotIn(self.key, f.read())

    def test_03_items_page_by_key_range(self):
        self.driver.get(self.base)
        self.present("#collections a")
        [a] = [a for a in self.finds("#collections a") if a.text == "people"]
        a.click()
        self.wait_texts("#items tbody td:first-child", ["p%02d" % i for i in range(10)])
        # Keyboard: focus "Next page" and press Enter.
        nxt = self.find("#items-next")
        nxt.send_keys(Keys.NULL)
        self.driver.execute_script("arguments[0].focus()", nxt)
        self.driver.switch_to.active_element.send_keys(Keys.ENTER)
        self.wait_texts("#items tbody td:first-child", ["p%02d" % i for i in range(10, 20)])
        self.find("#items-next").click()
        self.wait_texts("#items tbody td:first-child", ["p%02d" % i for i in range(20, 25)])
        self.assertFalse(self.find("#items-next").is_enabled())
        self.find("#items-prev").click()
        self.wait_texts("#items tbody td:first-child", ["p%02d" % i for i in range(10, 20)])
        # A key range chosen by hand, with another page size.
        self.set_value("#start-key", "p17")
        Select(self.find("#page-size")).select_by_value("25")
        self.find("#jump-form button").click()
        self.wait_texts("#items tbody td:first-child", ["p%02d" % i for i in range(17, 25)])

    def test_04_history_diff_and_restore(self):
        self.open_item("people", "p03")
        (ref1, v1), (ref2, v2), (ref3, v3) = self.versions
        self.assertEqual(self.find("#etag").text, ref3)
        self.assertEqual(json.loads(self.find("#current-value").text), v3)
        # Newest first; the oldest is the seed's "person 3".
        entries = self.finds("#history li")
        self.assertEqual([e.get_attribute("data-ref") for e in entries][:3], [ref3, ref2, ref1])
        self.assertEqual(len(entries), 4)
        # A = the oldest, B = the newest; the diff names what changed.
        self.find("#v-2-a").click()
        self.find("#v-0-b").click()
        self.find("#diff-button").click()
        self.present("#diff-table")
        rows = {r.get_attribute("data-path"): r.text for r in self.finds("#diff-table tbody tr")}
        self.assertEqual(sorted(rows), ["age", "city"])
        self.assertIn('"London"', rows["city"])
        self.assertIn('"Paris"', rows["city"])
        self.assertIn("changed", rows["city"])
        self.assertIn("added", rows["age"])
        self.shot()
        # Restore the oldest version: a conditional PUT of its value.
        before = self.refs("/v0/people/p03")
        [btn] = [b for b in self.finds("#history li button.restore")
                 if b.get_attribute("data-ref") == ref1]
        btn.click()
        self.wait_status("Restored")
        st, hd, _, doc = self.api("GET", "/v0/people/p03")
        self.assertEqual(doc, v1)
        after = self.refs("/v0/people/p03")
        self.assertEqual(len(after), len(before) + 1)
        self.assertEqual(after[0]["path"]["ref"], ref1)  # same content, same ref
        self.assertGreater(after[0]["path"]["reftime"], before[0]["path"]["reftime"])
        # The page shows the new current version and its ETag.
        self.wait(lambda: self.find("#etag").text == ref1, "the ETag of the restored version")
        self.wait(lambda: len(self.finds("#history li")) == 5, "five versions")

    def test_05_stale_etag_gets_412_and_writes_nothing(self):
        self.open_item("people", "p03")
        # Someone else writes after the page loaded.
        st, hd, _, _ = self.api("PUT", "/v0/people/p03", {"name": "changed elsewhere"})
        self.assertEqual(st, 201)
        n = len(self.refs("/v0/people/p03"))
        self.set_value("#edit-value", '{"name": "mine"}')
        self.find("#put-button").click()
        text = self.wait_status("412", "item_version_mismatch")
        self.assertIn("Not saved", text)
        self.assertIn("nothing was written", text)
        self.assertEqual(self.api("GET", "/v0/people/p03")[3], {"name": "changed elsewhere"})
        self.assertEqual(len(self.refs("/v0/people/p03")), n)
        # A patch against the same stale ETag is refused the same way.
        self.set_value("#edit-patch", '{"name": "patched"}')
        self.find("#patch-button").click()
        self.wait(lambda: "Not saved" in self.status_text() and "412" in self.status_text()
                  and "Patch" not in self.status_text(), "the 412 of the patch")
        self.assertEqual(len(self.refs("/v0/people/p03")), n)
        # After Reload the same edit goes through (If-Match: the new ETag).
        self.find("#reload").click()
        self.wait(lambda: '"changed elsewhere"' in self.find("#current-value").text, "the reload")
        self.set_value("#edit-value", '{"name": "mine"}')
        self.find("#put-button").click()
        self.wait_status("Save done")
        self.assertEqual(self.api("GET", "/v0/people/p03")[3], {"name": "mine"})
        self.assertEqual(len(self.refs("/v0/people/p03")), n + 1)

    def test_06_events_add_page_and_range(self):
        self.open_item("people", "p03")
        # The type is suggested from a search aggregate over the item's events.
        self.wait(lambda: self.find("#ev-type").get_attribute("value") == "login",
                  "the suggested event type")
        self.assertEqual(self.texts("#ev-type-list button"), ["login (12)"])
        self.set_value("#ev-new-value", '{"via": "console"}')
        self.find("#event-add").click()
        self.wait_status("Event added")
        st, _, _, doc = self.api("GET", "/v0/people/p03/events/login?limit=100")
        self.assertEqual(doc["count"], 13)
        self.assertEqual(doc["results"][0]["value"], {"via": "console"})
        # Page 1: the 10 newest, the new one first; page 2: the other 3.
        self.wait(lambda: len(self.finds("#events-table tbody tr")) == 10, "10 events")
        self.assertIn("console", self.finds("#events-table tbody tr")[0].text)
        self.assertEqual(len(self.finds("#events svg.axis circle.ev")), 10)
        self.find("#events-older").click()
        self.wait(lambda: len(self.finds("#events-table tbody tr")) == 3, "3 older events")
        self.assertIn('"seq":0', self.finds("#events-table tbody tr")[-1].text)
        self.assertFalse(self.find("#events-older").is_enabled())
        self.find("#events-newer").click()
        self.wait(lambda: len(self.finds("#events-table tbody tr")) == 10, "the newest page again")
        # A range: the events of minutes 2..4 (inclusive bounds).
        self.set_value("#ev-from", str(T0 + 2 * 60000))
        self.set_value("#ev-to", "2023-11-14T22:17:20Z")  # T0 + 4 min
        self.find("#events-show").click()
        self.wait(lambda: [t.split()[-1] for t in self.texts("#events-table tbody tr")] ==
                  ['{"seq":4}', '{"seq":3}', '{"seq":2}'], "the events of the range")

    def test_07_relations(self):
        self.open_item("people", "p03")
        self.wait(lambda: self.texts("#rel-kind-list button") == ["friend (2)"],
                  "the relation kinds found by search")
        self.assertEqual(self.find("#rel-kind").get_attribute("value"), "friend")
        self.find("#rel-kind-list button").click()
        self.wait(lambda: [t.split()[0] for t in self.texts("#relations-list li")] ==
                  ["people/p04", "people/p05"], "the related items")
        self.finds("#relations-list a")[1].click()
        self.wait(lambda: self.find("#item-key").text == "p05", "the related item's page")

    def test_08_search_with_aggregates(self):
        self.driver.get(self.base + "#/c/people")
        self.present("#search-link").click()
        self.set_value("#search-q", "team:blue")
        self.set_value("#search-agg", "value.team:top_values,value.n:stats")
        self.find("#search-form button").click()
        # Every third seeded item is blue (p03's value is no longer the seed's).
        total = self.api("GET", "/v0/people?query=team:blue&limit=0")[3]["total_count"]
        self.assertEqual(total, 8)
        self.wait(lambda: self.find("#search-total").text == "8 matches", "8 matches")
        self.assertEqual(len(self.finds("#search-results tbody tr")), 8)
        self.assertEqual(len(self.finds("#aggregates svg.chart rect.bar")), 1)
        # A bad query shows the API's code.
        self.set_value("#search-q", "team:(")
        self.find("#search-form button").click()
        self.wait_status("400", "search_query_malformed")

    def test_09_revoked_key_signs_out_with_401(self):
        key2 = self.server.new_key("console")
        self.driver.execute_script("sessionStorage.clear()")
        self.login(key2)
        self.present("#collections")
        self.server.orchidctl("key", "revoke", key2)
        # The next request of the open page is refused.
        self.driver.get(self.base + "#/c/people")
        self.wait_status("Signed out", "401", "security_unauthorized")
        self.assertTrue(self.find("#key").is_displayed())
        self.assertIsNone(self.driver.execute_script(
            "return sessionStorage.getItem('orchid.console.key')"))

    def test_10_no_csp_violation_or_script_error(self):
        log = self.driver.get_log("browser")
        bad = [e["message"] for e in log
               if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]
               or ("SEVERE" == e["level"] and "status of" not in e["message"])]
        self.assertEqual(bad, [])

    def shot(self):
        path = os.environ.get("CONSOLE_SCREENSHOT")
        if not path:
            return
        d = self.driver
        d.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.3)
        self.assertTrue(d.save_screenshot(path), path)
        print("# screenshot: %s" % path)


if __name__ == "__main__":
    start = time.monotonic()
    prog = unittest.main(exit=False, verbosity=2)
    res = prog.result
    print("browser: %.0f s" % (time.monotonic() - start))
    print("%d passed, %d failed" % (res.testsRun - len(res.failures) - len(res.errors),
                                    len(res.failures) + len(res.errors)))
    sys.exit(0 if res.wasSuccessful() and res.testsRun else 1)
