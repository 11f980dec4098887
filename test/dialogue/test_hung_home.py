"""A user's home on a file system that never answers (a hung NFS or
autofs mount, a FUSE file system a user mounts on their own Maildir)
must not freeze popserv: popit is started from spawner threads, never
from the loop, and a start that takes longer than spawntimeout is
killed and answered [SYS/TEMP].

The hung file system is FUSE with no daemon: the test opens /dev/fuse,
mounts it over the user's home and never reads the requests, so every
lookup below it waits until the descriptor is closed. Needs root.
"""

import ctypes
import os
import re
import time
import unittest

from engine_util import PROMPT, STUB_OK, TestCase, greet, stub_server
from pop3test import wait_for
from stubrec import read_records

IS_ROOT = os.getuid() == 0
TEMP = re.compile(r"-ERR \[SYS/TEMP\] .*")
MNT_DETACH = 2


def fuse_available():
    return IS_ROOT and os.path.exists("/dev/fuse")


class HungFS:
    """A FUSE mount at path whose requests nobody answers."""

    def __init__(self, path):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.path = path
        self.fd = os.open("/dev/fuse", os.O_RDWR)
        opts = ("fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other"
                % self.fd).encode()
        if self.libc.mount(b"popserv-test-hung", path.encode(), b"fuse", 0,
                           opts) != 0:
            err = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(err, "mount fuse on %s" % path)

    def close(self):
        """Abort the connection (every waiter gets an error) and unmount."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            self.libc.umount2(self.path.encode(), MNT_DETACH)


@unittest.skipUnless(fuse_available(), "needs root and /dev/fuse")
class HungHome(TestCase):

    def setUp(self):
        self.srv = stub_server(self, users={"joe": "secret", "hung": "pw"},
                               conf="spawntimeout 2\nsameaddrmax 30")
        self.fs = HungFS(self.srv.home("hung"))
        self.addCleanup(self.fs.close)

    def start_hung_login(self):
        c = self.srv.connect()
        c.expect_ok()
        c.send("USER hung").expect_ok()
        c.send("PASS pw")
        return c

    def test_other_sessions_go_on_and_the_hung_one_is_told(self):
        t0 = time.monotonic()
        hung = self.start_hung_login()
        # While the child hangs in chdir, every other client is served.
        for _ in range(10):
            t = time.monotonic()
            c, _ = greet(self.srv)
            self.assertLess(time.monotonic() - t, PROMPT)
            c.send("USER joe").expect_ok()
            c.send("PASS secret").expect(STUB_OK)
            c.send("QUIT").expect("+OK bye")
            c.close()
        self.assertLess(time.monotonic() - t0, 2.0,
                        "ten logins should not wait for the hung one")
        hung.expect(TEMP, timeout=6)
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 1.9)
        self.assertLess(took, 5)
        hung.expect_closed()
        self.srv.wait_log(r'popit for user="hung" ip=127\.0\.0\.1: not '
                          r'started in 2 s \(killed\)')
        self.srv.wait_log(r'user="hung" result=tempfail reason="popit did '
                          r'not start in 2 s"')
        self.assertEqual(len(read_records(self.srv.recdir, want=10)), 10)

    def test_many_hung_logins_do_not_stop_the_rest(self):
        """Six hung logins at once hold six spawners; the seventh login
        is still started at once, and all six are told and reaped."""
        hung = [self.start_hung_login() for _ in range(6)]
        time.sleep(0.3)
        t = time.monotonic()
        c = self.srv.login("joe", "secret")
        self.assertLess(time.monotonic() - t, 1.0)
        c.send("QUIT").expect("+OK bye")
        for h in hung:
            h.expect(TEMP, timeout=6)
        # Every killed child is reaped and its sameaddrmax slot is back:
        # 30 connections fit again.
        # A slot comes back when its child is reaped, which is logged in
        # the same step: wait for the six kills and joe's exit.
        wait_for(lambda: len(re.findall(r'popit pid=\d+ ip=\S+ user="hung" '
                                        r'signal=9', self.srv.log())) == 6
                 and re.search(r'user="joe" exit=0', self.srv.log()),
                 what="six killed children reaped")
        self.assertEqual(
            self.srv.log().count("not started in 2 s (killed)"), 6)
        for child in os.listdir("/proc"):
            if child.isdigit():
                try:
                    with open("/proc/%s/stat" % child) as f:
                        st = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(st[1]) == self.srv.proc.pid:
                    self.assertNotEqual(st[0], "D", "a child still hangs")
        clients = []
        for _ in range(29):
            c2, _ = greet(self.srv)
            clients.append(c2)

    def test_logins_checked_together_do_not_queue_behind_a_hung_one(self):
        """A hung login and three good ones whose checks come back in the
        same moment: each gets a spawner of its own, so the good ones are
        started at once, not after the hung one's spawntimeout."""
        clients = []
        for user, pw in (("hung", "pw"), ("joe", "secret"),
                         ("joe", "secret"), ("joe", "secret")):
            c = self.srv.connect()
            c.expect_ok()
            c.send("USER " + user).expect_ok()
            clients.append((c, pw))
        t = time.monotonic()
        for c, pw in clients:
            c.send_raw(("PASS %s\r\n" % pw).encode())
        for c, _ in clients[1:]:
            c.expect(STUB_OK, timeout=1.5)
        self.assertLess(time.monotonic() - t, 1.5)
        clients[0][0].expect(TEMP, timeout=6)

    def test_killed_start_after_the_file_system_recovers(self):
        """Once the mount goes away the same user logs in again."""
        hung = self.start_hung_login()
        hung.expect(TEMP, timeout=6)
        self.fs.close()
        c = self.srv.login("hung", "pw")
        c.send("QUIT").expect("+OK bye")


if __name__ == "__main__":
    unittest.main()
