"""Dialogue-test harness: run the real popserv on loopback and talk POP3.

A test reads like a transcript:

    with Server(users={"joe": "secret"}) as srv:
        c = srv.connect()
        c.expect_ok()                  # the greeting
        c.send("USER joe").expect_ok()
        c.send("PASS wrong").expect("-ERR [AUTH] Authentication failed.")

Everything (configuration, user file, Maildirs, logs) lives in a temporary
directory that is removed afterwards; the server is always stopped.
"""

import collections
import crypt
import ctypes
import ctypes.util
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

POPSERV = os.environ.get("POPSERV", "popserv")
POPIT = os.environ.get("POPIT", "popit")
SOURCE_DIR = os.environ.get("POPSERV_SOURCE_DIR",
                            os.path.join(os.path.dirname(__file__), "..", ".."))
TIMEOUT = 10.0
TEST_UID = TEST_GID = 65534
# What AddressSanitizer, LeakSanitizer and UBSan print on a finding.
SANITIZER_REPORT = re.compile(r"ERROR: (?:Address|Leak)Sanitizer|"
                              r"runtime error: ")
STOP_TIMEOUT = TIMEOUT
# POPSERV_VALGRIND=1 runs popserv under valgrind's memcheck (a build with
# -DPOPSERV_VALGRIND=ON, see docs/security.md): any error it reports, a
# definite leak included, fails the test at stop(). Everything is slower
# under valgrind, so tests with tight time bounds may fail for that alone.
VALGRIND = os.environ.get("POPSERV_VALGRIND") == "1"
VALGRIND_ARGS = ["valgrind", "-q", "--error-exitcode=99", "--vgdb=no",
                 "--leak-check=full", "--show-leak-kinds=definite",
                 "--errors-for-leak-kinds=definite", "--num-callers=30"]
if VALGRIND:
    TIMEOUT = 30.0
    STOP_TIMEOUT = 120.0


def chown_tree(path, uid, gid):
    """chown -R, for Maildirs that popit reads as the test user."""
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.chown(os.path.join(root, n), uid, gid, follow_symlinks=False)


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A TCP port nobody listens on at the moment."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def run_popserv(*args, timeout=TIMEOUT, env=None):
    """Run popserv to completion; returns (exit code, stdout, stderr)."""
    p = subprocess.run([POPSERV, *args], capture_output=True, text=True,
                       timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def hash_password(secret, method=None):
    """A crypt(3) hash; method is a crypt.METHOD_*, a (crypt.METHOD_*,
    rounds) pair, or None for the default."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if isinstance(method, tuple):
            return crypt.crypt(secret, crypt.mksalt(method[0],
                                                    rounds=method[1]))
        return crypt.crypt(secret, crypt.mksalt(method) if method else None)


def gensalt(prefix, count=0):
    """A crypt(3) setting from libxcrypt's crypt_gensalt(prefix, count)."""
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    lib = ctypes.CDLL(name)
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong,
                                  ctypes.c_char_p, ctypes.c_int]
    s = lib.crypt_gensalt(prefix.encode(), count, None, 0)
    if s is None or s.startswith(b"*"):
        raise RuntimeError("crypt_gensalt(%r, %d) failed" % (prefix, count))
    return s.decode()


def hash_with(secret, setting):
    """crypt(secret, setting), checked to be a real hash."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        h = crypt.crypt(secret, setting)
    if not h or h.startswith("*") or crypt.crypt(secret, h) != h:
        raise RuntimeError("crypt(%r) gave %r" % (setting, h))
    return h


SlowHash = collections.namedtuple("SlowHash", "hash took")


def slow_hash(secret, seconds=0.4, method="sha512"):
    """A crypt(3) hash that takes about seconds to check here; returns a
    SlowHash (hash, took: the seconds one check took, or None).

    "sha512": SHA-512 crypt with its rounds scaled at 4,000,000 a second,
    made at once and not measured (took is None). "yescrypt": costs are
    tried upwards from 8 until one check takes at least seconds (or the
    cost limit, 11); took is what the last one took.
    """
    if method == "sha512":
        rounds = max(1000, min(999999999, int(seconds * 4000000)))
        return SlowHash(hash_password(secret, (crypt.METHOD_SHA512,
                                               rounds)), None)
    if method != "yescrypt":
        raise ValueError("slow_hash: no method %r" % method)
    best = None
    for cost in range(8, 12):
        h = hash_with(secret, gensalt("$y$", cost))
        t0 = time.monotonic()
        hash_with(secret, h)
        took = time.monotonic() - t0
        best = SlowHash(h, took)
        if took >= seconds:
            break
    return best


def wait_for(cond, timeout=10.0, what="condition", every=0.05):
    """Call cond until it returns something true (returned), at most
    timeout seconds; AssertionError naming what after that."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(every)


def private_etc(files):
    """A wrapper (Server(wrapper=...)) that runs popserv in a private
    mount namespace where each of files (e.g. {"/etc/passwd": path})
    is bind-mounted over: a system user database of the test's own,
    seen by NSS in popserv only. Needs root."""
    script = ['set -e']
    args = []
    for i, (target, source) in enumerate(sorted(files.items())):
        script.append('mount --bind "$%d" "$%d"' % (2 * i + 1, 2 * i + 2))
        args += [source, target]
    script.append('shift %d' % len(args))
    script.append('exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            "; ".join(script), "private-etc"] + args


def make_maildir(path, messages=()):
    """Create a Maildir; messages are bytes, delivered to new/ in order."""
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    names = []
    for i, body in enumerate(messages):
        name = "%d.M%dP%d.test" % (1700000000 + i, i, os.getpid())
        with open(os.path.join(path, "new", name), "wb") as f:
            f.write(body)
        names.append(name)
    return names


class Client:
    """One POP3 connection, read and written a line at a time."""

    def __init__(self, sock, name=""):
        self.sock = sock
        self.sock.settimeout(TIMEOUT)
        self.buf = b""
        self.name = name

    def send(self, line):
        """Send line (str or bytes) with CRLF appended."""
        data = line if isinstance(line, bytes) else line.encode()
        self.sock.sendall(data + b"\r\n")
        return self

    def send_raw(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())
        return self

    def readline(self, timeout=TIMEOUT):
        """One line without its CRLF; raises EOFError at end of stream."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line within %.1fs (have %r)"
                                   % (timeout, self.buf))
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed (have %r)" % self.buf)
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def expect(self, want, timeout=TIMEOUT):
        """Read a line; it must equal want, or match want if it is a regex."""
        line = self.readline(timeout)
        if isinstance(want, re.Pattern):
            if not want.fullmatch(line):
                raise AssertionError("%r does not match %r"
                                     % (line, want.pattern))
        elif line != want:
            raise AssertionError("expected %r, got %r" % (want, line))
        return self

    def expect_ok(self, timeout=TIMEOUT):
        return self.expect(re.compile(r"\+OK.*"), timeout)

    def expect_err(self, timeout=TIMEOUT):
        return self.expect(re.compile(r"-ERR.*"), timeout)

    def multiline(self, timeout=TIMEOUT):
        """Read a multi-line body up to the '.' line; dot-unstuffed."""
        lines = []
        while True:
            line = self.readline(timeout)
            if line == ".":
                return lines
            lines.append(line[1:] if line.startswith(".") else line)

    def expect_closed(self, timeout=TIMEOUT):
        """The server must close the connection without sending more."""
        deadline = time.monotonic() + timeout
        while True:
            if self.buf:
                raise AssertionError("expected close, got %r" % self.buf)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("connection still open")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except ConnectionResetError:
                return self
            if not data:
                return self
            self.buf += data

    def close(self):
        self.sock.close()


class Server:
    """A popserv process on a loopback port with a temporary configuration.

    conf: extra configuration lines (str). users: name -> password, or
    name -> dict(password=, uid=, gid=, home=, hashed=). maildirs: name ->
    list of messages (bytes) for that user's Maildir under its home.
    preexec: a function run in the child before popserv is exec'd (to
    set resource limits). wrapper: argv that popserv's own argv is
    appended to (unshare(1) for a private mount or pid namespace).
    """

    def __init__(self, conf="", users=None, maildirs=None, crypt=True,
                 port=None, host="127.0.0.1", args=(), popit=None,
                 bind=True, start=True, preexec=None, wrapper=()):
        self.tmp = tempfile.TemporaryDirectory(prefix="popserv-test-")
        self.dir = self.tmp.name
        os.chmod(self.dir, 0o755)       # popit runs as the test user
        self.host = host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.family = family
        self.port = port or free_port(family, host)
        self.conf_path = os.path.join(self.dir, "popserv.conf")
        self.userfile = os.path.join(self.dir, "passwd")
        self.log_path = os.path.join(self.dir, "popserv.log")
        self.log_checked = 0            # bytes searched for reports
        self.proc = None
        self.args = list(args)
        self.preexec = preexec          # Popen's preexec_fn (limits)
        self.wrapper = list(wrapper)
        self.crypt = crypt
        self.users = {}
        self.write_users(users or {}, maildirs or {})
        lines = ["# written by the test harness",
                 "userdb file %s" % self.userfile,
                 "crypt %d" % (1 if crypt else 0),
                 "faildelay 0",
                 "popit %s" % (popit or POPIT)]
        if bind:
            addr = "[%s]" % host if family == socket.AF_INET6 else host
            lines.insert(1, "bindto %s:%d" % (addr, self.port))
        self.conf = "\n".join(lines) + "\n" + conf + "\n"
        with open(self.conf_path, "w") as f:
            f.write(self.conf)
        if start:
            self.start()

    def home(self, user):
        return os.path.join(self.dir, "home", user)

    def write_users(self, users, maildirs=None):
        """(Re)write the passwd-format user file.

        As root, users get uid/gid 65534 (nobody), since popserv refuses
        uid 0 and popit refuses root; their homes are chowned to match.
        """
        uid, gid = (TEST_UID, TEST_GID) if os.getuid() == 0 else \
            (os.getuid(), os.getgid())
        out = []
        for name, spec in users.items():
            if isinstance(spec, str):
                spec = {"password": spec}
            password = spec["password"]
            stored = password
            if self.crypt and not spec.get("hashed"):
                stored = hash_password(password, spec.get("method"))
            home = spec.get("home", self.home(name))
            os.makedirs(home, exist_ok=True)
            if maildirs is not None and (name in maildirs or
                                         not os.path.isdir(os.path.join(home, "Maildir"))):
                make_maildir(os.path.join(home, "Maildir"),
                             maildirs.get(name, ()))
            if os.getuid() == 0:
                chown_tree(home, spec.get("uid", uid), spec.get("gid", gid))
            out.append("%s:%s:%d:%d:test user:%s:/bin/sh" % (
                name, stored, spec.get("uid", uid), spec.get("gid", gid),
                home))
            self.users[name] = spec
        tmp = self.userfile + ".new"
        with open(tmp, "w") as f:
            f.write("\n".join(out) + "\n")
        os.replace(tmp, self.userfile)

    def start(self):
        self.logf = open(self.log_path, "ab")
        argv = [POPSERV, "-d", "-C", self.conf_path, *self.args]
        if VALGRIND:
            # Writable after a uid/gid drop, for children too.
            vgdir = os.path.join(self.dir, "valgrind")
            os.makedirs(vgdir, exist_ok=True)
            os.chmod(vgdir, 0o1777)
            argv = VALGRIND_ARGS + ["--log-file=" + os.path.join(
                vgdir, "%p.log")] + argv
        argv = self.wrapper + argv
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            cwd=self.dir, preexec_fn=self.preexec)
        return self.wait_listening()

    def wait_listening(self, probe=None, every=0.02):
        """Wait until probe(self) succeeds (by default: a connection
        opened and closed; an OSError means not yet) and return self.
        RuntimeError with the log if popserv exits first, or after
        TIMEOUT seconds (then it is stopped)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("popserv exited %d:\n%s"
                                   % (self.proc.returncode, self.log()))
            try:
                if probe is None:
                    socket.create_connection((self.host, self.port),
                                             0.5).close()
                else:
                    probe(self)
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("popserv did not listen:\n"
                                       + self.log())
                time.sleep(every)

    def connect(self, timeout=TIMEOUT, source=None):
        s = socket.socket(self.family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        if source:
            s.bind((source, 0))
        s.connect((self.host, self.port))
        return Client(s)

    def login(self, user, password):
        """Connect and log in; returns the client after popit's +OK."""
        c = self.connect()
        c.expect_ok()
        c.send("USER " + user).expect_ok()
        c.send("PASS " + password).expect_ok()
        return c

    def timed_login(self, user, password):
        """Log in and QUIT; returns the seconds from PASS to popit's +OK."""
        c = self.connect()
        c.expect_ok()
        c.send("USER " + user).expect_ok()
        t0 = time.monotonic()
        c.send("PASS " + password).expect_ok()
        took = time.monotonic() - t0
        c.send("QUIT").expect_ok()
        c.close()
        return took

    def log_bytes(self):
        """popserv's log so far, complete lines only: a line popserv is
        still writing is left for the next read, so that no helper parses
        half a line (a "stats" line cut after "sessions=3" parsed as a
        short one, a "result=fai" matched as a result)."""
        with open(self.log_path, "rb") as f:
            raw = f.read()
        return raw[:raw.rfind(b"\n") + 1]

    def log(self):
        """log_bytes() as text."""
        return self.log_bytes().decode("utf-8", "replace")

    def log_mark(self):
        """Where the log ends now, for wait_log(since=)."""
        return len(self.log_bytes())

    def wait_log(self, pattern, *, count=None, since=0, timeout=TIMEOUT):
        """Wait until the regex matches the log's complete lines after
        byte offset since (a log_mark()); a pattern may span lines.

        Without count, returns the first match. With count, waits until
        the regex matches at least count times (non-overlapping) and
        returns every match. AssertionError after timeout seconds.
        """
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_bytes()[since:].decode("utf-8", "replace")
            if count is None:
                m = rx.search(text)
                if m:
                    return m
            else:
                found = list(rx.finditer(text))
                if len(found) >= count:
                    return found
            if time.monotonic() > deadline:
                what = "no match" if count is None else \
                    "%d of %d matches" % (len(found), count)
                raise AssertionError("%s for %r in the log%s:\n%s" % (
                    what, pattern, " since the mark" if since else "", text))
            time.sleep(0.02)

    def settle(self):
        """Wait until the harness's probe connection (session 1) has ended.

        start() connects once to see that popserv listens; until that
        session is closed it holds a slot of sameaddrmax and maxconn.
        """
        self.wait_log(r"session=1 ip=\S+ user=\"[^\"]*\" result=\S+")

    def pid(self):
        """popserv's pid: the process started (also a wrapper that execs
        it), or the wrapper's child (unshare --pid forks)."""
        if not self.wrapper:
            return self.proc.pid
        try:
            if os.readlink("/proc/%d/exe" % self.proc.pid) == \
                    os.path.realpath(POPSERV):
                return self.proc.pid
        except OSError:
            pass
        path = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                with open(path) as f:
                    kids = f.read().split()
            except FileNotFoundError:
                kids = []
            if kids:
                return int(kids[0])
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("no popserv under the wrapper")
            time.sleep(0.01)

    def wait_stats(self, pattern, timeout=TIMEOUT):
        """Ask for the counters (SIGUSR1) until a "stats" line logged after
        the asking matches the regex; returns the match. A login's
        counters (logins_ok, the accounting channels) move when popit has
        been started, which may be a moment after popit's own +OK reached
        the client: one SIGUSR1 right after a login can come too early."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            mark = len(self.log_bytes())
            self.signal(signal.SIGUSR1)
            ask_by = time.monotonic() + 0.5
            while time.monotonic() < ask_by:
                for line in self.log_bytes()[mark:].decode(
                        "utf-8", "replace").splitlines():
                    if line.startswith("stats "):
                        m = rx.search(line)
                        if m:
                            return m
                time.sleep(0.02)
            if time.monotonic() > deadline:
                raise AssertionError("no stats line matches %r in:\n%s"
                                     % (pattern, self.log()))

    def signal(self, sig):
        if self.wrapper:
            os.kill(self.pid(), sig)
        else:
            self.proc.send_signal(sig)

    def stop(self):
        """Stop popserv (SIGINT: immediate orderly exit); returns its code.

        Raises AssertionError when popserv's log (which popit's stderr
        and a TERM drain child share) holds a sanitizer report that no
        earlier stop() has raised for: an ASan, LSan or UBSan finding at
        exit fails the test that caused it, even when its exit status is
        not looked at.
        """
        if self.proc is None:
            self.check_sanitizers()
            return None
        if self.proc.poll() is None:
            try:
                self.signal(signal.SIGINT)
            except (RuntimeError, ProcessLookupError):
                pass
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        self.check_sanitizers()
        self.check_valgrind()
        return self.proc.returncode

    def check_valgrind(self):
        """Under POPSERV_VALGRIND=1: raise AssertionError for an error
        memcheck reported (each log is read once)."""
        if not VALGRIND:
            return
        import glob
        for path in sorted(glob.glob(os.path.join(self.dir, "valgrind",
                                                  "*.log"))):
            with open(path, errors="replace") as f:
                text = f.read()
            os.rename(path, path + ".seen")
            if text.strip():
                raise AssertionError("valgrind: %s\n%s"
                                     % (os.path.basename(path), text[:6000]))

    def check_sanitizers(self):
        """Raise AssertionError for a new sanitizer report in the log."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_checked)
                raw = f.read()
        except FileNotFoundError:
            return
        self.log_checked += len(raw)
        text = raw.decode("utf-8", "replace")
        m = SANITIZER_REPORT.search(text)
        if m:
            start = text.rfind("\n", 0, m.start()) + 1
            raise AssertionError("sanitizer report in popserv's log:\n"
                                 + text[start:start + 4000])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            if exc[0] is not None and os.environ.get("POPSERV_TEST_VERBOSE"):
                print(self.log())
            self.tmp.cleanup()


class TestCase(unittest.TestCase):
    """unittest.TestCase that shows popserv's log when a test fails."""

    def server(self, **kw):
        srv = Server(**kw)
        self.addCleanup(srv.__exit__, None, None, None)
        self._servers = getattr(self, "_servers", []) + [srv]
        return srv

    def run(self, result=None):
        r = super().run(result)
        return r
