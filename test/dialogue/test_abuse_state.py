"""Fault and abuse tests, part 2: state under stress
(docs/security.md, "Exhaustion").

10,000 failed logins and memory; the user file replaced, truncated,
corrupted, turned into a FIFO or a directory while serving; a popit that
hangs; 100 SIGHUPs under load. Bounded in count and time, loopback only.
The figures they measure are printed for docs/security.md.

Already covered elsewhere, not repeated: the user file edited, renamed,
removed and restored (test_engine UserFile), popit missing or crashing
(test_handoff), SIGTERM with checks pending (test_lifecycle).
"""

import os
import re
import signal
import socket
import sys
import threading
import time
import unittest

from abuse_util import (asan_no_quarantine, children, rss_kb, stats,
                        wait_stats)
from engine_util import (AUTH_FAILED, SAMEADDR, STUB_OK, TestCase, attempt,
                         greet, stub_server)
from lifecycle_util import read_records, rewrite_conf
import pop3test

TEMP = re.compile(r"-ERR \[SYS/TEMP\] .*")


def figure(name, value):
    """Print a measured figure for docs/security.md."""
    print("FIGURE %s: %s" % (name, value), file=sys.stderr)


def fail_batch(srv, per_conn, conns):
    """conns connections, each pipelining per_conn wrong passwords and
    reading every answer; returns the number of [AUTH] answers."""
    n = 0
    batch = b"USER joe\r\nPASS wrong\r\n" * per_conn
    for _ in range(conns):
        c, _ = greet(srv)
        c.sock.sendall(batch)
        for _ in range(per_conn):
            c.expect_ok()
            c.expect(AUTH_FAILED)
            n += 1
        c.expect_closed()           # maxfails
        c.close()
    return n


class TenThousandFailures(TestCase):

    @unittest.skipIf(pop3test.VALGRIND, "valgrind holds freed blocks "
                     "back (--freelist-vol): VmRSS is its, not popserv's")
    def test_memory_stays_flat(self):
        srv = stub_server(self, crypt=False, users={"joe": "secret"},
                          conf="faildelay 0\nfailpenalty 0\nmaxfails 100",
                          preexec=asan_no_quarantine)
        pid = srv.proc.pid
        # Warm up: allocator arenas, the user table, libevent's maps.
        self.assertEqual(fail_batch(srv, 100, 10), 1000)
        rss0 = rss_kb(pid)
        t0 = time.monotonic()
        self.assertEqual(fail_batch(srv, 100, 100), 10000)
        took = time.monotonic() - t0
        rss1 = rss_kb(pid)
        st = stats(srv)
        self.assertEqual(st["logins_failed"], 11000)
        self.assertEqual(st["sessions"], 0)
        figure("rss_10000_failures", "VmRSS %d KiB before, %d KiB after "
               "10,000 failed logins (%+d KiB) in %.1f s"
               % (rss0, rss1, rss1 - rss0, took))
        self.assertLess(rss1 - rss0, 256)
        c = srv.login("joe", "secret")
        c.send("QUIT").expect("+OK bye")


class UserFileChaos(TestCase):
    """The user file goes wrong under a running popserv."""

    def setUp(self):
        self.srv = stub_server(self, users={"joe": "secret",
                                            "ann": "ann-secret"},
                               conf="maxfails 100")
        with open(self.srv.userfile) as f:
            self.good = f.read()

    def replace(self, text, mode="w"):
        tmp = self.srv.userfile + ".tmp"
        with open(tmp, mode) as f:
            f.write(text)
        os.replace(tmp, self.srv.userfile)

    def restore(self):
        if os.path.isdir(self.srv.userfile):
            os.rmdir(self.srv.userfile)
        elif os.path.lexists(self.srv.userfile):
            os.unlink(self.srv.userfile)
        self.replace(self.good)
        self.assertEqual(attempt(self.srv, "joe", "secret"), STUB_OK)

    def test_truncated_to_nothing(self):
        self.assertEqual(attempt(self.srv, "joe", "secret"), STUB_OK)
        with open(self.srv.userfile, "w"):
            pass                    # truncated in place
        self.assertEqual(attempt(self.srv, "joe", "secret"), AUTH_FAILED)
        self.srv.wait_log(r"passwd: 0 users loaded")
        self.restore()

    def test_truncated_in_the_middle_of_a_line(self):
        joe, ann = self.good.splitlines()[:2]
        self.replace(joe + "\n" + ann[:len(ann) // 2])
        self.assertEqual(attempt(self.srv, "joe", "secret"), STUB_OK)
        self.assertEqual(attempt(self.srv, "ann", "ann-secret"), AUTH_FAILED)
        self.srv.wait_log(r"passwd:2: ")
        self.restore()

    def test_binary_garbage(self):
        junk = bytes(range(256)) * 4 + b"\x00:\n::::::\n\xff\xfe:x:1:1\n"
        with open(self.srv.userfile + ".tmp", "wb") as f:
            f.write(self.good.encode() + junk)
        os.replace(self.srv.userfile + ".tmp", self.srv.userfile)
        self.assertEqual(attempt(self.srv, "joe", "secret"), STUB_OK)
        self.assertEqual(attempt(self.srv, "nosuch", "x"), AUTH_FAILED)
        # Reported with file:line, escaped: no raw byte reaches the log.
        self.srv.wait_log(r"passwd:\d+: ")
        log = self.srv.log_bytes()
        self.assertEqual([b for b in set(log)
                          if (b < 0x20 and b != 0x0a) or b >= 0x7f], [])
        self.restore()

    def test_a_fifo_or_a_directory_is_a_temporary_failure(self):
        """Opening a FIFO for reading waits for a writer: it must not
        hang a worker (and with it every login)."""
        for kind in ("fifo", "directory"):
            with self.subTest(kind=kind):
                os.unlink(self.srv.userfile)
                if kind == "fifo":
                    os.mkfifo(self.srv.userfile)
                else:
                    os.mkdir(self.srv.userfile)
                for user, pw in (("joe", "secret"), ("nosuch", "x")):
                    t0 = time.monotonic()
                    c, _ = greet(self.srv)
                    c.send("USER " + user).expect_ok()
                    c.send("PASS " + pw).expect(TEMP, timeout=5)
                    self.assertLess(time.monotonic() - t0, 5)
                    c.send("QUIT").expect_ok()
                self.srv.wait_log(r"userdb .*passwd: ")
                self.restore()

    def test_replaced_while_logins_run(self):
        """A writer replaces the file (rename) 200 times while four
        clients log in: every login succeeds, none waits long."""
        stop = threading.Event()
        errors = []
        counts = [0] * 4

        def client(i):
            while not stop.is_set():
                try:
                    line = attempt(self.srv, "joe", "secret")
                except Exception as e:      # reported below
                    errors.append(repr(e))
                    return
                if line != STUB_OK:
                    errors.append(line)
                    return
                counts[i] += 1

        threads = [threading.Thread(target=client, args=(i,))
                   for i in range(4)]
        for t in threads:
            t.start()
        try:
            for i in range(200):
                # Alternate between two spellings of the same users.
                text = self.good if i % 2 else \
                    "# rewritten %d\n%s" % (i, self.good)
                self.replace(text)
                time.sleep(0.005)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(errors, [])
        self.assertGreater(sum(counts), 20)
        self.assertIsNone(self.srv.proc.poll())


class HangingPopit(TestCase):

    def test_hung_popit_keeps_its_slot_and_nothing_else(self):
        srv = stub_server(self, conf="sameaddrmax 1")
        c = srv.connect(source="127.0.0.7")
        c.expect_ok()
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        c.send("HANG")
        # The client gives up; popit does not.
        time.sleep(0.2)
        c.close()
        pids = children(srv.proc.pid)
        self.assertEqual(len(pids), 1)
        hung = pids[0]
        self.addCleanup(lambda: os.kill(hung, signal.SIGKILL)
                        if os.path.exists("/proc/%d" % hung) else None)
        # Its address stays at sameaddrmax; others are served.
        for _ in range(3):
            srv.connect(source="127.0.0.7").expect(SAMEADDR).expect_closed()
        for i in range(5):
            o = srv.connect(source="127.0.1.%d" % (i + 1))
            o.expect_ok()
            o.send("USER joe").expect_ok()
            o.send("PASS secret").expect(STUB_OK)
            o.send("QUIT").expect("+OK bye")
            o.close()
        st = wait_stats(srv, {"popits": 1, "sessions": 0})
        self.assertEqual(st["addresses"], 1)
        # Once it is gone, its address is welcome again.
        os.kill(hung, signal.SIGKILL)
        srv.wait_log(r'popit pid=%d ip=127\.0\.0\.7 user="joe" signal=9'
                     % hung)
        c = srv.connect(source="127.0.0.7")
        c.expect_ok()
        c.send("QUIT").expect_ok()


class HupStorm(TestCase):

    def test_100_sighups_under_load_lose_no_session(self):
        srv = stub_server(self, conf="maxfails 50\nsameaddrmax 100")
        stop = threading.Event()
        errors = []
        done = [0] * 6

        def client(i):
            """Whole dialogues, good and bad passwords, back to back."""
            while not stop.is_set():
                try:
                    c, _ = greet(srv)
                    c.send("CAPA").expect_ok()
                    c.multiline()
                    c.send("USER joe").expect_ok()
                    c.send("PASS wrong").expect(AUTH_FAILED)
                    c.send("USER joe").expect_ok()
                    c.send("PASS secret").expect(STUB_OK)
                    c.send("QUIT").expect("+OK bye")
                    c.expect_closed()
                    c.close()
                except Exception as e:      # reported below
                    errors.append("client %d: %r" % (i, e))
                    return
                done[i] += 1

        threads = [threading.Thread(target=client, args=(i,))
                   for i in range(len(done))]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        try:
            for i in range(100):
                # Every other reload changes something, so the
                # configuration object really is replaced.
                rewrite_conf(srv, "maxfails %d\nsameaddrmax 100"
                             % (50 + i % 2))
                srv.signal(signal.SIGHUP)
                srv.wait_log(r"reload: /\S+ in force", count=i + 1,
                             timeout=15)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        took = time.monotonic() - t0
        figure("hup_storm", "100 reloads in %.1f s while %d dialogues ran"
               % (took, sum(done)))
        self.assertEqual(errors, [])
        self.assertGreater(sum(done), 20)
        self.assertEqual(len(read_records(srv.recdir, sum(done))),
                         sum(done))
        wait_stats(srv, {"sessions": 0, "checking": 0})
        self.assertIsNone(srv.proc.poll())


if __name__ == "__main__":
    unittest.main()
