"""Re-analysing only what an edit touches gives exactly what a fresh analysis gives."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drain_ls import forest
from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.incremental import ChangeLog, IncrementalChecker
from drain_ls.documents import Document

START = '''"""Module."""
import os
import sys
from typing import Any, overload
import json as js


def f(x):
    return os.path.join(x)


class C:
    """C."""

    def m(self):
        return js


def g():
    import re
    return 1
'''

SNIPPETS = [
    "os",
    "sys",
    "js",
    "re",
    "Any",
    "x",
    " ",
    "\n",
    "    ",
    "import os\n",
    "import re\n",
    "del os\n",
    "global sys\n",
    "def h():\n    ",
    "class D:\n    ",
    '"""Doc."""\n',
    "__all__ = ['f']\n",
    "@overload\n",
    "(",
    ")",
    ":",
    "#",
    "'",
    "lambda: sys",
    "_",
]


def shape(findings):  # type: ignore[no-untyped-def]
    return [(f.code, f.start, f.end, f.message) for f in findings]


@st.composite
def edit_sequences(draw: st.DrawFn) -> list[tuple[float, float, str]]:
    edits = []
    for _ in range(draw(st.integers(1, 15))):
        a = draw(st.floats(0, 1))
        length = draw(st.sampled_from([0, 0, 0, 1, 2, 5, 20]))
        edits.append((a, length, draw(st.sampled_from(SNIPPETS))))
    return edits


# Documents this small are one tree; with a chunk size of a line or three they are cut into
# chunks (drain_ls.forest) at their first edit, as large files are.
@pytest.mark.parametrize("chunk_lines", [forest.CHUNK_LINES, 1, 3])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=edit_sequences(), batch=st.booleans())
def test_incremental_equals_fresh(
    chunk_lines: int, edits: list[tuple[float, int, str]], batch: bool
) -> None:
    with patch.object(forest, "CHUNK_LINES", chunk_lines):
        _check_incremental_equals_fresh(edits, batch)


def _check_incremental_equals_fresh(edits: list[tuple[float, int, str]], batch: bool) -> None:
    doc = Document("file:///m.py", START.encode(), 1)
    check = CheckSettings()
    checker = IncrementalChecker("/tmp/m.py", check)
    checker.check(doc.source, doc.tree, doc.changes)
    doc.changes.reset()
    for fraction, length, text in edits:
        start = int(fraction * len(doc.source))
        # Stay on character boundaries (the sample is ASCII) and inside the document.
        end = min(len(doc.source), start + int(length))
        doc.replace(start, end, text)
        if batch and fraction < 0.5:
            continue  # let changes pile up, as when typing faster than the debounce
        incremental = checker.check(doc.source, doc.tree, doc.changes)
        doc.changes.reset()
        fresh = check_source(doc.source, "/tmp/m.py", check, doc.tree, tolerant=True)
        fresh_e999 = [f for f in fresh if f.code == "E999"]
        assert shape([f for f in incremental if f.code != "E999"]) == shape(
            [f for f in fresh if f.code != "E999"]
        )
        # A syntax error CPython finds is reported; one is only reported where tree-sitter
        # sees an error (the editor does not compile the whole file at every keystroke).
        incremental_e999 = [f for f in incremental if f.code == "E999"]
        assert bool(incremental_e999) == doc.tree.root_node.has_error
        if fresh_e999:
            assert incremental_e999
        if not doc.tree.root_node.has_error:
            # Chunks or not, an error-free document is analysed as a parse of the whole.
            whole = check_source(doc.source, "/tmp/m.py", check, tolerant=True)
            assert shape(incremental) == shape(whole)


def test_change_log_moves_offsets_and_drops_edited_ones() -> None:
    log = ChangeLog()
    log.add(10, 12, 15, b"ab", [])
    assert log.move(5) == 5
    assert log.move(12) == 15
    assert log.move(11) is None
    log.add(0, 0, 3, b"", [])
    assert log.move(12) == 18
