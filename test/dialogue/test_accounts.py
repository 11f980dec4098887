"""Dialogue tests of who may log in: a locked or disabled account never
logs in, whatever the database, the crypt setting or the mechanism
(USER/PASS, APOP, AUTH PLAIN), and fails exactly like a wrong password;
supplementary groups come from /etc/group for the system's own accounts
only; minuid and mingid are a floor for the credentials popit gets.

The system user database is the test's own: popserv runs in a private
mount namespace where /etc/passwd, /etc/shadow and /etc/group are the
test's files (pop3test.private_etc), so nothing on the machine changes.
"""

import base64
import glob
import os
import tempfile
import unittest

from engine_util import AUTH_FAILED, STUB_OK, TestCase, stub_server
from pop3test import hash_password, make_maildir, private_etc, wait_for
from stubrec import read_records
from test_engine import apop_digest

IS_ROOT = os.getuid() == 0


def plain(authcid, passwd):
    return base64.b64encode(("\0%s\0%s" % (authcid, passwd))
                            .encode()).decode()


def records(srv):
    """The stub's record files: one per popit started."""
    return glob.glob(os.path.join(srv.recdir, "*.rec"))


def try_all_mechanisms(case, srv, user, secret, apop=True):
    """USER/PASS, AUTH PLAIN and (with apop) APOP with secret: each must
    get the failure reply."""
    c = srv.connect()
    greeting = c.readline()
    c.send("USER " + user).expect_ok()
    c.send("PASS " + secret).expect(AUTH_FAILED)
    c.send("AUTH PLAIN " + plain(user, secret)).expect(AUTH_FAILED)
    if apop:
        ts = greeting[greeting.index("<"):greeting.index(">") + 1]
        c.send("APOP %s %s" % (user, apop_digest(ts, secret))).expect(
            AUTH_FAILED)
    c.close()


class LockedPlaintextFile(TestCase):
    """crypt 0 (and so APOP): a stored "*", "!", "!secret" or "*LK*" is a
    locked account, never a password to compare literally."""

    LOCKED = {"star": "*", "bang": "!", "bangpw": "!secret",
              "lk": "*LK*"}

    def test_locked_values_never_log_in(self):
        users = dict(self.LOCKED, joe="secret")
        srv = stub_server(self, crypt=False, users=users,
                          conf="apop 1\nmaxfails 10")
        for user, stored in self.LOCKED.items():
            try_all_mechanisms(self, srv, user, stored)
            srv.wait_log(r'user="%s" result=failed reason="account '
                         r'locked"' % user)
        # "!secret" is locked, not the password "secret" behind a "!".
        try_all_mechanisms(self, srv, "bangpw", "secret")
        self.assertEqual(records(srv), [])
        locked = 'result=failed reason="account locked"'
        wait_for(lambda: srv.log().count(locked) >= 3 * 5,
                 what="every failure's log line")
        self.assertEqual(srv.log().count(locked), 3 * 5)
        # The same replies as a wrong password, and a good one logs in.
        try_all_mechanisms(self, srv, "joe", "wrong")
        c = srv.login("joe", "secret")
        c.send("QUIT").expect("+OK bye")


@unittest.skipUnless(IS_ROOT, "needs root for a private /etc")
class SystemDatabase(TestCase):
    """userdb system in a private /etc: locked (useradd's "!", usermod
    -L's "!hash" or "!plain"), expired (chage -E) and shadowless
    accounts, with crypt 0 and crypt 1; and the groups of system users."""

    def etc(self, crypt_on):
        d = tempfile.TemporaryDirectory(prefix="popserv-etc-")
        self.addCleanup(d.cleanup)
        os.chmod(d.name, 0o755)
        home = os.path.join(d.name, "home")
        good = hash_password("goodpw") if crypt_on else "goodpw"
        accounts = [
            # name, uid, shadow password field, expiry (days since 1970)
            ("good", 4301, good, ""),
            ("locked", 4302, "!", ""),
            ("lockedpw", 4303, "!" + good, ""),
            ("expired", 4304, good, "1"),
            ("noshadow", 4305, None, ""),
            ("sysjoe", 4306, good, ""),
        ]
        pw, sh = [], []
        for name, uid, field, expire in accounts:
            h = os.path.join(home, name)
            make_maildir(os.path.join(h, "Maildir"))
            for dirpath, dirs, files in os.walk(h):
                for n in [dirpath] + [os.path.join(dirpath, f)
                                      for f in files]:
                    os.chown(n, uid, 4343)
            pw.append("%s:x:%d:4343::%s:/bin/sh" % (name, uid, h))
            if field is not None:
                sh.append("%s:%s:19000:0:99999:7::%s:" % (name, field,
                                                          expire))
        files = {"/etc/passwd": pw, "/etc/shadow": sh,
                 "/etc/group": ["root:x:0:", "vgrp:x:3003:vjoe,sysjoe",
                                "users4343:x:4343:"]}
        paths = {}
        for target, lines in files.items():
            p = os.path.join(d.name, os.path.basename(target))
            with open(p, "w") as f:
                f.write("\n".join(lines) + "\n")
            paths[target] = p
        return private_etc(paths)

    def sysdb(self, crypt_on, **kw):
        srv = stub_server(self, crypt=crypt_on, users={"vjoe": "goodpw"},
                          conf="userdb system\nmaxfails 10" +
                          ("" if crypt_on else "\napop 1"),
                          wrapper=self.etc(crypt_on), **kw)
        return srv

    def check_locked(self, srv, crypt_on):
        for user, secret in (("locked", "!"), ("lockedpw", "goodpw"),
                             ("lockedpw", "!goodpw"), ("expired", "goodpw"),
                             ("expired", "!expired"), ("noshadow", "x"),
                             ("noshadow", "*")):
            try_all_mechanisms(self, srv, user, secret, apop=not crypt_on)
        self.assertEqual(records(srv), [])
        c = srv.login("good", "goodpw")
        c.send("QUIT").expect("+OK bye")
        c.expect_closed()
        self.assertEqual(len(read_records(srv.recdir)), 1)

    def test_plaintext_shadow(self):
        srv = self.sysdb(False)
        self.check_locked(srv, False)
        srv.wait_log(r'user="expired" result=failed reason="account locked"')

    def test_hashed_shadow(self):
        self.check_locked(self.sysdb(True), True)

    def test_groups_only_for_system_accounts(self):
        """/etc/group lists vjoe and sysjoe in vgrp (3003): the system
        account sysjoe gets it, the userdb file account vjoe does not."""
        srv = self.sysdb(True)
        c = srv.login("sysjoe", "goodpw")
        c.send("QUIT").expect("+OK bye")
        c.expect_closed()
        rec = read_records(srv.recdir)[-1]
        self.assertEqual(sorted(rec["groups"].split()), ["3003", "4343"])

        fsrv = stub_server(self, users={"vjoe": {"password": "goodpw",
                                                 "uid": 4242,
                                                 "gid": 4343}},
                           wrapper=self.etc(True))
        for d in glob.glob(os.path.join(fsrv.home("vjoe"), "Maildir*")):
            os.chown(d, 4242, 4343)
        c = fsrv.login("vjoe", "goodpw")
        c.send("QUIT").expect("+OK bye")
        c.expect_closed()
        rec = read_records(fsrv.recdir)[-1]
        self.assertEqual(rec["uid"], "4242 4242")
        self.assertEqual(rec["groups"].split(), ["4343"])


@unittest.skipUnless(IS_ROOT, "needs root to hand out credentials")
class MinUidGid(TestCase):
    """minuid [1000] and mingid [1]: accounts below are refused after the
    password check, with the reply of a wrong password; gid 0 always."""

    def low(self, conf, uid, gid):
        srv = stub_server(self, users={"low": {"password": "secret",
                                               "uid": uid, "gid": gid}},
                          conf=conf)
        for d in glob.glob(os.path.join(srv.home("low"), "Maildir*")):
            os.chown(d, uid, gid)
        return srv

    def refused(self, srv, reason):
        c = srv.connect()
        c.expect_ok()
        c.send("USER low").expect_ok()
        c.send("PASS secret").expect(AUTH_FAILED)
        srv.wait_log(r'user="low" result=failed reason="%s"' % reason)
        self.assertEqual(records(srv), [])

    def test_default_floor(self):
        self.refused(self.low("", 999, 4343),
                     r"uid 999 below minuid 1000")

    def test_configured_floor(self):
        srv = self.low("minuid 500\nmingid 100", 999, 4343)
        c = srv.login("low", "secret")
        c.send("QUIT").expect("+OK bye")
        self.assertEqual(read_records(srv.recdir)[0]["uid"], "999 999")
        self.refused(self.low("minuid 500\nmingid 100", 4242, 50),
                     r"gid 50 below mingid 100")
        self.refused(self.low("minuid 1001", 1000, 4343),
                     r"uid 1000 below minuid 1001")

    def test_gid_zero_always_refused(self):
        self.refused(self.low("", 4242, 0), r"gid 0 refused")


if __name__ == "__main__":
    unittest.main()
