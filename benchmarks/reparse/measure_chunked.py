"""Parse-step cost and tree equality (vs a fresh full parse) of the chunked document."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chunked import ChunkedDoc, signature
from common import byte_edits, pct, texts

from drain_ls.analysis.source import parse

configs = [(int(a), b) for a, b in (c.split(":") for c in sys.argv[1:])] or [
    (1, "accept"),
    (1, "full"),
]
for name, text in texts().items():
    edits = byte_edits(text)
    for max_lines, on_error in configs:
        doc = ChunkedDoc(text.encode(), max_lines, on_error)
        nchunks = len(doc.bounds)
        biggest = max(doc._end(i) - doc.bounds[i] for i in range(nchunks))
        times, diff, diff_err = [], 0, 0
        for s, e, new in edits:
            t0 = time.perf_counter()
            doc.replace(s, e, new)
            times.append((time.perf_counter() - t0) * 1000)
            fresh = parse(doc.source).root_node
            if signature(doc.module_children()) != signature((0, c) for c in fresh.children):
                diff += 1
                diff_err += fresh.has_error
        p = pct(times)
        print(
            f"{name:9s} max_lines={max_lines:<4d} on_error={on_error:6s} chunks {nchunks:5d} biggest {biggest:6d} B | "
            f"p50 {p[0]:5.2f} p95 {p[1]:5.2f} p99 {p[2]:5.2f} max {p[3]:6.2f} ms | trees differ {diff}/{len(edits)} (of which fresh has error {diff_err}) fallbacks {doc.fallbacks} merges {doc.merges}"
        )
