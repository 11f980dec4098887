"""Real TLS clients against popserv + popit (docs/tls.md): openssl s_client
with STLS and on a bindtls listener, curl over pop3s:// and pop3:// with
--ssl-reqd, fetchmail with sslcertck, all checking the server against a
test CA made here; every message comes through the relay byte for byte,
the 10 MB one included. Then the relay's backpressure: a client that
stops reading a big RETR must not make popserv's memory grow.
"""

import os
import re
import socket
import subprocess
import time
import unittest
import urllib.parse

from mailcorpus import (E2ETestCase, PASSWORD, USER, _drop_privileges,
                        by_msgid, corpus, crlf, lf, small_corpus,
                        strip_trace_header)
from pop3test import free_port
from tlstest import TestCA, connect_tls

MDA = """#!/bin/sh
# fetchmail MDA: store the message on stdin as $1/msg.NNN, in order.
set -e
n=$(ls "$1" | wc -l)
cat > "$1/.new.$$"
mv "$1/.new.$$" "$1/msg.$(printf %03d "$n")"
"""


class TLSClients(E2ETestCase):
    client = "openssl"

    def start_tls(self, messages=None, conf=""):
        """popserv with a test CA's certificate, a bindtls listener on
        srv.tls_port, and the corpus (or messages) in joe's Maildir."""
        self.ca = TestCA(self.mkdir("tls"))
        self.mkdir()            # hand the CA files to the client's user
        port = free_port()
        srv = self.start(messages, conf="tls.cert %s\ntls.key %s\n"
                         "bindtls 127.0.0.1:%d\n%s" % (self.ca.cert,
                                                      self.ca.key, port,
                                                      conf))
        srv.tls_port = port
        return srv

    def run_input(self, argv, data, timeout=60):
        """Run a client as the test user with data on its stdin."""
        p = subprocess.run(argv, input=data, capture_output=True,
                           cwd=self.work, timeout=timeout,
                           env={"PATH": os.environ.get("PATH", "/bin"),
                                "HOME": self.work, "LC_ALL": "C"},
                           preexec_fn=_drop_privileges)
        return p

    def s_client(self, *args):
        script = ("USER %s\nPASS %s\nSTAT\nRETR 1\nQUIT\n"
                  % (USER, PASSWORD)).encode()
        p = self.run_input(["openssl", "s_client", *args, "-CAfile",
                            self.ca.ca, "-verify_return_error",
                            "-verify_hostname", "localhost", "-quiet",
                            "-crlf"], script)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        return p.stdout

    def test_openssl_s_client_starttls_and_implicit(self):
        msgs = small_corpus()
        srv = self.start_tls(msgs)
        out = self.s_client("-starttls", "pop3", "-connect",
                            "127.0.0.1:%d" % srv.port)
        self.assertRegex(out, rb"\+OK maildrop has %d messages\r\n\+OK %d "
                         % (len(msgs), len(msgs)))
        self.assertIn(crlf(msgs[0].data), out)
        self.assertTrue(out.endswith(b"+OK bye (0 deleted)\r\n"), out[-200:])
        out = self.s_client("-connect", "127.0.0.1:%d" % srv.tls_port)
        self.assertTrue(out.startswith(b"+OK popserv ready\r\n"), out[:100])
        self.assertIn(crlf(msgs[0].data), out)
        srv.wait_log(r'user="joe" result=login folder="" tls=relay')

    def curl(self, url, port, *args):
        p = self.run_client(["curl", "--silent", "--show-error",
                             "--max-time", "60", "--cacert", self.ca.ca,
                             "--resolve", "localhost:%d:127.0.0.1" % port,
                             *args, url], check=0)
        return p.stdout

    def url(self, scheme, port, path=""):
        return "%s://%s:%s@localhost:%d/%s" % (
            scheme, urllib.parse.quote(USER, safe=""),
            urllib.parse.quote(PASSWORD, safe=""), port, path)

    def test_curl_pop3s_and_ssl_reqd_every_message(self):
        msgs = corpus()
        srv = self.start_tls(msgs)
        for i, m in enumerate(msgs):
            got = self.curl(self.url("pop3s", srv.tls_port, str(i + 1)),
                            srv.tls_port)
            self.assertSameMessage(crlf(m.data), got,
                                   "pop3s:// message %d (%s)"
                                   % (i + 1, m.name))
        for i, m in enumerate(msgs):
            got = self.curl(self.url("pop3", srv.port, str(i + 1)),
                            srv.port, "--ssl-reqd")
            self.assertSameMessage(crlf(m.data), got,
                                   "pop3:// --ssl-reqd message %d (%s)"
                                   % (i + 1, m.name))
        self.wait_popit_gone(srv)
        self.assertMaildirAfterRetrieve(srv, msgs)
        self.assertEqual(len(srv.wait_log(r"result=login folder=\"\" "
                                          r"tls=relay", count=2 * len(msgs))),
                         2 * len(msgs))

    def fetchmail(self, srv, options):
        out = self.mkdir("out%d" % len(os.listdir(self.work)))
        mda = self.write_file("deliver", MDA, mode=0o700)
        rc = self.write_file("fetchmailrc", (
            'set idfile "%(work)s/fetchids"\n'
            'poll localhost via 127.0.0.1 with proto pop3 service %(port)d\n'
            '  auth password timeout 30\n'
            '  user "%(user)s" there with password "%(password)s"\n'
            '  is "%(local)s" here\n'
            '  %(options)s sslcertck sslcertfile "%(ca)s"\n'
            '  sslcommonname localhost\n'
            '  keep fetchall no rewrite\n'
            '  mda "%(mda)s %(out)s"\n') % {
                "work": self.work, "port": srv.port, "user": USER,
                "password": PASSWORD, "local": self.username,
                "options": options, "ca": self.ca.ca, "mda": mda,
                "out": out})
        p = self.run_client(["fetchmail", "-f", rc, "--nosyslog", "-N",
                             "-v"], env={"FETCHMAILHOME": self.work,
                                         "FETCHMAILUSER": self.username},
                            check=None)
        log = (p.stdout + p.stderr).decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, log[-3000:])
        got = []
        for name in sorted(os.listdir(out)):
            with open(os.path.join(out, name), "rb") as f:
                got.append(strip_trace_header(f.read(), b"Received",
                                              b"with POP3 (fetchmail-"))
        return got, log

    def test_fetchmail_stls_and_pop3s_with_certificate_check(self):
        if not self.have("fetchmail"):
            self.skipTest("fetchmail is not installed")
        msgs = small_corpus()
        srv = self.start_tls(msgs)
        got, log = self.fetchmail(srv, "sslproto 'TLS1.2+'")
        self.assertIn("STLS", log)
        self.assertEqual(by_msgid(got), {m.msgid: lf(m.data) for m in msgs})
        srv.port = srv.tls_port
        got, log = self.fetchmail(srv, "ssl sslproto 'TLS1.2+'")
        self.assertEqual(by_msgid(got), {m.msgid: lf(m.data) for m in msgs})
        self.assertEqual(len(srv.wait_log(r"tls=relay", count=2)), 2)

    def have(self, prog):
        from shutil import which
        return which(prog) is not None

    def test_a_client_that_stops_reading_costs_no_memory(self):
        """Backpressure: RETR of the 10 MB message, then no reading for a
        while: popserv's memory stays put (popit waits on the relay's
        full buffer); then every byte arrives."""
        msgs = corpus()
        big = [i for i, m in enumerate(msgs) if m.name == "big"][0]
        srv = self.start_tls(msgs)
        c = connect_tls("127.0.0.1", srv.tls_port,
                        self.ca.client_context())
        self.addCleanup(c.close)
        c.expect_ok()
        c.send("USER " + USER).expect_ok()
        c.send("PASS " + PASSWORD).expect_ok()
        rss0 = rss_kb(srv.proc.pid)
        c.send("RETR %d" % (big + 1))
        time.sleep(3)
        rss1 = rss_kb(srv.proc.pid)
        self.assertLess(rss1 - rss0, 4096, "popserv grew %d kB while the "
                        "client read nothing" % (rss1 - rss0))
        c.expect_ok()
        data = read_multiline(c)
        self.assertSameMessage(crlf(msgs[big].data), data, "the big RETR")
        self.assertLess(rss_kb(srv.proc.pid) - rss0, 4096)
        c.send("QUIT").expect_ok()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))


def read_multiline(c):
    """The body of a multi-line answer as bytes, CRLF kept, dot-stuffing
    removed, without the final '.' line."""
    buf = c.buf
    c.buf = b""
    c.sock.settimeout(30)
    while not (buf.endswith(b"\r\n.\r\n") or buf == b".\r\n"):
        data = c.sock.recv(1 << 16)
        if not data:
            raise EOFError("closed in a multi-line answer")
        buf += data
    body = buf[:-3]
    lines = body.split(b"\r\n")
    return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)


if __name__ == "__main__":
    unittest.main()
