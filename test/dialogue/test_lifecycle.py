"""Dialogue tests of popserv's lifecycle (docs/deployment.md): inetd wait mode
on fd 0, autoclose, the SIGTERM drain, SIGHUP reload, SIGUSR1 counters,
the pid file and the uid/gid privilege drop.

Every test starts its own popserv on loopback; popit is the recording
stub, so a login that reaches popit is visible in its records even after
the popserv that took the connection has gone.
"""

import glob
import os
import re
import signal
import socket
import subprocess
import time
import unittest

from pop3test import (POPSERV, TEST_GID, TEST_UID, TestCase, free_port,
                      hash_password, slow_hash)
from lifecycle_util import (AUTH_FAILED, IS_ROOT, STUB_OK, alive, drain_pid,
                            kill_if_alive, read_records, refused,
                            rewrite_conf, run_inetd_style,
                            stub_server, wait_gone)

TOO_MANY = "-ERR [SYS/TEMP] Too many connections from your address"


def greet(srv):
    c = srv.connect()
    c.expect_ok()
    return c


def login(c, user="joe", password="secret"):
    c.send("USER " + user).expect_ok()
    c.send("PASS " + password).expect(STUB_OK)
    return c


class InetdMode(TestCase):
    """-i: fd 0 is a listening socket made by someone else (inetd)."""

    def inetd_server(self, conf=""):
        other = free_port()
        srv = stub_server(self, bind=False, start=False,
                          conf="bindto 127.0.0.1:%d\n%s" % (other, conf))
        srv.other_port = other
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        self.addCleanup(lsock.close)
        srv.port = lsock.getsockname()[1]
        return srv, lsock

    def start(self, srv, lsock, **kw):
        p = run_inetd_style(srv, lsock, **kw)
        self.addCleanup(kill_if_alive, p.pid)
        self.addCleanup(p.wait)
        return p

    def test_listening_socket_on_fd_0(self):
        srv, lsock = self.inetd_server()
        p = self.start(srv, lsock)
        c = login(greet(srv))
        c.send("QUIT").expect("+OK bye")
        rec = read_records(srv.recdir)[0]
        self.assertIn("REMOTE_ADDR=127.0.0.1", rec["env"])
        # bindto is not used beside the inherited socket.
        self.assertTrue(refused("127.0.0.1", srv.other_port))
        srv.wait_log(r"listening on inherited 127\.0\.0\.1:%d" % srv.port)
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(10), 0)

    def test_socket_on_0_1_and_2_like_inetd(self):
        """inetd dups the socket onto 0, 1 and 2; none may be written."""
        srv, lsock = self.inetd_server()
        for debug in (False, True):
            p = self.start(srv, lsock, fds=(0, 1, 2), debug=debug)
            c = greet(srv)
            login(c).send("QUIT").expect("+OK bye")
            c.expect_closed()
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(10), 0)
        self.assertEqual(len(read_records(srv.recdir, 2)), 2)

    def test_fd_0_must_be_a_listening_socket(self):
        srv, lsock = self.inetd_server()
        p = subprocess.run([POPSERV, "-i", "-C", srv.conf_path],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(p.returncode, 64, p.stderr)
        self.assertIn("not a socket", p.stderr)
        # A connected socket: inetd "nowait" instead of "wait".
        c = socket.create_connection(("127.0.0.1", srv.port))
        a, _ = lsock.accept()
        try:
            p = subprocess.run([POPSERV, "-i", "-C", srv.conf_path],
                               stdin=a.fileno(), capture_output=True,
                               text=True, timeout=10)
        finally:
            a.close()
            c.close()
        self.assertEqual(p.returncode, 64, p.stderr)
        self.assertIn("wait", p.stderr)

    def test_autoclose_gives_the_socket_back(self):
        """After autoclose popserv exits; the socket (still inetd's)
        keeps new connections in its backlog for the next popserv."""
        srv, lsock = self.inetd_server(conf="autoclose 1")
        p = self.start(srv, lsock)
        login(greet(srv)).send("QUIT").expect("+OK bye")
        self.assertEqual(p.wait(10), 0)
        srv.wait_log(r"autoclose: no connection for 1 s")
        # inetd would start popserv again on the next connection.
        waiting = srv.connect()
        p = self.start(srv, lsock)
        waiting.expect_ok()
        login(waiting).send("QUIT").expect("+OK bye")
        self.assertEqual(p.wait(10), 0)
        self.assertEqual(len(read_records(srv.recdir, 2)), 2)


class AutoClose(TestCase):

    def test_idle_process_exits(self):
        srv = stub_server(self, conf="autoclose 2")
        t0 = time.monotonic()
        self.assertEqual(srv.proc.wait(10), 0)
        self.assertGreater(time.monotonic() - t0, 1.0)
        srv.wait_log(r"autoclose: no connection for 2 s.*0 sessions left")

    def test_connections_restart_the_spell(self):
        srv = stub_server(self, conf="autoclose 2")
        for _ in range(3):
            time.sleep(1)
            greet(srv).send("QUIT").expect_ok()
        self.assertIsNone(srv.proc.poll())
        self.assertEqual(srv.proc.wait(10), 0)

    def test_waits_for_the_last_session(self):
        srv = stub_server(self, conf="autoclose 1")
        c = greet(srv)
        srv.wait_log(r"autoclose: .*1 sessions left", timeout=5)
        self.assertTrue(refused(srv.host, srv.port))
        time.sleep(1)
        self.assertIsNone(srv.proc.poll(), "exited with a session open")
        login(c).send("QUIT").expect("+OK bye")
        self.assertEqual(srv.proc.wait(5), 0)
        read_records(srv.recdir)


class AutoCloseThenTerm(TestCase):

    def test_term_after_autoclose_still_drains_in_a_child(self):
        """autoclose has closed the listeners and waits for a session;
        SIGTERM then makes the process exit at once, the child finishes."""
        srv = stub_server(self, conf="autoclose 1")
        c = greet(srv)
        srv.wait_log(r"autoclose: .*1 sessions left", timeout=5)
        srv.signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(2), 0)
        child = drain_pid(srv)
        self.addCleanup(kill_if_alive, child)
        login(c).send("QUIT").expect("+OK bye")
        self.assertTrue(wait_gone(child, 5))
        read_records(srv.recdir)


class TermDrain(TestCase):
    """SIGTERM: listeners closed, the parent exits 0 at once, a child
    finishes the AUTHORIZATION sessions."""

    def tearDown(self):
        for pid in getattr(self, "drainers", []):
            kill_if_alive(pid)

    def drainer(self, srv):
        pid = drain_pid(srv)
        self.drainers = getattr(self, "drainers", []) + [pid]
        return pid

    def test_no_session_exits_at_once_and_removes_pidfile(self):
        srv = stub_server(self, start=False)
        pidfile = os.path.join(srv.dir, "popserv.pid")
        with open(srv.conf_path, "a") as f:
            f.write("pidfile %s\n" % pidfile)
        srv.start()
        srv.settle()        # the harness's probe connection has ended
        with open(pidfile) as f:
            self.assertEqual(int(f.read()), srv.proc.pid)
        srv.signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(2), 0)
        self.assertFalse(os.path.exists(pidfile))
        self.assertNotIn("draining", srv.log())

    def test_session_in_failure_delay_finishes_in_the_child(self):
        srv = stub_server(self, conf="faildelay 2\nfailpenalty 0", start=False)
        pidfile = os.path.join(srv.dir, "popserv.pid")
        with open(srv.conf_path, "a") as f:
            f.write("pidfile %s\n" % pidfile)
        srv.start()
        c = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS wrong")
        srv.wait_log(r"result=failed")
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(1.5), 0)
        self.assertLess(time.monotonic() - t0, 1.0)
        child = self.drainer(srv)
        self.assertNotEqual(child, srv.proc.pid)
        self.assertTrue(refused(srv.host, srv.port))
        self.assertFalse(os.path.exists(pidfile))
        c.expect(AUTH_FAILED)
        login(c).send("QUIT").expect("+OK bye")
        read_records(srv.recdir)
        self.assertTrue(wait_gone(child, 5), "drain child still running")
        srv.wait_log(r"popserv exiting")
        # Nobody waits for the child's status: its log must be clean.
        self.assertNotIn("Sanitizer", srv.log())

    def test_pending_checks_and_queue_go_to_the_child(self):
        """Four slow checks on two workers: two run, two wait in the
        queue when TERM comes; all four log in through the child (the
        two that were running run again there). The parent waits for no
        check (test_stuck_db times its exit)."""
        srv = stub_server(self, conf="workers 2",
                          users={"joe": {"password": slow_hash("secret", 0.3).hash,
                                         "hashed": True}})
        clients = [greet(srv) for _ in range(4)]
        for c in clients:
            c.send("USER joe").expect_ok()
        for c in clients:
            c.send("PASS secret")
        deadline = time.monotonic() + 10
        while srv.log().count("pass -> checking") < 4:
            self.assertLess(time.monotonic(), deadline, srv.log())
            time.sleep(0.01)
        srv.signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(5), 0)
        child = self.drainer(srv)
        self.assertTrue(refused(srv.host, srv.port))
        for c in clients:
            c.expect(STUB_OK, timeout=15)
            c.send("QUIT").expect("+OK bye")
        self.assertEqual(len(read_records(srv.recdir, 4)), 4)
        self.assertTrue(wait_gone(child, 5))
        self.assertNotIn("Sanitizer", srv.log())

    def test_running_popit_is_not_touched(self):
        srv = stub_server(self)
        c = login(greet(srv))
        srv.signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(2), 0)
        c.send("NOOP").expect("+OK NOOP")
        c.send("QUIT").expect("+OK bye")
        read_records(srv.recdir)

    def test_second_term_stops_the_drain_at_once(self):
        srv = stub_server(self, conf="faildelay 5\nfailpenalty 0")
        c = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS wrong")
        srv.wait_log(r"result=failed")
        srv.signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(2), 0)
        child = self.drainer(srv)
        os.kill(child, signal.SIGTERM)
        self.assertTrue(wait_gone(child, 2))
        c.expect_closed()


class Reload(TestCase):
    """SIGHUP: a new configuration object, or the old one on error."""

    def hup(self, srv, ok=True):
        n = srv.log().count("reload: reading")
        srv.signal(signal.SIGHUP)
        want = r"in force" if ok else r"the configuration in force stays"
        deadline = time.monotonic() + 10
        while True:
            log = srv.log()
            done = log.split("reload: reading")[n + 1:] if \
                log.count("reload: reading") > n else []
            if done and re.search(want, done[-1]):
                return done[-1]
            if time.monotonic() > deadline:
                raise AssertionError("reload did not finish:\n" + log)
            time.sleep(0.02)

    def test_sameaddrmax_applies_to_new_connections(self):
        srv = stub_server(self)
        c1, c2 = greet(srv), greet(srv)
        rewrite_conf(srv, "sameaddrmax 2")
        self.hup(srv)
        c3 = srv.connect()
        c3.expect(TOO_MANY)
        c3.expect_closed()
        login(c1).send("QUIT").expect("+OK bye")
        c2.send("QUIT").expect_ok()

    def test_maxfails_applies(self):
        srv = stub_server(self, conf="maxfails 3")
        rewrite_conf(srv, "maxfails 1")
        self.hup(srv)
        c = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS wrong").expect(AUTH_FAILED)
        c.expect_closed()

    def test_broken_file_keeps_the_old_configuration(self):
        srv = stub_server(self, conf="maxfails 1")
        rewrite_conf(srv, "maxfails 5\nbogus directive\nmaxconn 0")
        text = self.hup(srv, ok=False)
        conf = re.escape(srv.conf_path)
        self.assertRegex(text, conf + r":\d+: bogus")
        self.assertRegex(text, conf + r":\d+: maxconn")
        self.assertRegex(text, r"2 errors in")
        # Still serving, with maxfails 1 in force.
        c = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS wrong").expect(AUTH_FAILED)
        c.expect_closed()
        login(greet(srv)).send("QUIT").expect("+OK bye")

    def test_bindto_change_keeps_sessions_on_the_old_port(self):
        srv = stub_server(self)
        old_port, new_port = srv.port, free_port()
        old = greet(srv)
        old.send("USER joe").expect_ok()
        rewrite_conf(srv, "", bind="127.0.0.1:%d" % new_port)
        self.hup(srv)
        self.assertTrue(refused("127.0.0.1", old_port))
        srv.port = new_port
        login(greet(srv)).send("QUIT").expect("+OK bye")
        old.send("PASS secret").expect(STUB_OK)
        old.send("QUIT").expect("+OK bye")
        self.assertEqual(len(read_records(srv.recdir, 2)), 2)

    def test_unchanged_bindto_keeps_its_socket(self):
        srv = stub_server(self)
        rewrite_conf(srv, "maxfails 2")
        self.hup(srv)
        self.assertNotIn("closing ", srv.log())
        self.assertEqual(srv.log().count("listening on"), 1)

    def test_new_address_in_use_keeps_the_old_configuration(self):
        srv = stub_server(self, conf="maxfails 1")
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        self.addCleanup(busy.close)
        rewrite_conf(srv, "maxfails 5\nbindto 127.0.0.1:%d"
                     % busy.getsockname()[1])
        self.hup(srv, ok=False)
        c = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS wrong").expect(AUTH_FAILED)
        c.expect_closed()

    def test_userdb_and_timelimit_change(self):
        srv = stub_server(self)
        newdb = os.path.join(srv.dir, "passwd2")
        uid, gid = (TEST_UID, TEST_GID) if IS_ROOT else \
            (os.getuid(), os.getgid())
        with open(newdb, "w") as f:
            f.write("joe:%s:%d:%d:test:%s:/bin/sh\n" % (
                hash_password("other"), uid, gid, srv.home("joe")))
        rewrite_conf(srv, "userdb file %s\ntimelimit 1" % newdb)
        self.hup(srv)
        c = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(AUTH_FAILED)
        login(c, password="other").send("QUIT").expect("+OK bye")
        idle = greet(srv)
        t0 = time.monotonic()
        idle.expect_closed(timeout=5)
        self.assertLess(time.monotonic() - t0, 3)

    def test_check_in_flight_keeps_the_old_userdb(self):
        srv = stub_server(self, users={"joe": {
            "password": slow_hash("secret", 0.6).hash, "hashed": True}})
        newdb = os.path.join(srv.dir, "passwd2")
        with open(newdb, "w") as f:
            f.write("")
        c = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS secret")
        srv.wait_log(r"pass -> checking")
        rewrite_conf(srv, "userdb file %s" % newdb)
        self.hup(srv)
        c.expect(STUB_OK, timeout=10)
        c.send("QUIT").expect("+OK bye")
        c2 = greet(srv)
        c2.send("USER joe").expect_ok()
        c2.send("PASS secret").expect(AUTH_FAILED)


class Usr1(TestCase):

    def test_counters(self):
        srv = stub_server(self)
        c = greet(srv)
        c.send("USER joe").expect_ok()
        c.send("PASS wrong").expect(AUTH_FAILED)
        login(c).send("QUIT").expect("+OK bye")
        idle = greet(srv)
        m = srv.wait_stats(r"stats sessions=1 .* logins_ok=1 .*")
        stats = dict(kv.split("=") for kv in m.group(0).split()[1:])
        for key in ("sessions", "checking", "popits", "addresses",
                    "accepted", "logins_ok", "logins_failed", "tempfails",
                    "rejected_sameaddr", "timeouts", "spawned",
                    "spawn_failed", "queued"):
            self.assertIn(key, stats)
        self.assertEqual(stats["sessions"], "1")
        self.assertEqual(stats["logins_ok"], "1")
        self.assertEqual(stats["logins_failed"], "1")
        self.assertGreaterEqual(int(stats["accepted"]), 3)
        idle.send("QUIT").expect_ok()


@unittest.skipUnless(IS_ROOT, "needs root")
class Privileges(TestCase):

    def test_uid_gid_drop_in_every_thread(self):
        srv = stub_server(self, conf="uid %d\ngid %d\nworkers 3"
                          % (TEST_UID, TEST_GID), start=False)
        pidfile = os.path.join(srv.dir, "popserv.pid")
        with open(srv.conf_path, "a") as f:
            f.write("pidfile %s\n" % pidfile)
        srv.start()
        srv.wait_log(r"running as uid %d gid %d" % (TEST_UID, TEST_GID))
        srv.wait_log(r"popserv \S+ started, 3 workers")
        tasks = glob.glob("/proc/%d/task/*/status" % srv.proc.pid)
        self.assertGreaterEqual(len(tasks), 4)      # the loop + 3 workers
        ids = "\t".join([str(TEST_UID)] * 4)
        gids = "\t".join([str(TEST_GID)] * 4)
        for path in tasks:
            with open(path) as f:
                st = dict(l.split(":", 1) for l in f.read().splitlines())
            self.assertEqual(st["Uid"].strip(), ids, path)
            self.assertEqual(st["Gid"].strip(), gids, path)
            self.assertEqual(st["Groups"].strip(), str(TEST_GID), path)
            self.assertEqual(int(st["CapEff"], 16), 0, path)
            self.assertEqual(int(st["CapPrm"], 16), 0, path)
        login(greet(srv)).send("QUIT").expect("+OK bye")
        rec = read_records(srv.recdir)[0]
        self.assertEqual(rec["uid"], "%d %d" % (TEST_UID, TEST_UID))
        # The pid file's directory is root's: it is emptied, not removed.
        self.assertEqual(srv.stop(), 0)
        with open(pidfile) as f:
            self.assertEqual(f.read(), "")

    def test_uid_0_is_refused(self):
        srv = stub_server(self, conf="uid 0\ngid 0", start=False)
        p = subprocess.run([POPSERV, "-C", srv.conf_path],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn("uid 0", p.stderr)


if __name__ == "__main__":
    unittest.main()
