"""Reading a Jupyter notebook (``.ipynb``) as ruff reads it (``drain_ls.analysis.notebook``).

``read_notebook`` parses the JSON, checks that it has the shape of a version 4 notebook
(``NotebookError`` with ruff's one-line message otherwise), and keeps the Python code cells:
not those VS Code marks as another language, nor those holding a cell magic whose body is
not Python or starting with an automagic (``is_magic_cell``). A notebook whose kernel is not
Python is marked so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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
