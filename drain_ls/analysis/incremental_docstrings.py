"""The member docstring findings (D1xx) of each module-level statement, remembered
between two versions of a document by the incremental checker
(``drain_ls.analysis.incremental``).

A ``_Statements`` holds the module-level statements of one version: their spans and, for
each, an ``_Entry`` of its member findings relative to its start. ``_take_over`` carries the
entries of the statements no change touched over to the next version, in bulk where it can;
``_restated`` says which names moved in or out of ``__all__`` between two contexts.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from functools import partial

from tree_sitter import Node

from drain_ls.analysis.change_log import ChangeLog
from drain_ls.analysis.docstrings import MemberContext, statement_findings
from drain_ls.analysis.model import Finding, Fix

# Module-level statements that hold no definitions.
_NOT_MEMBERS = frozenset({"comment", "import_statement", "import_from_statement"})


# A member finding relative to its module-level statement: code, message, start, end, data.
_Member = tuple[str, str, int, int, dict[str, object]]


class _Entry:
    """The member findings of one module-level statement, relative to its start, and the
    findings made from them at the offset the statement had when they were last asked for;
    ``names``: its definitions whose findings depend on ``__all__``."""

    __slots__ = ("base", "findings", "members", "names")

    def __init__(self, members: tuple[_Member, ...], names: tuple[str, ...] = ()) -> None:
        self.members = members
        self.names = names
        self.base = -1
        self.findings: list[Finding] = []

    def findings_at(self, base: int) -> list[Finding]:
        """The findings of the statement when it starts at ``base`` (without fix factories:
        those hold a version's tree)."""
        if base != self.base:
            self.findings = _member_findings(self.members, base)
            self.base = base
        return self.findings


def _member_findings(
    members: tuple[_Member, ...], base: int, fix_at: Callable[[int], Fix | None] | None = None
) -> list[Finding]:
    """The findings of a statement's members when it starts at ``base``; ``fix_at``: the
    docstring fix of the definition whose name starts at an offset, made when asked for."""
    return [
        Finding(
            code,
            message,
            base + start,
            base + end,
            noqa_offsets=(base + start,),
            fix_factory=partial(fix_at, base + start) if fix_at is not None else None,
            data=data,
        )
        for code, message, start, end, data in members
    ]


_NO_MEMBERS = _Entry(())


def _entry(statement: Node, source: bytes, context: MemberContext, style: str) -> _Entry:
    if statement.type in _NOT_MEMBERS:
        return _NO_MEMBERS
    base = statement.start_byte
    names: list[str] = []
    members = tuple(
        (f.code, f.message, f.start - base, f.end - base, f.data)
        for f in statement_findings(statement, source, context, style, names)
    )
    return _Entry(members, tuple(names)) if members or names else _NO_MEMBERS


class _Statements:
    """The module-level statements of one version: spans and member findings, in order."""

    __slots__ = ("ends", "entries", "missing", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.entries: list[_Entry] = []
        # Indices whose entry is still to be computed.
        self.missing: list[int] = []

    def append_new(
        self, statement: Node, source: bytes, context: MemberContext, style: str
    ) -> None:
        """A statement analysed now."""
        self.starts.append(statement.start_byte)
        self.ends.append(statement.end_byte)
        self.entries.append(_entry(statement, source, context, style))


def _take_over(
    statements: _Statements, run: list[Node], previous: _Statements, changes: ChangeLog
) -> None:
    """Append a run of statements that no changed range touches, with the entries of the
    last version. In bulk when the run maps onto a run of the last version (the same first
    start and last end, moved back by the edits, and as many statements); else statement by
    statement by span, and a statement whose span matches none is marked missing."""
    first, last = run[0], run[-1]
    old_start, old_end = changes.unmove(first.start_byte), changes.unmove(last.end_byte)
    if old_start is not None and old_end is not None:
        k = bisect_left(previous.starts, old_start)
        stop = k + len(run)
        if (
            stop <= len(previous.starts)
            and previous.starts[k] == old_start
            and previous.ends[stop - 1] == old_end
            and first.start_byte - old_start == last.end_byte - old_end
        ):
            delta = first.start_byte - old_start
            if delta:
                statements.starts.extend([x + delta for x in previous.starts[k:stop]])
                statements.ends.extend([x + delta for x in previous.ends[k:stop]])
            else:
                statements.starts.extend(previous.starts[k:stop])
                statements.ends.extend(previous.ends[k:stop])
            statements.entries.extend(previous.entries[k:stop])
            return
    spans = dict(
        zip(zip(previous.starts, previous.ends, strict=True), previous.entries, strict=True)
    )
    for statement in run:
        base, stop = statement.start_byte, statement.end_byte
        old_start, old_end = changes.unmove(base), changes.unmove(stop)
        entry = (
            spans.get((old_start, old_end))
            if old_start is not None and old_end is not None
            else None
        )
        if entry is None:
            statements.missing.append(len(statements.entries))
            entry = _NO_MEMBERS
        statements.starts.append(base)
        statements.ends.append(stop)
        statements.entries.append(entry)


def _restated(before: MemberContext | None, after: MemberContext) -> frozenset[str] | None:
    """The names whose place in ``__all__`` differs between two contexts (empty: none);
    None when the contexts differ otherwise, or one has no ``__all__`` (everything may
    change). Otherwise includes the bindings of an ``@overload`` spelling that is also bound
    to something else (``shadowed``, by offset: whether a binding comes before a decorator
    decides it): an edit elsewhere that binds ``overload`` changes the unmoved ``def``s under
    it (rare: then everything is checked again)."""
    if (
        before is None
        or before.overloads != after.overloads
        or before.modules != after.modules
        or before.shadowed != after.shadowed
    ):
        return None
    if before.exported == after.exported:
        return frozenset()
    if before.exported is None or after.exported is None:
        return None
    return before.exported ^ after.exported
