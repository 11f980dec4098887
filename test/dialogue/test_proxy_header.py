"""Dialogue tests of the PROXY protocol (docs/tls.md): v1 and v2 headers from
trusted peers make the header's address the client's for everything
(REMOTE_ADDR, logs, sameaddrmax, the failure penalty, accounting); from
anyone else a header is an ordinary bad command.

All connections come from 127.0.0.1; "trusted 127.0.0.1/32" makes that
peer a proxy, "trusted 127.0.0.2/32" makes it an ordinary client.
"""

import os
import socket
import time
import unittest

from engine_util import (AUTH_FAILED, SAMEADDR, STUB_OK, TestCase, greet,
                         stub_server)
from tlstest import connect_tls, proxy_v1, proxy_v2
from transport_util import read_records, remote_addr, tls_server

PROXY = "trusted 127.0.0.1/32\n"


def cpu_seconds(pid):
    """User and system CPU time of a process so far, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Trusted(TestCase):

    def setUp(self):
        self.srv = stub_server(self, conf=PROXY)

    def login_via(self, header, chunks=1):
        """Connect as a proxy does (the header first, at once), log in
        and QUIT; returns the stub's REMOTE_ADDR."""
        c = self.srv.connect()
        step = max(1, len(header) // chunks)
        for i in range(0, len(header), step):
            c.send_raw(header[i:i + step])
            if chunks > 1:
                time.sleep(0.1)
        c.expect_ok()
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        c.send("QUIT").expect("+OK bye")
        c.expect_closed()
        recs = read_records(self.srv.recdir, self.nlogins + 1)
        self.nlogins += 1
        return remote_addr(recs[-1])

    nlogins = 0

    def test_v1(self):
        self.assertEqual(self.login_via(proxy_v1("192.0.2.7")), "192.0.2.7")
        self.srv.wait_log(r'ip=192\.0\.2\.7 user="joe" result=login')
        self.assertEqual(self.login_via(proxy_v1("2001:db8::7")),
                         "2001:db8::7")
        self.assertEqual(self.login_via(b"PROXY UNKNOWN\r\n"), "127.0.0.1")

    def test_v2(self):
        self.assertEqual(self.login_via(proxy_v2("192.0.2.9")), "192.0.2.9")
        # A TLV after the addresses (PP2_TYPE_AUTHORITY) is skipped.
        self.assertEqual(self.login_via(proxy_v2(
            "2001:db8::9", dst="2001:db8::1", tlvs=b"\x02\x00\x03pop")),
            "2001:db8::9")
        # LOCAL (a health check): the connection's own address stands.
        self.assertEqual(self.login_via(proxy_v2(None)), "127.0.0.1")

    def test_header_in_pieces_and_with_commands(self):
        self.assertEqual(self.login_via(proxy_v2("192.0.2.10"), chunks=4),
                         "192.0.2.10")
        self.assertEqual(self.login_via(proxy_v1("192.0.2.11"), chunks=3),
                         "192.0.2.11")
        c = self.srv.connect()
        c.send_raw(proxy_v1("192.0.2.12") + b"USER joe\r\nPASS secret\r\n"
                   b"NOOP\r\n")
        c.expect_ok().expect_ok().expect(STUB_OK).expect("+OK NOOP")

    def test_direct_client_of_a_trusted_peer(self):
        # No header: greeted at once, and served as itself.
        t0 = time.monotonic()
        c, _ = greet(self.srv)
        self.assertLess(time.monotonic() - t0, 1)
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        c.send("QUIT").expect_ok()
        self.assertEqual(remote_addr(read_records(self.srv.recdir)[0]),
                         "127.0.0.1")

    def test_bad_header_closes(self):
        c = self.srv.connect()
        c.send_raw(b"PROXY TCP4 192.0.2.777 192.0.2.1 1 110\r\n")
        c.expect_ok()
        c.expect_closed()
        self.srv.wait_log(r"result=bad PROXY header")

    def test_header_time_limit(self):
        c = self.srv.connect()
        c.send_raw(b"PROXY TCP4 192.0.2.7 ")
        c.expect_ok()
        t0 = time.monotonic()
        c.expect_closed(timeout=10)
        self.assertGreater(time.monotonic() - t0, 3)
        self.srv.wait_log(r"result=proxy timeout")

    def test_sameaddrmax_applies_to_the_client(self):
        srv = stub_server(self, conf=PROXY + "sameaddrmax 1")
        first = srv.connect()
        first.send_raw(proxy_v1("192.0.2.7")).expect_ok()
        first.send("USER joe").expect_ok()
        second = srv.connect()
        second.send_raw(proxy_v1("192.0.2.7")).expect_ok()
        second.expect(SAMEADDR)
        second.expect_closed()
        srv.wait_log(r"ip=192\.0\.2\.7 result=rejected reason=sameaddrmax")
        # Another client behind the same proxy, and the proxy itself.
        third = srv.connect()
        third.send_raw(proxy_v2("192.0.2.8")).expect_ok()
        third.send("USER joe").expect_ok()
        direct, _ = greet(srv)
        direct.send("USER joe").expect_ok()

    def test_failure_penalty_falls_on_the_client(self):
        srv = stub_server(self, conf=PROXY + "faildelay 1\nfailpenalty 1")
        for attempt, delay in ((1, 1), (2, 2)):
            c = srv.connect()
            c.send_raw(proxy_v1("192.0.2.7")).expect_ok()
            c.send("USER joe").expect_ok()
            c.send("PASS wrong").expect(AUTH_FAILED)
            c.close()
            srv.wait_log(r'ip=192\.0\.2\.7 user="joe" result=failed '
                         r'reason="wrong password" attempt=1 delay=%d'
                         % delay)

    def test_logudp_gets_the_client(self):
        r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(r.close)
        r.bind(("127.0.0.1", 0))
        r.settimeout(10)
        srv = stub_server(self, conf=PROXY + "logudp.dst 127.0.0.1:%d"
                          % r.getsockname()[1])
        c = srv.connect()
        c.send_raw(proxy_v1("198.51.100.4")).expect_ok()
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        data = r.recv(4096).decode()
        self.assertIn("\nip 198.51.100.4\n", data)

    def test_before_tls_on_bindtls(self):
        srv = tls_server(self, conf=PROXY)
        ctx = srv.ca.client_context()
        for header, want in ((proxy_v2("192.0.2.20", dport=995),
                              "192.0.2.20"),
                             (proxy_v1("192.0.2.21", dport=995),
                              "192.0.2.21"),
                             (b"", "127.0.0.1")):
            c = connect_tls("127.0.0.1", srv.tls_port, ctx, before=header)
            c.expect_ok()
            c.send("USER joe").expect_ok()
            c.send("PASS secret").expect(STUB_OK)
            c.send("QUIT").expect("+OK bye")
            c.close()
        got = [remote_addr(r) for r in read_records(srv.recdir, 3)]
        self.assertEqual(got, ["192.0.2.20", "192.0.2.21", "127.0.0.1"])

    def test_half_a_header_does_not_spin(self):
        """A trusted peer that sends the start of a header and stops:
        popserv waits for the rest, it does not wake again and again for
        the bytes that are there already (a plain listener, then
        bindtls). Spinning would cost it about a second of CPU a second."""
        srv = tls_server(self, conf=PROXY)
        for port in (srv.port, srv.tls_port):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            self.addCleanup(s.close)
            s.sendall(b"PROXY TCP4 192.0.2.7 ")
            time.sleep(0.3)
            before = cpu_seconds(srv.pid())
            time.sleep(2)
            spent = cpu_seconds(srv.pid()) - before
            self.assertLess(spent, 0.5, "port %d: %.2f s of CPU in 2 s"
                            % (port, spent))


class Untrusted(TestCase):

    def setUp(self):
        self.srv = stub_server(self, conf="trusted 127.0.0.2/32")

    def test_v1_is_an_unknown_command(self):
        c, _ = greet(self.srv)
        c.send_raw(proxy_v1("192.0.2.7")).expect("-ERR unknown command")
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        c.send("QUIT").expect_ok()
        self.assertEqual(remote_addr(read_records(self.srv.recdir)[0]),
                         "127.0.0.1")

    def test_v2_signature_ends_in_quit(self):
        c, _ = greet(self.srv)
        # The signature alone: what follows it would be unread at QUIT.
        c.send_raw(proxy_v2("192.0.2.7")[:12])
        c.expect("-ERR unknown command").expect("-ERR unknown command")
        c.expect("-ERR syntax error: NUL in command")
        c.expect("+OK popserv signing off")
        c.expect_closed()


if __name__ == "__main__":
    unittest.main()
