"""The non-parse part of an edit today: IncrementalChecker.check per edit (same sessions)."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import byte_edits, pct, texts

from drain_ls.analysis.checker import CheckSettings
from drain_ls.analysis.incremental import IncrementalChecker
from drain_ls.lsp.documents import Document

CODES = frozenset(["F401", "D100", "D101", "D102", "D103", "D104", "D105", "D106", "D107", "E999"])
for name, text in texts().items():
    doc = Document("file:///m.py", text.encode())
    checker = IncrementalChecker("/tmp/m.py", CheckSettings(select=CODES), fix_factories=False)
    checker.check(doc.source, doc.tree, None)
    doc.changes.reset()
    parse_t, check_t = [], []
    for s, e, new in byte_edits(text):
        t0 = time.perf_counter()
        doc.replace(s, e, new.decode())
        t1 = time.perf_counter()
        checker.check(doc.source, doc.tree, doc.changes)
        doc.changes.reset()
        t2 = time.perf_counter()
        parse_t.append((t1 - t0) * 1000)
        check_t.append((t2 - t1) * 1000)
    print(
        name,
        "Document.replace p50/p95/p99 {:.2f}/{:.2f}/{:.2f}".format(*pct(parse_t)[:3]),
        "| check p50/p95/p99 {:.2f}/{:.2f}/{:.2f}".format(*pct(check_t)[:3]),
    )

# where the check tail is: error states or not
for name, text in texts().items():
    doc = Document("file:///m.py", text.encode())
    checker = IncrementalChecker("/tmp/m.py", CheckSettings(select=CODES), fix_factories=False)
    checker.check(doc.source, doc.tree, None)
    doc.changes.reset()
    rows = []
    for s, e, new in byte_edits(text):
        doc.replace(s, e, new.decode())
        t1 = time.perf_counter()
        checker.check(doc.source, doc.tree, doc.changes)
        doc.changes.reset()
        rows.append(((time.perf_counter() - t1) * 1000, doc.tree.root_node.has_error))
    clean = [t for t, err in rows if not err]
    err = [t for t, err in rows if err]
    print(
        name,
        "check on error-free versions p50/p95/p99 {:.2f}/{:.2f}/{:.2f}".format(*pct(clean)[:3]),
        f"(n={len(clean)})",
        "| with a syntax error p50/p95/p99 {:.2f}/{:.2f}/{:.2f}".format(*pct(err)[:3]),
        f"(n={len(err)})",
    )
