"""Open documents: their bytes, line index and tree-sitter tree, edited incrementally.

pygls applies every ``didChange`` to its own copy before our handler runs, so the server keeps
its own: ``Document.apply_change`` replaces a range of bytes, updates the line index by
splicing, tells the old tree about the edit (``tree.edit``) and reparses with it.

Positions cross the LSP boundary in the negotiated encoding (``utf-8``, ``utf-16`` or
``utf-32``); ``Document.offset_at`` and ``Document.position_at`` are the one place that converts
them to and from byte offsets. Line breaks are ``\\n``, ``\\r\\n`` and ``\\r``, as LSP says.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import NamedTuple

from drain_ls.analysis.incremental import ChangeLog
from drain_ls.analysis.source import IDENTIFIER_BYTES, line_starts
from drain_ls.forest import Forest

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"
ENCODINGS = (UTF8, UTF16, UTF32)

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


class PositionError(ValueError):
    """A position that does not exist in the document."""


@dataclass(frozen=True, slots=True)
class Position:
    """An LSP position: 0-based line and character in the negotiated encoding."""

    line: int
    character: int


def _units(text: str, encoding: str) -> int:
    """Length of ``text`` in the code units of ``encoding``."""
    if encoding == UTF32:
        return len(text)
    if encoding == UTF16:
        return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
    return len(text.encode("utf-8"))


def _byte_column(line: bytes, character: int, encoding: str) -> int:
    """Byte offset within ``line`` of ``character`` code units (clamped to the line's end).

    A character inside a multi-unit character (the middle of a surrogate pair or of a UTF-8
    sequence) snaps back to that character's start.
    """
    if character <= 0:
        return 0
    if line.isascii():
        return min(character, len(line))
    if encoding == UTF8:
        column = min(character, len(line))
        while column > 0 and column < len(line) and (line[column] & 0xC0) == 0x80:
            column -= 1
        return column
    text = line.decode("utf-8", errors="surrogateescape")
    units = 0
    offset = 0
    for ch in text:
        width = 2 if encoding == UTF16 and ord(ch) > 0xFFFF else 1
        if units + width > character:
            break
        units += width
        offset += len(ch.encode("utf-8", errors="surrogateescape"))
    return offset


class TextShift(NamedTuple):
    """How a document's text moved between two moments: the text before
    ``unchanged_before`` did not change; every offset from ``moved_from`` on holds the text
    that was ``delta`` bytes and ``lines`` lines earlier, at the same character of its line.
    """

    unchanged_before: int
    moved_from: int
    delta: int
    lines: int


UNMOVED = TextShift(sys.maxsize, 0, 0, 0)
REPLACED = TextShift(0, sys.maxsize, 0, 0)  # a full change: anything may have moved


class Document:
    """One open text document."""

    __slots__ = (
        "_shift",
        "_tree",
        "changes",
        "encoding",
        "language_id",
        "source",
        "starts",
        "uri",
        "version",
    )

    def __init__(
        self,
        uri: str,
        source: bytes,
        version: int | None = None,
        encoding: str = UTF16,
        language_id: str = "python",
    ) -> None:
        """A document holding ``source``, parsed at once."""
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown position encoding {encoding!r}")
        self.uri = uri
        self.version = version
        self.encoding = encoding
        self.language_id = language_id
        self.source = source
        self.starts = line_starts(source)
        self._tree: Forest | None = Forest(source)
        # What changed since the last analysis (for re-analysing only that).
        self.changes = ChangeLog()
        self._shift = UNMOVED  # how the text moved since the last ``take_shift``

    @property
    def tree(self) -> Forest:
        """The syntax tree (parsed again if it was dropped to save memory): one tree, or
        one per chunk of a large file once it is edited (see ``drain_ls.forest``)."""
        if self._tree is None:
            self._tree = Forest(self.source)
        return self._tree

    def drop_tree(self) -> None:
        """Free the tree of a document no one is editing; it comes back on demand."""
        self._tree = None

    @property
    def has_tree(self) -> bool:
        """Whether the tree is in memory."""
        return self._tree is not None

    @property
    def text(self) -> str:
        """The document's text."""
        return self.source.decode("utf-8", errors="surrogateescape")

    # -- positions ------------------------------------------------------------------------

    def line_bytes(self, row: int) -> bytes:
        """The bytes of line ``row`` without its line break."""
        start = self.starts[row]
        if row + 1 < len(self.starts):
            end = self.starts[row + 1]
            end -= 2 if self.source[end - 2 : end] == b"\r\n" else 1
        else:
            end = len(self.source)
        return self.source[start:end]

    def offset_at(self, position: Position, strict: bool = False) -> int:
        """Byte offset of an LSP position.

        A character past the end of its line means the line's end (the LSP rule). A line past
        the last one means the end of the document, or a ``PositionError`` when ``strict``.
        """
        if position.line < 0 or position.character < 0:
            raise PositionError(f"negative position {position.line}:{position.character}")
        if position.line >= len(self.starts):
            if strict:
                raise PositionError(
                    f"line {position.line} is past the end of the document "
                    f"({len(self.starts)} lines)"
                )
            return len(self.source)
        line = self.line_bytes(position.line)
        return self.starts[position.line] + _byte_column(line, position.character, self.encoding)

    def position_at(self, offset: int) -> Position:
        """LSP position of a byte offset (clamped to the document)."""
        offset = max(0, min(offset, len(self.source)))
        row = bisect_right(self.starts, offset) - 1
        start = self.starts[row]
        prefix = self.source[start:offset]
        if prefix.isascii():
            return Position(row, len(prefix))
        if self.encoding == UTF8:
            return Position(row, len(prefix))
        return Position(row, _units(prefix.decode("utf-8", errors="replace"), self.encoding))

    def row_of(self, offset: int) -> int:
        """0-based line of a byte offset."""
        return bisect_right(self.starts, offset) - 1

    # -- edits ----------------------------------------------------------------------------

    def replace(self, start: int, end: int, text: str, version: int | None = None) -> None:
        """Replace bytes ``[start, end)`` with ``text``; update the lines and the tree."""
        new = text.encode("utf-8", errors="surrogateescape")
        old = self.source
        source = old[:start] + new + old[end:]
        new_end = start + len(new)
        forest = self.tree
        lines = len(self.starts)
        self._splice_lines(source, start, end, new_end)
        self.source = source
        # The lines after the one where the inserted text ends are the old lines, moved.
        row = bisect_right(self.starts, new_end)
        after = self.starts[row] if row < len(self.starts) else len(source) + 1
        shift = self._shift
        self._shift = TextShift(
            min(shift.unchanged_before, start),
            max(after, shift.moved_from + new_end - end),
            shift.delta + new_end - end,
            shift.lines + len(self.starts) - lines,
        )
        changed = forest.edit(source, start, end, new_end)
        self.changes.add(start, end, new_end, _words_around(old, start, end), changed)
        if version is not None:
            self.version = version

    def take_shift(self) -> TextShift:
        """How the text moved since the last call."""
        shift, self._shift = self._shift, UNMOVED
        return shift

    def replace_all(self, text: str, version: int | None = None) -> None:
        """Replace the whole text (a full-document change)."""
        self.source = text.encode("utf-8", errors="surrogateescape")
        self.starts = line_starts(self.source)
        self._tree = Forest(self.source)
        self.changes.full = True
        self._shift = REPLACED
        if version is not None:
            self.version = version

    def _splice_lines(self, source: bytes, start: int, end: int, new_end: int) -> None:
        """Update the line starts after bytes ``[start, end)`` became ``[start, new_end)``.

        Line starts before ``start`` cannot change. Those more than one byte past ``end`` only
        shift. The rest is re-scanned from ``start - 1``, since a "\\r" just before the edit
        and a "\\n" just after it may now pair up into one "\\r\\n" break, or split apart.
        """
        starts = self.starts
        head = starts[: bisect_left(starts, start)] or [0]
        delta = new_end - end
        tail = [t + delta for t in starts[bisect_right(starts, end + 1) :]]
        region_end = tail[0] if tail else len(source)
        middle = [
            m.end()
            for m in _LINE_BREAK.finditer(source, max(0, start - 1), region_end)
            if not (tail and m.end() == region_end)
        ]
        self.starts = head + middle + tail


def _words_around(source: bytes, start: int, end: int) -> bytes:
    """The deleted bytes, widened to whole words: a name the edit cut in two is in it."""
    while start > 0 and source[start - 1] in IDENTIFIER_BYTES:
        start -= 1
    while end < len(source) and source[end] in IDENTIFIER_BYTES:
        end += 1
    return source[start:end]
