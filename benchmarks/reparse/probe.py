import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import byte_edits, texts
from tree_sitter import Point

from drain_ls.analysis.source import parse

NL = b"\n"


def pt(s, o):
    return Point(s.count(b"\n", 0, o), o - (s.rfind(b"\n", 0, o) + 1))


name = sys.argv[1]
text = texts()[name]
src = text.encode()
tree = parse(src)
for i, (s, e, new) in enumerate(byte_edits(text)):
    ns = src[:s] + new + src[e:]
    ne = s + len(new)
    t0 = time.perf_counter()
    tree.edit(s, e, ne, pt(src, s), pt(src, e), pt(ns, ne))
    nt = parse(ns, tree)
    dt = (time.perf_counter() - t0) * 1000
    ls = src.rfind(b"\n", 0, s) + 1
    le = src.find(b"\n", s)
    cr = list(tree.changed_ranges(nt))
    row = src.count(NL, 0, s)
    print(
        f"{i:3d} {dt:6.2f} row {row:5d} err={int(nt.root_node.has_error)} cr={[(r.start_byte, r.end_byte) for r in cr][:2]} {'+' if new else '-'} {src[ls:s]!r}|{src[s:le]!r}"
    )
    tree, src = nt, ns
