"""Syntax errors (E999).

tree-sitter is error-tolerant and its grammar differs slightly from CPython's, so its
``has_error`` is only a hint: CPython's compiler confirms the error and gives its position.
Syntax newer than the running interpreter that tree-sitter accepts is therefore never an error.
"""

from __future__ import annotations

import warnings

from tree_sitter import Node

from drain_ls.analysis.model import Finding
from drain_ls.analysis.source import LineIndex, Syntax
from drain_ls.forest import Forest


def syntax_error(source: bytes, path: str, tree: Syntax) -> Finding | None:
    """The first syntax error of ``source`` as an E999 finding, or None if it compiles."""
    text = source.decode("utf-8", errors="replace")
    index = LineIndex(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, path, "exec", flags=0x400, dont_inherit=True)  # PyCF_ONLY_AST
    except SyntaxError as exc:
        offset = _byte_offset(index, exc.lineno, exc.offset)
        message = exc.msg or "invalid syntax"
        return _finding(message, offset, index)
    except (ValueError, RecursionError, MemoryError) as exc:
        nul = source.find(b"\0")
        offset = nul if nul >= 0 else first_error_offset(tree)
        message = "source code cannot contain null bytes" if nul >= 0 else str(exc)
        return _finding(message, offset, index)
    return None


def _finding(message: str, offset: int, index: LineIndex) -> Finding:
    end = min(offset + 1, len(index.source))
    return Finding(
        "E999", f"SyntaxError: {message}", offset, max(end, offset), noqa_offsets=(offset,)
    )


def _byte_offset(index: LineIndex, lineno: int | None, col: int | None) -> int:
    """Byte offset of CPython's 1-based (line, character column)."""
    if not lineno:
        return 0
    row = min(lineno - 1, len(index.starts) - 1)
    line = index.line_text(row).decode("utf-8", errors="replace")
    chars = max(0, min((col or 1) - 1, len(line)))
    return index.starts[row] + len(line[:chars].encode("utf-8"))


def broken_roots(tree: Syntax) -> list[Node]:
    """The module nodes that syntax errors are under, in order: the root when it has an
    error; for a document cut into chunks (``drain_ls.forest``), the roots of its broken
    chunks, read as they are (a chunk that an edit only moved is not parsed again for
    this: the offsets and types of its nodes are right)."""
    if isinstance(tree, Forest):
        return tree.broken_roots()
    root = tree.root_node
    return [root] if root.has_error else []


def first_error_offset(tree: Syntax) -> int:
    """Byte offset of the first ERROR or MISSING node (depth first)."""
    roots = broken_roots(tree)
    node = roots[0] if roots else tree.root_node
    while True:
        for child in node.children:
            if child.has_error or child.is_missing or child.type == "ERROR":
                if child.type == "ERROR" or child.is_missing:
                    return child.start_byte
                node = child
                break
        else:
            return node.start_byte
