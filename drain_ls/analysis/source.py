"""Source text helpers: parsing, the line index and byte <-> (row, column) conversion.

Line breaks are ``\\n``, ``\\r\\n`` and ``\\r`` only (the LSP definition), never form feeds
or U+2028 as ``str.splitlines`` would have it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import cache

import tree_sitter_python
from tree_sitter import Language, Node, Parser, Tree

PY_LANGUAGE = Language(tree_sitter_python.language())

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


@cache
def _parser() -> Parser:
    return Parser(PY_LANGUAGE)


def parse(source: bytes, old_tree: Tree | None = None) -> Tree:
    """Parse Python source bytes, reusing ``old_tree`` (already edited) when given."""
    if old_tree is None:
        return _parser().parse(source)
    return _parser().parse(source, old_tree)


def line_starts(source: bytes) -> list[int]:
    """Byte offset of the start of every line (the first is always 0)."""
    starts = [0]
    starts.extend(m.end() for m in _LINE_BREAK.finditer(source))
    return starts


class LineIndex:
    """Maps byte offsets to rows and columns of one immutable source."""

    __slots__ = ("source", "starts")

    def __init__(self, source: bytes) -> None:
        self.source = source
        self.starts = line_starts(source)

    def row_of(self, offset: int) -> int:
        """0-based row containing byte ``offset``."""
        return bisect_right(self.starts, offset) - 1

    def line_end(self, row: int) -> int:
        """Byte offset just past the content of ``row`` (before its line break)."""
        if row + 1 < len(self.starts):
            end = self.starts[row + 1]
            if self.source[end - 2 : end] == b"\r\n":
                return end - 2
            return end - 1
        return len(self.source)

    def line_text(self, row: int) -> bytes:
        """The bytes of ``row`` without its line break."""
        return self.source[self.starts[row] : self.line_end(row)]

    def char_position(self, offset: int) -> tuple[int, int]:
        """0-based (row, column in Unicode code points) of byte ``offset``."""
        row = self.row_of(offset)
        prefix = self.source[self.starts[row] : offset]
        return row, len(prefix.decode("utf-8", errors="replace"))


def node_text(node: Node) -> str:
    """The text of a node, decoded as UTF-8."""
    text = node.text
    return text.decode("utf-8", errors="replace") if text is not None else ""


# Bytes that may continue a Python identifier (any non-ASCII byte may be part of one).
_IDENTIFIER_BYTES = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
) | frozenset(range(0x80, 0x100))


def word_occurrences(source: bytes, word: bytes) -> list[tuple[int, int]]:
    """Byte ranges where ``word`` occurs as a whole identifier-like word (comments and
    strings included: callers classify each hit with the tree)."""
    found = []
    size = len(word)
    limit = len(source)
    i = source.find(word)
    while i >= 0:
        j = i + size
        if (i == 0 or source[i - 1] not in _IDENTIFIER_BYTES) and (
            j >= limit or source[j] not in _IDENTIFIER_BYTES
        ):
            found.append((i, j))
        i = source.find(word, j)
    return found
