"""Baseline: tree.edit + incremental parse + changed_ranges, as Document.replace does."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import byte_edits, pct, texts
from tree_sitter import Point

from drain_ls.analysis.source import parse


def pt(s, o):
    return Point(s.count(b"\n", 0, o), o - (s.rfind(b"\n", 0, o) + 1))


for name, text in texts().items():
    src = text.encode()
    tree = parse(src)
    t0 = time.perf_counter()
    parse(src)
    full = (time.perf_counter() - t0) * 1000
    rows = []
    for s, e, new in byte_edits(text):
        ns = src[:s] + new + src[e:]
        ne = s + len(new)
        t0 = time.perf_counter()
        tree.edit(s, e, ne, pt(src, s), pt(src, e), pt(ns, ne))
        nt = parse(ns, tree)
        cr = list(tree.changed_ranges(nt))
        dt = (time.perf_counter() - t0) * 1000
        line = src[src.rfind(b"\n", 0, s) + 1 : s]
        rows.append(
            (
                dt,
                s - (src.rfind(b"\n", 0, s) + 1),
                line.strip() == b"",
                nt.root_node.has_error,
                sum(r.end_byte - r.start_byte for r in cr),
            )
        )
        tree, src = nt, ns
    p = pct([r[0] for r in rows])
    print(
        f"{name}: full {full:.1f} ms; incremental p50 {p[0]:.2f} p95 {p[1]:.2f} p99 {p[2]:.2f} max {p[3]:.2f}"
    )
    slow = [r for r in rows if r[0] > 2]
    print(
        f"  edits >2ms: {len(slow)}/{len(rows)}; of them in leading indentation: {sum(r[2] for r in slow)}; with error: {sum(r[3] for r in slow)}"
    )
    print(
        f"  edits in leading indentation overall: {sum(r[2] for r in rows)}; with error overall: {sum(r[3] for r in rows)}"
    )
    for r in sorted(rows)[-5:]:
        print("   ", r)
