"""The line index of a text: where each line starts, line breaks as LSP says (``\\n``,
``\\r\\n`` and ``\\r``), kept in blocks and spliced at each edit (``LineStarts``), and the
count of the lines an edit adds or removes (``_line_delta``)."""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from itertools import accumulate

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


# The line index is kept in blocks of whole lines of about this many bytes (``LineStarts``).
BLOCK_BYTES = 1 << 14


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
