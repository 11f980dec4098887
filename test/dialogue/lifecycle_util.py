"""Helpers for the lifecycle and deployment tests (docs/deployment.md).

popit is the recording stub (test/stub_popit.c), so a test can see that a
login reached popit even after the popserv that accepted it is gone.
Every process a test starts, directly or as popserv's drain child, is
tracked and stopped when the test ends.
"""

import os
import signal
import socket
import subprocess
import time

from stubrec import STUB, STUB_OK, read_records, stub_server
from pop3test import POPSERV, Server

AUTH_FAILED = "-ERR [AUTH] Authentication failed."
IS_ROOT = os.getuid() == 0


def alive(pid):
    """Is pid running (a zombie counts as gone)?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def wait_gone(pid, timeout):
    """Wait until pid has exited; True if it did within timeout."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def kill_if_alive(pid, sig=signal.SIGKILL):
    """Stop a process this test started (directly or as a drain child)."""
    if pid and alive(pid):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
        wait_gone(pid, 5)


def refused(host, port, family=socket.AF_INET):
    """True when nothing listens on host:port (connection refused)."""
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, port))
    except ConnectionRefusedError:
        return True
    finally:
        s.close()
    return False


def wait_listening(host, port, timeout=10, proc=None):
    """Wait until host:port accepts connections (the probe is closed)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("exited %d before listening" % proc.returncode)
        try:
            socket.create_connection((host, port), 0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def rewrite_conf(srv, extra, bind=None):
    """Replace the extra lines of srv's configuration (and its bindto)."""
    lines = [l for l in srv.conf.splitlines()
             if not l.startswith("bindto ") or bind is None]
    if bind is not None:
        lines.insert(1, "bindto %s" % bind)
    base = "\n".join(lines) + "\n"
    with open(srv.conf_path, "w") as f:
        f.write(base + extra + "\n")
        f.write("popitargs stub %s\n" % srv.recdir)


def drain_pid(srv, timeout=10):
    """The pid of the TERM drain child, from popserv's log."""
    return int(srv.wait_log(r"draining \d+ sessions in pid (\d+)",
                            timeout=timeout).group(1))


class NotifySocket:
    """A NOTIFY_SOCKET receiver: collects sd_notify datagrams with the
    sender's pid (SO_PASSCRED)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)
        self.messages = []      # (pid, {key: value})

    def poll(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = int.from_bytes(payload[0:4], "little")
        fields = dict(l.split("=", 1) for l in
                      data.decode().splitlines() if "=" in l)
        self.messages.append((pid, fields))
        return pid, fields

    def wait_for(self, key, value="1", timeout=10):
        """Wait for a message holding key=value; returns (pid, fields)."""
        for pid, fields in self.messages:
            if fields.get(key) == value:
                self.messages.remove((pid, fields))
                return pid, fields
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.poll(deadline - time.monotonic())
            if m and m[1].get(key) == value:
                self.messages.remove(m)
                return m
        raise AssertionError("no %s=%s notification; got %r"
                             % (key, value, self.messages))

    def close(self):
        self.sock.close()


def run_inetd_style(srv, lsock, args=(), fds=(0,), debug=True):
    """Start popserv -i with the listening socket lsock on fds (0, or
    0, 1 and 2 as inetd does); returns the Popen."""
    logf = open(srv.log_path, "ab")
    kw = {"stdin": lsock.fileno(), "stdout": logf, "stderr": logf}
    if 1 in fds:
        kw["stdout"] = lsock.fileno()
    if 2 in fds:
        kw["stderr"] = lsock.fileno()
    argv = [POPSERV, "-i", "-C", srv.conf_path, *args]
    if debug:
        argv.insert(1, "-d")
    p = subprocess.Popen(argv, cwd=srv.dir, **kw)
    logf.close()
    return p
