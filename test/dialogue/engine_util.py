"""Helpers shared by the AUTHORIZATION-engine dialogue tests (test_engine*).

Not a test file itself: ctest only picks up test_*.py.
"""

import ctypes
import ctypes.util
import glob
import os
import re
import socket
import time
import warnings

from pop3test import TestCase
from stubrec import STUB, STUB_OK, stub_server

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

AUTH_FAILED = "-ERR [AUTH] Authentication failed."
SAMEADDR = "-ERR [SYS/TEMP] Too many connections from your address"
GREETING = re.compile(r"\+OK .*")

# "At once": the loop answers in well under a millisecond, a few ms on a
# loaded two-core machine; this leaves a wide margin for a noisy one.
PROMPT = 0.2


def _libcrypt():
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    lib = ctypes.CDLL(name)
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong,
                                  ctypes.c_char_p, ctypes.c_int]
    return lib


def gensalt(prefix, count=0):
    """A crypt(3) setting from libxcrypt's crypt_gensalt(prefix, count)."""
    s = _libcrypt().crypt_gensalt(prefix.encode(), count, None, 0)
    if s is None or s.startswith(b"*"):
        raise RuntimeError("crypt_gensalt(%r, %d) failed" % (prefix, count))
    return s.decode()


def hash_with(secret, setting):
    """crypt(secret, setting), checked to be a real hash."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        h = crypt.crypt(secret, setting)
    if not h or h.startswith("*") or crypt.crypt(secret, h) != h:
        raise RuntimeError("crypt(%r) gave %r" % (setting, h))
    return h


def slow_yescrypt(secret, low=0.5):
    """A yescrypt hash whose check takes at least low seconds here.

    Returns (hash, seconds one check took). Costs are tried upwards from 8
    until one check takes at least low seconds (or the cost limit, 11).
    """
    best = None
    for cost in range(8, 12):
        h = hash_with(secret, gensalt("$y$", cost))
        t0 = time.monotonic()
        hash_with(secret, h)
        took = time.monotonic() - t0
        best = (h, took)
        if took >= low:
            break
    return best


def log_mark(srv):
    """Where the log ends now, for wait_log_since()."""
    return len(log_bytes(srv))


def wait_log_since(srv, mark, pattern, timeout=10):
    """Wait until the log after mark matches the regex; returns the match."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        m = rx.search(log_bytes(srv)[mark:].decode("utf-8", "replace"))
        if m:
            return m
        if time.monotonic() > deadline:
            raise AssertionError("no log line since the mark matches %r "
                                 "in:\n%s" % (pattern, srv.log()))
        time.sleep(0.02)


def records(srv):
    """The stub's record files so far."""
    return sorted(glob.glob(os.path.join(srv.recdir, "*.rec")))


def log_bytes(srv):
    """The log's complete lines (Server.log_bytes)."""
    return srv.log_bytes()


def greet(srv, **kw):
    """Connect and read the greeting; returns (client, greeting line)."""
    c = srv.connect(**kw)
    line = c.readline()
    if not GREETING.fullmatch(line):
        raise AssertionError("not a greeting: %r" % line)
    return c, line


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


__all__ = ["AUTH_FAILED", "GREETING", "PROMPT", "SAMEADDR",
           "STUB", "STUB_OK", "TestCase", "gensalt", "greet", "hash_with",
           "log_bytes", "log_mark", "nothing_pending", "records",
           "slow_yescrypt", "stub_server", "wait_log_since"]
