"""fetchmail against popserv + popit on a real Maildir.

fetchmail retrieves every message and pipes it to an MDA (a small script
that stores each message in its own numbered file). What the MDA gets from
a stored message m: fetchmail's own "Received: … with POP3 (fetchmail-…)"
header field first, then the message with LF line ends (stripcr is on with
an MDA), the dot-stuffing removed, and a final LF added when the message
had none: lf(m). With "no rewrite" fetchmail leaves the addresses alone.

fetchmail runs with a private rc file (0600, owned by whoever runs it),
FETCHMAILHOME in the test's work directory, --nosyslog, -N, and
sslproto '' (popserv offers no STLS yet). As root the harness runs it as
the unprivileged test user, like popit's own Maildir owner.
"""

import os
import re
import unittest

from mailcorpus import (E2ETestCase, PASSWORD, USER, by_msgid, corpus, lf,
                        maildir_files, strip_trace_header, small_corpus)

PS_SUCCESS, PS_NOMAIL, PS_AUTHFAIL = 0, 1, 3

MDA = """#!/bin/sh
# fetchmail MDA: store the message on stdin as $1/msg.NNN, in order.
set -e
n=$(ls "$1" | wc -l)
cat > "$1/.new.$$"
mv "$1/.new.$$" "$1/msg.$(printf %03d "$n")"
"""


class FetchmailTest(E2ETestCase):
    client = "fetchmail"

    def setUp(self):
        super().setUp()
        self.mda = self.write_file("deliver", MDA, mode=0o700)
        self.runs = 0

    def fetchmail(self, srv, options, password=PASSWORD, check=PS_SUCCESS,
                  uidl=False):
        """One fetchmail run; returns the messages delivered by this run."""
        self.runs += 1
        out = self.mkdir("out%d" % self.runs)
        rc = self.write_file("fetchmailrc.%d" % self.runs, (
            'set idfile "%(work)s/fetchids"\n'
            'poll 127.0.0.1 with proto pop3 service %(port)d\n'
            '  auth password timeout 30%(uidl)s\n'
            '  user "%(user)s" there with password "%(password)s"\n'
            '  is "%(local)s" here\n'
            "  %(options)s no rewrite sslproto '' no sslcertck\n"
            '  mda "%(mda)s %(out)s"\n') % {
                "work": self.work, "port": srv.port, "user": USER,
                "password": password, "local": self.username,
                "options": options, "uidl": " uidl" if uidl else "",
                "mda": self.mda, "out": out})
        p = self.run_client(["fetchmail", "-f", rc, "--nosyslog", "-N",
                             "-v"],
                            env={"FETCHMAILHOME": self.work,
                                 "FETCHMAILUSER": self.username},
                            check=check)
        # -v shows the dialogue; drop its progress marks (one per 1 KB).
        self.log = re.sub(rb"[#*.]{20,}", b"...", p.stdout + p.stderr)
        delivered = []
        for name in sorted(os.listdir(out)):
            with open(os.path.join(out, name), "rb") as f:
                delivered.append(strip_trace_header(
                    f.read(), b"Received", b"with POP3 (fetchmail-"))
        return delivered

    def assertDelivered(self, msgs, delivered):
        self.assertEqual(len(delivered), len(msgs),
                         "messages delivered\n%s" % self.log.decode(
                             "utf-8", "replace")[-3000:])
        got = by_msgid(delivered)
        for i, m in enumerate(msgs):
            # fetchmail delivers in message-number order.
            self.assertEqual(got[m.msgid], delivered[i])
            self.assertSameMessage(lf(m.data), got[m.msgid],
                                   "message %d (%s) via fetchmail"
                                   % (i + 1, m.name))

    def test_nokeep(self):
        msgs = corpus()
        srv = self.start(msgs)
        self.assertDelivered(msgs, self.fetchmail(srv, "nokeep fetchall"))
        self.wait_popit_gone(srv)
        self.assertEqual(maildir_files(srv.maildir),
                         {"new": [], "cur": [], "tmp": []},
                         "the Maildir after fetchmail --nokeep")
        # Nothing left for a second run.
        self.assertEqual(self.fetchmail(srv, "nokeep fetchall",
                                        check=PS_NOMAIL), [])

    def test_keep_and_uidl(self):
        msgs = corpus()
        srv = self.start(msgs)
        # With keep (and without fetchall) fetchmail reads each message
        # with "TOP n 99999999" rather than RETR, so as not to mark it
        # seen on the server: TOP must send the whole message then.
        self.assertDelivered(msgs, self.fetchmail(srv, "keep", uidl=True))
        self.assertIn(b"POP3> TOP 5 99999999", self.log)
        self.wait_popit_gone(srv)
        # Everything stays, moved to cur/, not marked seen (docs/popit.md).
        self.assertMaildirAfterRetrieve(srv, msgs, retrieved=())
        # fetchmail remembered the UIDs: a second run finds nothing new,
        # which needs UIDs that stay the same across sessions.
        self.assertEqual(self.fetchmail(srv, "keep", uidl=True,
                                        check=PS_NOMAIL), [])
        self.wait_popit_gone(srv)
        self.assertMaildirAfterRetrieve(srv, msgs, retrieved=())
        # With fetchall everything is retrieved again, byte for byte, now
        # with RETR, so QUIT adds the S flag.
        self.assertDelivered(msgs, self.fetchmail(srv, "keep fetchall"))
        self.assertIn(b"POP3> RETR 5", self.log)
        self.wait_popit_gone(srv)
        self.assertMaildirAfterRetrieve(srv, msgs)

    def test_wrong_password(self):
        msgs = small_corpus()
        srv = self.start(msgs)
        self.assertEqual(self.fetchmail(srv, "keep fetchall",
                                        password=PASSWORD + "x",
                                        check=PS_AUTHFAIL), [])
        self.assertEqual(maildir_files(srv.maildir),
                         {"new": srv.uids, "cur": [], "tmp": []})


if __name__ == "__main__":
    unittest.main()
