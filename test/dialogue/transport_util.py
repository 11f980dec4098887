"""Helpers for the dialogue tests of SPEC §9 (test_tls, test_auth_plain,
test_proxy_header): a popserv with the recording stub as popit, a test CA
and a bindtls port, and the stub's records.

Not a test file itself: ctest only picks up test_*.py.
"""

import glob
import os
import tempfile
import time

from engine_util import stub_server
from pop3test import free_port
from tlstest import TestCA


def tls_server(case, conf="", bindtls=True, ca=None, **kw):
    """stub_server() with tls.cert/tls.key from a test CA (srv.ca; a
    fresh one unless given) and, with bindtls, an implicit-TLS listener
    on srv.tls_port."""
    if ca is None:
        tmp = tempfile.TemporaryDirectory(prefix="popserv-ca-")
        case.addCleanup(tmp.cleanup)
        os.chmod(tmp.name, 0o755)
        ca = TestCA(tmp.name)
    lines = "tls.cert %s\ntls.key %s\n" % (ca.cert, ca.key)
    port = None
    if bindtls:
        port = free_port()
        lines += "bindtls 127.0.0.1:%d\n" % port
    srv = stub_server(case, conf=lines + conf, **kw)
    srv.ca = ca
    srv.tls_port = port
    return srv


def read_records(recdir, want=1, timeout=10):
    """Wait for want finished stub records; returns a list of dicts with
    'env' and 'line' lists (and 'fd'), oldest first."""
    deadline = time.monotonic() + timeout
    while True:
        recs = []
        paths = sorted(glob.glob(os.path.join(recdir, "*.rec")),
                       key=os.path.getmtime)
        for path in paths:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            if not text.endswith("exit\n"):
                continue
            rec = {"env": [], "fd": [], "line": [], "eof": False}
            for line in text.splitlines():
                key, _, value = line.partition(" ")
                if key in ("env", "fd", "line"):
                    rec[key].append(value)
                elif key == "eof":
                    rec["eof"] = True
            recs.append(rec)
        if len(recs) >= want:
            return recs
        if time.monotonic() > deadline:
            raise AssertionError("only %d of %d stub records in %s"
                                 % (len(recs), want, recdir))
        time.sleep(0.02)


def remote_addr(rec):
    """REMOTE_ADDR from a stub record."""
    for e in rec["env"]:
        if e.startswith("REMOTE_ADDR="):
            return e.split("=", 1)[1]
    return None
