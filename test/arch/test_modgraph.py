#!/usr/bin/env python3
"""modgraph.py finds circles through includes and through calls, and
passes a graph without any (or with an allowed one)."""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import modgraph  # noqa: E402


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


class Modgraph(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.src = os.path.join(self.tmp.name, "src")
        self.obj = os.path.join(self.tmp.name, "obj")
        os.mkdir(self.src)
        os.mkdir(self.obj)

    def tearDown(self):
        self.tmp.cleanup()

    def module(self, name, text):
        path = os.path.join(self.src, name + ".c")
        write(path, text)
        subprocess.run(["cc", "-c", "-o",
                        os.path.join(self.obj, name + ".c.o"), path],
                       check=True)

    def run_main(self, *allow):
        args = [self.src, self.obj]
        for a in allow:
            args += ["--allow", a]
        return modgraph.main(args)

    def test_call_circle(self):
        """a calls b, b calls a: no include says so, nm does."""
        self.module("a", "void b(void);\nvoid a(void) { b(); }\n")
        self.module("b", "void a(void);\nvoid b(void) { a(); }\n")
        self.module("c", "void a(void);\nvoid c(void) { a(); }\n")
        self.assertEqual(modgraph.circles(
            modgraph.graph(self.src, [self.obj])), [["a", "b"]])
        self.assertEqual(self.run_main(), 1)
        self.assertEqual(self.run_main("b,a"), 0)

    def test_include_circle(self):
        """An include counts as a dependency even without a call."""
        write(os.path.join(self.src, "a.h"), "")
        write(os.path.join(self.src, "b.h"), "")
        self.module("a", '#include "b.h"\nint a;\n')
        self.module("b", "void a2(void);\nvoid b(void) { a2(); }\n")
        self.module("d", "void a2(void) {}\n")
        self.assertEqual(self.run_main(), 0)       # a -> b -> d
        self.module("d", '#include "a.h"\nvoid a2(void) {}\n')
        self.assertEqual(modgraph.circles(
            modgraph.graph(self.src, [self.obj])), [["a", "b", "d"]])
        self.assertEqual(self.run_main("a,b"), 1)


if __name__ == "__main__":
    unittest.main()
