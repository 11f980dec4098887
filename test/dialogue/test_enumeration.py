"""No user enumeration (docs/security.md): an unknown user and a wrong
password get the same reply after the same time, with every kind of
stored password.

Times are taken from the PASS line to the answer on one connection,
faildelay 0, with wrong-password and unknown-user attempts interleaved
in pairs (in random order within each pair), so that a change in the
machine's load touches both alike. The statistic is the median of the
per-pair ratios unknown/wrong, which must lie within +-10%. On a noisy
machine a round can miss by chance: a round that does is followed by
another with all samples pooled (at most three), whereas a real
difference persists in every round. The ratios are printed for
docs/security.md.
"""

import os
import random
import statistics
import sys
import time
import unittest

from engine_util import AUTH_FAILED, TestCase
from mariadb import MariaDBCase
from pop3test import TEST_GID, TEST_UID, gensalt, hash_with

PASSWORD = "Pa55w0rd"
WRONG = "Xa55w0rd"          # as long as the right one
BOUND = 0.10
ROUNDS = 3

# Each kind with the cost its crypt_gensalt() default gives: what an
# administrator's passwd(1) or mkpasswd(1) would make.
KINDS = {
    "yescrypt": "$y$",
    "sha512crypt": "$6$",
    "bcrypt": "$2b$",
    "md5crypt": "$1$",
    "plaintext": None,
}


def figure(name, value):
    print("FIGURE %s: %s" % (name, value), file=sys.stderr)


class Timer:
    """Failed attempts on one server, timed; reconnects before maxfails."""

    def __init__(self, srv, known="joe", unknown="nosuch-user"):
        self.srv = srv
        self.names = {"wrong": known, "unknown": unknown}
        self.c = None
        self.fails = 0

    def attempt(self, kind):
        if self.c is None or self.fails % 90 == 0:
            if self.c is not None:
                self.c.send("QUIT").expect_ok()
                self.c.close()
            self.c = self.srv.connect()
            self.c.expect_ok()
        self.c.send("USER " + self.names[kind]).expect_ok()
        t0 = time.perf_counter()
        self.c.send("PASS " + WRONG)
        line = self.c.readline()
        took = time.perf_counter() - t0
        self.fails += 1
        if line != AUTH_FAILED:
            raise AssertionError("%s: %r" % (kind, line))
        return took

    def pairs(self, n):
        """n interleaved pairs; returns [(wrong, unknown), ...]."""
        out = []
        for _ in range(n):
            order = ["wrong", "unknown"]
            random.shuffle(order)
            t = {k: self.attempt(k) for k in order}
            out.append((t["wrong"], t["unknown"]))
        return out

    def close(self):
        if self.c is not None:
            self.c.close()


def compare(case, name, timer, n):
    """Rounds of n pairs until the median ratio is within BOUND (or
    ROUNDS rounds have failed); returns the ratio."""
    samples = []
    timer.pairs(5)                      # warm-up: file read, first hash
    for rnd in range(ROUNDS):
        samples += timer.pairs(n)
        ratio = statistics.median(u / w for w, u in samples)
        wrong = statistics.median(w for w, _ in samples)
        unknown = statistics.median(u for _, u in samples)
        if abs(ratio - 1) <= BOUND:
            break
    figure("timing_" + name, "unknown/wrong %.3f (medians %.3f ms / "
           "%.3f ms, %d pairs, %d round%s)"
           % (ratio, unknown * 1e3, wrong * 1e3, len(samples), rnd + 1,
              "s" if rnd else ""))
    case.assertLessEqual(abs(ratio - 1), BOUND,
                         "%s: unknown users take %.2f times as long as "
                         "wrong passwords" % (name, ratio))
    return ratio


class SameTimeFileDB(TestCase):
    """userdb file, one kind of hash per server: the dummy check for an
    unknown user uses the setting of the file's hashes."""

    def run_kind(self, name):
        prefix = KINDS[name]
        if prefix is None:
            users = {"joe": PASSWORD}
        else:
            users = {"joe": {"password": hash_with(PASSWORD,
                                                   gensalt(prefix)),
                             "hashed": True}}
        srv = self.server(users=users, crypt=prefix is not None,
                          conf="faildelay 0\nfailpenalty 0\nmaxfails 100",
                          popit="/bin/false")
        timer = Timer(srv)
        self.addCleanup(timer.close)
        # Slow hashes need fewer pairs for a stable median.
        compare(self, name, timer, 30 if name == "yescrypt" else 60)

    def test_yescrypt(self):
        self.run_kind("yescrypt")

    def test_sha512crypt(self):
        self.run_kind("sha512crypt")

    def test_bcrypt(self):
        self.run_kind("bcrypt")

    def test_md5crypt(self):
        self.run_kind("md5crypt")

    def test_plaintext(self):
        self.run_kind("plaintext")

    def test_same_reply_text(self):
        srv = self.server(users={"joe": "secret"},
                          conf="faildelay 0\nmaxfails 10",
                          popit="/bin/false")
        c = srv.connect()
        c.expect_ok()
        replies = []
        for user in ("joe", "nosuch", "", "joe+folder", "x" * 200):
            c.send("USER " + user)
            first = c.readline()
            if user == "":
                self.assertTrue(first.startswith("-ERR"))
                continue
            self.assertEqual(first.split()[0], "+OK")
            c.send("PASS wrong")
            replies.append(c.readline())
        self.assertEqual(set(replies), {AUTH_FAILED})


class SameTimeLocked(TestCase):
    """A locked account ("!" before the password, usermod -L) costs what
    a wrong password costs, plaintext and hashed: the ratio printed is
    locked/wrong."""

    def run_kind(self, name):
        prefix = KINDS[name]
        if prefix is None:
            users = {"joe": PASSWORD, "locked": "!" + PASSWORD}
        else:
            h = hash_with(PASSWORD, gensalt(prefix))
            users = {"joe": {"password": h, "hashed": True},
                     "locked": {"password": "!" + h, "hashed": True}}
        srv = self.server(users=users, crypt=prefix is not None,
                          conf="faildelay 0\nfailpenalty 0\nmaxfails 100",
                          popit="/bin/false")
        timer = Timer(srv, unknown="locked")
        self.addCleanup(timer.close)
        compare(self, "locked_" + name, timer,
                30 if name == "yescrypt" else 60)
        srv.wait_log(r'user="locked" result=failed reason="account locked"')

    def test_plaintext(self):
        self.run_kind("plaintext")

    def test_yescrypt(self):
        self.run_kind("yescrypt")


class SameTimeMySQL(MariaDBCase):
    """userdb mysql, whose hashes are not the system's preferred kind:
    the dummy check learns the kind from the rows it has seen."""

    def test_sha512crypt_rows(self):
        self.db.sql("DROP TABLE IF EXISTS users; "
                    "CREATE TABLE users (name VARCHAR(255) PRIMARY KEY, "
                    "pw VARCHAR(255), uid INT, gid INT, home VARCHAR(255), "
                    "shell VARCHAR(255))")
        h = hash_with(PASSWORD, gensalt("$6$"))
        uid, gid = (TEST_UID, TEST_GID) if os.getuid() == 0 else \
            (os.getuid(), os.getgid())
        self.db.sql("INSERT INTO users VALUES ('joe', '%s', %d, %d, "
                    "'/nonexistent', '/bin/sh')" % (h, uid, gid))
        srv = self.userdb_server(conf="faildelay 0\nfailpenalty 0\n"
                                      "maxfails 100\n", popit="/bin/false")
        timer = Timer(srv)
        self.addCleanup(timer.close)
        compare(self, "mysql_sha512crypt", timer, 60)


if __name__ == "__main__":
    unittest.main()
