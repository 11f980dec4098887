"""Python's poplib against popserv + popit on a real Maildir.

Every POP3 command poplib has (and LAST), USER/PASS and APOP logins, the
UPDATE state (docs/popit.md: DELE'd messages unlinked, the rest moved to cur/
with ":2," and S on those retrieved), no UPDATE without QUIT, and UIDs that
stay the same across sessions.
"""

import os
import poplib
import re
import unittest

from mailcorpus import (E2ETestCase, PASSWORD, USER, corpus, crlf, lf,
                        maildir_files, pop3_size, small_corpus)

HOST = "127.0.0.1"


def top_lines(data, n):
    """What TOP msg n returns (as poplib lines): the headers, the blank
    line, and the first n body lines."""
    head, body = lf(data).split(b"\n\n", 1)
    return head.split(b"\n") + [b""] + body.split(b"\n")[:-1][:n]


class PoplibTest(E2ETestCase):

    def connect(self, srv, timeout=60):
        p = poplib.POP3(HOST, srv.port, timeout=timeout)
        self.addCleanup(p.close)
        return p

    def login(self, srv):
        p = self.connect(srv)
        p.user(USER)
        self.assertTrue(p.pass_(PASSWORD).startswith(b"+OK"))
        return p

    def assertRetr(self, p, n, m):
        resp, lines, octets = p.retr(n)
        self.assertTrue(resp.startswith(b"+OK"), resp)
        got = b"\n".join(lines) + b"\n"
        self.assertSameMessage(lf(m.data), got, "RETR %d (%s)" % (n, m.name))
        # poplib counts every line with its CRLF, after unstuffing.
        self.assertEqual(octets, len(crlf(m.data)), "octets of RETR %d" % n)
        size = re.match(rb"\+OK (\d+) octets", resp)
        if size:
            self.assertEqual(int(size.group(1)), pop3_size(m.data), resp)

    def test_every_command_user_pass(self):
        msgs = corpus()
        sizes = [pop3_size(m.data) for m in msgs]
        srv = self.start(msgs)
        p = self.connect(srv)

        welcome = p.getwelcome()
        self.assertTrue(welcome.startswith(b"+OK"), welcome)
        self.assertNotIn(b"<", welcome, "APOP is off: no timestamp")
        with self.assertRaises(poplib.error_proto):
            p.apop(USER, PASSWORD)      # poplib refuses without timestamp

        capa = p.capa()
        for cap in ("USER", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
                    "PIPELINING", "IMPLEMENTATION"):
            self.assertIn(cap, capa)
        self.assertNotIn("STLS", capa)

        self.assertTrue(p.user(USER).startswith(b"+OK"))
        self.assertTrue(p.pass_(PASSWORD).startswith(b"+OK"))
        # docs/popit.md: CAPA in TRANSACTION repeats what popserv announced.
        self.assertEqual(p.capa(), capa)

        self.assertEqual(p.stat(), (len(msgs), sum(sizes)))
        resp, listing, _ = p.list()
        self.assertTrue(resp.startswith(b"+OK"), resp)
        self.assertEqual(listing, [b"%d %d" % (i + 1, s)
                                   for i, s in enumerate(sizes)])
        for i, s in enumerate(sizes):
            self.assertEqual(p.list(i + 1), b"+OK %d %d" % (i + 1, s))
        with self.assertRaises(poplib.error_proto):
            p.list(len(msgs) + 1)

        resp, uidl, _ = p.uidl()
        self.assertTrue(resp.startswith(b"+OK"), resp)
        self.assertEqual(uidl, [b"%d %s" % (i + 1, u.encode())
                                for i, u in enumerate(srv.uids)])
        for i, u in enumerate(srv.uids):
            self.assertEqual(p.uidl(i + 1), b"+OK %d %s" % (i + 1, u.encode()))

        for i, m in enumerate(msgs):
            counts = (0, 5) if m.name == "big" else (0, 1, 3, 10 ** 6)
            for n in counts:
                resp, lines, _ = p.top(i + 1, n)
                self.assertTrue(resp.startswith(b"+OK"), resp)
                self.assertEqual(lines, top_lines(m.data, n),
                                 "TOP %d %d (%s)" % (i + 1, n, m.name))
        self.assertEqual(p._shortcmd("LAST"), b"+OK %d" % len(msgs))

        for i, m in enumerate(msgs):
            self.assertRetr(p, i + 1, m)
        self.assertTrue(p.noop().startswith(b"+OK"))

        # DELE hides the message from everything; RSET brings it back.
        self.assertTrue(p.dele(2).startswith(b"+OK"))
        self.assertEqual(p.stat(), (len(msgs) - 1, sum(sizes) - sizes[1]))
        self.assertNotIn(b"2 %d" % sizes[1], p.list()[1])
        self.assertEqual(len(p.list()[1]), len(msgs) - 1)
        self.assertEqual(len(p.uidl()[1]), len(msgs) - 1)
        for cmd in (lambda: p.list(2), lambda: p.retr(2),
                    lambda: p.top(2, 0), lambda: p.uidl(2),
                    lambda: p.dele(2)):
            with self.assertRaises(poplib.error_proto):
                cmd()
        self.assertTrue(p.rset().startswith(b"+OK"))
        self.assertEqual(p.stat(), (len(msgs), sum(sizes)))
        self.assertEqual(p.list(2), b"+OK 2 %d" % sizes[1])

        for n in (0, len(msgs) + 1, "x"):
            with self.assertRaises(poplib.error_proto):
                p.retr(n)

        self.assertTrue(p.dele(2).startswith(b"+OK"))
        self.assertTrue(p.dele(5).startswith(b"+OK"))
        self.assertTrue(p.quit().startswith(b"+OK"))
        self.wait_popit_gone(srv)
        self.assertMaildirAfterRetrieve(srv, msgs, deleted=(2, 5))

    def test_update_flags_and_stable_uids(self):
        msgs = small_corpus()
        srv = self.start(msgs)

        # Session 1: RETR 1, TOP 2, DELE 3, LIST only for the rest.
        p = self.login(srv)
        self.assertRetr(p, 1, msgs[0])
        p.top(2, 0)
        p.dele(3)
        p.list()
        self.assertTrue(p.quit().startswith(b"+OK"))
        self.wait_popit_gone(srv)
        files = maildir_files(srv.maildir)
        self.assertEqual(files["new"], [])
        self.assertEqual(files["cur"], sorted(
            [srv.uids[0] + ":2,S", srv.uids[1] + ":2,"] +
            [u + ":2," for u in srv.uids[3:]]))

        # Session 2: the same UIDs (renumbered after the deletion), the
        # same contents, now read from cur/.
        left = [0, 1] + list(range(3, len(msgs)))
        p = self.login(srv)
        self.assertEqual(p.stat(), (len(left),
                                    sum(pop3_size(msgs[i].data)
                                        for i in left)))
        self.assertEqual(p.uidl()[1], [b"%d %s" % (n + 1, srv.uids[i].encode())
                                       for n, i in enumerate(left)])
        for n, i in enumerate(left):
            self.assertRetr(p, n + 1, msgs[i])
        p.dele(1)
        self.assertTrue(p.quit().startswith(b"+OK"))
        self.wait_popit_gone(srv)
        files = maildir_files(srv.maildir)
        self.assertEqual(files["cur"], sorted(srv.uids[i] + ":2,S"
                                              for i in left[1:]))

        # Session 3: still the same UIDs.
        p = self.login(srv)
        self.assertEqual(p.uidl()[1], [b"%d %s" % (n + 1, srv.uids[i].encode())
                                       for n, i in enumerate(left[1:])])
        for n, i in enumerate(left[1:]):
            self.assertEqual(p.uidl(n + 1), b"+OK %d %s"
                             % (n + 1, srv.uids[i].encode()))
        p.quit()

    def test_no_update_without_quit(self):
        # RFC 1939 §6: a session that ends without QUIT changes nothing.
        msgs = small_corpus()
        srv = self.start(msgs)
        p = self.login(srv)
        p.dele(1)
        self.assertRetr(p, 2, msgs[1])
        p.close()
        self.wait_popit_gone(srv)
        files = maildir_files(srv.maildir)
        self.assertEqual(files, {"new": srv.uids, "cur": [], "tmp": []})
        p = self.login(srv)
        self.assertEqual(p.stat()[0], len(msgs))
        p.quit()

    def test_apop(self):
        msgs = small_corpus()
        srv = self.start(msgs, conf="apop 1", crypt=False)
        p = self.connect(srv)
        welcome = p.getwelcome()
        self.assertRegex(welcome, rb"^\+OK .*<[^<>@]+@[^<>]+>$")
        self.assertTrue(p.apop(USER, PASSWORD).startswith(b"+OK"))
        self.assertEqual(p.stat()[0], len(msgs))
        self.assertRetr(p, 3, msgs[2])
        self.assertEqual(p.uidl(3), b"+OK 3 %s" % srv.uids[2].encode())
        self.assertTrue(p.quit().startswith(b"+OK"))

        # Each greeting has its own timestamp.
        p2 = self.connect(srv)
        self.assertNotEqual(p2.getwelcome(), welcome)
        with self.assertRaises(poplib.error_proto) as cm:
            p2.apop(USER, PASSWORD + "x")
        self.assertIn(b"-ERR [AUTH]", cm.exception.args[0])
        p2.close()

        # USER/PASS works on the same server too.
        p3 = self.login(srv)
        self.assertEqual(p3.stat()[0], len(msgs))
        p3.quit()
        self.wait_popit_gone(srv)
        self.assertMaildirAfterRetrieve(srv, msgs, retrieved=(3,))

    def test_wrong_password(self):
        srv = self.start(small_corpus())
        p = self.connect(srv)
        p.user(USER)
        with self.assertRaises(poplib.error_proto) as cm:
            p.pass_(PASSWORD + "x")
        self.assertEqual(cm.exception.args[0],
                         b"-ERR [AUTH] Authentication failed.")
        p.close()
        self.assertEqual(maildir_files(srv.maildir)["new"], srv.uids)

    def test_empty_maildir(self):
        srv = self.start([])
        p = self.login(srv)
        self.assertEqual(p.stat(), (0, 0))
        self.assertEqual(p.list()[1], [])
        self.assertEqual(p.uidl()[1], [])
        with self.assertRaises(poplib.error_proto):
            p.retr(1)
        self.assertTrue(p.quit().startswith(b"+OK"))
        self.wait_popit_gone(srv)
        self.assertEqual(maildir_files(srv.maildir),
                         {"new": [], "cur": [], "tmp": []})
        self.assertTrue(os.path.isdir(srv.maildir))


if __name__ == "__main__":
    unittest.main()
