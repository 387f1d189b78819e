"""Where the test suites written by others are (shared/testsuites, see its
README.md), and an exact comparison of JSON values for them.

The suites are beside the checkout: <checkout>/../shared/testsuites (CI has a
fresh clone with shared/ next to it). ORCHID_TESTSUITES overrides the place.
A missing suite is a failure, never a skip: a run without it checks nothing.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "testsuites"))


def testsuites_dir(*parts):
    """The path of shared/testsuites/<parts>; AssertionError when missing."""
    base = os.environ.get("ORCHID_TESTSUITES") or DEFAULT_DIR
    path = os.path.join(base, *parts)
    if not os.path.exists(path):
        raise AssertionError(
            "test suite data missing: %s (set ORCHID_TESTSUITES to shared/testsuites)" % path)
    return path


class Num:
    """A JSON number with a fraction or an exponent, kept as its text:
    Orchid keeps decimals as text (docs/api.md "Values"), so 1.50 must come
    back as 1.50, not as 1.5. Equal only to a Num of the same text."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, Num) and other.text == self.text

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.text)

    def __repr__(self):
        return "Num(%s)" % self.text


def _no_constant(name):
    raise ValueError("not JSON: %s" % name)


def loads_exact(data):
    """json.loads for exact comparison: bytes are UTF-8 (never guessed),
    decimals are Num, NaN and Infinity are errors. Integers are ints, so
    -0 is 0, as Orchid stores it."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return json.loads(data, parse_float=Num, parse_constant=_no_constant)
