"""Brute force (docs/security.md, "Password guessing"), beyond
test_penalty.py: the penalty across USER/PASS, APOP and AUTH PLAIN on
many connections whose clients do not wait for the answer; the penalty
table under a flood of addresses; and what bounds an attacker who does
not wait: a session keeps its sameaddrmax slot for the whole failure
delay.
"""

import base64
import hashlib
import re
import resource
import socket
import sys
import time
import unittest

from abuse_util import asan_no_quarantine, rss_kb, stats, wait_stats
from engine_util import AUTH_FAILED, SAMEADDR, TestCase, greet, stub_server
import pop3test


def figure(name, value):
    print("FIGURE %s: %s" % (name, value), file=sys.stderr)


def more_fds():
    """preexec: as many descriptors as the hard limit allows, up to 8192,
    for floods that keep thousands of sessions in their delay."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    n = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


def plain(user, password):
    return base64.b64encode(b"\0" + user.encode() + b"\0" +
                            password.encode()).decode()


class PenaltyAcrossCommands(TestCase):

    def test_every_kind_of_failure_doubles_the_delay(self):
        """Six failures, each on a new connection dropped at once, by
        USER/PASS, APOP and AUTH PLAIN in turn: 1, 2, 4, 8, 15, 15 s."""
        srv = stub_server(self, crypt=False, users={"joe": "tanstaaf"},
                          conf="apop 1\nfaildelay 1\nfailpenalty 1")
        ways = ["pass", "apop", "auth", "pass", "apop", "auth"]
        for i, way in enumerate(ways):
            c, greeting = greet(srv, source="127.0.0.44")
            if way == "pass":
                c.send("USER joe").expect_ok()
                c.send("PASS wrong")
            elif way == "apop":
                ts = re.search(r"<[^>]+>", greeting).group(0)
                c.send("APOP joe " + hashlib.md5(
                    (ts + "wrong").encode()).hexdigest())
            else:
                c.send("AUTH PLAIN " + plain("joe", "wrong"))
            srv.wait_log(r"ip=127\.0\.0\.44 .*result=failed", count=i + 1,
                         timeout=15)
            c.close()               # not waiting for the answer
        delays = [int(d) for d in re.findall(
            r"ip=127\.0\.0\.44 user=\"joe\" result=failed .* delay=(\d+)",
            srv.log())]
        self.assertEqual(delays, [1, 2, 4, 8, 15, 15])
        # Another address is not affected.
        c, _ = greet(srv, source="127.0.0.45")
        c.send("USER joe").expect_ok()
        t0 = time.monotonic()
        c.send("PASS wrong").expect(AUTH_FAILED)
        self.assertLess(time.monotonic() - t0, 1.9)
        srv.wait_log(r"ip=127\.0\.0\.45 user=\"joe\" result=failed .* "
                     r"delay=1")


class SlotHeldDuringDelay(TestCase):
    """A client that drops the connection after a wrong password keeps
    its sameaddrmax slot until the failure delay is over: so one address
    gets at most sameaddrmax attempts per delay, waiting or not."""

    def test_dropped_client_keeps_its_slot(self):
        srv = stub_server(self, conf="sameaddrmax 2\nfaildelay 3\n"
                                     "failpenalty 0")
        for _ in range(2):
            c, _ = greet(srv, source="127.0.0.9")
            c.send("USER joe").expect_ok()
            c.send("PASS wrong")
            c.close()
        srv.wait_log(r"ip=127\.0\.0\.9 .*result=failed", count=2,
                     timeout=15)
        t0 = time.monotonic()
        srv.connect(source="127.0.0.9").expect(SAMEADDR).expect_closed()
        self.assertLess(time.monotonic() - t0, 2)
        # Once the delays are over, the address is served again.
        deadline = time.monotonic() + 10
        while True:
            c = srv.connect(source="127.0.0.9")
            line = c.readline()
            c.close()
            if line.startswith("+OK"):
                break
            self.assertEqual(line, SAMEADDR)
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.2)
        self.assertGreater(time.monotonic() - t0, 1.5)

    def test_attempt_rate_of_an_impatient_attacker(self):
        """One address tries as fast as it can for 6 s, dropping every
        connection right after its PASS: with sameaddrmax 4 and the
        penalty from faildelay 1, only a handful of passwords are
        checked."""
        srv = stub_server(self, conf="sameaddrmax 4\nfaildelay 1")
        t0 = time.monotonic()
        refused = 0
        while time.monotonic() - t0 < 6:
            s = socket.create_connection((srv.host, srv.port), 5,
                                         ("127.0.0.66", 0))
            s.sendall(b"USER joe\r\nPASS guess\r\n")
            greeting = s.recv(200)
            if greeting.startswith(b"-ERR"):
                refused += 1
                time.sleep(0.01)
            s.close()
        n = len(re.findall(r"ip=127\.0\.0\.66 .*result=failed", srv.log()))
        figure("bruteforce_rate", "%d passwords checked in 6 s from one "
               "address (sameaddrmax 4, faildelay 1, failpenalty 1), %d "
               "connections refused" % (n, refused))
        self.assertGreaterEqual(n, 4)
        self.assertLessEqual(n, 12)
        self.assertGreater(refused, 10)


class AddressFlood(TestCase):

    @staticmethod
    def flood(srv, net, n):
        """One failed login from each of n addresses 127.net.x.y."""
        for i in range(n):
            src = "127.%d.%d.%d" % (net, i // 250, 1 + i % 250)
            s = socket.create_connection((srv.host, srv.port), 10,
                                         (src, 0))
            s.sendall(b"USER joe\r\nPASS wrong\r\nQUIT\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            s.close()
            if AUTH_FAILED.encode() not in data:
                raise AssertionError("%s: %r" % (src, data))

    @unittest.skipIf(pop3test.VALGRIND, "valgrind holds freed blocks "
                     "back (--freelist-vol): VmRSS is its, not popserv's")
    def test_table_stays_bounded(self):
        """Failures from 2 x 15,000 addresses: the penalty table has a
        fixed size, so the second flood adds no memory."""
        srv = stub_server(self, crypt=False, users={"joe": "secret"},
                          conf="faildelay 0\nmaxconn 20000",
                          preexec=lambda: (more_fds(), asan_no_quarantine()))
        pid = srv.proc.pid
        rss0 = rss_kb(pid)
        t0 = time.monotonic()
        self.flood(srv, 101, 15000)
        rss1 = rss_kb(pid)
        self.flood(srv, 102, 15000)
        rss2 = rss_kb(pid)
        took = time.monotonic() - t0
        st = stats(srv)
        self.assertEqual(st["logins_failed"], 30000)
        figure("penalty_flood", "VmRSS %d KiB, %d KiB after 15,000 "
               "addresses, %d KiB after 30,000 (%.1f s)"
               % (rss0, rss1, rss2, took))
        # The table (65,536 entries) is touched, then reused.
        self.assertLess(rss1 - rss0, 6 * 1024)
        self.assertLess(rss2 - rss1, 512)
        wait_stats(srv, {"sessions": 0, "addresses": 0})

    def test_victim_still_penalised_after_a_flood(self):
        srv = stub_server(self, crypt=False, users={"joe": "secret"},
                          conf="faildelay 1", preexec=more_fds)
        c, _ = greet(srv, source="127.0.0.77")
        c.send("USER joe").expect_ok()
        c.send("PASS wrong")
        srv.wait_log(r"ip=127\.0\.0\.77 .*delay=1")
        c.close()
        # 3,000 other addresses fail meanwhile, 500 at a time, each
        # client gone once its failure is logged (not waiting for the
        # answer; a client that closes before its PASS is read is
        # refused for a write error and checks nothing).
        for batch in range(6):
            socks = []
            for i in range(batch * 500, batch * 500 + 500):
                s = socket.create_connection(
                    (srv.host, srv.port), 10,
                    ("127.103.%d.%d" % (i // 250, 1 + i % 250), 0))
                s.sendall(b"USER joe\r\nPASS wrong\r\n")
                socks.append(s)
            srv.wait_log(r"ip=127\.103\.\S+ .*result=failed",
                         count=batch * 500 + 500, timeout=60)
            for s in socks:
                s.close()
        c, _ = greet(srv, source="127.0.0.77")
        c.send("USER joe").expect_ok()
        c.send("PASS wrong")
        srv.wait_log(r"ip=127\.0\.0\.77 .*attempt=1 delay=2")


if __name__ == "__main__":
    unittest.main()
