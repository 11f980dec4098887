"""Shared corpus and helpers for the end-to-end tests with real POP3 clients.

The corpus is a list of Message objects in delivery order. Each message is
stored in the Maildir with bare LF line ends (as MTAs deliver it) and has a
unique Message-ID, so a test can find a delivered copy again whatever order
or file name a client chose.

What the wire and each client make of a stored message (docs/popit.md,
RFC 1939):

  pop3_size(m)  LIST/STAT size: octets with every LF counted as CRLF
                (the CRLF that ends a last line without newline belongs to
                the CRLF.CRLF terminator and is not counted)
  crlf(m)       the message as sent, dot-stuffing removed: LF -> CRLF, and a
                final CRLF if the file had none. curl writes exactly this.
  lf(m)         LF line ends and a final LF: what poplib's lines joined
                with LF give, and what fetchmail hands its MDA and mpop
                writes to a Maildir, after their own trace header.
"""

import base64
import os
import pwd
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import pop3test  # noqa: E402

USER = "joe"
PASSWORD = "s3cret pass"        # a space: PASS takes the rest of the line
CLIENT_TIMEOUT = 90             # seconds for one run of an external client
BIG_SIZE = 10 * 1024 * 1024


class Message:
    def __init__(self, name, data):
        self.name = name
        self.data = data
        m = re.search(rb"^Message-ID: (<[^>\n]+>)$", data, re.M | re.I)
        self.msgid = m.group(1)

    def __repr__(self):
        return "<Message %s, %d bytes>" % (self.name, len(self.data))


def pop3_size(data):
    """The LIST size of a stored (LF) message."""
    return len(data) + data.count(b"\n")


def crlf(data):
    """The message as the client receives it, without the dot-stuffing."""
    if not data.endswith(b"\n"):
        data += b"\n"
    return data.replace(b"\n", b"\r\n")


def lf(data):
    """LF line ends, and a final LF."""
    data = data.replace(b"\r\n", b"\n")
    return data if data.endswith(b"\n") else data + b"\n"


def _headers(name, extra=b""):
    return (b"Return-Path: <sender@example.org>\n"
            b"From: Sender <sender@example.org>\n"
            b"To: Joe <joe@example.net>\n"
            b"Subject: popserv e2e " + name.encode() + b"\n"
            b"Date: Tue, 14 Nov 2023 22:13:20 +0000\n"
            b"Message-ID: <" + name.encode() + b".e2e@popserv.test>\n"
            + extra)


def _plain():
    return _headers("plain") + (
        b"\n"
        b"Hello Joe,\n"
        b"\n"
        b"an ordinary message, short lines, one blank line in the body.\n"
        b"-- \n"
        b"Sender\n")


def _dots():
    # Every line beginning with '.' must be byte-stuffed on the wire; the
    # line that is just "." would otherwise end the message early. Lines
    # beginning with "From " exercise mbox quoting (mboxrd).
    return _headers("dots") + (
        b"\n"
        b".\n"
        b"a line after a lone dot\n"
        b".\n"
        b"..\n"
        b"...\n"
        b".hidden\n"
        b". leading dot and space\n"
        b"..double\n"
        b"\n"
        b".\n"
        b"\n"
        b"From the beginning of a line\n"
        b">From an already quoted line\n"
        b"trailing dot.\n"
        b".\n"
        b"last line\n")


def _nofinalnl():
    return _headers("nofinalnl") + (
        b"\n"
        b"the next line has no newline at its end\n"
        b".and begins with a dot without newline")


def _eightbit():
    raw = bytes(range(0x80, 0x100))
    return _headers("eightbit", b"MIME-Version: 1.0\n"
                    b"Content-Type: text/plain; charset=utf-8\n"
                    b"Content-Transfer-Encoding: 8bit\n") + (
        b"\n"
        + "Grüße aus Köln — naïve café,日本語のテキスト, ελληνικά, 🙂\n"
        .encode("utf-8")
        + b"raw high bytes: " + raw[:64] + b"\n"
        + raw[64:] + b" <- the rest of 0x80-0xff\n"
        + b"." + raw[:16] + b" a dot line with 8-bit bytes\n"
        + b"\xff\xfe\xfd at the start of a line\n"
        + b"end\n")


def _big():
    # 10 MiB of base64 text (76-character lines), with a stuffed dot line,
    # a lone dot, 8-bit text and a 1000-octet line sprinkled in; lines
    # stay under poplib's 2048-octet limit.
    rnd = random.Random(1939)
    out = [_headers("big", b"MIME-Version: 1.0\n"
                    b"Content-Type: text/plain; charset=utf-8\n"), b"\n"]
    size = sum(map(len, out))
    i = 0
    while size < BIG_SIZE:
        block = base64.encodebytes(rnd.randbytes(57 * 200))
        if i % 7 == 0:
            block += b"." + block[:60] + b"\n"
        if i % 11 == 0:
            block += b".\n"
        if i % 13 == 0:
            block += "ünïcödé über alles\n".encode("utf-8")
        if i % 17 == 0:
            block += b"x" * 1000 + b"\n"
        out.append(block)
        size += len(block)
        i += 1
    out.append(b"the end of the big message\n")
    return b"".join(out)


def _multipart():
    return _headers("multipart", b"MIME-Version: 1.0\n"
                    b"Content-Type: multipart/mixed;\n"
                    b"\tboundary=\"=-=-=\"\n"
                    b"X-Folded-Header: first part\n"
                    b" continued on the next line\n") + (
        b"\n"
        b"This is a multi-part message in MIME format.\n"
        b"\n"
        b"--=-=-=\n"
        b"Content-Type: text/plain\n"
        b"\n"
        b"part one\n"
        b"\n"
        b"--=-=-=\n"
        b"Content-Type: application/octet-stream\n"
        b"Content-Transfer-Encoding: base64\n"
        b"\n"
        b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
        b"\n"
        b"--=-=-=--\n")


_CORPUS = None


def corpus():
    """The messages, in delivery order (built once per process)."""
    global _CORPUS
    if _CORPUS is None:
        _CORPUS = [Message("plain", _plain()),
                   Message("dots", _dots()),
                   Message("nofinalnl", _nofinalnl()),
                   Message("eightbit", _eightbit()),
                   Message("big", _big()),
                   Message("multipart", _multipart())]
    return _CORPUS


def small_corpus():
    """The corpus without the 10 MB message."""
    return [m for m in corpus() if m.name != "big"]


def by_msgid(delivered):
    """Index delivered messages (bytes) by their Message-ID."""
    out = {}
    for data in delivered:
        m = re.search(rb"^Message-ID: (<[^>\n]+>)\r?$", data, re.M | re.I)
        if m is None:
            raise AssertionError("delivered message without Message-ID: %r"
                                 % data[:300])
        if m.group(1) in out:
            raise AssertionError("%s delivered twice" % m.group(1))
        out[m.group(1)] = data
    return out


def strip_trace_header(data, field, must_contain):
    """Remove the first header field (with continuation lines) of data if
    it is the trace header field a client prepends; checks it is there."""
    m = re.match(rb"(" + field + rb":[^\n]*\n(?:[ \t][^\n]*\n)*)", data,
                 re.I)
    if m is None:
        raise AssertionError("no %s header prepended: %r"
                             % (field.decode(), data[:200]))
    if must_contain not in m.group(1):
        raise AssertionError("%s header without %r: %r"
                             % (field.decode(), must_contain, m.group(1)))
    return data[m.end():]


def describe_diff(want, got):
    """A short text locating the first difference of two byte strings."""
    if want == got:
        return "equal"
    n = min(len(want), len(got))
    i = next((k for k in range(n) if want[k] != got[k]), n)
    return ("lengths %d (want) / %d (got), first difference at octet %d: "
            "want %r, got %r" % (len(want), len(got), i,
                                 want[max(0, i - 40):i + 40],
                                 got[max(0, i - 40):i + 40]))


def client_identity():
    """(uid, gid, name, home) the external clients run as: the harness's
    test user when we are root, ourselves otherwise."""
    if os.getuid() == 0:
        uid, gid = pop3test.TEST_UID, pop3test.TEST_GID
    else:
        uid, gid = os.getuid(), os.getgid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = "nobody"
    return uid, gid, name


def _drop_privileges():
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(pop3test.TEST_GID)
        os.setuid(pop3test.TEST_UID)


def maildir_files(path):
    """{"new": [...], "cur": [...], "tmp": [...]}, names sorted."""
    return {sub: sorted(os.listdir(os.path.join(path, sub)))
            for sub in ("new", "cur", "tmp")}


class E2ETestCase(pop3test.TestCase):
    """A test against popserv + the real popit with a private work directory
    (self.work) owned by the user the clients run as."""

    client = None       # the program the test needs, e.g. "curl"

    def setUp(self):
        if self.client and shutil.which(self.client) is None:
            # In CI a missing client is an install step gone wrong.
            why = ("%s is not installed (see TEST_PACKAGES in .ci/packages)"
                   % self.client)
            if os.environ.get("CI"):
                self.fail(why)
            self.skipTest(why)
        tmp = tempfile.TemporaryDirectory(prefix="popserv-e2e-")
        self.addCleanup(tmp.cleanup)
        self.work = tmp.name
        self.uid, self.gid, self.username = client_identity()
        os.chmod(self.work, 0o700)
        if os.getuid() == 0:
            os.chown(self.work, self.uid, self.gid)

    def mkdir(self, *parts):
        """A directory in self.work that the client can write."""
        path = os.path.join(self.work, *parts)
        os.makedirs(path, exist_ok=True)
        if os.getuid() == 0:
            pop3test.chown_tree(self.work, self.uid, self.gid)
        return path

    def write_file(self, name, data, mode=0o600):
        path = os.path.join(self.work, name)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.chmod(path, mode)
        if os.getuid() == 0:
            os.chown(path, self.uid, self.gid)
        return path

    def start(self, messages=None, conf="", crypt=True, users=None):
        """popserv with USER's Maildir holding messages (default: corpus)."""
        if messages is None:
            messages = corpus()
        srv = self.server(conf=conf, crypt=crypt,
                          users=users or {USER: PASSWORD},
                          maildirs={USER: [m.data for m in messages]})
        srv.maildir = os.path.join(srv.home(USER), "Maildir")
        # The harness names the files in delivery order; the unique part
        # of the name is the UID popit must give (docs/popit.md).
        srv.uids = sorted(os.listdir(os.path.join(srv.maildir, "new")))
        self.assertEqual(len(srv.uids), len(messages))
        return srv

    def run_client(self, argv, env=None, timeout=CLIENT_TIMEOUT, check=None):
        """Run an external client as the test user in self.work; returns
        the CompletedProcess (stdout/stderr as bytes)."""
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": self.work, "USER": self.username,
                "LOGNAME": self.username, "LC_ALL": "C", "TZ": "UTC"}
        base.update(env or {})
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, cwd=self.work, env=base,
                               stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=timeout,
                               preexec_fn=_drop_privileges)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("%s did not finish within %ds; stderr: %s"
                                 % (argv[0], timeout,
                                    (e.stderr or b"")[-2000:])) from None
        p.elapsed = time.monotonic() - t0
        if check is not None and p.returncode != check:
            raise AssertionError(
                "%s exited %d, expected %d\nstdout: %s\nstderr: %s\n"
                "popserv log:\n%s" % (
                    " ".join(argv), p.returncode, check,
                    p.stdout[-3000:].decode("utf-8", "replace"),
                    p.stderr[-3000:].decode("utf-8", "replace"),
                    self._servers[-1].log()[-3000:]
                    if getattr(self, "_servers", None) else ""))
        return p

    def wait_popit_gone(self, srv, timeout=pop3test.TIMEOUT):
        """Wait until no popit runs in srv's Maildir any more.

        popit does the UPDATE before it answers QUIT, so a client that got
        that answer has seen it done; this is for sessions that end
        otherwise, and to be sure nothing touches the Maildir while the
        test looks at it. popit runs in the Maildir (docs/popit.md), which
        /proc/PID/cwd shows."""
        target = os.path.realpath(srv.maildir)
        deadline = time.monotonic() + timeout
        while True:
            busy = []
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    if os.readlink("/proc/%s/cwd" % pid) == target:
                        busy.append(pid)
                except OSError:
                    pass
            if not busy:
                return
            if time.monotonic() > deadline:
                raise AssertionError("popit (pid %s) still runs in %s:\n%s"
                                     % (", ".join(busy), target, srv.log()))
            time.sleep(0.02)

    def assertSameMessage(self, want, got, what=""):
        if want != got:
            self.fail("%s differs: %s" % (what, describe_diff(want, got)))

    def assertMaildirAfterRetrieve(self, srv, messages, retrieved=None,
                                   deleted=()):
        """popit's UPDATE (docs/popit.md): deleted messages are gone,
        the others are in cur/ with ":2," info and S when retrieved;
        new/ and tmp/ are empty."""
        files = maildir_files(srv.maildir)
        self.assertEqual(files["new"], [], "new/ after QUIT")
        self.assertEqual(files["tmp"], [], "tmp/ after QUIT")
        want = []
        for i, m in enumerate(messages):
            if i + 1 in deleted:
                continue
            seen = retrieved is None or i + 1 in retrieved
            want.append(srv.uids[i] + (":2,S" if seen else ":2,"))
        self.assertEqual(files["cur"], sorted(want), "cur/ after QUIT")
