"""Dialogue tests of the AUTHORIZATION engine's timers and limits
(docs/configuration.md, "Limits"):
faildelay, timelimit, sameaddrmax, maxconn, accepts, listeners, and slow
password checks that must never stall the loop.

Lower bounds on time are strict only where the specification demands
them (faildelay); upper bounds are generous, for a shared, noisy machine.
"""

import os
import resource
import signal
import socket
import threading
import time
import unittest

from engine_util import (AUTH_FAILED, GREETING, PROMPT, SAMEADDR, STUB_OK,
                         TestCase, greet, nothing_pending, stub_server)
from pop3test import Client, free_port, slow_hash
from tlstest import proxy_v1


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class FailDelay(TestCase):

    def test_failure_answer_waits_without_blocking_others(self):
        srv = stub_server(self, conf="faildelay 1\nfailpenalty 0")
        for user in ("joe", "nosuch"):
            with self.subTest(user=user):
                c, _ = greet(srv)
                c.send("USER " + user).expect_ok()
                t0 = time.monotonic()
                c.send("PASS wrong")
                # Meanwhile another client is greeted and answered at once.
                t1 = time.monotonic()
                other, _ = greet(srv)
                other.send("CAPA").expect_ok()
                other.multiline()
                self.assertLess(time.monotonic() - t1, PROMPT)
                self.assertTrue(nothing_pending(c))
                c.expect(AUTH_FAILED)
                took = time.monotonic() - t0
                self.assertGreaterEqual(took, 0.9)
                self.assertLess(took, 4)
                other.send("QUIT").expect_ok()
                # After the delay the session goes on.
                c.send("USER joe").expect_ok()
                c.send("PASS secret").expect(STUB_OK)

    def test_pipelined_commands_wait_for_the_delay(self):
        srv = stub_server(self, conf="faildelay 1\nfailpenalty 0")
        c, _ = greet(srv)
        t0 = time.monotonic()
        c.send_raw("USER joe\r\nPASS wrong\r\nUSER joe\r\nPASS secret\r\n"
                   "NOOP\r\nQUIT\r\n")
        c.expect_ok()
        c.expect(AUTH_FAILED)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        c.expect_ok()
        c.expect(STUB_OK)
        c.expect("+OK NOOP")
        c.expect("+OK bye")
        c.expect_closed()


class TimeLimit(TestCase):

    def test_idle_connection_closed_silently(self):
        srv = stub_server(self, conf="timelimit 2")
        c, _ = greet(srv)
        t0 = time.monotonic()
        c.expect_closed(timeout=8)          # and not a byte
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 1.5)
        self.assertLess(took, 4)
        srv.wait_log(r"result=timeout")

    def test_trickling_client_is_still_closed(self):
        """One byte every 0.5 s, never a whole line."""
        srv = stub_server(self, conf="timelimit 2")
        c, _ = greet(srv)
        t0 = time.monotonic()
        closed_at = None
        for b in b"USER joeuser_who_never_ends" * 2:
            try:
                c.sock.sendall(bytes([b]))
                c.sock.settimeout(0.5)
                data = c.sock.recv(4096)
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic()
                break
            self.assertEqual(data, b"", "no bytes expected")
            closed_at = time.monotonic()
            break
        self.assertIsNotNone(closed_at, "still open after %.1fs"
                             % (time.monotonic() - t0))
        self.assertLess(closed_at - t0, 2 + 1.5)
        self.assertGreaterEqual(closed_at - t0, 1.5)

    def test_partial_line_does_not_extend_the_limit(self):
        """A few bytes just before the limit buy no more time."""
        srv = stub_server(self, conf="timelimit 2")
        c, _ = greet(srv)
        t0 = time.monotonic()
        time.sleep(1.5)
        c.send_raw("US")
        c.expect_closed(timeout=8)
        self.assertLess(time.monotonic() - t0, 2 + 1.0)

    def test_commands_within_the_limit_keep_the_session(self):
        """Commands 0.5 s apart, with timelimit 1, never time out."""
        srv = stub_server(self, conf="timelimit 1")
        c, _ = greet(srv)
        for _ in range(6):
            time.sleep(0.5)
            c.send("NOOP").expect_err()
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)

    def test_server_delay_is_not_idle_time(self):
        """faildelay as long as timelimit: the client may still go on."""
        srv = stub_server(self, conf="timelimit 2\nfaildelay 2\n"
                                     "failpenalty 0")
        c, _ = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS wrong").expect(AUTH_FAILED)
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)

    def test_client_that_never_reads_is_closed(self):
        """Replies pile up unread: the write wait has the limit too."""
        srv = stub_server(self, conf="timelimit 2")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((srv.host, srv.port))
        self.addCleanup(s.close)
        t0 = time.monotonic()
        sender = threading.Thread(target=self.send_quietly,
                                  args=(s, b"CAPA\r\n" * 20000),
                                  daemon=True)
        sender.start()
        srv.wait_log(r"result=timeout", timeout=10)
        self.assertLess(time.monotonic() - t0, 2 + 3)
        self.assertIsNone(srv.proc.poll())

    @staticmethod
    def send_quietly(s, data):
        try:
            s.sendall(data)
        except OSError:
            pass


class SameAddrMax(TestCase):

    def test_third_connection_refused(self):
        srv = stub_server(self, conf="sameaddrmax 2")
        a, _ = greet(srv)
        b, _ = greet(srv)
        c = srv.connect()
        c.expect(SAMEADDR)
        c.expect_closed()
        srv.wait_log(r"ip=127\.0\.0\.1 result=rejected reason=sameaddrmax")

        # One leaves with QUIT: a new connection is served.
        a.send("QUIT").expect_ok()
        a.expect_closed()
        d, _ = greet(srv)
        srv.connect().expect(SAMEADDR)

        # One just drops the connection: its slot comes back too.
        mark = srv.log_mark()
        b.close()
        srv.wait_log(r'ip=127\.0\.0\.1 user="" result=(eof|read error)',
                     since=mark)
        e, _ = greet(srv)
        e.send("USER joe").expect_ok()
        e.send("PASS secret").expect(STUB_OK)
        d.send("QUIT").expect_ok()

    def test_handed_off_sessions_count_until_popit_exits(self):
        srv = stub_server(self, conf="sameaddrmax 2")
        a = srv.login("joe", "secret")
        self.addCleanup(a.close)
        b = srv.login("joe", "secret")
        self.addCleanup(b.close)
        a.send("NOOP").expect("+OK NOOP")
        c = srv.connect()
        c.expect(SAMEADDR)
        c.expect_closed()

        a.send("QUIT").expect("+OK bye")
        a.expect_closed()
        srv.wait_log(r"popit pid=\d+ ip=127\.0\.0\.1 user=\"joe\" exit=0")
        d, _ = greet(srv)
        self.addCleanup(d.close)
        srv.connect().expect(SAMEADDR)
        b.send("QUIT").expect("+OK bye")


class SameAddrMaxIpv6Prefix(TestCase):
    """IPv6 clients count by ipv6prefix (64 by default) for sameaddrmax:
    a subscriber rotating through the addresses of its /64 is one client.
    Loopback has one IPv6 address, so the addresses come in PROXY headers
    from a trusted peer, as from a balancer."""

    def via(self, srv, addr):
        c = srv.connect()
        c.expect_ok()
        c.send_raw(proxy_v1(addr))
        return c

    def test_one_slash64_is_one_client(self):
        srv = stub_server(self, conf="sameaddrmax 2\ntrusted 127.0.0.1/32")
        held = [self.via(srv, "2001:db8:1:2::1"),
                self.via(srv, "2001:db8:1:2:ffff::2")]
        for c in held:
            c.send("USER joe").expect_ok()
        for i in range(3, 23):
            c = self.via(srv, "2001:db8:1:2:%x::%x" % (i * 97, i))
            c.expect(SAMEADDR)
            c.expect_closed()
        srv.wait_log(r"ip=2001:db8:1:2:856::16 result=rejected "
                     r"reason=sameaddrmax count=2")
        # Another /64 is another client.
        other = self.via(srv, "2001:db8:1:3::1")
        other.send("USER joe").expect_ok()
        other.send("PASS secret").expect(STUB_OK)
        # The slots come back as the /64's sessions leave.
        held[0].send("QUIT").expect_ok()
        held[0].expect_closed()
        again = self.via(srv, "2001:db8:1:2::99")
        again.send("USER joe").expect_ok()

    def test_configured_prefix(self):
        srv = stub_server(self, conf="sameaddrmax 2\ntrusted 127.0.0.1/32\n"
                          "ipv6prefix 128")
        held = [self.via(srv, "2001:db8:1:2::%d" % i) for i in range(1, 6)]
        for c in held:
            c.send("USER joe").expect_ok()
        srv2 = stub_server(self, conf="sameaddrmax 2\ntrusted 127.0.0.1/32\n"
                           "ipv6prefix 48")
        a = self.via(srv2, "2001:db8:1:2::1")
        b = self.via(srv2, "2001:db8:1:ffff::1")
        for c in (a, b):
            c.send("USER joe").expect_ok()
        c = self.via(srv2, "2001:db8:1:1234::5")
        c.expect(SAMEADDR)
        self.via(srv2, "2001:db8:2::1").send("USER joe").expect_ok()


class MaxConn(TestCase):

    def test_third_connection_waits_in_the_backlog(self):
        srv = stub_server(self, conf="maxconn 2")
        a, _ = greet(srv)
        b, _ = greet(srv)
        c = srv.connect()                   # the kernel completes it
        self.assertTrue(nothing_pending(c, 1.0))
        a.send("QUIT").expect_ok()
        t0 = time.monotonic()
        c.expect(GREETING, timeout=5)
        self.assertLess(time.monotonic() - t0, 2)
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        # c was handed to popit and left the table: d fits beside b.
        d = srv.connect()
        d.expect(GREETING, timeout=5)
        b.send("QUIT").expect_ok()


class DescriptorShortage(TestCase):

    @staticmethod
    def cpu_seconds(pid):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def test_emfile_pauses_accepting_without_spinning(self):
        srv = stub_server(self)
        pid = srv.proc.pid
        nopen = len(os.listdir("/proc/%d/fd" % pid))
        try:
            resource.prlimit(pid, resource.RLIMIT_NOFILE,
                             (nopen + 3, nopen + 3))
        except (OSError, AttributeError) as e:
            self.skipTest("cannot lower popserv's descriptor limit: %s" % e)
        first = [greet(srv)[0] for _ in range(3)]
        waiting = [srv.connect() for _ in range(4)]
        srv.wait_log(r"accept: Too many open files")
        cpu = self.cpu_seconds(pid)
        time.sleep(1)
        self.assertLess(self.cpu_seconds(pid) - cpu, 0.5, "spinning")
        for c in waiting:
            self.assertTrue(nothing_pending(c))
        self.assertIsNone(srv.proc.poll())

        # Descriptors come free: the waiting connections are served.
        for c in first:
            c.send("QUIT").expect_ok()
            c.expect_closed()
        greeted = []
        for c in waiting[:3]:
            c.expect(GREETING, timeout=5)
            greeted.append(c)
        self.assertTrue(nothing_pending(waiting[3], 0.3))
        greeted[0].send("QUIT").expect_ok()
        waiting[3].expect(GREETING, timeout=5)
        waiting[3].send("CAPA").expect_ok()


class Accepts(TestCase):

    N = 200

    def burst(self, accepts):
        srv = stub_server(self, conf="accepts %d" % accepts)
        clients = []
        try:
            for _ in range(self.N):
                s = socket.create_connection((srv.host, srv.port), 10)
                clients.append(Client(s))
            for c in clients:
                c.expect(GREETING)
            for c in clients:
                c.send("QUIT")
            for c in clients:
                c.expect_ok()
                c.expect_closed()
        finally:
            for c in clients:
                c.close()
        self.assertIsNone(srv.proc.poll())

    def test_accepts_1_serves_a_burst(self):
        self.burst(1)

    def test_accepts_64_serves_a_burst(self):
        self.burst(64)


class Listeners(TestCase):

    @unittest.skipUnless(has_ipv6_loopback(), "no ::1 on this host")
    def test_ipv6_listener(self):
        srv = stub_server(self, host="::1")
        self.assertIn("bindto [::1]:%d" % srv.port, srv.conf)
        c, _ = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        c.send("QUIT").expect("+OK bye")
        srv.wait_log(r'ip=::1 user="joe" result=login')

    def test_two_bindto_lines(self):
        v6 = has_ipv6_loopback()
        host2 = "::1" if v6 else "127.0.0.1"
        family = socket.AF_INET6 if v6 else socket.AF_INET
        port2 = free_port(family, host2)
        srv = stub_server(self, conf="bindto %s:%d"
                          % ("[::1]" if v6 else "127.0.0.1", port2))
        srv.wait_log(r"listening on .*:%d" % port2)
        for host, port in ((srv.host, srv.port), (host2, port2)):
            with self.subTest(host=host, port=port):
                s = socket.create_connection((host, port), 10)
                c = Client(s)
                c.expect(GREETING)
                c.send("USER joe").expect_ok()
                c.send("PASS secret").expect(STUB_OK)
                c.send("QUIT").expect("+OK bye")
                c.close()


class SlowChecks(TestCase):
    """Password hashing runs on the workers, never on the loop."""

    @classmethod
    def setUpClass(cls):
        cls.slow_hash, cls.hash_time = slow_hash("slow-secret", 0.5,
                                                 "yescrypt")

    def slow_server(self, conf=""):
        users = {"u%d" % i: {"password": self.slow_hash, "hashed": True}
                 for i in range(4)}
        users["joe"] = "secret"
        return stub_server(self, users=users, conf="workers 2\n" + conf)

    def test_loop_answers_while_four_checks_run(self):
        srv = self.slow_server()
        slow = []
        for i in range(4):
            c, _ = greet(srv)
            c.send("USER u%d" % i).expect_ok()
            slow.append(c)
        for c in slow:
            c.send("PASS wrong")
        time.sleep(0.05)
        t1 = time.monotonic()
        c, _ = greet(srv)
        greeted = time.monotonic() - t1
        t2 = time.monotonic()
        c.send("CAPA").expect_ok()
        c.multiline()
        capa = time.monotonic() - t2
        c.send("USER joe").expect_ok()
        pending = [nothing_pending(s) for s in slow]
        self.assertLess(greeted, PROMPT)
        self.assertLess(capa, PROMPT)
        # The checks were still running meanwhile.
        self.assertEqual(pending, [True] * 4,
                         "checks took %.2fs each here" % self.hash_time)
        for s in slow:
            s.expect(AUTH_FAILED, timeout=30)
        c.send("PASS secret").expect(STUB_OK)

    def test_client_leaves_while_checked_or_delayed(self):
        srv = self.slow_server(conf="faildelay 1\nfailpenalty 0")
        # Leaves while its (wrong, then right) password is being checked.
        for pw in ("wrong", "slow-secret"):
            c, _ = greet(srv)
            c.send("USER u0").expect_ok()
            c.send("PASS " + pw)
            time.sleep(0.05)
            c.close()
        # Leaves during the failure delay.
        c, _ = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS wrong")
        srv.wait_log(r'user="joe" result=failed')
        c.close()
        srv.wait_log(r'user="u0" result=login')
        time.sleep(1.2)                     # past the delay
        self.assertIsNone(srv.proc.poll())
        c = srv.login("joe", "secret")
        c.send("QUIT").expect("+OK bye")
        srv.wait_log(r'popit pid=\d+ .*user="joe" exit=0')
        # Nothing leaked: no session, no check, no address slot left.
        deadline = time.monotonic() + 10
        while True:
            srv.signal(signal.SIGUSR1)
            time.sleep(0.1)
            stats = [l for l in srv.log().splitlines()
                     if l.startswith("stats sessions=")]
            if stats and "sessions=0 checking=0 popits=0 addresses=0" \
                    in stats[-1]:
                break
            self.assertLess(time.monotonic(), deadline, stats[-1:])
        self.assertIsNone(srv.proc.poll())


if __name__ == "__main__":
    unittest.main()
