"""Helpers for the dialogue tests of docs/tls.md (test_tls, test_auth_plain,
test_proxy_header): a popserv with the recording stub as popit, a test CA
and a bindtls port, and the stub's records.

Not a test file itself: ctest only picks up test_*.py.
"""

import os
import tempfile
import time

from engine_util import stub_server
from stubrec import read_records
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




def remote_addr(rec):
    """REMOTE_ADDR from a stub record."""
    for e in rec["env"]:
        if e.startswith("REMOTE_ADDR="):
            return e.split("=", 1)[1]
    return None
