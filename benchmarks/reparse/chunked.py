"""Idea 1/3 prototype: a document held as one tree per top-level chunk.

Chunks start at module-level statements that begin at column 0 (from a full parse); with
``max_lines`` > 1 consecutive statements are grouped up to that many lines. An edit reparses
only the chunk(s) it touches (the chunk's slice, incrementally with the chunk's own tree).

Guards (each one falls back to merging chunks, never to guessing):
- the edited chunk (k > 0) must still start with a column-0 line that opens a new statement
  (not whitespace, not ``else``/``elif``/``except``/``finally``/``case``... continuation);
  otherwise it is merged with the previous chunk;
- the next chunk must still start such a line (the same check), else merged with it.
- ``on_error``: what to do when the reparsed chunk has a syntax error:
  "accept" keeps the chunk-local tree; "full" reparses the whole document incrementally
  (and rebuilds the chunks); "grow" merges with the next chunk while the error touches the
  chunk's end.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from tree_sitter import Point, Tree

from drain_ls.analysis.source import parse

_CONT = re.compile(rb"(?:else|elif|except|finally)\b|[ \t\f\r\n#)\]}]")


def _pt(s: bytes, o: int) -> Point:
    return Point(s.count(b"\n", 0, o), o - (s.rfind(b"\n", 0, o) + 1))


def _starts_statement(source: bytes, offset: int) -> bool:
    """Whether the line at ``offset`` (a line start) opens a new module-level statement,
    lexically: column 0, not a continuation keyword, not blank."""
    if offset >= len(source):
        return True
    if offset > 0 and source[offset - 1] not in b"\n\r":
        return False
    return _CONT.match(source, offset) is None


class ChunkedDoc:
    def __init__(self, source: bytes, max_lines: int = 1, on_error: str = "accept") -> None:
        self.max_lines = max_lines
        self.on_error = on_error
        self.fallbacks = 0
        self.merges = 0
        self._build(source, parse(source))

    def _build(self, source: bytes, tree: Tree) -> None:
        self.source = source
        bounds = [0]
        last_line = 0
        for child in tree.root_node.children:
            s = child.start_byte
            if s == 0 or child.type == "comment" or child.start_point.column != 0:
                continue
            if not _starts_statement(source, s):
                continue
            row = child.start_point.row
            if row - last_line >= self.max_lines:
                bounds.append(s)
                last_line = row
        self.bounds = bounds
        self.trees = [self._parse_chunk(i) for i in range(len(bounds))]

    def _end(self, i: int) -> int:
        return self.bounds[i + 1] if i + 1 < len(self.bounds) else len(self.source)

    def _parse_chunk(self, i: int, old: Tree | None = None) -> Tree:
        return parse(self.source[self.bounds[i] : self._end(i)], old)

    def _merge(self, i: int) -> None:
        """Merge chunk i+1 into chunk i (its tree is reparsed by the caller)."""
        del self.bounds[i + 1]
        del self.trees[i + 1]
        self.merges += 1

    def replace(self, start: int, end: int, new: bytes) -> None:
        old = self.source
        source = old[:start] + new + old[end:]
        delta = len(new) - (end - start)
        bounds = self.bounds
        # chunk holding start (an insertion at a chunk start belongs to that chunk)
        k = bisect_right(bounds, start) - 1
        last = max(k, bisect_right(bounds, end) - 1) if end > start else k
        if end > start and end == (bounds[last] if last > k else -1):
            pass
        while last > k:  # an edit spanning chunks: merge them
            self._merge(k)
            last -= 1
        base = bounds[k]
        chunk_old = old[base : self._end(k)]
        tree = self.trees[k]
        for j in range(k + 1, len(bounds)):
            bounds[j] += delta
        self.source = source
        rs, re_, rn = start - base, end - base, start + len(new) - base
        chunk_new = source[base : self._end(k)]
        tree.edit(rs, re_, rn, _pt(chunk_old, rs), _pt(chunk_old, re_), _pt(chunk_new, rn))
        tree = parse(chunk_new, tree)
        self.trees[k] = tree
        # guards: this chunk still opens a statement; the next one too
        changed = True
        while changed:
            changed = False
            if k > 0 and not _starts_statement(source, bounds[k]):
                k -= 1
                self._merge(k)
                changed = True
            if k + 1 < len(bounds) and not _starts_statement(source, bounds[k + 1]):
                self._merge(k)
                changed = True
            if changed:
                self.trees[k] = self._parse_chunk(k)
        if self.trees[k].root_node.has_error:
            if self.on_error == "full":
                self.fallbacks += 1
                self._build_from_full(old, start, end, new)
            elif self.on_error == "grow":
                while (
                    self.trees[k].root_node.has_error
                    and k + 1 < len(bounds)
                    and _error_at_end(self.trees[k])
                ):
                    self._merge(k)
                    self.trees[k] = self._parse_chunk(k)

    def _build_from_full(self, old, start, end, new):
        # The honest fallback: the document's full tree, reparsed (prototype: from scratch).
        self._build(self.source, parse(self.source))

    def module_children(self):
        """(base, child) for every module-level node, in document order."""
        for base, tree in zip(self.bounds, self.trees, strict=False):
            for c in tree.root_node.children:
                yield base, c


def _error_at_end(tree: Tree) -> bool:
    root = tree.root_node
    if not root.children:
        return False
    last = root.children[-1]
    return last.has_error or last.type == "ERROR"


def signature(pairs) -> list:
    return [(c.start_byte + base, c.end_byte + base, str(c)) for base, c in pairs]
