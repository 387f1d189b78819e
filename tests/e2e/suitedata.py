"""Where the test suites written by others are (shared/testsuites, see its
README.md), and an exact comparison of JSON values for them.

The suites are beside the checkout: <checkout>/../shared/testsuites (CI has a
fresh clone with shared/ next to it), else beside an ancestor of the
checkout (a git worktree). ORCHID_TESTSUITES overrides the place.
A missing suite is a failure, never a skip: a run without it checks nothing.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.normpath(os.path.join(HERE, "..", ".."))


def _candidates():
    """<checkout>/../shared/testsuites first; then the same beside each
    further ancestor (a git worktree such as /work/wt/x has the checkout's
    shared/ two levels up)."""
    out = []
    d = os.path.dirname(CHECKOUT)
    while True:
        out.append(os.path.join(d, "shared", "testsuites"))
        up = os.path.dirname(d)
        if up == d:
            return out
        d = up


def testsuites_dir(*parts):
    """The path of shared/testsuites/<parts>; AssertionError when missing."""
    env = os.environ.get("ORCHID_TESTSUITES")
    bases = [env] if env else _candidates()
    for base in bases:
        if os.path.isdir(base):
            path = os.path.join(base, *parts)
            if os.path.exists(path):
                return path
            raise AssertionError("test suite data missing: %s" % path)
    raise AssertionError("shared/testsuites not found (looked in %s; ORCHID_TESTSUITES "
                         "names it)" % ", ".join(bases))


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


def dumps_exact(value):
    """JSON text of a value from loads_exact (Num as its text), compact."""
    if isinstance(value, Num):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dumps_exact(v)
                              for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps_exact(v) for v in value) + "]"
    return json.dumps(value)


def exact(value):
    """A form of a loads_exact value whose == is JSON's: Python has
    True == 1 and 1 == 1.0, JSON does not; key order does not count."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exact(v) for v in value]
    return value  # str, Num, None
