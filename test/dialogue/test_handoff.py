"""Dialogue tests of the handoff to popit (docs/internals.md, "Handoff").

popit is replaced by test/stub_popit.c, which records its argv,
environment, directory, credentials, descriptors and signal state, and
every byte it receives.
"""

import glob
import os
import re
import signal
import time
import unittest

from stubrec import read_records, stub_server
from pop3test import Server, TEST_UID, TEST_GID, TestCase, make_maildir

IS_ROOT = os.getuid() == 0


class HandoffTest(TestCase):

    def login_and_quit(self, srv, user, password="secret"):
        c = srv.login(user, password)
        c.send("QUIT").expect("+OK bye")
        c.expect_closed()
        return read_records(srv.recdir)[-1]

    def test_environment_is_exact(self):
        srv = stub_server(self)
        rec = self.login_and_quit(srv, "joe")
        self.assertEqual(sorted(rec["env"]), sorted([
            "SHELL=/bin/sh",
            "HOME=" + srv.home("joe"),
            "USER=joe",
            "EXTENSION=",
            "LOGNAME=joe",
            "REMOTE_ADDR=127.0.0.1",
            "PATH=/usr/bin:/bin",
        ]))
        self.assertEqual(rec["cwd"], os.path.join(srv.home("joe"), "Maildir"))

    def test_argv_default_and_useropt(self):
        srv = stub_server(self, conf="useropt /([^%@+]*)")
        rec = self.login_and_quit(srv, "joe")
        self.assertEqual(rec["argv"], ["stub", srv.recdir])
        for f in glob.glob(os.path.join(srv.recdir, "*.rec")):
            os.unlink(f)
        rec = self.login_and_quit(srv, "joe/lite")
        self.assertEqual(rec["argv"], ["stub", srv.recdir, "--", "lite"])
        self.assertIn("USER=joe", rec["env"])
        self.assertIn("LOGNAME=joe/lite", rec["env"])

    def test_folder_and_useropt_together(self):
        srv = stub_server(self, conf="folder \\+([^%@/]*)\n"
                                    "useropt /([^%@+]*)")
        os.makedirs(os.path.join(srv.home("joe"), "Maildir", ".work"))
        if IS_ROOT:
            os.chown(os.path.join(srv.home("joe"), "Maildir", ".work"),
                     TEST_UID, TEST_GID)
        rec = self.login_and_quit(srv, "joe+work/lite")
        self.assertIn("USER=joe", rec["env"])
        self.assertIn("EXTENSION=work", rec["env"])
        self.assertIn("LOGNAME=joe+work/lite", rec["env"])
        self.assertEqual(rec["argv"][-2:], ["--", "lite"])
        self.assertEqual(rec["cwd"],
                         os.path.join(srv.home("joe"), "Maildir", ".work"))
        srv.wait_log(r'user="joe\+work/lite" result=login folder="work"')

    def test_dotdot_folder_refused(self):
        srv = stub_server(self, conf="folder \\+([^%@]*)")
        c = srv.connect().expect_ok()
        c.send("USER joe+..").expect_ok()
        c.send("PASS secret").expect("-ERR [AUTH] Authentication failed.")
        c.send("USER joe+a/b").expect_ok()
        c.send("PASS secret").expect("-ERR [AUTH] Authentication failed.")
        srv.wait_log(r'reason="invalid folder name"')
        self.assertEqual(glob.glob(os.path.join(srv.recdir, "*.rec")), [])

    def test_missing_folder_is_tempfail(self):
        srv = stub_server(self, conf="folder \\+([^%@/]*)")
        c = srv.connect().expect_ok()
        c.send("USER joe+nosuch").expect_ok()
        c.send("PASS secret").expect(
            re.compile(r"-ERR \[SYS/TEMP\] .*"))
        c.expect_closed()
        srv.wait_log(r"chdir .*/Maildir/\.nosuch: No such file")
        # The server goes on serving.
        self.login_and_quit(srv, "joe")

    @unittest.skipUnless(IS_ROOT, "needs root to hand out uid 0")
    def test_uid_zero_refused(self):
        srv = stub_server(self, users={"toor": {"password": "secret",
                                               "uid": 0, "gid": 0}})
        c = srv.connect().expect_ok()
        c.send("USER toor").expect_ok()
        c.send("PASS secret").expect("-ERR [AUTH] Authentication failed.")
        srv.wait_log(r'user="toor" result=failed reason="uid 0 refused"')
        self.assertEqual(glob.glob(os.path.join(srv.recdir, "*.rec")), [])

    @unittest.skipUnless(IS_ROOT, "needs root to change credentials")
    def test_credentials_and_threads(self):
        srv = stub_server(self, users={"joe": {"password": "secret",
                                              "uid": 4242, "gid": 4343}})
        os.chmod(srv.home("joe"), 0o755)
        for d in glob.glob(os.path.join(srv.home("joe"), "Maildir*")):
            os.chown(d, 4242, 4343)
        rec = self.login_and_quit(srv, "joe")
        self.assertEqual(rec["uid"], "4242 4242")
        self.assertEqual(rec["gid"], "4343 4343")
        self.assertEqual(rec["groups"].split(), ["4343"])
        # popserv's own threads keep their credentials (no setxid leak
        # from the vfork child into the parent).
        for status in glob.glob("/proc/%d/task/*/status" % srv.proc.pid):
            with open(status) as f:
                text = f.read()
            self.assertRegex(text, r"Uid:\s+0\s+0\s+0\s+0")
            self.assertRegex(text, r"Gid:\s+0\s+0\s+0\s+0")

    def test_descriptors_signals_and_blocking(self):
        srv = stub_server(self)
        rec = self.login_and_quit(srv, "joe")
        self.assertEqual(sorted(rec["fd"]), ["0", "1", "2"])
        self.assertEqual(rec["nonblock"], "0")
        self.assertEqual(int(rec["SigBlk"], 16), 0)
        self.assertEqual(int(rec["SigIgn"], 16), 0)   # SIGPIPE default

    def test_pipelined_bytes_reach_popit(self):
        srv = stub_server(self)
        c = srv.connect().expect_ok()
        c.send_raw(b"USER joe\r\nPASS secret\r\nSTAT\r\nLIST\r\nQUIT\r\n")
        c.expect_ok()                       # USER
        c.expect("+OK stub popit")          # popit answers the PASS
        c.expect("+OK STAT").expect("+OK LIST").expect("+OK bye")
        rec = read_records(srv.recdir)[0]
        self.assertEqual(rec["line"], ["STAT\\r\\n", "LIST\\r\\n",
                                       "QUIT\\r\\n"])

    def test_pipelined_after_failure_then_login(self):
        # Commands after a failed PASS wait for its answer, in order.
        srv = stub_server(self, conf="faildelay 1")
        c = srv.connect().expect_ok()
        c.send_raw(b"USER joe\r\nPASS bad\r\nUSER joe\r\nPASS secret\r\n"
                   b"NOOP\r\nQUIT\r\n")
        c.expect_ok()
        c.expect("-ERR [AUTH] Authentication failed.")
        c.expect_ok()
        c.expect("+OK stub popit").expect("+OK NOOP").expect("+OK bye")

    def test_popit_missing_or_not_executable(self):
        srv = stub_server(self)
        for path, why in ((os.path.join(srv.dir, "nonexistent"),
                           "No such file"),
                          (srv.conf_path, "Permission denied")):
            srv.stop()
            with open(srv.conf_path) as f:
                conf = f.read()
            conf = re.sub(r"(?m)^popit .*$", "popit " + path, conf)
            conf = re.sub(r"(?m)^popitargs .*$", "", conf)
            with open(srv.conf_path, "w") as f:
                f.write(conf)
            srv.start()
            c = srv.connect().expect_ok()
            c.send("USER joe").expect_ok()
            c.send("PASS secret").expect(re.compile(r"-ERR \[SYS/TEMP\].*"))
            c.expect_closed()
            srv.wait_log(r"execve %s: %s" % (re.escape(path), why))
            srv.wait_log(r"exit=127")
            # Still serving.
            srv.connect().expect_ok().send("QUIT").expect_ok()

    def test_popit_crash_is_logged(self):
        srv = stub_server(self)
        c = srv.login("joe", "secret")
        c.send("CRASH")
        c.expect_closed()
        srv.wait_log(r'popit pid=\d+ ip=127\.0\.0\.1 user="joe" signal=6')
        srv.connect().expect_ok()

    def test_popit_stderr_and_exit_status_are_logged(self):
        srv = Server(users={"joe": "secret"}, start=False)
        self.addCleanup(srv.__exit__, None, None, None)
        script = os.path.join(srv.dir, "talker")
        with open(script, "w") as f:
            f.write("#!/bin/sh\necho \"popit says hello $USER\" >&2\n"
                    "printf 'two\\nlines\\n' >&2\nexit 3\n")
        os.chmod(script, 0o755)
        with open(srv.conf_path, "a") as f:
            f.write("popit %s\n" % script)
        srv.start()
        c = srv.connect().expect_ok()
        c.send("USER joe").expect_ok()
        c.send("PASS secret")
        c.expect_closed()
        srv.wait_log(r"popit: popit says hello joe")
        srv.wait_log(r"popit: two\n.*popit: lines", timeout=5)
        srv.wait_log(r'popit pid=\d+ ip=127\.0\.0\.1 user="joe" exit=3')

    def test_sameaddrmax_counts_running_popits(self):
        srv = stub_server(self, conf="sameaddrmax 2")
        a = srv.login("joe", "secret")
        b = srv.login("joe", "secret")
        srv.connect().expect(
            "-ERR [SYS/TEMP] Too many connections from your address"
        ).expect_closed()
        a.send("QUIT").expect("+OK bye")
        a.expect_closed()
        srv.wait_log(r"popit pid=\d+ .*exit=0")
        deadline = time.monotonic() + 5
        while True:
            c = srv.connect()
            line = c.readline()
            if line.startswith("+OK"):
                break
            self.assertLess(time.monotonic(), deadline, line)
            time.sleep(0.05)
        c.send("QUIT").expect_ok()
        b.send("QUIT").expect("+OK bye")


if __name__ == "__main__":
    unittest.main()
