"""Source text helpers: parsing, the line index and byte <-> (row, column) conversion.

Line breaks are ``\\n``, ``\\r\\n`` and ``\\r`` only (the LSP definition), never form feeds
or U+2028 as ``str.splitlines`` would have it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import cache
from itertools import accumulate
from typing import Protocol

import tree_sitter_python
from tree_sitter import Language, Node, Parser, Tree

PY_LANGUAGE = Language(tree_sitter_python.language())

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


class Syntax(Protocol):
    """A parse of a whole source: a tree-sitter ``Tree``, or an open document's ``Forest``
    (``drain_ls.forest``), whose root stands for the module node of its chunks."""

    @property
    def root_node(self) -> Node:
        """The module node."""
        ...


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
    if b"\r" not in source:
        # The common case, at C speed: lengths of the "\n"-separated pieces, accumulated.
        return list(accumulate((len(line) + 1 for line in source.split(b"\n")[:-1]), initial=0))
    starts = [0]
    starts.extend(m.end() for m in _LINE_BREAK.finditer(source))
    return starts


class LineIndex:
    """Maps byte offsets to rows and columns of one immutable source.

    The table of line starts is built only when needed: for a source with "\\n" line
    breaks only, rows of increasing offsets are counted incrementally (C speed), which is
    all that reporting a few findings of a file takes.
    """

    __slots__ = ("_last", "_plain", "_starts", "source")

    def __init__(self, source: bytes) -> None:
        """Index ``source``; nothing is computed until a position is asked for."""
        self.source = source
        self._starts: list[int] | None = None
        self._plain = b"\r" not in source
        self._last = (0, 0)

    @property
    def starts(self) -> list[int]:
        """Byte offset of the start of every line."""
        if self._starts is None:
            self._starts = line_starts(self.source)
        return self._starts

    def row_of(self, offset: int) -> int:
        """0-based row containing byte ``offset``."""
        if self._starts is None and self._plain:
            last_offset, last_row = self._last
            # Count from the last offset asked about, in either direction: callers go
            # through a file's findings in order, each asking for a start and an end.
            if offset >= last_offset:
                row = last_row + self.source.count(b"\n", last_offset, offset)
            else:
                row = last_row - self.source.count(b"\n", offset, last_offset)
            self._last = (offset, row)
            return row
        return bisect_right(self.starts, offset) - 1

    def line_start_of(self, offset: int) -> int:
        """Byte offset of the start of the line containing ``offset``."""
        if self._starts is None and self._plain:
            return self.source.rfind(b"\n", 0, offset) + 1
        return self.starts[self.row_of(offset)]

    def line_end(self, row: int) -> int:
        """Byte offset just past the content of ``row`` (before its line break)."""
        starts = self.starts
        if row + 1 < len(starts):
            end = starts[row + 1]
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
        prefix = self.source[self.line_start_of(offset) : offset]
        if prefix.isascii():
            return row, len(prefix)
        return row, len(prefix.decode("utf-8", errors="replace"))


def node_text(node: Node) -> str:
    """The text of a node, decoded as UTF-8."""
    text = node.text
    return text.decode("utf-8", errors="replace") if text is not None else ""


# Bytes that may continue a Python identifier (any non-ASCII byte may be part of one).
IDENTIFIER_BYTES = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
) | frozenset(range(0x80, 0x100))


def word_occurrences(source: bytes, word: bytes) -> list[tuple[int, int]]:
    """Byte ranges where ``word`` occurs as a whole identifier-like word (comments and
    strings included: callers classify each hit with the tree)."""
    found: list[tuple[int, int]] = []
    size = len(word)
    if not size:
        return found
    limit = len(source)
    i = source.find(word)
    while i >= 0:
        j = i + size
        if (i == 0 or source[i - 1] not in IDENTIFIER_BYTES) and (
            j >= limit or source[j] not in IDENTIFIER_BYTES
        ):
            found.append((i, j))
        i = source.find(word, j)
    return found
