"""Open documents: their bytes, line index and tree-sitter tree, edited incrementally.

pygls applies every ``didChange`` to its own copy before our handler runs, so the server keeps
its own: ``Document.replace`` replaces a range of bytes, updates the line index by
splicing, tells the old tree about the edit (``tree.edit``) and reparses with it.

Positions cross the LSP boundary in the negotiated encoding (``utf-8``, ``utf-16`` or
``utf-32``); ``Document.offset_at`` and ``Document.position_at`` are the one place that converts
them to and from byte offsets. Line breaks are ``\\n``, ``\\r\\n`` and ``\\r``, as LSP says.

A ``didChange`` is applied as a whole or not at all (``Document.apply_changes``): every change
is checked against the text the ones before it leave, and only then is the document edited.

Text from the client is stored as UTF-8. JSON can carry a lone surrogate ("\\ud800") that
UTF-8 cannot: it is replaced with U+FFFD in the server's copy (``encode_text``). U+FFFD counts
as one UTF-16 unit and one code point, as the lone surrogate does in the editor, and three
UTF-8 bytes, as it does in WTF-8 (and once an editor replaces it): positions stay the editor's.
The document is then ``lossy``: an edit whose new text holds U+FFFD could write the
replacement over the editor's character, so the server offers none (see ``handlers``).
"""

from __future__ import annotations

import logging
import re
import sys
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import NamedTuple

from drain_ls.analysis.forest import Forest
from drain_ls.analysis.incremental import ChangeLog
from drain_ls.analysis.source import IDENTIFIER_BYTES

logger = logging.getLogger(__name__)

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"
ENCODINGS = (UTF8, UTF16, UTF32)

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


class PositionError(ValueError):
    """A position that does not exist in the document."""


class ChangeError(ValueError):
    """A change set that cannot be applied; the document is left as it was."""


@dataclass(frozen=True, slots=True)
class Position:
    """An LSP position: 0-based line and character in the negotiated encoding."""

    line: int
    character: int


class Change(NamedTuple):
    """One content change of a ``didChange``: a range, or None for the whole text."""

    start: Position | None
    end: Position | None
    text: str


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


# The line index is kept in blocks of whole lines of about this many bytes (``LineStarts``).
BLOCK_BYTES = 1 << 16


def _breaks(source: bytes, begin: int, end: int, plain: bool = False) -> int:
    """How many line breaks bytes ``[begin, end)`` hold (``plain``: no "\\r" in them)."""
    lf = source.count(b"\n", begin, end)
    if plain:
        return lf
    return lf + source.count(b"\r", begin, end) - source.count(b"\r\n", begin, end)


def _line_delta(old: bytes, new: bytes, start: int, end: int, new_end: int) -> int:
    """How many lines ``new`` has more than ``old``, whose bytes ``[start, end)`` became
    ``[start, new_end)``: the breaks around the edit (a "\\r" just before it and a "\\n"
    just after it may pair up or split apart), counted before and after."""
    begin = max(0, start - 1)
    return _breaks(new, begin, min(new_end + 1, len(new))) - _breaks(
        old, begin, min(end + 1, len(old))
    )


def _cuts(source: bytes, begin: int, end: int, block: int, plain: bool) -> list[int]:
    """The first offsets of blocks of whole lines, of at least ``block`` bytes but the last,
    that cover ``[begin, end)`` (``begin`` and ``end`` are line starts, or the text's end)."""
    cuts = [begin]
    at = begin + block
    while at < end:
        if plain:
            found = source.find(b"\n", at - 1, end)
            cut = found + 1 if found >= 0 else end
        else:
            match = _LINE_BREAK.search(source, at - 1, end)
            cut = match.end() if match is not None else end
        if cut >= end:
            break
        cuts.append(cut)
        at = cut + block
    return cuts


class LineStarts:
    """The byte offset at which each line of a text starts (line breaks as LSP says), kept in
    blocks of whole lines of about ``BLOCK_BYTES`` bytes, so that neither its memory nor any
    one step grows with more than the text's size, at C speed:

    - the blocks' first offsets are found when the index is made (one search per block);
    - their lines are counted (``bytes.count``) when a row is first asked for, from the first
      block up to the one that holds it: a document over the size limit is counted only as
      far as it is edited;
    - the starts inside a block are listed when first needed, and kept as an ``array`` of
      offsets relative to the block (8 bytes a line, not a list of ``int`` objects);
    - an edit (``spliced``) lists again only the blocks it touches and moves the first offset
      and row of the blocks after them: a new index, sharing the other blocks' arrays (never
      changed in place), so that the index of the text before a change set stays valid.

    ``index[row]`` raises ``IndexError`` for a row past the end; ``start_of`` gives ``None``.
    """

    __slots__ = ("_block", "_lines", "_offs", "_plain", "_rows", "source")

    source: bytes
    _block: int
    _plain: bool  # no "\r" in the text: "\n" is the only line break
    _offs: list[int]  # the first offset of each block
    _rows: list[int]  # the first row of each block counted so far (then the number of lines)
    _lines: list[array[int] | None]  # the line starts of each block listed so far, relative

    def __init__(self, source: bytes, block: int | None = None) -> None:
        """The line index of ``source`` (``block``: bytes per block, ``BLOCK_BYTES``)."""
        self.source = source
        self._block = max(1, BLOCK_BYTES if block is None else block)
        self._plain = b"\r" not in source
        self._offs = _cuts(source, 0, len(source), self._block, self._plain)
        self._rows = [0]
        self._lines = [None] * len(self._offs)

    def __len__(self) -> int:
        """The number of lines (at least 1)."""
        while self._count_next():
            pass
        return self._rows[-1]

    def __getitem__(self, row: int) -> int:
        """The first offset of line ``row`` (negative: from the end)."""
        if row < 0:
            row += len(self)
        start = self.start_of(row)
        if start is None:
            raise IndexError(f"line {row} is past the end")
        return start

    def __iter__(self) -> Iterator[int]:
        """Every line start, in order."""
        for k, base in enumerate(self._offs):
            for offset in self._listed(k):
                yield base + offset

    def __repr__(self) -> str:
        """How many blocks, and how many lines counted so far."""
        return f"LineStarts({len(self._offs)} blocks, {len(self._rows) - 1} counted)"

    def start_of(self, row: int) -> int | None:
        """The first offset of line ``row`` (None: there is no such line)."""
        if row < 0:
            return None
        rows = self._rows
        while rows[-1] <= row and self._count_next():
            pass
        if rows[-1] <= row:
            return None
        k = bisect_right(rows, row) - 1
        return self._offs[k] + self._listed(k)[row - rows[k]]

    def locate(self, offset: int) -> tuple[int, int]:
        """The line holding byte ``offset`` (0 or more): its row and first offset."""
        k = max(bisect_right(self._offs, offset) - 1, 0)
        while len(self._rows) <= k:
            self._count_next()
        lines = self._listed(k)
        base = self._offs[k]
        i = max(bisect_right(lines, offset - base) - 1, 0)
        return self._rows[k] + i, base + lines[i]

    def row_of(self, offset: int) -> int:
        """0-based line of a byte offset (-1 before the text)."""
        return -1 if offset < 0 else self.locate(offset)[0]

    def spliced(self, source: bytes, start: int, end: int, new_end: int) -> LineStarts:
        """The line index of ``source``: this text with bytes ``[start, end)`` replaced by
        ``source[start:new_end]``.

        The blocks from the one holding ``start - 1`` (a "\\r" before the edit and a "\\n"
        after it may pair up) to the one holding ``end`` are cut again; those after them only
        move (each begins after a line break the edit left alone).
        """
        offs, n, delta, block = self._offs, len(self._offs), new_end - end, self._block
        k1 = max(bisect_right(offs, start - 1) - 1, 0)
        k2 = max(bisect_right(offs, end) - 1, k1)
        if k2 + 1 < n and offs[k2 + 1] + delta - offs[k1] < block // 4:
            k2 += 1  # what is left of the blocks is small: one with the next
        last = k2 + 1 == n
        region_end = len(source) if last else offs[k2 + 1] + delta
        if last and region_end == offs[k1] and k1 > 0:
            k1 -= 1  # the text now ends where block k1 began: the block before becomes the last
        begin = offs[k1]
        plain = self._plain and source.find(b"\r", start, new_end) < 0
        cuts = _cuts(source, begin, region_end, block, plain) if region_end > begin or last else []
        rows = self._rows
        new_rows = rows[: k1 + 1]
        if len(rows) > k2 + 1:  # the row after the region is known: so are the ones after it
            row = new_rows[-1]
            for i, cut in enumerate(cuts):
                final = i + 1 == len(cuts)
                row += _breaks(source, cut, region_end if final else cuts[i + 1], plain)
                row += last and final  # the last block holds the start after the last break
                new_rows.append(row)
            moved = row - rows[k2 + 1]
            new_rows += [r + moved for r in rows[k2 + 2 :]]
        index = LineStarts.__new__(LineStarts)
        index.source = source
        index._block = block
        index._plain = plain
        index._offs = offs[:k1] + cuts + [o + delta for o in offs[k2 + 1 :]]
        index._rows = new_rows
        index._lines = self._lines[:k1] + [None] * len(cuts) + self._lines[k2 + 1 :]
        return index

    def _count_next(self) -> bool:
        """Count the lines of the first block not counted yet (False: all are)."""
        rows = self._rows
        k = len(rows) - 1
        if k >= len(self._offs):
            return False
        listed = self._lines[k]
        if listed is not None:
            count = len(listed)
        else:
            last = k + 1 == len(self._offs)
            end = len(self.source) if last else self._offs[k + 1]
            count = _breaks(self.source, self._offs[k], end, self._plain) + last
        rows.append(rows[-1] + count)
        return True

    def _listed(self, k: int) -> array[int]:
        """The line starts of block ``k``, relative to its first offset."""
        listed = self._lines[k]
        if listed is None:
            source, begin = self.source, self._offs[k]
            last = k + 1 == len(self._offs)
            end = len(source) if last else self._offs[k + 1]
            # bytes.splitlines breaks lines where LSP does: "\\n", "\\r\\n" and "\\r".
            lines = source[begin:end].splitlines(keepends=True)
            listed = array("q", accumulate(map(len, lines[:-1]), initial=0))
            if last and lines and lines[-1][-1] in b"\r\n":
                listed.append(end - begin)  # the empty line after the text's last break
            self._lines[k] = listed
        return listed


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


# A planned change: bytes ``[start, end)`` become ``data`` (``start`` None: the whole text).
_Edit = tuple[int | None, int, bytes]


class Document(Text):
    """One open text document.

    A document over ``limit`` bytes is never parsed: its ``tree`` is that of an empty module
    until an edit brings it back under the limit (``not_analysed`` says why).
    ``out_of_sync`` (set by the server) is why its text may differ from the editor's.
    """

    __slots__ = (
        "_changes",
        "_pending",
        "_shift",
        "_tree",
        "language_id",
        "limit",
        "lossy",
        "out_of_sync",
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
        limit: int | None = None,
        lossy: bool = False,
    ) -> None:
        """A document holding ``source``, parsed at once (unless over ``limit`` bytes);
        ``lossy``: its text had characters replaced (``encode_text``)."""
        super().__init__(source, encoding)
        self.uri = uri
        self.version = version
        self.language_id = language_id
        self.limit = limit
        self.lossy = lossy
        self.out_of_sync: str | None = None
        self._tree: Forest | None = Forest(b"" if self.too_large else source)
        # What changed since the last analysis (for re-analysing only that).
        self._changes = ChangeLog()
        # Edits made to the text, not yet to the tree (``apply_changes``, ``defer``).
        self._pending: list[tuple[bytes, int, int, int, bytes]] = []
        self._shift = UNMOVED  # how the text moved since the last ``take_shift``

    @property
    def too_large(self) -> bool:
        """Whether the text is over the size limit (it is then neither parsed nor analysed)."""
        return self.limit is not None and len(self.source) > self.limit

    @property
    def not_analysed(self) -> str | None:
        """Why the document is not analysed (None: it is)."""
        if not self.too_large:
            return None
        return (
            f"drain-ls does not analyse this file: it is {len(self.source):,} bytes, "
            f"over the limit of {self.limit:,} (diagnostics.maxFileBytes)"
        )

    @property
    def tree(self) -> Forest:
        """The syntax tree (parsed again if it was dropped to save memory): one tree, or
        one per chunk of a large file once it is edited (see ``drain_ls.analysis.forest``); that of
        an empty module while the document is ``too_large``."""
        if self._tree is None:
            self._tree = Forest(b"" if self.too_large else self.source)
        elif self._pending:
            self._catch_up()
        return self._tree

    @property
    def changes(self) -> ChangeLog:
        """What changed since the last analysis (its ``reset``), the tree's edits included."""
        if self._pending:
            self._catch_up()
        return self._changes

    def _catch_up(self) -> None:
        """Make the edits the tree has not seen yet, in order."""
        pending, self._pending = self._pending, []
        forest = self._tree
        assert forest is not None
        try:
            for source, start, end, new_end, words in pending:
                changed = forest.edit(source, start, end, new_end)
                self._changes.add(start, end, new_end, words, changed)
        except Exception:  # a bug: parse the text afresh rather than keep a wrong tree
            logger.exception("reparsing %s after an edit failed: parsed afresh", self.uri)
            self._tree = Forest(self.source)
            self._changes.full = True

    def drop_tree(self) -> None:
        """Free the tree of a document no one is editing; it comes back on demand."""
        if self._pending:
            self._pending = []
            self._changes.full = True
        self._tree = None

    @property
    def has_tree(self) -> bool:
        """Whether the tree is in memory."""
        return self._tree is not None

    @property
    def text(self) -> str:
        """The document's text."""
        return self.source.decode("utf-8", errors="surrogateescape")

    # -- edits ----------------------------------------------------------------------------

    def apply_changes(
        self,
        changes: Sequence[Change],
        version: int | None = None,
        on_edit: Callable[[int, int, int], object] | None = None,
    ) -> None:
        """Apply a change set (each change relative to the text the ones before it leave)
        as a whole, or not at all.

        Every change is checked first; a change set that cannot be applied raises
        ``ChangeError`` and leaves the text, tree and version as they were. The changes
        before the last whole-text one are overwritten by it and are not looked at.
        ``on_edit(start, old_end, new_end)`` is called before each edit is made. Once it
        returns true (it cancelled a drain, whose stream closes over the next turns of the
        event loop), the text is edited at once and the tree the first time it is read:
        the reparse does not delay the close.
        """
        plan = self._plan(changes)
        source, starts, version_before = self.source, self.starts, self.version
        defer = False
        try:
            for start, end, data in plan:
                if start is None:
                    if on_edit is not None:
                        on_edit(0, len(self.source), len(data))
                    self._replace_all_bytes(data)
                else:
                    if on_edit is not None and on_edit(start, end, start + len(data)):
                        defer = True
                    self.replace(start, end, data, defer=defer)
        except Exception as exc:  # a bug: never leave half a change set applied
            self._replace_all_bytes(source)
            self.starts = starts
            self.version = version_before
            raise ChangeError(f"internal error: {type(exc).__name__}: {exc}") from exc
        if version is not None:
            self.version = version

    def _plan(self, changes: Sequence[Change]) -> list[_Edit]:
        """The byte edits of a change set, each checked against the text before it."""
        first = max((i for i, c in enumerate(changes) if c.start is None), default=0)
        changes = changes[first:]
        text: Text = self
        plan: list[_Edit] = []
        lossy = False
        for i, change in enumerate(changes):
            data, replaced = encode_text(change.text)
            lossy = lossy or replaced > 0
            last = i + 1 == len(changes)
            if change.start is None or change.end is None:
                if change.start is not change.end:
                    raise ChangeError("a change with half a range")
                plan.append((None, 0, data))
                if not last:
                    text = Text(data, self.encoding)
                continue
            try:
                start, end = text.range_at(change.start, change.end)
            except PositionError as exc:
                where = f"change {first + i + 1} of {first + len(changes)}: "
                raise ChangeError((where if len(changes) + first > 1 else "") + str(exc)) from None
            plan.append((start, end, data))
            if not last:
                source = _spliced_bytes(text.source, start, end, data)
                text = Text(
                    source,
                    self.encoding,
                    text.starts.spliced(source, start, end, start + len(data)),
                )
        if lossy:
            self.lossy = True
        return plan

    def replace(
        self,
        start: int,
        end: int,
        text: str | bytes,
        version: int | None = None,
        defer: bool = False,
    ) -> None:
        """Replace bytes ``[start, end)`` with ``text``; update the lines and the tree (when
        ``defer``, the first time the tree is read)."""
        if isinstance(text, bytes):
            new = text
        else:
            new, replaced = encode_text(text)
            self.lossy = self.lossy or replaced > 0
        old = self.source
        source = _spliced_bytes(old, start, end, new)
        new_end = start + len(new)
        was_large = self.too_large
        if self._pending and not defer:
            self._catch_up()  # a deferred change set's edits never wait behind the next one
        forest = None if was_large else (self._tree if self._pending else self.tree)
        self.starts = self.starts.spliced(source, start, end, new_end)
        self.source = source
        # The lines after the one where the inserted text ends are the old lines, moved.
        after = self.starts.start_of(self.starts.row_of(new_end) + 1)
        if after is None:
            after = len(source) + 1
        shift = self._shift
        self._shift = TextShift(
            min(shift.unchanged_before, start),
            max(after, shift.moved_from + new_end - end),
            shift.delta + new_end - end,
            shift.lines + _line_delta(old, source, start, end, new_end),
        )
        if forest is None or self.too_large:
            # Into or out of (or within) the size limit: nothing to reparse incrementally.
            self._pending = []
            self._tree = Forest(b"" if self.too_large else source)
            self._changes.full = True
            if was_large != self.too_large:
                self._shift = REPLACED
        elif defer:
            self._pending.append((source, start, end, new_end, _words_around(old, start, end)))
        else:
            changed = forest.edit(source, start, end, new_end)
            self._changes.add(start, end, new_end, _words_around(old, start, end), changed)
        if version is not None:
            self.version = version

    def verify_syntax(self) -> bool:
        """Finish what keystrokes left for a pause (``Forest.verify``); whether the syntax
        changed (recorded for the analysis)."""
        if self._tree is None:
            return False
        changed = self.tree.verify()
        if changed:
            self._changes.add(0, 0, 0, b"", changed)
        return bool(changed)

    def take_shift(self) -> TextShift:
        """How the text moved since the last call."""
        shift, self._shift = self._shift, UNMOVED
        return shift

    def replace_all(self, text: str, version: int | None = None) -> None:
        """Replace the whole text (a full-document change)."""
        data, replaced = encode_text(text)
        self.lossy = replaced > 0
        self._replace_all_bytes(data)
        if version is not None:
            self.version = version

    def _replace_all_bytes(self, data: bytes) -> None:
        self.source = data
        self.starts = LineStarts(data)
        self._pending = []
        self._tree = Forest(b"" if self.too_large else data)
        self._changes.full = True
        self._shift = REPLACED


def _spliced_bytes(source: bytes, start: int, end: int, data: bytes) -> bytes:
    """``source`` with bytes ``[start, end)`` replaced by ``data``: one copy, not three (a
    keystroke in a 30 MB text costs one 30 MB copy)."""
    view = memoryview(source)
    return b"".join((view[:start], data, view[end:]))


def _words_around(source: bytes, start: int, end: int) -> bytes:
    """The deleted bytes, widened to whole words: a name the edit cut in two is in it."""
    while start > 0 and source[start - 1] in IDENTIFIER_BYTES:
        start -= 1
    while end < len(source) and source[end] in IDENTIFIER_BYTES:
        end += 1
    return source[start:end]
