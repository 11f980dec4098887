"""Dialogue tests of TLS (docs/tls.md): STLS (RFC 2595), implicit TLS on a
bindtls listener (RFC 8314), plaintext 0, the certificate on SIGHUP, and
the relay that carries a TLS login to popit.

popit is the recording stub; the client is Python's ssl module checking
the server against a private test CA (localhost, 127.0.0.1).
"""

import os
import re
import signal
import socket
import time
import unittest

from engine_util import SAMEADDR, STUB_OK, TestCase, greet, stub_server
from lifecycle_util import kill_if_alive, wait_gone
from pop3test import Client, wait_for
from tlstest import (connect_tls, fingerprint, peer_fingerprint, proxy_v1,
                     starttls)
from transport_util import read_records, remote_addr, tls_server

NEED_TLS = ("-ERR [AUTH] Plaintext authentication disallowed without TLS, "
            "use STLS first")


def capa(c):
    c.send("CAPA").expect_ok()
    return c.multiline()


class Stls(TestCase):

    def setUp(self):
        self.srv = tls_server(self, bindtls=False)
        self.ctx = self.srv.ca.client_context()

    def stls(self, c):
        c.send("STLS").expect("+OK Begin TLS negotiation")
        return starttls(c, self.ctx)

    def test_capa_lists_stls_until_tls_is_on(self):
        c, _ = greet(self.srv)
        before = capa(c)
        self.assertIn("STLS", before)
        self.assertIn("USER", before)
        self.assertIn("SASL PLAIN", before)
        self.stls(c)
        after = capa(c)
        self.assertNotIn("STLS", after)
        self.assertEqual(sorted(after), sorted(set(before) - {"STLS"}))

    def test_login_after_stls_reaches_popit_with_pipelining(self):
        c, _ = greet(self.srv)
        self.stls(c)
        self.assertIn(c.sock.version(), ("TLSv1.2", "TLSv1.3"))
        # One TLS write: what follows PASS is decrypted by popserv's
        # OpenSSL with the PASS line, and must reach popit all the same.
        c.send_raw(b"USER joe\r\nPASS secret\r\nSTAT\r\nLIST 1\r\n")
        c.expect("+OK send PASS").expect(STUB_OK)
        c.expect("+OK STAT").expect("+OK LIST 1")
        c.send("QUIT").expect("+OK bye")
        rec = read_records(self.srv.recdir)[0]
        self.assertEqual(rec["line"], ["STAT\\r\\n", "LIST 1\\r\\n",
                                       "QUIT\\r\\n"])
        self.assertEqual(remote_addr(rec), "127.0.0.1")
        self.srv.wait_log(r'user="joe" result=login folder="" tls=relay')

    def test_stls_twice_is_refused(self):
        c, _ = greet(self.srv)
        self.stls(c)
        c.send("STLS").expect("-ERR TLS is already active")
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)

    def test_plaintext_after_stls_is_discarded(self):
        c, _ = greet(self.srv)
        # A man in the middle appends commands to the client's STLS
        # (CVE-2011-0411): they must never run under TLS.
        c.send_raw(b"STLS\r\nUSER joe\r\nPASS secret\r\n")
        c.expect("+OK Begin TLS negotiation")
        starttls(c, self.ctx)
        c.send("PASS secret").expect("-ERR USER first")
        c.send("QUIT").expect_ok()
        self.srv.wait_log(r"STLS: 23 octets of plaintext dropped")
        self.assertEqual(os.listdir(self.srv.recdir), [])

    def test_user_before_stls_is_forgotten(self):
        c, _ = greet(self.srv)
        c.send("USER joe").expect_ok()
        self.stls(c)
        c.send("PASS secret").expect("-ERR USER first")

    def test_handshake_failure_is_logged(self):
        c, _ = greet(self.srv)
        c.send("STLS").expect_ok()
        c.send_raw(b"\x16\x03\x01\x00\x05hello")
        c.sock.settimeout(10)
        while c.sock.recv(4096):        # a TLS alert, then the close
            pass
        self.srv.wait_log(r"tls handshake failed: ")
        self.srv.wait_log(r"result=tls failed")


class NoCertificate(TestCase):

    def test_stls_without_a_certificate(self):
        srv = stub_server(self)
        c, _ = greet(srv)
        self.assertNotIn("STLS", capa(c))
        c.send("STLS").expect("-ERR not supported")
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)


class Implicit(TestCase):

    def setUp(self):
        self.srv = tls_server(self, conf="timelimit 3")
        self.ctx = self.srv.ca.client_context()

    def connect(self):
        return connect_tls("127.0.0.1", self.srv.tls_port, self.ctx)

    def test_login_on_bindtls(self):
        c = self.connect()
        c.expect(re.compile(r"\+OK popserv ready"))
        self.assertEqual(peer_fingerprint(c), fingerprint(self.srv.ca.cert))
        self.assertNotIn("STLS", capa(c))
        c.send("STLS").expect("-ERR TLS is already active")
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        c.send("NOOP").expect("+OK NOOP")
        c.send("QUIT").expect("+OK bye")
        # popit is gone: close_notify, then the end of the stream.
        self.assertEqual(c.sock.recv(100), b"")
        c.close()
        self.srv.wait_log(r"relay=done up=\d+ down=\d+")

    def test_plaintext_on_bindtls_is_a_failed_handshake(self):
        s = socket.create_connection(("127.0.0.1", self.srv.tls_port), 10)
        self.addCleanup(s.close)
        s.sendall(b"USER joe\r\n")
        c = Client(s)
        c.expect_closed()
        self.srv.wait_log(r"tls handshake failed")

    def test_handshake_has_a_time_limit(self):
        s = socket.create_connection(("127.0.0.1", self.srv.tls_port), 10)
        self.addCleanup(s.close)
        t0 = time.monotonic()
        Client(s).expect_closed(timeout=8)
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 2.5)
        self.assertLess(took, 6)
        self.srv.wait_log(r"result=tls timeout")

    def test_sameaddrmax_is_refused_before_the_handshake(self):
        """Over sameaddrmax on bindtls: closed before any TLS work. The
        client has sent nothing and gets nothing: no ServerHello, no
        certificate, no private-key operation spent on it."""
        srv = tls_server(self, conf="sameaddrmax 1")
        ctx = srv.ca.client_context()
        first = connect_tls("127.0.0.1", srv.tls_port, ctx)
        self.addCleanup(first.close)
        first.expect_ok()
        raw = socket.create_connection(("127.0.0.1", srv.tls_port), 10)
        self.addCleanup(raw.close)
        raw.settimeout(5)
        t0 = time.monotonic()
        self.assertEqual(raw.recv(100), b"")
        self.assertLess(time.monotonic() - t0, 2)
        srv.wait_log(r"ip=127\.0\.0\.1 result=rejected reason=sameaddrmax "
                     r"count=1 tls=refused-before-handshake")
        # A real TLS client sees the connection end in its handshake.
        with self.assertRaises((OSError, EOFError)):
            connect_tls("127.0.0.1", srv.tls_port, ctx).close()
        # Log lines are written by popserv's logging thread: wait for it.
        wait_for(lambda: srv.log().count("tls=refused-before-handshake")
                 >= 2, what="the second refusal's log line")
        self.assertEqual(srv.log().count("tls=refused-before-handshake"),
                         2)
        self.assertNotIn("tls handshake failed", srv.log())
        first.send("USER joe").expect_ok()

    def test_sameaddrmax_via_proxy_is_refused_before_the_handshake(self):
        """The same for a client named by a trusted balancer's PROXY
        header on bindtls: the header is read, then the socket closed."""
        srv = tls_server(self, conf="sameaddrmax 1\ntrusted 127.0.0.1/32")
        ctx = srv.ca.client_context()
        first = socket.create_connection(("127.0.0.1", srv.tls_port), 10)
        self.addCleanup(first.close)
        first.sendall(proxy_v1("192.0.2.7"))
        c1 = Client(ctx.wrap_socket(first, server_hostname="localhost"))
        c1.expect_ok()
        second = socket.create_connection(("127.0.0.1", srv.tls_port), 10)
        self.addCleanup(second.close)
        second.settimeout(5)
        second.sendall(proxy_v1("192.0.2.7"))
        self.assertEqual(second.recv(100), b"")
        srv.wait_log(r"ip=192\.0\.2\.7 result=rejected reason=sameaddrmax "
                     r"count=1 tls=refused-before-handshake")
        c1.send("USER joe").expect_ok()

    def test_maxconn_on_bindtls_makes_no_handshake_until_a_slot_frees(self):
        """At maxconn popserv stops accepting: a bindtls client waits in
        the backlog with no handshake, and gets one when a slot frees."""
        srv = tls_server(self, conf="maxconn 1")
        ctx = srv.ca.client_context()
        first = connect_tls("127.0.0.1", srv.tls_port, ctx)
        first.expect_ok()
        raw = socket.create_connection(("127.0.0.1", srv.tls_port), 10)
        self.addCleanup(raw.close)
        tls = ctx.wrap_socket(raw, server_hostname="localhost",
                              do_handshake_on_connect=False)
        tls.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            tls.do_handshake()      # no ServerHello while at maxconn
        first.send("QUIT").expect_ok()
        first.close()
        tls.settimeout(10)
        tls.do_handshake()
        Client(tls).expect_ok()


class PlaintextOff(TestCase):
    """plaintext 0: no login before TLS except from loopback. Loopback is
    all a test has, so the client's address comes from a PROXY header
    sent by a trusted peer, as behind a real proxy."""

    def setUp(self):
        self.srv = tls_server(self, conf="plaintext 0\n"
                              "trusted 127.0.0.1/32")
        self.ctx = self.srv.ca.client_context()

    def test_loopback_logs_in_without_tls(self):
        c, _ = greet(self.srv)
        self.assertIn("USER", capa(c))
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)

    def test_remote_client_must_start_tls(self):
        c = self.srv.connect()
        c.send_raw(proxy_v1("192.0.2.7"))
        c.expect_ok()
        names = capa(c)
        self.assertIn("STLS", names)
        self.assertNotIn("USER", names)
        self.assertNotIn("SASL PLAIN", names)
        c.send("USER joe").expect(NEED_TLS)
        c.send("PASS secret").expect(NEED_TLS)
        c.send("APOP joe " + "0" * 32).expect(NEED_TLS)
        c.send("AUTH PLAIN AGpvZQBzZWNyZXQ=").expect(NEED_TLS)
        c.send("AUTH").expect("+OK").expect(".")
        c.send("STLS").expect_ok()
        starttls(c, self.ctx)
        names = capa(c)
        self.assertIn("USER", names)
        self.assertIn("SASL PLAIN", names)
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        c.send("QUIT").expect("+OK bye")
        rec = read_records(self.srv.recdir)[0]
        self.assertEqual(remote_addr(rec), "192.0.2.7")
        self.srv.wait_log(r'ip=192\.0\.2\.7 user="joe" result=login '
                          r'folder="" tls=relay')

    def test_remote_client_on_bindtls(self):
        c = connect_tls("127.0.0.1", self.srv.tls_port, self.ctx,
                        before=proxy_v1("192.0.2.8", dport=995))
        c.expect_ok()
        self.assertIn("USER", capa(c))
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        c.send("QUIT").expect("+OK bye")
        self.assertEqual(remote_addr(read_records(self.srv.recdir)[0]),
                         "192.0.2.8")


class Reload(TestCase):

    def test_bad_certificate_keeps_the_old_one(self):
        srv = tls_server(self)
        ctx = srv.ca.client_context()
        old = fingerprint(srv.ca.cert)
        # A session that has done STLS before the reload goes on after it.
        c, _ = greet(srv)
        c.send("STLS").expect_ok()
        starttls(c, ctx)

        with open(srv.ca.cert, "rb") as f:
            good = f.read()
        with open(srv.ca.cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot one\n"
                    "-----END CERTIFICATE-----\n")
        mark = srv.log_mark()
        srv.signal(signal.SIGHUP)
        srv.wait_log(r"tls: tls\.cert \S+: ", since=mark)
        srv.wait_log(r"reload: cannot load the TLS certificate "
                     r"or key, the configuration in force stays", since=mark)
        t = connect_tls("127.0.0.1", srv.tls_port, ctx)
        t.expect_ok()
        self.assertEqual(peer_fingerprint(t), old)
        t.send("QUIT").expect_ok()

        # A good new certificate and key: in force for new connections.
        cert, key = srv.ca.issue("renewed")
        os.replace(cert, srv.ca.cert)
        os.replace(key, srv.ca.key)
        new = fingerprint(srv.ca.cert)
        self.assertNotEqual(new, old)
        mark = srv.log_mark()
        srv.signal(signal.SIGHUP)
        srv.wait_log(r"reload: TLS certificate \S+ in force", since=mark)
        t = connect_tls("127.0.0.1", srv.tls_port, ctx)
        t.expect_ok()
        self.assertEqual(peer_fingerprint(t), new)
        del good

        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        self.assertEqual(peer_fingerprint(c), old)


class Relay(TestCase):

    def setUp(self):
        self.srv = tls_server(self)
        self.ctx = self.srv.ca.client_context()

    def login(self):
        c = connect_tls("127.0.0.1", self.srv.tls_port, self.ctx)
        self.addCleanup(c.close)
        c.expect_ok()
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        return c

    def test_client_close_is_popits_eof(self):
        c = self.login()
        c.send("NOOP").expect("+OK NOOP")
        c.sock.close()
        rec = read_records(self.srv.recdir)[0]
        self.assertTrue(rec["eof"])
        self.assertEqual(rec["line"], ["NOOP\\r\\n"])
        self.srv.wait_log(r"relay=done")

    def test_half_close_delivers_both_ways(self):
        c = self.login()
        c.send_raw(b"NOOP\r\nSTAT\r\n")
        # The client's end of input, while answers are still to come:
        # popit reads both lines, then EOF, and its answers still arrive.
        # (SHUT_WR on the descriptor: SSLSocket.shutdown() drops TLS.)
        with socket.socket(fileno=os.dup(c.sock.fileno())) as raw:
            raw.shutdown(socket.SHUT_WR)
        c.expect("+OK NOOP").expect("+OK STAT")
        self.assertEqual(c.sock.recv(100), b"")
        rec = read_records(self.srv.recdir)[0]
        self.assertEqual(rec["line"], ["NOOP\\r\\n", "STAT\\r\\n"])
        self.assertTrue(rec["eof"])
        self.srv.wait_log(r"relay=done up=\d+ down=\d+")

    def test_popit_crash_closes_the_client(self):
        c = self.login()
        c.send("CRASH")
        self.assertEqual(c.sock.recv(100), b"")
        self.srv.wait_log(r"popit pid=\d+ ip=127\.0\.0\.1 user=\"joe\" "
                          r"signal=6")

    def test_relay_counts_toward_sameaddrmax_until_popit_exits(self):
        srv = tls_server(self, conf="sameaddrmax 1")
        c = connect_tls("127.0.0.1", srv.tls_port, srv.ca.client_context())
        self.addCleanup(c.close)
        c.expect_ok()
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        other = srv.connect()
        other.expect(SAMEADDR)
        other.expect_closed()
        c.send("QUIT").expect("+OK bye")
        c.close()
        srv.wait_log(r"popit pid=\d+ ip=127\.0\.0\.1 user=\"joe\" exit=0")
        again, _ = greet(srv)
        again.send("QUIT").expect_ok()

    def test_term_drain_keeps_the_relay(self):
        c = self.login()
        mark = self.srv.log_mark()
        self.srv.signal(signal.SIGTERM)
        m = self.srv.wait_log(r"draining 0 sessions in pid (\d+), 1 relays",
                              since=mark)
        child = int(m.group(1))
        self.addCleanup(kill_if_alive, child)
        self.assertEqual(self.srv.proc.wait(10), 0)
        c.send("NOOP").expect("+OK NOOP")
        c.send("QUIT").expect("+OK bye")
        self.assertEqual(c.sock.recv(100), b"")
        c.close()
        self.assertTrue(wait_gone(child, 10), "the drain child stays")


if __name__ == "__main__":
    unittest.main()
