"""Scale-out (docs/scaling.md, docs/tls.md): a real haproxy, in the foreground
with a private configuration on loopback ports, balances POP3 and POP3S
(TCP mode, send-proxy-v2) over two popserv nodes that trust it. Logins
through it must reach popit with the client's own address in
REMOTE_ADDR (the clients connect from 127.0.0.2-127.0.0.5, so it shows),
and be spread round-robin over both nodes.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "dialogue"))
from engine_util import STUB_OK, TestCase  # noqa: E402
from pop3test import TIMEOUT, Client, free_port  # noqa: E402
from tlstest import TestCA  # noqa: E402
from transport_util import read_records, remote_addr, tls_server  # noqa

CLIENTS = ["127.0.0.%d" % i for i in range(2, 6)]

HAPROXY_CFG = """\
global
    maxconn 200

defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend pop3
    bind 127.0.0.1:%(pop3)d
    default_backend pop3_nodes

frontend pop3s
    bind 127.0.0.1:%(pop3s)d
    default_backend pop3s_nodes

backend pop3_nodes
    balance roundrobin
    server node1 127.0.0.1:%(n1)d send-proxy-v2
    server node2 127.0.0.1:%(n2)d send-proxy-v2

backend pop3s_nodes
    balance roundrobin
    server node1 127.0.0.1:%(n1s)d send-proxy-v2
    server node2 127.0.0.1:%(n2s)d send-proxy-v2
"""


def listening(port):
    """Is a TCP socket listening on 127.0.0.1:port? (From /proc, so that
    asking does not itself make a connection haproxy would balance.)"""
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":
                return True
    return False


@unittest.skipUnless(shutil.which("haproxy") or os.environ.get("CI"),
                     "haproxy is not installed")
class HAProxy(TestCase):

    def setUp(self):
        if shutil.which("haproxy") is None:
            self.fail("haproxy is not installed (TEST_PACKAGES in "
                      ".ci/packages)")
        tmp = tempfile.TemporaryDirectory(prefix="popserv-haproxy-")
        self.addCleanup(tmp.cleanup)
        # One certificate on both nodes, as for one service name.
        os.chmod(tmp.name, 0o755)
        self.ca = TestCA(os.path.join(tmp.name, "ca"))
        self.nodes = [tls_server(self, conf="trusted 127.0.0.1/32",
                                 ca=self.ca) for _ in range(2)]
        self.pop3, self.pop3s = free_port(), free_port()
        cfg = os.path.join(tmp.name, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(HAPROXY_CFG % {
                "pop3": self.pop3, "pop3s": self.pop3s,
                "n1": self.nodes[0].port, "n2": self.nodes[1].port,
                "n1s": self.nodes[0].tls_port,
                "n2s": self.nodes[1].tls_port})
        p = subprocess.run(["haproxy", "-c", "-f", cfg], capture_output=True,
                           text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.log = open(os.path.join(tmp.name, "haproxy.log"), "wb")
        self.addCleanup(self.log.close)
        # -db: foreground, no daemon; the test's own process, stopped below.
        self.haproxy = subprocess.Popen(["haproxy", "-db", "-f", cfg],
                                        stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=self.log)
        self.addCleanup(self.stop_haproxy)
        deadline = time.monotonic() + TIMEOUT
        while not (listening(self.pop3) and listening(self.pop3s)):
            if self.haproxy.poll() is not None or \
                    time.monotonic() > deadline:
                self.fail("haproxy did not start")
            time.sleep(0.05)

    def stop_haproxy(self):
        if self.haproxy.poll() is None:
            self.haproxy.terminate()
            try:
                self.haproxy.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait()

    def connect(self, port, source, tls=False):
        s = socket.create_connection(("127.0.0.1", port), TIMEOUT,
                                     source_address=(source, 0))
        if tls:
            s = self.ca.client_context().wrap_socket(
                s, server_hostname="localhost")
        c = Client(s)
        self.addCleanup(c.close)
        return c

    def login_all(self, port, tls):
        for src in CLIENTS:
            c = self.connect(port, src, tls)
            c.expect_ok()
            c.send("USER joe").expect_ok()
            c.send("PASS secret").expect(STUB_OK)
            c.send("QUIT").expect("+OK bye")
            c.expect_closed()

    def records(self, want):
        got = {}
        for i, n in enumerate(self.nodes):
            for rec in read_records(n.recdir, want):
                got.setdefault(i, []).append(remote_addr(rec))
        return got

    def test_logins_through_haproxy_keep_the_client_address(self):
        self.login_all(self.pop3, tls=False)
        got = self.records(2)
        self.assertEqual(sorted(got[0] + got[1]), CLIENTS)
        self.assertEqual(len(got[0]), 2, got)     # round-robin
        self.assertEqual(len(got[1]), 2, got)
        for n in self.nodes:
            n.wait_log(r'ip=127\.0\.0\.[2-5] user="joe" result=login')

    def test_pop3s_through_haproxy(self):
        self.login_all(self.pop3s, tls=True)
        got = self.records(2)
        self.assertEqual(sorted(got[0] + got[1]), CLIENTS)
        self.assertEqual(len(got[0]), 2, got)
        for n in self.nodes:
            n.wait_log(r'ip=127\.0\.0\.[2-5] user="joe" result=login '
                       r'folder="" tls=relay')


if __name__ == "__main__":
    unittest.main()
