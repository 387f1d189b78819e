"""End-to-end test harness: a real orchidd behind a real nginx.

Each Server gets its own temporary directory (database, socket, configs,
logs), a free loopback port, an orchidd started with -f and an nginx built
from conf/nginx/orchid-dev.conf.in, i.e. the same locations and error pages
as production. Python 3 standard library only.

    with Server() as srv:
        key = srv.new_key("t1")
        status, headers, body, doc = srv.request("GET", "/v0/c/k", key=key)

Environment:
    ORCHIDD, ORCHIDCTL   binaries (default: <build dir>/src/orchidd, orchidctl)
    ORCHID_BUILDDIR      build dir (default: $abs_top_builddir, else the source tree)
    NGINX                nginx binary (default: nginx on PATH, else /usr/sbin/nginx)
    ORCHID_KEEP=1        keep the temp dirs and print the log tails at stop
    ORCHID_TEST_TIMEOUT  default per-test watchdog in seconds (300)

Threads: run_threads() runs a test's concurrent clients and fails the test
with every exception raised in any of them (and any thread still running at
its deadline). Time: run.py arms a watchdog per test (timeout() overrides
its default), so a hung test fails instead of hanging the suite.
"""

import atexit
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.normpath(os.path.join(HERE, "..", ".."))
CONFDIR = os.path.join(SRCDIR, "conf", "nginx")
CONSOLEDIR = os.path.join(SRCDIR, "console")
BUILDDIR = os.path.abspath(
    os.environ.get("ORCHID_BUILDDIR") or os.environ.get("abs_top_builddir") or SRCDIR
)
ORCHIDD = os.environ.get("ORCHIDD") or os.path.join(BUILDDIR, "src", "orchidd")
ORCHIDCTL = os.environ.get("ORCHIDCTL") or os.path.join(BUILDDIR, "src", "orchidctl")
KEEP = os.environ.get("ORCHID_KEEP", "") not in ("", "0")

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Servers running now, and servers stopped since the current test started:
# run.py prints their log tails when a test fails.
_live = []
_recent = []


DEFAULT_TEST_TIMEOUT = float(os.environ.get("ORCHID_TEST_TIMEOUT") or 300)


def find_nginx():
    path = os.environ.get("NGINX") or shutil.which("nginx")
    if not path and os.access("/usr/sbin/nginx", os.X_OK):
        path = "/usr/sbin/nginx"
    return path


def mark_test_start():
    """Called by run.py before each test: forget servers of earlier tests."""
    del _recent[:]


def failure_report(lines=40):
    """Log tails of the servers the current test could have used."""
    out = []
    for srv in _live + _recent:
        out.append(srv.tails(lines))
    return "\n".join(out)


# ---- time limits ----------------------------------------------------------

class TestTimeout(AssertionError):
    """Raised in the main thread when a test outlives its watchdog."""


def timeout(seconds):
    """Decorator for a test method or a TestCase class: its tests may run
    seconds instead of DEFAULT_TEST_TIMEOUT before the watchdog fails them."""
    def mark(obj):
        obj.orchid_timeout = seconds
        return obj
    return mark


def timeout_of(test):
    """The watchdog time of a unittest test: its method's timeout(), else its
    class's, else the default."""
    method = getattr(test, getattr(test, "_testMethodName", ""), None)
    for obj in (method, test):
        seconds = getattr(obj, "orchid_timeout", None)
        if seconds is not None:
            return float(seconds)
    return DEFAULT_TEST_TIMEOUT


def arm_watchdog(seconds, what):
    """From now, raise TestTimeout in the main thread after seconds, unless
    disarm_watchdog() comes first. The exception interrupts whatever the
    test is blocked in (a socket read, a join, a sleep)."""
    def on_alarm(signum, frame):
        raise TestTimeout("%s did not finish within %g s: the watchdog stopped it "
                          "(harness.timeout() sets another limit)" % (what, seconds))
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def disarm_watchdog():
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)


# ---- threads -----------------------------------------------------------------

def run_threads(targets, timeout=120.0, during=None, background=(), stop=None):
    """Runs each callable of targets in a thread of its own and fails the
    test (AssertionError) listing every exception any thread raised, with its
    traceback, and every thread still running at the deadline.

    targets run to their end; background callables run until stop (a
    threading.Event, needed with background) is set; during, if given, runs
    in the calling thread meanwhile. The order: start them all, during(),
    join targets, set stop, join background. timeout counts from when
    during() returned (or the start) and bounds all the joining. When a
    thread raises, stop is set at once so the others can end early.
    Threads are daemons: one that hangs cannot keep the suite alive.
    """
    if background and stop is None:
        raise ValueError("background threads need a stop event")
    errors = []
    lock = threading.Lock()

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException:  # noqa: BLE001 - reported to the test
                with lock:
                    errors.append((threading.current_thread().name, traceback.format_exc()))
                if stop is not None:
                    stop.set()
        return run

    def start(fns, kind):
        out = []
        for i, fn in enumerate(fns):
            name = "%s-%d(%s)" % (kind, i, getattr(fn, "__name__", None)
                                  or getattr(getattr(fn, "func", None), "__name__", "?"))
            th = threading.Thread(target=wrap(fn), name=name, daemon=True)
            th.start()
            out.append(th)
        return out

    fg = start(targets, "thread")
    bg = start(background, "background")
    during_exc = None
    try:
        if during is not None:
            during()
    except BaseException as e:  # noqa: BLE001 - re-raised below
        during_exc = e
        if stop is not None:
            stop.set()
    deadline = time.monotonic() + timeout
    for th in fg:
        th.join(max(0.0, deadline - time.monotonic()))
    if stop is not None:
        stop.set()
    for th in bg:
        th.join(max(0.0, deadline - time.monotonic()))
    hung = [th.name for th in fg + bg if th.is_alive()]
    with lock:
        failed = list(errors)
    if not failed and not hung:
        if during_exc is not None:
            raise during_exc
        return
    parts = ["%d of %d threads failed, %d still running after %g s"
             % (len(failed), len(fg) + len(bg), len(hung), timeout)]
    for name, tb in failed:
        parts.append("--- %s raised:\n%s" % (name, tb.rstrip()))
    for name in hung:
        parts.append("--- %s is still running (it hangs)" % name)
    if during_exc is not None:
        parts.append("--- and the calling thread raised:\n%s" % "".join(
            traceback.format_exception(type(during_exc), during_exc,
                                       during_exc.__traceback__)).rstrip())
    raise AssertionError("\n".join(parts))


def db_util(name):
    """The path of Berkeley DB's utility `name` (db5.3_load, ...), or None."""
    for candidate in ("db5.3_" + name, "db_" + name):
        path = shutil.which(candidate)
        if path:
            return path
    return None


def segv_not_reported():
    """Environment for an orchidd a test makes panic on purpose (a corrupt
    page, a failed flush): a panic can catch another process inside
    Berkeley DB, which then dies of SIGSEGV (docs/reliability.md, "Berkeley
    DB panics"); such tests count those deaths, and in the sanitizer build
    they must not become reports, which fail the whole stage. Both
    variables: the combined runtime reads its common flags from each."""
    env = {}
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        env[var] = ":".join(x for x in (os.environ.get(var, ""), "handle_segv=0") if x)
    return env


def metric(server, name):
    """The value of a metric without labels from server's /metrics, or None."""
    st, _, body, _ = server.request("GET", "/metrics")
    if st != 200:
        return None
    for line in body.decode(errors="replace").splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def hold_page(db_load, datadir, dbfile, key_hex):
    """Starts db_load on dbfile in the environment at datadir and has it put
    one record (key key_hex, an empty value) in a transaction it keeps open,
    so that it holds the write lock on that record's page. Returns (proc,
    release): release() makes db_load abort its transaction (a line that is
    neither data nor DATA=END; end of input would commit it) and returns its
    exit status."""
    load = subprocess.Popen([db_load, "-h", datadir, dbfile], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def release():
        if load.poll() is None:
            try:
                load.stdin.write(b"not data\n")
                load.stdin.close()
            except OSError:
                pass
        try:
            return load.wait(30)
        except subprocess.TimeoutExpired:
            load.kill()
            return load.wait(30)

    load.stdin.write(b"VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n %s\n 00\n"
                     % key_hex.encode())
    load.stdin.flush()
    return load, release


def _stop_all():
    # A test stopped by its watchdog in the middle of a cleanup can leave a
    # server running: never leave processes behind when the run ends.
    for srv in list(_live):
        try:
            srv.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_stop_all)


def _free_port():
    # Bound and released again: another process could take it in between,
    # which start() survives by retrying with another port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path, lines):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "(no %s)" % path
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


def _proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def _proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return None


def _proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _proc_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


class ServerError(Exception):
    pass


class Server:
    """orchidd + nginx on a free loopback port, in a temporary directory.

    workers, durability, log_level and extra (a dict of further config keys)
    go into orchidd.conf; env (a dict) is added to orchidd's environment (not
    nginx's). nginx_replace ({text: text}) replaces text that appears once in
    orchid-dev.conf.in (its http-level lines). nginx_settings ({directive:
    value}) replaces the value of
    directives that conf/nginx/orchid-locations.conf sets (each must be set
    there; every place it is set, the bulk location's too), e.g.
    {"fastcgi_read_timeout": "1s"}.
    port fixes nginx's port (a replication group's sites know each other's
    URLs before they start); wait_ready=False returns from start() without
    waiting for orchidd (a replica may wait for its group).
    start() returns self; stop() is idempotent.
    """

    def __init__(self, workers=2, durability=None, log_level=None, extra=None,
                 startup_timeout=30.0, env=None, nginx_settings=None, nginx_replace=None,
                 port=None, wait_ready=True):
        self.fixed_port = port
        self.wait_at_start = wait_ready
        self.workers = workers
        self.env = dict(env or {})
        self.durability = durability
        self.log_level = log_level
        self.extra = dict(extra or {})
        self.nginx_settings = dict(nginx_settings or {})
        self.nginx_replace = dict(nginx_replace or {})
        self.startup_timeout = startup_timeout
        self.tmp = None
        self.port = None
        self.orchidd_proc = None
        self.nginx_proc = None
        self._orchidd_log = None
        self._saved_tails = None

    # ---- paths -----------------------------------------------------------
    @property
    def conf_path(self):
        return os.path.join(self.tmp, "orchidd.conf")

    @property
    def datadir(self):
        return os.path.join(self.tmp, "db")

    @property
    def socket_path(self):
        return os.path.join(self.tmp, "run", "orchidd.sock")

    @property
    def nginx_prefix(self):
        return os.path.join(self.tmp, "nginx")

    @property
    def orchidd_log(self):
        return os.path.join(self.tmp, "orchidd.log")

    @property
    def nginx_error_log(self):
        return os.path.join(self.nginx_prefix, "error.log")

    @property
    def nginx_access_log(self):
        return os.path.join(self.nginx_prefix, "access.log")

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    # ---- lifecycle -------------------------------------------------------
    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not KEEP:
            sys.stderr.write(self.tails() + "\n")
        self.stop()
        return False

    def start(self):
        for path in (ORCHIDD, ORCHIDCTL):
            if not os.access(path, os.X_OK):
                raise ServerError("%s is not built (set ORCHIDD/ORCHIDCTL or run make)" % path)
        nginx = find_nginx()
        if not nginx:
            raise ServerError("nginx is not installed")
        base = os.environ.get("TMPDIR") or "/tmp"
        self.tmp = tempfile.mkdtemp(prefix="orchid-e2e-", dir=base)
        if len(self.socket_path) > 100:
            # sun_path holds 108 bytes; a long TMPDIR would not fit.
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = tempfile.mkdtemp(prefix="orchid-e2e-", dir="/tmp")
        os.makedirs(self.datadir)
        os.makedirs(os.path.dirname(self.socket_path))
        os.makedirs(self.nginx_prefix)
        self._write_orchidd_conf()
        _live.append(self)
        try:
            self.start_orchidd()
            for attempt in range(3):
                self.port = self.fixed_port or _free_port()
                self._write_nginx_conf()
                self._start_nginx(nginx)
                if not self.wait_at_start:
                    return self
                if self._wait_ready():
                    self._wait_workers()
                    return self
                if self.nginx_proc.poll() is None or attempt == 2:
                    break
                # nginx exited: most likely the port was taken meanwhile.
            raise ServerError("server did not become ready\n" + self.tails())
        except BaseException:
            self.stop()
            raise

    def _write_orchidd_conf(self):
        lines = [
            "# written by tests/e2e/harness.py",
            "datadir = %s" % self.datadir,
            "socket = %s" % self.socket_path,
            "socket_mode = 0660",
            "workers = %d" % self.workers,
        ]
        if self.durability:
            lines.append("durability = %s" % self.durability)
        if self.log_level:
            lines.append("log_level = %s" % self.log_level)
        # One tenant hammering a few workers is how most tests find races:
        # tenant_max_inflight would answer them 429 tenant_busy, so it is
        # off unless a test sets it (None: orchidd's default, test_fair.py).
        extra = dict(self.extra)
        extra.setdefault("tenant_max_inflight", 0)
        for k, v in extra.items():
            if v is not None:
                lines.append("%s = %s" % (k, v))
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _write_nginx_conf(self):
        with open(os.path.join(CONFDIR, "orchid-dev.conf.in")) as f:
            text = f.read()
        # As root nginx would run its workers as nobody, which cannot open
        # the root-owned 0660 socket.
        user_line = "user root root;" if os.geteuid() == 0 else ""
        for name, value in (("@PORT@", str(self.port)), ("@SOCKET@", self.socket_path),
                            ("@PREFIX@", self.nginx_prefix), ("@CONFDIR@", CONFDIR),
                            ("@CONSOLEDIR@", CONSOLEDIR),
                            ("@USER_LINE@", user_line)):
            text = text.replace(name, value)
        for old_text, new_text in self.nginx_replace.items():
            # Text of orchid-dev.conf.in itself (its http-level lines).
            if text.count(old_text) != 1:
                raise ServerError("orchid-dev.conf.in does not hold %r once" % old_text)
            text = text.replace(old_text, new_text)
        if self.nginx_settings:
            # A copy of the locations with the settings replaced, included
            # in place of the source tree's.
            locations = os.path.join(self.nginx_prefix, "orchid-locations.conf")
            source = os.path.join(CONFDIR, "orchid-locations.conf")
            if text.count("include %s;" % source) != 1:
                raise ServerError("orchid-dev.conf.in does not include %s once" % source)
            text = text.replace("include %s;" % source, "include %s;" % locations)
            with open(source) as f:
                loc = f.read()
            for name, value in self.nginx_settings.items():
                loc, n = re.subn(r"(?m)^(\s*%s\s+)[^;]*;" % re.escape(name),
                                 lambda m: m.group(1) + value + ";", loc)
                if n == 0:
                    raise ServerError("orchid-locations.conf does not set %s" % name)
            with open(locations, "w") as f:
                f.write(loc)
        with open(os.path.join(self.nginx_prefix, "nginx.conf"), "w") as f:
            f.write(text)
        shutil.copy(os.path.join(CONFDIR, "fastcgi_params"),
                    os.path.join(self.nginx_prefix, "fastcgi_params"))

    def start_orchidd(self):
        """Start orchidd (in its own session and process group)."""
        if self.orchidd_proc is not None and self.orchidd_proc.poll() is None:
            raise ServerError("orchidd is already running")
        if self._orchidd_log:
            self._orchidd_log.close()
        self._orchidd_log = open(self.orchidd_log, "ab")
        self.orchidd_proc = subprocess.Popen(
            [ORCHIDD, "-f", "-c", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self._orchidd_log, stderr=subprocess.STDOUT,
            start_new_session=True, env=dict(os.environ, **self.env) if self.env else None)
        return self.orchidd_proc.pid

    def _start_nginx(self, nginx):
        if self.nginx_proc is not None and self.nginx_proc.poll() is None:
            self._stop_proc(self.nginx_proc, signal.SIGQUIT, 10)
        prefix = self.nginx_prefix
        out = open(os.path.join(prefix, "nginx.out"), "ab")
        try:
            # -e: no early write to Debian's compiled-in /var/log/nginx.
            self.nginx_proc = subprocess.Popen(
                [nginx, "-p", prefix, "-e", self.nginx_error_log,
                 "-c", os.path.join(prefix, "nginx.conf"), "-g", "daemon off;"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            out.close()

    def _wait_ready(self):
        """True once a request reaches orchidd through nginx (/v0 without a
        key answers 401); False if nginx died; raises if orchidd died."""
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.nginx_proc.poll() is not None:
                return False
            if self.orchidd_proc.poll() is not None:
                raise ServerError("orchidd exited with %s during startup\n%s"
                                  % (self.orchidd_proc.returncode, self.tails()))
            try:
                status = self.request("GET", "/v0", timeout=5)[0]
                if status == 401:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        return False

    def wait_ready(self, timeout=30.0):
        """After a restart or a crash: wait until orchidd answers again."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/v0", timeout=5)[0] == 401:
                    self._wait_workers()
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        raise ServerError("orchidd did not answer within %.0f s\n%s" % (timeout, self.tails()))

    def _wait_workers(self, timeout=15.0):
        """One worker answering does not mean every worker is forked and
        named yet (on a busy machine): wait, bounded, until all are, so that
        tests counting processes see the whole set."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.orchidd_pids()
            indexer = pids["indexer"] or str(self.extra.get("search", "1")) == "0"
            if len(pids["workers"]) >= self.workers and pids["maintainer"] and indexer:
                return
            time.sleep(0.05)

    def _stop_proc(self, proc, sig, timeout):
        """Signal proc, wait up to timeout, then SIGKILL its whole process
        group (orchidd's children stay in it, even if the master is gone)."""
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            return proc.wait(5)
        except subprocess.TimeoutExpired:
            return None

    def stop_orchidd(self, timeout=30):
        """Graceful stop (SIGTERM, as systemd does); returns the exit status."""
        rc = self._stop_proc(self.orchidd_proc, signal.SIGTERM, timeout)
        if self._orchidd_log:
            self._orchidd_log.close()
            self._orchidd_log = None
        return rc

    def kill_orchidd(self, sig=signal.SIGKILL):
        """Send sig to the orchidd master only (children are left alone)."""
        self.orchidd_proc.send_signal(sig)

    def restart(self, timeout=30):
        """Stop orchidd gracefully and start it again on the same data;
        nginx stays up. Returns when requests are answered again."""
        self.stop_orchidd(timeout)
        self.start_orchidd()
        self.wait_ready()

    def stop(self):
        if self.tmp is None:
            return
        self.stop_orchidd()
        self._stop_proc(self.nginx_proc, signal.SIGQUIT, 10)
        self._saved_tails = self.tails()
        if self in _live:
            _live.remove(self)
            _recent.append(self)
        if KEEP:
            sys.stderr.write(self._saved_tails + "\nkept: %s\n" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None

    def tails(self, lines=40):
        if self.tmp is None:
            return self._saved_tails or ""
        parts = ["==== orchid e2e server %s (port %s) ====" % (self.tmp, self.port)]
        for title, path in (("orchidd log", self.orchidd_log),
                            ("nginx error.log", self.nginx_error_log),
                            ("nginx access.log", self.nginx_access_log)):
            parts.append("---- %s (last %d lines) ----" % (title, lines))
            parts.append(_tail(path, lines))
        return "\n".join(parts)

    # ---- admin -----------------------------------------------------------
    def orchidctl(self, *args, check=True, timeout=60):
        """Run orchidctl against this server's config."""
        proc = subprocess.run([ORCHIDCTL, "-c", self.conf_path] + list(args),
                              stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise ServerError("orchidctl %s failed (%d): %s" % (
                " ".join(args), proc.returncode,
                proc.stderr.decode("utf-8", "replace")))
        return proc

    def new_key(self, tenant):
        """A new API key for tenant (created if needed)."""
        out = self.orchidctl("key", "create", tenant).stdout.decode().strip()
        lines = out.splitlines()
        if len(lines) != 1:
            raise ServerError("orchidctl key create printed %r" % out)
        return lines[0].strip()

    # ---- processes -------------------------------------------------------
    def orchidd_pids(self):
        """{"master": pid or None, "maintainer": pid or None, "indexer": pid or
        None, "workers": [pids]}

        Found through /proc: every orchidd process of this server has this
        server's config path in its argv (children keep the master's argv and
        only change their name: orchidd-maint, orchidd-index, orchidd-worker). Children that
        outlived a killed master are still listed. Zombies are left out, and
        so is a child forked a moment ago that has not taken its name yet
        (its parent is the master).
        """
        result = {"master": None, "maintainer": None, "indexer": None, "workers": []}
        unnamed = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            argv = _proc_cmdline(pid)
            if not argv or self.conf_path not in argv:
                continue
            if _proc_state(pid) in (None, "Z", "X"):
                continue
            comm = _proc_comm(pid)
            if comm == "orchidd-worker":
                result["workers"].append(pid)
            elif comm == "orchidd-maint":
                result["maintainer"] = pid
            elif comm == "orchidd-index":
                result["indexer"] = pid
            elif comm is not None and not argv[0].endswith("orchidctl"):
                unnamed.append(pid)
        for pid in unnamed:
            if _proc_ppid(pid) not in unnamed:
                result["master"] = pid
        result["workers"].sort()
        return result

    # ---- HTTP ------------------------------------------------------------
    def request(self, method, path, key=None, body=None, headers=None, raw_body=None,
                timeout=60):
        """One request on a new connection.

        body: a JSON value, sent encoded with Content-Type: application/json.
        raw_body: bytes (or str) sent as is; Content-Type defaults to JSON.
        headers: extra headers; a value of None removes a default header.
        Returns (status, headers with lower-case names, body bytes, parsed
        JSON or None). Repeated headers are joined with ", ".
        """
        hdrs = {}
        data = None
        if body is not None and raw_body is not None:
            raise ValueError("give body or raw_body, not both")
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
        elif raw_body is not None:
            data = raw_body.encode() if isinstance(raw_body, str) else raw_body
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        if key is not None:
            token = base64.b64encode(("%s:" % key).encode()).decode()
            hdrs["Authorization"] = "Basic " + token
        for k, v in (headers or {}).items():
            for existing in [h for h in hdrs if h.lower() == k.lower()]:
                del hdrs[existing]
            if v is not None:
                hdrs[k] = v
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            payload = resp.read()
            out = {}
            for k, v in resp.getheaders():
                k = k.lower()
                out[k] = out[k] + ", " + v if k in out else v
            return resp.status, out, payload, _parse_json(payload)
        finally:
            conn.close()

    def raw(self, data, timeout=10):
        """Send raw bytes on a new connection; return everything read back
        until the server closes (or the timeout)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
            except socket.timeout:
                pass
            return b"".join(chunks)


def _parse_json(payload):
    if not payload:
        return None
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


class ServerTestCase(unittest.TestCase):
    """One server per test class: cls.server. Options in server_options."""

    server_options = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server(**cls.server_options)
        # Outside any test, so outside run.py's per-test watchdog.
        arm_watchdog(DEFAULT_TEST_TIMEOUT, "starting the server of %s" % cls.__name__)
        try:
            cls.server.start()
        finally:
            disarm_watchdog()
        cls.addClassCleanup(cls.server.stop)

    def assertJsonError(self, resp, status, code):
        """resp is request()'s tuple: a JSON error {"message","code"} with
        the request id header."""
        st, headers, body, doc = resp
        self.assertEqual(st, status, body)
        self.assertIn("application/json", headers.get("content-type", ""))
        self.assertIsInstance(doc, dict, body)
        self.assertEqual(doc.get("code"), code, body)
        self.assertIsInstance(doc.get("message"), str)
        self.assertRegex(headers.get("x-orchestrate-req-id", ""), UUID_RE)
