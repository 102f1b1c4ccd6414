#!/usr/bin/env python3
"""Fails when modules of a crate import each other in a cycle.

A module's imports are its `crate::x` and `super::x` paths. The crate root (`lib.rs`,
`main.rs`) is left out: every module may use what the root defines. Usage:
    scripts/module-cycles.py crates/*/src
"""
import os
import re
import sys


def modules(src):
    found = {}
    for root, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)[:-3].replace(os.sep, "::")
            rel = rel.removesuffix("::mod")
            if rel in ("lib", "main", "mod"):
                continue
            with open(path, encoding="utf-8") as f:
                found[rel] = f.read()
    return found


def edges(mods):
    names = set(mods)
    out = {m: set() for m in mods}
    for m, text in mods.items():
        parent = "::".join(m.split("::")[:-1])
        for ref in re.findall(r"crate::(\w+(?:::\w+)?)", text):
            target = ref if ref in names else ref.split("::")[0]
            if target in names and target != m:
                out[m].add(target)
        for group in re.findall(r"crate::\{([^}]*)\}", text):
            for item in re.split(r"[,\s]+", group):
                if item in names and item != m:
                    out[m].add(item)
        for ref in re.findall(r"super::(\w+)", text):
            target = f"{parent}::{ref}" if parent else ref
            if target in names and target != m:
                out[m].add(target)
            elif parent in names and parent != m:
                out[m].add(parent)
    return out


def cycles(graph):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def main():
    failed = False
    for src in sys.argv[1:]:
        for component in cycles(edges(modules(src))):
            print(f"{src}: modules import each other: {' ↔ '.join(component)}")
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
