"""Helpers shared by the AUTHORIZATION-engine dialogue tests (test_engine*).

Not a test file itself: ctest only picks up test_*.py.
"""

import glob
import os
import re
import socket

from pop3test import TestCase
from stubrec import STUB, STUB_OK, stub_server

AUTH_FAILED = "-ERR [AUTH] Authentication failed."
SAMEADDR = "-ERR [SYS/TEMP] Too many connections from your address"
GREETING = re.compile(r"\+OK .*")

# "At once": the loop answers in well under a millisecond, a few ms on a
# loaded two-core machine; this leaves a wide margin for a noisy one.
PROMPT = 0.2


def records(srv):
    """The stub's record files so far."""
    return sorted(glob.glob(os.path.join(srv.recdir, "*.rec")))


def greet(srv, **kw):
    """Connect and read the greeting; returns (client, greeting line)."""
    c = srv.connect(**kw)
    line = c.readline()
    if not GREETING.fullmatch(line):
        raise AssertionError("not a greeting: %r" % line)
    return c, line


def attempt(srv, user, password):
    """Greeting, USER, PASS: returns the answer to PASS, after a QUIT
    answered "+OK bye" when the stub took the login."""
    c, _ = greet(srv)
    c.send("USER " + user).expect_ok()
    c.send("PASS " + password)
    line = c.readline()
    if line == STUB_OK:
        c.send("QUIT").expect("+OK bye")
    c.close()
    return line


def nothing_pending(c, wait=0.0):
    """True if nothing arrived on c (not even a close) within wait seconds."""
    if c.buf:
        return False
    c.sock.settimeout(wait if wait > 0 else 0.0001)
    try:
        c.sock.recv(4096, socket.MSG_PEEK)
    except (socket.timeout, BlockingIOError):
        return True
    except ConnectionResetError:
        return False
    finally:
        c.sock.settimeout(10)
    return False        # bytes, or the end of the stream


__all__ = ["AUTH_FAILED", "GREETING", "PROMPT", "SAMEADDR", "attempt",
           "STUB", "STUB_OK", "TestCase", "greet",
           "nothing_pending", "records", "stub_server"]
