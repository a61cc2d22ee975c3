"""Syntax errors (E999), decided without the running interpreter.

A file's syntax errors come from three checks, each a function of its text and of its
tree-sitter tree (parsed from the text with lone CRs normalized: ``grammar_gaps``):

- **the tree's errors** (``grammar_gaps.tree_errors``: ERROR and MISSING nodes, less the
  PEP 696 shapes the grammar lacks). tree-sitter-python also rejects a little valid Python
  that no shape covers (a continuation line inside brackets dedented below its block,
  tree-sitter-python#256): the statement around an error is compiled on its own (the
  outermost one, or the largest under ``MAX_COMPILED_REGION`` bytes) and, if CPython accepts
  it, the error is tree-sitter's, not the file's. ``compile()`` only ever *clears* an error
  this way, never makes one: valid code newer than the running interpreter that tree-sitter
  parses never reaches it. When it fails it gives the message and position of the E999;
- **legacy syntax** that tree-sitter accepts and Python rejects (``legacy.legacy_errors``);
- **indentation errors** (``indentation.indentation_event``), which tree-sitter never flags.

The earliest is the file's E999, one finding, whatever the selection (as ruff); but inside a
statement that CPython compiled and rejected for a tree error, CPython's error is the first
(the legacy checks read a broken tree as if it were right). Apart from
it, **version errors** (``versions``: syntax newer than the ``target-version``) are E999
findings of their own that hide nothing (ruff's "unsupported syntax" errors), one per
construct.

``SyntaxTracker`` computes all of it for successive versions of a document: the legacy,
indentation and version checks read only the module-level statements an edit touched (plus
the one before them), and keep the rest of the last version's results, moved (the
indentation check only from a version without a tree error to another: elsewhere an ERROR
node may hold the start of a bracket that goes on for many statements); with no
change log it checks everything, which is what ``check_source`` does. Both give the same
results for the same text and tree.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from operator import attrgetter
from typing import NamedTuple, Protocol

from tree_sitter import Node

from drain_ls.analysis.change_log import ChangeLog
from drain_ls.analysis.compiling import (
    ACCEPTED,
    STATEMENT_PARENTS,
    Runs,
    cleared_together,
    compiled_unit,
    cpython_offset,
    is_restart,
    remembered_outcome,
    unit_text,
)
from drain_ls.analysis.forest import Forest
from drain_ls.analysis.grammar_gaps import Ancestry, TreeErrors, parse_input, tree_errors
from drain_ls.analysis.indentation import IndentationProblem, indentation_event
from drain_ls.analysis.legacy import legacy_errors
from drain_ls.analysis.model import Finding
from drain_ls.analysis.source import Syntax, continuation_at_end, parse
from drain_ls.analysis.versions import (
    DEFAULT_TARGET,
    PythonVersion,
    construct_errors,
    gap_errors,
)

_start_byte = attrgetter("start_byte")
# (start, end, message)
Located = tuple[int, int, str]


class Changes(Protocol):
    """What changed since the last check (``drain_ls.analysis.incremental.ChangeLog``)."""

    full: bool
    ranges: list[tuple[int, int]]

    def move_span(self, start: int, end: int) -> tuple[int, int] | None:
        """Where a span of the last version is now (None: an edit touched it)."""
        ...


class SyntaxReport(NamedTuple):
    """The syntax errors of one version of a source."""

    # The E999 of the file's first syntax error (None: it parses).
    error: Finding | None
    # The innermost statements around the tree's errors that stand (findings there may be
    # wrong: the editor leaves them out).
    regions: list[tuple[int, int]]
    # The version errors, sorted (they hide nothing).
    versions: list[Finding]


class TreeVerdict(NamedTuple):
    """What the tree's errors come to."""

    error: Finding | None
    regions: list[tuple[int, int]]
    gaps: list[TreeErrors]
    # The ranges CPython compiled where the tree has errors: valid code that tree-sitter
    # misread, so the legacy and indentation checks, which trust the tree, say nothing there.
    cleared: list[tuple[int, int]]
    # Those of them compiled in a block of their own (a statement inside a definition over
    # MAX_COMPILED_REGION bytes): CPython did not see how they are indented in what holds
    # them, so the indentation check still speaks there.
    cleared_alone: list[tuple[int, int]]
    # The ranges CPython compiled where the tree has errors and rejected: its error is the
    # first of each, so the legacy checks, which read the tree as if it were right, say
    # nothing there (what they found in a broken tree depended on how much of it was read).
    rejected: list[tuple[int, int]]


def broken_roots(tree: Syntax) -> list[Node]:
    """The module nodes that syntax errors are under, in order: the root when it has an
    error; for a document cut into chunks (``drain_ls.analysis.forest``), the roots of its broken
    chunks, read as they are (a chunk that an edit only moved is not parsed again for
    this: the offsets and types of its nodes are right)."""
    if isinstance(tree, Forest):
        return tree.broken_roots()
    root = tree.root_node
    return [root] if root.has_error else []


def first_error_offset(tree: Syntax) -> int:
    """Byte offset of the first ERROR or MISSING node (depth first)."""
    roots = broken_roots(tree)
    node = roots[0] if roots else tree.root_node
    while True:
        for child in node.children:
            if child.has_error or child.is_missing or child.type == "ERROR":
                if child.type == "ERROR" or child.is_missing:
                    return child.start_byte
                node = child
                break
        else:
            return node.start_byte


def syntax_error(
    source: bytes, path: str, tree: Syntax, target: PythonVersion = DEFAULT_TARGET
) -> Finding | None:
    """The first syntax error of ``source`` as an E999 finding, or None if it has none (a
    version error is not one). ``tree``: its parse (parsed again if tree-sitter must be given
    other bytes: ``drain_ls.analysis.grammar_gaps.parse_input``)."""
    parsed = parse_input(source)
    if parsed is not source:
        tree = parse(parsed)
    return SyntaxTracker(target).check(parsed, tree, original=source).error


def error_finding(message: str, start: int, end: int) -> Finding:
    """An E999 finding over ``[start, end)`` (at least one byte when there is one)."""
    return Finding("E999", message, start, max(start, end), noqa_offsets=(start,))


# -- the tree's errors ---------------------------------------------------------------------


def tree_verdict(
    tree: Syntax,
    source: bytes,
    compiled: OrderedDict[tuple[bytes, bool], object] | None = None,
    original: bytes | None = None,
) -> TreeVerdict:
    """The tree's real errors: the first as an E999 (None when there is none or CPython
    accepts each statement around them), the innermost statements around those that stand,
    and what the grammar's gaps accepted. ``source``: what was parsed (``parse_input``);
    ``original``: the text itself, what CPython compiles (None: ``source``). ``compiled``: a
    memo of compiled statements (kept small)."""
    text = source if original is None else original
    errors: list[Finding] = []
    regions: set[tuple[int, int]] = set()
    gaps: list[TreeErrors] = []
    accepted: list[tuple[int, int]] = []
    alone: list[tuple[int, int]] = []
    rejected: list[tuple[int, int]] = []
    for root in broken_roots(tree):
        found = tree_errors(root, source)
        gaps.append(found)
        units: dict[tuple[int, int, bool] | None, list[Node]] = {}
        runs = Runs(root, source, found.ancestry or Ancestry()) if found.errors else None
        for site in found.errors:
            assert runs is not None
            units.setdefault(compiled_unit(site, source, runs), []).append(site)
        cleared = cleared_together(text, list(units), compiled)
        for unit, sites in units.items():
            error = None if unit in cleared else _unit_error(source, text, unit, sites, compiled)
            if error is not None:
                errors.append(error)
                rejected.append((unit[0], unit[1]) if unit is not None else (0, len(source)))
                assert runs is not None
                regions.update(_region(site, runs.ancestry) for site in sites)
            elif unit is not None and unit[2]:
                alone.append((unit[0], unit[1]))
            else:
                accepted.append((unit[0], unit[1]) if unit is not None else (0, len(source)))
    first = min(errors, key=_start_byte_of, default=None)
    return TreeVerdict(
        first, sorted(regions), gaps, sorted(accepted), sorted(alone), sorted(rejected)
    )


def continuation_at_eof(root: Node, source: bytes) -> Finding | None:
    """The error of a file that ends right after a line continuation (``x = 1 \\`` and its
    line break, then nothing): CPython (3.12 on, and 3.11 without a CR) and ruff say
    "unexpected EOF while parsing"; tree-sitter reads a ``line_continuation`` node and no
    error. A backslash in a comment, or in a string (never closed, an error of the tree),
    is not one. Ruff points where the trailing blanks before the backslash start."""
    at = continuation_at_end(source)
    if at < 0:
        return None
    node = root.descendant_for_byte_range(at, at + 1)
    if node is None or node.type != "line_continuation":
        return None
    start = at
    while start and source[start - 1] in b" \t\f":
        start -= 1
    return error_finding("SyntaxError: unexpected EOF while parsing", start, len(source))


def _start_byte_of(finding: Finding) -> int:
    return finding.start


def _region(site: Node, ancestry: Ancestry) -> tuple[int, int]:
    """The innermost statement around an error site."""
    statement = ancestry.up(site, "region", _is_statement)
    return statement.start_byte, statement.end_byte


def _is_statement(node: Node, parent: Node | None) -> bool:
    """Whether ``node`` is a statement (or the root, ``parent`` None)."""
    return parent is None or (node.type != "block" and parent.type in STATEMENT_PARENTS)


def _unit_error(
    source: bytes,
    text: bytes,
    unit: tuple[int, int, bool] | None,
    sites: list[Node],
    compiled: OrderedDict[tuple[bytes, bool], object] | None,
) -> Finding | None:
    """The E999 of the error sites in one unit (None: CPython accepts the unit), as CPython
    compiles it in ``text`` (the same length as ``source``, what was parsed)."""
    first = min(sites, key=_start_byte).start_byte
    # No statement around the site is small enough (tree-sitter gave up on a whole large
    # one): the whole source is compiled, to clear it or not, as rarely as that happens.
    begin, end, wrapped = unit if unit is not None else (0, len(source), False)
    outcome = remembered_outcome(unit_text(text, begin, end), wrapped, compiled)
    if outcome is ACCEPTED:
        return None
    assert isinstance(outcome, tuple)
    message, line, column = outcome
    if line is None:
        nul = source.find(b"\0", begin, end)
        offset = nul if nul >= 0 else first
    else:
        offset = cpython_offset(source, begin, line - (1 if wrapped else 0), column)
    return error_finding(message, offset, min(offset + 1, len(source)))


# -- every check, for successive versions ----------------------------------------------------


# How many edits a tracker keeps composing while the file stays broken (each pause commits
# the edits since the last): past that, the first clean version is checked whole.
MAX_EDITS_SINCE_SYNCED = 2_000


class SyntaxTracker:
    """The syntax errors (``SyntaxReport``) of successive versions of one source."""

    def __init__(self, target: PythonVersion = DEFAULT_TARGET) -> None:
        """A tracker for the ``target`` Python version."""
        self.target = target
        # The last version's legacy errors, version errors of constructs and first
        # indentation event (None: the file has none), in its offsets; None: nothing checked.
        self._legacy: list[Located] | None = None
        self._constructs: list[Located] = []
        self._indent: IndentationProblem | None = None
        # Whether that version's tree had no error: only then do its module-level statements
        # start where the indentation check restarts cleanly (an unclosed bracket that
        # tree-sitter leaves in an ERROR node keeps the check inside it for lines on end), so
        # that the check can be redone for the statements an edit touched alone.
        self._indent_synced = False
        # The first indentation event of the last version committed without a tree error,
        # and what changed since then, while the versions committed after it had one: the
        # first clean version after them is checked from there, for the statements the
        # changes touched (a ``(`` typed, the user pausing, then the ``)``: not the file).
        self._synced_indent: IndentationProblem | None = None
        self._since_synced: ChangeLog | None = None
        self._compiled: OrderedDict[tuple[bytes, bool], object] = OrderedDict()

    def check(
        self,
        source: bytes,
        tree: Syntax,
        changes: Changes | None = None,
        commit: bool = True,
        original: bytes | None = None,
    ) -> SyntaxReport:
        """The syntax errors of this version: ``source`` as parsed (``parse_input``), its
        ``tree`` and ``original``, the text itself (None: ``source``; the escapes in strings
        are read there); ``changes``: what changed since the last call (None: check it all).
        Without ``commit`` (the editor's keystroke that leaves a tree error, which reads no
        node but the broken chunks'), only the tree's errors are checked: the other checks'
        results are the last version's, moved, less those an edit touched; the next call
        still starts from the last version."""
        verdict = tree_verdict(tree, source, self._compiled, original)
        root = tree.root_node
        if verdict.error is None:
            verdict = verdict._replace(error=continuation_at_eof(root, source))
        if not commit:
            return self._report(verdict, *self._moved(changes, root, source))
        full = changes is None or changes.full or self._legacy is None
        span = None if full else _dirty_span(root, source, changes.ranges)  # type: ignore[union-attr]
        target = self.target

        def legacy(begin: int | None, end: int | None) -> list[Located]:
            return legacy_errors(root, source, target, begin, end, original)

        def constructs(begin: int | None, end: int | None) -> list[Located]:
            return construct_errors(root, source, target, begin, end)

        synced = not root.has_error
        if full:
            located = legacy(None, None)
            built = constructs(None, None)
        else:
            assert changes is not None and self._legacy is not None
            located = _update(self._legacy, changes, span, legacy, source)
            built = _update(self._constructs, changes, span, constructs, source)
        since = self._since_synced
        if not full and synced and not self._indent_synced and since is not None:
            # Clean again after versions with a tree error: from the last clean one.
            assert isinstance(changes, ChangeLog)
            base = since.then(changes)
            base_span = _dirty_span(root, source, base.ranges)
            indent = self._indentation(source, root, base, base_span, self._synced_indent)
        elif full or not (synced and self._indent_synced):
            # (A version with a tree error is checked whole: the editor does that when the
            # user pauses, not at each keystroke, which ``commit=False`` serves.)
            indent = indentation_event(source)
        else:
            assert changes is not None
            indent = self._indentation(source, root, changes, span, self._indent)
        if synced:
            self._synced_indent, self._since_synced = indent, ChangeLog()
        elif full or not isinstance(changes, ChangeLog) or since is None:
            self._since_synced = None
        elif len(since.edits) + len(changes.edits) > MAX_EDITS_SINCE_SYNCED:
            self._since_synced = None  # the next clean version is checked whole
        else:
            self._since_synced = since.then(changes)
        self._legacy, self._constructs, self._indent = located, built, indent
        self._indent_synced = synced
        return self._report(verdict, located, built, indent)

    def _moved(
        self, changes: Changes | None, root: Node, source: bytes
    ) -> tuple[list[Located], list[Located], IndentationProblem | None]:
        """The last version's results but the tree's, moved by ``changes``. The first
        indentation event stands only if every change lies past the statement that holds
        it: what comes before it, and the rest of its logical line (a bracket opened after
        it and never closed makes it a stop), decide it."""
        if self._legacy is None or changes is None or changes.full:
            return [], [], None
        located = _update(self._legacy, changes, None, _nothing, source)
        built = _update(self._constructs, changes, None, _nothing, source)
        indent = self._indent
        if indent is not None:
            at = changes.move_span(indent.start, indent.end)
            indent = indent._replace(start=at[0], end=at[1]) if at is not None else None
        if indent is not None and changes.ranges:
            first_change = min(start for start, _ in changes.ranges)
            if first_change <= _restart_after(root, source, indent.start):
                indent = None
        return located, built, indent

    def _report(
        self,
        verdict: TreeVerdict,
        located: list[Located],
        built: list[Located],
        indent: IndentationProblem | None,
    ) -> SyntaxReport:
        """The report of one version from its checks' results."""
        target = self.target
        candidates = []
        if verdict.error is not None:
            candidates.append(verdict.error)
        if verdict.cleared or verdict.cleared_alone or verdict.rejected:
            compiled = verdict.cleared + verdict.cleared_alone + verdict.rejected
            located = [e for e in located if not _inside(e[0], compiled)]
            if indent is not None and _inside(indent.start, verdict.cleared):
                indent = None
        if located:
            start, end, message = located[0]
            candidates.append(error_finding(f"SyntaxError: {message}", start, end))
        if indent is not None and indent.error_class:
            candidates.append(
                error_finding(f"{indent.error_class}: {indent.message}", indent.start, indent.end)
            )
        error = min(candidates, key=_start_byte_of, default=None)
        versions = set(built)
        for gaps in verdict.gaps:
            versions.update(gap_errors(target, gaps))
        findings = [error_finding(f"SyntaxError: {m}", s, e) for s, e, m in sorted(versions)]
        return SyntaxReport(error, verdict.regions, findings)

    def _indentation(
        self,
        source: bytes,
        root: Node,
        changes: Changes,
        span: tuple[int, int] | None,
        old: IndentationProblem | None,
    ) -> IndentationProblem | None:
        """The first indentation event of this version, from ``old``, that of the version
        ``changes`` start from (both without a tree error): the check restarts cleanly at
        each module-level statement that starts a line, so only the statements an edit
        touched are checked, and what follows them only if the old version's first event was
        among them (or is a stop, which depends on what follows)."""
        moved = None
        if old is not None:
            at = changes.move_span(old.start, old.end)
            moved = old._replace(start=at[0], end=at[1]) if at is not None else None
        if span is None:
            return moved if old is None or moved is not None else indentation_event(source)
        begin, end = span
        # (An event an edit touched is in the span.) An error at ``begin`` itself is the
        # missing block of a header before it (a statement starting a line is at column 0):
        # the span starts a statement before the first one changed, so it still stands.
        first_change = min((start for start, _ in changes.ranges), default=begin)
        if moved is not None and moved.start <= begin:
            # Nothing before it changed, nor its statement (the span has none before the
            # first statement: an edit there may open a bracket on the event's line).
            if moved.error_class and _restart_after(root, source, moved.start) < first_change:
                return moved
            # A stop (a string or bracket open to the end) depends on what follows it.
            return indentation_event(source, _restart_before(root, source, moved.start))
        event = indentation_event(source, begin, end)
        if event is not None or old is None:
            return event
        # The first event after the statements checked, as before (an error at ``end`` was
        # the missing block of a header in them: gone). Its message may name a line.
        if moved is not None and (moved.start > end or not moved.error_class):
            if " on line " not in moved.message or moved.start == old.start:
                return moved
            return indentation_event(source, _restart_before(root, source, moved.start - 1))
        return indentation_event(source, end)


# (The one message of drain_ls.analysis.legacy that names a line: that of its start.)
_DETECTED_AT = "(detected at line "


def _inside(offset: int, ranges: list[tuple[int, int]]) -> bool:
    return any(start <= offset < end for start, end in ranges)


def _nothing(begin: int | None, end: int | None) -> list[Located]:
    return []


def _update(
    located: list[Located],
    changes: Changes,
    span: tuple[int, int] | None,
    check: Callable[[int | None, int | None], list[Located]],
    source: bytes,
) -> list[Located]:
    """The last version's errors moved by the edits, those in ``span`` checked again. A
    message that names its own line ("unterminated string literal (detected at line 5)")
    names the line it moved to."""
    kept: set[Located] = set()
    for start, end, message in located:
        at = changes.move_span(start, end)
        if at is None or (span is not None and span[0] <= at[0] < span[1]):
            continue
        if at[0] != start and _DETECTED_AT in message:
            line = source.count(b"\n", 0, at[0]) + 1
            message = message[: message.index(_DETECTED_AT)] + f"{_DETECTED_AT}{line})"
        kept.add((at[0], at[1], message))
    if span is not None:
        kept.update(check(*span))
    return sorted(kept)


def _restart_before(root: Node, source: bytes, offset: int) -> int:
    """The start of the last module-level statement at or before ``offset`` that starts a
    line (0 if none): the indentation check restarts cleanly there."""
    children = root.children
    index = bisect_right(children, offset, key=_start_byte) - 1
    while index >= 0 and not is_restart(children[index], source):
        index -= 1
    return children[index].start_byte if index >= 0 else 0


def _restart_after(root: Node, source: bytes, offset: int) -> int:
    """The start of the first module-level statement after ``offset`` that starts a line
    (the end of the source if none): what comes before it decides an event at ``offset``."""
    children = root.children
    index = bisect_right(children, offset, key=_start_byte)
    while index < len(children) and not is_restart(children[index], source):
        index += 1
    return children[index].start_byte if index < len(children) else len(source)


def _dirty_span(root: Node, source: bytes, ranges: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The module-level statements that the changed ranges touch (with one byte either side)
    and the statement before them, from a restart point to the next after them (or the end);
    None when nothing changed."""
    if not ranges:
        return None
    low = max(0, min(start for start, _ in ranges) - 1)
    high = min(len(source), max(end for _, end in ranges) + 1)
    children = root.children
    index = bisect_right(children, low, key=_start_byte) - 1
    seen = 0
    while index >= 0:
        if is_restart(children[index], source):
            seen += 1
            if seen == 2:
                break
        index -= 1
    begin = children[index].start_byte if index >= 0 else 0
    index = bisect_right(children, high, key=_start_byte)
    while index < len(children) and not is_restart(children[index], source):
        index += 1
    end = children[index].start_byte if index < len(children) else len(source)
    return begin, end
