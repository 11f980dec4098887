"""test/stub_popit.c, the popit stand-in of the dialogue tests: a popserv
that runs it (stub_server) and the records it writes.

The stub answers the PASS/APOP with "+OK stub popit", every line with
"+OK <line>", and QUIT with "+OK bye". It writes RECDIR/<pid>.rec, one
"key value" line per item ("argv", "env", "fd" and "line" repeat;
"SigBlk:"/"SigIgn:" come from /proc/self/status) and "exit" as its last
line.
"""

import glob
import os
import time

from pop3test import Server

STUB = os.environ.get("STUB_POPIT", "stub_popit")
STUB_OK = "+OK stub popit"
LISTS = ("argv", "env", "fd", "line")


def stub_server(test, conf="", users=None, start=True, settle=True, **kw):
    """A popserv whose popit is the stub, recording into srv.recdir.

    test is the unittest.TestCase whose cleanup stops the server and
    closes every client it opened. users defaults to joe/secret; kw goes
    to Server. The server is started unless start is false (then the test
    may add to srv.conf_path and call srv.start()); once started, with
    settle, the harness's probe connection has ended (Server.settle()).
    """
    srv = Server(conf=conf, users=users or {"joe": "secret"}, popit=STUB,
                 start=False, **kw)
    test.addCleanup(srv.__exit__, None, None, None)
    srv.recdir = os.path.join(srv.dir, "rec")
    os.mkdir(srv.recdir)
    os.chmod(srv.recdir, 0o1777)
    with open(srv.conf_path, "a") as f:
        f.write("popitargs stub %s\n" % srv.recdir)
    connect = srv.connect

    def connect_and_clean_up(*args, **kwargs):
        c = connect(*args, **kwargs)
        test.addCleanup(c.close)
        return c
    srv.connect = connect_and_clean_up
    if start:
        srv.start()
        if settle:
            srv.settle()
    return srv


def stub_login(srv, user="joe", password="secret"):
    """Log in to a stub_server() and QUIT; returns the client once the
    stub has answered "+OK bye"."""
    c = srv.connect()
    c.expect_ok()
    c.send("USER " + user).expect_ok()
    c.send("PASS " + password).expect(STUB_OK)
    c.send("QUIT").expect("+OK bye")
    return c


def parse_record(text):
    """One record as a dict: lists for LISTS, "eof" a bool, else values."""
    rec = {key: [] for key in LISTS}
    rec["eof"] = False
    for line in text.splitlines():
        if line.startswith("Sig"):      # from /proc/self/status
            key, _, value = line.partition(":")
            rec[key] = value.strip()
            continue
        key, _, value = line.partition(" ")
        if key in LISTS:
            rec[key].append(value)
        elif key == "eof":
            rec["eof"] = True
        else:
            rec[key] = value
    return rec


def read_records(recdir, want=1, timeout=10):
    """Wait for want finished records; returns them oldest first."""
    deadline = time.monotonic() + timeout
    while True:
        recs = []
        for path in sorted(glob.glob(os.path.join(recdir, "*.rec")),
                           key=os.path.getmtime):
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            if text.endswith("exit\n"):
                recs.append(parse_record(text))
        if len(recs) >= want:
            return recs
        if time.monotonic() > deadline:
            raise AssertionError("only %d of %d stub records in %s"
                                 % (len(recs), want, recdir))
        time.sleep(0.02)
