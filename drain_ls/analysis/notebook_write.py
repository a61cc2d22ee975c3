"""Writing fixed cell sources back into a notebook's file (``drain_ls.analysis.notebook``).

``rewrite`` replaces only the ``source`` values of the cells that changed, located by
walking the file's JSON, in the layout they had: a string stays a string, a list of lines
keeps its indentation and separators, unchanged lines keep their exact text. Every other
character of the file is left as it was, and the result must read back (``verify``) as the
notebook with those sources, or ``NotebookError`` is raised and nothing is written.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from drain_ls.analysis.notebook_read import Notebook, NotebookError, read_notebook

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
