"""A file that ends right after a line continuation (``x = 1 \\`` and its line break, then
nothing) is a syntax error: "unexpected EOF while parsing" in CPython 3.12 on and in ruff.
tree-sitter reads a ``line_continuation`` node there and no error, so it was a clean file.

Found by a differential fuzz of indentation shapes against ``ast.parse`` (17,290 small
programs, 16 disagreements, all this shape). ruff, run live, gives the positions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.incremental import IncrementalChecker
from drain_ls.analysis.source import LineIndex
from drain_ls.lsp.documents import Document
from tests.ruff_support import HAS_RUFF, ruff_findings
from tests.test_notebooks import notebook, run, write

# (name, source, whether it ends in the error)
CASES = [
    ("after_a_statement", "import os\nx = 1 \\\n", True),
    ("crlf", "import os\r\nx = 1 \\\r\n", True),
    ("lone_cr", "import os\rx = 1 \\\r", True),
    ("on_its_own_line", "import os\nx = 1\n  \\\n", True),
    ("in_a_block", "import os\nif x:\n    y = 1 \\\n", True),
    ("after_a_closed_string", 'import os\ns = """a\n"""\\\n', True),
    ("tab_and_form_feed_before", "import os\nx = 1\t\f\\\n", True),
    ("in_a_comment", "import os\nx = 1  # c \\\n", False),
    ("a_blank_line_after", "import os\nx = 1 \\\n\n", False),
    ("blanks_after", "import os\nx = 1 \\\n   ", False),
    ("a_line_after", "import os\nx = 1 + \\\n2\n", False),
    ("a_comment_after", "import os\nx = 1 \\\n# c\n", False),
]
IDS = [case[0] for case in CASES]
MESSAGE = "SyntaxError: unexpected EOF while parsing"


def _e999(found: list) -> list[tuple[int, int, str]]:  # type: ignore[type-arg]
    return [(f.start, f.end, f.message) for f in found if f.code == "E999"]


@pytest.mark.parametrize(("name", "text", "error"), CASES, ids=IDS)
def test_the_command_line_reports_it_whatever_the_selection(
    name: str, text: str, error: bool
) -> None:
    source = text.encode()
    found = check_source(source, "/m.py", CheckSettings(select=frozenset({"D103"})))
    if error:
        assert [(f.code, f.message) for f in found] == [("E999", MESSAGE)]
    else:
        assert found == []


@pytest.mark.skipif(not HAS_RUFF, reason="needs ruff")
@pytest.mark.parametrize(("name", "text", "error"), CASES, ids=IDS)
def test_it_is_where_ruff_puts_it(name: str, text: str, error: bool, tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_bytes(text.encode())
    theirs = [
        (f["location"]["row"], f["location"]["column"])
        for f in ruff_findings(path, select="F401")
        if f["message"] == "unexpected EOF while parsing"
    ]
    source = text.encode()
    index = LineIndex(source)
    ours = []
    for start, _, _ in _e999(check_source(source, str(path))):
        ours.append((index.row_of(start) + 1, start - index.line_start_of(start) + 1))
    assert ours == theirs
    assert bool(theirs) == error


def test_the_editor_reports_it_as_the_user_types_and_clears_it() -> None:
    """Typing `` \\`` and Enter at the end of a document, then the next line, through the
    editor's document (a forest of chunks) and its incremental checker, against a fresh
    check of each version."""
    body = '"""Module."""\n' + "".join(f"def f{i}():\n    return {i}\n\n" for i in range(300))
    body += "total = 1"
    doc = Document("file:///m.py", body.encode(), 1)
    checker = IncrementalChecker("/m.py", CheckSettings(select=frozenset({"F401"})))
    assert checker.check(doc.source, doc.tree, doc.changes) == []
    doc.changes.reset()
    seen = []
    for typed in (" \\", "\n", "  + 2\n", "\\", "\n"):
        end = len(doc.source)
        doc.replace(end, end, typed)
        found = _e999(checker.check(doc.source, doc.tree, doc.changes))
        doc.changes.reset()
        assert found == _e999(check_source(doc.source, "/m.py", tolerant=True)), typed
        seen.append([message for _, _, message in found])
    # "... \\" alone is a backslash at the very end: tree-sitter's own error.
    assert seen[1] == [MESSAGE] and seen[2] == [] and seen[4] == [MESSAGE]
    assert _e999(check_source(doc.source, "/m.py"))[0][0] == len(doc.source) - 2


def test_a_statement_compiled_alone_is_not_cut_in_its_continuation() -> None:
    """tree-sitter errs on ``* f'{x}'`` (CPython's parser accepts it), so that statement is
    compiled on its own to clear the error; it ended with the line continuation, and CPython
    said "unexpected EOF" of the piece, not of the file (found by a fuzz of token soup)."""
    assert _e999(check_source(b"* f'{x}' \\\n\n", "/m.py")) == []
    # The file itself ending there is still the error.
    assert [m for _, _, m in _e999(check_source(b"* f'{x}' \\\n", "/m.py"))] == [MESSAGE]


def test_a_backslash_at_the_very_end_is_an_error() -> None:
    # No line break after it: tree-sitter's error, which compiling the statement confirms
    # (that statement is not completed as one the file goes on after would be).
    found = check_source(b"import os\nx = 1 \\", "/m.py")
    assert [(f.code, f.message) for f in found] == [("E999", MESSAGE)]


# Notebooks: the kernel runs each cell alone, so a cell that ends with a line continuation is
# the error, though the module its cells make goes on (ruff reports it in that cell).
NOTEBOOKS = [
    ("last_cell", ["import os\nx = 1", "y = 2 \\\n"], (2, 1)),
    ("last_cell_no_line_break", ["import os\nx = 1", "y = 2 \\"], (2, 1)),
    ("middle_cell", ["y = 2 \\\n", "z = 3\n"], (1, 1)),
    ("middle_cell_no_line_break", ["y = 2 \\", "z = 3\n"], (1, 1)),
    ("a_blank_line_after", ["y = 2 \\\n\n", "z = 3\n"], None),
    ("in_a_comment", ["# c \\\n", "z = 3\n"], None),
]


@pytest.mark.parametrize(("name", "cells", "where"), NOTEBOOKS, ids=[n[0] for n in NOTEBOOKS])
def test_a_notebook_cell_that_ends_with_a_continuation(
    name: str, cells: list[str], where: tuple[int, int] | None, tmp_path: Path
) -> None:
    path = tmp_path / "nb.ipynb"
    write(path, notebook(cells))
    result = run("check", "--select", "F401", "--format", "json", path.name, cwd=tmp_path)
    ours = [(r["cell"], r["location"]["row"]) for r in json.loads(result.stdout)]
    ours_e999 = [
        (r["cell"], r["location"]["row"]) for r in json.loads(result.stdout) if r["code"] == "E999"
    ]
    assert ours_e999 == ([where] if where else []), ours
    if HAS_RUFF:
        theirs = [
            (r["cell"], r["location"]["row"])
            for r in ruff_findings(path, select="F401")
            if r["code"] == "invalid-syntax"
        ]
        assert theirs[:1] == ours_e999
