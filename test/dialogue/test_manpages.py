"""The manual pages stay complete and clean: mandoc -T lint has nothing
to say, popserv.conf(5) documents every directive of the parser's table,
popserv(8) every option of getopt() and its usage line, popit(8) every
option of popit.
"""

import glob
import os
import re
import shutil
import subprocess
import unittest

from pop3test import POPSERV, SOURCE_DIR

DOCS = os.path.join(SOURCE_DIR, "docs")
SRC = os.path.join(SOURCE_DIR, "src")


def read(*path):
    with open(os.path.join(*path)) as f:
        return f.read()


def render(page):
    """The page as plain text."""
    out = subprocess.run(["mandoc", "-T", "ascii", os.path.join(DOCS, page)],
                         capture_output=True, text=True, timeout=30).stdout
    return re.sub(r".\x08", "", out)


@unittest.skipUnless(shutil.which("mandoc"), "mandoc is not installed")
class ManPages(unittest.TestCase):

    def test_lint_clean(self):
        pages = sorted(glob.glob(os.path.join(DOCS, "*.[58]")))
        self.assertGreaterEqual(len(pages), 3)
        p = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", *pages],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_every_directive_in_popserv_conf_5(self):
        table = re.findall(r'^\s*\{ "([a-z.]+)",', read(SRC, "config.c"),
                           re.M)
        self.assertGreater(len(table), 40)
        page = read(DOCS, "popserv.conf.5")
        documented = set(re.findall(r"\bIc ([a-z][a-z.]*)", page))
        missing = [d for d in table if d not in documented]
        self.assertEqual(missing, [])

    def test_every_option_and_usage_in_popserv_8(self):
        optstring = re.search(r'getopt\(argc, argv, ":?([^"]+)"\)',
                              read(SRC, "popserv.c")).group(1)
        page = read(DOCS, "popserv.8")
        for opt in optstring.replace(":", ""):
            self.assertRegex(page, r"\.It Fl %s\b" % opt)
        usage = subprocess.run([POPSERV, "-h"], capture_output=True,
                               text=True, timeout=10).stdout.strip()
        synopsis = re.search(r"SYNOPSIS\n\s+(.*?)\n\n", render("popserv.8"),
                             re.S).group(1)
        self.assertEqual(usage, "usage: " + " ".join(synopsis.split()))
        for sig in ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGCHLD"):
            self.assertIn(".It Dv %s" % sig, page)
        for code in ("0", "1", "64", "71", "78"):
            self.assertRegex(page, r"\.Sh EXIT STATUS(.|\n)*\.It %s\n"
                             % code)
        for var in ("HOME", "SHELL", "USER", "LOGNAME", "EXTENSION",
                    "REMOTE_ADDR", "PATH", "NOTIFY_SOCKET", "LISTEN_FDS"):
            self.assertRegex(page, r"\.It Ev %s\b" % var)

    def test_popit_8_options(self):
        src = read(SRC, "popit", "popit.c")
        optstring = re.search(r'getopt\(argc, argv, "\+?([^"]+)"\)',
                              src).group(1)
        page = read(DOCS, "popit.8")
        for opt in optstring.replace(":", ""):
            self.assertRegex(page, r"\.It Fl %s\b" % opt)
        for code in re.findall(r"exit\((EX_[A-Z]+)\)", src):
            if code == "EX_OK":
                continue
            self.assertIn(".Pq Dv %s" % code, page)


if __name__ == "__main__":
    unittest.main()
