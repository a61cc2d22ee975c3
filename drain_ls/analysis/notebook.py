"""Jupyter notebooks (``.ipynb``), read as ruff reads them, and fixed in place.

The Python code cells are joined into one module, each followed by a synthetic ``\\n``
(an import in one cell used in another is used). A cell is left out when it is not code,
when VS Code marks its language as another one, when it holds a cell magic (``%%bash``;
``%%time`` and the other magics whose body is Python are kept) or when its first line is an
automagic (``cd /tmp``). IPython escapes (``%matplotlib``, ``!ls``, ``files = !ls``,
``os?``) are not Python: each is masked with a neutral expression of the same length, so
byte offsets are unchanged and nothing in them counts as the use of a name. ``D100`` does
not apply to notebooks. A notebook whose kernel is not Python is skipped; one that is not
JSON or not a notebook gets a one-line ``E999``, as in ruff.

Fixes are applied to the cells' text and written back into the JSON surgically: only the
``source`` values of the cells that changed are replaced, in the layout they had (a string
stays a string, a list of lines keeps its indentation and separators, unchanged lines keep
their exact text). Every other byte of the file is left as it was, and the result is
re-read and compared with the notebook it must be before it is written (``rewrite``).

The parts: ``notebook_read`` (reading and validating the file, which cells are Python),
``notebook_escapes`` (the IPython escapes and their masking), ``notebook_write`` (writing
the fixed sources back into the JSON). This module maps the cells to one module
(``CellMap``) and checks and fixes them (``check_notebook``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.fixes import MAX_PASSES, apply_edits, broken, compatible_fixes
from drain_ls.analysis.model import Edit, Finding
from drain_ls.analysis.notebook_escapes import escape_ranges, mask
from drain_ls.analysis.notebook_read import (
    Notebook,
    NotebookError,
    _lines,
    is_magic_cell,
    read_notebook,
)
from drain_ls.analysis.notebook_write import _split_lines, rewrite
from drain_ls.analysis.source import LineIndex, continuation_at_end

__all__ = [
    "CellMap",
    "Notebook",
    "NotebookCheck",
    "NotebookError",
    "check_notebook",
    "escape_ranges",
    "is_magic_cell",
    "masked_module",
    "read_notebook",
    "rewrite",
]


@dataclass(slots=True)
class CellMap:
    """The module the code cells make, and where each cell lies in it."""

    module: bytes
    starts: list[int]  # byte offset of each cell's first byte
    numbers: list[int]  # each cell's number as ruff reports it (1-based, all cells counted)
    index: LineIndex = field(init=False)
    start_rows: list[int] = field(init=False)

    def __post_init__(self) -> None:
        """Index the module's lines and find the row each cell starts on."""
        self.index = LineIndex(self.module)
        self.start_rows = [self.index.row_of(start) for start in self.starts]

    @classmethod
    def of(cls, cells: Iterable[tuple[int, str]]) -> CellMap:
        """The map of cells given as (index in the notebook, text)."""
        parts: list[bytes] = []
        starts: list[int] = []
        numbers: list[int] = []
        offset = 0
        for number, text in cells:
            data = text.encode("utf-8", errors="surrogatepass")
            starts.append(offset)
            numbers.append(number + 1)
            parts += (data, b"\n")
            offset += len(data) + 1
        return cls(b"".join(parts) or b"\n", starts, numbers)

    def cell_at(self, offset: int) -> int:
        """The position (in ``starts``) of the cell holding byte ``offset``; the synthetic
        newline after a cell is part of it."""
        return max(0, bisect_right(self.starts, offset) - 1)

    def end_of(self, position: int) -> int:
        """Byte offset of the synthetic newline that ends cell ``position``."""
        if position + 1 < len(self.starts):
            return self.starts[position + 1] - 1
        return len(self.module) - 1

    def clip(self, start: int, end: int) -> int:
        """``end``, or the end of the cell holding ``start`` if ``end`` is in a later cell
        (an edit is cut there when it is applied: ``_apply_by_cell``). As ruff reports
        edits: one in the last cell may end after its synthetic newline."""
        cell = self.cell_at(start)
        if cell + 1 >= len(self.starts):
            return end
        return min(end, self.end_of(cell))

    def position(self, offset: int) -> tuple[int, int, int]:
        """(cell number, 0-based row within the cell, 0-based column in characters)."""
        row, column = self.index.char_position(min(offset, len(self.module)))
        if not self.starts:
            return 1, row, column
        cell = self.cell_at(offset)
        return self.numbers[cell], row - self.start_rows[cell], column


# --- Checking and fixing -----------------------------------------------------------------


@dataclass(slots=True)
class NotebookCheck:
    """What checking (or fixing) a notebook produced."""

    texts: list[str]  # the code cells' sources, fixed
    findings: list[Finding]  # in byte offsets of ``cells.module``
    cells: CellMap
    fixed: int = 0

    def changed(self, notebook: Notebook) -> bool:
        """True when a cell's source differs from the notebook's."""
        return any(t != c.text for t, c in zip(self.texts, notebook.cells, strict=True))


def check_notebook(
    notebook: Notebook,
    path: str,
    settings: CheckSettings | None = None,
    fix: bool = False,
    unsafe: bool = False,
) -> NotebookCheck:
    """The findings of a notebook's code cells (with ``fix``, after fixing them: the fixed
    sources are in ``texts``). Nothing is checked in a notebook whose kernel is not Python."""
    texts = [cell.text for cell in notebook.cells]
    cells = _map(notebook, texts)
    if not notebook.python or not texts:
        return NotebookCheck(texts, [], cells)
    ranges = escape_ranges(cells.module)
    masked = mask(cells.module, ranges)
    findings = _findings(masked, path, settings, cells)
    if not fix or broken(masked, path):
        return NotebookCheck(texts, findings, cells)
    fixed = 0
    rejected: set[tuple[Edit, ...]] = set()  # fixes that cannot be made here
    one_at_a_time = False
    for _ in range(MAX_PASSES):
        fixes = compatible_fixes(_without(findings, rejected), unsafe)
        if not fixes:
            break
        if one_at_a_time:
            fixes = fixes[:1]
        edits = [e for f in fixes for e in f.edits]
        candidate = _attempt(notebook, cells, texts, ranges, edits, path)
        if candidate is None:
            # Find the culprit: the fixes of this pass one at a time; one alone is left out.
            if len(fixes) == 1:
                rejected.add(fixes[0].edits)
            one_at_a_time = True
            continue
        texts, cells, ranges, masked = candidate
        after = _findings(masked, path, settings, cells)
        fixed += max(0, len(findings) - len(after))
        findings = after
    return NotebookCheck(texts, findings, cells, fixed)


Attempt = tuple[list[str], CellMap, list[tuple[int, int]], bytes]


def _attempt(
    notebook: Notebook,
    cells: CellMap,
    texts: list[str],
    ranges: list[tuple[int, int]],
    edits: list[Edit],
    path: str,
) -> Attempt | None:
    """The cells after ``edits``: (texts, map, escapes, masked module); None when the
    edits touch an escape (not Python: never edited), would make a cell stop being Python,
    or would leave a syntax error (findings are never traded for that)."""
    if any(_touches(edit, ranges) for edit in edits):
        return None
    candidate = _apply_by_cell(cells, texts, edits)
    if candidate is None or not _same_cells(notebook, candidate):
        return None
    candidate_cells = _map(notebook, candidate)
    candidate_ranges = escape_ranges(candidate_cells.module)
    masked = mask(candidate_cells.module, candidate_ranges)
    if broken(masked, path):
        return None
    return candidate, candidate_cells, candidate_ranges, masked


def _without(findings: list[Finding], rejected: set[tuple[Edit, ...]]) -> list[Finding]:
    """The findings whose fix is not one of ``rejected`` (others keep no fix)."""
    if not rejected:
        return findings
    kept = []
    for finding in findings:
        fix = finding.resolved_fix()
        if fix is not None and fix.edits in rejected:
            continue
        kept.append(replace(finding, fix=fix, fix_factory=None))
    return kept


def masked_module(notebook: Notebook) -> bytes:
    """The module a notebook's code cells make, its IPython escapes masked."""
    module = _map(notebook, [cell.text for cell in notebook.cells]).module
    return mask(module, escape_ranges(module))


def _same_cells(notebook: Notebook, texts: list[str]) -> bool:
    """False when a fixed cell would no longer be Python (its first line now an automagic:
    ``import os`` removed from ``import os\ntime``): read again, the notebook would differ."""
    for cell, text in zip(notebook.cells, texts, strict=True):
        if text != cell.text:
            stored = notebook.data["cells"][cell.index]["source"]
            if is_magic_cell(_lines(text) if isinstance(stored, str) else _split_lines(text)):
                return False
    return True


def _map(notebook: Notebook, texts: list[str]) -> CellMap:
    return CellMap.of((cell.index, text) for cell, text in zip(notebook.cells, texts, strict=True))


def _findings(
    masked: bytes, path: str, settings: CheckSettings | None, cells: CellMap
) -> list[Finding]:
    # A notebook is not a module anyone imports: ruff never asks it for a docstring.
    found = [f for f in check_source(masked, path, settings) if f.code != "D100"]
    end = _continued_cell_end(masked, cells)
    if end is not None:
        # The kernel runs each cell alone: one that ends with a line continuation is a
        # syntax error there ("unexpected EOF while parsing"), as ruff reports it, though
        # the module the cells make goes on. The module up to that cell's end says it (or
        # an error before it); a backslash in a comment says nothing.
        head = [f for f in check_source(masked[:end], path, settings) if f.code == "E999"]
        if head:
            return head
    return found


def _continued_cell_end(masked: bytes, cells: CellMap) -> int | None:
    """The end of the first cell whose text ends with a backslash (and at most its line
    break), in the module; None if none does."""
    for position in range(len(cells.starts)):
        end = cells.end_of(position)
        if continuation_at_end(masked[max(0, end - 3) : end]) >= 0:
            return end
    return None


def _touches(edit: Edit, ranges: list[tuple[int, int]]) -> bool:
    """True when ``edit`` replaces or inserts inside one of ``ranges``."""
    return any(edit.start < end and start < max(edit.end, edit.start + 1) for start, end in ranges)


def _apply_by_cell(cells: CellMap, texts: list[str], edits: list[Edit]) -> list[str] | None:
    """The cells' sources after ``edits`` (offsets in ``cells.module``). A cell is never
    merged with the next: a deletion across the synthetic newline after a cell is cut
    there, and the cell's own last line break, if it has one, takes the newline's place
    (ruff's result). None when an edit would have to insert text across a cell boundary."""
    by_cell: dict[int, list[Edit]] = {}
    lost_separator: set[int] = set()
    for edit in edits:
        first = cells.cell_at(edit.start)
        start = min(edit.start, cells.end_of(first))
        end = edit.end
        position = first
        while True:
            stop = cells.end_of(position)
            piece_end = min(end, stop)
            base = cells.starts[position]
            text = edit.text if position == first else ""
            by_cell.setdefault(position, []).append(Edit(start - base, piece_end - base, text))
            if end > stop:
                lost_separator.add(position)
            if end <= stop or position + 1 >= len(cells.starts):
                break
            if edit.text:
                return None
            position += 1
            start = cells.starts[position]
    result = list(texts)
    for position, local in by_cell.items():
        data = texts[position].encode("utf-8", errors="surrogatepass")
        try:
            fixed = apply_edits(data, local).decode("utf-8", errors="surrogatepass")
        except (ValueError, UnicodeDecodeError):
            return None
        if position in lost_separator:
            # The cell's own last line break now ends it, as ruff has it: a cell that had
            # no final newline still has none.
            if fixed.endswith("\r\n"):
                fixed = fixed[:-2]
            elif fixed.endswith("\n"):
                fixed = fixed[:-1]
        result[position] = fixed
    return result
