"""A user database that never answers never hangs a login (docs/userdb.md):
checktimeout, and a FIFO put in place of the user file."""

import os
import re
import time
import unittest

from pop3test import TestCase, slow_hash


class CheckDeadlineTest(TestCase):

    def test_slow_check_gets_systemp_at_the_deadline(self):
        h, took = slow_hash("secret", 2.5, "yescrypt")
        if took < 2.0:
            self.skipTest("no yescrypt cost slow enough here (%.2fs)" % took)
        srv = self.server(users={"joe": {"password": h, "hashed": True}},
                          conf="checktimeout 1")
        c = srv.connect().expect_ok()
        c.send("USER joe").expect_ok()
        t = time.monotonic()
        c.send("PASS secret").expect(re.compile(r"-ERR \[SYS/TEMP\] .*"))
        self.assertLess(time.monotonic() - t, took - 0.5)
        srv.wait_log(r'result=tempfail reason="no answer from the user '
                     r'database in 1 s"')
        # The session goes on, and the late answer is dropped.
        c.send("CAPA").expect_ok()
        self.assertEqual(c.multiline()[0], "USER")
        time.sleep(took)
        c.send("QUIT").expect_ok()
        srv.signal(__import__("signal").SIGUSR1)
        srv.wait_log(r"stats sessions=0 checking=0 ")

    def test_fifo_in_place_of_the_user_file(self):
        srv = self.server(users={"joe": "secret"})
        os.unlink(srv.userfile)
        os.mkfifo(srv.userfile)
        c = srv.connect().expect_ok()
        c.send("USER joe").expect_ok()
        t = time.monotonic()
        c.send("PASS secret").expect(re.compile(r"-ERR \[SYS/TEMP\] .*"))
        self.assertLess(time.monotonic() - t, 1.0)
        srv.wait_log(r"not a regular file")
        # The file comes back: logins work again.
        os.unlink(srv.userfile)
        srv.write_users({"joe": "secret"})
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect_ok()


if __name__ == "__main__":
    unittest.main()
