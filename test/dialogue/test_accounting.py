"""Dialogue tests of WHOSON and logudp (docs/accounting.md) with UDP receivers.

The receivers are Python sockets on loopback; every packet is checked
byte for byte. An absent receiver (ICMP port unreachable) must change
nothing for the client.
"""

import hashlib
import os
import re
import signal
import socket
import struct
import time
import unittest

from pop3test import Server, TestCase, make_maildir, chown_tree, \
    TEST_UID, TEST_GID

HOSTNAME = "pop.test.example"
FAST = 1.0          # seconds a login may take whatever the far end does
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IP_TTL = getattr(socket, "IP_TTL", 2)


class Receiver:
    """A UDP socket on loopback that collects datagrams."""

    def __init__(self, family=socket.AF_INET, host="127.0.0.1"):
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.host = host

    def dst(self):
        if self.sock.family == socket.AF_INET6:
            return "[%s]:%d" % (self.host, self.port)
        return "%s:%d" % (self.host, self.port)

    def recv(self, timeout=5.0):
        """One datagram and its sender, or AssertionError."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recvfrom(65536)
        except socket.timeout:
            raise AssertionError("no datagram within %.1fs" % timeout)

    def nothing(self, wait=0.5):
        """Assert that no datagram arrives within wait seconds."""
        self.sock.settimeout(wait)
        try:
            data, _ = self.sock.recvfrom(65536)
        except socket.timeout:
            return
        raise AssertionError("unexpected datagram %r" % data)

    def close(self):
        self.sock.close()


def closed_udp_port(family=socket.AF_INET, host="127.0.0.1"):
    """A UDP port nobody listens on: datagrams there meet ICMP refusals."""
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class AccountingCase(TestCase):

    def receiver(self, **kw):
        r = Receiver(**kw)
        self.addCleanup(r.close)
        return r


class WhosonTest(AccountingCase):

    def test_login_packet_is_exact(self):
        r = self.receiver()
        srv = self.server(conf="whoson.server %s\nwhoson.allow ^joe$\n"
                          % r.dst(), users={"joe": "secret"})
        srv.login("joe", "secret").send("QUIT").expect_ok()
        data, _ = r.recv()
        self.assertEqual(data, b"LOGIN 127.0.0.1 joe\r\n\r\n")

    def test_negative_reply_is_logged_and_counted(self):
        r = self.receiver()
        srv = self.server(conf="whoson.server %s\nwhoson.allow .\n"
                          % r.dst(), users={"joe": "secret"})
        srv.login("joe", "secret").send("QUIT").expect_ok()
        data, peer = r.recv()
        r.sock.sendto(b"-ERR database \"full\"\r\n", peer)
        srv.wait_log(r'whoson: 127\.0\.0\.1:%d answers '
                     r'"-ERR database \\"full\\""' % r.port)
        srv.login("joe", "secret").send("QUIT").expect_ok()
        data, peer = r.recv()
        r.sock.sendto(b"+OK\r\n", peer)
        srv.wait_stats(r"stats accounting whoson_sent=2 whoson_negative=1 ")

    def test_rules_first_match_case_insensitive_no_match_denies(self):
        r = self.receiver()
        users = {n: "secret" for n in
                 ("test1", "TestUser", "tom", "Tina", "bob", "joe")}
        srv = self.server(conf="whoson.server %s\n"
                          "whoson.deny ^test\n"
                          "whoson.allow ^t\n"
                          "whoson.allow ^JOE$\n" % r.dst(), users=users)
        for name in ("test1", "TestUser", "bob", "tom", "Tina", "joe"):
            srv.login(name, "secret").send("QUIT").expect_ok()
        got = [r.recv()[0] for _ in range(3)]
        self.assertEqual(got, [b"LOGIN 127.0.0.1 tom\r\n\r\n",
                               b"LOGIN 127.0.0.1 Tina\r\n\r\n",
                               b"LOGIN 127.0.0.1 joe\r\n\r\n"])
        r.nothing()

    def test_mailbox_name_without_folder(self):
        r = self.receiver()
        srv = self.server(conf="whoson.server %s\nwhoson.allow ^joe$\n"
                          "folder \\+([^%%@/]*)\n" % r.dst(),
                          users={"joe": "secret"})
        make_maildir(os.path.join(srv.home("joe"), "Maildir", ".work"))
        if os.getuid() == 0:
            chown_tree(srv.home("joe"), TEST_UID, TEST_GID)
        srv.login("joe+work", "secret").send("QUIT").expect_ok()
        self.assertEqual(r.recv()[0], b"LOGIN 127.0.0.1 joe\r\n\r\n")

    def test_no_rules_nothing_sent(self):
        r = self.receiver()
        srv = self.server(conf="whoson.server %s\n" % r.dst(),
                          users={"joe": "secret"})
        srv.login("joe", "secret").send("QUIT").expect_ok()
        r.nothing()

    def test_absent_server_changes_nothing(self):
        port = closed_udp_port()
        srv = self.server(conf="whoson.server 127.0.0.1:%d\n"
                          "whoson.allow .\n" % port,
                          users={"joe": "secret"})
        times = [srv.timed_login("joe", "secret") for _ in range(6)]
        for t in times:
            self.assertLess(t, FAST)
        srv.wait_log(r"whoson: .*Connection refused")
        # Rate-limited: one complaint, not one per login.
        self.assertLessEqual(
            len(re.findall(r"whoson: .*Connection refused", srv.log())), 1)
        self.assertIsNone(srv.proc.poll())


class LogudpTest(AccountingCase):

    def parse(self, data):
        """The lines of a packet; each ends in LF, the last is '.'."""
        text = data.decode()
        self.assertTrue(text.endswith("\n.\n"), text)
        self.assertNotIn("\r", text)
        lines = text[:-1].split("\n")
        self.assertEqual(lines[-1], ".")
        return lines[:-1]

    def test_packet_with_md5_proof(self):
        r = self.receiver()
        srv = self.server(conf="hostname %s\nlogudp.dst %s\n"
                          "logudp.secret s3cret\n" % (HOSTNAME, r.dst()),
                          users={"joe": "secret"})
        before = int(time.time())
        srv.login("joe", "secret").send("QUIT").expect_ok()
        data, _ = r.recv()
        after = int(time.time())
        lines = self.parse(data)
        self.assertEqual(len(lines), 6)
        md5, t = lines[0].split(" "), lines[1].split(" ")
        self.assertEqual(md5[0], "md5")
        self.assertRegex(md5[2], r"^[0-9a-f]{32}$")
        self.assertEqual(md5[1], hashlib.md5(
            (md5[2] + "s3cret").encode()).hexdigest())
        self.assertEqual(t[0], "time")
        self.assertTrue(before <= int(t[1]) <= after)
        self.assertEqual(lines[2:], ["service pop", "user joe",
                                     "ip 127.0.0.1", "source " + HOSTNAME])
        # A fresh challenge for every packet.
        srv.login("joe", "secret").send("QUIT").expect_ok()
        lines2 = self.parse(r.recv()[0])
        self.assertNotEqual(lines2[0].split(" ")[2], md5[2])
        self.assertNotIn("s3cret", srv.log())

    def test_packet_without_secret_ipv6_destination(self):
        try:
            r = self.receiver(family=socket.AF_INET6, host="::1")
        except OSError as e:
            self.skipTest("no IPv6 loopback: %s" % e)
        srv = self.server(conf="hostname %s\nlogudp.dst %s\n"
                          % (HOSTNAME, r.dst()), users={"joe": "secret"})
        srv.login("joe", "secret").send("QUIT").expect_ok()
        data, _ = r.recv()
        self.assertRegex(data, re.compile(
            rb"^time \d+\nservice pop\nuser joe\nip 127\.0\.0\.1\n"
            rb"source pop\.test\.example\n\.\n$"))
        srv.wait_stats(r"stats accounting .*logudp_sent=1 ")

    def test_multicast_ttl(self):
        group = "239.255.%d.%d" % (os.getpid() % 250, 1 + os.getpid() % 200)
        r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(r.close)
        r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        r.bind(("", 0))
        port = r.getsockname()[1]
        try:
            r.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                         struct.pack("4s4s", socket.inet_aton(group),
                                     socket.inet_aton("0.0.0.0")))
        except OSError as e:
            self.skipTest("cannot join %s here: %s (the socket option "
                          "itself is unit-tested)" % (group, e))
        r.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
        # Can this host deliver its own multicast back at all?
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        probe.sendto(b"probe", (group, port))
        probe.close()
        r.settimeout(2)
        try:
            r.recvmsg(100, socket.CMSG_SPACE(4))
        except socket.timeout:
            self.skipTest("multicast is not looped back on this host "
                          "(the socket option itself is unit-tested)")

        srv = self.server(conf="hostname %s\nlogudp.dst %s:%d\n"
                          "logudp.multicast.ttl 3\n" % (HOSTNAME, group, port),
                          users={"joe": "secret"})
        srv.login("joe", "secret").send("QUIT").expect_ok()
        r.settimeout(5)
        data, anc, _, _ = r.recvmsg(65536, socket.CMSG_SPACE(4))
        self.assertIn(b"\nuser joe\n", data)
        ttl = [int.from_bytes(d[:4], "little") for lvl, typ, d in anc
               if lvl == socket.IPPROTO_IP and typ == IP_TTL]
        self.assertEqual(ttl, [3])

    def test_absent_receiver_changes_nothing(self):
        port = closed_udp_port()
        srv = self.server(conf="logudp.dst 127.0.0.1:%d\n"
                          "logudp.secret x\n" % port,
                          users={"joe": "secret"})
        times = [srv.timed_login("joe", "secret") for _ in range(6)]
        for t in times:
            self.assertLess(t, FAST)
        srv.wait_stats(r"stats accounting .*logudp_sent=6 ")
        self.assertIsNone(srv.proc.poll())


if __name__ == "__main__":
    unittest.main()
