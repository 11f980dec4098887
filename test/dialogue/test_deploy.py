"""popserv under real launchers (docs/deployment.md): xinetd in "wait" mode and
systemd socket activation with systemd-socket-activate, with sd_notify
messages caught on a private NOTIFY_SOCKET.

Both launchers run in the foreground with private configuration on a
loopback port; the system's own inetd or systemd services are never
touched. Tests skip when the launcher is not installed.
"""

import os
import re
import shutil
import signal
import subprocess
import time
import unittest

from pop3test import POPSERV, TestCase, free_port
from lifecycle_util import (IS_ROOT, STUB_OK, NotifySocket, alive,
                            kill_if_alive, read_records, refused,
                            stub_server, wait_gone, wait_listening)
from stubrec import stub_login

XINETD = shutil.which("xinetd") or "/usr/sbin/xinetd"
SOCKET_ACTIVATE = shutil.which("systemd-socket-activate") or \
    "/usr/bin/systemd-socket-activate"


def built_with_systemd():
    out = subprocess.run([POPSERV, "-V"], capture_output=True, text=True,
                         timeout=10).stdout
    return "systemd: yes" in out


@unittest.skipUnless(os.access(XINETD, os.X_OK), "xinetd is not installed")
class Xinetd(TestCase):
    """xinetd hands popserv -i the listening socket on 0, 1 and 2 and
    waits for it to exit (autoclose) before it watches the port again."""

    def test_login_through_xinetd_twice(self):
        srv = stub_server(self, bind=False, start=False, conf="autoclose 1")
        conf = os.path.join(srv.dir, "xinetd.conf")
        with open(conf, "w") as f:
            f.write("""defaults
{
	log_type	= FILE %(dir)s/xinetd.log
}

service popserv-test
{
	type		= UNLISTED
	socket_type	= stream
	protocol	= tcp
	port		= %(port)d
	bind		= 127.0.0.1
	wait		= yes
%(user)s	server		= %(popserv)s
	server_args	= -i -C %(conf)s
	disable		= no
}
""" % {"dir": srv.dir, "port": srv.port, "popserv": POPSERV,
       "conf": srv.conf_path,
       "user": "\tuser\t\t= root\n" if IS_ROOT else ""})
        out = open(os.path.join(srv.dir, "xinetd.out"), "wb")
        self.addCleanup(out.close)
        x = subprocess.Popen([XINETD, "-dontfork", "-f", conf, "-pidfile",
                              os.path.join(srv.dir, "xinetd.pid")],
                             stdin=subprocess.DEVNULL, stdout=out,
                             stderr=out)
        self.addCleanup(x.wait)
        self.addCleanup(kill_if_alive, x.pid, signal.SIGTERM)
        # Every popserv xinetd starts is its child; stop them too.
        self.addCleanup(self.stop_children, x.pid)
        wait_listening("127.0.0.1", srv.port, proc=x)

        stub_login(srv).expect_closed()
        first = self.popserv_children(x.pid)
        # autoclose: that popserv exits, and xinetd starts a new one.
        deadline = time.monotonic() + 10
        while self.popserv_children(x.pid):
            self.assertLess(time.monotonic(), deadline,
                            "popserv did not exit after autoclose")
            time.sleep(0.05)
        stub_login(srv).expect_closed()
        second = self.popserv_children(x.pid)
        self.assertEqual(len(read_records(srv.recdir, 2)), 2)
        if first and second:
            self.assertNotEqual(first, second)

    @staticmethod
    def popserv_children(ppid):
        """Pids of xinetd's running children."""
        kids = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == ppid and fields[0] != "Z":
                kids.append(int(pid))
        return kids

    def stop_children(self, ppid):
        for pid in self.popserv_children(ppid):
            kill_if_alive(pid, signal.SIGINT)


@unittest.skipUnless(os.access(SOCKET_ACTIVATE, os.X_OK),
                     "systemd-socket-activate is not installed")
class SocketActivation(TestCase):
    """systemd-socket-activate binds the port, passes it as LISTEN_FDS
    and execs popserv on the first connection; NOTIFY_SOCKET is ours."""

    def setUp(self):
        if not built_with_systemd():
            self.skipTest("popserv built without libsystemd")

    def start(self, conf=""):
        other = free_port()
        srv = stub_server(self, bind=False, start=False,
                          conf="bindto 127.0.0.1:%d\n%s" % (other, conf))
        srv.other_port = other
        self.notify = NotifySocket(os.path.join(srv.dir, "notify"))
        self.addCleanup(self.notify.close)
        log = open(srv.log_path, "ab")
        self.addCleanup(log.close)
        p = subprocess.Popen(
            [SOCKET_ACTIVATE, "-l", "127.0.0.1:%d" % srv.port,
             "-E", "NOTIFY_SOCKET=" + self.notify.path,
             POPSERV, "-d", "-C", srv.conf_path],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=srv.dir)
        srv.proc = p
        srv.logf = open(os.devnull, "wb")
        self.addCleanup(p.wait)
        self.addCleanup(kill_if_alive, p.pid, signal.SIGINT)
        srv.wait_log(r"Listening on 127\.0\.0\.1:%d" % srv.port)
        return srv

    def test_passed_socket_ready_reload_stopping(self):
        srv = self.start()
        # The first connection makes the launcher exec popserv.
        stub_login(srv).expect_closed()
        pid, fields = self.notify.wait_for("READY")
        self.assertEqual(pid, srv.proc.pid)
        self.assertRegex(fields.get("STATUS", ""), r"\d+ sessions, \d+ popits")
        srv.wait_log(r"listening on inherited 127\.0\.0\.1:%d" % srv.port)
        # bindto is not used beside the passed socket.
        self.assertTrue(refused("127.0.0.1", srv.other_port))

        srv.signal(signal.SIGHUP)
        self.notify.wait_for("RELOADING")
        self.notify.wait_for("READY")
        stub_login(srv).expect_closed()             # the passed socket is kept

        srv.signal(signal.SIGTERM)
        pid, _ = self.notify.wait_for("STOPPING")
        self.assertEqual(pid, srv.proc.pid)
        self.assertEqual(srv.proc.wait(5), 0)
        self.assertEqual(len(read_records(srv.recdir, 2)), 2)

    def test_drain_child_is_silent(self):
        """After TERM only the main process may notify: the drain child
        finishing a login sends nothing."""
        srv = self.start(conf="faildelay 2\nfailpenalty 0")
        c = srv.connect()
        c.expect_ok()
        self.notify.wait_for("READY")
        c.send("USER joe").expect_ok()
        c.send("PASS wrong")
        srv.wait_log(r"result=failed")
        srv.signal(signal.SIGTERM)
        self.notify.wait_for("STOPPING")
        self.assertEqual(srv.proc.wait(5), 0)
        child = int(srv.wait_log(r"draining \d+ sessions in pid (\d+)")
                    .group(1))
        self.addCleanup(kill_if_alive, child)
        c.expect("-ERR [AUTH] Authentication failed.")
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect(STUB_OK)
        c.send("QUIT").expect("+OK bye")
        self.assertTrue(wait_gone(child, 5))
        while self.notify.poll(0.3):
            pass
        self.assertNotIn(child, [pid for pid, _ in self.notify.messages])


if __name__ == "__main__":
    unittest.main()
