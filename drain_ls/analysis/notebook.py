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
"""

from __future__ import annotations

import copy
import json
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.fixes import MAX_PASSES, apply_edits, broken, compatible_fixes
from drain_ls.analysis.model import Edit, Finding
from drain_ls.analysis.source import LineIndex

# Cell magics whose body is Python that runs in the notebook's namespace (ruff keeps them).
KEPT_CELL_MAGICS = frozenset(
    ("capture", "debug", "ipytest", "prun", "pypy", "python", "python3", "time", "timeit")
)

# Line magics IPython runs without their ``%`` (automagic); ruff drops a cell that starts
# with one (unless an assignment follows: ``cd = 1``).
_AUTOMAGIC_NAMES = """alias alias_magic autoawait autocall automagic bookmark cd code_wrap
    colors conda config debug dhist dirs doctest_mode edit env gui history killbgscripts load load_ext
    loadpy logoff logon logstart logstate logstop lsmagic macro magic mamba matplotlib
    micromamba notebook page pastebin pdb pdef pdoc pfile pinfo pinfo2 pip popd pprint
    precision prun psearch psource pushd pwd pycat pylab quickref recall rehashx reload_ext
    rerun reset reset_selective run save sc set_env sx system tb time timeit unalias
    unload_ext who who_ls whos xdel xmode"""
AUTOMAGICS = frozenset(_AUTOMAGIC_NAMES.split())
ASSIGNMENT_OPERATORS = ("=", "+=", "-=", "*=", "/=", "//=", "%=", "**=", "&=", "|=", "^=")
ASSIGNMENTS = [[operator] for operator in ASSIGNMENT_OPERATORS]

NOT_JSON = (
    "Expected a Jupyter Notebook, which must be internally stored as JSON, "
    "but this file isn't valid JSON: "
)
NOT_A_NOTEBOOK = "This file does not match the schema expected of Jupyter Notebooks: "

_TOP_KEYS = frozenset(("cells", "metadata", "nbformat", "nbformat_minor"))
_CELL_KEYS = {
    "code": frozenset(("cell_type", "execution_count", "id", "metadata", "outputs", "source")),
    "markdown": frozenset(("cell_type", "attachments", "id", "metadata", "source")),
    "raw": frozenset(("cell_type", "attachments", "id", "metadata", "source")),
}


class NotebookError(ValueError):
    """A file that cannot be read (or written back) as a notebook; ``str()`` is one line."""


@dataclass(slots=True)
class CodeCell:
    """A Python code cell: where it is in the notebook and its source, joined."""

    index: int  # in the notebook's ``cells`` array, markdown and raw cells counted
    text: str


@dataclass(slots=True)
class Notebook:
    """A notebook as read from a file."""

    text: str  # the file's text
    data: dict[str, Any]  # its JSON
    cells: list[CodeCell]  # the Python code cells, in order
    python: bool  # False when the kernel's language is not Python: nothing is checked


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


# --- Reading ---------------------------------------------------------------------------


def read_notebook(data: bytes) -> Notebook:
    """The notebook whose file holds ``data`` (UTF-8). Raises ``NotebookError`` with
    ruff's one-line message when it is not JSON or not a version 4 notebook."""
    text = data.decode("utf-8")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(NOT_JSON + str(exc)) from None
    except RecursionError:
        raise NotebookError(NOT_JSON + "nested too deeply") from None
    _validate(value)
    cells = [
        CodeCell(index, _joined(cell["source"]))
        for index, cell in enumerate(value["cells"])
        if _python_code_cell(cell)
    ]
    return Notebook(text, value, cells, _python_kernel(value["metadata"]))


def _validate(value: object) -> None:
    """Raise ``NotebookError`` unless ``value`` has the shape ruff requires of a notebook."""

    def fail(why: str) -> None:
        raise NotebookError(NOT_A_NOTEBOOK + why)

    if not isinstance(value, dict):
        fail("the top level is not an object")
    assert isinstance(value, dict)
    for key in value:
        if key not in _TOP_KEYS:
            fail(f"unknown field `{key}`")
    for key in sorted(_TOP_KEYS):
        if key not in value:
            fail(f"missing field `{key}`")
    if not isinstance(value["cells"], list):
        fail("`cells` is not an array")
    if not isinstance(value["metadata"], dict):
        fail("`metadata` is not an object")
    for key in ("nbformat", "nbformat_minor"):
        if not isinstance(value[key], int) or isinstance(value[key], bool):
            fail(f"`{key}` is not an integer")
    if value["nbformat"] != 4:
        raise NotebookError(f"Expected Jupyter Notebook format 4, found: {value['nbformat']}")
    metadata = value["metadata"]
    kernel = metadata.get("kernelspec")
    if kernel is not None and (
        not isinstance(kernel, dict) or not isinstance(kernel.get("language", ""), str | None)
    ):
        fail("`metadata.kernelspec` is not a kernel specification")
    info = metadata.get("language_info")
    if info is not None and (not isinstance(info, dict) or not isinstance(info.get("name"), str)):
        fail("`metadata.language_info` has no `name`")
    for number, cell in enumerate(value["cells"], 1):
        if not isinstance(cell, dict):
            fail(f"cell {number} is not an object")
        kind = cell.get("cell_type")
        if kind not in _CELL_KEYS:
            fail(f"cell {number}: unknown `cell_type` {json.dumps(kind)}")
        for key in cell:
            if key not in _CELL_KEYS[kind]:
                fail(f"cell {number}: unknown field `{key}`")
        required = ("metadata", "source", "outputs") if kind == "code" else ("metadata", "source")
        for key in required:
            if key not in cell:
                fail(f"cell {number}: missing field `{key}`")
        source = cell["source"]
        if not isinstance(source, str) and not (
            isinstance(source, list) and all(isinstance(s, str) for s in source)
        ):
            fail(f"cell {number}: `source` is neither a string nor an array of strings")
        if not isinstance(cell["metadata"], dict):
            fail(f"cell {number}: `metadata` is not an object")
        vscode = cell["metadata"].get("vscode")
        if vscode is not None and (
            not isinstance(vscode, dict) or not isinstance(vscode.get("languageId"), str)
        ):
            fail(f"cell {number}: `metadata.vscode` has no `languageId`")
        if kind == "code":
            if not isinstance(cell["outputs"], list):
                fail(f"cell {number}: `outputs` is not an array")
            count = cell.get("execution_count")
            if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
                fail(f"cell {number}: `execution_count` is not an integer")


def _joined(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def _python_kernel(metadata: dict[str, Any]) -> bool:
    """ruff's rule: ``language_info.name``, else ``kernelspec.language``, else Python."""
    info = metadata.get("language_info")
    if info is not None:
        return bool(info["name"] == "python")
    kernel = metadata.get("kernelspec")
    if kernel is not None:
        return bool(kernel.get("language") == "python")
    return True


def _python_code_cell(cell: dict[str, Any]) -> bool:
    if cell["cell_type"] != "code":
        return False
    vscode = cell["metadata"].get("vscode")
    if vscode is not None and vscode["languageId"] != "python":
        return False
    source = cell["source"]
    # As ruff: the lines of a string, the items of an array (even when they are not lines).
    lines = _lines(source) if isinstance(source, str) else source
    return not is_magic_cell(lines)


def _lines(text: str) -> list[str]:
    """Rust's ``str::lines``: split at ``\\n``, a ``\\r`` before it dropped."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def is_magic_cell(lines: list[str]) -> bool:
    """True when a cell is not Python for ruff: its first line is an automagic, or one of
    its lines starts with a cell magic whose body is not Python."""
    tokens = lines[0].split() if lines else []
    if tokens and tokens[0] in AUTOMAGICS and tokens[1:2] not in ASSIGNMENTS:
        return True
    for line in lines:
        tokens = line.split(maxsplit=1)
        if not tokens:
            continue
        first = tokens[0]
        if len(first) >= 2 and first.startswith("%%") and first[2:] not in KEPT_CELL_MAGICS:
            return True
    return False


# --- IPython escapes -----------------------------------------------------------------

_TOKEN = re.compile(
    rb"(?P<ws>[ \t\f]+)"
    rb"|(?P<nl>\r\n|\r|\n)"
    rb"|(?P<cont>\\(?:\r\n|\r|\n))"
    rb"|(?P<str>'''|\"\"\"|'|\")"
    rb"|(?P<comment>#[^\r\n]*)"
    rb"|(?P<open>[(\[{])"
    rb"|(?P<close>[)\]}])"
    rb"|(?P<op>\*\*=|//=|>>=|<<=|\.\.\.|->|:=|==|!=|<=|>=|[-+*/%&|^@]=|\*\*|//|<<|>>"
    rb"|[-+*/%&|^~<>=!:.,;@\\])"
    rb"|(?P<q>\?)"
    rb"|(?P<word>[^ \t\f\r\n\\'\"#()\[\]{}\-+*/%&|^~<>=!:.,;@?]+)"
)
_STRING_BODY = {
    b"'": re.compile(rb"(?:[^'\\\r\n]+|\\(?:\r\n|[\s\S]))*'?"),
    b'"': re.compile(rb'(?:[^"\\\r\n]+|\\(?:\r\n|[\s\S]))*"?'),
    b"'''": re.compile(rb"(?:[^'\\]+|\\[\s\S]|'(?!''))*(?:''')?"),
    b'"""': re.compile(rb'(?:[^"\\]+|\\[\s\S]|"(?!""))*(?:""")?'),
}
_ESCAPE_BODY = re.compile(rb"(?:[^\\\r\n]+|\\(?:\r\n|\r|\n)?)*")
_INDENT = re.compile(rb"[ \t\f]*")
_ESCAPE_STARTS = frozenset(b"%!?/;,")


def escape_ranges(source: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the IPython escapes in ``source``, as ruff's lexer finds them: a line
    that starts (at the start of a logical line) with ``% %% ! !! ? ?? / ; ,``, the ``%`` or
    ``!`` command after an assignment's ``=`` (``files = !ls``), and a logical line that ends
    with ``?`` or ``??`` (``os.path?``). A ``\\`` before a line break continues an escape."""
    ranges: list[tuple[int, int]] = []
    size = len(source)
    position = 0
    depth = 0
    line_start = True
    logical_start = -1
    question_end = -1  # end of the last significant token when it was a ``?``
    while position < size:
        if line_start and depth == 0:
            position = _INDENT.match(source, position).end()  # type: ignore[union-attr]
            line_start = False
            if position < size and source[position] in _ESCAPE_STARTS:
                end = _ESCAPE_BODY.match(source, position).end()  # type: ignore[union-attr]
                ranges.append((position, end))
                position = end
                continue
            logical_start = position
        match = _TOKEN.match(source, position)
        assert match is not None  # the alternatives cover every byte
        kind, end = match.lastgroup, match.end()
        if kind == "nl":
            if depth == 0:
                if question_end >= 0 and logical_start >= 0:
                    ranges.append((logical_start, question_end))
                line_start, logical_start, question_end = True, -1, -1
            position = end
            continue
        if kind in ("ws", "cont", "comment"):
            position = end
            continue
        question_end = end if kind == "q" else -1
        if kind == "str":
            end = _STRING_BODY[match.group()].match(source, end).end()  # type: ignore[union-attr]
        elif kind == "open":
            depth += 1
        elif kind == "close":
            depth = max(0, depth - 1)
        elif kind == "op" and depth == 0 and match.group() == b"=":
            after = _INDENT.match(source, end).end()  # type: ignore[union-attr]
            if after < size and source[after] in b"%!":
                end = _ESCAPE_BODY.match(source, after).end()  # type: ignore[union-attr]
                ranges.append((after, end))
        position = end
    if question_end >= 0 and logical_start >= 0 and depth == 0:
        ranges.append((logical_start, question_end))
    return ranges


def mask(source: bytes, ranges: list[tuple[int, int]]) -> bytes:
    """``source`` with each range replaced by ``0`` and spaces (line breaks kept): an
    expression of the same length, neutral for every check."""
    if not ranges:
        return source
    out = bytearray(source)
    for start, end in ranges:
        for offset in range(start, end):
            if out[offset] not in (0x0A, 0x0D):
                out[offset] = 0x20
        out[start] = 0x30  # "0"
    return bytes(out)


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
    findings = _findings(masked, path, settings)
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
        after = _findings(masked, path, settings)
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


def _findings(masked: bytes, path: str, settings: CheckSettings | None) -> list[Finding]:
    # A notebook is not a module anyone imports: ruff never asks it for a docstring.
    return [f for f in check_source(masked, path, settings) if f.code != "D100"]


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


# --- Writing back --------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_MEMBER_SEPARATOR = re.compile(r'"cell_type"[ \t]*:[ \t]*"[a-z]+"([ \t]*,[ \t]*)"')
_ESCAPED_NON_ASCII = re.compile(r"\\u(?:00[89a-fA-F]|0[1-9a-fA-F]|[1-9a-fA-F][0-9a-fA-F])")


def rewrite(notebook: Notebook, texts: list[str]) -> str:
    """The notebook's file text with the code cells' sources replaced by ``texts``; every
    other character as it was. Raises ``NotebookError`` when that cannot be done exactly,
    or when the result does not read back as the same notebook with those sources."""
    changed = [
        (cell, text) for cell, text in zip(notebook.cells, texts, strict=True) if text != cell.text
    ]
    if not changed:
        return notebook.text
    source = notebook.text
    spans = _source_spans(source)
    if len(spans) != len(notebook.data["cells"]):
        raise NotebookError("its cells could not be located in the file, not written")
    layouts = [_list_layout(source, *span) for span in spans]
    fallback = next((layout for layout in layouts if layout is not None and layout[2]), None)
    ascii_only = source.isascii() and _ESCAPED_NON_ASCII.search(source) is not None
    expected = copy.deepcopy(notebook.data)
    pieces: list[str] = []
    position = 0
    for cell, text in changed:
        start, end = spans[cell.index]
        old = notebook.data["cells"][cell.index]["source"]
        if isinstance(old, str):
            new: str | list[str] = text
            raw = _dump(text, ascii_only)
        else:
            new = _split_lines(text)
            raw = _relist(source, start, end, new, layouts[cell.index], fallback, ascii_only)
        expected["cells"][cell.index]["source"] = new
        pieces += (source[position:start], raw)
        position = end
    pieces.append(source[position:])
    result = "".join(pieces)
    verify(result, expected, notebook)
    return result


def verify(text: str, expected: dict[str, Any], notebook: Notebook) -> None:
    """Raise ``NotebookError`` unless ``text`` reads as ``expected`` and its Python code
    cells are the same cells as the notebook's."""
    try:
        again = read_notebook(text.encode("utf-8"))
    except (NotebookError, UnicodeError) as exc:
        message = f"the fixed notebook would not read back ({exc}), not written"
        raise NotebookError(message) from None
    if again.data != expected:
        raise NotebookError("the fixed notebook would not read back the same, not written")
    if [c.index for c in again.cells] != [c.index for c in notebook.cells]:
        raise NotebookError("the fixes would change which cells are Python, not written")


def _dump(text: str, ascii_only: bool) -> str:
    try:
        dumped = json.dumps(text, ensure_ascii=ascii_only)
        dumped.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only an escape can hold it
        dumped = json.dumps(text, ensure_ascii=True)
    return dumped


def _split_lines(text: str) -> list[str]:
    """A cell's text as nbformat stores it: lines, each with its ``\\n``."""
    return re.findall(r"[^\n]*\n|[^\n]+", text)


def _skip(text: str, position: int) -> int:
    return _WS.match(text, position).end()  # type: ignore[union-attr]


def _value_end(text: str, position: int) -> int:
    try:
        return int(_DECODER.raw_decode(text, position)[1])
    except (json.JSONDecodeError, RecursionError):
        raise NotebookError("its JSON could not be walked, not written") from None


def _members(text: str, position: int) -> Iterator[tuple[str, int, int]]:
    """(key, value start, value end) of the object starting at ``position``."""
    if text[position : position + 1] != "{":
        raise NotebookError("its JSON could not be walked, not written")
    position = _skip(text, position + 1)
    if text[position : position + 1] == "}":
        return
    while True:
        if text[position : position + 1] != '"':
            raise NotebookError("its JSON could not be walked, not written")
        key, position = _scanstring(text, position + 1)
        position = _skip(text, position)
        if text[position : position + 1] != ":":
            raise NotebookError("its JSON could not be walked, not written")
        start = _skip(text, position + 1)
        end = _value_end(text, start)
        yield key, start, end
        position = _skip(text, end)
        if text[position : position + 1] == ",":
            position = _skip(text, position + 1)
            continue
        if text[position : position + 1] == "}":
            return
        raise NotebookError("its JSON could not be walked, not written")


def _items(text: str, start: int) -> list[tuple[int, int]]:
    """(start, end) of each item of the array starting at ``start``."""
    position = _skip(text, start + 1)
    items: list[tuple[int, int]] = []
    if text[position : position + 1] == "]":
        return items
    while True:
        end = _value_end(text, position)
        items.append((position, end))
        position = _skip(text, end)
        if text[position : position + 1] == ",":
            position = _skip(text, position + 1)
            continue
        if text[position : position + 1] == "]":
            return items
        raise NotebookError("its JSON could not be walked, not written")


def _source_spans(text: str) -> list[tuple[int, int]]:
    """Where the ``source`` value of each cell lies in the file's text (the last one of a
    key given twice, as ``json.loads`` reads it)."""
    spans: list[tuple[int, int]] = []
    for key, start, _ in _members(text, _skip(text, 0)):
        if key != "cells":
            continue
        spans = []
        for cell_start, _cell_end in _items(text, start):
            span = None
            for member, value_start, value_end in _members(text, cell_start):
                if member == "source":
                    span = (value_start, value_end)
            if span is None:
                raise NotebookError("a cell has no source, not written")
            spans.append(span)
    return spans


Layout = tuple[str, str, str | None]  # after "[", before "]", between items (None: unknown)


def _list_layout(text: str, start: int, end: int) -> Layout | None:
    """How the array at ``text[start:end]`` is laid out; None for a string or ``[]``."""
    if text[start] != "[":
        return None
    items = _items(text, start)
    if not items:
        return None
    prefix = text[start + 1 : items[0][0]]
    suffix = text[items[-1][1] : end - 1]
    between = text[items[0][1] : items[1][0]] if len(items) > 1 else None
    return prefix, suffix, between


def _relist(
    text: str,
    start: int,
    end: int,
    lines: list[str],
    layout: Layout | None,
    fallback: Layout | None,
    ascii_only: bool,
) -> str:
    """The array of ``lines`` in the layout of the array at ``text[start:end]``; a line
    that was there keeps its exact text (escapes included)."""
    if not lines:
        return "[]"
    known: dict[str, str] = {}
    for item_start, item_end in _items(text, start):
        raw = text[item_start:item_end]
        known.setdefault(json.loads(raw), raw)
    if layout is None:
        layout = fallback
    if layout is None:
        raise NotebookError("the layout of its cell sources is unknown, not written")
    prefix, suffix, between = layout
    if between is None:
        between = fallback[2] if fallback is not None and fallback[2] is not None else None
    if between is None:
        if "\n" in prefix:
            between = "," + prefix
        else:  # the separator between the members of a cell, as in a compact file
            found = _MEMBER_SEPARATOR.search(text)
            between = found.group(1) if found else ", "
    raws = [known.get(line) or _dump(line, ascii_only) for line in lines]
    return "[" + prefix + between.join(raws) + suffix + "]"
