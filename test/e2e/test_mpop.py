"""mpop against popserv + popit on a real Maildir.

mpop pipelines (it sends USER and PASS, and all its RETRs, without waiting
for the answers), so these tests also cover pipelining (RFC 2449) across the
handoff to popit. It stores each message with LF line ends, the dot-stuffing
removed and a final LF added when the message had none: lf(m), after its
own "Received: … (mpop-…) with POP3" header field unless
`received_header off`. In an mbox it uses the MBOXRD variant: a
"From <sender> <date>" line before each message, ">" added before lines
matching /^>*From /, and an empty line after each message.
"""

import os
import re
import unittest

from mailcorpus import (E2ETestCase, PASSWORD, USER, by_msgid, corpus, lf,
                        maildir_files, small_corpus, strip_trace_header)

EX_NOPERM = 77


def parse_mboxrd(data):
    """Split an MBOXRD mailbox into (From_ line, message) pairs, with the
    quoting undone."""
    if not data:
        return []
    if not data.startswith(b"From ") or not data.endswith(b"\n"):
        raise AssertionError("not an mbox: %r ... %r"
                             % (data[:100], data[-100:]))
    out = []
    for part in re.split(rb"(?:^|\n\n)(?=From )", data):
        if not part:
            continue
        from_, _, body = part.partition(b"\n")
        if not body.endswith(b"\n"):
            body += b"\n"       # the last message still ends in "\n\n"
        body = body[:-1] if body.endswith(b"\n\n") else body
        body = re.sub(rb"(?m)^>(>*From )", rb"\1", body)
        out.append((from_, body))
    return out


class MpopTest(E2ETestCase):
    client = "mpop"

    def setUp(self):
        super().setUp()
        self.pwfile = self.write_file("password", PASSWORD + "\n")

    def config(self, srv, extra=""):
        # Everything but the password and the delivery: those come from
        # the command line or from extra.
        return self.write_file("mpoprc", (
            "defaults\n"
            "tls off\n"
            "auth user\n"
            "timeout 30\n"
            "uidls_file %s/uidls\n"
            "\n"
            "account test\n"
            "host 127.0.0.1\n"
            "port %d\n"
            "user %s\n" % (self.work, srv.port, USER)) + extra)

    def mpop(self, conf, *args, check=0, debug=False):
        debug = ["--debug"] if debug else []
        p = self.run_client(["mpop", "-C", conf, *debug, *args, "test"],
                            check=check)
        self.log = p.stdout + p.stderr
        return p

    def read_maildir(self, path):
        """The messages in a Maildir's new/, in delivery order."""
        names = os.listdir(os.path.join(path, "new"))
        # mpop names files time.M<usec>P<pid>Q<n>.host; Q counts up.
        names.sort(key=lambda n: (int(n.split(".")[0]),
                                  int(re.search(r"Q(\d+)", n).group(1))
                                  if re.search(r"Q(\d+)", n) else 0, n))
        out = []
        for n in names:
            with open(os.path.join(path, "new", n), "rb") as f:
                out.append(f.read())
        return out

    def assertDelivered(self, msgs, delivered, received_header):
        self.assertEqual(len(delivered), len(msgs), "messages delivered\n%s"
                         % self.log.decode("utf-8", "replace")[-3000:])
        if received_header:
            delivered = [strip_trace_header(d, b"Received", b"(mpop-")
                         for d in delivered]
        got = by_msgid(delivered)
        for i, m in enumerate(msgs):
            self.assertSameMessage(lf(m.data), got[m.msgid],
                                   "message %d (%s) via mpop"
                                   % (i + 1, m.name))

    def test_maildir_delete(self):
        msgs = corpus()
        srv = self.start(msgs)
        out = self.mkdir("Maildir")
        for sub in ("new", "cur", "tmp"):
            self.mkdir("Maildir", sub)
        conf = self.config(srv)
        self.mpop(conf, "--deliver=maildir," + out, "--keep=off",
                  "--passwordeval=cat " + self.pwfile, "--auth=user",
                  "--tls=off", check=0, debug=True)
        # USER and PASS go out together, before popserv answers USER
        # (the debug output holds every message: keep it out of the
        # failure messages).
        self.assertTrue(re.search(rb"\n--> USER joe\r\n--> PASS .*\r\n"
                                  rb"<-- \+OK [^\r]*\r\n<-- \+OK", self.log),
                        "mpop pipelined USER and PASS")
        self.assertTrue(re.search(rb"\n--> RETR 1\r\n--> RETR 2\r\n",
                                  self.log), "mpop pipelined RETR")
        self.log = self.log[:2000]
        self.assertDelivered(msgs, self.read_maildir(out),
                             received_header=True)
        self.wait_popit_gone(srv)
        self.assertEqual(maildir_files(srv.maildir),
                         {"new": [], "cur": [], "tmp": []},
                         "the Maildir after mpop --keep=off")

    def test_mbox_keep(self):
        msgs = corpus()
        srv = self.start(msgs)
        mbox = os.path.join(self.work, "mbox")
        conf = self.config(srv, 'password "%s"\nreceived_header off\n'
                           "keep on\ndelivery mbox %s\n" % (PASSWORD, mbox))
        self.mpop(conf)
        with open(mbox, "rb") as f:
            raw = f.read()
        # MBOXRD quoting of the dots message's "From " lines.
        self.assertIn(b"\n>From the beginning of a line\n", raw)
        self.assertIn(b"\n>>From an already quoted line\n", raw)
        parsed = parse_mboxrd(raw)
        for from_, _ in parsed:
            self.assertRegex(from_, rb"^From \S+ \w{3} \w{3} [ \d]\d "
                             rb"\d\d:\d\d:\d\d \d{4}$")
        self.assertDelivered(msgs, [body for _, body in parsed],
                             received_header=False)
        self.wait_popit_gone(srv)
        # keep: everything stays, in cur/ and seen (mpop uses RETR).
        self.assertMaildirAfterRetrieve(srv, msgs)

        # mpop remembers the UIDs: the second run retrieves nothing.
        self.mpop(conf)
        self.wait_popit_gone(srv)
        with open(mbox, "rb") as f:
            self.assertEqual(f.read(), raw, "mbox after a second mpop run")
        self.assertMaildirAfterRetrieve(srv, msgs)

    def test_serverinfo(self):
        srv = self.start(small_corpus())
        conf = self.config(srv)
        p = self.run_client(["mpop", "-C", conf, "--serverinfo", "test"],
                            check=0)
        for cap in (b"PIPELINING", b"TOP", b"UIDL", b"RESP-CODES",
                    b"AUTH-RESP-CODE", b"IMPLEMENTATION"):
            self.assertIn(b"    " + cap + b":", p.stdout)
        self.assertNotIn(b"STLS", p.stdout)

    def test_wrong_password(self):
        msgs = small_corpus()
        srv = self.start(msgs)
        conf = self.config(srv, 'password "%s"\ndelivery mbox %s/mbox\n'
                           % (PASSWORD + "x", self.work))
        p = self.mpop(conf, check=EX_NOPERM)
        self.assertIn(b"Authentication failed", p.stderr)
        mbox = os.path.join(self.work, "mbox")
        self.assertFalse(os.path.exists(mbox) and os.path.getsize(mbox),
                         "nothing delivered")
        self.assertEqual(maildir_files(srv.maildir),
                         {"new": srv.uids, "cur": [], "tmp": []})


if __name__ == "__main__":
    unittest.main()
