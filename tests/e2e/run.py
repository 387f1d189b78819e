#!/usr/bin/env python3
"""Runs the end-to-end suite: every tests/e2e/test_*.py (unittest).

    python3 run.py                 all tests
    python3 run.py smoke 413       only tests whose id contains "smoke" or "413"

The last line of a run is "N passed, N failed" (", N skipped" when some were);
the exit status is non-zero when a test failed or none ran, and in a full run
(no selection) when one was skipped. When a test fails,
the log tails of the servers it used are printed under it.

Every test runs under a watchdog (harness.DEFAULT_TEST_TIMEOUT, 300 s unless
ORCHID_TEST_TIMEOUT or harness.timeout() on the test says otherwise): a test
that hangs fails with harness.TestTimeout instead of hanging the run.
"""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


class Result(unittest.TextTestResult):
    """Counts per test (a test with several failing subtests fails once);
    errors outside a test (setUpClass, imports) count as one failure each."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.started = 0
        self.failed_ids = set()
        self.skipped_ids = set()
        self.outside_errors = 0
        self.outside_skips = 0
        self.durations = []        # (seconds, test id)
        self.file_times = {}       # module -> seconds, class set-ups included
        self._t0 = None
        self._last_stop = time.monotonic()

    def startTest(self, test):
        harness.mark_test_start()
        self.started += 1
        self._t0 = time.monotonic()
        super().startTest(test)
        # Covers setUp, the test, tearDown and the cleanups.
        harness.arm_watchdog(harness.timeout_of(test), test.id())

    def stopTest(self, test):
        harness.disarm_watchdog()
        now = time.monotonic()
        self.durations.append((now - self._t0, test.id()))
        # Since the previous test ended: setUpClass and the cleanups of the
        # class before count here.
        module = test.id().split(".")[0]
        self.file_times[module] = self.file_times.get(module, 0.0) + now - self._last_stop
        self._last_stop = now
        super().stopTest(test)

    def _report(self):
        report = harness.failure_report()
        if report:
            self.stream.write("\n" + report + "\n")
            self.stream.flush()

    def _fail(self, test):
        if isinstance(test, unittest.suite._ErrorHolder):
            self.outside_errors += 1
        else:
            self.failed_ids.add(test.id())
        self._report()

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._fail(test)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._fail(test)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if isinstance(test, unittest.suite._ErrorHolder):
            # setUpClass raised SkipTest: the class's tests never start.
            self.outside_skips += 1
        else:
            self.skipped_ids.add(test.id())


def iter_tests(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from iter_tests(item)
        else:
            yield item


def main(argv):
    loader = unittest.TestLoader()
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if argv:
        # Keep loader errors (failed imports) so they are reported, not hidden.
        picked = [t for t in iter_tests(suite)
                  if any(a in t.id() for a in argv)
                  or t.__class__.__name__ in ("_FailedTest", "ModuleImportFailure")]
        suite = unittest.TestSuite(picked)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result)
    result = runner.run(suite)
    # Where the time goes: the slowest files (class set-ups included) and
    # tests (setUp and tearDown included, setUpClass not).
    print("slowest files:")
    for module, seconds in sorted(result.file_times.items(), key=lambda x: -x[1])[:10]:
        print("  %6.1f s  %s" % (seconds, module))
    print("slowest tests:")
    for seconds, test_id in sorted(result.durations, reverse=True)[:15]:
        print("  %6.1f s  %s" % (seconds, test_id))
    failed = len(result.failed_ids) + result.outside_errors
    skipped = len(result.skipped_ids - result.failed_ids) + result.outside_skips
    passed = result.started - len(result.failed_ids | result.skipped_ids)
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    sys.stdout.flush()
    # In a full run (no selection) a skip is a failure: story steps skip
    # only when a step they need did not pass, and nothing else may skip.
    if skipped and not argv:
        print("a skip fails a full run", file=sys.stderr)
        return 1
    return 1 if failed or (result.started == 0 and not skipped) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
