#!/usr/bin/env python3
"""Starts one Orchid server (orchidd behind nginx, tests/e2e/harness.py) for
the Node.js client tests.

Prints "PORT KEY" on one line to stdout (a fresh tenant with one API key),
then serves until stdin reaches end of file or SIGTERM/SIGINT/SIGHUP
arrives, and stops the server. Nothing else goes to stdout; the harness's
diagnostics (ORCHID_KEEP=1, failures) go to stderr.

Environment: as tests/e2e/harness.py (ORCHIDD, ORCHIDCTL, NGINX,
ORCHID_BUILDDIR, ORCHID_KEEP).
"""

import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import harness  # noqa: E402


class Stop(Exception):
    pass


def _on_signal(signum, frame):
    # Once: a second signal must not interrupt the stop in main's finally.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    raise Stop()


def main():
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    srv = harness.Server()
    try:
        srv.start()
        key = srv.new_key("jsclient")
        sys.stdout.write("%d %s\n" % (srv.port, key))
        sys.stdout.flush()
        # Block until the parent closes our stdin (or a signal arrives).
        while sys.stdin.buffer.read(65536):
            pass
    except Stop:
        pass
    except harness.ServerError as e:
        sys.stderr.write("serve.py: %s\n" % e)
        return 1
    finally:
        # Ignore further signals while stopping, so the stop completes.
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
