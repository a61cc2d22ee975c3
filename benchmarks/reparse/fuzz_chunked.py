"""Where chunked trees differ from a fresh parse: more edit kinds (quotes, brackets, colons,
spaces, newlines, deletions) at random places, typed then (half the time) undone.
Counts differences when the fresh tree is error-free (must be 0) and, with errors, whether
the difference stays inside the edited chunk's span."""

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chunked import ChunkedDoc, signature
from common import texts

from drain_ls.analysis.source import parse

CHARS = [
    b"x",
    b" ",
    b"(",
    b")",
    b'"',
    b"'",
    b'"""',
    b":",
    b"\n",
    b"\\",
    b"#",
    b"[",
    b"    ",
    b"else:",
    b"@",
]
max_lines = int(sys.argv[1]) if len(sys.argv) > 1 else 1
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
for name, text in texts().items():
    rng = random.Random(11)
    doc = ChunkedDoc(text.encode(), max_lines, "accept")
    stats = dict(edits=0, clean_diff=0, err=0, err_diff=0, err_diff_outside=0)
    for _i in range(n):
        src = doc.source
        at = rng.randrange(len(src))
        if rng.random() < 0.3:
            # at a line start or in leading indentation, where the reparse tail comes from
            at = src.rfind(b"\n", 0, at) + 1 + rng.randint(0, 4)
        if rng.random() < 0.7:
            s, e, new = at, at, rng.choice(CHARS)
        else:
            s, e, new = at, min(len(src), at + rng.randint(1, 3)), b""
        undo = (s, s + len(new), src[s:e])
        for step in ((s, e, new), undo) if rng.random() < 0.5 else ((s, e, new),):
            k = max(0, __import__("bisect").bisect_right(doc.bounds, step[0]) - 1)
            doc.replace(*step)
            stats["edits"] += 1
            fresh = parse(doc.source).root_node
            a = signature(doc.module_children())
            b = signature((0, c) for c in fresh.children)
            if fresh.has_error:
                stats["err"] += 1
            if a != b:
                if not fresh.has_error:
                    stats["clean_diff"] += 1
                    print("CLEAN DIFF", name, step, doc.source[max(0, step[0] - 40) : step[0] + 40])
                else:
                    stats["err_diff"] += 1
                    # first and last differing module-level spans
                    sa, sb = set(a), set(b)
                    spans = [x[:2] for x in (sa ^ sb)]
                    lo = min(x[0] for x in spans)
                    hi = max(x[1] for x in spans)
                    if hi - lo > 20000 or hi >= len(doc.source) - 1:
                        stats["err_diff_outside"] += 1
        if doc.source.count(b"\n") < 100:
            break
        # re-sync now and then so errors do not pile up
        if fresh.has_error and rng.random() < 0.5:
            doc = ChunkedDoc(text.encode(), max_lines, "accept")
    print(name, f"max_lines={max_lines}", stats)
