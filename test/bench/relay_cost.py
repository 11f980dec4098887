#!/usr/bin/env python3
"""What the TLS relay costs popserv (docs/tls.md): RETR of the e2e
corpus's 10 MB message, plain and over implicit TLS (relayed), with
popserv's CPU time summed over its threads from /proc/PID/task/*/schedstat
around each RETR. Loopback only, a private popserv, the real popit.

usage: POPSERV=build/popserv POPIT=build/popit relay_cost.py [rounds]
"""

import os
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
for var in ("POPSERV", "POPIT"):       # popserv runs in its own directory
    if os.path.sep in os.environ.get(var, ""):
        os.environ[var] = os.path.abspath(os.environ[var])
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from mailcorpus import corpus  # noqa: E402
from pop3test import Client, Server, free_port  # noqa: E402
from tlstest import TestCA, connect_tls  # noqa: E402


def cpu_seconds(pid):
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            total += int(f.read().split()[0])
    return total / 1e9


def retr(srv, c):
    """Log in, RETR 1, read it all; returns (octets, wall s, popserv CPU s)."""
    c.expect_ok()
    c.send("USER joe").expect_ok()
    c.send("PASS pw").expect_ok()
    t0, c0 = time.monotonic(), cpu_seconds(srv.proc.pid)
    c.send("RETR 1").expect_ok()
    buf, c.buf = c.buf, b""
    while not buf.endswith(b"\r\n.\r\n"):
        data = c.sock.recv(1 << 16)
        if not data:
            break
        buf += data
    t1, c1 = time.monotonic(), cpu_seconds(srv.proc.pid)
    c.send("QUIT").expect_ok()
    c.close()
    return len(buf), t1 - t0, c1 - c0


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    big = [m for m in corpus() if m.name == "big"][0]
    with tempfile.TemporaryDirectory(prefix="relay-cost-") as d:
        os.chmod(d, 0o755)
        ca = TestCA(d)
        port = free_port()
        srv = Server(users={"joe": "pw"}, maildirs={"joe": [big.data]},
                     conf="tls.cert %s\ntls.key %s\nbindtls 127.0.0.1:%d\n"
                     % (ca.cert, ca.key, port))
        try:
            for _ in range(rounds):
                s = socket.create_connection(("127.0.0.1", srv.port))
                print("plain  %d octets  wall %.3f s  popserv CPU %.4f s"
                      % retr(srv, Client(s)))
                c = connect_tls("127.0.0.1", port, ca.client_context())
                print("relay  %d octets  wall %.3f s  popserv CPU %.4f s"
                      % retr(srv, c))
        finally:
            srv.stop()
            srv.tmp.cleanup()


if __name__ == "__main__":
    main()
