"""Input hygiene in the log (docs/security.md): client text is escaped
in every log line, so no client can add a line, forge a field or send
control sequences to a terminal; and a configuration file holding a
password that others can read is warned about when popserv starts and
reloads.

test_engine.Logging covers the escaping of a few names; here every
way client text reaches the log is tried at once, and the whole log is
checked line by line against the shapes popserv writes.
"""

import hashlib
import os
import re
import signal
import unittest

from engine_util import AUTH_FAILED, STUB_OK, TestCase, greet, stub_server
import lifecycle_util
from pop3test import TEST_GID, TEST_UID, chown_tree

# Every line popserv (with -d) writes starts like one of these.
SHAPES = re.compile(
    r"^(session=[0-9a-f]+ "
    r"|ip=[0-9a-f.:]+ result=rejected "
    r"|popit pid=\d+ ip=[0-9a-f.:]+ user=\"[^\"\\]*(\\.[^\"\\]*)*\" "
    r"|popit: "
    r"|listening on "
    r"|popserv \S+ (started|exiting)"
    r"|popserv exiting"
    r"|/\S+: \d+ users loaded$"
    r"|account: "
    r"|stats "
    r"|reload: "
    r"|/\S+:\d+: warning: )")

# The outcome line of a session: its fields, the user name quoted.
OUTCOME = re.compile(r'^session=[0-9a-f]+ ip=[0-9a-f.:]+ '
                     r'user="(?:[^"\\]|\\.)*" result=(\w+)')

# What a forger would like to see as a line of its own.
FORGED = (b"session=999 ", b"ip=6.6.6.6", b"user=\"root\" result=login")

HOSTILE = [
    # A name holding a forged line after CR, LF, both, or ESC.
    b"USER joe\rsession=999 ip=6.6.6.6 user=\"root\" result=login",
    b"USER joe\nsession=999 ip=6.6.6.6 user=\"root\" result=login",
    b"USER joe\r\nsession=999 ip=6.6.6.6 user=\"root\" result=login",
    b"USER \x1b[2J\x1b]0;owned\x07joe",
    # Eight-bit bytes, quotes and backslashes are allowed in a name.
    b"USER j\xc3\xb6e\"\\result=login\xff",
    # Unknown commands and arguments to known ones.
    b"XYZZ \x1b[31m\r\x00\x7f\x80",
    b"CAPA \x1b[1m",
    b"session=999 ip=6.6.6.6 user=\"root\" result=login",
]


def raw_controls(data):
    """Bytes a log line must never hold: controls but LF, and 8-bit."""
    return sorted({b for b in data if (b < 0x20 and b != 0x0a) or b >= 0x7f})


class LogInjection(TestCase):

    def check_log(self, srv, mark=0):
        data = srv.log_bytes()[mark:]
        self.assertEqual(raw_controls(data), [])
        lines = data.decode("ascii").splitlines()
        odd = [l for l in lines if not SHAPES.match(l)]
        self.assertEqual(odd, [], "lines popserv does not write")
        for l in lines:
            for f in FORGED:
                self.assertFalse(l.startswith(f.decode()), l)
        return lines

    def test_user_pass_and_commands(self):
        srv = stub_server(self, users={"joe": "S3cretPw-91"},
                          conf="maxfails 100\n"
                                     "folder \\+([^%@/]*)\n"
                                     "useropt /([^%@+]*)")
        folder = os.path.join(srv.home("joe").encode(), b"Maildir",
                              b".\xe2\x80\xae")
        for sub in (b"tmp", b"new", b"cur"):
            os.makedirs(os.path.join(folder, sub))
        if os.getuid() == 0:
            chown_tree(folder, TEST_UID, TEST_GID)
        c, _ = greet(srv)
        fails = 0
        for line in HOSTILE:
            c.send_raw(line + b"\r\n")
            # An LF inside makes two commands: an answer to each.
            need_pass = False
            for cmd in line.split(b"\n"):
                reply = c.readline()
                if reply.startswith("+OK") and cmd.startswith(b"CAPA"):
                    c.multiline()
                elif reply.startswith("+OK"):
                    self.assertTrue(cmd.startswith(b"USER "), cmd)
                    need_pass = True
            if need_pass:
                c.send("PASS Wr0ngPw-7f\x1b[2J").expect(AUTH_FAILED)
                fails += 1
        # A login whose folder (a right-to-left override) and option
        # carry 8-bit bytes and a backslash: logged escaped, and popit
        # runs in that folder.
        c.send_raw(b"USER joe+\xe2\x80\xae/o\\pt\r\n").expect_ok()
        c.send("PASS S3cretPw-91").expect(STUB_OK)
        c.send("QUIT").expect("+OK bye")
        srv.wait_log(r"popit pid=\d+ .*exit=0")
        lines = self.check_log(srv)
        # One line per failed attempt, one per login: none added. (Debug
        # lines quote what the client sent, forged fields and all, but
        # inside quotes: a filter must match the fields, as here.)
        failed = [l for l in lines if OUTCOME.match(l) and
                  OUTCOME.match(l).group(1) == "failed"]
        self.assertEqual(len(failed), fails)
        self.assertGreaterEqual(fails, 3)
        logins = [l for l in lines if OUTCOME.match(l) and
                  OUTCOME.match(l).group(1) == "login"]
        self.assertEqual(len(logins), 1, logins)
        self.assertRegex(logins[0], r'user="joe\+\\xe2\\x80\\xae/o\\\\pt" '
                                    r'result=login folder="\\xe2\\x80\\xae"')
        # PASS arguments never reach the log.
        self.assertNotIn("Wr0ngPw", srv.log())
        self.assertNotIn("S3cretPw", srv.log())

    def test_apop_names(self):
        srv = stub_server(self, crypt=False, users={"joe": "tanstaaf"},
                          conf="apop 1\nmaxfails 100")
        c, greeting = greet(srv)
        ts = re.search(r"<[^>]+>", greeting).group(0)
        digest = hashlib.md5((ts + "tanstaaf").encode()).hexdigest()
        for name in (b"jo\x1be", b"j\xffoe", b"joe\\\"x", b"a" * 200):
            c.send_raw(b"APOP " + name + b" " + b"0" * 32 + b"\r\n")
            c.expect_err()
        c.send("APOP joe " + digest).expect(STUB_OK)
        c.send("QUIT").expect("+OK bye")
        srv.wait_log(r"popit pid=\d+ .*exit=0")
        lines = self.check_log(srv)
        # The 200-byte name is cut short with "...", on its own line.
        self.assertTrue(any(re.search(r'user="a+\.\.\." result=failed', l)
                            for l in lines), lines)


class ConfigPermissions(TestCase):
    """A password in a configuration file others can read: a warning at
    start and at each reload, not only from popserv -t."""

    def test_warned_at_start_and_reload(self):
        srv = lifecycle_util.stub_server(
            self, start=False, conf="loginfo.host 127.0.0.1:9\n"
                                    "loginfo.password not-for-others")
        os.chmod(srv.conf_path, 0o644)
        srv.start()
        srv.wait_log(r"(?m)^%s:\d+: warning: loginfo\.password: .*"
                     r"chmod 600" % re.escape(srv.conf_path))
        os.chmod(srv.conf_path, 0o640)
        srv.signal(signal.SIGHUP)
        srv.wait_log(r"reload: %s:\d+: warning: loginfo\.password: "
                     % re.escape(srv.conf_path))
        srv.wait_log(r"reload: \S+ in force")
        self.assertNotIn("not-for-others", srv.log())
        # Readable by its owner only: no warning.
        os.chmod(srv.conf_path, 0o600)
        n = srv.log().count("warning:")
        srv.signal(signal.SIGHUP)
        srv.wait_log(r"(?s)in force.*in force")
        self.assertEqual(srv.log().count("warning:"), n)


if __name__ == "__main__":
    unittest.main()
