"""The FastCGI socket against local clients that bypass nginx (issue 15): a
raw connection that stops part-way through its request is dropped after
request_read_timeout while ordinary requests through nginx are answered,
and the socket is made with socket_mode and socket_group.

nginx sends a request whole, so only something else connecting to the
socket can stall; before the deadline existed, four connections that each
sent one byte held both workers for good (the test then fails: the ordinary
requests get nginx's 504 or time out).
"""

import grp
import os
import socket
import stat
import struct
import time

from harness import ServerTestCase, timeout

DEADLINE = 2
WORKERS = 2


def record(rtype, body=b""):
    """A FastCGI record with request id 1, unpadded."""
    return struct.pack(">BBHHBB", 1, rtype, 1, len(body), 0, 0) + body


def param(name, value):
    name, value = name.encode(), value.encode()
    assert len(name) < 128 and len(value) < 128
    return bytes([len(name), len(value)]) + name + value


BEGIN = record(1, struct.pack(">HB5x", 1, 0))  # responder, no keep-alive


def put_head(path, length):
    """BEGIN_REQUEST and the PARAMS of a PUT with a body of length bytes:
    what nginx sends before the body (FCGI_STDIN)."""
    params = b"".join(param(k, v) for k, v in (
        ("REQUEST_METHOD", "PUT"), ("REQUEST_URI", path), ("DOCUMENT_URI", path),
        ("CONTENT_TYPE", "application/json"), ("CONTENT_LENGTH", str(length))))
    return BEGIN + record(4, params) + record(4)


class FcgiDeadlineTest(ServerTestCase):
    server_options = {"workers": WORKERS, "extra": {"request_read_timeout": DEADLINE}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.server.new_key("deadline")

    def _raw(self, data):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.server.socket_path)
        s.sendall(data)
        return s

    def _closed_by_server(self, s, within):
        """(closed, bytes read) once the server closes s, or within s pass."""
        s.settimeout(within)
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return True, got
                got += chunk
        except ConnectionResetError:
            return True, got
        except socket.timeout:
            return False, got

    def _drop_lines(self):
        with open(self.server.orchidd_log, errors="replace") as f:
            return [line for line in f
                    if "dropped" in line and
                    "within request_read_timeout (%d s)" % DEADLINE in line]

    @timeout(120)
    def test_stalled_raw_connections_are_dropped_and_requests_served(self):
        srv = self.server
        before = len(self._drop_lines())
        start = time.monotonic()
        # Twice as many as there are workers, each with a different stop:
        # one byte, half a record header, BEGIN_REQUEST alone, and a PUT
        # whose body stops after 10 of its 1000 bytes (dropped in the body
        # read, unanswered: nothing stored).
        stalled = [self._raw(b"\x01"), self._raw(BEGIN[:4]), self._raw(BEGIN),
                   self._raw(put_head("/v0/stall/k", 1000) + record(5, b"{" + b" " * 9))]
        try:
            for i in range(6):
                st, _, body, _ = srv.request("PUT", "/v0/c/k%d" % i, key=self.key,
                                             body={"i": i})
                self.assertEqual(st, 201, body)
                st, _, body, doc = srv.request("GET", "/v0/c/k%d" % i, key=self.key)
                self.assertEqual((st, doc), (200, {"i": i}), body)
            answered = time.monotonic() - start
            # All four stalled connections are dropped after their 2 s (2
            # workers, so by about 4 s): a generous bound for a busy machine.
            self.assertLess(answered, 60, "the ordinary requests took %.1f s" % answered)
            for n, s in enumerate(stalled):
                closed, got = self._closed_by_server(s, 30)
                self.assertTrue(closed, "stalled connection %d is still open after %.1f s"
                                % (n, time.monotonic() - start))
                self.assertEqual(got, b"", "stalled connection %d got an answer" % n)
            # A deadline never fires early (no upper bound on the machine).
            self.assertGreaterEqual(time.monotonic() - start, DEADLINE - 0.5)
        finally:
            for s in stalled:
                s.close()
        st, _, body, _ = srv.request("GET", "/v0/stall/k", key=self.key)
        self.assertEqual(st, 404, body)
        # The drops are logged, at most once per 10 s per worker (the rest
        # are counted into the next line).
        lines = self._drop_lines()[before:]
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(len(lines), 1, srv.tails())
        self.assertLessEqual(len(lines), WORKERS * (1 + int(elapsed // 10)), "".join(lines))

    @timeout(60)
    def test_a_raw_request_sent_whole_is_answered(self):
        """The deadline is for stalls only: a request sent whole on the socket
        (as nginx does) gets its answer and END_REQUEST."""
        s = self._raw(put_head("/v0/raw/k", 0) + record(5))
        try:
            closed, got = self._closed_by_server(s, 30)
        finally:
            s.close()
        self.assertTrue(closed)
        self.assertIn(b"Status: 4", got)
        self.assertEqual(got[-16:-8], struct.pack(">BBHHBB", 1, 3, 1, 8, 0, 0),
                         "want FCGI_END_REQUEST last")


class SocketGroupTest(ServerTestCase):
    """socket_mode and socket_group as orchidd makes them. The group is one
    of the invoking user's own (a non-root orchidd can only give its own
    groups, as under systemd with SupplementaryGroups=); as root, any."""

    @staticmethod
    def _other_group():
        mine = [g for g in os.getgroups() if g != os.getegid()]
        if os.geteuid() == 0:
            for name in ("nogroup", "daemon", "adm"):
                try:
                    return grp.getgrnam(name).gr_gid, name
                except KeyError:
                    pass
        for gid in mine:
            try:
                return gid, grp.getgrgid(gid).gr_name
            except KeyError:
                pass
        return os.getegid(), grp.getgrgid(os.getegid()).gr_name

    gid, group = _other_group.__func__()
    server_options = {"workers": 1, "extra": {"socket_group": group}}

    def test_socket_mode_and_group(self):
        st = os.stat(self.server.socket_path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_gid, self.gid, "want group %s" % self.group)
        self.assertEqual(st.st_uid, os.geteuid())


class DefaultSocketTest(ServerTestCase):
    """What the e2e harness and script/server get: no socket_group, so the
    socket has the group orchidd runs as."""

    server_options = {"workers": 1}

    def test_socket_without_group(self):
        st = os.stat(self.server.socket_path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_gid, os.getegid())
