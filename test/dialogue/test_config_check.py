"""popserv -t -C FILE, and the exit codes of the command line
(popserv(8), popserv.conf(5)).

Each test writes a configuration file, runs the real binary and reads what
it says: "configuration OK" on stdout and exit 0 for a good file; every
error with file:line on stderr and exit 1 for a bad one; 78 when a bad
file stops a real start; 64 for an unknown flag.
"""

import os
import re
import stat
import tempfile
import unittest

from pop3test import SOURCE_DIR, free_port, run_popserv
from tlstest import TestCA

EX_OK = 0
EX_USAGE = 64
EX_CONFIG = 78
EXAMPLE = os.path.join(SOURCE_DIR, "conf", "popserv.conf")


class ConfigCheck(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="popserv-conf-")
        self.addCleanup(self.tmp.cleanup)

    def write(self, text, name="popserv.conf", mode=0o600):
        """Write a configuration file; returns its path."""
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def check(self, path, *extra):
        """popserv -t -C path; returns (code, stdout, stderr)."""
        return run_popserv("-t", "-C", path, *extra)

    def assert_ok(self, path, *extra):
        code, out, err = self.check(path, *extra)
        self.assertEqual(code, EX_OK, "stdout:\n%s\nstderr:\n%s" % (out, err))
        self.assertIn("configuration OK", out)
        return err

    def assert_bad(self, path, *extra):
        code, out, err = self.check(path, *extra)
        self.assertEqual(code, 1, "stdout:\n%s\nstderr:\n%s" % (out, err))
        self.assertNotIn("configuration OK", out)
        return err

    # The example file.

    def test_example_conf_passes(self):
        err = self.assert_ok(EXAMPLE)
        self.assertEqual(err, "", "the example file should not warn")

    def test_every_example_line_parses(self):
        """Uncomment every example directive: still a good file.

        The user-database kinds other than "system" are left out, since
        -t checks the database itself; home.tag only warns. -t loads the
        certificate and key too: the test makes them.
        """
        ca = TestCA(os.path.join(self.tmp.name, "tls"))
        with open(EXAMPLE) as f:
            lines = f.read().splitlines()
        out, names = [], set()
        for line in lines:
            m = re.match(r"#?([a-z][a-z.]*)(\s.*)?$", line)
            if not m:
                continue
            if re.match(r"#?userdb (file|mysql)", line):
                continue
            if m.group(1) in ("tls.cert", "tls.key"):
                line = "%s %s" % (m.group(1), ca.cert if
                                  m.group(1) == "tls.cert" else ca.key)
            out.append(line.lstrip("#"))
            names.add(m.group(1))
        path = self.write("\n".join(out) + "\n")
        err = self.assert_ok(path)
        warnings = [l for l in err.splitlines() if l]
        self.assertEqual(len(warnings), 1, err)
        self.assertRegex(warnings[0],
                         r"^%s:\d+: warning: home\.tag: " % re.escape(path))
        # Every directive of docs/configuration.md is in the example.
        for name in ("bindto", "hostname", "uid", "gid", "crypt", "apop",
                     "accepts", "timelimit", "autoclose", "sameaddrmax",
                     "popit", "popitargs", "folder", "useropt",
                     "whoson.allow", "whoson.deny", "loginfo.host",
                     "loginfo.user", "loginfo.password", "loginfo.database",
                     "loginfo.query", "logudp.dst", "logudp.secret",
                     "logudp.multicast.ttl", "home.tag", "userdb",
                     "userdb.host", "userdb.user", "userdb.password",
                     "userdb.database", "userdb.query", "maildir",
                     "faildelay", "maxfails", "maxconn", "workers",
                     "pidfile", "whoson.server", "failpenalty", "trusted",
                     "tls.cert", "tls.key", "bindtls", "plaintext"):
            self.assertIn(name, names)

    # Good files.

    def test_good_file(self):
        path = self.write(
            "# a site\n"
            "\n"
            "bindto 127.0.0.1:%d\n"
            "bindto [::1]:pop3\n"
            "crypt 0\n"
            "apop yes\n"
            "timelimit 10m\n"
            "faildelay 1\n"
            "maxconn 500\n"
            "folder \\+([^%%@/]*)\n"
            "whoson.allow ^[a-z]+$\n"
            "trusted 10.0.0.0/8 ::1\n" % free_port())
        err = self.assert_ok(path)
        self.assertEqual(err, "")

    def test_empty_file(self):
        self.assertEqual(self.assert_ok(self.write("")), "")

    def test_bind_override(self):
        path = self.write("bindto 127.0.0.1:110\n")
        self.assert_ok(path, "-b", "127.0.0.1:%d" % free_port())
        code, out, err = self.check(path, "-b", "[::1")
        self.assertNotEqual(code, EX_OK)
        self.assertNotIn("configuration OK", out)

    # Warnings: printed, but the file is good.

    def test_apop_with_crypt_warns(self):
        path = self.write("crypt 1\napop 1\n")
        err = self.assert_ok(path)
        self.assertRegex(err, r"(?m)^%s:2: warning: apop: .*crypt 0"
                         % re.escape(path))

    def test_password_in_readable_file_warns(self):
        text = "loginfo.host localhost\nloginfo.password pw\n"
        path = self.write(text, mode=0o644)
        err = self.assert_ok(path)
        self.assertRegex(err, r"(?m)^%s:2: warning: loginfo.password: .*%s"
                         % (re.escape(path), re.escape(path)))
        os.chmod(path, 0o600)
        self.assertEqual(self.assert_ok(path), "")

    def test_home_tag_warns(self):
        path = self.write("home.tag pop\n")
        err = self.assert_ok(path)
        self.assertRegex(err, r"(?m)^%s:1: warning: home.tag: .*libhome"
                         % re.escape(path))

    # Bad files: every error, with file:line.

    def test_several_errors_all_listed(self):
        path = self.write(
            "maxconn 0\n"                   # 1: out of range
            "# fine\n"                      # 2
            "workers 4\n"                   # 3: good
            "timelimit 5x\n"                # 4: not a duration
            "bindto host.example:110\n"     # 5: not numeric
            "frobnicate yes\n"              # 6: unknown
            "folder ([a-z]\n"               # 7: bad regex
            "maxfails 3\n")                 # 8: good
        err = self.assert_bad(path)
        p = re.escape(path)
        for line, name in ((1, "maxconn"), (4, "timelimit"), (5, "bindto"),
                           (6, "frobnicate"), (7, "folder")):
            self.assertRegex(err, r"(?m)^%s:%d: %s: " % (p, line,
                                                         re.escape(name)))
        errors = [l for l in err.splitlines() if l.startswith(path + ":")]
        self.assertEqual(len(errors), 5, err)
        self.assertNotRegex(err, r"(?m)^%s:(3|8):" % p)

    def test_bad_values(self):
        cases = [
            ("accepts 0", "accepts"),
            ("bindto [::1", "bindto"),
            ("bindto 1.2.3.4:99999", "bindto"),
            ("apop maybe", "apop"),
            ("uid root", "uid"),
            ("maildir ../elsewhere", "maildir"),
            ("userdb file relative/passwd", "userdb"),
            ("whoson.deny [a-", "whoson.deny"),
            ("trusted 10.0.0.0/33", "trusted"),
            ("logudp.dst 192.0.2.1", "logudp.dst"),
            ("popit relative/popit", "popit"),
            ("maxconn", "maxconn"),
            ("maxconn 5 6", "maxconn"),
        ]
        for text, name in cases:
            with self.subTest(text=text):
                path = self.write("# first\n%s\n" % text)
                err = self.assert_bad(path)
                self.assertRegex(err, r"(?m)^%s:2: %s: "
                                 % (re.escape(path), re.escape(name)))

    def test_tls_key_without_cert(self):
        path = self.write("tls.key /etc/ssl/key.pem\n")
        err = self.assert_bad(path)
        self.assertRegex(err, r"(?m)^%s:1: tls.key: " % re.escape(path))

    def test_missing_file(self):
        path = os.path.join(self.tmp.name, "absent.conf")
        err = self.assert_bad(path)
        self.assertRegex(err, r"(?m)^%s: cannot open: " % re.escape(path))

    # Without -t a bad file stops popserv with EX_CONFIG.

    def test_bad_file_at_start_exits_78(self):
        path = self.write("bindto 127.0.0.1:%d\nmaxconn 0\nworkers 999\n"
                          % free_port())
        code, out, err = run_popserv("-d", "-C", path)
        self.assertEqual(code, EX_CONFIG, err)
        p = re.escape(path)
        self.assertRegex(err, r"(?m)^%s:2: maxconn: " % p)
        self.assertRegex(err, r"(?m)^%s:3: workers: " % p)

    def test_missing_file_at_start_exits_78(self):
        path = os.path.join(self.tmp.name, "absent.conf")
        code, out, err = run_popserv("-C", path)
        self.assertEqual(code, EX_CONFIG, err)
        self.assertIn("cannot open", err)

    # The command line.

    def test_unknown_flag_exits_64(self):
        code, out, err = run_popserv("-Z")
        self.assertEqual(code, EX_USAGE)
        self.assertIn("usage:", err)
        self.assertEqual(out, "")

    def test_help(self):
        code, out, err = run_popserv("-h")
        self.assertEqual(code, EX_OK)
        self.assertIn("usage:", out)
        self.assertIn("-C file", out)

    def test_version(self):
        code, out, err = run_popserv("-V")
        self.assertEqual(code, EX_OK)
        self.assertGreater(len(out.splitlines()), 2, out)


if __name__ == "__main__":
    unittest.main()
