"""``ChangeLog``: what changed in a document since its last analysis, for the incremental
checker (``drain_ls.analysis.incremental``).

It collects the edits (to move remembered offsets from one version to the next), the ranges
tree-sitter reports as changed plus the edited ranges themselves (it does not report edits
inside strings), and the deleted text; and the helpers that read it: the text the edits
inserted (``_edited_spans``), where remembered spans are now (``_moved_spans``), whether the
edits wrote a word (``_writes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ChangeLog:
    """What changed in a document since its last analysis, in its current coordinates."""

    edits: list[tuple[int, int, int]] = field(default_factory=list)
    ranges: list[tuple[int, int]] = field(default_factory=list)
    removed: list[bytes] = field(default_factory=list)
    full: bool = False

    def add(
        self, start: int, old_end: int, new_end: int, removed: bytes, changed: list[tuple[int, int]]
    ) -> None:
        """Record one edit and the ranges it changed (in the new coordinates)."""
        self.edits.append((start, old_end, new_end))
        self.ranges = [_shift_range(r, start, old_end, new_end) for r in self.ranges]
        self.ranges.extend(changed)
        self.ranges.append((start, new_end))
        if removed:
            self.removed.append(removed)

    def reset(self) -> None:
        """Everything recorded has been analysed."""
        self.edits.clear()
        self.ranges.clear()
        self.removed.clear()
        self.full = False

    def then(self, later: ChangeLog) -> ChangeLog:
        """A new log of this log's changes followed by ``later``'s (recorded from the version
        this one ends at), in ``later``'s coordinates."""
        ranges = list(self.ranges)
        for start, old_end, new_end in later.edits:
            ranges = [_shift_range(r, start, old_end, new_end) for r in ranges]
        return ChangeLog(
            [*self.edits, *later.edits],
            ranges + later.ranges,
            [*self.removed, *later.removed],
            self.full or later.full,
        )

    def unchanged_before(self, length: int) -> int:
        """The offset before which no recorded edit touched the text (``length + 1`` when
        nothing changed, 0 after a full change)."""
        if self.full:
            return 0
        return min((start for start, _, _ in self.edits), default=length + 1)

    def unmove(self, offset: int) -> int | None:
        """Where an offset of this version was in the last analysed version (None: in
        text an edit inserted)."""
        for start, old_end, new_end in reversed(self.edits):
            if offset < start:
                continue
            if offset >= new_end and (offset > start or new_end == start):
                offset -= new_end - old_end
            else:
                return None
        return offset

    def move_span(self, start: int, end: int) -> tuple[int, int] | None:
        """Where ``[start, end]`` of the last analysed version is now (None: an edit
        touched it, even just at one of its ends)."""
        for edit_start, old_end, new_end in self.edits:
            if edit_start > end:
                continue
            if old_end >= start:
                return None
            start += new_end - old_end
            end += new_end - old_end
        return start, end

    def move(self, offset: int) -> int | None:
        """Where an offset of the last analysed version is now (None: it was edited away)."""
        for start, old_end, new_end in self.edits:
            if offset < start:
                continue
            if offset >= old_end and (offset > start or old_end == start):
                offset += new_end - old_end
            else:
                return None
        return offset


def _edited_spans(changes: ChangeLog) -> list[tuple[int, int]]:
    """The text each recorded edit inserted, in the current coordinates (moved, and grown,
    by the edits after it)."""
    spans: list[tuple[int, int]] = []
    for start, old_end, new_end in changes.edits:
        spans = [_shift_range(r, start, old_end, new_end) for r in spans]
        spans.append((start, new_end))
    return spans


def _moved_spans(spans: list[tuple[int, int]], changes: ChangeLog) -> list[tuple[int, int]] | None:
    """Where spans of the last analysed version are now; None when a recorded edit or a
    changed range (the syntax around them may have changed) touches one of them."""
    moved = []
    for start, end in spans:
        span = changes.move_span(start, end)
        if span is None:
            return None
        if any(s <= span[1] and span[0] <= e for s, e in changes.ranges):
            return None
        moved.append(span)
    return moved


def _writes(source: bytes, changes: ChangeLog, word: bytes) -> bool:
    """Whether the text the recorded edits inserted (and the bytes around it) holds
    ``word``, or it was in the deleted text."""
    reach = len(word) - 1
    return any(word in removed for removed in changes.removed) or any(
        word in source[max(0, start - reach) : end + reach] for start, end in _edited_spans(changes)
    )


def _shift_range(r: tuple[int, int], start: int, old_end: int, new_end: int) -> tuple[int, int]:
    s, e = r
    delta = new_end - old_end
    if e < start:
        return r
    if s > old_end:
        return s + delta, e + delta
    return min(s, start), max(e + delta if e >= old_end else new_end, new_end)
