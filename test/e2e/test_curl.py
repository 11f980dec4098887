"""curl's POP3 client against popserv + popit on a real Maildir.

curl writes a retrieved message as it came over the wire: CRLF line ends,
the dot-stuffing removed, without the terminating "." line, and with the
CRLF that ends the last line (RFC 1939 §3), so a stored message m comes out
as crlf(m) byte for byte. `curl pop3://…/` writes the LIST lines (with
CRLF), `-X UIDL` the UIDL lines, and `-X DELE -I …/N` deletes message N.
"""

import os
import unittest
import urllib.parse

from mailcorpus import (E2ETestCase, PASSWORD, USER, corpus, crlf,
                        maildir_files, pop3_size, small_corpus)

CURLE_LOGIN_DENIED = 67


class CurlTest(E2ETestCase):
    client = "curl"

    def url(self, srv, path="", password=PASSWORD):
        return "pop3://%s:%s@127.0.0.1:%d/%s" % (
            urllib.parse.quote(USER, safe=""),
            urllib.parse.quote(password, safe=""), srv.port, path)

    def curl(self, *args, check=0):
        return self.run_client(["curl", "--silent", "--show-error",
                                "--max-time", "60", *args], check=check)

    def test_retrieve_every_message(self):
        msgs = corpus()
        srv = self.start(msgs)
        for i, m in enumerate(msgs):
            out = os.path.join(self.work, "msg.%d" % (i + 1))
            self.curl("--output", out, self.url(srv, str(i + 1)))
            with open(out, "rb") as f:
                got = f.read()
            self.assertSameMessage(crlf(m.data), got,
                                   "curl %s/%d (%s)" % ("pop3://…", i + 1,
                                                        m.name))
        # Every session ended with QUIT after one RETR: UPDATE moves each
        # message to cur/ with the S flag.
        self.wait_popit_gone(srv)
        self.assertMaildirAfterRetrieve(srv, msgs)

    def test_list_and_uidl(self):
        msgs = corpus()
        srv = self.start(msgs)
        p = self.curl(self.url(srv))
        self.assertEqual(p.stdout, b"".join(
            b"%d %d\r\n" % (i + 1, pop3_size(m.data))
            for i, m in enumerate(msgs)))
        p = self.curl("--request", "UIDL", self.url(srv))
        self.assertEqual(p.stdout, b"".join(
            b"%d %s\r\n" % (i + 1, u.encode()) for i, u in enumerate(srv.uids)))
        # Nothing retrieved: QUIT moved everything to cur/ without S.
        self.wait_popit_gone(srv)
        self.assertMaildirAfterRetrieve(srv, msgs, retrieved=())

    def test_dele(self):
        msgs = small_corpus()
        srv = self.start(msgs)
        self.curl("--request", "DELE", "--head", self.url(srv, "2"))
        self.wait_popit_gone(srv)
        self.assertMaildirAfterRetrieve(srv, msgs, retrieved=(),
                                        deleted=(2,))
        left = msgs[:1] + msgs[2:]
        p = self.curl(self.url(srv))
        self.assertEqual(p.stdout, b"".join(
            b"%d %d\r\n" % (i + 1, pop3_size(m.data))
            for i, m in enumerate(left)))
        out = os.path.join(self.work, "msg.2")
        self.curl("--output", out, self.url(srv, "2"))
        with open(out, "rb") as f:
            self.assertSameMessage(crlf(msgs[2].data), f.read(),
                                   "message 2 after deleting the old 2")

    def test_wrong_password(self):
        msgs = small_corpus()
        srv = self.start(msgs)
        self.curl(self.url(srv, "1", password=PASSWORD + "x"),
                  check=CURLE_LOGIN_DENIED)
        self.assertEqual(maildir_files(srv.maildir),
                         {"new": srv.uids, "cur": [], "tmp": []})


if __name__ == "__main__":
    unittest.main()
