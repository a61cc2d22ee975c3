"""A document's syntax tree as one tree-sitter tree per run of module-level statements.

Why: tree-sitter-python's incremental reparse re-lexes everything from an edit to the end of
the file whenever the edit touches what its external scanner reads (a line start, leading
indentation, a line break): typing at the start of a line in a 10,000-line module costs as
much as parsing the whole file (~30 ms; ``benchmarks/reparse/RESULTS.md``). Cut into chunks
of about ``CHUNK_LINES`` lines at module-level statements that start a line, an edit reparses
only its own chunk, wherever it falls.

Each chunk is parsed from the whole source with ``included_ranges`` set to its byte range, so
every node carries document offsets and points: the analysis works on the chunks unchanged,
through ``ForestRoot``, which stands for the module node and answers the part of tree-sitter's
``Node`` the analysis uses. Chunks after an edit are moved with ``Tree.edit`` and parsed again
with all their nodes reused (py-tree-sitter forgets the text of an edited tree's nodes) when
their nodes are read: a keystroke that leaves a syntax error reads only the broken chunks
(``broken_roots``), as they are.

A chunk's reparse is tree-sitter's incremental one while it parses cleanly; a tree with an
error is what a fresh parse of the chunk gives (tree-sitter's reparse may recover from an
error otherwise, even see one where there is none), and a chunk that had an error before an
edit is parsed afresh at once. Either way what changed is tree-sitter's changed ranges
between the old tree and the new one.

What the chunks mean:

- When the document parses without an error, the chunks hold exactly the nodes of a parse of
  the whole document (a chunk starts at a line where a module-level statement starts, after
  blank lines maybe, and the chunk before it ends clean, so the parser is in the same state
  there as at the start of a file). The property tests check this against fresh parses of
  random edit sequences.
- A chunk has an error exactly when a parse of the whole document would have one: a chunk
  whose text leaves a bracket, a string or a line continuation open is merged with the chunks
  it runs into, and a chunk broken at its very end (a decorator, or ``x =``, which
  tree-sitter continues on the next line: no token after its first error) takes in the next
  one, which may mend it.
- With an error, the error stays inside its chunk, where a parse of the whole file may let it
  run on (an unclosed string swallowing the rest of the file). That is what the editor wants:
  findings elsewhere stay put while the user types. ``drain-ls check`` parses whole files.

Small files (under ``2 * CHUNK_LINES`` lines) stay one tree, reparsed incrementally as a
whole, as tree-sitter does. Large ones are cut when the user pauses (``settle``) or at their
first edit.

Where a chunk may end is decided in ``forest_bounds``; ``ForestRoot``, the module node over
the chunks, is in ``forest_root``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Generator
from functools import cache
from itertools import pairwise
from typing import cast

from tree_sitter import Node, Parser, Point, Tree

from drain_ls.analysis.forest_bounds import (
    _brackets,
    _open_at_end,
    bare_decorator_at_end,
    first_closed,
    starts_statement,
)
from drain_ls.analysis.forest_root import ForestRoot
from drain_ls.analysis.grammar_gaps import EditedInput
from drain_ls.analysis.source import PY_LANGUAGE, parse, parse_range, point_after, point_of

# Lines per chunk: an edit reparses at most about this many lines (~0.25 ms; a syntax error
# parses them afresh). Smaller chunks cost more Python per edit (more trees to move).
CHUNK_LINES = 100
# A chunk grown this much larger (by merges) is cut again once it parses cleanly.
_RESPLIT_FACTOR = 4
# How many chunks after a broken one a keystroke scans for what closes it (the rest when the
# user pauses: ``Forest.verify``).
REACH = 16


@cache
def _chunk_parser() -> Parser:
    # A parser of its own: its included ranges change at every chunk parse.
    return Parser(PY_LANGUAGE)


# What one keystroke types that leaves a chunk with an error, nearly always.
_OPENERS = frozenset((b"(", b"[", b"{", b'"', b"'", b"\\"))


def _changed(old: Tree, new: Tree) -> list[tuple[int, int]]:
    """The byte ranges where ``new`` differs from ``old`` (edited to the new text), whether
    ``new`` was reparsed from it or parsed afresh: tree-sitter's changed ranges (a node of
    the same type, place and size as one of the old tree that no edit touched, with a
    definite parse state, is the same node; else it compares their children), and the
    statements with an error in either tree. Computed in C, down to the nodes that differ:
    comparing the statements' S-expressions cost ~1 ms a keystroke in a broken chunk."""
    changed = [(r.start_byte, r.end_byte) for r in old.changed_ranges(new)]
    for root in (old.root_node, new.root_node):
        if root.has_error:
            changed.extend((c.start_byte, c.end_byte) for c in root.children if c.has_error)
    return changed


class Forest:
    """The syntax of one document: a tree per chunk of module-level statements."""

    __slots__ = (
        "_brackets",
        "_fresh",
        "_input",
        "_root",
        "_settled",
        "_stale_from",
        "_trees",
        "_unverified",
        "source",
        "starts",
    )

    def __init__(self, source: bytes, tree: Tree | None = None) -> None:
        """The syntax of ``source`` (``tree``: its parse, when already made), as one tree.
        What is parsed (and kept as ``source``) is ``parse_input(source)`` (same length:
        ``drain_ls.analysis.grammar_gaps``): lone CRs normalized, as CPython reads them, and
        the named escapes that tree-sitter would read far ahead from neutralized."""
        self._input, source = EditedInput.of(source)
        self.source = source
        self.starts = [0]
        self._trees = [tree if tree is not None else parse(source)]
        self._root: ForestRoot | None = None
        self._settled = False  # cut once: later, only edits merge and cut chunks
        # The chunks from this index on were moved by edits (``Tree.edit``) but not parsed
        # again: their nodes have the right offsets, not their text (None: none).
        self._stale_from: int | None = None
        # The trees from ``_stale_from`` on that ``tree_at`` parsed again one at a time (by
        # ``id``: a tree is made stale only by an edit that moves it, which drops it here).
        self._fresh: set[int] = set()
        # A broken chunk's error was kept in it after looking only ``REACH`` chunks ahead
        # for what closes its bracket or string: ``verify`` looks to the end of the file.
        self._unverified = False
        # The bracket summary (``_brackets``) of chunks' texts, by text: a chunk that edits
        # only moved, or whose text came back, is not scanned again.
        self._brackets: dict[bytes, tuple[int, int] | None] = {}

    @property
    def trees(self) -> list[Tree]:
        """The chunks' trees, every one parsed for the current text."""
        self._refresh()
        return self._trees

    def _refresh(self) -> None:
        """Parse again the chunks that edits before them only moved, reusing every node
        (py-tree-sitter forgets the text of an edited tree's nodes). Left for when the trees
        are read, after the keystroke: a stream that the keystroke cancelled closes first."""
        if self._stale_from is None:
            return
        parser = _chunk_parser()
        fresh = self._fresh
        for index in range(self._stale_from, len(self._trees)):
            tree = self._trees[index]
            if id(tree) not in fresh:
                parser.included_ranges = tree.included_ranges
                self._trees[index] = parser.parse(self.source, tree)
        self._stale_from = None
        fresh.clear()

    def tree_at(self, index: int) -> Tree:
        """Chunk ``index``'s tree, parsed for the current text: ``trees[index]`` without
        parsing the other moved chunks again (a hover reads one chunk; a keystroke at the top
        of ``typing.py`` moves 27)."""
        tree = self._trees[index]
        stale = self._stale_from
        if stale is not None and index >= stale and id(tree) not in self._fresh:
            parser = _chunk_parser()
            parser.included_ranges = tree.included_ranges
            tree = self._trees[index] = parser.parse(self.source, tree)
            self._fresh.add(id(tree))
        return tree

    @property
    def unsettled(self) -> bool:
        """Whether ``settle`` has work to do: a large document never cut into chunks. (One
        that merges made one tree again is cut by the edit that makes it clean: cutting
        its broken text again at every keystroke was most of a keystroke's cost.)"""
        return not self._settled and len(self._trees) == 1 and self._splittable()

    def settle(self) -> None:
        """Cut a large document into chunks: work for when the user pauses (it parses the
        chunks afresh), which its first edit otherwise does first. The text does not change,
        nor do the nodes where it parses cleanly, so nothing is reported as changed. (Chunks
        that merges made large are cut again by the edit that makes them clean.)"""
        if self.unsettled:
            self._split(self.source, 0)
            self._root = None

    def settle_steps(self) -> Generator[None, None, None]:
        """``settle`` a piece at a time, pausing after each piece it parses (for the event
        loop to answer what came in meanwhile). The pieces are parsed on the side and take
        the one tree's place at the end, unless the text changed in between (an edit cuts
        the document itself first): an edit never meets a half-cut document."""
        if not self.unsettled:
            return
        source, tree = self.source, self._trees[0]
        scratch = Forest(source, tree)
        yield from scratch._split_steps(source, 0)
        if self.source is source and self.unsettled and self._trees[0] is tree:
            self.starts, self._trees = scratch.starts, scratch._trees
            self._settled = True
            self._unverified = self._unverified or scratch._unverified
            self._root = None

    @property
    def root_node(self) -> Node:
        """The module: the root of the one tree, or a ``ForestRoot`` over the chunks (which
        parses the moved chunks again only when their nodes are read: not for ``has_error``)."""
        if len(self._trees) == 1:
            self._refresh()
            return self._trees[0].root_node
        if self._root is None:
            self._root = ForestRoot(self)
        return cast(Node, self._root)

    @property
    def has_error(self) -> bool:
        """Whether a chunk has a syntax error (read from the trees as they are)."""
        return any(tree.root_node.has_error for tree in self._trees)

    def broken_roots(self) -> list[Node]:
        """The module nodes of the chunks that have a syntax error, as they are: a chunk that
        edits only moved is not parsed again for this (its nodes' offsets and types are
        right, their text is not there), so that a keystroke that leaves an error, which
        only this is asked of, does not pay for the chunks after it."""
        roots = (tree.root_node for tree in self._trees)
        return [root for root in roots if root.has_error]

    def end_of(self, index: int) -> int:
        """Where chunk ``index`` ends (the next one's start, or the end of the source)."""
        return self.starts[index + 1] if index + 1 < len(self.starts) else len(self.source)

    def chunk_at(self, offset: int) -> int:
        """The index of the chunk holding ``offset`` (at a boundary: the later chunk)."""
        return bisect_right(self.starts, offset) - 1

    # -- edits ----------------------------------------------------------------------------

    def edit(self, source: bytes, start: int, old_end: int, new_end: int) -> list[tuple[int, int]]:
        """Bytes ``[start, old_end)`` of the old source became ``[start, new_end)`` of
        ``source``: reparse what that touches; return the byte ranges whose syntax changed."""
        # What tree-sitter is given: lone CRs normalized, far named escapes neutralized (the
        # edit grown to cover what that changes outside it).
        self._input, source, start, old_end, new_end = self._input.edited(
            source, start, old_end, new_end
        )
        old_source = self.source
        # Counted from the start of the chunk holding the edit, not of the file (a count of
        # typing.py's lines is 0.1 ms): the text before ``start`` is the same in both.
        start_point = self._point_in_chunk(start)
        old_end_point = point_after(old_source, start, start_point.row, old_end)
        new_end_point = point_after(source, start, start_point.row, new_end)
        if self.unsettled:
            self._split(old_source, 0)
        self._root = None
        self.source = source

        def edit(tree: Tree) -> None:
            tree.edit(
                start_byte=start,
                old_end_byte=old_end,
                new_end_byte=new_end,
                start_point=start_point,
                old_end_point=old_end_point,
                new_end_point=new_end_point,
            )

        # One opener typed (a bracket, a quote, a backslash) nearly always breaks the chunk:
        # it is parsed afresh at once, not first from its tree (the parse with the error is
        # most of the cost either way).
        opener = old_end == start and source[start:new_end] in _OPENERS
        if len(self._trees) == 1:
            old = self._trees[0]
            edit(old)
            # tree-sitter's reparse may recover from an error otherwise than a parse of the
            # text would (even see one where there is none): a tree with an error is parsed
            # afresh, and so is the text of one that had an error (its reparse mostly would
            # have to be).
            tree = None if opener or old.root_node.has_error else parse(source, old)
            if tree is None or tree.root_node.has_error:
                tree = parse(source)
            self._trees[0] = tree
            changed = _changed(old, tree)
            if tree.root_node.has_error:
                return changed
            if self._settled and self._splittable():
                # Merged into one tree by an error, clean again: cut it now (once), or every
                # edit would reparse all of it. The nodes stay the same.
                self._split(source, 0)
            return changed

        first = self.chunk_at(start)
        last = max(first, self.chunk_at(max(start, old_end - 1)))
        delta = new_end - old_end
        old_tree: Tree | None = None
        if first == last:
            old_tree = self._trees[first]
            edit(old_tree)
        # The chunks after the edit only move: told so, then parsed again with all their
        # nodes reused (py-tree-sitter forgets the text of an edited tree's nodes).
        moved = self._trees[last + 1 :]
        self.starts[first + 1 :] = [s + delta for s in self.starts[last + 1 :]]
        self._trees[first + 1 :] = moved
        for tree in moved:
            edit(tree)  # parsed again when the trees are read (``_refresh``)
            self._fresh.discard(id(tree))
        if moved:
            stale = self._stale_from
            self._stale_from = first + 1 if stale is None else min(stale, first + 1)
        changed = self._reparse(first, old_tree, afresh=opener)
        edited = self.chunk_at(min(start, max(0, len(source) - 1)))
        if any(tree.root_node.has_error for tree in self._trees[:edited]):
            changed += self._reopen(edited)
        return changed

    def verify(self) -> list[tuple[int, int]]:
        """Look to the end of the file for what closes each broken chunk's opener, where a
        keystroke looked only ``REACH`` chunks ahead (a scan of a long file on every
        keystroke): for when the user pauses. The ranges whose syntax changed."""
        if not self._unverified:
            return []
        self._unverified = False
        return self._reopen(len(self._trees), reach=None)

    def _reopen(self, edited: int, reach: int | None = REACH) -> list[tuple[int, int]]:
        """An edit may close what an earlier broken chunk left open (its error was kept in
        it: ``_continues``); any edit can, through the boundaries it moves or the tokens it
        makes (a letter between two quotes breaks a triple quote). That chunk then takes in
        the chunks through where it closes. The scan (lexical, from the broken chunk on) is
        made only while a broken chunk comes before the edit."""
        changed: list[tuple[int, int]] = []
        index = 0
        while index < min(edited, len(self._trees)):
            tree = self._trees[index]
            if tree.root_node.has_error:
                ahead = None if reach is None else edited - index + reach
                through = self._continues(index, tree, mend=False, reach=ahead)
                if through is not None:
                    for _ in range(through - index):
                        self._merge_next(index)
                    tree, _ = self._grow(index, self._parse_chunk(index, None))
                    self._trees[index] = tree
                    self._root = None
                    changed.append((self.starts[index], self.end_of(index)))
                    edited -= through - index
            index += 1
        return changed

    def _reparse(
        self, index: int, old_tree: Tree | None, afresh: bool = False
    ) -> list[tuple[int, int]]:
        """Parse chunk ``index`` again after an edit inside it, merging it with its
        neighbours until its boundaries are sound; return the ranges that changed.

        ``old_tree``: the chunk's tree, edited to match the new source (None when the edit
        spanned chunks: no tree matches it). ``afresh``: parse it afresh even when it had
        no error (it would most likely have one now)."""
        source = self.source
        merged = old_tree is None
        if self.starts[index] == self.end_of(index) and len(self.starts) > 1:
            # The edit emptied the chunk: a neighbour (unchanged) takes its place.
            del self._trees[index]
            self._removed(index)
            if index + 1 < len(self.starts):
                del self.starts[index + 1]
            else:
                del self.starts[index]
                index -= 1
            old_tree, merged = self._trees[index], True
        # Its start must still open a statement on a line of its own, and so must the next.
        while index > 0 and not starts_statement(source, self.starts[index]):
            index = self._merge_next(index - 1)
            old_tree = old_tree if old_tree is not None else self._trees[index]
            merged = True
        while index + 1 < len(self.starts) and not starts_statement(source, self.starts[index + 1]):
            self._merge_next(index)
            merged = True
        # As in the one-tree case: an error is what a parse of the text gives, and a chunk
        # that had one is parsed afresh at once.
        tree = None
        if old_tree is not None and not afresh and not old_tree.root_node.has_error:
            tree = self._parse_chunk(index, old_tree)
        if tree is None or tree.root_node.has_error:
            tree = self._parse_chunk(index, None)
        tree, grown = self._grow(index, tree)
        merged = merged or grown > 0
        self._trees[index] = tree
        begin, end = self.starts[index], self.end_of(index)
        changed = [(begin, end)] if merged or old_tree is None else _changed(old_tree, tree)
        if (
            end - begin > _RESPLIT_FACTOR * CHUNK_LINES * 8  # cheap first: 8+ bytes a line
            and not tree.root_node.has_error
            and source.count(b"\n", begin, end) > _RESPLIT_FACTOR * CHUNK_LINES
        ):
            # Grown large by merges, and clean again: cut it now (once), or every edit in it
            # would reparse all of it. The nodes stay the same.
            self._split(source, index)
        return changed

    def _grow(self, index: int, tree: Tree) -> tuple[Tree, int]:
        """Chunk ``index`` (parsed as ``tree``) grown to where what it opens is closed (see
        ``_continues``): its tree, and how many chunks it took in."""
        grown = 0
        mend = True
        while (through := self._continues(index, tree, mend)) is not None:
            mend = False
            for _ in range(min(through, len(self.starts) - 1) - index):
                self._merge_next(index)
                grown += 1
            # Afresh: tree-sitter does not reuse a tree parsed with other included ranges
            # exactly as a fresh parse would around the error.
            tree = self._parse_chunk(index, None)
        return tree, grown

    def _continues(
        self, index: int, tree: Tree, mend: bool = True, reach: int | None = REACH
    ) -> int | None:
        """When chunk ``index`` (parsed as ``tree``) may go on into the chunks after it, the
        last of them it must take in; else None. ``mend``: a broken last statement takes in
        the next chunk (whose first statement may complete it, as a ``def`` does a
        decorator); once is enough, as an error that swallows the next chunk too would
        otherwise take in the rest of the file chunk by chunk."""
        if index + 1 >= len(self.starts):
            return None
        root = tree.root_node
        begin = self.starts[index]
        if not root.has_error:
            # Clean: only its last statement can leave a string open (tree-sitter takes an
            # unclosed string at the end of its text for a whole one).
            last = root.children[-1] if root.child_count else None
            begin = last.start_byte if last is not None else begin
        ends = [*self.starts[index + 1 :], len(self.source)]
        cut = root.has_error and reach is not None and len(ends) > reach
        if cut:
            # A broken chunk looks ``reach`` chunks ahead for what closes it; past them, its
            # error stays in it until ``verify``.
            ends = ends[:reach]
        closed = self._first_closed(begin, ends)
        if closed is None and cut:
            self._unverified = True
        if closed is None and root.has_error:
            # What the chunk opens (a bracket, a string) is never closed before the end of
            # the file: a parse of the whole file has an error either way, and taking in the
            # rest of the file would make every keystroke until it is closed (and the one
            # that closes it) reparse all of it. The error stays in its chunk.
            closed = ends[0]
            through = index
        else:
            through = len(self.starts) - 1 if closed is None else ends.index(closed) + index
        if (
            through == index
            and mend
            and (_open_at_end(tree) or bare_decorator_at_end(root, self.source))
        ):
            through = index + 1  # a broken last statement: see if the next chunk mends it
        return through if through > index else None

    def _first_closed(self, begin: int, ends: list[int]) -> int | None:
        """``first_closed(self.source, begin, ends)``, for ``ends`` that are the starts of
        the chunks after the one holding ``begin`` (and the end of the source): the text up
        to the first end is scanned, the chunks after it are added up from their bracket
        summaries (``_brackets``), kept by text. A bracket typed near the top of a long file
        scanned the next ``REACH`` chunks at every keystroke (~1.3 ms); a string that runs
        past a chunk's end is scanned as before."""
        source = self.source
        state = _brackets(source, begin, ends[0])
        if state is None:
            return first_closed(source, begin, ends)
        depth = state[0]
        if depth == 0:
            return ends[0]
        cache = self._brackets
        if sum(map(len, cache)) > 2 * len(source):
            cache.clear()  # texts of chunks long gone: at most twice the document kept
        for start, end in pairwise(ends):
            text = source[start:end]
            if text in cache:
                summary = cache[text]
            else:
                summary = cache[text] = _brackets(source, start, end)
            if summary is None:
                return first_closed(source, begin, ends)
            net, floor = summary
            depth = max(depth + net, floor)
            if depth == 0:
                return end
        return None

    def _merge_next(self, index: int) -> int:
        """Chunk ``index + 1`` becomes part of chunk ``index`` (whose tree stays, to be
        reparsed by the caller)."""
        del self.starts[index + 1]
        del self._trees[index + 1]
        self._removed(index + 1)
        return index

    def _removed(self, index: int) -> None:
        """Chunk ``index`` is gone: the stale chunks after it moved down one."""
        if self._stale_from is not None and self._stale_from > index:
            self._stale_from -= 1

    def _parse_chunk(self, index: int, old_tree: Tree | None) -> Tree:
        begin, end = self.starts[index], self.end_of(index)
        points = (self._point(begin), self._point(end))
        return parse_range(_chunk_parser(), self.source, begin, end, old_tree, points=points)

    def _point_in_chunk(self, offset: int) -> Point:
        """tree-sitter's point of ``offset`` in the current text, counted from the start of
        the chunk holding it (its included range, which ``Tree.edit`` keeps up to date)."""
        ranges = self._trees[self.chunk_at(offset)].included_ranges
        if ranges and ranges[0].start_byte <= offset:
            return point_after(self.source, ranges[0].start_byte, ranges[0].start_point.row, offset)
        return point_of(self.source, offset)

    def _point(self, offset: int) -> Point:
        """tree-sitter's point of a chunk boundary (or of the end): from the ranges of the
        trees around it, which ``Tree.edit`` keeps up to date, else counted."""
        index = self.chunk_at(offset)
        for near in (index, index - 1):
            if 0 <= near < len(self._trees):
                ranges = self._trees[near].included_ranges
                if ranges and ranges[0].start_byte == offset:
                    return ranges[0].start_point
                if ranges and ranges[-1].end_byte == offset:
                    return ranges[-1].end_point
        return point_of(self.source, offset)

    # -- chunking -------------------------------------------------------------------------

    def _splittable(self) -> bool:
        return self.source.count(b"\n") >= 2 * CHUNK_LINES

    def _split(self, source: bytes, index: int) -> None:
        """Cut chunk ``index`` of ``source`` at module-level statements that start a line
        after text that leaves nothing open, about every ``CHUNK_LINES`` lines, and parse
        the pieces afresh (merging again any that may go on into the next).

        Linear in the chunk's size: the lexical scan from the last cut goes on from where it
        is to the first candidate that leaves nothing open (``first_closed`` over all the
        candidates at once), never from the last cut again for each candidate."""
        for _ in self._split_steps(source, index):
            pass

    def _split_steps(self, source: bytes, index: int) -> Generator[None, None, None]:
        """``_split``, pausing after each piece it parses."""
        self._settled = True
        begin, end = self.starts[index], self.end_of(index)
        candidates = [
            child.start_byte
            for child in self._trees[index].root_node.children
            if child.start_byte > begin
            and child.type not in ("comment", "ERROR")
            and starts_statement(source, child.start_byte)
        ]
        # The line of each candidate (counted once, between consecutive candidates).
        lines: list[int] = []
        count, previous = 0, begin
        for offset in candidates:
            count += source.count(b"\n", previous, offset)
            lines.append(count)
            previous = offset
        cuts: list[int] = []
        last, last_line = begin, 0
        position = 0
        while position < len(candidates):
            # The first candidate at least CHUNK_LINES lines after the last cut...
            while position < len(candidates) and lines[position] - last_line < CHUNK_LINES:
                position += 1
            if position == len(candidates):
                break
            # ... or the first after it that the text since the last cut leaves closed.
            closed = first_closed(source, last, candidates[position:])
            if closed is None:
                break
            position = candidates.index(closed, position)
            cuts.append(closed)
            last, last_line = closed, lines[position]
            position += 1
        if cuts and source.count(b"\n", cuts[-1], end) < CHUNK_LINES // 2:
            cuts.pop()  # no small chunk at the end
        if not cuts:
            return
        self.starts[index + 1 : index + 1] = cuts
        self._trees[index : index + 1] = [self._trees[index]] * (len(cuts) + 1)
        if self._stale_from is not None and self._stale_from > index:
            self._stale_from += len(cuts)  # the stale chunks after it moved up
        i, stop = index, index + len(cuts) + 1
        while i < stop:
            yield
            tree, grown = self._grow(i, self._parse_chunk(i, None))
            stop -= grown
            self._trees[i] = tree
            i += 1
        self._root = None
