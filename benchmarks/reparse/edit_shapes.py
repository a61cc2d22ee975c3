"""Idea 2: does describing the edit differently (whole line, whole top-level statement)
change tree-sitter's incremental cost?  Same sessions; tree equality vs the normal edit."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import byte_edits, pct, texts
from tree_sitter import Point

from drain_ls.analysis.source import parse


def pt(s, o):
    return Point(s.count(b"\n", 0, o), o - (s.rfind(b"\n", 0, o) + 1))


def widen(mode, tree, src, ns, s, e, ne):
    if mode == "exact":
        return s, e, ne
    if mode == "line":
        a = src.rfind(b"\n", 0, s) + 1
        b = src.find(b"\n", e)
        b = len(src) if b < 0 else b
        return a, b, b + (ne - e)
    # top-level statement(s) around the edit, in the old tree
    root = tree.root_node
    a, b = s, e
    for c in root.children:
        if c.end_byte >= s and c.start_byte <= e:
            a = min(a, c.start_byte)
            b = max(b, c.end_byte)
    return a, b, b + (ne - e)


for name, text in texts().items():
    edits = byte_edits(text)
    for mode in ("exact", "line", "statement"):
        src = text.encode()
        tree = parse(src)
        times = []
        for s, e, new in edits:
            ns = src[:s] + new + src[e:]
            a, b, c = widen(mode, tree, src, ns, s, e, s + len(new))
            t0 = time.perf_counter()
            tree.edit(a, b, c, pt(src, a), pt(src, b), pt(ns, c))
            nt = parse(ns, tree)
            list(tree.changed_ranges(nt))
            times.append((time.perf_counter() - t0) * 1000)
            tree, src = nt, ns
        assert str(tree.root_node) == str(parse(src).root_node)
        p = pct(times)
        print(
            f"{name:10s} {mode:10s} p50 {p[0]:6.2f} p95 {p[1]:6.2f} p99 {p[2]:6.2f} max {p[3]:6.2f}"
        )
