"""Open documents: their bytes, line index and tree-sitter tree, edited incrementally.

pygls applies every ``didChange`` to its own copy before our handler runs, so the server keeps
its own: ``Document.replace`` replaces a range of bytes, updates the line index by
splicing, tells the old tree about the edit (``tree.edit``) and reparses with it.

Positions and their encodings, and a text's line index, are in ``drain_ls.lsp.positions``
and ``drain_ls.lsp.line_starts``.

A ``didChange`` is applied as a whole or not at all (``Document.apply_changes``): every change
is checked against the text the ones before it leave, and only then is the document edited.

Text from the client is stored as UTF-8, a lone surrogate replaced with U+FFFD
(``drain_ls.lsp.positions.encode_text``: positions stay the editor's). The document is then
``lossy``: an edit whose new text holds U+FFFD could write the replacement over the editor's
character, so the server offers none (see ``handlers``).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

from drain_ls.analysis.forest import Forest
from drain_ls.analysis.incremental import ChangeLog
from drain_ls.analysis.source import IDENTIFIER_BYTES
from drain_ls.lsp.line_starts import LineStarts, _line_delta
from drain_ls.lsp.positions import UTF16, Position, PositionError, Text, encode_text

logger = logging.getLogger(__name__)


class ChangeError(ValueError):
    """A change set that cannot be applied; the document is left as it was."""


class Change(NamedTuple):
    """One content change of a ``didChange``: a range, or None for the whole text."""

    start: Position | None
    end: Position | None
    text: str


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


# A parse (or an edit's reparse) that takes longer than this, and as much again per MiB, makes
# the document one that is not parsed any more: tree-sitter-python takes time quadratic in the
# length of a few shapes of broken code (32,000 lines that are only a backslash: 15 s), and
# each keystroke would take as long again. Normal code parses at about 0.15 s per MiB, and the
# slowest real broken code measured at about 5 s per MiB.
SLOW_PARSE_SECONDS = 2.0
_MIB = 1 << 20

# A planned change: bytes ``[start, end)`` become ``data`` (``start`` None: the whole text).
_Edit = tuple[int | None, int, bytes]


class Document(Text):
    """One open text document.

    A document over ``limit`` bytes is never parsed: its ``tree`` is that of an empty module
    until an edit brings it back under the limit (``not_analysed`` says why). Nor is one whose
    parse was too slow (``SLOW_PARSE_SECONDS``), until it is opened again or an edit makes it
    less than half the size it was then.
    ``out_of_sync`` (set by the server) is why its text may differ from the editor's.
    """

    __slots__ = (
        "_changes",
        "_pending",
        "_shift",
        "_slow",
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
        # What changed since the last analysis (for re-analysing only that).
        self._changes = ChangeLog()
        # Edits made to the text, not yet to the tree (``apply_changes``, ``defer``).
        self._pending: list[tuple[bytes, int, int, int, bytes]] = []
        self._shift = UNMOVED  # how the text moved since the last ``take_shift``
        # The size of the text whose parse was too slow, and the seconds it took.
        self._slow: tuple[int, float] | None = None
        self._tree: Forest | None = self._parse(source)

    @property
    def too_large(self) -> bool:
        """Whether the text is over the size limit (it is then neither parsed nor analysed)."""
        return self.limit is not None and len(self.source) > self.limit

    @property
    def unparsed(self) -> bool:
        """Whether the text is not parsed: ``too_large``, or too slow to parse."""
        slow = self._slow
        return self.too_large or (slow is not None and 2 * len(self.source) > slow[0])

    @property
    def not_analysed(self) -> str | None:
        """Why the document is not analysed (None: it is)."""
        if self.too_large:
            return (
                f"drain-ls does not analyse this file: it is {len(self.source):,} bytes, "
                f"over the limit of {self.limit:,} (diagnostics.maxFileBytes)"
            )
        if self.unparsed:
            assert self._slow is not None
            return (
                f"drain-ls does not analyse this file: tree-sitter took {self._slow[1]:.1f} s "
                "to parse it (a shape of broken code it is slow on); reopen the file to try again"
            )
        return None

    def _parse(self, source: bytes) -> Forest:
        """``source``'s syntax (that of an empty module while the document is ``unparsed``),
        timed: a parse too slow makes it ``unparsed``."""
        if self.unparsed:
            return Forest(b"")
        start = time.perf_counter()
        forest = Forest(source)
        return forest if not self._too_slow(start) else Forest(b"")

    def _too_slow(self, start: float) -> bool:
        """Whether the parse that started at ``start`` (``time.perf_counter``) was too slow
        for the text: if so, the document is ``unparsed`` from now on (``SLOW_PARSE_SECONDS``)."""
        seconds = time.perf_counter() - start
        size = len(self.source)
        if seconds <= SLOW_PARSE_SECONDS * (1 + size / _MIB):
            return False
        logger.warning("%s: tree-sitter took %.1f s to parse it: not analysed", self.uri, seconds)
        self._slow = (size, seconds)
        self._changes.full = True
        self._shift = REPLACED
        return True

    @property
    def tree(self) -> Forest:
        """The syntax tree (parsed again if it was dropped to save memory): one tree, or
        one per chunk of a large file once it is edited (see ``drain_ls.analysis.forest``); that of
        an empty module while the document is ``too_large``."""
        if self._tree is None:
            self._tree = self._parse(self.source)
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
        began = time.perf_counter()
        try:
            for source, start, end, new_end, words in pending:
                changed = forest.edit(source, start, end, new_end)
                self._changes.add(start, end, new_end, words, changed)
        except Exception:  # a bug: parse the text afresh rather than keep a wrong tree
            logger.exception("reparsing %s after an edit failed: parsed afresh", self.uri)
            self._tree = self._parse(self.source)
            self._changes.full = True
            return
        if self._too_slow(began):
            self._tree = Forest(b"")

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
        was_unparsed = self.unparsed
        if self._pending and not defer:
            self._catch_up()  # a deferred change set's edits never wait behind the next one
            was_unparsed = self.unparsed
        forest = None if was_unparsed else (self._tree if self._pending else self.tree)
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
        if forest is None or self.unparsed:
            # Into or out of (or within) the size limit: nothing to reparse incrementally.
            self._pending = []
            self._changes.full = True
            if was_unparsed != self.unparsed:
                self._shift = REPLACED
            self._tree = self._parse(source)
        elif defer:
            self._pending.append((source, start, end, new_end, _words_around(old, start, end)))
        else:
            began = time.perf_counter()
            changed = forest.edit(source, start, end, new_end)
            self._changes.add(start, end, new_end, _words_around(old, start, end), changed)
            if self._too_slow(began):
                self._tree = Forest(b"")
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
        self._changes.full = True
        self._shift = REPLACED
        self._tree = self._parse(data)


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
