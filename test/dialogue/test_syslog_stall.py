"""A log daemon that stops reading must not stop popserv (issue 13, item 8).

popserv runs in a private mount namespace whose /dev is a directory of
this test: /dev/null and the few devices it may open are bind-mounted
from the real /dev, and /dev/log is a datagram socket the test bound and
reads only when it wants to. The host's /dev is never touched. A second
test gives popserv -d a stderr pipe that nobody reads.

    stall:  60 failed logins and 8,000 debug lines, log socket full
            -> every greeting and answer within a second
    read:   RFC 3164 lines, every failure line, "log: N lines dropped"
    keep up: every failure line of 50 more logins arrives
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import pop3test
from pop3test import TestCase

PROMPT = 2.0            # a frozen loop answers nothing within this
GREET_MAX = 1.0         # every greeting, log socket full or not
# <PRI>Mmm dd hh:mm:ss popserv[pid]: message, as glibc's syslog(3) frames it
RFC3164 = re.compile(r"<(\d+)>(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
                     r"Nov|Dec) [ 1-3]\d \d\d:\d\d:\d\d popserv\[(\d+)\]: "
                     r"(.*)", re.S)
LOCAL0 = {16 * 8 + 4, 16 * 8 + 6, 16 * 8 + 7}     # warning, info, debug
DROPPED = re.compile(r"log: (\d+) lines dropped")
FAILED = re.compile(r'user="([^"]*)" result=failed')
DEVICES = ("null", "zero", "full", "random", "urandom")

# In the namespace: devices into the test's directory, it over /dev, exec.
NS_SCRIPT = r"""
set -e
d=$1; shift
for n in %s; do
	[ -e "/dev/$n" ] || continue
	: > "$d/$n"
	mount --bind "/dev/$n" "$d/$n"
done
ln -s /proc/self/fd "$d/fd"
mount --rbind "$d" /dev
exec "$@"
""" % " ".join(DEVICES)


def can_unshare():
    """Root, unshare(1), and a private mount namespace work here."""
    if os.getuid() != 0 or shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "--mount", "--propagation",
                               "private", "true"], timeout=10,
                              stderr=subprocess.DEVNULL).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class DevLog:
    """The directory mounted over /dev, with the socket that is /dev/log."""

    def __init__(self, parent):
        self.dir = os.path.join(parent, "dev")
        os.mkdir(self.dir)
        self.path = os.path.join(self.dir, "log")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.lines = []
        self.lock = threading.Lock()
        self.reader = None
        self.stopping = False

    def drain(self, quiet=1.0, limit=30.0):
        """Read until nothing came for quiet seconds; returns the lines."""
        got = []
        deadline = time.monotonic() + limit
        self.sock.settimeout(quiet)
        while time.monotonic() < deadline:
            try:
                got.append(self.sock.recv(65536).decode("utf-8",
                                                        "replace"))
            except socket.timeout:
                break
        with self.lock:
            self.lines += got
        return got

    def keep_up(self):
        """From now on, a thread reads every datagram as it comes."""
        def run():
            self.sock.settimeout(0.2)
            while not self.stopping:
                try:
                    data = self.sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                with self.lock:
                    self.lines.append(data.decode("utf-8", "replace"))
        self.reader = threading.Thread(target=run, daemon=True)
        self.reader.start()

    def wait(self, pattern, timeout=pop3test.TIMEOUT):
        """Wait until a line read so far matches; returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
            time.sleep(0.02)
        raise AssertionError("no syslog line matches %r" % pattern)

    def close(self):
        self.stopping = True
        if self.reader is not None:
            self.reader.join(5)
        self.sock.close()


class StallServer(pop3test.Server):
    """popserv -d with a /dev/log of the test's (devlog=True, in its own
    mount namespace) or with stderr going to a descriptor of the test's."""

    def __init__(self, devlog=False, stderr=None, **kw):
        self.stderr = stderr
        super().__init__(start=False, crypt=False, **kw)
        self.devlog = DevLog(self.dir) if devlog else None
        self.start()

    def start(self):
        self.logf = open(self.log_path, "ab")
        argv = [pop3test.POPSERV, "-d", "-C", self.conf_path]
        if self.devlog is not None:
            argv = ["unshare", "--mount", "--propagation", "private",
                    "sh", "-c", NS_SCRIPT, "ns", self.devlog.dir] + argv
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self.logf,
            stderr=self.logf if self.stderr is None else self.stderr,
            cwd=self.dir)
        return self.wait_listening()

    def __exit__(self, *exc):
        try:
            super().__exit__(*exc)
        finally:
            if self.devlog is not None:
                self.devlog.close()


def failed_login(srv, user, password):
    """Connect, fail once, quit; returns the seconds the greeting took."""
    t0 = time.monotonic()
    c = srv.connect(timeout=PROMPT)
    try:
        c.expect_ok(PROMPT)
        greeting = time.monotonic() - t0
        c.send("USER " + user).expect_ok(PROMPT)
        c.send("PASS " + password).expect(
            "-ERR [AUTH] Authentication failed.", PROMPT)
        c.send("QUIT").expect_ok(PROMPT)
    finally:
        c.close()
    return greeting


def chatter(srv, lines, chunk=500):
    """One session sends lines unknown commands (a debug line each, about
    200 bytes framed) and reads every answer."""
    c = srv.connect(timeout=PROMPT)
    try:
        c.expect_ok(PROMPT)
        cmd = b"XYZZY" + b"x" * 95 + b"\r\n"
        for done in range(0, lines, chunk):
            n = min(chunk, lines - done)
            c.send_raw(cmd * n)
            for _ in range(n):
                c.expect_err(PROMPT)
        c.send("QUIT").expect_ok(PROMPT)
    finally:
        c.close()


class SyslogStall(TestCase):
    """A /dev/log that stops reading, then reads again."""

    def setUp(self):
        if not can_unshare():
            self.skipTest("needs root and a private mount namespace")

    def server(self, **kw):
        srv = StallServer(**kw)
        self.addCleanup(srv.__exit__, None, None, None)
        return srv

    def test_stalled_log_daemon(self):
        srv = self.server(devlog=True, users={"joe": "secret"})
        log = srv.devlog

        # Nobody reads /dev/log: syslog(3) would block after ten lines.
        greetings = [failed_login(srv, "joe", "Wr0ng%d" % i)
                     for i in range(30)]
        # Far more than the 1 MiB queue holds.
        t0 = time.monotonic()
        chatter(srv, 8000)
        chatter_s = time.monotonic() - t0
        greetings += [failed_login(srv, "late%d" % i, "Wr0ng")
                      for i in range(30)]
        print("60 failed logins with the log socket full: slowest "
              "greeting %.3f s; 8000 commands in %.2f s"
              % (max(greetings), chatter_s))
        self.assertLess(max(greetings), GREET_MAX)
        self.assertIsNone(srv.proc.poll())

        # The daemon reads again: what was queued arrives, then a notice.
        lines = log.drain()
        self.assertGreater(len(lines), 30)
        for line in lines:
            m = RFC3164.fullmatch(line)
            self.assertIsNotNone(m, "not RFC 3164: %r" % line)
            self.assertIn(int(m.group(1)), LOCAL0, line)
            self.assertEqual(int(m.group(2)), srv.proc.pid, line)
            self.assertNotIn("Wr0ng", line)
        failed = [FAILED.search(l).group(1) for l in lines if
                  FAILED.search(l)]
        # Queued before the queue filled: every one of them is there.
        self.assertEqual(failed.count("joe"), 30)
        dropped = [int(DROPPED.search(l).group(1)) for l in lines
                   if DROPPED.search(l)]
        self.assertEqual(len(dropped), 1, "one notice after one stall")
        self.assertGreater(dropped[0], 1000)
        notice = [l for l in lines if DROPPED.search(l)][0]
        self.assertTrue(notice.startswith("<132>"), notice)   # warning

        # Reading as fast as lines come: the counters, then no failure
        # line is missing.
        log.keep_up()
        srv.signal(signal.SIGUSR1)
        m = log.wait(r"stats sessions=.* log_dropped=(\d+) starting=\d+$")
        self.assertGreaterEqual(int(m.group(1)), dropped[0])
        for i in range(50):
            self.assertLess(failed_login(srv, "kept%d" % i, "Wr0ng"),
                            GREET_MAX)
        log.wait(r'user="kept49" result=failed')
        with log.lock:
            seen = set(FAILED.search(l).group(1) for l in log.lines
                       if FAILED.search(l))
            later = log.lines[len(lines):]
        self.assertEqual(set("kept%d" % i for i in range(50)) - seen, set())
        self.assertFalse([l for l in later if DROPPED.search(l)])
        self.assertEqual(srv.stop(), 0)


class StderrStall(TestCase):
    """popserv -d whose stderr is a pipe nobody reads."""

    def test_unread_stderr(self):
        rfd, wfd = os.pipe()
        self.addCleanup(os.close, rfd)
        try:
            srv = StallServer(stderr=wfd, users={"joe": "secret"})
        finally:
            os.close(wfd)
        self.addCleanup(srv.__exit__, None, None, None)
        # 2,000 debug lines, about 300 KiB: the pipe holds 64 KiB.
        chatter(srv, 2000)
        greetings = [failed_login(srv, "u%d" % i, "Wr0ng")
                     for i in range(50)]
        self.assertLess(max(greetings), GREET_MAX)
        self.assertIsNone(srv.proc.poll())

        # Read it now: every line comes out, whole and in order.
        out = []

        def read():
            while True:
                data = os.read(rfd, 65536)
                if not data:
                    return
                out.append(data)
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        self.assertEqual(srv.stop(), 0)
        reader.join(pop3test.TIMEOUT)
        text = b"".join(out).decode("utf-8", "replace")
        users = FAILED.findall(text)
        self.assertEqual(users, ["u%d" % i for i in range(50)])
        self.assertEqual(text.count("unknown command"), 2000)
        self.assertIn("popserv exiting", text)
        self.assertNotIn("Wr0ng", text)


if __name__ == "__main__":
    unittest.main()
