"""Dialogue tests of the AUTHORIZATION engine (RFC 1939; docs/internals.md,
"A session" and "Logging").

The real popserv runs on loopback with a temporary configuration; popit
is the recording stub, which answers a good PASS/APOP with
"+OK stub popit". Limits, timers and load are in test_engine_limits.py.
"""

import hashlib
import os
import re
import signal
import socket
import threading
import time
import unittest

from engine_util import (AUTH_FAILED, GREETING, STUB_OK, TestCase, attempt,
                         greet, nothing_pending, records, stub_server)
from pop3test import Client, gensalt, hash_with

TEMP = re.compile(r"-ERR \[SYS/TEMP\] .*")
NOT_TOO_LONG = re.compile(r"-ERR (?!line too long).*")


def apop_digest(timestamp, secret):
    return hashlib.md5((timestamp + secret).encode()).hexdigest()


class HashKinds(TestCase):
    """USER/PASS against every kind of stored password."""

    PASSWORD = "Pa55w0rd"       # DES looks at 8 characters: keep it 8

    def test_login_with_each_hash_kind(self):
        pw = self.PASSWORD
        kinds = {
            "yescrypt": hash_with(pw, gensalt("$y$")),
            "sha512": hash_with(pw, gensalt("$6$")),
            "sha256": hash_with(pw, gensalt("$5$")),
            "bcrypt": hash_with(pw, gensalt("$2b$", 5)),
            "md5": hash_with(pw, gensalt("$1$")),
            "des": hash_with(pw, gensalt("")),
        }
        self.assertTrue(kinds["yescrypt"].startswith("$y$"))
        self.assertEqual(len(kinds["des"]), 13)
        srv = stub_server(self, users={
            name: {"password": h, "hashed": True}
            for name, h in kinds.items()})
        for name in kinds:
            with self.subTest(kind=name):
                c, _ = greet(srv)
                c.send("USER " + name).expect_ok()
                c.send("PASS " + "Xa55w0rd").expect(AUTH_FAILED)
                c.send("USER " + name).expect_ok()
                c.send("PASS " + pw).expect(STUB_OK)
                c.send("QUIT").expect("+OK bye")
                c.expect_closed()
        srv.wait_log(r'user="des" result=login')

    def test_plaintext_crypt_0(self):
        srv = stub_server(self, crypt=False,
                          users={"joe": "plain text secret"})
        with open(srv.userfile) as f:
            self.assertIn(":plain text secret:", f.read())
        c, _ = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS plain text").expect(AUTH_FAILED)
        c.send("USER joe").expect_ok()
        c.send("PASS plain text secret").expect(STUB_OK)
        c.send("QUIT").expect("+OK bye")

    def test_wrong_password_and_unknown_user_read_the_same(self):
        srv = stub_server(self, conf="maxfails 10")
        c, _ = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS wrong").expect(AUTH_FAILED)
        c.send("USER nosuchuser").expect_ok()
        c.send("PASS secret").expect(AUTH_FAILED)
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        srv.wait_log(r'user="joe" result=failed reason="wrong password"')
        srv.wait_log(r'user="nosuchuser" result=failed reason="unknown user"')


class Apop(TestCase):
    """APOP (RFC 1939 §7): the challenge and the digest."""

    TIMESTAMP = re.compile(
        r"\+OK .*(<(\d+)\.(\d+)\.(\d+)\.([0-9a-f]{16})@([^<>\s]+)>)")

    def apop_server(self):
        return stub_server(self, crypt=False, users={"joe": "tanstaaf"},
                           conf="apop 1\nhostname pop.example.test")

    def timestamp(self, greeting):
        m = self.TIMESTAMP.fullmatch(greeting)
        self.assertIsNotNone(m, greeting)
        return m

    def test_greeting_timestamp_unique_per_connection(self):
        srv = self.apop_server()
        seen = set()
        for _ in range(5):
            c, line = greet(srv)
            m = self.timestamp(line)
            self.assertEqual(int(m.group(2)), srv.proc.pid)
            self.assertLess(abs(int(m.group(4)) - time.time()), 60)
            self.assertEqual(m.group(6), "pop.example.test")
            seen.add(m.group(1))
            c.send("QUIT").expect_ok()
        self.assertEqual(len(seen), 5, seen)

    def test_challenge_differs_between_pid1_nodes_of_one_name(self):
        """Two nodes whose popserv is pid 1 (containers) under one host
        name, greeting in the same second: without random bits their
        challenges would be the same, and a digest seen on one would log
        in on the other."""
        ns = ["unshare", "--pid", "--kill-child=SIGTERM"]
        a = stub_server(self, crypt=False, users={"joe": "tanstaaf"},
                        conf="apop 1\nhostname pop.example.test",
                        wrapper=ns)
        b = stub_server(self, crypt=False, users={"joe": "tanstaaf"},
                        conf="apop 1\nhostname pop.example.test",
                        wrapper=ns)
        for _ in range(10):
            ca, la = greet(a)
            cb, lb = greet(b)
            ma, mb = self.timestamp(la), self.timestamp(lb)
            if ma.group(4) == mb.group(4):
                break               # the same second: the case in point
            ca.close()
            cb.close()
        self.assertEqual((ma.group(2), mb.group(2)), ("1", "1"))
        self.assertEqual(ma.group(3), mb.group(3))
        self.assertEqual(ma.group(4), mb.group(4))
        self.assertNotEqual(ma.group(1), mb.group(1))
        self.assertNotEqual(ma.group(5), mb.group(5))
        # The digest for a's challenge does not log in on b.
        cb.send("APOP joe " + apop_digest(ma.group(1), "tanstaaf")).expect(
            AUTH_FAILED)
        ca.send("APOP joe " + apop_digest(ma.group(1), "tanstaaf")).expect(
            STUB_OK)

    def test_apop_good_and_bad(self):
        srv = self.apop_server()
        c, line = greet(srv)
        ts = self.timestamp(line).group(1)
        c.send("APOP joe " + apop_digest(ts, "wrong")).expect(AUTH_FAILED)
        c.send("APOP nosuch " + apop_digest(ts, "tanstaaf")).expect(
            AUTH_FAILED)
        srv.wait_log(r'ip=127\.0\.0\.1 user="joe" result=failed '
                     r'reason="wrong password"')
        srv.wait_log(r'user="nosuch" result=failed reason="unknown user"')

        # A digest made for another connection's challenge is no good.
        c2, line2 = greet(srv)
        ts2 = self.timestamp(line2).group(1)
        c2.send("APOP joe " + apop_digest(ts, "tanstaaf")).expect(
            AUTH_FAILED)
        c2.send("APOP joe " + apop_digest(ts2, "tanstaaf")).expect(
            STUB_OK)
        c2.send("QUIT").expect("+OK bye")

        c.send("APOP joe " + apop_digest(ts, "tanstaaf")).expect(STUB_OK)
        c.send("QUIT").expect("+OK bye")
        srv.wait_log(r'user="joe" result=login')

    def test_apop_off(self):
        srv = stub_server(self, crypt=False, users={"joe": "tanstaaf"})
        c, line = greet(srv)
        self.assertNotIn("<", line)
        self.assertNotIn(">", line)
        c.send("APOP joe " + apop_digest("<1.1.1@x>", "tanstaaf"))
        c.expect_err()
        c.send("USER joe").expect_ok()
        c.send("PASS tanstaaf").expect(STUB_OK)

    def test_apop_needs_plaintext_passwords(self):
        """apop 1 with crypt 1: a warning, and APOP stays off."""
        srv = stub_server(self, users={"joe": "tanstaaf"}, conf="apop 1")
        srv.wait_log(r"popserv\.conf:\d+: .*APOP needs plaintext")
        c, line = greet(srv)
        self.assertNotIn("<", line)
        c.send("APOP joe " + apop_digest("<1.1.1@x>", "tanstaaf"))
        c.expect_err()
        c.send("USER joe").expect_ok()
        c.send("PASS tanstaaf").expect(STUB_OK)


class Commands(TestCase):
    """Lines, commands and replies before login."""

    def setUp(self):
        self.srv = stub_server(self)

    def test_capa(self):
        c, _ = greet(self.srv)
        for when in ("before USER", "after USER"):
            with self.subTest(when=when):
                c.send("CAPA").expect_ok()
                lines = c.multiline()
                names = [l.split()[0].upper() for l in lines]
                for want in ("USER", "TOP", "UIDL", "RESP-CODES",
                             "AUTH-RESP-CODE", "PIPELINING", "SASL",
                             "IMPLEMENTATION"):
                    self.assertIn(want, names)
                self.assertIn("SASL PLAIN", lines)
                self.assertNotIn("STLS", names)     # no tls.cert
                self.assertEqual(len(names), len(set(names)), lines)
            c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)

    def test_commands_are_case_insensitive(self):
        c, _ = greet(self.srv)
        c.send("capa").expect_ok()
        c.multiline()
        c.send("uSeR joe").expect_ok()
        c.send("pass secret").expect(STUB_OK)

    def test_line_over_255_octets_is_refused_and_closed(self):
        c, _ = greet(self.srv)
        line = "NOOP " + "x" * 249            # 256 octets with CRLF
        self.assertEqual(len(line) + 2, 256)
        c.send(line).expect("-ERR line too long")
        c.expect_closed()
        self.srv.wait_log(r"result=line too long")

    def test_long_line_arriving_in_pieces(self):
        c, _ = greet(self.srv)
        c.send_raw("USER " + "a" * 150)
        self.assertTrue(nothing_pending(c, 0.3))
        c.send_raw("b" * 150)
        c.expect("-ERR line too long")
        c.expect_closed()

    def test_line_of_exactly_255_octets_is_a_command(self):
        c, _ = greet(self.srv)
        line = "XYZZ " + "x" * 248            # 255 octets with CRLF
        self.assertEqual(len(line) + 2, 255)
        c.send(line).expect(NOT_TOO_LONG)
        c.send_raw(line + "x\n").expect(NOT_TOO_LONG)    # bare LF
        c.send("CAPA").expect_ok()                      # still open
        c.multiline()
        # And a PASS line of 255 octets reaches the password check whole.
        secret = "p" * 248
        srv = stub_server(self, users={"joe": secret})
        c, _ = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS " + secret[:-1] + "q").expect(AUTH_FAILED)
        c.send("USER joe").expect_ok()
        c.send("PASS " + secret).expect(STUB_OK)
        self.assertEqual(len("PASS " + secret) + 2, 255)

    def test_nul_byte_is_a_syntax_error(self):
        c, _ = greet(self.srv)
        c.send(b"USER jo\x00e").expect_err()
        c.send(b"\x00").expect_err()
        c.send("USER joe").expect_ok()
        c.send(b"PASS sec\x00ret").expect_err()
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)

    def test_bare_lf_line_endings(self):
        c, _ = greet(self.srv)
        c.send_raw(b"CAPA\n").expect_ok()
        c.multiline()
        c.send_raw(b"USER joe\n").expect_ok()
        c.send_raw(b"PASS secret\n").expect(STUB_OK)
        c.send_raw(b"QUIT\n").expect("+OK bye")

    def test_pass_before_user(self):
        c, _ = greet(self.srv)
        c.send("PASS secret").expect_err()
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        self.assertEqual(len(records(self.srv)), 1)

    def test_unknown_command_then_login(self):
        c, _ = greet(self.srv)
        c.send("HELO there").expect_err()
        c.send("").expect_err()
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)

    def test_transaction_commands_before_login(self):
        c, _ = greet(self.srv)
        for cmd in ("STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP",
                    "RSET", "TOP 1 0", "UIDL", "UIDL 1", "LAST"):
            with self.subTest(cmd=cmd):
                c.send(cmd).expect(re.compile(r"-ERR .+"))
        c.send("USER joe").expect_ok()
        c.send("STAT").expect_err()
        c.send("PASS secret").expect(STUB_OK)
        c.send("STAT").expect("+OK STAT")

    def test_quit(self):
        c, _ = greet(self.srv)
        c.send("USER joe").expect_ok()
        c.send("QUIT").expect_ok()
        c.expect_closed()
        self.assertEqual(records(self.srv), [])

    def test_pipelined_commands_keep_their_order(self):
        c, _ = greet(self.srv)
        c.send_raw("CAPA\r\nNOOP\r\nUSER joe\r\nPASS wrong\r\nUSER joe\r\n"
                   "PASS secret\r\nSTAT\r\nLIST 1\r\nQUIT\r\n")
        c.expect_ok()
        c.multiline()
        c.expect_err()
        c.expect_ok()
        c.expect(AUTH_FAILED)
        c.expect_ok()
        c.expect(STUB_OK)
        c.expect("+OK STAT")
        c.expect("+OK LIST 1")
        c.expect("+OK bye")
        c.expect_closed()

    def test_many_pipelined_commands_to_a_slow_reader(self):
        """Replies queue up while the client does not read: popserv stops
        reading until they are written, and loses or reorders nothing."""
        n = 3000
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((self.srv.host, self.srv.port))
        c = Client(s)
        self.addCleanup(c.close)
        c.expect(GREETING)
        data = (b"CAPA\r\nNOOP\r\n" * n +
                b"USER joe\r\nPASS secret\r\nSTAT\r\nQUIT\r\n")
        sender = threading.Thread(target=s.sendall, args=(data,))
        sender.start()
        time.sleep(0.5)                 # let both directions fill up
        for i in range(n):
            c.expect_ok()
            self.assertIn("PIPELINING", c.multiline())
            c.expect_err()
        c.expect_ok()
        c.expect(STUB_OK)
        c.expect("+OK STAT")
        c.expect("+OK bye")
        sender.join(10)
        self.assertFalse(sender.is_alive())

    def test_a_long_pipeline_is_served_whole(self):
        """Tens of thousands of pipelined commands, read as they come:
        popserv must not stall half-way (e.g. on a zero TCP window while
        it leaves the start of a line in the kernel)."""
        n = 40000
        c, _ = greet(self.srv)
        sender = threading.Thread(
            target=c.sock.sendall,
            args=(b"NOOP\r\n" * n + b"QUIT\r\n",), daemon=True)
        sender.start()
        data = bytearray(c.buf)
        deadline = time.monotonic() + 60
        while not data.endswith(b"\n") or data.count(b"\n") <= n:
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "%d of %d replies"
                               % (data.count(b"\n"), n + 1))
            c.sock.settimeout(min(left, 10))
            try:
                chunk = c.sock.recv(1 << 20)
            except socket.timeout:
                self.fail("stalled after %d of %d replies"
                          % (data.count(b"\n"), n + 1))
            if not chunk:
                break
            data += chunk
        lines = bytes(data).split(b"\r\n")
        self.assertEqual(lines[-1], b"")
        self.assertEqual(len(lines), n + 2)
        self.assertTrue(all(l.startswith(b"-ERR ") for l in lines[:n]))
        self.assertTrue(lines[n].startswith(b"+OK"), lines[n])
        sender.join(10)

    def test_maxfails(self):
        srv = stub_server(self, conf="maxfails 3")
        c, _ = greet(srv)
        for attempt in (1, 2):
            c.send("USER joe").expect_ok()
            c.send("PASS wrong%d" % attempt).expect(AUTH_FAILED)
        c.send("CAPA").expect_ok()      # still open after two
        c.multiline()
        c.send("USER nosuch").expect_ok()
        c.send("PASS wrong3").expect(AUTH_FAILED)
        c.expect_closed()
        srv.wait_log(r'attempt=3')
        srv.wait_log(r'result=maxfails')


class UserFile(TestCase):
    """userdb file, changed while popserv runs."""

    def test_edit_rename_remove_restore(self):
        srv = stub_server(self, users={"joe": "old-secret",
                                       "ann": "ann-secret"},
                          conf="maxfails 100")
        self.assertEqual(attempt(srv, "joe", "old-secret"), STUB_OK)

        # Edited in place: same inode, same size, a new hash.
        with open(srv.userfile) as f:
            text = f.read()
        old = re.search(r"^joe:([^:]*):", text, re.M).group(1)
        new = hash_with("new-secret", old[:old.rindex("$") + 1])
        self.assertEqual(len(new), len(old))
        ino = os.stat(srv.userfile).st_ino
        with open(srv.userfile, "r+") as f:
            f.write(text.replace(old, new))
        self.assertEqual(os.stat(srv.userfile).st_ino, ino)
        self.assertEqual(attempt(srv, "joe", "new-secret"), STUB_OK)
        self.assertEqual(attempt(srv, "joe", "old-secret"), AUTH_FAILED)

        # Replaced by rename(2).
        srv.write_users({"joe": "third-secret", "ann": "ann-secret"})
        self.assertNotEqual(os.stat(srv.userfile).st_ino, ino)
        self.assertEqual(attempt(srv, "joe", "third-secret"), STUB_OK)
        self.assertEqual(attempt(srv, "joe", "new-secret"), AUTH_FAILED)

        # Removed: a temporary failure for everyone, never [AUTH].
        os.unlink(srv.userfile)
        for user, pw in (("joe", "third-secret"), ("joe", "wrong"),
                         ("nosuch", "x")):
            with self.subTest(user=user, pw=pw):
                c, _ = greet(srv)
                c.send("USER " + user).expect_ok()
                c.send("PASS " + pw).expect(TEMP)
                # The session goes on: it may try again.
                c.send("USER " + user).expect_ok()
                c.send("QUIT").expect_ok()
        srv.wait_log(r"result=tempfail")

        # Restored.
        srv.write_users({"joe": "third-secret", "ann": "ann-secret"})
        self.assertEqual(attempt(srv, "joe", "third-secret"), STUB_OK)
        self.assertEqual(attempt(srv, "joe", "wrong"), AUTH_FAILED)


class Logging(TestCase):
    """One log line per failed attempt, at once; client text escaped;
    never a password."""

    def test_failure_logged_at_once_without_password(self):
        srv = stub_server(self, users={"joe": "GoodPw-7f3a9"},
                          conf="faildelay 3\nfailpenalty 0")
        a, _ = greet(srv)
        b, _ = greet(srv)
        a.send("USER joe").expect_ok()
        b.send("USER nobody").expect_ok()
        t0 = time.monotonic()
        a.send("PASS BadPw-1c9e0 with spaces")
        b.send("PASS BadPw-2d4e1")
        srv.wait_log(r'session=\w+ ip=127\.0\.0\.1 user="joe" '
                     r'result=failed reason="wrong password" attempt=1',
                     timeout=2)
        srv.wait_log(r'session=\w+ ip=127\.0\.0\.1 user="nobody" '
                     r'result=failed reason="unknown user" attempt=1',
                     timeout=2)
        # Logged while the answers still wait for faildelay.
        self.assertLess(time.monotonic() - t0, 2.5)
        self.assertTrue(nothing_pending(a))
        self.assertTrue(nothing_pending(b))
        a.expect(AUTH_FAILED)
        b.expect(AUTH_FAILED)

        c = srv.login("joe", "GoodPw-7f3a9")
        c.send("QUIT").expect("+OK bye")
        srv.wait_log(r'user="joe" result=login')
        log = srv.log_bytes()
        for secret in (b"GoodPw", b"BadPw", b"7f3a9", b"1c9e0", b"2d4e1"):
            self.assertNotIn(secret, log)

    def test_user_names_are_escaped(self):
        srv = stub_server(self)
        c, _ = greet(srv)
        # Controls cannot be part of a name: refused, and logged escaped.
        c.send(b"USER a\x1bb").expect_err()
        c.send(b"USER evil\rresult=login").expect_err()
        # Eight-bit bytes, quotes and backslashes can: escaped in the log.
        c.send(b'USER j\xffo"e\\').expect_ok()
        c.send("PASS x").expect(AUTH_FAILED)
        srv.wait_log(r'user="j\\xffo\\"e\\\\" result=failed '
                     r'reason="unknown user"')
        srv.wait_log(r'"USER a\\x1bb\\r\\n"')
        srv.wait_log(r'"USER evil\\rresult=login\\r\\n"')
        log = srv.log_bytes()
        for raw in (b"\x1b", b"\xff", b"\r"):
            self.assertNotIn(raw, log)

    def test_sigusr1_logs_counters(self):
        srv = stub_server(self)
        ok = srv.login("joe", "secret")
        ok.send("QUIT").expect("+OK bye")
        c, _ = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS wrong").expect(AUTH_FAILED)
        # c stays open: one session.
        srv.wait_log(r"popit pid=\d+ .*exit=0")
        m = srv.wait_stats(r"stats sessions=(\d+) checking=(\d+) "
                           r"popits=(\d+) addresses=(\d+) accepted=(\d+) "
                           r"logins_ok=(\d+) logins_failed=(\d+) "
                           r".*timeouts=(\d+)")
        sessions, checking, popits, addrs, accepted, ok_n, failed, _ = \
            map(int, m.groups())
        self.assertEqual(sessions, 1)
        self.assertEqual(checking, 0)
        self.assertEqual(popits, 0)
        self.assertEqual(addrs, 1)
        self.assertGreaterEqual(accepted, 3)    # the harness probe, ok, c
        self.assertEqual(ok_n, 1)
        self.assertEqual(failed, 1)
        self.assertIsNone(srv.proc.poll())


if __name__ == "__main__":
    unittest.main()
