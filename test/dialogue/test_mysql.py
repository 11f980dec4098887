"""Dialogue tests of loginfo and userdb mysql (docs/accounting.md)
against a real MariaDB server (test/lib/mariadb.py), never a mock.

A dead server must never slow or fail a login: the loginfo tests stop
MariaDB in the middle and time the logins.
"""

import os
import re
import signal
import socket
import time
import unittest

from mariadb import MariaDBCase
from pop3test import hash_password, wait_for, TEST_UID, TEST_GID

HOSTNAME = "pop.test.example"
LOGINFO_QUERY = ("INSERT INTO logins (user, ip, host, at, pct) VALUES "
                 "('%u', '%i', '%h', FROM_UNIXTIME(%t), '100%%')")
FAST = 1.0          # seconds a login may take with the database down


def wait_for_db(cond, timeout=30.0, what="condition"):
    """wait_for() with the patience a database restart needs."""
    return wait_for(cond, timeout, what, every=0.1)


class MySQLCase(MariaDBCase):
    """One MariaDB for the whole class, started again if a test stopped
    it."""

    def setUp(self):
        if not self.db.running():
            self.db.start()


class LoginfoTest(MySQLCase):

    def setUp(self):
        super().setUp()
        self.db.sql("DROP TABLE IF EXISTS logins; "
                    "CREATE TABLE logins (id INT AUTO_INCREMENT PRIMARY KEY,"
                    " user VARBINARY(255), ip VARCHAR(64), host VARCHAR(255),"
                    " at DATETIME, pct VARCHAR(8))")

    def loginfo_conf(self, query=LOGINFO_QUERY, host=None):
        return ("hostname %s\n"
                "loginfo.host %s\n"
                "loginfo.user %s\n"
                "loginfo.password %s\n"
                "loginfo.database %s\n"
                "loginfo.query %s\n"
                % (HOSTNAME, host or self.db.host(), self.db.user,
                   self.db.password, self.db.database, query))

    def rows(self):
        return self.db.query("SELECT HEX(user), ip, host, "
                             "UNIX_TIMESTAMP(at), pct FROM logins ORDER BY id")

    def test_row_has_every_placeholder(self):
        srv = self.server(conf=self.loginfo_conf(),
                          users={"joe": "secret"})
        before = int(time.time())
        srv.login("joe", "secret").send("QUIT").expect_ok()
        after = int(time.time())
        rows = wait_for_db(self.rows, what="a loginfo row")
        self.assertEqual(len(rows), 1)
        user, ip, host, at, pct = rows[0]
        self.assertEqual(bytes.fromhex(user), b"joe")
        self.assertEqual(ip, "127.0.0.1")
        self.assertEqual(host, HOSTNAME)
        self.assertTrue(before <= int(at) <= after, (before, at, after))
        self.assertEqual(pct, "100%")

    def test_unix_socket_host(self):
        srv = self.server(conf=self.loginfo_conf(host=self.db.socket),
                          users={"joe": "secret"})
        srv.login("joe", "secret").send("QUIT").expect_ok()
        rows = wait_for_db(self.rows, what="a loginfo row over the socket")
        self.assertEqual(bytes.fromhex(rows[0][0]), b"joe")

    def test_sql_in_user_name_is_stored_literally(self):
        # USER takes one word, so no blanks; ':' is the passwd separator.
        evil = "o'hara\\'\";DROP/**/TABLE/**/logins;--"
        srv = self.server(conf=self.loginfo_conf(),
                          users={evil: "secret", "joe": "secret"})
        srv.login(evil, "secret").send("QUIT").expect_ok()
        srv.login("joe", "secret").send("QUIT").expect_ok()
        rows = wait_for_db(lambda: len(self.rows()) >= 2 and self.rows(),
                        what="two loginfo rows")
        self.assertEqual(bytes.fromhex(rows[0][0]).decode(), evil)
        self.assertEqual(bytes.fromhex(rows[1][0]).decode(), "joe")
        self.assertEqual(self.db.query("SHOW TABLES LIKE 'logins'"),
                         [("logins",)])

    def test_server_down_logins_stay_fast_and_logging_resumes(self):
        srv = self.server(conf=self.loginfo_conf(),
                          users={"joe": "secret", "ann": "pw"})
        srv.timed_login("joe", "secret")
        wait_for_db(lambda: len(self.rows()) == 1, what="the first row")

        self.db.stop()
        times = [srv.timed_login("ann", "pw") for _ in range(8)]
        print("logins with MariaDB down: %s s"
              % ", ".join("%.3f" % t for t in times))
        for t in times:
            self.assertLess(t, FAST)
        srv.wait_log(r"loginfo: .*(connect|lost|gone|server)", timeout=15)

        self.db.start()
        srv.timed_login("joe", "secret")
        # Entries queued while it was down are written too (back-off
        # is at most a few seconds after this short an outage).
        rows = wait_for_db(lambda: len(self.rows()) >= 10 and self.rows(),
                        timeout=60, what="rows after the restart")
        users = [bytes.fromhex(r[0]).decode() for r in rows]
        self.assertEqual(users.count("ann"), 8)
        self.assertEqual(users[-1], "joe")
        srv.wait_stats(r"stats accounting .*loginfo_queued=10 "
                       r"loginfo_sent=10 loginfo_dropped=0 loginfo_failed=0")

    def test_hung_server_queue_bound_and_drops(self):
        # A "server" that accepts and never says a word: connecting hangs
        # until the client's timeout. Logins go on at full speed; past
        # the bound of 1000 entries new ones are dropped and counted.
        hung = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(hung.close)
        hung.bind(("127.0.0.1", 0))
        hung.listen(64)
        srv = self.server(conf=self.loginfo_conf(
            host="127.0.0.1:%d" % hung.getsockname()[1]),
            users={"joe": "secret"})
        n, slowest, t0 = 1010, 0.0, time.monotonic()
        for _ in range(n):
            c = srv.connect()
            c.send_raw(b"USER joe\r\nPASS secret\r\nQUIT\r\n")
            t = time.monotonic()
            c.expect_ok()       # greeting
            c.expect_ok()       # USER
            c.expect_ok()       # popit's answer to PASS
            slowest = max(slowest, time.monotonic() - t)
            c.close()
        print("%d logins against a hung server in %.1f s, slowest %.3f s"
              % (n, time.monotonic() - t0, slowest))
        self.assertLess(slowest, FAST)
        srv.wait_log(r"loginfo: queue full \(1000 entries\): \d+ dropped")
        self.assertEqual(len(re.findall("queue full", srv.log())), 1)
        m = srv.wait_stats(r"loginfo_queued=(\d+) loginfo_sent=0 "
                           r"loginfo_dropped=(%d)" % (n - 1000))
        self.assertEqual(int(m.group(1)), 1000)
        self.assertEqual(int(m.group(2)), n - 1000)
        # Stopping waits a bounded time for the thread, and counts the rest.
        t = time.monotonic()
        srv.stop()
        self.assertLess(time.monotonic() - t, 10)

    def test_term_drain_child_logs_too(self):
        # SIGTERM forks a child that finishes the sessions left; its
        # logins are logged by a loginfo thread of its own.
        srv = self.server(conf=self.loginfo_conf(),
                          users={"joe": "secret", "ann": "pw"})
        srv.timed_login("joe", "secret")
        wait_for_db(lambda: len(self.rows()) == 1, what="the first row")
        c = srv.connect()
        c.expect_ok()
        c.send("USER ann").expect_ok()
        srv.signal(signal.SIGTERM)
        srv.proc.wait(10)       # the parent exits at once
        c.send("PASS pw").expect_ok()
        c.send("QUIT").expect_ok()
        rows = wait_for_db(lambda: len(self.rows()) == 2 and self.rows(),
                        what="the drain child's row")
        self.assertEqual(bytes.fromhex(rows[1][0]), b"ann")

    def test_unreachable_server_from_the_start(self):
        # A port nobody listens on: every login still fast.
        srv = self.server(conf=self.loginfo_conf(host="127.0.0.1:1"),
                          users={"joe": "secret"})
        times = [srv.timed_login("joe", "secret") for _ in range(5)]
        for t in times:
            self.assertLess(t, FAST)
        srv.wait_log(r"loginfo: connect to 127\.0\.0\.1:1: .*again in")

    def test_failing_query_is_counted_not_fatal(self):
        srv = self.server(conf=self.loginfo_conf(
            query="INSERT INTO no_such_table VALUES ('%u')"),
            users={"joe": "secret"})
        srv.timed_login("joe", "secret")
        srv.wait_log(r"loginfo: query for user \"joe\" failed: .*"
                     r"no_such_table")
        srv.wait_stats(r"loginfo_sent=0 loginfo_dropped=0 loginfo_failed=1")
        self.assertNotIn(self.db.password, srv.log())


class UserdbMySQLTest(MySQLCase):

    def setUp(self):
        super().setUp()
        self.db.sql("DROP TABLE IF EXISTS users; "
                    "CREATE TABLE users (name VARCHAR(255) PRIMARY KEY, "
                    "pw VARCHAR(255), uid INT, gid INT, home VARCHAR(255), "
                    "shell VARCHAR(255))")

    def add_user(self, srv, name, password, uid=None, home=None):
        uid = TEST_UID if os.getuid() == 0 else os.getuid()
        gid = TEST_GID if os.getuid() == 0 else os.getgid()
        home = home or srv.home(name)
        from pop3test import make_maildir, chown_tree
        make_maildir(os.path.join(home, "Maildir"))
        if os.getuid() == 0:
            chown_tree(home, uid, gid)
        h = hash_password(password).replace("'", "''")
        self.db.sql("INSERT INTO users VALUES ('%s', '%s', %d, %d, '%s', "
                    "'/bin/sh')" % (name.replace("'", "''"), h, uid, gid,
                                    home))

    def test_good_bad_unknown(self):
        srv = self.userdb_server()
        self.add_user(srv, "joe", "secret")
        c = srv.login("joe", "secret")
        c.send("QUIT").expect_ok()
        c = srv.connect()
        c.expect_ok()
        c.send("USER joe").expect_ok()
        c.send("PASS wrong").expect("-ERR [AUTH] Authentication failed.")
        c.send("USER nobody-here").expect_ok()
        c.send("PASS secret").expect("-ERR [AUTH] Authentication failed.")
        c.send("QUIT").expect_ok()
        c = srv.connect()       # maxfails 3 would close the first one
        c.expect_ok()
        c.send("USER x'or'1'='1").expect_ok()
        c.send("PASS secret").expect("-ERR [AUTH] Authentication failed.")
        c.send("QUIT").expect_ok()
        srv.wait_log(r'user="nobody-here" result=failed reason="unknown user"')
        srv.wait_log(r'user="joe" result=failed reason="wrong password"')
        self.assertNotIn(self.db.password, srv.log())
        self.assertNotIn("PASS secret", srv.log())

    def test_null_or_bad_columns_are_tempfail(self):
        srv = self.userdb_server()
        self.db.sql("INSERT INTO users VALUES ('nul', NULL, 1000, 1000, "
                    "'/tmp', '/bin/sh'), ('rel', 'x', 1000, 1000, "
                    "'relative', '/bin/sh')")
        for name, why in (("nul", "password is NULL"),
                          ("rel", "home is not an absolute path")):
            c = srv.connect()
            c.expect_ok()
            c.send("USER " + name).expect_ok()
            c.send("PASS x").expect_err()
            c.close()
            srv.wait_log(r'user="%s" result=tempfail reason="userdb mysql: '
                         r'%s"' % (name, why))

    def test_database_error_text_is_escaped_in_the_log(self):
        """A [SYS/TEMP] reason quotes MySQL's error text, which quotes
        what the client typed (here as a column name, "Unknown column"): it
        is escaped like all client text, no raw byte, no forged field."""
        srv = self.userdb_server(query="SELECT pw, uid, gid, home, shell "
                                "FROM users WHERE `%u` = 1")
        c = srv.connect()
        c.expect_ok()
        c.send_raw(b'USER jo\xc3\xa9"result=login\r\n')
        c.expect_ok()
        c.send("PASS secret").expect(re.compile(r"-ERR \[SYS/TEMP\] .*"))
        c.close()
        m = srv.wait_log(r'result=tempfail reason="userdb mysql: (.*)"\n')
        self.assertIn("jo\\xc3\\xa9", m.group(1))
        raw = open(srv.log_path, "rb").read()
        self.assertNotIn(b"\xc3", raw)
        raw = raw.decode()
        line = [ln for ln in raw.splitlines()
                if "result=tempfail" in ln][0]
        # Every '"' inside the reason is escaped: the field ends once.
        self.assertRegex(line, r'reason="(?:[^"\\]|\\.)*"$')

    def test_server_down_is_tempfail_then_recovers(self):
        srv = self.userdb_server()
        self.add_user(srv, "joe", "secret")
        srv.login("joe", "secret").send("QUIT").expect_ok()
        self.db.stop()
        for _ in range(3):
            c = srv.connect()
            c.expect_ok()
            c.send("USER joe").expect_ok()
            t0 = time.monotonic()
            c.send("PASS secret").expect(re.compile(r"-ERR \[SYS/TEMP\] .*"))
            self.assertLess(time.monotonic() - t0, 5.0)
            c.close()
        self.db.start()
        wait_for_db(lambda: self._login_ok(srv), timeout=20,
                 what="a login after the restart")

    def test_config_check(self):
        from pop3test import run_popserv
        srv = self.userdb_server()
        rc, out, err = run_popserv("-t", "-C", srv.conf_path)
        self.assertEqual((rc, out.strip()), (0, "configuration OK"), err)
        self.db.stop()
        rc, out, err = run_popserv("-t", "-C", srv.conf_path)
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"warning: userdb: mysql: connect to "
                         r"127\.0\.0\.1:\d+: .*\[SYS/TEMP\]")
        self.assertNotIn(self.db.password, err)

    def _login_ok(self, srv):
        c = srv.connect()
        c.expect_ok()
        c.send("USER joe").expect_ok()
        c.send("PASS secret")
        line = c.readline()
        c.close()
        return line.startswith("+OK")


if __name__ == "__main__":
    unittest.main()
