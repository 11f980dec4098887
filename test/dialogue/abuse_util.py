"""Helpers for the fault and abuse tests (test_abuse*.py): process
figures from /proc, SIGUSR1 counters, and many connections at once.

Not a test file itself: ctest only picks up test_*.py.
"""

import os
import re
import resource
import select
import socket
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of pid so far, from /proc/<pid>/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kb(pid):
    """Resident set size of pid in KiB (VmRSS)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def children(pid):
    """Pids of pid's child processes (popits)."""
    out = []
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                out += [int(p) for p in f.read().split()]
        except FileNotFoundError:
            pass
    return out


def sanitized(pid):
    """Is pid built with AddressSanitizer (its runtime is mapped)?"""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read() or \
            os.environ.get("POPSERV_SANITIZED") == "1"


STATS = re.compile(r"^stats (sessions=.*)$", re.M)


def stats(srv, timeout=10):
    """Ask for the counters (SIGUSR1); returns them as a dict of ints."""
    n = len(STATS.findall(srv.log()))
    srv.signal(__import__("signal").SIGUSR1)
    deadline = time.monotonic() + timeout
    while True:
        found = STATS.findall(srv.log())
        if len(found) > n:
            return {k: int(v) for k, v in
                    (kv.split("=") for kv in found[n].split())}
        if time.monotonic() > deadline:
            raise AssertionError("no stats line after SIGUSR1")
        time.sleep(0.02)


def wait_stats(srv, want, timeout=15):
    """Wait until the counters named in want have those values."""
    deadline = time.monotonic() + timeout
    while True:
        st = stats(srv)
        if all(st[k] == v for k, v in want.items()):
            return st
        if time.monotonic() > deadline:
            raise AssertionError("stats %r, want %r" % (st, want))
        time.sleep(0.1)


def raise_nofile(need):
    """Let this process hold need descriptors; returns the old limits.

    The soft limit goes up to the hard one; as root the hard one too.
    Raises unittest.SkipTest when that is not enough.
    """
    import unittest
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = old
    if hard != resource.RLIM_INFINITY and hard < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            return old
        except (ValueError, OSError):
            raise unittest.SkipTest("descriptor limit %d < %d" % (hard, need))
    if soft == resource.RLIM_INFINITY or soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return old


def nofile_preexec(n):
    """A preexec function giving the child a descriptor limit of n."""
    def preexec():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return preexec


class Crowd:
    """Many non-blocking connections, each from its own source address,
    driven by one epoll loop: a flood without a thread per connection."""

    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.socks = []         # greeted, in order

    def connect(self, sources, pace=500, timeout=60, greeting=b"+OK"):
        """Open a connection from each source address and read its
        first line, with at most pace connections waiting at a time.
        Every first line must start with greeting. Returns the seconds
        it took."""
        ep = select.epoll()
        pending = {}
        it = iter(sources)
        more = True
        t0 = time.monotonic()
        deadline = t0 + timeout
        try:
            while more or pending:
                while more and len(pending) < pace:
                    src = next(it, None)
                    if src is None:
                        more = False
                        break
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.setblocking(False)
                    s.bind((src, 0))
                    s.connect_ex((self.host, self.port))
                    pending[s.fileno()] = [s, b""]
                    ep.register(s.fileno(), select.EPOLLIN)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "%d greeted, %d still waiting after %ds"
                        % (len(self.socks), len(pending), timeout))
                for fd, entry, data in readable(ep, pending, left):
                    if not data:
                        raise AssertionError("closed before the greeting "
                                             "(%d greeted)" % len(self.socks))
                    entry[1] += data
                    if b"\n" not in entry[1]:
                        continue
                    if not entry[1].startswith(greeting):
                        raise AssertionError("first line %r" % entry[1])
                    ep.unregister(fd)
                    del pending[fd]
                    self.socks.append(entry[0])
        finally:
            for s, _ in pending.values():
                s.close()
            ep.close()
        return time.monotonic() - t0

    def quit(self, timeout=60):
        """QUIT on every connection; each must answer +OK and close."""
        ep = select.epoll()
        pending = {}
        for s in self.socks:
            s.setblocking(True)
            s.sendall(b"QUIT\r\n")
            s.setblocking(False)
            pending[s.fileno()] = [s, b""]
            ep.register(s.fileno(), select.EPOLLIN)
        deadline = time.monotonic() + timeout
        try:
            while pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%d not closed after QUIT"
                                         % len(pending))
                for fd, entry, data in readable(ep, pending, left):
                    if data:
                        entry[1] += data
                        continue
                    if not entry[1].startswith(b"+OK"):
                        raise AssertionError("QUIT answered %r" % entry[1])
                    ep.unregister(fd)
                    del pending[fd]
        finally:
            ep.close()
        self.close()

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


def readable(ep, pending, left):
    """(fd, entry, bytes) for each socket of pending (fd -> [socket,
    bytes so far]) that ep reports readable within left seconds (1 s at
    most), b"" at its end; a socket that would block after all is
    skipped."""
    for fd, _ in ep.poll(min(left, 1.0)):
        entry = pending[fd]
        try:
            data = entry[0].recv(4096)
        except BlockingIOError:
            continue
        yield fd, entry, data


def spread(n, net=77):
    """n distinct loopback addresses 127.net.x.y."""
    return ["127.%d.%d.%d" % (net, i // 250, 1 + i % 250) for i in range(n)]


def asan_no_quarantine():
    """preexec: under ASan, free memory at once (no quarantine), so that
    VmRSS shows what popserv keeps rather than what ASan holds back."""
    opts = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + \
        "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
