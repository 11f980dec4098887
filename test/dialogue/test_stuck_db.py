"""Dialogue tests of a user database or loginfo server that is stuck
(issue 13, items 9 and 10): a fake MySQL server (test/lib/trickle.py)
that accepts and then sends one byte every 2 s for ever, so a client's
read timeout never fires and its handshake never ends.

- SIGTERM with a worker stuck in it: the parent exits 0 at once
  (docs/deployment.md, "The TERM drain"), the drain child answers the
  session (checktimeout) and exits when the session is over; a check
  that was running when TERM came runs again in the child.
- SIGHUP that moves loginfo away from a stuck server: the loop keeps
  answering, the old thread is left to end on its own (one thread per
  configuration at most), and nothing leaks (the ASan build's report
  would fail the test at stop()).
"""

import glob
import re
import signal
import threading
import time

from lifecycle_util import (STUB_OK, drain_pid, kill_if_alive, rewrite_conf,
                            stub_server, wait_gone)
from mariadb import userdb_mysql_server
from pop3test import TestCase, slow_hash, wait_for
from stubrec import stub_login
from trickle import Trickle

USERDB_TEMP = "-ERR [SYS/TEMP] User database unavailable, try again later"
EXIT_BOUND = 1.0        # seconds from SIGTERM to the parent's exit
GREET_BOUND = 0.5       # seconds for a greeting during a reload


def ntasks(pid):
    """Threads of pid, from /proc."""
    return len(glob.glob("/proc/%d/task/*" % pid))



class StuckCase(TestCase):

    def trickle(self):
        t = Trickle()
        self.addCleanup(t.close)
        return t

    def drainer(self, srv):
        pid = drain_pid(srv)
        self.addCleanup(kill_if_alive, pid)
        return pid

    def term(self, srv):
        """SIGTERM; the parent must be gone, status 0, within EXIT_BOUND."""
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(EXIT_BOUND + 5), 0)
        took = time.monotonic() - t0
        print("parent gone %.3f s after SIGTERM" % took)
        self.assertLess(took, EXIT_BOUND)


class TermWithStuckWorker(StuckCase):

    def test_parent_exits_at_once_child_answers(self):
        fake = self.trickle()
        srv = userdb_mysql_server(self, fake.host(), "popserv", "x", "mail",
                                  conf="checktimeout 3\n")
        c = srv.connect()
        c.expect_ok()
        c.send("USER joe").expect_ok()
        t_pass = time.monotonic()
        c.send("PASS secret")
        fake.wait_connected(1)      # a worker is in the handshake now
        time.sleep(0.3)
        self.term(srv)
        child = self.drainer(srv)
        # The session goes on in the child: checktimeout answers it.
        c.expect(USERDB_TEMP, timeout=10)
        self.assertLess(time.monotonic() - t_pass, 3 + 2)
        c.send("QUIT").expect_ok()
        c.expect_closed()
        t0 = time.monotonic()
        self.assertTrue(wait_gone(child, 5), "drain child still running")
        print("drain child gone %.3f s after the last session"
              % (time.monotonic() - t0))
        srv.wait_log(r"popserv exiting")
        self.assertNotIn("Sanitizer", srv.log())

    def test_running_check_runs_again_in_the_child(self):
        """A slow hash (1.5 s) is being checked on the only worker when
        TERM comes: the parent does not wait for it; the child, which
        has no such thread, runs the check again and the login works."""
        srv = stub_server(self, conf="workers 1",
                          users={"joe": {
                              "password": slow_hash("secret", 1.5).hash,
                              "hashed": True}})
        c = srv.connect()
        c.expect_ok()
        c.send("USER joe").expect_ok()
        c.send("PASS secret")
        srv.wait_log(r"pass -> checking")
        time.sleep(0.2)
        self.term(srv)
        child = self.drainer(srv)
        c.expect(STUB_OK, timeout=15)
        c.send("QUIT").expect("+OK bye")
        self.assertTrue(wait_gone(child, 5), "drain child still running")
        srv.wait_log(r"checks that were running start again")
        self.assertNotIn("Sanitizer", srv.log())


class ReloadWithStuckLoginfo(StuckCase):

    @staticmethod
    def loginfo_conf(fake):
        return ("loginfo.host %s\nloginfo.user popserv\n"
                "loginfo.password x\nloginfo.database mail\n"
                "loginfo.query INSERT INTO logins (user) VALUES ('%%u')\n"
                % fake.host())

    def test_hup_never_waits_for_the_old_thread(self):
        a, b = self.trickle(), self.trickle()
        srv = stub_server(self, conf=self.loginfo_conf(a))
        for _ in range(3):
            stub_login(srv).close()
        a.wait_connected(1)         # loginfo's thread is stuck in a
        time.sleep(0.3)
        before = ntasks(srv.proc.pid)

        rewrite_conf(srv, self.loginfo_conf(b))
        n = srv.log().count("reload: reading")
        srv.signal(signal.SIGHUP)
        slowest, t_end = 0.0, time.monotonic() + 1.5
        while time.monotonic() < t_end:
            t = time.monotonic()
            c = srv.connect()
            c.expect_ok(timeout=15)
            slowest = max(slowest, time.monotonic() - t)
            c.send("QUIT").expect_ok()
            c.close()
        print("slowest greeting during the reload: %.3f s" % slowest)
        self.assertLess(slowest, GREET_BOUND)
        wait_for(lambda: srv.log().count("reload: reading") > n and
                 re.search(r"reload: \S+ in force",
                           srv.log().split("reload: reading")[-1]),
                 what="the reload")

        # The new settings get a thread of their own.
        stub_login(srv).close()
        b.wait_connected(1)
        time.sleep(0.3)
        during = ntasks(srv.proc.pid)
        print("threads: %d before the reload, %d with the old loginfo "
              "thread still stuck" % (before, during))
        self.assertLessEqual(during, before + 1)
        # The old one ends when its server lets go of it.
        a.close_all()
        wait_for(lambda: ntasks(srv.proc.pid) <= before, what="the old "
                 "loginfo thread to end")
        # Counters span both configurations: 4 queued, the 3 entries of
        # the old one dropped (their server went away).
        srv.signal(signal.SIGUSR1)
        srv.wait_log(r"stats accounting .*loginfo_queued=4 loginfo_sent=0 "
                     r"loginfo_dropped=3 loginfo_failed=0")
        # Exit waits a bounded moment for the thread stuck in b.
        t = time.monotonic()
        self.assertEqual(srv.stop(), 0)
        took = time.monotonic() - t
        print("exit with loginfo stuck: %.3f s" % took)
        self.assertLess(took, 5)


if __name__ == "__main__":
    import unittest
    unittest.main()
