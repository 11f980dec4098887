"""Dialogue tests for popit alone: the real binary on a socketpair.

popit is started the way popserv starts it: in the Maildir, with one end
of a socketpair as fd 0 and fd 1 (blocking), and stderr to a log file.
As root (CI), popit runs as nobody (65534) on a Maildir chowned to it,
since it refuses root; otherwise it runs as the current user.
"""

import hashlib
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from pop3test import (Client, POPIT, TEST_GID, TEST_UID, TIMEOUT,
                      chown_tree, make_maildir)

AS_ROOT = os.getuid() == 0
OK = re.compile(r"\+OK.*")
ERR = re.compile(r"-ERR.*")


def drop_privileges():
    """preexec_fn: become nobody, as popserv would make popit the user."""
    os.setgroups([])
    os.setgid(TEST_GID)
    os.setuid(TEST_UID)


def wire(body):
    """What RETR must send for a message: CRLF, byte-stuffed, ended."""
    out = bytearray()
    prev = b""
    bol = True
    for i in range(len(body)):
        c = body[i:i + 1]
        if bol and c == b".":
            out += b"."
        if c == b"\n" and prev != b"\r":
            out += b"\r"
        out += c
        bol = c == b"\n"
        prev = c
    if not bol:
        out += b"\r\n"
    return bytes(out) + b".\r\n"


def pop3_size(body):
    """The size popit reports: CRLF line ends, no stuffing, no end."""
    n = len(body)
    for i, b in enumerate(body):
        if b == 0x0a and (i == 0 or body[i - 1] != 0x0d):
            n += 1
    return n


class Popit:
    """One popit process; .c is the Client on our end of the socketpair."""

    def __init__(self, maildir, args=(), drop=True, restore_signals=True,
                 log=None):
        ours, theirs = socket.socketpair()
        env = dict(os.environ, USER="joe", LOGNAME="joe", HOME=maildir,
                   PATH="/usr/bin:/bin")
        self.log_path = log or os.path.join(os.path.dirname(maildir),
                                            "popit.log")
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(
                [POPIT, *args], stdin=theirs, stdout=theirs, stderr=logf,
                cwd=maildir, env=env, restore_signals=restore_signals,
                preexec_fn=drop_privileges if AS_ROOT and drop else None)
        theirs.close()
        self.c = Client(ours, "popit")

    def wait(self, timeout=TIMEOUT):
        return self.proc.wait(timeout)

    def log(self):
        """Complete lines only (see Server.log_bytes)."""
        with open(self.log_path, "rb") as f:
            raw = f.read()
        return raw[:raw.rfind(b"\n") + 1].decode("utf-8", "replace")

    def stop(self):
        self.c.close()
        if self.proc.poll() is None:
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class PopitTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="popit-test-")
        self.dir = self.tmp.name
        os.chmod(self.dir, 0o755)
        self.md = os.path.join(self.dir, "Maildir")
        self.addCleanup(self.tmp.cleanup)

    def maildir(self, *messages):
        """A Maildir with messages delivered to new/; their file names."""
        names = make_maildir(self.md, messages)
        self.chown()
        return names

    def chown(self):
        if AS_ROOT:
            chown_tree(self.md, TEST_UID, TEST_GID)

    def put(self, rel, body):
        """Deliver body as Maildir-relative path rel (e.g. cur/x:2,S)."""
        with open(os.path.join(self.md, rel), "wb") as f:
            f.write(body)
        self.chown()

    def start(self, *args, greeting=OK, **kw):
        p = Popit(self.md, args, **kw)
        self.addCleanup(p.stop)
        if greeting is not None:
            p.c.expect(greeting)
        return p

    def files(self):
        """{"new/...", "cur/..."} as on disk now."""
        out = set()
        for sub in ("new", "cur"):
            for n in os.listdir(os.path.join(self.md, sub)):
                out.add(sub + "/" + n)
        return out

    def quit(self, p, want="+OK bye"):
        p.c.send("QUIT").expect(re.compile(re.escape(want) + ".*"))
        p.c.expect_closed()
        return p.wait()

    def retr_raw(self, c, cmd):
        """Send cmd (RETR/TOP); return (status line, raw body with '.')."""
        c.send(cmd)
        return self.read_message(c)

    def read_message(self, c):
        """Read a status line and, after +OK, the raw multi-line body up
        to and including the ".\r\n" line, byte-stuffing kept."""
        status = c.readline()
        if not status.startswith("+OK"):
            return status, None
        deadline = time.monotonic() + 60
        data = bytearray(b"\r\n" + c.buf)
        start = 0
        while True:
            end = data.find(b"\r\n.\r\n", start)
            if end >= 0:
                break
            start = max(0, len(data) - 4)
            if time.monotonic() > deadline:
                raise TimeoutError("no end of message")
            chunk = c.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("closed in the middle of a message")
            data += chunk
        c.buf = bytes(data[end + 5:])
        return status, bytes(data[2:end + 5])

    # -- the greeting and the simple commands ----------------------------

    def test_greeting_stat_list(self):
        bodies = [b"Subject: one\n\nhello\n",
                  b"Subject: two\r\n\r\ncrlf already\r\n",
                  b"Subject: three\n\nno final newline"]
        self.maildir(*bodies)
        p = self.start(greeting="+OK maildrop has 3 messages")
        sizes = [pop3_size(b) for b in bodies]
        p.c.send("STAT").expect("+OK 3 %d" % sum(sizes))
        p.c.send("LIST").expect("+OK 3 messages (%d octets)" % sum(sizes))
        self.assertEqual(p.c.multiline(),
                         ["%d %d" % (i + 1, s) for i, s in enumerate(sizes)])
        p.c.send("LIST 2").expect("+OK 2 %d" % sizes[1])
        p.c.send("NOOP").expect("+OK")
        self.assertEqual(self.quit(p), 0)

    def test_one_message_and_empty(self):
        self.maildir(b"x\n")
        p = self.start(greeting="+OK maildrop has 1 message")
        self.quit(p)
        os.unlink(os.path.join(self.md, "cur", os.listdir(
            os.path.join(self.md, "cur"))[0]))
        p = self.start(greeting="+OK maildrop has 0 messages")
        p.c.send("STAT").expect("+OK 0 0")
        p.c.send("LIST").expect_ok()
        self.assertEqual(p.c.multiline(), [])
        p.c.send("UIDL").expect_ok()
        self.assertEqual(p.c.multiline(), [])
        p.c.send("RETR 1").expect_err()
        p.c.send("LAST").expect("+OK 0")
        self.quit(p)

    def test_capa(self):
        self.maildir()
        p = self.start()
        p.c.send("CAPA").expect_ok()
        capa = p.c.multiline()
        for want in ("USER", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
                     "PIPELINING", "SASL PLAIN", "IMPLEMENTATION popserv"):
            self.assertIn(want, capa)
        for line in capa:
            self.assertNotRegex(line, r"^STLS")

    def test_commands_any_case(self):
        self.maildir(b"a\n", b"b\n")
        p = self.start()
        p.c.send("stat").expect("+OK 2 6")
        p.c.send("LiSt 2").expect("+OK 2 3")
        p.c.send("uidl 1").expect_ok()
        p.c.send("noop").expect("+OK")
        p.c.send("Capa").expect_ok()
        p.c.multiline()
        p.c.send("rEtR 1").expect_ok()
        self.assertEqual(p.c.multiline(), ["a"])
        p.c.send("top 2 0").expect_ok()
        self.assertEqual(p.c.multiline(), ["b"])
        p.c.send("last").expect("+OK 2")
        p.c.send("dele 1").expect_ok()
        p.c.send("rset").expect_ok()
        self.quit(p)

    def test_authorization_commands_refused(self):
        self.maildir(b"a\n")
        p = self.start()
        for cmd in ("USER joe", "PASS secret", "PASS", "APOP joe "
                    "c4c9334bac560ecc979e58001b3e22fb", "AUTH PLAIN", "AUTH",
                    "STLS", "XYZZY", "RETRX 1", "", " STAT", "\tSTAT",
                    "NO\0OP", "STAT\0"):
            p.c.send(cmd).expect(ERR)
        p.c.send("STAT").expect("+OK 1 3")
        self.quit(p)

    # -- RETR and TOP, byte for byte -------------------------------------

    def test_retr_exact(self):
        bodies = [
            b"Subject: dots\n\n.\n..\n.leading\nmid.dle\n.\n",
            b"Subject: no newline\n\nlast line",
            b"Subject: 8bit\n\n\xe9t\xe9 \xff\xfe\x00\x01 bin\x80\n",
            b"Subject: crlf\r\n\r\nline\r\n.dot\r\n",
            b"Subject: mixed\r\n\nlone\rcr\n\r\r\n",
            b"",
            b".",
            b"\n",
            bytes(range(256)) * 4,
        ]
        self.maildir(*bodies)
        p = self.start()
        for i, body in enumerate(bodies):
            status, data = self.retr_raw(p.c, "RETR %d" % (i + 1))
            self.assertRegex(status, r"^\+OK")
            self.assertEqual(data, wire(body), "message %d" % (i + 1))
            p.c.send("LIST %d" % (i + 1)).expect(
                "+OK %d %d" % (i + 1, pop3_size(body)))
        # The same message twice in a row, then pipelined with others.
        s1, d1 = self.retr_raw(p.c, "RETR 1")
        s2, d2 = self.retr_raw(p.c, "RETR 1")
        self.assertEqual(d1, d2)
        self.quit(p)

    def test_retr_large(self):
        line = b"0123456789" * 7 + b"\n"
        body = b"Subject: big\n\n" + line * (10 * 1024 * 1024 // len(line))
        body += b".starts with a dot\n" * 3 + b"no newline"
        self.maildir(b"small\n", body)
        p = self.start()
        p.c.send("LIST 2").expect("+OK 2 %d" % pop3_size(body))
        status, data = self.retr_raw(p.c, "RETR 2")
        self.assertRegex(status, r"^\+OK")
        self.assertEqual(len(data), len(wire(body)))
        self.assertEqual(hashlib.sha256(data).hexdigest(),
                         hashlib.sha256(wire(body)).hexdigest())
        # Streamed in chunks, never the whole message in memory.
        with open("/proc/%d/status" % p.proc.pid) as f:
            hwm = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))
        if "asan" not in POPIT and not os.environ.get("ASAN_OPTIONS"):
            self.assertLess(hwm, 8 * 1024, "VmHWM %d kB" % hwm)
        p.c.send("TOP 2 1").expect_ok()
        self.assertEqual(p.c.multiline(),
                         ["Subject: big", "", line.decode().rstrip("\n")])
        self.quit(p)

    def test_retr_slow_reader(self):
        """A client that stops reading for a while still gets every byte
        (popit waits for the socket, and the commands after it)."""
        body = (b"x" * 999 + b"\n") * 3000
        self.maildir(body)
        p = self.start()
        p.c.send_raw(b"RETR 1\r\nNOOP\r\n")
        time.sleep(0.5)
        status, data = self.read_message(p.c)
        self.assertRegex(status, r"^\+OK")
        self.assertEqual(data, wire(body))
        p.c.expect("+OK")
        self.quit(p)

    def test_top(self):
        body = (b"From: a@example.org\nSubject: top\n\n"
                b"line 1\n.line 2\nline 3\n")
        self.maildir(body, b"Subject: headers only", b"A: b\r\n\r\nx\r\n")
        p = self.start()
        status, data = self.retr_raw(p.c, "TOP 1 0")
        self.assertEqual(data, b"From: a@example.org\r\nSubject: top\r\n"
                         b"\r\n.\r\n")
        status, data = self.retr_raw(p.c, "TOP 1 2")
        self.assertEqual(data, b"From: a@example.org\r\nSubject: top\r\n"
                         b"\r\nline 1\r\n..line 2\r\n.\r\n")
        status, data = self.retr_raw(p.c, "TOP 1 4294967297")
        self.assertEqual(data, wire(body))
        status, data = self.retr_raw(p.c, "TOP 2 5")
        self.assertEqual(data, b"Subject: headers only\r\n.\r\n")
        status, data = self.retr_raw(p.c, "TOP 3 0")
        self.assertEqual(data, b"A: b\r\n\r\n.\r\n")
        # TOP does not mark a message seen.
        self.quit(p)
        self.assertEqual({f.split(":")[1] for f in self.files()}, {"2,"})

    # -- UIDL ------------------------------------------------------------

    def test_uidl_stable(self):
        names = self.maildir(b"one\n", b"two\n", b"three\n")
        p = self.start()
        p.c.send("UIDL").expect_ok()
        first = p.c.multiline()
        self.assertEqual(first, ["%d %s" % (i + 1, n)
                                 for i, n in enumerate(names)])
        p.c.send("UIDL 2").expect("+OK 2 %s" % names[1])
        p.c.send("RETR 2").expect_ok()
        p.c.multiline()
        self.quit(p)
        # Moved to cur/, one flagged seen: the same UIDs.
        self.assertTrue(all(f.startswith("cur/") for f in self.files()))
        p = self.start()
        p.c.send("UIDL").expect_ok()
        self.assertEqual(p.c.multiline(), first)
        self.quit(p)

    def test_uidl_strange_names(self):
        self.maildir()
        long_name = "1700000001.M1P1." + "h" * 150
        self.put("new/1700000000.M1P1.with space", b"a\n")
        self.put("new/" + long_name, b"b\n")
        self.put("new/1700000002.M1P1.\xc3\xa9", b"c\n")
        self.put("new/1700000003.M1P1.ok,S=2", b"d\n")
        uids = []
        for _ in range(2):
            p = self.start()
            p.c.send("UIDL").expect_ok()
            lines = p.c.multiline()
            self.assertEqual(len(lines), 4)
            uids.append(lines)
            for line in lines:
                n, uid = line.split(" ")
                self.assertTrue(1 <= len(uid) <= 70, uid)
                self.assertTrue(all(0x21 <= ord(ch) <= 0x7e for ch in uid))
            self.assertEqual(len({l.split(" ")[1] for l in lines}), 4)
            self.assertEqual(lines[3], "4 1700000003.M1P1.ok,S=2")
            p.c.send("RETR 2").expect_ok()
            self.assertEqual(p.c.multiline(), ["b"])
            self.quit(p)
        self.assertEqual(uids[0], uids[1])

    # -- delivery order and size hints ------------------------------------

    def test_delivery_order(self):
        self.maildir()
        self.put("cur/1700000005.M1P1.h:2,S", b"5\n")
        self.put("new/1700000001.M900000P1.h", b"1b\n")
        self.put("new/1700000001.M20P1.h", b"1a\n")
        self.put("cur/1600000000.1234.host:2,", b"0\n")
        self.put("new/1700000009.P1.h", b"9\n")
        self.put("new/.dotfile", b"hidden\n")
        self.put("tmp/1500000000.M1P1.h", b"being delivered\n")
        os.mkdir(os.path.join(self.md, "cur", "1500000000.M2P1.dir"))
        os.symlink("/etc/passwd", os.path.join(self.md, "new",
                                               "1500000000.M3P1.lnk"))
        self.chown()
        p = self.start(greeting="+OK maildrop has 5 messages")
        got = []
        for i in range(1, 6):
            p.c.send("RETR %d" % i).expect_ok()
            got += p.c.multiline()
        self.assertEqual(got, ["0", "1a", "1b", "5", "9"])
        self.quit(p)
        self.assertTrue(os.path.exists(
            os.path.join(self.md, "tmp", "1500000000.M1P1.h")))
        self.assertIn("new/.dotfile", self.files())

    def test_size_hints(self):
        self.maildir()
        self.put("new/1700000000.M1P1.h,S=6,W=1234", b"a\nb\nc\n")
        self.put("new/1700000001.M1P1.h,S=6", b"a\nb\nc\n")
        p = self.start()
        p.c.send("LIST").expect("+OK 2 messages (1243 octets)")
        self.assertEqual(p.c.multiline(), ["1 1234", "2 9"])
        p.c.send("RETR 1").expect("+OK 1234 octets")
        self.assertEqual(p.c.multiline(), ["a", "b", "c"])
        p.c.send("RETR 2").expect("+OK 9 octets")
        self.assertEqual(p.c.multiline(), ["a", "b", "c"])
        self.quit(p)

    # -- DELE, RSET, LAST, QUIT and the UPDATE state ---------------------

    def test_quit_updates(self):
        names = self.maildir(b"1\n", b"2\n", b"3\n", b"4\n")
        self.put("cur/1700000010.M1P1.h:2,FR", b"5\n")
        self.put("cur/1700000011.M1P1.h:2,T", b"6\n")
        p = self.start(greeting="+OK maildrop has 6 messages")
        p.c.send("DELE 1").expect_ok()
        p.c.send("RETR 2").expect_ok()
        p.c.multiline()
        p.c.send("TOP 3 0").expect_ok()
        p.c.multiline()
        p.c.send("RETR 5").expect_ok()
        p.c.multiline()
        p.c.send("DELE 6").expect_ok()
        p.c.send("STAT").expect("+OK 4 12")
        self.assertEqual(self.quit(p, "+OK bye (2 deleted)"), 0)
        self.assertEqual(self.files(), {
            "cur/%s:2,S" % names[1],
            "cur/%s:2," % names[2],
            "cur/%s:2," % names[3],
            "cur/1700000010.M1P1.h:2,FRS",
        })

    def test_eof_without_quit(self):
        self.maildir(b"1\n", b"2\n")
        before = self.files()
        p = self.start()
        p.c.send("DELE 1").expect_ok()
        p.c.send("RETR 2").expect_ok()
        p.c.multiline()
        p.c.sock.shutdown(socket.SHUT_WR)
        p.c.expect_closed()
        self.assertEqual(p.wait(), 0)
        self.assertEqual(self.files(), before)

    def test_rset_and_last(self):
        self.maildir(b"1\n", b"2\n", b"3\n")
        before = self.files()
        p = self.start()
        p.c.send("LAST").expect("+OK 0")
        p.c.send("TOP 2 0").expect_ok()
        p.c.multiline()
        p.c.send("LAST").expect("+OK 2")
        p.c.send("RETR 1").expect_ok()
        p.c.multiline()
        p.c.send("LAST").expect("+OK 2")
        p.c.send("DELE 3").expect_ok()
        p.c.send("LAST").expect("+OK 3")
        p.c.send("STAT").expect("+OK 2 6")
        p.c.send("LIST 3").expect_err()
        p.c.send("RSET").expect("+OK maildrop has 3 messages")
        p.c.send("LAST").expect("+OK 0")
        p.c.send("STAT").expect("+OK 3 9")
        p.c.send("LIST 3").expect("+OK 3 3")
        self.quit(p, "+OK bye (0 deleted)")
        self.assertEqual(len(self.files()), len(before))

    def test_argument_errors(self):
        self.maildir(b"1\n", b"2\n", b"3\n")
        p = self.start()
        bad = ["0", "-1", "+1", "4", "4294967297", "18446744073709551617",
               "99999999999999999999999999", "abc", "1x", "0x1", "1.0",
               "\xe9", "1 2", "1 x"]
        for cmd in ("RETR", "DELE", "LIST", "UIDL"):
            for arg in bad:
                p.c.send("%s %s" % (cmd, arg)).expect(ERR)
        for cmd in ("RETR", "DELE", "TOP", "TOP 1", "RETR ", "DELE  "):
            p.c.send(cmd).expect(ERR)
        for arg in bad[:-2]:
            p.c.send("TOP %s 1" % arg).expect(ERR)
            p.c.send("TOP 1 %s" % arg if arg not in ("0", "4", "4294967297")
                     else "TOP 1 -%s" % arg).expect(ERR)
        p.c.send("TOP 1 1 1").expect(ERR)
        for cmd in ("STAT x", "NOOP x", "RSET x", "QUIT x", "LAST x",
                    "CAPA x"):
            p.c.send(cmd).expect(ERR)
        # A deleted message is gone for every command, DELE twice too.
        p.c.send("DELE 2").expect_ok()
        for cmd in ("RETR 2", "DELE 2", "LIST 2", "UIDL 2", "TOP 2 0"):
            p.c.send(cmd).expect(ERR)
        p.c.send("LIST").expect("+OK 2 messages (6 octets)")
        self.assertEqual(p.c.multiline(), ["1 3", "3 3"])
        p.c.send("UIDL").expect_ok()
        self.assertEqual([l.split()[0] for l in p.c.multiline()], ["1", "3"])
        # Still alive and correct.
        p.c.send("STAT").expect("+OK 2 6")
        self.quit(p, "+OK bye (1 deleted)")
        self.assertEqual(len(self.files()), 2)

    # -- the line discipline ------------------------------------------

    def test_pipelining(self):
        self.maildir(b"Subject: 1\n\none\n", b"Subject: 2\n\ntwo\n")
        p = self.start()
        p.c.send_raw(b"STAT\r\nLIST\r\nRETR 1\r\nTOP 2 0\r\nUIDL 1\r\n"
                     b"BOGUS\r\nDELE 1\r\nLIST 1\r\nNOOP\nLAST\r\nRSET\r\n"
                     b"DELE 2\r\nQUIT\r\nNOOP\r\n")
        p.c.expect("+OK 2 38")
        p.c.expect_ok()
        self.assertEqual(p.c.multiline(), ["1 19", "2 19"])
        p.c.expect_ok()
        self.assertEqual(p.c.multiline(), ["Subject: 1", "", "one"])
        p.c.expect_ok()
        self.assertEqual(p.c.multiline(), ["Subject: 2", ""])
        p.c.expect(re.compile(r"\+OK 1 \S+"))
        p.c.expect(ERR)
        p.c.expect_ok()
        p.c.expect(ERR)
        p.c.expect("+OK")
        p.c.expect("+OK 2")
        p.c.expect_ok()
        p.c.expect_ok()
        p.c.expect("+OK bye (1 deleted)")
        p.c.expect_closed()      # nothing after QUIT
        self.assertEqual(p.wait(), 0)
        self.assertEqual(len(self.files()), 1)

    def test_pipelining_many(self):
        """More commands than one read, split at awkward places."""
        self.maildir(b"x\n")
        p = self.start()
        n = 3000
        data = b"".join(b"NOOP\r\n" if i % 3 else b"stat\n"
                        for i in range(n)) + b"LAST\r\n"
        for i in range(0, len(data), 1000):
            p.c.send_raw(data[i:i + 1000])
        for i in range(n):
            p.c.expect("+OK" if i % 3 else "+OK 1 3")
        p.c.expect("+OK 0")
        self.quit(p)

    def test_line_length(self):
        self.maildir(b"x\n")
        before = self.files()
        p = self.start()
        # 255 octets with CRLF, and 255 with a bare LF: accepted.
        p.c.send("NOOP" + " " * 249).expect("+OK")
        p.c.send_raw("NOOP" + " " * 250 + "\n").expect("+OK")
        p.c.send("DELE 1").expect_ok()
        p.c.send("NOOP" + " " * 250).expect("-ERR line too long")
        p.c.expect_closed()
        p.wait()
        self.assertEqual(self.files(), before)     # no UPDATE

    def test_line_too_long_without_newline(self):
        self.maildir(b"x\n")
        p = self.start()
        p.c.send_raw(b"X" * 1000).expect("-ERR line too long")
        p.c.expect_closed()

    def test_bare_lf(self):
        self.maildir(b"x\n")
        p = self.start()
        p.c.send_raw(b"STAT\nLIST 1\nQUIT\n")
        p.c.expect("+OK 1 3").expect("+OK 1 3").expect_ok().expect_closed()

    # -- other sessions and the file system ------------------------------

    def test_message_removed_meanwhile(self):
        names = self.maildir(b"1\n", b"2\n", b"3\n", b"4\n")
        p = self.start()
        p.c.send("STAT").expect("+OK 4 12")
        # Another session deletes 1, moves 2 and 3 (with flags).
        os.unlink(os.path.join(self.md, "new", names[0]))
        os.rename(os.path.join(self.md, "new", names[1]),
                  os.path.join(self.md, "cur", names[1] + ":2,S"))
        os.rename(os.path.join(self.md, "new", names[2]),
                  os.path.join(self.md, "cur", names[2] + ":2,F"))
        p.c.send("RETR 1").expect(ERR)
        p.c.send("TOP 1 0").expect(ERR)
        p.c.send("RETR 2").expect_ok()
        self.assertEqual(p.c.multiline(), ["2"])
        p.c.send("UIDL 2").expect("+OK 2 " + names[1])
        p.c.send("DELE 1").expect_ok()
        p.c.send("DELE 3").expect_ok()
        p.c.send("RETR 4").expect_ok()
        p.c.multiline()
        self.assertEqual(self.quit(p, "+OK bye (2 deleted)"), 0)
        self.assertEqual(self.files(), {"cur/%s:2,S" % names[1],
                                        "cur/%s:2,S" % names[3]})

    def test_removed_before_list(self):
        names = self.maildir(b"1\n", b"2\n")
        p = self.start()
        os.unlink(os.path.join(self.md, "new", names[0]))
        p.c.send("LIST").expect_ok()
        self.assertEqual(p.c.multiline(), ["1 0", "2 3"])
        p.c.send("RETR 1").expect(ERR)
        p.c.send("NOOP").expect("+OK")
        self.quit(p)
        self.assertEqual(self.files(), {"cur/%s:2," % names[1]})

    def test_not_a_maildir(self):
        os.makedirs(self.md)
        self.chown()
        p = self.start(greeting=re.compile(r"-ERR \[SYS/TEMP\] .*"))
        p.c.expect_closed()
        self.assertEqual(p.wait(), 75)
        self.assertIn("new", p.log())

    # -- options, timeouts, signals, privileges -------------------------

    def test_timeout(self):
        self.maildir(b"1\n")
        before = self.files()
        p = self.start("-t", "1")
        p.c.send("DELE 1").expect_ok()
        t0 = time.monotonic()
        p.c.expect_closed(timeout=5)
        self.assertGreater(time.monotonic() - t0, 0.8)
        self.assertEqual(p.wait(), 0)
        self.assertEqual(self.files(), before)     # no UPDATE
        self.assertIn("timeout", p.log())

    def test_options(self):
        self.maildir(b"1\n")
        for args in ((), ("--",), ("--", "lite"), ("-t", "30", "--", "x"),
                     ("-t30",), ("-t", "0")):
            p = self.start(*args)
            p.c.send("STAT").expect("+OK 1 3")
            self.quit(p)

    def test_bad_options(self):
        self.maildir(b"1\n")
        for args in (("-x",), ("-t",), ("-t", "abc"), ("-t", "-1"),
                     ("-t", "99999999999"), ("a", "b"), ("--", "a", "b")):
            p = self.start(*args, greeting=re.compile(r"-ERR .*"))
            p.c.expect_closed()
            self.assertEqual(p.wait(), 64, args)
        self.assertIn("usage: popit", p.log())

    def test_sigpipe_default(self):
        """popit restores SIGPIPE even if started with it ignored."""
        self.maildir(b"1\n")
        # Python ignores SIGPIPE; without restore_signals the child
        # inherits that.
        p = self.start(restore_signals=False)
        with open("/proc/%d/status" % p.proc.pid) as f:
            ign = int(re.search(r"SigIgn:\s+([0-9a-f]+)", f.read()).group(1),
                      16)
        self.assertFalse(ign & (1 << (signal.SIGPIPE - 1)))
        self.quit(p)

    def test_client_gone_during_retr(self):
        body = b"y" * 1000 + b"\n"
        self.maildir(body * 20000)
        before = self.files()
        p = self.start()
        p.c.send("DELE 1").expect_ok()
        p.c.send("RETR 1").expect(ERR)
        p.c.send("RSET").expect_ok()
        p.c.send("RETR 1").expect_ok()
        p.c.close()
        self.assertEqual(p.wait(), 0)
        self.assertEqual(self.files(), before)

    @unittest.skipUnless(AS_ROOT, "needs root")
    def test_refuses_root(self):
        self.maildir(b"1\n")
        before = self.files()
        p = self.start(drop=False, greeting=re.compile(
            r"-ERR \[SYS/PERM\] .*"))
        p.c.expect_closed()
        self.assertNotEqual(p.wait(), 0)
        self.assertIn("root", p.log())
        self.assertEqual(self.files(), before)

    @unittest.skipUnless(AS_ROOT, "needs root")
    def test_refuses_euid_root(self):
        """Refused also when only the effective or the real uid is 0."""
        self.maildir(b"1\n")
        for ids in ((TEST_UID, 0), (0, TEST_UID)):
            def preexec(r=ids):
                os.setgroups([])
                os.setgid(TEST_GID)
                os.setresuid(r[0], r[1], 0)
            ours, theirs = socket.socketpair()
            proc = subprocess.Popen([POPIT], stdin=theirs, stdout=theirs,
                                    stderr=subprocess.DEVNULL, cwd=self.md,
                                    preexec_fn=preexec)
            theirs.close()
            c = Client(ours)
            c.expect(re.compile(r"-ERR \[SYS/PERM\] .*"))
            self.assertNotEqual(proc.wait(TIMEOUT), 0)
            c.close()


if __name__ == "__main__":
    unittest.main()
