"""Positions in a text: LSP's line and character in the negotiated encoding, and byte offsets.

Positions cross the LSP boundary in the negotiated encoding (``utf-8``, ``utf-16`` or
``utf-32``); ``Text.offset_at`` and ``Text.position_at`` (a ``Document`` is a ``Text``) are
the one place that converts them to and from byte offsets. Line breaks are ``\\n``,
``\\r\\n`` and ``\\r``, as LSP says (the line index: ``drain_ls.lsp.line_starts``).

Text from the client is stored as UTF-8. JSON can carry a lone surrogate ("\\ud800") that
UTF-8 cannot: it is replaced with U+FFFD in the server's copy (``encode_text``). U+FFFD counts
as one UTF-16 unit and one code point, as the lone surrogate does in the editor, and three
UTF-8 bytes, as it does in WTF-8 (and once an editor replaces it): positions stay the editor's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drain_ls.lsp.line_starts import LineStarts

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"
ENCODINGS = (UTF8, UTF16, UTF32)


class PositionError(ValueError):
    """A position that does not exist in the document."""


@dataclass(frozen=True, slots=True)
class Position:
    """An LSP position: 0-based line and character in the negotiated encoding."""

    line: int
    character: int


_PAIR = re.compile(r"[\ud800-\udbff][\udc00-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _join_pair(match: re.Match[str]) -> str:
    return match.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le")


def encode_text(text: str) -> tuple[bytes, int]:
    """``text`` as UTF-8, and how many lone surrogates were replaced with U+FFFD.

    Two surrogates that form a pair are one character (as in the editor's UTF-16); any other
    surrogate is one U+FFFD, which keeps every position the editor computes (module doc).
    """
    try:
        return text.encode("utf-8"), 0
    except UnicodeEncodeError:
        pass
    text = _PAIR.sub(_join_pair, text)
    text, count = _SURROGATE.subn("\ufffd", text)
    return text.encode("utf-8"), count


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


class Text:
    """Bytes and their line index, with positions in an encoding: what a change set is
    checked against before a document is edited (``Document.apply_changes``)."""

    __slots__ = ("encoding", "source", "starts")

    def __init__(self, source: bytes, encoding: str, starts: LineStarts | None = None) -> None:
        """``source`` (``starts``: its line index, when known)."""
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown position encoding {encoding!r}")
        self.encoding = encoding
        self.source = source
        self.starts = LineStarts(source) if starts is None else starts

    def line_bytes(self, row: int) -> bytes:
        """The bytes of line ``row`` without its line break."""
        start = self.starts[row]
        end = self.starts.start_of(row + 1)
        if end is None:
            end = len(self.source)
        else:
            end -= 2 if self.source[end - 2 : end] == b"\r\n" else 1
        return self.source[start:end]

    def offset_at(self, position: Position, strict: bool = False) -> int:
        """Byte offset of an LSP position.

        A character past the end of its line means the line's end (the LSP rule). A line past
        the last one means the end of the document, or a ``PositionError`` when ``strict``.
        """
        if position.line < 0 or position.character < 0:
            raise PositionError(f"negative position {position.line}:{position.character}")
        start = self.starts.start_of(position.line)
        if start is None:
            if strict:
                raise PositionError(
                    f"line {position.line} is past the end of the document "
                    f"({len(self.starts)} lines)"
                )
            return len(self.source)
        line = self.line_bytes(position.line)
        return start + _byte_column(line, position.character, self.encoding)

    def position_at(self, offset: int) -> Position:
        """LSP position of a byte offset (clamped to the document)."""
        offset = max(0, min(offset, len(self.source)))
        row, start = self.starts.locate(offset)
        prefix = self.source[start:offset]
        if prefix.isascii():
            return Position(row, len(prefix))
        if self.encoding == UTF8:
            return Position(row, len(prefix))
        return Position(row, _units(prefix.decode("utf-8", errors="replace"), self.encoding))

    def row_of(self, offset: int) -> int:
        """0-based line of a byte offset."""
        return self.starts.row_of(offset)

    def range_at(self, start: Position, end: Position) -> tuple[int, int]:
        """The byte range of an LSP range (``PositionError``: it is not in the text)."""
        a = self.offset_at(start, strict=True)
        b = self.offset_at(end, strict=True)
        if b < a:
            raise PositionError(
                f"the range ends ({end.line}:{end.character}) before it starts "
                f"({start.line}:{start.character})"
            )
        return a, b
