"""Fault and abuse tests, part 1: floods and limits
(docs/security.md, "Exhaustion").

Each test is bounded in connections and time and talks to loopback
only. The figures they measure (CPU at the descriptor limit, memory for
18,000 sessions) are printed for docs/security.md.

What other files already cover is not repeated here: the descriptor
shortage with a few connections, a trickling client, a client leaving
mid-check (test_engine_limits), popit missing or crashing (test_handoff),
receivers and MySQL down (test_accounting, test_mysql), TERM with checks
pending (test_lifecycle).
"""

import os
import random
import socket
import struct
import sys
import threading
import time
import unittest

from abuse_util import (Crowd, cpu_seconds, nofile_preexec, open_fds,
                        raise_nofile, rss_kb, spread, stats, wait_stats)
from engine_util import (AUTH_FAILED, GREETING, SAMEADDR, STUB_OK, TestCase,
                         greet, nothing_pending, stub_server)
from pop3test import Client, Server, slow_hash


def figure(name, value):
    """Print a measured figure where ctest --output-on-failure and -V
    show it."""
    print("FIGURE %s: %s" % (name, value), file=sys.stderr)


def rst_close(sock):
    """Close with a reset (SO_LINGER 0): the client vanishes."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()


class HarnessChecksSanitizers(unittest.TestCase):
    """The harness fails a test whose popserv printed a sanitizer report
    (pop3test.Server.stop), so the findings below cannot go unseen."""

    def test_report_in_the_log_fails_stop(self):
        for report in ("==1==ERROR: AddressSanitizer: heap-use-after-free",
                       "==1==ERROR: LeakSanitizer: detected memory leaks",
                       "src/session.c:1:2: runtime error: signed integer "
                       "overflow"):
            with self.subTest(report=report):
                srv = Server(start=False)
                self.addCleanup(srv.tmp.cleanup)
                with open(srv.log_path, "w") as f:
                    f.write("session=1 ip=127.0.0.1 connected\n%s\n" % report)
                with self.assertRaisesRegex(AssertionError, "sanitizer"):
                    srv.stop()
                # Reported once: a second stop() has nothing new.
                self.assertIsNone(srv.stop())


class DescriptorLimit(TestCase):
    """popserv under RLIMIT_NOFILE 64, flooded far past it."""

    LIMIT = 64
    FLOOD = 200

    def test_flood_past_the_limit(self):
        srv = stub_server(self, conf="maxconn 1000",
                          preexec=nofile_preexec(self.LIMIT))
        pid = srv.proc.pid
        socks = []
        for _ in range(self.FLOOD):
            s = socket.create_connection((srv.host, srv.port), 10)
            socks.append(Client(s))
        self.addCleanup(lambda: [c.close() for c in socks])
        srv.wait_log(r"accept: Too many open files")
        # Those that got a session are greeted; the rest wait unserved.
        served = [c for c in socks if not nothing_pending(c, 0.01)]
        self.assertGreater(len(served), 20)
        self.assertLess(len(served), self.LIMIT)
        self.assertGreaterEqual(open_fds(pid), self.LIMIT - 2)

        # At the limit: no spinning, and no log line per retry.
        warned = srv.log().count("Too many open files")
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(3)
        cpu = cpu_seconds(pid) - cpu0
        took = time.monotonic() - t0
        figure("cpu_at_emfile", "%.3f s CPU in %.1f s with %d sessions "
               "and %d connections waiting" % (cpu, took, len(served),
                                                self.FLOOD - len(served)))
        self.assertLess(cpu, 0.3, "popserv spins at the descriptor limit")
        self.assertLessEqual(srv.log().count("Too many open files") - warned,
                             1, "one log line per retry")
        self.assertIsNone(srv.proc.poll())

        # Sessions end: every waiting connection is served in turn.
        for c in socks:
            c.expect(GREETING, timeout=10)
            c.send("QUIT").expect_ok()
            c.expect_closed()
            c.close()
        c = srv.login("joe", "secret")
        c.send("QUIT").expect("+OK bye")
        wait_stats(srv, {"sessions": 0})
        srv.wait_log(r"accepting again")


class ManyConnections(TestCase):
    """18,000 sessions at once, each from its own loopback address."""

    N = 18000

    def test_18000_concurrent_sessions(self):
        need = self.N + 500
        old = raise_nofile(need)
        self.addCleanup(lambda: __import__("resource").setrlimit(
            __import__("resource").RLIMIT_NOFILE, old))
        srv = stub_server(self, conf="maxconn 20000\naccepts 64\n"
                                     "sameaddrmax 1",
                          preexec=nofile_preexec(need))
        pid = srv.proc.pid
        rss0 = rss_kb(pid)
        crowd = Crowd(srv.host, srv.port)
        self.addCleanup(crowd.close)
        took = crowd.connect(spread(self.N), timeout=90)
        st = stats(srv)
        self.assertEqual(st["sessions"], self.N)
        self.assertEqual(st["addresses"], self.N)
        self.assertEqual(st["rejected_sameaddr"], 0)
        rss = rss_kb(pid)
        figure("sessions_18000", "greeted in %.1f s; popserv RSS %d KiB "
               "(%d KiB before, %.0f bytes per session)"
               % (took, rss, rss0, (rss - rss0) * 1024.0 / self.N))

        # The loop still answers a newcomer at once.
        t0 = time.monotonic()
        c, _ = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        self.assertLess(time.monotonic() - t0, 2)
        c.send("QUIT").expect("+OK bye")

        crowd.quit(timeout=90)
        wait_stats(srv, {"sessions": 0, "addresses": 0}, timeout=30)
        self.assertIsNone(srv.proc.poll())


class SameAddress(TestCase):
    """One address far past sameaddrmax."""

    def test_one_address_past_sameaddrmax(self):
        srv = stub_server(self, conf="sameaddrmax 3")
        pid = srv.proc.pid
        held = [greet(srv, source="127.0.0.5")[0] for _ in range(3)]
        n = 2000
        cpu0 = cpu_seconds(pid)
        t0 = time.monotonic()
        for i in range(n):
            c = srv.connect(source="127.0.0.5")
            c.expect(SAMEADDR)
            c.expect_closed()
            c.close()
            if i % 500 == 0:
                # Another address is served at once meanwhile.
                t1 = time.monotonic()
                o, _ = greet(srv, source="127.0.0.6")
                o.send("CAPA").expect_ok()
                o.multiline()
                self.assertLess(time.monotonic() - t1, 1)
                o.close()
        took = time.monotonic() - t0
        cpu = cpu_seconds(pid) - cpu0
        figure("sameaddrmax_flood", "%d refusals in %.1f s, %.2f s CPU"
               % (n, took, cpu))
        st = stats(srv)
        self.assertEqual(st["rejected_sameaddr"], n)
        # The three held sessions are still fine.
        for c in held:
            c.send("USER joe").expect_ok()
        held[0].send("PASS secret").expect(STUB_OK)
        held[0].send("QUIT").expect("+OK bye")
        for c in held[1:]:
            c.send("QUIT").expect_ok()
        wait_stats(srv, {"sessions": 0, "addresses": 0})


class Slowloris(TestCase):
    """A crowd sending a byte a second, never a whole line."""

    def test_byte_a_second_crowd_is_closed_by_timelimit(self):
        n = 100
        srv = stub_server(self, conf="timelimit 3")
        crowd = [greet(srv, source="127.0.1.%d" % (1 + i % 250))[0]
                 for i in range(n)]
        t0 = time.monotonic()
        closed = set()
        payload = b"USER slowloris-who-never-ends"
        for k in range(6):
            for i, c in enumerate(crowd):
                if i in closed:
                    continue
                try:
                    c.sock.send(payload[k:k + 1])
                except OSError:
                    closed.add(i)
            # Others are served at once meanwhile.
            t1 = time.monotonic()
            o, _ = greet(srv)
            o.send("CAPA").expect_ok()
            o.multiline()
            o.close()
            self.assertLess(time.monotonic() - t1, 1)
            time.sleep(max(0, t0 + k + 1 - time.monotonic()))
        # Six seconds of trickling, timelimit 3: every one is closed.
        for c in crowd:
            c.expect_closed(timeout=1)
        srv.wait_log(r"result=timeout", count=n, timeout=15)
        wait_stats(srv, {"sessions": 0, "addresses": 0})


class Vanishing(TestCase):
    """Clients that reset their connection mid-check and mid-delay."""

    def test_resets_mid_check_and_mid_delay(self):
        n = 100
        srv = stub_server(self, conf="workers 2\nfaildelay 1\n"
                                     "failpenalty 0\ntimelimit 20",
                          users={"joe": "secret",
                                 "slow": {"password": slow_hash("x", 0.02).hash,
                                          "hashed": True}})
        # Mid-check: the PASS (good or bad) is queued or being checked
        # when they leave; a good one still starts popit, on a dead
        # socket.
        for i in range(n):
            c, _ = greet(srv, source="127.0.2.%d" % (1 + i % 250))
            c.send_raw("USER slow\r\nPASS %s\r\n" % ("x" if i % 2 else "y"))
            c.expect_ok()
            srv.wait_log(r"pass -> checking", count=i + 1, timeout=15)
            rst_close(c.sock)
        # Mid-delay: the failure is logged at once, answered after
        # faildelay.
        for i in range(n):
            c, _ = greet(srv, source="127.0.3.%d" % (1 + i % 250))
            c.send_raw("USER joe\r\nPASS wrong\r\n")
            c.expect_ok()
            srv.wait_log(r'user="joe" result=failed', count=i + 1,
                         timeout=15)
            rst_close(c.sock)
        # Mid-reply: pipelined commands, reset before the replies.
        for i in range(n):
            s = socket.create_connection((srv.host, srv.port), 10)
            s.sendall(b"CAPA\r\n" * 50 + b"USER slow\r\nPASS y\r\n")
            rst_close(s)
        c = srv.login("joe", "secret")
        c.send("QUIT").expect("+OK bye")
        wait_stats(srv, {"sessions": 0, "checking": 0, "addresses": 0,
                         "popits": 0, "queued": 0}, timeout=30)
        self.assertIsNone(srv.proc.poll())


class HostileInput(TestCase):
    """Oversized and binary input."""

    def setUp(self):
        self.srv = stub_server(self, conf="maxfails 100")

    def test_a_megabyte_without_a_newline(self):
        rss0 = rss_kb(self.srv.proc.pid)
        for _ in range(5):
            c, _ = greet(self.srv)
            try:
                c.sock.sendall(b"USER " + b"a" * (1 << 20))
                # The reply may be lost to the reset of an unread close.
                c.expect("-ERR line too long")
                c.expect_closed()
            except (BrokenPipeError, ConnectionResetError):
                pass
            c.close()
        self.srv.wait_log(r"result=line too long", count=5, timeout=15)
        # Nothing of it was buffered in popserv.
        self.assertLess(rss_kb(self.srv.proc.pid) - rss0, 1024)

    def test_random_binary_input(self):
        rng = random.Random(9)
        noise = bytes(range(256)).replace(b"\n", b"")
        for i in range(20):
            # Lines of random bytes, each short enough to be a command:
            # one -ERR for each, in order, and the session goes on.
            lines = [bytes(rng.choice(noise) for _ in range(rng.randrange(
                200))) + b"\n" for _ in range(200)]
            c, _ = greet(self.srv)
            c.sock.sendall(b"".join(lines))
            for line in lines:
                reply = c.readline()
                self.assertTrue(reply.startswith("-ERR "), (line, reply))
            c.send("QUIT").expect_ok()
            c.close()
            # And a stream with no regard for lines at all.
            c, _ = greet(self.srv)
            try:
                c.sock.sendall(bytes(rng.randrange(256)
                                     for _ in range(16384)))
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:             # closed after a too-long line
                pass
            try:
                while True:
                    self.assertTrue(c.readline().startswith("-ERR "))
            except (EOFError, ConnectionResetError):
                pass
            c.close()
        # Still serving, and the log holds no raw control or 8-bit byte.
        c = self.srv.login("joe", "secret")
        c.send("QUIT").expect("+OK bye")
        log = self.srv.log_bytes()
        bad = [b for b in set(log) if (b < 0x20 and b != 0x0a) or b >= 0x7f]
        self.assertEqual(bad, [])

    def test_every_byte_value_in_each_position(self):
        """Each byte but LF inside and at the end of a USER name, after
        a verb and before one: a reply to each, never a crash."""
        c, _ = greet(self.srv)
        sent = fails = 0
        for b in range(256):
            if b == 0x0a:
                continue
            x = bytes([b])
            for line in (b"USER a" + x + b"b", b"USER " + x, b"CAP" + x,
                         x + b"USER a"):
                c.send(line)
                sent += 1
                reply = c.readline()
                if not reply.startswith("+OK"):
                    self.assertTrue(reply.startswith("-ERR "), reply)
                    continue
                if line.startswith(b"CAP"):
                    self.assertIn(x, b"Aa")
                    c.multiline()
                    continue
                self.assertTrue(line.startswith(b"USER "), line)
                c.send("PASS x").expect(AUTH_FAILED)
                fails += 1
                if fails % 90 == 0:         # below maxfails 100
                    c.send("QUIT").expect_ok()
                    c.close()
                    c, _ = greet(self.srv)
        self.assertEqual(sent, 255 * 4)
        self.assertGreater(fails, 200)
        self.assertIsNone(self.srv.proc.poll())


if __name__ == "__main__":
    unittest.main()
