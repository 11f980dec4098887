#!/usr/bin/env python3
"""The module graph of popserv and popit, and the circles in it.

A module is one src/NAME.c with its include/NAME.h.  Module A depends on
B when A.c includes B.h, or when A's object file uses a symbol that B's
object file defines (read with nm).  Prints every strongly connected
component of more than one module; exits 1 when one is not on the list
of circles the design allows (docs/internals.md, "Which way calls go").

    modgraph.py SRCDIR OBJDIR... [--allow a,b] [--dot]
"""
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)\.h"', re.M)


def files(dirs, suffix):
    """Map module name -> path, for every file ending in suffix (x.c,
    x.c.o) under dirs."""
    found = {}
    for d in dirs:
        for dirpath, _, names in os.walk(d):
            for f in names:
                if f.endswith(suffix):
                    found[f[:-len(suffix)]] = os.path.join(dirpath, f)
    return found


def symbols(path):
    """(defined, undefined) global symbols of one object file."""
    out = subprocess.run(["nm", "-P", path], check=True,
                         capture_output=True, text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind.isupper():
            defined.add(name)
    return defined, undefined


def graph(srcdir, objdirs):
    mods = files([srcdir], ".c")
    objs = {m: p for m, p in files(objdirs, ".c.o").items() if m in mods}
    edges = {m: set() for m in mods}
    for m, path in mods.items():
        with open(path, encoding="utf-8") as f:
            for inc in INCLUDE.findall(f.read()):
                inc = os.path.basename(inc)
                if inc in mods and inc != m:
                    edges[m].add(inc)
    owner = {}
    syms = {m: symbols(p) for m, p in objs.items()}
    for m, (defined, _) in syms.items():
        for s in defined:
            owner[s] = m
    for m, (_, undefined) in syms.items():
        for s in undefined:
            o = owner.get(s)
            if o is not None and o != m:
                edges[m].add(o)
    return edges


def circles(edges):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main(argv):
    allow, dot, args = [], False, []
    i = 0
    while i < len(argv):
        if argv[i] == "--allow":
            allow.append(sorted(argv[i + 1].split(",")))
            i += 2
            continue
        if argv[i] == "--dot":
            dot = True
        else:
            args.append(argv[i])
        i += 1
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    edges = graph(args[0], args[1:])
    if dot:
        print("digraph popserv {")
        for m in sorted(edges):
            for o in sorted(edges[m]):
                print(f"\t{m} -> {o};")
        print("}")
    bad = 0
    for comp in circles(edges):
        ok = comp in allow
        print(("allowed circle: " if ok else "circle: ") + " <-> ".join(comp))
        if not ok:
            # Show the edges inside the component, to say what to cut.
            for m in comp:
                inside = sorted(o for o in edges[m] if o in comp)
                print(f"\t{m} -> {', '.join(inside)}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
